import { assertNever } from '../../platform/errors.ts';
import { LIMITS } from '../../platform/limits.ts';
import { kmsError } from './errors.ts';
import type { KeyUseJustification } from './justification.ts';

/** The only key policy name AWS KMS has (https://docs.aws.amazon.com/kms/latest/APIReference/API_GetKeyPolicy.html). */
export const DEFAULT_POLICY_NAME = 'default';

/**
 * The default key policy, as AWS writes it for a key created through the API without a policy
 * (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html): the account —
 * here the tenant — may do everything with the key, which delegates access to identity policies.
 * Allow statements are stored and returned but not evaluated yet (until IAM policies land, tenant
 * administrators may use all of their tenant's keys); Deny statements are enforced on key use
 * (evaluateKeyUse below).
 */
export function defaultKeyPolicy(tenantId: string): string {
  return JSON.stringify(
    {
      Version: '2012-10-17',
      Id: 'key-default-1',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${tenantId}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    },
    null,
    2,
  );
}

/**
 * Checks a policy document the way AWS does before storing it: at most 32 KiB, a JSON object
 * with a Statement (one statement or a list of them), each with an Effect of Allow or Deny.
 * Anything else is MalformedPolicyDocument.
 */
export function checkKeyPolicy(document: string): string {
  if (document.length === 0 || Buffer.byteLength(document, 'utf8') > LIMITS.kmsKeyPolicyMaxBytes) {
    throw kmsError(
      'MalformedPolicyDocument',
      `The key policy must be between 1 and ${LIMITS.kmsKeyPolicyMaxBytes} bytes`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(document);
  } catch {
    throw kmsError('MalformedPolicyDocument', 'The key policy is not valid JSON');
  }
  if (!isObject(parsed)) throw kmsError('MalformedPolicyDocument', 'The key policy must be a JSON object');
  const statements: unknown = parsed.Statement;
  const list: unknown[] = Array.isArray(statements) ? statements : [statements];
  if (statements === undefined || list.length === 0) {
    throw kmsError('MalformedPolicyDocument', 'The key policy must contain a Statement');
  }
  for (const statement of list) {
    if (!isObject(statement) || (statement.Effect !== 'Allow' && statement.Effect !== 'Deny')) {
      throw kmsError('MalformedPolicyDocument', 'Every policy statement needs an Effect of Allow or Deny');
    }
    // Deny statements are enforced, so they must be understood; a Deny Sovra cannot evaluate is
    // refused when stored rather than silently ignored at use.
    if (statement.Effect === 'Deny') compileDeny(statement);
  }
  return document;
}

export function checkPolicyName(name: string): void {
  if (name !== DEFAULT_POLICY_NAME) {
    throw kmsError(
      'KeyNotFound',
      `No such key policy: ${name}; the only key policy name is ${DEFAULT_POLICY_NAME}`,
    );
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---- evaluation -----------------------------------------------------------------------------------

/**
 * Condition keys a key policy may test on a key use. `aws:PrincipalArn` is the caller's ARN in
 * the form `arn:aws:iam::<tenant>:user/<principal id>` (the tenant plays the AWS account).
 */
export const KEY_POLICY_CONDITION_KEYS = [
  'sovra:justificationreason',
  'sovra:principalid',
  'aws:principalarn',
  'sovra:requestjurisdiction',
  'sovra:service',
] as const;

/**
 * String condition operators of the IAM policy language
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_String).
 */
const OPERATORS = [
  'StringEquals',
  'StringNotEquals',
  'StringEqualsIgnoreCase',
  'StringNotEqualsIgnoreCase',
  'StringLike',
  'StringNotLike',
] as const;
type Operator = (typeof OPERATORS)[number];

interface CompiledCondition {
  operator: Operator;
  /** Lower-case condition key, as IAM condition keys are case-insensitive. */
  key: string;
  values: string[];
}

interface CompiledDeny {
  sid: string | null;
  actions: RegExp[];
  principals: RegExp[] | null;
  conditions: CompiledCondition[];
}

export type KeyUseDecision = { granted: true } | { granted: false; denialReason: string };

/** The principal ARN a key policy's `aws:PrincipalArn` and `Principal` see for a caller. */
export function principalArnOf(tenantId: string, principalId: string): string {
  return `arn:aws:iam::${tenantId}:user/${principalId}`;
}

/**
 * Decides a key use under a key's policy, as IAM does for the statements Sovra evaluates: an
 * explicit Deny whose Action, Principal and every Condition match denies, whatever any Allow
 * says (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
 * Within a condition block operators and keys are ANDed and a key's values ORed; a key absent
 * from the request matches no positive operator and every negated one.
 */
export function evaluateKeyUse(
  policy: string,
  action: string,
  justification: KeyUseJustification,
): KeyUseDecision {
  const denies = compiledDenies(policy);
  if (denies.length === 0) return GRANTED;
  const principalArn = principalArnOf(justification.tenantId, justification.principalId);
  const context = new Map<string, string>([
    ['sovra:justificationreason', justification.reason],
    ['sovra:principalid', justification.principalId],
    ['aws:principalarn', principalArn],
    ['sovra:requestjurisdiction', justification.jurisdiction],
    ['sovra:service', justification.service],
  ]);
  for (const deny of denies) {
    if (!deny.actions.some((pattern) => pattern.test(action))) continue;
    if (deny.principals !== null && !deny.principals.some((pattern) => pattern.test(principalArn))) continue;
    if (!deny.conditions.every((condition) => conditionHolds(condition, context.get(condition.key))))
      continue;
    const by = deny.sid === null ? 'an explicit deny' : `statement ${JSON.stringify(deny.sid)}`;
    return {
      granted: false,
      denialReason: `${action} with justification ${justification.reason} from jurisdiction ${justification.jurisdiction} is denied by the key policy (${by})`,
    };
  }
  return GRANTED;
}

const GRANTED: KeyUseDecision = { granted: true };

/** Compiled Deny statements by policy text: policies are few and change rarely, uses are many. */
const compiledCache = new Map<string, CompiledDeny[]>();
const COMPILED_CACHE_MAX = 1024;

function compiledDenies(policy: string): CompiledDeny[] {
  const cached = compiledCache.get(policy);
  if (cached !== undefined) return cached;
  let compiled: CompiledDeny[];
  try {
    const parsed: unknown = JSON.parse(policy);
    const statements: unknown = isObject(parsed) ? parsed.Statement : undefined;
    const list: unknown[] = Array.isArray(statements) ? statements : [statements];
    compiled = list.filter((s) => isObject(s) && s.Effect === 'Deny').map((s) => compileDeny(s));
  } catch (error) {
    // Stored policies were checked when written; one that no longer parses is a corrupt row.
    throw new Error('a stored key policy could not be evaluated', { cause: error });
  }
  if (compiledCache.size >= COMPILED_CACHE_MAX) compiledCache.clear();
  compiledCache.set(policy, compiled);
  return compiled;
}

function compileDeny(statement: unknown): CompiledDeny {
  if (!isObject(statement)) throw malformed('A policy statement must be an object');
  if (statement.NotAction !== undefined || statement.NotPrincipal !== undefined) {
    throw malformed('Sovra does not evaluate NotAction or NotPrincipal in Deny statements');
  }
  const sid = typeof statement.Sid === 'string' ? statement.Sid : null;
  const actions = stringList(statement.Action, 'Action').map((action) => wildcard(action, true));
  if (actions.length === 0) throw malformed('A Deny statement needs an Action');
  return {
    sid,
    actions,
    principals: compilePrincipal(statement.Principal),
    conditions: compileConditions(statement.Condition),
  };
}

function compilePrincipal(principal: unknown): RegExp[] | null {
  if (principal === undefined || principal === '*') return null;
  if (!isObject(principal) || Object.keys(principal).some((name) => name !== 'AWS')) {
    throw malformed('A Deny statement\'s Principal must be "*" or {"AWS": ...}');
  }
  const arns = stringList(principal.AWS, 'Principal.AWS');
  if (arns.includes('*')) return null;
  return arns.map((arn) => wildcard(arn, false));
}

function compileConditions(block: unknown): CompiledCondition[] {
  if (block === undefined) return [];
  if (!isObject(block)) throw malformed('Condition must be an object');
  const conditions: CompiledCondition[] = [];
  for (const [operatorName, tests] of Object.entries(block)) {
    const operator = OPERATORS.find((candidate) => candidate === operatorName);
    if (operator === undefined) {
      throw malformed(`Sovra does not evaluate the condition operator ${operatorName} in Deny statements`);
    }
    if (!isObject(tests)) throw malformed(`Condition ${operatorName} must be an object`);
    for (const [keyName, values] of Object.entries(tests)) {
      const key = keyName.toLowerCase();
      if (!KEY_POLICY_CONDITION_KEYS.some((known) => known === key)) {
        throw malformed(`Sovra does not know the condition key ${keyName}`);
      }
      conditions.push({ operator, key, values: stringList(values, `${operatorName}.${keyName}`) });
    }
  }
  return conditions;
}

function conditionHolds(condition: CompiledCondition, value: string | undefined): boolean {
  const matches = (test: (expected: string) => boolean): boolean =>
    value !== undefined && condition.values.some(test);
  switch (condition.operator) {
    case 'StringEquals':
      return matches((expected) => expected === value);
    case 'StringNotEquals':
      return !matches((expected) => expected === value);
    case 'StringEqualsIgnoreCase':
      return matches((expected) => expected.toLowerCase() === value?.toLowerCase());
    case 'StringNotEqualsIgnoreCase':
      return !matches((expected) => expected.toLowerCase() === value?.toLowerCase());
    case 'StringLike':
      return matches((expected) => wildcard(expected, false).test(value ?? ''));
    case 'StringNotLike':
      return !matches((expected) => wildcard(expected, false).test(value ?? ''));
    default:
      return assertNever(condition.operator, 'condition operator');
  }
}

function stringList(value: unknown, field: string): string[] {
  const list: unknown[] = Array.isArray(value) ? value : [value];
  if (value === undefined || !list.every((item): item is string => typeof item === 'string')) {
    throw malformed(`${field} must be a string or a list of strings`);
  }
  return list;
}

/** IAM wildcards: `*` any run of characters, `?` one; actions compare case-insensitively. */
function wildcard(pattern: string, ignoreCase: boolean): RegExp {
  const body = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`, ignoreCase ? 'is' : 's');
}

function malformed(message: string) {
  return kmsError('MalformedPolicyDocument', message);
}
