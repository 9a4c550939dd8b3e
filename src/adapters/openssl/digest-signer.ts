import type { DigestSigner } from '../../domain/kms/ports.ts';
import { bindPrototypes, loadProcessSymbols } from '../native/process-symbols.ts';

/**
 * ECDSA over a caller's SHA-256 digest through the OpenSSL that Node itself runs on, reached with
 * koffi (the FFI the PKCS#11 root already uses). node:crypto offers only hash-then-sign, and AWS
 * KMS's `MessageType: DIGEST` signs the digest as it is
 * (https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html#KMS-Sign-request-MessageType).
 *
 * `EVP_PKEY_sign` with an EC key is exactly that: ECDSA over `tbs` taken as the digest, and with
 * the signature digest set to SHA-256 OpenSSL also refuses a `tbs` that is not 32 bytes long
 * (OpenSSL 3 EVP_PKEY_sign(3), EVP_PKEY_CTX_set_signature_md(3)). Keys are parsed from DER through
 * a memory BIO that reads the caller's buffer in place, so the private key is not copied by the
 * FFI; OpenSSL clears its own copy when the EVP_PKEY is freed. Calls are synchronous: an ECDSA
 * P-256 signature takes tens of microseconds, less than a hop to a worker thread.
 */
export async function openOpenSslDigestSigner(): Promise<DigestSigner> {
  const library = await loadProcessSymbols();
  const native = bindPrototypes<Native>(library, PROTOTYPES);
  // Resolves the symbols now, so a Node without them fails at start rather than at a request.
  if (native.EVP_sha256() === null) throw new Error('OpenSSL has no SHA-256 digest');
  return new OpenSslDigestSigner(native);
}

class OpenSslDigestSigner implements DigestSigner {
  readonly #native: Native;

  constructor(native: Native) {
    this.#native = native;
  }

  signSha256Digest(privateKeyPkcs8: Uint8Array, digest: Uint8Array): Buffer {
    const n = this.#native;
    try {
      return this.#withContext(privateKeyPkcs8, 'private', (ctx) => {
        if (n.EVP_PKEY_sign_init(ctx) !== 1 || n.EVP_PKEY_CTX_set_signature_md(ctx, n.EVP_sha256()) !== 1) {
          throw opensslFailed('EVP_PKEY_sign_init');
        }
        const length = [0];
        if (n.EVP_PKEY_sign(ctx, null, length, digest, digest.length) !== 1) {
          throw opensslFailed('EVP_PKEY_sign');
        }
        const signature = Buffer.alloc(length[0] ?? 0);
        if (n.EVP_PKEY_sign(ctx, signature, length, digest, digest.length) !== 1) {
          throw opensslFailed('EVP_PKEY_sign');
        }
        // The first call gives the largest DER size; the signature itself may be shorter.
        return signature.subarray(0, length[0]);
      });
    } finally {
      n.ERR_clear_error();
    }
  }

  verifySha256Digest(publicKeySpki: Uint8Array, digest: Uint8Array, signature: Uint8Array): boolean {
    const n = this.#native;
    try {
      return this.#withContext(publicKeySpki, 'public', (ctx) => {
        if (n.EVP_PKEY_verify_init(ctx) !== 1 || n.EVP_PKEY_CTX_set_signature_md(ctx, n.EVP_sha256()) !== 1) {
          throw opensslFailed('EVP_PKEY_verify_init');
        }
        // 1 is a valid signature; 0 an invalid one; below 0 a malformed one (EVP_PKEY_verify(3)).
        return n.EVP_PKEY_verify(ctx, signature, signature.length, digest, digest.length) === 1;
      });
    } finally {
      n.ERR_clear_error();
    }
  }

  /**
   * Runs `use` with an EVP_PKEY_CTX over the DER key, freeing everything after. Callers clear
   * the thread's OpenSSL error queue when done: a failure leaves reasons there, and Node's own
   * crypto calls on this thread must not find them.
   */
  #withContext<T>(der: Uint8Array, kind: 'private' | 'public', use: (ctx: unknown) => T): T {
    const n = this.#native;
    const bio = n.BIO_new_mem_buf(der, der.length);
    if (bio === null) throw opensslFailed('BIO_new_mem_buf');
    try {
      const pkey = kind === 'private' ? n.d2i_PrivateKey_bio(bio, null) : n.d2i_PUBKEY_bio(bio, null);
      if (pkey === null) throw opensslFailed(kind === 'private' ? 'd2i_PrivateKey_bio' : 'd2i_PUBKEY_bio');
      try {
        const ctx = n.EVP_PKEY_CTX_new(pkey, null);
        if (ctx === null) throw opensslFailed('EVP_PKEY_CTX_new');
        try {
          return use(ctx);
        } finally {
          n.EVP_PKEY_CTX_free(ctx);
        }
      } finally {
        n.EVP_PKEY_free(pkey);
      }
    } finally {
      n.BIO_free(bio);
    }
  }
}

interface Native {
  BIO_new_mem_buf: (buffer: Uint8Array, length: number) => unknown;
  BIO_free: (bio: unknown) => number;
  d2i_PrivateKey_bio: (bio: unknown, out: null) => unknown;
  d2i_PUBKEY_bio: (bio: unknown, out: null) => unknown;
  EVP_PKEY_free: (pkey: unknown) => void;
  EVP_PKEY_CTX_new: (pkey: unknown, engine: null) => unknown;
  EVP_PKEY_CTX_free: (ctx: unknown) => void;
  EVP_PKEY_CTX_set_signature_md: (ctx: unknown, md: unknown) => number;
  EVP_sha256: () => unknown;
  EVP_PKEY_sign_init: (ctx: unknown) => number;
  EVP_PKEY_sign: (
    ctx: unknown,
    signature: Uint8Array | null,
    length: number[],
    digest: Uint8Array,
    digestLength: number,
  ) => number;
  EVP_PKEY_verify_init: (ctx: unknown) => number;
  EVP_PKEY_verify: (
    ctx: unknown,
    signature: Uint8Array,
    signatureLength: number,
    digest: Uint8Array,
    digestLength: number,
  ) => number;
  ERR_clear_error: () => void;
}

/** OpenSSL 3 prototypes (include/openssl/bio.h, evp.h, x509.h, err.h). */
const PROTOTYPES: Record<keyof Native, string> = {
  BIO_new_mem_buf: 'void *BIO_new_mem_buf(const uint8_t *buf, int len)',
  BIO_free: 'int BIO_free(void *bio)',
  d2i_PrivateKey_bio: 'void *d2i_PrivateKey_bio(void *bio, void **out)',
  d2i_PUBKEY_bio: 'void *d2i_PUBKEY_bio(void *bio, void **out)',
  EVP_PKEY_free: 'void EVP_PKEY_free(void *pkey)',
  EVP_PKEY_CTX_new: 'void *EVP_PKEY_CTX_new(void *pkey, void *engine)',
  EVP_PKEY_CTX_free: 'void EVP_PKEY_CTX_free(void *ctx)',
  EVP_PKEY_CTX_set_signature_md: 'int EVP_PKEY_CTX_set_signature_md(void *ctx, const void *md)',
  EVP_sha256: 'const void *EVP_sha256()',
  EVP_PKEY_sign_init: 'int EVP_PKEY_sign_init(void *ctx)',
  EVP_PKEY_sign:
    'int EVP_PKEY_sign(void *ctx, _Out_ uint8_t *sig, _Inout_ size_t *siglen, const uint8_t *tbs, size_t tbslen)',
  EVP_PKEY_verify_init: 'int EVP_PKEY_verify_init(void *ctx)',
  EVP_PKEY_verify:
    'int EVP_PKEY_verify(void *ctx, const uint8_t *sig, size_t siglen, const uint8_t *tbs, size_t tbslen)',
  ERR_clear_error: 'void ERR_clear_error()',
};

function opensslFailed(call: string): Error {
  return new Error(`OpenSSL ${call} failed`);
}
