import assert from 'node:assert/strict';
import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { openOpenSslFrameCiphers } from '../../src/adapters/openssl/frame-cipher.ts';
import { StorageError } from '../../src/domain/storage/errors.ts';
import { nodeFrameCiphers } from '../../src/domain/storage/node-frame-cipher.ts';
import type { FrameCipherFactory } from '../../src/domain/storage/ports.ts';
import {
  FRAME_HEADER_BYTES,
  createFrameDecoder,
  createFrameEncoder,
  decodeFramesSync,
  encodeFramesSync,
  encodedLength,
  frameContextOf,
  parseFrameHeader,
  planRangeRead,
  plaintextLengthFromEncoded,
  type FrameSuite,
  type FrameSuiteKind,
} from '../../src/domain/storage/frame-codec.ts';

const DATA_KEY = Buffer.from(Array.from({ length: 32 }, (_, index) => index));
const CONTEXT = frameContextOf({ bucket: 'photos', objectKey: 'a/b.jpg', versionUid: 'v1', partNumber: 0 });
const SUITES: FrameSuite[] = [{ kind: 'crc32' }, { kind: 'aes-256-gcm', dataKey: DATA_KEY }];
const OPENSSL_CIPHERS = await openOpenSslFrameCiphers();

/**
 * Every suite, and AES-GCM with both cipher implementations: node:crypto into fresh buffers, and
 * the server's OpenSSL one decrypting in the decoder's own input (`owned`: the streaming decoder
 * gets copies it may overwrite, as a file read stream's chunks are).
 */
const VARIANTS: { name: string; suite: FrameSuite; ciphers: FrameCipherFactory; owned: boolean }[] = [
  { name: 'crc32', suite: SUITES[0]!, ciphers: nodeFrameCiphers, owned: false },
  { name: 'aes-256-gcm (node:crypto)', suite: SUITES[1]!, ciphers: nodeFrameCiphers, owned: false },
  { name: 'aes-256-gcm (OpenSSL, in place)', suite: SUITES[1]!, ciphers: OPENSSL_CIPHERS, owned: true },
];

/** Deterministic pseudo-random numbers (mulberry32), so a failing sample can be replayed. */
function seededRandom(seed: number): (below: number) => number {
  let state = seed >>> 0;
  return (below) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * below);
  };
}

function splitRandomly(bytes: Buffer, random: (below: number) => number, maxPieceBytes: number): Buffer[] {
  const pieces: Buffer[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const size = 1 + random(maxPieceBytes);
    pieces.push(bytes.subarray(offset, offset + size));
    offset += size;
  }
  return pieces;
}

async function encodeStreaming(
  plaintext: Buffer,
  suite: FrameSuite,
  frameSizeLog2: number,
  pieces?: Buffer[],
  ciphers: FrameCipherFactory = nodeFrameCiphers,
) {
  const encoder = createFrameEncoder({ suite, ciphers, context: CONTEXT, frameSizeLog2 });
  const encoded = await buffer(Readable.from(pieces ?? [plaintext]).pipe(encoder));
  assert.equal(encoder.plaintextBytes, plaintext.length);
  return encoded;
}

/** Reads the way a GET does: the header separately, then exactly the planned frames. */
async function decodeStreaming(
  encoded: Buffer,
  options: {
    suite: FrameSuite;
    frameSizeLog2: number;
    plaintextBytes: number;
    start: number;
    endExclusive: number;
    context?: Uint8Array;
    split?: (frames: Buffer) => Buffer[];
    ciphers?: FrameCipherFactory;
    /** Hand the decoder copies it owns (and may decrypt in). */
    owned?: boolean;
  },
): Promise<Buffer> {
  const plan = planRangeRead(
    options.plaintextBytes,
    options.start,
    options.endExclusive,
    options.suite.kind,
    options.frameSizeLog2,
  );
  const frames = encoded.subarray(plan.physicalStart, plan.physicalEnd);
  const decoder = createFrameDecoder({
    header: parseFrameHeader(encoded.subarray(0, FRAME_HEADER_BYTES)),
    suite: options.suite,
    context: options.context ?? CONTEXT,
    frameSizeLog2: options.frameSizeLog2,
    plaintextBytes: options.plaintextBytes,
    start: options.start,
    endExclusive: options.endExclusive,
    ciphers: options.ciphers ?? nodeFrameCiphers,
    inputIsOwned: options.owned === true,
  });
  const pieces = options.split?.(frames) ?? [frames];
  const input = options.owned === true ? pieces.map((piece) => Buffer.from(piece)) : pieces;
  const decoded = await buffer(Readable.from(input).pipe(decoder));
  if (options.owned === true) {
    assert.ok(Buffer.concat(pieces).equals(frames), "the caller's own input is left as it was");
  }
  return decoded;
}

/** The v1 format written out from the spec, independently of the codec's streaming code. */
function referenceEncode(plaintext: Buffer, suite: FrameSuite, frameSizeLog2: number, salt: Buffer): Buffer {
  const header = Buffer.concat([
    Buffer.from('SVRF'),
    Buffer.from([1, suite.kind === 'crc32' ? 1 : 2, frameSizeLog2, 0]),
    salt,
  ]);
  const frameBytes = 2 ** frameSizeLog2;
  const frameCount = Math.max(1, Math.ceil(plaintext.length / frameBytes));
  const parts: Buffer[] = [header];
  for (let index = 0; index < frameCount; index += 1) {
    const payload = plaintext.subarray(index * frameBytes, (index + 1) * frameBytes);
    const isFinal = index === frameCount - 1;
    const position = Buffer.alloc(8);
    position.writeBigUInt64BE(BigInt(index));
    if (suite.kind === 'crc32') {
      const tag = Buffer.alloc(4);
      tag.writeUInt32BE(crc32(Buffer.concat([salt, position, Buffer.from([isFinal ? 1 : 0]), payload])));
      parts.push(payload, tag);
    } else {
      const frameKey = Buffer.from(
        hkdfSync('sha256', suite.dataKey, salt, Buffer.concat([Buffer.from('sovra-frame-v1'), CONTEXT]), 32),
      );
      const flag = Buffer.alloc(4);
      flag.writeUInt32BE(isFinal ? 1 : 0);
      const cipher = createCipheriv('aes-256-gcm', frameKey, Buffer.concat([position, flag]));
      cipher.setAAD(header);
      parts.push(cipher.update(payload), cipher.final(), cipher.getAuthTag());
    }
  }
  return Buffer.concat(parts);
}

function isDataCorrupted(error: unknown): boolean {
  return error instanceof StorageError && error.code === 'DataCorrupted';
}

async function failureOf(work: () => unknown): Promise<StorageError> {
  try {
    await work();
  } catch (error) {
    assert.ok(isDataCorrupted(error), `expected DataCorrupted, got ${String(error)}`);
    return error as StorageError;
  }
  assert.fail('expected DataCorrupted, but decoding succeeded');
}

function sizesFor(frameSizeLog2: number): number[] {
  const frameBytes = 2 ** frameSizeLog2;
  return [0, 1, frameBytes - 1, frameBytes, frameBytes + 1, 3 * frameBytes + 17];
}

void describe('frame codec', () => {
  for (const { name, suite, ciphers, owned } of VARIANTS) {
    void describe(`suite ${name}`, () => {
      void it('round-trips every boundary size for several frame sizes, streaming and in memory', async () => {
        for (const frameSizeLog2 of [12, 13, 16]) {
          for (const size of sizesFor(frameSizeLog2)) {
            const plaintext = randomBytes(size);
            const encoded = await encodeStreaming(plaintext, suite, frameSizeLog2, undefined, ciphers);
            assert.equal(encoded.length, encodedLength(size, suite.kind, frameSizeLog2));
            assert.equal(plaintextLengthFromEncoded(encoded.length, suite.kind, frameSizeLog2), size);
            const decoded = await decodeStreaming(encoded, {
              ciphers,
              owned,
              suite,
              frameSizeLog2,
              plaintextBytes: size,
              start: 0,
              endExclusive: size,
            });
            assert.ok(decoded.equals(plaintext), `size ${size}, frame 2^${frameSizeLog2}`);
            const inMemory = encodeFramesSync(plaintext, { suite, ciphers, context: CONTEXT, frameSizeLog2 });
            assert.ok(
              decodeFramesSync(inMemory, { suite, ciphers, context: CONTEXT, frameSizeLog2 }).equals(
                plaintext,
              ),
            );
            assert.ok(
              decodeFramesSync(encoded, { suite, ciphers, context: CONTEXT, frameSizeLog2 }).equals(
                plaintext,
              ),
            );
          }
        }
      });

      void it('writes exactly the v1 layout the spec describes', async () => {
        for (const size of sizesFor(12)) {
          const plaintext = randomBytes(size);
          const encoded = await encodeStreaming(plaintext, suite, 12, undefined, ciphers);
          const header = parseFrameHeader(encoded);
          assert.deepEqual([header.version, header.suiteKind, header.frameSizeLog2], [1, suite.kind, 12]);
          assert.ok(encoded.equals(referenceEncode(plaintext, suite, 12, header.salt)), `size ${size}`);
        }
      });

      void it('uses a fresh salt for every blob', async () => {
        const first = parseFrameHeader(
          await encodeStreaming(Buffer.from('x'), suite, 12, undefined, ciphers),
        );
        const second = parseFrameHeader(
          await encodeStreaming(Buffer.from('x'), suite, 12, undefined, ciphers),
        );
        assert.notDeepEqual(first.salt, second.salt);
      });

      void it('encodes and decodes input split at random boundaries', async () => {
        const random = seededRandom(suite.kind === 'crc32' ? 1 : 2);
        for (const size of [0, 5, 4096, 3 * 4096 + 17, 70_000]) {
          const plaintext = randomBytes(size);
          for (const maxPieceBytes of [1, 7, 5000, 20_000]) {
            if (maxPieceBytes === 1 && size > 5000) continue;
            const encoded = await encodeStreaming(
              plaintext,
              suite,
              12,
              splitRandomly(plaintext, random, maxPieceBytes),
              ciphers,
            );
            const decoded = await decodeStreaming(encoded, {
              ciphers,
              owned,
              suite,
              frameSizeLog2: 12,
              plaintextBytes: size,
              start: 0,
              endExclusive: size,
              split: (frames) => splitRandomly(frames, random, maxPieceBytes),
            });
            assert.ok(decoded.equals(plaintext), `size ${size}, pieces up to ${maxPieceBytes}`);
          }
        }
      });

      void it('returns exactly the plaintext slice for every range of a one-frame object', () => {
        const plaintext = randomBytes(40);
        const encoded = encodeFramesSync(plaintext, { suite, ciphers, context: CONTEXT, frameSizeLog2: 12 });
        for (let start = 0; start <= plaintext.length; start += 1) {
          for (let endExclusive = start; endExclusive <= plaintext.length; endExclusive += 1) {
            const slice = decodeFramesSync(encoded, {
              suite,
              context: CONTEXT,
              frameSizeLog2: 12,
              start,
              endExclusive,
            });
            assert.ok(slice.equals(plaintext.subarray(start, endExclusive)), `[${start}, ${endExclusive})`);
          }
        }
      });

      void it('returns exactly the plaintext slice for every range between frame boundaries', async () => {
        const frameBytes = 4096;
        const size = 3 * frameBytes + 17;
        const plaintext = randomBytes(size);
        const encoded = await encodeStreaming(plaintext, suite, 12, undefined, ciphers);
        const points = new Set<number>();
        for (const boundary of [0, frameBytes, 2 * frameBytes, 3 * frameBytes, size]) {
          for (const delta of [-2, -1, 0, 1, 2]) {
            if (boundary + delta >= 0 && boundary + delta <= size) points.add(boundary + delta);
          }
        }
        const offsets = [...points].sort((a, b) => a - b);
        for (const start of offsets) {
          for (const endExclusive of offsets.filter((offset) => offset >= start)) {
            const expected = plaintext.subarray(start, endExclusive);
            const inMemory = decodeFramesSync(encoded, {
              suite,
              context: CONTEXT,
              frameSizeLog2: 12,
              start,
              endExclusive,
            });
            assert.ok(inMemory.equals(expected), `in memory [${start}, ${endExclusive})`);
            const streamed = await decodeStreaming(encoded, {
              ciphers,
              owned,
              suite,
              frameSizeLog2: 12,
              plaintextBytes: size,
              start,
              endExclusive,
            });
            assert.ok(streamed.equals(expected), `streamed [${start}, ${endExclusive})`);
          }
        }
      });

      void it('returns exactly the plaintext slice for a random sample of ranges of a large object', async () => {
        const random = seededRandom(7);
        const size = 200 * 4096 + 1234;
        const plaintext = randomBytes(size);
        const encoded = await encodeStreaming(plaintext, suite, 12, undefined, ciphers);
        for (let sample = 0; sample < 150; sample += 1) {
          const start = random(size + 1);
          const endExclusive = start + random(size - start + 1);
          const streamed = await decodeStreaming(encoded, {
            ciphers,
            owned,
            suite,
            frameSizeLog2: 12,
            plaintextBytes: size,
            start,
            endExclusive,
            split: (frames) => splitRandomly(frames, random, 30_000),
          });
          assert.ok(streamed.equals(plaintext.subarray(start, endExclusive)), `[${start}, ${endExclusive})`);
        }
      });

      void it('decodes a GET whose input starts with the header when the range begins in frame 0', async () => {
        const size = 2 * 4096 + 9;
        const plaintext = randomBytes(size);
        const encoded = await encodeStreaming(plaintext, suite, 12, undefined, ciphers);
        const plan = planRangeRead(size, 3, 5000, suite.kind, 12);
        assert.equal(plan.firstFrame, 0);
        const decoder = createFrameDecoder({
          header: 'in-input',
          suite,
          context: CONTEXT,
          frameSizeLog2: 12,
          plaintextBytes: size,
          start: 3,
          endExclusive: 5000,
          ciphers,
          inputIsOwned: owned,
        });
        const input = Buffer.from(encoded.subarray(0, plan.physicalEnd));
        const decoded = await buffer(Readable.from([input]).pipe(decoder));
        assert.ok(decoded.equals(plaintext.subarray(3, 5000)));
      });

      void describe('tampering', () => {
        const frameBytes = 4096;
        const size = 3 * frameBytes + 17;
        const tagBytes = suite.kind === 'crc32' ? 4 : 16;
        const frameSpan = frameBytes + tagBytes;
        const plaintext = randomBytes(size);
        const encoded = encodeFramesSync(plaintext, { suite, ciphers, context: CONTEXT, frameSizeLog2: 12 });
        const decodeWhole = (bytes: Buffer, options: { suite?: FrameSuite; context?: Uint8Array } = {}) =>
          decodeStreaming(bytes, {
            ciphers,
            owned,
            suite: options.suite ?? suite,
            frameSizeLog2: 12,
            plaintextBytes: size,
            start: 0,
            endExclusive: size,
            ...(options.context === undefined ? {} : { context: options.context }),
          });
        const frameAt = (index: number) =>
          encoded.subarray(
            FRAME_HEADER_BYTES + index * frameSpan,
            FRAME_HEADER_BYTES + (index + 1) * frameSpan,
          );
        const messages = new Set<string>();
        const expectCorrupted = async (work: () => unknown) => {
          messages.add((await failureOf(work)).message);
        };

        void it('a bit flipped in any frame body or tag fails with DataCorrupted', async () => {
          const random = seededRandom(11);
          const positions = new Set<number>();
          for (let index = 0; index < 4; index += 1) {
            const frameStart = FRAME_HEADER_BYTES + index * frameSpan;
            const bodyBytes = index === 3 ? 17 : frameBytes;
            positions.add(frameStart).add(frameStart + bodyBytes - 1);
            for (let sample = 0; sample < 8; sample += 1) positions.add(frameStart + random(bodyBytes));
            for (let tagByte = 0; tagByte < tagBytes; tagByte += 1)
              positions.add(frameStart + bodyBytes + tagByte);
          }
          for (const position of positions) {
            const tampered = Buffer.from(encoded);
            tampered[position] = (tampered[position] ?? 0) ^ (1 << random(8));
            await expectCorrupted(() => decodeWhole(tampered));
            await expectCorrupted(() =>
              decodeFramesSync(tampered, { suite, ciphers, context: CONTEXT, frameSizeLog2: 12 }),
            );
          }
        });

        void it('any altered header byte fails with DataCorrupted', async () => {
          for (let position = 0; position < FRAME_HEADER_BYTES; position += 1) {
            const tampered = Buffer.from(encoded);
            tampered[position] = (tampered[position] ?? 0) ^ 1;
            await expectCorrupted(() => decodeWhole(tampered));
          }
          // A suite byte naming the other valid suite is refused too.
          const otherSuite = Buffer.from(encoded);
          otherSuite[5] = suite.kind === 'crc32' ? 2 : 1;
          await expectCorrupted(() => decodeWhole(otherSuite));
        });

        void it('a header that claims another valid frame size fails even when the data fits one frame', async () => {
          const small = encodeFramesSync(Buffer.from('tiny'), {
            suite,
            ciphers,
            context: CONTEXT,
            frameSizeLog2: 12,
          });
          small[6] = 16;
          await expectCorrupted(() =>
            decodeFramesSync(small, { suite, ciphers, context: CONTEXT, frameSizeLog2: 12 }),
          );
        });

        void it('swapped frames fail with DataCorrupted', async () => {
          const swapped = Buffer.concat([
            encoded.subarray(0, FRAME_HEADER_BYTES),
            frameAt(1),
            frameAt(0),
            frameAt(2),
            frameAt(3),
          ]);
          await expectCorrupted(() => decodeWhole(swapped));
        });

        void it('dropping the last frame fails, whether or not the size comes from metadata', async () => {
          const truncated = encoded.subarray(0, FRAME_HEADER_BYTES + 3 * frameSpan);
          await expectCorrupted(() => decodeWhole(truncated));
          // Without a recorded size the stream looks like a whole 3-frame object; the final flag catches it.
          assert.equal(plaintextLengthFromEncoded(truncated.length, suite.kind, 12), 3 * frameBytes);
          await expectCorrupted(() =>
            decodeFramesSync(truncated, { suite, ciphers, context: CONTEXT, frameSizeLog2: 12 }),
          );
        });

        void it('a short read inside a frame fails with DataCorrupted', async () => {
          await expectCorrupted(() => decodeWhole(encoded.subarray(0, encoded.length - 1)));
        });

        void it('an appended frame or extra byte fails with DataCorrupted', async () => {
          const fullFrames = encodeFramesSync(randomBytes(2 * frameBytes), {
            suite,
            context: CONTEXT,
            frameSizeLog2: 12,
          });
          const extended = Buffer.concat([
            fullFrames,
            fullFrames.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + frameSpan),
          ]);
          await expectCorrupted(() =>
            decodeFramesSync(extended, { suite, ciphers, context: CONTEXT, frameSizeLog2: 12 }),
          );
          await expectCorrupted(() =>
            decodeStreaming(Buffer.concat([encoded, frameAt(1)]), {
              ciphers,
              owned,
              suite,
              frameSizeLog2: 12,
              plaintextBytes: size,
              start: 2 * frameBytes,
              endExclusive: size,
              split: (frames) => [Buffer.concat([frames, Buffer.from([0])])],
            }),
          );
        });

        void it('frames moved from another blob with the same key and context fail with DataCorrupted', async () => {
          const other = encodeFramesSync(plaintext, { suite, ciphers, context: CONTEXT, frameSizeLog2: 12 });
          const mixed = Buffer.concat([
            encoded.subarray(0, FRAME_HEADER_BYTES + frameSpan),
            other.subarray(FRAME_HEADER_BYTES + frameSpan),
          ]);
          await expectCorrupted(() => decodeWhole(mixed));
        });

        if (suite.kind === 'aes-256-gcm') {
          void it('a wrong data key fails with DataCorrupted', async () => {
            await expectCorrupted(() =>
              decodeWhole(encoded, { suite: { kind: 'aes-256-gcm', dataKey: randomBytes(32) } }),
            );
          });

          void it('another context (bucket, key, version or part) fails with DataCorrupted', async () => {
            const binding = { bucket: 'photos', objectKey: 'a/b.jpg', versionUid: 'v1', partNumber: 0 };
            for (const changed of [
              { bucket: 'photoz' },
              { objectKey: 'a/b.jpeg' },
              { versionUid: 'v2' },
              { partNumber: 1 },
            ]) {
              await expectCorrupted(() =>
                decodeWhole(encoded, { context: frameContextOf({ ...binding, ...changed }) }),
              );
            }
          });

          void it('stores no plaintext in the clear', () => {
            const marker = Buffer.alloc(64, 0x41);
            const sealed = encodeFramesSync(Buffer.concat([marker, marker]), {
              suite,
              context: CONTEXT,
              frameSizeLog2: 12,
            });
            assert.equal(sealed.indexOf(marker.subarray(0, 16)), -1);
          });
        }

        void it('every failure carries the same message', () => {
          assert.equal(messages.size, 1, [...messages].join(' | '));
        });
      });
    });
  }

  void it('decodes the golden v1 frame streams', () => {
    const plaintext = Buffer.from('Sovra frame format v1');
    const context = Buffer.from('golden-context');
    const golden = {
      crc32:
        '5356524601010c000102030405060708090a0b0c0d0e0f101112131415161718' +
        '536f767261206672616d6520666f726d61742076314eaefb35',
      'aes-256-gcm':
        '5356524601020c000102030405060708090a0b0c0d0e0f101112131415161718' +
        '4512682677f03eecd81202425bab03d11d810699035e8f91869e79bf9c23aaa88b57b1d956',
    } satisfies Record<FrameSuiteKind, string>;
    for (const { name, suite, ciphers } of VARIANTS) {
      const decoded = decodeFramesSync(Buffer.from(golden[suite.kind], 'hex'), {
        suite,
        ciphers,
        context,
        frameSizeLog2: 12,
      });
      assert.ok(decoded.equals(plaintext), name);
    }
  });

  void it('derives the frame context from the length-prefixed binding (golden value)', () => {
    const context = frameContextOf({
      bucket: 'photos',
      objectKey: 'a/b.jpg',
      versionUid: 'v1',
      partNumber: 3,
    });
    assert.equal(context.toString('hex'), '84d880427d1a11c49f76ef93e8f199b3d10f4666171904689d8ee2804ec7928e');
    assert.notDeepEqual(
      frameContextOf({ bucket: 'ab', objectKey: 'c', versionUid: 'v', partNumber: 0 }),
      frameContextOf({ bucket: 'a', objectKey: 'bc', versionUid: 'v', partNumber: 0 }),
    );
  });

  void it('plans ranges as whole frames with the trim to apply', () => {
    assert.deepEqual(planRangeRead(3 * 4096 + 17, 4095, 8193, 'crc32', 12), {
      physicalStart: FRAME_HEADER_BYTES,
      physicalEnd: FRAME_HEADER_BYTES + 3 * (4096 + 4),
      firstFrame: 0,
      lastFrame: 2,
      skipBytes: 4095,
      takeBytes: 4098,
    });
    assert.deepEqual(planRangeRead(0, 0, 0, 'aes-256-gcm', 12), {
      physicalStart: FRAME_HEADER_BYTES,
      physicalEnd: FRAME_HEADER_BYTES + 16,
      firstFrame: 0,
      lastFrame: 0,
      skipBytes: 0,
      takeBytes: 0,
    });
    assert.throws(() => planRangeRead(10, 5, 11, 'crc32', 12), RangeError);
    assert.throws(() => planRangeRead(10, 6, 5, 'crc32', 12), RangeError);
  });

  void it('refuses frame sizes outside 2^12..2^24 and data keys that are not 32 bytes', () => {
    for (const frameSizeLog2 of [11, 25, 12.5]) {
      assert.throws(
        () => createFrameEncoder({ suite: { kind: 'crc32' }, context: CONTEXT, frameSizeLog2 }),
        RangeError,
      );
    }
    assert.throws(
      () =>
        createFrameEncoder({ suite: { kind: 'aes-256-gcm', dataKey: randomBytes(16) }, context: CONTEXT }),
      RangeError,
    );
  });

  void it('refuses a header with bad magic, version, reserved byte or length as DataCorrupted', () => {
    const header = encodeFramesSync(Buffer.alloc(0), { suite: { kind: 'crc32' }, context: CONTEXT }).subarray(
      0,
      32,
    );
    assert.equal(parseFrameHeader(header).frameSizeLog2, 18);
    for (const [position, value] of [
      [0, 0x54],
      [4, 2],
      [5, 3],
      [6, 11],
      [6, 25],
      [7, 1],
    ] as const) {
      const altered = Buffer.from(header);
      altered[position] = value;
      assert.throws(() => parseFrameHeader(altered), isDataCorrupted);
    }
    assert.throws(() => parseFrameHeader(header.subarray(0, 31)), isDataCorrupted);
  });
});
