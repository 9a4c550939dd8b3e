import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { KmsError, type KmsErrorCode } from '../../src/domain/kms/errors.ts';
import type { RootOfTrust } from '../../src/domain/kms/root-of-trust.ts';

/**
 * The RootOfTrust contract: the sealed software root and the PKCS#11 root run this same suite
 * against real key material (an in-memory key, a SoftHSM2 token).
 */
export interface RootOfTrustFixture {
  /** An unsealed root; every call gives a root with a root key of its own. */
  openRoot(): Promise<RootOfTrust>;
  /** A root of the same kind that was never unsealed. */
  sealedRoot(): Promise<RootOfTrust>;
  /** Closes whatever the fixture opened and removes what it created. */
  dispose(): Promise<void>;
}

export function rootOfTrustContract(adapter: string, openFixture: () => Promise<RootOfTrustFixture>): void {
  describe(`RootOfTrust contract: ${adapter}`, () => {
    let fixture: RootOfTrustFixture;
    before(async () => {
      fixture = await openFixture();
    });
    after(async () => {
      await fixture.dispose();
    });

    /** Runs `body` on a fresh unsealed root, closing it afterwards whatever happens. */
    async function withRoot(body: (root: RootOfTrust) => Promise<void>): Promise<void> {
      const root = await fixture.openRoot();
      try {
        await body(root);
      } finally {
        await root.close();
      }
    }

    test('an unsealed root wraps a 32-byte key and unwraps it to the same bytes', () =>
      withRoot(async (root) => {
        assert.equal(root.state(), 'unsealed');
        const key = randomBytes(32);
        const aad = Buffer.from('tenant-1/key-1/v1');
        const wrapped = await root.wrap(key, aad);
        assert.ok(Buffer.isBuffer(wrapped));
        assert.ok(!wrapped.includes(key), 'the wrapped value must not contain the key');
        assert.deepEqual(await root.unwrap(wrapped, aad), key);
      }));

    test('key material of other sizes round-trips, with and without AAD', () =>
      withRoot(async (root) => {
        for (const size of [1, 15, 16, 17, 24, 64, 512, 2400, 4096]) {
          const key = randomBytes(size);
          for (const aad of [Buffer.alloc(0), randomBytes(size % 100)]) {
            const wrapped = await root.wrap(key, aad);
            assert.deepEqual(await root.unwrap(wrapped, aad), key, `size ${size}, aad ${aad.length}`);
          }
        }
      }));

    test('inputs given as Uint8Array views into larger buffers are read at their offsets', () =>
      withRoot(async (root) => {
        const backing = randomBytes(100);
        const key = new Uint8Array(backing.buffer, backing.byteOffset + 10, 32);
        const aad = new Uint8Array(backing.buffer, backing.byteOffset + 50, 7);
        const wrapped = await root.wrap(key, aad);
        const inner = Buffer.concat([Buffer.alloc(5), wrapped, Buffer.alloc(5)]);
        const view = new Uint8Array(inner.buffer, inner.byteOffset + 5, wrapped.length);
        assert.deepEqual(await root.unwrap(view, Buffer.from(aad)), Buffer.from(key));
      }));

    test('unwrap with a different AAD fails with InvalidCiphertext', () =>
      withRoot(async (root) => {
        const key = randomBytes(32);
        const wrapped = await root.wrap(key, Buffer.from('bucket-a'));
        await rejectsWith(root.unwrap(wrapped, Buffer.from('bucket-b')), 'InvalidCiphertext');
        await rejectsWith(root.unwrap(wrapped, Buffer.alloc(0)), 'InvalidCiphertext');
        await rejectsWith(root.unwrap(wrapped, Buffer.from('bucket-a\0')), 'InvalidCiphertext');
        const unbound = await root.wrap(key, Buffer.alloc(0));
        await rejectsWith(root.unwrap(unbound, Buffer.from('x')), 'InvalidCiphertext');
      }));

    test('flipping any single byte of a wrapped value fails with InvalidCiphertext', () =>
      withRoot(async (root) => {
        const aad = Buffer.from('context');
        const wrapped = await root.wrap(randomBytes(32), aad);
        for (let index = 0; index < wrapped.length; index += 1) {
          const tampered = Buffer.from(wrapped);
          tampered[index]! ^= 0x01 << (index % 8);
          await rejectsWith(root.unwrap(tampered, aad), 'InvalidCiphertext', `byte ${index}`);
        }
      }));

    test('truncated, extended, empty and foreign values fail with InvalidCiphertext', () =>
      withRoot(async (root) => {
        const aad = Buffer.from('context');
        const wrapped = await root.wrap(randomBytes(32), aad);
        const candidates = [
          wrapped.subarray(0, wrapped.length - 1),
          wrapped.subarray(0, 1 + 12 + 16),
          wrapped.subarray(0, 1 + 12),
          wrapped.subarray(0, 1),
          Buffer.alloc(0),
          Buffer.concat([wrapped, Buffer.from([0])]),
          randomBytes(wrapped.length),
          Buffer.alloc(wrapped.length),
        ];
        for (const [index, candidate] of candidates.entries()) {
          await rejectsWith(root.unwrap(candidate, aad), 'InvalidCiphertext', `candidate ${index}`);
        }
      }));

    test('authentication failures cannot be told apart: wrong AAD, tampered body or tag, other root', async () => {
      const first = await fixture.openRoot();
      const second = await fixture.openRoot();
      try {
        const aad = Buffer.from('context');
        const wrapped = await first.wrap(randomBytes(32), aad);
        const flip = (index: number) => {
          const copy = Buffer.from(wrapped);
          copy[index]! ^= 0x80;
          return copy;
        };
        const failures = await Promise.all([
          failureOf(first.unwrap(wrapped, Buffer.from('other'))),
          failureOf(first.unwrap(flip(1), aad)),
          failureOf(first.unwrap(flip(20), aad)),
          failureOf(first.unwrap(flip(wrapped.length - 1), aad)),
          failureOf(second.unwrap(wrapped, aad)),
        ]);
        for (const failure of failures) {
          assert.deepEqual(failure, failures[0]);
          assert.equal(failure.code, 'InvalidCiphertext');
        }
      } finally {
        await first.close();
        await second.close();
      }
    });

    test('a value wrapped by one root fails under another root with InvalidCiphertext', async () => {
      const first = await fixture.openRoot();
      const second = await fixture.openRoot();
      try {
        const aad = Buffer.from('tenant-1/key-1/v1');
        const key = randomBytes(32);
        const byFirst = await first.wrap(key, aad);
        const bySecond = await second.wrap(key, aad);
        await rejectsWith(second.unwrap(byFirst, aad), 'InvalidCiphertext');
        await rejectsWith(first.unwrap(bySecond, aad), 'InvalidCiphertext');
        assert.deepEqual(await first.unwrap(byFirst, aad), key);
        assert.deepEqual(await second.unwrap(bySecond, aad), key);
      } finally {
        await first.close();
        await second.close();
      }
    });

    test('a root that was never unsealed reports sealed and refuses wrap and unwrap with Sealed', async () => {
      const sealed = await fixture.sealedRoot();
      try {
        assert.equal(sealed.state(), 'sealed');
        await rejectsWith(sealed.wrap(randomBytes(32), Buffer.alloc(0)), 'Sealed');
        await rejectsWith(sealed.unwrap(randomBytes(61), Buffer.alloc(0)), 'Sealed');
      } finally {
        await sealed.close();
      }
    });

    test('a closed root reports sealed and refuses wrap and unwrap with Sealed; closing twice is harmless', async () => {
      const root = await fixture.openRoot();
      const aad = Buffer.from('context');
      const wrapped = await root.wrap(randomBytes(32), aad);
      await root.close();
      assert.equal(root.state(), 'sealed');
      await rejectsWith(root.wrap(randomBytes(32), aad), 'Sealed');
      await rejectsWith(root.unwrap(wrapped, aad), 'Sealed');
      await root.close();
      assert.equal(root.state(), 'sealed');
    });

    test('wrap and unwrap reject rather than throw when sealed', async () => {
      const sealed = await fixture.sealedRoot();
      try {
        let wrapPromise: Promise<Buffer> | undefined;
        assert.doesNotThrow(() => {
          wrapPromise = sealed.wrap(randomBytes(32), Buffer.alloc(0));
        });
        await rejectsWith(wrapPromise!, 'Sealed');
      } finally {
        await sealed.close();
      }
    });

    test('200 concurrent wraps all succeed and each unwraps to its own key material', () =>
      withRoot(async (root) => {
        const keys = Array.from({ length: 200 }, () => randomBytes(32));
        const wrapped = await Promise.all(
          keys.map((key, index) => root.wrap(key, Buffer.from(`key-${index}`))),
        );
        const unwrapped = await Promise.all(
          wrapped.map((value, index) => root.unwrap(value, Buffer.from(`key-${index}`))),
        );
        for (const [index, key] of keys.entries()) assert.deepEqual(unwrapped[index], key);
      }));

    test('two wraps of the same key material differ (a fresh IV each time) and both unwrap', () =>
      withRoot(async (root) => {
        const key = randomBytes(32);
        const aad = Buffer.from('context');
        const first = await root.wrap(key, aad);
        const second = await root.wrap(key, aad);
        assert.notDeepEqual(first, second);
        assert.notDeepEqual(first.subarray(1, 13), second.subarray(1, 13));
        assert.deepEqual(await root.unwrap(first, aad), key);
        assert.deepEqual(await root.unwrap(second, aad), key);
      }));

    test('wrapped values start with a format byte and grow by a fixed overhead', () =>
      withRoot(async (root) => {
        const first = await root.wrap(randomBytes(32), Buffer.alloc(0));
        const second = await root.wrap(randomBytes(100), Buffer.alloc(0));
        assert.equal(first[0], second[0]);
        assert.equal(second.length - first.length, 68);
        assert.equal(first.length, 1 + 12 + 32 + 16);
      }));

    test('closing while operations are in flight: each one completes or fails with Sealed, none hangs', async () => {
      const root = await fixture.openRoot();
      const aad = Buffer.from('context');
      const operations = Array.from({ length: 50 }, () => root.wrap(randomBytes(32), aad));
      const closed = root.close();
      const outcomes = await Promise.allSettled(operations);
      await closed;
      assert.equal(root.state(), 'sealed');
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected') {
          assert.ok(outcome.reason instanceof KmsError, String(outcome.reason));
          assert.equal(outcome.reason.code, 'Sealed');
        }
      }
    });
  });
}

async function rejectsWith(promise: Promise<unknown>, code: KmsErrorCode, context = ''): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof KmsError, `${context}: expected a KmsError, got ${String(error)}`);
    assert.equal(error.code, code, `${context}: ${error.message}`);
    return true;
  });
}

async function failureOf(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof KmsError, String(error));
    return { code: error.code, message: error.message };
  }
  assert.fail('expected a failure');
}
