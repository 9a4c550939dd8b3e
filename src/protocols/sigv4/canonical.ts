/**
 * SigV4 canonicalisation, shared by S3 and KMS.
 * Spec: https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html, with the S3
 * differences from https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
 * (the path is encoded once and never normalised).
 *
 * Strings that came from Node's HTTP parser hold one byte per character (latin1), so every
 * function here works on bytes where the spec speaks of bytes, and `canonicalRequestEncoding`
 * tells the hasher how to turn the canonical request back into the bytes the client signed.
 */
import { createHash, createHmac, type KeyObject } from 'node:crypto';

import { SigV4Error } from './errors.ts';

export type UriEncoding = 's3' | 'standard';

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
export const SCOPE_TERMINATOR = 'aws4_request';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const EMPTY_SHA256_HEX = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** One query parameter: decoded text for lookups, canonical (re-encoded) form for signing. */
export interface QueryParameter {
  name: string;
  value: string;
  canonicalName: string;
  canonicalValue: string;
}

export interface CanonicalRequestParts {
  method: string;
  canonicalUri: string;
  canonicalQuery: string;
  /** "name:value\n" per signed header, in signed-header order. */
  canonicalHeaders: string;
  signedHeaders: string;
  payloadHash: string;
}

/**
 * The canonical request, exactly: method, URI, query, header lines (each ending in "\n"), an
 * empty line's worth of separator, the signed header list and the payload hash.
 */
export function buildCanonicalRequest(parts: CanonicalRequestParts): string {
  return `${parts.method}\n${parts.canonicalUri}\n${parts.canonicalQuery}\n${parts.canonicalHeaders}\n${parts.signedHeaders}\n${parts.payloadHash}`;
}

export function buildStringToSign(amzDate: string, scope: string, canonicalRequestSha256Hex: string): string {
  return `${SIGV4_ALGORITHM}\n${amzDate}\n${scope}\n${canonicalRequestSha256Hex}`;
}

export function sha256Hex(text: string | Uint8Array, encoding: 'latin1' | 'utf8' = 'utf8'): string {
  const hash = createHash('sha256');
  if (typeof text === 'string') hash.update(text, encoding);
  else hash.update(text);
  return hash.digest('hex');
}

/** HMAC-SHA256. Pass a KeyObject for keys used repeatedly: Node prepares a raw key on every call (~5x slower). */
export function hmacSha256(key: KeyObject | Uint8Array | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

// ---------------------------------------------------------------------------------------------
// URI encoding

/** `%XX` (upper-case hex) for every byte, or the character itself for unreserved bytes. */
const ENCODED_BYTE: readonly string[] = Array.from({ length: 256 }, (_, byte) =>
  isUnreservedByte(byte) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`,
);

const SLASH = 0x2f;
const PERCENT = 0x25;
const PLUS = 0x2b;

/** RFC 3986 unreserved set, which is what AWS's UriEncode leaves alone: A-Z a-z 0-9 - _ . ~ */
function isUnreservedByte(byte: number): boolean {
  return (
    (byte >= 0x41 && byte <= 0x5a) ||
    (byte >= 0x61 && byte <= 0x7a) ||
    (byte >= 0x30 && byte <= 0x39) ||
    byte === 0x2d ||
    byte === 0x5f ||
    byte === 0x2e ||
    byte === 0x7e
  );
}

/** AWS UriEncode over bytes; `/` stays literal unless `encodeSlash` (query components). */
export function uriEncode(bytes: Uint8Array, encodeSlash: boolean): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    out += byte === SLASH && !encodeSlash ? '/' : ENCODED_BYTE[byte]!;
  }
  return out;
}

/** True when `text` is already in UriEncode's output alphabet and contains no escapes. */
function isAlreadyCanonical(text: string, allowSlash: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x7f || !(isUnreservedByte(code) || (allowSlash && code === SLASH))) return false;
  }
  return true;
}

/**
 * The bytes a string stands for. Node hands request lines and headers over as latin1 (one byte
 * per character); a string with wider characters can only have come from JavaScript and is UTF-8.
 */
function bytesOf(text: string): Buffer {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0xff) return Buffer.from(text, 'utf8');
  }
  return Buffer.from(text, 'latin1');
}

/** Percent-decodes in the byte domain, so invalid UTF-8 round-trips exactly; null if malformed. */
function percentDecode(text: string, plusIsSpace: boolean): Uint8Array | null {
  const source = bytesOf(text);
  const out = new Uint8Array(source.length);
  let length = 0;
  for (let i = 0; i < source.length; i++) {
    const byte = source[i]!;
    if (byte === PERCENT) {
      const high = hexValue(source[i + 1]);
      const low = hexValue(source[i + 2]);
      if (high < 0 || low < 0) return null;
      out[length++] = (high << 4) | low;
      i += 2;
    } else if (byte === PLUS && plusIsSpace) {
      out[length++] = 0x20;
    } else {
      out[length++] = byte;
    }
  }
  return out.subarray(0, length);
}

function hexValue(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  return -1;
}

/**
 * Canonical URI from the path as it appeared on the request line.
 * - `s3`: decode once, re-encode once with UriEncode (keeping `/`); S3 object keys may contain
 *   `.`, `..` and `//`, so no segment is normalised.
 * - `standard` (every other service, e.g. KMS): RFC 3986 dot-segment removal and empty-segment
 *   collapsing, then UriEncode of the already-encoded path, i.e. each segment encoded twice.
 */
export function canonicalUri(rawPath: string, encoding: UriEncoding): string {
  if (rawPath === '') return '/';
  if (encoding === 'standard') return uriEncode(bytesOf(normalisePath(rawPath)), false);
  if (isAlreadyCanonical(rawPath, true)) return rawPath;
  const decoded = percentDecode(rawPath, false);
  if (decoded === null) throw new SigV4Error('InvalidURI', "Couldn't parse the specified URI.", { rawPath });
  return uriEncode(decoded, false);
}

/** Dot-segment removal as the AWS SDKs do it for non-S3 services (empty segments dropped). */
function normalisePath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const leading = path.startsWith('/') ? '/' : '';
  const trailing = segments.length > 0 && path.endsWith('/') ? '/' : '';
  return `${leading}${segments.join('/')}${trailing}`;
}

// ---------------------------------------------------------------------------------------------
// Query

/**
 * Splits a raw query string into parameters. `+` decodes to a space, as form encoding and S3's
 * own parser treat it; a literal `+` must arrive as `%2B` (which every SDK sends).
 */
export function parseQuery(rawQuery: string): QueryParameter[] {
  const parameters: QueryParameter[] = [];
  if (rawQuery === '') return parameters;
  let start = 0;
  while (start <= rawQuery.length) {
    let end = rawQuery.indexOf('&', start);
    if (end === -1) end = rawQuery.length;
    if (end > start) parameters.push(parseQueryParameter(rawQuery.slice(start, end)));
    start = end + 1;
  }
  return parameters;
}

function parseQueryParameter(pair: string): QueryParameter {
  const equals = pair.indexOf('=');
  const rawName = equals === -1 ? pair : pair.slice(0, equals);
  const rawValue = equals === -1 ? '' : pair.slice(equals + 1);
  const [name, canonicalName] = decodeQueryComponent(rawName);
  const [value, canonicalValue] = decodeQueryComponent(rawValue);
  return { name, value, canonicalName, canonicalValue };
}

function decodeQueryComponent(raw: string): [decoded: string, canonical: string] {
  if (isAlreadyCanonical(raw, false)) return [raw, raw];
  const bytes = percentDecode(raw, true);
  if (bytes === null) {
    throw new SigV4Error('InvalidURI', "Couldn't parse the specified URI.", { queryComponent: raw });
  }
  return [Buffer.from(bytes).toString('utf8'), uriEncode(bytes, true)];
}

/** Sorted by canonical name, then canonical value (byte order: both are ASCII). */
export function canonicalQueryString(
  parameters: readonly QueryParameter[],
  excludeName: string | null,
): string {
  const included = excludeName === null ? [...parameters] : parameters.filter((p) => p.name !== excludeName);
  included.sort(compareCanonicalParameters);
  let out = '';
  for (let i = 0; i < included.length; i++) {
    const parameter = included[i]!;
    out += `${i === 0 ? '' : '&'}${parameter.canonicalName}=${parameter.canonicalValue}`;
  }
  return out;
}

function compareCanonicalParameters(a: QueryParameter, b: QueryParameter): number {
  if (a.canonicalName !== b.canonicalName) return a.canonicalName < b.canonicalName ? -1 : 1;
  if (a.canonicalValue !== b.canonicalValue) return a.canonicalValue < b.canonicalValue ? -1 : 1;
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Headers

export type HeaderMap = Record<string, string | string[] | undefined>;

export interface CanonicalHeaders {
  /** "name:value\n" for each signed header, in the order given. */
  text: string;
  /** True when a value holds characters beyond latin1, so the request must be hashed as UTF-8. */
  hasWideCharacters: boolean;
}

/**
 * Canonical header lines for the signed headers. Values are trimmed and inner runs of spaces
 * collapse to one; several values of one header (an array, as `headersDistinct` gives them) are
 * joined with ','. A signed header that is absent contributes an empty value, so the signature
 * fails rather than the request being silently reinterpreted.
 */
export function canonicalHeaders(headers: HeaderMap, signedHeaderNames: readonly string[]): CanonicalHeaders {
  let text = '';
  let hasWideCharacters = false;
  for (const name of signedHeaderNames) {
    const raw = headers[name];
    let value: string;
    if (raw === undefined) value = '';
    else if (typeof raw === 'string') value = trimHeaderValue(raw);
    else value = raw.map(trimHeaderValue).join(',');
    if (!hasWideCharacters && hasCharacterAbove(value, 0xff)) hasWideCharacters = true;
    text += `${name}:${value}\n`;
  }
  return { text, hasWideCharacters };
}

function hasCharacterAbove(text: string, limit: number): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > limit) return true;
  return false;
}

/** AWS "Trimall": strip leading/trailing whitespace, collapse inner runs to one space. */
export function trimHeaderValue(value: string): string {
  if (isTrimmed(value)) return value;
  let out = '';
  let pendingSpace = false;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0x20 || code === 0x09) {
      pendingSpace = out.length > 0;
      continue;
    }
    if (pendingSpace) out += ' ';
    pendingSpace = false;
    out += value[i];
  }
  return out;
}

/** The common case, checked without allocating: no tabs, no edge spaces, no double spaces. */
function isTrimmed(value: string): boolean {
  const last = value.length - 1;
  for (let i = 0; i <= last; i++) {
    const code = value.charCodeAt(i);
    if (code === 0x09) return false;
    if (code === 0x20 && (i === 0 || i === last || value.charCodeAt(i + 1) === 0x20)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Dates

/** `YYYYMMDD'T'HHMMSS'Z'` → epoch milliseconds, or null when it is not a real UTC instant. */
export function parseAmzDate(text: string): number | null {
  if (text.length !== 16 || text[8] !== 'T' || text[15] !== 'Z') return null;
  for (let i = 0; i < 15; i++) {
    if (i === 8) continue;
    const code = text.charCodeAt(i);
    if (code < 0x30 || code > 0x39) return null;
  }
  const year = Number(text.slice(0, 4));
  const month = Number(text.slice(4, 6));
  const day = Number(text.slice(6, 8));
  const hour = Number(text.slice(9, 11));
  const minute = Number(text.slice(11, 13));
  const second = Number(text.slice(13, 15));
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(ms);
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    check.getUTCHours() !== hour ||
    check.getUTCMinutes() !== minute ||
    check.getUTCSeconds() !== second
  ) {
    return null;
  }
  return ms;
}

export function formatAmzDate(date: Date): string {
  const iso = date.toISOString(); // 2013-05-24T00:00:00.000Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}
