/**
 * The AWS IAM policy language: parse a policy document into a typed structure, compile it for the
 * request path, evaluate requests against identity and resource policies, and tell whether a
 * bucket policy is public. Pure domain code: no I/O, no clock (the caller passes `now`).
 */
export { PolicyError, type PolicyErrorCode } from './errors.ts';
export {
  BUCKET_POLICY_SIZE_LIMIT,
  IDENTITY_POLICY_SIZE_LIMIT,
  KEY_POLICY_SIZE_LIMIT,
  POLICY_TEXT_MAX_CHARS,
  type PolicySizeLimit,
} from './limits.ts';
export {
  parsePolicyDocument,
  type ListElement,
  type ParsePolicyOptions,
  type PolicyCondition,
  type PolicyDocument,
  type PolicyEffect,
  type PolicyKind,
  type PolicyStatement,
  type PolicyVersion,
  type PrincipalElement,
  type PrincipalMap,
  type PrincipalValue,
} from './document.ts';
export { CONDITION_OPERATORS, type ConditionOperator, type SetQualifier } from './conditions.ts';
export { compilePolicy, parsePolicy, type CompiledPolicy, type PrincipalMatch } from './compile.ts';
export {
  buildRequestContext,
  s3ResourceArn,
  type RequestContext,
  type ConditionKeyValues,
  type RequestContextInput,
  type RequestPrincipal,
} from './context.ts';
export {
  authorize,
  evaluatePolicy,
  type AuthorizeOptions,
  type Contribution,
  type Decision,
  type DecisionEffect,
  type LabeledPolicy,
  type PolicySet,
  type StatementMatch,
} from './evaluate.ts';
export { isPublicPolicy } from './public.ts';
