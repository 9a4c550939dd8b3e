import type { Clock } from '../../platform/clock.ts';
import { auditError } from './errors.ts';
import type { AuditLog } from './audit-log.ts';
import type { AuditLogStore, StoredCheckpoint, StoredLogKey } from './ports.ts';
import { signCheckpoint } from './tlog/checkpoint.ts';
import { createNoteSigner, formatVerifierKey, generateNoteKey, type NoteSigner } from './tlog/note-keys.ts';

/** How often a new checkpoint is signed when the tree has grown (issue: "a checkpoint every second"). */
export const AUDIT_CHECKPOINT_INTERVAL_MS = 1_000;

/**
 * Custody of the log's private keys: the root of trust wraps them (the software root, or the
 * PKCS#11 token), so they exist in clear only in this process's memory while it is unsealed.
 */
export interface LogKeyCustody {
  wrap(seed: Uint8Array, aad: Uint8Array): Promise<Buffer>;
  unwrap(wrapped: Uint8Array, aad: Uint8Array): Promise<Buffer>;
}

/** The log's two keys: Ed25519 named after the origin (as c2sp.org/tlog-checkpoint expects) and ML-DSA-65. */
export function logKeyNames(origin: string): { ed25519: string; mlDsa65: string } {
  return { ed25519: origin, mlDsa65: `${origin}/ml-dsa-65` };
}

export interface CheckpointerOptions {
  store: AuditLogStore;
  custody: LogKeyCustody;
  origin: string;
  clock: Clock;
  /** Where the log records its own key changes. */
  audit: AuditLog;
  onError: (error: unknown) => void;
}

/**
 * Signs a checkpoint of the tree whenever it has grown, at most once per interval. With several
 * gateways each may sign; the first checkpoint stored for a size stays (all are valid). While the
 * root of trust is sealed the log keys cannot be unwrapped: entries keep being appended (their
 * hashes are in the tree) and the next checkpoint is signed once it is unsealed.
 */
export class Checkpointer {
  readonly #o: CheckpointerOptions;
  #signers: NoteSigner[] | null = null;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;

  constructor(options: CheckpointerOptions) {
    this.#o = options;
  }

  /**
   * Makes sure the log keys exist (creating and recording them on the very first start) and starts
   * signing. While the root of trust is sealed the keys cannot be wrapped or unwrapped; creation
   * then waits for the first checkpoint after unseal.
   */
  async start(intervalMs = AUDIT_CHECKPOINT_INTERVAL_MS): Promise<void> {
    await this.#ensureKeys().catch((error: unknown) => this.#o.onError(error));
    this.#timer = setInterval(() => {
      if (this.#running === null) {
        this.#running = this.checkpointNow()
          .then(() => undefined)
          .catch((error: unknown) => this.#o.onError(error))
          .finally(() => {
            this.#running = null;
          });
      }
    }, intervalMs);
    this.#timer.unref();
  }

  /** Stops the timer and signs a last checkpoint of what has been appended (when the keys are available). */
  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
    await this.checkpointNow().catch((error: unknown) => this.#o.onError(error));
  }

  /** The verifier keys (C2SP vkey strings) of the log, creating the keys on first use. */
  async verifierKeys(): Promise<string[]> {
    const keys = await this.#ensureKeys();
    return keys.map((key) =>
      formatVerifierKey(key.algorithm === 'ed25519' ? 'ed25519' : 'ml-dsa-65', key.name, key.publicKey),
    );
  }

  /** Signs and stores a checkpoint of the current tree if it is newer than the latest; returns the latest. */
  async checkpointNow(): Promise<StoredCheckpoint | null> {
    const [head, latest] = await Promise.all([this.#o.store.head(), this.#o.store.latestCheckpoint()]);
    if (latest !== null && latest.treeSize >= head.treeSize) return latest;
    const signers = await this.#loadSigners();
    const note = await signCheckpoint(
      { origin: this.#o.origin, treeSize: head.treeSize, rootHash: head.rootHash, extensionLines: [] },
      signers,
    );
    const checkpoint = {
      treeSize: head.treeSize,
      rootHash: head.rootHash,
      note,
      signedAtMs: this.#o.clock.nowMs(),
    };
    await this.#o.store.saveCheckpoint(checkpoint);
    return checkpoint;
  }

  async #loadSigners(): Promise<NoteSigner[]> {
    if (this.#signers !== null) return this.#signers;
    const keys = await this.#ensureKeys();
    const signers: NoteSigner[] = [];
    for (const key of keys) {
      const seed = await this.#o.custody.unwrap(key.wrappedPrivateKey, keyAad(key.name, key.algorithm));
      try {
        signers.push(
          createNoteSigner({
            keyType: key.algorithm === 'ed25519' ? 'ed25519' : 'ml-dsa-65',
            name: key.name,
            seed,
            clock: this.#o.clock,
          }),
        );
      } finally {
        seed.fill(0);
      }
    }
    this.#signers = signers;
    return signers;
  }

  /** Loads the log keys, creating both on the first start (another gateway may win the race). */
  async #ensureKeys(): Promise<StoredLogKey[]> {
    const names = logKeyNames(this.#o.origin);
    let keys = await this.#o.store.logKeys();
    for (const [algorithm, name] of [
      ['ed25519', names.ed25519],
      ['ml-dsa-65', names.mlDsa65],
    ] as const) {
      if (keys.some((key) => key.name === name)) continue;
      const generated = generateNoteKey(algorithm, name);
      const wrapped = await this.#o.custody.wrap(generated.seed, keyAad(name, algorithm));
      generated.seed.fill(0);
      const added = await this.#o.store.addLogKey({
        name,
        algorithm,
        publicKey: generated.publicKey,
        wrappedPrivateKey: wrapped,
        createdAtMs: this.#o.clock.nowMs(),
      });
      if (added) {
        await this.#o.audit.record({
          kind: 'log-key',
          timeMs: this.#o.clock.nowMs(),
          tenantId: null,
          principalId: null,
          principalTenantId: null,
          action: 'sovra:CreateLogKey',
          resource: `sovra:audit-log-key/${name}`,
          classification: null,
          sourceIp: null,
          sourceJurisdiction: null,
          result: 'success',
          status: null,
          errorCode: null,
          justification: null,
          approvalId: null,
          requestId: null,
          details: { verifierKey: generated.verifierKey, algorithm },
        });
      }
    }
    keys = await this.#o.store.logKeys();
    const wanted = keys.filter((key) => key.name === names.ed25519 || key.name === names.mlDsa65);
    if (wanted.length !== 2) throw auditError('LogKeyUnavailable', 'the audit log keys could not be created');
    // Ed25519 first: verifiers that know only it find it on the first signature line.
    return wanted.sort((a, b) => (a.algorithm === 'ed25519' ? -1 : b.algorithm === 'ed25519' ? 1 : 0));
  }
}

/** What a log key's wrapping is bound to (its custody's AAD). */
export function keyAad(name: string, algorithm: string): Buffer {
  return Buffer.from(`sovra-audit-log-key/v1\n${algorithm}\n${name}`, 'utf8');
}
