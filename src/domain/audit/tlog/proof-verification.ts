/**
 * Verification of inclusion and consistency proofs, following the algorithms of RFC 9162
 * §2.1.3.2 and §2.1.4.2 step by step. Every input is treated as hostile: sizes and indexes must
 * be safe integers, every hash 32 bytes, and the proof exactly as long as its sizes dictate
 * (checked up front, so a wrong length is InvalidProof and a wrong hash is RootMismatch).
 */
import { tlogError } from './errors.ts';
import { assertHash, hashChildren } from './hashing.ts';
import { bitLength, isUint53, popCount, shiftRight, trailingZeros, xor } from './uint53.ts';

export interface InclusionProofInput {
  readonly leafIndex: number;
  readonly treeSize: number;
  readonly leafHash: Uint8Array;
  readonly proof: readonly Uint8Array[];
}

export interface ConsistencyProofInput {
  readonly oldSize: number;
  readonly newSize: number;
  readonly oldRootHash: Uint8Array;
  readonly newRootHash: Uint8Array;
  readonly proof: readonly Uint8Array[];
}

/** Throws (IndexOutOfRange, InvalidTreeSize, InvalidHash, InvalidProof, RootMismatch) unless the proof holds. */
export function verifyInclusionProof(input: InclusionProofInput & { readonly rootHash: Uint8Array }): void {
  assertHash(input.rootHash, 'root hash');
  const computed = rootFromInclusionProof(input);
  if (!computed.equals(input.rootHash)) {
    throw tlogError('RootMismatch', 'the inclusion proof leads to a different root hash', {
      leafIndex: input.leafIndex,
      treeSize: input.treeSize,
    });
  }
}

/** RFC 9162 §2.1.3.2: the root hash that the leaf and its inclusion proof lead to. */
export function rootFromInclusionProof(input: InclusionProofInput): Buffer {
  const { leafIndex, treeSize, leafHash, proof } = input;
  if (!isUint53(treeSize))
    throw tlogError('InvalidTreeSize', 'tree size must be an integer in [0, 2^53)', { treeSize });
  if (!isUint53(leafIndex))
    throw tlogError('IndexOutOfRange', 'leaf index must be an integer in [0, 2^53)', { leafIndex });
  // Step 1: leaf_index ≥ tree_size fails (this also rejects every proof in the empty tree).
  if (leafIndex >= treeSize) {
    throw tlogError('IndexOutOfRange', 'leaf index is not below the tree size', { leafIndex, treeSize });
  }
  assertHash(leafHash, 'leaf hash');
  assertProofHashes(proof, inclusionProofLength(leafIndex, treeSize));

  // Steps 2–4.
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r: Buffer = Buffer.from(leafHash);
  for (const p of proof) {
    if (sn === 0) throw tlogError('InvalidProof', 'the inclusion proof is too long', { leafIndex, treeSize });
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = shiftRight(fn, 1);
          sn = shiftRight(sn, 1);
        }
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = shiftRight(fn, 1);
    sn = shiftRight(sn, 1);
  }
  // Step 5.
  if (sn !== 0) throw tlogError('InvalidProof', 'the inclusion proof is too short', { leafIndex, treeSize });
  return r;
}

/**
 * Throws unless `proof` shows that the tree of `oldSize` leaves with `oldRootHash` is a prefix of
 * the tree of `newSize` leaves with `newRootHash`. RFC 9162 §2.1.4 defines consistency for
 * 0 < old ≤ new only: a proof from the empty tree is meaningless and is refused, as
 * transparency-dev/merkle does.
 */
export function verifyConsistencyProof(input: ConsistencyProofInput): void {
  const { oldSize, newSize, oldRootHash, newRootHash, proof } = input;
  if (!isUint53(oldSize) || !isUint53(newSize)) {
    throw tlogError('InvalidTreeSize', 'tree sizes must be integers in [0, 2^53)', { oldSize, newSize });
  }
  if (oldSize > newSize)
    throw tlogError('InvalidTreeSize', 'the old tree is larger than the new one', { oldSize, newSize });
  if (oldSize === 0) {
    throw tlogError('InvalidTreeSize', 'a consistency proof from the empty tree is meaningless', {
      oldSize,
      newSize,
    });
  }
  assertHash(oldRootHash, 'old root hash');
  assertHash(newRootHash, 'new root hash');
  if (oldSize === newSize) {
    assertProofHashes(proof, 0);
    if (!Buffer.from(oldRootHash).equals(newRootHash)) {
      throw tlogError('RootMismatch', 'trees of the same size have different root hashes', {
        oldSize,
        newSize,
      });
    }
    return;
  }
  assertProofHashes(proof, consistencyProofLength(oldSize, newSize));

  // Step 2: if first is an exact power of 2, the proof omits first_hash; put it back.
  const path = oldSize === 2 ** trailingZeros(oldSize) ? [oldRootHash, ...proof] : [...proof];
  // Steps 3–4.
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (fn % 2 === 1) {
    fn = shiftRight(fn, 1);
    sn = shiftRight(sn, 1);
  }
  // Step 5.
  let fr: Buffer = Buffer.from(path[0]!);
  let sr: Buffer = Buffer.from(path[0]!);
  // Step 6.
  for (const c of path.slice(1)) {
    if (sn === 0) throw tlogError('InvalidProof', 'the consistency proof is too long', { oldSize, newSize });
    if (fn % 2 === 1 || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = shiftRight(fn, 1);
          sn = shiftRight(sn, 1);
        }
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = shiftRight(fn, 1);
    sn = shiftRight(sn, 1);
  }
  // Step 7.
  if (sn !== 0) throw tlogError('InvalidProof', 'the consistency proof is too short', { oldSize, newSize });
  if (!fr.equals(oldRootHash)) {
    throw tlogError('RootMismatch', 'the consistency proof does not lead to the old root hash', {
      oldSize,
      newSize,
    });
  }
  if (!sr.equals(newRootHash)) {
    throw tlogError('RootMismatch', 'the consistency proof does not lead to the new root hash', {
      oldSize,
      newSize,
    });
  }
}

/**
 * Length of the inclusion proof of `leafIndex` in a tree of `treeSize`: the levels where the
 * leaf's path lies below the tree's right border ("inner"), plus one left sibling for every
 * level above where the path turns right ("border") — the decomposition of
 * transparency-dev/merkle proof.decompInclProof.
 */
export function inclusionProofLength(leafIndex: number, treeSize: number): number {
  const inner = bitLength(xor(leafIndex, treeSize - 1));
  return inner + popCount(shiftRight(leafIndex, inner));
}

/**
 * Length of the consistency proof between 0 < oldSize < newSize: the inclusion proof of leaf
 * oldSize − 1 in newSize, without the levels inside the old tree's last perfect subtree, plus
 * that subtree's own hash unless it is the whole old tree.
 */
export function consistencyProofLength(oldSize: number, newSize: number): number {
  const shift = trailingZeros(oldSize);
  const inner = bitLength(xor(oldSize - 1, newSize - 1)) - shift;
  const border = popCount(shiftRight(oldSize - 1, inner + shift));
  const seed = oldSize === 2 ** shift ? 0 : 1;
  return seed + inner + border;
}

function assertProofHashes(proof: unknown, expectedLength: number): asserts proof is readonly Uint8Array[] {
  if (!Array.isArray(proof)) throw tlogError('InvalidProof', 'a proof is a list of hashes');
  if (proof.length !== expectedLength) {
    throw tlogError(
      'InvalidProof',
      `the proof has ${proof.length} hashes where ${expectedLength} are needed`,
      {
        length: proof.length,
        expectedLength,
      },
    );
  }
  proof.forEach((element, i) => assertHash(element, `proof[${i}]`));
}
