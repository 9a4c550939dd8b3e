import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqlMetadataStore } from '../../src/adapters/sql/metadata-store.ts';
import { SQLITE_MIGRATIONS } from '../../src/adapters/sqlite/migrations.ts';
import { SqliteDatabase } from '../../src/adapters/sqlite/sqlite-database.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { test } from 'node:test';
import { keyRingSuite } from './key-ring.suite.ts';

keyRingSuite('SQLite', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'sovra-kms-'));
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

test('SQLite deletes securely (freed space is zeroed) and a discard empties the write-ahead log', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'sovra-kms-'));
  const db = new SqliteDatabase(join(directory, 'metadata.sqlite'));
  try {
    // Reads outside a transaction go to the write connection, whose setting this is.
    assert.equal((await db.query('PRAGMA secure_delete', []))[0]?.secure_delete, 1);
    await db.execute('CREATE TABLE t (v BLOB)', []);
    await db.execute('INSERT INTO t VALUES (?)', [Buffer.alloc(10_000, 7)]);
    assert.ok((await stat(join(directory, 'metadata.sqlite-wal'))).size > 0);
    await db.discardSupersededPages();
    assert.equal((await stat(join(directory, 'metadata.sqlite-wal'))).size, 0);
  } finally {
    await db.close();
    await rm(directory, { recursive: true, force: true });
  }
});
