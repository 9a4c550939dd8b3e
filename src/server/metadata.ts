import { SqlAccessApprovalStore } from '../adapters/sql/access-approval-store.ts';
import { SqlAuditLogStore } from '../adapters/sql/audit-log-store.ts';
import { SqlCredentialKeyStore } from '../adapters/sql/credential-key-store.ts';
import { SqlGuardrailSetStore } from '../adapters/sql/guardrail-set-store.ts';
import { join } from 'node:path';
import { PostgresDatabase } from '../adapters/postgres/postgres-database.ts';
import { POSTGRES_MIGRATIONS } from '../adapters/postgres/migrations.ts';
import { openPostgresMetadataStore } from '../adapters/postgres/postgres-metadata-store.ts';
import type { SqlDatabase } from '../adapters/sql/driver.ts';
import { SqlIdentityStore } from '../adapters/sql/iam-store.ts';
import { SqlKeyStore } from '../adapters/sql/kms-store.ts';
import { SqlKeyUseDecisionLog } from '../adapters/sql/key-use-decisions.ts';
import { SqlMetadataStore } from '../adapters/sql/metadata-store.ts';
import { SQLITE_MIGRATIONS } from '../adapters/sqlite/migrations.ts';
import { SqliteDatabase } from '../adapters/sqlite/sqlite-database.ts';
import { openSqliteMetadataStore } from '../adapters/sqlite/sqlite-metadata-store.ts';
import type { KeyUseDecisionLog } from '../domain/kms/decision-records.ts';
import type { KeyStore } from '../domain/kms/ports.ts';
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

/**
 * The metadata store, the KMS key store and the audit log on one database (one SQLite writer, one PostgreSQL
 * pool); the metadata store's `migrate()` creates both's tables and its `close()` closes both.
 */
export function openMetadataAndKeyStores(
  config: ServerConfig,
  clock: Clock,
): {
  metadata: MetadataStore;
  keys: KeyStore;
  keyUseDecisions: KeyUseDecisionLog;
  auditLog: SqlAuditLogStore;
  /** Tenants, principals, groups, access keys and managed policies (the admin API's store). */
  identity: SqlIdentityStore;
  /** Operator access requests (the lockbox, domain/lockbox). */
  accessApprovals: SqlAccessApprovalStore;
  /** Guardrail sets replaced through the admin API (domain/guardrails). */
  guardrailSets: SqlGuardrailSetStore;
  /** The credential-sealing key, wrapped by the root of trust (docs/decisions/0005). */
  credentialKeys: SqlCredentialKeyStore;
} {
  let db: SqlDatabase;
  let metadata: MetadataStore;
  const settings = config.metadata;
  switch (settings.backend) {
    case 'sqlite': {
      const sqlite = new SqliteDatabase(join(config.dataDir, SQLITE_FILE));
      metadata = new SqlMetadataStore(sqlite, { migrations: SQLITE_MIGRATIONS, clock });
      db = sqlite;
      break;
    }
    case 'postgres': {
      const postgres = new PostgresDatabase({ connectionString: settings.url, schema: settings.schema });
      metadata = new SqlMetadataStore(postgres, { migrations: POSTGRES_MIGRATIONS, clock });
      db = postgres;
      break;
    }
  }
  return {
    metadata,
    keys: new SqlKeyStore(db),
    keyUseDecisions: new SqlKeyUseDecisionLog(db),
    auditLog: new SqlAuditLogStore(db),
    identity: new SqlIdentityStore(db),
    accessApprovals: new SqlAccessApprovalStore(db),
    guardrailSets: new SqlGuardrailSetStore(db),
    credentialKeys: new SqlCredentialKeyStore(db, clock),
  };
}
