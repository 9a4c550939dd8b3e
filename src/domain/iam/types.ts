export interface Tenant {
  id: string;
  name: string;
  createdAt: Date;
}

export type PrincipalKind = 'user' | 'service' | 'role';

export interface Principal {
  id: string;
  tenantId: string;
  kind: PrincipalKind;
  name: string;
  /** Tenant administrators may do everything within their tenant until policies land. */
  isTenantAdmin: boolean;
  createdAt: Date;
}

export type AccessKeyStatus = 'Active' | 'Inactive';

export interface AccessKeyRecord {
  accessKeyId: string;
  principalId: string;
  tenantId: string;
  /** The secret sealed by a SecretSealer (see docs/architecture.md); never plaintext at rest. */
  sealedSecret: Uint8Array;
  status: AccessKeyStatus;
  createdAt: Date;
  expiresAt: Date | null;
}

/**
 * Users and service accounts share one name space, roles have their own, as in AWS IAM, where a
 * user and a role may carry the same name but two users may not.
 */
export type PrincipalNamespace = 'user' | 'role';

/**
 * A principal with everything the administration keeps about it (migration 8). `Principal` stays
 * the small identity that authentication resolves; this is what the admin API reads and writes.
 */
export interface PrincipalRecord extends Principal {
  description: string;
  /** aws:PrincipalTag/<key> in policies. */
  tags: Readonly<Record<string, string>>;
  /** A classification level id (domain/classification), or null for an uncleared principal. */
  clearance: string | null;
  /** Compartment ids (need-to-know categories), sorted, without duplicates. */
  compartments: readonly string[];
  /** Roles only: the trust policy (who may assume the role), as the JSON text that was given. */
  trustPolicy: string | null;
}

export interface GroupRecord {
  id: string;
  tenantId: string;
  name: string;
  createdAt: Date;
}

/** A customer managed policy: an identity policy with a name, attachable to users, roles and groups. */
export interface ManagedPolicyRecord {
  id: string;
  tenantId: string;
  name: string;
  description: string;
  /** The policy document as the JSON text that was given (validated when written). */
  document: string;
  createdAt: Date;
  updatedAt: Date;
}

/** What a managed policy is attached to: a principal (user, service account, role) or a group. */
export type AttachmentTarget = { kind: 'principal'; id: string } | { kind: 'group'; id: string };

/** One policy that applies to a principal, directly or through one of its groups. */
export interface PolicyInEffect {
  policy: ManagedPolicyRecord;
  /** The group through which the policy applies, or null when attached to the principal itself. */
  viaGroup: string | null;
}
