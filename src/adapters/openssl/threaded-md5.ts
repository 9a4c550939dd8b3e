import type { IncrementalDigest, UploadDigests } from '../../domain/storage/ports.ts';
import { bindPrototypes, loadProcessSymbols } from '../native/process-symbols.ts';

/** Bytes gathered before one hashing call leaves the event loop's thread. */
const BATCH_BYTES = 256 * 1024;
/** Batch buffers kept for later uploads (two per upload in flight). */
const SPARE_BATCHES = 16;
const MD5_BYTES = 16;

/**
 * MD5 through the OpenSSL inside Node (EVP_DigestUpdate), run on libuv's thread pool with
 * koffi's asynchronous calls, so a large upload's hashing overlaps with the event loop's work
 * instead of adding to it (docs/performance.md). An upload's bytes are copied into one of two
 * 256 KiB batch buffers; a full batch is hashed off the loop while the other fills, and an
 * update waits only when both are full. Batches, not chunks, cross threads: a call per 64 KiB
 * chunk would wait for an event-loop turn each and fall behind a busy loop. An object smaller
 * than a batch never leaves the thread (hashed at `digest`). Calls on one context never overlap.
 */
export async function openThreadedMd5(): Promise<UploadDigests> {
  const library = await loadProcessSymbols();
  const native = bindPrototypes<Native>(library, PROTOTYPES);
  const md5 = native.EVP_md5();
  if (md5 === null) throw new Error('OpenSSL has no MD5');
  const binding: Binding = { native, md5, spare: [] };
  return { createMd5: () => new ThreadedMd5(binding) };
}

interface Binding {
  native: Native;
  md5: unknown;
  spare: Buffer[];
}

class ThreadedMd5 implements IncrementalDigest {
  readonly #binding: Binding;
  #ctx: unknown;
  /** The batch being filled, and the other one (free, or being hashed). */
  #filling: Buffer;
  #other: Buffer;
  #filled = 0;
  /** The batch being hashed off the loop, if any. */
  #hashing: Promise<void> | null = null;
  #failure: Error | null = null;
  /** Set by discard: nothing is hashed any more, and the context is freed once idle. */
  #discarded = false;

  constructor(binding: Binding) {
    const n = binding.native;
    const ctx = n.EVP_MD_CTX_new();
    if (ctx === null || n.EVP_DigestInit_ex(ctx, binding.md5, null) !== 1) {
      if (ctx !== null) n.EVP_MD_CTX_free(ctx);
      throw new Error('OpenSSL EVP_DigestInit_ex(MD5) failed');
    }
    this.#binding = binding;
    this.#ctx = ctx;
    this.#filling = this.#batchBuffer();
    this.#other = this.#batchBuffer();
  }

  update(chunk: Uint8Array): Promise<void> | undefined {
    if (this.#discarded) return undefined;
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#filled === BATCH_BYTES) {
        // Both batches are full: wait for the one being hashed, then go on with the rest.
        const hashing = this.#hashing;
        if (hashing !== null) return hashing.then(() => this.update(chunk.subarray(offset)));
        this.#submit();
      }
      const taken = Math.min(BATCH_BYTES - this.#filled, chunk.length - offset);
      this.#filling.set(chunk.subarray(offset, offset + taken), this.#filled);
      this.#filled += taken;
      offset += taken;
    }
    if (this.#filled === BATCH_BYTES && this.#hashing === null) this.#submit();
    return undefined;
  }

  async digest(): Promise<Buffer> {
    if (this.#discarded) throw new Error('the digest was discarded');
    while (this.#hashing !== null) await this.#hashing;
    const n = this.#binding.native;
    const ctx = this.#context();
    try {
      if (this.#failure !== null) throw this.#failure;
      if (this.#filled > 0 && n.EVP_DigestUpdate(ctx, this.#filling, this.#filled) !== 1) {
        throw new Error('OpenSSL EVP_DigestUpdate failed');
      }
      const out = Buffer.alloc(MD5_BYTES);
      if (n.EVP_DigestFinal_ex(ctx, out, null) !== 1) throw new Error('OpenSSL EVP_DigestFinal_ex failed');
      return out;
    } finally {
      this.#release();
    }
  }

  discard(): void {
    this.#discarded = true;
    const hashing = this.#hashing;
    // The batch being hashed is still read by the thread pool: release once it is done.
    if (hashing === null) this.#release();
    else void hashing.then(() => this.#release());
  }

  #submit(): void {
    const batch = this.#filling;
    const length = this.#filled;
    this.#filling = this.#other;
    this.#other = batch;
    this.#filled = 0;
    const ctx = this.#context();
    const update = this.#binding.native.EVP_DigestUpdate;
    let settle: () => void = () => {};
    this.#hashing = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const done = (error: unknown, ok: number) => {
      if (error !== null && error !== undefined) this.#failure = error as Error;
      else if (ok !== 1) this.#failure = new Error('OpenSSL EVP_DigestUpdate failed');
      this.#hashing = null;
      // The other batch filled up meanwhile: it goes next.
      if (this.#filled === BATCH_BYTES && !this.#discarded) this.#submit();
      settle();
    };
    try {
      update.async(ctx, batch, length, done);
    } catch {
      // koffi's queue of asynchronous calls is full (max_async_calls): hash this batch here.
      done(null, update(ctx, batch, length));
    }
  }

  #context(): unknown {
    if (this.#ctx === null) throw new Error('the digest is finished');
    return this.#ctx;
  }

  #batchBuffer(): Buffer {
    return this.#binding.spare.pop() ?? Buffer.allocUnsafe(BATCH_BYTES);
  }

  #release(): void {
    if (this.#ctx === null) return;
    this.#binding.native.EVP_MD_CTX_free(this.#ctx);
    this.#ctx = null;
    for (const batch of [this.#filling, this.#other]) {
      if (this.#binding.spare.length < SPARE_BATCHES) this.#binding.spare.push(batch);
    }
  }
}

interface AsyncCall<Args extends unknown[], Result> {
  (...args: Args): Result;
  async: (...args: [...Args, (error: unknown, result: Result) => void]) => void;
}

interface Native {
  EVP_md5: () => unknown;
  EVP_MD_CTX_new: () => unknown;
  EVP_MD_CTX_free: (ctx: unknown) => void;
  EVP_DigestInit_ex: (ctx: unknown, type: unknown, engine: null) => number;
  EVP_DigestUpdate: AsyncCall<[ctx: unknown, data: Uint8Array, length: number], number>;
  EVP_DigestFinal_ex: (ctx: unknown, out: Uint8Array, length: null) => number;
}

/** OpenSSL 3 prototypes (include/openssl/evp.h). */
const PROTOTYPES: Record<keyof Native, string> = {
  EVP_md5: 'const void *EVP_md5()',
  EVP_MD_CTX_new: 'void *EVP_MD_CTX_new()',
  EVP_MD_CTX_free: 'void EVP_MD_CTX_free(void *ctx)',
  EVP_DigestInit_ex: 'int EVP_DigestInit_ex(void *ctx, const void *type, void *engine)',
  EVP_DigestUpdate: 'int EVP_DigestUpdate(void *ctx, const void *d, size_t cnt)',
  EVP_DigestFinal_ex: 'int EVP_DigestFinal_ex(void *ctx, void *md, void *s)',
};
