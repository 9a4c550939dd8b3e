import type { Clock } from '../../platform/clock.ts';
import { SovraError } from '../../platform/errors.ts';
import type { SqlDatabase, SqlSession } from './driver.ts';
import { lockNumberOf } from './locks.ts';
import { integer } from './rows.ts';
import type { Statements } from './statements.ts';

/** One schema change, as a script of DDL statements in one dialect. Versions only ever grow. */
export interface Migration {
  version: number;
  description: string;
  script: string;
}

export type MigrationErrorCode = 'MetadataSchemaTooNew' | 'MigrationsOutOfOrder';

/**
 * Brings the schema up to date: each pending migration runs in a transaction of its own and is
 * recorded in schema_migrations in that same transaction, so a crash leaves either all of it or
 * none. Every step first takes the migration lock (a transaction-scoped advisory lock on
 * PostgreSQL; SQLite's BEGIN IMMEDIATE already excludes other writers), then re-reads what is
 * applied, so two processes starting at once apply each migration exactly once.
 */
export async function applyMigrations(
  db: SqlDatabase,
  sql: Statements,
  migrations: readonly Migration[],
  clock: Clock,
): Promise<void> {
  checkOrder(migrations);
  const latestKnown = migrations.at(-1)?.version ?? 0;
  await db.transaction(async (session) => {
    await takeMigrationLock(db, session);
    await session.runScript(db.bootstrapScript);
    const applied = await appliedVersions(session, sql);
    const newest = Math.max(0, ...applied);
    if (newest > latestKnown) {
      // A newer Sovra has migrated this database; this one would misread its rows.
      throw new SovraError<MigrationErrorCode>(
        'MetadataSchemaTooNew',
        `the metadata schema is at version ${newest}, newer than this release knows (${latestKnown})`,
        { schemaVersion: newest, knownVersion: latestKnown },
      );
    }
  });
  for (const migration of migrations) {
    await db.transaction(async (session) => {
      await takeMigrationLock(db, session);
      if ((await appliedVersions(session, sql)).includes(migration.version)) return;
      await session.runScript(migration.script);
      await session.execute(sql.insertMigration, [migration.version, clock.nowMs()]);
    });
  }
}

async function takeMigrationLock(db: SqlDatabase, session: SqlSession): Promise<void> {
  if (db.transactionLockSql !== null)
    await session.query(db.transactionLockSql, [lockNumberOf('schema-migrations')]);
}

async function appliedVersions(session: SqlSession, sql: Statements): Promise<number[]> {
  return (await session.query(sql.selectMigrations, [])).map((row) => integer(row, 'version'));
}

function checkOrder(migrations: readonly Migration[]): void {
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new SovraError<MigrationErrorCode>(
        'MigrationsOutOfOrder',
        `migration ${index + 1} has version ${migration.version}`,
      );
    }
  });
}
