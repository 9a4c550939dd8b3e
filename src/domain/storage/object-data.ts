import { finished, Readable } from 'node:stream';
import { LIMITS } from '../../platform/limits.ts';
import { storageError } from './errors.ts';
import {
  decodeFramesSync,
  encodedLength,
  frameContextOf,
  PushFrameEncoder,
  type FrameBinding,
  type FrameSuite,
} from './frame-codec.ts';
import { createChecksumDigest, type ChecksumDigest } from './digests.ts';
import { nodeFrameCiphers } from './node-frame-cipher.ts';
import { ObjectReader, type SegmentRead } from './object-reader.ts';
import { inThreadDigests } from './in-thread-digests.ts';
import type { BlobStore, BlobWriter, FrameCipherFactory, IngestPacer, UploadDigests } from './ports.ts';
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
  readonly #ciphers: FrameCipherFactory;
  readonly #digests: UploadDigests;
  readonly #pacer: IngestPacer | null;

  /**
   * `ciphers` seals and opens encrypted frames, `digests` computes uploads' MD5, `pacer` is told
   * of every upload's bytes; the server passes the in-place OpenSSL cipher, the thread-pool MD5
   * and the scavenge pacer, node:crypto's are the defaults and there is no pacer by default.
   */
  constructor(
    blobs: BlobStore,
    options: { ciphers?: FrameCipherFactory; digests?: UploadDigests; pacer?: IngestPacer } = {},
  ) {
    this.#blobs = blobs;
    this.#ciphers = options.ciphers ?? nodeFrameCiphers;
    this.#digests = options.digests ?? inThreadDigests;
    this.#pacer = options.pacer ?? null;
  }

  /**
   * One pass over the body: every chunk is hashed and framed, and whole frames go to the blob as
   * they complete, up to LIMITS.blobWritesInFlight writes queued behind the disk so hashing the
   * next chunks overlaps with writing the previous ones. No stream sits between the steps, and
   * written frame buffers are reused, so an upload allocates little beyond what the socket reads.
   */
  async ingest(request: IngestRequest): Promise<IngestedData> {
    const frameSizeLog2 = LIMITS.frameSizeLog2;
    const inlineLimit = request.allowInline
      ? encodedLength(LIMITS.inlineObjectMaxBytes, request.suite.kind, frameSizeLog2)
      : -1;
    const md5 = this.#digests.createMd5();
    const digests = new Map<ChecksumAlgorithm, ChecksumDigest>();
    for (const algorithm of request.checksumAlgorithms)
      digests.set(algorithm, createChecksumDigest(algorithm));
    const { maxBytes, declaredBytes } = request;
    const placement = new FramePlacement(this.#blobs, inlineLimit);
    const encoder = new PushFrameEncoder(
      {
        suite: request.suite,
        context: frameContextFor(request.suite, request.binding),
        frameSizeLog2,
        plaintextBytesHint: declaredBytes,
        ciphers: this.#ciphers,
      },
      (piece) => placement.add(piece),
    );
    let sizeBytes = 0;
    try {
      for await (const chunk of chunksOf(request.body)) {
        sizeBytes += chunk.byteLength;
        this.#pacer?.took(chunk.byteLength);
        if (sizeBytes > maxBytes) {
          throw storageError('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
            maxSizeAllowed: maxBytes,
          });
        }
        if (declaredBytes !== null && sizeBytes > declaredBytes) {
          throw storageError('IncompleteBody', 'The request body is longer than its declared length');
        }
        const hashing = md5.update(chunk);
        if (hashing !== undefined) await hashing;
        for (const digest of digests.values()) digest.update(chunk);
        encoder.write(chunk);
        await placement.store(encoder);
      }
      if (declaredBytes !== null && sizeBytes !== declaredBytes) {
        throw storageError(
          'IncompleteBody',
          'You did not provide the number of bytes specified by the Content-Length HTTP header',
        );
      }
      encoder.end();
      const etag = await md5.digest();
      const placed = await placement.finish(encoder);
      const checksums = new Map<ChecksumAlgorithm, Buffer>();
      for (const [algorithm, digest] of digests) checksums.set(algorithm, await digest.digest());
      return { sizeBytes, md5: etag, checksums, frameSizeLog2, ...placed };
    } catch (error) {
      md5.discard();
      encoder.wipe();
      // As a pipeline would: a body we stop reading is destroyed, not left half-consumed.
      if (request.body instanceof Readable) request.body.destroy();
      await placement.abort();
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
      ciphers: this.#ciphers,
      context: frameContextFor(suite, {
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
    const segments: SegmentRead[] = [];
    let segmentStart = 0;
    for (const segment of layout.segments) {
      const segmentEnd = segmentStart + segment.sizeBytes;
      if (segmentEnd > start && segmentStart < endExclusive) {
        const binding = this.#bindingOf(version, segment);
        segments.push({
          segment,
          binding,
          context: frameContextFor(suite, binding),
          start: Math.max(start, segmentStart) - segmentStart,
          endExclusive: Math.min(endExclusive, segmentEnd) - segmentStart,
        });
      }
      segmentStart = segmentEnd;
      if (segmentStart >= endExclusive) break;
    }
    return new ObjectReader({
      blobs: this.#blobs,
      ciphers: this.#ciphers,
      suite,
      frameSizeLog2: layout.frameSizeLog2,
      segments,
    });
  }

  #bindingOf(version: ObjectVersion, segment: BlobSegment): FrameBinding {
    return {
      bucket: version.bucket,
      objectKey: version.key,
      versionUid: version.versionUid,
      partNumber: segment.partNumber ?? 0,
    };
  }
}

/**
 * Where the frames of one ingest go: kept in memory while the whole stream still fits inline,
 * otherwise into a blob writer, with a bounded number of writes in flight. Frame buffers come
 * back to the encoder once written.
 */
class FramePlacement {
  readonly #blobs: BlobStore;
  readonly #inlineLimit: number;
  /** Pieces the encoder emitted that have not been placed yet. */
  #ready: Buffer[] = [];
  #inline: Buffer[] = [];
  #inlineBytes = 0;
  #writer: BlobWriter | null = null;
  readonly #inFlight: { written: Promise<void>; piece: Buffer }[] = [];

  constructor(blobs: BlobStore, inlineLimit: number) {
    this.#blobs = blobs;
    this.#inlineLimit = inlineLimit;
  }

  add(piece: Buffer): void {
    this.#ready.push(piece);
  }

  /** Places what is ready; waits while more than LIMITS.blobWritesInFlight writes are queued. */
  async store(encoder: PushFrameEncoder): Promise<void> {
    if (this.#ready.length > 0) {
      const ready = this.#ready;
      this.#ready = [];
      for (const piece of ready) {
        if (this.#writer === null && this.#inlineBytes + piece.length <= this.#inlineLimit) {
          this.#inline.push(piece);
          this.#inlineBytes += piece.length;
          continue;
        }
        if (this.#writer === null) {
          this.#writer = await this.#blobs.createWriter();
          for (const earlier of this.#inline) this.#write(earlier);
          this.#inline = [];
          this.#inlineBytes = 0;
        }
        this.#write(piece);
      }
    }
    while (this.#inFlight.length > LIMITS.blobWritesInFlight) {
      const { written, piece } = this.#inFlight.shift()!;
      await written;
      encoder.recycle(piece);
    }
  }

  /** After the encoder has ended: the inline bytes, or the blob once committed. */
  async finish(encoder: PushFrameEncoder): Promise<{ inlineData: Buffer | null; blobId: string | null }> {
    await this.store(encoder);
    const writer = this.#writer;
    if (writer === null) {
      const [only] = this.#inline;
      return {
        inlineData: this.#inline.length === 1 && only !== undefined ? only : Buffer.concat(this.#inline),
        blobId: null,
      };
    }
    for (const { written } of this.#inFlight.splice(0)) await written;
    await writer.commit();
    return { inlineData: null, blobId: writer.blobId };
  }

  async abort(): Promise<void> {
    this.#ready = [];
    this.#inline = [];
    const writer = this.#writer;
    this.#writer = null;
    if (writer !== null) await writer.abort();
  }

  #write(piece: Buffer): void {
    const written = this.#writer!.write(piece);
    // Awaited in order later; a failure must not surface as an unhandled rejection before then.
    written.catch(() => undefined);
    this.#inFlight.push({ written, piece });
  }
}

/**
 * The body's chunks as they arrive. A Readable's own async iterator hands out everything it has
 * buffered as one chunk, concatenating (a copy and an allocation) whenever more than one chunk
 * waits; taking 'data' events, paused while the consumer works, passes the chunks on as read.
 */
function chunksOf(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  return body instanceof Readable ? readableChunks(body) : body;
}

async function* readableChunks(stream: Readable): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  const state: { ended: boolean; failure: Error | null; wake: (() => void) | null } = {
    ended: false,
    failure: null,
    wake: null,
  };
  const notify = () => {
    const resume = state.wake;
    state.wake = null;
    resume?.();
  };
  const onData = (chunk: Buffer) => {
    queue.push(chunk);
    stream.pause();
    notify();
  };
  // finished() reports an early close (a client that went away) as an error, as for-await does.
  const stopWatching = finished(stream, (error) => {
    if (error !== undefined && error !== null) state.failure = error;
    else state.ended = true;
    notify();
  });
  stream.on('data', onData);
  try {
    for (;;) {
      const chunk = queue.shift();
      if (chunk !== undefined) {
        yield chunk;
        continue;
      }
      if (state.failure !== null) throw state.failure;
      if (state.ended) return;
      const arrived = new Promise<void>((resolve) => {
        state.wake = resolve;
      });
      stream.resume();
      await arrived;
    }
  } finally {
    stream.off('data', onData);
    stopWatching();
  }
}

/**
 * The frame context binds AES-GCM frames to their object; CRC frames are not bound to one (see
 * FrameParams.context), so their reads and writes skip the SHA-256 it costs.
 */
function frameContextFor(suite: FrameSuite, binding: FrameBinding): Uint8Array {
  return suite.kind === 'crc32' ? NO_CONTEXT : frameContextOf(binding);
}

const NO_CONTEXT = new Uint8Array(0);
