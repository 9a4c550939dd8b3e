import { kmsError } from '../../domain/kms/errors.ts';
import type { KeyStore, KeyStoreTx } from '../../domain/kms/ports.ts';
import {
  KEY_SPECS,
  KEY_STATES,
  KEY_USAGES,
  ROTATION_TYPES,
  type AliasRecord,
  type KeyVersionRecord,
  type KmsKeyRecord,
  type KmsTag,
} from '../../domain/kms/types.ts';
import {
  renderPlaceholders,
  type SqlDatabase,
  type SqlExecutor,
  type SqlRow,
  type SqlValue,
} from './driver.ts';
import { lockNumberOf } from './locks.ts';
import { bytes, integer, text } from './rows.ts';

/**
 * The key ring's KeyStore on the metadata database (tables of migration 5: kms_keys,
 * kms_key_versions, kms_aliases), for SQLite and PostgreSQL alike. It shares the SqlDatabase
 * with the metadata store but none of its statements, so the two evolve independently.
 */
export class SqlKeyStore implements KeyStore {
  readonly #db: SqlDatabase;
  readonly #sql: KmsStatements;

  constructor(db: SqlDatabase) {
    this.#db = db;
    this.#sql = renderKmsStatements(db);
  }

  transaction<T>(work: (tx: KeyStoreTx) => Promise<T>): Promise<T> {
    return this.#db.transaction((session) => work(new SqlKeyStoreTx(this.#db, session, this.#sql)));
  }

  discardDeletedCopies(): Promise<void> {
    return this.#db.discardSupersededPages();
  }

  getKey(keyId: string): Promise<KmsKeyRecord | null> {
    return one(this.#db, this.#sql.selectKey, [keyId], decodeKey);
  }

  async listKeys(tenantId: string, afterKeyId: string, limit: number): Promise<KmsKeyRecord[]> {
    return (await this.#db.query(this.#sql.selectTenantKeys, [tenantId, afterKeyId, limit])).map(decodeKey);
  }

  async listKeyTenants(afterTenantId: string, limit: number): Promise<string[]> {
    const rows = await this.#db.query(this.#sql.selectKeyTenants, [afterTenantId, limit]);
    return rows.map((row) => text(row, 'tenant_id'));
  }

  getKeyVersion(keyId: string, version: number): Promise<KeyVersionRecord | null> {
    return one(this.#db, this.#sql.selectKeyVersion, [keyId, version], decodeKeyVersion);
  }

  async listKeyVersions(keyId: string, afterVersion: number, limit: number): Promise<KeyVersionRecord[]> {
    return (await this.#db.query(this.#sql.selectKeyVersions, [keyId, afterVersion, limit])).map(
      decodeKeyVersion,
    );
  }

  getAlias(tenantId: string, aliasName: string): Promise<AliasRecord | null> {
    return one(this.#db, this.#sql.selectAlias, [tenantId, aliasName], decodeAlias);
  }

  async listAliases(
    tenantId: string,
    keyId: string | null,
    afterAliasName: string,
    limit: number,
  ): Promise<AliasRecord[]> {
    const rows =
      keyId === null
        ? await this.#db.query(this.#sql.selectTenantAliases, [tenantId, afterAliasName, limit])
        : await this.#db.query(this.#sql.selectKeyAliases, [tenantId, keyId, afterAliasName, limit]);
    return rows.map(decodeAlias);
  }

  async listKeysDueForDeletion(nowMs: number, limit: number): Promise<KmsKeyRecord[]> {
    return (await this.#db.query(this.#sql.selectDueDeletions, [nowMs, limit])).map(decodeKey);
  }

  async listKeysDueForRotation(nowMs: number, limit: number): Promise<KmsKeyRecord[]> {
    return (await this.#db.query(this.#sql.selectDueRotations, [nowMs, limit])).map(decodeKey);
  }
}

class SqlKeyStoreTx implements KeyStoreTx {
  readonly #db: SqlDatabase;
  readonly #session: SqlExecutor;
  readonly #sql: KmsStatements;

  constructor(db: SqlDatabase, session: SqlExecutor, sql: KmsStatements) {
    this.#db = db;
    this.#session = session;
    this.#sql = sql;
  }

  async lockKey(keyId: string): Promise<KmsKeyRecord | null> {
    if (this.#db.transactionLockSql !== null) {
      await this.#session.query(this.#db.transactionLockSql, [lockNumberOf('kms-key', keyId)]);
    }
    return one(this.#session, this.#sql.selectKey, [keyId], decodeKey);
  }

  async insertKey(key: KmsKeyRecord): Promise<void> {
    await this.#session.execute(this.#sql.insertKey, keyParams(key));
  }

  async updateKey(key: KmsKeyRecord): Promise<void> {
    const [keyId, tenantId, ...rest] = keyParams(key);
    const changed = await this.#session.execute(this.#sql.updateKey, [
      ...rest,
      keyId ?? null,
      tenantId ?? null,
    ]);
    if (changed !== 1) throw new Error(`KMS key ${key.keyId} was not updated`);
  }

  async deleteKey(keyId: string): Promise<{ versionsDeleted: number; aliasesDeleted: number }> {
    // SQLite leaves a deleted row's bytes in the page's free space unless secure_delete is on
    // (it is, on the writing connection); overwriting the material first also covers a database
    // opened without it (docs/architecture.md).
    if (this.#sql.zeroKeyVersions !== null) await this.#session.execute(this.#sql.zeroKeyVersions, [keyId]);
    const aliasesDeleted = await this.#session.execute(this.#sql.deleteKeyAliases, [keyId]);
    const versionsDeleted = await this.#session.execute(this.#sql.deleteKeyVersions, [keyId]);
    await this.#session.execute(this.#sql.deleteKey, [keyId]);
    return { versionsDeleted, aliasesDeleted };
  }

  async countKeys(tenantId: string): Promise<number> {
    return (await one(this.#session, this.#sql.countTenantKeys, [tenantId], (row) => integer(row, 'n'))) ?? 0;
  }

  async insertKeyVersion(version: KeyVersionRecord): Promise<void> {
    await this.#session.execute(this.#sql.insertKeyVersion, [
      version.keyId,
      version.version,
      version.wrappedMaterial,
      version.publicKey,
      version.createdAt.getTime(),
      version.rotationType,
    ]);
  }

  getAlias(tenantId: string, aliasName: string): Promise<AliasRecord | null> {
    return one(this.#session, this.#sql.selectAlias, [tenantId, aliasName], decodeAlias);
  }

  async countAliases(tenantId: string): Promise<number> {
    return (
      (await one(this.#session, this.#sql.countTenantAliases, [tenantId], (row) => integer(row, 'n'))) ?? 0
    );
  }

  async insertAlias(alias: AliasRecord): Promise<void> {
    try {
      await this.#session.execute(this.#sql.insertAlias, aliasParams(alias));
    } catch (error) {
      if (this.#db.isUniqueViolation(error)) {
        throw kmsError('AliasExists', `An alias with the name ${alias.aliasName} already exists`);
      }
      throw error;
    }
  }

  async updateAlias(alias: AliasRecord): Promise<boolean> {
    return (
      (await this.#session.execute(this.#sql.updateAlias, [
        alias.keyId,
        alias.updatedAt.getTime(),
        alias.tenantId,
        alias.aliasName,
      ])) === 1
    );
  }

  async deleteAlias(tenantId: string, aliasName: string): Promise<boolean> {
    return (await this.#session.execute(this.#sql.deleteAlias, [tenantId, aliasName])) === 1;
  }
}

// ---- statements ---------------------------------------------------------------------------------

const KEY_COLUMNS =
  'key_id, tenant_id, format, key_spec, key_usage, key_state, description, created_at_ms, deletion_date_ms, ' +
  'pending_window_days, rotation_enabled, rotation_period_days, next_rotation_ms, current_version, ' +
  'on_demand_rotations, policy, tags';
/** The columns an update may change, in keyParams order after key_id and tenant_id. */
const KEY_MUTABLE_COLUMNS = KEY_COLUMNS.split(', ').slice(2);
const VERSION_COLUMNS = 'key_id, version, wrapped_material, public_key, created_at_ms, rotation_type';
const ALIAS_COLUMNS = 'tenant_id, alias_name, key_id, created_at_ms, updated_at_ms';

function renderKmsStatements(db: SqlDatabase) {
  const r = (sql: string) => renderPlaceholders(sql, db.placeholderStyle);
  return {
    selectKey: r(`SELECT ${KEY_COLUMNS} FROM kms_keys WHERE key_id = ?`),
    selectTenantKeys: r(
      `SELECT ${KEY_COLUMNS} FROM kms_keys WHERE tenant_id = ? AND key_id > ? ORDER BY key_id LIMIT ?`,
    ),
    countTenantKeys: r('SELECT COUNT(*) AS n FROM kms_keys WHERE tenant_id = ?'),
    insertKey: r(`INSERT INTO kms_keys (${KEY_COLUMNS}) VALUES (${marks(KEY_COLUMNS)})`),
    updateKey: r(
      `UPDATE kms_keys SET ${KEY_MUTABLE_COLUMNS.map((column) => `${column} = ?`).join(', ')} WHERE key_id = ? AND tenant_id = ?`,
    ),
    deleteKey: r('DELETE FROM kms_keys WHERE key_id = ?'),
    // The literals match the partial indexes' predicates (migration 5).
    selectDueDeletions: r(
      `SELECT ${KEY_COLUMNS} FROM kms_keys WHERE key_state = 'PendingDeletion' AND deletion_date_ms <= ? ORDER BY deletion_date_ms, key_id LIMIT ?`,
    ),
    selectDueRotations: r(
      `SELECT ${KEY_COLUMNS} FROM kms_keys WHERE key_state = 'Enabled' AND rotation_enabled = 1 AND next_rotation_ms <= ? ORDER BY next_rotation_ms, key_id LIMIT ?`,
    ),

    selectKeyTenants: r(
      'SELECT DISTINCT tenant_id FROM kms_keys WHERE tenant_id > ? ORDER BY tenant_id LIMIT ?',
    ),
    selectKeyVersion: r(`SELECT ${VERSION_COLUMNS} FROM kms_key_versions WHERE key_id = ? AND version = ?`),
    selectKeyVersions: r(
      `SELECT ${VERSION_COLUMNS} FROM kms_key_versions WHERE key_id = ? AND version > ? ORDER BY version LIMIT ?`,
    ),
    insertKeyVersion: r(
      `INSERT INTO kms_key_versions (${VERSION_COLUMNS}) VALUES (${marks(VERSION_COLUMNS)})`,
    ),
    deleteKeyVersions: r('DELETE FROM kms_key_versions WHERE key_id = ?'),
    zeroKeyVersions:
      db.dialect === 'sqlite'
        ? r(
            'UPDATE kms_key_versions SET wrapped_material = zeroblob(length(wrapped_material)) WHERE key_id = ?',
          )
        : null,

    selectAlias: r(`SELECT ${ALIAS_COLUMNS} FROM kms_aliases WHERE tenant_id = ? AND alias_name = ?`),
    selectTenantAliases: r(
      `SELECT ${ALIAS_COLUMNS} FROM kms_aliases WHERE tenant_id = ? AND alias_name > ? ORDER BY alias_name LIMIT ?`,
    ),
    selectKeyAliases: r(
      `SELECT ${ALIAS_COLUMNS} FROM kms_aliases WHERE tenant_id = ? AND key_id = ? AND alias_name > ? ORDER BY alias_name LIMIT ?`,
    ),
    countTenantAliases: r('SELECT COUNT(*) AS n FROM kms_aliases WHERE tenant_id = ?'),
    insertAlias: r(`INSERT INTO kms_aliases (${ALIAS_COLUMNS}) VALUES (${marks(ALIAS_COLUMNS)})`),
    updateAlias: r(
      'UPDATE kms_aliases SET key_id = ?, updated_at_ms = ? WHERE tenant_id = ? AND alias_name = ?',
    ),
    deleteAlias: r('DELETE FROM kms_aliases WHERE tenant_id = ? AND alias_name = ?'),
    deleteKeyAliases: r('DELETE FROM kms_aliases WHERE key_id = ?'),
  };
}

type KmsStatements = ReturnType<typeof renderKmsStatements>;

function marks(columns: string): string {
  return columns
    .split(',')
    .map(() => '?')
    .join(', ');
}

async function one<T>(
  executor: SqlExecutor,
  sql: string,
  params: readonly SqlValue[],
  decode: (row: SqlRow) => T,
): Promise<T | null> {
  const row = (await executor.query(sql, params))[0];
  return row === undefined ? null : decode(row);
}

// ---- rows -----------------------------------------------------------------------------------------
// Times are epoch milliseconds, flags 0/1, tags a JSON array of {key, value} (format 1).

function keyParams(key: KmsKeyRecord): SqlValue[] {
  return [
    key.keyId,
    key.tenantId,
    key.format,
    key.keySpec,
    key.keyUsage,
    key.keyState,
    key.description,
    key.createdAt.getTime(),
    key.deletionDate?.getTime() ?? null,
    key.pendingWindowDays,
    key.rotationEnabled ? 1 : 0,
    key.rotationPeriodDays,
    key.nextRotationAt?.getTime() ?? null,
    key.currentVersion,
    key.onDemandRotations,
    key.policy,
    JSON.stringify(key.tags),
  ];
}

function decodeKey(row: SqlRow): KmsKeyRecord {
  return {
    format: integer(row, 'format'),
    keyId: text(row, 'key_id'),
    tenantId: text(row, 'tenant_id'),
    keySpec: oneOf(row, 'key_spec', KEY_SPECS),
    keyUsage: oneOf(row, 'key_usage', KEY_USAGES),
    keyState: oneOf(row, 'key_state', KEY_STATES),
    description: text(row, 'description'),
    createdAt: new Date(integer(row, 'created_at_ms')),
    deletionDate: nullableTime(row, 'deletion_date_ms'),
    pendingWindowDays: nullableInteger(row, 'pending_window_days'),
    rotationEnabled: integer(row, 'rotation_enabled') === 1,
    rotationPeriodDays: nullableInteger(row, 'rotation_period_days'),
    nextRotationAt: nullableTime(row, 'next_rotation_ms'),
    currentVersion: integer(row, 'current_version'),
    onDemandRotations: integer(row, 'on_demand_rotations'),
    policy: text(row, 'policy'),
    tags: decodeTags(text(row, 'tags')),
  };
}

function decodeKeyVersion(row: SqlRow): KeyVersionRecord {
  return {
    keyId: text(row, 'key_id'),
    version: integer(row, 'version'),
    wrappedMaterial: bytes(row, 'wrapped_material'),
    publicKey: row.public_key === null ? null : bytes(row, 'public_key'),
    createdAt: new Date(integer(row, 'created_at_ms')),
    rotationType: row.rotation_type === null ? null : oneOf(row, 'rotation_type', ROTATION_TYPES),
  };
}

function aliasParams(alias: AliasRecord): SqlValue[] {
  return [alias.tenantId, alias.aliasName, alias.keyId, alias.createdAt.getTime(), alias.updatedAt.getTime()];
}

function decodeAlias(row: SqlRow): AliasRecord {
  return {
    tenantId: text(row, 'tenant_id'),
    aliasName: text(row, 'alias_name'),
    keyId: text(row, 'key_id'),
    createdAt: new Date(integer(row, 'created_at_ms')),
    updatedAt: new Date(integer(row, 'updated_at_ms')),
  };
}

/** Tags are written only by this module; anything else in the column is a corrupt row. */
function decodeTags(json: string): KmsTag[] {
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed)) throw new Error('kms_keys.tags is not a JSON array');
  return parsed.map((entry: unknown) => {
    if (
      typeof entry !== 'object' ||
      entry === null ||
      !('key' in entry) ||
      !('value' in entry) ||
      typeof entry.key !== 'string' ||
      typeof entry.value !== 'string'
    ) {
      throw new Error('kms_keys.tags holds a malformed tag');
    }
    return { key: entry.key, value: entry.value };
  });
}

function nullableInteger(row: SqlRow, column: string): number | null {
  return row[column] === null ? null : integer(row, column);
}

function nullableTime(row: SqlRow, column: string): Date | null {
  return row[column] === null ? null : new Date(integer(row, column));
}

function oneOf<T extends string>(row: SqlRow, column: string, allowed: readonly T[]): T {
  const value = row[column];
  const match = allowed.find((candidate) => candidate === value);
  if (match === undefined) throw new Error(`KMS column ${column} holds an unexpected value`);
  return match;
}
