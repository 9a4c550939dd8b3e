import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  type CipherGCM,
  type DecipherGCM,
  type KeyObject,
} from 'node:crypto';
import type { FrameCipher, FrameCipherFactory } from './ports.ts';

const GCM_KEY_BYTES = 32;
const GCM_TAG_BYTES = 16;

/**
 * The FrameCipher on node:crypto alone: correct everywhere, but node:crypto has no output
 * parameter, so every update allocates a buffer that is then copied into the caller's. The
 * server uses the in-place OpenSSL cipher (adapters/openssl/frame-cipher.ts); this one is the
 * codec's default and the reference the contract suite compares against.
 */
export const nodeFrameCiphers: FrameCipherFactory = {
  create(key, direction) {
    if (key.length !== GCM_KEY_BYTES) throw new RangeError(`the key must be ${GCM_KEY_BYTES} bytes`);
    return new NodeFrameCipher(createSecretKey(key), direction);
  },
};

class NodeFrameCipher implements FrameCipher {
  /** A KeyObject: createCipheriv would prepare raw key bytes again on every frame. */
  #key: KeyObject | null;
  readonly #direction: 'seal' | 'open';
  #sealing: CipherGCM | null = null;
  #opening: DecipherGCM | null = null;

  constructor(key: KeyObject, direction: 'seal' | 'open') {
    this.#key = key;
    this.#direction = direction;
  }

  begin(nonce: Uint8Array, aad: Uint8Array): void {
    if (this.#key === null) throw new Error('the frame cipher has been disposed');
    const options = { authTagLength: GCM_TAG_BYTES };
    if (this.#direction === 'seal') {
      this.#sealing = createCipheriv('aes-256-gcm', this.#key, nonce, options).setAAD(aad);
    } else {
      this.#opening = createDecipheriv('aes-256-gcm', this.#key, nonce, options).setAAD(aad);
    }
  }

  update(input: Uint8Array, output: Uint8Array): void {
    if (input.length !== output.length) throw new RangeError('output must be as long as input');
    const message = this.#sealing ?? this.#opening;
    if (message === null) throw new Error('no frame started');
    const result = message.update(input);
    output.set(result);
    // Unverified plaintext is not left behind in a buffer nobody will clear.
    if (message === this.#opening) result.fill(0);
  }

  finishSeal(tag: Uint8Array): void {
    const message = this.#sealing;
    if (message === null) throw new Error('no sealed frame started');
    this.#sealing = null;
    message.final();
    tag.set(message.getAuthTag());
  }

  finishOpen(tag: Uint8Array): boolean {
    const message = this.#opening;
    if (message === null) throw new Error('no opened frame started');
    this.#opening = null;
    try {
      message.setAuthTag(tag);
      message.final();
      return true;
    } catch {
      return false;
    }
  }

  dispose(): void {
    this.#key = null;
    this.#sealing = null;
    this.#opening = null;
  }
}
