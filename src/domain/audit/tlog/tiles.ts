/**
 * Hash storage in the shape of c2sp.org/tlog-tiles: tiles of height 8. A level-0 tile holds 256
 * consecutive leaf hashes; a level-L tile holds the hashes of 256 consecutive complete subtrees
 * of 256^L leaves (the roots of 256 full level-(L−1) tiles). Tile N at level L covers leaves
 * [N·256^(L+1), (N+1)·256^(L+1)). The rightmost tile of each level is usually partial (1–255
 * hashes) and grows until full; a partial tile is never hashed into the level above.
 *
 * Hashes are immutable once written, so a tile of width W also answers every narrower view of
 * itself: the partial tile `.p/w` for w ≤ W is its first w hashes.
 */
import { tlogError } from './errors.ts';
import { perfectSubtreeHash } from './hashing.ts';
import { TLOG_LIMITS } from './limits.ts';
import type { SubtreeHashCache } from './subtree-hash-cache.ts';
import type { Subtree } from './subtrees.ts';

const HASH_BYTES = TLOG_LIMITS.hashBytes;
const TILE_WIDTH = TLOG_LIMITS.tileWidth;
const TILE_HEIGHT = TLOG_LIMITS.tileHeight;

/** A tile's coordinates: `tile/<level>/<index>` in c2sp.org/tlog-tiles. */
export interface TileRef {
  readonly level: number;
  readonly index: number;
}

/** A stored tile: `width` (1–256) hashes of 32 bytes, back to back. */
export interface HashTile extends TileRef {
  readonly width: number;
  readonly hashes: Uint8Array;
}

/** The read side of the tile store port. */
export interface TileHashReader {
  /**
   * The stored tiles at `refs`, in the same order; `undefined` where no tile is stored. A tile
   * is returned at the width stored (which may exceed what a smaller tree needs). One call is
   * one batch: implementations fetch all refs in a single round trip.
   */
  readTiles(refs: readonly TileRef[]): Promise<readonly (HashTile | undefined)[]>;
}

/**
 * The tile store port. SQL adapters keep one row per (level, index) with its width and the
 * hashes as one bytea/blob; a partial tile's row is rewritten as it grows.
 */
export interface TileHashStore extends TileHashReader {
  /**
   * Stores `tiles`, each replacing whatever is stored at its (level, index). All or nothing:
   * callers write an append plan's tiles in the same transaction as the entries and the new
   * tree size, so tiles never run ahead of a committed size.
   */
  writeTiles(tiles: readonly HashTile[]): Promise<void>;
}

/** Where a perfect subtree's hash lives: `count` hashes from `offset` in tile (level, index). */
export interface TileSpan extends TileRef {
  readonly offset: number;
  readonly count: number;
}

/**
 * The tile span a perfect subtree is computed from. A subtree of height 8L + r is the root of
 * 2^r consecutive level-L hashes, all in one tile because 2^r divides 256.
 */
export function tileSpanOf(subtree: Subtree): TileSpan {
  const level = Math.floor(subtree.height / TILE_HEIGHT);
  const count = 2 ** (subtree.height - level * TILE_HEIGHT);
  const first = subtree.index * count;
  return { level, index: Math.floor(first / TILE_WIDTH), offset: first % TILE_WIDTH, count };
}

/**
 * The right-edge tiles of a tree of `treeSize` leaves: per level, the tile that is not full
 * (width = ⌊treeSize / 256^L⌋ mod 256, c2sp.org/tlog-tiles "Partial Tiles"), omitted where
 * that width is 0. These are the only tiles an append changes, and together they hold every
 * subtree of the tree's root.
 */
export function partialTiles(treeSize: number): (TileRef & { readonly width: number })[] {
  const tiles: (TileRef & { readonly width: number })[] = [];
  for (let level = 0; TILE_WIDTH ** level <= treeSize; level++) {
    const hashesAtLevel = Math.floor(treeSize / TILE_WIDTH ** level);
    const width = hashesAtLevel % TILE_WIDTH;
    if (width > 0) tiles.push({ level, index: Math.floor(hashesAtLevel / TILE_WIDTH), width });
  }
  return tiles;
}

/** Throws InvalidTile unless `tile` is well-formed (coordinates, width 1–256, byte length). */
export function assertHashTile(tile: HashTile): void {
  const valid =
    Number.isInteger(tile.level) &&
    tile.level >= 0 &&
    tile.level <= TLOG_LIMITS.tileLevelMax &&
    Number.isSafeInteger(tile.index) &&
    tile.index >= 0 &&
    Number.isInteger(tile.width) &&
    tile.width >= 1 &&
    tile.width <= TILE_WIDTH &&
    tile.hashes instanceof Uint8Array &&
    tile.hashes.byteLength === tile.width * HASH_BYTES;
  if (!valid) {
    throw tlogError(
      'InvalidTile',
      'a hash tile must have a level, an index, 1–256 hashes and 32 bytes per hash',
      {
        level: tile.level,
        index: tile.index,
        width: tile.width,
      },
    );
  }
}

/**
 * Hashes of perfect subtrees, read from tiles in one batch. Each tile is read once, at the
 * widest span any subtree needs from it; a tile that is absent or too narrow is TileMissing
 * (the store is behind the tree size asked for). Subtrees found in `cache` are not read.
 */
export async function readSubtreeHashes(
  reader: TileHashReader,
  subtrees: readonly Subtree[],
  cache?: SubtreeHashCache,
): Promise<Buffer[]> {
  const hashes = subtrees.map((subtree) => cache?.get(subtree));
  const spans = subtrees.map(tileSpanOf);
  const needed = new Map<string, TileRef & { width: number }>();
  spans.forEach((span, i) => {
    if (hashes[i] !== undefined) return;
    const key = tileKey(span);
    const width = span.offset + span.count;
    const known = needed.get(key);
    if (known === undefined) needed.set(key, { level: span.level, index: span.index, width });
    else known.width = Math.max(known.width, width);
  });
  const refs = [...needed.values()];
  const tiles =
    refs.length === 0 ? [] : await reader.readTiles(refs.map(({ level, index }) => ({ level, index })));
  const byKey = new Map<string, Uint8Array>();
  refs.forEach((ref, i) => byKey.set(tileKey(ref), checkedTileHashes(tiles[i], ref)));
  return spans.map((span, i) => {
    const cached = hashes[i];
    if (cached !== undefined) return cached;
    const hash = perfectSubtreeHash(byKey.get(tileKey(span))!, span.offset, span.count);
    cache?.set(subtrees[i]!, hash, span.count);
    return hash;
  });
}

/** The tile's hashes, after checking it is the tile asked for and at least `ref.width` wide. */
export function checkedTileHashes(
  tile: HashTile | undefined,
  ref: TileRef & { readonly width: number },
): Uint8Array {
  if (tile === undefined || tile.width < ref.width) {
    throw tlogError('TileMissing', `tile ${ref.level}/${ref.index} is not stored at width ${ref.width}`, {
      level: ref.level,
      index: ref.index,
      width: ref.width,
      storedWidth: tile?.width,
    });
  }
  assertHashTile(tile);
  if (tile.level !== ref.level || tile.index !== ref.index) {
    throw tlogError(
      'InvalidTile',
      `the store answered tile ${tile.level}/${tile.index} for ${ref.level}/${ref.index}`,
    );
  }
  return tile.hashes;
}

export function tileKey(ref: TileRef): string {
  return `${ref.level}/${ref.index}`;
}
