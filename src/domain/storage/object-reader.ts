import { Readable } from 'node:stream';
import { LIMITS } from '../../platform/limits.ts';
import { StorageError } from './errors.ts';
import {
  FRAME_HEADER_BYTES,
  parseFrameHeader,
  planRangeRead,
  PushFrameDecoder,
  wholeFrameBytes,
  type FrameBinding,
  type FrameSuite,
} from './frame-codec.ts';
import type { BlobFile, BlobStore, FrameCipherFactory } from './ports.ts';
import type { BlobSegment } from './types.ts';

/** The part of one blob a read covers: plaintext [start, endExclusive) of the segment. */
export interface SegmentRead {
  segment: BlobSegment;
  binding: FrameBinding;
  /** The context the frames are bound to (see frameContextOf). */
  context: Uint8Array;
  start: number;
  endExclusive: number;
}

export interface ObjectReaderParams {
  blobs: BlobStore;
  ciphers: FrameCipherFactory;
  suite: FrameSuite;
  frameSizeLog2: number;
  segments: readonly SegmentRead[];
}

/** Read buffers a reader keeps for reuse once its consumer has flushed them. */
const SPARE_READ_BUFFERS = 4;

/**
 * Streams the verified plaintext of a blob-stored object range, segment after segment.
 *
 * Reads are whole frames (as many as fit LIMITS.blobReadBytes), positioned, into buffers of
 * the reader's own; each is verified and, when encrypted, decrypted in place, and its plaintext
 * goes out as views of the buffer. A consumer that calls `flushed(bytes)` once it no longer
 * holds the first `bytes` bytes it was given (the GET response, from its write callbacks) lends
 * the buffers back, so a long read reuses a handful of buffers instead of allocating one per
 * read: fresh buffers cost page faults and, through V8's external-memory accounting, full
 * garbage collections every few tens of MiB. A consumer that never calls it gets fresh buffers.
 */
export class ObjectReader extends Readable {
  readonly #params: ObjectReaderParams;
  readonly #frameSpan: number;
  readonly #framesPerRead: number;
  #segmentIndex = -1;
  #file: BlobFile | null = null;
  #decoder: PushFrameDecoder | null = null;
  /** Next blob offset to read, and the end of the planned frames. */
  #position = 0;
  #physicalEnd = 0;
  /** Whether the next read starts with the 32 header bytes (ranges from the first frame). */
  #headerInNextRead = false;
  /** The read under way, if any: the file is closed only once it has settled. */
  #reading: Promise<void> | null = null;
  /** _read was called while a read was under way: read again when it is done. */
  #readAgain = false;
  /** Plaintext bytes pushed so far. */
  #pushed = 0;
  /** Buffers whose views went out, with the pushed total after their last view. */
  readonly #lent: { buffer: Buffer; releaseAt: number }[] = [];
  readonly #spare: Buffer[] = [];

  constructor(params: ObjectReaderParams) {
    const frameSpan = wholeFrameBytes(params.suite.kind, params.frameSizeLog2);
    const framesPerRead = Math.max(1, Math.floor(LIMITS.blobReadBytes / frameSpan));
    // Room for one read's plaintext: the next read starts while the consumer sends this one.
    super({ highWaterMark: framesPerRead * frameSpan + FRAME_HEADER_BYTES });
    this.#params = params;
    this.#frameSpan = frameSpan;
    this.#framesPerRead = framesPerRead;
  }

  /** The consumer no longer holds any of the first `bytes` plaintext bytes it was given. */
  flushed(bytes: number): void {
    while (this.#lent.length > 0 && this.#lent[0]!.releaseAt <= bytes) {
      const { buffer } = this.#lent.shift()!;
      if (this.#spare.length < SPARE_READ_BUFFERS && !this.destroyed) this.#spare.push(buffer);
    }
  }

  override _read(): void {
    if (this.#reading !== null) {
      this.#readAgain = true;
      return;
    }
    this.#reading = this.#readOnce().then(
      () => {
        this.#reading = null;
        if (this.#readAgain && !this.destroyed) {
          this.#readAgain = false;
          this._read();
        }
      },
      (error: unknown) => {
        this.#reading = null;
        this.destroy(error instanceof Error ? error : new Error(String(error)));
      },
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // A read in flight still uses the file (a descriptor closed under it could be reused by
    // another open before the read runs): close once it has settled; it stops at its next step.
    const settled = this.#reading ?? Promise.resolve();
    settled
      .then(async () => {
        this.#decoder?.wipe();
        this.#decoder = null;
        for (const buffer of this.#spare) buffer.fill(0);
        this.#spare.length = 0;
        await this.#closeFile();
      })
      .then(
        () => callback(error),
        (closeError: unknown) => callback(error ?? (closeError as Error)),
      );
  }

  /** Pushes the plaintext of the next read (or ends the stream). */
  async #readOnce(): Promise<void> {
    for (;;) {
      if (this.destroyed) return;
      if (this.#decoder === null && !(await this.#openNextSegment())) {
        if (!this.destroyed) this.push(null);
        return;
      }
      if (this.#position >= this.#physicalEnd) {
        this.#decoder!.end();
        this.#decoder = null;
        await this.#closeFile();
        continue;
      }
      const length = Math.min(this.#readBytes(), this.#physicalEnd - this.#position);
      // Every buffer has room for the header, so any of them serves any read.
      const buffer =
        this.#spare.pop() ?? Buffer.allocUnsafe(this.#framesPerRead * this.#frameSpan + FRAME_HEADER_BYTES);
      const target = buffer.subarray(0, length);
      const read = await this.#file!.read(target, this.#position);
      if (this.destroyed) return;
      if (read !== length) throw shortBlob();
      this.#position += length;
      this.#headerInNextRead = false;
      const before = this.#pushed;
      this.#decoder!.write(target);
      this.#lent.push({ buffer, releaseAt: this.#pushed });
      if (this.#pushed > before) return;
    }
  }

  /** Bytes of the next read: whole frames, after the header when the read starts with it. */
  #readBytes(): number {
    return (this.#headerInNextRead ? FRAME_HEADER_BYTES : 0) + this.#framesPerRead * this.#frameSpan;
  }

  /** Opens the next segment's blob and decoder; false when none is left. */
  async #openNextSegment(): Promise<boolean> {
    const { blobs, ciphers, suite, frameSizeLog2, segments } = this.#params;
    this.#segmentIndex += 1;
    const next = segments[this.#segmentIndex];
    if (next === undefined) return false;
    const plan = planRangeRead(
      next.segment.sizeBytes,
      next.start,
      next.endExclusive,
      suite.kind,
      frameSizeLog2,
    );
    this.#file = await blobs.openFile(next.segment.blobId);
    if (this.destroyed) return false;
    let header: ReturnType<typeof parseFrameHeader> | 'in-input' = 'in-input';
    if (plan.firstFrame === 0) {
      this.#position = 0;
      this.#headerInNextRead = true;
    } else {
      const bytes = Buffer.alloc(FRAME_HEADER_BYTES);
      if ((await this.#file.read(bytes, 0)) !== FRAME_HEADER_BYTES) throw shortBlob();
      if (this.destroyed) return false;
      header = parseFrameHeader(bytes);
      this.#position = plan.physicalStart;
      this.#headerInNextRead = false;
    }
    this.#physicalEnd = plan.physicalEnd;
    this.#decoder = new PushFrameDecoder(
      {
        header,
        suite,
        context: next.context,
        frameSizeLog2,
        plaintextBytes: next.segment.sizeBytes,
        start: next.start,
        endExclusive: next.endExclusive,
        ciphers,
        // The read buffers are ours until their views are flushed: frames are decrypted in them.
        inputIsOwned: true,
      },
      (piece) => {
        this.#pushed += piece.length;
        this.push(piece);
      },
    );
    return true;
  }

  async #closeFile(): Promise<void> {
    const file = this.#file;
    this.#file = null;
    await file?.close();
  }
}

function shortBlob(): StorageError {
  return new StorageError('DataCorrupted', 'stored object data failed verification');
}
