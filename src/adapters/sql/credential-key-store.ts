import { CREDENTIAL_KEY_FORMAT, type CredentialKeyStore } from '../../domain/iam/ports.ts';
import { kmsError } from '../../domain/kms/errors.ts';
import type { Clock } from '../../platform/clock.ts';
import { renderPlaceholders, type SqlDatabase, type SqlRow } from './driver.ts';
import { bytes, integer } from './rows.ts';

/** The table's only row (its CHECK allows no other id). */
const ROW_ID = 1;

/**
 * The wrapped credential-sealing key on the metadata database (table of migration 16), for SQLite
 * and PostgreSQL with the same statements. The insert is ON CONFLICT DO NOTHING on the one-row
 * primary key: of two gateways inserting at once, PostgreSQL makes the second wait for the first's
 * commit and then skips its row (SQLite runs one writer at a time), so both read back the first's.
 * The insert and the read are two statements, each committed on its own, so the read sees the
 * committed row whichever gateway wrote it. Triggers refuse changing or deleting the row.
 */
export class SqlCredentialKeyStore implements CredentialKeyStore {
  readonly #db: SqlDatabase;
  readonly #clock: Clock;
  readonly #select: string;
  readonly #insert: string;

  constructor(db: SqlDatabase, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
    const sql = (statement: string) => renderPlaceholders(statement, db.placeholderStyle);
    this.#select = sql('SELECT format, wrapped FROM credential_keys WHERE id = ?');
    this.#insert = sql(
      'INSERT INTO credential_keys (id, format, wrapped, created_at_ms) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING',
    );
  }

  async read(): Promise<Buffer | null> {
    const [row] = await this.#db.query(this.#select, [ROW_ID]);
    return row === undefined ? null : decodeWrappedKey(row);
  }

  async createIfAbsent(wrapped: Buffer): Promise<Buffer> {
    await this.#db.execute(this.#insert, [ROW_ID, CREDENTIAL_KEY_FORMAT, wrapped, this.#clock.nowMs()]);
    const stored = await this.read();
    // The row is never deleted (migration 16's triggers), so one committed by either gateway is there.
    if (stored === null) throw kmsError('RootUnavailable', 'the credential-sealing key was not stored');
    return stored;
  }
}

function decodeWrappedKey(row: SqlRow): Buffer {
  const format = integer(row, 'format');
  if (format !== CREDENTIAL_KEY_FORMAT) {
    throw kmsError(
      'RootUnavailable',
      `the metadata database holds a credential-sealing key of format ${format}, which this version does not read (${CREDENTIAL_KEY_FORMAT})`,
    );
  }
  return bytes(row, 'wrapped');
}
