import { randomBytes, randomUUID } from 'node:crypto';
import { publicRandomBytes } from './random-pool.ts';

/** 128-bit random identifier as 32 lowercase hex characters. */
export function randomHexId(bytes = 16): string {
  return publicRandomBytes(bytes).toString('hex');
}

/**
 * Request ids double as S3's `x-amz-request-id`: 16 upper-case hex characters, as AWS issues.
 * A random per-process prefix plus a counter: unique across gateways and restarts without a
 * random draw per request (this is on every request's path).
 */
export function createRequestIdSource(): () => string {
  const prefix = randomBytes(3).toString('hex').toUpperCase();
  let counter = randomBytes(4).readUInt32BE(0);
  return () => {
    counter = (counter + 1) % 0x10000000000;
    return prefix + counter.toString(16).toUpperCase().padStart(10, '0');
  };
}

export function newUuid(): string {
  return randomUUID();
}
