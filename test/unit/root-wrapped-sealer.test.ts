import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createCredentialKey,
  readCredentialKey,
  wrapCredentialKey,
} from '../../src/adapters/secrets/credential-key.ts';
import { credentialKeyPath, readCredentialKeyFile } from '../../src/adapters/secrets/credential-key-file.ts';
import { LocalKeySealer } from '../../src/adapters/secrets/local-key-sealer.ts';
import { RootWrappedSealer } from '../../src/adapters/secrets/root-wrapped-sealer.ts';
import { SqlCredentialKeyStore } from '../../src/adapters/sql/credential-key-store.ts';
import { SqlMetadataStore } from '../../src/adapters/sql/metadata-store.ts';
import { SQLITE_MIGRATIONS } from '../../src/adapters/sqlite/migrations.ts';
import { SqliteDatabase } from '../../src/adapters/sqlite/sqlite-database.ts';
import { SoftwareRoot } from '../../src/domain/kms/root-of-trust.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { isSovraError } from '../../src/platform/errors.ts';

const CONTEXT = 'access-key:SVRAEXAMPLE0000000000';

function code(expected: string) {
  return (error: unknown) => {
    assert.ok(isSovraError(error), String(error));
    assert.equal(error.code, expected, error.message);
    return true;
  };
}

function loaded(key = randomBytes(32), legacy: LocalKeySealer | null = null): RootWrappedSealer {
  const sealer = new RootWrappedSealer();
  sealer.load(key, legacy);
  return sealer;
}

function unsealedRoot(): SoftwareRoot {
  const root = new SoftwareRoot();
  root.unsealWith(randomBytes(32));
  return root;
}

describe('RootWrappedSealer (credential secrets under the root of trust)', () => {
  it('seals as format 2: u8 format ‖ 12-byte IV ‖ ciphertext ‖ 16-byte tag, and unseals it', () => {
    const sealer = loaded();
    const secret = Buffer.from('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
    const sealed = sealer.seal(secret, CONTEXT);
    assert.equal(sealed[0], 2);
    assert.equal(sealed.length, 1 + 12 + secret.length + 16);
    assert.ok(!sealed.includes(secret));
    assert.deepEqual(sealer.unseal(sealed, CONTEXT), secret);
  });

  it('reads the golden format-2 value (the persisted format does not drift)', () => {
    const sealer = loaded(Buffer.alloc(32, 7));
    const golden = Buffer.from(
      '023c2b3083ae07bb829b579c0b04080b36f9bfc8561c784ad685bdb18ef8fcc0d9f6463d2a330b25fc7b817456474871f6186c7a22',
      'hex',
    );
    assert.equal(sealer.unseal(golden, 'access-key:SVRAGOLDEN').toString(), 'golden-secret-access-key');
  });

  it('binds a sealed secret to its context: another record, a flipped bit or another key fails as SealedValueCorrupted', () => {
    const key = randomBytes(32);
    const sealer = loaded(Buffer.from(key));
    const sealed = sealer.seal(Buffer.from('secret'), CONTEXT);
    assert.throws(
      () => sealer.unseal(sealed, 'access-key:SVRAOTHER00000000000'),
      code('SealedValueCorrupted'),
    );
    assert.throws(
      () => sealer.unseal(sealed, `sts-session:${CONTEXT.slice(11)}`),
      code('SealedValueCorrupted'),
    );
    const flipped = Buffer.from(sealed);
    flipped[14]! ^= 1;
    assert.throws(() => sealer.unseal(flipped, CONTEXT), code('SealedValueCorrupted'));
    assert.throws(() => loaded().unseal(sealed, CONTEXT), code('SealedValueCorrupted'));
    assert.throws(() => sealer.unseal(Buffer.from([2, 1, 2]), CONTEXT), code('SealedValueCorrupted'));
    assert.throws(
      () => sealer.unseal(Buffer.from([9, ...sealed.subarray(1)]), CONTEXT),
      code('SealedValueCorrupted'),
    );
  });

  it('without its key (never loaded, or forgotten when the root was sealed) every use is KmsError Sealed, and forgetting zeroes the key', () => {
    const empty = new RootWrappedSealer();
    assert.equal(empty.isLoaded, false);
    assert.throws(() => empty.requireAvailable(), code('Sealed'));
    assert.throws(() => empty.seal(Buffer.from('x'), CONTEXT), code('Sealed'));

    const key = randomBytes(32);
    const sealer = loaded(key);
    const sealed = sealer.seal(Buffer.from('secret'), CONTEXT);
    sealer.requireAvailable();
    sealer.forget();
    assert.equal(sealer.isLoaded, false);
    assert.ok(
      key.every((byte) => byte === 0),
      'the key buffer is zeroed',
    );
    assert.throws(() => sealer.requireAvailable(), code('Sealed'));
    assert.throws(() => sealer.seal(Buffer.from('x'), CONTEXT), code('Sealed'));
    assert.throws(() => sealer.unseal(sealed, CONTEXT), code('Sealed'));
    assert.throws(() => sealer.reseal(sealed, CONTEXT), code('Sealed'));
  });

  it('reads format-1 values of the local key file only while it holds that sealer; reseal moves them to format 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sovra-sealer-'));
    try {
      const legacy = LocalKeySealer.openOrCreate(join(dir, 'local-seal.key'));
      const old = legacy.seal(Buffer.from('old secret'), CONTEXT);
      assert.equal(old[0], 1);
      const sealer = loaded(randomBytes(32), legacy);
      assert.equal(sealer.unseal(old, CONTEXT).toString(), 'old secret');
      assert.equal(sealer.seal(Buffer.from('new'), CONTEXT)[0], 2, 'new values are format 2 only');
      const moved = sealer.reseal(old, CONTEXT);
      assert.ok(moved !== null);
      assert.equal(moved[0], 2);
      assert.equal(sealer.unseal(moved, CONTEXT).toString(), 'old secret');
      assert.equal(sealer.reseal(moved, CONTEXT), null, 'a format-2 value stays as it is');
      assert.throws(
        () => sealer.reseal(old, 'access-key:SVRAOTHER00000000000'),
        code('SealedValueCorrupted'),
      );
      sealer.retireLegacy();
      assert.throws(() => sealer.unseal(old, CONTEXT), code('SealedValueCorrupted'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the credential-sealing key K, kept wrapped in the metadata database', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sovra-credential-key-'));
  const db = new SqliteDatabase(join(dir, 'metadata.sqlite'));
  const metadata = new SqlMetadataStore(db, { migrations: SQLITE_MIGRATIONS, clock: systemClock });
  const store = new SqlCredentialKeyStore(db, systemClock);
  before(() => metadata.migrate());
  after(async () => {
    await metadata.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is created once, stored only as the root-wrapped key, and unwraps to the same key', async () => {
    const root = unsealedRoot();
    assert.equal(await readCredentialKey(store, root), null);
    const first = await createCredentialKey(store, root);
    assert.equal(first.created, true);
    assert.equal(first.key.length, 32);
    const wrapped = await store.read();
    assert.ok(wrapped !== null);
    assert.ok(!wrapped.includes(first.key), 'the key is not stored in plaintext');
    assert.ok(!wrapped.includes(Buffer.from(first.key.toString('hex'))));
    assert.deepEqual(await readCredentialKey(store, root), first.key);
    // A gateway that read no key before the first was stored creates one, and gets the first's.
    const late = await createCredentialKey(store, root);
    assert.equal(late.created, false);
    assert.deepEqual(late.key, first.key);
    assert.deepEqual(await store.read(), wrapped, 'the stored key is not replaced');

    // The wrapping is bound to its purpose: the root unwraps it under no other AAD.
    await assert.rejects(
      root.unwrap(wrapped, Buffer.from('sovra-audit-log-key/v1')),
      code('InvalidCiphertext'),
    );
    // Another root (the root was changed) refuses it instead of starting a second key.
    await assert.rejects(readCredentialKey(store, unsealedRoot()), code('RootUnavailable'));
    await assert.rejects(createCredentialKey(store, unsealedRoot()), code('RootUnavailable'));
    // A sealed root cannot unwrap it at all.
    await assert.rejects(readCredentialKey(store, new SoftwareRoot()), code('Sealed'));
    await root.close();
  });

  it('the key file of a data directory from before migration 16 is read behind its format byte; another format is refused', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sovra-credential-key-file-'));
    try {
      const path = credentialKeyPath(dataDir);
      assert.equal(await readCredentialKeyFile(path), null);
      const root = unsealedRoot();
      const wrapped = await wrapCredentialKey(randomBytes(32), root);
      mkdirSync(join(dataDir, 'keys'), { mode: 0o700 });
      writeFileSync(path, Buffer.concat([Buffer.from([1]), wrapped]), { mode: 0o600 });
      assert.deepEqual(await readCredentialKeyFile(path), wrapped);
      writeFileSync(path, Buffer.concat([Buffer.from([7]), wrapped]));
      await assert.rejects(readCredentialKeyFile(path), code('RootUnavailable'));
      await root.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
