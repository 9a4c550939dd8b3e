import { SovraError } from '../../platform/errors.ts';

/**
 * Stable codes of SigV4 verification. The S3 and KMS protocols each map them to wire errors in one
 * table (for S3: AccessDeniedAnonymous, HeadersNotSigned, MissingDateHeader, RequestNotYetValid
 * and RequestExpired → AccessDenied 403; ChecksumMismatch → BadDigest or
 * XAmzContentChecksumMismatch; UnsupportedSignatureAlgorithm → InvalidRequest; the rest keep
 * their S3 names). Messages follow S3's wording where S3 has one, but may change; codes may not.
 */
export type SigV4ErrorCode =
  | 'AccessDeniedAnonymous'
  | 'InvalidAccessKeyId'
  | 'SignatureDoesNotMatch'
  | 'AuthorizationHeaderMalformed'
  | 'AuthorizationQueryParametersError'
  | 'UnsupportedSignatureAlgorithm'
  | 'HeadersNotSigned'
  | 'MissingDateHeader'
  | 'RequestTimeTooSkewed'
  | 'RequestNotYetValid'
  | 'RequestExpired'
  | 'MissingSecurityHeader'
  | 'XAmzContentSHA256Mismatch'
  | 'InvalidDigest'
  | 'IncompleteBody'
  | 'InvalidChunkEncoding'
  | 'InvalidTrailer'
  | 'ChecksumMismatch'
  | 'InvalidArgument'
  | 'InvalidRequest'
  | 'InvalidURI'
  | 'InvalidToken'
  | 'ExpiredToken'
  | 'InactiveAccessKey';

export class SigV4Error extends SovraError<SigV4ErrorCode> {
  constructor(code: SigV4ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.name = 'SigV4Error';
  }
}
