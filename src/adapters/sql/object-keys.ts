import { storageError } from '../../domain/storage/errors.ts';

/**
 * Object keys are stored as their UTF-8 bytes because S3 lists keys in UTF-8 binary order
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html: "returned in UTF-8
 * binary order"), which neither JavaScript string order (UTF-16) nor PostgreSQL text collations
 * follow. Both SQLite BLOB and PostgreSQL bytea compare byte-wise, so range scans on the key index
 * yield S3 order directly.
 */

/**
 * The UTF-8 bytes of a key, prefix, marker or delimiter. A string with a lone surrogate has no
 * UTF-8 form; encoding it would silently store U+FFFD, a different key, so it is refused.
 */
export function keyBytes(key: string): Buffer {
  if (!key.isWellFormed()) {
    throw storageError('InvalidObjectKey', 'Object keys must be valid Unicode (no lone surrogates).');
  }
  return Buffer.from(key, 'utf8');
}

export function keyText(bytes: Buffer): string {
  return bytes.toString('utf8');
}

/**
 * An upper bound above every key: UTF-8 never contains the byte 0xFF (RFC 3629 §1), so every
 * stored key sorts before this one-byte string.
 */
export const ABOVE_EVERY_KEY: Buffer = Buffer.from([0xff]);

/**
 * The smallest byte string greater than every string that starts with `bytes`, or null when there
 * is none (empty or all 0xFF). `key >= p AND key < successor(p)` is "key starts with p" as a range
 * the index can seek.
 */
export function successorOfPrefix(bytes: Buffer): Buffer | null {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0xff) end -= 1;
  if (end === 0) return null;
  const next = Buffer.from(bytes.subarray(0, end));
  next[end - 1] = (next[end - 1] ?? 0) + 1;
  return next;
}

/** The smallest byte string greater than `bytes` itself: `key > k` is `key >= k || 0x00`. */
export function immediatelyAfter(bytes: Buffer): Buffer {
  return Buffer.concat([bytes, Buffer.alloc(1)]);
}

/** Upper bound of the keys that start with `prefix`. */
export function prefixUpperBound(prefix: Buffer): Buffer {
  return successorOfPrefix(prefix) ?? ABOVE_EVERY_KEY;
}

export function hasPrefix(bytes: Buffer, prefix: Buffer): boolean {
  return bytes.length >= prefix.length && bytes.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

/**
 * The common prefix S3 rolls `key` into: the key up to and including the first delimiter after
 * the listing prefix, or null when no delimiter follows the prefix. UTF-8 is self-synchronising,
 * so a byte search for the delimiter never matches inside another character.
 */
export function commonPrefixOf(key: Buffer, prefixLength: number, delimiter: Buffer | null): Buffer | null {
  if (delimiter === null) return null;
  const at = key.indexOf(delimiter, prefixLength);
  return at < 0 ? null : key.subarray(0, at + delimiter.length);
}
