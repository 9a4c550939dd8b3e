import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqlMetadataStore } from '../../src/adapters/sql/metadata-store.ts';
import { SQLITE_MIGRATIONS } from '../../src/adapters/sqlite/migrations.ts';
import { SqliteDatabase } from '../../src/adapters/sqlite/sqlite-database.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { guardrailSetSuite } from './guardrail-sets.suite.ts';

guardrailSetSuite('SQLite', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'sovra-guardrails-'));
  const db = new SqliteDatabase(join(directory, 'metadata.sqlite'));
  const metadata = new SqlMetadataStore(db, { migrations: SQLITE_MIGRATIONS, clock: systemClock });
  await metadata.migrate();
  return {
    db,
    dispose: async () => {
      await metadata.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
});
