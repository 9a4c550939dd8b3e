import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import { DiskBlobStore } from '../../src/adapters/blobs/disk-blob-store.ts';
import { StorageError } from '../../src/domain/storage/errors.ts';
import {
  FRAME_HEADER_BYTES,
  PushFrameEncoder,
  createFrameDecoder,
  decodeFramesSync,
  encodeFramesSync,
} from '../../src/domain/storage/frame-codec.ts';
import { ObjectData, type IngestRequest } from '../../src/domain/storage/object-data.ts';
import type { ObjectVersion } from '../../src/domain/storage/types.ts';
import { LIMITS } from '../../src/platform/limits.ts';

const MiB = 1024 * 1024;
const NO_CONTEXT = new Uint8Array(0);

function isCode(code: string) {
  return (error: unknown) => error instanceof StorageError && error.code === code;
}

/** A body that arrives in pieces of `pieceBytes`, several of them buffered at once. */
function burstyBody(bytes: Buffer, pieceBytes: number): Readable {
  const body = new PassThrough({ highWaterMark: 4 * pieceBytes });
  setImmediate(() => {
    for (let offset = 0; offset < bytes.length; offset += pieceBytes)
      body.write(bytes.subarray(offset, offset + pieceBytes));
    body.end();
  });
  return body;
}

function ingestRequest(body: AsyncIterable<Uint8Array>, declaredBytes: number | null): IngestRequest {
  return {
    body,
    binding: { bucket: 'b', objectKey: 'k', versionUid: 'v', partNumber: 0 },
    suite: { kind: 'crc32' },
    declaredBytes,
    maxBytes: LIMITS.singlePutMaxBytes,
    checksumAlgorithms: ['CRC32'],
    allowInline: true,
  };
}

function versionOf(sizeBytes: number, placed: { inlineData: Buffer | null; blobId: string | null }) {
  return {
    bucket: 'b',
    key: 'k',
    versionUid: 'v',
    sizeBytes,
    inlineData: placed.inlineData,
    layout:
      placed.blobId === null
        ? { kind: 'inline', frameSizeLog2: LIMITS.frameSizeLog2 }
        : {
            kind: 'segments',
            frameSizeLog2: LIMITS.frameSizeLog2,
            segments: [{ blobId: placed.blobId, sizeBytes }],
          },
  } as unknown as ObjectVersion;
}

void describe('ObjectData', () => {
  let root: string;
  let data: ObjectData;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'sovra-object-data-'));
    data = new ObjectData(new DiskBlobStore({ root }));
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  void it('stores a small body inline and a large one as a blob, and reads both back whole and by range', async () => {
    for (const size of [0, 4096, LIMITS.inlineObjectMaxBytes, LIMITS.inlineObjectMaxBytes + 1, 3 * MiB + 5]) {
      const plaintext = randomBytes(size);
      const ingested = await data.ingest(ingestRequest(burstyBody(plaintext, 64 * 1024), size));
      assert.equal(ingested.sizeBytes, size);
      assert.deepEqual(ingested.md5, createHash('md5').update(plaintext).digest());
      assert.equal(ingested.blobId === null, size <= LIMITS.inlineObjectMaxBytes, `size ${size}`);
      const version = versionOf(size, ingested);
      const suite = { kind: 'crc32' } as const;
      const whole = await buffer(data.read(version, suite, 0, size));
      assert.ok(whole.equals(plaintext), `size ${size}`);
      if (size > 10) {
        const start = Math.floor(size / 3);
        const part = await buffer(data.read(version, suite, start, size - 3));
        assert.ok(part.equals(plaintext.subarray(start, size - 3)), `range of size ${size}`);
      }
    }
  });

  void it('a body longer than declared fails with IncompleteBody and leaves no temporary file', async () => {
    const plaintext = randomBytes(2 * MiB);
    await assert.rejects(
      data.ingest(ingestRequest(burstyBody(plaintext, 64 * 1024), MiB)),
      isCode('IncompleteBody'),
    );
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
  });

  void it('tells its pacer of every body byte an upload takes, as it takes them', async () => {
    const taken: number[] = [];
    const paced = new ObjectData(new DiskBlobStore({ root }), {
      pacer: { took: (bytes) => taken.push(bytes) },
    });
    const plaintext = randomBytes(3 * MiB + 7);
    await paced.ingest(ingestRequest(burstyBody(plaintext, 64 * 1024), plaintext.length));
    assert.equal(
      taken.reduce((sum, bytes) => sum + bytes, 0),
      plaintext.length,
    );
    assert.ok(taken.length >= 49, `one call per piece, ${taken.length}`);
  });

  void it('a body that fails mid-stream is destroyed and leaves no temporary file', async () => {
    const body = new PassThrough();
    body.write(randomBytes(MiB));
    setImmediate(() => body.destroy(new Error('client went away')));
    await assert.rejects(data.ingest(ingestRequest(body, 2 * MiB)), /client went away/);
    assert.ok(body.destroyed);
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
  });
});

void describe('frame codec streaming paths', () => {
  void it('a push encoder that reuses its written frame buffers produces a stream that decodes to the input', () => {
    const plaintext = randomBytes(10 * 4096 + 123);
    const stored: Buffer[] = [];
    const encoder = new PushFrameEncoder(
      {
        suite: { kind: 'crc32' },
        context: NO_CONTEXT,
        frameSizeLog2: 12,
        plaintextBytesHint: plaintext.length,
      },
      (piece) => {
        // Store a copy, then hand the buffer back at once: the next frame overwrites it.
        stored.push(Buffer.from(piece));
        encoder.recycle(piece);
      },
    );
    for (let offset = 0; offset < plaintext.length; offset += 1000)
      encoder.write(plaintext.subarray(offset, offset + 1000));
    encoder.end();
    const decoded = decodeFramesSync(Buffer.concat(stored), {
      suite: { kind: 'crc32' },
      context: NO_CONTEXT,
      frameSizeLog2: 12,
    });
    assert.ok(decoded.equals(plaintext));
  });

  void it('a push encoder sizes the frame buffer of a small object to the hint, not to a whole frame', () => {
    const pieces: Buffer[] = [];
    const encoder = new PushFrameEncoder(
      { suite: { kind: 'crc32' }, context: NO_CONTEXT, frameSizeLog2: 18, plaintextBytesHint: 100 },
      (piece) => pieces.push(piece),
    );
    encoder.write(randomBytes(100));
    encoder.end();
    const frame = pieces.at(-1)!;
    assert.equal(frame.length, 104);
    assert.ok(frame.buffer.byteLength < 2 ** 18);
  });

  void it('a CRC frame split across reads emits none of its bytes when it fails verification', async () => {
    const frameBytes = 4096;
    const plaintext = randomBytes(3 * frameBytes);
    const encoded = encodeFramesSync(plaintext, {
      suite: { kind: 'crc32' },
      context: NO_CONTEXT,
      frameSizeLog2: 12,
    });
    const tampered = Buffer.from(encoded);
    const secondFrame = FRAME_HEADER_BYTES + frameBytes + 4;
    tampered[secondFrame + 10] = (tampered[secondFrame + 10] ?? 0) ^ 1;
    const decoder = createFrameDecoder({
      header: 'in-input',
      suite: { kind: 'crc32' },
      context: NO_CONTEXT,
      frameSizeLog2: 12,
      plaintextBytes: plaintext.length,
      start: 0,
      endExclusive: plaintext.length,
    });
    const emitted: Buffer[] = [];
    decoder.on('data', (chunk: Buffer) => emitted.push(chunk));
    const failed = new Promise((resolve) => decoder.on('error', resolve));
    // Reads of 1,000 bytes: every frame spans several of them.
    for (let offset = 0; offset < tampered.length; offset += 1000)
      decoder.write(tampered.subarray(offset, offset + 1000));
    decoder.end();
    assert.ok(isCode('DataCorrupted')(await failed));
    assert.ok(Buffer.concat(emitted).equals(plaintext.subarray(0, frameBytes)));
  });
});
