import type {
  GuardrailSetStore,
  NewGuardrailSet,
  StoredGuardrailSet,
} from '../../domain/guardrails/ports.ts';
import { renderPlaceholders, type SqlDatabase, type SqlRow } from './driver.ts';
import { lockNumberOf } from './locks.ts';
import { integer, text } from './rows.ts';

const COLUMNS = [
  'version',
  'format',
  'policies',
  'sha256',
  'replaced_at_ms',
  'replaced_by_principal',
  'replaced_by_tenant',
] as const;

/**
 * Replaced guardrail sets on the metadata database (table of migration 11), for SQLite and
 * PostgreSQL with the same statements. Appends take a transaction lock (PostgreSQL advisory lock;
 * SQLite runs one writer at a time) before reading the highest version, so two gateways replacing
 * at once get consecutive versions and neither is lost.
 */
export class SqlGuardrailSetStore implements GuardrailSetStore {
  readonly #db: SqlDatabase;
  readonly #selectLatestVersion: string;
  readonly #selectLatest: string;
  readonly #insert: string;

  constructor(db: SqlDatabase) {
    this.#db = db;
    const sql = (statement: string) => renderPlaceholders(statement, db.placeholderStyle);
    this.#selectLatestVersion = sql('SELECT COALESCE(MAX(version), 0) AS version FROM guardrail_sets');
    this.#selectLatest = sql(
      `SELECT ${COLUMNS.join(', ')} FROM guardrail_sets ORDER BY version DESC LIMIT 1`,
    );
    this.#insert = sql(
      `INSERT INTO guardrail_sets (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`,
    );
  }

  async latestVersion(): Promise<number> {
    const [row] = await this.#db.query(this.#selectLatestVersion, []);
    return row === undefined ? 0 : integer(row, 'version');
  }

  async latest(): Promise<StoredGuardrailSet | null> {
    const [row] = await this.#db.query(this.#selectLatest, []);
    return row === undefined ? null : decodeGuardrailSet(row);
  }

  append(set: NewGuardrailSet): Promise<StoredGuardrailSet> {
    return this.#db.transaction(async (session) => {
      if (this.#db.transactionLockSql !== null) {
        await session.query(this.#db.transactionLockSql, [lockNumberOf('guardrail-sets')]);
      }
      const [row] = await session.query(this.#selectLatestVersion, []);
      const version = (row === undefined ? 0 : integer(row, 'version')) + 1;
      await session.execute(this.#insert, [
        version,
        set.format,
        set.text,
        set.sha256,
        set.replacedAtMs,
        set.replacedBy.principalId,
        set.replacedBy.tenantId,
      ]);
      return { ...set, version };
    });
  }
}

function decodeGuardrailSet(row: SqlRow): StoredGuardrailSet {
  return {
    version: integer(row, 'version'),
    format: integer(row, 'format'),
    text: text(row, 'policies'),
    sha256: text(row, 'sha256'),
    replacedAtMs: integer(row, 'replaced_at_ms'),
    replacedBy: {
      principalId: text(row, 'replaced_by_principal'),
      tenantId: text(row, 'replaced_by_tenant'),
    },
  };
}
