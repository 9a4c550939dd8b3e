import { LIMITS } from '../../platform/limits.ts';
import { kmsError } from './errors.ts';

/** The only key policy name AWS KMS has (https://docs.aws.amazon.com/kms/latest/APIReference/API_GetKeyPolicy.html). */
export const DEFAULT_POLICY_NAME = 'default';

/**
 * The default key policy, as AWS writes it for a key created through the API without a policy
 * (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html): the account —
 * here the tenant — may do everything with the key, which delegates access to identity policies.
 * Sovra stores and returns key policies but does not evaluate them yet: until IAM policies land,
 * tenant administrators may use all of their tenant's keys.
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
