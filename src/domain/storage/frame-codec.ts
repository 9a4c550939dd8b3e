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
import { createHash, createSecretKey, hkdfSync } from 'node:crypto';
import { publicRandomBytes } from '../../platform/random-pool.ts';
import { Transform, type TransformCallback } from 'node:stream';
import { crc32 } from 'node:zlib';
import { LIMITS } from '../../platform/limits.ts';
import { StorageError } from './errors.ts';
import { nodeFrameCiphers } from './node-frame-cipher.ts';
import type { FrameCipher, FrameCipherFactory } from './ports.ts';

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
  /** The AES-256-GCM implementation (default: node:crypto; the server passes the in-place one). */
  ciphers?: FrameCipherFactory;
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
  /** The AES-256-GCM implementation (default: node:crypto; the server passes the in-place one). */
  ciphers?: FrameCipherFactory;
  /**
   * True when nobody else holds the input chunks (a file read stream's): encrypted frames are then
   * decrypted in them, and the plaintext goes out as views of the input. Otherwise the input is
   * left as it is and plaintext gets buffers of its own.
   */
  inputIsOwned?: boolean;
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

/** Stored bytes of one whole frame (payload and tag). */
export function wholeFrameBytes(suiteKind: FrameSuiteKind, frameSizeLog2: number): number {
  checkFrameSizeLog2(frameSizeLog2);
  return 2 ** frameSizeLog2 + TAG_BYTES[suiteKind];
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

  /** Plaintext bytes accepted so far. */
  get plaintextBytes(): number {
    return this.#writer.plaintextBytes;
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

/**
 * The decoder for callers that drive their own I/O (ObjectReader): `write` verifies the frames in
 * a chunk and hands the plaintext to `emit` synchronously, as views of the chunk when the input
 * is owned. Given whole frames per write, it keeps no view of a chunk once `write` returns.
 */
export class PushFrameDecoder {
  readonly #reader: FrameReader;
  readonly #output: OutputChunks;

  constructor(params: FrameDecoderParams, emit: (piece: Buffer) => void) {
    this.#reader = new FrameReader(params);
    this.#output = new OutputChunks(OUTPUT_CHUNK_BYTES, emit);
  }

  write(chunk: Buffer): void {
    this.#reader.write(chunk, this.#output);
    this.#output.flush();
  }

  /** DataCorrupted unless every planned frame has been verified. */
  end(): void {
    this.#reader.end();
  }

  wipe(): void {
    this.#reader.wipe();
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
    ciphers?: FrameCipherFactory;
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

/** A push encoder or decoder (below), as the Transforms drive it. */
interface PushCodec {
  write(chunk: Buffer): void;
  end(): void;
  wipe(): void;
}

/** A Transform over a push codec: chunks in, the pieces it emits out. */
class PushCodecTransform<Codec extends PushCodec> extends Transform {
  protected readonly codec: Codec;

  constructor(open: (emit: (piece: Buffer) => void) => Codec) {
    super();
    this.codec = open((piece) => this.push(piece));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.codec.write(chunk);
      callback();
    } catch (error) {
      callback(asError(error));
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.codec.end();
      callback();
    } catch (error) {
      callback(asError(error));
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.codec.wipe();
    callback(error);
  }
}

/** The encoding Transform; `plaintextBytes` counts the plaintext accepted so far. */
export class FrameEncoder extends PushCodecTransform<PushFrameEncoder> {
  constructor(params: FrameParams) {
    super((emit) => new PushFrameEncoder(params, emit));
  }

  get plaintextBytes(): number {
    return this.codec.plaintextBytes;
  }
}

/** The decoding Transform; it emits only plaintext whose frame has been verified. */
export class FrameDecoder extends PushCodecTransform<PushFrameDecoder> {
  constructor(params: FrameDecoderParams) {
    super((emit) => new PushFrameDecoder(params, emit));
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
   * True when a frame's body is its payload as it is (CRC suite): sealing only computes the tag,
   * so a writer may emit a view of its input, and opening never changes the body.
   */
  readonly bodyIsPayload: boolean;
  /**
   * Seals frame `index`: writes its tag into `tag` and, unless bodyIsPayload, its body into
   * `body`, which may be `payload` itself (sealed in place).
   */
  seal(index: number, isFinal: boolean, payload: Buffer, body: Buffer, tag: Buffer): void;
  /** Starts verifying frame `index`; its body follows in one or more pieces. */
  beginOpen(index: number, isFinal: boolean): void;
  /** Takes the next piece of the body and returns where its plaintext is (not verified yet). */
  openPiece(piece: Buffer): Buffer;
  /** True when the body given since beginOpen verifies against `tag`. */
  finishOpen(tag: Buffer): boolean;
  wipe(): void;
}

interface SealerOptions {
  ciphers: FrameCipherFactory;
  direction: 'seal' | 'open';
  /** Opening may decrypt in the body pieces themselves (the reader owns its input). */
  openInPlace: boolean;
}

function createSealer(
  suite: FrameSuite,
  header: FrameHeader,
  context: Uint8Array,
  options: SealerOptions,
): FrameSealer {
  switch (suite.kind) {
    case 'crc32':
      return new Crc32Sealer(header.salt);
    case 'aes-256-gcm':
      return new AesGcmSealer(suite.dataKey, header, context, options);
  }
}

class Crc32Sealer implements FrameSealer {
  readonly tagBytes = TAG_BYTES.crc32;
  readonly bodyIsPayload = true;
  readonly #saltCrc: number;
  readonly #position = Buffer.alloc(9);
  #state = 0;

  constructor(salt: Buffer) {
    this.#saltCrc = crc32(salt);
  }

  seal(index: number, isFinal: boolean, payload: Buffer, _body: Buffer, tag: Buffer): void {
    tag.writeUInt32BE(crc32(payload, this.#begin(index, isFinal)));
  }

  beginOpen(index: number, isFinal: boolean): void {
    this.#state = this.#begin(index, isFinal);
  }

  openPiece(piece: Buffer): Buffer {
    this.#state = crc32(piece, this.#state);
    return piece;
  }

  finishOpen(tag: Buffer): boolean {
    return tag.length === this.tagBytes && tag.readUInt32BE(0) === this.#state;
  }

  wipe(): void {}

  /** The CRC state after salt ‖ u64be(index) ‖ u8(isFinal), before the payload. */
  #begin(index: number, isFinal: boolean): number {
    writeU64be(this.#position, index, 0);
    this.#position[8] = isFinal ? 1 : 0;
    return crc32(this.#position, this.#saltCrc);
  }
}

class AesGcmSealer implements FrameSealer {
  readonly tagBytes = TAG_BYTES['aes-256-gcm'];
  readonly bodyIsPayload = false;
  /** Holds the frame key's schedule for the whole object; dropped (and freed) by wipe(). */
  #cipher: FrameCipher | null;
  readonly #aad: Buffer;
  readonly #nonce = Buffer.alloc(GCM_NONCE_BYTES);
  readonly #openInPlace: boolean;

  constructor(dataKey: Uint8Array, header: FrameHeader, context: Uint8Array, options: SealerOptions) {
    if (dataKey.length !== DATA_KEY_BYTES)
      throw new RangeError(`the data key must be ${DATA_KEY_BYTES} bytes`);
    if (context.length > FRAME_CONTEXT_MAX_BYTES) {
      throw new RangeError(`the frame context must be at most ${FRAME_CONTEXT_MAX_BYTES} bytes`);
    }
    const info = Buffer.concat([KEY_INFO_PREFIX, context]);
    const derived = Buffer.from(
      hkdfSync('sha256', createSecretKey(dataKey), header.salt, info, DATA_KEY_BYTES),
    );
    try {
      this.#cipher = options.ciphers.create(derived, options.direction);
    } finally {
      derived.fill(0);
    }
    this.#aad = header.bytes;
    this.#openInPlace = options.openInPlace;
  }

  seal(index: number, isFinal: boolean, payload: Buffer, body: Buffer, tag: Buffer): void {
    const cipher = this.#live();
    cipher.begin(this.#nonceOf(index, isFinal), this.#aad);
    cipher.update(payload, body);
    cipher.finishSeal(tag);
  }

  beginOpen(index: number, isFinal: boolean): void {
    // A wiped sealer has opened its last planned frame: anything after it is not ours.
    if (this.#cipher === null) throw corrupted();
    this.#cipher.begin(this.#nonceOf(index, isFinal), this.#aad);
  }

  openPiece(piece: Buffer): Buffer {
    const plaintext = this.#openInPlace ? piece : Buffer.allocUnsafe(piece.length);
    this.#live().update(piece, plaintext);
    return plaintext;
  }

  finishOpen(tag: Buffer): boolean {
    return this.#cipher !== null && this.#cipher.finishOpen(tag);
  }

  wipe(): void {
    this.#cipher?.dispose();
    this.#cipher = null;
  }

  #live(): FrameCipher {
    if (this.#cipher === null) throw new Error('the frame sealer has been wiped');
    return this.#cipher;
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
  /** Whole-frame buffers given back by the consumer, and those we handed out. */
  readonly #spareFrames: Buffer[] = [];
  readonly #issuedFrames = new WeakSet<ArrayBufferLike>();

  constructor(params: FrameParams) {
    const frameSizeLog2 = params.frameSizeLog2 ?? LIMITS.frameSizeLog2;
    checkFrameSizeLog2(frameSizeLog2);
    this.#frameBytes = 2 ** frameSizeLog2;
    this.#plaintextBytesHint = params.plaintextBytesHint ?? null;
    this.#header = buildHeader(params.suite.kind, frameSizeLog2, publicRandomBytes(SALT_BYTES));
    this.#sealer = createSealer(params.suite, this.#header, params.context, {
      ciphers: params.ciphers ?? nodeFrameCiphers,
      direction: 'seal',
      openInPlace: false,
    });
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
        this.#sealWholeFrame(chunk.subarray(offset, offset + this.#frameBytes), output);
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
    const next =
      payloadBytes === this.#frameBytes
        ? this.#wholeFrameBuffer()
        : Buffer.allocUnsafe(payloadBytes + tagBytes);
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

  /**
   * Seals the pending frame in place: the body takes the payload's bytes, the tag the room after
   * them, and the whole buffer goes on as one piece; the next frame gets another buffer.
   */
  #sealPending(isFinal: boolean, output: OutputChunks): void {
    const tagBytes = this.#sealer.tagBytes;
    const frame = this.#pending ?? Buffer.allocUnsafe(tagBytes);
    const payloadBytes = this.#pendingBytes;
    const payload = frame.subarray(0, payloadBytes);
    this.#sealer.seal(
      this.#frameIndex,
      isFinal,
      payload,
      payload,
      frame.subarray(payloadBytes, payloadBytes + tagBytes),
    );
    this.#pendingBytes = 0;
    this.#pending = null;
    this.#emitFrame(output, frame.subarray(0, payloadBytes + tagBytes));
  }

  /**
   * Seals a whole non-final frame taken from the caller's input, which stays as it is: a suite
   * whose body is the payload emits the input itself, any other writes its body into a frame
   * buffer of ours.
   */
  #sealWholeFrame(payload: Buffer, output: OutputChunks): void {
    const sealer = this.#sealer;
    if (sealer.bodyIsPayload) {
      const tag = Buffer.allocUnsafe(sealer.tagBytes);
      sealer.seal(this.#frameIndex, false, payload, payload, tag);
      this.#emitFrame(output, payload, tag);
      return;
    }
    const frame = this.#wholeFrameBuffer();
    sealer.seal(
      this.#frameIndex,
      false,
      payload,
      frame.subarray(0, this.#frameBytes),
      frame.subarray(this.#frameBytes),
    );
    this.#emitFrame(output, frame);
  }

  /** A buffer for a whole frame and its tag: a recycled one, or a new one we will take back. */
  #wholeFrameBuffer(): Buffer {
    const frame = this.#spareFrames.pop() ?? Buffer.allocUnsafe(this.#frameBytes + this.#sealer.tagBytes);
    this.#issuedFrames.add(frame.buffer);
    return frame;
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
  /** Bytes of the current frame taken so far: its body, then its tag. */
  #frameTaken = 0;
  #takeRemaining = 0;
  /**
   * The current frame's plaintext so far, in pieces (views of the input, or decrypted copies):
   * a frame that spans input chunks is verified without first being copied together, and its
   * plaintext goes out only once the whole frame has verified.
   */
  #plainPieces: Buffer[] = [];
  /** The current frame's tag when it spans input chunks. */
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
    while (offset < chunk.length) offset = this.#take(chunk, offset, output);
  }

  end(): void {
    const plan = this.#plan;
    if (plan === null || this.#frameIndex <= plan.lastFrame) throw corrupted();
  }

  wipe(): void {
    this.#sealer?.wipe();
    this.#dropUnverified();
  }

  /**
   * Takes the next bytes of the current frame from `chunk` at `offset`: body bytes go to the
   * sealer as they come, the tag is gathered, and a complete frame is verified and emitted.
   * Returns the offset in `chunk` after what was taken.
   */
  #take(chunk: Buffer, offset: number, output: OutputChunks): number {
    const { geometry, plan, sealer } = this.#ready();
    if (this.#frameIndex > plan.lastFrame) throw corrupted();
    const frameBytes = framePhysicalBytes(geometry, this.#frameIndex);
    const bodyBytes = frameBytes - geometry.tagBytes;
    if (this.#frameTaken === 0) {
      sealer.beginOpen(this.#frameIndex, this.#frameIndex === geometry.frameCount - 1);
    }
    if (this.#frameTaken < bodyBytes) {
      const taken = Math.min(bodyBytes - this.#frameTaken, chunk.length - offset);
      this.#plainPieces.push(sealer.openPiece(chunk.subarray(offset, offset + taken)));
      this.#frameTaken += taken;
      offset += taken;
    }
    if (offset === chunk.length) return offset;
    const tagWanted = frameBytes - this.#frameTaken;
    const available = chunk.length - offset;
    let tag: Buffer;
    if (this.#frameTaken === bodyBytes && available >= tagWanted) {
      tag = chunk.subarray(offset, offset + tagWanted);
      offset += tagWanted;
    } else {
      const taken = Math.min(tagWanted, available);
      this.#storedTag ??= Buffer.alloc(geometry.tagBytes);
      chunk.copy(this.#storedTag, this.#frameTaken - bodyBytes, offset, offset + taken);
      this.#frameTaken += taken;
      offset += taken;
      if (this.#frameTaken < frameBytes) return offset;
      tag = this.#storedTag;
    }
    const pieces = this.#plainPieces;
    this.#plainPieces = [];
    this.#frameTaken = 0;
    if (!sealer.finishOpen(tag)) {
      this.#plainPieces = pieces;
      this.#dropUnverified();
      throw corrupted();
    }
    this.#emitVerified(pieces, output);
    return offset;
  }

  /** Forgets the current frame's plaintext; decrypted bytes that never verified are zeroed. */
  #dropUnverified(): void {
    if (this.#sealer !== null && !this.#sealer.bodyIsPayload) {
      for (const piece of this.#plainPieces) piece.fill(0);
    }
    this.#plainPieces = [];
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
    this.#sealer = createSealer(params.suite, header, params.context, {
      ciphers: params.ciphers ?? nodeFrameCiphers,
      direction: 'open',
      openInPlace: params.inputIsOwned === true,
    });
  }

  #ready(): { geometry: FrameGeometry; plan: RangeReadPlan; sealer: FrameSealer } {
    if (this.#geometry === null || this.#plan === null || this.#sealer === null) throw corrupted();
    return { geometry: this.#geometry, plan: this.#plan, sealer: this.#sealer };
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
