import { createHash } from 'node:crypto';
import type { Clock } from '../../platform/clock.ts';
import { ROOT_TENANT_ID } from '../iam/bootstrap.ts';
import type { Caller } from '../iam/caller.ts';
import { identityError } from '../iam/identity-errors.ts';
import { GuardrailError, guardrailError } from './errors.ts';
import type { Guardrails } from './guardrails.ts';
import { GUARDRAIL_REFRESH_INTERVAL_MS } from './limits.ts';
import {
  GUARDRAIL_SET_FORMAT,
  type CompiledGuardrails,
  type GuardrailEditor,
  type GuardrailSetStore,
  type StoredGuardrailSet,
} from './ports.ts';

/** The admin API's guardrail operations; with `sovra:` the policy and audit action. */
export type GuardrailAdminAction = 'GetGuardrails' | 'PutGuardrails';

/**
 * Where the active guardrail set came from: the set shipped with Sovra, the operator's
 * `--guardrails` file, or a replacement through the admin API (stored in the metadata database).
 */
export type GuardrailSource = 'default' | 'file' | 'api';

/** The active set as the admin API describes it. */
export interface GuardrailSetDescription {
  text: string;
  /** Lower-case hex SHA-256 of the UTF-8 text. */
  sha256: string;
  source: GuardrailSource;
  /** The stored version for source `api`; null for the default and file sets. */
  version: number | null;
  replacedAt: Date | null;
  replacedBy: GuardrailEditor | null;
  /** Each policy's @id, in the order of the text. */
  policyIds: readonly string[];
  /**
   * A stored set newer than the active one that this gateway refused to activate because it no
   * longer compiles (e.g. the schema changed with an upgrade); the active set stayed. Null when
   * none.
   */
  refusedStoredSet: { version: number; message: string } | null;
}

export interface GuardrailAdministrationLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export interface GuardrailAdministrationOptions {
  /** Holds the baseline set (default or file) until a stored set replaces it. */
  guardrails: Guardrails;
  baselineSource: 'default' | 'file';
  store: GuardrailSetStore;
  clock: Clock;
  log: GuardrailAdministrationLog;
}

interface ActiveSetFacts {
  source: GuardrailSource;
  version: number | null;
  sha256: string;
  replacedAtMs: number | null;
  replacedBy: GuardrailEditor | null;
}

/**
 * The platform operator's guardrails at run time (docs/reference/cedar-guardrails.md). Root-tenant
 * administrators read and replace the active set; a replacement is compiled and validated first
 * (a refused set changes nothing), then stored as the next version in the metadata database, then
 * activated. Every gateway reads the newest stored version at start and then at most every
 * GUARDRAIL_REFRESH_INTERVAL_MS, so a replacement reaches all gateways sharing the database, and
 * survives restarts. A stored set that no longer compiles is never activated: the gateway keeps
 * the set it has (at start, the default or file set), logs, and says so in `describe`, so the
 * platform never runs unguarded.
 */
export class GuardrailAdministration {
  readonly #guardrails: Guardrails;
  readonly #store: GuardrailSetStore;
  readonly #clock: Clock;
  readonly #log: GuardrailAdministrationLog;
  #active: ActiveSetFacts;
  /** The highest stored version this gateway has activated or refused. */
  #seenVersion = 0;
  #refusedStoredSet: { version: number; message: string } | null = null;
  #refreshing: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;

  constructor(options: GuardrailAdministrationOptions) {
    this.#guardrails = options.guardrails;
    this.#store = options.store;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#active = {
      source: options.baselineSource,
      version: null,
      sha256: guardrailTextSha256(options.guardrails.active.text),
      replacedAtMs: null,
      replacedBy: null,
    };
  }

  /** Root-tenant administrators read the active set. */
  describe(caller: Caller): GuardrailSetDescription {
    requirePlatformOperator(caller, 'GetGuardrails');
    return this.#description();
  }

  /**
   * Replaces the platform's guardrails with `text` (root-tenant administrators). InvalidGuardrails,
   * with the validator's messages, when the set does not compile: then nothing is stored and the
   * previous set stays active.
   */
  async replace(caller: Caller, text: string): Promise<GuardrailSetDescription> {
    requirePlatformOperator(caller, 'PutGuardrails');
    const compiled = this.#guardrails.compile(text);
    const stored = await this.#store.append({
      format: GUARDRAIL_SET_FORMAT,
      text,
      sha256: guardrailTextSha256(text),
      replacedAtMs: this.#clock.nowMs(),
      replacedBy: { principalId: caller.principalId, tenantId: caller.tenantId },
    });
    this.#activateStored(stored, compiled);
    return this.#description();
  }

  /**
   * Activates the newest stored set when it is newer than what this gateway has seen. Awaited at
   * start, before the server serves; then run by `start`. Concurrent calls share one read.
   */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refreshOnce().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  /** Checks for a newer stored set every `intervalMs`; a failed check is logged and retried. */
  start(intervalMs: number = GUARDRAIL_REFRESH_INTERVAL_MS): void {
    this.#timer = setInterval(() => {
      this.refresh().catch((error: unknown) =>
        this.#log.warn({ err: error }, 'could not read the stored guardrails; the active set stays'),
      );
    }, intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#refreshing?.catch(() => undefined);
  }

  async #refreshOnce(): Promise<void> {
    if ((await this.#store.latestVersion()) <= this.#seenVersion) return;
    const stored = await this.#store.latest();
    if (stored === null || stored.version <= this.#seenVersion) return;
    let compiled: CompiledGuardrails;
    try {
      if (stored.format !== GUARDRAIL_SET_FORMAT) {
        throw guardrailError(
          'InvalidGuardrails',
          `Guardrails refused: stored format ${stored.format} is not known to this release (format ${GUARDRAIL_SET_FORMAT})`,
        );
      }
      compiled = this.#guardrails.compile(stored.text);
    } catch (error) {
      if (!(error instanceof GuardrailError && error.code === 'InvalidGuardrails')) throw error;
      this.#seenVersion = stored.version;
      this.#refusedStoredSet = { version: stored.version, message: error.message };
      this.#log.error(
        { version: stored.version, sha256: stored.sha256, activeSource: this.#active.source, err: error },
        'the stored guardrail set does not compile and was not activated; the active set stays',
      );
      return;
    }
    if (this.#activateStored(stored, compiled)) {
      this.#log.info(
        { version: stored.version, sha256: stored.sha256, replacedBy: stored.replacedBy.principalId },
        'guardrails activated from the metadata database',
      );
    }
  }

  /**
   * Makes a stored set active unless a newer one already is (two replacements racing on one
   * gateway, or a refresh that got ahead of a replacement): the highest version always wins.
   */
  #activateStored(stored: StoredGuardrailSet, compiled: CompiledGuardrails): boolean {
    this.#seenVersion = Math.max(this.#seenVersion, stored.version);
    if (this.#active.version !== null && stored.version <= this.#active.version) return false;
    this.#guardrails.activate(compiled);
    this.#active = {
      source: 'api',
      version: stored.version,
      sha256: stored.sha256,
      replacedAtMs: stored.replacedAtMs,
      replacedBy: stored.replacedBy,
    };
    if (this.#refusedStoredSet !== null && this.#refusedStoredSet.version < stored.version) {
      this.#refusedStoredSet = null;
    }
    return true;
  }

  #description(): GuardrailSetDescription {
    const active = this.#guardrails.active;
    return {
      text: active.text,
      sha256: this.#active.sha256,
      source: this.#active.source,
      version: this.#active.version,
      replacedAt: this.#active.replacedAtMs === null ? null : new Date(this.#active.replacedAtMs),
      replacedBy: this.#active.replacedBy,
      policyIds: [...active.policies.keys()],
      refusedStoredSet: this.#refusedStoredSet,
    };
  }
}

/** The SHA-256 of a guardrail text as lower-case hex: what GET answers and audit records name. */
export function guardrailTextSha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Guardrails bound every tenant, so only the platform operator (root-tenant administrators) sets them. */
function requirePlatformOperator(caller: Caller, action: GuardrailAdminAction): void {
  if (caller.isTenantAdmin && caller.tenantId === ROOT_TENANT_ID) return;
  throw identityError(
    'AccessDenied',
    `principal ${caller.principalId} is not authorized to perform: sovra:${action} on resource: ${GUARDRAILS_RESOURCE} because only administrators of the root tenant manage the platform guardrails`,
    { action: `sovra:${action}`, resource: GUARDRAILS_RESOURCE },
  );
}

/** The resource name of the platform guardrails in refusals and audit records. */
export const GUARDRAILS_RESOURCE = 'sovra:guardrails';
