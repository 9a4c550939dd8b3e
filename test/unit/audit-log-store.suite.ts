import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { appendFileSync, mkdtempSync, readdirSync, truncateSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileAuditJournal } from '../../src/adapters/audit-journal/file-audit-journal.ts';
import { SqlAuditLogStore } from '../../src/adapters/sql/audit-log-store.ts';
import type { SqlDatabase } from '../../src/adapters/sql/driver.ts';
import { AuditLog } from '../../src/domain/audit/audit-log.ts';
import type { AuditLogStore } from '../../src/domain/audit/ports.ts';
import { removeDir } from '../helpers/sovra-process.ts';
import { sealRecord, type AuditRecord } from '../../src/domain/audit/records.ts';
import { DEFAULT_RETENTION_DAYS } from '../../src/domain/audit/retention.ts';
import { hashLeaf } from '../../src/domain/audit/tlog/hashing.ts';
import {
  verifyConsistencyProof,
  verifyInclusionProof,
} from '../../src/domain/audit/tlog/proof-verification.ts';
import { proveConsistency, proveInclusion } from '../../src/domain/audit/tlog/tile-prover.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { storeLogSource, verifyLog } from '../../src/domain/audit/log-verifier.ts';
import type { StoredAuditRecord } from '../../src/domain/audit/ports.ts';
import { pruneExpiredRecords } from '../../src/domain/audit/retention-pruner.ts';
import { signCheckpoint } from '../../src/domain/audit/tlog/checkpoint.ts';
import {
  createNoteSigner,
  generateNoteKey,
  parseVerifierKey,
} from '../../src/domain/audit/tlog/note-keys.ts';

/** The audit log store on a real metadata database, SQLite and PostgreSQL alike. */
export interface AuditDatabase {
  db: SqlDatabase;
  dispose: () => Promise<void>;
}

export function auditRecord(overrides: Partial<AuditRecord> = {}): AuditRecord {
  return {
    kind: 'request',
    timeMs: Date.now(),
    tenantId: 'tenant-a',
    principalId: 'alice',
    principalTenantId: null,
    action: 's3:GetObject',
    resource: 'arn:aws:s3:::photos/cat.jpg',
    classification: null,
    sourceIp: '127.0.0.1',
    sourceJurisdiction: 'VN',
    result: 'success',
    status: 200,
    errorCode: null,
    justification: null,
    approvalId: null,
    requestId: 'req-1',
    details: {},
    ...overrides,
  };
}

/** RFC 9162 §2.1.1 MTH, computed naively from the leaves: what the stored tiles must agree with. */
function naiveRoot(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return createHash('sha256').digest();
  if (leaves.length === 1) return hashLeaf(leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return createHash('sha256')
    .update(Buffer.from([1]))
    .update(naiveRoot(leaves.slice(0, k)))
    .update(naiveRoot(leaves.slice(k)))
    .digest();
}

const FAR_FUTURE = Date.now() + 10 * 365 * 86_400_000;

export function auditLogStoreSuite(name: string, open: () => Promise<AuditDatabase>): void {
  describe(`audit log store on ${name}`, () => {
    test('batches append in order; the stored root equals RFC 9162 MTH of every leaf', async () => {
      const { db, dispose } = await open();
      try {
        const store = new SqlAuditLogStore(db);
        assert.equal((await store.head()).treeSize, 0);
        const sealed = [];
        for (const size of [1, 2, 255, 1, 300, 7]) {
          const batch = Array.from({ length: size }, (_, i) =>
            sealRecord(auditRecord({ requestId: `r${sealed.length + i}` })),
          );
          sealed.push(...batch);
          const head = await store.append(
            batch,
            batch.map(() => FAR_FUTURE),
          );
          assert.equal(head.treeSize, sealed.length);
          assert.deepEqual(head.rootHash, naiveRoot(sealed.map((s) => s.leaf)));
        }
        const leaves = await store.readLeaves(0, sealed.length);
        assert.deepEqual(
          leaves,
          sealed.map((s) => s.leaf),
        );
        const stored = await store.readRecord(300);
        assert.deepEqual(stored?.canonical, sealed[300]!.canonical);
        assert.deepEqual(stored?.salt, sealed[300]!.salt);
      } finally {
        await dispose();
      }
    });

    test('proofs from the stored tiles verify against the stored roots', async () => {
      const { db, dispose } = await open();
      try {
        const store = new SqlAuditLogStore(db);
        const sealed = Array.from({ length: 600 }, (_, i) => sealRecord(auditRecord({ requestId: `r${i}` })));
        const first = await store.append(
          sealed.slice(0, 257),
          sealed.slice(0, 257).map(() => FAR_FUTURE),
        );
        const second = await store.append(
          sealed.slice(257),
          sealed.slice(257).map(() => FAR_FUTURE),
        );
        for (const leafIndex of [0, 1, 255, 256, 300, 599]) {
          const proof = await proveInclusion(store.tiles(), second.treeSize, leafIndex);
          verifyInclusionProof({
            leafIndex,
            treeSize: second.treeSize,
            leafHash: hashLeaf(sealed[leafIndex]!.leaf),
            proof,
            rootHash: second.rootHash,
          });
        }
        const consistency = await proveConsistency(store.tiles(), first.treeSize, second.treeSize);
        verifyConsistencyProof({
          oldSize: first.treeSize,
          newSize: second.treeSize,
          oldRootHash: first.rootHash,
          newRootHash: second.rootHash,
          proof: consistency,
        });
      } finally {
        await dispose();
      }
    });

    test('two appenders on one database (two gateways) make one log with one gap-free sequence', async () => {
      const { db, dispose } = await open();
      try {
        const store = new SqlAuditLogStore(db);
        const logs = [0, 1].map(
          () =>
            new AuditLog({
              store: new SqlAuditLogStore(db),
              clock: systemClock,
              retention: DEFAULT_RETENTION_DAYS,
              onError: () => {},
            }),
        );
        await Promise.all(
          Array.from({ length: 400 }, (_, i) =>
            logs[i % 2]!.record(auditRecord({ requestId: `g${i % 2}-${i}` })),
          ),
        );
        await Promise.all(logs.map((log) => log.close()));
        const head = await store.head();
        assert.equal(head.treeSize, 400);
        const records = await store.readRecords({
          tenantId: 'tenant-a',
          fromMs: 0,
          toMs: FAR_FUTURE,
          afterIndex: -1,
          limit: 1000,
        });
        assert.deepEqual(
          records.map((r) => r.index),
          Array.from({ length: 400 }, (_, i) => i),
        );
        assert.deepEqual(head.rootHash, naiveRoot(await store.readLeaves(0, 400)));
      } finally {
        await dispose();
      }
    });

    test('records, tiles and checkpoints cannot be deleted or rewritten, by anyone with SQL access', async () => {
      const { db, dispose } = await open();
      try {
        const store = new SqlAuditLogStore(db);
        const sealed = [sealRecord(auditRecord()), sealRecord(auditRecord({ requestId: 'r2' }))];
        const head = await store.append(sealed, [FAR_FUTURE, 0]);
        await store.saveCheckpoint({
          treeSize: head.treeSize,
          rootHash: head.rootHash,
          note: 'n\n',
          signedAtMs: 1,
        });
        const refused = [
          'DELETE FROM audit_records',
          "UPDATE audit_records SET action = 's3:PutObject'",
          'UPDATE audit_records SET record = NULL, salt = NULL WHERE leaf_index = 0',
          'DELETE FROM audit_tiles',
          "UPDATE audit_tiles SET hashes = x'00'",
          'DELETE FROM audit_checkpoints',
          "UPDATE audit_checkpoints SET note = 'forged'",
        ];
        for (const statement of refused) {
          const sql = db.dialect === 'postgres' ? statement.replace("x'00'", "'\\x00'::bytea") : statement;
          await assert.rejects(db.execute(sql, []), Error, statement);
        }
        // Record 1's retention has ended: it may be archived (record and salt gone, leaf kept).
        assert.equal(
          await db.execute('UPDATE audit_records SET record = NULL, salt = NULL WHERE leaf_index = 1', []),
          1,
        );
        const archived = await store.readRecord(1);
        assert.equal(archived?.canonical, null);
        assert.deepEqual(archived?.leaf, sealed[1]!.leaf);
      } finally {
        await dispose();
      }
    });

    test('pruning after retention archives records but keeps every hash: the log still verifies; records within retention cannot be pruned by anyone', async () => {
      const { db, dispose } = await open();
      try {
        const store = new SqlAuditLogStore(db);
        const sealed = Array.from({ length: 10 }, (_, i) => sealRecord(auditRecord({ requestId: `p${i}` })));
        const head = await store.append(
          sealed,
          sealed.map((_, i) => (i < 6 ? Date.now() - 1000 : FAR_FUTURE)),
        );
        const key = generateNoteKey('ed25519', 'test.example/log');
        const signer = createNoteSigner({
          keyType: 'ed25519',
          name: key.name,
          seed: key.seed,
          clock: systemClock,
        });
        const note = await signCheckpoint(
          { origin: key.name, treeSize: head.treeSize, rootHash: head.rootHash, extensionLines: [] },
          [signer],
        );
        await store.saveCheckpoint({
          treeSize: head.treeSize,
          rootHash: head.rootHash,
          note,
          signedAtMs: Date.now(),
        });
        const kept: StoredAuditRecord[] = [];
        const archive = {
          keep: (records: readonly StoredAuditRecord[]) => (kept.push(...records), Promise.resolve()),
        };
        // A pruner that claims it is later than it is: the database still refuses.
        await assert.rejects(pruneExpiredRecords(store, archive, FAR_FUTURE + 1));
        assert.equal((await store.readRecord(7))?.canonical !== null, true);
        kept.length = 0;
        assert.deepEqual(await pruneExpiredRecords(store, archive, Date.now()), { archived: 6 });
        assert.deepEqual(
          kept.map((r) => r.index),
          [0, 1, 2, 3, 4, 5],
        );
        assert.equal((await store.readRecord(3))?.canonical, null);
        const report = await verifyLog(storeLogSource(store), [parseVerifierKey(key.verifierKey)]);
        assert.equal(report.ok, true, report.problem?.reason);
        assert.equal(report.entriesChecked, 10);
        assert.equal(report.recordsChecked, 4);
      } finally {
        await dispose();
      }
    });

    test('a tenant query returns only that tenant’s records, filtered and paginated', async () => {
      const { db, dispose } = await open();
      try {
        const store = new SqlAuditLogStore(db);
        const records = [
          auditRecord({ tenantId: 'a', action: 's3:GetObject', timeMs: 1000 }),
          auditRecord({ tenantId: 'b', action: 's3:GetObject', timeMs: 1001 }),
          auditRecord({ tenantId: 'a', action: 's3:PutObject', timeMs: 1002, result: 'denied' }),
          auditRecord({
            tenantId: 'a',
            action: 's3:PutObject',
            timeMs: 1003,
            resource: 'arn:aws:s3:::other/x',
          }),
        ].map((r) => sealRecord(r));
        await store.append(
          records,
          records.map(() => FAR_FUTURE),
        );
        const all = { tenantId: 'a', fromMs: 0, toMs: 5000, afterIndex: -1, limit: 10 };
        assert.deepEqual(
          (await store.readRecords(all)).map((r) => r.index),
          [0, 2, 3],
        );
        assert.deepEqual(
          (await store.readRecords({ ...all, action: 's3:PutObject' })).map((r) => r.index),
          [2, 3],
        );
        assert.deepEqual(
          (await store.readRecords({ ...all, result: 'denied' })).map((r) => r.index),
          [2],
        );
        assert.deepEqual(
          (await store.readRecords({ ...all, resourcePrefix: 'arn:aws:s3:::photos/' })).map((r) => r.index),
          [0, 2],
        );
        assert.deepEqual(
          (await store.readRecords({ ...all, limit: 1, afterIndex: 0 })).map((r) => r.index),
          [2],
        );
        assert.deepEqual(
          (await store.readRecords({ ...all, fromMs: 1003 })).map((r) => r.index),
          [3],
        );
      } finally {
        await dispose();
      }
    });
    test('a journaled record is acknowledged before its transaction and reaches the log in order', async () => {
      const { db, dispose } = await open();
      const directory = mkdtempSync(join(tmpdir(), 'sovra-journal-'));
      try {
        const store = new SqlAuditLogStore(db);
        const log = journaledLog(store, directory, 50);
        assert.equal(await log.open(), 0);
        await Promise.all(
          Array.from({ length: 230 }, (_, i) => log.record(auditRecord({ requestId: `j${i}` }))),
        );
        await log.flush();
        const head = await store.head();
        assert.equal(head.treeSize, 230);
        const stored = await store.readEntries(0, 230);
        assert.deepEqual(
          stored.map((entry) => requestIdOf(entry)),
          Array.from({ length: 230 }, (_, i) => `j${i}`),
        );
        await log.close();
        // Every segment is in the log, so none is left on disk.
        assert.deepEqual(segmentFiles(directory), []);
      } finally {
        removeDir(directory);
        await dispose();
      }
    });

    test('after a crash the journal appends exactly what the log lacks: nothing twice, a torn tail dropped', async () => {
      const { db, dispose } = await open();
      const directory = mkdtempSync(join(tmpdir(), 'sovra-journal-'));
      try {
        const store = new SqlAuditLogStore(db);
        // A store that is down: the journaled records stay, acknowledged, as after kill -9.
        const down = new Proxy<AuditLogStore>(store, {
          get: (target, property) => {
            if (property === 'append') return () => Promise.reject(new Error('database down'));
            const value: unknown = Reflect.get(target, property);
            return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
          },
        });
        const crashed = journaledLog(down, directory, 10);
        await crashed.open();
        for (let i = 0; i < 25; i += 1) await crashed.record(auditRecord({ requestId: `c${i}` }));
        await crashed.close();
        assert.equal((await store.head()).treeSize, 0);
        // Segment 0 reached the log but its file stayed (a crash between commit and unlink).
        const journal = new FileAuditJournal({ directory, maxRecordsPerSegment: 10 });
        const [first] = journal.resume(-1);
        await store.append(
          first!.records.map((r) => r.sealed),
          first!.records.map((r) => r.retainUntilMs),
          { journalId: journal.id, segment: first!.segment },
        );
        journal.close();
        // The last entry was torn by a power loss mid-write.
        const last = segmentFiles(directory).at(-1)!;
        truncateSync(join(directory, last), statSync(join(directory, last)).size - 3);
        appendFileSync(join(directory, 'segment-9999999999999999.log.tmp'), 'not a segment');

        const restarted = journaledLog(store, directory, 10);
        assert.equal(await restarted.open(), 14);
        await restarted.record(auditRecord({ requestId: 'after' }));
        await restarted.close();
        const ids = (await store.readEntries(0, 100)).map((entry) => requestIdOf(entry));
        assert.deepEqual(ids, [...Array.from({ length: 24 }, (_, i) => `c${i}`), 'after']);
        assert.deepEqual(segmentFiles(directory), []);
        assert.equal((await store.appliedJournalSegment(journal.id)) > first!.segment, true);
      } finally {
        removeDir(directory);
        await dispose();
      }
    });
  });
}

function journaledLog(store: AuditLogStore, directory: string, maxRecordsPerSegment: number): AuditLog {
  return new AuditLog({
    store,
    clock: systemClock,
    retention: DEFAULT_RETENTION_DAYS,
    onError: () => {},
    journal: new FileAuditJournal({ directory, maxRecordsPerSegment }),
  });
}

function segmentFiles(directory: string): string[] {
  return readdirSync(directory)
    .filter((name) => /^segment-\d{16}\.log$/.test(name))
    .sort();
}

function requestIdOf(entry: StoredAuditRecord): string {
  return (JSON.parse(entry.canonical!.toString('utf8')) as AuditRecord).requestId ?? '';
}
