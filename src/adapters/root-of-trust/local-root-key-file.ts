import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SovraError } from '../../platform/errors.ts';

const ROOT_KEY_BYTES = 32;

/** Where the local-key root of trust keeps its key: `<data-dir>/keys/root.key`. */
export function localRootKeyPath(dataDir: string): string {
  return join(dataDir, 'keys', 'root.key');
}

/**
 * The 256-bit root key of the `local-key` root of trust: read from its 0600 file, or created
 * (with 0700 parents) on first start. A file that group or others may read is refused, as every
 * secret file is (docs/architecture.md, config rules). The key sits on the same disk as the data
 * it protects, so this root protects against a lost or leaked copy of the data or metadata
 * without the keys directory — not against an attacker holding the whole data directory.
 */
export function openOrCreateLocalRootKey(path: string): { key: Buffer; created: boolean } {
  try {
    const mode = statSync(path).mode;
    if ((mode & 0o077) !== 0) {
      throw new SovraError('InvalidRootKeyFile', `${path} is readable by group or others; chmod 600 it`);
    }
    const key = readFileSync(path);
    if (key.length !== ROOT_KEY_BYTES) {
      throw new SovraError('InvalidRootKeyFile', `${path} does not hold a ${ROOT_KEY_BYTES}-byte key`);
    }
    return { key, created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const key = randomBytes(ROOT_KEY_BYTES);
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, key);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return { key, created: true };
}
