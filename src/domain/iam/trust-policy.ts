import { roleArn } from './identity-arns.ts';
import { TRUST_POLICY_SIZE_LIMIT } from './limits.ts';
import { parsePolicy, PolicyError, POLICY_TEXT_MAX_CHARS, type CompiledPolicy } from './policy/index.ts';
import { malformedPolicy } from './policy/errors.ts';
import { isJsonObject, readJson, type JsonValue } from './policy/json.ts';
import { POLICY_JSON_MAX_DEPTH } from './policy/limits.ts';

/**
 * A role's trust policy: the resource policy of the role itself, saying who may assume it
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#term_trust-policy).
 * AWS refuses a Resource in it ("Has prohibited field Resource": the resource is the role) and
 * allows only AWS STS actions. It is checked here and compiled with the role's ARN as its
 * resource, so that AssumeRole can evaluate it as any other resource policy.
 */
export function parseTrustPolicy(text: string, tenantId: string, roleName: string): CompiledPolicy {
  if (text.length > POLICY_TEXT_MAX_CHARS) throw tooLarge();
  // The strict reader first: line and column of syntax errors, duplicate keys refused, AWS's size.
  const json = readJson(text, POLICY_JSON_MAX_DEPTH);
  if (json.characters > TRUST_POLICY_SIZE_LIMIT.maxSize) throw tooLarge();
  if (!isJsonObject(json.value)) throw malformedPolicy('', 'the policy must be a JSON object');
  const statements = statementsOf(json.value);
  statements.forEach(({ value, path }) => {
    if (isJsonObject(value)) {
      for (const prohibited of ['Resource', 'NotResource']) {
        if (value.has(prohibited)) {
          throw malformedPolicy(
            `${path}.${prohibited}`,
            'a trust policy must not have a Resource: its resource is the role',
          );
        }
      }
    }
  });
  // Well-formed and free of duplicates (readJson), so JSON.parse reads exactly the same document.
  const document = JSON.parse(text) as { Statement: unknown };
  const arn = roleArn(tenantId, roleName);
  const withResource = Array.isArray(document.Statement)
    ? document.Statement.map((statement: unknown) => addResource(statement, arn))
    : addResource(document.Statement, arn);
  const policy = parsePolicy(JSON.stringify({ ...document, Statement: withResource }), {
    kind: 'resource',
    sizeLimit: { maxSize: POLICY_TEXT_MAX_CHARS, unit: 'characters' },
  });
  for (const statement of policy.statements) {
    const { action } = statement.source;
    const path = statement.source.path;
    if (action.negated) {
      throw malformedPolicy(
        `${path}.NotAction`,
        'a trust policy names its actions (sts:AssumeRole, …) with Action',
      );
    }
    action.values.forEach((value, index) => {
      if (!value.toLowerCase().startsWith('sts:')) {
        throw malformedPolicy(
          action.values.length === 1 ? `${path}.Action` : `${path}.Action[${index}]`,
          `a trust policy allows only AWS STS actions such as "sts:AssumeRole", not ${JSON.stringify(value)}`,
        );
      }
    });
  }
  return policy;
}

function statementsOf(value: JsonValue): { value: JsonValue; path: string }[] {
  if (!isJsonObject(value)) return [];
  const statement = value.get('Statement');
  if (statement === undefined) return [];
  if (Array.isArray(statement))
    return statement.map((item, index) => ({ value: item, path: `Statement[${index}]` }));
  return [{ value: statement, path: 'Statement' }];
}

function addResource(statement: unknown, arn: string): unknown {
  if (typeof statement !== 'object' || statement === null || Array.isArray(statement)) return statement;
  return { ...statement, Resource: arn };
}

function tooLarge(): PolicyError {
  return new PolicyError(
    'PolicyTooLarge',
    `a trust policy is at most ${TRUST_POLICY_SIZE_LIMIT.maxSize} characters (whitespace between JSON tokens is not counted)`,
    { maxSize: TRUST_POLICY_SIZE_LIMIT.maxSize, unit: 'characters' },
  );
}
