import { identityError } from '../../domain/iam/identity-errors.ts';
import type { IdentityReads, IdentityStore, IdentityStoreTx } from '../../domain/iam/ports.ts';
import type { ResealStoredSecret } from '../../domain/iam/secret-resealing.ts';
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
} from '../../domain/iam/types.ts';
import {
  renderPlaceholders,
  type SqlDatabase,
  type SqlExecutor,
  type SqlRow,
  type SqlValue,
} from './driver.ts';
import { lockNumberOf } from './locks.ts';
import { resealSecretColumn } from './sealed-secrets.ts';
import { SqlFederationStore } from './sts-store.ts';
import {
  ACCESS_KEY_COLUMNS,
  accessKeyParams,
  decodeAccessKey,
  decodePrincipal,
  decodeTenant,
  integer,
  nullableText,
  PRINCIPAL_COLUMNS,
  principalParams,
  TENANT_COLUMNS,
  tenantParams,
  text,
} from './rows.ts';

/** The reads, over the store's committed state or a transaction's session. */
class SqlIdentityReads implements IdentityReads {
  protected readonly exec: SqlExecutor;
  protected readonly sql: IdentityStatements;

  constructor(exec: SqlExecutor, sql: IdentityStatements) {
    this.exec = exec;
    this.sql = sql;
  }

  getTenant(id: string): Promise<Tenant | null> {
    return this.#first(this.sql.selectTenant, [id], decodeTenant);
  }

  listTenants(afterId: string, limit: number): Promise<Tenant[]> {
    return this.#all(this.sql.selectTenants, [afterId, limit], decodeTenant);
  }

  getPrincipal(id: string): Promise<PrincipalRecord | null> {
    return this.#first(this.sql.selectPrincipal, [id], decodePrincipalRecord);
  }

  findPrincipal(
    tenantId: string,
    namespace: PrincipalNamespace,
    name: string,
  ): Promise<PrincipalRecord | null> {
    return this.#first(
      this.sql.selectPrincipalByName,
      [tenantId, name, ...kindsOf(namespace)],
      decodePrincipalRecord,
    );
  }

  listPrincipals(
    tenantId: string,
    namespace: PrincipalNamespace,
    afterName: string,
    limit: number,
  ): Promise<PrincipalRecord[]> {
    return this.#all(
      this.sql.selectPrincipals,
      [tenantId, afterName, ...kindsOf(namespace), limit],
      decodePrincipalRecord,
    );
  }

  getAccessKey(accessKeyId: string): Promise<AccessKeyRecord | null> {
    return this.#first(this.sql.selectAccessKey, [accessKeyId], decodeAccessKey);
  }

  listAccessKeys(principalId: string): Promise<AccessKeyRecord[]> {
    return this.#all(this.sql.selectAccessKeys, [principalId], decodeAccessKey);
  }

  findGroup(tenantId: string, name: string): Promise<GroupRecord | null> {
    return this.#first(this.sql.selectGroupByName, [tenantId, name], decodeGroup);
  }

  listGroups(tenantId: string, afterName: string, limit: number): Promise<GroupRecord[]> {
    return this.#all(this.sql.selectGroups, [tenantId, afterName, limit], decodeGroup);
  }

  listGroupMembers(groupId: string, afterName: string, limit: number): Promise<PrincipalRecord[]> {
    return this.#all(this.sql.selectGroupMembers, [groupId, afterName, limit], decodePrincipalRecord);
  }

  listGroupsOf(principalId: string): Promise<GroupRecord[]> {
    return this.#all(this.sql.selectGroupsOf, [principalId], decodeGroup);
  }

  findPolicy(tenantId: string, name: string): Promise<ManagedPolicyRecord | null> {
    return this.#first(this.sql.selectPolicyByName, [tenantId, name], decodePolicy);
  }

  listPolicies(tenantId: string, afterName: string, limit: number): Promise<ManagedPolicyRecord[]> {
    return this.#all(this.sql.selectPolicies, [tenantId, afterName, limit], decodePolicy);
  }

  listAttachedPolicies(target: AttachmentTarget): Promise<ManagedPolicyRecord[]> {
    return this.#all(this.sql.selectAttachedPolicies, [target.kind, target.id], decodePolicy);
  }

  policiesInEffect(principalId: string): Promise<PolicyInEffect[]> {
    return this.#all(this.sql.selectPoliciesInEffect, [principalId, principalId], (row) => ({
      policy: decodePolicy(row),
      viaGroup: nullableText(row, 'via_group'),
    }));
  }

  countTenants(): Promise<number> {
    return this.#count(this.sql.countTenants, []);
  }

  countPrincipals(tenantId: string, namespace: PrincipalNamespace): Promise<number> {
    return this.#count(this.sql.countPrincipals, [tenantId, ...kindsOf(namespace)]);
  }

  countGroups(tenantId: string): Promise<number> {
    return this.#count(this.sql.countGroups, [tenantId]);
  }

  countPolicies(tenantId: string): Promise<number> {
    return this.#count(this.sql.countPolicies, [tenantId]);
  }

  countGroupMembers(groupId: string): Promise<number> {
    return this.#count(this.sql.countGroupMembers, [groupId]);
  }

  countAttachments(policyId: string): Promise<number> {
    return this.#count(this.sql.countAttachments, [policyId]);
  }

  async #first<T>(sql: string, params: readonly SqlValue[], decode: (row: SqlRow) => T): Promise<T | null> {
    const [row] = await this.exec.query(sql, params);
    return row === undefined ? null : decode(row);
  }

  async #all<T>(sql: string, params: readonly SqlValue[], decode: (row: SqlRow) => T): Promise<T[]> {
    return (await this.exec.query(sql, params)).map(decode);
  }

  async #count(sql: string, params: readonly SqlValue[]): Promise<number> {
    const [row] = await this.exec.query(sql, params);
    return row === undefined ? 0 : integer(row, 'n');
  }
}

/**
 * The identity store on the metadata database (tables of migrations 1 and 8: tenants, principals,
 * access_keys, iam_groups, iam_group_members, iam_policies, iam_policy_attachments), for SQLite
 * and PostgreSQL alike. Principals' identity columns are those the metadata store reads for
 * authentication (rows.ts); the attributes of migration 8 are read and written only here.
 */
export class SqlIdentityStore extends SqlIdentityReads implements IdentityStore {
  readonly #db: SqlDatabase;

  constructor(db: SqlDatabase) {
    super(db, renderIdentityStatements(db));
    this.#db = db;
  }

  transaction<T>(work: (tx: IdentityStoreTx) => Promise<T>): Promise<T> {
    return this.#db.transaction((session) => work(new SqlIdentityStoreTx(this.#db, session, this.sql)));
  }

  resealAccessKeySecrets(reseal: ResealStoredSecret): Promise<number> {
    return resealSecretColumn(this.#db, 'access_keys', reseal);
  }

  /** Identity providers and role sessions (migration 10) on the same database. */
  federation(): SqlFederationStore {
    return new SqlFederationStore(this.#db);
  }
}

class SqlIdentityStoreTx extends SqlIdentityReads implements IdentityStoreTx {
  readonly #db: SqlDatabase;

  constructor(db: SqlDatabase, session: SqlExecutor, sql: IdentityStatements) {
    super(session, sql);
    this.#db = db;
  }

  async lockTenant(tenantId: string): Promise<void> {
    if (this.#db.transactionLockSql !== null) {
      await this.exec.query(this.#db.transactionLockSql, [lockNumberOf('iam-tenant', tenantId)]);
    }
  }

  async insertTenant(tenant: Tenant): Promise<void> {
    await this.#insert(this.sql.insertTenant, tenantParams(tenant), `tenant ${tenant.id}`);
  }

  async insertPrincipal(principal: PrincipalRecord): Promise<void> {
    await this.#insert(
      this.sql.insertPrincipal,
      [...principalParams(principal), ...attributeParams(principal)],
      `${principal.kind} ${principal.name}`,
    );
  }

  async updatePrincipal(principal: PrincipalRecord): Promise<void> {
    await this.#one(this.sql.updatePrincipal, [
      principal.isTenantAdmin ? 1 : 0,
      ...attributeParams(principal),
      principal.id,
      principal.tenantId,
    ]);
  }

  async deletePrincipal(id: string): Promise<void> {
    await this.#one(this.sql.deletePrincipal, [id]);
  }

  async insertAccessKey(key: AccessKeyRecord): Promise<void> {
    await this.#insert(this.sql.insertAccessKey, accessKeyParams(key), `access key ${key.accessKeyId}`);
  }

  async setAccessKeyStatus(accessKeyId: string, status: AccessKeyStatus): Promise<void> {
    await this.#one(this.sql.updateAccessKeyStatus, [status, accessKeyId]);
  }

  async deleteAccessKey(accessKeyId: string): Promise<void> {
    await this.#one(this.sql.deleteAccessKey, [accessKeyId]);
  }

  async insertGroup(group: GroupRecord): Promise<void> {
    await this.#insert(
      this.sql.insertGroup,
      [group.id, group.tenantId, group.name, group.createdAt.getTime()],
      `group ${group.name}`,
    );
  }

  async deleteGroup(id: string): Promise<void> {
    await this.#one(this.sql.deleteGroup, [id]);
  }

  async addGroupMember(groupId: string, principalId: string): Promise<boolean> {
    return (await this.exec.execute(this.sql.insertGroupMember, [groupId, principalId])) === 1;
  }

  async removeGroupMember(groupId: string, principalId: string): Promise<boolean> {
    return (await this.exec.execute(this.sql.deleteGroupMember, [groupId, principalId])) === 1;
  }

  async insertPolicy(policy: ManagedPolicyRecord): Promise<void> {
    await this.#insert(this.sql.insertPolicy, policyParams(policy), `policy ${policy.name}`);
  }

  async updatePolicy(policy: ManagedPolicyRecord): Promise<void> {
    await this.#one(this.sql.updatePolicy, [
      policy.description,
      policy.document,
      policy.updatedAt.getTime(),
      policy.id,
      policy.tenantId,
    ]);
  }

  async deletePolicy(id: string): Promise<void> {
    await this.#one(this.sql.deletePolicy, [id]);
  }

  async attachPolicy(policyId: string, target: AttachmentTarget, attachedAt: Date): Promise<boolean> {
    const changed = await this.exec.execute(this.sql.insertAttachment, [
      policyId,
      target.kind,
      target.id,
      attachedAt.getTime(),
    ]);
    return changed === 1;
  }

  async detachPolicy(policyId: string, target: AttachmentTarget): Promise<boolean> {
    return (await this.exec.execute(this.sql.deleteAttachment, [policyId, target.kind, target.id])) === 1;
  }

  /** A unique index refusing the row is the entity's name (or id) being taken. */
  async #insert(sql: string, params: readonly SqlValue[], what: string): Promise<void> {
    try {
      await this.exec.execute(sql, params);
    } catch (error) {
      if (this.#db.isUniqueViolation(error))
        throw identityError('EntityAlreadyExists', `The ${what} already exists.`);
      throw error;
    }
  }

  /** Writes of one row that the domain has just read under the tenant lock: anything else is a bug. */
  async #one(sql: string, params: readonly SqlValue[]): Promise<void> {
    const changed = await this.exec.execute(sql, params);
    if (changed !== 1) throw new Error(`identity store: expected to change one row, changed ${changed}`);
  }
}

// ---- statements ---------------------------------------------------------------------------------

/** The principal columns of migration 8, after the identity columns of PRINCIPAL_COLUMNS. */
const ATTRIBUTE_COLUMNS = 'description, tags, clearance, compartments, trust_policy';
const PRINCIPAL_RECORD_COLUMNS = `${PRINCIPAL_COLUMNS}, ${ATTRIBUTE_COLUMNS}`;
const GROUP_COLUMNS = 'id, tenant_id, name, created_at_ms';
const POLICY_COLUMNS = 'id, tenant_id, name, description, document, created_at_ms, updated_at_ms';

/** Both kinds of a name space, as two parameters of `kind IN (?, ?)`. */
function kindsOf(namespace: PrincipalNamespace): [string, string] {
  return namespace === 'role' ? ['role', 'role'] : ['user', 'service'];
}

function marks(columns: string): string {
  return columns
    .split(',')
    .map(() => '?')
    .join(', ');
}

function prefixed(alias: string, columns: string): string {
  return columns
    .split(',')
    .map((column) => `${alias}.${column.trim()}`)
    .join(', ');
}

type IdentityStatements = ReturnType<typeof renderIdentityStatements>;

function renderIdentityStatements(db: SqlDatabase) {
  const r = (sql: string) => renderPlaceholders(sql, db.placeholderStyle);
  const policyOf = prefixed('p', POLICY_COLUMNS);
  return {
    selectTenant: r(`SELECT ${TENANT_COLUMNS} FROM tenants WHERE id = ?`),
    selectTenants: r(`SELECT ${TENANT_COLUMNS} FROM tenants WHERE id > ? ORDER BY id LIMIT ?`),
    countTenants: r('SELECT COUNT(*) AS n FROM tenants'),
    insertTenant: r(`INSERT INTO tenants (${TENANT_COLUMNS}) VALUES (${marks(TENANT_COLUMNS)})`),

    selectPrincipal: r(`SELECT ${PRINCIPAL_RECORD_COLUMNS} FROM principals WHERE id = ?`),
    selectPrincipalByName: r(
      `SELECT ${PRINCIPAL_RECORD_COLUMNS} FROM principals WHERE tenant_id = ? AND name = ? AND kind IN (?, ?)`,
    ),
    selectPrincipals: r(
      `SELECT ${PRINCIPAL_RECORD_COLUMNS} FROM principals WHERE tenant_id = ? AND name > ? AND kind IN (?, ?) ORDER BY name LIMIT ?`,
    ),
    countPrincipals: r('SELECT COUNT(*) AS n FROM principals WHERE tenant_id = ? AND kind IN (?, ?)'),
    insertPrincipal: r(
      `INSERT INTO principals (${PRINCIPAL_RECORD_COLUMNS}) VALUES (${marks(PRINCIPAL_RECORD_COLUMNS)})`,
    ),
    updatePrincipal: r(
      `UPDATE principals SET is_tenant_admin = ?, description = ?, tags = ?, clearance = ?, compartments = ?, trust_policy = ? WHERE id = ? AND tenant_id = ?`,
    ),
    deletePrincipal: r('DELETE FROM principals WHERE id = ?'),

    selectAccessKey: r(`SELECT ${ACCESS_KEY_COLUMNS} FROM access_keys WHERE access_key_id = ?`),
    selectAccessKeys: r(
      `SELECT ${ACCESS_KEY_COLUMNS} FROM access_keys WHERE principal_id = ? ORDER BY created_at_ms, access_key_id`,
    ),
    insertAccessKey: r(
      `INSERT INTO access_keys (${ACCESS_KEY_COLUMNS}) VALUES (${marks(ACCESS_KEY_COLUMNS)})`,
    ),
    updateAccessKeyStatus: r('UPDATE access_keys SET status = ? WHERE access_key_id = ?'),
    deleteAccessKey: r('DELETE FROM access_keys WHERE access_key_id = ?'),

    selectGroupByName: r(`SELECT ${GROUP_COLUMNS} FROM iam_groups WHERE tenant_id = ? AND name = ?`),
    selectGroups: r(
      `SELECT ${GROUP_COLUMNS} FROM iam_groups WHERE tenant_id = ? AND name > ? ORDER BY name LIMIT ?`,
    ),
    countGroups: r('SELECT COUNT(*) AS n FROM iam_groups WHERE tenant_id = ?'),
    insertGroup: r(`INSERT INTO iam_groups (${GROUP_COLUMNS}) VALUES (${marks(GROUP_COLUMNS)})`),
    deleteGroup: r('DELETE FROM iam_groups WHERE id = ?'),
    selectGroupMembers: r(
      `SELECT ${prefixed('p', PRINCIPAL_RECORD_COLUMNS)} FROM iam_group_members m JOIN principals p ON p.id = m.principal_id WHERE m.group_id = ? AND p.name > ? ORDER BY p.name LIMIT ?`,
    ),
    selectGroupsOf: r(
      `SELECT ${prefixed('g', GROUP_COLUMNS)} FROM iam_group_members m JOIN iam_groups g ON g.id = m.group_id WHERE m.principal_id = ? ORDER BY g.name`,
    ),
    countGroupMembers: r('SELECT COUNT(*) AS n FROM iam_group_members WHERE group_id = ?'),
    insertGroupMember: r(
      'INSERT INTO iam_group_members (group_id, principal_id) VALUES (?, ?) ON CONFLICT DO NOTHING',
    ),
    deleteGroupMember: r('DELETE FROM iam_group_members WHERE group_id = ? AND principal_id = ?'),

    selectPolicyByName: r(`SELECT ${POLICY_COLUMNS} FROM iam_policies WHERE tenant_id = ? AND name = ?`),
    selectPolicies: r(
      `SELECT ${POLICY_COLUMNS} FROM iam_policies WHERE tenant_id = ? AND name > ? ORDER BY name LIMIT ?`,
    ),
    countPolicies: r('SELECT COUNT(*) AS n FROM iam_policies WHERE tenant_id = ?'),
    insertPolicy: r(`INSERT INTO iam_policies (${POLICY_COLUMNS}) VALUES (${marks(POLICY_COLUMNS)})`),
    updatePolicy: r(
      'UPDATE iam_policies SET description = ?, document = ?, updated_at_ms = ? WHERE id = ? AND tenant_id = ?',
    ),
    deletePolicy: r('DELETE FROM iam_policies WHERE id = ?'),

    selectAttachedPolicies: r(
      `SELECT ${policyOf} FROM iam_policy_attachments a JOIN iam_policies p ON p.id = a.policy_id WHERE a.target_kind = ? AND a.target_id = ? ORDER BY p.name`,
    ),
    countAttachments: r('SELECT COUNT(*) AS n FROM iam_policy_attachments WHERE policy_id = ?'),
    insertAttachment: r(
      'INSERT INTO iam_policy_attachments (policy_id, target_kind, target_id, attached_at_ms) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    deleteAttachment: r(
      'DELETE FROM iam_policy_attachments WHERE policy_id = ? AND target_kind = ? AND target_id = ?',
    ),
    // The principal's own policies first, then its groups' (by group name), each by policy name.
    selectPoliciesInEffect: r(
      `SELECT ${policyOf}, NULL AS via_group, '' AS group_order FROM iam_policy_attachments a JOIN iam_policies p ON p.id = a.policy_id WHERE a.target_kind = 'principal' AND a.target_id = ? ` +
        `UNION ALL SELECT ${policyOf}, g.name AS via_group, g.name AS group_order FROM iam_group_members m JOIN iam_groups g ON g.id = m.group_id JOIN iam_policy_attachments a ON a.target_kind = 'group' AND a.target_id = g.id JOIN iam_policies p ON p.id = a.policy_id WHERE m.principal_id = ? ` +
        'ORDER BY group_order, name',
    ),
  };
}

// ---- rows ---------------------------------------------------------------------------------------
// Tags are a JSON object of strings, compartments a JSON array of strings; both written only here.

function attributeParams(principal: PrincipalRecord): SqlValue[] {
  return [
    principal.description,
    JSON.stringify(principal.tags),
    principal.clearance,
    JSON.stringify(principal.compartments),
    principal.trustPolicy,
  ];
}

function decodePrincipalRecord(row: SqlRow): PrincipalRecord {
  return {
    ...decodePrincipal(row),
    description: text(row, 'description'),
    tags: stringRecord(row, 'tags'),
    clearance: nullableText(row, 'clearance'),
    compartments: stringArray(row, 'compartments'),
    trustPolicy: nullableText(row, 'trust_policy'),
  };
}

function decodeGroup(row: SqlRow): GroupRecord {
  return {
    id: text(row, 'id'),
    tenantId: text(row, 'tenant_id'),
    name: text(row, 'name'),
    createdAt: new Date(integer(row, 'created_at_ms')),
  };
}

function policyParams(policy: ManagedPolicyRecord): SqlValue[] {
  return [
    policy.id,
    policy.tenantId,
    policy.name,
    policy.description,
    policy.document,
    policy.createdAt.getTime(),
    policy.updatedAt.getTime(),
  ];
}

function decodePolicy(row: SqlRow): ManagedPolicyRecord {
  return {
    id: text(row, 'id'),
    tenantId: text(row, 'tenant_id'),
    name: text(row, 'name'),
    description: text(row, 'description'),
    document: text(row, 'document'),
    createdAt: new Date(integer(row, 'created_at_ms')),
    updatedAt: new Date(integer(row, 'updated_at_ms')),
  };
}

function stringRecord(row: SqlRow, column: string): Record<string, string> {
  const value: unknown = JSON.parse(text(row, column));
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed(column);
  const record: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') throw malformed(column);
    record[key] = item;
  }
  return record;
}

function stringArray(row: SqlRow, column: string): string[] {
  const value: unknown = JSON.parse(text(row, column));
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string'))
    throw malformed(column);
  return value;
}

function malformed(column: string): Error {
  return new Error(`identity column ${column} holds a document this store never wrote`);
}
