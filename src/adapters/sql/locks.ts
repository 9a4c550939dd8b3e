import { createHash } from 'node:crypto';

/**
 * The signed 64-bit lock number of a named resource, as a decimal string (PostgreSQL advisory
 * locks take a bigint). Parts are NUL-separated: bucket names cannot contain NUL, so
 * ('object', bucket, key) never collides with another bucket's key. Two resources sharing a number
 * (probability 2^-64 per pair) would only serialise needlessly, never corrupt.
 */
export function lockNumberOf(...parts: string[]): string {
  const digest = createHash('sha256').update(parts.join('\u0000')).digest();
  return digest.readBigInt64BE(0).toString();
}
