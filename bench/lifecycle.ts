import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskBlobStore } from '../src/adapters/blobs/disk-blob-store.ts';
import type { SqlMetadataStore } from '../src/adapters/sql/metadata-store.ts';
import { openSqliteMetadataStore } from '../src/adapters/sqlite/sqlite-metadata-store.ts';
import { encodeLifecycleDocument, type LifecycleRule } from '../src/domain/storage/lifecycle.ts';
import { LifecycleRunner } from '../src/domain/storage/lifecycle-runner.ts';
import { MultipartUploads } from '../src/domain/storage/multipart-uploads.ts';
import { ObjectData } from '../src/domain/storage/object-data.ts';
import { ObjectStore } from '../src/domain/storage/object-store.ts';
import { OBJECT_RECORD_FORMAT, type NewObjectVersion } from '../src/domain/storage/types.ts';
import { systemClock } from '../src/platform/clock.ts';
import { randomHexId } from '../src/platform/ids.ts';
import { LIMITS } from '../src/platform/limits.ts';
import { removeDir } from '../test/helpers/sovra-process.ts';
import { formatTable } from './harness.ts';

const BUCKET = 'lifecycle';
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Lifecycle pass throughput on a real SQLite store: objects examined per second over `objects`
 * objects, next to the baseline of walking the same versions with the listing the pass reads
 * (pages of LIMITS.lifecycleBatchSize, nothing decided or done). One pass finds nothing due; the
 * other also expires a tenth of the objects, each deletion its own transaction with its record.
 */
export async function benchLifecycle(objects: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'sovra-bench-lifecycle-'));
  const metadata = openSqliteMetadataStore({ path: join(dir, 'metadata.sqlite'), clock: systemClock });
  try {
    await metadata.migrate();
    const expiring = Math.floor(objects / 10);
    await populate(metadata, objects, expiring);
    const data = new ObjectData(new DiskBlobStore({ root: dir }));
    const store = new ObjectStore({ metadata, data, clock: systemClock, region: 'us-east-1' });
    const uploads = new MultipartUploads({ metadata, data, objects: store, clock: systemClock });
    const quiet = { info: () => undefined, warn: () => undefined };
    const runner = new LifecycleRunner({ metadata, objects: store, uploads, clock: systemClock, log: quiet });
    const configure = (rules: LifecycleRule[]) =>
      store.putBucketConfig(BUCKET, 'lifecycle', encodeLifecycleDocument({ rules }));

    const baselineS = await walkVersions(metadata);
    await configure([rule('decade', '', 3650)]);
    const idle = await runner.runPass();
    await configure([rule('decade', '', 3650), rule('expire', 'expire/', 1)]);
    const busy = await runner.runPass();

    const rows: (string | number)[][] = [
      ['SQLite, one pass', 'objects examined', 'deleted', 's', 'examined/s'],
      ['baseline: listVersions walk (same pages)', objects, 0, baselineS, objects / baselineS],
      [
        'lifecycle pass, nothing due',
        idle.versionsExamined,
        0,
        idle.durationMs / 1000,
        perSecond(idle.versionsExamined, idle.durationMs),
      ],
      [
        'lifecycle pass, 10% expire',
        busy.versionsExamined,
        busy.actions.DeleteCurrentVersion,
        busy.durationMs / 1000,
        perSecond(busy.versionsExamined, busy.durationMs),
      ],
    ];
    return `lifecycle (${objects.toLocaleString('en-US')} objects, batch ${LIMITS.lifecycleBatchSize})\n${formatTable(rows)}\n`;
  } finally {
    await metadata.close();
    removeDir(dir);
  }
}

function rule(id: string, prefix: string, days: number): LifecycleRule {
  return {
    id,
    status: 'Enabled',
    filter: { kind: 'prefix', prefix },
    expiration: { kind: 'days', days },
    noncurrentVersionExpiration: null,
    abortIncompleteMultipartUpload: null,
    transitions: [],
    noncurrentVersionTransitions: [],
  };
}

function perSecond(count: number, durationMs: number): number {
  return durationMs === 0 ? count : (count * 1000) / durationMs;
}

/** `objects` unversioned objects; the `expiring` ones under expire/ were written a month ago. */
async function populate(store: SqlMetadataStore, objects: number, expiring: number): Promise<void> {
  await store.transaction((tx) =>
    tx.insertBucket({
      name: BUCKET,
      tenantId: 'root',
      region: 'us-east-1',
      createdAt: new Date(),
      versioning: 'Unversioned',
      objectLockEnabled: false,
      classification: null,
      jurisdiction: null,
      tier: null,
    }),
  );
  const now = Date.now();
  const batch: NewObjectVersion[] = [];
  for (let i = 0; i < objects; i++) {
    const old = i < expiring;
    batch.push(
      version(
        old ? `expire/${String(i).padStart(8, '0')}` : `records/${String(i).padStart(8, '0')}`,
        old ? now - 30 * DAY_MS : now,
      ),
    );
    if (batch.length === 10_000 || i === objects - 1) {
      await store.importLatestVersions(batch);
      batch.length = 0;
    }
  }
}

function version(key: string, lastModifiedMs: number): NewObjectVersion {
  return {
    format: OBJECT_RECORD_FORMAT,
    bucket: BUCKET,
    key,
    versionUid: randomHexId(),
    versionId: 'null',
    isDeleteMarker: false,
    sizeBytes: 4096,
    etag: 'd41d8cd98f00b204e9800998ecf8427e',
    lastModified: new Date(lastModifiedMs),
    system: {},
    userMetadata: {},
    checksum: null,
    layout: { kind: 'inline', frameSizeLog2: LIMITS.frameSizeLog2 },
    inlineData: null,
    encryption: null,
    tags: {},
    retention: null,
    legalHold: false,
    classification: null,
    ownerTenantId: 'root',
  };
}

/** Seconds to read every version of the bucket in the pass's page size. */
async function walkVersions(store: SqlMetadataStore): Promise<number> {
  const started = performance.now();
  let keyMarker = '';
  let versionSeqMarker: number | null = null;
  for (;;) {
    const page = await store.listVersions(BUCKET, {
      prefix: '',
      delimiter: '',
      keyMarker,
      versionSeqMarker,
      maxKeys: LIMITS.lifecycleBatchSize,
    });
    const last = page.versions.at(-1);
    if (!page.isTruncated || last === undefined) break;
    keyMarker = last.key;
    versionSeqMarker = last.seq;
  }
  return (performance.now() - started) / 1000;
}
