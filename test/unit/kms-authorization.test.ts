import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CedarGuardrailCompiler, readDefaultGuardrails } from '../../src/adapters/cedar/cedar-guardrails.ts';
import { Guardrails } from '../../src/domain/guardrails/guardrails.ts';
import { denialOf, type AccessDenial, type TargetKmsKey } from '../../src/domain/iam/authorizer.ts';
import type { Caller } from '../../src/domain/iam/caller.ts';
import type { PrincipalAttributes } from '../../src/domain/iam/identity-policies.ts';
import {
  IDENTITY_POLICY_SIZE_LIMIT,
  parsePolicy,
  type CompiledPolicy,
} from '../../src/domain/iam/policy/index.ts';
import { RequestAuthorizer } from '../../src/domain/iam/request-authorizer.ts';
import { customerInitiated, type KeyUseJustification } from '../../src/domain/kms/justification.ts';
import { defaultKeyPolicy } from '../../src/domain/kms/key-policy.ts';
import { systemClock } from '../../src/platform/clock.ts';

/**
 * The KMS API's authorization by the request authorizer: `kms:<Operation>` on the key's ARN, the
 * key policy as the resource policy that must allow (itself, or by naming the tenant's root to
 * let identity policies decide), explicit denies anywhere, both sides across tenants, the
 * guardrails with the key use's justification, and refusals worded as AWS KMS words them.
 */
const A = 'agency-a';
const B = 'agency-b';
const REGION = 'eu-central-1';
const OPEN_GUARDRAILS = '@id("open") permit (principal, action, resource);';

const admin = caller('user-admin', A, true);
const alice = caller('user-alice', A, false);
const bob = caller('user-bob', B, false);

function caller(principalId: string, tenantId: string, isTenantAdmin: boolean): Caller {
  return {
    principalId,
    tenantId,
    isTenantAdmin,
    requestId: 'req',
    sourceIp: '192.0.2.10',
    secureTransport: true,
  };
}

function key(tenantId: string, keyId: string, policy: string = defaultKeyPolicy(tenantId)): TargetKmsKey {
  return { keyId, tenantId, arn: `arn:aws:kms:${REGION}:${tenantId}:key/${keyId}`, policy };
}

function document(statements: object[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

function identity(statements: object[], id: string): CompiledPolicy {
  return parsePolicy(JSON.stringify({ Version: '2012-10-17', Id: id, Statement: statements }), {
    kind: 'identity',
    sizeLimit: IDENTITY_POLICY_SIZE_LIMIT,
  });
}

function attributes(principalId: string, tenantId: string): PrincipalAttributes {
  const name = principalId.replace(/^user-/, '');
  return {
    principalId,
    tenantId,
    kind: 'user',
    name,
    arn: `arn:aws:iam::${tenantId}:user/${name}`,
    isTenantAdmin: principalId === 'user-admin',
    tags: {},
    clearance: null,
    compartments: [],
  };
}

function authorizer(policies: Record<string, CompiledPolicy[]> = {}, guardrails?: string): RequestAuthorizer {
  const known = new Map(
    [attributes('user-admin', A), attributes('user-alice', A), attributes('user-bob', B)].map((a) => [
      a.principalId,
      a,
    ]),
  );
  return new RequestAuthorizer({
    bucketPolicies: { getBucketConfig: () => Promise.resolve(null) },
    guardrails: new Guardrails(new CedarGuardrailCompiler(), guardrails ?? readDefaultGuardrails()),
    clock: systemClock,
    identityPolicies: { policiesFor: (principalId) => Promise.resolve(policies[principalId] ?? []) },
    principalAttributes: { attributesOf: (principalId) => Promise.resolve(known.get(principalId) ?? null) },
  });
}

function use(who: Caller, overrides: Partial<KeyUseJustification> = {}): KeyUseJustification {
  return {
    ...customerInitiated(
      {
        principalId: who.principalId,
        tenantId: who.tenantId,
        service: 'kms',
        sourceIp: who.sourceIp,
        jurisdiction: 'DE',
        requestId: 'req',
      },
      'Decrypt',
    ),
    ...overrides,
  };
}

function allowed(
  on: RequestAuthorizer,
  who: Caller,
  action: string,
  target: TargetKmsKey | null,
  justification = use(who),
): Promise<void> {
  return on.authorize(who, action, { bucket: null, key: null, kmsKey: target }, { keyUse: justification });
}

async function refused(
  on: RequestAuthorizer,
  who: Caller,
  action: string,
  target: TargetKmsKey | null,
  justification = use(who),
): Promise<AccessDenial> {
  let denial: AccessDenial | null = null;
  await assert.rejects(allowed(on, who, action, target, justification), (error: unknown) => {
    denial = denialOf(error);
    return denial !== null;
  });
  return denial!;
}

const KEY_ONE = key(A, '11111111-1111-4111-8111-111111111111');
const KEY_TWO = key(A, '22222222-2222-4222-8222-222222222222');

describe('KMS authorization: key policies and identity policies', () => {
  it('under the default key policy a tenant administrator uses every key of its tenant; a user without policies none', async () => {
    const on = authorizer();
    await allowed(on, admin, 'kms:Decrypt', KEY_ONE);
    await allowed(on, admin, 'kms:CreateKey', null);
    const denial = await refused(on, alice, 'kms:Decrypt', KEY_ONE);
    assert.deepEqual([denial.source, denial.policies], ['iam', []]);
    assert.equal(
      denial.message,
      `User: arn:aws:iam::${A}:user/alice is not authorized to perform: kms:Decrypt on resource: ${KEY_ONE.arn} ` +
        'because no identity-based policy allows the kms:Decrypt action (justification CUSTOMER_INITIATED_ACCESS from jurisdiction DE)',
    );
    assert.match((await refused(on, alice, 'kms:ListKeys', null)).message ?? '', /on resource: \* because/);
  });

  it('an identity policy allowing kms:Encrypt and kms:Decrypt on one key opens that key only, through the default key policy', async () => {
    const on = authorizer({
      'user-alice': [
        identity(
          [{ Effect: 'Allow', Action: ['kms:Encrypt', 'kms:Decrypt'], Resource: KEY_ONE.arn }],
          'one-key',
        ),
      ],
    });
    await allowed(on, alice, 'kms:Encrypt', KEY_ONE);
    await allowed(on, alice, 'kms:Decrypt', KEY_ONE);
    await refused(on, alice, 'kms:Decrypt', KEY_TWO);
    await refused(on, alice, 'kms:ScheduleKeyDeletion', KEY_ONE);
  });

  it('a key policy that does not name the tenant lets no identity policy decide, but names who it allows', async () => {
    const carolOnly = key(
      A,
      KEY_ONE.keyId,
      document([
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${A}:user/alice` },
          Action: 'kms:Decrypt',
          Resource: '*',
        },
      ]),
    );
    const everything = [identity([{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }], 'all-keys')];
    const on = authorizer({ 'user-alice': everything });
    await allowed(on, alice, 'kms:Decrypt', carolOnly);
    const encrypt = await refused(on, alice, 'kms:Encrypt', carolOnly);
    assert.match(encrypt.message ?? '', /because no resource-based policy allows the kms:Encrypt action/);
    // The tenant's administrators are held by the key policy too, but can always read and repair it.
    await refused(on, admin, 'kms:Decrypt', carolOnly);
    await allowed(on, admin, 'kms:GetKeyPolicy', carolOnly);
    await allowed(on, admin, 'kms:PutKeyPolicy', carolOnly);
    await refused(on, alice, 'kms:PutKeyPolicy', carolOnly);
  });

  it('an explicit Deny in an identity policy wins over a key policy naming the user', async () => {
    const namesAlice = key(
      A,
      KEY_ONE.keyId,
      document([
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${A}:user/alice` },
          Action: 'kms:*',
          Resource: '*',
        },
      ]),
    );
    const on = authorizer({
      'user-alice': [
        identity([{ Sid: 'NoDecrypt', Effect: 'Deny', Action: 'kms:Decrypt', Resource: '*' }], 'lockdown'),
      ],
    });
    await allowed(on, alice, 'kms:Encrypt', namesAlice);
    const denial = await refused(on, alice, 'kms:Decrypt', namesAlice);
    assert.deepEqual(denial.policies, ['identity policy lockdown Statement[0] "NoDecrypt"']);
    assert.match(
      denial.message ?? '',
      /with an explicit deny in an identity-based policy \(identity policy lockdown statement "NoDecrypt"\)/,
    );
  });

  it('a key policy Deny by justification applies to the administrator too, and says the reason and jurisdiction', async () => {
    const guarded = key(
      A,
      KEY_ONE.keyId,
      document([
        { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:root` }, Action: 'kms:*', Resource: '*' },
        {
          Sid: 'Guard',
          Effect: 'Deny',
          Principal: '*',
          Action: 'kms:Decrypt',
          Resource: '*',
          Condition: { StringEquals: { 'sovra:JustificationReason': 'MIGRATION' } },
        },
      ]),
    );
    const on = authorizer();
    await allowed(on, admin, 'kms:Decrypt', guarded, use(admin, { reason: 'BACKUP' }));
    const denial = await refused(on, admin, 'kms:Decrypt', guarded, use(admin, { reason: 'MIGRATION' }));
    assert.deepEqual(denial.policies, ['key policy Statement[1] "Guard"']);
    assert.match(
      denial.message ?? '',
      /with an explicit deny in a resource-based policy \(key policy statement "Guard"\) \(justification MIGRATION from jurisdiction DE\)$/,
    );
  });

  it('across tenants both the key policy and the caller’s identity policies must allow, and the default guardrails keep tenants apart', async () => {
    const shared = key(
      A,
      KEY_ONE.keyId,
      document([
        { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:root` }, Action: 'kms:*', Resource: '*' },
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${B}:root` },
          Action: 'kms:Decrypt',
          Resource: '*',
        },
      ]),
    );
    const bobMay = [
      identity([{ Effect: 'Allow', Action: 'kms:Decrypt', Resource: `arn:aws:kms:*:${A}:key/*` }], 'use-a'),
    ];
    const neither = authorizer({}, OPEN_GUARDRAILS);
    assert.match(
      (await refused(neither, bob, 'kms:Decrypt', shared)).message ?? '',
      /no identity-based policy/,
    );
    const identityOnly = authorizer({ 'user-bob': bobMay }, OPEN_GUARDRAILS);
    assert.match(
      (await refused(identityOnly, bob, 'kms:Decrypt', KEY_ONE)).message ?? '',
      /no resource-based policy/,
    );
    await allowed(identityOnly, bob, 'kms:Decrypt', shared);
    await refused(identityOnly, bob, 'kms:Encrypt', shared);
    const guarded = authorizer({ 'user-bob': bobMay });
    const denial = await refused(guarded, bob, 'kms:Decrypt', shared);
    assert.deepEqual([denial.source, denial.policies], ['guardrails', ['tenant-isolation']]);
    assert.match(denial.message ?? '', /with an explicit deny in a platform guardrail \(tenant-isolation\)/);
  });

  it('the guardrails see the justification: OPERATOR_SUPPORT only with an approval', async () => {
    const on = authorizer();
    const unapproved = await refused(
      on,
      admin,
      'kms:Decrypt',
      KEY_ONE,
      use(admin, { reason: 'OPERATOR_SUPPORT' }),
    );
    assert.deepEqual(unapproved.policies, ['operator-support-requires-approval']);
    await allowed(
      on,
      admin,
      'kms:Decrypt',
      KEY_ONE,
      use(admin, { reason: 'OPERATOR_SUPPORT', approvalReference: 'CHG-1' }),
    );
  });

  it('a remembered decision is never reused for another key, policy or justification', async () => {
    const on = authorizer({
      'user-alice': [
        identity([{ Effect: 'Allow', Action: 'kms:Decrypt', Resource: KEY_ONE.arn }], 'one-key'),
      ],
    });
    for (let i = 0; i < 2; i++) {
      await allowed(on, alice, 'kms:Decrypt', KEY_ONE);
      await refused(on, alice, 'kms:Decrypt', KEY_TWO);
      const closed = key(
        A,
        KEY_ONE.keyId,
        document([{ Effect: 'Deny', Principal: '*', Action: 'kms:*', Resource: '*' }]),
      );
      await refused(on, alice, 'kms:Decrypt', closed);
      await refused(on, alice, 'kms:Decrypt', KEY_ONE, use(alice, { reason: 'OPERATOR_SUPPORT' }));
    }
  });
});
