import { closeSync, fsyncSync, openSync, unlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { kmsError } from '../../domain/kms/errors.ts';
import { LIMITS } from '../../platform/limits.ts';

/** Format byte of the file: u8 format (1) ‖ the root of trust's wrapping of K (credential-key.ts). */
const FILE_FORMAT = 1;

/**
 * `<data-dir>/keys/credential-key.wrapped`: where gateways before migration 16 kept the wrapped
 * credential-sealing key, one file per data directory. It is read only to import its key into the
 * metadata database (server/credential-sealing.ts), then deleted.
 */
export function credentialKeyPath(dataDir: string): string {
  return join(dataDir, 'keys', 'credential-key.wrapped');
}

/** The root of trust's wrapping of K held by the file (format byte removed); null without the file. */
export async function readCredentialKeyFile(path: string): Promise<Buffer | null> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw kmsError('RootUnavailable', `cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    const { size } = await handle.stat();
    if (size > LIMITS.credentialKeyFileMaxBytes) {
      throw kmsError('RootUnavailable', `${path} is larger than ${LIMITS.credentialKeyFileMaxBytes} bytes`);
    }
    const bytes = await handle.readFile();
    if (bytes.length < 2 || bytes[0] !== FILE_FORMAT) {
      throw kmsError('RootUnavailable', `${path} is not in a format this version reads (${FILE_FORMAT})`);
    }
    return bytes.subarray(1);
  } finally {
    await handle.close();
  }
}

/** Deletes the file and makes its removal durable: its key is in the metadata database now. */
export function removeCredentialKeyFile(path: string): void {
  unlinkSync(path);
  syncDirectory(dirname(path));
}

/** Makes a created, linked or removed name in `dir` durable (fsync(2) of the directory). */
export function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
