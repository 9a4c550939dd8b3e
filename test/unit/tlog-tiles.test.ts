import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { planAppend, planAppendLeafHashes } from '../../src/domain/audit/tlog/appender.ts';
import { CompactRange } from '../../src/domain/audit/tlog/compact-range.ts';
import { TlogError, type TlogErrorCode } from '../../src/domain/audit/tlog/errors.ts';
import { hashChildren, hashLeaf } from '../../src/domain/audit/tlog/hashing.ts';
import { TLOG_LIMITS } from '../../src/domain/audit/tlog/limits.ts';
import { InMemoryTileHashStore } from '../../src/domain/audit/tlog/memory-tile-store.ts';
import { SubtreeHashCache } from '../../src/domain/audit/tlog/subtree-hash-cache.ts';
import {
  verifyConsistencyProof,
  verifyInclusionProof,
} from '../../src/domain/audit/tlog/proof-verification.ts';
import {
  proveConsistency,
  proveInclusion,
  treeRootFromTiles,
} from '../../src/domain/audit/tlog/tile-prover.ts';
import {
  partialTiles,
  type HashTile,
  type TileHashStore,
  type TileRef,
} from '../../src/domain/audit/tlog/tiles.ts';

/** A store that records every batch it is asked to read, to check what the core reads. */
class RecordingStore implements TileHashStore {
  readonly inner = new InMemoryTileHashStore();
  reads: TileRef[][] = [];
  readTiles(refs: readonly TileRef[]): Promise<readonly (HashTile | undefined)[]> {
    this.reads.push(refs.map(({ level, index }) => ({ level, index })));
    return this.inner.readTiles(refs);
  }
  writeTiles(tiles: readonly HashTile[]): Promise<void> {
    return this.inner.writeTiles(tiles);
  }
}

/** Deterministic pseudo-random numbers (xorshift32), so a failure can be replayed. */
function random(seed: number): (below: number) => number {
  let state = seed >>> 0 || 1;
  return (below) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % below;
  };
}

/**
 * RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1 written out recursively over a list of leaf hashes —
 * the reference the tile-based prover is compared with. MTH is memoised by range, which keeps
 * it the same definition while making thousands of proofs affordable.
 */
class NaiveTree {
  readonly #memo = new Map<string, Buffer>();
  readonly leaves: readonly Buffer[];
  constructor(leaves: readonly Buffer[]) {
    this.leaves = leaves;
  }

  mth(start: number, size: number): Buffer {
    if (size === 0) return createHash('sha256').digest();
    if (size === 1) return this.leaves[start]!;
    const key = `${start}:${size}`;
    let hash = this.#memo.get(key);
    if (hash === undefined) {
      const k = split(size);
      hash = hashChildren(this.mth(start, k), this.mth(start + k, size - k));
      this.#memo.set(key, hash);
    }
    return hash;
  }

  path(m: number, start: number, size: number): Buffer[] {
    if (size === 1) return [];
    const k = split(size);
    return m < k
      ? [...this.path(m, start, k), this.mth(start + k, size - k)]
      : [...this.path(m - k, start + k, size - k), this.mth(start, k)];
  }

  subproof(m: number, start: number, size: number, complete: boolean): Buffer[] {
    if (m === size) return complete ? [] : [this.mth(start, size)];
    const k = split(size);
    return m <= k
      ? [...this.subproof(m, start, k, complete), this.mth(start + k, size - k)]
      : [...this.subproof(m - k, start + k, size - k, false), this.mth(start, k)];
  }
}

function split(size: number): number {
  let k = 1;
  while (k * 2 < size) k *= 2;
  return k;
}

function entry(i: number): Buffer {
  return Buffer.from(`audit entry ${i} ${'x'.repeat(i % 17)}`);
}

async function codeOf(promise: Promise<unknown>): Promise<TlogErrorCode | 'none'> {
  try {
    await promise;
    return 'none';
  } catch (error) {
    assert.ok(error instanceof TlogError, `expected a TlogError, got ${String(error)}`);
    return error.code;
  }
}

/** Appends `count` entries in batches of random sizes, checking every plan against the reference. */
async function buildTree(store: TileHashStore, count: number, seed: number): Promise<{ leaves: Buffer[] }> {
  const next = random(seed);
  const leaves: Buffer[] = [];
  const naive = () => new NaiveTree(leaves);
  while (leaves.length < count) {
    const batch = Array.from({ length: Math.min(count - leaves.length, 1 + next(300)) }, (_, i) =>
      entry(leaves.length + i),
    );
    const plan = await planAppend(store, leaves.length, batch);
    assert.equal(plan.oldTreeSize, leaves.length);
    assert.equal(plan.treeSize, leaves.length + batch.length);
    assert.deepEqual(plan.leafHashes, batch.map(hashLeaf));
    await store.writeTiles(plan.tiles);
    leaves.push(...plan.leafHashes);
    assert.ok(plan.rootHash.equals(naive().mth(0, leaves.length)), `root after ${leaves.length}`);
  }
  return { leaves };
}

describe('appending to the tiled tree', () => {
  it('each append reads only the right-edge tiles, in one batch', async () => {
    const store = new RecordingStore();
    let size = 0;
    for (const count of [1, 254, 1, 300, 65_000, 700]) {
      store.reads = [];
      const plan = await planAppend(
        store,
        size,
        Array.from({ length: count }, (_, i) => entry(size + i)),
      );
      assert.equal(store.reads.length, 1);
      assert.deepEqual(
        store.reads[0],
        partialTiles(size).map(({ level, index }) => ({ level, index })),
      );
      await store.writeTiles(plan.tiles);
      size = plan.treeSize;
    }
  });

  it('a tree of 70,000 leaves is stored as c2sp.org/tlog-tiles describes', async () => {
    const store = new InMemoryTileHashStore();
    const leaves = Array.from({ length: 70_000 }, (_, i) => hashLeaf(entry(i)));
    for (let start = 0; start < leaves.length; start += 5_000) {
      const plan = await planAppendLeafHashes(store, start, leaves.slice(start, start + 5_000));
      await store.writeTiles(plan.tiles);
    }
    // "273 full level 0 tiles, one partial level 0 tile of width 112, one full level 1 tile, one
    // partial level 1 tile of width 17, and one partial level 2 tile of width 1."
    assert.equal(store.tileCount, 273 + 1 + 1 + 1 + 1);
    const [full0, partial0, full1, partial1, partial2, beyond] = await store.readTiles([
      { level: 0, index: 272 },
      { level: 0, index: 273 },
      { level: 1, index: 0 },
      { level: 1, index: 1 },
      { level: 2, index: 0 },
      { level: 0, index: 274 },
    ]);
    assert.equal(full0?.width, 256);
    assert.equal(partial0?.width, 112);
    assert.equal(full1?.width, 256);
    assert.equal(partial1?.width, 17);
    assert.equal(partial2?.width, 1);
    assert.equal(beyond, undefined);
    assert.deepEqual(
      partialTiles(70_000).map((t) => [t.level, t.index, t.width]),
      [
        [0, 273, 112],
        [1, 1, 17],
        [2, 0, 1],
      ],
    );
    // Level-0 tiles hold the leaf hashes; a level-1 hash is the root of a full level-0 tile.
    assert.ok(Buffer.from(full0.hashes.subarray(0, 32)).equals(leaves[272 * 256]!));
    const tile5 = new CompactRange();
    leaves.slice(5 * 256, 6 * 256).forEach((leaf) => tile5.appendLeafHash(leaf));
    assert.ok(Buffer.from(full1.hashes.subarray(5 * 32, 6 * 32)).equals(tile5.rootHash()));
  });

  it('a tree of 256 leaves is one full level-0 tile and a level-1 tile of width 1', async () => {
    const store = new InMemoryTileHashStore();
    const plan = await planAppend(
      store,
      0,
      Array.from({ length: 256 }, (_, i) => entry(i)),
    );
    assert.deepEqual(
      plan.tiles.map((t) => [t.level, t.index, t.width]),
      [
        [0, 0, 256],
        [1, 0, 1],
      ],
    );
    assert.ok(Buffer.from(plan.tiles[1]!.hashes).equals(plan.rootHash));
  });

  it('every root and proof from tiles equals the recursive RFC 9162 definition on 3,000 leaves', async () => {
    const store = new InMemoryTileHashStore();
    const { leaves } = await buildTree(store, 3_000, 7);
    const naive = new NaiveTree(leaves);
    const next = random(11);
    const sizes = [
      ...Array.from({ length: 300 }, (_, i) => i + 1),
      511,
      512,
      513,
      1024,
      2047,
      2048,
      2049,
      2999,
      3000,
      ...Array.from({ length: 60 }, () => 1 + next(3000)),
    ];
    for (const n of sizes) {
      const root = await treeRootFromTiles(store, n);
      assert.ok(root.equals(naive.mth(0, n)), `root ${n}`);
      for (const i of new Set([0, n - 1, next(n), next(n), Math.floor(n / 2)])) {
        const proof = await proveInclusion(store, n, i);
        assert.deepEqual(proof, naive.path(i, 0, n), `inclusion ${i} in ${n}`);
        verifyInclusionProof({ leafIndex: i, treeSize: n, leafHash: leaves[i]!, proof, rootHash: root });
      }
      for (const m of new Set([1, n, next(n) + 1, next(n) + 1, Math.ceil(n / 2)])) {
        const proof = await proveConsistency(store, m, n);
        assert.deepEqual(proof, m === n ? [] : naive.subproof(m, 0, n, true), `consistency ${m} → ${n}`);
        verifyConsistencyProof({
          oldSize: m,
          newSize: n,
          oldRootHash: naive.mth(0, m),
          newRootHash: root,
          proof,
        });
      }
    }
  });

  it('a generated proof with any one bit flipped fails verification', async () => {
    const store = new InMemoryTileHashStore();
    const { leaves } = await buildTree(store, 1_300, 3);
    const naive = new NaiveTree(leaves);
    const root = naive.mth(0, 1_300);
    const inclusion = await proveInclusion(store, 1_300, 777);
    const consistency = await proveConsistency(store, 1_000, 1_300);
    for (let element = 0; element < inclusion.length; element++) {
      for (let bit = 0; bit < 256; bit += 37) {
        const proof = inclusion.map((h) => Buffer.from(h));
        proof[element]![bit >> 3]! ^= 1 << (bit & 7);
        assert.throws(
          () =>
            verifyInclusionProof({
              leafIndex: 777,
              treeSize: 1_300,
              leafHash: leaves[777]!,
              proof,
              rootHash: root,
            }),
          (error: unknown) => error instanceof TlogError && error.code === 'RootMismatch',
        );
      }
    }
    for (let element = 0; element < consistency.length; element++) {
      const proof = consistency.map((h) => Buffer.from(h));
      proof[element]![0]! ^= 0x10;
      assert.throws(
        () =>
          verifyConsistencyProof({
            oldSize: 1_000,
            newSize: 1_300,
            oldRootHash: naive.mth(0, 1_000),
            newRootHash: root,
            proof,
          }),
        (error: unknown) => error instanceof TlogError && error.code === 'RootMismatch',
      );
    }
  });

  it('proofs in a tree of three tile levels verify against a streamed root, reading few tiles in one batch', async () => {
    const store = new RecordingStore();
    const total = 70_000;
    const leaves = Array.from({ length: total }, (_, i) => createHash('sha256').update(`leaf ${i}`).digest());
    for (let start = 0; start < total; start += TLOG_LIMITS.appendBatchMaxEntries) {
      const plan = await planAppendLeafHashes(
        store,
        start,
        leaves.slice(start, start + TLOG_LIMITS.appendBatchMaxEntries),
      );
      await store.writeTiles(plan.tiles);
    }
    const roots = new Map<number, Buffer>();
    const range = new CompactRange();
    const next = random(5);
    const sizes = new Set([
      65_535,
      65_536,
      65_537,
      total,
      ...Array.from({ length: 8 }, () => 1 + next(total)),
    ]);
    leaves.forEach((leaf) => {
      range.appendLeafHash(leaf);
      if (sizes.has(range.size)) roots.set(range.size, range.rootHash());
    });
    for (const n of sizes) {
      store.reads = [];
      assert.ok((await treeRootFromTiles(store, n)).equals(roots.get(n)!), `root ${n}`);
      for (const i of [0, n - 1, next(n), next(n)]) {
        store.reads = [];
        const proof = await proveInclusion(store, n, i);
        assert.equal(store.reads.length, 1);
        assert.ok(store.reads[0]!.length <= 6, `inclusion read ${store.reads[0]!.length} tiles`);
        verifyInclusionProof({
          leafIndex: i,
          treeSize: n,
          leafHash: leaves[i]!,
          proof,
          rootHash: roots.get(n)!,
        });
      }
      for (const m of sizes) {
        if (m > n) continue;
        store.reads = [];
        const proof = await proveConsistency(store, m, n);
        assert.ok(store.reads.length <= 1 && (store.reads[0]?.length ?? 0) <= 8);
        verifyConsistencyProof({
          oldSize: m,
          newSize: n,
          oldRootHash: roots.get(m)!,
          newRootHash: roots.get(n)!,
          proof,
        });
      }
    }
  });

  it('proofs through a subtree hash cache equal uncached ones and read fewer tiles once warm', async () => {
    const store = new RecordingStore();
    const { leaves } = await buildTree(store, 2_500, 13);
    const naive = new NaiveTree(leaves);
    const cache = new SubtreeHashCache(1_000);
    const next = random(17);
    let tilesCold = 0;
    let tilesWarm = 0;
    for (let round = 0; round < 2; round++) {
      for (let k = 0; k < 200; k++) {
        const n = 2_500 - (k % 3);
        const i = next(n);
        store.reads = [];
        assert.deepEqual(await proveInclusion(store, n, i, { cache }), naive.path(i, 0, n));
        const m = 1 + next(n);
        assert.deepEqual(
          await proveConsistency(store, m, n, { cache }),
          m === n ? [] : naive.subproof(m, 0, n, true),
        );
        assert.ok((await treeRootFromTiles(store, n, { cache })).equals(naive.mth(0, n)));
        const tiles = store.reads.reduce((sum, batch) => sum + batch.length, 0);
        if (round === 0) tilesCold += tiles;
        else tilesWarm += tiles;
      }
    }
    assert.ok(cache.size > 0 && cache.size <= 1_000);
    assert.ok(tilesWarm < tilesCold, `warm ${tilesWarm} < cold ${tilesCold}`);
  });

  it('an empty append returns the current root and writes nothing; the empty tree has the empty root', async () => {
    const store = new InMemoryTileHashStore();
    const empty = await planAppend(store, 0, []);
    assert.equal(empty.rootHash.toString('hex'), createHash('sha256').digest('hex'));
    assert.deepEqual(empty.tiles, []);
    const plan = await planAppend(store, 0, [entry(0), entry(1), entry(2)]);
    await store.writeTiles(plan.tiles);
    const again = await planAppend(store, 3, []);
    assert.ok(again.rootHash.equals(plan.rootHash));
    assert.deepEqual(again.tiles, []);
  });

  it('tiles written beyond the committed size (an append never committed) are cut back and rewritten', async () => {
    const store = new InMemoryTileHashStore();
    const committed = await planAppend(store, 0, [entry(0), entry(1)]);
    await store.writeTiles(committed.tiles);
    const lost = await planAppend(store, 2, [
      Buffer.from('lost 2'),
      Buffer.from('lost 3'),
      Buffer.from('lost 4'),
    ]);
    await store.writeTiles(lost.tiles); // written, but the tree size 5 was never committed
    const redo = await planAppend(store, 2, [entry(2)]);
    await store.writeTiles(redo.tiles);
    const naive = new NaiveTree([0, 1, 2].map((i) => hashLeaf(entry(i))));
    assert.ok(redo.rootHash.equals(naive.mth(0, 3)));
    assert.equal((await store.readTiles([{ level: 0, index: 0 }]))[0]?.width, 3);
  });

  it('asking for a tree larger than the stored one is TileMissing', async () => {
    const store = new InMemoryTileHashStore();
    await store.writeTiles((await planAppend(store, 0, [entry(0), entry(1), entry(2)])).tiles);
    assert.equal(await codeOf(treeRootFromTiles(store, 4)), 'TileMissing');
    assert.equal(await codeOf(proveInclusion(store, 300, 1)), 'TileMissing');
    assert.equal(await codeOf(planAppend(store, 5, [entry(5)])), 'TileMissing');
  });

  it('bad sizes, indexes, entries and batches are refused with codes', async () => {
    const store = new InMemoryTileHashStore();
    await store.writeTiles((await planAppend(store, 0, [entry(0), entry(1), entry(2)])).tiles);
    assert.equal(await codeOf(proveInclusion(store, 3, 3)), 'IndexOutOfRange');
    assert.equal(await codeOf(proveInclusion(store, 3, -1)), 'IndexOutOfRange');
    assert.equal(await codeOf(proveInclusion(store, 0, 0)), 'IndexOutOfRange');
    assert.equal(await codeOf(proveConsistency(store, 0, 3)), 'InvalidTreeSize');
    assert.equal(await codeOf(proveConsistency(store, 3, 2)), 'InvalidTreeSize');
    assert.deepEqual(await proveConsistency(store, 3, 3), []);
    assert.equal(await codeOf(treeRootFromTiles(store, -1)), 'InvalidTreeSize');
    assert.equal(await codeOf(treeRootFromTiles(store, 2 ** 53)), 'InvalidTreeSize');
    assert.equal(await codeOf(planAppend(store, 0.5, [entry(0)])), 'InvalidTreeSize');
    assert.equal(await codeOf(planAppend(store, 2 ** 53 - 1, [entry(0)])), 'InvalidTreeSize');
    assert.equal(
      await codeOf(planAppend(store, 3, [Buffer.alloc(TLOG_LIMITS.entryMaxBytes + 1)])),
      'EntryTooLarge',
    );
    assert.equal(await codeOf(planAppend(store, 3, ['text' as unknown as Uint8Array])), 'EntryTooLarge');
    const tooMany = Array.from({ length: TLOG_LIMITS.appendBatchMaxEntries + 1 }, () => Buffer.alloc(0));
    assert.equal(await codeOf(planAppend(store, 3, tooMany)), 'BatchTooLarge');
    assert.equal(await codeOf(planAppendLeafHashes(store, 3, [Buffer.alloc(31)])), 'InvalidHash');
  });

  it('a store answering a malformed or wrong tile is InvalidTile, and malformed writes are refused whole', async () => {
    const broken: TileHashStore = {
      readTiles: (refs) =>
        Promise.resolve(refs.map((ref) => ({ ...ref, width: 2, hashes: Buffer.alloc(63) }))),
      writeTiles: () => Promise.resolve(),
    };
    assert.equal(await codeOf(treeRootFromTiles(broken, 2)), 'InvalidTile');
    const misplaced: TileHashStore = {
      readTiles: (refs) =>
        Promise.resolve(
          refs.map((ref) => ({ ...ref, index: ref.index + 1, width: 2, hashes: Buffer.alloc(64) })),
        ),
      writeTiles: () => Promise.resolve(),
    };
    assert.equal(await codeOf(treeRootFromTiles(misplaced, 2)), 'InvalidTile');
    const store = new InMemoryTileHashStore();
    const good = { level: 0, index: 0, width: 1, hashes: Buffer.alloc(32) };
    for (const bad of [
      { level: 0, index: 1, width: 0, hashes: Buffer.alloc(0) },
      { level: 0, index: 1, width: 257, hashes: Buffer.alloc(257 * 32) },
      { level: 64, index: 1, width: 1, hashes: Buffer.alloc(32) },
      { level: 0, index: -1, width: 1, hashes: Buffer.alloc(32) },
      { level: 0, index: 1, width: 2, hashes: Buffer.alloc(32) },
    ]) {
      assert.equal(await codeOf(store.writeTiles([good, bad])), 'InvalidTile');
    }
    assert.equal(store.tileCount, 0);
  });
});
