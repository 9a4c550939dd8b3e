import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  authorize,
  BUCKET_POLICY_SIZE_LIMIT,
  buildRequestContext,
  evaluatePolicy,
  IDENTITY_POLICY_SIZE_LIMIT,
  parsePolicy,
  PolicyError,
  s3ResourceArn,
  type CompiledPolicy,
  type RequestContextInput,
  type RequestPrincipal,
} from '../../src/domain/iam/policy/index.ts';
import { compilePattern, matchPattern } from '../../src/domain/iam/policy/wildcard.ts';

const TENANT = 'tenant-a';
const alice: RequestPrincipal = { kind: 'iam', arn: `arn:aws:iam::${TENANT}:user/alice`, tenantId: TENANT };

function identityPolicy(statements: object | object[], version = '2012-10-17'): CompiledPolicy {
  return parsePolicy(JSON.stringify({ Version: version, Statement: statements }), {
    kind: 'identity',
    sizeLimit: IDENTITY_POLICY_SIZE_LIMIT,
  });
}

function resourcePolicy(statements: object | object[], version = '2012-10-17'): CompiledPolicy {
  return parsePolicy(JSON.stringify({ Version: version, Statement: statements }), {
    kind: 'resource',
    sizeLimit: BUCKET_POLICY_SIZE_LIMIT,
  });
}

function request(input: Partial<RequestContextInput> = {}) {
  return buildRequestContext({
    principal: alice,
    action: 's3:GetObject',
    resource: s3ResourceArn('photos', 'cat.jpg'),
    resourceTenantId: TENANT,
    ...input,
  });
}

/** Whether some statement of the policy applies to the request (through the index and without it). */
function applies(policy: CompiledPolicy, input: Partial<RequestContextInput> = {}): boolean {
  const context = request(input);
  const direct = evaluatePolicy(policy, context).length > 0;
  const kind = policy.kind === 'identity' ? 'identityPolicies' : 'resourcePolicies';
  const other = policy.kind === 'identity' ? 'resourcePolicies' : 'identityPolicies';
  const decision = authorize(context, { [kind]: [{ label: 'p', policy }], [other]: [] } as never);
  assert.equal(decision.contributions.length > 0, direct, 'the index and a full scan disagree');
  return direct;
}

describe('Action matching', () => {
  it('actions compare without regard to case, in the policy and in the request', () => {
    const policy = identityPolicy({ Effect: 'Allow', Action: 'S3:getobject', Resource: '*' });
    assert.equal(applies(policy, { action: 's3:GetObject' }), true);
    assert.equal(applies(policy, { action: 'S3:GETOBJECT' }), true);
    assert.equal(applies(policy, { action: 's3:GetObjectAcl' }), false);
  });

  it('* matches any run of characters and ? exactly one', () => {
    const policy = identityPolicy({ Effect: 'Allow', Action: ['s3:Get*', 's3:?utObject'], Resource: '*' });
    assert.equal(applies(policy, { action: 's3:GetObjectTagging' }), true);
    assert.equal(applies(policy, { action: 's3:get' }), true);
    assert.equal(applies(policy, { action: 's3:PutObject' }), true);
    assert.equal(applies(policy, { action: 's3:PPutObject' }), false);
    assert.equal(applies(policy, { action: 's3:ListBucket' }), false);
    assert.equal(applies(policy, { action: 'kms:GetPublicKey' }), false);
  });

  it('a wildcard in the middle matches', () => {
    const policy = identityPolicy({ Effect: 'Allow', Action: 'iam:*AccessKey*', Resource: '*' });
    assert.equal(applies(policy, { action: 'iam:CreateAccessKey' }), true);
    assert.equal(applies(policy, { action: 'iam:UpdateAccessKeyLastUsed' }), true);
    assert.equal(applies(policy, { action: 'iam:CreateUser' }), false);
  });

  it('"*" matches every action of every service', () => {
    const policy = identityPolicy({ Effect: 'Allow', Action: '*', Resource: '*' });
    assert.equal(applies(policy, { action: 'kms:Decrypt' }), true);
  });

  it('NotAction applies to every action except those listed', () => {
    const policy = identityPolicy({ Effect: 'Deny', NotAction: ['s3:Get*', 's3:List*'], Resource: '*' });
    assert.equal(applies(policy, { action: 's3:PutObject' }), true);
    assert.equal(applies(policy, { action: 'kms:Decrypt' }), true);
    assert.equal(applies(policy, { action: 's3:GetObject' }), false);
    assert.equal(applies(policy, { action: 's3:ListBucket' }), false);
  });
});

describe('wildcard patterns', () => {
  it('* and ? match as a regular expression would, for every short pattern and text', () => {
    const words = (alphabet: string, maxLength: number): string[] => {
      const out = [''];
      for (let length = 1; length <= maxLength; length++) {
        for (const prefix of out.filter((word) => word.length === length - 1)) {
          for (const c of alphabet) out.push(prefix + c);
        }
      }
      return out;
    };
    const texts = words('ab', 5);
    for (const source of words('ab*?', 4)) {
      const pattern = compilePattern(source, { wildcards: true, variables: false, lowerCase: false });
      const oracle = new RegExp(`^${source.replaceAll('*', '.*').replaceAll('?', '.')}$`, 's');
      for (const text of texts)
        assert.equal(matchPattern(pattern, text, null), oracle.test(text), `${source} ~ ${text}`);
    }
  });

  it('a pattern made to backtrack stays fast', () => {
    const pattern = compilePattern(`${'*a'.repeat(200)}*b`, {
      wildcards: true,
      variables: false,
      lowerCase: false,
    });
    const started = performance.now();
    assert.equal(matchPattern(pattern, 'a'.repeat(5000), null), false);
    assert.ok(performance.now() - started < 2000);
  });
});

describe('Resource matching', () => {
  it('resource wildcards are case-sensitive', () => {
    const policy = identityPolicy({
      Effect: 'Allow',
      Action: 's3:*',
      Resource: 'arn:aws:s3:::photos/Cats/*',
    });
    assert.equal(applies(policy, { resource: s3ResourceArn('photos', 'Cats/tom.jpg') }), true);
    assert.equal(applies(policy, { resource: s3ResourceArn('photos', 'cats/tom.jpg') }), false);
    assert.equal(applies(policy, { resource: s3ResourceArn('Photos', 'Cats/tom.jpg') }), false);
  });

  it('a bucket ARN and an object ARN are different resources', () => {
    const policy = identityPolicy({ Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::photos' });
    assert.equal(applies(policy, { action: 's3:ListBucket', resource: s3ResourceArn('photos', null) }), true);
    assert.equal(applies(policy, { resource: s3ResourceArn('photos', 'cat.jpg') }), false);
    assert.equal(applies(policy, { resource: s3ResourceArn('photos2', null) }), false);
  });

  it('arn:aws:s3:::photos/* covers every key, and only keys, of that bucket', () => {
    const policy = identityPolicy({ Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::photos/*' });
    assert.equal(applies(policy, { resource: s3ResourceArn('photos', 'a/b/c:d.jpg') }), true);
    assert.equal(applies(policy, { resource: s3ResourceArn('photos', null) }), false);
    assert.equal(applies(policy, { resource: s3ResourceArn('photos-old', 'a') }), false);
  });

  it('a wildcard in the bucket name matches several buckets', () => {
    const policy = identityPolicy({
      Effect: 'Allow',
      Action: 's3:*',
      Resource: 'arn:aws:s3:::logs-*/2024/*',
    });
    assert.equal(applies(policy, { resource: s3ResourceArn('logs-eu', '2024/01.gz') }), true);
    assert.equal(applies(policy, { resource: s3ResourceArn('logs-', '2024/01.gz') }), true);
    assert.equal(applies(policy, { resource: s3ResourceArn('logs-eu', '2023/01.gz') }), false);
    assert.equal(applies(policy, { resource: s3ResourceArn('log', '2024/01.gz') }), false);
  });

  it('a wildcard does not span the colons of the ARN before its resource part', () => {
    const policy = identityPolicy({ Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:*::photos/*' });
    // The region may be anything, but `*` cannot run on into the account segment, as it would in
    // a plain string match ("eu-west-1:acct" followed by "::photos/x").
    assert.equal(applies(policy, { resource: 'arn:aws:s3:eu-west-1::photos/x' }), true);
    assert.equal(applies(policy, { resource: 'arn:aws:s3:eu-west-1:acct::photos/x' }), false);
  });

  it('"*" matches every resource, the bucket-less one included', () => {
    const policy = identityPolicy({ Effect: 'Allow', Action: 's3:ListAllMyBuckets', Resource: '*' });
    assert.equal(
      applies(policy, { action: 's3:ListAllMyBuckets', resource: s3ResourceArn(null, null) }),
      true,
    );
  });

  it('arn:aws:s3:::* matches ListAllMyBuckets but a bucket pattern does not', () => {
    const all = identityPolicy({
      Effect: 'Allow',
      Action: 's3:ListAllMyBuckets',
      Resource: 'arn:aws:s3:::*',
    });
    const one = identityPolicy({
      Effect: 'Allow',
      Action: 's3:ListAllMyBuckets',
      Resource: 'arn:aws:s3:::photos*',
    });
    const input = { action: 's3:ListAllMyBuckets', resource: s3ResourceArn(null, null) };
    assert.equal(applies(all, input), true);
    assert.equal(applies(one, input), false);
  });

  it('NotResource applies to every resource except those listed', () => {
    const policy = identityPolicy({
      Effect: 'Deny',
      Action: 's3:*',
      NotResource: ['arn:aws:s3:::public', 'arn:aws:s3:::public/*'],
    });
    assert.equal(applies(policy, { resource: s3ResourceArn('private', 'x') }), true);
    assert.equal(applies(policy, { resource: s3ResourceArn('public', 'x') }), false);
    assert.equal(applies(policy, { resource: s3ResourceArn('public', null) }), false);
  });

  it('one statement listing several buckets matches each of them', () => {
    const policy = identityPolicy({
      Effect: 'Allow',
      Action: 's3:*',
      Resource: ['arn:aws:s3:::a', 'arn:aws:s3:::a/*', 'arn:aws:s3:::b/in/*', 'arn:aws:s3:::c*'],
    });
    assert.equal(applies(policy, { resource: s3ResourceArn('a', null) }), true);
    assert.equal(applies(policy, { resource: s3ResourceArn('b', 'in/x') }), true);
    assert.equal(applies(policy, { resource: s3ResourceArn('b', 'out/x') }), false);
    assert.equal(applies(policy, { resource: s3ResourceArn('cc', 'x') }), true);
    assert.equal(applies(policy, { resource: s3ResourceArn('d', 'x') }), false);
  });
});

describe('policy variables', () => {
  const home = [
    {
      Effect: 'Allow',
      Action: 's3:ListBucket',
      Resource: 'arn:aws:s3:::home',
      Condition: { StringLike: { 's3:prefix': ['', 'home/', 'home/${aws:username}/*'] } },
    },
    {
      Effect: 'Allow',
      Action: 's3:*',
      Resource: ['arn:aws:s3:::home/home/${aws:username}', 'arn:aws:s3:::home/home/${aws:username}/*'],
    },
  ];

  it('${aws:username} is the requesting user’s name in Resource and in conditions (the S3 home directory example)', () => {
    const policy = identityPolicy(home);
    assert.equal(applies(policy, { resource: s3ResourceArn('home', 'home/alice/notes.txt') }), true);
    assert.equal(applies(policy, { resource: s3ResourceArn('home', 'home/bob/notes.txt') }), false);
    const list = { action: 's3:ListBucket', resource: s3ResourceArn('home', null) };
    assert.equal(applies(policy, { ...list, conditionKeys: { 's3:prefix': 'home/alice/photos/' } }), true);
    assert.equal(applies(policy, { ...list, conditionKeys: { 's3:prefix': '' } }), true);
    assert.equal(applies(policy, { ...list, conditionKeys: { 's3:prefix': 'home/bob/' } }), false);
  });

  it('a policy variable is not substituted under Version 2008-10-17', () => {
    const policy = identityPolicy(home, '2008-10-17');
    assert.equal(applies(policy, { resource: s3ResourceArn('home', 'home/alice/notes.txt') }), false);
    assert.equal(
      applies(policy, { resource: s3ResourceArn('home', 'home/${aws:username}/notes.txt') }),
      true,
    );
  });

  it('a substituted value is literal text, never a wildcard', () => {
    const policy = identityPolicy({
      Effect: 'Allow',
      Action: 's3:*',
      Resource: 'arn:aws:s3:::teams/${aws:PrincipalTag/team}/*',
    });
    const star = { ...alice, tags: { team: '*' } } as RequestPrincipal;
    assert.equal(applies(policy, { principal: star, resource: s3ResourceArn('teams', '*/x') }), true);
    assert.equal(applies(policy, { principal: star, resource: s3ResourceArn('teams', 'red/x') }), false);
  });

  it('${aws:PrincipalTag/key} reads the principal’s tag, the key in any case', () => {
    const policy = identityPolicy({
      Effect: 'Allow',
      Action: 's3:*',
      Resource: 'arn:aws:s3:::teams/${aws:principaltag/Team}/*',
    });
    const red = { ...alice, tags: { TEAM: 'red' } } as RequestPrincipal;
    assert.equal(applies(policy, { principal: red, resource: s3ResourceArn('teams', 'red/x') }), true);
    assert.equal(applies(policy, { principal: red, resource: s3ResourceArn('teams', 'blue/x') }), false);
  });

  it('a variable whose key the request lacks matches nothing', () => {
    const policy = identityPolicy({
      Effect: 'Allow',
      Action: 's3:*',
      Resource: 'arn:aws:s3:::teams/${aws:PrincipalTag/team}/*',
    });
    assert.equal(applies(policy, { resource: s3ResourceArn('teams', '/x') }), false);
    assert.equal(applies(policy, { resource: s3ResourceArn('teams', '${aws:PrincipalTag/team}/x') }), false);
  });

  it('a default value stands in for a missing key', () => {
    const policy = resourcePolicy({
      Effect: 'Allow',
      Principal: '*',
      Action: 's3:GetObject',
      Resource: "arn:aws:s3:::drop/${aws:userid, 'anonymous'}/*",
    });
    const anonymous: RequestPrincipal = { kind: 'anonymous' };
    assert.equal(
      applies(policy, { principal: anonymous, resource: s3ResourceArn('drop', 'anonymous/x') }),
      true,
    );
    const withId = { ...alice, userId: 'AIDAALICE' } as RequestPrincipal;
    assert.equal(
      applies(policy, { principal: withId, resource: s3ResourceArn('drop', 'AIDAALICE/x') }),
      true,
    );
    assert.equal(
      applies(policy, { principal: withId, resource: s3ResourceArn('drop', 'anonymous/x') }),
      false,
    );
  });

  it('${*}, ${?} and ${$} stand for the literal characters', () => {
    const policy = identityPolicy({
      Effect: 'Allow',
      Action: 's3:*',
      Resource: 'arn:aws:s3:::odd/a${*}b${?}c${$}d',
    });
    assert.equal(applies(policy, { resource: s3ResourceArn('odd', 'a*b?c$d') }), true);
    assert.equal(applies(policy, { resource: s3ResourceArn('odd', 'axxb?c$d') }), false);
  });

  it('variables are substituted in string condition values, not in numeric ones', () => {
    const policy = identityPolicy({
      Effect: 'Allow',
      Action: 's3:*',
      Resource: '*',
      Condition: { StringEquals: { 's3:ExistingObjectTag/owner': '${aws:username}' } },
    });
    assert.equal(applies(policy, { conditionKeys: { 's3:ExistingObjectTag/owner': 'alice' } }), true);
    assert.equal(applies(policy, { conditionKeys: { 's3:ExistingObjectTag/owner': 'bob' } }), false);
    assert.throws(
      () =>
        identityPolicy({
          Effect: 'Allow',
          Action: 's3:*',
          Resource: '*',
          Condition: { NumericEquals: { 's3:max-keys': '${aws:username}' } },
        }),
      /is not a number/,
    );
  });

  it('a multi-valued key cannot be a variable', () => {
    const policy = identityPolicy({
      Effect: 'Allow',
      Action: 's3:*',
      Resource: 'arn:aws:s3:::b/${s3:RequestObjectTagKeys}',
    });
    assert.equal(
      applies(policy, {
        resource: s3ResourceArn('b', 'x'),
        conditionKeys: { 's3:RequestObjectTagKeys': ['x', 'y'] },
      }),
      false,
    );
    assert.equal(
      applies(policy, {
        resource: s3ResourceArn('b', 'x'),
        conditionKeys: { 's3:RequestObjectTagKeys': ['x'] },
      }),
      true,
    );
  });
});

describe('Principal matching', () => {
  const grant = (principal: unknown) =>
    resourcePolicy({
      Effect: 'Allow',
      Principal: principal,
      Action: 's3:GetObject',
      Resource: 'arn:aws:s3:::photos/*',
    });
  const bob: RequestPrincipal = { kind: 'iam', arn: 'arn:aws:iam::tenant-b:user/bob', tenantId: 'tenant-b' };
  const session: RequestPrincipal = {
    kind: 'iam',
    arn: 'arn:aws:sts::tenant-b:assumed-role/auditor/session-1',
    tenantId: 'tenant-b',
  };
  const root: RequestPrincipal = { kind: 'iam', arn: 'arn:aws:iam::tenant-b:root', tenantId: 'tenant-b' };

  it('an account id names every principal of that tenant, and so does its root ARN', () => {
    for (const principal of [{ AWS: 'tenant-b' }, { AWS: 'arn:aws:iam::tenant-b:root' }]) {
      const policy = grant(principal);
      assert.equal(applies(policy, { principal: bob }), true);
      assert.equal(applies(policy, { principal: session }), true);
      assert.equal(applies(policy, { principal: root }), true);
      assert.equal(applies(policy, { principal: alice }), false);
    }
  });

  it('a user ARN names that user only', () => {
    const policy = grant({ AWS: 'arn:aws:iam::tenant-b:user/bob' });
    assert.equal(applies(policy, { principal: bob }), true);
    assert.equal(
      applies(policy, {
        principal: { kind: 'iam', arn: 'arn:aws:iam::tenant-b:user/bobby', tenantId: 'tenant-b' },
      }),
      false,
    );
    assert.equal(applies(policy, { principal: root }), false);
  });

  it('a role ARN names the role’s sessions too, whatever the role’s path', () => {
    assert.equal(applies(grant({ AWS: 'arn:aws:iam::tenant-b:role/auditor' }), { principal: session }), true);
    assert.equal(
      applies(grant({ AWS: 'arn:aws:iam::tenant-b:role/security/auditor' }), { principal: session }),
      true,
    );
    assert.equal(applies(grant({ AWS: 'arn:aws:iam::tenant-b:role/reader' }), { principal: session }), false);
    assert.equal(
      applies(grant({ AWS: 'arn:aws:iam::tenant-c:role/auditor' }), { principal: session }),
      false,
    );
  });

  it('an assumed-role session ARN names that session only', () => {
    const policy = grant({ AWS: 'arn:aws:sts::tenant-b:assumed-role/auditor/session-1' });
    assert.equal(applies(policy, { principal: session }), true);
    const other = {
      ...session,
      arn: 'arn:aws:sts::tenant-b:assumed-role/auditor/session-2',
    } as RequestPrincipal;
    assert.equal(applies(policy, { principal: other }), false);
  });

  it('"*" and {"AWS": "*"} name everyone, anonymous requesters included', () => {
    for (const principal of ['*', { AWS: '*' }, { AWS: ['tenant-x', '*'] }]) {
      const policy = grant(principal);
      assert.equal(applies(policy, { principal: { kind: 'anonymous' } }), true);
      assert.equal(applies(policy, { principal: bob }), true);
    }
  });

  it('an anonymous requester matches no named principal', () => {
    assert.equal(applies(grant({ AWS: 'tenant-a' }), { principal: { kind: 'anonymous' } }), false);
  });

  it('a service principal matches its Service entry only', () => {
    const policy = grant({ Service: 'logging.s3.amazonaws.com' });
    assert.equal(
      applies(policy, { principal: { kind: 'service', service: 'logging.s3.amazonaws.com' } }),
      true,
    );
    assert.equal(
      applies(policy, { principal: { kind: 'service', service: 'replication.s3.amazonaws.com' } }),
      false,
    );
    assert.equal(applies(policy, { principal: alice }), false);
  });

  it('NotPrincipal with Deny applies to everyone except the named principal (listed with its account)', () => {
    // The example of reference_policies_elements_notprincipal: Bob and his account's root are left out.
    const policy = resourcePolicy({
      Effect: 'Deny',
      NotPrincipal: { AWS: ['arn:aws:iam::tenant-b:user/bob', 'arn:aws:iam::tenant-b:root'] },
      Action: 's3:*',
      Resource: ['arn:aws:s3:::photos', 'arn:aws:s3:::photos/*'],
    });
    assert.equal(applies(policy, { principal: bob }), false);
    assert.equal(applies(policy, { principal: alice }), true);
    assert.equal(applies(policy, { principal: { kind: 'anonymous' } }), true);
    assert.equal(
      applies(policy, {
        principal: { kind: 'iam', arn: 'arn:aws:iam::tenant-b:user/carol', tenantId: 'tenant-b' },
      }),
      true,
    );
  });

  it('NotPrincipal naming a user without the user’s account still covers the user, as AWS warns', () => {
    const policy = resourcePolicy({
      Effect: 'Deny',
      NotPrincipal: { AWS: 'arn:aws:iam::tenant-b:user/bob' },
      Action: 's3:*',
      Resource: 'arn:aws:s3:::photos/*',
    });
    assert.equal(applies(policy, { principal: bob }), true);
  });

  it('NotPrincipal leaves a role session out only with the session, its role and its account listed', () => {
    const all = [
      'arn:aws:sts::tenant-b:assumed-role/auditor/session-1',
      'arn:aws:iam::tenant-b:role/auditor',
      'arn:aws:iam::tenant-b:root',
    ];
    const deny = (listed: string[]) =>
      resourcePolicy({
        Effect: 'Deny',
        NotPrincipal: { AWS: listed },
        Action: 's3:*',
        Resource: 'arn:aws:s3:::photos/*',
      });
    assert.equal(applies(deny(all), { principal: session }), false);
    assert.equal(applies(deny(all.slice(1)), { principal: session }), true);
    assert.equal(applies(deny([all[0]!, all[2]!]), { principal: session }), true);
  });

  it('identity policies apply to the identity they are attached to', () => {
    const policy = identityPolicy({ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' });
    assert.equal(applies(policy, { principal: bob }), true);
  });
});

describe('request contexts', () => {
  it('a principal ARN of another tenant than the principal’s is a caller error', () => {
    assert.throws(
      () => request({ principal: { kind: 'iam', arn: 'arn:aws:iam::tenant-b:user/bob', tenantId: TENANT } }),
      (error: unknown) => error instanceof PolicyError && error.code === 'InvalidRequestContext',
    );
  });

  it('a principal that is no IAM ARN is a caller error', () => {
    assert.throws(
      () => request({ principal: { kind: 'iam', arn: 'bob', tenantId: TENANT } }),
      (error: unknown) => error instanceof PolicyError && error.code === 'InvalidRequestContext',
    );
  });

  it('condition values that are not strings are a caller error', () => {
    assert.throws(
      () => request({ conditionKeys: { 's3:max-keys': 10 as unknown as string } }),
      (error: unknown) => error instanceof PolicyError && error.code === 'InvalidRequestContext',
    );
  });

  it('principal keys come from the principal, never from the caller’s condition keys', () => {
    const context = request({
      conditionKeys: {
        'aws:PrincipalArn': 'arn:aws:iam::x:root',
        'AWS:USERNAME': 'root',
        'aws:PrincipalTag/admin': 'true',
      },
    });
    const keys = context.conditionKeys();
    assert.deepEqual(keys.get('aws:principalarn'), [`arn:aws:iam::${TENANT}:user/alice`]);
    assert.deepEqual(keys.get('aws:username'), ['alice']);
    assert.equal(keys.get('aws:principaltag/admin'), undefined);
    assert.deepEqual(keys.get('aws:principalaccount'), [TENANT]);
    assert.deepEqual(keys.get('aws:principaltype'), ['User']);
  });

  it('a role session’s aws:PrincipalArn is its role’s ARN', () => {
    const context = request({
      principal: { kind: 'iam', arn: `arn:aws:sts::${TENANT}:assumed-role/auditor/s1`, tenantId: TENANT },
    });
    assert.deepEqual(context.conditionKeys().get('aws:principalarn'), [
      `arn:aws:iam::${TENANT}:role/auditor`,
    ]);
    assert.deepEqual(context.conditionKeys().get('aws:principaltype'), ['AssumedRole']);
    assert.equal(context.conditionKeys().get('aws:username'), undefined);
  });

  it('now sets aws:CurrentTime and aws:EpochTime', () => {
    const context = request({ now: new Date('2024-05-06T07:08:09.123Z') });
    assert.deepEqual(context.conditionKeys().get('aws:currenttime'), ['2024-05-06T07:08:09.123Z']);
    assert.deepEqual(context.conditionKeys().get('aws:epochtime'), ['1714979289']);
  });

  it('condition key names are case-insensitive', () => {
    const policy = identityPolicy({
      Effect: 'Allow',
      Action: 's3:*',
      Resource: '*',
      Condition: { IpAddress: { 'AWS:SOURCEIP': '10.0.0.0/8' } },
    });
    assert.equal(applies(policy, { conditionKeys: { 'aws:sourceip': '10.1.2.3' } }), true);
    assert.equal(applies(policy, { conditionKeys: new Map([['Aws:SourceIP', '10.1.2.3']]) }), true);
  });
});
