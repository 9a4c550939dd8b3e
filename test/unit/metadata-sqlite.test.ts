import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SqlMetadataStore } from '../../src/adapters/sql/metadata-store.ts';
import type { MetadataStore } from '../../src/domain/storage/ports.ts';
import { openSqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { metadataStoreContract } from '../contract/metadata-store.contract.ts';

metadataStoreContract('sqlite', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'sovra-metadata-'));
  const path = join(directory, 'metadata.db');
  const store = openSqliteMetadataStore({ path, clock: systemClock });
  const opened: MetadataStore[] = [store];
  return {
    store,
    openSibling: () => {
      const sibling = openSqliteMetadataStore({ path, clock: systemClock });
      opened.push(sibling);
      return Promise.resolve(sibling);
    },
    importLatestVersions: (versions) => store.importLatestVersions(versions),
    dispose: async () => {
      for (const each of opened) await each.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
});

describe('SQLite metadata database', () => {
  test('a transaction started inside another fails at once instead of waiting for itself', async () => {
    await withDatabase(async (store) => {
      await assert.rejects(
        store.transaction(() => store.transaction(() => Promise.resolve())),
        /started inside another/,
      );
      // Work a transaction leaves behind may start its own once that transaction has ended.
      const leftBehind: Promise<number>[] = [];
      await store.transaction(() => {
        leftBehind.push(sleep(5).then(() => store.transaction(() => Promise.resolve(7))));
        return Promise.resolve();
      });
      assert.deepEqual(await Promise.all(leftBehind), [7]);
    });
  });

  test('the database file is in WAL mode, so readers never wait for the writer', async () => {
    await withDatabase((_store, path) => {
      const probe = new DatabaseSync(path, { readOnly: true });
      try {
        assert.equal(probe.prepare('PRAGMA journal_mode').get()?.['journal_mode'], 'wal');
      } finally {
        probe.close();
      }
      return Promise.resolve();
    });
  });
});

async function withDatabase(body: (store: SqlMetadataStore, path: string) => Promise<void>): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'sovra-metadata-'));
  const path = join(directory, 'metadata.db');
  const store = openSqliteMetadataStore({ path, clock: systemClock });
  try {
    await store.migrate();
    await body(store, path);
  } finally {
    await store.close();
    await rm(directory, { recursive: true, force: true });
  }
}
