import { randomBytes, randomUUID } from 'node:crypto';

/** 128-bit random identifier as 32 lowercase hex characters. */
export function randomHexId(bytes = 16): string {
  return randomBytes(bytes).toString('hex');
}

/**
 * Request ids double as S3's `x-amz-request-id`; 16 upper-case hex characters, as AWS issues.
 */
export function newRequestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

export function newUuid(): string {
  return randomUUID();
}
