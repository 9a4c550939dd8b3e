import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { SqlIdentityStore } from '../../src/adapters/sql/iam-store.ts';
import type { SqlDatabase } from '../../src/adapters/sql/driver.ts';
import { LocalKeySealer } from '../../src/adapters/secrets/local-key-sealer.ts';
import { bootstrapRootTenant } from '../../src/domain/iam/bootstrap.ts';
import type { Caller } from '../../src/domain/iam/caller.ts';
import { CredentialResolver } from '../../src/domain/iam/credentials.ts';
import { IdentityAdministration, type PageRequest } from '../../src/domain/iam/identity-admin.ts';
import { IdentityError } from '../../src/domain/iam/identity-errors.ts';
import { CachedIdentitySource } from '../../src/domain/iam/identity-policies.ts';
import { PolicyError } from '../../src/domain/iam/policy/index.ts';
import { SECRET_RESEAL_PAGE_ROWS } from '../../src/domain/iam/limits.ts';
import type { PrincipalRecord } from '../../src/domain/iam/types.ts';
import { ClassificationScheme } from '../../src/domain/classification/scheme.ts';
import type { MetadataStore } from '../../src/domain/storage/ports.ts';
import { OffsetClock } from '../../src/platform/clock.ts';

/** A migrated metadata database (SQLite or PostgreSQL) for the identity store and administration. */
export interface IdentityDatabase {
  db: SqlDatabase;
  metadata: MetadataStore;
  dispose(): Promise<void>;
}

/** The generic levels with two compartments. */
const SCHEME = ClassificationScheme.fromDocument({
  formatVersion: 1,
  profile: 'test',
  levels: ['PUBLIC', 'INTERNAL', 'CONFIDENTIAL', 'SECRET'].map((id, rank) => ({
    id,
    names: { en: id },
    rank,
  })),
  compartments: ['CRYPTO', 'NATO'].map((id) => ({ id, names: { en: id } })),
});

const FIRST: PageRequest = { marker: '', maxItems: 100 };

const allow = (actions: string[], resource = '*') =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: actions, Resource: resource }],
  });

const trust = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::agency-b:root' }, Action: 'sts:AssumeRole' },
  ],
});

function code(expected: string, path?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof IdentityError || error instanceof PolicyError, String(error));
    assert.equal(error.code, expected, error.message);
    if (path !== undefined) assert.ok(error.message.startsWith(`${path}:`), error.message);
    return true;
  };
}

function record(overrides: Partial<PrincipalRecord> & Pick<PrincipalRecord, 'id' | 'name'>): PrincipalRecord {
  return {
    tenantId: 'agency-b',
    kind: 'user',
    isTenantAdmin: false,
    createdAt: new Date(1_000),
    description: '',
    tags: {},
    clearance: null,
    compartments: [],
    trustPolicy: null,
    ...overrides,
  };
}

export function identityStoreSuite(name: string, open: () => Promise<IdentityDatabase>): void {
  describe(`identity store and administration (${name})`, () => {
    async function fixture() {
      const opened = await open();
      const keysDir = await mkdtemp(join(tmpdir(), 'sovra-iam-keys-'));
      const sealer = LocalKeySealer.openOrCreate(join(keysDir, 'local-seal.key'));
      const clock = new OffsetClock();
      const store = new SqlIdentityStore(opened.db);
      const credentials = new CredentialResolver({ metadata: opened.metadata, sealer, clock });
      const identities = new CachedIdentitySource({ store, clock });
      const admin = new IdentityAdministration({
        store,
        sealer,
        credentials,
        identities,
        clock,
        classification: SCHEME,
      });
      const boot = await bootstrapRootTenant(opened.metadata, sealer, clock);
      assert.ok(boot !== null);
      const caller = (principalId: string, tenantId: string, isTenantAdmin: boolean): Caller => ({
        principalId,
        tenantId,
        isTenantAdmin,
        requestId: 'test',
        sourceIp: '192.0.2.10',
        secureTransport: true,
      });
      const root = caller(boot.principal.id, 'root', true);
      return {
        store,
        admin,
        credentials,
        identities,
        clock,
        boot,
        root,
        caller,
        /** A tenant with its administrator, as the platform operator makes it. */
        async tenant(id: string) {
          const created = await admin.createTenant(root, { id, name: `Agency ${id}`, adminName: 'admin' });
          return { created, admin: caller(created.administrator.id, id, true) };
        },
        dispose: async () => {
          await opened.dispose();
          await rm(keysDir, { recursive: true, force: true });
        },
      };
    }
    type Fixture = Awaited<ReturnType<typeof fixture>>;
    const withFixture = (run: (f: Fixture) => Promise<void>) => async () => {
      const f = await fixture();
      try {
        await run(f);
      } finally {
        await f.dispose();
      }
    };

    test(
      'principals written before migration 8 read back with empty attributes',
      withFixture(async (f) => {
        const principal = await f.store.getPrincipal(f.boot.principal.id);
        assert.deepEqual(principal, {
          ...f.boot.principal,
          description: '',
          tags: {},
          clearance: null,
          compartments: [],
          trustPolicy: null,
        });
      }),
    );

    test(
      'principals read back with every attribute; users and service accounts share a name space, roles have their own',
      withFixture(async (f) => {
        await f.tenant('agency-b');
        const alice = record({
          id: 'user-1',
          name: 'alice',
          description: 'Records officer',
          tags: { team: 'records', 'cost center': '42' },
          clearance: 'SECRET',
          compartments: ['CRYPTO', 'NATO'],
        });
        const role = record({ id: 'role-1', name: 'alice', kind: 'role', trustPolicy: trust });
        await f.store.transaction(async (tx) => {
          await tx.insertPrincipal(alice);
          await tx.insertPrincipal(role);
        });
        assert.deepEqual(await f.store.getPrincipal('user-1'), alice);
        assert.deepEqual(await f.store.findPrincipal('agency-b', 'role', 'alice'), role);
        assert.equal((await f.store.findPrincipal('agency-b', 'user', 'alice'))?.id, 'user-1');
        assert.equal(await f.store.findPrincipal('root', 'user', 'alice'), null);
        await assert.rejects(
          f.store.transaction((tx) =>
            tx.insertPrincipal(record({ id: 'service-1', kind: 'service', name: 'alice' })),
          ),
          code('EntityAlreadyExists'),
        );
        assert.equal(await f.store.countPrincipals('agency-b', 'user'), 2, 'alice and the administrator');
        assert.equal(await f.store.countPrincipals('agency-b', 'role'), 1);
      }),
    );

    test(
      'lists are in byte order and each page starts after the marker',
      withFixture(async (f) => {
        for (const id of ['abc', 'ab-c', 'ab0']) await f.tenant(id);
        assert.deepEqual(
          (await f.store.listTenants('', 10)).map((t) => t.id),
          ['ab-c', 'ab0', 'abc', 'root'],
        );
        assert.deepEqual(
          (await f.store.listTenants('ab0', 10)).map((t) => t.id),
          ['abc', 'root'],
        );
        const { admin } = await f.tenant('agency-b');
        for (const name of ['b', 'B', '_x', 'A-1', 'a']) {
          await f.admin.createUser(admin, { name, kind: 'user' });
        }
        const page1 = await f.admin.listUsers(admin, { marker: '', maxItems: 3 });
        assert.deepEqual(
          page1.items.map((u) => u.name),
          ['A-1', 'B', '_x'],
        );
        assert.equal(page1.isTruncated, true);
        const page2 = await f.admin.listUsers(admin, { marker: page1.marker ?? '', maxItems: 3 });
        assert.deepEqual(
          page2.items.map((u) => u.name),
          ['a', 'admin', 'b'],
        );
        assert.equal(page2.isTruncated, false);
        assert.equal(page2.marker, null);
        await assert.rejects(
          f.admin.listUsers(admin, { marker: '', maxItems: 1001 }),
          code('ValidationError'),
        );
      }),
    );

    test(
      'only root administrators create tenants; the first administrator gets a working key whose secret is stored only sealed',
      withFixture(async (f) => {
        const { created, admin } = await f.tenant('agency-b');
        assert.equal(created.tenant.id, 'agency-b');
        assert.equal(created.administrator.isTenantAdmin, true);
        const resolved = await f.credentials.resolve(created.accessKey.key.accessKeyId);
        assert.equal(resolved?.secretAccessKey, created.accessKey.secretAccessKey);
        assert.equal(resolved?.principal.tenantId, 'agency-b');
        const stored = await f.store.getAccessKey(created.accessKey.key.accessKeyId);
        assert.ok(stored !== null);
        assert.ok(!Buffer.from(stored.sealedSecret).includes(Buffer.from(created.accessKey.secretAccessKey)));

        await assert.rejects(
          f.admin.createTenant(admin, { id: 'agency-c', name: 'C', adminName: 'admin' }),
          code('AccessDenied'),
        );
        await assert.rejects(f.tenant('agency-b'), code('EntityAlreadyExists'));
        for (const id of ['Agency', 'ab--c', 'aws', '-ab', 'a', 'x'.repeat(64)]) {
          await assert.rejects(
            f.admin.createTenant(f.root, { id, name: 'n', adminName: 'admin' }),
            code('ValidationError', 'id'),
          );
        }
        await assert.rejects(f.admin.listTenants(admin, FIRST), code('AccessDenied'));
        assert.equal((await f.admin.getTenant(admin, 'agency-b')).id, 'agency-b');
        await assert.rejects(f.admin.getTenant(admin, 'root'), code('AccessDenied'));
        await assert.rejects(f.admin.getTenant(admin, 'no-such-tenant'), code('AccessDenied'));
        await assert.rejects(f.admin.getTenant(f.root, 'no-such-tenant'), code('NoSuchEntity'));
      }),
    );

    test(
      "a tenant administrator cannot see or touch another tenant's principals: they are NoSuchEntity like missing ones",
      withFixture(async (f) => {
        const a = await f.tenant('agency-a');
        const b = await f.tenant('agency-b');
        await f.admin.createUser(b.admin, { name: 'alice', kind: 'user' });
        const key = await f.admin.createAccessKey(b.admin, 'alice', null);
        await f.admin.createPolicy(b.admin, { name: 'read', document: allow(['s3:GetObject']) });

        const refusals = async (name: string) => {
          const messages: string[] = [];
          for (const attempt of [
            () => f.admin.getUser(a.admin, name),
            () => f.admin.listAccessKeys(a.admin, name),
            () => f.admin.deleteUser(a.admin, name),
            () => f.admin.tagUser(a.admin, name, { x: 'y' }),
            () => f.admin.updateAccessKey(a.admin, name, key.key.accessKeyId, 'Inactive'),
            () => f.admin.createAccessKey(a.admin, name, null),
          ]) {
            await assert.rejects(attempt(), (error: unknown) => {
              assert.ok(error instanceof IdentityError);
              assert.equal(error.code, 'NoSuchEntity');
              messages.push(error.message.replaceAll(name, 'NAME').replaceAll(key.key.accessKeyId, 'KEY'));
              return true;
            });
          }
          return messages;
        };
        assert.deepEqual(await refusals('alice'), await refusals('nobody'));
        // Another tenant's key id is unknown even when named through the caller's own user.
        await assert.rejects(
          f.admin.deleteAccessKey(a.admin, 'admin', key.key.accessKeyId),
          code('NoSuchEntity'),
        );
        await assert.rejects(f.admin.getPolicy(a.admin, 'read'), code('NoSuchEntity'));
        assert.deepEqual(
          (await f.admin.listUsers(a.admin, FIRST)).items.map((u) => u.name),
          ['admin'],
        );
        assert.equal((await f.credentials.resolve(key.key.accessKeyId))?.principal.name, 'alice');
      }),
    );

    test(
      'a principal holds at most two access keys; a third is LimitExceeded, and deleting one makes room',
      withFixture(async (f) => {
        const b = await f.tenant('agency-b');
        await f.admin.createUser(b.admin, { name: 'svc', kind: 'service' });
        const first = await f.admin.createAccessKey(b.admin, 'svc', null);
        await f.admin.createAccessKey(b.admin, 'svc', null);
        await assert.rejects(f.admin.createAccessKey(b.admin, 'svc', null), (error: unknown) => {
          assert.ok(error instanceof IdentityError);
          assert.equal(error.code, 'LimitExceeded');
          assert.equal(error.message, 'Cannot exceed quota for AccessKeysPerUser: 2');
          return true;
        });
        await f.admin.updateAccessKey(b.admin, 'svc', first.key.accessKeyId, 'Inactive');
        await assert.rejects(f.admin.createAccessKey(b.admin, 'svc', null), code('LimitExceeded'));
        await f.admin.deleteAccessKey(b.admin, 'svc', first.key.accessKeyId);
        await f.admin.createAccessKey(b.admin, 'svc', null);
        assert.equal((await f.admin.listAccessKeys(b.admin, 'svc')).length, 2);
      }),
    );

    test(
      'disabling or deleting a key takes effect at once; enabling it again too',
      withFixture(async (f) => {
        const b = await f.tenant('agency-b');
        await f.admin.createUser(b.admin, { name: 'alice', kind: 'user' });
        const { key } = await f.admin.createAccessKey(b.admin, 'alice', null);
        assert.ok((await f.credentials.resolve(key.accessKeyId)) !== null, 'cached as valid');
        await f.admin.updateAccessKey(b.admin, 'alice', key.accessKeyId, 'Inactive');
        assert.equal(await f.credentials.resolve(key.accessKeyId), null, 'cached as unknown');
        const enabled = await f.admin.updateAccessKey(b.admin, 'alice', key.accessKeyId, 'Active');
        assert.equal(enabled.status, 'Active');
        assert.ok((await f.credentials.resolve(key.accessKeyId)) !== null);
        await f.admin.deleteAccessKey(b.admin, 'alice', key.accessKeyId);
        assert.equal(await f.credentials.resolve(key.accessKeyId), null);
        await assert.rejects(
          f.admin.deleteAccessKey(b.admin, 'alice', key.accessKeyId),
          code('NoSuchEntity'),
        );
      }),
    );

    test(
      'a key with an expiry stops resolving when it passes; expiries in the past or beyond ten years are refused',
      withFixture(async (f) => {
        const b = await f.tenant('agency-b');
        await f.admin.createUser(b.admin, { name: 'alice', kind: 'user' });
        const expiresAt = new Date(f.clock.nowMs() + 60_000);
        const { key } = await f.admin.createAccessKey(b.admin, 'alice', expiresAt);
        assert.equal(key.expiresAt?.getTime(), expiresAt.getTime());
        assert.ok((await f.credentials.resolve(key.accessKeyId)) !== null);
        f.clock.advance(60_001);
        assert.equal(await f.credentials.resolve(key.accessKeyId), null);
        await assert.rejects(
          f.admin.createAccessKey(b.admin, 'alice', new Date(f.clock.nowMs() - 1)),
          code('ValidationError', 'expiresAt'),
        );
        await assert.rejects(
          f.admin.createAccessKey(b.admin, 'alice', new Date(f.clock.nowMs() + 11 * 366 * 86_400_000)),
          code('ValidationError', 'expiresAt'),
        );
      }),
    );

    test(
      'malformed identity and trust policies are refused with MalformedPolicy naming the path',
      withFixture(async (f) => {
        const b = await f.tenant('agency-b');
        const document = JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: 's3:GetObject', Resource: '*' },
            {
              Effect: 'Allow',
              Action: 's3:GetObject',
              Resource: '*',
              Condition: { StringEqualz: { 'aws:username': 'a' } },
            },
          ],
        });
        await assert.rejects(
          f.admin.createPolicy(b.admin, { name: 'bad', document }),
          code('MalformedPolicy', 'Statement[1].Condition.StringEqualz'),
        );
        await assert.rejects(
          f.admin.createPolicy(b.admin, {
            name: 'bad',
            document: JSON.stringify({
              Statement: { Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' },
            }),
          }),
          code('MalformedPolicy', 'Statement.Principal'),
        );
        await assert.rejects(
          f.admin.createPolicy(b.admin, {
            name: 'big',
            document: allow(['s3:GetObject'], `arn:aws:s3:::${'b'.repeat(7000)}`),
          }),
          code('PolicyTooLarge'),
        );
        const withResource = JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRole', Resource: '*' }],
        });
        await assert.rejects(
          f.admin.createRole(b.admin, { name: 'r', trustPolicy: withResource }),
          code('MalformedPolicy', 'Statement[0].Resource'),
        );
        const notSts = JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: '*', Action: ['sts:AssumeRole', 's3:GetObject'] }],
        });
        await assert.rejects(
          f.admin.createRole(b.admin, { name: 'r', trustPolicy: notSts }),
          code('MalformedPolicy', 'Statement[0].Action[1]'),
        );
        await assert.rejects(
          f.admin.createRole(b.admin, { name: 'r', trustPolicy: '{"Statement": [' }),
          code('MalformedPolicy'),
        );
        const role = await f.admin.createRole(b.admin, {
          name: 'r',
          trustPolicy: trust,
          clearance: 'SECRET',
        });
        assert.equal(role.trustPolicy, trust);
        await assert.rejects(
          f.admin.createRole(b.admin, { name: 'r', trustPolicy: trust }),
          code('EntityAlreadyExists'),
        );
        await assert.rejects(
          f.admin.createUser(b.admin, { name: 'u', kind: 'user', clearance: 'ULTRA' }),
          code('ValidationError', 'clearance'),
        );
      }),
    );

    test(
      'a non-administrator does what its identity policies allow, its own or its groups’, and the change applies at once',
      withFixture(async (f) => {
        const b = await f.tenant('agency-b');
        const alice = await f.admin.createUser(b.admin, { name: 'alice', kind: 'user' });
        const asAlice = f.caller(alice.id, 'agency-b', false);
        await assert.rejects(f.admin.listUsers(asAlice, FIRST), code('AccessDenied'));
        await f.admin.createPolicy(b.admin, {
          name: 'user-readers',
          document: allow(['sovra:ListUsers', 'sovra:GetUser']),
        });
        await f.admin.attachPolicy(b.admin, { namespace: 'user', name: 'alice' }, 'user-readers');
        assert.deepEqual(
          (await f.admin.listUsers(asAlice, FIRST)).items.map((u) => u.name),
          ['admin', 'alice'],
        );
        await assert.rejects(
          f.admin.createUser(asAlice, { name: 'mallory', kind: 'user' }),
          code('AccessDenied'),
        );
        await f.admin.detachPolicy(b.admin, { namespace: 'user', name: 'alice' }, 'user-readers');
        await assert.rejects(f.admin.listUsers(asAlice, FIRST), code('AccessDenied'));

        await f.admin.createGroup(b.admin, 'readers');
        await f.admin.attachPolicy(b.admin, { namespace: 'group', name: 'readers' }, 'user-readers');
        await f.admin.addUserToGroup(b.admin, 'readers', 'alice');
        assert.equal((await f.admin.getUser(asAlice, 'admin')).name, 'admin');
        assert.deepEqual(
          (await f.identities.labeledPoliciesFor(alice.id)).map((p) => p.label),
          ['group readers: managed policy user-readers'],
        );
        // Resource-scoped statements and explicit denies are evaluated as AWS does.
        await f.admin.updatePolicy(b.admin, 'user-readers', {
          document: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: 'sovra:GetUser', Resource: 'arn:aws:iam::agency-b:user/*' },
              { Effect: 'Deny', Action: 'sovra:GetUser', Resource: 'arn:aws:iam::agency-b:user/admin' },
            ],
          }),
        });
        assert.equal((await f.admin.getUser(asAlice, 'alice')).name, 'alice');
        await assert.rejects(f.admin.getUser(asAlice, 'admin'), code('AccessDenied'));
        await f.admin.removeUserFromGroup(b.admin, 'readers', 'alice');
        await assert.rejects(f.admin.getUser(asAlice, 'alice'), code('AccessDenied'));
      }),
    );

    test(
      'no policy hands out administrator power: a non-administrator never makes or touches an administrator',
      withFixture(async (f) => {
        const b = await f.tenant('agency-b');
        const alice = await f.admin.createUser(b.admin, { name: 'alice', kind: 'user' });
        await f.admin.createPolicy(b.admin, { name: 'everything', document: allow(['sovra:*']) });
        await f.admin.attachPolicy(b.admin, { namespace: 'user', name: 'alice' }, 'everything');
        const asAlice = f.caller(alice.id, 'agency-b', false);
        await f.admin.createUser(asAlice, { name: 'bob', kind: 'user' });
        await assert.rejects(
          f.admin.createUser(asAlice, { name: 'eve', kind: 'user', admin: true }),
          code('AccessDenied'),
        );
        await assert.rejects(f.admin.createAccessKey(asAlice, 'admin', null), code('AccessDenied'));
        await assert.rejects(f.admin.updateUser(asAlice, 'bob', { admin: true }), code('AccessDenied'));
        await assert.rejects(f.admin.deleteUser(asAlice, 'admin'), code('AccessDenied'));
        await assert.rejects(
          f.admin.createTenant(asAlice, { id: 'agency-x', name: 'x', adminName: 'a' }),
          code('AccessDenied'),
        );
      }),
    );

    test(
      'administrator changes reach the credential cache at once, and nobody changes their own flag',
      withFixture(async (f) => {
        const b = await f.tenant('agency-b');
        await f.admin.createUser(b.admin, { name: 'carol', kind: 'user', admin: true });
        const { key } = await f.admin.createAccessKey(b.admin, 'carol', null);
        assert.equal((await f.credentials.resolve(key.accessKeyId))?.principal.isTenantAdmin, true);
        await f.admin.updateUser(b.admin, 'carol', {
          admin: false,
          clearance: 'CONFIDENTIAL',
          compartments: ['NATO'],
        });
        assert.equal((await f.credentials.resolve(key.accessKeyId))?.principal.isTenantAdmin, false);
        const carol = await f.admin.getUser(b.admin, 'carol');
        assert.equal(carol.clearance, 'CONFIDENTIAL');
        assert.deepEqual(carol.compartments, ['NATO']);
        await assert.rejects(
          f.admin.updateUser(b.admin, 'admin', { admin: false }),
          code('ValidationError', 'admin'),
        );
      }),
    );

    test(
      'tags merge without regard to case, are removed one key at a time, and are limited to 50',
      withFixture(async (f) => {
        const b = await f.tenant('agency-b');
        const alice = await f.admin.createUser(b.admin, { name: 'alice', kind: 'user', tags: { Team: 'a' } });
        await f.admin.tagUser(b.admin, 'alice', { team: 'b', site: 'north' });
        assert.deepEqual((await f.admin.getUser(b.admin, 'alice')).tags, { site: 'north', team: 'b' });
        assert.deepEqual((await f.identities.attributesOf(alice.id))?.tags, { site: 'north', team: 'b' });
        await f.admin.untagUser(b.admin, 'alice', 'SITE');
        assert.deepEqual((await f.admin.getUser(b.admin, 'alice')).tags, { team: 'b' });
        const many = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'v']));
        await assert.rejects(f.admin.tagUser(b.admin, 'alice', many), code('LimitExceeded'));
        await assert.rejects(
          f.admin.tagUser(b.admin, 'alice', { 'aws:x': 'v' }),
          code('ValidationError', 'tags'),
        );
        await assert.rejects(
          f.admin.tagUser(b.admin, 'alice', { 'a<b': 'v' }),
          code('ValidationError', 'tags'),
        );
      }),
    );

    test(
      'deleting waits until nothing hangs on the entity (DeleteConflict), as IAM does',
      withFixture(async (f) => {
        const b = await f.tenant('agency-b');
        await f.admin.createUser(b.admin, { name: 'alice', kind: 'user' });
        const { key } = await f.admin.createAccessKey(b.admin, 'alice', null);
        await f.admin.createPolicy(b.admin, { name: 'p', document: allow(['s3:ListBucket']) });
        await f.admin.attachPolicy(b.admin, { namespace: 'user', name: 'alice' }, 'p');
        await f.admin.attachPolicy(b.admin, { namespace: 'user', name: 'alice' }, 'p');
        await f.admin.createGroup(b.admin, 'g');
        await f.admin.addUserToGroup(b.admin, 'g', 'alice');

        await assert.rejects(f.admin.deleteUser(b.admin, 'alice'), code('DeleteConflict'));
        await f.admin.deleteAccessKey(b.admin, 'alice', key.accessKeyId);
        await assert.rejects(f.admin.deleteUser(b.admin, 'alice'), code('DeleteConflict'));
        await assert.rejects(f.admin.deletePolicy(b.admin, 'p'), code('DeleteConflict'));
        await f.admin.detachPolicy(b.admin, { namespace: 'user', name: 'alice' }, 'p');
        await assert.rejects(
          f.admin.detachPolicy(b.admin, { namespace: 'user', name: 'alice' }, 'p'),
          code('NoSuchEntity'),
        );
        await assert.rejects(f.admin.deleteUser(b.admin, 'alice'), code('DeleteConflict'));
        await assert.rejects(f.admin.deleteGroup(b.admin, 'g'), code('DeleteConflict'));
        await f.admin.removeUserFromGroup(b.admin, 'g', 'alice');
        await f.admin.deleteUser(b.admin, 'alice');
        await f.admin.deleteGroup(b.admin, 'g');
        await f.admin.deletePolicy(b.admin, 'p');
        await assert.rejects(f.admin.getUser(b.admin, 'alice'), code('NoSuchEntity'));
        assert.equal(await f.store.findPolicy('agency-b', 'p'), null);
      }),
    );

    test(
      'at most ten managed policies per principal, role or group',
      withFixture(async (f) => {
        const b = await f.tenant('agency-b');
        await f.admin.createRole(b.admin, { name: 'worker', trustPolicy: trust });
        for (let i = 0; i < 11; i++) {
          await f.admin.createPolicy(b.admin, { name: `p${i}`, document: allow(['s3:ListBucket']) });
        }
        for (let i = 0; i < 10; i++)
          await f.admin.attachPolicy(b.admin, { namespace: 'role', name: 'worker' }, `p${i}`);
        await assert.rejects(
          f.admin.attachPolicy(b.admin, { namespace: 'role', name: 'worker' }, 'p10'),
          code('LimitExceeded'),
        );
        assert.equal(
          (await f.admin.listAttachedPolicies(b.admin, { namespace: 'role', name: 'worker' })).length,
          10,
        );
        const role = await f.admin.getRole(b.admin, 'worker');
        assert.equal((await f.identities.policiesFor(role.id)).length, 10);
        assert.equal((await f.admin.getPolicy(b.admin, 'p0')).attachmentCount, 1);
      }),
    );

    test(
      'sealed secrets of access keys and role sessions are re-sealed in place, across pages, leaving rows the resealer skips',
      withFixture(async (f) => {
        const keyCount = SECRET_RESEAL_PAGE_ROWS + 3;
        const ids = Array.from({ length: keyCount }, (_, i) => `SVRATEST${String(i).padStart(12, '0')}`);
        await f.store.transaction(async (tx) => {
          for (const id of ids) {
            await tx.insertAccessKey({
              accessKeyId: id,
              principalId: f.boot.principal.id,
              tenantId: 'root',
              sealedSecret: Buffer.from(`old:${id}`),
              status: 'Active',
              createdAt: new Date(1_000),
              expiresAt: null,
            });
          }
        });
        const seen = new Set<string>();
        const changed = await f.store.resealAccessKeySecrets((accessKeyId, sealed) => {
          seen.add(accessKeyId);
          const text = Buffer.from(sealed).toString();
          return text.startsWith('old:') ? Buffer.from(`new:${text.slice(4)}`) : null;
        });
        assert.equal(changed, keyCount, 'every test key; the bootstrap key is skipped');
        assert.equal(seen.size, keyCount + 1, 'every row is offered once');
        for (const id of [ids[0]!, ids[SECRET_RESEAL_PAGE_ROWS]!, ids.at(-1)!]) {
          const key = await f.store.getAccessKey(id);
          assert.equal(Buffer.from(key!.sealedSecret).toString(), `new:${id}`);
        }
        const bootKey = await f.store.getAccessKey(f.boot.credentials.accessKeyId);
        assert.equal(
          (await f.credentials.resolve(bootKey!.accessKeyId))?.secretAccessKey,
          f.boot.credentials.secretAccessKey,
        );
        assert.equal(await f.store.resealAccessKeySecrets(() => null), 0);

        const sessions = f.store.federation();
        await sessions.insertSession({
          accessKeyId: 'ASIATEST000000000001',
          principalId: 'session-1',
          tenantId: 'root',
          roleId: 'role-1',
          roleName: 'worker',
          sessionName: 's',
          sealedSecret: Buffer.from('old:session'),
          tokenSha256: Buffer.alloc(32),
          issuedAt: new Date(1_000),
          expiresAt: new Date(2_000),
          revokedAt: null,
          sourceIdentity: 'user-1',
          provider: null,
          audience: null,
          clearance: null,
          compartments: [],
        });
        assert.equal(
          await sessions.resealSessionSecrets((accessKeyId, sealed) =>
            Buffer.from(`${accessKeyId}:${Buffer.from(sealed).toString()}`),
          ),
          1,
        );
        const session = await sessions.getSession('ASIATEST000000000001');
        assert.equal(Buffer.from(session!.sealedSecret).toString(), 'ASIATEST000000000001:old:session');
      }),
    );
  });
}
