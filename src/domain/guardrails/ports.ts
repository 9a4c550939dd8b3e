import type { GuardrailDecision, GuardrailRequest } from './types.ts';

/** A validated, ready-to-evaluate guardrail set. Immutable: a new text makes a new set. */
export interface CompiledGuardrails {
  /** The policy text as the operator wrote it. */
  readonly text: string;
  /** Each policy's @id → its text, in the order of the file; what explain prints. */
  readonly policies: ReadonlyMap<string, string>;
  /**
   * False when no policy can tell two entities apart by anything but their attributes: no entity
   * id compared, no hierarchy (`in`), no tags. Then requests that differ only in the principal's
   * or resource's id (another object of the same label) get the same decision, which callers may
   * reuse. Absent means true.
   */
  readonly readsEntityIdentity?: boolean;
  /** Fails with InvalidGuardrailRequest for a malformed request; otherwise decides, failing closed. */
  evaluate(request: GuardrailRequest): GuardrailDecision;
}

/** Turns guardrail policy text into a compiled set (implemented over Cedar in src/adapters/cedar/). */
export interface GuardrailCompiler {
  /**
   * Parses the text and validates it against the platform schema. A set that does not validate
   * fails with InvalidGuardrails, whose details.messages lists the validator's messages.
   */
  compile(text: string): CompiledGuardrails;
  /** Every action name the schema declares (s3:*, kms:*, sovra:*), groups excluded. */
  readonly actions: readonly string[];
}

/**
 * Format of a stored guardrail set: 1 is Cedar policy text validated against the sovra.cedarschema
 * of the release that reads it (docs/reference/cedar-guardrails.md).
 */
export const GUARDRAIL_SET_FORMAT = 1;

/** Who replaced the guardrails: a root-tenant administrator. */
export interface GuardrailEditor {
  principalId: string;
  tenantId: string;
}

/** A guardrail set written through the admin API, as the metadata database keeps it. */
export interface StoredGuardrailSet {
  /** 1, 2, 3, …: each replacement gets the next version, on whichever gateway it happens. */
  version: number;
  /** GUARDRAIL_SET_FORMAT when written by this release; a newer format is refused when read. */
  format: number;
  text: string;
  /** Lower-case hex SHA-256 of the UTF-8 text. */
  sha256: string;
  replacedAtMs: number;
  replacedBy: GuardrailEditor;
}

export type NewGuardrailSet = Omit<StoredGuardrailSet, 'version'>;

/**
 * The replaced guardrail sets, shared by every gateway on the metadata database (implemented in
 * src/adapters/sql/guardrail-set-store.ts). Versions only grow; the highest is the platform's set.
 */
export interface GuardrailSetStore {
  /** The highest stored version, 0 when the guardrails were never replaced. One cheap read. */
  latestVersion(): Promise<number>;
  /** The set of the highest version, or null when there is none. */
  latest(): Promise<StoredGuardrailSet | null>;
  /** Stores `set` as the next version (serialised across gateways) and answers it. */
  append(set: NewGuardrailSet): Promise<StoredGuardrailSet>;
}
