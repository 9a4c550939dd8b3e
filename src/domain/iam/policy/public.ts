import { splitArn } from './arn.ts';
import { parseCidr } from './conditions.ts';
import type { PolicyCondition, PolicyDocument, PolicyStatement } from './document.ts';

/**
 * Whether a bucket policy is public, for GetBucketPolicyStatus and Block Public Access, following
 * "The meaning of 'public'" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status):
 * S3 "begins by assuming that the policy is public" and a policy is non-public only if every
 * statement that grants access grants it to fixed values — a fixed AWS principal, user, role or
 * service principal, or everyone but under a condition that pins one of the listed keys to fixed
 * values (no wildcard, no policy variable): aws:SourceIp to CIDRs no broader than /8 (IPv4) or
 * /32 (IPv6), aws:SourceArn, aws:SourceVpc, aws:SourceVpce, aws:SourceOwner, aws:SourceAccount,
 * s3:x-amz-server-side-encryption-aws-kms-key-id, aws:userid, s3:DataAccessPointArn,
 * s3:DataAccessPointAccount, or a principal key such as aws:PrincipalOrgID.
 */
export function isPublicPolicy(policy: PolicyDocument | { readonly document: PolicyDocument }): boolean {
  const document = 'document' in policy ? policy.document : policy;
  return document.statements.some((statement) =>
    isPublicStatement(statement, document.version === '2012-10-17'),
  );
}

export function isPublicStatement(statement: PolicyStatement, variables: boolean): boolean {
  if (statement.effect !== 'Allow') return false;
  if (!grantsToAnyone(statement)) return false;
  return !statement.conditions.some((condition) => pinsRequester(condition, variables));
}

/**
 * Everyone (`*`, `{"AWS": "*"}`), everyone but someone (NotPrincipal), or a web identity
 * federation (`{"Federated": "graph.facebook.com"}` is the guide's first public example).
 * Identity policies name no principal and are never public.
 */
function grantsToAnyone(statement: PolicyStatement): boolean {
  const principal = statement.principal;
  if (principal === null) return false;
  if (principal.negated) return true;
  if (principal.value.kind === 'everyone') return true;
  return principal.value.map.AWS.includes('*') || principal.value.map.Federated.length > 0;
}

/** Keys that restrict a statement to fixed requesters when pinned to fixed values (lower case). */
const PINNING_KEYS = new Set([
  'aws:sourcearn',
  'aws:sourcevpc',
  'aws:sourcevpce',
  'aws:sourceowner',
  'aws:sourceaccount',
  's3:x-amz-server-side-encryption-aws-kms-key-id',
  'aws:userid',
  's3:dataaccesspointaccount',
  'aws:principalarn',
  'aws:principalaccount',
  'aws:principalorgid',
  'aws:principalorgpaths',
  'aws:principalservicename',
]);

const PINNING_OPERATORS = new Set([
  'StringEquals',
  'StringEqualsIgnoreCase',
  'StringLike',
  'ArnEquals',
  'ArnLike',
]);

/**
 * Whether a condition limits the statement to fixed requesters. Only positive operators pin:
 * a negated one, an `...IfExists` one or a `ForAllValues` one is true when the key is missing, so
 * an anonymous request would pass it.
 */
function pinsRequester(condition: PolicyCondition, variables: boolean): boolean {
  const { base, qualifier, ifExists } = condition.operator;
  if (ifExists || qualifier === 'ForAllValues') return false;
  const key = condition.key.toLowerCase();
  if (key === 'aws:sourceip') return base === 'IpAddress' && condition.values.every(isNarrowCidr);
  if (!PINNING_OPERATORS.has(base)) return false;
  if (key === 's3:dataaccesspointarn')
    return condition.values.every((value) => isFixedAccessPointArn(value, variables));
  return PINNING_KEYS.has(key) && condition.values.every((value) => isFixedValue(value, variables));
}

/** "Values broader than /8 for IPv4 and /32 for IPv6 (excluding RFC1918 private ranges)" are public. */
function isNarrowCidr(value: string): boolean {
  const cidr = parseCidr(value);
  return cidr !== null && cidr.prefix >= (cidr.family === 4 ? 8 : 32);
}

function isFixedValue(value: string, variables: boolean): boolean {
  return !/[*?]/.test(value) && !(variables && value.includes('${'));
}

/**
 * An access point ARN "can contain a wildcard for the access point name without rendering the
 * policy public, as long as the account id is fixed" (e.g. `arn:aws:s3:us-west-2:123456789012:accesspoint/*`).
 */
function isFixedAccessPointArn(value: string, variables: boolean): boolean {
  const parts = splitArn(value);
  if (parts === null) return false;
  const account = parts[4]!;
  return (
    account !== '' &&
    parts.slice(0, 5).every((part) => isFixedValue(part, variables)) &&
    parts[5]!.startsWith('accesspoint/')
  );
}
