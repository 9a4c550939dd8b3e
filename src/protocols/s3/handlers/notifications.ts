import type { BucketRecord } from '../../../domain/storage/types.ts';
import { s3Error } from '../errors.ts';
import type { S3Exchange } from '../exchange.ts';
import type { S3Services } from '../s3-endpoint.ts';

/** Event notifications (https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventNotifications.html). */
export function getBucketNotificationConfiguration(
  _x: S3Exchange,
  _services: S3Services,
  _bucket: BucketRecord,
): Promise<void> {
  return Promise.reject(
    s3Error('NotImplemented', 'getBucketNotificationConfiguration is not implemented yet.'),
  );
}

export function putBucketNotificationConfiguration(
  _x: S3Exchange,
  _services: S3Services,
  _bucket: BucketRecord,
): Promise<void> {
  return Promise.reject(
    s3Error('NotImplemented', 'putBucketNotificationConfiguration is not implemented yet.'),
  );
}
