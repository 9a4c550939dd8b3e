import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
