import { LIMITS } from '../../platform/limits.ts';
import {
  authorize,
  buildRequestContext,
  KEY_POLICY_SIZE_LIMIT,
  parsePolicy,
  PolicyError,
  type CompiledPolicy,
  type Contribution,
  type LabeledPolicy,
  type RequestPrincipal,
} from '../iam/policy/index.ts';
import { parseIamPrincipalArn } from '../iam/policy/arn.ts';
import { kmsError } from './errors.ts';
import type { KeyUseJustification } from './justification.ts';

/** The only key policy name AWS KMS has (https://docs.aws.amazon.com/kms/latest/APIReference/API_GetKeyPolicy.html). */
export const DEFAULT_POLICY_NAME = 'default';

/** How decisions, explanations and denial records name a key's policy. */
export const KEY_POLICY_LABEL = 'key policy';

/**
 * The default key policy, as AWS writes it for a key created through the API without a policy
 * (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html): the account —
 * here the tenant — may do everything with the key, which delegates access to the tenant's
 * identity policies (its administrators' policy allows everything in the tenant).
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
 * Checks a policy document before storing it: at most 32 KiB, and a resource policy of the IAM
 * policy language (domain/iam/policy), which is what evaluates it — every statement with an
 * Effect, a Principal, an Action and a Resource
 * (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html). Anything else
 * is MalformedPolicyDocument, with the parser's message naming the offending element.
 */
export function checkKeyPolicy(document: string): string {
  if (document.length === 0 || Buffer.byteLength(document, 'utf8') > LIMITS.kmsKeyPolicyMaxBytes) {
    throw kmsError(
      'MalformedPolicyDocument',
      `The key policy must be between 1 and ${LIMITS.kmsKeyPolicyMaxBytes} bytes`,
    );
  }
  try {
    compiledKeyPolicy(document);
  } catch (error) {
    if (error instanceof PolicyError) throw kmsError('MalformedPolicyDocument', error.message);
    throw error;
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

// ---- evaluation -----------------------------------------------------------------------------------

/** A key policy compiled once per text, for the request authorizer and the key ring alike. */
export interface CompiledKeyPolicy {
  readonly text: string;
  readonly policy: CompiledPolicy;
  /** The policy as `resourcePolicies` of a policy set. */
  readonly resourcePolicies: readonly LabeledPolicy[];
  /** Whether any statement denies: a policy without one never refuses a service's use. */
  readonly denies: boolean;
}

/** Compiled key policies by text: policies are few and change rarely, uses are many. */
const compiled = new Map<string, CompiledKeyPolicy>();

/**
 * The key policy `text` compiled as a resource policy of the IAM policy language; the same text
 * gives the same object (while it stays in the bounded cache), so that decisions remembered
 * against it are recognised. Fails with PolicyError when the text is no valid key policy.
 */
export function compiledKeyPolicy(text: string): CompiledKeyPolicy {
  let entry = compiled.get(text);
  if (entry === undefined) {
    const policy = parsePolicy(text, { kind: 'resource', sizeLimit: KEY_POLICY_SIZE_LIMIT });
    entry = Object.freeze({
      text,
      policy,
      resourcePolicies: Object.freeze([{ label: KEY_POLICY_LABEL, policy }]),
      denies: policy.statements.some((statement) => statement.source.effect === 'Deny'),
    });
    if (compiled.size >= LIMITS.kmsKeyRecordCacheEntries) compiled.clear();
    compiled.set(text, entry);
  }
  return entry;
}

/**
 * The condition keys a key use brings to policies (key policies, and identity policies on the
 * KMS API), besides the IAM ones: why the key is used and by whom, from where, through which
 * service. `aws:PrincipalArn` comes from the principal itself.
 */
export function keyUseConditionKeys(
  justification: KeyUseJustification,
): (readonly [string, string | readonly string[]])[] {
  return [
    ['sovra:JustificationReason', justification.reason],
    ['sovra:PrincipalId', justification.principalId],
    ['sovra:RequestJurisdiction', justification.jurisdiction],
    ['sovra:Service', justification.service],
  ];
}

export type KeyUseDecision = { granted: true } | { granted: false; denialReason: string };

/** The principal ARN a key policy's `aws:PrincipalArn` and `Principal` see for a caller. */
export function principalArnOf(tenantId: string, principalId: string): string {
  return `arn:aws:iam::${tenantId}:user/${principalId}`;
}

/**
 * Decides a service's key use under a key's policy: the S3 data path, XKS and lifecycle, and a
 * platform operator's approved use. Their own protocol authorized the request (an S3 request on
 * its bucket, an operator by the lockbox gate), so only the key policy's explicit denies count
 * here, evaluated by the IAM policy engine as the request authorizer evaluates them for the KMS
 * API (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
 * a Deny whose Action, Resource, Principal and every Condition match denies. A KMS API request
 * is decided by the request authorizer (key policy and identity policies together) and not
 * evaluated here again.
 */
export function evaluateKeyUse(
  policy: string,
  action: string,
  justification: KeyUseJustification,
  key: { arn: string; tenantId: string },
): KeyUseDecision {
  const keyPolicy = storedKeyPolicy(policy);
  if (!keyPolicy.denies) return GRANTED;
  const keys = keyUseConditionKeys(justification);
  if (justification.sourceIp !== '') keys.push(['aws:SourceIp', plainAddress(justification.sourceIp)]);
  const decision = authorize(
    buildRequestContext({
      principal: requestPrincipalOf(justification),
      action,
      resource: key.arn,
      resourceTenantId: key.tenantId,
      conditionKeys: keys,
    }),
    { identityPolicies: [], resourcePolicies: keyPolicy.resourcePolicies },
  );
  if (decision.effect !== 'ExplicitDeny') return GRANTED;
  const deny = decision.contributions.find((c) => c.matched && c.effect === 'Deny');
  return {
    granted: false,
    denialReason: `${action} with justification ${justification.reason} from jurisdiction ${justification.jurisdiction} is denied by the key policy (${describeStatement(deny)})`,
  };
}

const GRANTED: KeyUseDecision = { granted: true };

/** `statement "Sid"`, or the statement's position when it has no Sid. */
export function describeStatement(contribution: Contribution | undefined): string {
  if (contribution === undefined) return 'an explicit deny';
  return contribution.sid === null || contribution.sid === ''
    ? `statement ${contribution.statementIndex}`
    : `statement ${JSON.stringify(contribution.sid)}`;
}

/** A stored policy was checked when written; one that no longer compiles is a corrupt row. */
function storedKeyPolicy(policy: string): CompiledKeyPolicy {
  try {
    return compiledKeyPolicy(policy);
  } catch (error) {
    throw new Error('a stored key policy could not be evaluated', { cause: error });
  }
}

function requestPrincipalOf(justification: KeyUseJustification): RequestPrincipal {
  const arn = principalArnOf(justification.tenantId, justification.principalId);
  // A use with no identifiable requester (an unexplained use) is nobody's: only "*" matches it.
  return parseIamPrincipalArn(arn) === null
    ? { kind: 'anonymous' }
    : { kind: 'iam', arn, tenantId: justification.tenantId };
}

/** aws:SourceIp of an IPv4 client reached through a dual-stack socket is the IPv4 address. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
