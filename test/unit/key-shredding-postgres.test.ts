import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { SqlKeyStore } from '../../src/adapters/sql/kms-store.ts';
import { SqlMetadataStore } from '../../src/adapters/sql/metadata-store.ts';
import { POSTGRES_MIGRATIONS } from '../../src/adapters/postgres/migrations.ts';
import { PostgresDatabase } from '../../src/adapters/postgres/postgres-database.ts';
import { createRecipientKey, exportKeys, readKeyExport } from '../../src/domain/kms/key-export.ts';
import { KeyRing } from '../../src/domain/kms/key-ring.ts';
import { SoftwareRoot } from '../../src/domain/kms/root-of-trust.ts';
import { OffsetClock } from '../../src/platform/clock.ts';
import { createTestSchema } from '../helpers/postgres.ts';

const run = promisify(execFile);
const TENANT = 'tenant-a';
const DAY_MS = 24 * 60 * 60 * 1000;

// PostgreSQL must be running (see test/helpers/postgres.ts).
test('after crypto-shredding on PostgreSQL, neither a pg_dump, a new export nor the material cache holds the key', async () => {
  const schema = await createTestSchema();
  const db = new PostgresDatabase({ connectionString: schema.connectionString, schema: schema.schema });
  const clock = new OffsetClock();
  const metadata = new SqlMetadataStore(db, { migrations: POSTGRES_MIGRATIONS, clock });
  const root = new SoftwareRoot();
  root.unsealWith(randomBytes(32));
  try {
    await metadata.migrate();
    const store = new SqlKeyStore(db);
    const ring = new KeyRing({ store, root, clock, region: 'eu-central-1' });
    const input = {
      keySpec: 'SYMMETRIC_DEFAULT' as const,
      keyUsage: null,
      description: '',
      policy: null,
      tags: [],
    };
    const kept = await ring.createKey(TENANT, input);
    const doomed = await ring.createKey(TENANT, input);
    const material = (await store.getKeyVersion(doomed.keyId, 1))?.wrappedMaterial;
    assert.ok(material !== undefined);
    const dump = async () =>
      (
        await run('pg_dump', ['--data-only', '-n', schema.schema, schema.connectionString], {
          maxBuffer: 64 << 20,
        })
      ).stdout;
    assert.ok(
      (await dump()).includes(material.toString('hex')),
      'the dump shows bytea as hex before deletion',
    );

    await ring.encrypt(TENANT, {
      keyReference: doomed.keyId,
      plaintext: Buffer.from('x'),
      context: {},
      dryRun: false,
    });
    assert.equal(ring.cachedMaterialCount, 1);
    await ring.scheduleKeyDeletion(TENANT, doomed.keyId, 7);
    clock.advance(8 * DAY_MS);
    assert.equal((await ring.completeDueDeletions(clock.now())).keysDeleted, 1);
    // SQLite runs without mmap (mmap_size 0) and PostgreSQL's shared buffers are not ours to
    // read; the one in-process cache of unwrapped material forgets the key with its deletion.
    assert.equal(ring.cachedMaterialCount, 0);

    assert.ok(
      !(await dump()).includes(material.toString('hex')),
      'pg_dump still holds the shredded material',
    );
    const recipient = await createRecipientKey(root);
    const { file } = await exportKeys({ store, root, recipient, tenantIds: [TENANT], clock });
    const contents = await readKeyExport(root, file);
    assert.deepEqual(
      contents.map((entry) => entry.key.keyId),
      [kept.keyId],
    );
    assert.equal(file.indexOf(material), -1);
  } finally {
    await root.close();
    await metadata.close();
    await schema.drop();
  }
});
