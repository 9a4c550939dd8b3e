import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../platform/clock.ts';
import { LIMITS } from '../../platform/limits.ts';
import { kmsError, type KmsError } from './errors.ts';
import type { RootOfTrust, SoftwareRoot } from './root-of-trust.ts';
import { combine, decodeShare, encodeShare, split, type RandomSource, type Share } from './shamir.ts';

/**
 * The seal of the software root of trust, as HashiCorp Vault's Shamir seal works
 * (https://developer.hashicorp.com/vault/docs/concepts/seal): the root key exists only as shares
 * held by key custodians; the server starts sealed; custodians submit shares one at a time (the
 * progress is kept in memory only); when the threshold is reached the key is rebuilt, checked
 * against the seal record's key-check value, and handed to the SoftwareRoot; sealing forgets it
 * at once. A wrong quorum discards every submitted share, as Vault resets its unseal progress.
 */

export const ROOT_KEY_BYTES = 32;
export const SEALED_MESSAGE =
  'Sovra is sealed: a quorum of key custodians must unseal it (sovra operator unseal)';

/** Refuses work that needs keys while the root of trust is absent or sealed (KMS maps Sealed to 503). */
export function requireUnsealed(root: RootOfTrust | null): asserts root is RootOfTrust {
  if (root === null) {
    throw kmsError(
      'RootUnavailable',
      'no root of trust is configured (rootOfTrust is none): keys are unavailable',
    );
  }
  if (root.state() === 'sealed') throw kmsError('Sealed', SEALED_MESSAGE);
}

// ---------------------------------------------------------------------------------------------
// The seal record (keys/seal.json): everything needed to check a quorum, nothing that helps to
// rebuild the key.

export const SEAL_RECORD_FORMAT = 1;
const KEY_CHECK_LABEL = 'sovra-root-key-check-v1';

export interface SealRecord {
  format: typeof SEAL_RECORD_FORMAT;
  threshold: number;
  shares: number;
  /** HMAC-SHA256(rootKey, "sovra-root-key-check-v1"): detects a wrong quorum without the key. */
  keyCheck: Buffer;
  createdAt: Date;
}

/** Where the seal record lives (a 0600 file in the data directory; see adapters/root-of-trust). */
export interface SealRecordStore {
  /** null when the root was never initialised; KmsError('RootUnavailable') when unreadable. */
  read(): Promise<SealRecord | null>;
  /** Creates the record once; KmsError('AlreadyInitialized') when one exists. */
  create(record: SealRecord): Promise<void>;
  /** For messages: where the record is. */
  readonly location: string;
}

export function rootKeyCheck(rootKey: Uint8Array): Buffer {
  return createHmac('sha256', rootKey).update(KEY_CHECK_LABEL, 'utf8').digest();
}

export function encodeSealRecord(record: SealRecord): string {
  const document = {
    format: record.format,
    type: 'shamir',
    threshold: record.threshold,
    shares: record.shares,
    keyCheck: record.keyCheck.toString('hex'),
    createdAt: record.createdAt.toISOString(),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

const SEAL_RECORD_KEYS = ['format', 'type', 'threshold', 'shares', 'keyCheck', 'createdAt'];

/** Parses a seal record; anything unexpected fails with RootUnavailable naming the problem. */
export function decodeSealRecord(text: string): SealRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw damaged('it is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw damaged('it is not a JSON object');
  }
  const fields = parsed as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!SEAL_RECORD_KEYS.includes(key)) throw damaged(`unknown field "${key}"`);
  }
  if (fields.format !== SEAL_RECORD_FORMAT) {
    throw damaged(`format ${String(fields.format)} is not one this version reads (${SEAL_RECORD_FORMAT})`);
  }
  if (fields.type !== 'shamir') throw damaged('type must be "shamir"');
  const shares = fields.shares;
  const threshold = fields.threshold;
  if (
    typeof shares !== 'number' ||
    !Number.isInteger(shares) ||
    shares < 2 ||
    shares > LIMITS.shamirSharesMax
  ) {
    throw damaged(`shares must be 2 to ${LIMITS.shamirSharesMax}`);
  }
  if (
    typeof threshold !== 'number' ||
    !Number.isInteger(threshold) ||
    threshold < LIMITS.shamirThresholdMin ||
    threshold > shares
  ) {
    throw damaged(`threshold must be ${LIMITS.shamirThresholdMin} to shares`);
  }
  if (typeof fields.keyCheck !== 'string' || !/^[0-9a-f]{64}$/.test(fields.keyCheck)) {
    throw damaged('keyCheck must be 64 lower-case hex digits');
  }
  const createdAt = typeof fields.createdAt === 'string' ? new Date(fields.createdAt) : null;
  if (createdAt === null || Number.isNaN(createdAt.getTime())) throw damaged('createdAt must be a date');
  return {
    format: SEAL_RECORD_FORMAT,
    threshold,
    shares,
    keyCheck: Buffer.from(fields.keyCheck, 'hex'),
    createdAt,
  };
}

function damaged(reason: string): KmsError {
  return kmsError('RootUnavailable', `the seal record is damaged: ${reason}`, { reason });
}

// ---------------------------------------------------------------------------------------------
// Initialisation (offline, against the data directory)

export interface InitializedRoot {
  record: SealRecord;
  /** The printed shares, one per custodian. Shown once; never stored. */
  shares: string[];
}

/**
 * Generates a root key, splits it into `shareCount` shares with threshold `threshold`, writes the
 * seal record and returns the shares. The key itself is zeroed before this returns and never
 * written anywhere. Refused with AlreadyInitialized when a seal record exists.
 */
export async function initializeSealedRoot(options: {
  records: SealRecordStore;
  shareCount: number;
  threshold: number;
  clock: Clock;
  random?: RandomSource;
}): Promise<InitializedRoot> {
  const { records, shareCount, threshold, clock } = options;
  const random = options.random ?? randomBytes;
  if ((await records.read()) !== null) throw alreadyInitialized(records.location);
  const rootKey = random(ROOT_KEY_BYTES);
  let shares: Share[] = [];
  try {
    if (rootKey.length !== ROOT_KEY_BYTES) throw kmsError('Validation', 'the random source failed');
    shares = split(rootKey, shareCount, threshold, random);
    checkRecombines(rootKey, shares, threshold);
    const record: SealRecord = {
      format: SEAL_RECORD_FORMAT,
      threshold,
      shares: shareCount,
      keyCheck: rootKeyCheck(rootKey),
      createdAt: clock.now(),
    };
    await records.create(record);
    return { record, shares: shares.map(encodeShare) };
  } finally {
    rootKey.fill(0);
    for (const share of shares) share.value.fill(0);
  }
}

/** A split that does not recombine would lock the key away for good: check before printing it. */
function checkRecombines(rootKey: Buffer, shares: readonly Share[], threshold: number): void {
  for (const quorum of [shares.slice(0, threshold), shares.slice(shares.length - threshold)]) {
    const rebuilt = combine(quorum);
    const same = timingSafeEqual(rebuilt, rootKey);
    rebuilt.fill(0);
    if (!same) throw new Error('internal: Shamir shares do not recombine to the secret');
  }
}

export function alreadyInitialized(location: string): KmsError {
  return kmsError(
    'AlreadyInitialized',
    `the root of trust is already initialised (${location} exists); shares are issued only once`,
  );
}

// ---------------------------------------------------------------------------------------------
// Unsealing

export interface SealStatus {
  type: 'shamir';
  initialized: boolean;
  sealed: boolean;
  /** Shares needed (t); 0 while not initialised. */
  threshold: number;
  /** Shares issued (n); 0 while not initialised. */
  shares: number;
  /** Shares submitted to the current unseal attempt. */
  progress: number;
  /** Identifies the current unseal attempt ('' when none), so custodians can tell they share one. */
  nonce: string;
}

/**
 * Seal and unseal decisions. They never carry a share or a key, only who and what; the server
 * logs them today and the audit log will record them.
 */
export type SealEvent =
  | { event: 'unseal-share-accepted'; source: string; nonce: string; progress: number; threshold: number }
  | { event: 'unseal-share-refused'; source: string; nonce: string; reason: string }
  | { event: 'unsealed'; source: string; nonce: string; threshold: number }
  | { event: 'unseal-failed'; source: string; nonce: string; reason: 'wrong-quorum' }
  | { event: 'unseal-reset'; source: string; nonce: string; reason: 'requested' | 'timeout' | 'sealed' }
  | { event: 'sealed'; source: string; principalId: string | null; wasSealed: boolean };

export type SealEventSink = (event: SealEvent) => void;

interface UnsealAttempt {
  nonce: string;
  startedAtMs: number;
  shares: Share[];
  timer: NodeJS.Timeout;
}

/**
 * Unseal progress and sealing for one SoftwareRoot. Submissions are serialised, so two
 * custodians submitting at once cannot both complete a quorum. Submitted shares live only in
 * this object and are zeroed when the attempt ends: success, wrong quorum, reset, seal or
 * timeout (LIMITS.unsealProgressTimeoutMs after the first share).
 */
export class ShamirSeal {
  readonly #root: SoftwareRoot;
  readonly #records: SealRecordStore;
  readonly #clock: Clock;
  readonly #events: SealEventSink;
  readonly #newNonce: () => string;
  #record: SealRecord | null = null;
  #attempt: UnsealAttempt | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #unsealedWork: (() => Promise<void>)[] = [];
  readonly #sealedWork: (() => void)[] = [];

  constructor(options: {
    root: SoftwareRoot;
    records: SealRecordStore;
    clock: Clock;
    events: SealEventSink;
    newNonce?: () => string;
  }) {
    this.#root = options.root;
    this.#records = options.records;
    this.#clock = options.clock;
    this.#events = options.events;
    this.#newNonce = options.newNonce ?? (() => randomBytes(16).toString('hex'));
  }

  /**
   * Work that must be done before an unseal is answered, such as unwrapping the credential-sealing
   * key (docs/decisions/0005): the custodian whose share completes the quorum is answered once the
   * server serves signed requests again, as Vault's unseal returns after its post-unseal setup. It
   * runs inside the seal's exclusive section, so a seal request waits for it. `work` reports its
   * own failures; the unseal stands either way.
   */
  whenUnsealed(work: () => Promise<void>): void {
    this.#unsealedWork.push(work);
  }

  /** Work done as the root key is forgotten (seal and shutdown): forgetting keys derived from it. */
  whenSealed(work: () => void): void {
    this.#sealedWork.push(work);
  }

  status(): Promise<SealStatus> {
    return this.#exclusive(async () => {
      this.#expireStaleAttempt();
      await this.#loadRecord();
      return this.#status();
    });
  }

  /**
   * Adds one share to the unseal attempt (starting one if needed). A malformed, duplicate or
   * out-of-range share is refused (Validation) without touching the progress; a quorum that does
   * not rebuild the root key fails with UnsealFailed and resets the progress. Already unsealed:
   * the share is ignored, as Vault does.
   */
  submit(shareText: string, source: string): Promise<SealStatus> {
    return this.#exclusive(async () => {
      this.#expireStaleAttempt();
      const share = this.#decode(shareText, source);
      let kept = false;
      try {
        const record = await this.#loadRecord();
        if (record === null) {
          throw kmsError(
            'NotInitialized',
            'the root of trust is not initialised: run `sovra operator init` against the data directory',
          );
        }
        if (this.#root.state() === 'unsealed') return this.#status();
        this.#checkFits(share, record, source);
        const attempt = this.#attempt ?? this.#startAttempt();
        attempt.shares.push(share);
        kept = true;
        if (attempt.shares.length < record.threshold) {
          this.#events({
            event: 'unseal-share-accepted',
            source,
            nonce: attempt.nonce,
            progress: attempt.shares.length,
            threshold: record.threshold,
          });
          return this.#status();
        }
        this.#completeAttempt(attempt, record, source);
        for (const work of this.#unsealedWork) await work().catch(() => undefined);
        return this.#status();
      } finally {
        if (!kept) share.value.fill(0);
      }
    });
  }

  /** Discards the shares submitted so far (Vault's `reset`). */
  reset(source: string): Promise<SealStatus> {
    return this.#exclusive(async () => {
      this.#endAttempt('requested', source);
      await this.#loadRecord();
      return this.#status();
    });
  }

  /** Seals at once: the root key is zeroed and any unseal progress discarded. */
  seal(source: string, principalId: string | null): Promise<SealStatus> {
    return this.#exclusive(async () => {
      this.#endAttempt('sealed', source);
      const wasSealed = this.#root.state() === 'sealed';
      await this.#root.close();
      this.#runSealedWork();
      this.#events({ event: 'sealed', source, principalId, wasSealed });
      await this.#loadRecord();
      return this.#status();
    });
  }

  /** Shutdown: forget shares and key without an event. */
  close(): Promise<void> {
    return this.#exclusive(async () => {
      this.#clearAttempt();
      await this.#root.close();
      this.#runSealedWork();
    });
  }

  #runSealedWork(): void {
    for (const work of this.#sealedWork) work();
  }

  #decode(shareText: string, source: string): Share {
    try {
      return decodeShare(shareText);
    } catch (error) {
      this.#events({
        event: 'unseal-share-refused',
        source,
        nonce: this.#attempt?.nonce ?? '',
        reason: 'malformed-share',
      });
      throw error;
    }
  }

  #checkFits(share: Share, record: SealRecord, source: string): void {
    const nonce = this.#attempt?.nonce ?? '';
    const refuse = (reason: string, message: string) => {
      this.#events({ event: 'unseal-share-refused', source, nonce, reason });
      return kmsError('Validation', message, { reason });
    };
    if (share.value.length !== ROOT_KEY_BYTES) {
      throw refuse('wrong-length', 'the share does not belong to this seal (wrong length)');
    }
    if (share.index > record.shares) {
      throw refuse(
        'index-out-of-range',
        `this seal has ${record.shares} shares; share ${share.index} cannot be one`,
      );
    }
    if (this.#attempt?.shares.some((s) => s.index === share.index) === true) {
      throw refuse(
        'duplicate-share',
        `share ${share.index} was already submitted in this unseal attempt; each custodian submits once`,
      );
    }
  }

  #completeAttempt(attempt: UnsealAttempt, record: SealRecord, source: string): void {
    const rootKey = combine(attempt.shares);
    this.#clearAttempt();
    const check = rootKeyCheck(rootKey);
    if (!timingSafeEqual(check, record.keyCheck)) {
      rootKey.fill(0);
      this.#events({ event: 'unseal-failed', source, nonce: attempt.nonce, reason: 'wrong-quorum' });
      throw kmsError(
        'UnsealFailed',
        `the ${record.threshold} submitted shares do not rebuild the root key: at least one is wrong or ` +
          'belongs to another seal. Unseal progress was reset; submit a quorum again.',
      );
    }
    this.#root.unsealWith(rootKey);
    this.#events({ event: 'unsealed', source, nonce: attempt.nonce, threshold: record.threshold });
  }

  #startAttempt(): UnsealAttempt {
    const timer = setTimeout(() => {
      void this.#exclusive(() => {
        this.#endAttempt('timeout', 'timer');
        return Promise.resolve();
      });
    }, LIMITS.unsealProgressTimeoutMs);
    timer.unref();
    this.#attempt = { nonce: this.#newNonce(), startedAtMs: this.#clock.nowMs(), shares: [], timer };
    return this.#attempt;
  }

  /** The injected clock decides too, so that tests (and a clock that jumps) expire attempts. */
  #expireStaleAttempt(): void {
    const attempt = this.#attempt;
    if (attempt !== null && this.#clock.nowMs() - attempt.startedAtMs >= LIMITS.unsealProgressTimeoutMs) {
      this.#endAttempt('timeout', 'clock');
    }
  }

  #endAttempt(reason: 'requested' | 'timeout' | 'sealed', source: string): void {
    const attempt = this.#attempt;
    if (attempt === null) return;
    this.#clearAttempt();
    this.#events({ event: 'unseal-reset', source, nonce: attempt.nonce, reason });
  }

  #clearAttempt(): void {
    const attempt = this.#attempt;
    if (attempt === null) return;
    clearTimeout(attempt.timer);
    for (const share of attempt.shares) share.value.fill(0);
    attempt.shares.length = 0;
    this.#attempt = null;
  }

  /** The record is immutable once written, so it is read until found and then kept. */
  async #loadRecord(): Promise<SealRecord | null> {
    this.#record ??= await this.#records.read();
    return this.#record;
  }

  #status(): SealStatus {
    const record = this.#record;
    return {
      type: 'shamir',
      initialized: record !== null,
      sealed: this.#root.state() === 'sealed',
      threshold: record?.threshold ?? 0,
      shares: record?.shares ?? 0,
      progress: this.#attempt?.shares.length ?? 0,
      nonce: this.#attempt?.nonce ?? '',
    };
  }

  #exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}
