import type {
  ListUploadsPage,
  ListUploadsQuery,
  ListVersionsPage,
  ListVersionsQuery,
} from '../../domain/storage/ports.ts';
import type { ListObjectsPage, ListObjectsQuery } from '../../domain/storage/types.ts';
import { LIMITS } from '../../platform/limits.ts';
import type { SqlExecutor, SqlRow } from './driver.ts';
import {
  startOfWalk,
  walkKeyRange,
  type KeyRangeWalk,
  type WalkCursor,
  type WalkEntry,
} from './key-range-walk.ts';
import { immediatelyAfter, keyBytes, keyText } from './object-keys.ts';
import { bytes, decodeUpload, decodeVersion, integer, text } from './rows.ts';
import type { Statements } from './statements.ts';

/**
 * ListObjects(V2), ListObjectVersions and ListMultipartUploads over the key-range walk. Rows stay
 * raw until they are known to be returned, so rows skipped under a common prefix cost no decoding.
 */

/** Latest versions that are not delete markers, in UTF-8 key order, after `query.after`. */
export async function listLatestObjects(
  exec: SqlExecutor,
  sql: Statements,
  bucket: string,
  query: ListObjectsQuery,
): Promise<ListObjectsPage> {
  const walk = keyWalk<WalkCursor>(query.prefix, query.delimiter, query.maxKeys, {
    fetch: (cursor, upperBound, limit) =>
      exec.query(sql.listLatestVersions, [bucket, cursor.key, upperBound, limit]),
    cursorAfter: (row) => ({ key: immediatelyAfter(bytes(row, 'object_key')) }),
    cursorAt: (key) => ({ key }),
  });
  walk.start = startOfWalk(walk, markerBytes(query.after), (marker) => ({ key: immediatelyAfter(marker) }));
  const page = await walkKeyRange(walk);
  const last = page.entries.at(-1);
  return {
    objects: rowsOf(page.entries).map(decodeVersion),
    commonPrefixes: prefixesOf(page.entries),
    isTruncated: page.isTruncated,
    lastReturned:
      last === undefined ? null : keyText(last.kind === 'row' ? bytes(last.row, 'object_key') : last.prefix),
  };
}

interface VersionCursor extends WalkCursor {
  /** Versions of `key` with a smaller seq (older) are still to come. */
  seqBelow: number;
}

/** Every version and delete marker: keys in UTF-8 order, each key's versions newest first. */
export async function listAllVersions(
  exec: SqlExecutor,
  sql: Statements,
  bucket: string,
  query: ListVersionsQuery,
): Promise<ListVersionsPage> {
  const walk = keyWalk<VersionCursor>(query.prefix, query.delimiter, query.maxKeys, {
    fetch: (cursor, upperBound, limit) =>
      exec.query(sql.listAllVersions, [bucket, cursor.key, upperBound, cursor.key, cursor.seqBelow, limit]),
    cursorAfter: (row) => ({ key: bytes(row, 'object_key'), seqBelow: integer(row, 'seq') }),
    cursorAt: (key) => ({ key, seqBelow: Number.MAX_SAFE_INTEGER }),
  });
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html: with a key marker
  // alone, listing starts with the next key; with a version-id marker too, with the versions of
  // the key marker older than that version.
  walk.start = startOfWalk(walk, markerBytes(query.keyMarker), (marker) =>
    query.versionSeqMarker === null
      ? walk.cursorAt(immediatelyAfter(marker))
      : { key: marker, seqBelow: query.versionSeqMarker },
  );
  const page = await walkKeyRange(walk);
  return {
    versions: rowsOf(page.entries).map(decodeVersion),
    commonPrefixes: prefixesOf(page.entries),
    isTruncated: page.isTruncated,
  };
}

interface UploadCursor extends WalkCursor {
  /** Uploads of `key` initiated after (initiatedAtMs, uploadId) are still to come. */
  initiatedAtMs: number;
  uploadId: string;
}

/** Multipart uploads in progress: keys in UTF-8 order, each key's uploads in initiation order. */
export async function listUploadsInProgress(
  exec: SqlExecutor,
  sql: Statements,
  bucket: string,
  query: ListUploadsQuery,
): Promise<ListUploadsPage> {
  const walk = keyWalk<UploadCursor>(query.prefix, query.delimiter, query.maxUploads, {
    fetch: (cursor, upperBound, limit) =>
      exec.query(sql.listUploads, [
        bucket,
        cursor.key,
        upperBound,
        cursor.key,
        cursor.initiatedAtMs,
        cursor.initiatedAtMs,
        cursor.uploadId,
        limit,
      ]),
    cursorAfter: (row) => ({
      key: bytes(row, 'object_key'),
      initiatedAtMs: integer(row, 'initiated_at_ms'),
      uploadId: text(row, 'upload_id'),
    }),
    // Initiation times are never negative, so this cursor admits every upload of `key`.
    cursorAt: (key) => ({ key, initiatedAtMs: -1, uploadId: '' }),
  });
  const marker = markerBytes(query.keyMarker);
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html: the upload-id
  // marker continues within the key marker's uploads; without it, listing starts at the next key.
  // The marker's position is its initiation time; an upload completed or aborted since the last
  // page has no position any more, and the listing resumes at the next key.
  const position =
    marker === null || query.uploadIdMarker === ''
      ? null
      : (await exec.query(sql.selectUploadInitiation, [query.uploadIdMarker, bucket, marker]))[0];
  walk.start = startOfWalk(walk, marker, (key) =>
    position === undefined || position === null
      ? walk.cursorAt(immediatelyAfter(key))
      : { key, initiatedAtMs: integer(position, 'initiated_at_ms'), uploadId: query.uploadIdMarker },
  );
  const page = await walkKeyRange(walk);
  return {
    uploads: rowsOf(page.entries).map(decodeUpload),
    commonPrefixes: prefixesOf(page.entries),
    isTruncated: page.isTruncated,
  };
}

function keyWalk<Cursor extends WalkCursor>(
  prefix: string,
  delimiter: string,
  maxEntries: number,
  access: Pick<KeyRangeWalk<SqlRow, Cursor>, 'fetch' | 'cursorAfter' | 'cursorAt'>,
): KeyRangeWalk<SqlRow, Cursor> {
  return {
    prefix: keyBytes(prefix),
    delimiter: delimiter === '' ? null : keyBytes(delimiter),
    // S3 returns at most 1,000 entries per page whatever max-keys asks for.
    maxEntries: boundedCount(maxEntries, LIMITS.listMaxKeys),
    start: null,
    keyOf: (row) => bytes(row, 'object_key'),
    ...access,
  };
}

/**
 * A row count for LIMIT, within [0, max]. A negative LIMIT means "no limit" to SQLite, so a bad
 * count must never reach the statement as it is.
 */
export function boundedCount(requested: number, max: number): number {
  return Number.isFinite(requested) ? Math.max(0, Math.min(Math.trunc(requested), max)) : 0;
}

function markerBytes(marker: string): Buffer | null {
  return marker === '' ? null : keyBytes(marker);
}

function rowsOf(entries: readonly WalkEntry<SqlRow>[]): SqlRow[] {
  return entries.flatMap((entry) => (entry.kind === 'row' ? [entry.row] : []));
}

function prefixesOf(entries: readonly WalkEntry<SqlRow>[]): string[] {
  return entries.flatMap((entry) => (entry.kind === 'commonPrefix' ? [keyText(entry.prefix)] : []));
}
