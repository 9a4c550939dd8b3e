import { AuditError } from '../../domain/audit/errors.ts';
import { LockboxError, type LockboxErrorCode } from '../../domain/lockbox/errors.ts';
import { assertNever, isSovraError, SovraError } from '../../platform/errors.ts';
import { SigV4Error } from '../sigv4/errors.ts';

/** Refusals of the access API's own (routing, body) before the domain is asked. */
export type AccessProtocolCode = 'NotFound' | 'MethodNotAllowed' | 'MalformedRequest' | 'RequestTooLarge';

export class AccessProtocolError extends SovraError<AccessProtocolCode> {}

export interface AccessWireError {
  status: number;
  code: string;
  message: string;
}

/**
 * The one table from errors to the access API's wire errors. Lockbox codes go out unchanged (they
 * are stable); an uncoded error is InternalError 500 with the request id, and never its message.
 */
export function wireErrorOf(error: unknown): AccessWireError {
  if (error instanceof AccessProtocolError) {
    const status = { NotFound: 404, MethodNotAllowed: 405, MalformedRequest: 400, RequestTooLarge: 413 }[
      error.code
    ];
    return { status, code: error.code, message: error.message };
  }
  if (error instanceof SigV4Error) return { status: 403, code: error.code, message: error.message };
  if (error instanceof LockboxError)
    return { status: lockboxStatus(error.code), code: error.code, message: error.message };
  if (error instanceof AuditError && error.code === 'LogUnavailable') {
    // Every step is recorded before it is answered: without the log, no step is taken.
    return { status: 503, code: 'ServiceUnavailable', message: 'the audit log is unavailable; try again' };
  }
  if (isSovraError(error) && error.code === 'Sealed')
    return { status: 503, code: 'Sealed', message: error.message };
  return { status: 500, code: 'InternalError', message: 'internal error' };
}

function lockboxStatus(code: LockboxErrorCode): number {
  switch (code) {
    case 'MalformedAccessRequest':
    case 'DurationNotAllowed':
    case 'UnknownNotificationDestination':
      return 400;
    case 'AttestationRequired':
    case 'InvalidAttestation':
    case 'AttestationExpired':
    case 'AttestationRevoked':
    case 'InvalidAttestationRevocation':
    case 'AttestationSubjectMismatch':
    case 'OperatorNotEligible':
    case 'NotAnOperator':
    case 'NotAnApprover':
    case 'SameOperator':
    case 'OperatorAccessDisabled':
    case 'BreakGlassDisabled':
    case 'OutsideApprovedScope':
      return 403;
    case 'NoSuchAccessRequest':
    case 'NoSuchTenant':
      return 404;
    case 'InvalidRequestState':
      return 409;
    case 'InvalidOperatorAccessRules':
    case 'InvalidAttestationKeys':
      return 500;
    default:
      return assertNever(code, 'lockbox error code');
  }
}
