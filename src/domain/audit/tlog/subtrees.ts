/**
 * Which subtrees a root or a proof is made of. RFC 9162 defines the root (§2.1.1), the inclusion
 * proof (§2.1.3.1) and the consistency proof (§2.1.4.1) recursively over ranges D[lo:hi]; every
 * range those recursions visit starts at a multiple of a power of two at least as large as the
 * range, so its hash is the right fold of the *perfect* subtrees it decomposes into — and perfect
 * subtrees are exactly what tiles store. Planning here is pure index arithmetic; reading and
 * hashing happen in tile-prover.ts and appender.ts.
 */
import { largestPowerOfTwoBelow, bitLength, trailingZeros } from './uint53.ts';

/** The perfect subtree of height `height` covering leaves [index·2^height, (index+1)·2^height). */
export interface Subtree {
  readonly height: number;
  readonly index: number;
}

/** The leaves [start, end) whose Merkle Tree Hash is one element of a proof. */
export interface LeafRange {
  readonly start: number;
  readonly end: number;
}

/**
 * The perfect subtrees that make up [start, end), left to right. MTH(D[start:end]) is their
 * right fold: h(s1, h(s2, … h(s(k−1), sk))), because RFC 9162 §2.1.1 splits at the largest power
 * of two below the size, which is the first (largest) subtree.
 */
export function rangeSubtrees(range: LeafRange): Subtree[] {
  const subtrees: Subtree[] = [];
  let start = range.start;
  while (start < range.end) {
    const fitting = bitLength(range.end - start) - 1;
    const height = start === 0 ? fitting : Math.min(fitting, trailingZeros(start));
    const size = 2 ** height;
    subtrees.push({ height, index: start / size });
    start += size;
  }
  return subtrees;
}

/**
 * RFC 9162 §2.1.3.1 PATH(m, D[0:n]) as ranges, leaf level first. Each step of the recursion
 * keeps the half holding m and records the other half.
 */
export function inclusionProofRanges(leafIndex: number, treeSize: number): LeafRange[] {
  const siblings: LeafRange[] = [];
  let start = 0;
  let end = treeSize;
  while (end - start > 1) {
    const k = largestPowerOfTwoBelow(end - start);
    if (leafIndex < start + k) {
      siblings.push({ start: start + k, end });
      end = start + k;
    } else {
      siblings.push({ start, end: start + k });
      start += k;
    }
  }
  return siblings.reverse();
}

/**
 * RFC 9162 §2.1.4.1 PROOF(m, D[0:n]) = SUBPROOF(m, D[0:n], true) as ranges, in proof order,
 * for 0 < m < n. The recursion's own result comes before the sibling each level adds, so the
 * siblings are collected top-down and reversed behind the terminal node.
 */
export function consistencyProofRanges(oldSize: number, newSize: number): LeafRange[] {
  const siblings: LeafRange[] = [];
  let terminal: LeafRange | undefined;
  let start = 0;
  let end = newSize;
  let m = oldSize;
  let completeSubtree = true; // the `b` flag of SUBPROOF
  for (;;) {
    const size = end - start;
    if (m === size) {
      if (!completeSubtree) terminal = { start, end };
      break;
    }
    const k = largestPowerOfTwoBelow(size);
    if (m <= k) {
      siblings.push({ start: start + k, end });
      end = start + k;
    } else {
      siblings.push({ start, end: start + k });
      start += k;
      m -= k;
      completeSubtree = false;
    }
  }
  siblings.reverse();
  return terminal === undefined ? siblings : [terminal, ...siblings];
}
