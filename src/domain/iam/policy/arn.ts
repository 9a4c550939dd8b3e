import { compilePattern, matchPattern, type Pattern, type VariableSource } from './wildcard.ts';

/**
 * ARNs as the policy language sees them (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html):
 * `arn:partition:service:region:account-id:resource`, where the resource part may itself contain
 * colons. Sovra keeps the `aws` partition so that policies written for AWS work unchanged, and its
 * tenant id stands where AWS has the account id.
 */
export const ARN_SEGMENTS = 6;

/** The six parts of an ARN, the last one holding everything after the fifth colon; null if not an ARN. */
export function splitArn(text: string): string[] | null {
  if (!text.startsWith('arn:')) return null;
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < ARN_SEGMENTS - 1; i++) {
    const colon = text.indexOf(':', start);
    if (colon === -1) return null;
    parts.push(text.slice(start, colon));
    start = colon + 1;
  }
  parts.push(text.slice(start));
  return parts;
}

/**
 * A Resource (or ArnLike value) pattern. Each of the six colon-separated segments is matched on its
 * own, so a wildcard never spans a colon before the resource part ("Each of the six
 * colon-delimited components of the ARN is checked separately", Conditions_ARN). Policy variables
 * are substituted only in the resource part, "the part of the ARN that identifies the specific
 * resource" (reference_policies_elements_resource).
 */
export interface ArnPattern {
  readonly source: string;
  /** `*` alone: every resource. */
  readonly matchesAll: boolean;
  /** The first five segments when they hold no wildcard (`arn`, `aws`, `s3`, ``, ``), compared as text. */
  readonly fixedHead: readonly string[] | null;
  /** The first five segments as patterns, when some hold a wildcard. */
  readonly headPatterns: readonly Pattern[] | null;
  /** The resource part, or null when the source is not an ARN (then it is matched whole). */
  readonly tail: Pattern | null;
  readonly whole: Pattern;
  /** `arn:aws:s3::` when the head is fixed: the first key of a policy's statement index. */
  readonly headKey: string | null;
}

export function compileArnPattern(source: string, variables: boolean): ArnPattern {
  const whole = compilePattern(source, { wildcards: true, variables: false, lowerCase: false });
  const parts = splitArn(source);
  if (source === '*' || parts === null) {
    return {
      source,
      matchesAll: source === '*',
      fixedHead: null,
      headPatterns: null,
      tail: null,
      whole,
      headKey: null,
    };
  }
  const head = parts.slice(0, ARN_SEGMENTS - 1);
  const headPatterns = head.map((part) =>
    compilePattern(part, { wildcards: true, variables: false, lowerCase: false }),
  );
  const fixed = headPatterns.every((pattern) => pattern.literal !== null);
  return {
    source,
    matchesAll: false,
    fixedHead: fixed ? head : null,
    headPatterns: fixed ? null : headPatterns,
    tail: compilePattern(parts[ARN_SEGMENTS - 1]!, { wildcards: true, variables, lowerCase: false }),
    whole,
    headKey: fixed ? head.join(':') : null,
  };
}

/** Matches a pattern against an ARN already split by splitArn (null when the text is no ARN). */
export function matchArnPattern(
  pattern: ArnPattern,
  text: string,
  parts: readonly string[] | null,
  variables: VariableSource | null,
): boolean {
  if (pattern.matchesAll) return true;
  if (pattern.tail === null) return matchPattern(pattern.whole, text, variables);
  if (parts === null) return false;
  const fixedHead = pattern.fixedHead;
  if (fixedHead !== null) {
    for (let i = 0; i < ARN_SEGMENTS - 1; i++) if (fixedHead[i] !== parts[i]) return false;
  } else {
    const headPatterns = pattern.headPatterns!;
    for (let i = 0; i < ARN_SEGMENTS - 1; i++)
      if (!matchPattern(headPatterns[i]!, parts[i]!, null)) return false;
  }
  return matchPattern(pattern.tail, parts[ARN_SEGMENTS - 1]!, variables);
}

/** The kinds of IAM principal ARN a Principal element may name and a request may carry. */
export type IamPrincipalArn =
  | { type: 'root'; account: string }
  | { type: 'user'; account: string; name: string }
  | { type: 'role'; account: string; name: string }
  | { type: 'assumed-role'; account: string; roleName: string; sessionName: string }
  | { type: 'federated-user'; account: string; name: string };

/**
 * Parses `arn:aws:iam::ACCOUNT:root`, `…:user/PATH/NAME`, `…:role/PATH/NAME`,
 * `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION` and `arn:aws:sts::ACCOUNT:federated-user/NAME`
 * (reference_policies_elements_principal, "AWS account principals" … "AWS STS principals").
 */
export function parseIamPrincipalArn(text: string): IamPrincipalArn | null {
  const parts = splitArn(text);
  if (parts === null) return null;
  const [, partition, service, region, account, resource] = parts as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (partition === '' || region !== '' || !isAccountId(account)) return null;
  const slash = resource.indexOf('/');
  const kind = slash === -1 ? resource : resource.slice(0, slash);
  const rest = slash === -1 ? '' : resource.slice(slash + 1);
  const names = rest.split('/');
  if (rest === '' || names.some((name) => name === '')) {
    return service === 'iam' && resource === 'root' ? { type: 'root', account } : null;
  }
  const last = names.at(-1)!;
  if (service === 'iam' && kind === 'user') return { type: 'user', account, name: last };
  if (service === 'iam' && kind === 'role') return { type: 'role', account, name: last };
  if (service === 'sts' && kind === 'assumed-role' && names.length === 2) {
    return { type: 'assumed-role', account, roleName: names[0]!, sessionName: names[1]! };
  }
  if (service === 'sts' && kind === 'federated-user' && names.length === 1) {
    return { type: 'federated-user', account, name: last };
  }
  return null;
}

/**
 * An account id where a policy names an account: AWS uses 12 digits; Sovra's tenant ids stand in
 * for them, so any token of letters, digits, `.`, `_` and `-` is accepted.
 */
export function isAccountId(text: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(text);
}
