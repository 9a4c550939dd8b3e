import assert from 'node:assert/strict';
import { createPublicKey, randomBytes, verify as verifyWithNode } from 'node:crypto';
import { describe, test } from 'node:test';
import type { SqlDatabase } from '../../src/adapters/sql/driver.ts';
import { SqlKeyStore } from '../../src/adapters/sql/kms-store.ts';
import { KmsError, type KmsErrorCode } from '../../src/domain/kms/errors.ts';
import { KeyRing, type CreateKeyInput } from '../../src/domain/kms/key-ring.ts';
import { SoftwareRoot } from '../../src/domain/kms/root-of-trust.ts';
import type { KeySpec } from '../../src/domain/kms/types.ts';
import { OffsetClock } from '../../src/platform/clock.ts';
import { LIMITS } from '../../src/platform/limits.ts';

/**
 * The key ring on a real metadata database: every test runs on SQLite and on PostgreSQL
 * (key-ring-sqlite.test.ts, key-ring-postgres.test.ts), with a software root unsealed by a random
 * 32-byte key.
 */
export interface KeyRingDatabase {
  /** A new, migrated, empty database. */
  db: SqlDatabase;
  dispose(): Promise<void>;
}

const REGION = 'eu-central-1';
const A = 'tenant-a';
const B = 'tenant-b';
const DAY_MS = 24 * 60 * 60 * 1000;

interface Fixture {
  ring: KeyRing;
  root: SoftwareRoot;
  clock: OffsetClock;
  db: SqlDatabase;
  store: SqlKeyStore;
}

function symmetric(overrides: Partial<CreateKeyInput> = {}): CreateKeyInput {
  return {
    keySpec: 'SYMMETRIC_DEFAULT',
    keyUsage: null,
    description: '',
    policy: null,
    tags: [],
    ...overrides,
  };
}

function signing(keySpec: KeySpec): CreateKeyInput {
  return symmetric({ keySpec, keyUsage: 'SIGN_VERIFY' });
}

async function fails(promise: Promise<unknown>, code: KmsErrorCode): Promise<KmsError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof KmsError, `expected KmsError(${code}), got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected KmsError(${code}), but the call succeeded`);
}

const text = (value: string) => Buffer.from(value, 'utf8');

export function keyRingSuite(adapter: string, openDatabase: () => Promise<KeyRingDatabase>): void {
  async function withRing(body: (f: Fixture) => Promise<void>, root: SoftwareRoot | null = unsealedRoot()) {
    const database = await openDatabase();
    const clock = new OffsetClock();
    const store = new SqlKeyStore(database.db);
    const ring = new KeyRing({ store, root, clock, region: REGION });
    try {
      await body({ ring, root: root ?? new SoftwareRoot(), clock, db: database.db, store });
    } finally {
      ring.forgetMaterial();
      await database.dispose();
    }
  }

  describe(`KeyRing on ${adapter}`, () => {
    describe('keys', () => {
      test('a new symmetric key is Enabled, has an AWS-shaped ARN and the default policy, and is found by id, ARN and alias', () =>
        withRing(async ({ ring }) => {
          const key = await ring.createKey(A, symmetric({ description: 'payroll' }));
          assert.match(key.keyId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
          assert.equal(key.arn, `arn:aws:kms:${REGION}:${A}:key/${key.keyId}`);
          assert.equal(key.keyState, 'Enabled');
          assert.equal(key.keyUsage, 'ENCRYPT_DECRYPT');
          assert.equal(key.keySpec, 'SYMMETRIC_DEFAULT');
          assert.equal(key.description, 'payroll');
          const policy = JSON.parse(key.policy) as { Statement: { Principal: { AWS: string } }[] };
          assert.equal(policy.Statement[0]?.Principal.AWS, `arn:aws:iam::${A}:root`);
          await ring.createAlias(A, 'alias/payroll', key.keyId);
          for (const reference of [
            key.keyId,
            key.keyId.toUpperCase(),
            key.arn,
            'alias/payroll',
            `arn:aws:kms:${REGION}:${A}:alias/payroll`,
          ]) {
            assert.equal((await ring.describeKey(A, reference)).keyId, key.keyId, reference);
          }
        }));

      test('a key id that is not a UUID, ARN or alias, or an ARN of another region, is NotFound', () =>
        withRing(async ({ ring }) => {
          const key = await ring.createKey(A, symmetric());
          for (const reference of [
            'nope',
            '',
            `arn:aws:kms:us-west-2:${A}:key/${key.keyId}`,
            'alias/',
            'x'.repeat(3000),
          ]) {
            await fails(ring.describeKey(A, reference), 'KeyNotFound');
          }
          await fails(ring.describeKey(A, 'alias/missing'), 'AliasNotFound');
        }));

      test('KeyUsage must match the key spec', () =>
        withRing(async ({ ring }) => {
          await fails(ring.createKey(A, symmetric({ keyUsage: 'SIGN_VERIFY' })), 'Validation');
          await fails(
            ring.createKey(A, { ...signing('ECC_NIST_P256'), keyUsage: 'ENCRYPT_DECRYPT' }),
            'Validation',
          );
          await fails(ring.createKey(A, symmetric({ description: 'd'.repeat(8193) })), 'Validation');
        }));

      test('ListKeys pages through a tenant’s keys with opaque markers; a forged marker is InvalidMarker', () =>
        withRing(async ({ ring }) => {
          const created = new Set<string>();
          for (let i = 0; i < 5; i++) created.add((await ring.createKey(A, symmetric())).keyId);
          await ring.createKey(B, symmetric());
          const seen: string[] = [];
          let marker: string | null = null;
          do {
            const page = await ring.listKeys(A, { limit: 2, marker });
            assert.ok(page.items.length <= 2);
            seen.push(...page.items.map((item) => item.keyId));
            marker = page.nextMarker;
          } while (marker !== null);
          assert.deepEqual(new Set(seen), created);
          assert.deepEqual(seen, [...seen].sort());
          await fails(ring.listKeys(A, { limit: 2, marker: 'bm9wZQ' }), 'InvalidMarker');
          await fails(ring.listKeys(A, { limit: 0, marker: null }), 'Validation');
          await fails(ring.listKeys(A, { limit: 1001, marker: null }), 'Validation');
        }));

      test('UpdateKeyDescription changes the description', () =>
        withRing(async ({ ring }) => {
          const key = await ring.createKey(A, symmetric());
          await ring.updateKeyDescription(A, key.keyId, 'renamed');
          assert.equal((await ring.describeKey(A, key.keyId)).description, 'renamed');
        }));
    });

    describe('encryption', () => {
      test('Encrypt then Decrypt returns the plaintext without naming the key: the blob names key and version', () =>
        withRing(async ({ ring }) => {
          const key = await ring.createKey(A, symmetric());
          const context = { bucket: 'b', object: 'k' };
          const sealed = await ring.encrypt(A, {
            keyReference: key.keyId,
            plaintext: text('secret'),
            context,
            dryRun: false,
          });
          assert.equal(sealed.keyArn, key.arn);
          assert.equal(sealed.ciphertextBlob[0], 1);
          assert.equal(sealed.ciphertextBlob.subarray(1, 17).toString('hex'), key.keyId.replace(/-/g, ''));
          assert.equal(sealed.ciphertextBlob.readUInt32BE(17), 1);
          const opened = await ring.decrypt(A, {
            ciphertextBlob: sealed.ciphertextBlob,
            context: { object: 'k', bucket: 'b' },
            keyReference: null,
            dryRun: false,
          });
          assert.equal(opened.plaintext.toString('utf8'), 'secret');
          assert.equal(opened.keyArn, key.arn);
        }));

      test('a different, missing or extra encryption context, or a changed byte, fails with the one InvalidCiphertext error', () =>
        withRing(async ({ ring }) => {
          const key = await ring.createKey(A, symmetric());
          const { ciphertextBlob } = await ring.encrypt(A, {
            keyReference: key.keyId,
            plaintext: text('secret'),
            context: { purpose: 'test' },
            dryRun: false,
          });
          const attempts: { blob: Buffer; context: Record<string, string> }[] = [
            { blob: ciphertextBlob, context: { purpose: 'other' } },
            { blob: ciphertextBlob, context: {} },
            { blob: ciphertextBlob, context: { purpose: 'test', extra: '1' } },
            { blob: ciphertextBlob.subarray(0, 30), context: { purpose: 'test' } },
            {
              blob: Buffer.from('not a ciphertext at all, but long enough to parse'),
              context: { purpose: 'test' },
            },
          ];
          for (let i = 0; i < ciphertextBlob.length; i += 7) {
            const tampered = Buffer.from(ciphertextBlob);
            tampered[i] = tampered[i]! ^ 1;
            attempts.push({ blob: tampered, context: { purpose: 'test' } });
          }
          const messages = new Set<string>();
          for (const attempt of attempts) {
            const error = await fails(
              ring.decrypt(A, {
                ciphertextBlob: attempt.blob,
                context: attempt.context,
                keyReference: null,
                dryRun: false,
              }),
              'InvalidCiphertext',
            );
            messages.add(error.message);
          }
          assert.equal(messages.size, 1);
        }));

      test('Decrypt naming another key than the blob’s fails with IncorrectKey', () =>
        withRing(async ({ ring }) => {
          const one = await ring.createKey(A, symmetric());
          const two = await ring.createKey(A, symmetric());
          await ring.createAlias(A, 'alias/two', two.keyId);
          const { ciphertextBlob } = await ring.encrypt(A, {
            keyReference: one.arn,
            plaintext: text('x'),
            context: {},
            dryRun: false,
          });
          await fails(
            ring.decrypt(A, { ciphertextBlob, context: {}, keyReference: 'alias/two', dryRun: false }),
            'IncorrectKey',
          );
          const ok = await ring.decrypt(A, {
            ciphertextBlob,
            context: {},
            keyReference: one.keyId,
            dryRun: false,
          });
          assert.equal(ok.plaintext.toString(), 'x');
        }));

      test("Plaintext must be 1 to 4,300 bytes (XKS's bound; the KMS API refuses over 4,096 first); an oversized encryption context is refused", () =>
        withRing(async ({ ring }) => {
          const key = await ring.createKey(A, symmetric());
          await fails(
            ring.encrypt(A, {
              keyReference: key.keyId,
              plaintext: Buffer.alloc(0),
              context: {},
              dryRun: false,
            }),
            'Validation',
          );
          await fails(
            ring.encrypt(A, {
              keyReference: key.keyId,
              plaintext: Buffer.alloc(LIMITS.kmsKeyRingPlaintextMaxBytes + 1),
              context: {},
              dryRun: false,
            }),
            'Validation',
          );
          await ring.encrypt(A, {
            keyReference: key.keyId,
            plaintext: Buffer.alloc(LIMITS.kmsKeyRingPlaintextMaxBytes),
            context: {},
            dryRun: false,
          });
          await fails(
            ring.encrypt(A, {
              keyReference: key.keyId,
              plaintext: text('x'),
              context: { big: 'v'.repeat(9000) },
              dryRun: false,
            }),
            'Validation',
          );
        }));

      test('GenerateDataKey returns a data key and its blob, which Decrypt opens; WithoutPlaintext callers get the same blob shape', () =>
        withRing(async ({ ring }) => {
          const key = await ring.createKey(A, symmetric());
          const context = { object: 'photos/1.jpg' };
          const dataKey = await ring.generateDataKey(A, {
            keyReference: key.keyId,
            numberOfBytes: 32,
            context,
            dryRun: false,
          });
          assert.equal(dataKey.plaintext.length, 32);
          const opened = await ring.decrypt(A, {
            ciphertextBlob: dataKey.ciphertextBlob,
            context,
            keyReference: null,
            dryRun: false,
          });
          assert.deepEqual(opened.plaintext, dataKey.plaintext);
          const short = await ring.generateDataKey(A, {
            keyReference: key.keyId,
            numberOfBytes: 16,
            context,
            dryRun: false,
          });
          assert.equal(short.plaintext.length, 16);
          await fails(
            ring.generateDataKey(A, { keyReference: key.keyId, numberOfBytes: 0, context, dryRun: false }),
            'Validation',
          );
          await fails(
            ring.generateDataKey(A, { keyReference: key.keyId, numberOfBytes: 1025, context, dryRun: false }),
            'Validation',
          );
        }));

      test('ReEncrypt moves a ciphertext to another key and context without revealing it', () =>
        withRing(async ({ ring }) => {
          const source = await ring.createKey(A, symmetric());
          const destination = await ring.createKey(A, symmetric());
          const first = await ring.encrypt(A, {
            keyReference: source.keyId,
            plaintext: text('moved'),
            context: { a: '1' },
            dryRun: false,
          });
          const moved = await ring.reEncrypt(A, {
            ciphertextBlob: first.ciphertextBlob,
            sourceContext: { a: '1' },
            sourceKeyReference: null,
            destinationKeyReference: destination.keyId,
            destinationContext: { b: '2' },
            dryRun: false,
          });
          assert.equal(moved.sourceKeyArn, source.arn);
          assert.equal(moved.keyArn, destination.arn);
          const opened = await ring.decrypt(A, {
            ciphertextBlob: moved.ciphertextBlob,
            context: { b: '2' },
            keyReference: null,
            dryRun: false,
          });
          assert.equal(opened.plaintext.toString(), 'moved');
          await fails(
            ring.reEncrypt(A, {
              ciphertextBlob: first.ciphertextBlob,
              sourceContext: { a: 'wrong' },
              sourceKeyReference: null,
              destinationKeyReference: destination.keyId,
              destinationContext: {},
              dryRun: false,
            }),
            'InvalidCiphertext',
          );
        }));

      test('GenerateRandom returns 1 to 1,024 random bytes', () =>
        withRing(async ({ ring }) => {
          assert.equal(ring.generateRandom(1024).length, 1024);
          assert.notDeepEqual(ring.generateRandom(32), ring.generateRandom(32));
          assert.throws(
            () => ring.generateRandom(0),
            (error: unknown) => error instanceof KmsError && error.code === 'Validation',
          );
          assert.throws(
            () => ring.generateRandom(1025),
            (error: unknown) => error instanceof KmsError && error.code === 'Validation',
          );
          await Promise.resolve();
        }));

      test('DryRun checks everything and then fails with DryRunSucceeded, encrypting nothing', () =>
        withRing(async ({ ring }) => {
          const key = await ring.createKey(A, symmetric());
          await fails(
            ring.encrypt(A, { keyReference: key.keyId, plaintext: text('x'), context: {}, dryRun: true }),
            'DryRunSucceeded',
          );
          await ring.disableKey(A, key.keyId);
          await fails(
            ring.encrypt(A, { keyReference: key.keyId, plaintext: text('x'), context: {}, dryRun: true }),
            'KeyDisabled',
          );
        }));
    });

    describe('key states', () => {
      test('a disabled key fails every cryptographic operation with KeyDisabled and works again once enabled', () =>
        withRing(async ({ ring }) => {
          const key = await ring.createKey(A, symmetric());
          const { ciphertextBlob } = await ring.encrypt(A, {
            keyReference: key.keyId,
            plaintext: text('x'),
            context: {},
            dryRun: false,
          });
          await ring.disableKey(A, key.keyId);
          assert.equal((await ring.describeKey(A, key.keyId)).keyState, 'Disabled');
          await fails(
            ring.encrypt(A, { keyReference: key.keyId, plaintext: text('x'), context: {}, dryRun: false }),
            'KeyDisabled',
          );
          await fails(
            ring.decrypt(A, { ciphertextBlob, context: {}, keyReference: null, dryRun: false }),
            'KeyDisabled',
          );
          await fails(
            ring.generateDataKey(A, {
              keyReference: key.keyId,
              numberOfBytes: 32,
              context: {},
              dryRun: false,
            }),
            'KeyDisabled',
          );
          await fails(ring.rotateKeyOnDemand(A, key.keyId), 'KeyDisabled');
          await fails(ring.enableKeyRotation(A, key.keyId, null), 'KeyDisabled');
          await ring.enableKey(A, key.keyId);
          const opened = await ring.decrypt(A, {
            ciphertextBlob,
            context: {},
            keyReference: null,
            dryRun: false,
          });
          assert.equal(opened.plaintext.toString(), 'x');
        }));

      test('a signing key cannot encrypt and a symmetric key cannot sign: InvalidKeyUsage', () =>
        withRing(async ({ ring }) => {
          const signer = await ring.createKey(A, signing('ECC_NIST_P256'));
          const key = await ring.createKey(A, symmetric());
          await fails(
            ring.encrypt(A, { keyReference: signer.keyId, plaintext: text('x'), context: {}, dryRun: false }),
            'InvalidKeyUsage',
          );
          await fails(
            ring.generateDataKey(A, {
              keyReference: signer.keyId,
              numberOfBytes: 32,
              context: {},
              dryRun: false,
            }),
            'InvalidKeyUsage',
          );
          await fails(
            ring.sign(A, {
              keyReference: key.keyId,
              message: text('m'),
              algorithm: 'ECDSA_SHA_256',
              dryRun: false,
            }),
            'InvalidKeyUsage',
          );
        }));
    });

    describe('rotation', () => {
      test('rotation on demand adds a version: new ciphertexts use it and older versions keep decrypting', () =>
        withRing(async ({ ring }) => {
          const key = await ring.createKey(A, symmetric());
          const before = await ring.encrypt(A, {
            keyReference: key.keyId,
            plaintext: text('v1'),
            context: {},
            dryRun: false,
          });
          await ring.rotateKeyOnDemand(A, key.keyId);
          await ring.rotateKeyOnDemand(A, key.keyId);
          assert.equal((await ring.describeKey(A, key.keyId)).currentVersion, 3);
          const after = await ring.encrypt(A, {
            keyReference: key.keyId,
            plaintext: text('v3'),
            context: {},
            dryRun: false,
          });
          assert.equal(after.ciphertextBlob.readUInt32BE(17), 3);
          ring.forgetMaterial(); // every version unwraps again from its row
          assert.equal(
            (
              await ring.decrypt(A, {
                ciphertextBlob: before.ciphertextBlob,
                context: {},
                keyReference: null,
                dryRun: false,
              })
            ).plaintext.toString(),
            'v1',
          );
          assert.equal(
            (
              await ring.decrypt(A, {
                ciphertextBlob: after.ciphertextBlob,
                context: {},
                keyReference: null,
                dryRun: false,
              })
            ).plaintext.toString(),
            'v3',
          );
          const rotations = await ring.listKeyRotations(A, key.keyId, { limit: 1, marker: null });
          assert.equal(rotations.items.length, 1);
          assert.equal(rotations.items[0]?.rotationType, 'ON_DEMAND');
          assert.notEqual(rotations.nextMarker, null);
          const rest = await ring.listKeyRotations(A, key.keyId, { limit: 10, marker: rotations.nextMarker });
          assert.equal(rest.items.length, 1);
          assert.equal(rest.nextMarker, null);
        }));

      test('automatic rotation: enabled with a period of 90–2,560 days, rotates when due, status reads back', () =>
        withRing(async ({ ring, clock }) => {
          const key = await ring.createKey(A, symmetric());
          assert.equal((await ring.getKeyRotationStatus(A, key.keyId)).enabled, false);
          await fails(ring.enableKeyRotation(A, key.keyId, 89), 'Validation');
          await fails(ring.enableKeyRotation(A, key.keyId, 2561), 'Validation');
          await ring.enableKeyRotation(A, key.keyId, 90);
          const status = await ring.getKeyRotationStatus(A, key.keyId);
          assert.equal(status.enabled, true);
          assert.equal(status.rotationPeriodDays, 90);
          assert.ok(
            status.nextRotationAt !== null && status.nextRotationAt.getTime() > clock.nowMs() + 89 * DAY_MS,
          );
          assert.equal(await ring.rotateDueKeys(clock.now()), 0);
          clock.advance(91 * DAY_MS);
          assert.equal((await ring.runMaintenance(clock.now())).keysRotated, 1);
          assert.equal((await ring.describeKey(A, key.keyId)).currentVersion, 2);
          assert.equal(await ring.rotateDueKeys(clock.now()), 0);
          const rotations = await ring.listKeyRotations(A, key.keyId, { limit: 10, marker: null });
          assert.equal(rotations.items[0]?.rotationType, 'AUTOMATIC');
          await ring.disableKeyRotation(A, key.keyId);
          assert.equal((await ring.getKeyRotationStatus(A, key.keyId)).enabled, false);
        }));

      test('asymmetric keys do not rotate: UnsupportedOperation', () =>
        withRing(async ({ ring }) => {
          const signer = await ring.createKey(A, signing('ECC_NIST_P256'));
          await fails(ring.rotateKeyOnDemand(A, signer.keyId), 'UnsupportedOperation');
          await fails(ring.enableKeyRotation(A, signer.keyId, null), 'UnsupportedOperation');
        }));
    });

    describe('deletion', () => {
      test('ScheduleKeyDeletion takes a 7–30 day window (default 30); the key is then PendingDeletion and unusable', () =>
        withRing(async ({ ring, clock }) => {
          const key = await ring.createKey(A, symmetric());
          await fails(ring.scheduleKeyDeletion(A, key.keyId, 6), 'Validation');
          await fails(ring.scheduleKeyDeletion(A, key.keyId, 31), 'Validation');
          const scheduled = await ring.scheduleKeyDeletion(A, key.keyId, null);
          assert.equal(scheduled.keyState, 'PendingDeletion');
          assert.equal(scheduled.pendingWindowDays, 30);
          assert.equal(scheduled.deletionDate?.getTime(), scheduled.deletionDate!.getTime());
          assert.ok(Math.abs(scheduled.deletionDate.getTime() - (clock.nowMs() + 30 * DAY_MS)) < 5_000);
          await fails(
            ring.encrypt(A, { keyReference: key.keyId, plaintext: text('x'), context: {}, dryRun: false }),
            'KeyInvalidState',
          );
          await fails(ring.enableKey(A, key.keyId), 'KeyInvalidState');
          await fails(ring.scheduleKeyDeletion(A, key.keyId, 7), 'KeyInvalidState');
          await fails(ring.createAlias(A, 'alias/late', key.keyId), 'KeyInvalidState');
          assert.equal((await ring.describeKey(A, key.keyId)).keyState, 'PendingDeletion');
        }));

      test('CancelKeyDeletion leaves the key Disabled; cancelling a key that is not pending is KeyInvalidState', () =>
        withRing(async ({ ring }) => {
          const key = await ring.createKey(A, symmetric());
          await fails(ring.cancelKeyDeletion(A, key.keyId), 'KeyInvalidState');
          await ring.enableKeyRotation(A, key.keyId, null);
          await ring.scheduleKeyDeletion(A, key.keyId, 7);
          assert.equal((await ring.getKeyRotationStatus(A, key.keyId)).enabled, false);
          const cancelled = await ring.cancelKeyDeletion(A, key.keyId);
          assert.equal(cancelled.keyState, 'Disabled');
          assert.equal(cancelled.deletionDate, null);
          await ring.enableKey(A, key.keyId);
          assert.equal((await ring.getKeyRotationStatus(A, key.keyId)).enabled, true);
        }));

      test('completing a due deletion removes every wrapped version row and aliases, and old ciphertexts can never be decrypted', () =>
        withRing(async ({ ring, clock, db, root }) => {
          const key = await ring.createKey(A, symmetric());
          const kept = await ring.createKey(A, symmetric());
          await ring.createAlias(A, 'alias/doomed', key.keyId);
          const { ciphertextBlob } = await ring.encrypt(A, {
            keyReference: key.keyId,
            plaintext: text('gone'),
            context: {},
            dryRun: false,
          });
          await ring.rotateKeyOnDemand(A, key.keyId);
          await ring.scheduleKeyDeletion(A, key.keyId, 7);
          assert.deepEqual(await ring.completeDueDeletions(new Date(clock.nowMs() + 6 * DAY_MS)), {
            keysDeleted: 0,
            versionsDeleted: 0,
          });
          assert.equal(await countRows(db, 'kms_key_versions', key.keyId), 2);
          clock.advance(7 * DAY_MS + 1000);
          assert.deepEqual(await ring.completeDueDeletions(clock.now()), {
            keysDeleted: 1,
            versionsDeleted: 2,
          });
          assert.equal(await countRows(db, 'kms_key_versions', key.keyId), 0);
          assert.equal(await countRows(db, 'kms_aliases', key.keyId), 0);
          assert.equal(await countRows(db, 'kms_keys', key.keyId), 0);
          assert.equal(await countRows(db, 'kms_key_versions', kept.keyId), 1);
          await fails(ring.describeKey(A, key.keyId), 'KeyNotFound');
          await fails(ring.describeKey(A, 'alias/doomed'), 'AliasNotFound');
          await fails(
            ring.decrypt(A, { ciphertextBlob, context: {}, keyReference: null, dryRun: false }),
            'InvalidCiphertext',
          );
          // A fresh ring (another gateway, or after a restart) cannot either: the material is gone.
          const other = new KeyRing({ store: new SqlKeyStore(db), root, clock, region: REGION });
          await fails(
            other.decrypt(A, { ciphertextBlob, context: {}, keyReference: null, dryRun: false }),
            'InvalidCiphertext',
          );
        }));
    });

    describe('aliases', () => {
      test('aliases are created, listed in pages, repointed, deleted; names are checked and unique per tenant', () =>
        withRing(async ({ ring }) => {
          const one = await ring.createKey(A, symmetric());
          const two = await ring.createKey(A, symmetric());
          for (const name of ['alias/a', 'alias/b', 'alias/c/d']) await ring.createAlias(A, name, one.keyId);
          await fails(ring.createAlias(A, 'alias/a', two.keyId), 'AliasExists');
          for (const name of [
            'alias/aws/s3',
            'noprefix',
            'alias/has space',
            'alias/',
            `alias/${'x'.repeat(251)}`,
          ]) {
            await fails(ring.createAlias(A, name, one.keyId), 'InvalidAliasName');
          }
          await fails(ring.createAlias(A, 'alias/e', 'alias/a'), 'KeyNotFound');
          const first = await ring.listAliases(A, null, { limit: 2, marker: null });
          assert.deepEqual(
            first.items.map((alias) => alias.aliasName),
            ['alias/a', 'alias/b'],
          );
          assert.equal(first.items[0]?.arn, `arn:aws:kms:${REGION}:${A}:alias/a`);
          const second = await ring.listAliases(A, null, { limit: 2, marker: first.nextMarker });
          assert.deepEqual(
            second.items.map((alias) => alias.aliasName),
            ['alias/c/d'],
          );
          assert.equal(second.nextMarker, null);
          await ring.updateAlias(A, 'alias/b', two.keyId);
          assert.equal((await ring.describeKey(A, 'alias/b')).keyId, two.keyId);
          const ofTwo = await ring.listAliases(A, two.keyId, { limit: 50, marker: null });
          assert.deepEqual(
            ofTwo.items.map((alias) => alias.aliasName),
            ['alias/b'],
          );
          const signer = await ring.createKey(A, signing('ECC_NIST_P256'));
          await fails(ring.updateAlias(A, 'alias/b', signer.keyId), 'Validation');
          await fails(ring.updateAlias(A, 'alias/none', two.keyId), 'AliasNotFound');
          await ring.deleteAlias(A, 'alias/b');
          await fails(ring.deleteAlias(A, 'alias/b'), 'AliasNotFound');
          await fails(ring.describeKey(A, 'alias/b'), 'AliasNotFound');
        }));
    });

    describe('tags and key policy', () => {
      test('tags are added, replaced, listed in pages and removed; aws: keys and more than 50 tags are refused', () =>
        withRing(async ({ ring }) => {
          const key = await ring.createKey(A, symmetric({ tags: [{ key: 'team', value: 'finance' }] }));
          await ring.tagResource(A, key.keyId, [
            { key: 'team', value: 'treasury' },
            { key: 'env', value: 'prod' },
          ]);
          const page = await ring.listResourceTags(A, key.keyId, { limit: 1, marker: null });
          assert.deepEqual(page.items, [{ key: 'team', value: 'treasury' }]);
          const next = await ring.listResourceTags(A, key.keyId, { limit: 50, marker: page.nextMarker });
          assert.deepEqual(next.items, [{ key: 'env', value: 'prod' }]);
          await ring.untagResource(A, key.keyId, ['team']);
          assert.deepEqual((await ring.listResourceTags(A, key.keyId, { limit: 50, marker: null })).items, [
            { key: 'env', value: 'prod' },
          ]);
          await fails(ring.tagResource(A, key.keyId, [{ key: 'aws:owner', value: 'x' }]), 'InvalidTag');
          await fails(ring.tagResource(A, key.keyId, [{ key: 'bad\u0000', value: 'x' }]), 'InvalidTag');
          const many = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: 'v' }));
          await fails(ring.tagResource(A, key.keyId, many), 'InvalidTag');
        }));

      test('the key policy is the default until replaced; malformed documents and other policy names are refused', () =>
        withRing(async ({ ring }) => {
          const key = await ring.createKey(A, symmetric());
          const initial = JSON.parse(await ring.getKeyPolicy(A, key.keyId, 'default')) as { Version: string };
          assert.equal(initial.Version, '2012-10-17');
          const replacement = JSON.stringify({
            Version: '2012-10-17',
            Statement: [{ Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Resource: '*' }],
          });
          await ring.putKeyPolicy(A, key.keyId, 'default', replacement);
          assert.equal(await ring.getKeyPolicy(A, key.keyId, 'default'), replacement);
          for (const bad of [
            '',
            'not json',
            '[]',
            '{}',
            '{"Statement":[{"Effect":"Maybe"}]}',
            'x'.repeat(40_000),
          ]) {
            await fails(ring.putKeyPolicy(A, key.keyId, 'default', bad), 'MalformedPolicyDocument');
          }
          await fails(ring.getKeyPolicy(A, key.keyId, 'other'), 'KeyNotFound');
          await fails(ring.createKey(A, symmetric({ policy: 'nope' })), 'MalformedPolicyDocument');
        }));
    });

    describe('signing keys', () => {
      for (const [spec, algorithm, nodeAlgorithm] of [
        ['ECC_NIST_P256', 'ECDSA_SHA_256', 'sha256'],
        ['ML_DSA_65', 'ML_DSA_SHAKE_256', null],
      ] as const) {
        test(`${spec}: Sign makes signatures that Verify and any verifier with GetPublicKey's key accept`, () =>
          withRing(async ({ ring }) => {
            const key = await ring.createKey(A, signing(spec));
            assert.equal(key.keyUsage, 'SIGN_VERIFY');
            const message = text('a sovereign statement');
            const signed = await ring.sign(A, { keyReference: key.keyId, message, algorithm, dryRun: false });
            assert.equal(signed.algorithm, algorithm);
            await ring.verify(A, {
              keyReference: key.keyId,
              message,
              signature: signed.signature,
              algorithm,
              dryRun: false,
            });
            const published = await ring.getPublicKey(A, key.keyId);
            assert.deepEqual(published.signingAlgorithms, [algorithm]);
            const publicKey = createPublicKey({ key: published.publicKey, format: 'der', type: 'spki' });
            assert.ok(verifyWithNode(nodeAlgorithm, message, publicKey, signed.signature));
            await fails(
              ring.verify(A, {
                keyReference: key.keyId,
                message: text('altered'),
                signature: signed.signature,
                algorithm,
                dryRun: false,
              }),
              'InvalidSignature',
            );
            await fails(
              ring.verify(A, {
                keyReference: key.keyId,
                message,
                signature: Buffer.from([1, 2, 3]),
                algorithm,
                dryRun: false,
              }),
              'InvalidSignature',
            );
            const wrong = algorithm === 'ECDSA_SHA_256' ? 'ML_DSA_SHAKE_256' : 'ECDSA_SHA_256';
            await fails(
              ring.sign(A, { keyReference: key.keyId, message, algorithm: wrong, dryRun: false }),
              'InvalidKeyUsage',
            );
            await ring.disableKey(A, key.keyId);
            await fails(
              ring.sign(A, { keyReference: key.keyId, message, algorithm, dryRun: false }),
              'KeyDisabled',
            );
            await fails(ring.getPublicKey(A, key.keyId), 'KeyDisabled');
          }));
      }

      test('a symmetric key has no public key: UnsupportedOperation', () =>
        withRing(async ({ ring }) => {
          const key = await ring.createKey(A, symmetric());
          await fails(ring.getPublicKey(A, key.keyId), 'UnsupportedOperation');
        }));
    });

    describe('tenant isolation', () => {
      test('tenant B cannot see, use or list tenant A’s keys and aliases; A’s ciphertexts are invalid for B', () =>
        withRing(async ({ ring }) => {
          const key = await ring.createKey(A, symmetric());
          await ring.createAlias(A, 'alias/shared-name', key.keyId);
          const { ciphertextBlob } = await ring.encrypt(A, {
            keyReference: key.keyId,
            plaintext: text('a'),
            context: {},
            dryRun: false,
          });
          await fails(ring.describeKey(B, key.keyId), 'KeyNotFound');
          await fails(ring.describeKey(B, key.arn), 'KeyNotFound');
          await fails(ring.describeKey(B, `arn:aws:kms:${REGION}:${B}:key/${key.keyId}`), 'KeyNotFound');
          await fails(ring.describeKey(B, 'alias/shared-name'), 'AliasNotFound');
          await fails(
            ring.encrypt(B, { keyReference: key.keyId, plaintext: text('b'), context: {}, dryRun: false }),
            'KeyNotFound',
          );
          await fails(
            ring.decrypt(B, { ciphertextBlob, context: {}, keyReference: null, dryRun: false }),
            'InvalidCiphertext',
          );
          await fails(ring.disableKey(B, key.keyId), 'KeyNotFound');
          await fails(ring.scheduleKeyDeletion(B, key.keyId, 7), 'KeyNotFound');
          await fails(ring.tagResource(B, key.keyId, [{ key: 't', value: 'v' }]), 'KeyNotFound');
          await fails(ring.getKeyPolicy(B, key.keyId, 'default'), 'KeyNotFound');
          await fails(ring.createAlias(B, 'alias/mine', key.keyId), 'KeyNotFound');
          await fails(ring.listAliases(B, key.keyId, { limit: 50, marker: null }), 'KeyNotFound');
          assert.deepEqual((await ring.listKeys(B, { limit: 100, marker: null })).items, []);
          assert.deepEqual((await ring.listAliases(B, null, { limit: 50, marker: null })).items, []);
          // Alias names are per tenant.
          const own = await ring.createKey(B, symmetric());
          await ring.createAlias(B, 'alias/shared-name', own.keyId);
          assert.equal((await ring.describeKey(B, 'alias/shared-name')).keyId, own.keyId);
          assert.equal((await ring.describeKey(A, 'alias/shared-name')).keyId, key.keyId);
          await fails(ring.deleteAlias(B, 'alias/missing'), 'AliasNotFound');
        }));
    });

    describe('root of trust', () => {
      test('key material is stored only wrapped, bound to its tenant, key and version', () =>
        withRing(async ({ ring, store, root }) => {
          const key = await ring.createKey(A, symmetric());
          const other = await ring.createKey(A, symmetric());
          const version = await store.getKeyVersion(key.keyId, 1);
          assert.ok(version !== null);
          assert.equal(version.wrappedMaterial.length, 1 + 12 + 32 + 16);
          const aad = (tenant: string, keyId: string, n: number) =>
            Buffer.from(`sovra/kms-key-version/1\u0000${tenant}\u0000${keyId}\u0000${n}`, 'utf8');
          assert.equal((await root.unwrap(version.wrappedMaterial, aad(A, key.keyId, 1))).length, 32);
          for (const wrong of [aad(B, key.keyId, 1), aad(A, other.keyId, 1), aad(A, key.keyId, 2)]) {
            await assert.rejects(
              root.unwrap(version.wrappedMaterial, wrong),
              (error: unknown) => error instanceof KmsError && error.code === 'InvalidCiphertext',
            );
          }
        }));

      test('a sealed root refuses key use with Sealed and the unwrapped material is zeroed; metadata stays readable', () =>
        withRing(async ({ ring, root }) => {
          const key = await ring.createKey(A, symmetric());
          const { ciphertextBlob } = await ring.encrypt(A, {
            keyReference: key.keyId,
            plaintext: text('x'),
            context: {},
            dryRun: false,
          });
          assert.ok(ring.cachedMaterialCount > 0);
          await root.close();
          await fails(
            ring.decrypt(A, { ciphertextBlob, context: {}, keyReference: null, dryRun: false }),
            'Sealed',
          );
          assert.equal(ring.cachedMaterialCount, 0);
          await fails(ring.createKey(A, symmetric()), 'Sealed');
          await fails(ring.rotateKeyOnDemand(A, key.keyId), 'Sealed');
          assert.equal((await ring.describeKey(A, key.keyId)).keyState, 'Enabled');
          root.unsealWith(randomBytes(32)); // another root: the stored material does not unwrap
          await assert.rejects(
            ring.decrypt(A, { ciphertextBlob, context: {}, keyReference: null, dryRun: false }),
            /failed to unwrap/,
          );
        }));

      test('without a root of trust, key use fails with RootUnavailable', () =>
        withRing(async ({ ring }) => {
          await fails(ring.createKey(A, symmetric()), 'RootUnavailable');
          assert.deepEqual((await ring.listKeys(A, { limit: 10, marker: null })).items, []);
        }, null));
    });
  });
}

function unsealedRoot(): SoftwareRoot {
  const root = new SoftwareRoot();
  root.unsealWith(randomBytes(32));
  return root;
}

async function countRows(db: SqlDatabase, table: string, keyId: string): Promise<number> {
  const placeholder = db.placeholderStyle === 'question-mark' ? '?' : '$1';
  const rows = await db.query(`SELECT COUNT(*) AS n FROM ${table} WHERE key_id = ${placeholder}`, [keyId]);
  return Number(rows[0]?.n);
}
