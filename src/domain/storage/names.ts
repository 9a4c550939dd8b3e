import { LIMITS } from '../../platform/limits.ts';
import { storageError } from './errors.ts';

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/;
const IPV4_LIKE = /^\d{1,3}(\.\d{1,3}){3}$/;
const RESERVED_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'];
const RESERVED_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'];

/** General purpose bucket naming rules: https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html */
export function validateBucketName(name: string): void {
  const bad = (why: string) =>
    storageError('InvalidBucketName', `The specified bucket is not valid: ${why}`, { name });
  if (name.length < LIMITS.bucketNameMinLength || name.length > LIMITS.bucketNameMaxLength) {
    throw bad(
      `must be between ${LIMITS.bucketNameMinLength} and ${LIMITS.bucketNameMaxLength} characters long`,
    );
  }
  if (!BUCKET_NAME.test(name)) {
    throw bad(
      'use only lowercase letters, numbers, dots and hyphens, beginning and ending with a letter or number',
    );
  }
  if (name.includes('..')) throw bad('must not contain two adjacent periods');
  if (name.includes('.-') || name.includes('-.')) throw bad('a period must not be adjacent to a hyphen');
  if (IPV4_LIKE.test(name)) throw bad('must not be formatted as an IP address');
  if (RESERVED_PREFIXES.some((p) => name.startsWith(p))) throw bad('uses a reserved prefix');
  if (RESERVED_SUFFIXES.some((s) => name.endsWith(s))) throw bad('uses a reserved suffix');
}

/** Keys are any UTF-8 string of 1..1,024 bytes; they never become file paths (see BlobStore). */
export function validateObjectKey(key: string): void {
  if (key.length === 0) throw storageError('InvalidObjectKey', 'Object key must not be empty');
  if (Buffer.byteLength(key, 'utf8') > LIMITS.objectKeyMaxBytes) {
    throw storageError('KeyTooLong', 'Your key is too long', { maxSizeAllowed: LIMITS.objectKeyMaxBytes });
  }
  if (key.isWellFormed && !key.isWellFormed()) {
    throw storageError('InvalidObjectKey', 'Object key must be valid UTF-8');
  }
}
