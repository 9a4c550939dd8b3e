import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqlMetadataStore } from '../../src/adapters/sql/metadata-store.ts';
import { SQLITE_MIGRATIONS } from '../../src/adapters/sqlite/migrations.ts';
import { SqliteDatabase } from '../../src/adapters/sqlite/sqlite-database.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { credentialKeyStoreSuite } from './credential-key-store.suite.ts';

credentialKeyStoreSuite('SQLite', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'sovra-credential-key-'));
  const path = join(directory, 'metadata.sqlite');
  const db = new SqliteDatabase(path);
  const metadata = new SqlMetadataStore(db, { migrations: SQLITE_MIGRATIONS, clock: systemClock });
  await metadata.migrate();
  const peer = new SqliteDatabase(path);
  return {
    db,
    peer,
    dispose: async () => {
      await peer.close();
      await metadata.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
});
