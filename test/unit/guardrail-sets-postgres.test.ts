import { SqlMetadataStore } from '../../src/adapters/sql/metadata-store.ts';
import { POSTGRES_MIGRATIONS } from '../../src/adapters/postgres/migrations.ts';
import { PostgresDatabase } from '../../src/adapters/postgres/postgres-database.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { createTestSchema } from '../helpers/postgres.ts';
import { guardrailSetSuite } from './guardrail-sets.suite.ts';

// PostgreSQL must be running (see test/helpers/postgres.ts); without it every test fails.
guardrailSetSuite('PostgreSQL', async () => {
  const schema = await createTestSchema();
  const db = new PostgresDatabase({ connectionString: schema.connectionString, schema: schema.schema });
  const metadata = new SqlMetadataStore(db, { migrations: POSTGRES_MIGRATIONS, clock: systemClock });
  await metadata.migrate();
  return {
    db,
    dispose: async () => {
      await metadata.close();
      await schema.drop();
    },
  };
});
