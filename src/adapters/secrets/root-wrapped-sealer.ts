import type { SecretSealer } from '../../domain/iam/credentials.ts';
import { openEnvelope, sealEnvelope } from '../../domain/kms/aes-gcm-envelope.ts';
import { kmsError } from '../../domain/kms/errors.ts';
import { SEALED_MESSAGE } from '../../domain/kms/seal.ts';
import { SovraError } from '../../platform/errors.ts';

/** Format byte of values this sealer writes; 1 is LocalKeySealer's, read only while re-sealing. */
const SEALED_FORMAT = 2;
const LEGACY_FORMAT = 1;
const KEY_BYTES = 32;
/** Authenticated with the context: the format (no downgrade to another layout) and the purpose. */
const AAD_LABEL = 'sovra-sealed-secret/v2\n';

/**
 * Seals credential secrets with AES-256-GCM under the credential-sealing key K, which exists at
 * rest only wrapped by the KMS root of trust (credential-key.ts) and in this process's memory
 * only while the root is unsealed (docs/decisions/0005). Without K every method throws
 * KmsError('Sealed'), which every protocol answers with 503: nothing authenticates while sealed.
 * Layout: u8 format (2) ‖ 12-byte IV ‖ ciphertext ‖ 16-byte tag; the AAD is AAD_LABEL ‖ context
 * (e.g. the access key id), so a sealed secret cannot be moved to another record.
 *
 * An installation that sealed its secrets under the local key file (format 1) hands that sealer
 * over with K; format-1 values are then read through it until they are re-sealed and it is retired.
 */
export class RootWrappedSealer implements SecretSealer {
  #key: Buffer | null = null;
  #legacy: SecretSealer | null = null;

  /** True for a value in this sealer's format (sealed under some K, not necessarily this one). */
  static isSealedUnderCredentialKey(sealed: Uint8Array): boolean {
    return sealed[0] === SEALED_FORMAT;
  }

  get isLoaded(): boolean {
    return this.#key !== null;
  }

  /** Takes ownership of `key` (zeroed by `forget`); `legacy` reads format-1 values until retired. */
  load(key: Buffer, legacy: SecretSealer | null): void {
    if (key.length !== KEY_BYTES) {
      key.fill(0);
      throw new SovraError('InvalidSealKey', 'the credential-sealing key must be 32 bytes');
    }
    this.forget();
    this.#key = key;
    this.#legacy = legacy;
  }

  /** Format-1 values are all re-sealed: they are no longer read. */
  retireLegacy(): void {
    this.#legacy = null;
  }

  /** Zeroes K (Node cannot promise no other copy exists, but this one is gone): the root was sealed. */
  forget(): void {
    this.#key?.fill(0);
    this.#key = null;
    this.#legacy = null;
  }

  requireAvailable(): void {
    this.#loaded();
  }

  seal(plaintext: Buffer, context: string): Buffer {
    return sealEnvelope(this.#loaded(), SEALED_FORMAT, plaintext, aadOf(context));
  }

  unseal(sealed: Uint8Array, context: string): Buffer {
    const key = this.#loaded();
    if (sealed[0] === LEGACY_FORMAT && this.#legacy !== null) return this.#legacy.unseal(sealed, context);
    const opened = openEnvelope(key, SEALED_FORMAT, sealed, aadOf(context));
    if (opened === 'format')
      throw new SovraError('SealedValueCorrupted', 'sealed value is not in a known format');
    if (opened === 'authentication') {
      throw new SovraError('SealedValueCorrupted', 'sealed value failed authentication');
    }
    return opened;
  }

  /**
   * The value sealed again under K, or null when it already is: a stored secret of the local key
   * file moving under the root of trust. The plaintext is zeroed once sealed again.
   */
  reseal(sealed: Uint8Array, context: string): Buffer | null {
    this.#loaded();
    if (RootWrappedSealer.isSealedUnderCredentialKey(sealed)) return null;
    const plaintext = this.unseal(sealed, context);
    try {
      return this.seal(plaintext, context);
    } finally {
      plaintext.fill(0);
    }
  }

  #loaded(): Buffer {
    if (this.#key === null) throw kmsError('Sealed', SEALED_MESSAGE);
    return this.#key;
  }
}

function aadOf(context: string): Buffer {
  return Buffer.from(AAD_LABEL + context, 'utf8');
}
