import { AsyncLocalStorage } from 'node:async_hooks';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { LIMITS } from '../../platform/limits.ts';
import type { SqlDatabase, SqlRow, SqlSession, SqlValue, TransactionDurability } from '../sql/driver.ts';
import { SQLITE_BOOTSTRAP } from './migrations.ts';

/**
 * SQLite through `node:sqlite`, for single-node installs. Two connections to one file:
 *
 * - the write connection runs every transaction, one at a time: an async mutex queues them, so a
 *   transaction's callback may await (blob I/O, other reads) without another request's statements
 *   landing inside it. BEGIN IMMEDIATE takes SQLite's write lock up front, which also excludes
 *   other connections to the file; while one holds it, BEGIN is retried asynchronously (SQLite's
 *   own busy handler would sleep with the whole event loop blocked).
 * - the read connection answers reads made while a transaction is open (the write connection
 *   answers the others, see query()). In WAL mode it sees the last committed state and never an
 *   open transaction's writes (https://sqlite.org/wal.html).
 *
 * synchronous=FULL makes every commit durable before it is acknowledged: in WAL mode NORMAL may
 * lose the last transactions on power loss (https://sqlite.org/pragma.html#pragma_synchronous).
 *
 * Group commit: transactions that queue up while one runs are run together in one SQLite
 * transaction, each inside a savepoint of its own (https://sqlite.org/lang_savepoint.html), and
 * committed with one fsync; each caller learns its outcome only after that commit. A callback
 * that throws rolls back to its savepoint, so the others keep their writes. Under concurrent
 * small PUTs the fsync per commit was the largest single cost (docs/performance.md).
 */
export class SqliteDatabase implements SqlDatabase {
  readonly dialect = 'sqlite';
  readonly placeholderStyle = 'question-mark';
  readonly transactionLockSql = null;
  readonly bootstrapScript = SQLITE_BOOTSTRAP;

  readonly #writer: StatementCache;
  readonly #reader: StatementCache;
  /** Resolves when the last queued transaction has finished: the tail of the mutex queue. */
  #queueTail: Promise<void> = Promise.resolve();
  /**
   * The transaction whose callback is running, to turn a transaction started inside another (it
   * would wait for the mutex forever) into an error. Work the callback leaves behind keeps this
   * context after the transaction ends, hence the flag rather than mere presence.
   */
  readonly #currentTransaction = new AsyncLocalStorage<{ open: boolean }>();
  /** Transactions waiting for the next group commit, in arrival order. */
  readonly #pending: PendingTransaction[] = [];
  /** A group commit is queued on the mutex or running. */
  #groupScheduled = false;
  /** The write connection's synchronous setting (FULL from the constructor on). */
  #synchronous: 'FULL' | 'NORMAL' = 'FULL';
  #closed = false;

  constructor(path: string) {
    const writer = new DatabaseSync(path, { timeout: 0, enableForeignKeyConstraints: true });
    // secure_delete overwrites deleted content with zeros, freed overflow and freelist pages
    // included, so that a deleted row — a crypto-shredded key's wrapped material, an object's
    // inline data — leaves no copy in free space (https://sqlite.org/pragma.html#pragma_secure_delete).
    // It is a setting of the connection that writes; the read connection never deletes.
    writer.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;');
    // Opened after the writer has switched the file to WAL, which a read-only connection cannot do.
    const reader = new DatabaseSync(path, {
      readOnly: true,
      timeout: LIMITS.sqliteBusyTimeoutMs,
      enableForeignKeyConstraints: true,
    });
    this.#writer = new StatementCache(writer);
    this.#reader = new StatementCache(reader);
  }

  /**
   * Both connections see the last committed state outside a transaction, but the read
   * connection's page cache is dropped whenever another connection has changed the file (every
   * commit: PUTs, the key-use decision log), and re-reading the pages costs a read two to three
   * times over. So a read goes to the write connection while no transaction holds it; that
   * connection's cache survives its own commits. A busy write connection (another process in the
   * middle of WAL recovery) defers to the read connection, which waits for it.
   */
  query(sql: string, params: readonly SqlValue[]): Promise<SqlRow[]> {
    return settled(() => {
      this.#checkOpen();
      if (this.#writer.inTransaction) return this.#reader.all(sql, params);
      try {
        return this.#writer.all(sql, params);
      } catch (error) {
        if (!isBusy(error)) throw error;
        return this.#reader.all(sql, params);
      }
    });
  }

  /** A write outside a transaction is a transaction of one statement. */
  execute(sql: string, params: readonly SqlValue[]): Promise<number> {
    return this.transaction((session) => session.execute(sql, params));
  }

  async transaction<T>(
    work: (session: SqlSession) => Promise<T>,
    durability: TransactionDurability = 'power-loss',
  ): Promise<T> {
    this.#checkOpen();
    if (this.#currentTransaction.getStore()?.open === true) {
      throw new Error('a metadata transaction was started inside another; SQLite runs them one at a time');
    }
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({
        work,
        durability,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      this.#scheduleGroupCommit();
    });
  }

  isUniqueViolation(error: unknown): boolean {
    // SQLITE_CONSTRAINT_PRIMARYKEY and SQLITE_CONSTRAINT_UNIQUE (https://sqlite.org/rescode.html).
    return error instanceof Error && 'errcode' in error && (error.errcode === 1555 || error.errcode === 2067);
  }

  /**
   * A TRUNCATE checkpoint: every committed page is copied into the database file and the WAL is
   * emptied, so the page images that still held deleted rows are gone from disk now rather than
   * at some later checkpoint (https://sqlite.org/pragma.html#pragma_wal_checkpoint). Readers on
   * an older snapshot, in this process or another one, make SQLite answer busy; the checkpoint is
   * retried, like BEGIN, until LIMITS.sqliteBusyTimeoutMs.
   */
  async discardSupersededPages(): Promise<void> {
    this.#checkOpen();
    await this.#exclusively(async () => {
      const deadlineMs = Date.now() + LIMITS.sqliteBusyTimeoutMs;
      for (let pauseMs = 1; ; pauseMs = Math.min(2 * pauseMs, 50)) {
        let busy: boolean;
        try {
          const [result] = this.#writer.all('PRAGMA wal_checkpoint(TRUNCATE)', []);
          busy = result?.busy !== 0;
        } catch (error) {
          if (!isBusy(error)) throw error;
          busy = true;
        }
        if (!busy) return;
        if (Date.now() >= deadlineMs) {
          throw new Error('the SQLite write-ahead log could not be checkpointed: readers kept it busy');
        }
        await sleep(pauseMs);
      }
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // A group commit that finds more waiting queues itself again behind the current tail.
    for (let tail = this.#queueTail; ; tail = this.#queueTail) {
      await tail;
      if (tail === this.#queueTail) break;
    }
    // The writer closes last: the last connection to close checkpoints the WAL into the database
    // and deletes it (https://sqlite.org/wal.html#the_wal_file), which a read-only one cannot do.
    // Left behind, the WAL would keep old page images — a crypto-shredded key's material among them.
    this.#reader.close();
    this.#writer.close();
  }

  #scheduleGroupCommit(): void {
    if (this.#groupScheduled) return;
    this.#groupScheduled = true;
    void this.#exclusively(() => this.#groupCommit());
  }

  /**
   * One SQLite transaction for the transactions waiting now and those that arrive while it runs
   * (up to LIMITS.sqliteGroupCommitMaxTransactions), then one COMMIT. Before an fsynced commit
   * it lets the event loop turn once, so requests handled in the same turn join. The synchronous setting
   * cannot change inside a transaction: a group is fsynced (FULL) when a power-loss transaction
   * is waiting as it starts, and then takes in both kinds; otherwise (NORMAL) it takes in only
   * process-crash ones. Whatever still waits afterwards queues behind other exclusive work (a
   * checkpoint) rather than starving it.
   */
  async #groupCommit(): Promise<void> {
    try {
      const first = this.#pending[0];
      if (first === undefined) return;
      const fsynced = this.#pending.some((waiting) => waiting.durability === 'power-loss');
      const joins = (waiting: PendingTransaction | undefined): waiting is PendingTransaction =>
        waiting !== undefined && (fsynced || waiting.durability === 'process-crash');
      this.#setSynchronous(fsynced ? 'FULL' : 'NORMAL');
      try {
        await this.#beginImmediate();
      } catch (error) {
        this.#pending.shift();
        first.reject(error);
        return;
      }
      const done: { transaction: PendingTransaction; result: unknown }[] = [];
      let failure: unknown = null;
      for (;;) {
        const next = this.#pending[0];
        if (!joins(next)) {
          // Only an fsync is worth waiting a turn to share: while the group is open, reads go to
          // the read connection, whose cache every commit empties.
          if (fsynced && next === undefined && done.length > 0) {
            await new Promise((resolve) => setImmediate(resolve));
          }
          if (!joins(this.#pending[0])) break;
          continue;
        }
        if (done.length >= LIMITS.sqliteGroupCommitMaxTransactions) break;
        this.#pending.shift();
        // The group's first transaction needs no savepoint: if it fails, nothing else is lost by
        // rolling the whole group back.
        const alone = done.length === 0;
        const outcome = await this.#runTransaction(next, alone ? null : SAVEPOINT);
        if (outcome.ok) {
          done.push({ transaction: next, result: outcome.result });
        } else if (alone) {
          if (this.#writer.inTransaction) this.#writer.exec('ROLLBACK');
          next.reject(outcome.error);
          return;
        } else {
          next.reject(outcome.error);
          // Some errors (SQLITE_FULL, I/O errors) roll the whole transaction back.
          if (!this.#writer.inTransaction) {
            failure = outcome.error;
            break;
          }
        }
      }
      if (failure === null) {
        try {
          this.#writer.exec('COMMIT');
        } catch (error) {
          failure = error;
        }
      }
      if (failure !== null) {
        // A failed COMMIT may already have rolled back; ROLLBACK without a transaction would throw.
        if (this.#writer.inTransaction) this.#writer.exec('ROLLBACK');
        for (const { transaction } of done) transaction.reject(failure);
        return;
      }
      for (const { transaction, result } of done) transaction.resolve(result);
    } finally {
      this.#groupScheduled = false;
      if (this.#pending.length > 0) this.#scheduleGroupCommit();
    }
  }

  /** Runs one transaction's callback, inside `savepoint` when given; a failure rolls back to it. */
  async #runTransaction(
    transaction: PendingTransaction,
    savepoint: string | null,
  ): Promise<{ ok: true; result: unknown } | { ok: false; error: unknown }> {
    const current = { open: true };
    const session = new SqliteSession(this.#writer);
    if (savepoint !== null) this.#writer.exec(`SAVEPOINT ${savepoint}`);
    try {
      const result = await this.#currentTransaction.run(current, () => transaction.work(session));
      if (savepoint !== null) this.#writer.exec(`RELEASE ${savepoint}`);
      return { ok: true, result };
    } catch (error) {
      if (savepoint !== null && this.#writer.inTransaction) {
        this.#writer.exec(`ROLLBACK TO ${savepoint}`);
        this.#writer.exec(`RELEASE ${savepoint}`);
      }
      return { ok: false, error };
    } finally {
      session.end();
      current.open = false;
    }
  }

  /** Outside a transaction only (SQLite refuses the change inside one). */
  #setSynchronous(level: 'FULL' | 'NORMAL'): void {
    if (this.#synchronous === level) return;
    this.#writer.exec(`PRAGMA synchronous = ${level}`);
    this.#synchronous = level;
  }

  async #beginImmediate(): Promise<void> {
    const deadlineMs = Date.now() + LIMITS.sqliteBusyTimeoutMs;
    for (let pauseMs = 1; ; pauseMs = Math.min(2 * pauseMs, 50)) {
      try {
        this.#writer.exec('BEGIN IMMEDIATE');
        return;
      } catch (error) {
        if (!isBusy(error) || Date.now() >= deadlineMs) throw error;
        await sleep(pauseMs);
      }
    }
  }

  async #exclusively<T>(task: () => Promise<T>): Promise<T> {
    const previous = this.#queueTail;
    let release = (): void => undefined;
    this.#queueTail = new Promise((resolve) => {
      release = resolve;
    });
    await previous;
    try {
      return await task();
    } finally {
      release();
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error('the metadata database is closed');
  }
}

interface PendingTransaction {
  work: (session: SqlSession) => Promise<unknown>;
  durability: TransactionDurability;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Each transaction of a group commit runs inside this savepoint (they never nest). */
const SAVEPOINT = 'sovra_transaction';

/** The outcome of a synchronous call as a promise: its errors reject rather than throw. */
function settled<T>(call: () => T): Promise<T> {
  try {
    return Promise.resolve(call());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

/** SQLITE_BUSY: another connection holds the lock (https://sqlite.org/rescode.html#busy). */
function isBusy(error: unknown): boolean {
  return (
    error instanceof Error &&
    'errcode' in error &&
    typeof error.errcode === 'number' &&
    (error.errcode & 0xff) === 5
  );
}

/** The write connection as seen by one transaction; refuses use after the transaction ended. */
class SqliteSession implements SqlSession {
  readonly #connection: StatementCache;
  #ended = false;

  constructor(connection: StatementCache) {
    this.#connection = connection;
  }

  query(sql: string, params: readonly SqlValue[]): Promise<SqlRow[]> {
    return settled(() => {
      this.#checkActive();
      return this.#connection.all(sql, params);
    });
  }

  execute(sql: string, params: readonly SqlValue[]): Promise<number> {
    return settled(() => {
      this.#checkActive();
      return this.#connection.run(sql, params);
    });
  }

  runScript(sql: string): Promise<void> {
    return settled(() => {
      this.#checkActive();
      this.#connection.exec(sql);
    });
  }

  end(): void {
    this.#ended = true;
  }

  #checkActive(): void {
    if (this.#ended) throw new Error('the metadata transaction has already ended');
  }
}

/** One connection with its prepared statements, each SQL text prepared once. */
class StatementCache {
  readonly #connection: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();

  constructor(connection: DatabaseSync) {
    this.#connection = connection;
  }

  get inTransaction(): boolean {
    return this.#connection.isTransaction;
  }

  all(sql: string, params: readonly SqlValue[]): SqlRow[] {
    return this.#prepared(sql).all(...params);
  }

  run(sql: string, params: readonly SqlValue[]): number {
    return Number(this.#prepared(sql).run(...params).changes);
  }

  exec(sql: string): void {
    this.#connection.exec(sql);
  }

  close(): void {
    this.#statements.clear();
    this.#connection.close();
  }

  #prepared(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      const oldest = this.#statements.keys().next();
      if (this.#statements.size >= LIMITS.sqlStatementCacheEntries && oldest.done !== true) {
        this.#statements.delete(oldest.value);
      }
      statement = this.#connection.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }
}
