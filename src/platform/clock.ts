/**
 * Time is injected everywhere a rule depends on it (SigV4 skew, presigned expiry, lifecycle,
 * retention) so tests can move it without waiting.
 */
export interface Clock {
  now(): Date;
  nowMs(): number;
}

export const systemClock: Clock = {
  now: () => new Date(),
  nowMs: () => Date.now(),
};

/** A clock offset from real time; `advance` moves it forward (test and lifecycle drills). */
export class OffsetClock implements Clock {
  #offsetMs: number;
  constructor(offsetMs = 0) {
    this.#offsetMs = offsetMs;
  }
  now(): Date {
    return new Date(this.nowMs());
  }
  nowMs(): number {
    return Date.now() + this.#offsetMs;
  }
  advance(ms: number): void {
    this.#offsetMs += ms;
  }
}
