import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DiskBlobStore } from '../../src/adapters/blobs/disk-blob-store.ts';
import { StorageError } from '../../src/domain/storage/errors.ts';
import {
  FRAME_HEADER_BYTES,
  createFrameEncoder,
  encodedLength,
  frameContextOf,
  type FrameSuite,
} from '../../src/domain/storage/frame-codec.ts';
import { nodeFrameCiphers } from '../../src/domain/storage/node-frame-cipher.ts';
import { ObjectReader } from '../../src/domain/storage/object-reader.ts';
import type { BlobStore, BlobWriter } from '../../src/domain/storage/ports.ts';

const MiB = 1024 * 1024;

function isCode(code: string) {
  return (error: unknown) => error instanceof StorageError && error.code === code;
}

async function collectIds(store: DiskBlobStore): Promise<string[]> {
  const ids: string[] = [];
  for await (const entry of store.list()) ids.push(entry.blobId);
  return ids.sort();
}

async function writeBlob(store: DiskBlobStore, chunks: Buffer[]): Promise<BlobWriter> {
  const writer = await store.createWriter();
  for (const chunk of chunks) await writer.write(chunk);
  await writer.commit();
  return writer;
}

void describe('DiskBlobStore', () => {
  let root: string;
  let store: DiskBlobStore;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'sovra-blobs-'));
    store = new DiskBlobStore({ root });
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  void it('reads back committed bytes, whole and by range, under blobs/<aa>/<bb>/<id>', async () => {
    const bytes = randomBytes(1_000_000);
    const small = [bytes.subarray(0, 10), bytes.subarray(10, 300_000), bytes.subarray(300_000, 300_100)];
    const writer = await writeBlob(store, [...small, bytes.subarray(300_100)]);
    assert.match(writer.blobId, /^[0-9a-f]{32}$/);
    const { blobId } = writer;
    await stat(join(root, 'blobs', blobId.slice(0, 2), blobId.slice(2, 4), blobId));
    assert.equal(await store.sizeOf(blobId), bytes.length);
    assert.ok((await readRange(store, blobId, 0, bytes.length)).equals(bytes));
    assert.ok((await readRange(store, blobId, 12_345, 678_901)).equals(bytes.subarray(12_345, 678_901)));
    assert.equal((await readRange(store, blobId, 5, 5)).length, 0);
    // Past the end a read comes back short, then empty.
    assert.equal((await readRange(store, blobId, bytes.length - 10, bytes.length + 10)).length, 10);
    assert.equal((await readRange(store, blobId, bytes.length + 1, bytes.length + 10)).length, 0);
    assert.ok((await collectIds(store)).includes(blobId));
  });

  void it('gives files mode 0600 and directories mode 0700', async () => {
    const { blobId } = await writeBlob(store, [Buffer.from('mode')]);
    const fanOut = join(root, 'blobs', blobId.slice(0, 2));
    assert.equal((await stat(join(fanOut, blobId.slice(2, 4), blobId))).mode & 0o777, 0o600);
    for (const directory of [
      join(root, 'blobs'),
      join(root, 'tmp'),
      fanOut,
      join(fanOut, blobId.slice(2, 4)),
    ]) {
      assert.equal((await stat(directory)).mode & 0o777, 0o700, directory);
    }
  });

  void it('lists committed blobs with their modification times', async () => {
    const before = Date.now();
    const { blobId } = await writeBlob(store, [Buffer.from('listed')]);
    const entries: { blobId: string; modifiedAtMs: number }[] = [];
    for await (const entry of store.list()) entries.push(entry);
    const entry = entries.find((candidate) => candidate.blobId === blobId);
    assert.ok(entry !== undefined);
    assert.ok(entry.modifiedAtMs >= before - 1000 && entry.modifiedAtMs <= Date.now() + 1000);
  });

  void it('delete removes a blob and ignores one already gone', async () => {
    const { blobId } = await writeBlob(store, [Buffer.from('doomed')]);
    await store.delete(blobId);
    assert.equal(await store.sizeOf(blobId), null);
    assert.ok(!(await collectIds(store)).includes(blobId));
    await store.delete(blobId);
  });

  void it('abort leaves nothing behind, may be repeated, and does not undo a commit', async () => {
    const listedBefore = await collectIds(store);
    const writer = await store.createWriter();
    await writer.write(randomBytes(600_000));
    await writer.abort();
    await writer.abort();
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
    assert.deepEqual(await collectIds(store), listedBefore);
    assert.equal(await store.sizeOf(writer.blobId), null);
    await assert.rejects(writer.write(Buffer.from('late')));

    const committed = await writeBlob(store, [Buffer.from('kept')]);
    await committed.abort();
    assert.equal(await store.sizeOf(committed.blobId), 4);
  });

  void it('a writer never committed is invisible to openFile and list, and cleanTemporary removes it', async () => {
    const writer = await store.createWriter();
    await writer.write(randomBytes(300_000));
    assert.ok(!(await collectIds(store)).includes(writer.blobId));
    assert.equal(await store.sizeOf(writer.blobId), null);
    await assert.rejects(store.openFile(writer.blobId), isCode('DataCorrupted'));

    // A restart: the new process's store sweeps what the old writer left.
    const restarted = new DiskBlobStore({ root });
    assert.equal(await restarted.cleanTemporary(), 1);
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
    await writer.abort();
  });

  void it('a missing blob fails to open with DataCorrupted', async () => {
    await assert.rejects(store.openFile('f'.repeat(32)), isCode('DataCorrupted'));
  });

  void it('refuses blob ids that are not 32 lowercase hex characters before touching the file system', async () => {
    await writeFile(join(root, 'outside'), 'secret');
    for (const blobId of [
      '../outside',
      '../../etc/passwd',
      'A'.repeat(32),
      'a'.repeat(31),
      `${'a'.repeat(30)}/x`,
      '',
    ]) {
      await assert.rejects(store.openFile(blobId), isCode('InvalidArgument'), blobId);
      await assert.rejects(store.sizeOf(blobId), isCode('InvalidArgument'), blobId);
      await assert.rejects(store.delete(blobId), isCode('InvalidArgument'), blobId);
    }
    await stat(join(root, 'outside'));
  });

  void it('ignores stray files in the blob tree when listing', async () => {
    await writeFile(join(root, 'blobs', 'README'), 'not a blob');
    const ids = await collectIds(store);
    assert.ok(ids.every((blobId) => /^[0-9a-f]{32}$/.test(blobId)));
  });

  void it('a truncated blob file makes the object reader fail with DataCorrupted', async () => {
    const suite = { kind: 'crc32' } as const;
    const context = frameContextOf({ bucket: 'b', objectKey: 'k', versionUid: 'v', partNumber: 0 });
    const plaintext = randomBytes(3 * 4096 + 17);
    const encoder = createFrameEncoder({ suite, context, frameSizeLog2: 12 });
    const writer = await store.createWriter();
    await pipeline(Readable.from([plaintext]), encoder, writerSink(writer));
    await writer.commit();
    const { blobId } = writer;
    await truncate(
      join(root, 'blobs', blobId.slice(0, 2), blobId.slice(2, 4), blobId),
      FRAME_HEADER_BYTES + 4100,
    );
    for (const start of [0, 4096 + 1]) {
      const reader = objectReader(store, blobId, suite, context, 12, plaintext.length, start);
      await assert.rejects(buffer(reader), isCode('DataCorrupted'));
    }
  });

  void it('streams a 100 MiB object through encoder, blob and decoder with bounded memory', async (t) => {
    const collectGarbage = garbageCollector();
    // A small pass first, so compiled code and allocator pools are not counted as growth.
    await streamThroughStore(store, 8);
    collectGarbage();
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    // Collecting often makes RSS show what the pipeline keeps rather than when V8 chooses to
    // collect (left alone it lets about 64 MiB of dead external buffers pile up first).
    const sampler = setInterval(() => {
      collectGarbage();
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 10);
    try {
      await streamThroughStore(store, 100);
    } finally {
      clearInterval(sampler);
    }
    const growthMiB = (rssPeak - rssBefore) / MiB;
    t.diagnostic(`peak RSS growth ${growthMiB.toFixed(1)} MiB`);
    assert.ok(growthMiB < 32, `RSS grew by ${growthMiB.toFixed(1)} MiB while streaming 100 MiB`);
  });
});

/** PUT then GET through the real pipeline: encoder → blob writer, blob range → decoder. */
async function streamThroughStore(store: DiskBlobStore, mebibytes: number): Promise<void> {
  const suite = { kind: 'aes-256-gcm', dataKey: randomBytes(32) } as const;
  const context = frameContextOf({ bucket: 'b', objectKey: 'big', versionUid: 'v', partNumber: 0 });
  const plaintextBytes = mebibytes * MiB;
  const block = randomBytes(MiB);
  const expectedDigest = createHash('sha256');
  for (let index = 0; index < mebibytes; index += 1) expectedDigest.update(block);

  const writer = await store.createWriter();
  await pipeline(blocks(block, mebibytes), createFrameEncoder({ suite, context }), writerSink(writer));
  await writer.commit();
  assert.equal(await store.sizeOf(writer.blobId), encodedLength(plaintextBytes, suite.kind, 18));

  const digest = createHash('sha256');
  const reader = objectReader(store, writer.blobId, suite, context, 18, plaintextBytes, 0);
  let consumed = 0;
  const readBuffers = new Set<ArrayBufferLike>();
  await pipeline(
    reader,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        digest.update(chunk);
        readBuffers.add(chunk.buffer);
        // Done with the chunk: the reader may reuse its buffer, as it does behind a GET response.
        reader.flushed((consumed += chunk.length));
        callback();
      },
    }),
  );
  // A handful of read buffers serve the whole object (the digest shows none was reused early).
  assert.ok(readBuffers.size <= 8, `${readBuffers.size} read buffers for ${mebibytes} MiB`);
  assert.equal(digest.digest('hex'), expectedDigest.digest('hex'));
  await store.delete(writer.blobId);
}

/** Bytes [start, endExclusive) of a blob through positioned reads (short at its end). */
async function readRange(store: BlobStore, blobId: string, start: number, endExclusive: number) {
  const file = await store.openFile(blobId);
  try {
    const target = Buffer.alloc(endExclusive - start);
    return target.subarray(0, await file.read(target, start));
  } finally {
    await file.close();
  }
}

/** The GET path's reader over one blob holding `plaintextBytes`, from `start` to the end. */
function objectReader(
  store: BlobStore,
  blobId: string,
  suite: FrameSuite,
  context: Uint8Array,
  frameSizeLog2: number,
  plaintextBytes: number,
  start: number,
): ObjectReader {
  return new ObjectReader({
    blobs: store,
    ciphers: nodeFrameCiphers,
    suite,
    frameSizeLog2,
    segments: [
      {
        segment: { blobId, sizeBytes: plaintextBytes },
        binding: { bucket: 'b', objectKey: 'k', versionUid: 'v', partNumber: 0 },
        context,
        start,
        endExclusive: plaintextBytes,
      },
    ],
  });
}

/** V8's collector, reachable without the --expose-gc command-line flag. */
function garbageCollector(): () => void {
  v8.setFlagsFromString('--expose-gc');
  const collect: unknown = runInNewContext('gc');
  if (typeof collect !== 'function') throw new Error('gc() is not available');
  return () => void Reflect.apply(collect, undefined, []);
}

function* blocks(block: Buffer, count: number): Generator<Buffer> {
  for (let index = 0; index < count; index += 1) yield block;
}

/** A Writable that hands each chunk to a BlobWriter, one at a time (backpressure included). */
function writerSink(writer: BlobWriter): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      writer.write(chunk).then(() => callback(), callback);
    },
  });
}
