import { SqlMetadataStore } from '../../src/adapters/sql/metadata-store.ts';
import { POSTGRES_MIGRATIONS } from '../../src/adapters/postgres/migrations.ts';
import { PostgresDatabase } from '../../src/adapters/postgres/postgres-database.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { createTestSchema } from '../helpers/postgres.ts';
import { credentialKeyStoreSuite } from './credential-key-store.suite.ts';

// PostgreSQL must be running (see test/helpers/postgres.ts); without it every test fails.
credentialKeyStoreSuite('PostgreSQL', async () => {
  const schema = await createTestSchema();
  const settings = { connectionString: schema.connectionString, schema: schema.schema };
  const db = new PostgresDatabase(settings);
  const metadata = new SqlMetadataStore(db, { migrations: POSTGRES_MIGRATIONS, clock: systemClock });
  await metadata.migrate();
  const peer = new PostgresDatabase(settings);
  return {
    db,
    peer,
    dispose: async () => {
      await peer.close();
      await metadata.close();
      await schema.drop();
    },
  };
});
