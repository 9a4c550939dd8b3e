import type { Clearance, SecurityLabel } from '../classification/label.ts';
import type { JustificationReason } from '../kms/justification.ts';

/**
 * Platform guardrails: the operator's policies that bound what any tenant policy can allow, as
 * AWS service control policies bound IAM
 * (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html):
 * a request is allowed only if the tenant's IAM decision allows it AND the guardrails do not
 * forbid it. The request below is what the guardrails see, in domain terms; an adapter turns it
 * into its policy language's request (src/adapters/cedar/).
 */

/** Attributes every authenticated principal carries into guardrail evaluation. */
export interface PrincipalFacts {
  id: string;
  clearance: Clearance;
  /** ISO 3166-1 alpha-2 code of the person's (or the owning organisation's) nationality, or 'unknown'. */
  nationality: string;
  /** ISO 3166-1 alpha-2 code of the network the principal is registered to act from, or 'unknown'. */
  networkJurisdiction: string;
  /** Operator- or tenant-assigned attributes (department, project, …). */
  tags: Readonly<Record<string, string>>;
}

/** A user, service account or role of a tenant. */
export interface TenantPrincipal extends PrincipalFacts {
  kind: 'user' | 'serviceAccount' | 'role';
  tenantId: string;
}

/** A platform operator: belongs to no tenant. */
export interface OperatorPrincipal extends PrincipalFacts {
  kind: 'operator';
}

export type GuardrailPrincipal = { kind: 'anonymous' } | TenantPrincipal | OperatorPrincipal;

/** Where data is stored: the bucket's jurisdiction (ISO 3166-1 alpha-2) and storage tier. */
export interface DataPlacement {
  jurisdiction: string;
  tier: string;
}

export interface LabelledResourceFacts {
  tenantId: string;
  bucket: string;
  label: SecurityLabel;
  placement: DataPlacement;
  /** Readable by anyone through a public ACL or bucket policy. */
  public: boolean;
}

/** For CreateBucket, the bucket as it would be created (its requested label and placement). */
export interface BucketResource extends LabelledResourceFacts {
  kind: 'bucket';
}

/** For PutObject and copies, the object as it would be stored (its effective label). */
export interface ObjectResource extends LabelledResourceFacts {
  kind: 'object';
  key: string;
}

export type GuardrailResource =
  /** Tenant-wide actions: ListAllMyBuckets, CreateKey, ListKeys, user and tenant administration. */
  | { kind: 'tenant'; tenantId: string }
  | BucketResource
  | ObjectResource
  | { kind: 'kmsKey'; tenantId: string; keyId: string };

export interface GuardrailContext {
  secureTransport: boolean;
  sourceIp: string;
  /** ISO 3166-1 alpha-2 code of the source address's network (JurisdictionMap), or 'unknown'. */
  sourceJurisdiction: string;
  /** Why keys (and data) are used; CUSTOMER_INITIATED_ACCESS when nobody said otherwise. */
  keyUseJustification: JustificationReason;
  /** The approval (ticket, change) an operator or OPERATOR_SUPPORT use acts under; null for none. */
  approvalId: string | null;
  now: Date;
  /**
   * The label of data flowing into the resource: a copy's source object, or a relabelled
   * bucket's current label. Null when no labelled data flows (a plain upload is labelled by the
   * request itself, which is the resource's label).
   */
  sourceLabel: SecurityLabel | null;
  /** The request would make the resource readable by anyone (a public ACL or bucket policy). */
  grantsPublicAccess: boolean;
}

export interface GuardrailRequest {
  principal: GuardrailPrincipal;
  /** The IAM action name: `s3:GetObject`, `kms:Decrypt`, `sovra:CreateTenant`, … */
  action: string;
  resource: GuardrailResource;
  context: GuardrailContext;
}

export interface GuardrailEvaluationError {
  /** The @id of the policy that failed to evaluate; null for a failure of the whole request. */
  policyId: string | null;
  message: string;
}

export interface GuardrailDecision {
  /** 'allow' only when a permit applied, no forbid applied and nothing failed (fail closed). */
  decision: 'allow' | 'deny';
  /** The @id of the forbids that denied, or of the permits that allowed. */
  determiningPolicies: readonly string[];
  errors: readonly GuardrailEvaluationError[];
}
