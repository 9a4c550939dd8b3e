// `node bench/audit-tlog.ts` (or the `audit-tlog` section of `npm run bench` once registered):
// the transparency-log core in memory. BENCH_TLOG_ENTRIES (default 10,000,000) sets the tree
// size; every figure sits next to a ceiling measured in the same run.
import { hash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqlAuditLogStore } from '../src/adapters/sql/audit-log-store.ts';
import { SqlMetadataStore } from '../src/adapters/sql/metadata-store.ts';
import { SQLITE_MIGRATIONS } from '../src/adapters/sqlite/migrations.ts';
import { SqliteDatabase } from '../src/adapters/sqlite/sqlite-database.ts';
import { PROOF_SUBTREE_CACHE_ENTRIES } from '../src/domain/audit/audit-reader.ts';
import { planAppend } from '../src/domain/audit/tlog/appender.ts';
import { signCheckpoint } from '../src/domain/audit/tlog/checkpoint.ts';
import { CompactRange } from '../src/domain/audit/tlog/compact-range.ts';
import { InMemoryTileHashStore } from '../src/domain/audit/tlog/memory-tile-store.ts';
import { generateNoteKey, parseSignerKey } from '../src/domain/audit/tlog/note-keys.ts';
import { verifyConsistencyProof, verifyInclusionProof } from '../src/domain/audit/tlog/proof-verification.ts';
import { SubtreeHashCache } from '../src/domain/audit/tlog/subtree-hash-cache.ts';
import { proveConsistency, proveInclusion, treeRootFromTiles } from '../src/domain/audit/tlog/tile-prover.ts';
import type { HashTile, TileHashReader, TileRef } from '../src/domain/audit/tlog/tiles.ts';
import { systemClock } from '../src/platform/clock.ts';
import { removeDir } from '../test/helpers/sovra-process.ts';
import { formatTable } from './harness.ts';

/** About the size of one canonical audit record. */
const ENTRY_BYTES = 256;
/** The audit log's group commit: at most this many records per append transaction. */
const APPEND_BATCH = 2_000;
const CHECKPOINT_INTERVAL_MS = 1_000;
/** Entries hashed for the SHA-256 ceiling and recomputed by the full verification. */
const SAMPLE_ENTRIES = 500_000;
const PROOFS = 1_000;
/** Generated proofs also verified (outside the timing), to show they are right. */
const PROOFS_VERIFIED = 100;
const TILE_WIDTH = 256;
/** Tiles per transaction when filling the SQLite database. */
const TILE_COPY_BATCH = 2_000;

/**
 * Appender throughput (entries hashed into an in-memory tile store, with a checkpoint —
 * root, Ed25519 and ML-DSA-65 signatures — every second), proof latency at the full tree size,
 * and full verification throughput (root recomputed from the entries).
 */
export async function runAuditTlogBench(): Promise<void> {
  const total = Number(process.env.BENCH_TLOG_ENTRIES ?? 10_000_000);
  const store = new InMemoryTileHashStore();
  const sample = Math.min(total, SAMPLE_ENTRIES);

  const ceilings = hashingCeilings(sample);
  const append = await appendAll(store, total);
  process.stdout.write(
    `${formatTable([
      [
        `audit tlog: append ${total.toLocaleString('en-US')} entries of ${ENTRY_BYTES} B`,
        'entries/s',
        's',
        'checkpoints',
        'sign ms p50',
        'sign ms max',
      ],
      [
        `appender (batches of ${APPEND_BATCH.toLocaleString('en-US')}, checkpoint each second)`,
        append.entriesPerSecond,
        append.seconds,
        append.checkpointMs.length,
        percentile(append.checkpointMs, 0.5),
        percentile(append.checkpointMs, 1),
      ],
      [
        `ceiling: SHA-256 of each entry + one node hash (first ${sample.toLocaleString('en-US')})`,
        ceilings.treeHashes,
        sample / ceilings.treeHashes,
        '',
        '',
        '',
      ],
      [
        `ceiling: SHA-256 of each entry only`,
        ceilings.entryHashes,
        sample / ceilings.entryHashes,
        '',
        '',
        '',
      ],
    ])}\n`,
  );

  const uncached = await proofLatencies(store, total, append.rootHash);
  // The same proofs again through one warm cache, as a long-running server would answer them.
  const cache = new SubtreeHashCache();
  await proofLatencies(store, total, append.rootHash, cache);
  const cached = await proofLatencies(store, total, append.rootHash, cache);
  process.stdout.write(
    `${formatTable([
      [
        `proofs at ${total.toLocaleString('en-US')} entries (in-memory tiles)`,
        'proofs',
        'p50 ms',
        'p99 ms',
        'max ms',
        'tiles read max',
      ],
      ['inclusion (random leaf, latest tree)', PROOFS, ...uncached.inclusion],
      ['consistency (random old size → latest tree)', PROOFS, ...uncached.consistency],
      ['inclusion, warm SubtreeHashCache', PROOFS, ...cached.inclusion],
      ['consistency, warm SubtreeHashCache', PROOFS, ...cached.consistency],
    ])}\n`,
  );
  await sqliteProofLatencies(store, total, append.rootHash);

  const verification = await fullVerification(store, sample);
  process.stdout.write(
    `${formatTable([
      ['full verification: root recomputed from the entries', 'entries', 'entries/s', 's'],
      [
        'leaf + interior hashing, compared with the tiles',
        sample,
        verification.entriesPerSecond,
        verification.seconds,
      ],
    ])}\n`,
  );
}

async function appendAll(store: InMemoryTileHashStore, total: number) {
  const origin = 'bench.sovra.example/audit';
  const signers = [
    parseSignerKey(generateNoteKey('ed25519', origin).signerKey, systemClock),
    parseSignerKey(generateNoteKey('ml-dsa-65', `${origin}/ml-dsa-65`).signerKey, systemClock),
  ];
  const batch = entryBatch(APPEND_BATCH);
  const checkpointMs: number[] = [];
  let size = 0;
  let rootHash: Buffer = Buffer.alloc(0);
  const started = performance.now();
  let lastCheckpoint = started;
  while (size < total) {
    const plan = await planAppend(store, size, batch.fill(size, Math.min(APPEND_BATCH, total - size)));
    await store.writeTiles(plan.tiles);
    size = plan.treeSize;
    rootHash = plan.rootHash;
    if (performance.now() - lastCheckpoint >= CHECKPOINT_INTERVAL_MS || size === total) {
      const signStarted = performance.now();
      await signCheckpoint({ origin, treeSize: size, rootHash, extensionLines: [] }, signers);
      lastCheckpoint = performance.now();
      checkpointMs.push(lastCheckpoint - signStarted);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  return { entriesPerSecond: total / seconds, seconds, checkpointMs, rootHash };
}

/**
 * Ceilings from hashing alone: one SHA-256 of each entry; and that plus one 65-byte node hash
 * per entry, the least any RFC 9162 tree needs (n leaf hashes and n − 1 interior hashes).
 */
function hashingCeilings(count: number): { entryHashes: number; treeHashes: number } {
  const batch = entryBatch(APPEND_BATCH);
  const node = Buffer.alloc(65, 1);
  let started = performance.now();
  for (let start = 0; start < count; start += APPEND_BATCH) {
    for (const entry of batch.fill(start, Math.min(APPEND_BATCH, count - start)))
      hash('sha256', entry, 'buffer');
  }
  const entryHashes = count / ((performance.now() - started) / 1000);
  started = performance.now();
  for (let start = 0; start < count; start += APPEND_BATCH) {
    for (const entry of batch.fill(start, Math.min(APPEND_BATCH, count - start))) {
      hash('sha256', entry, 'buffer');
      hash('sha256', node, 'buffer');
    }
  }
  return { entryHashes, treeHashes: count / ((performance.now() - started) / 1000) };
}

async function proofLatencies(
  store: TileHashReader,
  treeSize: number,
  rootHash: Buffer,
  cache?: SubtreeHashCache,
) {
  const options = cache === undefined ? {} : { cache };
  const reader = new CountingReader(store);
  const inclusionMs: number[] = [];
  const consistencyMs: number[] = [];
  let inclusionTiles = 0;
  let consistencyTiles = 0;
  for (let i = 0; i < PROOFS; i++) {
    const leafIndex = Math.floor(Math.random() * treeSize);
    reader.tilesInLastRead = 0;
    let started = performance.now();
    const inclusion = await proveInclusion(reader, treeSize, leafIndex, options);
    inclusionMs.push(performance.now() - started);
    inclusionTiles = Math.max(inclusionTiles, reader.tilesInLastRead);

    const oldSize = 1 + Math.floor(Math.random() * (treeSize - 1));
    reader.tilesInLastRead = 0;
    started = performance.now();
    const consistency = await proveConsistency(reader, oldSize, treeSize, options);
    consistencyMs.push(performance.now() - started);
    consistencyTiles = Math.max(consistencyTiles, reader.tilesInLastRead);

    if (i < PROOFS_VERIFIED) {
      const entries = entryBatch(1).fill(leafIndex, 1);
      const leafHash = hash('sha256', Buffer.concat([Buffer.from([0]), entries[0]!]), 'buffer');
      verifyInclusionProof({ leafIndex, treeSize, leafHash, proof: inclusion, rootHash });
      const oldRootHash = await treeRootFromTiles(store, oldSize);
      verifyConsistencyProof({
        oldSize,
        newSize: treeSize,
        oldRootHash,
        newRootHash: rootHash,
        proof: consistency,
      });
    }
  }
  const figures = (ms: number[], tiles: number) => [
    percentile(ms, 0.5),
    percentile(ms, 0.99),
    percentile(ms, 1),
    tiles,
  ];
  return {
    inclusion: figures(inclusionMs, inclusionTiles),
    consistency: figures(consistencyMs, consistencyTiles),
  };
}

/**
 * The same proofs as the server answers them: tiles read from an SQLite metadata database (the
 * embedded default, filled here with the appender's tiles) through SqlAuditLogStore, first with
 * no cache, then through a cache of the size AuditReader keeps once it is warm.
 */
async function sqliteProofLatencies(memory: InMemoryTileHashStore, treeSize: number, rootHash: Buffer) {
  const directory = mkdtempSync(join(tmpdir(), 'sovra-bench-tlog-'));
  const db = new SqliteDatabase(join(directory, 'metadata.sqlite'));
  try {
    await new SqlMetadataStore(db, { migrations: SQLITE_MIGRATIONS, clock: systemClock }).migrate();
    const copyStarted = performance.now();
    await copyTiles(memory, db, treeSize);
    const copySeconds = (performance.now() - copyStarted) / 1000;
    const store = new SqlAuditLogStore(db).tiles();
    const uncached = await proofLatencies(store, treeSize, rootHash);
    const cache = new SubtreeHashCache(PROOF_SUBTREE_CACHE_ENTRIES);
    await proofLatencies(store, treeSize, rootHash, cache);
    const cached = await proofLatencies(store, treeSize, rootHash, cache);
    process.stdout.write(
      `${formatTable([
        [
          `proofs at ${treeSize.toLocaleString('en-US')} entries (SQLite tiles, copied in ${copySeconds.toFixed(1)} s)`,
          'proofs',
          'p50 ms',
          'p99 ms',
          'max ms',
          'tiles read max',
        ],
        ['inclusion, no cache', PROOFS, ...uncached.inclusion],
        ['consistency, no cache', PROOFS, ...uncached.consistency],
        [`inclusion, AuditReader's warm cache`, PROOFS, ...cached.inclusion],
        [`consistency, AuditReader's warm cache`, PROOFS, ...cached.consistency],
      ])}\n`,
    );
  } finally {
    await db.close();
    removeDir(directory);
  }
}

/** Every tile of the tree of `treeSize` leaves, full and partial, level by level. */
async function copyTiles(memory: InMemoryTileHashStore, db: SqliteDatabase, treeSize: number) {
  const refs: TileRef[] = [];
  for (let level = 0; TILE_WIDTH ** level <= treeSize; level++) {
    const hashesAtLevel = Math.floor(treeSize / TILE_WIDTH ** level);
    for (let index = 0; index * TILE_WIDTH < hashesAtLevel; index++) refs.push({ level, index });
  }
  for (let start = 0; start < refs.length; start += TILE_COPY_BATCH) {
    const tiles = await memory.readTiles(refs.slice(start, start + TILE_COPY_BATCH));
    await db.transaction(async (session) => {
      for (const tile of tiles) {
        await session.execute('INSERT INTO audit_tiles (level, tile_index, hashes) VALUES (?, ?, ?)', [
          tile!.level,
          tile!.index,
          tile!.hashes,
        ]);
      }
    });
  }
}

/** Recomputes the root of the first `count` entries as a verifier would, and checks it against the tiles. */
async function fullVerification(store: InMemoryTileHashStore, count: number) {
  const batch = entryBatch(APPEND_BATCH);
  const range = new CompactRange();
  const started = performance.now();
  for (let start = 0; start < count; start += APPEND_BATCH) {
    for (const entry of batch.fill(start, Math.min(APPEND_BATCH, count - start))) range.appendEntry(entry);
  }
  const rootHash = range.rootHash();
  const seconds = (performance.now() - started) / 1000;
  if (!rootHash.equals(await treeRootFromTiles(store, count))) {
    throw new Error('audit tlog bench: the recomputed root differs from the tiles');
  }
  return { entriesPerSecond: count / seconds, seconds };
}

/**
 * Entries of ENTRY_BYTES made unique by their index, written into one reused buffer: the bench
 * measures hashing and tiles, not the allocation of ten million buffers.
 */
function entryBatch(capacity: number) {
  const template = Buffer.alloc(
    ENTRY_BYTES,
    '{"kind":"request","action":"s3:PutObject","resource":"arn:aws:s3:::bench/',
  );
  const bytes = Buffer.alloc(capacity * ENTRY_BYTES);
  const views = Array.from({ length: capacity }, (_, i) => {
    bytes.set(template, i * ENTRY_BYTES);
    return bytes.subarray(i * ENTRY_BYTES, (i + 1) * ENTRY_BYTES);
  });
  return {
    fill(firstIndex: number, count: number): Buffer[] {
      for (let i = 0; i < count; i++) views[i]!.writeDoubleBE(firstIndex + i, ENTRY_BYTES - 8);
      return views.slice(0, count);
    },
  };
}

/** A reader that counts the tiles each proof reads. */
class CountingReader implements TileHashReader {
  readonly #inner: TileHashReader;
  tilesInLastRead = 0;
  constructor(inner: TileHashReader) {
    this.#inner = inner;
  }
  readTiles(refs: readonly TileRef[]): Promise<readonly (HashTile | undefined)[]> {
    this.tilesInLastRead += refs.length;
    return this.#inner.readTiles(refs);
  }
}

function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? 0;
}

if (import.meta.main) await runAuditTlogBench();
