/**
 * Bit arithmetic on tree sizes and leaf indexes. JavaScript's bitwise operators truncate to 32
 * bits, while tree sizes go up to 2^53 − 1 (TLOG_LIMITS.treeSizeMax), so every operation here
 * splits its operands into a high and a low 32-bit half.
 */
import { TLOG_LIMITS } from './limits.ts';

const TWO_POW_32 = 2 ** 32;

/** An integer in 0 ≤ value ≤ 2^53 − 1. */
export function isUint53(value: unknown): value is number {
  return (
    typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= TLOG_LIMITS.treeSizeMax
  );
}

/** Number of bits needed to write `value` (0 for 0), like Go's bits.Len64. */
export function bitLength(value: number): number {
  const high = Math.floor(value / TWO_POW_32);
  if (high > 0) return 64 - Math.clz32(high);
  return 32 - Math.clz32(value);
}

/** Number of set bits, like Go's bits.OnesCount64. */
export function popCount(value: number): number {
  return popCount32(Math.floor(value / TWO_POW_32)) + popCount32(value % TWO_POW_32);
}

/** Number of trailing zero bits of a value > 0, like Go's bits.TrailingZeros64. */
export function trailingZeros(value: number): number {
  const low = value % TWO_POW_32;
  if (low !== 0) return 31 - Math.clz32(low & -low);
  const high = Math.floor(value / TWO_POW_32);
  return 32 + 31 - Math.clz32(high & -high);
}

export function xor(a: number, b: number): number {
  const high = (Math.floor(a / TWO_POW_32) ^ Math.floor(b / TWO_POW_32)) >>> 0;
  const low = ((a % TWO_POW_32) ^ (b % TWO_POW_32)) >>> 0;
  return high * TWO_POW_32 + low;
}

/** `value >> bits` without the 32-bit truncation of `>>`. */
export function shiftRight(value: number, bits: number): number {
  return Math.floor(value / 2 ** bits);
}

/** The largest power of two strictly below `n` (n ≥ 2): the split point k of RFC 9162 §2.1.1. */
export function largestPowerOfTwoBelow(n: number): number {
  return 2 ** (bitLength(n - 1) - 1);
}

function popCount32(value: number): number {
  let v = value >>> 0;
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}
