import type { Clock } from '../../platform/clock.ts';
import { LIMITS } from '../../platform/limits.ts';
import type { MetadataStore } from '../storage/ports.ts';
import type { Principal } from './types.ts';

/** Seals secrets at rest (access key secrets). Local key file now; the KMS root of trust later. */
export interface SecretSealer {
  seal(plaintext: Buffer, context: string): Buffer;
  unseal(sealed: Uint8Array, context: string): Buffer;
}

export interface ResolvedCredential {
  accessKeyId: string;
  secretAccessKey: string;
  principal: Principal;
}

/**
 * Resolves access key ids to their (unsealed) secrets for signature verification, with a short
 * cache so that a hot path does not hit the store and the sealer on every request. Disabled or
 * expired keys resolve to null exactly as unknown keys do.
 */
export class CredentialResolver {
  readonly #metadata: MetadataStore;
  readonly #sealer: SecretSealer;
  readonly #clock: Clock;
  readonly #cache = new Map<
    string,
    { value: ResolvedCredential | null; expiresAtMs: number; keyExpiresAtMs: number | null }
  >();

  constructor(options: { metadata: MetadataStore; sealer: SecretSealer; clock: Clock }) {
    this.#metadata = options.metadata;
    this.#sealer = options.sealer;
    this.#clock = options.clock;
  }

  async resolve(accessKeyId: string): Promise<ResolvedCredential | null> {
    const now = this.#clock.nowMs();
    const cached = this.#cache.get(accessKeyId);
    if (
      cached !== undefined &&
      cached.expiresAtMs > now &&
      (cached.keyExpiresAtMs === null || cached.keyExpiresAtMs > now)
    ) {
      return cached.value;
    }
    const record = await this.#metadata.getAccessKey(accessKeyId);
    let value: ResolvedCredential | null = null;
    if (
      record !== null &&
      record.status === 'Active' &&
      (record.expiresAt === null || record.expiresAt.getTime() > now)
    ) {
      const principal = await this.#metadata.getPrincipal(record.principalId);
      if (principal !== null) {
        const secret = this.#sealer.unseal(record.sealedSecret, `access-key:${accessKeyId}`);
        value = { accessKeyId, secretAccessKey: secret.toString('utf8'), principal };
        secret.fill(0);
      }
    }
    if (this.#cache.size >= LIMITS.signingKeyCacheEntries) this.#cache.clear();
    this.#cache.set(accessKeyId, {
      value,
      expiresAtMs: now + LIMITS.credentialCacheTtlMs,
      keyExpiresAtMs: record?.expiresAt?.getTime() ?? null,
    });
    return value;
  }

  /** Forget a key at once (disable, delete, rotate). */
  invalidate(accessKeyId: string): void {
    this.#cache.delete(accessKeyId);
  }

  /** Forget every key of a principal at once (deleted, or its administrator flag changed). */
  invalidatePrincipal(principalId: string): void {
    for (const [accessKeyId, entry] of this.#cache) {
      if (entry.value?.principal.id === principalId) this.#cache.delete(accessKeyId);
    }
  }
}
