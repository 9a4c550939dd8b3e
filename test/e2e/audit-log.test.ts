import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadBucketCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { AuditClient } from '../../src/cli/audit-client.ts';
import { verifyDisclosed } from '../../src/cli/audit.ts';
import type { DisclosedRecord } from '../../src/domain/audit/audit-reader.ts';
import { parseCanonicalRecord, type AuditRecord } from '../../src/domain/audit/records.ts';
import { openCheckpoint } from '../../src/domain/audit/tlog/checkpoint.ts';
import { CompactRange } from '../../src/domain/audit/tlog/compact-range.ts';
import { parseEntryBundle } from '../../src/domain/audit/tlog/entry-bundle.ts';
import { parseVerifierKey } from '../../src/domain/audit/tlog/note-keys.ts';
import { formatEntryBundlePath } from '../../src/domain/audit/tlog/tile-paths.ts';
import { createTestSchema } from '../helpers/postgres.ts';
import {
  removeDir,
  startSovra,
  TEST_REGION,
  type MetadataBackend,
  type SovraProcess,
} from '../helpers/sovra-process.ts';
import { sovraCli } from '../helpers/unsealed-sovra.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the served checkpoint covers at least `size` entries. */
async function checkpointCovering(client: AuditClient, size: number): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const note = await client.checkpoint();
      const treeSize = Number(note.split('\n')[1]);
      if (treeSize >= size) return note;
    } catch {
      // No checkpoint yet.
    }
    if (Date.now() > deadline) throw new Error(`no checkpoint covering ${size} entries`);
    await sleep(200);
  }
}

function writeCredentials(sovra: SovraProcess): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sovra-creds-')), 'credentials.json');
  writeFileSync(path, JSON.stringify(sovra.credentials), { mode: 0o600 });
  return path;
}

function defineAuditSuite(backend: MetadataBackend): void {
  describe(`the verifiable audit log on ${backend}`, () => {
    let sovra: SovraProcess;
    let s3: S3Client;
    let audit: AuditClient;
    let schema: Awaited<ReturnType<typeof createTestSchema>> | null = null;
    const start = async (dataDir?: string) => {
      sovra = await startSovra({
        metadata: backend,
        ...(dataDir === undefined ? {} : { dataDir }),
        ...(schema === null ? {} : { postgresSchema: schema.schema, postgresUrl: schema.connectionString }),
      });
      s3 = sovra.client();
      audit = new AuditClient(sovra.endpoint, sovra.credentials, TEST_REGION);
    };

    before(async () => {
      if (backend === 'postgres') schema = await createTestSchema();
      await start();
    });
    after(async () => {
      s3.destroy();
      await sovra.stop();
      removeDir(sovra.dataDir);
      await schema?.drop();
    });

    it('requests and denials are recorded; checkpoints carry Ed25519 and ML-DSA-65 signatures by the published keys', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'audited' }));
      const put = await s3.send(
        new PutObjectCommand({ Bucket: 'audited', Key: 'report.pdf', Body: 'state data' }),
      );
      await s3.send(new GetObjectCommand({ Bucket: 'audited', Key: 'report.pdf' }));
      const intruder = new S3Client({
        endpoint: sovra.endpoint,
        region: TEST_REGION,
        forcePathStyle: true,
        credentials: {
          accessKeyId: sovra.credentials.accessKeyId,
          secretAccessKey: 'wrong-secret-wrong-secret',
        },
      });
      await assert.rejects(intruder.send(new GetObjectCommand({ Bucket: 'audited', Key: 'report.pdf' })));
      intruder.destroy();

      const vkeys = await new AuditClient(sovra.endpoint, null, TEST_REGION).verifierKeys();
      assert.equal(vkeys.length, 2, 'Ed25519 and ML-DSA-65 verifier keys are public');
      const verifiers = vkeys.map(parseVerifierKey);
      assert.deepEqual(verifiers.map((v) => v.keyType).sort(), ['ed25519', 'ml-dsa-65']);
      // Key-use records arrive in batches a few milliseconds after the use.
      let records: (DisclosedRecord & { parsed: AuditRecord })[] = [];
      for (let attempt = 0; attempt < 50 && !records.some((r) => r.parsed.kind === 'key-use'); attempt += 1) {
        if (attempt > 0) await sleep(100);
        const page = await audit.records({ limit: '1000' });
        records = page.records.map((r) => ({
          ...r,
          parsed: parseCanonicalRecord(Buffer.from(r.record!, 'utf8')),
        }));
      }
      const putRecord = records.find((r) => r.parsed.requestId === put.$metadata.requestId);
      assert.ok(putRecord, 'the acknowledged PUT is in its tenant’s records');
      assert.equal(putRecord.parsed.action, 's3:PutObject');
      assert.equal(putRecord.parsed.resource, 'arn:aws:s3:::audited/report.pdf');
      assert.equal(putRecord.parsed.result, 'success');
      assert.equal(putRecord.parsed.classification, 'PUBLIC', 'the record carries the data’s label');
      assert.equal(putRecord.parsed.principalId !== null, true);
      const denied = records.find((r) => r.parsed.kind === 'authorization-denied');
      assert.ok(denied, 'the wrong signature is recorded as a denial');
      assert.equal(denied.parsed.errorCode, 'SignatureDoesNotMatch');
      const keyUse = records.find((r) => r.parsed.kind === 'key-use');
      assert.ok(keyUse, 'encrypting the object used a KMS key, recorded with its justification');
      assert.equal(keyUse.parsed.justification, 'CUSTOMER_INITIATED_ACCESS');
      assert.equal(keyUse.parsed.result, 'success');
      assert.equal(JSON.stringify(records).includes('wrong-secret'), false, 'no secret in records');
      assert.equal(JSON.stringify(records).includes(sovra.credentials.secretAccessKey), false);

      const note = await checkpointCovering(audit, putRecord.leafIndex + 1);
      const opened = openCheckpoint(note, verifiers);
      assert.deepEqual(opened.note.verifiedSignatures.map((s) => s.keyType).sort(), ['ed25519', 'ml-dsa-65']);
      // A verifier that knows only the Ed25519 key ignores the ML-DSA-65 line, as signed-note allows.
      const ed25519Only = verifiers.filter((v) => v.keyType === 'ed25519');
      assert.equal(openCheckpoint(note, ed25519Only).note.unverifiedSignatures.length, 1);
    });

    it('a tenant proves each of its records is in the signed log (record + salt → leaf → inclusion proof → checkpoint)', async () => {
      const verifiers = (await audit.verifierKeys()).map(parseVerifierKey);
      const head = await audit.records({ limit: '1000' });
      await checkpointCovering(audit, head.records.at(-1)!.leafIndex + 1);
      const page = await audit.records({ proofs: 'true', limit: '1000' });
      const covered = Number(page.checkpoint!.split('\n')[1]);
      let inLog = 0;
      for (const record of page.records) {
        // Reading records is itself recorded: the latest reads may not be checkpointed yet.
        const expected = record.leafIndex < covered ? 'in-log' : 'not-yet-checkpointed';
        assert.equal(verifyDisclosed(record, page.checkpoint, verifiers), expected);
        if (expected === 'in-log') inLog += 1;
      }
      assert.ok(inLog >= 4);
      // A record altered after disclosure no longer matches its leaf.
      const forged = { ...page.records[0]!, record: page.records[0]!.record!.replace('success', 'failure') };
      assert.throws(() => verifyDisclosed(forged, page.checkpoint, verifiers));
    });

    it('the served tiles (checkpoint, entry bundles) rebuild the signed root; tiles need an authorized reader', async () => {
      const note = await audit.checkpoint();
      const { checkpoint } = openCheckpoint(note, (await audit.verifierKeys()).map(parseVerifierKey));
      const range = new CompactRange();
      for (let tile = 0; tile * 256 < checkpoint.treeSize; tile += 1) {
        const width = Math.min(256, checkpoint.treeSize - tile * 256);
        for (const entry of parseEntryBundle(await audit.tile(formatEntryBundlePath(tile, width)), width)) {
          assert.equal(entry.length, 33, 'entries are commitments, not records');
          range.appendEntry(entry);
        }
      }
      assert.deepEqual(range.rootHash(), checkpoint.rootHash);
      const anonymous = await fetch(`${sovra.endpoint}/_sovra/audit/log/checkpoint`);
      assert.equal(anonymous.status, 403);
    });

    it('an acknowledged request’s record survives kill -9 of the server', async () => {
      const acknowledged: string[] = [];
      for (let i = 0; i < 5; i += 1) {
        const put = await s3.send(new PutObjectCommand({ Bucket: 'audited', Key: `crash-${i}`, Body: 'x' }));
        acknowledged.push(put.$metadata.requestId!);
      }
      const dataDir = sovra.dataDir;
      s3.destroy();
      await sovra.kill();
      await start(dataDir);
      const page = await audit.records({ limit: '1000', action: 's3:PutObject' });
      const recorded = new Set(
        page.records.map((r) => parseCanonicalRecord(Buffer.from(r.record!, 'utf8')).requestId),
      );
      for (const requestId of acknowledged)
        assert.ok(recorded.has(requestId), `record of ${requestId} survived`);
    });

    it('every bucket placement is a residency decision in the tenant’s view: pinned to the served region and jurisdiction, or refused', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'placed-here' }));
      await assert.rejects(
        s3.send(
          new CreateBucketCommand({
            Bucket: 'placed-abroad',
            CreateBucketConfiguration: { LocationConstraint: 'us-west-2' },
          }),
        ),
        (error: Error) => error.name === 'InvalidLocationConstraint',
      );
      const page = await audit.records({ limit: '1000', action: 'sovra:PlaceBucket' });
      const decisions = page.records.map((r) => parseCanonicalRecord(Buffer.from(r.record!, 'utf8')));
      const placed = decisions.find((d) => d.resource === 'arn:aws:s3:::placed-here');
      const refused = decisions.find((d) => d.resource === 'arn:aws:s3:::placed-abroad');
      assert.equal(placed?.kind, 'residency-decision');
      assert.equal(placed.result, 'success');
      // The test servers name no home jurisdiction (--home-jurisdiction): it is 'unknown'.
      assert.deepEqual(placed.details, {
        jurisdiction: 'unknown',
        region: TEST_REGION,
        requestedRegion: null,
      });
      assert.equal(placed.classification, null);
      assert.equal(refused?.kind, 'residency-decision');
      assert.equal(refused.result, 'denied');
      assert.equal(refused.errorCode, 'InvalidLocationConstraint');
      assert.equal(refused.details.requestedRegion, 'us-west-2');
    });

    it('sovra audit verify checks the whole log, from the database and from the served tiles', async () => {
      const head = await audit.records({ limit: '1000' });
      await checkpointCovering(audit, head.records.at(-1)!.leafIndex + 1);
      const credentials = writeCredentials(sovra);
      const fromTiles = JSON.parse(
        await sovraCli(['audit', 'verify', '--from-tiles', sovra.endpoint, '--credentials', credentials]),
      ) as { ok: boolean; entriesChecked: number };
      assert.equal(fromTiles.ok, true);
      assert.ok(fromTiles.entriesChecked > 5);
      const storeArgs =
        backend === 'sqlite'
          ? ['--data-dir', sovra.dataDir]
          : [
              '--metadata-backend',
              'postgres',
              '--postgres-url',
              schema!.connectionString,
              '--postgres-schema',
              schema!.schema,
            ];
      const fromStore = JSON.parse(await sovraCli(['audit', 'verify', ...storeArgs])) as {
        ok: boolean;
        recordsChecked: number;
        checkpointsChecked: number;
      };
      assert.equal(fromStore.ok, true);
      assert.ok(fromStore.recordsChecked > 5);
      assert.ok(fromStore.checkpointsChecked >= 1);
    });
  });
}

defineAuditSuite('sqlite');
defineAuditSuite('postgres');

describe('sovra audit verify detects and locates tampering (SQLite, triggers dropped by an attacker)', () => {
  let pristine: string;

  before(async () => {
    const sovra = await startSovra();
    const s3 = sovra.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'evidence' }));
    for (let i = 0; i < 40; i += 1)
      await s3.send(new PutObjectCommand({ Bucket: 'evidence', Key: `k${i}`, Body: 'x' }));
    s3.destroy();
    await sovra.stop(); // the last checkpoint is signed at shutdown
    pristine = sovra.dataDir;
  });
  after(() => removeDir(pristine));

  /** A copy of the data directory altered by `attack`, then verified. */
  async function verifyAltered(
    attack: (db: DatabaseSync) => void,
  ): Promise<{ ok: boolean; problem: { index: number | null; reason: string } | null }> {
    const copy = mkdtempSync(join(tmpdir(), 'sovra-tampered-'));
    cpSync(pristine, copy, { recursive: true });
    const db = new DatabaseSync(join(copy, 'metadata.sqlite'));
    for (const trigger of [
      'audit_records_no_delete',
      'audit_records_archive_only',
      'audit_tiles_no_delete',
      'audit_tiles_grow_only',
    ]) {
      db.exec(`DROP TRIGGER ${trigger}`);
    }
    attack(db);
    db.close();
    try {
      return JSON.parse(await sovraCli(['audit', 'verify', '--data-dir', copy])) as never;
    } catch (error) {
      // Exit status 1: the report is still on stdout.
      return JSON.parse((error as { stdout: string }).stdout) as never;
    } finally {
      removeDir(copy);
    }
  }

  it('the untouched log verifies', async () => {
    assert.equal((await verifyAltered(() => {})).ok, true);
  });

  it('one flipped byte in a record is named by its index', async () => {
    const report = await verifyAltered((db) => {
      const row = db.prepare('SELECT record FROM audit_records WHERE leaf_index = 17').get() as {
        record: Uint8Array;
      };
      const record = Buffer.from(row.record);
      record[40] = record[40]! ^ 0x01;
      db.prepare('UPDATE audit_records SET record = ? WHERE leaf_index = 17').run(record);
    });
    assert.equal(report.ok, false);
    assert.equal(report.problem?.index, 17);
  });

  it('one deleted entry is named by its index', async () => {
    const report = await verifyAltered((db) => db.exec('DELETE FROM audit_records WHERE leaf_index = 23'));
    assert.equal(report.ok, false);
    assert.equal(report.problem?.index, 23);
  });

  it('two swapped entries are detected at the first of them', async () => {
    const report = await verifyAltered((db) => {
      db.exec('UPDATE audit_records SET leaf_index = 1000000 WHERE leaf_index = 9');
      db.exec('UPDATE audit_records SET leaf_index = 9 WHERE leaf_index = 30');
      db.exec('UPDATE audit_records SET leaf_index = 30 WHERE leaf_index = 1000000');
    });
    assert.equal(report.ok, false);
    assert.equal(report.problem?.index, 9);
  });

  it('a leaf rewritten together with its record is caught by the tree’s hashes', async () => {
    const report = await verifyAltered((db) => {
      const other = db
        .prepare('SELECT leaf, record, salt FROM audit_records WHERE leaf_index = 5')
        .get() as Record<string, Uint8Array>;
      db.prepare('UPDATE audit_records SET leaf = ?, record = ?, salt = ? WHERE leaf_index = 12').run(
        other.leaf!,
        other.record!,
        other.salt!,
      );
    });
    assert.equal(report.ok, false);
    assert.equal(report.problem?.index, 12);
  });

  it('a truncated log is named at the first missing entry', async () => {
    const report = await verifyAltered((db) => db.exec('DELETE FROM audit_records WHERE leaf_index >= 35'));
    assert.equal(report.ok, false);
    assert.equal(report.problem?.index, 35);
  });
});

describe('witnesses cosign checkpoints (sovra audit witness-key, sovra audit cosign)', () => {
  let sovra: SovraProcess;
  let work: string;
  let witnessVkey: string;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'sovra-witness-'));
    witnessVkey = (
      await sovraCli(['audit', 'witness-key', '--name', 'witness.example/w1', '--out', join(work, 'w1.key')])
    ).trim();
    writeFileSync(join(work, 'witnesses'), `# the regulator's witness\n${witnessVkey}\n`);
    sovra = await startSovra({ extraArgs: ['--audit-witness-keys', join(work, 'witnesses')] });
  });
  after(async () => {
    await sovra.stop();
    removeDir(sovra.dataDir);
    removeDir(work);
  });

  it('a cosignature checked for consistency is carried by the served checkpoint; a stranger’s is refused', async () => {
    const s3 = sovra.client();
    const audit = new AuditClient(sovra.endpoint, sovra.credentials, TEST_REGION);
    const credentials = writeCredentials(sovra);
    const cosign = () =>
      sovraCli([
        'audit',
        'cosign',
        '--endpoint',
        sovra.endpoint,
        '--credentials',
        credentials,
        '--witness-key',
        join(work, 'w1.key'),
        '--state',
        join(work, 'w1.state'),
      ]);
    await s3.send(new CreateBucketCommand({ Bucket: 'witnessed' }));
    await checkpointCovering(audit, 2);
    // The witness's own requests grow the log, so a newer checkpoint (not yet cosigned) can be
    // signed before the test reads the served one: cosign again until the read catches it.
    const witness = parseVerifierKey(witnessVkey);
    let first = { treeSize: 0, cosigned: false };
    let servedNote = '';
    for (let attempt = 0; attempt < 5; attempt += 1) {
      first = JSON.parse(await cosign()) as { treeSize: number; cosigned: boolean };
      servedNote = await audit.checkpoint();
      if (Number(servedNote.split('\n')[1]) === first.treeSize) break;
    }
    assert.equal(first.cosigned, true);
    const served = openCheckpoint(servedNote, [witness]);
    assert.equal(served.checkpoint.treeSize, first.treeSize);
    assert.equal(served.note.verifiedSignatures[0]!.keyType, 'cosignature/v1');

    // The log grows; the witness checks the new checkpoint is consistent with the one it cosigned.
    for (let i = 0; i < 5; i += 1)
      await s3.send(new PutObjectCommand({ Bucket: 'witnessed', Key: `k${i}`, Body: 'x' }));
    await checkpointCovering(audit, first.treeSize + 5);
    const second = JSON.parse(await cosign()) as { treeSize: number; cosigned: boolean };
    assert.ok(second.treeSize > first.treeSize);
    assert.equal(second.cosigned, true);

    // A cosignature by a key the operator did not configure is refused.
    await sovraCli([
      'audit',
      'witness-key',
      '--name',
      'stranger.example',
      '--out',
      join(work, 'stranger.key'),
    ]);
    await assert.rejects(
      sovraCli([
        'audit',
        'cosign',
        '--endpoint',
        sovra.endpoint,
        '--credentials',
        credentials,
        '--witness-key',
        join(work, 'stranger.key'),
        '--state',
        join(work, 'stranger.state'),
      ]),
      /configured witness|does not verify/,
    );
    s3.destroy();
  });
});

describe('two gateways on one PostgreSQL database keep one audit log with one sequence', () => {
  it('requests through both gateways land in one gap-free, verifiable log', async () => {
    const schema = await createTestSchema();
    const options = {
      metadata: 'postgres' as const,
      postgresSchema: schema.schema,
      postgresUrl: schema.connectionString,
    };
    const first = await startSovra(options);
    // The same data directory stands for the shared blob backend and key files of a deployment.
    const second = await startSovra({ ...options, dataDir: first.dataDir });
    try {
      const clients = [first.client(), second.client({ credentials: first.credentials })];
      await clients[0]!.send(new CreateBucketCommand({ Bucket: 'shared-log' }));
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          clients[i % 2]!.send(new HeadBucketCommand({ Bucket: 'shared-log' })),
        ),
      );
      for (const client of clients) client.destroy();
      await second.stop();
      await first.stop();
      const report = JSON.parse(
        await sovraCli([
          'audit',
          'verify',
          '--metadata-backend',
          'postgres',
          '--postgres-url',
          schema.connectionString,
          '--postgres-schema',
          schema.schema,
        ]),
      ) as { ok: boolean; entriesChecked: number; recordsChecked: number };
      assert.equal(report.ok, true);
      assert.ok(report.entriesChecked >= 41, `${report.entriesChecked} entries`);
    } finally {
      removeDir(first.dataDir);
      await schema.drop();
    }
  });
});
