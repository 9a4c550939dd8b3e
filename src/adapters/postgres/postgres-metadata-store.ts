import type { Clock } from '../../platform/clock.ts';
import { SqlMetadataStore } from '../sql/metadata-store.ts';
import { POSTGRES_MIGRATIONS } from './migrations.ts';
import { PostgresDatabase, type PostgresConnectionOptions } from './postgres-database.ts';

export interface PostgresMetadataOptions extends PostgresConnectionOptions {
  clock: Clock;
}

/** The metadata store for multi-node installs. Call `migrate()` before use. */
export function openPostgresMetadataStore(options: PostgresMetadataOptions): SqlMetadataStore {
  return new SqlMetadataStore(new PostgresDatabase(options), {
    migrations: POSTGRES_MIGRATIONS,
    clock: options.clock,
  });
}
