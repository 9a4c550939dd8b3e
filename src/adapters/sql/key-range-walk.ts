import { commonPrefixOf, hasPrefix, prefixUpperBound, successorOfPrefix } from './object-keys.ts';

/**
 * The listing engine shared by ListObjects, ListObjectVersions and ListMultipartUploads: walk rows
 * in key order within a prefix, roll keys that contain the delimiter into common prefixes, and
 * stop at exactly `maxEntries` keys-plus-prefixes (S3 counts both toward MaxKeys).
 *
 * When a common prefix is emitted, the rows that share it are not read one by one: the next
 * query seeks to the first key past the prefix (`key >= successor(commonPrefix)`), so a million
 * keys under a handful of prefixes list in a handful of index seeks.
 */

export type WalkEntry<Row> = { kind: 'row'; row: Row } | { kind: 'commonPrefix'; prefix: Buffer };

export interface WalkPage<Row> {
  entries: WalkEntry<Row>[];
  /** True only when at least one more entry exists after the last one returned. */
  isTruncated: boolean;
}

/** A position in key order: every row at or after it, within `key`'s rows, is still to come. */
export interface WalkCursor {
  key: Buffer;
}

export interface KeyRangeWalk<Row, Cursor extends WalkCursor> {
  prefix: Buffer;
  delimiter: Buffer | null;
  maxEntries: number;
  /** Where the walk begins; null when nothing can follow the marker. */
  start: Cursor | null;
  /** Rows at or after `cursor` with keys below `upperBound`, in walk order, at most `limit`. */
  fetch(cursor: Cursor, upperBound: Buffer, limit: number): Promise<Row[]>;
  keyOf(row: Row): Buffer;
  /** The cursor just past `row`. */
  cursorAfter(row: Row): Cursor;
  /** The cursor at the first row of `key` (or the first key above it). */
  cursorAt(key: Buffer): Cursor;
}

/**
 * Batch sizes. Without a delimiter every row read is returned, so the first batch is the whole
 * page (plus one row, to learn whether it is truncated). With one, rows may be skipped under a
 * common prefix, so batches start small and double while nothing is skipped; after a skip the
 * next batch is about twice what the last one produced, at least MIN_BATCH_ROWS, so that a run
 * of small prefixes does not cost a query each and few rows of a dense prefix are read in vain.
 */
const FIRST_BATCH_ROWS_WITH_DELIMITER = 64;
const MIN_BATCH_ROWS = 8;

export async function walkKeyRange<Row, Cursor extends WalkCursor>(
  walk: KeyRangeWalk<Row, Cursor>,
): Promise<WalkPage<Row>> {
  const entries: WalkEntry<Row>[] = [];
  if (walk.start === null) return { entries, isTruncated: false };
  const upperBound = prefixUpperBound(walk.prefix);
  let cursor: Cursor | null = walk.start;
  let limit = walk.maxEntries + 1;
  if (walk.delimiter !== null) limit = Math.min(limit, FIRST_BATCH_ROWS_WITH_DELIMITER);

  while (cursor !== null) {
    const rows = await walk.fetch(cursor, upperBound, limit);
    let skipping: Buffer | null = null;
    let lastRow: Row | null = null;
    let produced = 0;
    let skipped = 0;
    for (const row of rows) {
      const key = walk.keyOf(row);
      if (skipping !== null && hasPrefix(key, skipping)) {
        skipped += 1;
        continue;
      }
      if (entries.length === walk.maxEntries) return { entries, isTruncated: true };
      produced += 1;
      const commonPrefix = commonPrefixOf(key, walk.prefix.length, walk.delimiter);
      if (commonPrefix === null) {
        entries.push({ kind: 'row', row });
        skipping = null;
        lastRow = row;
      } else {
        entries.push({ kind: 'commonPrefix', prefix: Buffer.from(commonPrefix) });
        skipping = commonPrefix;
        lastRow = null;
      }
    }
    if (rows.length < limit) break;
    // A full batch: more rows may follow, from just past the last entry.
    if (lastRow !== null) cursor = walk.cursorAfter(lastRow);
    else if (skipping !== null) cursor = cursorPast(skipping, walk);
    const remaining = walk.maxEntries - entries.length;
    limit = Math.min(remaining + 1, skipped === 0 ? 2 * limit : Math.max(MIN_BATCH_ROWS, 2 * produced));
  }
  return { entries, isTruncated: false };
}

/**
 * Where a walk starts given S3's marker (start-after, key-marker, continuation): at the prefix
 * when the marker is before it; past the whole common prefix when the marker lies inside one
 * (it was returned as that prefix, so nothing under it may be listed again); else `afterMarker`.
 */
export function startOfWalk<Cursor extends WalkCursor>(
  walk: Pick<KeyRangeWalk<unknown, Cursor>, 'prefix' | 'delimiter' | 'cursorAt'>,
  marker: Buffer | null,
  afterMarker: (marker: Buffer) => Cursor,
): Cursor | null {
  if (marker === null || marker.length === 0 || marker.compare(walk.prefix) < 0)
    return walk.cursorAt(walk.prefix);
  if (hasPrefix(marker, walk.prefix)) {
    const commonPrefix = commonPrefixOf(marker, walk.prefix.length, walk.delimiter);
    if (commonPrefix !== null) return cursorPast(commonPrefix, walk);
  }
  return afterMarker(marker);
}

function cursorPast<Cursor extends WalkCursor>(
  commonPrefix: Buffer,
  walk: Pick<KeyRangeWalk<unknown, Cursor>, 'cursorAt'>,
): Cursor | null {
  const next = successorOfPrefix(commonPrefix);
  return next === null ? null : walk.cursorAt(next);
}
