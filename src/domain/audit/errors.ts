import { SovraError } from '../../platform/errors.ts';

/** Stable codes of the audit domain; the admin API and CLI map them in one table each. */
export type AuditErrorCode =
  | 'MalformedRecord'
  | 'LogUnavailable'
  | 'LogKeyUnavailable'
  | 'RetentionNotElapsed'
  | 'InvalidQuery'
  | 'NotFound'
  | 'VerificationFailed';

export class AuditError extends SovraError<AuditErrorCode> {}

export function auditError(
  code: AuditErrorCode,
  message: string,
  details: Record<string, unknown> = {},
): AuditError {
  return new AuditError(code, message, details);
}
