import { storageError } from './errors.ts';

/**
 * Conditional request headers, evaluated in the order RFC 9110 §13.2.2 prescribes, with S3's
 * documented combinations (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html):
 * If-Match true + If-Unmodified-Since false → 200; If-None-Match false + If-Modified-Since true → 304.
 */
export interface ReadConditions {
  ifMatch?: string | undefined;
  ifNoneMatch?: string | undefined;
  ifModifiedSince?: Date | undefined;
  ifUnmodifiedSince?: Date | undefined;
}

export function etagMatches(headerValue: string, etag: string): boolean {
  for (const raw of headerValue.split(',')) {
    const candidate = raw.trim();
    if (candidate === '*') return true;
    const unquoted = candidate.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
    if (unquoted === etag) return true;
  }
  return false;
}

/** HTTP dates have one-second resolution; compare at that resolution. */
function seconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/**
 * Throws PreconditionFailed (412) or NotModified (304) when the conditions exclude this version.
 * `failureAs412` turns every failure into 412, as S3 does for copy-source conditions.
 */
export function evaluateReadConditions(
  conditions: ReadConditions,
  etag: string,
  lastModified: Date,
  failureAs412 = false,
): void {
  const notModified = (message: string) =>
    failureAs412 ? storageError('PreconditionFailed', message) : storageError('NotModified', message);
  if (conditions.ifMatch !== undefined) {
    if (!etagMatches(conditions.ifMatch, etag)) {
      throw storageError(
        'PreconditionFailed',
        'At least one of the pre-conditions you specified did not hold',
        {
          condition: 'If-Match',
        },
      );
    }
  } else if (conditions.ifUnmodifiedSince !== undefined) {
    if (seconds(lastModified) > seconds(conditions.ifUnmodifiedSince)) {
      throw storageError(
        'PreconditionFailed',
        'At least one of the pre-conditions you specified did not hold',
        {
          condition: 'If-Unmodified-Since',
        },
      );
    }
  }
  if (conditions.ifNoneMatch !== undefined) {
    if (etagMatches(conditions.ifNoneMatch, etag)) throw notModified('Not Modified');
  } else if (conditions.ifModifiedSince !== undefined) {
    if (seconds(lastModified) <= seconds(conditions.ifModifiedSince)) throw notModified('Not Modified');
  }
}

/** A requested byte range: `bytes=a-b`, `bytes=a-` or `bytes=-n` (RFC 9110 §14.1.2). */
export type ByteRangeRequest =
  | { kind: 'bounded'; first: number; last: number }
  | { kind: 'open'; first: number }
  | { kind: 'suffix'; length: number };

/** Resolves a range against the object size: [start, endExclusive), or RangeNotSatisfiable (416). */
export function resolveRange(
  range: ByteRangeRequest,
  sizeBytes: number,
): { start: number; endExclusive: number } {
  const unsatisfiable = () =>
    storageError('RangeNotSatisfiable', 'The requested range is not satisfiable', { sizeBytes });
  switch (range.kind) {
    case 'bounded':
      if (range.first >= sizeBytes) throw unsatisfiable();
      return { start: range.first, endExclusive: Math.min(range.last, sizeBytes - 1) + 1 };
    case 'open':
      if (range.first >= sizeBytes) throw unsatisfiable();
      return { start: range.first, endExclusive: sizeBytes };
    case 'suffix':
      if (range.length === 0 || sizeBytes === 0) throw unsatisfiable();
      return { start: Math.max(0, sizeBytes - range.length), endExclusive: sizeBytes };
  }
}
