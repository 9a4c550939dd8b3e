import type { BucketRecord } from '../../../domain/storage/types.ts';
import { s3Error } from '../errors.ts';
import type { S3Exchange } from '../exchange.ts';
import type { S3Services } from '../s3-endpoint.ts';

/** CORS configuration (https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html). */
export function getBucketCors(_x: S3Exchange, _services: S3Services, _bucket: BucketRecord): Promise<void> {
  return Promise.reject(s3Error('NotImplemented', 'getBucketCors is not implemented yet.'));
}

export function putBucketCors(_x: S3Exchange, _services: S3Services, _bucket: BucketRecord): Promise<void> {
  return Promise.reject(s3Error('NotImplemented', 'putBucketCors is not implemented yet.'));
}

export function deleteBucketCors(
  _x: S3Exchange,
  _services: S3Services,
  _bucket: BucketRecord,
): Promise<void> {
  return Promise.reject(s3Error('NotImplemented', 'deleteBucketCors is not implemented yet.'));
}

import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Answers a CORS preflight (OPTIONS) for a bucket or object as S3 evaluates the bucket's rules;
 * preflights are not authenticated.
 */
export function handlePreflight(
  _req: IncomingMessage,
  _res: ServerResponse,
  _bucket: string | null,
  _services: S3Services,
): Promise<void> {
  return Promise.reject(s3Error('NotImplemented', 'CORS is not implemented yet.'));
}

/** Adds Access-Control-* headers to an actual (non-preflight) request whose Origin matches a rule. */
export function addCorsResponseHeaders(
  _req: IncomingMessage,
  _res: ServerResponse,
  _bucket: string,
  _services: S3Services,
): Promise<void> {
  return Promise.resolve();
}
