import { createHash, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../platform/clock.ts';
import { SovraError } from '../../platform/errors.ts';
import { LIMITS } from '../../platform/limits.ts';
import type { MetadataStore } from '../storage/ports.ts';
import type { FederationStore, SessionRecord } from './sts-sessions.ts';
import type { Principal } from './types.ts';

/**
 * Seals secrets at rest (access keys' and role sessions' secret keys): under a key that the KMS
 * root of trust wraps (docs/decisions/0005), or a local key file without one. Synchronous: the
 * key is in memory while available; when it is not (the root of trust is sealed) every method
 * throws KmsError('Sealed').
 */
export interface SecretSealer {
  seal(plaintext: Buffer, context: string): Buffer;
  unseal(sealed: Uint8Array, context: string): Buffer;
  /** Throws KmsError('Sealed') while the sealing key is not in memory. */
  requireAvailable(): void;
}

/** The context an access key's secret is sealed under (SecretSealer), bound to its id. */
export function accessKeySecretContext(accessKeyId: string): string {
  return `access-key:${accessKeyId}`;
}

export interface ResolvedCredential {
  accessKeyId: string;
  secretAccessKey: string;
  principal: Principal;
  /** Temporary credentials only: the role session, whose token the request presented and was checked. */
  session?: { roleId: string; expiresAt: Date; sessionToken: string };
}

/**
 * Refusals of temporary credentials, with the codes AWS answers
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html: ExpiredToken, InvalidToken).
 * SigV4 verification turns them into its own errors of the same codes.
 */
export type CredentialErrorCode = 'ExpiredToken' | 'InvalidToken';

export class CredentialError extends SovraError<CredentialErrorCode> {}

/** Temporary access key ids start with ASIA, as AWS STS's do; long-term ones never do. */
export const TEMPORARY_ACCESS_KEY_PREFIX = 'ASIA';

/** The context a session's secret is sealed under (SecretSealer), bound to its access key id. */
export function sessionSecretContext(accessKeyId: string): string {
  return `sts-session:${accessKeyId}`;
}

/**
 * Resolves access key ids to their (unsealed) secrets for signature verification, with a short
 * cache so that a hot path does not hit the store and the sealer on every request. Disabled or
 * expired keys resolve to null exactly as unknown keys do.
 *
 * Temporary credentials (ASIA…, with `sessions`) resolve only together with their session token
 * (`x-amz-security-token`), compared in constant time with the stored hash: without a token they
 * are unknown (as AWS S3 answers InvalidAccessKeyId), with another token InvalidToken, after their
 * expiry ExpiredToken, once revoked InvalidToken. A caller that does not pass the token therefore
 * never authenticates temporary credentials.
 */
export class CredentialResolver {
  readonly #metadata: MetadataStore;
  readonly #sealer: SecretSealer;
  readonly #clock: Clock;
  readonly #sessions: Pick<FederationStore, 'getSession'> | null;
  readonly #cache = new Map<
    string,
    { value: ResolvedCredential | null; expiresAtMs: number; keyExpiresAtMs: number | null }
  >();
  readonly #sessionCache = new Map<
    string,
    { value: { session: SessionRecord; secretAccessKey: string } | null; expiresAtMs: number }
  >();

  constructor(options: {
    metadata: MetadataStore;
    sealer: SecretSealer;
    clock: Clock;
    sessions?: Pick<FederationStore, 'getSession'>;
  }) {
    this.#metadata = options.metadata;
    this.#sealer = options.sealer;
    this.#clock = options.clock;
    this.#sessions = options.sessions ?? null;
  }

  async resolve(accessKeyId: string, sessionToken?: string): Promise<ResolvedCredential | null> {
    this.#requireSealer();
    if (accessKeyId.startsWith(TEMPORARY_ACCESS_KEY_PREFIX)) {
      return this.#resolveSession(accessKeyId, sessionToken);
    }
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
        const secret = this.#sealer.unseal(record.sealedSecret, accessKeySecretContext(accessKeyId));
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

  /**
   * While the sealer's key is away (the root of trust is sealed) nothing authenticates, not even
   * from the cache, and the cached secrets are dropped: every signed request answers 503.
   */
  #requireSealer(): void {
    try {
      this.#sealer.requireAvailable();
    } catch (error) {
      this.#cache.clear();
      this.#sessionCache.clear();
      throw error;
    }
  }

  /** Forget a key at once (disable, delete, rotate). */
  invalidate(accessKeyId: string): void {
    this.#cache.delete(accessKeyId);
    this.#sessionCache.delete(accessKeyId);
  }

  /**
   * Forget every key of a principal at once (deleted, or its administrator flag changed); for a
   * role, also every session of it (its sessions were revoked, or the role deleted).
   */
  invalidatePrincipal(principalId: string): void {
    for (const [accessKeyId, entry] of this.#cache) {
      if (entry.value?.principal.id === principalId) this.#cache.delete(accessKeyId);
    }
    for (const [accessKeyId, entry] of this.#sessionCache) {
      if (entry.value === null || entry.value.session.roleId === principalId)
        this.#sessionCache.delete(accessKeyId);
    }
  }

  async #resolveSession(
    accessKeyId: string,
    sessionToken: string | undefined,
  ): Promise<ResolvedCredential | null> {
    if (this.#sessions === null || sessionToken === undefined) return null;
    const now = this.#clock.nowMs();
    let cached = this.#sessionCache.get(accessKeyId);
    if (cached === undefined || cached.expiresAtMs <= now) {
      const session = await this.#sessions.getSession(accessKeyId);
      let value: { session: SessionRecord; secretAccessKey: string } | null = null;
      if (session !== null) {
        const secret = this.#sealer.unseal(session.sealedSecret, sessionSecretContext(accessKeyId));
        value = { session, secretAccessKey: secret.toString('utf8') };
        secret.fill(0);
      }
      cached = { value, expiresAtMs: now + LIMITS.credentialCacheTtlMs };
      if (this.#sessionCache.size >= LIMITS.signingKeyCacheEntries) this.#sessionCache.clear();
      this.#sessionCache.set(accessKeyId, cached);
    }
    if (cached.value === null) return null;
    const { session, secretAccessKey } = cached.value;
    const presented = createHash('sha256').update(sessionToken, 'utf8').digest();
    if (presented.length !== session.tokenSha256.length || !timingSafeEqual(presented, session.tokenSha256)) {
      throw new CredentialError('InvalidToken', 'The provided token is malformed or otherwise invalid.');
    }
    if (session.revokedAt !== null) {
      throw new CredentialError(
        'InvalidToken',
        'The security token included in the request has been revoked.',
      );
    }
    if (session.expiresAt.getTime() <= now) {
      throw new CredentialError('ExpiredToken', 'The provided token has expired.');
    }
    return {
      accessKeyId,
      secretAccessKey,
      principal: {
        id: session.principalId,
        tenantId: session.tenantId,
        kind: 'role',
        name: session.roleName,
        isTenantAdmin: false,
        createdAt: session.issuedAt,
      },
      session: { roleId: session.roleId, expiresAt: session.expiresAt, sessionToken },
    };
  }
}
