import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { DiskBlobStore } from '../../src/adapters/blobs/disk-blob-store.ts';
import { openPostgresMetadataStore } from '../../src/adapters/postgres/postgres-metadata-store.ts';
import { openSqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store.ts';
import type { Caller } from '../../src/domain/iam/caller.ts';
import type { RequestJustification } from '../../src/domain/kms/justification.ts';
import { encodeLifecycleDocument, type LifecycleRule } from '../../src/domain/storage/lifecycle.ts';
import { LifecycleRunner } from '../../src/domain/storage/lifecycle-runner.ts';
import { MultipartUploads } from '../../src/domain/storage/multipart-uploads.ts';
import { ObjectData } from '../../src/domain/storage/object-data.ts';
import { ObjectStore } from '../../src/domain/storage/object-store.ts';
import type { MetadataStore } from '../../src/domain/storage/ports.ts';
import type { RequestedObjectLock } from '../../src/domain/storage/types.ts';
import { OffsetClock } from '../../src/platform/clock.ts';
import { createTestSchema } from '../helpers/postgres.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
const caller: Caller = {
  principalId: 'admin',
  tenantId: 'tenant',
  isTenantAdmin: true,
  requestId: 'lifecycle-test',
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

function rule(fields: Partial<LifecycleRule> & { id: string }): LifecycleRule {
  return {
    status: 'Enabled',
    filter: { kind: 'all' },
    expiration: null,
    noncurrentVersionExpiration: null,
    abortIncompleteMultipartUpload: null,
    transitions: [],
    noncurrentVersionTransitions: [],
    ...fields,
  };
}

interface Harness {
  metadata: MetadataStore;
  objects: ObjectStore;
  uploads: MultipartUploads;
  clock: OffsetClock;
  logs: { fields: Record<string, unknown>; message: string }[];
  runner(batchSize?: number): LifecycleRunner;
  dispose(): Promise<void>;
}

async function openHarness(backend: 'sqlite' | 'postgres'): Promise<Harness> {
  const directory = await mkdtemp(join(tmpdir(), 'sovra-lifecycle-'));
  const clock = new OffsetClock();
  let metadata: MetadataStore;
  let dropSchema = () => Promise.resolve();
  if (backend === 'sqlite') {
    metadata = openSqliteMetadataStore({ path: join(directory, 'metadata.sqlite'), clock });
  } else {
    const schema = await createTestSchema();
    metadata = openPostgresMetadataStore({
      connectionString: schema.connectionString,
      schema: schema.schema,
      clock,
    });
    dropSchema = () => schema.drop();
  }
  await metadata.migrate();
  const data = new ObjectData(new DiskBlobStore({ root: directory }));
  const objects = new ObjectStore({ metadata, data, clock, region: 'us-east-1' });
  const uploads = new MultipartUploads({ metadata, data, objects, clock });
  const logs: Harness['logs'] = [];
  const log = {
    info: (fields: Record<string, unknown>, message: string) => logs.push({ fields, message }),
    warn: (fields: Record<string, unknown>, message: string) => logs.push({ fields, message }),
  };
  return {
    metadata,
    objects,
    uploads,
    clock,
    logs,
    runner: (batchSize) => new LifecycleRunner({ metadata, objects, uploads, clock, log, batchSize }),
    dispose: async () => {
      await metadata.close();
      await dropSchema();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

function lifecycleSuite(backend: 'sqlite' | 'postgres'): void {
  describe(`lifecycle passes on a real ${backend} store, with a clock that moves`, () => {
    let h: Harness;
    beforeEach(async () => {
      h = await openHarness(backend);
    });
    afterEach(async () => {
      await h.dispose();
    });

    const put = (
      bucket: string,
      key: string,
      fields: { tags?: Record<string, string>; objectLock?: RequestedObjectLock } = {},
    ) =>
      h.objects.putObject({
        caller,
        bucket,
        key,
        body: Readable.from([Buffer.from(`body of ${key}`)]),
        declaredBytes: null,
        system: {},
        userMetadata: {},
        tags: fields.tags ?? {},
        checksum: null,
        contentMd5: null,
        conditions: {},
        objectLock: fields.objectLock ?? null,
        keyUse,
      });
    const configure = (bucket: string, rules: LifecycleRule[]) =>
      h.objects.putBucketConfig(bucket, 'lifecycle', encodeLifecycleDocument({ rules }));
    const versionsOf = async (bucket: string) =>
      (
        await h.metadata.listVersions(bucket, {
          prefix: '',
          delimiter: '',
          keyMarker: '',
          versionSeqMarker: null,
          maxKeys: 1000,
        })
      ).versions.map((v) => `${v.key}${v.isDeleteMarker ? ' (marker)' : ''}`);

    it('expires current objects of an unversioned bucket only once due, records and logs every deletion', async () => {
      await h.objects.createBucket(caller, 'plain', null);
      for (const key of ['tmp/a', 'tmp/b', 'tmp/c', 'keep/a']) await put('plain', key);
      await put('plain', 'tmp/tagged-keep', { tags: { retain: 'yes' } });
      await configure('plain', [
        rule({
          id: 'tmp-1d',
          filter: { kind: 'prefix', prefix: 'tmp/' },
          expiration: { kind: 'days', days: 1 },
        }),
      ]);
      const early = await h.runner().runPass();
      assert.equal(early.actions.DeleteCurrentVersion, 0);
      h.clock.advance(2 * DAY_MS);
      const report = await h.runner().runPass();
      assert.equal(report.actions.DeleteCurrentVersion, 4);
      assert.equal(report.versionsExamined, 4, 'only keys under the rule prefix are read');
      assert.deepEqual(await versionsOf('plain'), ['keep/a']);
      const record = await h.metadata.listLifecycleActions('plain', 0, 100);
      assert.deepEqual(
        record.map((r) => [r.key, r.action, r.ruleId, r.versionId]),
        [
          ['tmp/a', 'DeleteCurrentVersion', 'tmp-1d', 'null'],
          ['tmp/b', 'DeleteCurrentVersion', 'tmp-1d', 'null'],
          ['tmp/c', 'DeleteCurrentVersion', 'tmp-1d', 'null'],
          ['tmp/tagged-keep', 'DeleteCurrentVersion', 'tmp-1d', 'null'],
        ],
      );
      assert.ok(record.every((r) => r.sizeBytes > 0 && r.occurredAt.getTime() >= h.clock.nowMs() - 60_000));
      const logged = h.logs.filter((l) => l.fields.lifecycle === 'action').map((l) => l.fields.key);
      assert.deepEqual(logged, ['tmp/a', 'tmp/b', 'tmp/c', 'tmp/tagged-keep']);
    });

    it('in a versioned bucket: markers for expired current versions, NewerNoncurrentVersions kept, expired markers removed', async () => {
      await h.objects.createBucket(caller, 'versions', null);
      await h.objects.setVersioning('versions', 'Enabled');
      // docs/a: five versions a day apart; gone/x: one version, then deleted (marker).
      for (let i = 0; i < 5; i++) {
        await put('versions', 'docs/a');
        h.clock.advance(DAY_MS);
      }
      await put('versions', 'gone/x');
      await h.objects.deleteObject(caller, 'versions', 'gone/x', null);
      await configure('versions', [
        rule({
          id: 'docs-keep-2',
          filter: { kind: 'prefix', prefix: 'docs/' },
          noncurrentVersionExpiration: { noncurrentDays: 1, newerNoncurrentVersions: 2 },
        }),
        rule({
          id: 'gone',
          filter: { kind: 'prefix', prefix: 'gone/' },
          noncurrentVersionExpiration: { noncurrentDays: 1, newerNoncurrentVersions: null },
        }),
        rule({ id: 'markers', expiration: { kind: 'expiredObjectDeleteMarker', enabled: true } }),
      ]);
      h.clock.advance(3 * DAY_MS);
      const report = await h.runner().runPass();
      // docs/a keeps its current version and the two newest noncurrent ones; gone/x's version
      // was noncurrent long enough and goes, and then its marker is the only version: it goes too.
      assert.equal(report.actions.DeleteNoncurrentVersion, 3);
      assert.equal(report.actions.DeleteExpiredDeleteMarker, 1);
      assert.deepEqual(await versionsOf('versions'), ['docs/a', 'docs/a', 'docs/a']);

      await configure('versions', [rule({ id: 'expire', expiration: { kind: 'days', days: 1 } })]);
      h.clock.advance(2 * DAY_MS);
      const second = await h.runner().runPass();
      assert.equal(second.actions.AddDeleteMarker, 1);
      assert.deepEqual(await versionsOf('versions'), ['docs/a (marker)', 'docs/a', 'docs/a', 'docs/a']);
      const third = await h.runner().runPass();
      assert.equal(third.actions.AddDeleteMarker, 0, 'a current delete marker is not expired again');
      const actions = (await h.metadata.listLifecycleActions('versions', 0, 100)).map((r) => r.action);
      assert.deepEqual(actions, [
        'DeleteNoncurrentVersion',
        'DeleteNoncurrentVersion',
        'DeleteNoncurrentVersion',
        'DeleteExpiredDeleteMarker',
        'AddDeleteMarker',
      ]);
    });

    it('never removes a version Object Lock protects, and keeps the marker in front of it', async () => {
      await h.objects.createBucket(caller, 'locked', null, { objectLockEnabled: true });
      await put('locked', 'held', { objectLock: { retention: null, legalHold: true } });
      await put('locked', 'retained', {
        objectLock: {
          retention: { mode: 'COMPLIANCE', retainUntil: new Date(h.clock.nowMs() + 30 * DAY_MS) },
          legalHold: null,
        },
      });
      await put('locked', 'free');
      for (const key of ['held', 'retained', 'free'])
        await h.objects.deleteObject(caller, 'locked', key, null);
      await configure('locked', [
        rule({
          id: 'purge',
          noncurrentVersionExpiration: { noncurrentDays: 1, newerNoncurrentVersions: null },
        }),
        rule({ id: 'markers', expiration: { kind: 'expiredObjectDeleteMarker', enabled: true } }),
      ]);
      h.clock.advance(5 * DAY_MS);
      const report = await h.runner().runPass();
      assert.equal(report.skippedLocked, 2);
      assert.equal(report.actions.DeleteNoncurrentVersion, 1);
      assert.equal(report.actions.DeleteExpiredDeleteMarker, 1);
      assert.deepEqual(await versionsOf('locked'), [
        'held (marker)',
        'held',
        'retained (marker)',
        'retained',
      ]);
      // Once the retention has passed, the next pass may remove that version (the hold stays).
      h.clock.advance(30 * DAY_MS);
      const later = await h.runner().runPass();
      assert.equal(later.skippedLocked, 1);
      assert.deepEqual(await versionsOf('locked'), ['held (marker)', 'held']);
    });

    it('aborts incomplete multipart uploads DaysAfterInitiation old under the rule prefix, across bounded pages', async () => {
      await h.objects.createBucket(caller, 'mpu', null);
      const start = (key: string) =>
        h.uploads.create({
          caller,
          bucket: 'mpu',
          key,
          system: {},
          userMetadata: {},
          tags: {},
          checksumAlgorithm: null,
          checksumType: null,
          keyUse,
        });
      const stale = [];
      for (let i = 0; i < 5; i++) stale.push(await start('uploads/same-key'));
      stale.push(await start('uploads/other'));
      const elsewhere = await start('elsewhere/file');
      await configure('mpu', [
        rule({
          id: 'abort-3d',
          filter: { kind: 'prefix', prefix: 'uploads/' },
          abortIncompleteMultipartUpload: { daysAfterInitiation: 3 },
        }),
      ]);
      h.clock.advance(2 * DAY_MS);
      const fresh = await start('uploads/fresh');
      h.clock.advance(2 * DAY_MS);
      const report = await h.runner(2).runPass();
      assert.equal(report.actions.AbortMultipartUpload, 6);
      assert.equal(report.uploadsExamined, 7);
      const left = await h.metadata.listUploads('mpu', {
        prefix: '',
        delimiter: '',
        keyMarker: '',
        uploadIdMarker: '',
        maxUploads: 100,
      });
      assert.deepEqual(
        left.uploads.map((u) => u.uploadId).sort(),
        [elsewhere.uploadId, fresh.uploadId].sort(),
      );
      const record = await h.metadata.listLifecycleActions('mpu', 0, 100);
      assert.deepEqual(record.map((r) => r.uploadId).sort(), stale.map((u) => u.uploadId).sort());
      assert.ok(record.every((r) => r.action === 'AbortMultipartUpload' && r.ruleId === 'abort-3d'));
    });

    it('pages of one version at a time still see every key and carry each key’s history across pages', async () => {
      await h.objects.createBucket(caller, 'paged', null);
      await h.objects.setVersioning('paged', 'Enabled');
      for (const key of ['a', 'b', 'c']) {
        for (let i = 0; i < 3; i++) await put('paged', key);
      }
      await configure('paged', [
        rule({
          id: 'keep-1',
          noncurrentVersionExpiration: { noncurrentDays: 1, newerNoncurrentVersions: 1 },
        }),
      ]);
      h.clock.advance(3 * DAY_MS);
      const report = await h.runner(1).runPass();
      assert.equal(report.versionsExamined, 9);
      assert.equal(report.actions.DeleteNoncurrentVersion, 3);
      assert.deepEqual(await versionsOf('paged'), ['a', 'a', 'b', 'b', 'c', 'c']);
    });

    it('in a versioning-suspended bucket the marker replaces the null version, and both changes are recorded', async () => {
      await h.objects.createBucket(caller, 'suspended', null);
      await h.objects.setVersioning('suspended', 'Enabled');
      const kept = await put('suspended', 'k');
      await h.objects.setVersioning('suspended', 'Suspended');
      const nullVersion = await put('suspended', 'k');
      assert.equal(nullVersion.versionId, 'null');
      await configure('suspended', [rule({ id: 'expire', expiration: { kind: 'days', days: 1 } })]);
      h.clock.advance(2 * DAY_MS);
      await h.runner().runPass();
      const listed = await h.metadata.listVersions('suspended', {
        prefix: '',
        delimiter: '',
        keyMarker: '',
        versionSeqMarker: null,
        maxKeys: 10,
      });
      assert.deepEqual(
        listed.versions.map((v) => [v.versionId, v.isDeleteMarker]),
        [
          ['null', true],
          [kept.versionId, false],
        ],
      );
      assert.deepEqual(
        (await h.metadata.listLifecycleActions('suspended', 0, 10)).map((r) => [r.action, r.versionId]),
        [
          ['AddDeleteMarker', 'null'],
          ['DeleteCurrentVersion', 'null'],
        ],
      );
    });

    it('an object rewritten between the listing and the action is left alone and not recorded', async () => {
      await h.objects.createBucket(caller, 'racy', null);
      await put('racy', 'k');
      await configure('racy', [rule({ id: 'expire', expiration: { kind: 'days', days: 1 } })]);
      h.clock.advance(2 * DAY_MS);
      // A client writes the key again right after the pass has listed it.
      const racing = new Proxy(h.metadata, {
        get(target, name) {
          if (name === 'listVersions') {
            return async (...args: Parameters<MetadataStore['listVersions']>) => {
              const page = await target.listVersions(...args);
              await put('racy', 'k');
              return page;
            };
          }
          const value: unknown = Reflect.get(target, name);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      const runner = new LifecycleRunner({
        metadata: racing,
        objects: h.objects,
        uploads: h.uploads,
        clock: h.clock,
        log: { info: () => undefined, warn: () => undefined },
      });
      const report = await runner.runPass();
      assert.equal(report.skippedChanged, 1);
      assert.equal(report.actions.DeleteCurrentVersion, 0);
      assert.deepEqual(await versionsOf('racy'), ['k']);
      assert.deepEqual(await h.metadata.listLifecycleActions('racy', 0, 10), []);
    });

    it('started on a schedule, the runner passes on its own; stop waits for the pass in progress', async () => {
      await h.objects.createBucket(caller, 'scheduled', null);
      await put('scheduled', 'old');
      await configure('scheduled', [rule({ id: 'expire', expiration: { kind: 'days', days: 1 } })]);
      h.clock.advance(2 * DAY_MS);
      const runner = h.runner();
      runner.start(1000);
      const deadline = Date.now() + 10_000;
      while ((await versionsOf('scheduled')).length > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await runner.stop();
      assert.deepEqual(await versionsOf('scheduled'), []);
      assert.ok(h.logs.some((l) => l.fields.lifecycle === 'pass'));
    });

    it('a disabled rule and a bucket without configuration are left alone', async () => {
      await h.objects.createBucket(caller, 'quiet', null);
      await h.objects.createBucket(caller, 'unconfigured', null);
      await put('quiet', 'x');
      await put('unconfigured', 'y');
      await configure('quiet', [
        rule({ id: 'off', status: 'Disabled', expiration: { kind: 'days', days: 1 } }),
      ]);
      h.clock.advance(10 * DAY_MS);
      const report = await h.runner().runPass();
      assert.equal(report.buckets, 1);
      assert.equal(report.versionsExamined, 0);
      assert.deepEqual(await versionsOf('quiet'), ['x']);
      assert.deepEqual(await versionsOf('unconfigured'), ['y']);
    });
  });
}

lifecycleSuite('sqlite');
lifecycleSuite('postgres');
