import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openOpenSslFrameCiphers } from '../../src/adapters/openssl/frame-cipher.ts';
import { DiskBlobStore } from '../../src/adapters/blobs/disk-blob-store.ts';
import { StorageError } from '../../src/domain/storage/errors.ts';
import {
  encodeFramesSync,
  frameContextOf,
  type FrameBinding,
  type FrameSuite,
} from '../../src/domain/storage/frame-codec.ts';
import { ObjectReader, type SegmentRead } from '../../src/domain/storage/object-reader.ts';
import type { FrameCipherFactory } from '../../src/domain/storage/ports.ts';

const FRAME_SIZE_LOG2 = 12;
const ciphers: FrameCipherFactory = await openOpenSslFrameCiphers();

interface StoredSegment {
  blobId: string;
  plaintext: Buffer;
  binding: FrameBinding;
}

/** Reads [start, endExclusive) of the segments' concatenation the way ObjectData.read plans it. */
function readerOver(
  store: DiskBlobStore,
  suite: FrameSuite,
  segments: StoredSegment[],
  start: number,
  endExclusive: number,
): ObjectReader {
  const reads: SegmentRead[] = [];
  let segmentStart = 0;
  for (const stored of segments) {
    const segmentEnd = segmentStart + stored.plaintext.length;
    if (segmentEnd > start && segmentStart < endExclusive) {
      reads.push({
        segment: { blobId: stored.blobId, sizeBytes: stored.plaintext.length },
        binding: stored.binding,
        context: frameContextOf(stored.binding),
        start: Math.max(start, segmentStart) - segmentStart,
        endExclusive: Math.min(endExclusive, segmentEnd) - segmentStart,
      });
    }
    segmentStart = segmentEnd;
  }
  return new ObjectReader({ blobs: store, ciphers, suite, frameSizeLog2: FRAME_SIZE_LOG2, segments: reads });
}

/** Drains a reader; `flushEarly` reports every chunk flushed once copied (buffers get reused). */
async function drain(reader: ObjectReader, flushEarly: boolean): Promise<Buffer> {
  const copies: Buffer[] = [];
  const held: Buffer[] = [];
  let consumed = 0;
  for await (const chunk of reader) {
    const bytes = chunk as Buffer;
    consumed += bytes.length;
    if (flushEarly) {
      copies.push(Buffer.from(bytes));
      reader.flushed(consumed);
    } else {
      held.push(bytes);
    }
  }
  // Held chunks are compared only now: a buffer reused while held would show here.
  return Buffer.concat(flushEarly ? copies : held);
}

void describe('ObjectReader (the GET path over blob segments)', () => {
  let root: string;
  let store: DiskBlobStore;
  const suite: FrameSuite = { kind: 'aes-256-gcm', dataKey: randomBytes(32) };
  const segments: StoredSegment[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'sovra-object-reader-'));
    store = new DiskBlobStore({ root });
    // Frame-sized, odd-sized and multi-read segments (a read holds LIMITS.blobReadBytes of frames).
    for (const [partNumber, size] of [
      [1, 3 * 4096],
      [2, 1_500_000 + 7],
      [3, 5],
    ] as const) {
      const plaintext = randomBytes(size);
      const binding = { bucket: 'b', objectKey: 'k', versionUid: 'v', partNumber };
      const encoded = encodeFramesSync(plaintext, {
        suite,
        ciphers,
        context: frameContextOf(binding),
        frameSizeLog2: FRAME_SIZE_LOG2,
      });
      const writer = await store.createWriter();
      await writer.write(encoded);
      await writer.commit();
      segments.push({ blobId: writer.blobId, plaintext, binding });
    }
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  void it('reads any range across segments, whether the consumer holds its chunks or flushes them at once', async () => {
    const whole = Buffer.concat(segments.map((segment) => segment.plaintext));
    const ranges: [number, number][] = [
      [0, whole.length],
      [1, whole.length - 1],
      [4096 * 3 - 1, 4096 * 3 + 1],
      [5000, 1_400_000],
      [whole.length - 3, whole.length],
    ];
    for (let sample = 0; sample < 20; sample += 1) {
      const start = Math.floor(Math.random() * whole.length);
      ranges.push([start, start + 1 + Math.floor(Math.random() * (whole.length - start))]);
    }
    for (const [start, endExclusive] of ranges) {
      for (const flushEarly of [false, true]) {
        const read = await drain(readerOver(store, suite, segments, start, endExclusive), flushEarly).catch(
          (e) => {
            throw new Error(`[${start}, ${endExclusive}) ${flushEarly}: ${e}`);
          },
        );
        assert.ok(
          read.equals(whole.subarray(start, endExclusive)),
          `[${start}, ${endExclusive}) ${flushEarly}`,
        );
      }
    }
  });

  void it('fails with DataCorrupted on a tampered frame and on a missing blob', async () => {
    const target = segments[1]!;
    const path = join(root, 'blobs', target.blobId.slice(0, 2), target.blobId.slice(2, 4), target.blobId);
    const original = await readFile(path);
    const tampered = Buffer.from(original);
    tampered[original.length - 100] = (tampered[original.length - 100] ?? 0) ^ 1;
    await writeFile(path, tampered);
    try {
      await assert.rejects(
        drain(readerOver(store, suite, segments, 0, 2_000_000), true),
        (error) => error instanceof StorageError && error.code === 'DataCorrupted',
      );
    } finally {
      await writeFile(path, original);
    }
    const missing = [{ ...segments[2]!, blobId: 'e'.repeat(32) }];
    await assert.rejects(
      drain(readerOver(store, suite, missing, 0, 5), false),
      (error) => error instanceof StorageError && error.code === 'DataCorrupted',
    );
  });

  void it('closes its file when the consumer stops early', async () => {
    const openFiles = async () => (await readdir('/proc/self/fd')).length;
    const before = await openFiles();
    for (let round = 0; round < 5; round += 1) {
      const reader = readerOver(store, suite, segments, 0, 1_500_000);
      for await (const chunk of reader) {
        assert.ok((chunk as Buffer).length > 0);
        break;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(await openFiles(), before);
  });
});
