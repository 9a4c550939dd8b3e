import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { SovraError } from '../../platform/errors.ts';
import { LIMITS } from '../../platform/limits.ts';
import type { SqlDatabase, SqlRow, SqlSession, SqlValue, TransactionDurability } from '../sql/driver.ts';
import { postgresBootstrap } from './migrations.ts';

export interface PostgresConnectionOptions {
  /** libpq-style URL, e.g. postgres://sovra@db.internal:5432/sovra. */
  connectionString: string;
  /** Schema holding Sovra's tables; created by `migrate()`. Lower-case letters, digits, `_`. */
  schema: string;
  maxConnections?: number;
  /** Called when an idle pooled connection fails (the pool replaces it); defaults to ignoring. */
  onIdleConnectionError?: (error: Error) => void;
}

/**
 * PostgreSQL through a `pg.Pool`. Every pooled connection starts with `search_path` set to the
 * configured schema (a startup option, so no statement can run before it applies). Transactions
 * run on one pooled client at READ COMMITTED: each statement sees what committed before it began,
 * so a statement after `pg_advisory_xact_lock` sees the previous lock holder's writes.
 */
export class PostgresDatabase implements SqlDatabase {
  readonly dialect = 'postgres';
  readonly placeholderStyle = 'dollar-number';
  readonly transactionLockSql = 'SELECT pg_advisory_xact_lock($1::bigint)';
  readonly bootstrapScript: string;

  readonly #pool: pg.Pool;
  readonly #statements = new StatementNames();

  constructor(options: PostgresConnectionOptions) {
    const schema = checkedSchemaName(options.schema);
    this.bootstrapScript = postgresBootstrap(`"${schema}"`);
    this.#pool = new pg.Pool({
      connectionString: options.connectionString,
      // A transaction left open by a stuck caller would hold its key locks forever; the server
      // ends such sessions (and so releases the locks) after this long.
      options: `-c search_path=${schema} -c idle_in_transaction_session_timeout=${LIMITS.metadataIdleTransactionTimeoutMs}`,
      max: options.maxConnections ?? LIMITS.postgresPoolMaxConnections,
    });
    const onIdleError = options.onIdleConnectionError ?? (() => undefined);
    // Without a listener an idle client's error (server restart, network) would crash the process.
    this.#pool.on('error', onIdleError);
  }

  async query(sql: string, params: readonly SqlValue[]): Promise<SqlRow[]> {
    return (await this.#pool.query<SqlRow>(this.#statements.queryFor(sql, params))).rows;
  }

  async execute(sql: string, params: readonly SqlValue[]): Promise<number> {
    return (await this.#pool.query(this.#statements.queryFor(sql, params))).rowCount ?? 0;
  }

  /**
   * Runs `work` between BEGIN and COMMIT on one client. A serialization failure (40001) or a
   * deadlock (40P01) aborts the whole transaction and is not the caller's fault, so it runs again
   * after a short random pause, up to LIMITS.metadataTransactionMaxAttempts runs in all.
   */
  async transaction<T>(
    work: (session: SqlSession) => Promise<T>,
    _durability?: TransactionDurability,
  ): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.#runTransaction(work);
      } catch (error) {
        if (!isTransientConflict(error) || attempt >= LIMITS.metadataTransactionMaxAttempts) throw error;
        await sleep(Math.random() * 10 * attempt);
      }
    }
  }

  isUniqueViolation(error: unknown): boolean {
    return sqlState(error) === '23505';
  }

  /** Dead row versions stay until VACUUM, WAL segments until recycled (docs/architecture.md, KMS). */
  async discardSupersededPages(): Promise<void> {}

  async close(): Promise<void> {
    await this.#pool.end();
  }

  async #runTransaction<T>(work: (session: SqlSession) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    const session = new PostgresSession(client, this.#statements);
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(session);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        // The connection is unusable; the pool must discard it rather than hand it out again.
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      }
      throw error;
    } finally {
      session.end();
      client.release(broken);
    }
  }
}

class PostgresSession implements SqlSession {
  readonly #client: pg.PoolClient;
  readonly #statements: StatementNames;
  #ended = false;

  constructor(client: pg.PoolClient, statements: StatementNames) {
    this.#client = client;
    this.#statements = statements;
  }

  async query(sql: string, params: readonly SqlValue[]): Promise<SqlRow[]> {
    this.#checkActive();
    return (await this.#client.query<SqlRow>(this.#statements.queryFor(sql, params))).rows;
  }

  async execute(sql: string, params: readonly SqlValue[]): Promise<number> {
    this.#checkActive();
    return (await this.#client.query(this.#statements.queryFor(sql, params))).rowCount ?? 0;
  }

  async runScript(sql: string): Promise<void> {
    this.#checkActive();
    // No parameters: the simple query protocol, which runs several statements in one message.
    await this.#client.query(sql);
  }

  end(): void {
    this.#ended = true;
  }

  #checkActive(): void {
    if (this.#ended) throw new Error('the metadata transaction has already ended');
  }
}

/**
 * Names of prepared statements by SQL text. A named statement is parsed and planned once per
 * pooled connection and reused; the name derives from the text, so one text maps to one name.
 * Past the cache bound, new texts run unnamed, so no connection accumulates statements without
 * limit.
 */
class StatementNames {
  readonly #names = new Map<string, string>();

  queryFor(text: string, values: readonly SqlValue[]): pg.QueryConfig<SqlValue[]> {
    let name = this.#names.get(text);
    if (name === undefined && this.#names.size < LIMITS.sqlStatementCacheEntries) {
      name = `sovra_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
      this.#names.set(text, name);
    }
    return name === undefined ? { text, values: [...values] } : { name, text, values: [...values] };
  }
}

function sqlState(error: unknown): string | undefined {
  return error instanceof pg.DatabaseError ? error.code : undefined;
}

function isTransientConflict(error: unknown): boolean {
  const state = sqlState(error);
  return state === '40001' || state === '40P01';
}

export type PostgresErrorCode = 'InvalidSchemaName';

function checkedSchemaName(schema: string): string {
  // Identifiers cannot be parameters; this shape needs no quoting inside the startup option.
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new SovraError<PostgresErrorCode>(
      'InvalidSchemaName',
      `invalid PostgreSQL schema name: ${JSON.stringify(schema)}`,
    );
  }
  return schema;
}
