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
