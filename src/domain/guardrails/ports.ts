import type { GuardrailDecision, GuardrailRequest } from './types.ts';

/** A validated, ready-to-evaluate guardrail set. Immutable: a new text makes a new set. */
export interface CompiledGuardrails {
  /** The policy text as the operator wrote it. */
  readonly text: string;
  /** Each policy's @id → its text, in the order of the file; what explain prints. */
  readonly policies: ReadonlyMap<string, string>;
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
