import { openEnvelope, sealEnvelope } from './aes-gcm-envelope.ts';
import { kmsError } from './errors.ts';

/**
 * The root of the key hierarchy: tenant KMS keys are stored only wrapped by it. Two backends:
 * an HSM over PKCS#11 (the key is generated inside the token, non-extractable, and wrapping
 * happens there) and a software root key that exists only while unsealed by a quorum of Shamir
 * shares. Both pass one contract suite.
 */
export interface RootOfTrust {
  readonly kind: 'sealed-shamir' | 'pkcs11';
  /** 'sealed' refuses every wrap/unwrap with KmsError('Sealed'). */
  state(): 'sealed' | 'unsealed';
  /** Encrypts key material under the root; `aad` binds it to what it belongs to. */
  wrap(plaintext: Uint8Array, aad: Uint8Array): Promise<Buffer>;
  /** Reverses wrap; any tampering, wrong root or wrong `aad` fails with InvalidCiphertext. */
  unwrap(wrapped: Uint8Array, aad: Uint8Array): Promise<Buffer>;
  /** Forgets in-memory key material (seal); a PKCS#11 root logs out of its session. */
  close(): Promise<void>;
}

/** Format byte of software-root wrapped values: u8 format ‖ 12-byte IV ‖ ciphertext ‖ 16-byte tag. */
const WRAP_FORMAT_AES_GCM = 1;

/**
 * AES-256-GCM wrapping under a 256-bit key held in memory: the unsealed state of the software
 * root. The key buffer is owned by this object and zeroed by `forget`.
 */
export class RootKeyWrapper {
  #key: Buffer | null;

  constructor(key: Buffer) {
    if (key.length !== 32) throw kmsError('Validation', 'the root key must be 32 bytes');
    this.#key = key;
  }

  get isLoaded(): boolean {
    return this.#key !== null;
  }

  wrap(plaintext: Uint8Array, aad: Uint8Array): Buffer {
    return sealEnvelope(this.#loaded(), WRAP_FORMAT_AES_GCM, plaintext, aad);
  }

  unwrap(wrapped: Uint8Array, aad: Uint8Array): Buffer {
    const opened = openEnvelope(this.#loaded(), WRAP_FORMAT_AES_GCM, wrapped, aad);
    if (opened === 'format')
      throw kmsError('InvalidCiphertext', 'wrapped key material is not in a known format');
    if (opened === 'authentication') {
      throw kmsError('InvalidCiphertext', 'wrapped key material failed authentication');
    }
    return opened;
  }

  /** Zeroes the key (Node cannot guarantee no other copy exists, but this one is gone). */
  forget(): void {
    this.#key?.fill(0);
    this.#key = null;
  }

  #loaded(): Buffer {
    if (this.#key === null)
      throw kmsError('Sealed', 'Sovra is sealed: a quorum of key custodians must unseal it');
    return this.#key;
  }
}

/**
 * The sealed software root as a RootOfTrust: sealed until `unsealWith` receives the root key
 * that a quorum of Shamir shares reconstructs; `close` seals it again at once.
 */
export class SoftwareRoot implements RootOfTrust {
  readonly kind = 'sealed-shamir' as const;
  #wrapper: RootKeyWrapper | null = null;

  state(): 'sealed' | 'unsealed' {
    return this.#wrapper?.isLoaded === true ? 'unsealed' : 'sealed';
  }

  /** Takes ownership of `rootKey` (zeroed on seal). */
  unsealWith(rootKey: Buffer): void {
    this.#wrapper?.forget();
    this.#wrapper = new RootKeyWrapper(rootKey);
  }

  // async: a sealed root or a bad value rejects rather than throws.
  async wrap(plaintext: Uint8Array, aad: Uint8Array): Promise<Buffer> {
    await Promise.resolve();
    return this.#unsealed().wrap(plaintext, aad);
  }

  async unwrap(wrapped: Uint8Array, aad: Uint8Array): Promise<Buffer> {
    await Promise.resolve();
    return this.#unsealed().unwrap(wrapped, aad);
  }

  close(): Promise<void> {
    this.#wrapper?.forget();
    this.#wrapper = null;
    return Promise.resolve();
  }

  #unsealed(): RootKeyWrapper {
    if (this.#wrapper === null)
      throw kmsError('Sealed', 'Sovra is sealed: a quorum of key custodians must unseal it');
    return this.#wrapper;
  }
}
