import { randomBytes, randomFillSync } from 'node:crypto';

/**
 * Random bytes that are not secret — identifiers, salts stored beside what they salt, GCM nonces
 * — cut from one CSPRNG draw per POOL_BYTES. A call into OpenSSL's generator costs several
 * microseconds whatever its size, and a PUT needed three of these besides its data key
 * (docs/performance.md). The bytes are the generator's output, each used once. The pool is
 * replaced, never rewritten, and callers get copies, so nothing handed out changes and no caller
 * keeps the pool alive. Never for key material: a key must not have a second copy in a pool.
 */
const POOL_BYTES = 64 * 1024;
let pool = Buffer.alloc(0);
let offset = 0;

/** `length` fresh random bytes (a copy). */
export function publicRandomBytes(length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  fillPublicRandom(out);
  return out;
}

/** Fills `target` with fresh random bytes and returns it. */
export function fillPublicRandom<T extends Uint8Array>(target: T): T {
  if (target.length > POOL_BYTES) return randomFillSync(target);
  if (offset + target.length > pool.length) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  target.set(pool.subarray(offset, offset + target.length));
  offset += target.length;
  return target;
}
