import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { wrapCredentialKey } from '../../src/adapters/secrets/credential-key.ts';
import { credentialKeyPath } from '../../src/adapters/secrets/credential-key-file.ts';
import { RootWrappedSealer } from '../../src/adapters/secrets/root-wrapped-sealer.ts';
import { SqlAuditLogStore } from '../../src/adapters/sql/audit-log-store.ts';
import { SqlCredentialKeyStore } from '../../src/adapters/sql/credential-key-store.ts';
import { SqlIdentityStore } from '../../src/adapters/sql/iam-store.ts';
import { SqlMetadataStore } from '../../src/adapters/sql/metadata-store.ts';
import { SQLITE_MIGRATIONS } from '../../src/adapters/sqlite/migrations.ts';
import { SqliteDatabase } from '../../src/adapters/sqlite/sqlite-database.ts';
import { bootstrapRootTenant } from '../../src/domain/iam/bootstrap.ts';
import type { SecretSealer } from '../../src/domain/iam/credentials.ts';
import { SoftwareRoot } from '../../src/domain/kms/root-of-trust.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { isSovraError } from '../../src/platform/errors.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { openCredentialSealer } from '../../src/server/credential-sealing.ts';

const CONTEXT = 'access-key:SVRAEXAMPLE0000000000';

function code(expected: string, message?: RegExp) {
  return (error: unknown) => {
    assert.ok(isSovraError(error), String(error));
    assert.equal(error.code, expected, error.message);
    if (message !== undefined) assert.match(error.message, message);
    return true;
  };
}

const ROOT_KEY = randomBytes(32);

/** The installation's root of trust, as every gateway has it (local-key and pkcs11 alike). */
function installationRoot(): SoftwareRoot {
  const root = new SoftwareRoot();
  root.unsealWith(Buffer.from(ROOT_KEY));
  return root;
}

/** One metadata database; gateways are data directories in front of it. */
async function openDatabase() {
  const dir = mkdtempSync(join(tmpdir(), 'sovra-credential-sealing-'));
  const db = new SqliteDatabase(join(dir, 'metadata.sqlite'));
  const metadata = new SqlMetadataStore(db, { migrations: SQLITE_MIGRATIONS, clock: systemClock });
  await metadata.migrate();
  const identity = new SqlIdentityStore(db);
  const keyStore = new SqlCredentialKeyStore(db, systemClock);
  const lines: string[] = [];
  const log = createLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    }),
  );
  /** Starts a gateway with this data directory: the sealer it would serve with. */
  const start = (dataDir: string, root = installationRoot()) =>
    openCredentialSealer({
      dataDir,
      root,
      seal: null,
      keyStore,
      stores: { accessKeys: identity, sessions: identity.federation() },
      logKeys: new SqlAuditLogStore(db),
      log,
      whenAvailable: async () => {},
    });
  const newDataDir = () => mkdtempSync(join(dir, 'gateway-'));
  return {
    metadata,
    keyStore,
    lines,
    start,
    newDataDir,
    dispose: async () => {
      await metadata.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes `keys/credential-key.wrapped` as gateways before migration 16 did: u8 1 ‖ wrapping. */
async function writeKeyFile(dataDir: string, key: Buffer): Promise<Buffer> {
  const root = installationRoot();
  const wrapped = await wrapCredentialKey(key, root);
  await root.close();
  mkdirSync(join(dataDir, 'keys'), { recursive: true, mode: 0o700 });
  writeFileSync(credentialKeyPath(dataDir), Buffer.concat([Buffer.from([1]), wrapped]), { mode: 0o600 });
  return wrapped;
}

/** True when `a` unseals what `b` sealed: the two gateways hold one K. */
function sameKey(a: SecretSealer, b: SecretSealer): boolean {
  const sealed = b.seal(Buffer.from('secret'), CONTEXT);
  return a.unseal(sealed, CONTEXT).toString() === 'secret';
}

describe('credential sealing keeps one K per metadata database (docs/decisions/0005)', () => {
  const opened: { dispose: () => Promise<void> }[] = [];
  after(async () => {
    for (const database of opened) await database.dispose();
  });
  const database = async () => {
    const db = await openDatabase();
    opened.push(db);
    return db;
  };

  it('gateways with their own data directories share the K the first one created', async () => {
    const db = await database();
    const first = await db.start(db.newDataDir());
    const stored = await db.keyStore.read();
    assert.ok(stored !== null);
    const second = await db.start(db.newDataDir());
    assert.ok(sameKey(first, second) && sameKey(second, first));
    assert.deepEqual(await db.keyStore.read(), stored);
  });

  it("a data directory's key file is imported into the empty database and deleted; its K seals on", async () => {
    const db = await database();
    const dataDir = db.newDataDir();
    const key = randomBytes(32);
    const wrapped = await writeKeyFile(dataDir, key);
    const before = new RootWrappedSealer();
    before.load(Buffer.from(key), null);
    const sealer = await db.start(dataDir);
    assert.equal(existsSync(credentialKeyPath(dataDir)), false, 'the file is deleted');
    assert.deepEqual(await db.keyStore.read(), wrapped);
    assert.ok(sameKey(sealer, before), 'secrets sealed under the file are read');
    assert.ok(db.lines.some((line) => line.includes('now kept in the metadata database')));
    // A gateway still holding a copy of that file, even wrapped again, is accepted and its copy deleted.
    const other = db.newDataDir();
    await writeKeyFile(other, key);
    assert.ok(sameKey(await db.start(other), sealer));
    assert.equal(existsSync(credentialKeyPath(other)), false);
    assert.deepEqual(await db.keyStore.read(), wrapped, 'the stored key is not replaced');
  });

  it("a key file whose K differs from the database's refuses to start, and both are left as they are", async () => {
    const db = await database();
    await db.start(db.newDataDir());
    const stored = await db.keyStore.read();
    const dataDir = db.newDataDir();
    await writeKeyFile(dataDir, randomBytes(32));
    const file = readFileSync(credentialKeyPath(dataDir));
    await assert.rejects(
      db.start(dataDir),
      code(
        'RootUnavailable',
        /credential-key\.wrapped holds a credential-sealing key other than the one in the metadata database/,
      ),
    );
    assert.deepEqual(readFileSync(credentialKeyPath(dataDir)), file, 'the file is kept');
    assert.deepEqual(await db.keyStore.read(), stored);
  });

  it('a key file that this root does not unwrap is never stored', async () => {
    const db = await database();
    const dataDir = db.newDataDir();
    await writeKeyFile(dataDir, randomBytes(32));
    const otherRoot = new SoftwareRoot();
    otherRoot.unsealWith(randomBytes(32));
    await assert.rejects(db.start(dataDir, otherRoot), code('RootUnavailable', /does not unwrap/));
    assert.equal(await db.keyStore.read(), null);
    assert.ok(existsSync(credentialKeyPath(dataDir)));
  });

  it('secrets sealed under a K the database does not hold (a key file not yet imported) refuse a new K', async () => {
    const db = await database();
    const elsewhere = new RootWrappedSealer();
    elsewhere.load(randomBytes(32), null);
    assert.ok((await bootstrapRootTenant(db.metadata, elsewhere, systemClock)) !== null);
    await assert.rejects(db.start(db.newDataDir()), code('RootUnavailable', /Start that gateway first/));
    assert.equal(await db.keyStore.read(), null, 'no K is stored beside those secrets');
  });
});
