/**
 * SigV4 signing keys: kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
 * "aws4_request") (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html,
 * step 4). A key is valid for one day, region and service, so a small cache removes four HMACs
 * from nearly every request.
 */
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';

import { LIMITS } from '../../platform/limits.ts';
import { SCOPE_TERMINATOR } from './canonical.ts';

export function deriveSigningKey(
  secretAccessKey: string,
  date: string,
  region: string,
  service: string,
): Buffer {
  const dateKey = createHmac('sha256', `AWS4${secretAccessKey}`).update(date, 'utf8').digest();
  const regionKey = createHmac('sha256', dateKey).update(region, 'utf8').digest();
  const serviceKey = createHmac('sha256', regionKey).update(service, 'utf8').digest();
  return createHmac('sha256', serviceKey).update(SCOPE_TERMINATOR, 'utf8').digest();
}

interface CachedSigningKey {
  secretAccessKey: string;
  signingKey: KeyObject;
}

/**
 * Bounded LRU of derived signing keys (a Map keeps insertion order; a hit is re-inserted at the
 * end, and the oldest entry is evicted first). Entries remember the secret they came from, so a
 * rotated secret never reuses a stale key.
 */
export class SigningKeyCache {
  readonly #maxEntries: number;
  readonly #entries = new Map<string, CachedSigningKey>();

  constructor(maxEntries: number = LIMITS.signingKeyCacheEntries) {
    this.#maxEntries = Math.max(1, Math.floor(maxEntries));
  }

  get size(): number {
    return this.#entries.size;
  }

  signingKey(
    accessKeyId: string,
    secretAccessKey: string,
    date: string,
    region: string,
    service: string,
  ): KeyObject {
    const cacheKey = `${accessKeyId}\n${date}\n${region}\n${service}`;
    const cached = this.#entries.get(cacheKey);
    if (cached !== undefined && cached.secretAccessKey === secretAccessKey) {
      this.#entries.delete(cacheKey);
      this.#entries.set(cacheKey, cached);
      return cached.signingKey;
    }
    // Kept as a KeyObject: HMAC with a prepared key is several times cheaper than with raw bytes.
    const signingKey = createSecretKey(deriveSigningKey(secretAccessKey, date, region, service));
    this.#entries.delete(cacheKey);
    this.#entries.set(cacheKey, { secretAccessKey, signingKey });
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    return signingKey;
  }
}
