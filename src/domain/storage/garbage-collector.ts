import type { Clock } from '../../platform/clock.ts';
import { LIMITS } from '../../platform/limits.ts';
import type { BlobStore, MetadataStore } from './ports.ts';

export interface GarbageLog {
  warn(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
}

/**
 * Deletes blobs after the metadata that referenced them is gone. Metadata commits first and
 * queues the blob ids in the same transaction, so a crash never leaves a row pointing at a deleted
 * file; the worst case is a file deleted late. The orphan sweep removes blobs committed to disk
 * whose metadata commit never happened (a crash between the two), after a grace period so that
 * in-flight writes are never touched.
 */
export class GarbageCollector {
  readonly #metadata: MetadataStore;
  readonly #blobs: BlobStore;
  readonly #clock: Clock;
  readonly #log: GarbageLog;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;

  constructor(options: { metadata: MetadataStore; blobs: BlobStore; clock: Clock; log: GarbageLog }) {
    this.#metadata = options.metadata;
    this.#blobs = options.blobs;
    this.#clock = options.clock;
    this.#log = options.log;
  }

  start(intervalMs: number): void {
    this.#timer = setInterval(() => {
      if (this.#running !== null) return;
      this.#running = this.collect()
        .then(() => undefined)
        .catch((error: unknown) => this.#log.warn({ err: error }, 'garbage collection failed'))
        .finally(() => {
          this.#running = null;
        });
    }, intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  /** Deletes queued blobs until the queue is empty; returns how many were deleted. */
  async collect(): Promise<number> {
    let deleted = 0;
    for (;;) {
      const batch = await this.#metadata.peekGarbage(LIMITS.blobGcBatch);
      if (batch.length === 0) return deleted;
      for (const blobId of batch) await this.#blobs.delete(blobId);
      await this.#metadata.forgetGarbage(batch);
      deleted += batch.length;
    }
  }

  /** Removes committed blobs that no metadata references and that are older than the grace period. */
  async sweepOrphans(graceMs: number = LIMITS.orphanBlobGraceMs): Promise<number> {
    const cutoff = this.#clock.nowMs() - graceMs;
    let removed = 0;
    for await (const { blobId, modifiedAtMs } of this.#blobs.list()) {
      if (modifiedAtMs > cutoff) continue;
      if (await this.#metadata.isBlobReferenced(blobId)) continue;
      await this.#blobs.delete(blobId);
      removed += 1;
    }
    if (removed > 0) this.#log.info({ removed }, 'removed orphaned blobs');
    return removed;
  }
}
