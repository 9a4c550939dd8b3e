import { ARN_SEGMENTS, parseIamPrincipalArn, splitArn, type IamPrincipalArn } from './arn.ts';
import type { ConditionSource } from './conditions.ts';
import { PolicyError } from './errors.ts';
import { REQUEST_CONTEXT_CACHE_MAX_ENTRIES } from './limits.ts';

/**
 * Who sends a request, as policies see it. An IAM principal carries its ARN in the forms AWS uses,
 * with the tenant id as the account id: `arn:aws:iam::TENANT:root` (the tenant itself),
 * `arn:aws:iam::TENANT:user/NAME`, `arn:aws:iam::TENANT:role/NAME`,
 * `arn:aws:sts::TENANT:assumed-role/ROLE/SESSION` or `arn:aws:sts::TENANT:federated-user/NAME`.
 * A service principal is a Sovra service acting on its own (`logging.s3.amazonaws.com` style).
 */
export type RequestPrincipal =
  | { readonly kind: 'anonymous' }
  | {
      readonly kind: 'iam';
      readonly arn: string;
      readonly tenantId: string;
      /** The principal's tags: aws:PrincipalTag/<key> and `${aws:PrincipalTag/<key>}`. */
      readonly tags?: Readonly<Record<string, string>>;
      /** aws:userid, the principal's unique id. */
      readonly userId?: string;
      /** For a role session, the role's full ARN (with its path) for aws:PrincipalArn; derived when absent. */
      readonly roleArn?: string;
    }
  | { readonly kind: 'service'; readonly service: string };

export type ConditionKeyValues =
  | Iterable<readonly [string, string | readonly string[]]>
  | Readonly<Record<string, string | readonly string[]>>;

export interface RequestContextInput {
  principal: RequestPrincipal;
  /** The IAM action, such as `s3:GetObject` (IAM_ACTION of the S3 protocol). */
  action: string;
  /** The resource ARN: `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key` (see s3ResourceArn). */
  resource: string;
  /** The tenant owning the resource; another tenant's principal is a cross-account request. */
  resourceTenantId: string;
  /**
   * Request values by condition key (`aws:SourceIp`, `aws:SecureTransport`, `s3:prefix`,
   * `s3:ExistingObjectTag/<key>`, …); names are case-insensitive. Keys describing the principal
   * (aws:Principal*, aws:username, aws:userid) are derived from `principal` and ignored here.
   */
  conditionKeys?: ConditionKeyValues;
  /** Sets aws:CurrentTime and aws:EpochTime unless conditionKeys holds them. */
  now?: Date;
}

/** What principal matching needs to know about the requester, worked out once per request. */
export interface PrincipalFacts {
  readonly kind: RequestPrincipal['kind'];
  readonly arn: string | null;
  readonly account: string | null;
  readonly arnType: IamPrincipalArn['type'] | null;
  /** The role of a role session, or the role itself. */
  readonly roleName: string | null;
  readonly service: string | null;
}

/**
 * One request as every policy sees it: built once per request by buildRequestContext, then
 * evaluated against any number of policies without further allocation (condition values are kept
 * as arrays of strings under lower-case keys; parsed ARNs of condition values are cached).
 */
export class RequestContext implements ConditionSource {
  readonly principal: RequestPrincipal;
  readonly facts: PrincipalFacts;
  readonly action: string;
  /** The action in lower case: actions compare without regard to case. */
  readonly actionKey: string;
  readonly resource: string;
  readonly resourceParts: readonly string[] | null;
  /** The resource's first five segments (`arn:aws:s3::`) and its resource part (`bucket/key`), null if no ARN. */
  readonly resourceHead: string | null;
  readonly resourceTail: string | null;
  readonly resourceTenantId: string;
  readonly #values: Map<string, readonly string[]>;
  #arnParts: Map<string, readonly string[] | null> | null = null;

  constructor(input: RequestContextInput, facts: PrincipalFacts, values: Map<string, readonly string[]>) {
    this.principal = input.principal;
    this.facts = facts;
    this.action = input.action;
    this.actionKey = input.action.toLowerCase();
    this.resource = input.resource;
    this.resourceParts = splitArn(input.resource);
    const tail = this.resourceParts?.[ARN_SEGMENTS - 1] ?? null;
    this.resourceTail = tail;
    this.resourceHead =
      tail === null ? null : input.resource.slice(0, input.resource.length - tail.length - 1);
    this.resourceTenantId = input.resourceTenantId;
    this.#values = values;
  }

  conditionValues(key: string): readonly string[] | undefined {
    return this.#values.get(key);
  }

  /** Keys with several values cannot be policy variables (reference_policies_condition-single-vs-multi-valued-context-keys). */
  variableValue(key: string): string | undefined {
    const values = this.#values.get(key);
    return values !== undefined && values.length === 1 ? values[0] : undefined;
  }

  arnParts(value: string): readonly string[] | null {
    if (value === this.resource) return this.resourceParts;
    this.#arnParts ??= new Map();
    let parts = this.#arnParts.get(value);
    if (parts === undefined) {
      parts = splitArn(value);
      if (this.#arnParts.size >= REQUEST_CONTEXT_CACHE_MAX_ENTRIES) this.#arnParts.clear();
      this.#arnParts.set(value, parts);
    }
    return parts;
  }

  /** The condition keys of this request, lower-case, for explanations. */
  conditionKeys(): ReadonlyMap<string, readonly string[]> {
    return this.#values;
  }
}

/** Keys that describe the principal; only the principal itself sets them. */
const PRINCIPAL_KEY = /^aws:(principal|username$|userid$)/;

export function buildRequestContext(input: RequestContextInput): RequestContext {
  const values = new Map<string, readonly string[]>();
  for (const [name, value] of keyEntries(input.conditionKeys)) {
    const key = name.toLowerCase();
    if (PRINCIPAL_KEY.test(key)) continue;
    values.set(key, checkedValues(name, value));
  }
  if (input.now !== undefined) {
    const ms = input.now.getTime();
    if (!Number.isFinite(ms)) throw invalidContext('now is not a valid date');
    if (!values.has('aws:currenttime')) values.set('aws:currenttime', [input.now.toISOString()]);
    if (!values.has('aws:epochtime')) values.set('aws:epochtime', [String(Math.floor(ms / 1000))]);
  }
  const facts = principalFacts(input.principal, values);
  if (typeof input.action !== 'string' || input.action === '') throw invalidContext('the action is empty');
  if (typeof input.resource !== 'string' || input.resource === '')
    throw invalidContext('the resource is empty');
  return new RequestContext(input, facts, values);
}

/**
 * The resource ARN of an S3 request (https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-arn-format.html):
 * `arn:aws:s3:::bucket/key` for an object, `arn:aws:s3:::bucket` for a bucket, and
 * `arn:aws:s3:::*` for bucket-less actions (ListAllMyBuckets), which `"Resource": "*"` and
 * `"Resource": "arn:aws:s3:::*"` match as on AWS.
 */
export function s3ResourceArn(bucket: string | null, key: string | null): string {
  if (bucket === null) return 'arn:aws:s3:::*';
  return key === null ? `arn:aws:s3:::${bucket}` : `arn:aws:s3:::${bucket}/${key}`;
}

function principalFacts(principal: RequestPrincipal, values: Map<string, readonly string[]>): PrincipalFacts {
  switch (principal.kind) {
    case 'anonymous':
      values.set('aws:principaltype', ['Anonymous']);
      return { kind: 'anonymous', arn: null, account: null, arnType: null, roleName: null, service: null };
    case 'service':
      if (typeof principal.service !== 'string' || principal.service === '') {
        throw invalidContext('the service principal has no name');
      }
      values.set('aws:principalservicename', [principal.service]);
      return {
        kind: 'service',
        arn: null,
        account: null,
        arnType: null,
        roleName: null,
        service: principal.service,
      };
    case 'iam':
      return iamPrincipalFacts(principal, values);
    default:
      throw invalidContext('unknown principal kind');
  }
}

/**
 * The principal keys of the request context (reference_policies_condition-keys): aws:PrincipalArn
 * is the role's ARN for a role session, aws:username exists only for IAM users, aws:PrincipalType
 * is Account, User, AssumedRole or FederatedUser.
 */
function iamPrincipalFacts(
  principal: Extract<RequestPrincipal, { kind: 'iam' }>,
  values: Map<string, readonly string[]>,
): PrincipalFacts {
  const parsed = typeof principal.arn === 'string' ? parseIamPrincipalArn(principal.arn) : null;
  if (parsed === null) throw invalidContext(`${JSON.stringify(principal.arn)} is not an IAM principal ARN`);
  if (parsed.account !== principal.tenantId) {
    throw invalidContext(`the principal ARN ${principal.arn} is not in tenant ${principal.tenantId}`);
  }
  let roleName: string | null = null;
  let principalArn = principal.arn;
  switch (parsed.type) {
    case 'root':
      values.set('aws:principaltype', ['Account']);
      break;
    case 'user':
      values.set('aws:principaltype', ['User']);
      values.set('aws:username', [parsed.name]);
      break;
    case 'role':
      roleName = parsed.name;
      values.set('aws:principaltype', ['AssumedRole']);
      break;
    case 'assumed-role':
      roleName = parsed.roleName;
      principalArn = principal.roleArn ?? `arn:aws:iam::${parsed.account}:role/${parsed.roleName}`;
      values.set('aws:principaltype', ['AssumedRole']);
      break;
    case 'federated-user':
      values.set('aws:principaltype', ['FederatedUser']);
      break;
    default:
      throw invalidContext('unknown principal ARN type');
  }
  values.set('aws:principalarn', [principalArn]);
  values.set('aws:principalaccount', [principal.tenantId]);
  if (principal.userId !== undefined) values.set('aws:userid', [principal.userId]);
  for (const [tagKey, tagValue] of Object.entries(principal.tags ?? {})) {
    if (typeof tagValue !== 'string') throw invalidContext(`principal tag ${tagKey} is not a string`);
    values.set(`aws:principaltag/${tagKey.toLowerCase()}`, [tagValue]);
  }
  return {
    kind: 'iam',
    arn: principal.arn,
    account: parsed.account,
    arnType: parsed.type,
    roleName,
    service: null,
  };
}

function keyEntries(keys: ConditionKeyValues | undefined): Iterable<readonly [string, unknown]> {
  if (keys === undefined) return [];
  if (Symbol.iterator in keys) return keys as Iterable<readonly [string, unknown]>;
  return Object.entries(keys);
}

function checkedValues(name: string, value: unknown): readonly string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((item): item is string => typeof item === 'string')) return value;
  throw invalidContext(`condition key ${name} must have a string or a list of strings`);
}

function invalidContext(message: string): PolicyError {
  return new PolicyError('InvalidRequestContext', message);
}
