import type { IncomingMessage, ServerResponse } from 'node:http';
import { s3Error } from '../errors.ts';
import type { S3Route } from '../route.ts';
import type { S3Services } from '../s3-endpoint.ts';

/**
 * Browser-based uploads: POST Object with a signed POST policy
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html). The
 * signature travels in form fields, so this path authenticates itself.
 */
export function postObject(
  _req: IncomingMessage,
  _res: ServerResponse,
  _route: S3Route,
  _requestId: string,
  _services: S3Services,
): Promise<{ principalId: string; tenantId: string } | null> {
  return Promise.reject(s3Error('NotImplemented', 'Browser-based POST uploads are not implemented yet.'));
}
