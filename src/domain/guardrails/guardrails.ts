import type { CompiledGuardrails, GuardrailCompiler } from './ports.ts';
import type { GuardrailDecision, GuardrailRequest } from './types.ts';

/**
 * The active guardrail set of a running platform. `replace` compiles and validates the new text
 * first and only then swaps the reference, so a refused set leaves the previous one active and a
 * request is always evaluated against exactly one whole set (evaluation is synchronous, so no
 * request sees a half-replaced set).
 */
export class Guardrails {
  readonly #compiler: GuardrailCompiler;
  #active: CompiledGuardrails;

  /** Compiles the initial set; an invalid one fails with InvalidGuardrails (the platform must not start unguarded). */
  constructor(compiler: GuardrailCompiler, initialText: string) {
    this.#compiler = compiler;
    this.#active = compiler.compile(initialText);
  }

  get active(): CompiledGuardrails {
    return this.#active;
  }

  /** Validates `text` and makes it the active set; on InvalidGuardrails the previous set stays active. */
  replace(text: string): CompiledGuardrails {
    const next = this.compile(text);
    this.activate(next);
    return next;
  }

  /**
   * Compiles and validates `text` without activating it (InvalidGuardrails when refused), so that
   * a caller can persist a set before it applies: `replace` is `activate(compile(text))`.
   */
  compile(text: string): CompiledGuardrails {
    return this.#compiler.compile(text);
  }

  /** Makes a set returned by `compile` the active one. */
  activate(set: CompiledGuardrails): void {
    this.#active = set;
  }

  evaluate(request: GuardrailRequest): GuardrailDecision {
    return this.#active.evaluate(request);
  }
}

export type FinalDecision =
  { decision: 'allow'; deniedBy: null } | { decision: 'deny'; deniedBy: 'iam' | 'guardrails' };

/**
 * Combines the tenant's IAM decision with the guardrails', as AWS combines identity policies
 * with SCPs: allowed only when IAM allows AND the guardrails allow. A guardrail deny is named
 * even when IAM also denied, since it is the one no tenant can change.
 */
export function combineWithIam(iamDecision: 'allow' | 'deny', guardrails: GuardrailDecision): FinalDecision {
  if (guardrails.decision === 'deny') return { decision: 'deny', deniedBy: 'guardrails' };
  if (iamDecision === 'deny') return { decision: 'deny', deniedBy: 'iam' };
  return { decision: 'allow', deniedBy: null };
}
