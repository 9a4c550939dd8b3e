import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import type { FrameCipherFactory } from '../../src/domain/storage/ports.ts';

/**
 * The FrameCipher contract: node:crypto and the in-place OpenSSL cipher both produce exactly
 * AES-256-GCM (NIST SP 800-38D) as node:crypto's createCipheriv computes it, whether the output is
 * a separate buffer or the input itself, whole or in pieces, through views at any offset.
 */
export function frameCipherContract(implementation: string, ciphers: FrameCipherFactory): void {
  describe(`FrameCipher contract: ${implementation}`, () => {
    const key = randomBytes(32);
    const aad = randomBytes(32);

    function reference(nonce: Buffer, plaintext: Buffer): { ciphertext: Buffer; tag: Buffer } {
      const cipher = createCipheriv('aes-256-gcm', key, nonce).setAAD(aad);
      const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return { ciphertext, tag: cipher.getAuthTag() };
    }

    test('seals exactly what createCipheriv computes, into another buffer and in place', () => {
      const sealer = ciphers.create(key, 'seal');
      try {
        for (const size of [0, 1, 15, 16, 17, 4096, 262_144 + 3]) {
          const nonce = randomBytes(12);
          const plaintext = randomBytes(size);
          const expected = reference(nonce, plaintext);
          const out = Buffer.alloc(size);
          const tag = Buffer.alloc(16);
          sealer.begin(nonce, aad);
          sealer.update(plaintext, out);
          sealer.finishSeal(tag);
          assert.ok(out.equals(expected.ciphertext), `size ${size}`);
          assert.ok(tag.equals(expected.tag), `tag, size ${size}`);

          const inPlace = Buffer.from(plaintext);
          sealer.begin(nonce, aad);
          sealer.update(inPlace, inPlace);
          sealer.finishSeal(tag);
          assert.ok(inPlace.equals(expected.ciphertext), `in place, size ${size}`);
          assert.ok(tag.equals(expected.tag));
        }
      } finally {
        sealer.dispose();
      }
    });

    test('opens in pieces through views at odd offsets, in place, and verifies the tag', () => {
      const opener = ciphers.create(key, 'open');
      try {
        const nonce = randomBytes(12);
        const plaintext = randomBytes(70_001);
        const { ciphertext, tag } = reference(nonce, plaintext);
        // The frame sits at an odd offset inside a larger buffer, as it does inside a read chunk.
        const chunk = Buffer.concat([randomBytes(7), ciphertext, tag]);
        const body = chunk.subarray(7, 7 + ciphertext.length);
        opener.begin(nonce, aad);
        for (const [from, to] of [
          [0, 1],
          [1, 4097],
          [4097, 70_001],
        ] as const) {
          const piece = body.subarray(from, to);
          opener.update(piece, piece);
        }
        assert.equal(opener.finishOpen(chunk.subarray(7 + ciphertext.length)), true);
        assert.ok(body.equals(plaintext));

        opener.begin(nonce, aad);
        const out = Buffer.alloc(ciphertext.length);
        opener.update(ciphertext, out);
        assert.equal(opener.finishOpen(tag), true);
        assert.ok(out.equals(plaintext));
      } finally {
        opener.dispose();
      }
    });

    test('a wrong tag, nonce, additional data or ciphertext does not verify, and the context stays usable', () => {
      const opener = ciphers.create(key, 'open');
      try {
        const nonce = randomBytes(12);
        const plaintext = randomBytes(1000);
        const { ciphertext, tag } = reference(nonce, plaintext);
        const open = (n: Buffer, a: Buffer, c: Buffer, t: Buffer) => {
          opener.begin(n, a);
          opener.update(c, Buffer.alloc(c.length));
          return opener.finishOpen(t);
        };
        const flipped = (bytes: Buffer, index: number) => {
          const copy = Buffer.from(bytes);
          copy[index] = (copy[index] ?? 0) ^ 1;
          return copy;
        };
        assert.equal(open(nonce, aad, ciphertext, flipped(tag, 15)), false);
        assert.equal(open(flipped(nonce, 0), aad, ciphertext, tag), false);
        assert.equal(open(nonce, flipped(aad, 31), ciphertext, tag), false);
        assert.equal(open(nonce, aad, flipped(ciphertext, 500), tag), false);
        assert.equal(open(nonce, aad, ciphertext, tag.subarray(0, 12)), false);
        assert.equal(open(nonce, aad, ciphertext, tag), true);
      } finally {
        opener.dispose();
      }
    });

    test('refuses misuse: a wrong key size, unequal buffers, use after dispose', () => {
      assert.throws(() => ciphers.create(randomBytes(16), 'seal'), RangeError);
      const sealer = ciphers.create(key, 'seal');
      sealer.begin(randomBytes(12), aad);
      assert.throws(() => sealer.update(Buffer.alloc(10), Buffer.alloc(9)), RangeError);
      sealer.dispose();
      sealer.dispose();
      assert.throws(() => sealer.begin(randomBytes(12), aad));
    });
  });
}
