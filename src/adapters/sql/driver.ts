/**
 * The small driver interface the shared SQL metadata store runs on. Each dialect (SQLite through
 * `node:sqlite`, PostgreSQL through `pg`) implements it; everything above it is shared.
 */

/** Values bound to placeholders. Byte strings go in as Uint8Array (Buffer is one). */
export type SqlValue = string | number | Uint8Array | null;

/** A result row by column name; values are decoded by the caller (see rows.ts). */
export type SqlRow = Record<string, unknown>;

/**
 * How statements mark parameters: SQLite takes `?`, PostgreSQL `$1, $2, …`. Shared statements are
 * written with `?` and rendered once per store (renderPlaceholders).
 */
export type PlaceholderStyle = 'question-mark' | 'dollar-number';

/** Runs statements on one connection, inside or outside a transaction. */
export interface SqlExecutor {
  query(sql: string, params: readonly SqlValue[]): Promise<SqlRow[]>;
  /** Runs a statement and returns the number of rows it changed. */
  execute(sql: string, params: readonly SqlValue[]): Promise<number>;
}

/** A connection inside an open transaction. Unusable once the transaction has ended. */
export interface SqlSession extends SqlExecutor {
  /** Runs several parameterless statements at once (migration scripts). */
  runScript(sql: string): Promise<void>;
}

/**
 * How durable a commit must be when it returns. 'power-loss' (the default): on disk, fsynced.
 * 'process-crash': survives the Sovra process being killed (the database has the commit in its
 * log) but may be lost if the machine loses power before the next fsync — for audit records,
 * whose response is held for the commit (server/audit-trail.ts) and which must not cost every
 * GET an fsync. PostgreSQL commits are always fully durable (its own server makes them so).
 */
export type TransactionDurability = 'power-loss' | 'process-crash';

export interface SqlDatabase extends SqlExecutor {
  readonly dialect: 'sqlite' | 'postgres';
  readonly placeholderStyle: PlaceholderStyle;
  /**
   * A statement taking one parameter, a signed 64-bit integer as a decimal string, that blocks
   * until this transaction holds an exclusive lock on that number, released at commit or rollback.
   * Null where the dialect already runs write transactions one at a time.
   */
  readonly transactionLockSql: string | null;
  /** Statements run, under the migration lock, before migrations are read (schema, bookkeeping). */
  readonly bootstrapScript: string;

  /**
   * Runs `work` in one transaction: commit when it resolves, roll back when it throws. Dialects
   * that may abort a transaction for a conflict (serialization failure, deadlock) run `work`
   * again, a bounded number of times, so `work` must be safe to re-run.
   */
  transaction<T>(work: (session: SqlSession) => Promise<T>, durability?: TransactionDurability): Promise<T>;
  /** True when `error` is a violated primary key or unique constraint. */
  isUniqueViolation(error: unknown): boolean;
  /**
   * Leaves no superseded page image of committed changes in the database's own files where the
   * dialect allows it: SQLite copies the write-ahead log into the database and truncates it.
   * PostgreSQL keeps dead row versions until VACUUM and its WAL until recycled; it does nothing.
   */
  discardSupersededPages(): Promise<void>;
  close(): Promise<void>;
}

/** Rewrites `?` placeholders into the dialect's style; statements never contain a literal `?`. */
export function renderPlaceholders(sql: string, style: PlaceholderStyle): string {
  if (style === 'question-mark') return sql;
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}
