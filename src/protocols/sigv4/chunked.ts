/**
 * Decoder for `Content-Encoding: aws-chunked` bodies:
 * - signed chunks: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
 *   `hex-size;chunk-signature=<sig>\r\n<data>\r\n` …, a final 0-size chunk, then `\r\n`;
 * - trailers: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html
 *   after the final chunk, `name:value\r\n` lines, for signed trailers an
 *   `x-amz-trailer-signature:<sig>\r\n` line, then `\r\n`; unsigned trailers use bare `hex-size`
 *   chunk headers.
 *
 * The decoder is a state machine over the input bytes: chunk data is forwarded as slices of the
 * input (no copies, no concatenation), and only chunk-header and trailer lines are gathered, into
 * one bounded buffer. Data is released before its chunk signature is checked — a chunk may be
 * gigabytes — so, as for any request body, consumers commit only when the stream ends cleanly:
 * every failure surfaces as a stream error before the end.
 */
import { createHash, timingSafeEqual, type Hash, type KeyObject } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

import { LIMITS } from '../../platform/limits.ts';
import { EMPTY_SHA256_HEX, formatAmzDate, hmacSha256, sha256Hex, type HeaderMap } from './canonical.ts';
import { SigV4Error } from './errors.ts';
import type { PayloadMode, VerifiedRequest } from './verify.ts';

export type StreamingPayloadMode = Extract<
  PayloadMode,
  { kind: 'streaming-signed' | 'streaming-signed-trailer' | 'streaming-unsigned-trailer' }
>;

export interface AwsChunkedDecoderOptions {
  mode: StreamingPayloadMode;
  signingKey: KeyObject;
  scope: string;
  seedSignature: string;
  /** The request's x-amz-date (`yyyymmddThhmmssZ`), which every chunk's string to sign repeats. */
  requestTime: string;
  /** x-amz-decoded-content-length; null when the client sent none. */
  decodedContentLength: number | null;
  /** Value of the x-amz-trailer header, lower-cased (a comma-separated list of names). */
  expectedTrailer: string | null;
}

export type AwsChunkedDecoder = Transform & {
  /** Trailers received (lower-case names), without x-amz-trailer-signature; complete after 'end'. */
  trailers(): Record<string, string>;
};

export function createAwsChunkedDecoder(options: AwsChunkedDecoderOptions): AwsChunkedDecoder {
  return new AwsChunkedDecodingStream(options);
}

/**
 * Decoder options for a verified streaming request, read from its headers; null when the payload
 * is not aws-chunked. The S3 protocol decides whether a missing decoded length is acceptable.
 */
export function awsChunkedDecoderOptions(
  verified: VerifiedRequest,
  headers: HeaderMap,
): AwsChunkedDecoderOptions | null {
  const mode = verified.payload;
  if (mode.kind === 'unsigned' || mode.kind === 'sha256') return null;
  return {
    mode,
    signingKey: verified.signingKey,
    scope: verified.scope,
    seedSignature: verified.seedSignature,
    requestTime: formatAmzDate(verified.requestTime),
    decodedContentLength: decodedContentLengthOf(headers),
    expectedTrailer: firstHeaderValue(headers['x-amz-trailer'])?.toLowerCase() ?? null,
  };
}

function decodedContentLengthOf(headers: HeaderMap): number | null {
  const text = firstHeaderValue(headers['x-amz-decoded-content-length']);
  if (text === undefined) return null;
  if (text.length === 0 || text.length > 15 || !/^[0-9]+$/.test(text)) {
    throw new SigV4Error('InvalidArgument', 'x-amz-decoded-content-length must be a non-negative integer.', {
      decodedContentLength: text,
    });
  }
  return Number(text);
}

function firstHeaderValue(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : value?.[0];
}

// ---------------------------------------------------------------------------------------------

const CR = 0x0d;
const LF = 0x0a;
const SEMICOLON = 0x3b;
/** 13 hex digits stay below 2^53, so sizes are exact JavaScript numbers. */
const CHUNK_SIZE_MAX_HEX_DIGITS = 13;
const CHUNK_SIGNATURE_PREFIX = 'chunk-signature=';
const TRAILER_SIGNATURE_NAME = 'x-amz-trailer-signature';

type DecoderState = 'chunk-header' | 'chunk-data' | 'chunk-data-cr' | 'chunk-data-lf' | 'trailer' | 'done';

class AwsChunkedDecodingStream extends Transform implements AwsChunkedDecoder {
  readonly #signed: boolean;
  readonly #trailersAllowed: boolean;
  readonly #signingKey: KeyObject;
  /** "AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n": the constant head of each chunk's string to sign. */
  readonly #chunkStringToSignHead: string;
  readonly #trailerStringToSignHead: string;
  readonly #decodedContentLength: number | null;
  readonly #expectedTrailers: ReadonlySet<string>;
  readonly #line: Buffer;

  #state: DecoderState = 'chunk-header';
  #lineLength = 0;
  #chunkRemaining = 0;
  #chunkHash: Hash | null = null;
  #chunkSignature = '';
  #previousSignature: string;
  #decodedBytes = 0;
  #trailerBytes = 0;
  #trailerCanonical = '';
  #trailerCount = 0;
  #trailerSignatureVerified = false;
  readonly #trailers: Record<string, string> = Object.create(null) as Record<string, string>;

  constructor(options: AwsChunkedDecoderOptions) {
    super();
    this.#signed = options.mode.kind !== 'streaming-unsigned-trailer';
    this.#trailersAllowed = options.mode.kind !== 'streaming-signed';
    this.#signingKey = options.signingKey;
    this.#chunkStringToSignHead = `AWS4-HMAC-SHA256-PAYLOAD\n${options.requestTime}\n${options.scope}\n`;
    this.#trailerStringToSignHead = `AWS4-HMAC-SHA256-TRAILER\n${options.requestTime}\n${options.scope}\n`;
    this.#decodedContentLength = options.decodedContentLength;
    this.#expectedTrailers = parseTrailerNames(options.expectedTrailer);
    this.#previousSignature = options.seedSignature.toLowerCase();
    this.#line = Buffer.allocUnsafe(
      Math.max(LIMITS.awsChunkHeaderMaxBytes, LIMITS.awsChunkTrailerMaxBytes) + 1,
    );
  }

  trailers(): Record<string, string> {
    return { ...this.#trailers };
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#consume(chunk);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#endOfInput();
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  #consume(input: Buffer): void {
    let offset = 0;
    while (offset < input.length) {
      switch (this.#state) {
        case 'chunk-data': {
          const take = Math.min(this.#chunkRemaining, input.length - offset);
          const data = input.subarray(offset, offset + take);
          this.#chunkHash?.update(data);
          this.push(data);
          offset += take;
          this.#chunkRemaining -= take;
          if (this.#chunkRemaining === 0) {
            this.#endOfChunkData();
            this.#state = 'chunk-data-cr';
          }
          break;
        }
        case 'chunk-data-cr':
          if (input[offset] !== CR) throw malformed('chunk data must be followed by CRLF');
          offset += 1;
          this.#state = 'chunk-data-lf';
          break;
        case 'chunk-data-lf':
          if (input[offset] !== LF) throw malformed('chunk data must be followed by CRLF');
          offset += 1;
          this.#state = 'chunk-header';
          break;
        case 'chunk-header':
        case 'trailer':
          offset = this.#gatherLine(input, offset);
          break;
        case 'done':
          throw malformed('bytes follow the end of the aws-chunked body');
      }
    }
  }

  /** Appends bytes up to LF to the line buffer; dispatches the line when it is complete. */
  #gatherLine(input: Buffer, offset: number): number {
    const lf = input.indexOf(LF, offset);
    const end = lf === -1 ? input.length : lf;
    const inHeader = this.#state === 'chunk-header';
    const limit = (inHeader ? LIMITS.awsChunkHeaderMaxBytes : LIMITS.awsChunkTrailerMaxBytes) + 1; // + CR
    if (this.#lineLength + (end - offset) > limit) {
      if (inHeader) throw malformed(`chunk header longer than ${LIMITS.awsChunkHeaderMaxBytes} bytes`);
      throw invalidTrailer(`trailer line longer than ${LIMITS.awsChunkTrailerMaxBytes} bytes`);
    }
    input.copy(this.#line, this.#lineLength, offset, end);
    this.#lineLength += end - offset;
    if (lf === -1) return input.length;

    const length = this.#lineLength - 1;
    if (length < 0 || this.#line[length] !== CR) throw malformed('lines must end with CRLF');
    this.#lineLength = 0;
    if (inHeader) this.#onChunkHeader(length);
    else this.#onTrailerLine(length);
    return lf + 1;
  }

  /** `hex-size[;chunk-signature=<64 hex>]` in the first `length` bytes of the line buffer. */
  #onChunkHeader(length: number): void {
    const line = this.#line;
    let size = 0;
    let digits = 0;
    while (digits < length) {
      const value = hexValue(line[digits]!);
      if (value < 0) break;
      size = size * 16 + value;
      digits += 1;
    }
    if (
      digits === 0 ||
      digits > CHUNK_SIZE_MAX_HEX_DIGITS ||
      (digits < length && line[digits] !== SEMICOLON)
    ) {
      throw malformed('invalid chunk size');
    }
    if (this.#signed) {
      const extension = digits < length ? line.toString('latin1', digits + 1, length) : '';
      const signature = extension.startsWith(CHUNK_SIGNATURE_PREFIX)
        ? extension.slice(CHUNK_SIGNATURE_PREFIX.length)
        : '';
      if (signature.length !== 64 || !isHex(signature)) throw malformed('missing or invalid chunk-signature');
      this.#chunkSignature = signature.toLowerCase();
    }
    // Chunk extensions of unsigned chunks carry nothing Sovra uses (RFC 9112 §7.1.1 lets them be ignored).

    this.#decodedBytes += size;
    const declared = this.#decodedContentLength;
    if (declared !== null && this.#decodedBytes > declared) {
      throw lengthMismatch(declared, this.#decodedBytes);
    }
    if (size > 0) {
      this.#chunkRemaining = size;
      this.#chunkHash = this.#signed ? createHash('sha256') : null;
      this.#state = 'chunk-data';
      return;
    }
    // The final chunk: signed like any other, over zero bytes.
    if (this.#signed) this.#checkChunkSignature(EMPTY_SHA256_HEX);
    if (declared !== null && this.#decodedBytes !== declared)
      throw lengthMismatch(declared, this.#decodedBytes);
    this.#state = 'trailer';
  }

  #endOfChunkData(): void {
    if (this.#chunkHash === null) return;
    const chunkSha256Hex = this.#chunkHash.digest('hex');
    this.#chunkHash = null;
    this.#checkChunkSignature(chunkSha256Hex);
  }

  /** String to sign: AWS4-HMAC-SHA256-PAYLOAD, date, scope, previous signature, sha256(""), sha256(chunk). */
  #checkChunkSignature(chunkSha256Hex: string): void {
    const stringToSign = `${this.#chunkStringToSignHead}${this.#previousSignature}\n${EMPTY_SHA256_HEX}\n${chunkSha256Hex}`;
    if (!this.#matches(stringToSign, this.#chunkSignature)) {
      throw new SigV4Error(
        'SignatureDoesNotMatch',
        'The chunk signature we calculated does not match the one provided.',
        {
          decodedBytes: this.#decodedBytes,
        },
      );
    }
    this.#previousSignature = this.#chunkSignature;
  }

  #onTrailerLine(length: number): void {
    if (length === 0) {
      this.#endOfTrailers();
      return;
    }
    this.#trailerBytes += length + 2;
    if (this.#trailerBytes > LIMITS.awsChunkTrailerMaxBytes) {
      throw invalidTrailer(`trailers longer than ${LIMITS.awsChunkTrailerMaxBytes} bytes`);
    }
    if (!this.#trailersAllowed)
      throw invalidTrailer('trailers require a STREAMING-*-TRAILER x-amz-content-sha256');
    if (this.#trailerSignatureVerified) throw invalidTrailer(`nothing may follow ${TRAILER_SIGNATURE_NAME}`);

    const text = this.#line.toString('latin1', 0, length);
    const colon = text.indexOf(':');
    if (colon <= 0) throw invalidTrailer('a trailer must be "name:value"');
    const name = text.slice(0, colon).trim().toLowerCase();
    const value = text.slice(colon + 1).trim();

    if (name === TRAILER_SIGNATURE_NAME) {
      if (!this.#signed) throw invalidTrailer(`${TRAILER_SIGNATURE_NAME} is only sent with signed trailers`);
      this.#checkTrailerSignature(value);
      return;
    }
    if (!this.#expectedTrailers.has(name))
      throw invalidTrailer(`trailer "${name}" was not declared in x-amz-trailer`);
    if (name in this.#trailers) throw invalidTrailer(`trailer "${name}" was sent twice`);
    this.#trailers[name] = value;
    this.#trailerCount += 1;
    this.#trailerCanonical += `${name}:${value}\n`;
  }

  /** String to sign: AWS4-HMAC-SHA256-TRAILER, date, scope, final chunk's signature, sha256("name:value\n"…). */
  #checkTrailerSignature(signature: string): void {
    if (signature.length !== 64 || !isHex(signature))
      throw invalidTrailer(`invalid ${TRAILER_SIGNATURE_NAME}`);
    const stringToSign = `${this.#trailerStringToSignHead}${this.#previousSignature}\n${sha256Hex(this.#trailerCanonical, 'latin1')}`;
    if (!this.#matches(stringToSign, signature.toLowerCase())) {
      throw new SigV4Error(
        'SignatureDoesNotMatch',
        'The trailer signature we calculated does not match the one provided.',
      );
    }
    this.#trailerSignatureVerified = true;
  }

  #endOfTrailers(): void {
    if (this.#signed && this.#trailersAllowed && !this.#trailerSignatureVerified) {
      throw new SigV4Error(
        'SignatureDoesNotMatch',
        `The signed trailers carry no ${TRAILER_SIGNATURE_NAME}.`,
      );
    }
    if (this.#trailersAllowed) {
      for (const name of this.#expectedTrailers) {
        if (!(name in this.#trailers)) throw invalidTrailer(`declared trailer "${name}" is missing`);
      }
    }
    this.#state = 'done';
  }

  /**
   * The body must end after the closing empty line. Some SDKs omit that last CRLF after their
   * trailers; when nothing is left to verify (signed trailers checked, or unsigned trailers
   * received) the end of input is taken as that empty line.
   */
  #endOfInput(): void {
    if (this.#state === 'done') return;
    const atTrailerLineBoundary = this.#state === 'trailer' && this.#lineLength === 0;
    const trailersComplete = this.#signed ? this.#trailerSignatureVerified : this.#trailerCount > 0;
    if (atTrailerLineBoundary && this.#trailersAllowed && trailersComplete) {
      this.#endOfTrailers();
      return;
    }
    throw new SigV4Error(
      'IncompleteBody',
      'You did not provide the number of bytes specified by the Content-Length HTTP header.',
      { decodedBytes: this.#decodedBytes, state: this.#state },
    );
  }

  #matches(stringToSign: string, signatureHex: string): boolean {
    const expected = hmacSha256(this.#signingKey, stringToSign);
    return timingSafeEqual(expected, Buffer.from(signatureHex, 'hex'));
  }
}

function parseTrailerNames(header: string | null): ReadonlySet<string> {
  const names = new Set<string>();
  if (header === null) return names;
  for (const part of header.split(',')) {
    const name = part.trim().toLowerCase();
    if (name !== '') names.add(name);
  }
  return names;
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  return -1;
}

function isHex(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (hexValue(code) < 0) return false;
  }
  return true;
}

function malformed(reason: string): SigV4Error {
  return new SigV4Error('InvalidChunkEncoding', `Invalid aws-chunked encoding: ${reason}.`);
}

function invalidTrailer(reason: string): SigV4Error {
  return new SigV4Error('InvalidTrailer', `Invalid trailing headers: ${reason}.`);
}

function lengthMismatch(declared: number, received: number): SigV4Error {
  return new SigV4Error(
    'IncompleteBody',
    'The decoded body length does not match x-amz-decoded-content-length.',
    { decodedContentLength: declared, decodedBytesAtLeast: received },
  );
}
