import type {
  AccessKeyRecord,
  AccessKeyStatus,
  AttachmentTarget,
  GroupRecord,
  ManagedPolicyRecord,
  PolicyInEffect,
  PrincipalNamespace,
  PrincipalRecord,
  Tenant,
} from './types.ts';
import type { ResealStoredSecret } from './secret-resealing.ts';

/**
 * Reads of tenants, principals, groups, access keys and managed policies. Lists are ordered by
 * name (tenants by id) in byte order and start after the given name ('' for the first page).
 */
export interface IdentityReads {
  getTenant(id: string): Promise<Tenant | null>;
  listTenants(afterId: string, limit: number): Promise<Tenant[]>;
  getPrincipal(id: string): Promise<PrincipalRecord | null>;
  findPrincipal(
    tenantId: string,
    namespace: PrincipalNamespace,
    name: string,
  ): Promise<PrincipalRecord | null>;
  listPrincipals(
    tenantId: string,
    namespace: PrincipalNamespace,
    afterName: string,
    limit: number,
  ): Promise<PrincipalRecord[]>;
  getAccessKey(accessKeyId: string): Promise<AccessKeyRecord | null>;
  /** A principal's access keys, oldest first (at most ACCESS_KEYS_PER_PRINCIPAL). */
  listAccessKeys(principalId: string): Promise<AccessKeyRecord[]>;
  findGroup(tenantId: string, name: string): Promise<GroupRecord | null>;
  listGroups(tenantId: string, afterName: string, limit: number): Promise<GroupRecord[]>;
  /** Members of a group, by name. */
  listGroupMembers(groupId: string, afterName: string, limit: number): Promise<PrincipalRecord[]>;
  /** The groups a principal belongs to, by name (at most GROUPS_PER_USER). */
  listGroupsOf(principalId: string): Promise<GroupRecord[]>;
  findPolicy(tenantId: string, name: string): Promise<ManagedPolicyRecord | null>;
  listPolicies(tenantId: string, afterName: string, limit: number): Promise<ManagedPolicyRecord[]>;
  /** Policies attached to one principal or group, by name (at most MANAGED_POLICIES_PER_PRINCIPAL). */
  listAttachedPolicies(target: AttachmentTarget): Promise<ManagedPolicyRecord[]>;
  /** Every managed policy that applies to a principal: its own, then its groups'. */
  policiesInEffect(principalId: string): Promise<PolicyInEffect[]>;
  countTenants(): Promise<number>;
  countPrincipals(tenantId: string, namespace: PrincipalNamespace): Promise<number>;
  countGroups(tenantId: string): Promise<number>;
  countPolicies(tenantId: string): Promise<number>;
  countGroupMembers(groupId: string): Promise<number>;
  countAttachments(policyId: string): Promise<number>;
}

/** Writes, inside one transaction that also sees its own reads. */
export interface IdentityStoreTx extends IdentityReads {
  /**
   * Serialises administrative writers of one tenant until the transaction ends, so that limit
   * checks (two access keys per principal, …) and the writes they guard cannot interleave.
   */
  lockTenant(tenantId: string): Promise<void>;

  /** Fails with EntityAlreadyExists when the id is taken. */
  insertTenant(tenant: Tenant): Promise<void>;
  /** Fails with EntityAlreadyExists when the name is taken in its name space. */
  insertPrincipal(principal: PrincipalRecord): Promise<void>;
  /** Replaces the mutable fields (admin flag, description, tags, clearance, compartments, trust policy). */
  updatePrincipal(principal: PrincipalRecord): Promise<void>;
  deletePrincipal(id: string): Promise<void>;

  insertAccessKey(key: AccessKeyRecord): Promise<void>;
  setAccessKeyStatus(accessKeyId: string, status: AccessKeyStatus): Promise<void>;
  deleteAccessKey(accessKeyId: string): Promise<void>;

  /** Fails with EntityAlreadyExists when the name is taken. */
  insertGroup(group: GroupRecord): Promise<void>;
  deleteGroup(id: string): Promise<void>;
  /** False when the principal already is a member. */
  addGroupMember(groupId: string, principalId: string): Promise<boolean>;
  /** False when the principal was not a member. */
  removeGroupMember(groupId: string, principalId: string): Promise<boolean>;

  /** Fails with EntityAlreadyExists when the name is taken. */
  insertPolicy(policy: ManagedPolicyRecord): Promise<void>;
  /** Replaces the document, description and update time. */
  updatePolicy(policy: ManagedPolicyRecord): Promise<void>;
  deletePolicy(id: string): Promise<void>;
  /** False when already attached. */
  attachPolicy(policyId: string, target: AttachmentTarget, attachedAt: Date): Promise<boolean>;
  /** False when it was not attached. */
  detachPolicy(policyId: string, target: AttachmentTarget): Promise<boolean>;
}

/** Where tenants, principals, keys, groups and managed policies are kept (migration 8 and before). */
export interface IdentityStore extends IdentityReads {
  /**
   * Runs `work` in one atomic transaction; like MetadataStore.transaction, `work` may be run again
   * after a conflict and must be safe to re-run.
   */
  transaction<T>(work: (tx: IdentityStoreTx) => Promise<T>): Promise<T>;
  /**
   * Gives access keys' sealed secrets the values `reseal` returns (a new sealer taking over,
   * docs/decisions/0005), all in one transaction; returns how many rows changed.
   */
  resealAccessKeySecrets(reseal: ResealStoredSecret): Promise<number>;
}

/**
 * Layout of a stored credential-sealing key: format 1 is the root of trust's wrapping of the 32-byte
 * key K under the AAD `sovra-credential-sealing-key/v1` (adapters/secrets/credential-key.ts).
 */
export const CREDENTIAL_KEY_FORMAT = 1;

/**
 * Where the credential-sealing key K is kept, wrapped by the root of trust (docs/decisions/0005):
 * one value for the whole installation in the metadata database, so that every gateway sharing
 * that database seals and unseals credential secrets under the same K. Written once, never
 * changed or deleted. Both methods throw KmsError('RootUnavailable') for a stored value of a
 * format other than CREDENTIAL_KEY_FORMAT.
 */
export interface CredentialKeyStore {
  /** The stored wrapping of K; null before the installation's first K. */
  read(): Promise<Buffer | null>;
  /**
   * Stores `wrapped` when nothing is stored yet, and returns what is stored then: `wrapped`, or
   * another gateway's wrapping that got there first (the caller then unwraps that one instead).
   */
  createIfAbsent(wrapped: Buffer): Promise<Buffer>;
}
