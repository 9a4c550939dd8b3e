/**
 * Resource paths of c2sp.org/tlog-tiles, relative to the log prefix:
 *
 *     tile/<L>/<N>[.p/<W>]        hash tiles
 *     tile/entries/<N>[.p/<W>]    entry bundles
 *
 * `<L>` is 0–63 and `<W>` 1–255, decimal without leading zeroes; `<N>` is written in 3-digit
 * groups, zero-padded, every group but the last prefixed with `x` (1234067 → `x001/x234/067`).
 * Paths arrive in HTTP requests, so parsing accepts exactly the canonical form and nothing else.
 */
import { tlogError } from './errors.ts';
import { TLOG_LIMITS } from './limits.ts';

/** A parsed tile path. `width` is 256 for a full tile, 1–255 for a partial one (`.p/<W>`). */
export type TilePath =
  | { readonly kind: 'hashes'; readonly level: number; readonly index: number; readonly width: number }
  | { readonly kind: 'entries'; readonly index: number; readonly width: number };

/** The longest canonical path: `tile/63/x…/x…/…/nnn.p/255` with a 2^53 index is far below this. */
const TILE_PATH_MAX_CHARS = 64;
const LEVEL_PATTERN = /^(0|[1-9][0-9]?)$/;
const WIDTH_PATTERN = /^[1-9][0-9]{0,2}$/;
const INNER_GROUP_PATTERN = /^x[0-9]{3}$/;
const LAST_GROUP_PATTERN = /^[0-9]{3}$/;

/** `tile/<level>/<N>[.p/<W>]`; width 256 (or omitted) is the full tile. */
export function formatTilePath(level: number, index: number, width: number = TLOG_LIMITS.tileWidth): string {
  if (!Number.isInteger(level) || level < 0 || level > TLOG_LIMITS.tileLevelMax) {
    throw tlogError('MalformedTilePath', 'tile level must be an integer in [0, 63]', { level });
  }
  return `tile/${level}/${formatIndexAndWidth(index, width)}`;
}

/** `tile/entries/<N>[.p/<W>]`; width 256 (or omitted) is the full bundle. */
export function formatEntryBundlePath(index: number, width: number = TLOG_LIMITS.tileWidth): string {
  return `tile/entries/${formatIndexAndWidth(index, width)}`;
}

/** `<N>` in 3-digit groups: 1234067 → `x001/x234/067`, 5 → `005`. */
export function formatTileIndex(index: number): string {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw tlogError('MalformedTilePath', 'tile index must be an integer in [0, 2^53)', { index });
  }
  let path = String(index % 1000).padStart(3, '0');
  for (let rest = Math.floor(index / 1000); rest > 0; rest = Math.floor(rest / 1000)) {
    path = `x${String(rest % 1000).padStart(3, '0')}/${path}`;
  }
  return path;
}

/** Parses a path relative to the log prefix (no leading slash); anything not canonical is MalformedTilePath. */
export function parseTilePath(path: string): TilePath {
  if (typeof path !== 'string' || path.length > TILE_PATH_MAX_CHARS) throw malformed(path);
  const elements = path.split('/');
  if (elements[0] !== 'tile' || elements.length < 3) throw malformed(path);
  const levelElement = elements[1]!;
  let rest = elements.slice(2);

  let width: number = TLOG_LIMITS.tileWidth;
  const last = rest[rest.length - 1]!;
  const beforeLast = rest[rest.length - 2];
  if (beforeLast?.endsWith('.p') === true) {
    if (!WIDTH_PATTERN.test(last) || Number(last) >= TLOG_LIMITS.tileWidth) throw malformed(path);
    width = Number(last);
    rest = [...rest.slice(0, -2), beforeLast.slice(0, -'.p'.length)];
  }
  const index = parseTileIndex(rest, path);

  if (levelElement === 'entries') return { kind: 'entries', index, width };
  if (!LEVEL_PATTERN.test(levelElement) || Number(levelElement) > TLOG_LIMITS.tileLevelMax)
    throw malformed(path);
  return { kind: 'hashes', level: Number(levelElement), index, width };
}

function parseTileIndex(groups: readonly string[], path: string): number {
  const innerGroups = groups.slice(0, -1);
  const lastGroup = groups[groups.length - 1] ?? '';
  if (!innerGroups.every((group) => INNER_GROUP_PATTERN.test(group)) || !LAST_GROUP_PATTERN.test(lastGroup)) {
    throw malformed(path);
  }
  const digits = [...innerGroups.map((group) => group.slice(1)), lastGroup].join('');
  const index = Number(digits);
  // Canonical only: no leading `x000/` groups, and an index JavaScript holds exactly.
  if (!Number.isSafeInteger(index) || formatTileIndex(index) !== groups.join('/')) throw malformed(path);
  return index;
}

function formatIndexAndWidth(index: number, width: number): string {
  if (!Number.isInteger(width) || width < 1 || width > TLOG_LIMITS.tileWidth) {
    throw tlogError('MalformedTilePath', 'tile width must be an integer in [1, 256]', { width });
  }
  const indexPath = formatTileIndex(index);
  return width === TLOG_LIMITS.tileWidth ? indexPath : `${indexPath}.p/${width}`;
}

function malformed(path: unknown): Error {
  return tlogError('MalformedTilePath', 'not a c2sp.org/tlog-tiles path', {
    path: typeof path === 'string' ? path.slice(0, TILE_PATH_MAX_CHARS) : undefined,
  });
}
