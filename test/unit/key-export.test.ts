import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SqlKeyStore } from '../../src/adapters/sql/kms-store.ts';
import { SqlMetadataStore } from '../../src/adapters/sql/metadata-store.ts';
import { SQLITE_MIGRATIONS } from '../../src/adapters/sqlite/migrations.ts';
import { SqliteDatabase } from '../../src/adapters/sqlite/sqlite-database.ts';
import { KmsError } from '../../src/domain/kms/errors.ts';
import { createRecipientKey, exportKeys, importKeys } from '../../src/domain/kms/key-export.ts';
import { KeyRing } from '../../src/domain/kms/key-ring.ts';
import { SoftwareRoot } from '../../src/domain/kms/root-of-trust.ts';
import { systemClock } from '../../src/platform/clock.ts';

async function installation(rootKey: Buffer) {
  const directory = await mkdtemp(join(tmpdir(), 'sovra-export-'));
  const db = new SqliteDatabase(join(directory, 'metadata.sqlite'));
  const metadata = new SqlMetadataStore(db, { migrations: SQLITE_MIGRATIONS, clock: systemClock });
  await metadata.migrate();
  const root = new SoftwareRoot();
  root.unsealWith(Buffer.from(rootKey));
  const store = new SqlKeyStore(db);
  const ring = new KeyRing({ store, root, clock: systemClock, region: 'eu-central-1' });
  return {
    store,
    root,
    ring,
    dispose: async () => {
      await root.close();
      await metadata.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

function invalid(error: unknown): boolean {
  return error instanceof KmsError && error.code === 'InvalidCiphertext';
}

test('an export with one flipped byte, or opened under another root, fails with InvalidCiphertext and imports nothing', async () => {
  const rootKey = randomBytes(32);
  const a = await installation(rootKey);
  const b = await installation(rootKey);
  const c = await installation(randomBytes(32));
  try {
    const key = await a.ring.createKey('t', {
      keySpec: 'ML_DSA_65',
      keyUsage: null,
      description: 'signing',
      policy: null,
      tags: [{ key: 'team', value: 'x' }],
    });
    const recipient = await createRecipientKey(a.root);
    const { file } = await exportKeys({
      store: a.store,
      root: a.root,
      recipient,
      tenantIds: ['t'],
      clock: systemClock,
    });
    const outer = JSON.parse(file.toString('utf8')) as { header: string; iv: string; sealed: string };
    const sealed = Buffer.from(outer.sealed, 'base64');
    sealed[10] = (sealed[10] ?? 0) ^ 1;
    const tampered = Buffer.from(JSON.stringify({ ...outer, sealed: sealed.toString('base64') }));
    await assert.rejects(importKeys({ store: b.store, root: b.root, file: tampered }), invalid);
    await assert.rejects(importKeys({ store: c.store, root: c.root, file }), invalid);
    assert.equal(await b.store.getKey(key.keyId), null);
    assert.deepEqual(await importKeys({ store: b.store, root: b.root, file }), {
      keys: 1,
      versions: 1,
      aliases: 0,
    });
    const signed = await b.ring.sign('t', {
      keyReference: key.keyId,
      message: Buffer.from('m'),
      algorithm: 'ML_DSA_SHAKE_256',
      dryRun: false,
    });
    await a.ring.verify('t', {
      keyReference: key.keyId,
      message: Buffer.from('m'),
      signature: signed.signature,
      algorithm: 'ML_DSA_SHAKE_256',
      dryRun: false,
    });
    assert.deepEqual((await b.store.getKey(key.keyId))?.tags, [{ key: 'team', value: 'x' }]);
  } finally {
    await a.dispose();
    await b.dispose();
    await c.dispose();
  }
});
