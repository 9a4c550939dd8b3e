import type { BucketRecord } from '../../../domain/storage/types.ts';
import { s3Error } from '../errors.ts';
import type { S3Exchange } from '../exchange.ts';
import type { S3Services } from '../s3-endpoint.ts';

/** Object Lock (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html). */
export function getObjectLockConfiguration(
  _x: S3Exchange,
  _services: S3Services,
  _bucket: BucketRecord,
): Promise<void> {
  return Promise.reject(s3Error('NotImplemented', 'getObjectLockConfiguration is not implemented yet.'));
}

export function putObjectLockConfiguration(
  _x: S3Exchange,
  _services: S3Services,
  _bucket: BucketRecord,
): Promise<void> {
  return Promise.reject(s3Error('NotImplemented', 'putObjectLockConfiguration is not implemented yet.'));
}

export function getObjectRetention(
  _x: S3Exchange,
  _services: S3Services,
  _bucket: BucketRecord,
): Promise<void> {
  return Promise.reject(s3Error('NotImplemented', 'getObjectRetention is not implemented yet.'));
}

export function putObjectRetention(
  _x: S3Exchange,
  _services: S3Services,
  _bucket: BucketRecord,
): Promise<void> {
  return Promise.reject(s3Error('NotImplemented', 'putObjectRetention is not implemented yet.'));
}

export function getObjectLegalHold(
  _x: S3Exchange,
  _services: S3Services,
  _bucket: BucketRecord,
): Promise<void> {
  return Promise.reject(s3Error('NotImplemented', 'getObjectLegalHold is not implemented yet.'));
}

export function putObjectLegalHold(
  _x: S3Exchange,
  _services: S3Services,
  _bucket: BucketRecord,
): Promise<void> {
  return Promise.reject(s3Error('NotImplemented', 'putObjectLegalHold is not implemented yet.'));
}
