import { SovraError } from '../../../platform/errors.ts';

/**
 * Stable codes of the policy language. `MalformedPolicy` is S3's PutBucketPolicy error and IAM's
 * MalformedPolicyDocument; `PolicyTooLarge` is IAM's LimitExceeded (PolicySize) and S3's
 * MalformedPolicy ("Policies must be less than 20 KB"), so each protocol maps it in its own table.
 * `InvalidRequestContext` is a programming error in the caller (a principal ARN of the wrong
 * tenant, an identity policy passed as a resource policy), never a client's fault.
 */
export type PolicyErrorCode = 'MalformedPolicy' | 'PolicyTooLarge' | 'InvalidRequestContext';

export class PolicyError extends SovraError<PolicyErrorCode> {}

/**
 * A MalformedPolicy error whose message starts with the path of the offending element, such as
 * `Statement[2].Condition.StringEqualz: unknown condition operator "StringEqualz"`.
 */
export function malformedPolicy(path: string, problem: string): PolicyError {
  return new PolicyError('MalformedPolicy', path === '' ? problem : `${path}: ${problem}`, { path });
}
