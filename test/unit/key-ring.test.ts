import assert from 'node:assert/strict';
import { createSecretKey, type KeyObject } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  encodeEncryptionContext,
  openCiphertext,
  readCiphertextHeader,
  sealCiphertext,
} from '../../src/domain/kms/ciphertext-blob.ts';
import { KmsError } from '../../src/domain/kms/errors.ts';
import { KeyMaterialCache } from '../../src/domain/kms/key-material-cache.ts';
import { checkAliasName, parseKeyReference } from '../../src/domain/kms/key-references.ts';
import { OffsetClock } from '../../src/platform/clock.ts';

const isKmsError = (code: string) => (error: unknown) => error instanceof KmsError && error.code === code;

describe('KMS ciphertext blob format 1', () => {
  // Written by format 1 with 32 bytes of 0x07 as key material; any change that breaks it breaks
  // every ciphertext already handed out.
  const GOLDEN =
    '011234abcd12ab34cd56ef1234567890ab0000000348007c0deea28884b7bec413e33f93b1f9d1797a20510889bb9cb0a69e521f89beb7f11982';
  const material = createSecretKey(Buffer.alloc(32, 7));

  test('a golden blob still reads: key id and version from the header, plaintext under its context', () => {
    const blob = Buffer.from(GOLDEN, 'hex');
    assert.deepEqual(readCiphertextHeader(blob), {
      keyId: '1234abcd-12ab-34cd-56ef-1234567890ab',
      version: 3,
    });
    const plaintext = openCiphertext(material, blob, { purpose: 'golden', tenant: 'a' });
    assert.equal(plaintext.toString('utf8'), 'sovereign');
  });

  test('the header, the IV and the context are all authenticated', () => {
    const blob = sealCiphertext(
      material,
      { keyId: '1234abcd-12ab-34cd-56ef-1234567890ab', version: 1 },
      Buffer.from('x'),
      {},
    );
    const moved = Buffer.from(blob);
    moved.writeUInt32BE(2, 17); // claims another version
    assert.throws(() => openCiphertext(material, moved, {}), isKmsError('InvalidCiphertext'));
    assert.throws(() => openCiphertext(material, blob, { any: 'context' }), isKmsError('InvalidCiphertext'));
    assert.equal(openCiphertext(material, blob, {}).toString(), 'x');
  });

  test('blobs that are short, of another format or of version 0 are InvalidCiphertext', () => {
    for (const blob of [
      Buffer.alloc(0),
      Buffer.alloc(48, 1),
      Buffer.alloc(60, 2),
      Buffer.concat([Buffer.from([1]), Buffer.alloc(60)]),
    ]) {
      assert.throws(() => readCiphertextHeader(blob), isKmsError('InvalidCiphertext'));
    }
  });

  test('the context encoding is canonical: order does not matter, boundaries do', () => {
    assert.deepEqual(
      encodeEncryptionContext({ a: '1', b: '2' }),
      encodeEncryptionContext({ b: '2', a: '1' }),
    );
    assert.notDeepEqual(encodeEncryptionContext({ ab: 'c' }), encodeEncryptionContext({ a: 'bc' }));
    assert.deepEqual(encodeEncryptionContext({}), Buffer.from([0, 0]));
  });
});

describe('KeyMaterialCache', () => {
  const material = (): KeyObject => createSecretKey(Buffer.alloc(32, 1));

  test('drops the least recently used entry beyond its bound', () => {
    const cache = new KeyMaterialCache({ maxEntries: 2, ttlMs: 60_000, clock: new OffsetClock() });
    const one = material();
    cache.set('k', 1, one);
    cache.set('k', 2, material());
    assert.equal(cache.get('k', 1), one); // now version 2 is the least recently used
    cache.set('k', 3, material());
    assert.equal(cache.get('k', 2), undefined);
    assert.equal(cache.get('k', 1), one);
    assert.equal(cache.size, 2);
  });

  test('expired entries are gone; forgetKey drops one key’s versions and clear drops everything', () => {
    const clock = new OffsetClock();
    const cache = new KeyMaterialCache({ maxEntries: 10, ttlMs: 1_000, clock });
    cache.set('k', 1, material());
    clock.advance(1_001);
    assert.equal(cache.get('k', 1), undefined);
    const kept = material();
    cache.set('a', 1, material());
    cache.set('a', 2, material());
    cache.set('c', 1, kept);
    cache.forgetKey('a');
    assert.equal(cache.get('a', 1), undefined);
    assert.equal(cache.get('a', 2), undefined);
    assert.equal(cache.get('c', 1), kept);
    cache.clear();
    assert.equal(cache.size, 0);
  });
});

describe('key references', () => {
  const scope = { tenantId: 'acme', region: 'eu-central-1' };
  const id = '0b5e7c3a-2f4d-4e6a-9b1c-8d7e6f5a4b3c';

  test('key ids, key ARNs, alias names and alias ARNs of the caller’s tenant and region are understood', () => {
    assert.deepEqual(parseKeyReference(id, scope, true), { kind: 'key', keyId: id });
    assert.deepEqual(parseKeyReference(`arn:aws:kms:eu-central-1:acme:key/${id}`, scope, false), {
      kind: 'key',
      keyId: id,
    });
    assert.deepEqual(parseKeyReference('alias/app', scope, true), { kind: 'alias', aliasName: 'alias/app' });
    assert.deepEqual(parseKeyReference('arn:aws:kms:eu-central-1:acme:alias/app', scope, true), {
      kind: 'alias',
      aliasName: 'alias/app',
    });
  });

  test('aliases where only keys are allowed, other tenants’ and partitions’ ARNs are NotFound', () => {
    for (const reference of [
      'alias/app',
      `arn:aws:kms:eu-central-1:other:key/${id}`,
      `arn:aws-cn:kms:eu-central-1:acme:key/${id}`,
      `arn:aws:kms:eu-central-1:acme:key/not-a-uuid`,
      `${id}x`,
    ]) {
      assert.throws(() => parseKeyReference(reference, scope, false), isKmsError('KeyNotFound'), reference);
    }
  });

  test('alias names: alias/ prefix, allowed characters, 256 characters, alias/aws/ reserved for creation', () => {
    assert.equal(checkAliasName('alias/Team_1/app-x', true), 'alias/Team_1/app-x');
    assert.equal(checkAliasName('alias/aws/s3', false), 'alias/aws/s3');
    for (const name of ['alias/aws/s3', 'app', 'alias/a b', 'alias/é', `alias/${'a'.repeat(251)}`]) {
      assert.throws(() => checkAliasName(name, true), isKmsError('InvalidAliasName'), name);
    }
  });
});
