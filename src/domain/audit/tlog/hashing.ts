/**
 * Merkle tree hashing of RFC 9162 §2.1.1 with SHA-256 (the only hash c2sp.org/tlog-tiles
 * allows): a leaf hash is SHA-256(0x00 ‖ entry), an interior node SHA-256(0x01 ‖ left ‖ right).
 * The distinct prefixes keep a leaf from ever being taken for an interior node (second preimages).
 *
 * Hashing is the cost of the whole log, so these functions reuse one scratch buffer per kind
 * and call the one-shot `crypto.hash`; they are synchronous, so the buffers are never shared.
 */
import { hash } from 'node:crypto';
import { tlogError } from './errors.ts';
import { TLOG_LIMITS } from './limits.ts';

const HASH_BYTES = TLOG_LIMITS.hashBytes;
const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;
/** SHA-256 of the empty string: RFC 9162 §2.1.1, MTH({}) = HASH(). */
const EMPTY_TREE_ROOT_HEX = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

let leafScratch: Buffer | undefined;
let nodeScratch: Buffer | undefined;

/** RFC 9162 §2.1.1: MTH({d(0)}) = HASH(0x00 ‖ d(0)). */
export function hashLeaf(entry: Uint8Array): Buffer {
  const length = entry.byteLength + 1;
  if (leafScratch === undefined || leafScratch.byteLength < length) {
    leafScratch = Buffer.allocUnsafe(Math.max(length, TLOG_LIMITS.entryMaxBytes + 1));
  }
  leafScratch[0] = LEAF_PREFIX;
  leafScratch.set(entry, 1);
  return hash('sha256', leafScratch.subarray(0, length), 'buffer');
}

/** RFC 9162 §2.1.1: HASH(0x01 ‖ left ‖ right). */
export function hashChildren(left: Uint8Array, right: Uint8Array): Buffer {
  const scratch = nodeBuffer();
  scratch.set(left, 1);
  scratch.set(right, 1 + HASH_BYTES);
  return hash('sha256', scratch, 'buffer');
}

/** HASH(0x01 ‖ bytes[offset, offset + 64)): two sibling hashes stored next to each other. */
export function hashAdjacentChildren(bytes: Uint8Array, offset: number): Buffer {
  const scratch = nodeBuffer();
  scratch.set(bytes.subarray(offset, offset + 2 * HASH_BYTES), 1);
  return hash('sha256', scratch, 'buffer');
}

/** The root hash of the empty tree (a fresh copy: callers may keep or change it). */
export function emptyTreeRootHash(): Buffer {
  return Buffer.from(EMPTY_TREE_ROOT_HEX, 'hex');
}

/**
 * The Merkle Tree Hash of `count` consecutive hashes (`count` a power of two) stored
 * back-to-back in `hashes`, starting at hash number `first`. This is how a tile's interior
 * nodes are rebuilt (c2sp.org/tlog-tiles: "the Merkle Tree levels between those expressed by
 * the tile hashes are reconstructed by hashing the leaves"). `hashes` is not changed.
 */
export function perfectSubtreeHash(hashes: Uint8Array, first: number, count: number): Buffer {
  const start = first * HASH_BYTES;
  const level = Buffer.from(hashes.subarray(start, start + count * HASH_BYTES));
  for (let width = count; width > 1; width /= 2) {
    for (let i = 0; i < width / 2; i++) {
      level.set(hashAdjacentChildren(level, 2 * i * HASH_BYTES), i * HASH_BYTES);
    }
  }
  return level.subarray(0, HASH_BYTES);
}

/** h(s1, h(s2, … h(s(k−1), sk))): the hash of a range from its perfect subtrees, left to right. */
export function foldRight(subtreeHashes: readonly Buffer[]): Buffer {
  let acc = subtreeHashes[subtreeHashes.length - 1]!;
  for (let i = subtreeHashes.length - 2; i >= 0; i--) acc = hashChildren(subtreeHashes[i]!, acc);
  return acc;
}

/** Throws InvalidHash unless `value` is a 32-byte hash. */
export function assertHash(value: unknown, what: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array) || value.byteLength !== HASH_BYTES) {
    throw tlogError('InvalidHash', `${what} must be a ${HASH_BYTES}-byte SHA-256 hash`, {
      what,
      byteLength: value instanceof Uint8Array ? value.byteLength : undefined,
    });
  }
}

function nodeBuffer(): Buffer {
  if (nodeScratch === undefined) {
    nodeScratch = Buffer.allocUnsafe(1 + 2 * HASH_BYTES);
    nodeScratch[0] = NODE_PREFIX;
  }
  return nodeScratch;
}
