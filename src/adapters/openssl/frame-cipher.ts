import type { FrameCipher, FrameCipherFactory } from '../../domain/storage/ports.ts';
import { bindPrototypes, loadProcessSymbols } from '../native/process-symbols.ts';

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** EVP_CIPHER_CTX_ctrl commands (include/openssl/evp.h): EVP_CTRL_AEAD_GET_TAG / SET_TAG. */
const CTRL_AEAD_GET_TAG = 0x10;
const CTRL_AEAD_SET_TAG = 0x11;

/**
 * AES-256-GCM frames sealed and opened in place by the OpenSSL that Node itself runs on, through
 * the EVP cipher API (OpenSSL 3 EVP_EncryptInit(3)), reached with koffi. It is the same AES-GCM
 * implementation node:crypto calls, minus the fresh output buffer node:crypto allocates for every
 * update: with 256 KiB frames that allocation, not the cipher, was most of the cost of encryption
 * at rest (decision 0006). One EVP_CIPHER_CTX holds the key schedule for a whole object; each
 * frame only sets a new nonce. EVP_CIPHER_CTX_free cleanses the schedule; a FinalizationRegistry
 * frees contexts whose owner forgot to dispose them.
 */
export async function openOpenSslFrameCiphers(): Promise<FrameCipherFactory> {
  const library = await loadProcessSymbols();
  const native = bindPrototypes<Native>(library, PROTOTYPES);
  const gcm = native.EVP_aes_256_gcm();
  if (gcm === null) throw new Error('OpenSSL has no AES-256-GCM');
  const unfreed = new FinalizationRegistry<unknown>((ctx) => native.EVP_CIPHER_CTX_free(ctx));
  const binding = { native, gcm, unfreed };
  return {
    create(key, direction) {
      return new OpenSslFrameCipher(binding, key, direction);
    },
  };
}

interface Binding {
  native: Native;
  gcm: unknown;
  unfreed: FinalizationRegistry<unknown>;
}

class OpenSslFrameCipher implements FrameCipher {
  readonly #binding: Binding;
  readonly #direction: 'seal' | 'open';
  #ctx: unknown;
  #started = false;
  readonly #length = new Int32Array(1);
  readonly #scratch = Buffer.alloc(TAG_BYTES);

  constructor(binding: Binding, key: Uint8Array, direction: 'seal' | 'open') {
    if (key.length !== KEY_BYTES) throw new RangeError(`the key must be ${KEY_BYTES} bytes`);
    const n = binding.native;
    const ctx = n.EVP_CIPHER_CTX_new();
    if (ctx === null) throw opensslFailed(n, 'EVP_CIPHER_CTX_new');
    if (n.EVP_CipherInit_ex(ctx, binding.gcm, null, key, null, direction === 'seal' ? 1 : 0) !== 1) {
      n.EVP_CIPHER_CTX_free(ctx);
      throw opensslFailed(n, 'EVP_CipherInit_ex');
    }
    this.#binding = binding;
    this.#direction = direction;
    this.#ctx = ctx;
    binding.unfreed.register(this, ctx, this);
  }

  begin(nonce: Uint8Array, aad: Uint8Array): void {
    const n = this.#binding.native;
    const ctx = this.#context();
    if (nonce.length !== NONCE_BYTES) throw new RangeError(`the nonce must be ${NONCE_BYTES} bytes`);
    // Key and direction stay as set; -1 keeps the direction (EVP_CipherInit_ex(3)).
    if (n.EVP_CipherInit_ex(ctx, null, null, null, nonce, -1) !== 1)
      throw opensslFailed(n, 'EVP_CipherInit_ex');
    if (aad.length > 0 && n.EVP_CipherUpdate(ctx, null, this.#length, aad, aad.length) !== 1) {
      throw opensslFailed(n, 'EVP_CipherUpdate(aad)');
    }
    this.#started = true;
  }

  update(input: Uint8Array, output: Uint8Array): void {
    const n = this.#binding.native;
    const ctx = this.#message();
    if (input.length !== output.length) throw new RangeError('output must be as long as input');
    if (input.length === 0) return;
    if (
      n.EVP_CipherUpdate(ctx, output, this.#length, input, input.length) !== 1 ||
      this.#length[0] !== input.length
    ) {
      throw opensslFailed(n, 'EVP_CipherUpdate');
    }
  }

  finishSeal(tag: Uint8Array): void {
    const n = this.#binding.native;
    const ctx = this.#message();
    if (this.#direction !== 'seal') throw new Error('not a sealing cipher');
    if (tag.length !== TAG_BYTES) throw new RangeError(`the tag must be ${TAG_BYTES} bytes`);
    this.#started = false;
    if (n.EVP_CipherFinal_ex(ctx, this.#scratch, this.#length) !== 1)
      throw opensslFailed(n, 'EVP_CipherFinal_ex');
    if (n.EVP_CIPHER_CTX_ctrl(ctx, CTRL_AEAD_GET_TAG, TAG_BYTES, tag) !== 1) {
      throw opensslFailed(n, 'EVP_CIPHER_CTX_ctrl(GET_TAG)');
    }
  }

  finishOpen(tag: Uint8Array): boolean {
    const n = this.#binding.native;
    const ctx = this.#message();
    if (this.#direction !== 'open') throw new Error('not an opening cipher');
    this.#started = false;
    if (tag.length !== TAG_BYTES) return false;
    // SET_TAG reads the tag from the pointer; the scratch copy keeps a view's memory out of it.
    this.#scratch.set(tag);
    if (n.EVP_CIPHER_CTX_ctrl(ctx, CTRL_AEAD_SET_TAG, TAG_BYTES, this.#scratch) !== 1) {
      throw opensslFailed(n, 'EVP_CIPHER_CTX_ctrl(SET_TAG)');
    }
    // 1: the tag verified; 0: it did not (EVP_DecryptFinal_ex(3)). A failure may leave reasons in
    // the thread's error queue, which Node's own crypto calls must not find.
    const verified = n.EVP_CipherFinal_ex(ctx, this.#scratch, this.#length) === 1;
    if (!verified) n.ERR_clear_error();
    return verified;
  }

  dispose(): void {
    if (this.#ctx === null) return;
    this.#binding.unfreed.unregister(this);
    this.#binding.native.EVP_CIPHER_CTX_free(this.#ctx);
    this.#ctx = null;
    this.#started = false;
  }

  #context(): unknown {
    if (this.#ctx === null) throw new Error('the frame cipher has been disposed');
    return this.#ctx;
  }

  #message(): unknown {
    const ctx = this.#context();
    if (!this.#started) throw new Error('no frame started');
    return ctx;
  }
}

interface Native {
  EVP_aes_256_gcm: () => unknown;
  EVP_CIPHER_CTX_new: () => unknown;
  EVP_CIPHER_CTX_free: (ctx: unknown) => void;
  EVP_CipherInit_ex: (
    ctx: unknown,
    cipher: unknown,
    engine: null,
    key: Uint8Array | null,
    iv: Uint8Array | null,
    enc: number,
  ) => number;
  EVP_CipherUpdate: (
    ctx: unknown,
    out: Uint8Array | null,
    outLength: Int32Array,
    input: Uint8Array,
    inputLength: number,
  ) => number;
  EVP_CipherFinal_ex: (ctx: unknown, out: Uint8Array, outLength: Int32Array) => number;
  EVP_CIPHER_CTX_ctrl: (ctx: unknown, type: number, arg: number, ptr: Uint8Array) => number;
  ERR_clear_error: () => void;
}

/**
 * OpenSSL 3 prototypes (include/openssl/evp.h, err.h). Buffers are passed as plain pointers:
 * koffi hands a TypedArray's own memory to the callee, so output lands in the caller's buffer.
 */
const PROTOTYPES: Record<keyof Native, string> = {
  EVP_aes_256_gcm: 'const void *EVP_aes_256_gcm()',
  EVP_CIPHER_CTX_new: 'void *EVP_CIPHER_CTX_new()',
  EVP_CIPHER_CTX_free: 'void EVP_CIPHER_CTX_free(void *ctx)',
  EVP_CipherInit_ex:
    'int EVP_CipherInit_ex(void *ctx, const void *cipher, void *engine, const void *key, const void *iv, int enc)',
  EVP_CipherUpdate: 'int EVP_CipherUpdate(void *ctx, void *out, void *outl, const void *in, int inl)',
  EVP_CipherFinal_ex: 'int EVP_CipherFinal_ex(void *ctx, void *out, void *outl)',
  EVP_CIPHER_CTX_ctrl: 'int EVP_CIPHER_CTX_ctrl(void *ctx, int type, int arg, void *ptr)',
  ERR_clear_error: 'void ERR_clear_error()',
};

function opensslFailed(native: Native, call: string): Error {
  native.ERR_clear_error();
  return new Error(`OpenSSL ${call} failed`);
}
