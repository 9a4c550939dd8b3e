import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';

import { SigV4Error } from '../../src/protocols/sigv4/errors.ts';
import { createPayloadHashVerifier } from '../../src/protocols/sigv4/payload.ts';

async function passThrough(parts: Buffer[], expectedHex: string): Promise<Buffer> {
  const received: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      received.push(chunk);
      callback();
    },
  });
  await pipeline(Readable.from(parts), createPayloadHashVerifier(expectedHex), sink);
  return Buffer.concat(received);
}

describe('x-amz-content-sha256 payload verification', () => {
  const parts = Array.from({ length: 64 }, (_, i) => Buffer.alloc(1000 + i, i));
  const body = Buffer.concat(parts);
  const bodySha256 = createHash('sha256').update(body).digest('hex');

  it('a body that hashes to the signed digest passes through unchanged, in pieces', async () => {
    assert.deepEqual(await passThrough(parts, bodySha256), body);
    assert.deepEqual(await passThrough(parts, bodySha256.toUpperCase()), body);
  });

  it('an empty body matches the digest of the empty string', async () => {
    const empty = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    assert.equal((await passThrough([], empty)).length, 0);
  });

  it('a body that differs by one byte fails with XAmzContentSHA256Mismatch at the end', async () => {
    const tampered = parts.map((part) => Buffer.from(part));
    tampered[63]?.fill(255, 0, 1);
    await assert.rejects(passThrough(tampered, bodySha256), (error: unknown) => {
      assert.ok(error instanceof SigV4Error);
      assert.equal(error.code, 'XAmzContentSHA256Mismatch');
      assert.equal(error.details.clientComputedContentSHA256, bodySha256);
      return true;
    });
  });

  it('a digest that is not 64 hexadecimal characters fails with InvalidArgument', () => {
    for (const hex of ['', 'abc', 'g'.repeat(64), `${bodySha256}0`]) {
      assert.throws(
        () => createPayloadHashVerifier(hex),
        (error: unknown) => error instanceof SigV4Error && error.code === 'InvalidArgument',
      );
    }
  });
});
