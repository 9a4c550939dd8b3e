import type { KmsErrorCode } from '../../domain/kms/errors.ts';
import type { XksErrorCode } from '../../domain/kms/xks.ts';
import { LIMITS } from '../../platform/limits.ts';
import { isSovraError, SovraError } from '../../platform/errors.ts';
import type { SigV4ErrorCode } from '../sigv4/errors.ts';

/** Errors that only exist at the XKS wire: routing and request shape. */
export type XksProtocolErrorCode =
  'InvalidUriPath' | 'MethodNotAllowed' | 'MalformedRequest' | 'RequestTooLarge';

export class XksProtocolError extends SovraError<XksProtocolErrorCode> {}

export function xksProtocolError(code: XksProtocolErrorCode, message: string): XksProtocolError {
  return new XksProtocolError(code, message);
}

/** An XKS error: the body's `errorName` and the HTTP status (spec "Error codes"). */
export interface XksWireError {
  errorName: XksErrorName;
  status: number;
}

/** The error names of the spec's table, with the statuses it fixes for them. */
export const XKS_ERROR_STATUS = {
  ValidationException: 400,
  InvalidStateException: 400,
  InvalidCiphertextException: 400,
  InvalidKeyUsageException: 400,
  AuthenticationFailedException: 401,
  AccessDeniedException: 403,
  KeyNotFoundException: 404,
  InvalidUriPathException: 404,
  ThrottlingException: 429,
  UnsupportedOperationException: 501,
  DependencyTimeoutException: 503,
  InternalException: 500,
} as const;
export type XksErrorName = keyof typeof XKS_ERROR_STATUS;

type KnownCode = KmsErrorCode | SigV4ErrorCode | XksErrorCode | XksProtocolErrorCode;

/**
 * The one table from Sovra's error codes to XKS error names. Every SigV4 failure, the replay
 * window included, is AuthenticationFailedException (spec "Authentication", "Appendix A" Task 4).
 * A sealed or uninitialised root of trust blocks the key store: InvalidStateException, which KMS
 * reports as "not enabled in the external key manager" (spec "Error codes", KMS considerations);
 * an unreachable HSM is a failing dependency: InternalException.
 */
const XKS_ERRORS: Record<KnownCode, XksErrorName> = {
  // key management domain
  Sealed: 'InvalidStateException',
  NotInitialized: 'InvalidStateException',
  RootUnavailable: 'InternalException',
  UnsealFailed: 'InternalException',
  AlreadyInitialized: 'ValidationException',
  KeyNotFound: 'KeyNotFoundException',
  AliasNotFound: 'KeyNotFoundException',
  KeyDisabled: 'InvalidStateException',
  KeyInvalidState: 'InvalidStateException',
  InvalidCiphertext: 'InvalidCiphertextException',
  IncorrectKey: 'InvalidCiphertextException',
  KeyUseDenied: 'AccessDeniedException',
  AliasExists: 'ValidationException',
  InvalidKeyUsage: 'InvalidKeyUsageException',
  UnsupportedOperation: 'UnsupportedOperationException',
  Validation: 'ValidationException',
  LimitExceeded: 'ValidationException',
  InvalidSignature: 'ValidationException',
  InvalidAliasName: 'KeyNotFoundException',
  InvalidMarker: 'ValidationException',
  MalformedPolicyDocument: 'ValidationException',
  InvalidTag: 'ValidationException',
  DryRunSucceeded: 'InternalException',
  // XKS domain
  AccessRevoked: 'InvalidStateException',
  NotEnabledForXks: 'KeyNotFoundException',
  // XKS wire
  InvalidUriPath: 'InvalidUriPathException',
  MethodNotAllowed: 'ValidationException',
  MalformedRequest: 'ValidationException',
  RequestTooLarge: 'UnsupportedOperationException',
  // authentication
  AccessDeniedAnonymous: 'AuthenticationFailedException',
  InvalidAccessKeyId: 'AuthenticationFailedException',
  SignatureDoesNotMatch: 'AuthenticationFailedException',
  AuthorizationHeaderMalformed: 'AuthenticationFailedException',
  AuthorizationQueryParametersError: 'AuthenticationFailedException',
  UnsupportedSignatureAlgorithm: 'AuthenticationFailedException',
  HeadersNotSigned: 'AuthenticationFailedException',
  MissingDateHeader: 'AuthenticationFailedException',
  RequestTimeTooSkewed: 'AuthenticationFailedException',
  RequestNotYetValid: 'AuthenticationFailedException',
  RequestExpired: 'AuthenticationFailedException',
  MissingSecurityHeader: 'AuthenticationFailedException',
  XAmzContentSHA256Mismatch: 'AuthenticationFailedException',
  InvalidDigest: 'AuthenticationFailedException',
  IncompleteBody: 'ValidationException',
  InvalidChunkEncoding: 'AuthenticationFailedException',
  InvalidTrailer: 'AuthenticationFailedException',
  ChecksumMismatch: 'AuthenticationFailedException',
  InvalidArgument: 'AuthenticationFailedException',
  InvalidRequest: 'AuthenticationFailedException',
  InvalidURI: 'InvalidUriPathException',
  InvalidToken: 'AuthenticationFailedException',
  ExpiredToken: 'AuthenticationFailedException',
  InactiveAccessKey: 'AuthenticationFailedException',
};

const NAME_OF_CODE = new Map<string, XksErrorName>(Object.entries(XKS_ERRORS));

/**
 * The wire error for anything thrown. Uncoded errors are internal (`known` false): the caller
 * sees InternalException with the request id; the cause goes to the log. A GET (or any method
 * but POST) on an XKS URI is 405 Method Not Allowed (spec "API operations").
 */
export function toXksWireError(error: unknown): XksWireError & { errorMessage: string; known: boolean } {
  const name = isSovraError(error) ? NAME_OF_CODE.get(error.code) : undefined;
  if (name === undefined || !isSovraError(error)) {
    return {
      errorName: 'InternalException',
      status: 500,
      errorMessage: 'An internal error occurred.',
      known: false,
    };
  }
  const status = error.code === 'MethodNotAllowed' ? 405 : XKS_ERROR_STATUS[name];
  return { errorName: name, status, errorMessage: printableMessage(error.message), known: true };
}

/** Spec "Error codes": errorMessage is under 512 characters of printable ASCII. */
export function printableMessage(message: string): string {
  return message.replace(/[^\x20-\x7e]/g, '?').slice(0, LIMITS.xksErrorMessageMaxChars);
}
