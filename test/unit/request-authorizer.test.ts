import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CedarGuardrailCompiler, readDefaultGuardrails } from '../../src/adapters/cedar/cedar-guardrails.ts';
import { classificationProfile } from '../../src/domain/classification/profiles.ts';
import { ClassificationScheme } from '../../src/domain/classification/scheme.ts';
import { Guardrails } from '../../src/domain/guardrails/guardrails.ts';
import type { CompiledGuardrails, GuardrailCompiler } from '../../src/domain/guardrails/ports.ts';
import {
  denialOf,
  TenantAdminAuthorizer,
  type AccessDenial,
  type RequestFacts,
  type TargetBucket,
} from '../../src/domain/iam/authorizer.ts';
import {
  BUCKET_POLICY_CACHE_TTL_MS,
  decodeBucketPolicyDocument,
  encodeBucketPolicyDocument,
  parseBucketPolicy,
  type BucketPolicyStore,
} from '../../src/domain/iam/bucket-policy.ts';
import type { Caller } from '../../src/domain/iam/caller.ts';
import type {
  PrincipalAttributes,
  PrincipalAttributeSource,
} from '../../src/domain/iam/identity-policies.ts';
import {
  IDENTITY_POLICY_SIZE_LIMIT,
  parsePolicy,
  PolicyError,
  type CompiledPolicy,
} from '../../src/domain/iam/policy/index.ts';
import {
  anonymousCaller,
  clearanceOf,
  explainDecision,
  isAnonymousCaller,
  RequestAuthorizer,
  type IdentityPolicySource,
  type ObjectTagReader,
} from '../../src/domain/iam/request-authorizer.ts';
import { storageError } from '../../src/domain/storage/errors.ts';
import type { Clock } from '../../src/platform/clock.ts';
import { requestFactsOf } from '../../src/protocols/s3/condition-keys.ts';
import { routeS3Request } from '../../src/protocols/s3/route.ts';

const A = 'agency-a';
const B = 'agency-b';
const compiler = new CedarGuardrailCompiler();
const OPEN_GUARDRAILS = '@id("open") permit (principal, action, resource);';

const admin: Caller = caller('user-admin', A, true);
const alice: Caller = caller('user-alice', A, false);
const bobAdmin: Caller = caller('user-bob', B, true);
const anonymous: Caller = anonymousCaller('req-anon', '198.51.100.7', false);

const photos: TargetBucket = { name: 'photos', tenantId: A, classification: null };
const secrets: TargetBucket = { name: 'secrets', tenantId: A, classification: 'SECRET' };
const internal: TargetBucket = { name: 'internal', tenantId: A, classification: 'INTERNAL' };
const foreign: TargetBucket = { name: 'foreign', tenantId: B, classification: null };

function caller(
  principalId: string,
  tenantId: string,
  isTenantAdmin: boolean,
  extra: Partial<Caller> = {},
): Caller {
  return {
    principalId,
    tenantId,
    isTenantAdmin,
    requestId: 'req',
    sourceIp: '192.0.2.10',
    secureTransport: true,
    ...extra,
  };
}

function policyText(statements: object[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

function identityPolicy(statements: object[], id?: string): CompiledPolicy {
  return parsePolicy(JSON.stringify({ Version: '2012-10-17', Id: id, Statement: statements }), {
    kind: 'identity',
    sizeLimit: IDENTITY_POLICY_SIZE_LIMIT,
  });
}

class ManualClock implements Clock {
  ms = Date.parse('2026-03-01T12:00:00Z');
  now(): Date {
    return new Date(this.ms);
  }
  nowMs(): number {
    return this.ms;
  }
}

/** The bucket_configs 'policy' documents of a few buckets, as the metadata store holds them. */
class PolicyDocuments implements BucketPolicyStore {
  readonly documents = new Map<string, string>();
  reads = 0;
  put(bucket: string, statements: object[]): void {
    const text = policyText(statements);
    parseBucketPolicy(text, bucket);
    this.documents.set(bucket, encodeBucketPolicyDocument(text));
  }
  getBucketConfig(bucket: string): Promise<{ document: string } | null> {
    this.reads += 1;
    const document = this.documents.get(bucket);
    return Promise.resolve(document === undefined ? null : { document });
  }
}

/** Counts evaluations that reach the guardrail set (a remembered decision does not). */
class CountingCompiler implements GuardrailCompiler {
  evaluations = 0;
  get actions(): readonly string[] {
    return compiler.actions;
  }
  compile(text: string): CompiledGuardrails {
    const compiled = compiler.compile(text);
    return {
      text: compiled.text,
      policies: compiled.policies,
      readsEntityIdentity: compiled.readsEntityIdentity,
      evaluate: (request) => {
        this.evaluations += 1;
        return compiled.evaluate(request);
      },
    };
  }
}

interface Setup {
  authorizer: RequestAuthorizer;
  policies: PolicyDocuments;
  /** Stores a bucket policy and tells the authorizer, as PutBucketPolicy does. */
  setPolicy: (bucket: string, statements: object[]) => void;
  guardrails: Guardrails;
  clock: ManualClock;
  counting: CountingCompiler;
}

function setup(
  options: {
    guardrails?: string;
    identity?: IdentityPolicySource;
    objectTags?: ObjectTagReader;
    scheme?: ClassificationScheme;
    attributes?: PrincipalAttributeSource;
  } = {},
): Setup {
  const clock = new ManualClock();
  const policies = new PolicyDocuments();
  const counting = new CountingCompiler();
  const guardrails = new Guardrails(counting, options.guardrails ?? readDefaultGuardrails());
  const authorizer = new RequestAuthorizer({
    bucketPolicies: policies,
    guardrails,
    clock,
    ...(options.identity === undefined ? {} : { identityPolicies: options.identity }),
    ...(options.objectTags === undefined ? {} : { objectTags: options.objectTags }),
    ...(options.scheme === undefined ? {} : { scheme: options.scheme }),
    principalAttributes: options.attributes ?? attributeSource(CLEARED_ADMINISTRATOR),
  });
  const setPolicy = (bucket: string, statements: object[]) => {
    policies.put(bucket, statements);
    authorizer.forgetBucketPolicy(bucket);
  };
  return { authorizer, policies, setPolicy, guardrails, clock, counting };
}

/** The tenant administrator of most tests: cleared to TOP_SECRET with both compartments. */
const CLEARED_ADMINISTRATOR: Record<string, Partial<PrincipalAttributes>> = {
  'user-admin': { clearance: 'TOP_SECRET', compartments: ['CRYPTO', 'NUCLEAR'] },
};

function attributeSource(
  byPrincipal: Record<string, Partial<PrincipalAttributes>>,
): PrincipalAttributeSource {
  const known = new Map<string, PrincipalAttributes>();
  for (const [principalId, given] of Object.entries(byPrincipal)) {
    const tenantId = principalId === 'user-bob' ? B : A;
    const name = principalId.replace(/^user-/, '');
    known.set(principalId, {
      principalId,
      tenantId,
      kind: 'user',
      name,
      arn: `arn:aws:iam::${tenantId}:user/${name}`,
      isTenantAdmin: principalId === 'user-admin' || principalId === 'user-bob',
      tags: {},
      clearance: null,
      compartments: [],
      ...given,
    });
  }
  return { attributesOf: (principalId) => Promise.resolve(known.get(principalId) ?? null) };
}

function identitySource(byPrincipal: Record<string, CompiledPolicy[]>): IdentityPolicySource {
  return { policiesFor: (principalId) => Promise.resolve(byPrincipal[principalId] ?? []) };
}

async function allowed(
  authorizer: RequestAuthorizer,
  who: Caller,
  action: string,
  bucket: TargetBucket | null,
  key: string | null = null,
  facts?: RequestFacts,
): Promise<void> {
  await authorizer.authorize(who, action, { bucket, key }, facts);
}

async function denied(
  authorizer: RequestAuthorizer,
  who: Caller,
  action: string,
  bucket: TargetBucket | null,
  key: string | null,
  expected: AccessDenial,
  facts?: RequestFacts,
): Promise<void> {
  await assert.rejects(authorizer.authorize(who, action, { bucket, key }, facts), (error: unknown) => {
    assert.equal((error as { code?: string }).code, 'AccessDenied');
    assert.equal((error as Error).message, 'Access Denied');
    assert.deepEqual(denialOf(error), expected);
    return true;
  });
}

const NO_STATEMENT: AccessDenial = { source: 'iam', policies: [] };

describe('IAM: identity policies and bucket policies', () => {
  it('a tenant administrator acts on its own tenant’s buckets without any policy', async () => {
    const { authorizer } = setup();
    await allowed(authorizer, admin, 's3:PutObject', photos, 'a.txt');
    await allowed(authorizer, admin, 's3:DeleteBucket', photos);
    await allowed(authorizer, admin, 's3:ListAllMyBuckets', null);
    await allowed(authorizer, admin, 's3:CreateBucket', { name: 'new-bucket', tenantId: A });
  });

  it('a principal without identity policies is implicitly denied, and the denial names no statement', async () => {
    const { authorizer } = setup();
    await denied(authorizer, alice, 's3:GetObject', photos, 'a.txt', NO_STATEMENT);
    await denied(authorizer, alice, 's3:ListAllMyBuckets', null, null, NO_STATEMENT);
  });

  it('an identity policy allows within its tenant, and only what it names', async () => {
    const reader = identityPolicy(
      [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::photos/public/*' }],
      'photo-readers',
    );
    const { authorizer } = setup({ identity: identitySource({ 'user-alice': [reader] }) });
    await allowed(authorizer, alice, 's3:GetObject', photos, 'public/cat.jpg');
    await denied(authorizer, alice, 's3:GetObject', photos, 'private/x', NO_STATEMENT);
    await denied(authorizer, alice, 's3:PutObject', photos, 'public/cat.jpg', NO_STATEMENT);
  });

  it('a bucket policy naming a principal of the tenant allows it without an identity policy', async () => {
    const { authorizer, setPolicy } = setup();
    setPolicy('photos', [
      {
        Sid: 'AliceReads',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${A}:user/user-alice` },
        Action: ['s3:GetObject', 's3:ListBucket'],
        Resource: ['arn:aws:s3:::photos', 'arn:aws:s3:::photos/*'],
      },
    ]);
    await allowed(authorizer, alice, 's3:GetObject', photos, 'cat.jpg');
    await allowed(authorizer, alice, 's3:ListBucket', photos);
    await denied(authorizer, alice, 's3:DeleteObject', photos, 'cat.jpg', NO_STATEMENT);
  });

  it('an explicit Deny in the bucket policy wins over the administrator’s full access and is named', async () => {
    const { authorizer, setPolicy } = setup();
    setPolicy('photos', [
      {
        Sid: 'NoDeletes',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:DeleteObject',
        Resource: 'arn:aws:s3:::photos/*',
      },
    ]);
    await denied(authorizer, admin, 's3:DeleteObject', photos, 'cat.jpg', {
      source: 'iam',
      policies: ['bucket policy of photos Statement[0] "NoDeletes"'],
    });
    await allowed(authorizer, admin, 's3:PutObject', photos, 'cat.jpg');
  });

  it('the administrator of the owning tenant can always get, put and delete a policy that denies it', async () => {
    const { authorizer, setPolicy } = setup();
    setPolicy('photos', [
      { Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: 'arn:aws:s3:::photos' },
    ]);
    for (const action of ['s3:GetBucketPolicy', 's3:PutBucketPolicy', 's3:DeleteBucketPolicy']) {
      await allowed(authorizer, admin, action, photos);
    }
    await denied(authorizer, admin, 's3:GetBucketPolicyStatus', photos, null, {
      source: 'iam',
      policies: ['bucket policy of photos Statement[0]'],
    });
    await denied(authorizer, admin, 's3:ListBucket', photos, null, {
      source: 'iam',
      policies: ['bucket policy of photos Statement[0]'],
    });
  });

  it('the owner’s always-allowed policy actions are not extended to principals that are not administrators', async () => {
    const { authorizer } = setup();
    await denied(authorizer, alice, 's3:DeleteBucketPolicy', photos, null, NO_STATEMENT);
  });

  it('another tenant’s principal needs an allow on both sides, and the default guardrails still keep tenants apart', async () => {
    const grant = [
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${A}:root` },
        Action: 's3:GetObject',
        Resource: 'arn:aws:s3:::foreign/*',
      },
    ];
    const open = setup({ guardrails: OPEN_GUARDRAILS });
    // The tenant administrator policy covers only its own tenant's resources.
    await denied(open.authorizer, admin, 's3:GetObject', foreign, 'x', NO_STATEMENT);
    open.setPolicy('foreign', grant);
    await denied(open.authorizer, alice, 's3:GetObject', foreign, 'x', NO_STATEMENT);
    const crossReader = identityPolicy([{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }]);
    const both = setup({
      guardrails: OPEN_GUARDRAILS,
      identity: identitySource({ 'user-alice': [crossReader] }),
    });
    await denied(both.authorizer, alice, 's3:GetObject', foreign, 'x', NO_STATEMENT);
    both.setPolicy('foreign', grant);
    await allowed(both.authorizer, alice, 's3:GetObject', foreign, 'x');
    const guarded = setup({ identity: identitySource({ 'user-alice': [crossReader] }) });
    guarded.setPolicy('foreign', grant);
    await denied(guarded.authorizer, alice, 's3:GetObject', foreign, 'x', {
      source: 'guardrails',
      policies: ['tenant-isolation'],
    });
    await denied(guarded.authorizer, bobAdmin, 's3:GetObject', photos, 'x', {
      source: 'guardrails',
      policies: ['tenant-isolation'],
    });
  });

  it('identity policies offered with labels are named by those labels in a denial', async () => {
    const denyAll = identityPolicy([{ Sid: 'Nothing', Effect: 'Deny', Action: 's3:*', Resource: '*' }]);
    const { authorizer } = setup({
      identity: {
        policiesFor: () => Promise.resolve([denyAll]),
        labeledPoliciesFor: () => Promise.resolve([{ label: 'managed policy lockdown', policy: denyAll }]),
      },
    });
    await denied(authorizer, admin, 's3:GetObject', photos, 'x', {
      source: 'iam',
      policies: ['managed policy lockdown Statement[0] "Nothing"'],
    });
  });
});

describe('condition keys', () => {
  it('aws:SecureTransport is false over plain HTTP, so a Deny on it refuses insecure requests only', async () => {
    const { authorizer, setPolicy } = setup();
    setPolicy('photos', [
      {
        Sid: 'TlsOnly',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Resource: ['arn:aws:s3:::photos', 'arn:aws:s3:::photos/*'],
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
    ]);
    await allowed(authorizer, admin, 's3:GetObject', photos, 'x');
    await denied(authorizer, { ...admin, secureTransport: false }, 's3:GetObject', photos, 'x', {
      source: 'iam',
      policies: ['bucket policy of photos Statement[0] "TlsOnly"'],
    });
  });

  it('aws:SourceIp is the client address, an IPv4 client on a dual-stack socket included', async () => {
    const { authorizer, setPolicy } = setup();
    setPolicy('photos', [
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${A}:user/user-alice` },
        Action: 's3:GetObject',
        Resource: 'arn:aws:s3:::photos/*',
        Condition: { IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } },
      },
    ]);
    await allowed(authorizer, { ...alice, sourceIp: '203.0.113.9' }, 's3:GetObject', photos, 'x');
    await allowed(authorizer, { ...alice, sourceIp: '::ffff:203.0.113.9' }, 's3:GetObject', photos, 'x');
    await denied(
      authorizer,
      { ...alice, sourceIp: '198.51.100.1' },
      's3:GetObject',
      photos,
      'x',
      NO_STATEMENT,
    );
  });

  it('aws:CurrentTime and aws:EpochTime follow the injected clock', async () => {
    const { authorizer, setPolicy, clock } = setup();
    setPolicy('photos', [
      {
        Sid: 'Embargo',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:GetObject',
        Resource: 'arn:aws:s3:::photos/*',
        Condition: { DateLessThan: { 'aws:CurrentTime': '2026-03-02T00:00:00Z' } },
      },
    ]);
    await denied(authorizer, admin, 's3:GetObject', photos, 'x', {
      source: 'iam',
      policies: ['bucket policy of photos Statement[0] "Embargo"'],
    });
    clock.ms = Date.parse('2026-03-02T00:00:01Z');
    await allowed(authorizer, admin, 's3:GetObject', photos, 'x');
  });

  it('s3:prefix, s3:delimiter and s3:max-keys come from the listing request', async () => {
    const { authorizer, setPolicy } = setup();
    setPolicy('photos', [
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${A}:user/user-alice` },
        Action: 's3:ListBucket',
        Resource: 'arn:aws:s3:::photos',
        Condition: {
          StringLike: { 's3:prefix': 'home/alice/*' },
          StringEquals: { 's3:delimiter': '/' },
          NumericLessThanEquals: { 's3:max-keys': '100' },
        },
      },
    ]);
    const list = (query: string) =>
      requestFactsOf(routeS3Request('GET', `/photos?${query}`, undefined, [], false), {});
    await allowed(
      authorizer,
      alice,
      's3:ListBucket',
      photos,
      null,
      list('prefix=home/alice/&delimiter=/&max-keys=50'),
    );
    await denied(
      authorizer,
      alice,
      's3:ListBucket',
      photos,
      null,
      NO_STATEMENT,
      list('prefix=home/bob/&delimiter=/'),
    );
    await denied(
      authorizer,
      alice,
      's3:ListBucket',
      photos,
      null,
      NO_STATEMENT,
      list('prefix=home/alice/&delimiter=/&max-keys=500'),
    );
  });

  it('s3:x-amz-server-side-encryption and s3:RequestObjectTag/<key> come from the upload’s headers', async () => {
    const { authorizer, setPolicy } = setup();
    setPolicy('photos', [
      {
        Sid: 'KmsOnly',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:PutObject',
        Resource: 'arn:aws:s3:::photos/*',
        Condition: { StringNotEquals: { 's3:x-amz-server-side-encryption': 'aws:kms' } },
      },
      {
        Sid: 'ProjectTag',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:PutObject',
        Resource: 'arn:aws:s3:::photos/*',
        Condition: {
          StringNotEquals: { 's3:RequestObjectTag/project': 'apollo' },
          Null: { 's3:RequestObjectTag/project': 'false' },
        },
      },
    ]);
    const put = (headers: Record<string, string>) =>
      requestFactsOf(routeS3Request('PUT', '/photos/x', undefined, [], false), headers);
    await allowed(
      authorizer,
      admin,
      's3:PutObject',
      photos,
      'x',
      put({ 'x-amz-server-side-encryption': 'aws:kms' }),
    );
    await denied(
      authorizer,
      admin,
      's3:PutObject',
      photos,
      'x',
      {
        source: 'iam',
        policies: ['bucket policy of photos Statement[0] "KmsOnly"'],
      },
      put({ 'x-amz-server-side-encryption': 'AES256' }),
    );
    await denied(
      authorizer,
      admin,
      's3:PutObject',
      photos,
      'x',
      {
        source: 'iam',
        policies: ['bucket policy of photos Statement[1] "ProjectTag"'],
      },
      put({ 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-tagging': 'project=gemini' }),
    );
  });

  it('s3:ExistingObjectTag/<key> is read from the object only when a policy condition asks for it', async () => {
    const reads: string[] = [];
    const objectTags: ObjectTagReader = {
      getObjectVersion: (bucket, key, versionId) => {
        reads.push(`${bucket}/${key}@${versionId ?? 'latest'}`);
        if (key === 'missing') return Promise.reject(storageError('ObjectNotFound', 'no such key'));
        const tags: Record<string, string> = key === 'tagged' ? { classification: 'open' } : {};
        return Promise.resolve({ tags });
      },
    };
    const { authorizer, setPolicy } = setup({ objectTags });
    await allowed(authorizer, admin, 's3:GetObject', photos, 'tagged');
    assert.deepEqual(reads, [], 'no policy reads object tags');
    setPolicy('photos', [
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${A}:user/user-alice` },
        Action: 's3:GetObject',
        Resource: 'arn:aws:s3:::photos/*',
        Condition: { StringEquals: { 's3:ExistingObjectTag/classification': 'open' } },
      },
    ]);
    await allowed(authorizer, alice, 's3:GetObject', photos, 'tagged', { versionId: 'v1' });
    await denied(authorizer, alice, 's3:GetObject', photos, 'plain', NO_STATEMENT);
    await denied(authorizer, alice, 's3:GetObject', photos, 'missing', NO_STATEMENT);
    assert.deepEqual(reads, ['photos/tagged@v1', 'photos/plain@latest', 'photos/missing@latest']);
  });

  it('s3:VersionId is the version the request names', async () => {
    const { authorizer, setPolicy } = setup();
    setPolicy('photos', [
      {
        Sid: 'NoOldVersions',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:GetObject',
        Resource: 'arn:aws:s3:::photos/*',
        Condition: { Null: { 's3:VersionId': 'false' } },
      },
    ]);
    await allowed(authorizer, admin, 's3:GetObject', photos, 'x');
    await denied(
      authorizer,
      admin,
      's3:GetObject',
      photos,
      'x',
      {
        source: 'iam',
        policies: ['bucket policy of photos Statement[0] "NoOldVersions"'],
      },
      { versionId: 'v1' },
    );
  });
});

describe('anonymous requests', () => {
  const publicRead = (bucket: string) => [
    {
      Sid: 'PublicRead',
      Effect: 'Allow',
      Principal: '*',
      Action: ['s3:GetObject', 's3:ListBucket'],
      Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`],
    },
  ];

  it('an unsigned read is allowed only by a bucket policy for everyone on lowest-level data', async () => {
    const { authorizer, setPolicy } = setup();
    await denied(authorizer, anonymous, 's3:GetObject', photos, 'x', NO_STATEMENT);
    setPolicy('photos', publicRead('photos'));
    await allowed(authorizer, anonymous, 's3:GetObject', photos, 'x');
    await allowed(authorizer, anonymous, 's3:ListBucket', photos);
  });

  it('the guardrails refuse public reads of data above the lowest level whatever the bucket policy says', async () => {
    const { authorizer, setPolicy } = setup();
    setPolicy('internal', publicRead('internal'));
    await denied(authorizer, anonymous, 's3:GetObject', internal, 'x', {
      source: 'guardrails',
      policies: ['anonymous-reads-only-public-data'],
    });
  });

  it('without the guardrails, no read up still keeps anonymous callers out of classified data', async () => {
    const { authorizer, setPolicy } = setup({ guardrails: OPEN_GUARDRAILS });
    setPolicy('internal', publicRead('internal'));
    await denied(authorizer, anonymous, 's3:GetObject', internal, 'x', {
      source: 'classification',
      policies: ['no-read-up'],
    });
  });

  it('an unsigned request naming no bucket, or writing, is denied even under a policy that allows everything', async () => {
    const { authorizer, setPolicy } = setup();
    setPolicy('photos', [
      {
        Effect: 'Allow',
        Principal: '*',
        Action: 's3:*',
        Resource: ['arn:aws:s3:::photos', 'arn:aws:s3:::photos/*'],
      },
    ]);
    await denied(authorizer, anonymous, 's3:ListAllMyBuckets', null, null, NO_STATEMENT);
    await denied(authorizer, anonymous, 's3:PutObject', photos, 'x', {
      source: 'guardrails',
      policies: ['anonymous-reads-only-public-data'],
    });
  });

  it('the anonymous caller has no tenant and is never an administrator', () => {
    assert.equal(isAnonymousCaller(anonymous), true);
    assert.equal(isAnonymousCaller(alice), false);
    assert.equal(anonymous.isTenantAdmin, false);
    assert.equal(anonymous.tenantId, '');
  });
});

describe('mandatory access control', () => {
  const readEverything = identityPolicy([{ Effect: 'Allow', Action: 's3:*', Resource: '*' }]);

  it('a clearance is the principal’s own level and compartments; none recorded, unknown or anonymous is the lowest level', async () => {
    const scheme = schemeWithCompartments();
    const source = attributeSource({
      'user-admin': { clearance: null },
      'user-alice': { clearance: 'SECRET', compartments: ['NUCLEAR', 'CRYPTO', 'NUCLEAR'] },
      'user-carol': { clearance: 'COSMIC', compartments: ['CRYPTO'] },
      'user-dave': { clearance: 'INTERNAL', compartments: ['CRYPTO', 'ATOMAL'] },
    });
    const clearance = async (principalId: string) => {
      const label = clearanceOf(await source.attributesOf(principalId), scheme);
      return [label.level.id, ...label.compartments].join(' ');
    };
    assert.equal(await clearance('user-admin'), 'PUBLIC', 'being an administrator clears nobody');
    assert.equal(await clearance('user-alice'), 'SECRET CRYPTO NUCLEAR');
    assert.equal(await clearance('user-carol'), 'PUBLIC', 'a level the scheme lacks is the lowest');
    assert.equal(
      await clearance('user-dave'),
      'INTERNAL CRYPTO',
      'a compartment the scheme lacks is dropped',
    );
    assert.equal(await clearance('user-nobody'), 'PUBLIC');
    assert.equal(clearanceOf(null, scheme).level.id, 'PUBLIC');
  });

  it('an administrator without a clearance reads nothing above the lowest level; with one, up to it', async () => {
    const uncleared = setup({ guardrails: OPEN_GUARDRAILS, attributes: attributeSource({}) });
    await allowed(uncleared.authorizer, admin, 's3:GetObject', photos, 'x');
    await denied(uncleared.authorizer, admin, 's3:GetObject', internal, 'x', {
      source: 'classification',
      policies: ['no-read-up'],
    });
    const cleared = setup({
      guardrails: OPEN_GUARDRAILS,
      attributes: attributeSource({ 'user-admin': { clearance: 'INTERNAL' } }),
    });
    await allowed(cleared.authorizer, admin, 's3:GetObject', internal, 'x');
    await denied(cleared.authorizer, admin, 's3:GetObject', secrets, 'x', {
      source: 'classification',
      policies: ['no-read-up'],
    });
  });

  it('nobody creates a bucket labelled above their clearance', async () => {
    const { authorizer } = setup({
      attributes: attributeSource({ 'user-admin': { clearance: 'INTERNAL' } }),
    });
    await allowed(authorizer, admin, 's3:CreateBucket', {
      name: 'new',
      tenantId: A,
      classification: 'INTERNAL',
    });
    await denied(
      authorizer,
      admin,
      's3:CreateBucket',
      { name: 'new', tenantId: A, classification: 'SECRET' },
      null,
      { source: 'classification', policies: ['no-label-above-clearance'] },
    );
  });

  it('aws:PrincipalTag/<key> and the principal’s ARN by name come from its attributes', async () => {
    const byTag = identityPolicy([
      {
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: 'arn:aws:s3:::photos/*',
        Condition: { StringEquals: { 'aws:PrincipalTag/team': 'records' } },
      },
    ]);
    const tagged = setup({
      identity: identitySource({ 'user-alice': [byTag] }),
      attributes: attributeSource({ 'user-alice': { tags: { team: 'records' } } }),
    });
    await allowed(tagged.authorizer, alice, 's3:GetObject', photos, 'x');
    const other = setup({
      identity: identitySource({ 'user-alice': [byTag] }),
      attributes: attributeSource({ 'user-alice': { tags: { team: 'finance' } } }),
    });
    await denied(other.authorizer, alice, 's3:GetObject', photos, 'x', NO_STATEMENT);
    const explained = await explainDecision(tagged.authorizer, alice, 's3:GetObject', {
      bucket: photos,
      key: 'x',
    });
    assert.equal(explained.principalArn, `arn:aws:iam::${A}:user/alice`);
  });

  it('no read up: an IAM allow does not let a principal read or list data above its clearance', async () => {
    const guarded = setup({ identity: identitySource({ 'user-alice': [readEverything] }) });
    await allowed(guarded.authorizer, alice, 's3:GetObject', photos, 'x');
    await denied(guarded.authorizer, alice, 's3:GetObject', secrets, 'x', {
      source: 'guardrails',
      policies: ['no-read-up'],
    });
    const open = setup({
      guardrails: OPEN_GUARDRAILS,
      identity: identitySource({ 'user-alice': [readEverything] }),
    });
    for (const action of ['s3:GetObject', 's3:ListBucket', 's3:ListBucketVersions', 's3:GetObjectTagging']) {
      await denied(
        open.authorizer,
        alice,
        action,
        secrets,
        action === 's3:ListBucket' || action === 's3:ListBucketVersions' ? null : 'x',
        {
          source: 'classification',
          policies: ['no-read-up'],
        },
      );
    }
    await allowed(open.authorizer, admin, 's3:GetObject', secrets, 'x');
  });

  it('no read up also needs every compartment of the data', async () => {
    const scheme = schemeWithCompartments();
    const { authorizer } = setup({ guardrails: OPEN_GUARDRAILS, scheme });
    const crypto: TargetBucket = { name: 'crypto', tenantId: A, classification: 'INTERNAL//CRYPTO' };
    await allowed(authorizer, admin, 's3:GetObject', crypto, 'x');
    const reader = setup({
      guardrails: OPEN_GUARDRAILS,
      scheme,
      identity: identitySource({ 'user-alice': [readEverything] }),
    });
    await denied(reader.authorizer, alice, 's3:GetObject', crypto, 'x', {
      source: 'classification',
      policies: ['no-read-up'],
    });
  });

  it('writing up and managing a bucket’s configuration are not reads and need no clearance', async () => {
    const { authorizer } = setup({ identity: identitySource({ 'user-alice': [readEverything] }) });
    await allowed(authorizer, alice, 's3:PutObject', secrets, 'report.pdf');
    await allowed(authorizer, alice, 's3:GetBucketTagging', secrets);
  });

  it('no write down: a copy never moves data into a bucket of lower classification, not even for an administrator', async () => {
    const guarded = setup();
    await denied(
      guarded.authorizer,
      admin,
      's3:PutObject',
      photos,
      'copy',
      { source: 'guardrails', policies: ['no-write-down'] },
      {
        dataSource: secrets,
      },
    );
    await allowed(guarded.authorizer, admin, 's3:PutObject', secrets, 'copy', { dataSource: photos });
    const open = setup({ guardrails: OPEN_GUARDRAILS });
    await denied(
      open.authorizer,
      admin,
      's3:PutObject',
      internal,
      'copy',
      { source: 'classification', policies: ['no-write-down'] },
      {
        dataSource: secrets,
      },
    );
  });

  it('a bucket label the scheme does not know is taken as the highest label (fail closed)', async () => {
    const unknown: TargetBucket = { name: 'odd', tenantId: A, classification: 'COSMIC' };
    const { authorizer } = setup({
      guardrails: OPEN_GUARDRAILS,
      identity: identitySource({ 'user-alice': [readEverything] }),
    });
    await denied(authorizer, alice, 's3:GetObject', unknown, 'x', {
      source: 'classification',
      policies: ['no-read-up'],
    });
    await allowed(authorizer, admin, 's3:GetObject', unknown, 'x');
  });

  it('the guardrails refuse a public bucket policy on a bucket above the lowest level', async () => {
    const { authorizer } = setup();
    await allowed(authorizer, admin, 's3:PutBucketPolicy', photos, null, { grantsPublicAccess: true });
    await denied(
      authorizer,
      admin,
      's3:PutBucketPolicy',
      internal,
      null,
      {
        source: 'guardrails',
        policies: ['classified-data-is-never-made-public'],
      },
      { grantsPublicAccess: true },
    );
  });
});

describe('object labels', () => {
  const readEverything = identityPolicy([{ Effect: 'Allow', Action: 's3:*', Resource: '*' }]);
  const classification = (rule: string): AccessDenial => ({ source: 'classification', policies: [rule] });
  const deniedBy = (expected: AccessDenial) => (error: unknown) => {
    assert.equal((error as { code?: string }).code, 'AccessDenied');
    assert.equal((error as Error).message, 'Access Denied');
    assert.deepEqual(denialOf(error), expected);
    return true;
  };
  const confidentialAlice = () =>
    setup({
      guardrails: OPEN_GUARDRAILS,
      identity: identitySource({ 'user-alice': [readEverything] }),
      attributes: attributeSource({ 'user-alice': { clearance: 'CONFIDENTIAL' } }),
    });

  it('an object labelled above its bucket is read only by a clearance that dominates its label', async () => {
    const { authorizer } = confidentialAlice();
    // A listing decides each entry's label with the listing's own action and no key.
    for (const [action, key] of [
      ['s3:GetObject', 'x'],
      ['s3:GetObjectTagging', 'x'],
      ['s3:ListBucket', null],
    ] as const) {
      await authorizer.authorize(alice, action, { bucket: internal, key });
      await assert.rejects(
        authorizer.authorize(alice, action, { bucket: internal, key, objectLabel: 'SECRET' }),
        deniedBy(classification('no-read-up')),
      );
      await authorizer.authorize(alice, action, { bucket: internal, key, objectLabel: 'CONFIDENTIAL' });
    }
    // The default guardrails hold the same line (Cedar's no-read-up reads the object's label).
    const guarded = setup({
      identity: identitySource({ 'user-alice': [readEverything] }),
      attributes: attributeSource({ 'user-alice': { clearance: 'CONFIDENTIAL' } }),
    });
    await assert.rejects(
      guarded.authorizer.authorize(alice, 's3:GetObject', {
        bucket: internal,
        key: 'x',
        objectLabel: 'SECRET',
      }),
      deniedBy({ source: 'guardrails', policies: ['no-read-up'] }),
    );
  });

  it("an object's data carries its bucket's label joined with its own: the bucket's compartments stay", async () => {
    const scheme = schemeWithCompartments();
    const crypto: TargetBucket = { name: 'crypto', tenantId: A, classification: 'INTERNAL//CRYPTO' };
    const reader = (compartments: string[]) =>
      setup({
        guardrails: OPEN_GUARDRAILS,
        scheme,
        identity: identitySource({ 'user-alice': [readEverything] }),
        attributes: attributeSource({ 'user-alice': { clearance: 'SECRET', compartments } }),
      }).authorizer;
    const target = { bucket: crypto, key: 'x', objectLabel: 'SECRET//NUCLEAR' };
    await assert.rejects(
      reader(['NUCLEAR']).authorize(alice, 's3:GetObject', target),
      deniedBy(classification('no-read-up')),
    );
    await assert.rejects(
      reader(['CRYPTO']).authorize(alice, 's3:GetObject', target),
      deniedBy(classification('no-read-up')),
    );
    await reader(['CRYPTO', 'NUCLEAR']).authorize(alice, 's3:GetObject', target);
    const explained = await explainDecision(reader(['CRYPTO']), alice, 's3:GetObject', target);
    assert.equal(explained.classification.resourceLabel, 'SECRET//CRYPTO/NUCLEAR');
  });

  it('remembered decisions tell an object with its own label from one without', async () => {
    const { authorizer } = confidentialAlice();
    const plain = { bucket: internal, key: 'x' };
    await authorizer.authorize(alice, 's3:GetObject', plain);
    await assert.rejects(
      authorizer.authorize(alice, 's3:GetObject', { ...plain, objectLabel: 'SECRET' }),
      deniedBy(classification('no-read-up')),
    );
    await authorizer.authorize(alice, 's3:GetObject', plain);
    await authorizer.authorize(alice, 's3:GetObject', { ...plain, objectLabel: null });
  });

  it('a write that labels its object needs a clearance that dominates the label; writing up without one does not', async () => {
    const { authorizer } = confidentialAlice();
    await assert.rejects(
      authorizer.authorize(
        alice,
        's3:PutObject',
        { bucket: internal, key: 'x', objectLabel: 'SECRET' },
        { labelsData: true },
      ),
      deniedBy(classification('no-label-above-clearance')),
    );
    await authorizer.authorize(
      alice,
      's3:PutObject',
      { bucket: internal, key: 'x', objectLabel: 'CONFIDENTIAL' },
      { labelsData: true },
    );
    // Labelling at a bucket's own label above the writer's clearance is labelling above it too.
    await assert.rejects(
      authorizer.authorize(alice, 's3:PutObject', { bucket: secrets, key: 'x' }, { labelsData: true }),
      deniedBy(classification('no-label-above-clearance')),
    );
    await authorizer.authorize(alice, 's3:PutObject', { bucket: secrets, key: 'x' });
  });

  it("no write down: a copy's destination bucket must dominate the source object's own label, even when the copy is labelled", async () => {
    const { authorizer } = setup({ guardrails: OPEN_GUARDRAILS });
    const fromSecretObject = { dataSource: internal, dataSourceLabel: 'SECRET' };
    await authorizer.authorize(
      admin,
      's3:PutObject',
      { bucket: internal, key: 'copy' },
      { dataSource: internal },
    );
    await assert.rejects(
      authorizer.authorize(admin, 's3:PutObject', { bucket: internal, key: 'copy' }, fromSecretObject),
      deniedBy(classification('no-write-down')),
    );
    await assert.rejects(
      authorizer.authorize(
        admin,
        's3:PutObject',
        { bucket: internal, key: 'copy', objectLabel: 'SECRET' },
        { ...fromSecretObject, labelsData: true },
      ),
      deniedBy(classification('no-write-down')),
    );
    await authorizer.authorize(admin, 's3:PutObject', { bucket: secrets, key: 'copy' }, fromSecretObject);
    const explained = await explainDecision(
      authorizer,
      admin,
      's3:PutObject',
      { bucket: internal, key: 'copy' },
      fromSecretObject,
    );
    assert.equal(
      explained.classification.reason,
      'data labelled SECRET cannot flow into a bucket labelled INTERNAL',
    );
  });
});

describe('caching', () => {
  it('a bucket policy change through this gateway applies to the next request; another gateway’s within the TTL', async () => {
    const { authorizer, policies, clock } = setup();
    await allowed(authorizer, admin, 's3:DeleteObject', photos, 'x');
    policies.put('photos', [
      { Effect: 'Deny', Principal: '*', Action: 's3:DeleteObject', Resource: 'arn:aws:s3:::photos/*' },
    ]);
    await allowed(authorizer, admin, 's3:DeleteObject', photos, 'x');
    clock.ms += BUCKET_POLICY_CACHE_TTL_MS;
    await denied(authorizer, admin, 's3:DeleteObject', photos, 'x', {
      source: 'iam',
      policies: ['bucket policy of photos Statement[0]'],
    });
    policies.documents.delete('photos');
    authorizer.forgetBucketPolicy('photos');
    await allowed(authorizer, admin, 's3:DeleteObject', photos, 'x');
  });

  it('a bucket that does not exist yet (CreateBucket) has no policy', async () => {
    const clock = new ManualClock();
    const authorizer = new RequestAuthorizer({
      bucketPolicies: {
        getBucketConfig: () => Promise.reject(storageError('BucketNotFound', 'no such bucket')),
      },
      guardrails: new Guardrails(compiler, readDefaultGuardrails()),
      clock,
    });
    await authorizer.authorize(admin, 's3:CreateBucket', {
      bucket: { name: 'new-bucket', tenantId: A },
      key: null,
    });
  });

  it('the bucket policy is read from the store about once per TTL, not per request', async () => {
    const { authorizer, policies } = setup();
    for (let i = 0; i < 100; i++) await allowed(authorizer, admin, 's3:GetObject', photos, 'x');
    assert.equal(policies.reads, 1);
  });

  it('a repeated guardrail decision is remembered within its second, and a replaced set applies at once', async () => {
    const { authorizer, counting, guardrails, clock } = setup();
    for (let i = 0; i < 50; i++) await allowed(authorizer, admin, 's3:GetObject', photos, 'x');
    assert.equal(counting.evaluations, 1);
    clock.ms += 1000;
    await allowed(authorizer, admin, 's3:GetObject', photos, 'x');
    assert.equal(counting.evaluations, 2);
    guardrails.replace(
      `${OPEN_GUARDRAILS}\n@id("no-gets") forbid (principal, action == Sovra::Action::"s3:GetObject", resource);`,
    );
    await denied(authorizer, admin, 's3:GetObject', photos, 'x', {
      source: 'guardrails',
      policies: ['no-gets'],
    });
  });
});

describe('guardrail decisions across objects', () => {
  it('a set that reads only attributes decides once per label, not once per object', async () => {
    assert.equal(compiler.compile(readDefaultGuardrails()).readsEntityIdentity, false);
    const { authorizer, counting } = setup();
    for (let i = 0; i < 20; i++) await allowed(authorizer, admin, 's3:GetObject', photos, `object-${i}`);
    assert.equal(counting.evaluations, 1);
  });

  it('a set that names an entity is asked about each object', async () => {
    const text = `${OPEN_GUARDRAILS}\n@id("one-object") forbid (principal, action, resource == Sovra::Object::"photos/locked");`;
    assert.equal(compiler.compile(text).readsEntityIdentity, true);
    const { authorizer } = setup({ guardrails: text });
    await allowed(authorizer, admin, 's3:GetObject', photos, 'open');
    await denied(authorizer, admin, 's3:GetObject', photos, 'locked', {
      source: 'guardrails',
      policies: ['one-object'],
    });
  });
});

describe('explainDecision', () => {
  it('shows every statement with the element that did not match, the deciding guardrails and the label rule', async () => {
    const { authorizer, setPolicy } = setup();
    setPolicy('photos', [
      {
        Sid: 'NoDeletes',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:DeleteObject',
        Resource: 'arn:aws:s3:::photos/*',
      },
      {
        Sid: 'OnlyFromOffice',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:GetObject',
        Resource: 'arn:aws:s3:::photos/*',
        Condition: { NotIpAddress: { 'aws:SourceIp': '192.0.2.0/24' } },
      },
    ]);
    const explained = await explainDecision(authorizer, admin, 's3:GetObject', { bucket: photos, key: 'x' });
    assert.equal(explained.decision, 'allow');
    assert.equal(explained.denial, null);
    assert.equal(explained.principalArn, `arn:aws:iam::${A}:user/admin`);
    assert.equal(explained.resourceArn, 'arn:aws:s3:::photos/x');
    assert.equal(explained.iam.effect, 'Allow');
    assert.deepEqual(
      explained.iam.statements.map((statement) => [
        statement.source,
        statement.sid,
        statement.matched,
        statement.mismatch,
      ]),
      [
        ['tenant administrator policy', 'TenantAdministratorFullAccessInOwnTenant', true, null],
        ['bucket policy of photos', 'NoDeletes', false, 'Action'],
        ['bucket policy of photos', 'OnlyFromOffice', false, 'Condition.NotIpAddress.aws:SourceIp'],
      ],
    );
    assert.deepEqual(
      explained.guardrails.determiningPolicies.map((policy) => policy.id),
      ['platform-baseline'],
    );
    assert.match(
      explained.guardrails.determiningPolicies[0]!.text ?? '',
      /permit \(principal, action, resource\)/,
    );
    assert.deepEqual(
      { rule: explained.classification.rule, allowed: explained.classification.allowed },
      { rule: null, allowed: true },
    );
  });

  it('explains a denial by every layer that refuses, naming the one that decides', async () => {
    const { authorizer } = setup();
    const explained = await explainDecision(authorizer, alice, 's3:GetObject', { bucket: secrets, key: 'x' });
    assert.equal(explained.decision, 'deny');
    assert.deepEqual(explained.denial, { source: 'guardrails', policies: ['no-read-up'] });
    assert.equal(explained.iam.effect, 'ImplicitDeny');
    assert.equal(explained.guardrails.decision, 'deny');
    assert.equal(explained.classification.rule, 'no-read-up');
    assert.equal(explained.classification.clearance, 'PUBLIC');
    assert.equal(explained.classification.resourceLabel, 'SECRET');
  });
});

describe('bucket policy documents', () => {
  it('a Resource outside the bucket is refused with MalformedPolicy “Policy has invalid resource” naming its path', () => {
    assert.throws(
      () =>
        parseBucketPolicy(
          policyText([
            {
              Effect: 'Allow',
              Principal: '*',
              Action: 's3:GetObject',
              Resource: ['arn:aws:s3:::photos/*', 'arn:aws:s3:::other/*'],
            },
          ]),
          'photos',
        ),
      (error: unknown) =>
        error instanceof PolicyError &&
        error.code === 'MalformedPolicy' &&
        /^Statement\[0\]\.Resource: Policy has invalid resource "arn:aws:s3:::other\/\*"/.test(error.message),
    );
    for (const resource of ['*', 'arn:aws:s3:::photos-archive/*', 'arn:aws:s3:::*']) {
      assert.throws(
        () =>
          parseBucketPolicy(
            policyText([{ Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: resource }]),
            'photos',
          ),
        (error: unknown) => error instanceof PolicyError && error.code === 'MalformedPolicy',
        resource,
      );
    }
  });

  it('a malformed policy names the offending element, an oversized one is PolicyTooLarge', () => {
    assert.throws(
      () =>
        parseBucketPolicy(
          policyText([
            {
              Effect: 'Allow',
              Principal: '*',
              Action: 's3:GetObject',
              Resource: 'arn:aws:s3:::photos/*',
              Condition: { StringEqualz: { 'aws:SourceIp': 'x' } },
            },
          ]),
          'photos',
        ),
      (error: unknown) =>
        error instanceof PolicyError &&
        error.code === 'MalformedPolicy' &&
        error.message.startsWith('Statement[0].Condition.StringEqualz'),
    );
    const statements = Array.from({ length: 200 }, (_, index) => ({
      Sid: `S${index}`,
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${A}:user/user-${'x'.repeat(40)}-${index}` },
      Action: 's3:GetObject',
      Resource: 'arn:aws:s3:::photos/*',
    }));
    assert.throws(
      () => parseBucketPolicy(policyText(statements), 'photos'),
      (error: unknown) => error instanceof PolicyError && error.code === 'PolicyTooLarge',
    );
  });

  it('the stored document keeps the policy text as it was put, under a format version', () => {
    const text = '{ "Version": "2012-10-17", "Statement": [] }';
    assert.equal(decodeBucketPolicyDocument(encodeBucketPolicyDocument(text)), text);
    assert.deepEqual(JSON.parse(encodeBucketPolicyDocument(text)), { format: 1, policy: text });
    assert.throws(() => decodeBucketPolicyDocument('{"format":2,"policy":"{}"}'));
    assert.throws(() => decodeBucketPolicyDocument('not json'));
  });
});

describe('S3 wiring', () => {
  it('the policy subresources route to the bucket policy operations, and are no operation on objects', () => {
    const route = (method: string, url: string) => routeS3Request(method, url, undefined, [], false).action;
    assert.equal(route('GET', '/b?policy'), 'GetBucketPolicy');
    assert.equal(route('PUT', '/b?policy'), 'PutBucketPolicy');
    assert.equal(route('DELETE', '/b?policy'), 'DeleteBucketPolicy');
    assert.equal(route('GET', '/b?policyStatus'), 'GetBucketPolicyStatus');
    assert.throws(
      () => route('GET', '/b/k?policy'),
      (error: unknown) => (error as { code?: string }).code === 'NotImplemented',
    );
  });

  it('a plain GET carries no request condition keys, so the hot path builds none', () => {
    assert.equal(requestFactsOf(routeS3Request('GET', '/b/k', undefined, [], false), {}), undefined);
    assert.deepEqual(requestFactsOf(routeS3Request('GET', '/b/k?versionId=v7', undefined, [], false), {}), {
      versionId: 'v7',
    });
    assert.deepEqual(requestFactsOf(routeS3Request('GET', '/b?list-type=2', undefined, [], false), {}), {
      conditionKeys: [['s3:prefix', '']],
    });
  });

  it('every denial carries who denied, also from the tenant administrator authorizer', async () => {
    await assert.rejects(
      new TenantAdminAuthorizer().authorize(alice, 's3:GetObject', { bucket: photos, key: 'x' }),
      (error) => {
        assert.deepEqual(denialOf(error), NO_STATEMENT);
        return true;
      },
    );
    assert.equal(denialOf(new Error('other')), null);
  });
});

function schemeWithCompartments(): ClassificationScheme {
  const document = classificationProfile('generic').toDocument();
  document.compartments = [
    { id: 'NUCLEAR', names: { en: 'Nuclear' } },
    { id: 'CRYPTO', names: { en: 'Crypto' } },
  ];
  return ClassificationScheme.fromDocument(document);
}
