import { SovraError } from '../../platform/errors.ts';

/**
 * Stable codes of the key management domain. The KMS JSON protocol maps them to AWS KMS
 * exception names, the S3 protocol to S3 errors, each in its own table.
 */
export type KmsErrorCode =
  | 'Sealed'
  | 'RootUnavailable'
  | 'UnsealFailed'
  | 'AlreadyInitialized'
  | 'NotInitialized'
  | 'KeyNotFound'
  | 'KeyDisabled'
  | 'KeyInvalidState'
  | 'InvalidCiphertext'
  | 'IncorrectKey'
  | 'KeyUseDenied'
  | 'AliasExists'
  | 'AliasNotFound'
  | 'InvalidKeyUsage'
  | 'UnsupportedOperation'
  | 'Validation'
  | 'LimitExceeded'
  | 'InvalidSignature'
  | 'InvalidAliasName'
  | 'InvalidMarker'
  | 'MalformedPolicyDocument'
  | 'InvalidTag'
  | 'DryRunSucceeded';

export class KmsError extends SovraError<KmsErrorCode> {}

export function kmsError(
  code: KmsErrorCode,
  message: string,
  details: Record<string, unknown> = {},
): KmsError {
  return new KmsError(code, message, details);
}
