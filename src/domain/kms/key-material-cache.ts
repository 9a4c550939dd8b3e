import type { KeyObject } from 'node:crypto';
import type { Clock } from '../../platform/clock.ts';

/**
 * Unwrapped key material in memory, so that the hot path (GenerateDataKey, Decrypt) does not ask
 * the root of trust to unwrap on every call. Bounded (least recently used first out) and
 * time-limited; forgetKey drops one key's versions, clear drops everything (seal, shutdown).
 *
 * Entries are KeyObjects, not Buffers: Node prepares a raw-Buffer key on every cipher call, which
 * alone caps AES-256-GCM at about 20,000 encrypt+decrypt pairs per second on one core, five
 * times below what a KeyObject allows. The key ring zeroes the unwrapped Buffer as soon as the
 * KeyObject is made; the KeyObject's copy lives in native memory, which JavaScript cannot wipe:
 * a dropped entry becomes garbage, and Node frees its bytes with OPENSSL_clear_free (a
 * cleansing free) when it is collected (docs/architecture.md, "Key material in memory").
 */
export class KeyMaterialCache {
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #clock: Clock;
  /** Map order is recency order: the first entry is the least recently used. */
  readonly #entries = new Map<string, { material: KeyObject; expiresAtMs: number }>();

  constructor(options: { maxEntries: number; ttlMs: number; clock: Clock }) {
    this.#maxEntries = options.maxEntries;
    this.#ttlMs = options.ttlMs;
    this.#clock = options.clock;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(keyId: string, version: number): KeyObject | undefined {
    const name = entryName(keyId, version);
    const entry = this.#entries.get(name);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs <= this.#clock.nowMs()) {
      this.#entries.delete(name);
      return undefined;
    }
    // Most recently used goes last.
    this.#entries.delete(name);
    this.#entries.set(name, entry);
    return entry.material;
  }

  set(keyId: string, version: number, material: KeyObject): void {
    const name = entryName(keyId, version);
    this.#entries.delete(name);
    while (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(name, { material, expiresAtMs: this.#clock.nowMs() + this.#ttlMs });
  }

  /** Drops every version of one key (disabled, scheduled for deletion, deleted). */
  forgetKey(keyId: string): void {
    const prefix = `${keyId}/`;
    for (const name of this.#entries.keys()) {
      if (name.startsWith(prefix)) this.#entries.delete(name);
    }
  }

  /** Drops everything (seal, shutdown). */
  clear(): void {
    this.#entries.clear();
  }
}

function entryName(keyId: string, version: number): string {
  return `${keyId}/${version}`;
}
