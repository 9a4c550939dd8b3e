import { join } from 'node:path';
import { openPostgresMetadataStore } from '../adapters/postgres/postgres-metadata-store.ts';
import { openSqliteMetadataStore } from '../adapters/sqlite/sqlite-metadata-store.ts';
import type { MetadataStore } from '../domain/storage/ports.ts';
import type { Clock } from '../platform/clock.ts';
import type { ServerConfig } from '../platform/config.ts';

export const SQLITE_FILE = 'metadata.sqlite';

/** Opens the configured metadata adapter (not yet migrated). */
export function openMetadataStore(config: ServerConfig, clock: Clock): MetadataStore {
  const metadata = config.metadata;
  switch (metadata.backend) {
    case 'sqlite':
      return openSqliteMetadataStore({ path: join(config.dataDir, SQLITE_FILE), clock });
    case 'postgres':
      return openPostgresMetadataStore({ connectionString: metadata.url, schema: metadata.schema, clock });
  }
}
