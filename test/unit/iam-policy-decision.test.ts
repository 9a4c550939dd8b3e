import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  authorize,
  BUCKET_POLICY_SIZE_LIMIT,
  buildRequestContext,
  evaluatePolicy,
  IDENTITY_POLICY_SIZE_LIMIT,
  KEY_POLICY_SIZE_LIMIT,
  parsePolicy,
  PolicyError,
  s3ResourceArn,
  type CompiledPolicy,
  type Decision,
  type RequestContextInput,
  type RequestPrincipal,
} from '../../src/domain/iam/policy/index.ts';
import { defaultKeyPolicy } from '../../src/domain/kms/key-policy.ts';

const OWNER = 'tenant-a';
const alice: RequestPrincipal = { kind: 'iam', arn: `arn:aws:iam::${OWNER}:user/alice`, tenantId: OWNER };
const bob: RequestPrincipal = { kind: 'iam', arn: 'arn:aws:iam::tenant-b:user/bob', tenantId: 'tenant-b' };
const anonymous: RequestPrincipal = { kind: 'anonymous' };

const identity = (statements: object | object[]): CompiledPolicy =>
  parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }), {
    kind: 'identity',
    sizeLimit: IDENTITY_POLICY_SIZE_LIMIT,
  });
const bucketPolicy = (statements: object | object[]): CompiledPolicy =>
  parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }), {
    kind: 'resource',
    sizeLimit: BUCKET_POLICY_SIZE_LIMIT,
  });

const readPhotos = { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::photos/*' };

function decide(
  principal: RequestPrincipal,
  policies: { identity?: CompiledPolicy[]; bucket?: CompiledPolicy | null },
  input: Partial<RequestContextInput> = {},
  explain = false,
): Decision {
  const request = buildRequestContext({
    principal,
    action: 's3:GetObject',
    resource: s3ResourceArn('photos', 'cat.jpg'),
    resourceTenantId: OWNER,
    ...input,
  });
  return authorize(
    request,
    {
      identityPolicies: (policies.identity ?? []).map((policy, index) => ({
        label: `identity policy ${index}`,
        policy,
      })),
      resourcePolicies: policies.bucket ? [{ label: 'bucket policy', policy: policies.bucket }] : [],
    },
    { explain },
  );
}

describe('decisions within one tenant', () => {
  it('nothing is allowed by default', () => {
    const decision = decide(alice, {});
    assert.equal(decision.effect, 'ImplicitDeny');
    assert.deepEqual(decision.contributions, []);
    assert.match(
      decision.reason,
      /^implicitly denied: no identity or resource policy statement allows s3:GetObject on arn:aws:s3:::photos\/cat\.jpg$/,
    );
  });

  it('an allow in an identity policy allows', () => {
    const decision = decide(alice, { identity: [identity({ ...readPhotos, Sid: 'Read' })] });
    assert.equal(decision.effect, 'Allow');
    assert.equal(
      decision.reason,
      's3:GetObject on arn:aws:s3:::photos/cat.jpg is allowed by statement 0 "Read" of identity policy 0',
    );
  });

  it('an allow in the bucket policy naming the user allows without any identity policy', () => {
    const bucket = bucketPolicy({ ...readPhotos, Principal: { AWS: alice.kind === 'iam' ? alice.arn : '' } });
    assert.equal(decide(alice, { bucket }).effect, 'Allow');
  });

  it('an allow in the bucket policy naming only the tenant delegates to identity policies', () => {
    const bucket = bucketPolicy({ ...readPhotos, Principal: { AWS: OWNER } });
    const denied = decide(alice, { bucket });
    assert.equal(denied.effect, 'ImplicitDeny');
    assert.match(denied.reason, /to the tenant as a whole, which delegates to its identity policies/);
    assert.equal(decide(alice, { bucket, identity: [identity(readPhotos)] }).effect, 'Allow');
  });

  it('an explicit deny in the bucket policy overrides an allow in the identity policy', () => {
    const bucket = bucketPolicy({ ...readPhotos, Effect: 'Deny', Principal: '*', Sid: 'NoReads' });
    const decision = decide(alice, { identity: [identity(readPhotos)], bucket });
    assert.equal(decision.effect, 'ExplicitDeny');
    assert.match(decision.reason, /explicitly denied by statement 0 "NoReads" of bucket policy$/);
  });

  it('an explicit deny in an identity policy overrides an allow in the bucket policy', () => {
    const bucket = bucketPolicy({ ...readPhotos, Principal: '*' });
    const decision = decide(alice, { identity: [identity({ ...readPhotos, Effect: 'Deny' })], bucket });
    assert.equal(decision.effect, 'ExplicitDeny');
  });

  it('a deny in one identity policy overrides an allow in another', () => {
    const decision = decide(alice, {
      identity: [identity(readPhotos), identity({ Effect: 'Deny', Action: 's3:*', Resource: '*' })],
    });
    assert.equal(decision.effect, 'ExplicitDeny');
    assert.equal(decision.contributions.at(-1)?.source, 'identity policy 1');
  });

  it('a deny whose condition does not hold does not deny (the aws:SecureTransport example)', () => {
    const bucket = bucketPolicy([
      { ...readPhotos, Principal: '*' },
      {
        Sid: 'BooleanExample',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Resource: ['arn:aws:s3:::photos', 'arn:aws:s3:::photos/*'],
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
    ]);
    assert.equal(
      decide(alice, { bucket }, { conditionKeys: { 'aws:SecureTransport': 'true' } }).effect,
      'Allow',
    );
    assert.equal(
      decide(alice, { bucket }, { conditionKeys: { 'aws:SecureTransport': 'false' } }).effect,
      'ExplicitDeny',
    );
  });

  it('the tenant root principal has full access to its own resources, but not past an explicit deny', () => {
    const root: RequestPrincipal = { kind: 'iam', arn: `arn:aws:iam::${OWNER}:root`, tenantId: OWNER };
    assert.equal(decide(root, {}).effect, 'Allow');
    const bucket = bucketPolicy({ ...readPhotos, Effect: 'Deny', Principal: '*' });
    assert.equal(decide(root, { bucket }).effect, 'ExplicitDeny');
  });
});

describe('decisions across tenants', () => {
  const grantBob = bucketPolicy({ ...readPhotos, Principal: { AWS: 'arn:aws:iam::tenant-b:user/bob' } });
  const bobMayRead = identity(readPhotos);

  it('cross-tenant access needs an allow on both sides', () => {
    assert.equal(decide(bob, { identity: [bobMayRead], bucket: grantBob }).effect, 'Allow');
    const noBucket = decide(bob, { identity: [bobMayRead] });
    assert.equal(noBucket.effect, 'ImplicitDeny');
    assert.match(noBucket.reason, /needs an allow on both sides, and the resource policy does not allow it$/);
    const noIdentity = decide(bob, { bucket: grantBob });
    assert.equal(noIdentity.effect, 'ImplicitDeny');
    assert.match(noIdentity.reason, /the requester’s identity policies do not allow it$/);
  });

  it('a bucket policy naming the other tenant as a whole is enough on the resource side', () => {
    const bucket = bucketPolicy({ ...readPhotos, Principal: { AWS: 'tenant-b' } });
    assert.equal(decide(bob, { identity: [bobMayRead], bucket }).effect, 'Allow');
    assert.equal(decide(bob, { bucket }).effect, 'ImplicitDeny');
  });

  it('a public bucket still needs the other tenant’s identity policy for an authenticated request', () => {
    const bucket = bucketPolicy({ ...readPhotos, Principal: '*' });
    assert.equal(decide(bob, { bucket }).effect, 'ImplicitDeny');
    assert.equal(decide(bob, { identity: [bobMayRead], bucket }).effect, 'Allow');
  });

  it('another tenant’s root needs only the resource side', () => {
    const root: RequestPrincipal = { kind: 'iam', arn: 'arn:aws:iam::tenant-b:root', tenantId: 'tenant-b' };
    const bucket = bucketPolicy({ ...readPhotos, Principal: { AWS: 'tenant-b' } });
    assert.equal(decide(root, { bucket }).effect, 'Allow');
    assert.equal(decide(root, {}).effect, 'ImplicitDeny');
  });

  it('an allow for a user of this tenant does not extend to a same-named user of another', () => {
    const bucket = bucketPolicy({ ...readPhotos, Principal: { AWS: `arn:aws:iam::${OWNER}:user/bob` } });
    assert.equal(decide(bob, { identity: [bobMayRead], bucket }).effect, 'ImplicitDeny');
  });
});

describe('anonymous and service requests', () => {
  it('an anonymous request is allowed only by a resource policy statement for everyone', () => {
    assert.equal(
      decide(anonymous, { bucket: bucketPolicy({ ...readPhotos, Principal: '*' }) }).effect,
      'Allow',
    );
    assert.equal(
      decide(anonymous, { bucket: bucketPolicy({ ...readPhotos, Principal: { AWS: '*' } }) }).effect,
      'Allow',
    );
    const named = decide(anonymous, { bucket: bucketPolicy({ ...readPhotos, Principal: { AWS: OWNER } }) });
    assert.equal(named.effect, 'ImplicitDeny');
    assert.match(named.reason, /to an anonymous requester$/);
  });

  it('identity policies never allow an anonymous request', () => {
    assert.equal(decide(anonymous, { identity: [identity(readPhotos)] }).effect, 'ImplicitDeny');
  });

  it('a service principal is allowed by a statement naming its service', () => {
    const logging: RequestPrincipal = { kind: 'service', service: 'logging.s3.amazonaws.com' };
    const bucket = bucketPolicy({
      ...readPhotos,
      Action: 's3:PutObject',
      Principal: { Service: 'logging.s3.amazonaws.com' },
    });
    assert.equal(decide(logging, { bucket }, { action: 's3:PutObject' }).effect, 'Allow');
    assert.equal(decide(logging, { bucket }).effect, 'ImplicitDeny');
  });

  it('NotPrincipal with Allow grants to everyone else, anonymous requesters included', () => {
    const bucket = bucketPolicy({
      ...readPhotos,
      NotPrincipal: { AWS: ['arn:aws:iam::tenant-b:user/bob', 'arn:aws:iam::tenant-b:root'] },
    });
    assert.equal(decide(anonymous, { bucket }).effect, 'Allow');
    assert.equal(decide(bob, { bucket, identity: [identity(readPhotos)] }).effect, 'ImplicitDeny');
  });
});

describe('resource policies that must allow (key policies)', () => {
  const keyResource = `arn:aws:kms:eu-central-1:${OWNER}:key/1234abcd`;
  const keyPolicy = (statements: object | object[]) =>
    parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }), {
      kind: 'resource',
      sizeLimit: KEY_POLICY_SIZE_LIMIT,
    });
  const decideKey = (
    principal: RequestPrincipal,
    policy: CompiledPolicy,
    identityPolicies: CompiledPolicy[] = [],
  ) =>
    authorize(
      buildRequestContext({
        principal,
        action: 'kms:Decrypt',
        resource: keyResource,
        resourceTenantId: OWNER,
      }),
      {
        identityPolicies: identityPolicies.map((p) => ({ label: 'identity', policy: p })),
        resourcePolicies: [{ label: 'key policy', policy }],
        resourcePolicyRequired: true,
      },
    );
  const mayDecrypt = identity({ Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*' });

  it('the default key policy lets identity policies decide, and the tenant root use the key', () => {
    const policy = parsePolicy(defaultKeyPolicy(OWNER), {
      kind: 'resource',
      sizeLimit: KEY_POLICY_SIZE_LIMIT,
    });
    assert.equal(decideKey(alice, policy).effect, 'ImplicitDeny');
    assert.equal(decideKey(alice, policy, [mayDecrypt]).effect, 'Allow');
    assert.equal(
      decideKey({ kind: 'iam', arn: `arn:aws:iam::${OWNER}:root`, tenantId: OWNER }, policy).effect,
      'Allow',
    );
  });

  it('an identity policy alone does not open a key whose policy does not name the tenant', () => {
    const policy = keyPolicy({
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${OWNER}:user/carol` },
      Action: 'kms:*',
      Resource: '*',
    });
    const decision = decideKey(alice, policy, [mayDecrypt]);
    assert.equal(decision.effect, 'ImplicitDeny');
    assert.match(decision.reason, /the resource policy must allow/);
  });

  it('a key policy naming the user allows without an identity policy', () => {
    const policy = keyPolicy({
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${OWNER}:user/alice` },
      Action: 'kms:Decrypt',
      Resource: '*',
    });
    assert.equal(decideKey(alice, policy).effect, 'Allow');
  });
});

describe('explanations', () => {
  it('explain lists every statement with what did not match', () => {
    const bucket = bucketPolicy([
      {
        ...readPhotos,
        Sid: 'Public',
        Principal: '*',
        Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
      },
      { ...readPhotos, Sid: 'Other', Principal: '*', Resource: 'arn:aws:s3:::other/*' },
      { ...readPhotos, Sid: 'Write', Principal: '*', Action: 's3:PutObject' },
      { ...readPhotos, Sid: 'Bob', Principal: { AWS: 'tenant-b' } },
    ]);
    const decision = decide(
      alice,
      { bucket, identity: [identity(readPhotos)] },
      { conditionKeys: { 'aws:SourceIp': '192.0.2.1' } },
      true,
    );
    assert.equal(decision.effect, 'Allow');
    assert.deepEqual(
      decision.contributions.map((c) => [c.source, c.sid, c.matched, c.mismatch]),
      [
        ['identity policy 0', null, true, null],
        ['bucket policy', 'Public', false, 'Condition.IpAddress.aws:SourceIp'],
        ['bucket policy', 'Other', false, 'Resource'],
        ['bucket policy', 'Write', false, 'Action'],
        ['bucket policy', 'Bob', false, 'Principal'],
      ],
    );
  });

  it('without explain, only the statement that decided is listed: one Allow of the matching ones', () => {
    const policy = identity([
      { ...readPhotos, Sid: 'A', Resource: '*' },
      { ...readPhotos, Sid: 'B', Action: 's3:Put*' },
      { ...readPhotos, Sid: 'C' },
      { ...readPhotos, Sid: 'D', Resource: 'arn:aws:s3:::photos/cat.jpg' },
    ]);
    const decision = decide(alice, { identity: [policy] });
    assert.equal(decision.effect, 'Allow');
    assert.equal(decision.contributions.length, 1);
    assert.ok(['A', 'C', 'D'].includes(decision.contributions[0]!.sid ?? ''));
    assert.match(decision.reason, new RegExp(`"${decision.contributions[0]!.sid}"`));
    // Explaining still lists every statement.
    assert.equal(decide(alice, { identity: [policy] }, {}, true).contributions.length, 4);
  });

  it('explain keeps evaluating after the deny and reports the first deny', () => {
    const policy = identity([
      { ...readPhotos, Sid: 'Deny1', Effect: 'Deny' },
      { ...readPhotos, Sid: 'Deny2', Effect: 'Deny' },
    ]);
    const explained = decide(alice, { identity: [policy] }, {}, true);
    assert.equal(explained.effect, 'ExplicitDeny');
    assert.equal(explained.contributions.length, 2);
    assert.match(explained.reason, /"Deny1"/);
  });
});

describe('evaluating one policy', () => {
  it('evaluatePolicy returns each matching statement with its effect and principal match', () => {
    const bucket = bucketPolicy([
      { ...readPhotos, Sid: 'Everyone', Principal: '*' },
      { ...readPhotos, Sid: 'Tenant', Principal: { AWS: OWNER } },
      { ...readPhotos, Sid: 'Alice', Effect: 'Deny', Principal: { AWS: `arn:aws:iam::${OWNER}:user/alice` } },
      { ...readPhotos, Sid: 'Bob', Principal: { AWS: 'tenant-b' } },
    ]);
    const request = buildRequestContext({
      principal: alice,
      action: 's3:GetObject',
      resource: s3ResourceArn('photos', 'cat.jpg'),
      resourceTenantId: OWNER,
    });
    assert.deepEqual(
      evaluatePolicy(bucket, request).map((m) => [m.sid, m.effect, m.principalMatch]),
      [
        ['Everyone', 'Allow', 'direct'],
        ['Tenant', 'Allow', 'account'],
        ['Alice', 'Deny', 'direct'],
      ],
    );
  });

  it('an identity policy passed as a resource policy is a caller error', () => {
    const request = buildRequestContext({
      principal: alice,
      action: 's3:GetObject',
      resource: s3ResourceArn('photos', 'cat.jpg'),
      resourceTenantId: OWNER,
    });
    assert.throws(
      () =>
        authorize(request, {
          identityPolicies: [],
          resourcePolicies: [{ label: 'x', policy: identity(readPhotos) }],
        }),
      (error: unknown) => error instanceof PolicyError && error.code === 'InvalidRequestContext',
    );
  });
});

describe('the statement index', () => {
  /** A small deterministic generator (xorshift32), so that a failure reproduces. */
  function random(seed: number): () => number {
    let state = seed;
    return () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) / 2 ** 32;
    };
  }

  it('decisions through the index equal a scan of every statement, for many generated policies', () => {
    const next = random(0x5eed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
    const buckets = ['a', 'ab', 'abc', 'b', 'logs-eu', 'logs-us'];
    const resources = [
      '*',
      'arn:aws:s3:::*',
      'arn:aws:s3:::a',
      'arn:aws:s3:::a/*',
      'arn:aws:s3:::ab*',
      'arn:aws:s3:::a*/x/*',
      'arn:aws:s3:::logs-*',
      'arn:aws:s3:::logs-eu/2024/*',
      'arn:aws:s3:::b/${aws:username}/*',
      'arn:aws:s3:::${aws:username}/*',
      'arn:aws:s3:::abc/x?y',
      'arn:aws:s3:::a/x',
      'arn:aws:s3:::a/x/*',
      'arn:aws:s3:::a/xy*',
      'arn:aws:s3:::ab/2024/*',
      'arn:aws:s3:*:*:abc/*',
      'arn:aws:kms:*:*:key/*',
    ];
    const teams = ['red', 'blue', 'green'];
    const conditions = [
      () => undefined,
      () => undefined,
      () => ({ StringEquals: { 'aws:PrincipalTag/team': pick(teams) } }),
      () => ({ StringEquals: { 'aws:PrincipalTag/team': [pick(teams), pick(teams)] } }),
      () => ({ 'ForAnyValue:StringEquals': { 'x:labels': [pick(teams), pick(teams)] } }),
      () => ({ StringEquals: { 'x:labels': pick(teams) }, StringLike: { 'aws:PrincipalTag/team': '*e*' } }),
      () => ({ 'ForAllValues:StringEquals': { 'x:labels': pick(teams) } }),
      () => ({ StringEqualsIfExists: { 'x:labels': pick(teams) } }),
      () => ({ StringNotEquals: { 'aws:PrincipalTag/team': pick(teams) } }),
    ];
    const actions = ['s3:GetObject', 's3:Get*', 's3:*', '*', 's3:PutObject', 's3:ListBucket'];
    const seen = new Map<string, number>();
    let conditionIndexed = 0;
    for (let round = 0; round < 200; round++) {
      const statements = Array.from({ length: 1 + Math.floor(next() * (round % 2 === 0 ? 12 : 60)) }, () => {
        const resourceList = Array.from({ length: 1 + Math.floor(next() * 3) }, () => pick(resources));
        return {
          Effect: next() < 0.1 ? 'Deny' : 'Allow',
          [next() < 0.1 ? 'NotAction' : 'Action']: pick(actions),
          [next() < 0.1 ? 'NotResource' : 'Resource']: resourceList,
          Condition: pick(conditions)(),
        };
      });
      const policy = parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }), {
        kind: 'identity',
        sizeLimit: { maxSize: 1_000_000, unit: 'characters' },
      });
      const index = policy.candidatesFor('s3:getobject');
      const groups = [index.unindexed, ...[...index.byHead.values()].map((node) => node.group)];
      if (groups.some((group) => group.byCondition.length > 0)) conditionIndexed++;
      for (let probe = 0; probe < 10; probe++) {
        const bucket = pick(buckets);
        const key = next() < 0.2 ? null : pick(['x/1', 'x', 'alice/1', '2024/1', 'xzy', 'xy']);
        const tags: Record<string, string> = next() < 0.8 ? { team: pick(teams) } : {};
        const labels = pick([[], [pick(teams)], [pick(teams), pick(teams)], null]);
        const request = buildRequestContext({
          principal: { ...alice, tags },
          conditionKeys: labels === null ? {} : { 'x:labels': labels },
          action: pick(['s3:GetObject', 's3:PutObject', 's3:ListBucket']),
          resource: s3ResourceArn(bucket, key),
          resourceTenantId: OWNER,
        });
        const scanned = evaluatePolicy(policy, request);
        const decision = authorize(
          request,
          { identityPolicies: [{ label: 'p', policy }], resourcePolicies: [] },
          { explain: false },
        );
        const expected = scanned.some((m) => m.effect === 'Deny')
          ? 'ExplicitDeny'
          : scanned.length > 0
            ? 'Allow'
            : 'ImplicitDeny';
        assert.equal(
          decision.effect,
          expected,
          `${JSON.stringify(statements)} ${request.action} ${request.resource}`,
        );
        seen.set(expected, (seen.get(expected) ?? 0) + 1);
        if (expected === 'Allow') {
          // The request path records the Allow that decided, one of those a full scan finds.
          assert.equal(decision.contributions.length, 1);
          assert.ok(scanned.some((m) => m.statementIndex === decision.contributions[0]!.statementIndex));
        } else if (expected === 'ImplicitDeny') {
          assert.deepEqual(decision.contributions, []);
        }
      }
    }
    // The generated cases exercise the condition index and every outcome, not just the default deny.
    assert.ok(conditionIndexed > 20, `${conditionIndexed} policies with a condition index`);
    for (const outcome of ['Allow', 'ExplicitDeny', 'ImplicitDeny'])
      assert.ok((seen.get(outcome) ?? 0) > 100, outcome);
  });
});
