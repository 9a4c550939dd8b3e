import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import type { IncrementalDigest, UploadDigests } from '../../src/domain/storage/ports.ts';

/**
 * The UploadDigests contract: the in-thread and the thread-pool MD5 give node:crypto's MD5 for
 * any split of the bytes, honour the wait an update asks for, and many run at once.
 */
export function uploadDigestsContract(implementation: string, digests: UploadDigests): void {
  describe(`UploadDigests contract: ${implementation}`, () => {
    async function feed(md5: IncrementalDigest, pieces: Buffer[]): Promise<Buffer> {
      for (const piece of pieces) {
        const waiting = md5.update(piece);
        if (waiting !== undefined) await waiting;
      }
      return md5.digest();
    }

    function split(bytes: Buffer, sizes: number[]): Buffer[] {
      const pieces: Buffer[] = [];
      let offset = 0;
      for (let index = 0; offset < bytes.length; index += 1) {
        const size = sizes[index % sizes.length]!;
        pieces.push(bytes.subarray(offset, offset + size));
        offset += size;
      }
      return pieces;
    }

    test('gives the MD5 of the bytes for sizes around the batch boundary and any split', async () => {
      const KiB = 1024;
      for (const size of [0, 1, 256 * KiB - 1, 256 * KiB, 256 * KiB + 1, 3 * 1024 * KiB + 17]) {
        const bytes = randomBytes(size);
        const expected = createHash('md5').update(bytes).digest();
        for (const sizes of [[size || 1], [64 * KiB], [1, 7, 300 * KiB], [600 * KiB]]) {
          const got = await feed(digests.createMd5(), split(bytes, sizes));
          assert.ok(got.equals(expected), `size ${size}, pieces ${sizes.join('/')}`);
        }
      }
    });

    test('many digests run at once without mixing their bytes', async () => {
      const inputs = Array.from({ length: 12 }, (_, index) => randomBytes(1024 * 1024 + index * 4099));
      const results = await Promise.all(
        inputs.map((bytes) => feed(digests.createMd5(), split(bytes, [64 * 1024]))),
      );
      results.forEach((got, index) => {
        assert.ok(got.equals(createHash('md5').update(inputs[index]!).digest()), `digest ${index}`);
      });
    });

    test('more digests at once than the FFI queues asynchronously still come out right', async () => {
      // koffi queues at most 256 asynchronous calls; the rest are hashed on the calling thread.
      const inputs = Array.from({ length: 280 }, () => randomBytes(260 * 1024));
      const md5s = inputs.map(() => digests.createMd5());
      const waits = md5s.map((md5, index) => md5.update(inputs[index]!));
      await Promise.all(waits.filter((wait) => wait !== undefined));
      const results = await Promise.all(md5s.map((md5) => md5.digest()));
      results.forEach((got, index) => {
        assert.ok(got.equals(createHash('md5').update(inputs[index]!).digest()), `digest ${index}`);
      });
    });

    test('a caller that reuses its chunk once an update returns still gets the right digest', async () => {
      const bytes = randomBytes(2 * 1024 * 1024);
      const md5 = digests.createMd5();
      const chunk = Buffer.alloc(64 * 1024);
      for (let offset = 0; offset < bytes.length; offset += chunk.length) {
        bytes.copy(chunk, 0, offset, offset + chunk.length);
        const waiting = md5.update(chunk);
        if (waiting !== undefined) await waiting;
        chunk.fill(0xee);
      }
      assert.ok((await md5.digest()).equals(createHash('md5').update(bytes).digest()));
    });

    test('a discarded digest, even mid-way, leaves later digests correct', async () => {
      for (const size of [100 * 1024, 700 * 1024, 1600 * 1024]) {
        const md5 = digests.createMd5();
        const waiting = md5.update(randomBytes(size));
        md5.discard();
        await waiting;
        assert.equal(md5.update(randomBytes(10)), undefined, 'a discarded digest takes nothing');
      }
      const bytes = randomBytes(900 * 1024);
      assert.ok((await feed(digests.createMd5(), [bytes])).equals(createHash('md5').update(bytes).digest()));
    });
  });
}
