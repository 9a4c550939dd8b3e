/**
 * Root hashes and proofs computed from the tile store, for any tree size up to the stored one.
 * Each call plans the perfect subtrees it needs (subtrees.ts), reads their tiles in one batch and
 * rebuilds the interior nodes between tile levels from the tile hashes. An inclusion proof in a
 * tree of 10^7 leaves touches five tiles and rebuilds ~900 interior nodes, fewer with a
 * SubtreeHashCache.
 */
import { tlogError } from './errors.ts';
import { emptyTreeRootHash, foldRight } from './hashing.ts';
import type { SubtreeHashCache } from './subtree-hash-cache.ts';
import { consistencyProofRanges, inclusionProofRanges, rangeSubtrees, type LeafRange } from './subtrees.ts';
import { readSubtreeHashes, type TileHashReader } from './tiles.ts';
import { isUint53 } from './uint53.ts';

export interface ProverOptions {
  /** Hashes of perfect subtrees computed before (one cache per log). */
  readonly cache?: SubtreeHashCache;
}

/** RFC 9162 §2.1.1 MTH(D[0:treeSize]) from the tiles. */
export async function treeRootFromTiles(
  reader: TileHashReader,
  treeSize: number,
  options: ProverOptions = {},
): Promise<Buffer> {
  assertTreeSize(treeSize);
  if (treeSize === 0) return emptyTreeRootHash();
  const [root] = await rangeHashes(reader, [{ start: 0, end: treeSize }], options);
  return root!;
}

/** RFC 9162 §2.1.3.1: the inclusion proof of leaf `leafIndex` in the tree of `treeSize` leaves. */
export async function proveInclusion(
  reader: TileHashReader,
  treeSize: number,
  leafIndex: number,
  options: ProverOptions = {},
): Promise<Buffer[]> {
  assertTreeSize(treeSize);
  if (!isUint53(leafIndex) || leafIndex >= treeSize) {
    throw tlogError('IndexOutOfRange', 'leaf index is not below the tree size', { leafIndex, treeSize });
  }
  return rangeHashes(reader, inclusionProofRanges(leafIndex, treeSize), options);
}

/**
 * RFC 9162 §2.1.4.1: the consistency proof between the trees of `oldSize` and `newSize` leaves
 * (0 < oldSize ≤ newSize; equal sizes have the empty proof).
 */
export async function proveConsistency(
  reader: TileHashReader,
  oldSize: number,
  newSize: number,
  options: ProverOptions = {},
): Promise<Buffer[]> {
  assertTreeSize(oldSize);
  assertTreeSize(newSize);
  if (oldSize === 0 || oldSize > newSize) {
    throw tlogError('InvalidTreeSize', 'a consistency proof needs 0 < old size ≤ new size', {
      oldSize,
      newSize,
    });
  }
  if (oldSize === newSize) return [];
  return rangeHashes(reader, consistencyProofRanges(oldSize, newSize), options);
}

/** MTH of each range: its perfect subtrees are read in one batch, then folded right to left. */
async function rangeHashes(
  reader: TileHashReader,
  ranges: readonly LeafRange[],
  options: ProverOptions,
): Promise<Buffer[]> {
  const perRange = ranges.map(rangeSubtrees);
  const hashes = await readSubtreeHashes(reader, perRange.flat(), options.cache);
  let next = 0;
  return perRange.map((subtrees) => {
    const own = hashes.slice(next, next + subtrees.length);
    next += subtrees.length;
    return foldRight(own);
  });
}

function assertTreeSize(treeSize: number): void {
  if (!isUint53(treeSize))
    throw tlogError('InvalidTreeSize', 'tree size must be an integer in [0, 2^53)', { treeSize });
}
