import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { ByteRangeRequest, ReadConditions } from '../../domain/storage/conditions.ts';
import type { WriteConditions } from '../../domain/storage/object-store.ts';
import type { ChecksumAlgorithm, ObjectVersion, SystemMetadata } from '../../domain/storage/types.ts';
import type { Tag } from '../../domain/storage/tagging.ts';
import { CHECKSUM_ALGORITHMS } from '../../domain/storage/types.ts';
import { LIMITS } from '../../platform/limits.ts';
import { s3Error } from './errors.ts';

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** Representation headers S3 stores with the object (PutObject request headers). */
export function readSystemMetadata(headers: IncomingHttpHeaders): SystemMetadata {
  const system: SystemMetadata = {};
  const type = header(headers, 'content-type');
  if (type !== undefined && type !== '') system.contentType = type;
  const encoding = header(headers, 'content-encoding');
  if (encoding !== undefined) {
    // aws-chunked is a transfer detail of the upload, not part of the stored representation.
    const kept = encoding
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '' && s.toLowerCase() !== 'aws-chunked');
    if (kept.length > 0) system.contentEncoding = kept.join(',');
  }
  const copy: [keyof SystemMetadata, string][] = [
    ['contentLanguage', 'content-language'],
    ['contentDisposition', 'content-disposition'],
    ['cacheControl', 'cache-control'],
    ['expires', 'expires'],
  ];
  for (const [field, name] of copy) {
    const value = header(headers, name);
    if (value !== undefined) system[field] = value;
  }
  return system;
}

/** `x-amz-meta-*` headers; names lower-cased as S3 does; total size bounded (2 KB). */
export function readUserMetadata(headers: IncomingHttpHeaders): Record<string, string> {
  const meta: Record<string, string> = {};
  let bytes = 0;
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith('x-amz-meta-') || value === undefined) continue;
    const key = name.slice('x-amz-meta-'.length);
    const text = Array.isArray(value) ? value.join(',') : value;
    meta[key] = text;
    bytes += Buffer.byteLength(key) + Buffer.byteLength(text);
  }
  if (bytes > LIMITS.userMetadataMaxBytes) {
    throw s3Error('MetadataTooLarge', 'Your metadata headers exceed the maximum allowed metadata size.', {
      maxSizeAllowed: LIMITS.userMetadataMaxBytes,
    });
  }
  return meta;
}

/**
 * `x-amz-tagging: k1=v1&k2=v2` on PutObject / CreateMultipartUpload / CopyObject, as sent, or
 * null without one; validated with the target's label tags (handlers/tagging.ts requestTagSet).
 */
export function readTaggingHeaderTags(headers: IncomingHttpHeaders): Tag[] | null {
  const value = header(headers, 'x-amz-tagging');
  if (value === undefined) return null;
  return [...new URLSearchParams(value)].map(([key, tagValue]) => ({ key, value: tagValue }));
}

export function readContentMd5(headers: IncomingHttpHeaders): Buffer | null {
  const value = header(headers, 'content-md5');
  if (value === undefined) return null;
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length !== 16 || bytes.toString('base64') !== value.trim()) {
    throw s3Error('InvalidDigest', 'The Content-MD5 you specified was invalid.');
  }
  return bytes;
}

export function readChecksumAlgorithmName(value: string | undefined, what: string): ChecksumAlgorithm | null {
  if (value === undefined || value === '') return null;
  const upper = value.toUpperCase();
  const found = CHECKSUM_ALGORITHMS.find((a) => a === upper);
  if (found === undefined) throw s3Error('InvalidRequest', `Value for ${what} header is invalid.`);
  return found;
}

/** The `x-amz-checksum-<alg>` header sent with the request, at most one. */
export function readChecksumHeader(
  headers: IncomingHttpHeaders,
): { algorithm: ChecksumAlgorithm; value: string } | null {
  let found: { algorithm: ChecksumAlgorithm; value: string } | null = null;
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const value = header(headers, `x-amz-checksum-${algorithm.toLowerCase()}`);
    if (value === undefined) continue;
    if (found !== null)
      throw s3Error(
        'InvalidRequest',
        'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.',
      );
    found = { algorithm, value };
  }
  return found;
}

export function readReadConditions(headers: IncomingHttpHeaders, prefix = ''): ReadConditions {
  return {
    ifMatch: header(headers, `${prefix}if-match`),
    ifNoneMatch: header(headers, `${prefix}if-none-match`),
    ifModifiedSince: readHttpDate(header(headers, `${prefix}if-modified-since`)),
    ifUnmodifiedSince: readHttpDate(header(headers, `${prefix}if-unmodified-since`)),
  };
}

export function readWriteConditions(headers: IncomingHttpHeaders): WriteConditions {
  return { ifMatch: header(headers, 'if-match'), ifNoneMatch: header(headers, 'if-none-match') };
}

/** Unparseable dates are ignored, as RFC 9110 §13.1.3 requires for If-Modified-Since. */
function readHttpDate(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/**
 * Parses a single byte range (RFC 9110 §14.1.2). S3 serves one range; a header it cannot use
 * (other units, several ranges, bad syntax) is ignored and the whole object is returned.
 */
export function readRange(value: string | undefined): ByteRangeRequest | null {
  if (value === undefined) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (match === null) return null;
  const [, first, last] = match;
  if (first === '' && last === '') return null;
  if (first === '') return { kind: 'suffix', length: Number(last) };
  if (last === '') return { kind: 'open', first: Number(first) };
  const range = { kind: 'bounded' as const, first: Number(first), last: Number(last) };
  if (range.last < range.first) return null;
  return range;
}

export function httpDate(date: Date): string {
  return date.toUTCString();
}

export function quotedEtag(etag: string): string {
  return `"${etag}"`;
}

/** Headers that describe a stored version on GET/HEAD responses. */
export function versionHeaders(version: ObjectVersion, includeVersionId: boolean): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {
    etag: quotedEtag(version.etag),
    'last-modified': httpDate(version.lastModified),
    'accept-ranges': 'bytes',
    'content-type': version.system.contentType ?? 'binary/octet-stream',
  };
  const system = version.system;
  if (system.contentEncoding !== undefined) out['content-encoding'] = system.contentEncoding;
  if (system.contentLanguage !== undefined) out['content-language'] = system.contentLanguage;
  if (system.contentDisposition !== undefined) out['content-disposition'] = system.contentDisposition;
  if (system.cacheControl !== undefined) out['cache-control'] = system.cacheControl;
  if (system.expires !== undefined) out.expires = system.expires;
  for (const [name, value] of Object.entries(version.userMetadata)) out[`x-amz-meta-${name}`] = value;
  if (includeVersionId) out['x-amz-version-id'] = version.versionId;
  const tagCount = Object.keys(version.tags).length;
  if (tagCount > 0) out['x-amz-tagging-count'] = String(tagCount);
  if (version.retention !== null) {
    out['x-amz-object-lock-mode'] = version.retention.mode;
    out['x-amz-object-lock-retain-until-date'] = version.retention.retainUntil.toISOString();
  }
  if (version.legalHold) out['x-amz-object-lock-legal-hold'] = 'ON';
  if (version.layout.kind === 'segments' && version.layout.segments[0]?.partNumber !== undefined) {
    out['x-amz-mp-parts-count'] = String(version.layout.segments.length);
  }
  return out;
}

export function checksumHeaders(version: ObjectVersion): OutgoingHttpHeaders {
  if (version.checksum === null) return {};
  return {
    [`x-amz-checksum-${version.checksum.algorithm.toLowerCase()}`]: version.checksum.value,
    'x-amz-checksum-type': version.checksum.type,
  };
}

/** GET response-header overrides (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html). */
export const RESPONSE_OVERRIDES: readonly [string, string][] = [
  ['response-content-type', 'content-type'],
  ['response-content-language', 'content-language'],
  ['response-expires', 'expires'],
  ['response-cache-control', 'cache-control'],
  ['response-content-disposition', 'content-disposition'],
  ['response-content-encoding', 'content-encoding'],
];

export function parseNonNegativeInteger(value: string | null, name: string, fallback: number): number {
  if (value === null) return fallback;
  if (!/^\d+$/.test(value))
    throw s3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, {
      argumentName: name,
    });
  const n = Number(value);
  if (!Number.isSafeInteger(n))
    throw s3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, {
      argumentName: name,
    });
  return n;
}
