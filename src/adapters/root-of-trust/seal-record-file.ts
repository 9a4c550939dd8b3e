import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { kmsError, type KmsError } from '../../domain/kms/errors.ts';
import {
  alreadyInitialized,
  decodeSealRecord,
  encodeSealRecord,
  type SealRecord,
  type SealRecordStore,
} from '../../domain/kms/seal.ts';
import { isSovraError } from '../../platform/errors.ts';
import { LIMITS } from '../../platform/limits.ts';

/** `<data-dir>/keys/seal.json`, next to the local sealer's key file. */
export function sealRecordPath(dataDir: string): string {
  return join(dataDir, 'keys', 'seal.json');
}

/**
 * The seal record as a 0600 JSON file. It is published with link(2) from a fully written and
 * fsynced temporary file: the link fails if the record exists (so two `init`s cannot both win),
 * and a crash leaves either no record or a complete one, never a half-written file.
 */
export class SealRecordFile implements SealRecordStore {
  readonly location: string;

  constructor(path: string) {
    this.location = path;
  }

  async read(): Promise<SealRecord | null> {
    let handle;
    try {
      handle = await open(this.location, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw unreadable(this.location, (error as Error).message);
    }
    try {
      const { size } = await handle.stat();
      if (size > LIMITS.sealRecordMaxBytes) {
        throw kmsError(
          'RootUnavailable',
          `the seal record is larger than ${LIMITS.sealRecordMaxBytes} bytes`,
        );
      }
      const text = await handle.readFile('utf8');
      return decodeSealRecord(text);
    } catch (error) {
      if (isSovraError(error)) {
        throw kmsError('RootUnavailable', `${this.location}: ${error.message}`, { ...error.details });
      }
      throw unreadable(this.location, (error as Error).message);
    } finally {
      await handle.close();
    }
  }

  async create(record: SealRecord): Promise<void> {
    const dir = dirname(this.location);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const temporary = `${this.location}.${randomBytes(8).toString('hex')}.tmp`;
    const fd = openSync(temporary, 'wx', 0o600);
    try {
      writeSync(fd, encodeSealRecord(record));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(temporary, this.location);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw alreadyInitialized(this.location);
      throw error;
    } finally {
      await unlink(temporary);
    }
    const dirFd = openSync(dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }
}

function unreadable(location: string, reason: string): KmsError {
  return kmsError('RootUnavailable', `cannot read the seal record ${location}: ${reason}`);
}
