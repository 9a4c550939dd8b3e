import { GuardrailError } from '../../domain/guardrails/errors.ts';
import { IdentityError, type IdentityErrorCode } from '../../domain/iam/identity-errors.ts';
import { PolicyError } from '../../domain/iam/policy/index.ts';
import { assertNever, isSovraError, SovraError } from '../../platform/errors.ts';
import { SigV4Error } from '../sigv4/errors.ts';

/** Codes the admin protocol raises itself (routing, the request's shape and transport). */
export type AdminProtocolErrorCode =
  'NotFound' | 'MethodNotAllowed' | 'ValidationError' | 'RequestTooLarge' | 'SecureTransportRequired';

export class AdminProtocolError extends SovraError<AdminProtocolErrorCode> {
  /** Response headers the refusal needs (Allow). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: AdminProtocolErrorCode, message: string, headers: Record<string, string> = {}) {
    super(code, message);
    this.headers = headers;
  }
}

export interface AdminWireError {
  status: number;
  code: string;
  message: string;
}

/**
 * The one table from errors to the admin API's wire errors (`{code, message, requestId}`). Codes
 * follow the AWS IAM API where it has one. Anything uncoded is InternalError without detail; the
 * endpoint logs its cause with the request id.
 */
export function adminWireError(error: unknown): AdminWireError {
  if (error instanceof IdentityError) {
    return { status: identityStatus(error.code), code: error.code, message: error.message };
  }
  if (error instanceof PolicyError) {
    switch (error.code) {
      case 'MalformedPolicy':
        return { status: 400, code: 'MalformedPolicy', message: error.message };
      case 'PolicyTooLarge':
        // IAM answers an oversized document with LimitExceeded ("Cannot exceed quota for PolicySize").
        return { status: 409, code: 'LimitExceeded', message: error.message };
      case 'InvalidRequestContext':
        return internal();
      default:
        return assertNever(error.code, 'policy error code');
    }
  }
  if (error instanceof GuardrailError) {
    switch (error.code) {
      case 'InvalidGuardrails':
        // The operator's set did not parse or validate: the message carries the validator's.
        return { status: 400, code: 'InvalidGuardrails', message: error.message };
      case 'InvalidGuardrailRequest':
        return internal();
      default:
        return assertNever(error.code, 'guardrail error code');
    }
  }
  if (error instanceof AdminProtocolError) {
    return { status: protocolStatus(error.code), code: error.code, message: error.message };
  }
  if (error instanceof SigV4Error) {
    // Every authentication failure is a refusal to act. AWS JSON APIs call the unsigned request
    // MissingAuthenticationToken; the other codes keep the names S3 clients know.
    const code = error.code === 'AccessDeniedAnonymous' ? 'MissingAuthenticationToken' : error.code;
    return { status: 403, code, message: error.message };
  }
  if (isSovraError(error) && error.code === 'Sealed')
    return { status: 503, code: 'ServiceUnavailable', message: error.message };
  return internal();
}

function internal(): AdminWireError {
  return { status: 500, code: 'InternalError', message: 'internal error' };
}

function identityStatus(code: IdentityErrorCode): number {
  switch (code) {
    case 'NoSuchEntity':
      return 404;
    case 'EntityAlreadyExists':
    case 'LimitExceeded':
    case 'DeleteConflict':
      return 409;
    case 'ValidationError':
      return 400;
    case 'AccessDenied':
      return 403;
    default:
      return assertNever(code, 'identity error code');
  }
}

function protocolStatus(code: AdminProtocolErrorCode): number {
  switch (code) {
    case 'NotFound':
      return 404;
    case 'MethodNotAllowed':
      return 405;
    case 'ValidationError':
    case 'SecureTransportRequired':
      return 400;
    case 'RequestTooLarge':
      return 413;
    default:
      return assertNever(code, 'admin protocol error code');
  }
}

/** Every code the table can produce, with its status: the OpenAPI document lists them. */
export const ADMIN_ERROR_CODES: readonly { code: string; status: number }[] = [
  { code: 'ValidationError', status: 400 },
  { code: 'MalformedPolicy', status: 400 },
  { code: 'InvalidGuardrails', status: 400 },
  { code: 'SecureTransportRequired', status: 400 },
  { code: 'AccessDenied', status: 403 },
  { code: 'MissingAuthenticationToken', status: 403 },
  { code: 'InvalidAccessKeyId', status: 403 },
  { code: 'SignatureDoesNotMatch', status: 403 },
  { code: 'RequestTimeTooSkewed', status: 403 },
  { code: 'NoSuchEntity', status: 404 },
  { code: 'NotFound', status: 404 },
  { code: 'MethodNotAllowed', status: 405 },
  { code: 'EntityAlreadyExists', status: 409 },
  { code: 'LimitExceeded', status: 409 },
  { code: 'DeleteConflict', status: 409 },
  { code: 'RequestTooLarge', status: 413 },
  { code: 'InternalError', status: 500 },
  { code: 'ServiceUnavailable', status: 503 },
];
