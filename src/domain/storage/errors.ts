import { SovraError } from '../../platform/errors.ts';

/** Stable codes of the storage domain; protocols map them to wire errors in one table each. */
export type StorageErrorCode =
  | 'BucketNotFound'
  | 'BucketNotEmpty'
  | 'BucketAlreadyExists'
  | 'BucketAlreadyOwnedByYou'
  | 'InvalidBucketName'
  | 'ObjectNotFound'
  | 'VersionNotFound'
  | 'KeyTooLong'
  | 'InvalidObjectKey'
  | 'PreconditionFailed'
  | 'NotModified'
  | 'RangeNotSatisfiable'
  | 'UploadNotFound'
  | 'InvalidPart'
  | 'InvalidPartOrder'
  | 'PartTooSmall'
  | 'EntityTooLarge'
  | 'IncompleteBody'
  | 'DigestMismatch'
  | 'ChecksumMismatch'
  | 'InvalidChecksum'
  | 'DataCorrupted'
  | 'InvalidArgument'
  | 'MetadataTooLarge'
  | 'ConditionalWriteConflict'
  | 'InvalidLocation'
  | 'DeleteMarkerNotReadable'
  | 'InvalidCopyRequest'
  | 'EmptyPartList'
  | 'UnsupportedCondition'
  | 'InvalidVersionId'
  // Object Lock (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html)
  | 'ObjectLocked'
  | 'ObjectLockNotEnabled'
  | 'ObjectLockConfigurationNotFound'
  | 'NoSuchObjectLockConfiguration'
  | 'InvalidRetentionPeriod'
  | 'InvalidBucketState'
  // Tagging (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-tagging.html)
  | 'NoSuchTagSet'
  | 'InvalidTag'
  // Encryption at rest (domain/storage/object-encryption.ts)
  | 'EncryptionKeyMissing'
  | 'EncryptionKeyMismatch'
  | 'InvalidEncryptionRequest'
  | 'EncryptionUnavailable'
  | 'EncryptionKeyNotFound'
  | 'EncryptionKeyDisabled'
  | 'EncryptionKeyUseDenied'
  | 'EncryptionKeyInvalidState'
  | 'EncryptionKeyDeleted';

export class StorageError extends SovraError<StorageErrorCode> {}

export function storageError(code: StorageErrorCode, message: string, details: Record<string, unknown> = {}) {
  return new StorageError(code, message, details);
}
