import type { IamErrorCode } from '../../domain/iam/errors.ts';
import type { KmsErrorCode } from '../../domain/kms/errors.ts';
import { isSovraError, SovraError } from '../../platform/errors.ts';
import type { SigV4ErrorCode } from '../sigv4/errors.ts';

/** Errors that only exist at the KMS JSON wire: request shape and routing. */
export type KmsProtocolErrorCode = 'Serialization' | 'UnknownOperation' | 'RequestTooLarge';

export class KmsProtocolError extends SovraError<KmsProtocolErrorCode> {}

export function kmsProtocolError(code: KmsProtocolErrorCode, message: string): KmsProtocolError {
  return new KmsProtocolError(code, message);
}

/** An AWS JSON 1.1 error: the `__type` of the body and the HTTP status. */
export interface KmsWireError {
  type: string;
  status: number;
}

type KnownCode = KmsErrorCode | SigV4ErrorCode | IamErrorCode | KmsProtocolErrorCode;

/**
 * The one table from Sovra's error codes to AWS KMS errors
 * (https://docs.aws.amazon.com/kms/latest/APIReference/CommonErrors.html and each operation's
 * "Errors" section). KMS answers 400 for nearly every client error; a sealed or absent root of
 * trust is a 503 KMSInternalException whose message says so, so that SDKs retry and people see why.
 */
const KMS_ERRORS: Record<KnownCode, KmsWireError> = {
  // key management domain
  Sealed: { type: 'KMSInternalException', status: 503 },
  RootUnavailable: { type: 'KMSInternalException', status: 503 },
  NotInitialized: { type: 'KMSInternalException', status: 503 },
  UnsealFailed: { type: 'KMSInternalException', status: 500 },
  AlreadyInitialized: { type: 'ValidationException', status: 400 },
  KeyNotFound: { type: 'NotFoundException', status: 400 },
  AliasNotFound: { type: 'NotFoundException', status: 400 },
  KeyDisabled: { type: 'DisabledException', status: 400 },
  KeyInvalidState: { type: 'KMSInvalidStateException', status: 400 },
  InvalidCiphertext: { type: 'InvalidCiphertextException', status: 400 },
  IncorrectKey: { type: 'IncorrectKeyException', status: 400 },
  KeyUseDenied: { type: 'AccessDeniedException', status: 400 },
  AliasExists: { type: 'AlreadyExistsException', status: 400 },
  InvalidKeyUsage: { type: 'InvalidKeyUsageException', status: 400 },
  UnsupportedOperation: { type: 'UnsupportedOperationException', status: 400 },
  Validation: { type: 'ValidationException', status: 400 },
  LimitExceeded: { type: 'LimitExceededException', status: 400 },
  InvalidSignature: { type: 'KMSInvalidSignatureException', status: 400 },
  InvalidAliasName: { type: 'InvalidAliasNameException', status: 400 },
  InvalidMarker: { type: 'InvalidMarkerException', status: 400 },
  MalformedPolicyDocument: { type: 'MalformedPolicyDocumentException', status: 400 },
  InvalidTag: { type: 'TagException', status: 400 },
  // https://docs.aws.amazon.com/kms/latest/developerguide/programming-dryrun.html
  DryRunSucceeded: { type: 'DryRunOperationException', status: 412 },
  // authentication: the names AWS JSON services use for SigV4 failures
  AccessDeniedAnonymous: { type: 'MissingAuthenticationTokenException', status: 400 },
  InvalidAccessKeyId: { type: 'UnrecognizedClientException', status: 400 },
  InactiveAccessKey: { type: 'UnrecognizedClientException', status: 400 },
  InvalidToken: { type: 'UnrecognizedClientException', status: 400 },
  ExpiredToken: { type: 'ExpiredTokenException', status: 400 },
  SignatureDoesNotMatch: { type: 'InvalidSignatureException', status: 400 },
  RequestTimeTooSkewed: { type: 'InvalidSignatureException', status: 400 },
  RequestNotYetValid: { type: 'InvalidSignatureException', status: 400 },
  RequestExpired: { type: 'InvalidSignatureException', status: 400 },
  HeadersNotSigned: { type: 'InvalidSignatureException', status: 400 },
  XAmzContentSHA256Mismatch: { type: 'InvalidSignatureException', status: 400 },
  AuthorizationHeaderMalformed: { type: 'IncompleteSignatureException', status: 400 },
  AuthorizationQueryParametersError: { type: 'IncompleteSignatureException', status: 400 },
  UnsupportedSignatureAlgorithm: { type: 'IncompleteSignatureException', status: 400 },
  MissingDateHeader: { type: 'IncompleteSignatureException', status: 400 },
  MissingSecurityHeader: { type: 'IncompleteSignatureException', status: 400 },
  InvalidArgument: { type: 'IncompleteSignatureException', status: 400 },
  InvalidRequest: { type: 'IncompleteSignatureException', status: 400 },
  InvalidURI: { type: 'ValidationException', status: 400 },
  InvalidDigest: { type: 'ValidationException', status: 400 },
  ChecksumMismatch: { type: 'ValidationException', status: 400 },
  IncompleteBody: { type: 'SerializationException', status: 400 },
  InvalidChunkEncoding: { type: 'SerializationException', status: 400 },
  InvalidTrailer: { type: 'SerializationException', status: 400 },
  // authorization
  AccessDenied: { type: 'AccessDeniedException', status: 400 },
  ServiceUnavailable: { type: 'DependencyTimeoutException', status: 503 },
  // KMS wire
  Serialization: { type: 'SerializationException', status: 400 },
  UnknownOperation: { type: 'UnknownOperationException', status: 400 },
  RequestTooLarge: { type: 'RequestEntityTooLargeException', status: 413 },
};

const WIRE_ERROR_OF_CODE = new Map<string, KmsWireError>(Object.entries(KMS_ERRORS));
const INTERNAL: KmsWireError = { type: 'KMSInternalException', status: 500 };

/**
 * The wire error for anything thrown. Uncoded errors are internal (`known` false): the client
 * sees KMSInternalException and the request id; the cause goes to the log.
 */
export function toKmsWireError(error: unknown): KmsWireError & { message: string; known: boolean } {
  const wire = isSovraError(error) ? WIRE_ERROR_OF_CODE.get(error.code) : undefined;
  if (wire !== undefined && isSovraError(error)) return { ...wire, message: error.message, known: true };
  return { ...INTERNAL, message: 'An internal error occurred.', known: false };
}
