import type { Clock } from '../../platform/clock.ts';
import { auditError } from './errors.ts';
import type { AuditJournal, AuditLogStore, TreeHead } from './ports.ts';
import { sealRecord, type AuditRecord, type SealedAuditRecord } from './records.ts';
import { retainUntilMs, type RetentionDays } from './retention.ts';

/** Records per append transaction: bounds the transaction and the tiles rewritten at once. */
export const AUDIT_BATCH_MAX_RECORDS = 2_000;
/** Records waiting for the log beyond which new ones are refused (the store is down or far behind). */
export const AUDIT_QUEUE_MAX_RECORDS = 100_000;
/** Wait before appending journaled records again after the store refused them. */
export const AUDIT_RETRY_DELAY_MS = 1_000;
/**
 * With a journal, how long records gather before their transaction: the request does not wait
 * for it, and at low concurrency one transaction then serves many records instead of one each
 * (an SQLite append costs about as much for 1 record as for 50; docs/performance.md).
 */
export const AUDIT_GATHER_MS = 25;
/** Longest a reader waits for this gateway's journaled records to reach the log (`flush`). */
export const AUDIT_FLUSH_WAIT_MAX_MS = 2_000;

interface Pending {
  sealed: SealedAuditRecord;
  retainUntilMs: number;
  /** The journal segment holding the record; null without a journal. */
  segment: number | null;
  /** Position in this process's queue order, for `flush`. */
  sequence: number;
  /** Without a journal the caller waits for the transaction. */
  resolve: (() => void) | null;
  reject: ((error: unknown) => void) | null;
}

export interface AuditLogOptions {
  store: AuditLogStore;
  clock: Clock;
  retention: RetentionDays;
  onError: (error: unknown) => void;
  /**
   * The gateway's intake journal. With one, a record is acknowledged once journaled (durable
   * against a crash of the process) and reaches the store in the background; `open` must run
   * first and appends what an earlier process left. Without one, `record` waits for the store.
   */
  journal?: AuditJournal;
}

/**
 * The append side of the audit log, with group commit. Records are sealed and queued; while one
 * batch is being written every record that arrives waits for the next, so under load one
 * transaction serves many requests and the log does not throttle the data path.
 *
 * With an intake journal (the server's configuration) `record` resolves as soon as the record is
 * in the journal, which survives kill -9; each journal segment is then appended in one
 * transaction that also marks it applied, so a restart appends exactly what is missing. Without
 * one, `record` resolves when the transaction holding the record has committed.
 */
export class AuditLog {
  readonly #o: AuditLogOptions;
  #queue: Pending[] = [];
  #writing: Promise<void> | null = null;
  #scheduled: NodeJS.Immediate | NodeJS.Timeout | null = null;
  #closed = false;
  #opened: boolean;
  #head: TreeHead | null = null;
  #enqueued = 0;
  #appended = 0;
  #waiters: { sequence: number; resolve: () => void }[] = [];
  #lastWriteFailed = false;

  constructor(options: AuditLogOptions) {
    this.#o = options;
    this.#opened = options.journal === undefined;
  }

  /** The last tree head this process appended (null before its first append). */
  get lastHead(): TreeHead | null {
    return this.#head;
  }

  /**
   * Appends what the journal of an earlier process left (segments not marked applied), in
   * order, then accepts records. Returns how many records it appended.
   */
  async open(): Promise<number> {
    const journal = this.#o.journal;
    if (journal === undefined || this.#opened) return 0;
    const applied = await this.#o.store.appliedJournalSegment(journal.id);
    let recovered = 0;
    for (const { segment, records } of journal.resume(applied)) {
      if (segment > applied && records.length > 0) {
        this.#head = await this.#o.store.append(
          records.map((r) => r.sealed),
          records.map((r) => r.retainUntilMs),
          { journalId: journal.id, segment },
        );
        recovered += records.length;
      }
      journal.discard(segment);
    }
    this.#opened = true;
    return recovered;
  }

  /** Appends a record; resolves when it is durable, rejects with LogUnavailable if it cannot be. */
  record(record: AuditRecord): Promise<void> {
    if (this.#closed) return Promise.reject(auditError('LogUnavailable', 'the audit log is closed'));
    if (!this.#opened) return Promise.reject(auditError('LogUnavailable', 'the audit log is not open'));
    if (this.#queue.length >= AUDIT_QUEUE_MAX_RECORDS) {
      return Promise.reject(auditError('LogUnavailable', 'the audit log is not keeping up; refusing'));
    }
    const sealed = sealRecord(record);
    const retainUntil = retainUntilMs(record.kind, record.timeMs, this.#o.retention);
    const journal = this.#o.journal;
    if (journal !== undefined) {
      let segment: number;
      try {
        segment = journal.write({ sealed, retainUntilMs: retainUntil });
      } catch (error) {
        this.#o.onError(error);
        return Promise.reject(auditError('LogUnavailable', 'the audit record could not be journaled'));
      }
      this.#enqueue({ sealed, retainUntilMs: retainUntil, segment, resolve: null, reject: null });
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.#enqueue({ sealed, retainUntilMs: retainUntil, segment: null, resolve, reject });
    });
  }

  /**
   * Resolves once every record this process queued before the call is in the store (or after
   * AUDIT_FLUSH_WAIT_MAX_MS), so a reader on this gateway sees its own requests' records.
   */
  flush(): Promise<void> {
    const sequence = this.#enqueued;
    if (this.#appended >= sequence) return Promise.resolve();
    this.#writeNow();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, AUDIT_FLUSH_WAIT_MAX_MS);
      timer.unref();
      this.#waiters.push({
        sequence,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /**
   * Writes what is queued and refuses new records. With a journal, records the store refuses
   * now stay journaled for the next start.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#writeNow();
    while (this.#writing !== null || this.#queue.length > 0) {
      if (this.#writing === null) this.#startWrite();
      await this.#writing;
      if (this.#o.journal !== undefined && this.#lastWriteFailed) break;
    }
    this.#o.journal?.close();
    for (const waiter of this.#waiters.splice(0)) waiter.resolve();
  }

  #enqueue(pending: Omit<Pending, 'sequence'>): void {
    this.#enqueued += 1;
    this.#queue.push({ ...pending, sequence: this.#enqueued });
    this.#schedule();
  }

  #schedule(): void {
    if (this.#writing !== null || this.#scheduled !== null) return;
    const run = () => {
      this.#scheduled = null;
      if (this.#writing === null) this.#startWrite();
    };
    // Without a journal the caller is waiting: one turn of the event loop gathers a burst of
    // records into the first batch. With one, nobody waits, so records gather a little longer.
    if (this.#o.journal === undefined) {
      this.#scheduled = setImmediate(run);
    } else {
      this.#scheduled = setTimeout(run, AUDIT_GATHER_MS);
      this.#scheduled.unref();
    }
  }

  /** Starts the gathered batch now (a reader or shutdown is waiting for it). */
  #writeNow(): void {
    if (this.#scheduled === null) return;
    if (this.#o.journal === undefined) clearImmediate(this.#scheduled as NodeJS.Immediate);
    else clearTimeout(this.#scheduled as NodeJS.Timeout);
    this.#scheduled = null;
    if (this.#writing === null) this.#startWrite();
  }

  #startWrite(): void {
    const batch = this.#takeBatch();
    if (batch.length === 0) return;
    this.#writing = this.#write(batch).finally(() => {
      this.#writing = null;
      if (this.#queue.length > 0 && !this.#closed) this.#startWrite();
    });
  }

  /** Without a journal, up to AUDIT_BATCH_MAX_RECORDS; with one, the oldest segment, closed first if open. */
  #takeBatch(): Pending[] {
    const journal = this.#o.journal;
    if (journal === undefined) return this.#queue.splice(0, AUDIT_BATCH_MAX_RECORDS);
    const segment = this.#queue[0]?.segment;
    if (segment === undefined) return [];
    if (segment === journal.openSegment) journal.rotate();
    let count = 0;
    while (count < this.#queue.length && this.#queue[count]!.segment === segment) count += 1;
    return this.#queue.splice(0, count);
  }

  async #write(batch: Pending[]): Promise<void> {
    const journal = this.#o.journal;
    const segment = batch[0]!.segment;
    try {
      this.#head = await this.#o.store.append(
        batch.map((p) => p.sealed),
        batch.map((p) => p.retainUntilMs),
        journal === undefined || segment === null ? undefined : { journalId: journal.id, segment },
      );
    } catch (error) {
      this.#lastWriteFailed = true;
      this.#o.onError(error);
      if (journal !== undefined) {
        // Journaled records are acknowledged already: keep them (in order) and try again.
        this.#queue.unshift(...batch);
        if (!this.#closed) await new Promise((resolve) => setTimeout(resolve, AUDIT_RETRY_DELAY_MS));
        return;
      }
      const refusal = auditError('LogUnavailable', 'the audit record could not be written');
      for (const pending of batch) pending.reject?.(refusal);
      return;
    }
    this.#lastWriteFailed = false;
    if (journal !== undefined && segment !== null) {
      try {
        journal.discard(segment);
      } catch (error) {
        // The segment is marked applied, so a leftover file is skipped at the next start.
        this.#o.onError(error);
      }
    }
    for (const pending of batch) pending.resolve?.();
    this.#appended = batch[batch.length - 1]!.sequence;
    this.#waiters = this.#waiters.filter((waiter) => {
      if (waiter.sequence > this.#appended) return true;
      waiter.resolve();
      return false;
    });
  }
}
