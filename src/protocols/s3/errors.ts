import type { ClassificationErrorCode } from '../../domain/classification/errors.ts';
import type { IamErrorCode } from '../../domain/iam/errors.ts';
import type { PolicyErrorCode } from '../../domain/iam/policy/index.ts';
import type { KmsErrorCode } from '../../domain/kms/errors.ts';
import type { StorageErrorCode } from '../../domain/storage/errors.ts';
import { SovraError } from '../../platform/errors.ts';
import type { SigV4ErrorCode } from '../sigv4/errors.ts';

/** Errors that only exist at the S3 wire: request shape, headers, XML bodies. */
export type S3ProtocolErrorCode =
  | 'MalformedXML'
  | 'InvalidArgument'
  | 'InvalidRequest'
  | 'NotImplemented'
  | 'MethodNotAllowed'
  | 'InvalidURI'
  | 'MissingContentLength'
  | 'InvalidDigest'
  | 'MetadataTooLarge'
  | 'AccessControlListNotSupported'
  | 'InvalidStorageClass'
  | 'InvalidTag'
  | 'RequestHeaderSectionTooLarge'
  | 'MissingRequestBodyError'
  // CORS and browser-based uploads (POST Object)
  | 'NoSuchCORSConfiguration'
  | 'CORSNotAllowed'
  | 'BadRequest'
  | 'BadDigest'
  | 'InvalidPolicyDocument'
  | 'PostPolicyViolated'
  | 'MalformedPOSTRequest'
  | 'MaxPostPreDataLengthExceeded'
  | 'EntityTooSmall'
  | 'EntityTooLarge'
  | 'NoSuchLifecycleConfiguration'
  | 'ServerSideEncryptionConfigurationNotFoundError'
  | 'NoSuchBucketPolicy';

export class S3ProtocolError extends SovraError<S3ProtocolErrorCode> {}

export function s3Error(
  code: S3ProtocolErrorCode,
  message: string,
  details: Record<string, unknown> = {},
): S3ProtocolError {
  return new S3ProtocolError(code, message, details);
}

export interface S3WireError {
  code: string;
  status: number;
}

type KnownCode =
  | Extract<KmsErrorCode, 'Sealed'>
  | StorageErrorCode
  | SigV4ErrorCode
  | IamErrorCode
  | PolicyErrorCode
  | ClassificationErrorCode
  | S3ProtocolErrorCode;

/**
 * The one table from Sovra's error codes to S3's wire errors
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList).
 */
const S3_ERRORS: Record<KnownCode, S3WireError> = {
  // storage domain
  BucketNotFound: { code: 'NoSuchBucket', status: 404 },
  BucketNotEmpty: { code: 'BucketNotEmpty', status: 409 },
  BucketAlreadyExists: { code: 'BucketAlreadyExists', status: 409 },
  BucketAlreadyOwnedByYou: { code: 'BucketAlreadyOwnedByYou', status: 409 },
  InvalidBucketName: { code: 'InvalidBucketName', status: 400 },
  ObjectNotFound: { code: 'NoSuchKey', status: 404 },
  VersionNotFound: { code: 'NoSuchVersion', status: 404 },
  KeyTooLong: { code: 'KeyTooLongError', status: 400 },
  InvalidObjectKey: { code: 'InvalidArgument', status: 400 },
  PreconditionFailed: { code: 'PreconditionFailed', status: 412 },
  NotModified: { code: 'NotModified', status: 304 },
  RangeNotSatisfiable: { code: 'InvalidRange', status: 416 },
  UploadNotFound: { code: 'NoSuchUpload', status: 404 },
  InvalidPart: { code: 'InvalidPart', status: 400 },
  InvalidPartOrder: { code: 'InvalidPartOrder', status: 400 },
  PartTooSmall: { code: 'EntityTooSmall', status: 400 },
  EntityTooLarge: { code: 'EntityTooLarge', status: 400 },
  IncompleteBody: { code: 'IncompleteBody', status: 400 },
  DigestMismatch: { code: 'BadDigest', status: 400 },
  ChecksumMismatch: { code: 'BadDigest', status: 400 },
  InvalidChecksum: { code: 'InvalidRequest', status: 400 },
  DataCorrupted: { code: 'InternalError', status: 500 },
  InvalidArgument: { code: 'InvalidArgument', status: 400 },
  MetadataTooLarge: { code: 'MetadataTooLarge', status: 400 },
  ConditionalWriteConflict: { code: 'ConditionalRequestConflict', status: 409 },
  InvalidLocation: { code: 'InvalidLocationConstraint', status: 400 },
  DeleteMarkerNotReadable: { code: 'MethodNotAllowed', status: 405 },
  InvalidCopyRequest: { code: 'InvalidRequest', status: 400 },
  EmptyPartList: { code: 'MalformedXML', status: 400 },
  UnsupportedCondition: { code: 'NotImplemented', status: 501 },
  InvalidVersionId: { code: 'InvalidArgument', status: 400 },
  // Object Lock and tagging: codes and statuses from
  // https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList; S3 refuses
  // to delete or weaken a locked version with AccessDenied.
  ObjectLocked: { code: 'AccessDenied', status: 403 },
  ObjectLockNotEnabled: { code: 'InvalidRequest', status: 400 },
  ObjectLockConfigurationNotFound: { code: 'ObjectLockConfigurationNotFoundError', status: 404 },
  NoSuchObjectLockConfiguration: { code: 'NoSuchObjectLockConfiguration', status: 404 },
  InvalidRetentionPeriod: { code: 'InvalidRetentionPeriod', status: 400 },
  InvalidBucketState: { code: 'InvalidBucketState', status: 409 },
  NoSuchTagSet: { code: 'NoSuchTagSet', status: 404 },
  // Encryption at rest: SSE-C answers as S3 documents them
  // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerSideEncryptionCustomerKeys.html);
  // KMS failures as S3 reports them (KMS.<Exception>), a sealed root of trust as 503, and a key
  // whose deletion completed (crypto-shredded data) as KMS.NotFoundException with a clear message.
  EncryptionKeyMissing: { code: 'InvalidRequest', status: 400 },
  EncryptionKeyMismatch: { code: 'AccessDenied', status: 403 },
  InvalidEncryptionRequest: { code: 'InvalidRequest', status: 400 },
  EncryptionUnavailable: { code: 'ServiceUnavailable', status: 503 },
  EncryptionKeyNotFound: { code: 'KMS.NotFoundException', status: 400 },
  EncryptionKeyDisabled: { code: 'KMS.DisabledException', status: 400 },
  // The key policy refused this use (e.g. its justification); S3 answers AccessDenied.
  EncryptionKeyUseDenied: { code: 'AccessDenied', status: 403 },
  EncryptionKeyInvalidState: { code: 'KMS.KMSInvalidStateException', status: 400 },
  EncryptionKeyDeleted: { code: 'KMS.NotFoundException', status: 400 },
  // authentication (SigV4); while the root of trust is sealed no secret can be unsealed, so no
  // signed request authenticates (docs/decisions/0005)
  Sealed: { code: 'ServiceUnavailable', status: 503 },
  AccessDeniedAnonymous: { code: 'AccessDenied', status: 403 },
  InvalidAccessKeyId: { code: 'InvalidAccessKeyId', status: 403 },
  InactiveAccessKey: { code: 'InvalidAccessKeyId', status: 403 },
  SignatureDoesNotMatch: { code: 'SignatureDoesNotMatch', status: 403 },
  AuthorizationHeaderMalformed: { code: 'AuthorizationHeaderMalformed', status: 400 },
  AuthorizationQueryParametersError: { code: 'AuthorizationQueryParametersError', status: 400 },
  RequestTimeTooSkewed: { code: 'RequestTimeTooSkewed', status: 403 },
  RequestExpired: { code: 'AccessDenied', status: 403 },
  MissingSecurityHeader: { code: 'MissingSecurityHeader', status: 400 },
  XAmzContentSHA256Mismatch: { code: 'XAmzContentSHA256Mismatch', status: 400 },
  InvalidDigest: { code: 'InvalidDigest', status: 400 },
  InvalidChunkEncoding: { code: 'IncompleteBody', status: 400 },
  InvalidTrailer: { code: 'MalformedTrailerError', status: 400 },
  ExpiredToken: { code: 'ExpiredToken', status: 400 },
  InvalidRequest: { code: 'InvalidRequest', status: 400 },
  UnsupportedSignatureAlgorithm: { code: 'InvalidRequest', status: 400 },
  HeadersNotSigned: { code: 'AccessDenied', status: 403 },
  MissingDateHeader: { code: 'AccessDenied', status: 403 },
  RequestNotYetValid: { code: 'AccessDenied', status: 403 },
  InvalidToken: { code: 'InvalidToken', status: 400 },
  // authorization
  AccessDenied: { code: 'AccessDenied', status: 403 },
  ServiceUnavailable: { code: 'ServiceUnavailable', status: 503 },
  // Bucket policies (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html): a policy
  // S3 refuses, too large included ("Policies must be less than 20 KB"), is 400 MalformedPolicy
  // with a message naming the offending element; a bucket without one is 404 NoSuchBucketPolicy.
  MalformedPolicy: { code: 'MalformedPolicy', status: 400 },
  PolicyTooLarge: { code: 'MalformedPolicy', status: 400 },
  InvalidRequestContext: { code: 'InternalError', status: 500 },
  NoSuchBucketPolicy: { code: 'NoSuchBucketPolicy', status: 404 },
  // Security labels in request headers (x-sovra-classification, x-sovra-compartments): a label
  // the active scheme does not have, or a malformed one, is the client's InvalidArgument. A bad
  // scheme is the server's configuration, never the client's fault.
  UnknownLevel: { code: 'InvalidArgument', status: 400 },
  UnknownCompartment: { code: 'InvalidArgument', status: 400 },
  MalformedLabel: { code: 'InvalidArgument', status: 400 },
  LabelBelowBucket: { code: 'InvalidArgument', status: 400 },
  InvalidClassificationScheme: { code: 'InternalError', status: 500 },
  UnsupportedSchemeFormat: { code: 'InternalError', status: 500 },
  UnknownProfile: { code: 'InternalError', status: 500 },
  // S3 wire
  MalformedXML: { code: 'MalformedXML', status: 400 },
  NotImplemented: { code: 'NotImplemented', status: 501 },
  MethodNotAllowed: { code: 'MethodNotAllowed', status: 405 },
  InvalidURI: { code: 'InvalidURI', status: 400 },
  MissingContentLength: { code: 'MissingContentLength', status: 411 },
  AccessControlListNotSupported: { code: 'AccessControlListNotSupported', status: 400 },
  InvalidStorageClass: { code: 'InvalidStorageClass', status: 400 },
  InvalidTag: { code: 'InvalidTag', status: 400 },
  RequestHeaderSectionTooLarge: { code: 'RequestHeaderSectionTooLarge', status: 400 },
  MissingRequestBodyError: { code: 'MissingRequestBodyError', status: 400 },
  // CORS: preflights S3 refuses are 403 AccessForbidden, malformed ones 400 BadRequest
  // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors-troubleshooting.html).
  NoSuchCORSConfiguration: { code: 'NoSuchCORSConfiguration', status: 404 },
  CORSNotAllowed: { code: 'AccessForbidden', status: 403 },
  BadRequest: { code: 'BadRequest', status: 400 },
  BadDigest: { code: 'BadDigest', status: 400 },
  // POST Object: a policy that is not well formed is 400 InvalidPolicyDocument; a form the policy
  // does not allow (expired, a failed condition, an extra field) is 403 AccessDenied.
  InvalidPolicyDocument: { code: 'InvalidPolicyDocument', status: 400 },
  PostPolicyViolated: { code: 'AccessDenied', status: 403 },
  MalformedPOSTRequest: { code: 'MalformedPOSTRequest', status: 400 },
  MaxPostPreDataLengthExceeded: { code: 'MaxPostPreDataLengthExceeded', status: 400 },
  EntityTooSmall: { code: 'EntityTooSmall', status: 400 },
  NoSuchLifecycleConfiguration: { code: 'NoSuchLifecycleConfiguration', status: 404 },
  ServerSideEncryptionConfigurationNotFoundError: {
    code: 'ServerSideEncryptionConfigurationNotFoundError',
    status: 404,
  },
};

const INTERNAL: S3WireError = { code: 'InternalError', status: 500 };

/**
 * Maps any thrown value to the S3 error to send. Uncoded errors are internal: the client sees
 * only InternalError and the request id; the cause goes to the log.
 */
export function toS3WireError(error: unknown): S3WireError & { message: string; known: boolean } {
  if (error instanceof SovraError) {
    const code: string = (error as SovraError).code;
    const wire = (S3_ERRORS as Record<string, S3WireError | undefined>)[code];
    if (wire !== undefined) {
      const message =
        wire.status === 500 ? 'We encountered an internal error. Please try again.' : error.message;
      return { ...wire, message, known: wire.status !== 500 };
    }
  }
  return { ...INTERNAL, message: 'We encountered an internal error. Please try again.', known: false };
}
