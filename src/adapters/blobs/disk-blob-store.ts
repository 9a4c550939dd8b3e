/**
 * Blobs as files under <root>/blobs/<id[0..2]>/<id[2..4]>/<id>. A writer fills <root>/tmp/<id>.tmp
 * and commits with the classic durable-rename sequence: fdatasync the file, rename it into place,
 * fsync the directory (and the parents of directories it had to create), so a committed blob
 * survives a crash and an uncommitted one is never visible (rename(2) is atomic within a file
 * system; see also the fsync(2) notes on directory entries).
 *
 * Blob ids are validated before any path is built, so nothing outside the store is reachable.
 */
import fs from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { StorageError } from '../../domain/storage/errors.ts';
import type { BlobFile, BlobStore, BlobWriter } from '../../domain/storage/ports.ts';
import { randomHexId } from '../../platform/ids.ts';
import { LIMITS } from '../../platform/limits.ts';

const BLOB_ID_PATTERN = /^[0-9a-f]{32}$/;
const FAN_OUT_PATTERN = /^[0-9a-f]{2}$/;
const DIRECTORY_MODE = 0o700;
const FILE_MODE = 0o600;
const TEMPORARY_SUFFIX = '.tmp';

export class DiskBlobStore implements BlobStore {
  readonly #blobsDirectory: string;
  readonly #temporaryDirectory: string;
  #layoutReady: Promise<void> | null = null;
  /**
   * Fan-out directories known to exist durably, keyed by path. At most 256 + 65,536 entries, so
   * the cache is bounded by the layout itself. Concurrent commits to a new directory share one
   * promise, so none returns before the directory's own entry is durable.
   */
  readonly #directories = new Map<string, Promise<void>>();

  constructor(options: { root: string }) {
    this.#blobsDirectory = join(options.root, 'blobs');
    this.#temporaryDirectory = join(options.root, 'tmp');
  }

  async cleanTemporary(): Promise<number> {
    await this.#ensureLayout();
    const names = await readdir(this.#temporaryDirectory);
    for (const name of names) {
      await rm(join(this.#temporaryDirectory, name), { recursive: true, force: true });
    }
    return names.length;
  }

  async createWriter(): Promise<BlobWriter> {
    await this.#ensureLayout();
    const blobId = randomHexId();
    const temporaryPath = join(this.#temporaryDirectory, blobId + TEMPORARY_SUFFIX);
    // 'wx' fails rather than sharing a file should two writers ever draw the same id.
    const handle = await open(temporaryPath, 'wx', FILE_MODE);
    return new DiskBlobWriter(blobId, handle, temporaryPath, () => this.#place(temporaryPath, blobId));
  }

  async openFile(blobId: string): Promise<BlobFile> {
    const path = this.#pathOf(blobId);
    const fd = await new Promise<number>((resolve, reject) =>
      fs.open(path, 'r', (error, opened) =>
        error === null ? resolve(opened) : reject(isMissing(error) ? missingBlob(blobId) : error),
      ),
    );
    return new DiskBlobFile(fd);
  }

  async sizeOf(blobId: string): Promise<number | null> {
    const path = this.#pathOf(blobId);
    try {
      return (await stat(path)).size;
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  async delete(blobId: string): Promise<void> {
    const path = this.#pathOf(blobId);
    try {
      await unlink(path);
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }

  async *list(): AsyncIterable<{ blobId: string; modifiedAtMs: number }> {
    for (const first of await namesIn(this.#blobsDirectory, FAN_OUT_PATTERN)) {
      const firstDirectory = join(this.#blobsDirectory, first);
      for (const second of await namesIn(firstDirectory, FAN_OUT_PATTERN)) {
        const secondDirectory = join(firstDirectory, second);
        for (const blobId of await namesIn(secondDirectory, BLOB_ID_PATTERN)) {
          if (blobId.slice(0, 2) !== first || blobId.slice(2, 4) !== second) continue;
          try {
            const info = await stat(join(secondDirectory, blobId));
            yield { blobId, modifiedAtMs: info.mtimeMs };
          } catch (error) {
            // Deleted while we walked: no longer a blob to report.
            if (!isMissing(error)) throw error;
          }
        }
      }
    }
  }

  #pathOf(blobId: string): string {
    if (typeof blobId !== 'string' || !BLOB_ID_PATTERN.test(blobId)) {
      throw new StorageError('InvalidArgument', 'invalid blob id');
    }
    return join(this.#blobsDirectory, blobId.slice(0, 2), blobId.slice(2, 4), blobId);
  }

  #ensureLayout(): Promise<void> {
    this.#layoutReady ??= (async () => {
      await createDirectoryDurably(this.#blobsDirectory);
      await createDirectoryDurably(this.#temporaryDirectory);
    })().catch((error: unknown) => {
      this.#layoutReady = null;
      throw error;
    });
    return this.#layoutReady;
  }

  /** Moves a synced temporary file to its final path and makes the new name durable. */
  async #place(temporaryPath: string, blobId: string): Promise<void> {
    const finalPath = this.#pathOf(blobId);
    const directory = dirname(finalPath);
    await this.#ensureDirectory(directory);
    try {
      await rename(temporaryPath, finalPath);
    } catch (error) {
      if (!isMissing(error)) throw error;
      // The directory vanished behind our cache (removed by hand); create it again once.
      this.#directories.delete(directory);
      await this.#ensureDirectory(directory);
      await rename(temporaryPath, finalPath);
    }
    await fsyncDirectory(directory);
  }

  #ensureDirectory(directory: string): Promise<void> {
    let ready = this.#directories.get(directory);
    if (ready === undefined) {
      ready = createDirectoryDurably(directory).catch((error: unknown) => {
        this.#directories.delete(directory);
        throw error;
      });
      this.#directories.set(directory, ready);
    }
    return ready;
  }
}

type WriterState = 'open' | 'committing' | 'committed' | 'failed' | 'aborted';

class DiskBlobWriter implements BlobWriter {
  readonly blobId: string;
  readonly #temporaryPath: string;
  readonly #place: () => Promise<void>;
  #handle: FileHandle | null;
  #state: WriterState = 'open';
  #position = 0;
  /** Small writes gathered here; large ones go straight to the file. */
  #batch: Buffer | null = null;
  #batchBytes = 0;
  /** Operations run one at a time in call order, even when a caller does not await. */
  #queue: Promise<unknown> = Promise.resolve();
  /** A background datasync started while writing (see LIMITS.blobEarlyFlushBytes). */
  #earlyFlush: Promise<void> | null = null;
  #earlyFlushError: Error | null = null;
  #flushedUpTo = 0;

  constructor(blobId: string, handle: FileHandle, temporaryPath: string, place: () => Promise<void>) {
    this.blobId = blobId;
    this.#handle = handle;
    this.#temporaryPath = temporaryPath;
    this.#place = place;
  }

  /** The chunk must stay unchanged until the returned promise settles. */
  write(chunk: Uint8Array): Promise<void> {
    return this.#enqueue(() => this.#append(chunk));
  }

  commit(): Promise<void> {
    return this.#enqueue(() => this.#commit());
  }

  abort(): Promise<void> {
    return this.#enqueue(() => this.#abort());
  }

  #enqueue(operation: () => Promise<void>): Promise<void> {
    const result = this.#queue.then(operation);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #append(chunk: Uint8Array): Promise<void> {
    const handle = this.#openHandle();
    try {
      const capacity = LIMITS.blobWriteBatchBytes;
      if (this.#batchBytes + chunk.length > capacity) await this.#flushBatch(handle);
      if (chunk.length >= capacity) {
        await this.#writeFully(handle, chunk);
      } else {
        this.#batch ??= Buffer.allocUnsafe(capacity);
        this.#batch.set(chunk, this.#batchBytes);
        this.#batchBytes += chunk.length;
      }
      this.#maybeFlushEarly(handle);
    } catch (error) {
      this.#state = 'failed';
      throw error;
    }
  }

  async #commit(): Promise<void> {
    const handle = this.#openHandle();
    this.#state = 'committing';
    try {
      await this.#flushBatch(handle);
      await this.#earlyFlush;
      if (this.#earlyFlushError !== null) throw this.#earlyFlushError;
      await handle.datasync();
      this.#handle = null;
      await handle.close();
      this.#batch = null;
      await this.#place();
      this.#state = 'committed';
    } catch (error) {
      this.#state = 'failed';
      throw error;
    }
  }

  /**
   * Starts a background datasync once enough new bytes were written, so that writing back dirty
   * pages overlaps with receiving and hashing the rest instead of all happening at commit.
   */
  #maybeFlushEarly(handle: FileHandle): void {
    if (this.#earlyFlush !== null || this.#position - this.#flushedUpTo < LIMITS.blobEarlyFlushBytes) return;
    this.#flushedUpTo = this.#position;
    this.#earlyFlush = handle.datasync().then(
      () => {
        this.#earlyFlush = null;
      },
      (error: unknown) => {
        this.#earlyFlushError = error instanceof Error ? error : new Error(String(error));
        this.#earlyFlush = null;
      },
    );
  }

  async #abort(): Promise<void> {
    await this.#earlyFlush;
    if (this.#state === 'committed' || this.#state === 'aborted') return;
    this.#state = 'aborted';
    this.#batch = null;
    const handle = this.#handle;
    this.#handle = null;
    // The data is being discarded, so a failing close changes nothing worth reporting.
    await handle?.close().catch(() => undefined);
    try {
      await unlink(this.#temporaryPath);
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }

  #openHandle(): FileHandle {
    if (this.#state !== 'open' || this.#handle === null) {
      throw new Error(`blob writer ${this.blobId} is ${this.#state}, not open`);
    }
    return this.#handle;
  }

  async #flushBatch(handle: FileHandle): Promise<void> {
    if (this.#batch === null || this.#batchBytes === 0) return;
    await this.#writeFully(handle, this.#batch.subarray(0, this.#batchBytes));
    this.#batchBytes = 0;
  }

  /** Positioned writes, looping because write(2) may write less than asked. */
  async #writeFully(handle: FileHandle, bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset, this.#position);
      offset += bytesWritten;
      this.#position += bytesWritten;
    }
  }
}

/** mkdir -p, then fsync the parent of every directory it created so the new entries are durable. */
async function createDirectoryDurably(directory: string): Promise<void> {
  const firstCreated = await mkdir(directory, { recursive: true, mode: DIRECTORY_MODE });
  if (firstCreated === undefined) return;
  const created = [firstCreated];
  for (const part of relative(firstCreated, directory)
    .split('/')
    .filter((name) => name !== '')) {
    created.push(join(created[created.length - 1] ?? firstCreated, part));
  }
  for (const path of created) await fsyncDirectory(dirname(path));
}

async function fsyncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function namesIn(directory: string, pattern: RegExp): Promise<string[]> {
  try {
    const names = await readdir(directory);
    return names.filter((name) => pattern.test(name)).sort();
  } catch (error) {
    if (isMissing(error)) return [];
    throw error;
  }
}

/**
 * Positioned reads with the callback API: a read costs one request on the libuv pool and no
 * promise machinery of a FileHandle. A short read before the end is read on from where it
 * stopped, so callers see fewer bytes only at the end of the file.
 */
class DiskBlobFile implements BlobFile {
  #fd: number | null;

  constructor(fd: number) {
    this.#fd = fd;
  }

  read(target: Buffer, position: number): Promise<number> {
    const fd = this.#fd;
    if (fd === null) return Promise.reject(new Error('the blob file is closed'));
    return new Promise((resolve, reject) => {
      let filled = 0;
      const next = () =>
        fs.read(fd, target, filled, target.length - filled, position + filled, (error, bytesRead) => {
          if (error !== null) return reject(error);
          filled += bytesRead;
          if (bytesRead === 0 || filled === target.length) return resolve(filled);
          next();
        });
      next();
    });
  }

  close(): Promise<void> {
    const fd = this.#fd;
    this.#fd = null;
    if (fd === null) return Promise.resolve();
    return new Promise((resolve, reject) => fs.close(fd, (error) => (error ? reject(error) : resolve())));
  }
}

function missingBlob(blobId: string): StorageError {
  return new StorageError('DataCorrupted', 'a blob recorded in metadata is missing', { blobId });
}

function isMissing(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === 'ENOENT';
}
