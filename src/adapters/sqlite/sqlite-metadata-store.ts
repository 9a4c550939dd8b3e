import type { Clock } from '../../platform/clock.ts';
import { SqlMetadataStore } from '../sql/metadata-store.ts';
import { SQLITE_MIGRATIONS } from './migrations.ts';
import { SqliteDatabase } from './sqlite-database.ts';

export interface SqliteMetadataOptions {
  /** The database file; its directory must exist. WAL adds `-wal` and `-shm` files beside it. */
  path: string;
  clock: Clock;
}

/** The embedded default metadata store. Call `migrate()` before use. */
export function openSqliteMetadataStore(options: SqliteMetadataOptions): SqlMetadataStore {
  return new SqlMetadataStore(new SqliteDatabase(options.path), {
    migrations: SQLITE_MIGRATIONS,
    clock: options.clock,
  });
}
