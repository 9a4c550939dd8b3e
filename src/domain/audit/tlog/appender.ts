/**
 * Appending entries to the tree. An append reads only the right-edge (partial) tiles of the
 * current tree — one per level, fetched in one batch — and returns a plan: the new leaf hashes,
 * every tile that is new or grew (full and partial), and the new root hash. Nothing is written
 * here: the caller stores the plan's tiles in the same transaction as the entries and the new
 * tree size, so a crash can never leave tiles that run ahead of the committed size.
 *
 * Appends must be serialised per log (one writer): two plans from the same tree size would both
 * claim the same leaf positions.
 */
import { tlogError } from './errors.ts';
import { assertHash, foldRight, hashLeaf, perfectSubtreeHash } from './hashing.ts';
import { TLOG_LIMITS } from './limits.ts';
import { rangeSubtrees } from './subtrees.ts';
import type { SubtreeHashCache } from './subtree-hash-cache.ts';
import { treeRootFromTiles } from './tile-prover.ts';
import { checkedTileHashes, partialTiles, tileSpanOf, type HashTile, type TileHashReader } from './tiles.ts';
import { isUint53 } from './uint53.ts';

const HASH_BYTES = TLOG_LIMITS.hashBytes;
const TILE_WIDTH = TLOG_LIMITS.tileWidth;
const FULL_TILE_BYTES = TILE_WIDTH * HASH_BYTES;

export interface AppendPlan {
  /** The tree size the plan starts from. */
  readonly oldTreeSize: number;
  /** The tree size once the plan is committed; the new entries have indexes [oldTreeSize, treeSize). */
  readonly treeSize: number;
  /** RFC 9162 leaf hashes of the new entries, in order. */
  readonly leafHashes: readonly Buffer[];
  /** Tiles to store: every tile that is new or grew, lowest level first. */
  readonly tiles: readonly HashTile[];
  /** MTH of the tree of `treeSize` leaves. */
  readonly rootHash: Buffer;
}

/**
 * Plans appending `entries` (leaf inputs, each at most TLOG_LIMITS.entryMaxBytes so it fits an
 * entry bundle) to the tree of `treeSize` leaves stored in `reader`.
 */
export async function planAppend(
  reader: TileHashReader,
  treeSize: number,
  entries: readonly Uint8Array[],
  cache?: SubtreeHashCache,
): Promise<AppendPlan> {
  assertBatch(treeSize, entries.length);
  entries.forEach((entry, i) => {
    if (!(entry instanceof Uint8Array) || entry.byteLength > TLOG_LIMITS.entryMaxBytes) {
      throw tlogError(
        'EntryTooLarge',
        `entry ${i} is not a byte string of at most ${TLOG_LIMITS.entryMaxBytes} bytes`,
        {
          entry: i,
          byteLength: entry instanceof Uint8Array ? entry.byteLength : undefined,
        },
      );
    }
  });
  return planAppendLeafHashes(reader, treeSize, entries.map(hashLeaf), cache);
}

/** Like planAppend, for leaves whose hashes are already known (rebuilding tiles from stored leaf hashes). */
export async function planAppendLeafHashes(
  reader: TileHashReader,
  treeSize: number,
  leafHashes: readonly Buffer[],
  cache?: SubtreeHashCache,
): Promise<AppendPlan> {
  assertBatch(treeSize, leafHashes.length);
  leafHashes.forEach((leafHash, i) => assertHash(leafHash, `leaf hash ${i}`));
  if (leafHashes.length === 0) {
    return {
      oldTreeSize: treeSize,
      treeSize,
      leafHashes: [],
      tiles: [],
      rootHash: await treeRootFromTiles(reader, treeSize),
    };
  }
  const newTreeSize = treeSize + leafHashes.length;
  const edgeBefore = await readPartialTiles(reader, treeSize);
  const { tiles, edgeAfter } = growTiles(treeSize, leafHashes, edgeBefore);
  return {
    oldTreeSize: treeSize,
    treeSize: newTreeSize,
    leafHashes,
    tiles,
    rootHash: rootFromEdge(newTreeSize, edgeAfter, cache, treeSize),
  };
}

/** The hashes of the current right-edge tiles, by level, cut to the width this tree size has. */
async function readPartialTiles(reader: TileHashReader, treeSize: number): Promise<Map<number, Uint8Array>> {
  const refs = partialTiles(treeSize);
  const tiles = await reader.readTiles(refs.map(({ level, index }) => ({ level, index })));
  const edge = new Map<number, Uint8Array>();
  refs.forEach((ref, i) => {
    // A stored tile wider than the tree size (left by an append that was never committed) is
    // cut back: the plan rewrites it from the committed prefix.
    edge.set(ref.level, checkedTileHashes(tiles[i], ref).subarray(0, ref.width * HASH_BYTES));
  });
  return edge;
}

/**
 * Adds the new hashes level by level: each level's new hashes extend its partial tile; every
 * tile that fills up contributes its root (255 hashes) as a new hash one level up.
 */
function growTiles(
  treeSize: number,
  leafHashes: readonly Buffer[],
  edgeBefore: ReadonlyMap<number, Uint8Array>,
): { tiles: HashTile[]; edgeAfter: Map<number, Uint8Array> } {
  const tiles: HashTile[] = [];
  const edgeAfter = new Map<number, Uint8Array>();
  let incoming: Uint8Array = Buffer.concat(leafHashes);
  for (let level = 0; TILE_WIDTH ** level <= treeSize || incoming.byteLength > 0; level++) {
    const partial = edgeBefore.get(level) ?? new Uint8Array(0);
    if (incoming.byteLength === 0) {
      // No tile filled up below: this level's right edge is unchanged.
      if (partial.byteLength > 0) edgeAfter.set(level, partial);
      continue;
    }
    const hashesBefore = Math.floor(treeSize / TILE_WIDTH ** level);
    const firstTile = Math.floor(hashesBefore / TILE_WIDTH);
    const levelHashes = Buffer.concat([partial, incoming]);
    const tileRoots: Buffer[] = [];
    for (
      let offset = 0, index = firstTile;
      offset < levelHashes.byteLength;
      offset += FULL_TILE_BYTES, index++
    ) {
      const hashes = levelHashes.subarray(offset, Math.min(offset + FULL_TILE_BYTES, levelHashes.byteLength));
      const width = hashes.byteLength / HASH_BYTES;
      tiles.push({ level, index, width, hashes });
      if (width === TILE_WIDTH) tileRoots.push(perfectSubtreeHash(hashes, 0, TILE_WIDTH));
      else edgeAfter.set(level, hashes);
    }
    incoming = Buffer.concat(tileRoots);
  }
  return { tiles, edgeAfter };
}

/** The root of a tree from its right-edge tiles, which hold every subtree of its root. */
/**
 * The root from the right-edge tiles. With `cache`, hashes of perfect subtrees that lie wholly
 * within `committedSize` (appended by earlier, committed appends, so they can never change) are
 * remembered: a run of single-record appends then rehashes only the newest subtrees instead of
 * whole partial tiles. Subtrees touching this append's new leaves are never cached, since the
 * transaction that holds them may still roll back.
 */
function rootFromEdge(
  treeSize: number,
  edge: ReadonlyMap<number, Uint8Array>,
  cache: SubtreeHashCache | undefined,
  committedSize: number,
): Buffer {
  const subtreeHashes = rangeSubtrees({ start: 0, end: treeSize }).map((subtree) => {
    const committed = (subtree.index + 1) * 2 ** subtree.height <= committedSize;
    const cached = committed ? cache?.get(subtree) : undefined;
    if (cached !== undefined) return cached;
    const span = tileSpanOf(subtree);
    const hash = perfectSubtreeHash(edge.get(span.level)!, span.offset, span.count);
    if (committed) cache?.set(subtree, hash, span.count);
    return hash;
  });
  return foldRight(subtreeHashes);
}

function assertBatch(treeSize: number, count: number): void {
  if (!isUint53(treeSize))
    throw tlogError('InvalidTreeSize', 'tree size must be an integer in [0, 2^53)', { treeSize });
  if (count > TLOG_LIMITS.appendBatchMaxEntries) {
    throw tlogError('BatchTooLarge', `at most ${TLOG_LIMITS.appendBatchMaxEntries} entries per append`, {
      count,
    });
  }
  if (!isUint53(treeSize + count)) {
    throw tlogError('InvalidTreeSize', 'the tree would grow beyond 2^53 − 1 leaves', { treeSize, count });
  }
}
