import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CedarGuardrailCompiler, readDefaultGuardrails } from '../../src/adapters/cedar/cedar-guardrails.ts';
import type { SqlDatabase } from '../../src/adapters/sql/driver.ts';
import { SqlGuardrailSetStore } from '../../src/adapters/sql/guardrail-set-store.ts';
import { GuardrailError } from '../../src/domain/guardrails/errors.ts';
import {
  GuardrailAdministration,
  guardrailTextSha256,
} from '../../src/domain/guardrails/guardrail-administration.ts';
import { Guardrails } from '../../src/domain/guardrails/guardrails.ts';
import { GUARDRAIL_SET_FORMAT, type NewGuardrailSet } from '../../src/domain/guardrails/ports.ts';
import { ROOT_TENANT_ID } from '../../src/domain/iam/bootstrap.ts';
import type { Caller } from '../../src/domain/iam/caller.ts';
import { IdentityError } from '../../src/domain/iam/identity-errors.ts';
import { OffsetClock } from '../../src/platform/clock.ts';

/** A metadata database, migrated, for the guardrail set store and the administration over it. */
export interface GuardrailSetDatabase {
  db: SqlDatabase;
  dispose: () => Promise<void>;
}

const ROOT_ADMIN: Caller = {
  principalId: 'root-admin',
  tenantId: ROOT_TENANT_ID,
  isTenantAdmin: true,
  requestId: 'req-1',
  sourceIp: '127.0.0.1',
  secureTransport: false,
};

/** The shipped set plus one forbid, so that every test set validates. */
const WITH_EMBARGO = `${readDefaultGuardrails()}
@id("embargoed-bucket-is-unreadable")
forbid (principal, action == Sovra::Action::"s3:GetObject", resource in Sovra::Bucket::"embargoed");
`;

/** Misspelt attribute: parses, but does not validate against the schema. */
const MISSPELT = `@id("baseline") permit (principal, action, resource);
@id("typo") forbid (principal, action == Sovra::Action::"s3:GetObject", resource)
when { resource.clasificationRank > 0 };
`;

function newSet(text: string, principalId = 'root-admin'): NewGuardrailSet {
  return {
    format: GUARDRAIL_SET_FORMAT,
    text,
    sha256: guardrailTextSha256(text),
    replacedAtMs: 1_760_000_000_000,
    replacedBy: { principalId, tenantId: ROOT_TENANT_ID },
  };
}

const silentLog = { info: () => {}, warn: () => {}, error: () => {} };

/** One gateway: its own compiler and active set over the shared store. */
function gateway(store: SqlGuardrailSetStore, baseline: 'default' | 'file' = 'default') {
  const guardrails = new Guardrails(new CedarGuardrailCompiler(), readDefaultGuardrails());
  const errors: string[] = [];
  const administration = new GuardrailAdministration({
    guardrails,
    baselineSource: baseline,
    store,
    clock: new OffsetClock(),
    log: { ...silentLog, error: (_fields, message) => errors.push(message) },
  });
  return { guardrails, administration, errors };
}

export function guardrailSetSuite(name: string, open: () => Promise<GuardrailSetDatabase>): void {
  describe(`guardrail sets (${name})`, () => {
    test('an empty store has version 0 and no set; appends get versions 1, 2, 3 and the newest is read back whole', async () => {
      const { db, dispose } = await open();
      try {
        const store = new SqlGuardrailSetStore(db);
        assert.equal(await store.latestVersion(), 0);
        assert.equal(await store.latest(), null);
        const texts = ['// one\n', '// two: Tối mật, 極秘\n', WITH_EMBARGO];
        for (const [index, text] of texts.entries()) {
          const stored = await store.append(newSet(text, `admin-${index}`));
          assert.equal(stored.version, index + 1);
        }
        assert.equal(await store.latestVersion(), 3);
        assert.deepEqual(await store.latest(), { ...newSet(WITH_EMBARGO, 'admin-2'), version: 3 });
      } finally {
        await dispose();
      }
    });

    test('concurrent appends (gateways replacing at once) get distinct consecutive versions', async () => {
      const { db, dispose } = await open();
      try {
        const stores = [new SqlGuardrailSetStore(db), new SqlGuardrailSetStore(db)];
        const stored = await Promise.all(
          Array.from({ length: 8 }, (_, i) => stores[i % 2]!.append(newSet(`// set ${i}\n`))),
        );
        assert.deepEqual(
          stored.map((set) => set.version).sort((a, b) => a - b),
          [1, 2, 3, 4, 5, 6, 7, 8],
        );
      } finally {
        await dispose();
      }
    });

    test('stored sets are history: the database refuses changing or deleting them', async () => {
      const { db, dispose } = await open();
      try {
        const store = new SqlGuardrailSetStore(db);
        await store.append(newSet('// kept\n'));
        await assert.rejects(db.execute("UPDATE guardrail_sets SET policies = 'x'", []), /never changed/);
        await assert.rejects(db.execute('DELETE FROM guardrail_sets', []), /never (changed or )?deleted/);
        assert.equal((await store.latest())?.text, '// kept\n');
      } finally {
        await dispose();
      }
    });

    test('a replacement on one gateway applies there at once and on another at its next refresh, and survives a restart', async () => {
      const { db, dispose } = await open();
      try {
        const store = new SqlGuardrailSetStore(db);
        const first = gateway(store);
        const second = gateway(store, 'file');
        await first.administration.refresh();
        await second.administration.refresh();
        assert.equal(second.administration.describe(ROOT_ADMIN).source, 'file');

        const described = await first.administration.replace(ROOT_ADMIN, WITH_EMBARGO);
        assert.equal(described.source, 'api');
        assert.equal(described.version, 1);
        assert.equal(described.sha256, guardrailTextSha256(WITH_EMBARGO));
        assert.deepEqual(described.replacedBy, { principalId: 'root-admin', tenantId: ROOT_TENANT_ID });
        assert.ok(described.policyIds.includes('embargoed-bucket-is-unreadable'));
        assert.equal(first.guardrails.active.text, WITH_EMBARGO);

        assert.notEqual(second.guardrails.active.text, WITH_EMBARGO, 'not before its refresh');
        await second.administration.refresh();
        assert.equal(second.guardrails.active.text, WITH_EMBARGO);
        assert.equal(second.administration.describe(ROOT_ADMIN).version, 1);

        const restarted = gateway(store);
        await restarted.administration.refresh();
        assert.equal(restarted.guardrails.active.text, WITH_EMBARGO);
        assert.equal(restarted.administration.describe(ROOT_ADMIN).source, 'api');
      } finally {
        await dispose();
      }
    });

    test('a set that does not validate is refused with the validator message: nothing is stored and the previous set stays', async () => {
      const { db, dispose } = await open();
      try {
        const store = new SqlGuardrailSetStore(db);
        const { administration, guardrails } = gateway(store);
        await administration.replace(ROOT_ADMIN, WITH_EMBARGO);
        await assert.rejects(administration.replace(ROOT_ADMIN, MISSPELT), (error: unknown) => {
          assert.ok(error instanceof GuardrailError);
          assert.equal(error.code, 'InvalidGuardrails');
          assert.match(error.message, /typo: .*clasificationRank/);
          return true;
        });
        assert.equal(await store.latestVersion(), 1);
        assert.equal(guardrails.active.text, WITH_EMBARGO);
      } finally {
        await dispose();
      }
    });

    test('only root-tenant administrators read or replace the guardrails', async () => {
      const { db, dispose } = await open();
      try {
        const store = new SqlGuardrailSetStore(db);
        const { administration } = gateway(store);
        const others: Caller[] = [
          { ...ROOT_ADMIN, principalId: 'agency-admin', tenantId: 'agency-a' },
          { ...ROOT_ADMIN, principalId: 'root-user', isTenantAdmin: false },
        ];
        for (const caller of others) {
          assert.throws(
            () => administration.describe(caller),
            (error: unknown) => error instanceof IdentityError && error.code === 'AccessDenied',
          );
          await assert.rejects(
            administration.replace(caller, WITH_EMBARGO),
            (error: unknown) => error instanceof IdentityError && error.code === 'AccessDenied',
          );
        }
        assert.equal(await store.latestVersion(), 0);
      } finally {
        await dispose();
      }
    });

    test('a stored set that no longer compiles is not activated: the gateway keeps its set, logs, and says so', async () => {
      const { db, dispose } = await open();
      try {
        const store = new SqlGuardrailSetStore(db);
        // As if written by a release whose schema had the attribute.
        await store.append(newSet(MISSPELT));
        const starting = gateway(store, 'file');
        const baseline = starting.guardrails.active;
        await starting.administration.refresh();
        assert.equal(starting.guardrails.active, baseline, 'the file set stays');
        const described = starting.administration.describe(ROOT_ADMIN);
        assert.equal(described.source, 'file');
        assert.equal(described.refusedStoredSet?.version, 1);
        assert.match(described.refusedStoredSet?.message ?? '', /clasificationRank/);
        assert.equal(starting.errors.length, 1);

        // A later valid replacement clears the refusal.
        await store.append(newSet(WITH_EMBARGO));
        await starting.administration.refresh();
        const replaced = starting.administration.describe(ROOT_ADMIN);
        assert.deepEqual([replaced.source, replaced.version, replaced.refusedStoredSet], ['api', 2, null]);

        // A set of a format this release does not know is refused the same way.
        await store.append({ ...newSet(readDefaultGuardrails()), format: GUARDRAIL_SET_FORMAT + 1 });
        await starting.administration.refresh();
        const unknown = starting.administration.describe(ROOT_ADMIN);
        assert.deepEqual([unknown.version, unknown.refusedStoredSet?.version], [2, 3]);
        assert.match(unknown.refusedStoredSet?.message ?? '', /format/);
      } finally {
        await dispose();
      }
    });
  });
}
