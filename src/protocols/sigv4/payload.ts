/**
 * Checks a body against the hex SHA-256 the client signed in x-amz-content-sha256. Bytes pass
 * through as they arrive (nothing is buffered); the verdict comes at the end, so a consumer must
 * commit only when the stream finishes without error — the same rule that catches a short body.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

import { SigV4Error } from './errors.ts';

export function createPayloadHashVerifier(expectedHex: string): Transform {
  if (expectedHex.length !== 64 || !/^[0-9a-fA-F]+$/.test(expectedHex)) {
    throw new SigV4Error('InvalidArgument', 'x-amz-content-sha256 must be a valid sha256 value.', {
      contentSha256: expectedHex,
    });
  }
  const expected = Buffer.from(expectedHex, 'hex');
  const hash = createHash('sha256');
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
      hash.update(chunk);
      callback(null, chunk);
    },
    flush(callback: TransformCallback): void {
      const actual = hash.digest();
      if (timingSafeEqual(actual, expected)) {
        callback();
        return;
      }
      callback(
        new SigV4Error(
          'XAmzContentSHA256Mismatch',
          "The provided 'x-amz-content-sha256' header does not match what was computed.",
          {
            clientComputedContentSHA256: expectedHex.toLowerCase(),
            s3ComputedContentSHA256: actual.toString('hex'),
          },
        ),
      );
    },
  });
}
