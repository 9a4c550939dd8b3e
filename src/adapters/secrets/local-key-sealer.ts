import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, readFileSync, statSync, writeSync, closeSync, fsyncSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { SecretSealer } from '../../domain/iam/credentials.ts';
import { openEnvelope, sealEnvelope } from '../../domain/kms/aes-gcm-envelope.ts';
import { SovraError } from '../../platform/errors.ts';

const SEALED_FORMAT = 1;
const KEY_BYTES = 32;

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
    return sealEnvelope(this.#key, SEALED_FORMAT, plaintext, Buffer.from(context, 'utf8'));
  }

  unseal(sealed: Uint8Array, context: string): Buffer {
    const opened = openEnvelope(this.#key, SEALED_FORMAT, sealed, Buffer.from(context, 'utf8'));
    if (opened === 'format')
      throw new SovraError('SealedValueCorrupted', 'sealed value is not in a known format');
    if (opened === 'authentication') {
      throw new SovraError('SealedValueCorrupted', 'sealed value failed authentication');
    }
    return opened;
  }
}
