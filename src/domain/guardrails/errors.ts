import { SovraError } from '../../platform/errors.ts';

/**
 * Stable codes of the guardrails domain. InvalidGuardrails is an operator's refused policy set
 * (its details carry the validator's messages); InvalidGuardrailRequest is a request Sovra built
 * wrongly or from hostile input, and is never evaluated.
 */
export type GuardrailErrorCode = 'InvalidGuardrails' | 'InvalidGuardrailRequest';

export class GuardrailError extends SovraError<GuardrailErrorCode> {}

export function guardrailError(
  code: GuardrailErrorCode,
  message: string,
  details: Record<string, unknown> = {},
): GuardrailError {
  return new GuardrailError(code, message, details);
}
