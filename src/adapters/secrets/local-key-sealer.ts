import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdirSync, openSync, readFileSync, statSync, writeSync, closeSync, fsyncSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { SecretSealer } from '../../domain/iam/credentials.ts';
import { SovraError } from '../../platform/errors.ts';

const SEALED_FORMAT = 1;
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Where the local sealer keeps its key: `<data-dir>/keys/local-seal.key`. */
export function localSealKeyPath(dataDir: string): string {
  return join(dataDir, 'keys', 'local-seal.key');
}

/**
 * Seals secrets with AES-256-GCM under a 256-bit key kept in a 0600 file in the data directory.
 * Only without a KMS root of trust (`--root-of-trust none`, tests and benchmarks); with one,
 * RootWrappedSealer seals and re-seals these values (format byte 1) under its own key, then the
 * file is deleted (docs/decisions/0005). The context (e.g. the access key id) is authenticated,
 * so a sealed secret cannot be moved to another record.
 * Layout: u8 format (1) ‖ 12-byte IV ‖ ciphertext ‖ 16-byte tag.
 */
export class LocalKeySealer implements SecretSealer {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) throw new SovraError('InvalidSealKey', 'seal key must be 32 bytes');
    this.#key = key;
  }

  static openOrCreate(path: string): LocalKeySealer {
    const existing = LocalKeySealer.openExisting(path);
    if (existing !== null) return existing;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const key = randomBytes(KEY_BYTES);
    const fd = openSync(path, 'wx', 0o600);
    try {
      writeSync(fd, key);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return new LocalKeySealer(key);
  }

  /** The sealer of an existing key file; null when there is none. */
  static openExisting(path: string): LocalKeySealer | null {
    try {
      const mode = statSync(path).mode;
      if ((mode & 0o077) !== 0) {
        throw new SovraError('InvalidSealKey', `${path} is readable by group or others; chmod 600 it`);
      }
      return new LocalKeySealer(readFileSync(path));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      return null;
    }
  }

  /** The key file is read at start: always available. */
  requireAvailable(): void {}

  seal(plaintext: Buffer, context: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.from([SEALED_FORMAT]), iv, body, cipher.getAuthTag()]);
  }

  unseal(sealed: Uint8Array, context: string): Buffer {
    const bytes = Buffer.from(sealed);
    if (bytes.length < 1 + IV_BYTES + TAG_BYTES || bytes[0] !== SEALED_FORMAT) {
      throw new SovraError('SealedValueCorrupted', 'sealed value is not in a known format');
    }
    const iv = bytes.subarray(1, 1 + IV_BYTES);
    const tag = bytes.subarray(bytes.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.#key, iv);
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([
        decipher.update(bytes.subarray(1 + IV_BYTES, bytes.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new SovraError('SealedValueCorrupted', 'sealed value failed authentication');
    }
  }
}
