import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../../platform/clock.ts';
import { toOcsfEvent, type OcsfEvent } from './ocsf.ts';
import type { AuditLogStore, StoredAuditRecord } from './ports.ts';
import { parseCanonicalRecord } from './records.ts';
import { ocsfEventProblems } from './siem-ocsf-schema.ts';
import type { SiemSink } from './siem-sink.ts';

/** Records read, mapped and sent per batch: bounds memory, the request size and what a retry repeats. */
export const SIEM_EXPORT_BATCH_RECORDS = 500;
/** How often a sink that has caught up looks for new records. */
export const SIEM_EXPORT_POLL_INTERVAL_MS = 1_000;
/** Backoff after the n-th consecutive failure: base · 2^(n−1), capped. */
export const SIEM_EXPORT_RETRY_BASE_DELAY_MS = 1_000;
export const SIEM_EXPORT_RETRY_MAX_DELAY_MS = 60_000;
/** At shutdown, how long the exporter keeps sending what the log holds before it gives up. */
export const SIEM_EXPORT_STOP_FLUSH_MS = 10_000;

export interface SiemExportLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export type SiemExportStore = Pick<
  AuditLogStore,
  'head' | 'readEntries' | 'exportCursor' | 'saveExportCursor'
>;

/**
 * Streams the audit log to SIEM sinks, at least once. One worker per sink: read the records after
 * the sink's persisted cursor (a bounded batch, in leaf order), map each to its OCSF event, send
 * the batch, and only when the sink has acknowledged it save the cursor at the batch's last leaf.
 * A crash between send and save re-sends that batch after restart (duplicates, never gaps);
 * receivers drop duplicates by `metadata.uid`, the leaf index. A sink that fails waits with
 * exponential backoff while the others go on; its records wait in the log, which is the queue.
 *
 * Records archived after their retention (canonical bytes removed, leaf kept) cannot be mapped:
 * they are skipped with a note in the log. So are records that do not parse, with an error: the
 * log verifier (`sovra audit verify`) names what is wrong with them.
 */
export class SiemExporter {
  readonly #store: SiemExportStore;
  readonly #sinks: readonly SiemSink[];
  readonly #clock: Clock;
  readonly #log: SiemExportLog;
  /** Ends polling and backoff waits: the workers move on to their final flush. */
  readonly #stopping = new AbortController();
  /** Ends sends in flight once the shutdown flush has run out of time. */
  readonly #deadline = new AbortController();
  #workers: Promise<void>[] = [];

  constructor(options: {
    store: SiemExportStore;
    sinks: readonly SiemSink[];
    clock: Clock;
    log: SiemExportLog;
  }) {
    this.#store = options.store;
    this.#sinks = options.sinks;
    this.#clock = options.clock;
    this.#log = options.log;
  }

  start(): void {
    if (this.#workers.length > 0 || this.#stopping.signal.aborted) return;
    this.#workers = this.#sinks.map((sink) => this.#work(sink));
  }

  /**
   * Stops polling, sends what the log holds (for at most SIEM_EXPORT_STOP_FLUSH_MS; the rest waits
   * for the next start), then closes the sinks.
   */
  async stop(): Promise<void> {
    this.#stopping.abort();
    const timer = setTimeout(() => this.#deadline.abort(), SIEM_EXPORT_STOP_FLUSH_MS);
    try {
      await Promise.all(this.#workers);
    } finally {
      clearTimeout(timer);
    }
    await Promise.all(
      this.#sinks.map((sink) =>
        sink
          .close()
          .catch((error: unknown) =>
            this.#log.warn({ err: error, sink: sink.name }, 'SIEM sink close failed'),
          ),
      ),
    );
  }

  /**
   * One batch for one sink: the records after its cursor, up to the current tree size and
   * SIEM_EXPORT_BATCH_RECORDS. Returns how many leaves the cursor moved over (0 when caught up).
   * Rejects, leaving the cursor where it was, when the store or the sink fails.
   */
  async exportOnce(sink: SiemSink): Promise<number> {
    const delivered = await this.#store.exportCursor(sink.name);
    const head = await this.#store.head();
    const start = delivered + 1;
    if (head.treeSize <= start) return 0;
    const end = Math.min(head.treeSize, start + SIEM_EXPORT_BATCH_RECORDS);
    const entries = await this.#store.readEntries(start, end);
    const events = this.#eventsOf(sink, entries, start, end);
    if (events.length > 0) await sink.send(events, this.#deadline.signal);
    await this.#store.saveExportCursor(sink.name, end - 1, this.#clock.nowMs());
    return end - start;
  }

  async #work(sink: SiemSink): Promise<void> {
    const stopping = this.#stopping.signal;
    let failures = 0;
    while (!stopping.aborted) {
      let moved: number;
      try {
        moved = await this.exportOnce(sink);
        failures = 0;
      } catch (error) {
        failures += 1;
        const retryInMs = exportRetryDelayMs(failures);
        this.#log.warn(
          { err: error, sink: sink.name, attempts: failures, retryInMs },
          'SIEM export failed; the records stay in the audit log and will be sent again',
        );
        await sleep(retryInMs, undefined, { signal: stopping }).catch(() => undefined);
        continue;
      }
      // A full batch means more is probably waiting; anything less, poll again shortly.
      if (moved >= SIEM_EXPORT_BATCH_RECORDS) continue;
      await sleep(SIEM_EXPORT_POLL_INTERVAL_MS, undefined, { signal: stopping }).catch(() => undefined);
    }
    await this.#flush(sink);
  }

  /** The shutdown pass: everything up to the tree size, while the deadline allows. */
  async #flush(sink: SiemSink): Promise<void> {
    try {
      while (!this.#deadline.signal.aborted) {
        if ((await this.exportOnce(sink)) === 0) return;
      }
    } catch (error) {
      this.#log.warn(
        { err: error, sink: sink.name },
        'SIEM export could not finish at shutdown; the rest is sent after the next start',
      );
    }
  }

  #eventsOf(sink: SiemSink, entries: readonly StoredAuditRecord[], start: number, end: number): OcsfEvent[] {
    const events: OcsfEvent[] = [];
    const archived: number[] = [];
    for (const entry of entries) {
      if (entry.canonical === null) {
        archived.push(entry.index);
        continue;
      }
      let event: OcsfEvent;
      try {
        event = toOcsfEvent(parseCanonicalRecord(entry.canonical), {
          leafIndex: entry.index,
          recordedAtMs: entry.recordedAtMs,
        });
      } catch (error) {
        this.#log.error(
          { err: error, sink: sink.name, index: entry.index },
          'audit record cannot be mapped to an OCSF event; skipped (run sovra audit verify)',
        );
        continue;
      }
      const problems = ocsfEventProblems(event);
      if (problems.length > 0) {
        this.#log.error(
          { sink: sink.name, index: entry.index, problems },
          'OCSF event does not conform to its class; sent anyway',
        );
      }
      events.push(event);
    }
    if (archived.length > 0) {
      this.#log.info(
        { sink: sink.name, count: archived.length, first: archived[0], last: archived.at(-1) },
        'audit records archived after their retention are not exported (their leaves stay in the log)',
      );
    }
    if (entries.length < end - start) {
      this.#log.warn(
        { sink: sink.name, from: start, to: end, found: entries.length },
        'audit records missing below the tree size; skipped (run sovra audit verify)',
      );
    }
    return events;
  }
}

/** Exponential backoff after the n-th consecutive failure, capped. */
export function exportRetryDelayMs(failures: number): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  return Math.min(SIEM_EXPORT_RETRY_BASE_DELAY_MS * 2 ** exponent, SIEM_EXPORT_RETRY_MAX_DELAY_MS);
}
