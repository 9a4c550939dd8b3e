import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { DiskBlobStore } from '../../src/adapters/blobs/disk-blob-store.ts';
import { openSqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store.ts';
import type { Caller } from '../../src/domain/iam/caller.ts';
import type { RequestJustification } from '../../src/domain/kms/justification.ts';
import { ObjectData } from '../../src/domain/storage/object-data.ts';
import {
  checkRetentionChange,
  defaultRetainUntil,
  ObjectLock,
  parseRequestedObjectLock,
  retentionAtCommit,
  validateDefaultRetention,
  validateRequestedObjectLock,
} from '../../src/domain/storage/object-lock.ts';
import { ObjectStore } from '../../src/domain/storage/object-store.ts';
import type { MetadataStore } from '../../src/domain/storage/ports.ts';
import { NO_RESERVED_TAGS, validatedTagSet } from '../../src/domain/storage/tagging.ts';
import type { BucketRecord, ObjectRetention, RequestedObjectLock } from '../../src/domain/storage/types.ts';
import { OffsetClock } from '../../src/platform/clock.ts';
import type { SovraError } from '../../src/platform/errors.ts';

const DAY_MS = 24 * 3600 * 1000;
const NOW = Date.parse('2030-06-15T12:00:00.000Z');

function code(fn: () => unknown): string | null {
  try {
    fn();
  } catch (error) {
    return (error as SovraError).code;
  }
  return null;
}

async function asyncCode(promise: Promise<unknown>): Promise<string | null> {
  try {
    await promise;
  } catch (error) {
    return (error as SovraError).code;
  }
  return null;
}

const retention = (mode: ObjectRetention['mode'], untilMs: number): ObjectRetention => ({
  mode,
  retainUntil: new Date(untilMs),
});

const bucketRecord = (objectLockEnabled: boolean): BucketRecord => ({
  name: 'b',
  tenantId: 't',
  region: 'us-east-1',
  createdAt: new Date(NOW),
  versioning: objectLockEnabled ? 'Enabled' : 'Unversioned',
  objectLockEnabled,
  classification: null,
  jurisdiction: null,
  tier: null,
});

describe('Object Lock rules', () => {
  it('a COMPLIANCE retention may only be extended: shortening, removing or switching to GOVERNANCE fails with ObjectLocked, bypass or not', () => {
    const current = retention('COMPLIANCE', NOW + 10 * DAY_MS);
    assert.equal(
      code(() => checkRetentionChange(current, retention('COMPLIANCE', NOW + 20 * DAY_MS), NOW, false)),
      null,
    );
    assert.equal(
      code(() => checkRetentionChange(current, retention('COMPLIANCE', NOW + 10 * DAY_MS), NOW, false)),
      null,
    );
    for (const bypass of [false, true]) {
      assert.equal(
        code(() => checkRetentionChange(current, retention('COMPLIANCE', NOW + 5 * DAY_MS), NOW, bypass)),
        'ObjectLocked',
      );
      assert.equal(
        code(() => checkRetentionChange(current, null, NOW, bypass)),
        'ObjectLocked',
      );
      assert.equal(
        code(() => checkRetentionChange(current, retention('GOVERNANCE', NOW + 30 * DAY_MS), NOW, bypass)),
        'ObjectLocked',
      );
    }
  });

  it('a running GOVERNANCE retention may be extended by anyone, shortened, removed or made COMPLIANCE only with the bypass', () => {
    const current = retention('GOVERNANCE', NOW + 10 * DAY_MS);
    assert.equal(
      code(() => checkRetentionChange(current, retention('GOVERNANCE', NOW + 11 * DAY_MS), NOW, false)),
      null,
    );
    for (const next of [
      retention('GOVERNANCE', NOW + DAY_MS),
      null,
      retention('COMPLIANCE', NOW + 20 * DAY_MS),
    ]) {
      assert.equal(
        code(() => checkRetentionChange(current, next, NOW, false)),
        'ObjectLocked',
      );
      assert.equal(
        code(() => checkRetentionChange(current, next, NOW, true)),
        null,
      );
    }
  });

  it('an expired GOVERNANCE retention no longer restricts changes', () => {
    const expired = retention('GOVERNANCE', NOW - DAY_MS);
    assert.equal(
      code(() => checkRetentionChange(expired, null, NOW, false)),
      null,
    );
  });

  it('lock headers: mode and date come together, modes and legal hold values are closed sets', () => {
    const none = { mode: undefined, retainUntilDate: undefined, legalHold: undefined };
    assert.equal(parseRequestedObjectLock(none), null);
    assert.deepEqual(
      parseRequestedObjectLock({ ...none, mode: 'COMPLIANCE', retainUntilDate: '2031-01-01T00:00:00Z' }),
      { retention: retention('COMPLIANCE', Date.parse('2031-01-01T00:00:00Z')), legalHold: null },
    );
    assert.deepEqual(parseRequestedObjectLock({ ...none, legalHold: 'ON' }), {
      retention: null,
      legalHold: true,
    });
    for (const bad of [
      { ...none, mode: 'COMPLIANCE' },
      { ...none, retainUntilDate: '2031-01-01T00:00:00Z' },
      { ...none, mode: 'compliance', retainUntilDate: '2031-01-01T00:00:00Z' },
      { ...none, mode: 'GOVERNANCE', retainUntilDate: '2031-01-01' },
      { ...none, mode: 'GOVERNANCE', retainUntilDate: 'tomorrow' },
      { ...none, legalHold: 'on' },
    ]) {
      assert.equal(
        code(() => parseRequestedObjectLock(bad)),
        'InvalidArgument',
        JSON.stringify(bad),
      );
    }
  });

  it('a write may ask for a lock only in an Object Lock bucket, and only with a future date', () => {
    const requested: RequestedObjectLock = {
      retention: retention('GOVERNANCE', NOW + DAY_MS),
      legalHold: null,
    };
    assert.equal(
      code(() => validateRequestedObjectLock(bucketRecord(false), requested, NOW)),
      'ObjectLockNotEnabled',
    );
    assert.equal(
      code(() => validateRequestedObjectLock(bucketRecord(true), requested, NOW)),
      null,
    );
    assert.equal(
      code(() =>
        validateRequestedObjectLock(
          bucketRecord(true),
          { retention: retention('GOVERNANCE', NOW - 1), legalHold: null },
          NOW,
        ),
      ),
      'InvalidArgument',
    );
  });

  it('the default retention applies only when the write asked for none, counted from the commit', () => {
    const configuration = {
      defaultRetention: { mode: 'COMPLIANCE' as const, unit: 'Days' as const, count: 3 },
    };
    const at = new Date(NOW);
    assert.deepEqual(
      retentionAtCommit(null, bucketRecord(true), configuration, at),
      retention('COMPLIANCE', NOW + 3 * DAY_MS),
    );
    const asked = retention('GOVERNANCE', NOW + DAY_MS);
    assert.equal(retentionAtCommit(asked, bucketRecord(true), configuration, at), asked);
    assert.equal(retentionAtCommit(null, bucketRecord(false), configuration, at), null);
    assert.equal(retentionAtCommit(null, bucketRecord(true), { defaultRetention: null }, at), null);
    assert.equal(
      defaultRetainUntil({ mode: 'GOVERNANCE', unit: 'Years', count: 2 }, at).toISOString(),
      '2032-06-15T12:00:00.000Z',
    );
  });

  it('a default retention period is a positive whole number within 100 years (InvalidRetentionPeriod)', () => {
    for (const count of [0, -1, 1.5, 36_501]) {
      assert.equal(
        code(() => validateDefaultRetention({ mode: 'GOVERNANCE', unit: 'Days', count })),
        'InvalidRetentionPeriod',
      );
    }
    assert.equal(
      code(() => validateDefaultRetention({ mode: 'GOVERNANCE', unit: 'Years', count: 101 })),
      'InvalidRetentionPeriod',
    );
    assert.equal(
      code(() => validateDefaultRetention({ mode: 'COMPLIANCE', unit: 'Years', count: 100 })),
      null,
    );
  });

  it('object tags: at most 10, unique keys of 1..128 characters, values up to 256, no aws: prefix (InvalidTag)', () => {
    const tags = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `v${i}` }));
    assert.equal(Object.keys(validatedTagSet(tags(10), 'object', NO_RESERVED_TAGS)).length, 10);
    assert.equal(Object.keys(validatedTagSet(tags(50), 'bucket', NO_RESERVED_TAGS)).length, 50);
    for (const bad of [
      tags(11),
      [
        { key: 'a', value: '1' },
        { key: 'a', value: '2' },
      ],
      [{ key: 'k'.repeat(129), value: '' }],
      [{ key: '', value: 'v' }],
      [{ key: 'k', value: 'v'.repeat(257) }],
      [{ key: 'aws:reserved', value: 'v' }],
      [{ key: 'bad#char', value: 'v' }],
      [{ key: 'sovra:classification', value: 'PUBLIC' }],
    ]) {
      assert.equal(
        code(() => validatedTagSet(bad, 'object', NO_RESERVED_TAGS)),
        'InvalidTag',
      );
    }
    assert.deepEqual(
      validatedTagSet([{ key: '__proto__', value: 'x' }], 'object', NO_RESERVED_TAGS),
      JSON.parse('{"__proto__":"x"}'),
    );
  });

  it('a sovra: tag equal to a reserved tag is left out and not counted; any other sovra: tag is InvalidTag', () => {
    const reserved = { 'sovra:classification': 'SECRET', 'sovra:compartments': 'CRYPTO,NUCLEAR' };
    const echoed = [
      { key: 'sovra:classification', value: 'SECRET' },
      { key: 'sovra:compartments', value: 'CRYPTO,NUCLEAR' },
    ];
    assert.deepEqual(
      validatedTagSet(
        [...Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: 'v' })), ...echoed],
        'object',
        reserved,
      ),
      Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, 'v'])),
    );
    for (const bad of [
      [{ key: 'sovra:classification', value: 'PUBLIC' }],
      [{ key: 'SOVRA:classification', value: 'SECRET' }],
      [{ key: 'sovra:other', value: '' }],
      [echoed[0]!, echoed[0]!],
    ]) {
      assert.equal(
        code(() => validatedTagSet(bad, 'object', reserved)),
        'InvalidTag',
      );
    }
  });
});

describe('Object Lock on the object store, with a clock that moves', () => {
  let directory: string;
  let metadata: MetadataStore;
  let objects: ObjectStore;
  let lock: ObjectLock;
  const clock = new OffsetClock();
  const caller: Caller = {
    principalId: 'admin',
    tenantId: 'tenant',
    isTenantAdmin: true,
    requestId: 'test',
    sourceIp: '127.0.0.1',
    secureTransport: false,
  };
  /** The caller's own key uses (this store has no encryptor, so none is made). */
  const keyUse: RequestJustification = {
    principalId: caller.principalId,
    tenantId: caller.tenantId,
    service: 's3',
    reason: 'CUSTOMER_INITIATED_ACCESS',
    approvalReference: null,
    sourceIp: caller.sourceIp,
    jurisdiction: 'unknown',
    requestId: caller.requestId,
  };

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'sovra-lock-'));
    metadata = openSqliteMetadataStore({ path: join(directory, 'metadata.sqlite'), clock });
    await metadata.migrate();
    objects = new ObjectStore({
      metadata,
      data: new ObjectData(new DiskBlobStore({ root: directory })),
      clock,
      region: 'us-east-1',
    });
    lock = new ObjectLock({ metadata, objects, clock });
    await objects.createBucket(caller, 'locked', null, { objectLockEnabled: true });
  });

  after(async () => {
    await metadata?.close();
    await rm(directory, { recursive: true, force: true });
  });

  const put = (key: string, objectLock: RequestedObjectLock | null) =>
    objects.putObject({
      caller,
      bucket: 'locked',
      key,
      body: Readable.from([Buffer.from(key)]),
      declaredBytes: key.length,
      system: {},
      userMetadata: {},
      tags: {},
      checksum: null,
      contentMd5: null,
      conditions: {},
      objectLock,
      keyUse,
    });
  const remove = (key: string, versionId: string, bypass = false) =>
    objects.deleteObject(caller, 'locked', key, versionId, 'api', undefined, bypass);

  it('a COMPLIANCE version cannot be deleted, even with the bypass, until its date; then it can', async () => {
    const version = await put('compliance', {
      retention: retention('COMPLIANCE', clock.nowMs() + DAY_MS),
      legalHold: null,
    });
    assert.equal(await asyncCode(remove('compliance', version.versionId)), 'ObjectLocked');
    assert.equal(await asyncCode(remove('compliance', version.versionId, true)), 'ObjectLocked');
    assert.equal(
      await asyncCode(objects.deleteObject(null, 'locked', 'compliance', version.versionId, 'lifecycle')),
      'ObjectLocked',
    );
    clock.advance(DAY_MS + 1000);
    await remove('compliance', version.versionId);
    assert.equal(
      await asyncCode(objects.getObjectVersion('locked', 'compliance', version.versionId)),
      'VersionNotFound',
    );
  });

  it('a GOVERNANCE version yields to the bypass before its date and to anyone after it', async () => {
    const first = await put('governance', {
      retention: retention('GOVERNANCE', clock.nowMs() + DAY_MS),
      legalHold: null,
    });
    const second = await put('governance', {
      retention: retention('GOVERNANCE', clock.nowMs() + DAY_MS),
      legalHold: null,
    });
    assert.equal(await asyncCode(remove('governance', first.versionId)), 'ObjectLocked');
    await remove('governance', first.versionId, true);
    clock.advance(DAY_MS + 1000);
    await remove('governance', second.versionId);
  });

  it('a legal hold protects until it is removed, whatever the retention says', async () => {
    const version = await put('held', { retention: null, legalHold: true });
    clock.advance(365 * DAY_MS);
    assert.equal(await asyncCode(remove('held', version.versionId, true)), 'ObjectLocked');
    const bucket = await objects.getBucket('locked');
    await lock.putLegalHold(bucket, 'held', version.versionId, false);
    await remove('held', version.versionId);
  });

  it('the bucket default retention applies to writes that ask for none', async () => {
    await lock.putConfiguration('locked', {
      defaultRetention: { mode: 'GOVERNANCE', unit: 'Days', count: 2 },
    });
    const version = await put('defaulted', null);
    assert.equal(version.retention?.mode, 'GOVERNANCE');
    assert.equal(version.retention.retainUntil.getTime(), version.lastModified.getTime() + 2 * DAY_MS);
    await lock.putConfiguration('locked', { defaultRetention: null });
    assert.equal((await put('undefaulted', null)).retention, null);
  });

  it('versioning of an Object Lock bucket cannot be suspended (InvalidBucketState)', async () => {
    assert.equal(await asyncCode(objects.setVersioning('locked', 'Suspended')), 'InvalidBucketState');
  });

  it('Object Lock is enabled later only on a bucket whose versioning is Enabled', async () => {
    await objects.createBucket(caller, 'later', null);
    const configuration = { defaultRetention: null };
    assert.equal(await asyncCode(lock.putConfiguration('later', configuration)), 'InvalidBucketState');
    await objects.setVersioning('later', 'Enabled');
    await lock.putConfiguration('later', configuration);
    assert.equal((await objects.getBucket('later')).objectLockEnabled, true);
  });
});
