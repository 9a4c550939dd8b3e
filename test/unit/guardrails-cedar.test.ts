import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import {
  CedarGuardrailCompiler,
  PREPARSED_SET_SLOTS,
  readDefaultGuardrails,
  readSovraSchema,
} from '../../src/adapters/cedar/cedar-guardrails.ts';
import { cedarRequestOf } from '../../src/adapters/cedar/cedar-request.ts';
import { securityLabel, type SecurityLabel } from '../../src/domain/classification/label.ts';
import { classificationProfile } from '../../src/domain/classification/profiles.ts';
import { ClassificationScheme } from '../../src/domain/classification/scheme.ts';
import { GuardrailError, type GuardrailErrorCode } from '../../src/domain/guardrails/errors.ts';
import { combineWithIam, Guardrails } from '../../src/domain/guardrails/guardrails.ts';
import { MAX_GUARDRAIL_TEXT_BYTES } from '../../src/domain/guardrails/limits.ts';
import type {
  BucketResource,
  GuardrailContext,
  GuardrailDecision,
  GuardrailPrincipal,
  GuardrailRequest,
  GuardrailResource,
  ObjectResource,
  TenantPrincipal,
} from '../../src/domain/guardrails/types.ts';
import { KMS_OPERATIONS } from '../../src/protocols/kms/operations.ts';
import { IAM_ACTION } from '../../src/protocols/s3/route.ts';

// One scheme for all tests: the malaysia profile (CONFIDENTIAL requires sovereign MY) with
// generic-style levels above it and two compartments.
const scheme = ClassificationScheme.fromDocument({
  ...classificationProfile('malaysia').toDocument(),
  compartments: [
    { id: 'NUCLEAR', names: { en: 'Nuclear' } },
    { id: 'CRYPTO', names: { en: 'Crypto' } },
  ],
});
const label = (level: string, ...compartments: string[]): SecurityLabel =>
  securityLabel(scheme, level, compartments);

const SOVEREIGN_MY = { jurisdiction: 'MY', tier: 'sovereign' };

function user(overrides: Partial<TenantPrincipal> = {}): GuardrailPrincipal {
  return {
    kind: 'user',
    id: 'alice',
    tenantId: 'acme',
    clearance: label('CONFIDENTIAL'),
    nationality: 'MY',
    networkJurisdiction: 'MY',
    tags: {},
    ...overrides,
  };
}

function operator(): GuardrailPrincipal {
  return {
    kind: 'operator',
    id: 'ops-1',
    clearance: label('CONFIDENTIAL', 'NUCLEAR', 'CRYPTO'),
    nationality: 'MY',
    networkJurisdiction: 'MY',
    tags: {},
  };
}

function object(overrides: Partial<ObjectResource> = {}): GuardrailResource {
  return {
    kind: 'object',
    tenantId: 'acme',
    bucket: 'reports',
    key: 'q3.pdf',
    label: label('INTERNAL'),
    placement: SOVEREIGN_MY,
    public: false,
    ...overrides,
  };
}

function bucket(overrides: Partial<BucketResource> = {}): GuardrailResource {
  return {
    kind: 'bucket',
    tenantId: 'acme',
    bucket: 'reports',
    label: label('INTERNAL'),
    placement: SOVEREIGN_MY,
    public: false,
    ...overrides,
  };
}

const KMS_KEY: GuardrailResource = { kind: 'kmsKey', tenantId: 'acme', keyId: '1234abcd' };

function context(overrides: Partial<GuardrailContext> = {}): GuardrailContext {
  return {
    secureTransport: true,
    sourceIp: '203.0.113.7',
    sourceJurisdiction: 'MY',
    keyUseJustification: 'CUSTOMER_INITIATED_ACCESS',
    approvalId: null,
    now: new Date('2025-01-01T00:00:00Z'),
    sourceLabel: null,
    grantsPublicAccess: false,
    ...overrides,
  };
}

function request(
  action: string,
  principal: GuardrailPrincipal,
  resource: GuardrailResource,
  overrides: Partial<GuardrailContext> = {},
): GuardrailRequest {
  return { principal, action, resource, context: context(overrides) };
}

const compiler = new CedarGuardrailCompiler();
const defaults = compiler.compile(readDefaultGuardrails());

function assertAllowed(decision: GuardrailDecision): void {
  assert.equal(decision.decision, 'allow', JSON.stringify(decision));
  assert.deepEqual(decision.errors, []);
}

function assertForbiddenBy(decision: GuardrailDecision, policyId: string): void {
  assert.equal(decision.decision, 'deny', JSON.stringify(decision));
  assert.ok(decision.determiningPolicies.includes(policyId), JSON.stringify(decision));
}

function failsWith(code: GuardrailErrorCode, fn: () => unknown): GuardrailError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof GuardrailError, `expected a GuardrailError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ${code}`);
}

describe('the default guardrails', () => {
  test('the default guardrails validate against the Sovra schema and name every policy by @id', () => {
    assert.ok(defaults.policies.has('platform-baseline'));
    assert.ok(defaults.policies.size >= 10);
    assert.match(defaults.policies.get('no-read-up') ?? '', /forbid/);
  });

  test('a cleared tenant user reading its own data is allowed by the one broad permit', () => {
    const decision = defaults.evaluate(request('s3:GetObject', user(), object()));
    assertAllowed(decision);
    assert.deepEqual(decision.determiningPolicies, ['platform-baseline']);
  });

  test('anonymous GetObject on a CONFIDENTIAL bucket is forbidden by the default guardrails', () => {
    const inConfidentialBucket = object({ label: label('CONFIDENTIAL'), public: true });
    assertForbiddenBy(
      defaults.evaluate(request('s3:GetObject', { kind: 'anonymous' }, inConfidentialBucket)),
      'anonymous-reads-only-public-data',
    );
    assertForbiddenBy(
      defaults.evaluate(
        request('s3:ListBucket', { kind: 'anonymous' }, bucket({ label: label('CONFIDENTIAL') })),
      ),
      'anonymous-reads-only-public-data',
    );
  });

  test('anonymous GetObject of PUBLIC data is left to IAM (the guardrails allow it)', () => {
    assertAllowed(
      defaults.evaluate(
        request('s3:GetObject', { kind: 'anonymous' }, object({ label: label('PUBLIC'), public: true })),
      ),
    );
  });

  test('anonymous access to PUBLIC data in a compartment is forbidden', () => {
    assertForbiddenBy(
      defaults.evaluate(
        request('s3:GetObject', { kind: 'anonymous' }, object({ label: label('PUBLIC', 'CRYPTO') })),
      ),
      'anonymous-reads-only-public-data',
    );
  });

  test('anonymous writes are forbidden even into a public bucket of PUBLIC data', () => {
    assertForbiddenBy(
      defaults.evaluate(
        request('s3:PutObject', { kind: 'anonymous' }, object({ label: label('PUBLIC'), public: true })),
      ),
      'anonymous-reads-only-public-data',
    );
  });

  test('anonymous key use is forbidden', () => {
    assertForbiddenBy(
      defaults.evaluate(request('kms:Decrypt', { kind: 'anonymous' }, KMS_KEY)),
      'anonymous-reads-only-public-data',
    );
  });

  test('Decrypt with OPERATOR_SUPPORT justification and no approval is forbidden', () => {
    assertForbiddenBy(
      defaults.evaluate(request('kms:Decrypt', user(), KMS_KEY, { keyUseJustification: 'OPERATOR_SUPPORT' })),
      'operator-support-requires-approval',
    );
  });

  test('Decrypt with OPERATOR_SUPPORT justification and an approval is allowed', () => {
    assertAllowed(
      defaults.evaluate(
        request('kms:Decrypt', user(), KMS_KEY, {
          keyUseJustification: 'OPERATOR_SUPPORT',
          approvalId: 'CHG-1234',
        }),
      ),
    );
  });

  test('an operator reading tenant data without an approval is forbidden', () => {
    assertForbiddenBy(
      defaults.evaluate(request('s3:GetObject', operator(), object())),
      'operators-act-on-tenant-data-only-with-approval',
    );
    assertForbiddenBy(
      defaults.evaluate(request('kms:ScheduleKeyDeletion', operator(), KMS_KEY)),
      'operators-act-on-tenant-data-only-with-approval',
    );
  });

  test('an operator reading tenant data under an approval is allowed', () => {
    assertAllowed(
      defaults.evaluate(
        request('s3:GetObject', operator(), object(), {
          keyUseJustification: 'OPERATOR_SUPPORT',
          approvalId: 'INC-42',
        }),
      ),
    );
  });

  test('only operators create tenants, and they need no approval for it', () => {
    const tenant: GuardrailResource = { kind: 'tenant', tenantId: 'newco' };
    assertAllowed(defaults.evaluate(request('sovra:CreateTenant', operator(), tenant)));
    assertForbiddenBy(
      defaults.evaluate(request('sovra:CreateTenant', user({ tenantId: 'newco' }), tenant)),
      'only-operators-administer-the-platform',
    );
  });

  test('no read up: a CONFIDENTIAL clearance cannot read RESTRICTED-above data… but reads data at or below it', () => {
    const internal = user({ clearance: label('INTERNAL') });
    assertForbiddenBy(
      defaults.evaluate(request('s3:GetObject', internal, object({ label: label('CONFIDENTIAL') }))),
      'no-read-up',
    );
    assertForbiddenBy(
      defaults.evaluate(request('s3:ListBucket', internal, bucket({ label: label('RESTRICTED') }))),
      'no-read-up',
    );
    assertAllowed(defaults.evaluate(request('s3:GetObject', internal, object({ label: label('INTERNAL') }))));
  });

  test('need to know: a clearance without the NUCLEAR compartment cannot read NUCLEAR data at any level', () => {
    const cleared = user({ clearance: label('CONFIDENTIAL', 'CRYPTO') });
    assertForbiddenBy(
      defaults.evaluate(
        request('s3:GetObjectTagging', cleared, object({ label: label('INTERNAL', 'NUCLEAR') })),
      ),
      'no-read-up',
    );
    assertAllowed(
      defaults.evaluate(request('s3:GetObject', cleared, object({ label: label('INTERNAL', 'CRYPTO') }))),
    );
  });

  test('no write down: copying CONFIDENTIAL data into an INTERNAL object is forbidden', () => {
    assertForbiddenBy(
      defaults.evaluate(
        request('s3:PutObject', user(), object({ label: label('INTERNAL') }), {
          sourceLabel: label('CONFIDENTIAL'),
        }),
      ),
      'no-write-down',
    );
  });

  test('no write down: copying NUCLEAR data into an object without NUCLEAR is forbidden, into one with it allowed', () => {
    const source = label('INTERNAL', 'NUCLEAR');
    assertForbiddenBy(
      defaults.evaluate(
        request('s3:PutObject', user(), object({ label: label('RESTRICTED') }), { sourceLabel: source }),
      ),
      'no-write-down',
    );
    assertAllowed(
      defaults.evaluate(
        request('s3:PutObject', user(), object({ label: label('RESTRICTED', 'NUCLEAR') }), {
          sourceLabel: source,
        }),
      ),
    );
  });

  test('lowering a bucket label (declassification) is forbidden without an approval and allowed with one', () => {
    const relabelled = bucket({ label: label('INTERNAL') });
    const current = { sourceLabel: label('RESTRICTED') };
    assertForbiddenBy(
      defaults.evaluate(request('sovra:PutBucketClassification', user(), relabelled, current)),
      'no-write-down',
    );
    assertAllowed(
      defaults.evaluate(
        request('sovra:PutBucketClassification', user(), relabelled, { ...current, approvalId: 'DECLASS-7' }),
      ),
    );
  });

  test('malaysia CONFIDENTIAL data is placed only in sovereign-tier buckets in MY', () => {
    const confidential = label('CONFIDENTIAL');
    for (const placement of [
      { jurisdiction: 'MY', tier: 'standard' },
      { jurisdiction: 'SG', tier: 'sovereign' },
    ]) {
      assertForbiddenBy(
        defaults.evaluate(request('s3:PutObject', user(), object({ label: confidential, placement }))),
        'residency-of-classified-data',
      );
      assertForbiddenBy(
        defaults.evaluate(request('s3:CreateBucket', user(), bucket({ label: confidential, placement }))),
        'residency-of-classified-data',
      );
    }
    assertAllowed(defaults.evaluate(request('s3:PutObject', user(), object({ label: confidential }))));
  });

  test('data of a level without a residency requirement may be placed anywhere', () => {
    assertAllowed(
      defaults.evaluate(
        request(
          's3:PutObject',
          user(),
          object({ label: label('RESTRICTED'), placement: { jurisdiction: 'SG', tier: 'standard' } }),
        ),
      ),
    );
  });

  test('classified data is never made public', () => {
    assertForbiddenBy(
      defaults.evaluate(
        request('s3:PutBucketAcl', user(), bucket({ label: label('INTERNAL') }), {
          grantsPublicAccess: true,
        }),
      ),
      'classified-data-is-never-made-public',
    );
    assertAllowed(
      defaults.evaluate(
        request('s3:PutBucketAcl', user(), bucket({ label: label('PUBLIC') }), { grantsPublicAccess: true }),
      ),
    );
  });

  test('a public bucket never receives data above the lowest level', () => {
    assertForbiddenBy(
      defaults.evaluate(request('s3:PutObject', user(), object({ label: label('INTERNAL'), public: true }))),
      'public-resources-hold-only-public-data',
    );
  });

  test("a tenant's user cannot act on another tenant's buckets, objects, keys or tenant", () => {
    const stranger = user({ tenantId: 'globex' });
    for (const [action, resource] of [
      ['s3:GetObject', object()],
      ['s3:DeleteBucket', bucket()],
      ['kms:Encrypt', KMS_KEY],
      ['s3:ListAllMyBuckets', { kind: 'tenant', tenantId: 'acme' }],
    ] as const) {
      assertForbiddenBy(defaults.evaluate(request(action, stranger, resource)), 'tenant-isolation');
    }
    assertAllowed(
      defaults.evaluate(request('s3:ListAllMyBuckets', user(), { kind: 'tenant', tenantId: 'acme' })),
    );
  });

  test('every forbid that applies is named', () => {
    const decision = defaults.evaluate(
      request(
        's3:GetObject',
        user({ tenantId: 'globex', clearance: label('PUBLIC') }),
        object({ label: label('RESTRICTED') }),
      ),
    );
    assert.equal(decision.decision, 'deny');
    assert.deepEqual([...decision.determiningPolicies].sort(), ['no-read-up', 'tenant-isolation']);
  });
});

describe('guardrail sets', () => {
  test('an invalid guardrail set is refused with the validator message and the previous set stays active', () => {
    const guardrails = new Guardrails(compiler, readDefaultGuardrails());
    const before = guardrails.active;
    const invalid = `${readDefaultGuardrails()}
@id("typo") forbid (principal, action, resource) when { resource.clasificationRank > 2 };`;
    const error = failsWith('InvalidGuardrails', () => guardrails.replace(invalid));
    assert.match(error.message, /typo: .*clasificationRank/);
    assert.ok(Array.isArray(error.details.messages));
    assert.equal(guardrails.active, before);
    assertAllowed(guardrails.evaluate(request('s3:GetObject', user(), object())));
  });

  test('the policies of a set keep the order of the file', () => {
    const ids = Array.from({ length: 12 }, (_, index) => `p${index}`);
    const text = ids.map((id) => `@id("${id}") permit (principal, action, resource);`).join('\n');
    assert.deepEqual([...compiler.compile(text).policies.keys()], ids);
  });

  test('a valid replacement takes effect for the next request', () => {
    const guardrails = new Guardrails(compiler, readDefaultGuardrails());
    const next = guardrails.replace(`${readDefaultGuardrails()}
@id("no-deletes-this-quarter") forbid (principal, action == Sovra::Action::"s3:DeleteObject", resource);`);
    assert.equal(guardrails.active, next);
    assertForbiddenBy(
      guardrails.evaluate(request('s3:DeleteObject', user(), object())),
      'no-deletes-this-quarter',
    );
  });

  test('an invalid initial set stops construction (the platform never runs unguarded)', () => {
    failsWith('InvalidGuardrails', () => new Guardrails(compiler, 'permit (principal, action, resource'));
  });

  test('a set that does not parse is refused with the parser message', () => {
    const error = failsWith('InvalidGuardrails', () =>
      compiler.compile('@id("a") permit (principal, action, resource'),
    );
    assert.match(error.message, /do not parse/);
  });

  test('a policy without an @id is refused', () => {
    const error = failsWith('InvalidGuardrails', () =>
      compiler.compile(
        '@id("a") permit (principal, action, resource);\nforbid (principal, action, resource);',
      ),
    );
    assert.match(error.message, /the policy at line 2 needs an @id/);
  });

  test('two policies with the same @id are refused', () => {
    failsWith('InvalidGuardrails', () =>
      compiler.compile(
        '@id("a") permit (principal, action, resource);\n@id("a") forbid (principal, action, resource);',
      ),
    );
  });

  test('templates are refused: guardrails are static policies', () => {
    failsWith('InvalidGuardrails', () =>
      compiler.compile(
        '@id("a") permit (principal, action, resource);\n@id("t") forbid (principal == ?principal, action, resource);',
      ),
    );
  });

  test('a set without any permit is refused, since it would deny every request', () => {
    const error = failsWith('InvalidGuardrails', () =>
      compiler.compile('@id("stop") forbid (principal, action, resource);'),
    );
    assert.match(error.message, /at least one permit/);
  });

  test('a set naming an undeclared action is refused by the validator', () => {
    failsWith('InvalidGuardrails', () =>
      compiler.compile(
        '@id("a") permit (principal, action, resource);\n@id("b") forbid (principal, action == Sovra::Action::"s3:GetObjectTorrent", resource);',
      ),
    );
  });

  test('a set larger than the limit is refused', () => {
    const huge = `@id("a") permit (principal, action, resource);\n// ${'x'.repeat(MAX_GUARDRAIL_TEXT_BYTES)}`;
    failsWith('InvalidGuardrails', () => compiler.compile(huge));
  });

  test('an evaluation error denies (fail closed) and is reported with the policy id', () => {
    const set = compiler.compile(`@id("base") permit (principal, action, resource);
@id("overflowing") forbid (principal is Sovra::User, action, resource) when { principal.clearanceRank * 9223372036854775807 < 0 };`);
    const decision = set.evaluate(
      request('s3:GetObject', user({ clearance: label('RESTRICTED') }), object()),
    );
    assert.equal(decision.decision, 'deny');
    assert.equal(decision.errors[0]?.policyId, 'overflowing');
  });

  test('a set whose pre-parsed slot was reused by newer sets still decides the same', () => {
    const own = new CedarGuardrailCompiler();
    const first = own.compile(readDefaultGuardrails());
    for (let i = 0; i < PREPARSED_SET_SLOTS; i++)
      own.compile('@id("open") permit (principal, action, resource);');
    // Never evaluated before, so the decision comes from Cedar (stateless now), not from memory.
    assertForbiddenBy(
      first.evaluate(request('kms:Decrypt', user(), KMS_KEY, { keyUseJustification: 'OPERATOR_SUPPORT' })),
      'operator-support-requires-approval',
    );
    assertAllowed(first.evaluate(request('kms:Decrypt', user(), KMS_KEY)));
  });
});

describe('guardrail requests', () => {
  test('every IAM action of the S3 router and every KMS operation is declared in the schema', () => {
    const declared = new Set(compiler.actions);
    for (const action of new Set(Object.values(IAM_ACTION))) assert.ok(declared.has(action), action);
    assert.ok(declared.has('s3:BypassGovernanceRetention'));
    for (const operation of KMS_OPERATIONS) assert.ok(declared.has(`kms:${operation}`), operation);
    for (const admin of ['sovra:CreateTenant', 'sovra:CreateUser', 'sovra:PutBucketPolicy']) {
      assert.ok(declared.has(admin), admin);
    }
    assert.ok(!declared.has('ReadData'), 'action groups are not request actions');
  });

  test('an unknown action is InvalidGuardrailRequest', () => {
    failsWith('InvalidGuardrailRequest', () =>
      defaults.evaluate(request('s3:GetObjectTorrent', user(), object())),
    );
  });

  test('an action on the wrong kind of resource is InvalidGuardrailRequest', () => {
    failsWith('InvalidGuardrailRequest', () => defaults.evaluate(request('kms:Decrypt', user(), object())));
    failsWith('InvalidGuardrailRequest', () => defaults.evaluate(request('s3:GetObject', user(), bucket())));
  });

  test('hostile request values are InvalidGuardrailRequest, never an evaluation error', () => {
    const cases: GuardrailRequest[] = [
      request('s3:GetObject', user(), object(), { sourceIp: '203.0.113.7, 10.0.0.1' }),
      request('s3:GetObject', user(), object(), { sourceIp: 'not-an-ip' }),
      request('s3:GetObject', user(), object(), { sourceJurisdiction: 'Malaysia' }),
      request('s3:GetObject', user(), object(), { approvalId: '' }),
      request('s3:GetObject', user(), object(), { approvalId: 'x'.repeat(5000) }),
      request('s3:GetObject', user(), object(), { now: new Date(Number.NaN) }),
      request('s3:GetObject', user({ nationality: 'my' }), object()),
      request('s3:GetObject', user({ id: '' }), object()),
      request('s3:GetObject', user(), object({ placement: { jurisdiction: 'MY', tier: 'Sovereign!' } })),
      request(
        's3:GetObject',
        user({ tags: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`t${i}`, 'v'])) }),
        object(),
      ),
    ];
    for (const hostile of cases) failsWith('InvalidGuardrailRequest', () => defaults.evaluate(hostile));
  });

  test("requests built for Cedar conform to the schema (Cedar's own request validation accepts them)", () => {
    const schema = readSovraSchema();
    for (const built of sampleRequests(40)) {
      const call = cedarRequestOf(built);
      const answer = cedar.isAuthorized({
        ...call,
        policies: { staticPolicies: Object.fromEntries(defaults.policies) },
        schema,
        validateRequest: true,
      });
      assert.equal(answer.type, 'success', JSON.stringify(answer));
    }
  });

  test("remembered decisions equal Cedar's own decisions, for the defaults and for policies reading ids, tags and time", () => {
    const custom = compiler.compile(`${readDefaultGuardrails()}
@id("mallory-is-blocked") forbid (principal == Sovra::User::"mallory", action, resource);
@id("quarantined") forbid (principal is Sovra::User, action, resource) when { principal.hasTag("quarantine") && principal.getTag("quarantine") == "yes" };
@id("after-2030") forbid (principal, action in Sovra::Action::"KeyUse", resource) when { context.now > 1893456000 };
@id("frozen-bucket") forbid (principal, action, resource is Sovra::Object) when { resource in Sovra::Bucket::"frozen" };
@id("documentation-network") forbid (principal, action, resource) when { context.sourceIp.isInRange(ip("192.0.2.0/24")) };`);
    const schema = readSovraSchema();
    const requests = sampleRequests(72);
    for (const set of [defaults, custom]) {
      const staticPolicies = Object.fromEntries(set.policies);
      const expected = requests.map((sample) => {
        const answer = cedar.isAuthorized({
          ...cedarRequestOf(sample),
          policies: { staticPolicies },
          schema,
        });
        assert.equal(answer.type, 'success');
        return answer.type === 'success' ? answer.response : null;
      });
      // Twice, so that the second round is answered from remembered decisions; requests that
      // differ only in what the policies cannot see share one.
      for (const round of [1, 2]) {
        for (const [index, sample] of requests.entries()) {
          const ours = set.evaluate(sample);
          const reference = expected[index];
          const where = `round ${round}, request ${index}: ${JSON.stringify(sample)}`;
          assert.equal(ours.decision, reference?.decision, where);
          assert.deepEqual(
            [...ours.determiningPolicies].sort(),
            [...(reference?.diagnostics.reason ?? [])].sort(),
            where,
          );
        }
      }
    }
  });
});

describe('combining guardrails with IAM', () => {
  const allow: GuardrailDecision = {
    decision: 'allow',
    determiningPolicies: ['platform-baseline'],
    errors: [],
  };
  const deny: GuardrailDecision = { decision: 'deny', determiningPolicies: ['no-read-up'], errors: [] };

  test('the final decision is allow only when IAM allows and the guardrails allow', () => {
    assert.deepEqual(combineWithIam('allow', allow), { decision: 'allow', deniedBy: null });
    assert.deepEqual(combineWithIam('deny', allow), { decision: 'deny', deniedBy: 'iam' });
  });

  test('a guardrail deny overrides an IAM allow and is named as the denier', () => {
    assert.deepEqual(combineWithIam('allow', deny), { decision: 'deny', deniedBy: 'guardrails' });
    assert.deepEqual(combineWithIam('deny', deny), { decision: 'deny', deniedBy: 'guardrails' });
  });
});

/** A seeded pseudo-random spread of requests over principals, actions, labels, placements and context. */
function sampleRequests(count: number): GuardrailRequest[] {
  let seed = 0x5eed;
  // A 31-bit linear congruential generator: the same requests on every run.
  const next = (bound: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return (seed >> 8) % bound;
  };
  const pickOne = <T>(choices: readonly T[]): T => choices[next(choices.length)]!;
  const levels = scheme.levels.map((level) => level.id);
  const compartmentSets: string[][] = [[], [], ['NUCLEAR'], ['CRYPTO', 'NUCLEAR']];
  const principals: GuardrailPrincipal[] = [
    { kind: 'anonymous' },
    user(),
    user({ id: 'carol', clearance: label('CONFIDENTIAL', 'NUCLEAR', 'CRYPTO') }),
    user({ id: 'mallory', clearance: label('RESTRICTED', 'NUCLEAR') }),
    user({ id: 'quinn', tenantId: 'globex', tags: { quarantine: 'yes' } }),
    user({ id: 'bob', clearance: label('PUBLIC'), tags: { quarantine: 'no' } }),
    operator(),
  ];
  const placements = [SOVEREIGN_MY, SOVEREIGN_MY, { jurisdiction: 'SG', tier: 'standard' }];
  const samples: GuardrailRequest[] = [];
  for (let i = 0; i < count; i++) {
    const labelled = {
      label: label(pickOne(levels), ...pickOne(compartmentSets)),
      placement: pickOne(placements),
      public: next(6) === 0,
      bucket: next(6) === 0 ? 'frozen' : 'reports',
    };
    const resources: [string, GuardrailResource][] = [
      ['s3:GetObject', object({ ...labelled, key: `k${i}` })],
      ['s3:PutObject', object({ ...labelled, key: `k${i}` })],
      ['s3:ListBucket', bucket(labelled)],
      ['s3:CreateBucket', bucket(labelled)],
      ['kms:Decrypt', KMS_KEY],
      ['sovra:PutBucketClassification', bucket(labelled)],
      ['s3:ListAllMyBuckets', { kind: 'tenant', tenantId: pickOne(['acme', 'globex']) }],
    ];
    const [action, resource] = pickOne(resources);
    samples.push(
      request(action, pickOne(principals), resource, {
        sourceIp: pickOne(['192.0.2.9', '203.0.113.7', '2001:db8::1']),
        keyUseJustification: pickOne([
          'OPERATOR_SUPPORT',
          'CUSTOMER_INITIATED_ACCESS',
          'CUSTOMER_INITIATED_ACCESS',
        ]),
        approvalId: pickOne(['CHG-1', null, null]),
        now: new Date(pickOne(['2025-01-01T00:00:00Z', '2031-01-01T00:00:00Z'])),
        sourceLabel: pickOne([label('RESTRICTED', 'CRYPTO'), label('CONFIDENTIAL'), null, null]),
        grantsPublicAccess: next(5) === 0,
      }),
    );
  }
  return samples;
}
