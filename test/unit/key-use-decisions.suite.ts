import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import type { SqlDatabase } from '../../src/adapters/sql/driver.ts';
import { SqlKeyUseDecisionLog } from '../../src/adapters/sql/key-use-decisions.ts';
import { SqlKeyStore } from '../../src/adapters/sql/kms-store.ts';
import { KeyUseDecisionRecorder } from '../../src/domain/kms/decision-records.ts';
import { KmsError } from '../../src/domain/kms/errors.ts';
import type { KeyUseJustification } from '../../src/domain/kms/justification.ts';
import { KeyRing } from '../../src/domain/kms/key-ring.ts';
import { SoftwareRoot } from '../../src/domain/kms/root-of-trust.ts';
import { OffsetClock } from '../../src/platform/clock.ts';

/** Key-use decision records on a real metadata database, SQLite and PostgreSQL alike. */
export interface DecisionDatabase {
  db: SqlDatabase;
  dispose(): Promise<void>;
}

const TENANT = 'tenant-a';
const CONTEXT = { bucket: 'photos' };

const NO_MIGRATION_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${TENANT}:root` }, Action: 'kms:*', Resource: '*' },
    {
      Sid: 'NoMigrationReads',
      Effect: 'Deny',
      Principal: '*',
      Action: 'kms:Decrypt',
      Resource: '*',
      Condition: { StringEquals: { 'sovra:JustificationReason': 'MIGRATION' } },
    },
  ],
});

function justification(overrides: Partial<KeyUseJustification>): KeyUseJustification {
  return {
    principalId: 'alice',
    tenantId: TENANT,
    service: 's3',
    reason: 'CUSTOMER_INITIATED_ACCESS',
    approvalReference: null,
    sourceIp: '192.0.2.1',
    jurisdiction: 'DE',
    requestId: 'req-1',
    operation: 'GenerateDataKey',
    ...overrides,
  };
}

export function keyUseDecisionSuite(name: string, open: () => Promise<DecisionDatabase>): void {
  describe(`key-use decision records (${name})`, () => {
    async function fixture() {
      const opened = await open();
      const root = new SoftwareRoot();
      root.unsealWith(randomBytes(32));
      const log = new SqlKeyUseDecisionLog(opened.db);
      const errors: unknown[] = [];
      const decisions = new KeyUseDecisionRecorder(log, (error) => errors.push(error));
      const clock = new OffsetClock();
      const ring = new KeyRing({
        store: new SqlKeyStore(opened.db),
        root,
        clock,
        region: 'eu-central-1',
        decisions,
      });
      return {
        ...opened,
        log,
        decisions,
        ring,
        clock,
        errors,
        dispose: async () => {
          await decisions.close();
          await root.close();
          await opened.dispose();
        },
      };
    }

    test('granted and denied uses are both recorded with their justification', async () => {
      const f = await fixture();
      try {
        const key = await f.ring.createKey(TENANT, {
          keySpec: 'SYMMETRIC_DEFAULT',
          keyUsage: null,
          description: '',
          policy: NO_MIGRATION_POLICY,
          tags: [],
        });
        const dataKey = await f.ring.generateDataKey(TENANT, {
          keyReference: key.keyId,
          numberOfBytes: 32,
          context: CONTEXT,
          dryRun: false,
          justification: justification({ requestId: 'req-granted' }),
        });
        await assert.rejects(
          f.ring.decrypt(TENANT, {
            ciphertextBlob: dataKey.ciphertextBlob,
            context: CONTEXT,
            keyReference: null,
            dryRun: false,
            justification: justification({
              reason: 'MIGRATION',
              operation: 'Decrypt',
              requestId: 'req-denied',
            }),
          }),
          (error: unknown) =>
            error instanceof KmsError && error.code === 'KeyUseDenied' && /MIGRATION/.test(error.message),
        );
        await f.decisions.flush();
        const stored = await f.log.listTenantDecisions(
          TENANT,
          { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER },
          0,
          10,
        );
        assert.equal(stored.length, 2);
        const [granted, denied] = stored;
        assert.ok(granted !== undefined && denied !== undefined);
        assert.ok(granted.seq < denied.seq);
        assert.equal(granted.decision, 'granted');
        assert.equal(granted.denialReason, null);
        assert.equal(granted.keyId, key.keyId);
        assert.equal(granted.keyVersion, 1);
        assert.deepEqual(granted.justification, justification({ requestId: 'req-granted' }));
        assert.equal(denied.decision, 'denied');
        assert.match(denied.denialReason ?? '', /NoMigrationReads/);
        assert.equal(denied.justification.reason, 'MIGRATION');
        assert.equal(denied.justification.operation, 'Decrypt');
        assert.equal(denied.justification.requestId, 'req-denied');
        assert.deepEqual(f.errors, []);
      } finally {
        await f.dispose();
      }
    });

    test("a tenant reads its decisions by time range, page by page, and no other tenant's", async () => {
      const f = await fixture();
      try {
        const at = (ms: number, tenantId: string, requestId: string) => ({
          decidedAt: new Date(ms),
          tenantId,
          keyId: 'k',
          keyVersion: 1,
          decision: 'granted' as const,
          denialReason: null,
          justification: justification({ tenantId, requestId }),
        });
        await f.log.append([
          at(1000, TENANT, 'a'),
          at(2000, TENANT, 'b'),
          at(2500, 'other', 'x'),
          at(3000, TENANT, 'c'),
          at(4000, TENANT, 'd'),
        ]);
        const range = { fromMs: 2000, toMs: 4000 };
        const first = await f.log.listTenantDecisions(TENANT, range, 0, 1);
        assert.deepEqual(
          first.map((d) => d.justification.requestId),
          ['b'],
        );
        const second = await f.log.listTenantDecisions(TENANT, range, first[0]?.seq ?? 0, 10);
        assert.deepEqual(
          second.map((d) => d.justification.requestId),
          ['c'],
        );
      } finally {
        await f.dispose();
      }
    });

    test('the decision table refuses UPDATE and DELETE', async () => {
      const f = await fixture();
      try {
        await f.log.append([
          {
            decidedAt: new Date(1000),
            tenantId: TENANT,
            keyId: 'k',
            keyVersion: 1,
            decision: 'denied',
            denialReason: 'no',
            justification: justification({}),
          },
        ]);
        await assert.rejects(
          f.db.execute("UPDATE key_use_decisions SET decision = 'granted'", []),
          /append-only/,
        );
        await assert.rejects(f.db.execute('DELETE FROM key_use_decisions', []), /append-only/);
        const stored = await f.log.listTenantDecisions(TENANT, { fromMs: 0, toMs: 10_000 }, 0, 10);
        assert.equal(stored[0]?.decision, 'denied');
      } finally {
        await f.dispose();
      }
    });

    test('queued decisions are written within milliseconds without an explicit flush', async () => {
      const f = await fixture();
      try {
        const key = await f.ring.createKey(TENANT, {
          keySpec: 'SYMMETRIC_DEFAULT',
          keyUsage: null,
          description: '',
          policy: null,
          tags: [],
        });
        await f.ring.encrypt(TENANT, {
          keyReference: key.keyId,
          plaintext: Buffer.from('x'),
          context: {},
          dryRun: false,
        });
        for (
          let i = 0;
          i < 100 &&
          (f.decisions.pendingCount > 0 ||
            (await f.log.listTenantDecisions(TENANT, { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER }, 0, 10))
              .length === 0);
          i++
        ) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        const stored = await f.log.listTenantDecisions(
          TENANT,
          { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER },
          0,
          10,
        );
        assert.equal(stored.length, 1);
        assert.equal(stored[0]?.justification.reason, 'CUSTOMER_INITIATED_ACCESS');
        assert.equal(stored[0]?.justification.operation, 'Encrypt');
      } finally {
        await f.dispose();
      }
    });
  });
}
