import type { Clock } from '../../platform/clock.ts';

/**
 * A token bucket per source address: `perMinute` requests in a burst, refilled continuously at
 * `perMinute` per minute. At most `maxSources` addresses are tracked; the least recently seen is
 * forgotten first (a Map keeps insertion order, and a hit is re-inserted at the end), so memory
 * stays bounded whatever the number of clients.
 */
export class SourceRateLimit {
  readonly #perMinute: number;
  readonly #maxSources: number;
  readonly #clock: Clock;
  readonly #buckets = new Map<string, { tokens: number; updatedAtMs: number }>();

  constructor(options: { perMinute: number; maxSources: number; clock: Clock }) {
    this.#perMinute = options.perMinute;
    this.#maxSources = Math.max(1, options.maxSources);
    this.#clock = options.clock;
  }

  /** Takes one token for `source`; false when its bucket is empty. */
  take(source: string): boolean {
    const now = this.#clock.nowMs();
    const bucket = this.#buckets.get(source) ?? { tokens: this.#perMinute, updatedAtMs: now };
    const elapsedMs = Math.max(0, now - bucket.updatedAtMs);
    bucket.tokens = Math.min(this.#perMinute, bucket.tokens + (elapsedMs * this.#perMinute) / 60_000);
    bucket.updatedAtMs = now;
    this.#buckets.delete(source);
    this.#buckets.set(source, bucket);
    if (this.#buckets.size > this.#maxSources) {
      const oldest = this.#buckets.keys().next();
      if (oldest.done !== true) this.#buckets.delete(oldest.value);
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Seconds until `source` has a token again (for Retry-After). */
  retryAfterSeconds(source: string): number {
    const bucket = this.#buckets.get(source);
    if (bucket === undefined || bucket.tokens >= 1) return 0;
    return Math.ceil(((1 - bucket.tokens) * 60) / this.#perMinute);
  }
}
