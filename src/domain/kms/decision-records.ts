import { LIMITS } from '../../platform/limits.ts';
import type { KeyUseJustification } from './justification.ts';

/**
 * The record of one key-use decision: which key version was asked for, by whom, why, and whether
 * the key policy granted or denied it. Records are appended, never changed (the tables refuse
 * UPDATE and DELETE), so that the audit log can later chain and sign them.
 */
export interface KeyUseDecisionRecord {
  decidedAt: Date;
  tenantId: string;
  keyId: string;
  keyVersion: number;
  decision: 'granted' | 'denied';
  /** Why a use was denied; null when granted. */
  denialReason: string | null;
  justification: KeyUseJustification;
}

/** A stored decision: the record and its place in the append-only sequence. */
export interface StoredKeyUseDecision extends KeyUseDecisionRecord {
  seq: number;
}

/** Where decisions go: the metadata database (adapters/sql/key-use-decisions.ts). Append and read only. */
export interface KeyUseDecisionLog {
  append(records: readonly KeyUseDecisionRecord[]): Promise<void>;
  /**
   * A tenant's decisions made in [fromMs, toMs), in sequence order, after `afterSeq` (exclusive;
   * 0 for the first page), at most `limit`.
   */
  listTenantDecisions(
    tenantId: string,
    range: { fromMs: number; toMs: number },
    afterSeq: number,
    limit: number,
  ): Promise<StoredKeyUseDecision[]>;
}

/**
 * Batches decisions on their way to the log so that recording stays off the hot path: a use
 * enqueues its record synchronously; the queue is written when it holds
 * LIMITS.kmsDecisionQueueFlushRecords records or its oldest has waited
 * LIMITS.kmsDecisionQueueFlushMs, and on close. One batch is written at a time. A queue past
 * LIMITS.kmsDecisionQueueMaxRecords (the log is down or far behind) refuses further uses: a key
 * use whose decision cannot be recorded does not happen.
 */
export class KeyUseDecisionRecorder {
  readonly #log: KeyUseDecisionLog;
  readonly #onError: (error: unknown) => void;
  #queue: KeyUseDecisionRecord[] = [];
  #timer: NodeJS.Timeout | null = null;
  #writing: Promise<boolean> | null = null;
  #closed = false;

  constructor(log: KeyUseDecisionLog, onError: (error: unknown) => void) {
    this.#log = log;
    this.#onError = onError;
  }

  /** Queues a decision; throws when the queue is full or the recorder closed. */
  record(decision: KeyUseDecisionRecord): void {
    if (this.#closed) throw new Error('the key-use decision recorder is closed');
    if (this.#queue.length >= LIMITS.kmsDecisionQueueMaxRecords) {
      throw new Error('the key-use decision queue is full; the decision log is not keeping up');
    }
    this.#queue.push(decision);
    if (this.#queue.length >= LIMITS.kmsDecisionQueueFlushRecords) this.#startWrite();
    else this.#timer ??= setTimeout(() => this.#startWrite(), LIMITS.kmsDecisionQueueFlushMs).unref();
  }

  /** How many decisions wait in memory. */
  get pendingCount(): number {
    return this.#queue.length;
  }

  /** Resolves once everything queued before the call is written (or its write failed and was reported). */
  async flush(): Promise<void> {
    while (this.#writing !== null || this.#queue.length > 0) {
      if (this.#writing === null) this.#startWrite();
      if (!(await this.#writing)) {
        throw new Error(`${this.#queue.length} key-use decisions could not be written`);
      }
    }
  }

  /** Writes what is queued and refuses new decisions (shutdown). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  #startWrite(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#writing !== null || this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    this.#writing = this.#log
      .append(batch)
      .then(
        () => true,
        (error: unknown) => {
          // The batch goes back to the head of the queue: nothing is dropped, the bound still holds.
          this.#queue = batch.concat(this.#queue);
          this.#onError(error);
          return false;
        },
      )
      .finally(() => {
        this.#writing = null;
        if (this.#queue.length > 0 && !this.#closed) {
          this.#timer ??= setTimeout(() => this.#startWrite(), LIMITS.kmsDecisionQueueFlushMs).unref();
        }
      });
  }
}
