/**
 * A bounded cache of perfect-subtree hashes for the prover. In an append-only log a perfect
 * subtree's hash never changes once its last leaf exists, so a cached hash is never stale. The
 * subtrees that most proofs share — the tree's right border and the upper tile levels — are
 * then hashed once instead of for every proof (at 10^7 leaves a proof rebuilds ~900 interior
 * nodes uncached, ~250 warm). One cache serves one log: keys are tree coordinates only.
 */
import type { Subtree } from './subtrees.ts';

/** Subtrees of fewer leaves-in-tile than this are cheaper to rehash than to keep. */
const MIN_CACHED_SPAN = 16;

export class SubtreeHashCache {
  readonly #maxEntries: number;
  readonly #hashes = new Map<string, Buffer>();

  constructor(maxEntries = 65_536) {
    this.#maxEntries = maxEntries;
  }

  get(subtree: Subtree): Buffer | undefined {
    const key = keyOf(subtree);
    const hash = this.#hashes.get(key);
    if (hash !== undefined) {
      // Least recently used first: a hit moves the entry to the back.
      this.#hashes.delete(key);
      this.#hashes.set(key, hash);
    }
    return hash;
  }

  /** Keeps `hash` if rebuilding it took `spanHashes` tile hashes or more. */
  set(subtree: Subtree, hash: Buffer, spanHashes: number): void {
    if (spanHashes < MIN_CACHED_SPAN || this.#maxEntries <= 0) return;
    if (this.#hashes.size >= this.#maxEntries) this.#hashes.delete(this.#hashes.keys().next().value!);
    this.#hashes.set(keyOf(subtree), hash);
  }

  get size(): number {
    return this.#hashes.size;
  }
}

function keyOf(subtree: Subtree): string {
  return `${subtree.height}/${subtree.index}`;
}
