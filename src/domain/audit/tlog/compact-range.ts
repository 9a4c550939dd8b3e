/**
 * The root hash of a tree computed while its leaves stream past, in O(log n) memory: the
 * "compact range" of transparency-dev/merkle. It keeps the hashes of the perfect subtrees that
 * cover [0, size) — one per set bit of `size`, largest first — and merges the two rightmost
 * whenever they are the same height. Used to verify a whole log from its entries.
 */
import { assertHash, emptyTreeRootHash, foldRight, hashChildren, hashLeaf } from './hashing.ts';

export class CompactRange {
  readonly #subtreeHashes: Buffer[] = [];
  #size = 0;

  /** Number of leaves added. */
  get size(): number {
    return this.#size;
  }

  /** Adds the next entry (leaf input). */
  appendEntry(entry: Uint8Array): void {
    this.#push(hashLeaf(entry));
  }

  /** Adds the next leaf by its RFC 9162 leaf hash. */
  appendLeafHash(leafHash: Uint8Array): void {
    assertHash(leafHash, 'leaf hash');
    this.#push(Buffer.from(leafHash));
  }

  /** MTH of the leaves added so far. */
  rootHash(): Buffer {
    return this.#size === 0 ? emptyTreeRootHash() : foldRight(this.#subtreeHashes);
  }

  #push(leafHash: Buffer): void {
    this.#subtreeHashes.push(leafHash);
    // Each trailing 1 bit of the old size is a perfect subtree of the new leaf's height: merge.
    for (let size = this.#size; size % 2 === 1; size = Math.floor(size / 2)) {
      const right = this.#subtreeHashes.pop()!;
      const left = this.#subtreeHashes.pop()!;
      this.#subtreeHashes.push(hashChildren(left, right));
    }
    this.#size++;
  }
}
