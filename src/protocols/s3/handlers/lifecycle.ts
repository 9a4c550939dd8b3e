import type { BucketRecord } from '../../../domain/storage/types.ts';
import { s3Error } from '../errors.ts';
import type { S3Exchange } from '../exchange.ts';
import type { S3Services } from '../s3-endpoint.ts';

/** Lifecycle configuration (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lifecycle-mgmt.html). */
export function getBucketLifecycleConfiguration(
  _x: S3Exchange,
  _services: S3Services,
  _bucket: BucketRecord,
): Promise<void> {
  return Promise.reject(s3Error('NotImplemented', 'getBucketLifecycleConfiguration is not implemented yet.'));
}

export function putBucketLifecycleConfiguration(
  _x: S3Exchange,
  _services: S3Services,
  _bucket: BucketRecord,
): Promise<void> {
  return Promise.reject(s3Error('NotImplemented', 'putBucketLifecycleConfiguration is not implemented yet.'));
}

export function deleteBucketLifecycle(
  _x: S3Exchange,
  _services: S3Services,
  _bucket: BucketRecord,
): Promise<void> {
  return Promise.reject(s3Error('NotImplemented', 'deleteBucketLifecycle is not implemented yet.'));
}
