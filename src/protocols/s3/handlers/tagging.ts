import type { BucketRecord } from '../../../domain/storage/types.ts';
import { s3Error } from '../errors.ts';
import type { S3Exchange } from '../exchange.ts';
import type { S3Services } from '../s3-endpoint.ts';

/** Bucket and object tagging (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-tagging.html). */
export function getBucketTagging(
  _x: S3Exchange,
  _services: S3Services,
  _bucket: BucketRecord,
): Promise<void> {
  return Promise.reject(s3Error('NotImplemented', 'getBucketTagging is not implemented yet.'));
}

export function putBucketTagging(
  _x: S3Exchange,
  _services: S3Services,
  _bucket: BucketRecord,
): Promise<void> {
  return Promise.reject(s3Error('NotImplemented', 'putBucketTagging is not implemented yet.'));
}

export function deleteBucketTagging(
  _x: S3Exchange,
  _services: S3Services,
  _bucket: BucketRecord,
): Promise<void> {
  return Promise.reject(s3Error('NotImplemented', 'deleteBucketTagging is not implemented yet.'));
}

export function getObjectTagging(
  _x: S3Exchange,
  _services: S3Services,
  _bucket: BucketRecord,
): Promise<void> {
  return Promise.reject(s3Error('NotImplemented', 'getObjectTagging is not implemented yet.'));
}

export function putObjectTagging(
  _x: S3Exchange,
  _services: S3Services,
  _bucket: BucketRecord,
): Promise<void> {
  return Promise.reject(s3Error('NotImplemented', 'putObjectTagging is not implemented yet.'));
}

export function deleteObjectTagging(
  _x: S3Exchange,
  _services: S3Services,
  _bucket: BucketRecord,
): Promise<void> {
  return Promise.reject(s3Error('NotImplemented', 'deleteObjectTagging is not implemented yet.'));
}
