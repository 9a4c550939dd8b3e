import type { KeyUseJustification } from '../kms/justification.ts';
import type { Caller } from './caller.ts';
import { IamError } from './errors.ts';

/**
 * A bucket as authorization sees it: its owner and, when the caller has the bucket record, its
 * labels (`BucketRecord` fits). A missing or null classification is the scheme's lowest level.
 */
export interface TargetBucket {
  name: string;
  tenantId: string;
  /** The bucket's label in its compact form (`SECRET//CRYPTO`), or null for the lowest level. */
  classification?: string | null;
  /** ISO 3166-1 alpha-2 code of where the bucket's data is stored, or null when not recorded. */
  jurisdiction?: string | null;
  /** The storage tier holding the bucket's data, or null when not recorded. */
  tier?: string | null;
}

/**
 * A KMS key as authorization sees it: its ARN is the resource of kms: actions, and its key policy
 * the resource policy, which must allow (directly, or by delegating to the tenant's identity
 * policies), as in AWS KMS (https://docs.aws.amazon.com/kms/latest/developerguide/control-access.html).
 */
export interface TargetKmsKey {
  keyId: string;
  /** The tenant owning the key; another tenant's principal is a cross-tenant request. */
  tenantId: string;
  /** `arn:aws:kms:<region>:<tenantId>:key/<keyId>` (domain/kms/key-references.ts). */
  arn: string;
  /** The key policy's text, as stored. */
  policy: string;
}

/** The resource an action targets; bucket-less actions (ListBuckets, ListKeys) name only the tenant. */
export interface ActionTarget {
  bucket: TargetBucket | null;
  key: string | null;
  /** The KMS key a kms: action names; absent or null for S3 and for tenant-wide kms: actions. */
  kmsKey?: TargetKmsKey | null;
  /**
   * The object version's own label in its compact form, when it has one: read from the version's
   * record, or the label a write gives the object. Absent or null: the object carries its
   * bucket's label. The data's label is the bucket's joined with it (an object may be labelled
   * above its bucket, never below).
   */
  objectLabel?: string | null;
}

/**
 * What the protocol knows about a request beyond its caller and target. Absent fields are
 * absent from the request (no condition key, no data flowing, nothing made public).
 */
export interface RequestFacts {
  /**
   * Condition keys read from the request by the protocol, such as `s3:prefix`,
   * `s3:x-amz-server-side-encryption` or `s3:RequestObjectTag/<key>`; names are case-insensitive.
   * Keys about the caller, the transport and the time are added by the authorizer.
   */
  conditionKeys?: readonly (readonly [string, string | readonly string[]])[];
  /** The object version the request names (`versionId`): s3:VersionId, and whose tags s3:ExistingObjectTag reads. */
  versionId?: string | null;
  /** Data flowing into the target: the source bucket of a copy (no write-down). */
  dataSource?: TargetBucket | null;
  /** The source object version's own label (compact form), when it has one: joined with dataSource's. */
  dataSourceLabel?: string | null;
  /**
   * The request gives the target its label (label headers on a write): the caller's clearance
   * must dominate that label (no-label-above-clearance), as for CreateBucket.
   */
  labelsData?: boolean;
  /** The request would make the target readable by anyone (a public bucket policy). */
  grantsPublicAccess?: boolean;
  /**
   * Why a KMS request uses a key (domain/kms/justification.ts): policies read it as
   * sovra:JustificationReason, sovra:PrincipalId, sovra:RequestJurisdiction and sovra:Service, the
   * guardrails as context.keyUseJustification and context.approvalId.
   */
  keyUse?: KeyUseJustification;
}

/** Decides whether a caller may perform an action (named as the S3/IAM action, e.g. `s3:GetObject`). */
export interface Authorizer {
  /** Resolves when allowed; fails with IamError AccessDenied (details.denial says who denied) otherwise. */
  authorize(caller: Caller, action: string, target: ActionTarget, facts?: RequestFacts): Promise<void>;
  /** Forgets what is cached about a bucket's policy after it changed through this gateway. */
  forgetBucketPolicy?(bucket: string): void;
}

/**
 * Who denied a request, for the audit record: the tenant's IAM policies (a Deny statement, or no
 * Allow at all, then `policies` is empty), the platform guardrails (the @ids of the forbids), or
 * mandatory access control (`no-read-up`, `no-write-down`, `no-label-above-clearance`).
 */
export interface AccessDenial {
  source: 'iam' | 'guardrails' | 'classification' | 'lockbox';
  policies: string[];
  /**
   * The refusal worded as AWS words it for the client, naming the layer ("User: … is not
   * authorized to perform: kms:Decrypt on resource: … because no identity-based policy allows the
   * kms:Decrypt action"). The KMS API answers it; S3 answers "Access Denied", as S3 does.
   */
  message?: string;
}

/** The error every denial raises: AccessDenied without detail for the client, the denial in its details. */
export function accessDenied(action: string, denial: AccessDenial): IamError {
  return new IamError('AccessDenied', 'Access Denied', { action, denial });
}

/** The denial an AccessDenied error carries, or null for any other error. */
export function denialOf(error: unknown): AccessDenial | null {
  if (!(error instanceof IamError) || error.code !== 'AccessDenied') return null;
  const denial = error.details.denial;
  return isAccessDenial(denial) ? denial : null;
}

/**
 * AWS's wording of a refusal: `User: <principal> is not authorized to perform: <action> on
 * resource: <resource> <why>`, where `why` names the layer ("because no identity-based policy
 * allows …", "with an explicit deny in a resource-based policy", …).
 */
export function refusalMessage(
  principalArn: string,
  action: string,
  resourceArn: string,
  why: string,
): string {
  return `User: ${principalArn} is not authorized to perform: ${action} on resource: ${resourceArn} ${why}`;
}

/**
 * Deny by default: only a tenant's administrators act, and only on their own tenant's
 * resources; no policy of any kind is read. Cross-tenant access is never granted here. The rule
 * before identity policies, kept as the baseline of the authorization benchmark; the S3 and KMS
 * endpoints use RequestAuthorizer (request-authorizer.ts).
 */
export class TenantAdminAuthorizer implements Authorizer {
  authorize(caller: Caller, action: string, target: ActionTarget): Promise<void> {
    if (!caller.isTenantAdmin) return Promise.reject(denied(action));
    if (target.bucket !== null && target.bucket.tenantId !== caller.tenantId)
      return Promise.reject(denied(action));
    if (target.kmsKey != null && target.kmsKey.tenantId !== caller.tenantId)
      return Promise.reject(denied(action));
    return Promise.resolve();
  }
}

function denied(action: string): IamError {
  return accessDenied(action, { source: 'iam', policies: [] });
}

function isAccessDenial(value: unknown): value is AccessDenial {
  if (typeof value !== 'object' || value === null || !('source' in value) || !('policies' in value)) {
    return false;
  }
  const { source, policies } = value;
  const message: unknown = 'message' in value ? value.message : undefined;
  return (
    (source === 'iam' || source === 'guardrails' || source === 'classification' || source === 'lockbox') &&
    Array.isArray(policies) &&
    policies.every((policy) => typeof policy === 'string') &&
    (message === undefined || typeof message === 'string')
  );
}
