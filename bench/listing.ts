import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { openPostgresMetadataStore } from '../src/adapters/postgres/postgres-metadata-store.ts';
import type { SqlMetadataStore } from '../src/adapters/sql/metadata-store.ts';
import { openSqliteMetadataStore } from '../src/adapters/sqlite/sqlite-metadata-store.ts';
import type { NewObjectVersion } from '../src/domain/storage/types.ts';
import { OBJECT_RECORD_FORMAT } from '../src/domain/storage/types.ts';
import { systemClock } from '../src/platform/clock.ts';
import { createTestSchema } from '../test/helpers/postgres.ts';
import { removeDir, startSovra } from '../test/helpers/sovra-process.ts';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { formatTable } from './harness.ts';

const RAW_PAGE_SQL =
  'SELECT object_key, size_bytes, etag FROM object_versions WHERE bucket = $1 AND object_key > $2 AND is_latest = 1 AND is_delete_marker = 0 ORDER BY object_key LIMIT 1000';

/** The baseline: the bare indexed range query behind a page, straight through the driver. */
async function rawPageMs(
  adapter: 'sqlite' | 'postgres',
  target: string,
  schema: string | null,
  after: string,
): Promise<number> {
  const samples: number[] = [];
  const afterBytes = Buffer.from(after, 'utf8');
  if (adapter === 'sqlite') {
    const db = new DatabaseSync(target, { readOnly: true });
    const statement = db.prepare(RAW_PAGE_SQL.replace('$1', '?').replace('$2', '?'));
    for (let i = 0; i < 5; i++) {
      const started = process.hrtime.bigint();
      statement.all('million', afterBytes);
      samples.push(ms(started));
    }
    db.close();
  } else {
    const client = new pg.Client({ connectionString: target, options: `-c search_path=${schema}` });
    await client.connect();
    for (let i = 0; i < 5; i++) {
      const started = process.hrtime.bigint();
      await client.query(RAW_PAGE_SQL, ['million', afterBytes]);
      samples.push(ms(started));
    }
    await client.end();
  }
  return median(samples);
}

const PAGE = 1000;

function version(bucket: string, key: string, versionId: string): NewObjectVersion {
  return {
    format: OBJECT_RECORD_FORMAT,
    bucket,
    key,
    versionUid: versionId === 'null' ? key.padEnd(32, '0').slice(0, 32) : versionId,
    versionId,
    isDeleteMarker: false,
    sizeBytes: 4096,
    etag: 'd41d8cd98f00b204e9800998ecf8427e',
    lastModified: new Date(1_750_000_000_000),
    system: {},
    userMetadata: {},
    checksum: null,
    layout: { kind: 'inline', frameSizeLog2: 18 },
    inlineData: null,
    encryption: null,
    tags: {},
    retention: null,
    legalHold: false,
    classification: null,
    ownerTenantId: 'root',
  };
}

function keyOf(i: number): string {
  // 100 prefixes so delimiter listings have work to do; keys sort as numbers within a prefix.
  return `dept-${String(i % 100).padStart(2, '0')}/record-${String(i).padStart(8, '0')}.json`;
}

async function populate(store: SqlMetadataStore, bucket: string, keys: number): Promise<number> {
  await store.transaction((tx) =>
    tx.insertBucket({
      name: bucket,
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
  const started = process.hrtime.bigint();
  const batch = 20_000;
  for (let start = 0; start < keys; start += batch) {
    const rows: NewObjectVersion[] = [];
    for (let i = start; i < Math.min(keys, start + batch); i++) rows.push(version(bucket, keyOf(i), 'null'));
    await store.importLatestVersions(rows);
  }
  return Number(process.hrtime.bigint() - started) / 1e9;
}

function ms(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e6;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function measureListing(store: SqlMetadataStore, bucket: string, keys: number) {
  const firstPage: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = process.hrtime.bigint();
    await store.listObjects(bucket, {
      prefix: '',
      delimiter: '',
      after: keyOf(Math.floor(keys / 2)),
      maxKeys: PAGE,
    });
    firstPage.push(ms(started));
  }
  const walkStarted = process.hrtime.bigint();
  let after = '';
  let pages = 0;
  for (;;) {
    const page = await store.listObjects(bucket, { prefix: '', delimiter: '', after, maxKeys: PAGE });
    pages += 1;
    if (!page.isTruncated || page.lastReturned === null) break;
    after = page.lastReturned;
  }
  const walkS = ms(walkStarted) / 1000;
  const delimited: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = process.hrtime.bigint();
    await store.listObjects(bucket, { prefix: '', delimiter: '/', after: '', maxKeys: PAGE });
    delimited.push(ms(started));
  }
  return { firstPageMs: median(firstPage), walkS, pages, delimitedMs: median(delimited) };
}

async function measureVersions(store: SqlMetadataStore, bucket: string, versions: number) {
  await store.transaction((tx) =>
    tx.insertBucket({
      name: bucket,
      tenantId: 'root',
      region: 'us-east-1',
      createdAt: new Date(),
      versioning: 'Enabled',
      objectLockEnabled: false,
      classification: null,
      jurisdiction: null,
      tier: null,
    }),
  );
  for (let start = 0; start < versions; start += 1000) {
    await store.transaction(async (tx) => {
      for (let i = start; i < Math.min(versions, start + 1000); i++) {
        await tx.insertVersion(version(bucket, 'hot-key', i.toString(16).padStart(32, '0')));
      }
    });
  }
  const first: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = process.hrtime.bigint();
    await store.listVersions(bucket, {
      prefix: '',
      delimiter: '',
      keyMarker: '',
      versionSeqMarker: null,
      maxKeys: PAGE,
    });
    first.push(ms(started));
  }
  const walkStarted = process.hrtime.bigint();
  let marker: { key: string; seq: number } | null = null;
  for (;;) {
    const page = await store.listVersions(bucket, {
      prefix: '',
      delimiter: '',
      keyMarker: marker?.key ?? '',
      versionSeqMarker: marker?.seq ?? null,
      maxKeys: PAGE,
    });
    const last = page.versions.at(-1);
    if (!page.isTruncated || last === undefined) break;
    marker = { key: last.key, seq: last.seq };
  }
  return { firstPageMs: median(first), walkMs: ms(walkStarted) };
}

export async function benchListing(keys: number, versions: number): Promise<string> {
  const rows: (string | number)[][] = [
    [
      'adapter',
      'load s',
      'baseline: raw index page ms',
      'first page ms (1,000 keys)',
      'walk all pages s',
      'pages',
      'delimiter page ms',
      '10k-version key: first page ms',
      'walk ms',
    ],
  ];
  const dir = mkdtempSync(join(tmpdir(), 'sovra-bench-list-'));
  const sqlite = openSqliteMetadataStore({ path: join(dir, 'metadata.sqlite'), clock: systemClock });
  await sqlite.migrate();
  const pgSchema = await createTestSchema();
  const postgres = openPostgresMetadataStore({
    connectionString: pgSchema.connectionString,
    schema: pgSchema.schema,
    clock: systemClock,
  });
  await postgres.migrate();
  let httpFirstPageMs: number;
  try {
    for (const [name, store] of [
      ['SQLite', sqlite],
      ['PostgreSQL', postgres],
    ] as const) {
      const loadS = await populate(store, 'million', keys);
      const listing = await measureListing(store, 'million', keys);
      const versionsResult = await measureVersions(store, 'versions', versions);
      const after = keyOf(Math.floor(keys / 2));
      const raw =
        name === 'SQLite'
          ? await rawPageMs('sqlite', join(dir, 'metadata.sqlite'), null, after)
          : await rawPageMs('postgres', pgSchema.connectionString, pgSchema.schema, after);
      rows.push([
        name,
        loadS,
        raw,
        listing.firstPageMs,
        listing.walkS,
        listing.pages,
        listing.delimitedMs,
        versionsResult.firstPageMs,
        versionsResult.walkMs,
      ]);
    }
    await sqlite.close();
    // The same SQLite data behind the real server: a first ListObjectsV2 page over HTTP.
    const sovra = await startSovra({ dataDir: dir, extraArgs: ['--log-level', 'warn'] });
    const s3 = sovra.client();
    try {
      const samples: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = process.hrtime.bigint();
        await s3.send(
          new ListObjectsV2Command({ Bucket: 'million', StartAfter: keyOf(Math.floor(keys / 2)) }),
        );
        samples.push(ms(started));
      }
      httpFirstPageMs = median(samples);
    } finally {
      s3.destroy();
      await sovra.stop();
    }
  } finally {
    await postgres.close();
    await pgSchema.drop();
    removeDir(dir);
  }
  return [
    `## Listing (${keys.toLocaleString('en-US')} keys; one key with ${versions.toLocaleString('en-US')} versions; target: a page of 1,000 keys in ≤ 50 ms)`,
    '',
    formatTable(rows),
    '',
    `ListObjectsV2 first page over HTTP (real server, SQLite, AWS SDK client): ${httpFirstPageMs.toFixed(1)} ms`,
    '',
  ].join('\n');
}
