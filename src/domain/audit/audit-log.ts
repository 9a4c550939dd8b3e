import type { Clock } from '../../platform/clock.ts';
import { auditError } from './errors.ts';
import type { AuditLogStore, TreeHead } from './ports.ts';
import { sealRecord, type AuditRecord, type SealedAuditRecord } from './records.ts';
import { retainUntilMs, type RetentionDays } from './retention.ts';

/** Records per append transaction: bounds the transaction and the tiles rewritten at once. */
export const AUDIT_BATCH_MAX_RECORDS = 2_000;
/** Records waiting for the log beyond which new ones are refused (the store is down or far behind). */
export const AUDIT_QUEUE_MAX_RECORDS = 100_000;

interface Pending {
  sealed: SealedAuditRecord;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface AuditLogOptions {
  store: AuditLogStore;
  clock: Clock;
  retention: RetentionDays;
  onError: (error: unknown) => void;
}

/**
 * The append side of the audit log, with group commit: `record` queues a record and resolves once
 * the transaction holding it has committed (durable: an acknowledged request's record survives
 * kill -9). While one batch is being written, every record that arrives waits for the next, so
 * under load one commit serves many requests and the log does not throttle the data path.
 */
export class AuditLog {
  readonly #o: AuditLogOptions;
  #queue: Pending[] = [];
  #writing: Promise<void> | null = null;
  #scheduled = false;
  #closed = false;
  #head: TreeHead | null = null;

  constructor(options: AuditLogOptions) {
    this.#o = options;
  }

  /** The last tree head this process appended (null before its first append). */
  get lastHead(): TreeHead | null {
    return this.#head;
  }

  /** Appends a record; resolves when it is durable, rejects with LogUnavailable if it cannot be. */
  record(record: AuditRecord): Promise<void> {
    if (this.#closed) return Promise.reject(auditError('LogUnavailable', 'the audit log is closed'));
    if (this.#queue.length >= AUDIT_QUEUE_MAX_RECORDS) {
      return Promise.reject(auditError('LogUnavailable', 'the audit log is not keeping up; refusing'));
    }
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ sealed: sealRecord(record), resolve, reject });
      this.#schedule();
    });
  }

  /** Writes what is queued and refuses new records. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#writing !== null || this.#queue.length > 0) {
      if (this.#writing === null) this.#startWrite();
      await this.#writing;
    }
  }

  #schedule(): void {
    if (this.#writing !== null || this.#scheduled) return;
    this.#scheduled = true;
    // One turn of the event loop gathers a burst of records into the first batch.
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#writing === null) this.#startWrite();
    });
  }

  #startWrite(): void {
    const batch = this.#queue.splice(0, AUDIT_BATCH_MAX_RECORDS);
    if (batch.length === 0) return;
    this.#writing = this.#write(batch).finally(() => {
      this.#writing = null;
      if (this.#queue.length > 0) this.#startWrite();
    });
  }

  async #write(batch: Pending[]): Promise<void> {
    const retention = batch.map((p) =>
      retainUntilMs(p.sealed.record.kind, p.sealed.record.timeMs, this.#o.retention),
    );
    try {
      this.#head = await this.#o.store.append(
        batch.map((p) => p.sealed),
        retention,
      );
    } catch (error) {
      this.#o.onError(error);
      const refusal = auditError('LogUnavailable', 'the audit record could not be written');
      for (const pending of batch) pending.reject(refusal);
      return;
    }
    for (const pending of batch) pending.resolve();
  }
}
