import { SovraError } from '../../platform/errors.ts';

/**
 * Stable codes of tenant and identity administration, after the AWS IAM API's errors
 * (https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html and each action's
 * Errors section). Policy documents fail with the policy language's own PolicyError
 * (MalformedPolicy, PolicyTooLarge), which the admin protocol maps in the same table.
 */
export type IdentityErrorCode =
  | 'NoSuchEntity'
  | 'EntityAlreadyExists'
  | 'LimitExceeded'
  | 'DeleteConflict'
  | 'ValidationError'
  | 'AccessDenied';

export class IdentityError extends SovraError<IdentityErrorCode> {}

export function identityError(
  code: IdentityErrorCode,
  message: string,
  details: Record<string, unknown> = {},
): IdentityError {
  return new IdentityError(code, message, details);
}
