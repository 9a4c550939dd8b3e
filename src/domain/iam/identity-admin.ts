import type { Clock } from '../../platform/clock.ts';
import { randomHexId } from '../../platform/ids.ts';
import type { ClassificationScheme } from '../classification/scheme.ts';
import { newAccessKeyId, newSecretAccessKey, ROOT_TENANT_ID, sealAccessKey } from './bootstrap.ts';
import type { BucketAdministration, LabelledBucket } from './bucket-administration.ts';
import type { Caller } from './caller.ts';
import type { CredentialResolver, SecretSealer } from './credentials.ts';
import type { DecisionExplainer, DecisionExplanation, ExplainRequest } from './decision-explainer.ts';
import { groupArn, policyArn, roleArn, tenantArn, userArn } from './identity-arns.ts';
import { identityError, type IdentityError } from './identity-errors.ts';
import {
  checkClearance,
  checkCompartments,
  checkDescription,
  checkEntityName,
  checkExpiry,
  checkPageSize,
  checkTenantId,
  checkTenantName,
  mergeTags,
  withoutTag,
} from './identity-input.ts';
import { requestPrincipalOf, type CachedIdentitySource } from './identity-policies.ts';
import {
  ACCESS_KEYS_PER_PRINCIPAL,
  GROUPS_PER_TENANT,
  GROUPS_PER_USER,
  MANAGED_POLICIES_PER_PRINCIPAL,
  POLICIES_PER_TENANT,
  ROLES_PER_TENANT,
  TENANTS_MAX,
  USERS_PER_TENANT,
} from './limits.ts';
import { authorize, buildRequestContext, IDENTITY_POLICY_SIZE_LIMIT, parsePolicy } from './policy/index.ts';
import type { IdentityStore, IdentityStoreTx } from './ports.ts';
import { parseTrustPolicy } from './trust-policy.ts';
import type {
  AccessKeyRecord,
  AccessKeyStatus,
  AttachmentTarget,
  GroupRecord,
  ManagedPolicyRecord,
  PrincipalNamespace,
  PrincipalRecord,
  Tenant,
} from './types.ts';

/**
 * The administrative actions, named as AWS IAM names them where IAM has the action. With the
 * `sovra:` prefix the same name is the policy action an identity policy allows and the audit
 * record's action.
 */
export const ADMIN_ACTIONS = [
  'CreateTenant',
  'ListTenants',
  'GetTenant',
  'CreateUser',
  'ListUsers',
  'GetUser',
  'UpdateUser',
  'DeleteUser',
  'TagUser',
  'UntagUser',
  'ListGroupsForUser',
  'CreateRole',
  'ListRoles',
  'GetRole',
  'UpdateRole',
  'UpdateAssumeRolePolicy',
  'DeleteRole',
  'TagRole',
  'UntagRole',
  'CreateGroup',
  'ListGroups',
  'GetGroup',
  'DeleteGroup',
  'AddUserToGroup',
  'RemoveUserFromGroup',
  'CreateAccessKey',
  'ListAccessKeys',
  'UpdateAccessKey',
  'DeleteAccessKey',
  'CreatePolicy',
  'ListPolicies',
  'GetPolicy',
  'UpdatePolicy',
  'DeletePolicy',
  'AttachUserPolicy',
  'DetachUserPolicy',
  'ListAttachedUserPolicies',
  'AttachRolePolicy',
  'DetachRolePolicy',
  'ListAttachedRolePolicies',
  'AttachGroupPolicy',
  'DetachGroupPolicy',
  'ListAttachedGroupPolicies',
  'ExplainDecision',
  'ListBuckets',
  'GetBucket',
] as const;
export type AdminAction = (typeof ADMIN_ACTIONS)[number];

/** The policy (and audit) action of an administrative action: `sovra:CreateUser`. */
export function adminPolicyAction(action: AdminAction): string {
  return `sovra:${action}`;
}

export interface PageRequest {
  /** Where the previous page ended ('' for the first page). */
  marker: string;
  maxItems: number;
}

export interface Page<T> {
  items: T[];
  isTruncated: boolean;
  /** Pass as the next request's marker; null on the last page. */
  marker: string | null;
}

/** Attributes a user, service account or role may be given at creation and changed later. */
export interface PrincipalSettings {
  description?: string;
  tags?: Readonly<Record<string, string>>;
  clearance?: string | null;
  compartments?: readonly string[];
}

export interface NewUser extends PrincipalSettings {
  name: string;
  /** A person, or a workload's service account. */
  kind: 'user' | 'service';
  /** A tenant administrator: may do everything within its tenant. Only administrators make them. */
  admin?: boolean;
}

export interface NewRole extends PrincipalSettings {
  name: string;
  /** The trust policy (JSON text): who may assume the role. */
  trustPolicy: string;
}

export interface PrincipalChanges {
  description?: string;
  clearance?: string | null;
  compartments?: readonly string[];
  /** Users only; only administrators change it, and never their own. */
  admin?: boolean;
}

export interface NewTenant {
  id: string;
  name: string;
  /** The user name of the tenant's first administrator. */
  adminName: string;
}

/** A new access key with its secret, which exists in plaintext only in this value: shown once. */
export interface IssuedAccessKey {
  key: AccessKeyRecord;
  secretAccessKey: string;
}

export interface CreatedTenant {
  tenant: Tenant;
  administrator: PrincipalRecord;
  accessKey: IssuedAccessKey;
}

export interface NewPolicy {
  name: string;
  description?: string;
  /** An identity policy document (AWS IAM JSON). */
  document: string;
}

export interface PolicyChanges {
  description?: string;
  document?: string;
}

/** The entity a managed policy is attached to, by name within the caller's tenant. */
export interface PolicyHolder {
  namespace: 'user' | 'role' | 'group';
  name: string;
}

export interface IdentityAdministrationOptions {
  store: IdentityStore;
  sealer: SecretSealer;
  /** Forgets disabled and deleted keys at once. */
  credentials: CredentialResolver;
  /** The request path's cache of policies and attributes, invalidated on every change. */
  identities: CachedIdentitySource;
  clock: Clock;
  /** When set, clearances and compartments must be among its levels and compartments. */
  classification: ClassificationScheme | null;
  /** `sovra policy explain`; without it ExplainDecision is refused as unavailable. */
  explainer?: DecisionExplainer | null;
  /** The tenant's buckets with their labels (read only); without it the bucket reads are refused. */
  buckets?: BucketAdministration | null;
}

const ACCESS_KEY_ID = /^[A-Z0-9]{16,128}$/;
const MARKER_MAX_CHARS = 256;

/**
 * Tenants, principals, groups, access keys and managed policies, with the rules of who may change
 * them. Deny by default:
 * - administrators of the root tenant (the platform operator) create and read tenants, each with
 *   its first administrator; they do not act inside other tenants;
 * - a tenant's administrators manage their own tenant's principals, keys and policies;
 * - any other principal only what its identity policies allow (`sovra:<Action>` on the entity's
 *   ARN), within its own tenant, and never anything that makes or touches an administrator.
 * Every lookup is scoped to the caller's tenant, so another tenant's entities are NoSuchEntity
 * exactly like missing ones.
 */
export class IdentityAdministration {
  readonly #store: IdentityStore;
  readonly #sealer: SecretSealer;
  readonly #credentials: CredentialResolver;
  readonly #identities: CachedIdentitySource;
  readonly #clock: Clock;
  readonly #classification: ClassificationScheme | null;
  readonly #explainer: DecisionExplainer | null;
  readonly #buckets: BucketAdministration | null;

  constructor(options: IdentityAdministrationOptions) {
    this.#store = options.store;
    this.#sealer = options.sealer;
    this.#credentials = options.credentials;
    this.#identities = options.identities;
    this.#clock = options.clock;
    this.#classification = options.classification;
    this.#explainer = options.explainer ?? null;
    this.#buckets = options.buckets ?? null;
  }

  // ---- explanations ----------------------------------------------------------------------------

  /**
   * Explains what the S3 request path would decide for a principal of the caller's tenant
   * (DecisionExplainer): tenant administrators only, within their tenant.
   */
  explainDecision(caller: Caller, request: ExplainRequest): Promise<DecisionExplanation> {
    if (this.#explainer === null) {
      return Promise.reject(
        identityError('AccessDenied', 'this server does not explain decisions', {
          action: adminPolicyAction('ExplainDecision'),
        }),
      );
    }
    return this.#explainer.explain(caller, request);
  }

  // ---- buckets (read only) ---------------------------------------------------------------------

  /** The caller's tenant's buckets with their labels (BucketAdministration): administrators only. */
  listBuckets(caller: Caller, page: PageRequest): Promise<Page<LabelledBucket>> {
    if (this.#buckets === null) return Promise.reject(unavailable('ListBuckets', 'read buckets'));
    return this.#buckets.listBuckets(caller, page);
  }

  getBucket(caller: Caller, name: string): Promise<LabelledBucket> {
    if (this.#buckets === null) return Promise.reject(unavailable('GetBucket', 'read buckets'));
    return this.#buckets.getBucket(caller, name);
  }

  // ---- tenants ---------------------------------------------------------------------------------

  async createTenant(caller: Caller, input: NewTenant): Promise<CreatedTenant> {
    const id = checkTenantId(input.id);
    const name = checkTenantName(input.name);
    const adminName = checkEntityName('user', input.adminName, 'adminName');
    requireRootAdministrator(caller, 'CreateTenant', tenantArn(id));
    const issued = { accessKeyId: newAccessKeyId(), secretAccessKey: newSecretAccessKey() };
    const now = this.#clock.now();
    return this.#store.transaction(async (tx) => {
      // Tenant creations are serialised on the root tenant, so the count below cannot race.
      await tx.lockTenant(ROOT_TENANT_ID);
      if ((await tx.countTenants()) >= TENANTS_MAX) throw quota('Tenants', TENANTS_MAX);
      if ((await tx.getTenant(id)) !== null) {
        throw identityError('EntityAlreadyExists', `A tenant with id ${id} already exists.`);
      }
      const tenant: Tenant = { id, name, createdAt: now };
      await tx.insertTenant(tenant);
      const administrator = this.#newPrincipal(id, 'user', adminName, true, {}, null, now);
      await tx.insertPrincipal(administrator);
      const key = sealAccessKey(this.#sealer, administrator, issued, now, null);
      await tx.insertAccessKey(key);
      return { tenant, administrator, accessKey: { key, secretAccessKey: issued.secretAccessKey } };
    });
  }

  async listTenants(caller: Caller, page: PageRequest): Promise<Page<Tenant>> {
    requireRootAdministrator(caller, 'ListTenants', tenantArn('*'));
    const { marker, maxItems } = checkPage(page);
    return pageOf(await this.#store.listTenants(marker, maxItems + 1), maxItems, (t) => t.id);
  }

  /** Root administrators read any tenant; a tenant's administrators read their own. */
  async getTenant(caller: Caller, id: string): Promise<Tenant> {
    const isRootAdministrator = caller.isTenantAdmin && caller.tenantId === ROOT_TENANT_ID;
    if (!isRootAdministrator && !(caller.isTenantAdmin && caller.tenantId === id)) {
      throw denied(caller, 'GetTenant', tenantArn(id), 'only root administrators read other tenants');
    }
    const tenant = await this.#store.getTenant(id);
    if (tenant === null) throw identityError('NoSuchEntity', `The tenant with id ${id} cannot be found.`);
    return tenant;
  }

  // ---- users and service accounts --------------------------------------------------------------

  async createUser(caller: Caller, input: NewUser): Promise<PrincipalRecord> {
    const name = checkEntityName('user', input.name);
    const settings = this.#checkSettings(input);
    const admin = input.admin === true;
    await this.#authorize(caller, 'CreateUser', userArn(caller.tenantId, name), admin);
    const now = this.#clock.now();
    return this.#write(caller, async (tx) => {
      if ((await tx.countPrincipals(caller.tenantId, 'user')) >= USERS_PER_TENANT) {
        throw quota('UsersPerTenant', USERS_PER_TENANT);
      }
      if ((await tx.findPrincipal(caller.tenantId, 'user', name)) !== null) {
        throw identityError('EntityAlreadyExists', `User with name ${name} already exists.`);
      }
      const user = this.#newPrincipal(caller.tenantId, input.kind, name, admin, settings, null, now);
      await tx.insertPrincipal(user);
      return user;
    });
  }

  async listUsers(caller: Caller, page: PageRequest): Promise<Page<PrincipalRecord>> {
    return this.#listPrincipals(caller, 'ListUsers', 'user', page);
  }

  async getUser(caller: Caller, name: string): Promise<PrincipalRecord> {
    return this.#getPrincipal(caller, 'GetUser', 'user', name);
  }

  async updateUser(caller: Caller, name: string, changes: PrincipalChanges): Promise<PrincipalRecord> {
    return this.#updatePrincipal(caller, 'UpdateUser', 'user', name, changes);
  }

  /**
   * As in IAM, a user is deleted only once nothing hangs on it: its access keys deleted, its
   * policies detached and its group memberships removed (DeleteConflict otherwise).
   */
  async deleteUser(caller: Caller, name: string): Promise<void> {
    checkEntityName('user', name);
    const arn = userArn(caller.tenantId, name);
    await this.#authorize(caller, 'DeleteUser', arn);
    const user = await this.#write(caller, async (tx) => {
      const found = await existingPrincipal(tx, caller.tenantId, 'user', name);
      guardAdministrator(caller, found, 'DeleteUser', arn);
      if ((await tx.listAccessKeys(found.id)).length > 0) {
        throw identityError('DeleteConflict', 'Cannot delete entity, must delete access keys first.');
      }
      if ((await tx.listAttachedPolicies({ kind: 'principal', id: found.id })).length > 0) {
        throw identityError('DeleteConflict', 'Cannot delete entity, must detach all policies first.');
      }
      if ((await tx.listGroupsOf(found.id)).length > 0) {
        throw identityError('DeleteConflict', 'Cannot delete entity, must remove users from group first.');
      }
      await tx.deletePrincipal(found.id);
      return found;
    });
    this.#forgetPrincipal(user.id);
  }

  async tagUser(
    caller: Caller,
    name: string,
    tags: Readonly<Record<string, string>>,
  ): Promise<PrincipalRecord> {
    return this.#tagPrincipal(caller, 'TagUser', 'user', name, tags);
  }

  async untagUser(caller: Caller, name: string, tagKey: string): Promise<PrincipalRecord> {
    return this.#untagPrincipal(caller, 'UntagUser', 'user', name, tagKey);
  }

  async listGroupsForUser(caller: Caller, name: string): Promise<GroupRecord[]> {
    checkEntityName('user', name);
    await this.#authorize(caller, 'ListGroupsForUser', userArn(caller.tenantId, name));
    const user = await existingPrincipal(this.#store, caller.tenantId, 'user', name);
    return this.#store.listGroupsOf(user.id);
  }

  // ---- roles -----------------------------------------------------------------------------------

  async createRole(caller: Caller, input: NewRole): Promise<PrincipalRecord> {
    const name = checkEntityName('role', input.name);
    const settings = this.#checkSettings(input);
    parseTrustPolicy(input.trustPolicy, caller.tenantId, name);
    await this.#authorize(caller, 'CreateRole', roleArn(caller.tenantId, name));
    const now = this.#clock.now();
    return this.#write(caller, async (tx) => {
      if ((await tx.countPrincipals(caller.tenantId, 'role')) >= ROLES_PER_TENANT) {
        throw quota('RolesPerTenant', ROLES_PER_TENANT);
      }
      if ((await tx.findPrincipal(caller.tenantId, 'role', name)) !== null) {
        throw identityError('EntityAlreadyExists', `Role with name ${name} already exists.`);
      }
      const role = this.#newPrincipal(caller.tenantId, 'role', name, false, settings, input.trustPolicy, now);
      await tx.insertPrincipal(role);
      return role;
    });
  }

  async listRoles(caller: Caller, page: PageRequest): Promise<Page<PrincipalRecord>> {
    return this.#listPrincipals(caller, 'ListRoles', 'role', page);
  }

  async getRole(caller: Caller, name: string): Promise<PrincipalRecord> {
    return this.#getPrincipal(caller, 'GetRole', 'role', name);
  }

  async updateRole(caller: Caller, name: string, changes: PrincipalChanges): Promise<PrincipalRecord> {
    if (changes.admin !== undefined) {
      throw identityError('ValidationError', 'admin: roles cannot be tenant administrators', {
        field: 'admin',
      });
    }
    return this.#updatePrincipal(caller, 'UpdateRole', 'role', name, changes);
  }

  async updateAssumeRolePolicy(caller: Caller, name: string, trustPolicy: string): Promise<PrincipalRecord> {
    checkEntityName('role', name);
    parseTrustPolicy(trustPolicy, caller.tenantId, name);
    await this.#authorize(caller, 'UpdateAssumeRolePolicy', roleArn(caller.tenantId, name));
    const role = await this.#write(caller, async (tx) => {
      const found = await existingPrincipal(tx, caller.tenantId, 'role', name);
      const updated = { ...found, trustPolicy };
      await tx.updatePrincipal(updated);
      return updated;
    });
    this.#identities.invalidate(role.id);
    return role;
  }

  /** A role is deleted once its policies are detached (DeleteConflict otherwise), as in IAM. */
  async deleteRole(caller: Caller, name: string): Promise<void> {
    checkEntityName('role', name);
    await this.#authorize(caller, 'DeleteRole', roleArn(caller.tenantId, name));
    const role = await this.#write(caller, async (tx) => {
      const found = await existingPrincipal(tx, caller.tenantId, 'role', name);
      if ((await tx.listAttachedPolicies({ kind: 'principal', id: found.id })).length > 0) {
        throw identityError('DeleteConflict', 'Cannot delete entity, must detach all policies first.');
      }
      await tx.deletePrincipal(found.id);
      return found;
    });
    this.#forgetPrincipal(role.id);
  }

  async tagRole(
    caller: Caller,
    name: string,
    tags: Readonly<Record<string, string>>,
  ): Promise<PrincipalRecord> {
    return this.#tagPrincipal(caller, 'TagRole', 'role', name, tags);
  }

  async untagRole(caller: Caller, name: string, tagKey: string): Promise<PrincipalRecord> {
    return this.#untagPrincipal(caller, 'UntagRole', 'role', name, tagKey);
  }

  // ---- groups ----------------------------------------------------------------------------------

  async createGroup(caller: Caller, groupName: string): Promise<GroupRecord> {
    const name = checkEntityName('group', groupName);
    await this.#authorize(caller, 'CreateGroup', groupArn(caller.tenantId, name));
    const now = this.#clock.now();
    return this.#write(caller, async (tx) => {
      if ((await tx.countGroups(caller.tenantId)) >= GROUPS_PER_TENANT) {
        throw quota('GroupsPerTenant', GROUPS_PER_TENANT);
      }
      if ((await tx.findGroup(caller.tenantId, name)) !== null) {
        throw identityError('EntityAlreadyExists', `Group with name ${name} already exists.`);
      }
      const group: GroupRecord = {
        id: `group-${randomHexId(8)}`,
        tenantId: caller.tenantId,
        name,
        createdAt: now,
      };
      await tx.insertGroup(group);
      return group;
    });
  }

  async listGroups(caller: Caller, page: PageRequest): Promise<Page<GroupRecord>> {
    await this.#authorize(caller, 'ListGroups', groupArn(caller.tenantId, '*'));
    const { marker, maxItems } = checkPage(page);
    const rows = await this.#store.listGroups(caller.tenantId, marker, maxItems + 1);
    return pageOf(rows, maxItems, (group) => group.name);
  }

  /** The group and a page of its members (IAM GetGroup). */
  async getGroup(
    caller: Caller,
    groupName: string,
    page: PageRequest,
  ): Promise<{ group: GroupRecord; members: Page<PrincipalRecord> }> {
    checkEntityName('group', groupName);
    await this.#authorize(caller, 'GetGroup', groupArn(caller.tenantId, groupName));
    const { marker, maxItems } = checkPage(page);
    const group = await existingGroup(this.#store, caller.tenantId, groupName);
    const rows = await this.#store.listGroupMembers(group.id, marker, maxItems + 1);
    return { group, members: pageOf(rows, maxItems, (member) => member.name) };
  }

  /** A group is deleted once it has no members and no policies (DeleteConflict otherwise), as in IAM. */
  async deleteGroup(caller: Caller, groupName: string): Promise<void> {
    checkEntityName('group', groupName);
    await this.#authorize(caller, 'DeleteGroup', groupArn(caller.tenantId, groupName));
    await this.#write(caller, async (tx) => {
      const group = await existingGroup(tx, caller.tenantId, groupName);
      if ((await tx.countGroupMembers(group.id)) > 0) {
        throw identityError('DeleteConflict', 'Cannot delete entity, must remove users from group first.');
      }
      if ((await tx.listAttachedPolicies({ kind: 'group', id: group.id })).length > 0) {
        throw identityError('DeleteConflict', 'Cannot delete entity, must detach all policies first.');
      }
      await tx.deleteGroup(group.id);
    });
  }

  async addUserToGroup(caller: Caller, groupName: string, userName: string): Promise<void> {
    checkEntityName('group', groupName);
    checkEntityName('user', userName, 'userName');
    await this.#authorize(caller, 'AddUserToGroup', groupArn(caller.tenantId, groupName));
    const user = await this.#write(caller, async (tx) => {
      const group = await existingGroup(tx, caller.tenantId, groupName);
      const member = await existingPrincipal(tx, caller.tenantId, 'user', userName);
      const groups = await tx.listGroupsOf(member.id);
      if (groups.some((g) => g.id === group.id)) return member;
      if (groups.length >= GROUPS_PER_USER) throw quota('GroupsPerUser', GROUPS_PER_USER);
      await tx.addGroupMember(group.id, member.id);
      return member;
    });
    this.#identities.invalidate(user.id);
  }

  async removeUserFromGroup(caller: Caller, groupName: string, userName: string): Promise<void> {
    checkEntityName('group', groupName);
    checkEntityName('user', userName, 'userName');
    await this.#authorize(caller, 'RemoveUserFromGroup', groupArn(caller.tenantId, groupName));
    const user = await this.#write(caller, async (tx) => {
      const group = await existingGroup(tx, caller.tenantId, groupName);
      const member = await existingPrincipal(tx, caller.tenantId, 'user', userName);
      if (!(await tx.removeGroupMember(group.id, member.id))) {
        throw identityError('NoSuchEntity', `The user with name ${userName} is not in group ${groupName}.`);
      }
      return member;
    });
    this.#identities.invalidate(user.id);
  }

  // ---- access keys -----------------------------------------------------------------------------

  /**
   * A new key for a user or service account, its secret sealed at rest and returned only here. At
   * most ACCESS_KEYS_PER_PRINCIPAL keys exist per principal, active or not, so that a key can be
   * rotated (create the second, switch, delete the first) but never multiplied; a third is
   * LimitExceeded as in IAM.
   */
  async createAccessKey(caller: Caller, userName: string, expiresAt: Date | null): Promise<IssuedAccessKey> {
    checkEntityName('user', userName, 'userName');
    const now = this.#clock.now();
    const expiry = checkExpiry(expiresAt, now.getTime());
    const arn = userArn(caller.tenantId, userName);
    await this.#authorize(caller, 'CreateAccessKey', arn);
    const issued = { accessKeyId: newAccessKeyId(), secretAccessKey: newSecretAccessKey() };
    const key = await this.#write(caller, async (tx) => {
      const user = await existingPrincipal(tx, caller.tenantId, 'user', userName);
      guardAdministrator(caller, user, 'CreateAccessKey', arn);
      if ((await tx.listAccessKeys(user.id)).length >= ACCESS_KEYS_PER_PRINCIPAL) {
        throw quota('AccessKeysPerUser', ACCESS_KEYS_PER_PRINCIPAL);
      }
      const record = sealAccessKey(this.#sealer, user, issued, now, expiry);
      await tx.insertAccessKey(record);
      return record;
    });
    return { key, secretAccessKey: issued.secretAccessKey };
  }

  async listAccessKeys(caller: Caller, userName: string): Promise<AccessKeyRecord[]> {
    checkEntityName('user', userName, 'userName');
    await this.#authorize(caller, 'ListAccessKeys', userArn(caller.tenantId, userName));
    const user = await existingPrincipal(this.#store, caller.tenantId, 'user', userName);
    return this.#store.listAccessKeys(user.id);
  }

  /** Activates or deactivates a key; the change applies to the next request (the credential cache forgets it). */
  async updateAccessKey(
    caller: Caller,
    userName: string,
    accessKeyId: string,
    status: AccessKeyStatus,
  ): Promise<AccessKeyRecord> {
    const key = await this.#changeAccessKey(
      caller,
      'UpdateAccessKey',
      userName,
      accessKeyId,
      async (tx, found) => {
        await tx.setAccessKeyStatus(found.accessKeyId, status);
        return { ...found, status };
      },
    );
    return key;
  }

  async deleteAccessKey(caller: Caller, userName: string, accessKeyId: string): Promise<void> {
    await this.#changeAccessKey(caller, 'DeleteAccessKey', userName, accessKeyId, async (tx, found) => {
      await tx.deleteAccessKey(found.accessKeyId);
      return found;
    });
  }

  // ---- managed policies ------------------------------------------------------------------------

  async createPolicy(caller: Caller, input: NewPolicy): Promise<ManagedPolicyRecord> {
    const name = checkEntityName('policy', input.name);
    const description = checkDescription(input.description ?? '');
    checkIdentityPolicy(input.document);
    await this.#authorize(caller, 'CreatePolicy', policyArn(caller.tenantId, name));
    const now = this.#clock.now();
    return this.#write(caller, async (tx) => {
      if ((await tx.countPolicies(caller.tenantId)) >= POLICIES_PER_TENANT) {
        throw quota('CustomerManagedPolicies', POLICIES_PER_TENANT);
      }
      if ((await tx.findPolicy(caller.tenantId, name)) !== null) {
        throw identityError(
          'EntityAlreadyExists',
          `A policy called ${name} already exists. Duplicate names are not allowed.`,
        );
      }
      const policy: ManagedPolicyRecord = {
        id: `policy-${randomHexId(8)}`,
        tenantId: caller.tenantId,
        name,
        description,
        document: input.document,
        createdAt: now,
        updatedAt: now,
      };
      await tx.insertPolicy(policy);
      return policy;
    });
  }

  async listPolicies(caller: Caller, page: PageRequest): Promise<Page<ManagedPolicyRecord>> {
    await this.#authorize(caller, 'ListPolicies', policyArn(caller.tenantId, '*'));
    const { marker, maxItems } = checkPage(page);
    const rows = await this.#store.listPolicies(caller.tenantId, marker, maxItems + 1);
    return pageOf(rows, maxItems, (policy) => policy.name);
  }

  async getPolicy(
    caller: Caller,
    name: string,
  ): Promise<{ policy: ManagedPolicyRecord; attachmentCount: number }> {
    checkEntityName('policy', name);
    await this.#authorize(caller, 'GetPolicy', policyArn(caller.tenantId, name));
    const policy = await existingPolicy(this.#store, caller.tenantId, name);
    return { policy, attachmentCount: await this.#store.countAttachments(policy.id) };
  }

  /** Replaces the document (and description); principals it is attached to see it at their next request. */
  async updatePolicy(caller: Caller, name: string, changes: PolicyChanges): Promise<ManagedPolicyRecord> {
    checkEntityName('policy', name);
    const description = changes.description === undefined ? undefined : checkDescription(changes.description);
    if (changes.document !== undefined) checkIdentityPolicy(changes.document);
    await this.#authorize(caller, 'UpdatePolicy', policyArn(caller.tenantId, name));
    const now = this.#clock.now();
    const policy = await this.#write(caller, async (tx) => {
      const found = await existingPolicy(tx, caller.tenantId, name);
      // The update time names the compiled policy in caches: it must change with every update.
      const updatedAt = new Date(Math.max(now.getTime(), found.updatedAt.getTime() + 1));
      const updated: ManagedPolicyRecord = {
        ...found,
        description: description ?? found.description,
        document: changes.document ?? found.document,
        updatedAt,
      };
      await tx.updatePolicy(updated);
      return updated;
    });
    this.#identities.invalidateAll();
    return policy;
  }

  /** A policy is deleted once detached from everything (DeleteConflict otherwise), as in IAM. */
  async deletePolicy(caller: Caller, name: string): Promise<void> {
    checkEntityName('policy', name);
    await this.#authorize(caller, 'DeletePolicy', policyArn(caller.tenantId, name));
    await this.#write(caller, async (tx) => {
      const policy = await existingPolicy(tx, caller.tenantId, name);
      if ((await tx.countAttachments(policy.id)) > 0) {
        throw identityError('DeleteConflict', 'Cannot delete a policy attached to entities.');
      }
      await tx.deletePolicy(policy.id);
    });
  }

  /** Attaching an attached policy again changes nothing, as in IAM. */
  async attachPolicy(caller: Caller, holder: PolicyHolder, policyName: string): Promise<void> {
    const { action, arn } = this.#holderAction(caller, holder, 'Attach');
    checkEntityName('policy', policyName, 'policyName');
    await this.#authorize(caller, action, arn);
    const target = await this.#write(caller, async (tx) => {
      const found = await existingHolder(tx, caller.tenantId, holder);
      const policy = await existingPolicy(tx, caller.tenantId, policyName);
      const attached = await tx.listAttachedPolicies(found);
      if (attached.some((p) => p.id === policy.id)) return found;
      if (attached.length >= MANAGED_POLICIES_PER_PRINCIPAL) {
        throw quota(
          holder.namespace === 'group'
            ? 'PoliciesPerGroup'
            : holder.namespace === 'role'
              ? 'PoliciesPerRole'
              : 'PoliciesPerUser',
          MANAGED_POLICIES_PER_PRINCIPAL,
        );
      }
      await tx.attachPolicy(policy.id, found, this.#clock.now());
      return found;
    });
    this.#forgetPolicies(target);
  }

  async detachPolicy(caller: Caller, holder: PolicyHolder, policyName: string): Promise<void> {
    const { action, arn } = this.#holderAction(caller, holder, 'Detach');
    checkEntityName('policy', policyName, 'policyName');
    await this.#authorize(caller, action, arn);
    const target = await this.#write(caller, async (tx) => {
      const found = await existingHolder(tx, caller.tenantId, holder);
      const policy = await existingPolicy(tx, caller.tenantId, policyName);
      if (!(await tx.detachPolicy(policy.id, found))) {
        throw identityError('NoSuchEntity', `Policy ${policyName} was not found attached to ${holder.name}.`);
      }
      return found;
    });
    this.#forgetPolicies(target);
  }

  async listAttachedPolicies(caller: Caller, holder: PolicyHolder): Promise<ManagedPolicyRecord[]> {
    const { action, arn } = this.#holderAction(caller, holder, 'ListAttached');
    await this.#authorize(caller, action, arn);
    return this.#store.listAttachedPolicies(await existingHolder(this.#store, caller.tenantId, holder));
  }

  // ---- the rules shared by the actions ---------------------------------------------------------

  /**
   * Deny by default. A tenant administrator may act within its tenant (every action here is
   * scoped to the caller's tenant); anyone else needs an identity policy that allows
   * `sovra:<action>` on the entity's ARN, and never acts on or creates administrators.
   */
  async #authorize(
    caller: Caller,
    action: AdminAction,
    resource: string,
    makesAdministrator = false,
  ): Promise<void> {
    if (caller.isTenantAdmin) return;
    if (makesAdministrator) {
      throw denied(caller, action, resource, 'only tenant administrators make or change administrators');
    }
    const attributes = await this.#identities.attributesOf(caller.principalId);
    if (attributes === null || attributes.tenantId !== caller.tenantId) {
      throw denied(caller, action, resource, 'no identity-based policy allows the action');
    }
    const request = buildRequestContext({
      principal: requestPrincipalOf(attributes),
      action: adminPolicyAction(action),
      resource,
      resourceTenantId: caller.tenantId,
      conditionKeys: {
        'aws:SourceIp': caller.sourceIp,
        'aws:SecureTransport': caller.secureTransport ? 'true' : 'false',
      },
      now: this.#clock.now(),
    });
    const decision = authorize(request, {
      identityPolicies: await this.#identities.labeledPoliciesFor(caller.principalId),
      resourcePolicies: [],
    });
    if (decision.effect !== 'Allow') {
      const reason =
        decision.effect === 'ExplicitDeny'
          ? 'an explicit deny in an identity-based policy'
          : 'no identity-based policy allows the action';
      throw denied(caller, action, resource, reason, attributes.arn);
    }
  }

  /** Administrative writes of one tenant are serialised (IdentityStoreTx.lockTenant). */
  #write<T>(caller: Caller, work: (tx: IdentityStoreTx) => Promise<T>): Promise<T> {
    return this.#store.transaction(async (tx) => {
      await tx.lockTenant(caller.tenantId);
      return work(tx);
    });
  }

  #checkSettings(input: PrincipalSettings): Required<PrincipalSettings> {
    return {
      description: checkDescription(input.description ?? ''),
      tags: mergeTags({}, input.tags ?? {}),
      clearance: checkClearance(input.clearance ?? null, this.#classification),
      compartments: checkCompartments(input.compartments ?? [], this.#classification),
    };
  }

  #newPrincipal(
    tenantId: string,
    kind: PrincipalRecord['kind'],
    name: string,
    isTenantAdmin: boolean,
    settings: PrincipalSettings,
    trustPolicy: string | null,
    now: Date,
  ): PrincipalRecord {
    return {
      id: `${kind}-${randomHexId(8)}`,
      tenantId,
      kind,
      name,
      isTenantAdmin,
      createdAt: now,
      description: settings.description ?? '',
      tags: settings.tags ?? {},
      clearance: settings.clearance ?? null,
      compartments: settings.compartments ?? [],
      trustPolicy,
    };
  }

  async #listPrincipals(
    caller: Caller,
    action: 'ListUsers' | 'ListRoles',
    namespace: PrincipalNamespace,
    page: PageRequest,
  ): Promise<Page<PrincipalRecord>> {
    const arn = namespace === 'role' ? roleArn(caller.tenantId, '*') : userArn(caller.tenantId, '*');
    await this.#authorize(caller, action, arn);
    const { marker, maxItems } = checkPage(page);
    const rows = await this.#store.listPrincipals(caller.tenantId, namespace, marker, maxItems + 1);
    return pageOf(rows, maxItems, (principal) => principal.name);
  }

  async #getPrincipal(
    caller: Caller,
    action: 'GetUser' | 'GetRole',
    namespace: PrincipalNamespace,
    name: string,
  ): Promise<PrincipalRecord> {
    checkEntityName(namespace, name);
    await this.#authorize(caller, action, namespaceArn(caller.tenantId, namespace, name));
    return existingPrincipal(this.#store, caller.tenantId, namespace, name);
  }

  async #updatePrincipal(
    caller: Caller,
    action: 'UpdateUser' | 'UpdateRole',
    namespace: PrincipalNamespace,
    name: string,
    changes: PrincipalChanges,
  ): Promise<PrincipalRecord> {
    checkEntityName(namespace, name);
    const arn = namespace === 'role' ? roleArn(caller.tenantId, name) : userArn(caller.tenantId, name);
    const description = changes.description === undefined ? undefined : checkDescription(changes.description);
    const clearance =
      changes.clearance === undefined ? undefined : checkClearance(changes.clearance, this.#classification);
    const compartments =
      changes.compartments === undefined
        ? undefined
        : checkCompartments(changes.compartments, this.#classification);
    await this.#authorize(caller, action, arn, changes.admin !== undefined);
    const principal = await this.#write(caller, async (tx) => {
      const found = await existingPrincipal(tx, caller.tenantId, namespace, name);
      guardAdministrator(caller, found, action, arn);
      if (
        changes.admin !== undefined &&
        found.id === caller.principalId &&
        changes.admin !== found.isTenantAdmin
      ) {
        throw identityError(
          'ValidationError',
          'admin: administrators cannot change their own administrator flag',
          {
            field: 'admin',
          },
        );
      }
      const updated: PrincipalRecord = {
        ...found,
        description: description ?? found.description,
        clearance: clearance === undefined ? found.clearance : clearance,
        compartments: compartments ?? found.compartments,
        isTenantAdmin: changes.admin ?? found.isTenantAdmin,
      };
      await tx.updatePrincipal(updated);
      return updated;
    });
    this.#forgetPrincipal(principal.id);
    return principal;
  }

  async #tagPrincipal(
    caller: Caller,
    action: 'TagUser' | 'TagRole',
    namespace: PrincipalNamespace,
    name: string,
    tags: Readonly<Record<string, string>>,
  ): Promise<PrincipalRecord> {
    checkEntityName(namespace, name);
    mergeTags({}, tags);
    const arn = namespaceArn(caller.tenantId, namespace, name);
    await this.#authorize(caller, action, arn);
    const principal = await this.#write(caller, async (tx) => {
      const found = await existingPrincipal(tx, caller.tenantId, namespace, name);
      guardAdministrator(caller, found, action, arn);
      const updated = { ...found, tags: mergeTags(found.tags, tags) };
      await tx.updatePrincipal(updated);
      return updated;
    });
    this.#identities.invalidate(principal.id);
    return principal;
  }

  async #untagPrincipal(
    caller: Caller,
    action: 'UntagUser' | 'UntagRole',
    namespace: PrincipalNamespace,
    name: string,
    tagKey: string,
  ): Promise<PrincipalRecord> {
    checkEntityName(namespace, name);
    const arn = namespaceArn(caller.tenantId, namespace, name);
    await this.#authorize(caller, action, arn);
    const principal = await this.#write(caller, async (tx) => {
      const found = await existingPrincipal(tx, caller.tenantId, namespace, name);
      guardAdministrator(caller, found, action, arn);
      const updated = { ...found, tags: withoutTag(found.tags, tagKey) };
      await tx.updatePrincipal(updated);
      return updated;
    });
    this.#identities.invalidate(principal.id);
    return principal;
  }

  async #changeAccessKey(
    caller: Caller,
    action: 'UpdateAccessKey' | 'DeleteAccessKey',
    userName: string,
    accessKeyId: string,
    change: (tx: IdentityStoreTx, key: AccessKeyRecord) => Promise<AccessKeyRecord>,
  ): Promise<AccessKeyRecord> {
    checkEntityName('user', userName, 'userName');
    if (!ACCESS_KEY_ID.test(accessKeyId)) {
      throw identityError(
        'ValidationError',
        'accessKeyId: an access key id is 16 to 128 characters of A-Z and 0-9',
        {
          field: 'accessKeyId',
        },
      );
    }
    const arn = userArn(caller.tenantId, userName);
    await this.#authorize(caller, action, arn);
    const key = await this.#write(caller, async (tx) => {
      const user = await existingPrincipal(tx, caller.tenantId, 'user', userName);
      guardAdministrator(caller, user, action, arn);
      const found = await tx.getAccessKey(accessKeyId);
      // A key of another user, or of another tenant, is as unknown as a key that never existed.
      if (found === null || found.principalId !== user.id) {
        throw identityError('NoSuchEntity', `The Access Key with id ${accessKeyId} cannot be found.`);
      }
      return change(tx, found);
    });
    this.#credentials.invalidate(accessKeyId);
    return key;
  }

  #holderAction(
    caller: Caller,
    holder: PolicyHolder,
    verb: 'Attach' | 'Detach' | 'ListAttached',
  ): { action: AdminAction; arn: string } {
    const name = checkEntityName(holder.namespace, holder.name);
    const arn =
      holder.namespace === 'group'
        ? groupArn(caller.tenantId, name)
        : namespaceArn(caller.tenantId, holder.namespace, name);
    return { action: HOLDER_ACTIONS[holder.namespace][verb], arn };
  }

  #forgetPrincipal(principalId: string): void {
    this.#credentials.invalidatePrincipal(principalId);
    this.#identities.invalidate(principalId);
  }

  /** A group's policies apply to all its members: forget every principal. */
  #forgetPolicies(target: AttachmentTarget): void {
    if (target.kind === 'group') this.#identities.invalidateAll();
    else this.#identities.invalidate(target.id);
  }
}

const HOLDER_ACTIONS: Record<
  PolicyHolder['namespace'],
  Record<'Attach' | 'Detach' | 'ListAttached', AdminAction>
> = {
  user: { Attach: 'AttachUserPolicy', Detach: 'DetachUserPolicy', ListAttached: 'ListAttachedUserPolicies' },
  role: { Attach: 'AttachRolePolicy', Detach: 'DetachRolePolicy', ListAttached: 'ListAttachedRolePolicies' },
  group: {
    Attach: 'AttachGroupPolicy',
    Detach: 'DetachGroupPolicy',
    ListAttached: 'ListAttachedGroupPolicies',
  },
};

function requireRootAdministrator(caller: Caller, action: AdminAction, resource: string): void {
  if (!(caller.isTenantAdmin && caller.tenantId === ROOT_TENANT_ID)) {
    throw denied(caller, action, resource, 'only administrators of the root tenant manage tenants');
  }
}

/** Administrators are changed only by administrators: a policy cannot hand out that power. */
function guardAdministrator(
  caller: Caller,
  target: PrincipalRecord,
  action: AdminAction,
  resource: string,
): void {
  if (target.isTenantAdmin && !caller.isTenantAdmin) {
    throw denied(caller, action, resource, 'only tenant administrators act on administrators');
  }
}

/** AWS's wording: "User: ARN is not authorized to perform: ACTION on resource: ARN because …". */
function denied(
  caller: Caller,
  action: AdminAction,
  resource: string,
  reason: string,
  callerArn: string | null = null,
): IdentityError {
  const who = callerArn ?? `principal ${caller.principalId}`;
  return identityError(
    'AccessDenied',
    `${who} is not authorized to perform: ${adminPolicyAction(action)} on resource: ${resource} because ${reason}`,
    { action: adminPolicyAction(action), resource },
  );
}

/** A service this server was built without (explanations, bucket reads): refused like a denial. */
function unavailable(action: AdminAction, what: string): IdentityError {
  return identityError('AccessDenied', `this server does not ${what}`, { action: adminPolicyAction(action) });
}

/** IAM's LimitExceeded message: "Cannot exceed quota for AccessKeysPerUser: 2". */
function quota(name: string, limit: number): IdentityError {
  return identityError('LimitExceeded', `Cannot exceed quota for ${name}: ${limit}`, { quota: name, limit });
}

function checkIdentityPolicy(document: string): void {
  parsePolicy(document, { kind: 'identity', sizeLimit: IDENTITY_POLICY_SIZE_LIMIT });
}

function checkPage(page: PageRequest): PageRequest {
  if (page.marker.length > MARKER_MAX_CHARS) {
    throw identityError('ValidationError', 'marker: not a marker this API returned', { field: 'marker' });
  }
  return { marker: page.marker, maxItems: checkPageSize(page.maxItems) };
}

/** `rows` holds up to maxItems + 1 items: one more than the page says there is more. */
function pageOf<T>(rows: T[], maxItems: number, markerOf: (item: T) => string): Page<T> {
  const isTruncated = rows.length > maxItems;
  const items = isTruncated ? rows.slice(0, maxItems) : rows;
  const last = items.at(-1);
  return { items, isTruncated, marker: isTruncated && last !== undefined ? markerOf(last) : null };
}

function namespaceArn(tenantId: string, namespace: PrincipalNamespace, name: string): string {
  return namespace === 'role' ? roleArn(tenantId, name) : userArn(tenantId, name);
}

type Reads = Pick<IdentityStoreTx, 'findPrincipal' | 'findGroup' | 'findPolicy'>;

async function existingPrincipal(
  reads: Reads,
  tenantId: string,
  namespace: PrincipalNamespace,
  name: string,
): Promise<PrincipalRecord> {
  const found = await reads.findPrincipal(tenantId, namespace, name);
  if (found === null) {
    throw identityError('NoSuchEntity', `The ${namespace} with name ${name} cannot be found.`);
  }
  return found;
}

async function existingGroup(reads: Reads, tenantId: string, name: string): Promise<GroupRecord> {
  const found = await reads.findGroup(tenantId, name);
  if (found === null) throw identityError('NoSuchEntity', `The group with name ${name} cannot be found.`);
  return found;
}

async function existingPolicy(reads: Reads, tenantId: string, name: string): Promise<ManagedPolicyRecord> {
  const found = await reads.findPolicy(tenantId, name);
  if (found === null) {
    throw identityError(
      'NoSuchEntity',
      `Policy ${policyArn(tenantId, name)} does not exist or is not attachable.`,
    );
  }
  return found;
}

async function existingHolder(
  reads: Reads,
  tenantId: string,
  holder: PolicyHolder,
): Promise<AttachmentTarget> {
  if (holder.namespace === 'group') {
    return { kind: 'group', id: (await existingGroup(reads, tenantId, holder.name)).id };
  }
  return {
    kind: 'principal',
    id: (await existingPrincipal(reads, tenantId, holder.namespace, holder.name)).id,
  };
}
