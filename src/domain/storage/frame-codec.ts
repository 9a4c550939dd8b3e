/**
 * The framed, authenticated encoding of object data — persisted format v1.
 *
 * A frame stream is a 32-byte header followed by frames:
 *
 *   header  = "SVRF" ‖ u8(version = 1) ‖ u8(suite) ‖ u8(frameSizeLog2) ‖ u8(0) ‖ salt[24]
 *   frame i = payload_i ‖ tag_i
 *
 * Every frame but the last carries exactly 2^frameSizeLog2 plaintext bytes; the last carries the
 * rest (an empty object is one empty frame). Suite 1 (`crc32`) stores the payload in clear with a
 * big-endian CRC32 over salt ‖ u64be(i) ‖ u8(isFinal) ‖ payload: integrity against accidents, not
 * against an attacker. Suite 2 (`aes-256-gcm`) encrypts each frame under a key derived per blob
 * with HKDF-SHA256 (RFC 5869) from the data key, the header salt and the caller's context; the
 * nonce is u64be(i) ‖ u32be(isFinal) and the AAD is the whole header. Authenticating the index
 * detects reordering, authenticating the final flag detects truncation and extension, and binding
 * the salt keeps frames from moving between blobs.
 *
 * Frames are fixed-size so a byte range maps to a contiguous run of whole frames
 * (`planRangeRead`), which is what makes ranged GETs cheap.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createSecretKey,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { crc32 } from 'node:zlib';
import { LIMITS } from '../../platform/limits.ts';
import { StorageError } from './errors.ts';

export const FRAME_FORMAT_VERSION = 1;
export const FRAME_HEADER_BYTES = 32;
export const FRAME_SIZE_LOG2_MIN = 12;
export const FRAME_SIZE_LOG2_MAX = 24;

export type FrameSuiteKind = 'crc32' | 'aes-256-gcm';
export type FrameSuite = { kind: 'crc32' } | { kind: 'aes-256-gcm'; dataKey: Uint8Array };

export interface FrameParams {
  suite: FrameSuite;
  /**
   * Bytes binding the frames to their object (see `frameContextOf`); at most
   * FRAME_CONTEXT_MAX_BYTES. Only the AES-GCM suite uses it: CRC frames are not bound to a context.
   */
  context: Uint8Array;
  /** Defaults to LIMITS.frameSizeLog2; persist the value used, decoding needs it. */
  frameSizeLog2?: number;
  /**
   * The plaintext length the caller expects, when it knows it: frame buffers are then sized to
   * what is left, so a 4 KiB object does not take a whole frame-sized buffer. A wrong hint only
   * costs a larger buffer later, never correctness.
   */
  plaintextBytesHint?: number | null;
}

export interface FrameHeader {
  version: 1;
  suiteKind: FrameSuiteKind;
  frameSizeLog2: number;
  salt: Buffer;
  /** The 32 header bytes as stored (the AES-GCM additional data). */
  bytes: Buffer;
}

export interface RangeReadPlan {
  /** Blob byte offsets of the whole frames that cover the range (the header is not included). */
  physicalStart: number;
  physicalEnd: number;
  firstFrame: number;
  lastFrame: number;
  /** Plaintext bytes to drop from the first frame, then bytes to keep. */
  skipBytes: number;
  takeBytes: number;
}

export interface FrameDecoderParams {
  /**
   * The parsed header, or 'in-input' when the input is the 32 header bytes followed by the
   * planned frames (one read of [0, physicalEnd) when the range starts in frame 0).
   */
  header: FrameHeader | 'in-input';
  suite: FrameSuite;
  context: Uint8Array;
  /** The frame size recorded with the object; a header claiming another is corrupt. */
  frameSizeLog2: number;
  /** The object's total plaintext size, from its metadata. */
  plaintextBytes: number;
  start: number;
  endExclusive: number;
}

export interface FrameBinding {
  bucket: string;
  objectKey: string;
  versionUid: string;
  /** The multipart part number, or 0 for data stored in one piece. */
  partNumber: number;
}

const MAGIC = Buffer.from('SVRF', 'ascii');
const SALT_BYTES = 24;
const DATA_KEY_BYTES = 32;
const GCM_NONCE_BYTES = 12;
const SUITE_CODE = { crc32: 1, 'aes-256-gcm': 2 } as const satisfies Record<FrameSuiteKind, number>;
const TAG_BYTES = { crc32: 4, 'aes-256-gcm': 16 } as const satisfies Record<FrameSuiteKind, number>;
const KEY_INFO_PREFIX = Buffer.from('sovra-frame-v1', 'ascii');
const CONTEXT_DIGEST_LABEL = Buffer.from('sovra-frame-context-v1\0', 'ascii');
/** Node's hkdf() refuses an info longer than 1024 bytes; the prefix takes 14 of them. */
export const FRAME_CONTEXT_MAX_BYTES = 1024 - KEY_INFO_PREFIX.length;
/** Output is gathered into chunks of about this size so consumers see few, large writes. */
const OUTPUT_CHUNK_BYTES = 256 * 1024;
/**
 * Gathered pieces are joined into one buffer only when they are small on average (small frames,
 * or a frame split across many reads); large pieces go out as they are, since copying them
 * costs more than handing the consumer one more chunk.
 */
const JOIN_BELOW_AVERAGE_BYTES = 16 * 1024;
/** Frame buffers kept for reuse by a push encoder: the writes in flight plus the one being filled. */
const SPARE_FRAME_BUFFERS = 8;
/** One message for every verification failure, so the failure says nothing about which check failed. */
const CORRUPTED_MESSAGE = 'stored object data failed verification';

function corrupted(): StorageError {
  return new StorageError('DataCorrupted', CORRUPTED_MESSAGE);
}

/** Physical size of the frame stream holding `plaintextBytes` bytes (header included). */
export function encodedLength(
  plaintextBytes: number,
  suiteKind: FrameSuiteKind,
  frameSizeLog2: number,
): number {
  const geometry = frameGeometry(plaintextBytes, suiteKind, frameSizeLog2);
  return FRAME_HEADER_BYTES + plaintextBytes + geometry.frameCount * geometry.tagBytes;
}

/**
 * The plaintext size a frame stream of `encodedBytes` bytes must hold, or null when no
 * plaintext size encodes to that length. Used when only the stored bytes are at hand.
 */
export function plaintextLengthFromEncoded(
  encodedBytes: number,
  suiteKind: FrameSuiteKind,
  frameSizeLog2: number,
): number | null {
  checkFrameSizeLog2(frameSizeLog2);
  const frameBytes = 2 ** frameSizeLog2;
  const tagBytes = TAG_BYTES[suiteKind];
  const framesBytes = encodedBytes - FRAME_HEADER_BYTES;
  if (!Number.isSafeInteger(encodedBytes) || framesBytes < tagBytes) return null;
  const fullFrames = Math.floor(framesBytes / (frameBytes + tagBytes));
  const rest = framesBytes - fullFrames * (frameBytes + tagBytes);
  if (rest === 0) return fullFrames * frameBytes;
  // A short last frame needs its tag, and only an empty object has an empty frame.
  if (rest < tagBytes || (rest === tagBytes && fullFrames > 0)) return null;
  return fullFrames * frameBytes + rest - tagBytes;
}

/**
 * The context for an object's frames: SHA-256 over a label and the length-prefixed fields, so
 * that it stays well under FRAME_CONTEXT_MAX_BYTES even for 1024-byte keys and no two bindings
 * share an encoding.
 */
export function frameContextOf(binding: FrameBinding): Buffer {
  const hash = createHash('sha256').update(CONTEXT_DIGEST_LABEL);
  for (const field of [binding.bucket, binding.objectKey, binding.versionUid]) {
    const bytes = Buffer.from(field, 'utf8');
    hash.update(u32be(bytes.length)).update(bytes);
  }
  return hash.update(u32be(binding.partNumber)).digest();
}

/** Transform: plaintext in → header and frames out. */
export function createFrameEncoder(params: FrameParams): FrameEncoder {
  return new FrameEncoder(params);
}

/**
 * The encoder for callers that drive their own I/O (ObjectData.ingest): `write` and `end` hand
 * the completed pieces (the header, then whole frames) to `emit` synchronously, with no stream
 * in between. A piece given back with `recycle` once it is stored lends its frame buffer to a
 * later frame, so a long upload reuses a handful of buffers instead of allocating one per frame
 * (fresh buffers cost page faults and garbage collections).
 */
export class PushFrameEncoder {
  readonly #writer: FrameWriter;
  readonly #output: OutputChunks;

  constructor(params: FrameParams, emit: (piece: Buffer) => void) {
    this.#writer = new FrameWriter(params);
    this.#output = new OutputChunks(OUTPUT_CHUNK_BYTES, emit);
  }

  write(chunk: Uint8Array): void {
    this.#writer.write(asBuffer(chunk), this.#output);
    this.#output.flush();
  }

  end(): void {
    this.#writer.end(this.#output);
    this.#output.flush();
  }

  /** The piece must be one `emit` received, and no longer in use by anyone. */
  recycle(piece: Buffer): void {
    this.#writer.recycle(piece);
  }

  wipe(): void {
    this.#writer.wipe();
  }
}

/** Parses and validates the first 32 bytes of a frame stream; DataCorrupted when they are not a v1 header. */
export function parseFrameHeader(bytes: Uint8Array): FrameHeader {
  if (bytes.length < FRAME_HEADER_BYTES) throw corrupted();
  const header = Buffer.from(bytes.subarray(0, FRAME_HEADER_BYTES));
  const suiteKind =
    header[5] === SUITE_CODE.crc32 ? 'crc32' : header[5] === SUITE_CODE['aes-256-gcm'] ? 'aes-256-gcm' : null;
  const frameSizeLog2 = header[6] ?? 0;
  const valid =
    header.subarray(0, 4).equals(MAGIC) &&
    header[4] === FRAME_FORMAT_VERSION &&
    suiteKind !== null &&
    frameSizeLog2 >= FRAME_SIZE_LOG2_MIN &&
    frameSizeLog2 <= FRAME_SIZE_LOG2_MAX &&
    header[7] === 0;
  if (!valid || suiteKind === null) throw corrupted();
  return { version: 1, suiteKind, frameSizeLog2, salt: header.subarray(8), bytes: header };
}

/**
 * Plans a read of plaintext [start, endExclusive): the whole frames covering it and how to trim
 * them. An empty range still reads (and so verifies) one frame. When `firstFrame` is 0 the caller
 * may read blob bytes [0, physicalEnd) instead and decode with `header: 'in-input'`.
 * Arguments outside the object are a caller bug (RangeError); S3 range checks come first.
 */
export function planRangeRead(
  plaintextBytes: number,
  start: number,
  endExclusive: number,
  suiteKind: FrameSuiteKind,
  frameSizeLog2: number,
): RangeReadPlan {
  const geometry = frameGeometry(plaintextBytes, suiteKind, frameSizeLog2);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(endExclusive)) {
    throw new RangeError('range bounds must be integers');
  }
  if (start < 0 || start > endExclusive || endExclusive > plaintextBytes) {
    throw new RangeError(`range [${start}, ${endExclusive}) is outside the object (${plaintextBytes} bytes)`);
  }
  const firstFrame = Math.min(Math.floor(start / geometry.frameBytes), geometry.frameCount - 1);
  const lastFrame = endExclusive > start ? Math.floor((endExclusive - 1) / geometry.frameBytes) : firstFrame;
  return {
    physicalStart: frameOffset(geometry, firstFrame),
    physicalEnd: frameOffset(geometry, lastFrame) + framePhysicalBytes(geometry, lastFrame),
    firstFrame,
    lastFrame,
    skipBytes: start - firstFrame * geometry.frameBytes,
    takeBytes: endExclusive - start,
  };
}

/** Transform: the planned frames in (optionally after the header) → verified plaintext [start, endExclusive) out. */
export function createFrameDecoder(params: FrameDecoderParams): FrameDecoder {
  return new FrameDecoder(params);
}

/** Encodes a whole (small) plaintext at once, for inline objects. */
export function encodeFramesSync(plaintext: Uint8Array, params: FrameParams): Buffer {
  const writer = new FrameWriter(params);
  return collectOutput((output) => {
    writer.write(asBuffer(plaintext), output);
    writer.end(output);
  });
}

/**
 * Decodes a whole frame stream held in memory, or the range [start, endExclusive) of it. Without
 * `plaintextBytes` the size is inferred from the stored length; the authenticated final flag still
 * catches a stream cut or extended at a frame boundary.
 */
export function decodeFramesSync(
  encoded: Uint8Array,
  params: {
    suite: FrameSuite;
    context: Uint8Array;
    frameSizeLog2: number;
    plaintextBytes?: number;
    start?: number;
    endExclusive?: number;
  },
): Buffer {
  const stored = asBuffer(encoded);
  const suiteKind = params.suite.kind;
  const plaintextBytes =
    params.plaintextBytes ?? plaintextLengthFromEncoded(stored.length, suiteKind, params.frameSizeLog2);
  if (
    plaintextBytes === null ||
    stored.length !== encodedLength(plaintextBytes, suiteKind, params.frameSizeLog2)
  ) {
    throw corrupted();
  }
  const start = params.start ?? 0;
  const endExclusive = params.endExclusive ?? plaintextBytes;
  const plan = planRangeRead(plaintextBytes, start, endExclusive, suiteKind, params.frameSizeLog2);
  const reader = new FrameReader({ ...params, header: 'in-input', plaintextBytes, start, endExclusive });
  try {
    return collectOutput((output) => {
      reader.write(stored.subarray(0, FRAME_HEADER_BYTES), output);
      reader.write(stored.subarray(plan.physicalStart, plan.physicalEnd), output);
      reader.end();
    });
  } finally {
    reader.wipe();
  }
}

/** The encoding Transform; `plaintextBytes` counts the plaintext accepted so far. */
export class FrameEncoder extends Transform {
  readonly #writer: FrameWriter;
  readonly #output: OutputChunks;

  constructor(params: FrameParams) {
    super();
    this.#writer = new FrameWriter(params);
    this.#output = new OutputChunks(OUTPUT_CHUNK_BYTES, (chunk) => this.push(chunk));
  }

  get plaintextBytes(): number {
    return this.#writer.plaintextBytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#writer.write(chunk, this.#output);
      this.#output.flush();
      callback();
    } catch (error) {
      callback(asError(error));
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#writer.end(this.#output);
      this.#output.flush();
      callback();
    } catch (error) {
      callback(asError(error));
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#writer.wipe();
    callback(error);
  }
}

/** The decoding Transform; it emits only plaintext whose frame has been verified. */
export class FrameDecoder extends Transform {
  readonly #reader: FrameReader;
  readonly #output: OutputChunks;

  constructor(params: FrameDecoderParams) {
    super();
    this.#reader = new FrameReader(params);
    this.#output = new OutputChunks(OUTPUT_CHUNK_BYTES, (chunk) => this.push(chunk));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#reader.write(chunk, this.#output);
      this.#output.flush();
      callback();
    } catch (error) {
      callback(asError(error));
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#reader.end();
      this.#output.flush();
      callback();
    } catch (error) {
      callback(asError(error));
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#reader.wipe();
    callback(error);
  }
}

// ---------------------------------------------------------------------------------------------
// Frame geometry

interface FrameGeometry {
  plaintextBytes: number;
  frameBytes: number;
  tagBytes: number;
  frameCount: number;
}

function frameGeometry(
  plaintextBytes: number,
  suiteKind: FrameSuiteKind,
  frameSizeLog2: number,
): FrameGeometry {
  checkFrameSizeLog2(frameSizeLog2);
  if (!Number.isSafeInteger(plaintextBytes) || plaintextBytes < 0) {
    throw new RangeError(`plaintext size must be a non-negative integer, got ${plaintextBytes}`);
  }
  const frameBytes = 2 ** frameSizeLog2;
  return {
    plaintextBytes,
    frameBytes,
    tagBytes: TAG_BYTES[suiteKind],
    frameCount: Math.max(1, Math.ceil(plaintextBytes / frameBytes)),
  };
}

function checkFrameSizeLog2(frameSizeLog2: number): void {
  if (
    !Number.isInteger(frameSizeLog2) ||
    frameSizeLog2 < FRAME_SIZE_LOG2_MIN ||
    frameSizeLog2 > FRAME_SIZE_LOG2_MAX
  ) {
    throw new RangeError(
      `frameSizeLog2 must be an integer in [${FRAME_SIZE_LOG2_MIN}, ${FRAME_SIZE_LOG2_MAX}]`,
    );
  }
}

function framePayloadBytes(geometry: FrameGeometry, index: number): number {
  const isFinal = index === geometry.frameCount - 1;
  return isFinal ? geometry.plaintextBytes - index * geometry.frameBytes : geometry.frameBytes;
}

function framePhysicalBytes(geometry: FrameGeometry, index: number): number {
  return framePayloadBytes(geometry, index) + geometry.tagBytes;
}

function frameOffset(geometry: FrameGeometry, index: number): number {
  return FRAME_HEADER_BYTES + index * (geometry.frameBytes + geometry.tagBytes);
}

// ---------------------------------------------------------------------------------------------
// Sealing and opening one frame

interface FrameSealer {
  readonly tagBytes: number;
  /**
   * True when the stored body is the payload itself (CRC suite): `seal` returns the payload and
   * `open` the body, so their buffers must not be reused while the result is in use.
   */
  readonly inPlace: boolean;
  /** Returns the stored frame body (the payload, or its ciphertext) and its tag. */
  seal(index: number, isFinal: boolean, payload: Buffer): { body: Buffer; tag: Buffer };
  /** Returns the verified plaintext, or null when the frame does not verify. */
  open(index: number, isFinal: boolean, body: Buffer, tag: Buffer): Buffer | null;
  /**
   * Set when the tag can be computed over the body in pieces (CRC suite): a frame split across
   * two reads is then verified from views of both, without first copying it together.
   */
  readonly incremental: IncrementalTag | null;
  wipe(): void;
}

interface IncrementalTag {
  begin(index: number, isFinal: boolean): number;
  update(state: number, piece: Buffer): number;
  matches(state: number, tag: Buffer): boolean;
}

function createSealer(suite: FrameSuite, header: FrameHeader, context: Uint8Array): FrameSealer {
  switch (suite.kind) {
    case 'crc32':
      return new Crc32Sealer(header.salt);
    case 'aes-256-gcm':
      return new AesGcmSealer(suite.dataKey, header, context);
  }
}

class Crc32Sealer implements FrameSealer, IncrementalTag {
  readonly tagBytes = TAG_BYTES.crc32;
  readonly inPlace = true;
  readonly incremental: IncrementalTag = this;
  readonly #saltCrc: number;
  readonly #position = Buffer.alloc(9);

  constructor(salt: Buffer) {
    this.#saltCrc = crc32(salt);
  }

  seal(index: number, isFinal: boolean, payload: Buffer) {
    const tag = Buffer.allocUnsafe(this.tagBytes);
    tag.writeUInt32BE(crc32(payload, this.begin(index, isFinal)));
    return { body: payload, tag };
  }

  open(index: number, isFinal: boolean, body: Buffer, tag: Buffer) {
    return this.matches(crc32(body, this.begin(index, isFinal)), tag) ? body : null;
  }

  /** The CRC state after salt ‖ u64be(index) ‖ u8(isFinal), before the payload. */
  begin(index: number, isFinal: boolean): number {
    writeU64be(this.#position, index, 0);
    this.#position[8] = isFinal ? 1 : 0;
    return crc32(this.#position, this.#saltCrc);
  }

  update(state: number, piece: Buffer): number {
    return crc32(piece, state);
  }

  matches(state: number, tag: Buffer): boolean {
    return tag.readUInt32BE(0) === state;
  }

  wipe(): void {}
}

class AesGcmSealer implements FrameSealer {
  readonly tagBytes = TAG_BYTES['aes-256-gcm'];
  readonly inPlace = false;
  readonly incremental = null;
  /**
   * Keys go to Node's crypto as KeyObjects: given raw bytes, hkdfSync and createCipheriv prepare
   * them again on every call, which costs about twice the HKDF itself and three times the AES-GCM
   * of a 4 KiB frame. A KeyObject cannot be overwritten in place: wipe() drops it (Node frees
   * the material with the object), and the sealer refuses to be used afterwards.
   */
  #frameKey: KeyObject | null;
  readonly #aad: Buffer;
  readonly #nonce = Buffer.alloc(GCM_NONCE_BYTES);

  constructor(dataKey: Uint8Array, header: FrameHeader, context: Uint8Array) {
    if (dataKey.length !== DATA_KEY_BYTES)
      throw new RangeError(`the data key must be ${DATA_KEY_BYTES} bytes`);
    if (context.length > FRAME_CONTEXT_MAX_BYTES) {
      throw new RangeError(`the frame context must be at most ${FRAME_CONTEXT_MAX_BYTES} bytes`);
    }
    const info = Buffer.concat([KEY_INFO_PREFIX, context]);
    const derived = Buffer.from(
      hkdfSync('sha256', createSecretKey(dataKey), header.salt, info, DATA_KEY_BYTES),
    );
    this.#frameKey = createSecretKey(derived);
    derived.fill(0);
    this.#aad = header.bytes;
  }

  seal(index: number, isFinal: boolean, payload: Buffer) {
    if (this.#frameKey === null) throw new Error('the frame sealer has been wiped');
    const cipher = createCipheriv('aes-256-gcm', this.#frameKey, this.#nonceOf(index, isFinal), {
      authTagLength: this.tagBytes,
    });
    cipher.setAAD(this.#aad);
    const body = cipher.update(payload);
    cipher.final();
    return { body, tag: cipher.getAuthTag() };
  }

  open(index: number, isFinal: boolean, body: Buffer, tag: Buffer) {
    if (this.#frameKey === null) return null;
    const decipher = createDecipheriv('aes-256-gcm', this.#frameKey, this.#nonceOf(index, isFinal), {
      authTagLength: this.tagBytes,
    });
    decipher.setAAD(this.#aad);
    decipher.setAuthTag(tag);
    const plaintext = decipher.update(body);
    try {
      decipher.final();
    } catch {
      plaintext.fill(0);
      return null;
    }
    return plaintext;
  }

  wipe(): void {
    this.#frameKey = null;
  }

  #nonceOf(index: number, isFinal: boolean): Buffer {
    writeU64be(this.#nonce, index, 0);
    this.#nonce.writeUInt32BE(isFinal ? 1 : 0, 8);
    return this.#nonce;
  }
}

// ---------------------------------------------------------------------------------------------
// Stream-agnostic encoder and decoder state, shared by the Transforms and the sync functions.
// Fresh large buffers cost page faults, so frame buffers are reused whenever the suite allows.

class FrameWriter {
  readonly #header: FrameHeader;
  readonly #sealer: FrameSealer;
  readonly #frameBytes: number;
  #headerWritten = false;
  #frameIndex = 0;
  /**
   * Plaintext of the frame being filled, with room for its tag; a full one waits until we know
   * whether it is the last.
   */
  #pending: Buffer | null = null;
  #pendingBytes = 0;
  #plaintextBytes = 0;
  #ended = false;
  readonly #plaintextBytesHint: number | null;
  /** Whole-frame buffers given back by the consumer (in-place suites), and those we handed out. */
  readonly #spareFrames: Buffer[] = [];
  readonly #issuedFrames = new WeakSet<ArrayBufferLike>();

  constructor(params: FrameParams) {
    const frameSizeLog2 = params.frameSizeLog2 ?? LIMITS.frameSizeLog2;
    checkFrameSizeLog2(frameSizeLog2);
    this.#frameBytes = 2 ** frameSizeLog2;
    this.#plaintextBytesHint = params.plaintextBytesHint ?? null;
    this.#header = buildHeader(params.suite.kind, frameSizeLog2, randomBytes(SALT_BYTES));
    this.#sealer = createSealer(params.suite, this.#header, params.context);
  }

  get plaintextBytes(): number {
    return this.#plaintextBytes;
  }

  write(chunk: Buffer, output: OutputChunks): void {
    this.#writeHeaderOnce(output);
    this.#plaintextBytes += chunk.length;
    let offset = 0;
    while (offset < chunk.length) {
      // More plaintext follows, so a full pending frame was not the last one.
      if (this.#pendingBytes === this.#frameBytes) this.#sealPending(false, output);
      const remaining = chunk.length - offset;
      if (this.#pendingBytes === 0 && remaining > this.#frameBytes) {
        // A whole frame with more bytes after it: seal it straight from the input, no copy.
        const { body, tag } = this.#sealer.seal(
          this.#frameIndex,
          false,
          chunk.subarray(offset, offset + this.#frameBytes),
        );
        this.#emitFrame(output, body, tag);
        offset += this.#frameBytes;
        continue;
      }
      const pending = this.#pendingWithRoom(remaining);
      const copied = Math.min(pending.length - this.#sealer.tagBytes - this.#pendingBytes, remaining);
      chunk.copy(pending, this.#pendingBytes, offset, offset + copied);
      this.#pendingBytes += copied;
      offset += copied;
    }
  }

  end(output: OutputChunks): void {
    if (this.#ended) return;
    this.#writeHeaderOnce(output);
    this.#sealPending(true, output);
    this.#ended = true;
    this.wipe();
  }

  /** Takes back a whole frame the consumer has finished with (see PushFrameEncoder.recycle). */
  recycle(piece: Buffer): void {
    const capacity = this.#frameBytes + this.#sealer.tagBytes;
    if (
      !this.#ended &&
      piece.byteOffset === 0 &&
      piece.buffer.byteLength === capacity &&
      this.#issuedFrames.has(piece.buffer) &&
      this.#spareFrames.length < SPARE_FRAME_BUFFERS
    ) {
      this.#issuedFrames.delete(piece.buffer);
      this.#spareFrames.push(Buffer.from(piece.buffer, 0, capacity));
    }
  }

  wipe(): void {
    this.#sealer.wipe();
    this.#pending?.fill(0);
    this.#pending = null;
    this.#spareFrames.length = 0;
  }

  /**
   * The buffer of the frame being filled, with room for at least one more byte besides the tag.
   * It is sized to what the hint says is left of the object (a small object gets a small buffer)
   * and grows, at least doubling, up to a whole frame when more arrives than the hint promised.
   */
  #pendingWithRoom(incomingBytes: number): Buffer {
    const tagBytes = this.#sealer.tagBytes;
    const current = this.#pending;
    if (current !== null && current.length - tagBytes > this.#pendingBytes) return current;
    const hint = this.#plaintextBytesHint;
    const expectedBytes = hint === null ? this.#frameBytes : hint - this.#frameIndex * this.#frameBytes;
    const payloadBytes = Math.min(
      this.#frameBytes,
      Math.max(expectedBytes, this.#pendingBytes + incomingBytes, 2 * (current?.length ?? 0)),
    );
    let next: Buffer;
    if (payloadBytes === this.#frameBytes) {
      next = this.#spareFrames.pop() ?? Buffer.allocUnsafe(this.#frameBytes + tagBytes);
      if (this.#sealer.inPlace) this.#issuedFrames.add(next.buffer);
    } else {
      next = Buffer.allocUnsafe(payloadBytes + tagBytes);
    }
    if (current !== null) current.copy(next, 0, 0, this.#pendingBytes);
    this.#pending = next;
    return next;
  }

  #writeHeaderOnce(output: OutputChunks): void {
    if (this.#ended) throw new Error('write after end of frame stream');
    if (this.#headerWritten) return;
    output.add(Buffer.from(this.#header.bytes));
    this.#headerWritten = true;
  }

  #sealPending(isFinal: boolean, output: OutputChunks): void {
    const pending = this.#pending ?? Buffer.allocUnsafe(this.#sealer.tagBytes);
    const payloadBytes = this.#pendingBytes;
    const { body, tag } = this.#sealer.seal(this.#frameIndex, isFinal, pending.subarray(0, payloadBytes));
    this.#pendingBytes = 0;
    if (this.#sealer.inPlace) {
      // The body is the pending buffer itself: put the tag in the room after it and hand the
      // whole buffer on as one piece; the next frame gets a new buffer.
      tag.copy(pending, payloadBytes);
      this.#pending = null;
      this.#emitFrame(output, pending.subarray(0, payloadBytes + tag.length));
    } else {
      // The ciphertext is a new buffer, so the pending one is free for the next frame.
      this.#pending = pending;
      this.#emitFrame(output, body, tag);
    }
  }

  #emitFrame(output: OutputChunks, ...pieces: Buffer[]): void {
    for (const piece of pieces) output.add(piece);
    output.endOfFrame();
    this.#frameIndex += 1;
  }
}

class FrameReader {
  readonly #params: FrameDecoderParams;
  #geometry: FrameGeometry | null = null;
  #sealer: FrameSealer | null = null;
  #plan: RangeReadPlan | null = null;
  /** Header bytes gathered so far when the header leads the input. */
  #headerBytes: Buffer | null = null;
  #frameIndex = 0;
  /** Bytes of the frame being gathered when it spans input chunks. */
  #partial: Buffer | null = null;
  #partialBytes = 0;
  #takeRemaining = 0;
  /** Incremental suites: views of the body gathered so far, its running tag and the stored tag. */
  #bodyPieces: Buffer[] = [];
  #tagState = 0;
  #storedTag: Buffer | null = null;

  constructor(params: FrameDecoderParams) {
    checkFrameSizeLog2(params.frameSizeLog2);
    // Validate the plan before any input arrives: a bad range is the caller's bug, not corruption.
    planRangeRead(
      params.plaintextBytes,
      params.start,
      params.endExclusive,
      params.suite.kind,
      params.frameSizeLog2,
    );
    this.#params = params;
    if (params.header === 'in-input') this.#headerBytes = Buffer.alloc(0);
    else this.#acceptHeader(params.header);
  }

  write(chunk: Buffer, output: OutputChunks): void {
    let offset = this.#headerBytes === null ? 0 : this.#gatherHeader(chunk);
    while (offset < chunk.length) {
      const { geometry, plan, sealer } = this.#ready();
      if (this.#frameIndex > plan.lastFrame) throw corrupted();
      const frameBytes = framePhysicalBytes(geometry, this.#frameIndex);
      const remaining = chunk.length - offset;
      if (this.#partialBytes === 0 && remaining >= frameBytes) {
        this.#openFrame(chunk.subarray(offset, offset + frameBytes), output);
        offset += frameBytes;
        continue;
      }
      if (sealer.incremental !== null) {
        offset = this.#gatherIncrementally(chunk, offset, frameBytes, sealer.incremental, output);
        continue;
      }
      const copied = Math.min(frameBytes - this.#partialBytes, remaining);
      this.#partial ??= Buffer.allocUnsafe(geometry.frameBytes + geometry.tagBytes);
      chunk.copy(this.#partial, this.#partialBytes, offset, offset + copied);
      this.#partialBytes += copied;
      offset += copied;
      if (this.#partialBytes === frameBytes) {
        const frame = this.#partial.subarray(0, frameBytes);
        this.#partialBytes = 0;
        // In-place plaintext is a view of the frame buffer, which then belongs to the output.
        if (sealer.inPlace) this.#partial = null;
        this.#openFrame(frame, output);
      }
    }
  }

  end(): void {
    const plan = this.#plan;
    if (plan === null || this.#frameIndex <= plan.lastFrame) throw corrupted();
  }

  wipe(): void {
    this.#sealer?.wipe();
    this.#partial = null;
    this.#bodyPieces = [];
  }

  /**
   * Takes the next bytes of a frame that spans input chunks without copying its body: the tag is
   * computed over views of the pieces, which are emitted only once the whole frame has verified.
   * Returns the offset in `chunk` after what was taken.
   */
  #gatherIncrementally(
    chunk: Buffer,
    offset: number,
    frameBytes: number,
    incremental: IncrementalTag,
    output: OutputChunks,
  ): number {
    const { geometry } = this.#ready();
    const bodyBytes = frameBytes - geometry.tagBytes;
    if (this.#partialBytes === 0) {
      this.#tagState = incremental.begin(this.#frameIndex, this.#frameIndex === geometry.frameCount - 1);
    }
    if (this.#partialBytes < bodyBytes) {
      const taken = Math.min(bodyBytes - this.#partialBytes, chunk.length - offset);
      const piece = chunk.subarray(offset, offset + taken);
      this.#tagState = incremental.update(this.#tagState, piece);
      this.#bodyPieces.push(piece);
      this.#partialBytes += taken;
      offset += taken;
    }
    if (offset < chunk.length && this.#partialBytes >= bodyBytes) {
      const taken = Math.min(frameBytes - this.#partialBytes, chunk.length - offset);
      this.#storedTag ??= Buffer.alloc(geometry.tagBytes);
      chunk.copy(this.#storedTag, this.#partialBytes - bodyBytes, offset, offset + taken);
      this.#partialBytes += taken;
      offset += taken;
    }
    if (this.#partialBytes === frameBytes) {
      const pieces = this.#bodyPieces;
      this.#bodyPieces = [];
      this.#partialBytes = 0;
      if (!incremental.matches(this.#tagState, this.#storedTag!)) throw corrupted();
      this.#emitVerified(pieces, output);
    }
    return offset;
  }

  #gatherHeader(chunk: Buffer): number {
    const gathered = this.#headerBytes ?? Buffer.alloc(0);
    const taken = Math.min(FRAME_HEADER_BYTES - gathered.length, chunk.length);
    const headerBytes = Buffer.concat([gathered, chunk.subarray(0, taken)]);
    if (headerBytes.length < FRAME_HEADER_BYTES) {
      this.#headerBytes = headerBytes;
    } else {
      this.#headerBytes = null;
      this.#acceptHeader(parseFrameHeader(headerBytes));
    }
    return taken;
  }

  #acceptHeader(header: FrameHeader): void {
    const params = this.#params;
    // The CRC suite does not cover the header's fixed bytes, so they must match what the
    // object's metadata recorded; AES-GCM also authenticates them as AAD.
    if (header.suiteKind !== params.suite.kind || header.frameSizeLog2 !== params.frameSizeLog2)
      throw corrupted();
    const suiteKind = params.suite.kind;
    this.#geometry = frameGeometry(params.plaintextBytes, suiteKind, params.frameSizeLog2);
    this.#plan = planRangeRead(
      params.plaintextBytes,
      params.start,
      params.endExclusive,
      suiteKind,
      params.frameSizeLog2,
    );
    this.#frameIndex = this.#plan.firstFrame;
    this.#takeRemaining = this.#plan.takeBytes;
    this.#sealer = createSealer(params.suite, header, params.context);
  }

  #ready(): { geometry: FrameGeometry; plan: RangeReadPlan; sealer: FrameSealer } {
    if (this.#geometry === null || this.#plan === null || this.#sealer === null) throw corrupted();
    return { geometry: this.#geometry, plan: this.#plan, sealer: this.#sealer };
  }

  #openFrame(frame: Buffer, output: OutputChunks): void {
    const { geometry, sealer } = this.#ready();
    const index = this.#frameIndex;
    const bodyBytes = frame.length - geometry.tagBytes;
    const isFinal = index === geometry.frameCount - 1;
    const plaintext = sealer.open(index, isFinal, frame.subarray(0, bodyBytes), frame.subarray(bodyBytes));
    if (plaintext === null) throw corrupted();
    this.#emitVerified([plaintext], output);
  }

  /** Emits the wanted part of a verified frame's plaintext, given as consecutive pieces. */
  #emitVerified(pieces: readonly Buffer[], output: OutputChunks): void {
    const { plan, sealer } = this.#ready();
    let frameLength = 0;
    for (const piece of pieces) frameLength += piece.length;
    const from = this.#frameIndex === plan.firstFrame ? plan.skipBytes : 0;
    const to = Math.min(frameLength, from + this.#takeRemaining);
    let position = 0;
    for (const piece of pieces) {
      const start = Math.max(from - position, 0);
      const end = Math.min(to - position, piece.length);
      if (end > start) output.add(start === 0 && end === piece.length ? piece : piece.subarray(start, end));
      position += piece.length;
    }
    this.#takeRemaining -= Math.max(0, to - from);
    output.endOfFrame();
    this.#frameIndex += 1;
    // Once the last planned frame is verified the key is no longer needed.
    if (this.#frameIndex > plan.lastFrame) sealer.wipe();
  }
}

/**
 * Gathers output pieces into chunks of about `chunkBytes`, copying only to join pieces. A lone
 * piece goes out as it is, possibly as a view of an input chunk: the same contract a PassThrough
 * relies on (a chunk handed to a stream is not modified afterwards).
 */
class OutputChunks {
  readonly #chunkBytes: number;
  readonly #emit: (chunk: Buffer) => void;
  #pieces: Buffer[] = [];
  #bytes = 0;

  constructor(chunkBytes: number, emit: (chunk: Buffer) => void) {
    this.#chunkBytes = chunkBytes;
    this.#emit = emit;
  }

  add(piece: Buffer): void {
    if (piece.length === 0) return;
    this.#pieces.push(piece);
    this.#bytes += piece.length;
  }

  /** Called between frames: a chunk never ends between a frame's body and its tag. */
  endOfFrame(): void {
    if (this.#bytes >= this.#chunkBytes) this.flush();
  }

  flush(): void {
    if (this.#bytes === 0) return;
    const pieces = this.#pieces;
    const bytes = this.#bytes;
    this.#pieces = [];
    this.#bytes = 0;
    if (pieces.length === 1 || bytes / pieces.length >= JOIN_BELOW_AVERAGE_BYTES) {
      for (const piece of pieces) this.#emit(piece);
    } else {
      this.#emit(Buffer.concat(pieces, bytes));
    }
  }
}

/** Runs a frame writer or reader over in-memory input and returns a buffer the caller owns. */
function collectOutput(work: (output: OutputChunks) => void): Buffer {
  const chunks: Buffer[] = [];
  const output = new OutputChunks(Number.POSITIVE_INFINITY, (chunk) => chunks.push(chunk));
  work(output);
  output.flush();
  // Always a copy: a lone chunk may be a view of the caller's input.
  return Buffer.concat(chunks);
}

function buildHeader(suiteKind: FrameSuiteKind, frameSizeLog2: number, salt: Buffer): FrameHeader {
  const bytes = Buffer.alloc(FRAME_HEADER_BYTES);
  MAGIC.copy(bytes, 0);
  bytes[4] = FRAME_FORMAT_VERSION;
  bytes[5] = SUITE_CODE[suiteKind];
  bytes[6] = frameSizeLog2;
  bytes[7] = 0;
  salt.copy(bytes, 8);
  return { version: 1, suiteKind, frameSizeLog2, salt: bytes.subarray(8), bytes };
}

function writeU64be(target: Buffer, value: number, offset: number): void {
  target.writeUInt32BE(Math.floor(value / 2 ** 32), offset);
  target.writeUInt32BE(value >>> 0, offset + 4);
}

function u32be(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
