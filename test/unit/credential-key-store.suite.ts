import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { createCredentialKey, readCredentialKey } from '../../src/adapters/secrets/credential-key.ts';
import { SqlCredentialKeyStore } from '../../src/adapters/sql/credential-key-store.ts';
import { renderPlaceholders, type SqlDatabase } from '../../src/adapters/sql/driver.ts';
import { integer } from '../../src/adapters/sql/rows.ts';
import { SoftwareRoot } from '../../src/domain/kms/root-of-trust.ts';
import { OffsetClock } from '../../src/platform/clock.ts';
import { isSovraError } from '../../src/platform/errors.ts';

/**
 * A migrated metadata database as two gateways see it: `db` and `peer` are separate connections
 * (pools) to the same database, as two gateways sharing it have.
 */
export interface CredentialKeyDatabase {
  db: SqlDatabase;
  peer: SqlDatabase;
  dispose: () => Promise<void>;
}

function code(expected: string) {
  return (error: unknown) => {
    assert.ok(isSovraError(error), String(error));
    assert.equal(error.code, expected, error.message);
    return true;
  };
}

function unsealedRoot(rootKey = randomBytes(32)): SoftwareRoot {
  const root = new SoftwareRoot();
  root.unsealWith(rootKey);
  return root;
}

/** A row written behind the store's back (ids and formats it never writes). */
function insertRow(db: SqlDatabase, id: number, format: number): string {
  return renderPlaceholders(
    `INSERT INTO credential_keys (id, format, wrapped, created_at_ms) VALUES (${id}, ${format}, ?, 0)`,
    db.placeholderStyle,
  );
}

export function credentialKeyStoreSuite(name: string, open: () => Promise<CredentialKeyDatabase>): void {
  describe(`credential key store (${name})`, () => {
    test('an empty store reads null; the first createIfAbsent stores its bytes (format 1) and every later one gets them back', async () => {
      const { db, dispose } = await open();
      try {
        const clock = new OffsetClock();
        const store = new SqlCredentialKeyStore(db, clock);
        assert.equal(await store.read(), null);
        const first = randomBytes(60);
        const before = clock.nowMs();
        assert.deepEqual(await store.createIfAbsent(first), first);
        assert.deepEqual(await store.read(), first);
        assert.deepEqual(await store.createIfAbsent(randomBytes(60)), first, 'the first stays');
        assert.deepEqual(await new SqlCredentialKeyStore(db, clock).read(), first);
        const rows = await db.query('SELECT id, format, created_at_ms FROM credential_keys', []);
        assert.equal(rows.length, 1);
        assert.equal(integer(rows[0]!, 'id'), 1);
        assert.equal(integer(rows[0]!, 'format'), 1);
        assert.ok(integer(rows[0]!, 'created_at_ms') >= before);
      } finally {
        await dispose();
      }
    });

    test('two gateways creating at once both get the same stored bytes, one of theirs', async () => {
      const { db, peer, dispose } = await open();
      try {
        const stores = [
          new SqlCredentialKeyStore(db, new OffsetClock()),
          new SqlCredentialKeyStore(peer, new OffsetClock()),
        ];
        const offered = [randomBytes(60), randomBytes(60)];
        const stored = await Promise.all([
          stores[0]!.createIfAbsent(offered[0]!),
          stores[1]!.createIfAbsent(offered[1]!),
        ]);
        assert.deepEqual(stored[0], stored[1]);
        assert.ok(offered.some((bytes) => bytes.equals(stored[0])));
        assert.deepEqual(await stores[1]!.read(), stored[0]);
      } finally {
        await dispose();
      }
    });

    test('two gateways creating K at once with one root both hold the same K, and exactly one created it', async () => {
      const { db, peer, dispose } = await open();
      const rootKey = randomBytes(32);
      const roots = [unsealedRoot(rootKey), unsealedRoot(rootKey)];
      try {
        const stores = [
          new SqlCredentialKeyStore(db, new OffsetClock()),
          new SqlCredentialKeyStore(peer, new OffsetClock()),
        ];
        const keys = await Promise.all([
          createCredentialKey(stores[0]!, roots[0]!),
          createCredentialKey(stores[1]!, roots[1]!),
        ]);
        assert.deepEqual(keys[0].key, keys[1].key);
        assert.equal(keys[0].key.length, 32);
        assert.deepEqual(keys.map((k) => k.created).sort(), [false, true]);
        const wrapped = await stores[0]!.read();
        assert.ok(wrapped !== null && !wrapped.includes(keys[0].key), 'K is stored only wrapped');
        assert.deepEqual(await readCredentialKey(stores[1]!, roots[1]!), keys[0].key);
      } finally {
        for (const root of roots) await root.close();
        await dispose();
      }
    });

    test('the stored key is kept: the database refuses changing or deleting it', async () => {
      const { db, dispose } = await open();
      try {
        const store = new SqlCredentialKeyStore(db, new OffsetClock());
        const wrapped = randomBytes(60);
        await store.createIfAbsent(wrapped);
        await assert.rejects(db.execute('UPDATE credential_keys SET format = 2', []), /never changed/);
        await assert.rejects(db.execute('DELETE FROM credential_keys', []), /never (changed or )?deleted/);
        await assert.rejects(db.execute(insertRow(db, 2, 1), [wrapped]), /check constraint/i, 'one row only');
        assert.deepEqual(await store.read(), wrapped);
      } finally {
        await dispose();
      }
    });

    test('a stored key of a format this version does not read is RootUnavailable, for read and createIfAbsent', async () => {
      const { db, dispose } = await open();
      try {
        await db.execute(insertRow(db, 1, 7), [randomBytes(60)]);
        const store = new SqlCredentialKeyStore(db, new OffsetClock());
        await assert.rejects(store.read(), code('RootUnavailable'));
        await assert.rejects(store.createIfAbsent(randomBytes(60)), code('RootUnavailable'));
      } finally {
        await dispose();
      }
    });
  });
}
