import { createHash, type Hash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import { Crc64Nvme } from '@aws-sdk/crc64-nvme';
import type { ChecksumAlgorithm } from './types.ts';

/**
 * Incremental digest of one S3 checksum algorithm. Values are the big-endian digest bytes, which
 * S3 transmits in base64 (https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html).
 */
export interface ChecksumDigest {
  update(chunk: Uint8Array): void;
  digest(): Promise<Buffer>;
}

class Crc32Digest implements ChecksumDigest {
  #state = 0;
  readonly #fn: (data: Uint8Array, initial: number) => number;
  constructor(fn: (data: Uint8Array, initial: number) => number) {
    this.#fn = fn;
  }
  update(chunk: Uint8Array): void {
    this.#state = this.#fn(chunk, this.#state);
  }
  digest(): Promise<Buffer> {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(this.#state >>> 0);
    return Promise.resolve(out);
  }
}

class HashDigest implements ChecksumDigest {
  readonly #hash: Hash;
  constructor(algorithm: string) {
    this.#hash = createHash(algorithm);
  }
  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
  }
  digest(): Promise<Buffer> {
    return Promise.resolve(this.#hash.digest());
  }
}

class Crc64Digest implements ChecksumDigest {
  readonly #crc = new Crc64Nvme();
  update(chunk: Uint8Array): void {
    this.#crc.update(chunk);
  }
  async digest(): Promise<Buffer> {
    return Buffer.from(await this.#crc.digest());
  }
}

export function createChecksumDigest(algorithm: ChecksumAlgorithm): ChecksumDigest {
  switch (algorithm) {
    case 'CRC32':
      return new Crc32Digest((data, initial) => crc32(data, initial));
    case 'CRC32C':
      return new Crc32Digest((data, initial) =>
        crc32c(Buffer.from(data.buffer, data.byteOffset, data.byteLength), initial),
      );
    case 'CRC64NVME':
      return new Crc64Digest();
    case 'SHA1':
      return new HashDigest('sha1');
    case 'SHA256':
      return new HashDigest('sha256');
  }
}

/** Byte length of each algorithm's digest; a base64 value of another length is malformed. */
export const CHECKSUM_DIGEST_BYTES: Record<ChecksumAlgorithm, number> = {
  CRC32: 4,
  CRC32C: 4,
  CRC64NVME: 8,
  SHA1: 20,
  SHA256: 32,
};

/** Digest of a whole buffer (composite checksums hash the concatenated part digests). */
export async function checksumOf(algorithm: ChecksumAlgorithm, data: Uint8Array): Promise<Buffer> {
  const digest = createChecksumDigest(algorithm);
  digest.update(data);
  return digest.digest();
}
