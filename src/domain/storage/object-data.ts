import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LIMITS } from '../../platform/limits.ts';
import { storageError } from './errors.ts';
import {
  createFrameDecoder,
  createFrameEncoder,
  decodeFramesSync,
  encodedLength,
  FRAME_HEADER_BYTES,
  frameContextOf,
  parseFrameHeader,
  planRangeRead,
  type FrameBinding,
  type FrameSuite,
} from './frame-codec.ts';
import { createChecksumDigest, type ChecksumDigest } from './digests.ts';
import type { BlobStore, BlobWriter } from './ports.ts';
import type { BlobSegment, ChecksumAlgorithm, ObjectVersion } from './types.ts';

export interface IngestRequest {
  body: AsyncIterable<Uint8Array>;
  binding: FrameBinding;
  suite: FrameSuite;
  /** Declared plaintext length (Content-Length or x-amz-decoded-content-length), when known. */
  declaredBytes: number | null;
  maxBytes: number;
  /** Checksum algorithms to compute besides MD5. */
  checksumAlgorithms: readonly ChecksumAlgorithm[];
  /** Whether the result may be stored inline in metadata (single PUTs: yes; parts: no). */
  allowInline: boolean;
}

export interface IngestedData {
  sizeBytes: number;
  md5: Buffer;
  checksums: Map<ChecksumAlgorithm, Buffer>;
  frameSizeLog2: number;
  /** Inline frame bytes, or the committed blob. Exactly one is set. */
  inlineData: Buffer | null;
  blobId: string | null;
}

/**
 * Object bytes in and out: framing (integrity or encryption), hashing, inline-or-blob placement.
 * A write is invisible until the blob is committed (fsynced and renamed) and the caller commits
 * metadata; any failure before that discards the temporary data.
 */
export class ObjectData {
  readonly #blobs: BlobStore;

  constructor(blobs: BlobStore) {
    this.#blobs = blobs;
  }

  async ingest(request: IngestRequest): Promise<IngestedData> {
    const frameSizeLog2 = LIMITS.frameSizeLog2;
    const suiteKind = request.suite.kind;
    const inlineLimit = request.allowInline
      ? encodedLength(LIMITS.inlineObjectMaxBytes, suiteKind, frameSizeLog2)
      : -1;
    const md5 = createHash('md5');
    const digests = new Map<ChecksumAlgorithm, ChecksumDigest>();
    for (const algorithm of request.checksumAlgorithms)
      digests.set(algorithm, createChecksumDigest(algorithm));
    let sizeBytes = 0;
    const { maxBytes, declaredBytes } = request;

    const encoder = createFrameEncoder({
      suite: request.suite,
      context: frameContextOf(request.binding),
      frameSizeLog2,
    });
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let writer: BlobWriter | null = null;
    const blobs = this.#blobs;
    try {
      await pipeline(
        request.body,
        async function* measure(source: AsyncIterable<Uint8Array>) {
          for await (const chunk of source) {
            sizeBytes += chunk.byteLength;
            if (sizeBytes > maxBytes) {
              throw storageError('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
                maxSizeAllowed: maxBytes,
              });
            }
            if (declaredBytes !== null && sizeBytes > declaredBytes) {
              throw storageError('IncompleteBody', 'The request body is longer than its declared length');
            }
            md5.update(chunk);
            for (const digest of digests.values()) digest.update(chunk);
            yield chunk;
          }
        },
        encoder,
        async function place(source: AsyncIterable<Buffer>) {
          // Up to LIMITS.blobWritesInFlight writes are queued behind the disk, so hashing the
          // next chunks overlaps with writing the previous ones; memory stays bounded.
          const inFlight: Promise<void>[] = [];
          const enqueue = async (target: BlobWriter, chunk: Buffer) => {
            const written = target.write(chunk);
            written.catch(() => undefined);
            inFlight.push(written);
            if (inFlight.length >= LIMITS.blobWritesInFlight) await inFlight.shift();
          };
          for await (const out of source) {
            if (writer === null && pendingBytes + out.byteLength <= inlineLimit) {
              pending.push(out);
              pendingBytes += out.byteLength;
              continue;
            }
            if (writer === null) {
              writer = await blobs.createWriter();
              for (const earlier of pending) await enqueue(writer, earlier);
              pending = [];
              pendingBytes = 0;
            }
            await enqueue(writer, out);
          }
          await Promise.all(inFlight);
        },
      );
      if (declaredBytes !== null && sizeBytes !== declaredBytes) {
        throw storageError(
          'IncompleteBody',
          'You did not provide the number of bytes specified by the Content-Length HTTP header',
        );
      }
      const checksums = new Map<ChecksumAlgorithm, Buffer>();
      for (const [algorithm, digest] of digests) checksums.set(algorithm, await digest.digest());
      const result: IngestedData = {
        sizeBytes,
        md5: md5.digest(),
        checksums,
        frameSizeLog2,
        inlineData: null,
        blobId: null,
      };
      const committed = writer as BlobWriter | null;
      if (committed === null) {
        result.inlineData = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
      } else {
        await committed.commit();
        result.blobId = committed.blobId;
      }
      return result;
    } catch (error) {
      const open = writer as BlobWriter | null;
      if (open !== null) await open.abort();
      throw error;
    }
  }

  /** Discards a blob that was committed but whose metadata commit failed. */
  async discard(blobId: string): Promise<void> {
    await this.#blobs.delete(blobId);
  }

  /** Decoded bytes of an inline version's range (null when the version is not inline). */
  readInline(version: ObjectVersion, suite: FrameSuite, start: number, endExclusive: number): Buffer | null {
    const layout = version.layout;
    if (layout.kind !== 'inline') return null;
    if (version.inlineData === null)
      throw storageError('DataCorrupted', 'Stored object data failed verification');
    if (endExclusive <= start) return Buffer.alloc(0);
    return decodeFramesSync(version.inlineData, {
      suite,
      context: frameContextOf({
        bucket: version.bucket,
        objectKey: version.key,
        versionUid: version.versionUid,
        partNumber: 0,
      }),
      frameSizeLog2: layout.frameSizeLog2,
      plaintextBytes: version.sizeBytes,
      start,
      endExclusive,
    });
  }

  /**
   * Streams plaintext [start, endExclusive) of a version, verifying every frame it touches.
   * Corruption surfaces as a stream error (DataCorrupted) before the bad bytes are emitted.
   */
  read(version: ObjectVersion, suite: FrameSuite, start: number, endExclusive: number): Readable {
    const layout = version.layout;
    if (layout.kind === 'none' || endExclusive <= start) return Readable.from([], { objectMode: false });
    if (layout.kind === 'inline') {
      return Readable.from([this.readInline(version, suite, start, endExclusive)!], { objectMode: false });
    }
    return Readable.from(
      this.#readSegments(version, layout.segments, layout.frameSizeLog2, suite, start, endExclusive),
      {
        objectMode: false,
        highWaterMark: 1,
      },
    );
  }

  async *#readSegments(
    version: ObjectVersion,
    segments: readonly BlobSegment[],
    frameSizeLog2: number,
    suite: FrameSuite,
    start: number,
    endExclusive: number,
  ): AsyncGenerator<Buffer> {
    let segmentStart = 0;
    for (const segment of segments) {
      const segmentEnd = segmentStart + segment.sizeBytes;
      if (segmentEnd > start && segmentStart < endExclusive) {
        const from = Math.max(start, segmentStart) - segmentStart;
        const to = Math.min(endExclusive, segmentEnd) - segmentStart;
        const binding: FrameBinding = {
          bucket: version.bucket,
          objectKey: version.key,
          versionUid: version.versionUid,
          partNumber: segment.partNumber ?? 0,
        };
        yield* this.#readSegment(segment, binding, frameSizeLog2, suite, from, to);
      }
      segmentStart = segmentEnd;
      if (segmentStart >= endExclusive) break;
    }
  }

  /**
   * Reads one blob's frames for [start, endExclusive). A read from the first frame fetches the
   * header with the frames in one request; a later range fetches the 32-byte header first.
   */
  async *#readSegment(
    segment: BlobSegment,
    binding: FrameBinding,
    frameSizeLog2: number,
    suite: FrameSuite,
    start: number,
    endExclusive: number,
  ): AsyncGenerator<Buffer> {
    const plan = planRangeRead(segment.sizeBytes, start, endExclusive, suite.kind, frameSizeLog2);
    const fromHeader = plan.firstFrame === 0;
    const header = fromHeader
      ? ('in-input' as const)
      : parseFrameHeader(await readAll(this.#blobs.openRange(segment.blobId, 0, FRAME_HEADER_BYTES)));
    const decoder = createFrameDecoder({
      header,
      suite,
      context: frameContextOf(binding),
      frameSizeLog2,
      plaintextBytes: segment.sizeBytes,
      start,
      endExclusive,
    });
    const source = this.#blobs.openRange(
      segment.blobId,
      fromHeader ? 0 : plan.physicalStart,
      plan.physicalEnd,
    );
    const decoded = source.pipe(decoder);
    source.on('error', (error) => decoded.destroy(error));
    for await (const chunk of decoded) yield chunk as Buffer;
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
