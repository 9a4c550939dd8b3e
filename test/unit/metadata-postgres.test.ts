import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MetadataStore } from '../../src/domain/storage/ports.ts';
import { openPostgresMetadataStore } from '../../src/adapters/postgres/postgres-metadata-store.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { SovraError } from '../../src/platform/errors.ts';
import { metadataStoreContract } from '../contract/metadata-store.contract.ts';
import { createTestSchema } from '../helpers/postgres.ts';

// PostgreSQL must be running (see test/helpers/postgres.ts); without it every test fails.
metadataStoreContract('postgres', async () => {
  const schema = await createTestSchema();
  const open = () =>
    openPostgresMetadataStore({
      connectionString: schema.connectionString,
      schema: schema.schema,
      clock: systemClock,
    });
  const store = open();
  const opened: MetadataStore[] = [store];
  return {
    store,
    openSibling: () => {
      const sibling = open();
      opened.push(sibling);
      return Promise.resolve(sibling);
    },
    importLatestVersions: (versions) => store.importLatestVersions(versions),
    dispose: async () => {
      for (const each of opened) await each.close();
      await schema.drop();
    },
  };
});

describe('PostgreSQL metadata database', () => {
  test('a schema name that is not a plain lower-case identifier is refused before connecting', () => {
    for (const schema of ['Public', 'a;drop', 'a b', '', '1abc', 'x'.repeat(64)]) {
      assert.throws(
        () =>
          openPostgresMetadataStore({
            connectionString: 'postgres://127.0.0.1/none',
            schema,
            clock: systemClock,
          }),
        (error: unknown) => error instanceof SovraError && error.code === 'InvalidSchemaName',
        schema,
      );
    }
  });
});
