import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../../platform/clock.ts';
import { LIMITS } from '../../platform/limits.ts';
import { eventMessage } from './event-records.ts';
import type { MetadataStore, NotificationSink, OutboxEvent } from './ports.ts';

export interface DispatcherLog {
  warn(fields: Record<string, unknown>, message: string): void;
}

/**
 * Delivers the event outbox: one worker per destination takes the oldest due events (a bounded
 * batch, in outbox order), sends them, and deletes exactly those the destination acknowledged.
 * The first failure stops the batch; it and everything after it wait with exponential backoff,
 * so a destination that is down accumulates a backlog in order and nothing is dropped. Rows are
 * deleted only after the acknowledgement, so a crash at any point re-sends rather than loses:
 * delivery is at least once, and each message carries a stable id for de-duplication.
 */
export class NotificationDispatcher {
  readonly #metadata: MetadataStore;
  readonly #clock: Clock;
  readonly #sinks: readonly NotificationSink[];
  readonly #log: DispatcherLog;
  readonly #stopping = new AbortController();
  #workers: Promise<void>[] = [];

  constructor(options: {
    metadata: MetadataStore;
    clock: Clock;
    sinks: readonly NotificationSink[];
    log: DispatcherLog;
  }) {
    this.#metadata = options.metadata;
    this.#clock = options.clock;
    this.#sinks = options.sinks;
    this.#log = options.log;
  }

  start(): void {
    if (this.#workers.length > 0) return;
    this.#workers = this.#sinks.map((sink) => this.#work(sink));
  }

  /** Stops after the batches in flight are settled, then closes the sinks. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await Promise.all(this.#workers);
    await Promise.all(this.#sinks.map((sink) => sink.close()));
  }

  /**
   * One pass for one destination: claim the due head of its queue, send, settle. Returns how many
   * events were delivered; 0 when nothing was due or the first send failed.
   */
  async dispatchOnce(sink: NotificationSink): Promise<number> {
    const nowMs = this.#clock.nowMs();
    const head = await this.#metadata.peekOutboxHead(sink.destinationId);
    if (head === null || head.nextAttemptAtMs > nowMs) return 0;
    const events = await this.#metadata.claimOutboxEvents(
      sink.destinationId,
      nowMs,
      nowMs + LIMITS.notificationLeaseMs,
      LIMITS.notificationBatchEvents,
    );
    if (events.length === 0) return 0;
    const stopping = this.#stopping.signal;
    const { acknowledged, error } = await sink.deliver(
      events.map((event) => ({ deliveryId: event.deliveryId, body: eventMessage(event) })),
      stopping,
    );
    await this.#metadata.deleteOutboxEvents(events.slice(0, acknowledged).map((event) => event.seq));
    const pending = events.slice(acknowledged);
    const failed = pending[0];
    if (failed === undefined) return acknowledged;
    if (stopping.aborted) {
      // Cut short by shutdown, not by the destination: due again at once, for whoever runs next.
      await this.#metadata.releaseOutboxEvents(
        pending.map((event) => event.seq),
        this.#clock.nowMs(),
        null,
      );
    } else await this.#retryLater(sink, failed, pending, error);
    return acknowledged;
  }

  async #work(sink: NotificationSink): Promise<void> {
    const signal = this.#stopping.signal;
    while (!signal.aborted) {
      let delivered = 0;
      try {
        delivered = await this.dispatchOnce(sink);
      } catch (error) {
        // The metadata store is unreachable or the sink misbehaved: the events stay (or return
        // once their lease ends) and the next pass tries again.
        this.#log.warn({ err: error, destination: sink.destinationId }, 'event notification dispatch failed');
      }
      // A full batch means more is probably waiting; anything less, poll again shortly.
      if (delivered >= LIMITS.notificationBatchEvents) continue;
      await sleep(LIMITS.notificationPollIntervalMs, undefined, { signal }).catch(() => undefined);
    }
  }

  async #retryLater(
    sink: NotificationSink,
    failed: OutboxEvent,
    pending: readonly OutboxEvent[],
    error: unknown,
  ): Promise<void> {
    const attempts = failed.attempts + 1;
    const delayMs = retryDelayMs(attempts);
    await this.#metadata.releaseOutboxEvents(
      pending.map((event) => event.seq),
      this.#clock.nowMs() + delayMs,
      failed.seq,
    );
    this.#log.warn(
      {
        err: error,
        destination: sink.destinationId,
        seq: failed.seq,
        attempts,
        retryInMs: delayMs,
        waiting: pending.length,
      },
      'event notification delivery failed; it stays in the outbox and will be retried',
    );
  }
}

/** Exponential backoff after the n-th failed attempt, capped (LIMITS.notificationRetry*). */
export function retryDelayMs(attempts: number): number {
  const exponent = Math.min(Math.max(attempts - 1, 0), 30);
  return Math.min(LIMITS.notificationRetryBaseDelayMs * 2 ** exponent, LIMITS.notificationRetryMaxDelayMs);
}
