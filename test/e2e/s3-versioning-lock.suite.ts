import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteBucketTaggingCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  DeleteObjectTaggingCommand,
  GetBucketTaggingCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectLegalHoldCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectLockConfigurationCommand,
  PutObjectRetentionCommand,
  PutObjectTaggingCommand,
  S3ServiceException,
  UploadPartCommand,
  type DefaultRetention,
} from '@aws-sdk/client-s3';
import { createTestSchema } from '../helpers/postgres.ts';
import {
  CLI,
  NODE,
  removeDir,
  startSovra,
  TEST_REGION,
  type MetadataBackend,
  type SovraProcess,
} from '../helpers/sovra-process.ts';

const run = promisify(execFile);
const DAY_MS = 24 * 3600 * 1000;
/** Files of the checkout used as upload bodies by the awscli tests. */
const SECOND_FILE = join(import.meta.dirname, 's3-versioning-lock.suite.ts');
/** Debian's awscli (scripts/system-deps.sh); an older `aws` may come first on PATH. */
const AWS = '/usr/bin/aws';
/** The reserved tag GetObjectTagging and GetBucketTagging answer after the user's (the label). */
const LABEL_TAG = { Key: 'sovra:classification', Value: 'PUBLIC' };

interface S3Failure {
  code: string;
  status: number | undefined;
  headers: Record<string, string | undefined>;
}

async function s3Failure(promise: Promise<unknown>): Promise<S3Failure> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof S3ServiceException) {
      return {
        code: error.name,
        status: error.$metadata.httpStatusCode,
        headers: error.$response?.headers ?? {},
      };
    }
    throw error;
  }
  assert.fail('expected the request to fail');
}

async function bodyText(body: unknown): Promise<string> {
  return (body as { transformToString(): Promise<string> }).transformToString();
}

function inDays(days: number): Date {
  // Whole seconds: S3 dates round-trip at second precision through every client.
  return new Date(Math.floor((Date.now() + days * DAY_MS) / 1000) * 1000);
}

/** Versioning, Object Lock and tagging against the real server on one metadata backend. */
export function defineVersioningLockSuite(backend: MetadataBackend): void {
  describe(`S3 versioning, Object Lock and tagging (${backend})`, () => {
    let sovra: SovraProcess;
    let s3: S3Client;
    let postgres: { connectionString: string; schema: string; drop(): Promise<void> } | null = null;
    let awsHome: string;

    before(async () => {
      let pgOptions = {};
      if (backend === 'postgres') {
        postgres = await createTestSchema();
        pgOptions = { postgresSchema: postgres.schema, postgresUrl: postgres.connectionString };
      }
      sovra = await startSovra({ metadata: backend, ...pgOptions });
      s3 = sovra.client();
      awsHome = mkdtempSync(join(tmpdir(), 'sovra-awscli-'));
    });

    after(async () => {
      s3?.destroy();
      if (sovra !== undefined) {
        await sovra.stop();
        removeDir(sovra.dataDir);
      }
      if (awsHome !== undefined) removeDir(awsHome);
      if (postgres !== null) await postgres.drop();
    });

    const put = (bucket: string, key: string, body: string, extra: Partial<PutObjectCommand['input']> = {}) =>
      s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...extra }));
    const read = async (bucket: string, key: string, versionId?: string) =>
      bodyText(
        (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }))).Body,
      );
    const enableVersioning = (bucket: string, status: 'Enabled' | 'Suspended' = 'Enabled') =>
      s3.send(
        new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: status } }),
      );

    /** `aws s3api …` against the server; resolves with stdout, or rejects with code and stderr. */
    const aws = async (...args: string[]): Promise<string> => {
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        AWS_ACCESS_KEY_ID: sovra.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: sovra.credentials.secretAccessKey,
        AWS_DEFAULT_REGION: TEST_REGION,
        AWS_CONFIG_FILE: join(awsHome, 'no-config'),
        AWS_SHARED_CREDENTIALS_FILE: join(awsHome, 'no-credentials'),
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_PAGER: '',
      };
      // An inherited CA bundle (for other tools) must not change how awscli talks to the endpoint.
      delete env.AWS_CA_BUNDLE;
      return (await run(AWS, ['--endpoint-url', sovra.endpoint, '--output', 'json', ...args], { env }))
        .stdout;
    };

    /** The metadata database as an operator with direct access would reach it. */
    const rawSql = async (statement: string, params: (string | number)[]): Promise<void> => {
      if (postgres === null) {
        const db = new DatabaseSync(join(sovra.dataDir, 'metadata.sqlite'));
        try {
          db.exec('PRAGMA busy_timeout = 5000');
          db.prepare(statement).run(...params);
        } finally {
          db.close();
        }
        return;
      }
      const client = new pg.Client({
        connectionString: postgres.connectionString,
        options: `-c search_path=${postgres.schema}`,
      });
      await client.connect();
      try {
        let index = 0;
        await client.query(
          statement.replace(/\?/g, () => `$${++index}`),
          params,
        );
      } finally {
        await client.end();
      }
    };

    /** `sovra admin delete-object-version` on the server's stores; resolves with exit code and stderr. */
    const adminDelete = async (
      bucket: string,
      key: string,
      versionId: string,
      ...extra: string[]
    ): Promise<{ exitCode: number; stdout: string; stderr: string }> => {
      const storeArgs =
        postgres === null
          ? []
          : [
              '--metadata-backend',
              'postgres',
              '--postgres-url',
              postgres.connectionString,
              '--postgres-schema',
              postgres.schema,
            ];
      const args = [CLI, 'admin', 'delete-object-version', '--data-dir', sovra.dataDir, ...storeArgs];
      args.push('--bucket', bucket, '--key', key, '--version-id', versionId, ...extra);
      try {
        const { stdout, stderr } = await run(NODE, args);
        return { exitCode: 0, stdout, stderr };
      } catch (error) {
        const failed = error as { code?: number; stdout?: string; stderr?: string };
        return { exitCode: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
      }
    };

    describe('versioning', () => {
      it('Put/GetBucketVersioning: no Status until configured, then Enabled and Suspended', async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'vers-config' }));
        assert.equal(
          (await s3.send(new GetBucketVersioningCommand({ Bucket: 'vers-config' }))).Status,
          undefined,
        );
        await enableVersioning('vers-config');
        assert.equal(
          (await s3.send(new GetBucketVersioningCommand({ Bucket: 'vers-config' }))).Status,
          'Enabled',
        );
        await enableVersioning('vers-config', 'Suspended');
        assert.equal(
          (await s3.send(new GetBucketVersioningCommand({ Bucket: 'vers-config' }))).Status,
          'Suspended',
        );
      });

      it('PUT, COPY and CompleteMultipartUpload return version ids; GET, HEAD and DELETE address versions', async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'vers-ids' }));
        await enableVersioning('vers-ids');
        const one = await put('vers-ids', 'doc', 'one');
        const two = await put('vers-ids', 'doc', 'two');
        assert.match(one.VersionId ?? '', /^[0-9a-f]{32}$/);
        assert.notEqual(one.VersionId, two.VersionId);
        const copy = await s3.send(
          new CopyObjectCommand({
            Bucket: 'vers-ids',
            Key: 'copy',
            CopySource: `vers-ids/doc?versionId=${one.VersionId}`,
          }),
        );
        assert.equal(copy.CopySourceVersionId, one.VersionId);
        assert.match(copy.VersionId ?? '', /^[0-9a-f]{32}$/);
        assert.equal(await read('vers-ids', 'copy'), 'one');
        const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'vers-ids', Key: 'mp' }));
        const part = await s3.send(
          new UploadPartCommand({
            Bucket: 'vers-ids',
            Key: 'mp',
            UploadId: upload.UploadId,
            PartNumber: 1,
            Body: 'multipart',
          }),
        );
        const done = await s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: 'vers-ids',
            Key: 'mp',
            UploadId: upload.UploadId,
            MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
          }),
        );
        assert.match(done.VersionId ?? '', /^[0-9a-f]{32}$/);
        assert.equal(await read('vers-ids', 'doc', one.VersionId), 'one');
        assert.equal(await read('vers-ids', 'doc'), 'two');
        const head = await s3.send(
          new HeadObjectCommand({ Bucket: 'vers-ids', Key: 'doc', VersionId: one.VersionId }),
        );
        assert.equal(head.VersionId, one.VersionId);
        assert.equal(head.ContentLength, 3);
        const deleted = await s3.send(
          new DeleteObjectCommand({ Bucket: 'vers-ids', Key: 'doc', VersionId: two.VersionId }),
        );
        assert.equal(deleted.VersionId, two.VersionId);
        assert.equal(await read('vers-ids', 'doc'), 'one', 'the previous version becomes the latest');
        assert.equal(
          (
            await s3Failure(
              s3.send(new GetObjectCommand({ Bucket: 'vers-ids', Key: 'doc', VersionId: two.VersionId })),
            )
          ).code,
          'NoSuchVersion',
        );
      });

      it('a delete marker hides the key: GET and HEAD answer 404 NoSuchKey with x-amz-delete-marker; removing the marker restores it', async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'vers-markers' }));
        await enableVersioning('vers-markers');
        const kept = await put('vers-markers', 'k', 'kept');
        const marker = await s3.send(new DeleteObjectCommand({ Bucket: 'vers-markers', Key: 'k' }));
        assert.equal(marker.DeleteMarker, true);
        assert.match(marker.VersionId ?? '', /^[0-9a-f]{32}$/);
        const got = await s3Failure(s3.send(new GetObjectCommand({ Bucket: 'vers-markers', Key: 'k' })));
        assert.deepEqual([got.code, got.status], ['NoSuchKey', 404]);
        assert.equal(got.headers['x-amz-delete-marker'], 'true');
        assert.equal(got.headers['x-amz-version-id'], marker.VersionId);
        const head = await s3Failure(s3.send(new HeadObjectCommand({ Bucket: 'vers-markers', Key: 'k' })));
        assert.equal(head.status, 404);
        assert.equal(head.headers['x-amz-delete-marker'], 'true');
        const byId = await s3Failure(
          s3.send(new GetObjectCommand({ Bucket: 'vers-markers', Key: 'k', VersionId: marker.VersionId })),
        );
        assert.deepEqual([byId.code, byId.status], ['MethodNotAllowed', 405]);
        assert.equal(byId.headers['x-amz-delete-marker'], 'true');
        const removed = await s3.send(
          new DeleteObjectCommand({ Bucket: 'vers-markers', Key: 'k', VersionId: marker.VersionId }),
        );
        assert.equal(removed.DeleteMarker, true);
        assert.equal(await read('vers-markers', 'k'), 'kept');
        assert.equal(
          (await s3.send(new HeadObjectCommand({ Bucket: 'vers-markers', Key: 'k' }))).VersionId,
          kept.VersionId,
        );
      });

      it('ListObjectVersions pages with key-marker and version-id-marker and groups by prefix and delimiter', async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'vers-list' }));
        await enableVersioning('vers-list');
        const a1 = await put('vers-list', 'docs/a', 'a1');
        const a2 = await put('vers-list', 'docs/a', 'a2');
        const marker = await s3.send(new DeleteObjectCommand({ Bucket: 'vers-list', Key: 'docs/a' }));
        const b1 = await put('vers-list', 'docs/b', 'b1');
        await put('vers-list', 'docs/sub/c', 'c1');
        await put('vers-list', 'other', 'o1');
        const all = await s3.send(new ListObjectVersionsCommand({ Bucket: 'vers-list', Prefix: 'docs/' }));
        assert.deepEqual(
          all.Versions?.map((v) => [v.Key, v.VersionId, v.IsLatest]),
          [
            ['docs/a', a2.VersionId, false],
            ['docs/a', a1.VersionId, false],
            ['docs/b', b1.VersionId, true],
            ['docs/sub/c', all.Versions?.[3]?.VersionId, true],
          ],
        );
        assert.deepEqual(
          all.DeleteMarkers?.map((m) => [m.Key, m.VersionId, m.IsLatest]),
          [['docs/a', marker.VersionId, true]],
        );
        const grouped = await s3.send(
          new ListObjectVersionsCommand({ Bucket: 'vers-list', Prefix: 'docs/', Delimiter: '/' }),
        );
        assert.deepEqual(
          grouped.CommonPrefixes?.map((p) => p.Prefix),
          ['docs/sub/'],
        );
        assert.equal(grouped.Versions?.length, 3);
        const seen: string[] = [];
        let keyMarker: string | undefined;
        let versionIdMarker: string | undefined;
        for (let page = 0; page < 10; page++) {
          const listed = await s3.send(
            new ListObjectVersionsCommand({
              Bucket: 'vers-list',
              MaxKeys: 2,
              KeyMarker: keyMarker,
              VersionIdMarker: versionIdMarker,
            }),
          );
          for (const v of [...(listed.Versions ?? []), ...(listed.DeleteMarkers ?? [])])
            seen.push(`${v.Key}@${v.VersionId}`);
          if (listed.IsTruncated !== true) break;
          keyMarker = listed.NextKeyMarker;
          versionIdMarker = listed.NextVersionIdMarker;
        }
        assert.equal(seen.length, 6, 'every version and marker exactly once across pages');
        assert.equal(new Set(seen).size, 6);
        const after = await s3.send(
          new ListObjectVersionsCommand({
            Bucket: 'vers-list',
            KeyMarker: 'docs/a',
            VersionIdMarker: a2.VersionId,
          }),
        );
        assert.deepEqual([...(after.Versions ?? [])].map((v) => v.VersionId).slice(0, 2), [
          a1.VersionId,
          b1.VersionId,
        ]);
      });

      it('null versions: an unversioned object becomes the null version; a suspended bucket replaces it and deletes with a null marker', async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'vers-null' }));
        const plain = await put('vers-null', 'k', 'before versioning');
        assert.equal(plain.VersionId, undefined, 'unversioned buckets show no version ids');
        await enableVersioning('vers-null');
        const enabled = await put('vers-null', 'k', 'versioned');
        assert.equal(await read('vers-null', 'k', 'null'), 'before versioning');
        await enableVersioning('vers-null', 'Suspended');
        const suspended = await put('vers-null', 'k', 'suspended write');
        assert.equal(suspended.VersionId, 'null');
        assert.equal(
          await read('vers-null', 'k', 'null'),
          'suspended write',
          'the null version was replaced',
        );
        assert.equal(await read('vers-null', 'k', enabled.VersionId), 'versioned');
        const marker = await s3.send(new DeleteObjectCommand({ Bucket: 'vers-null', Key: 'k' }));
        assert.deepEqual([marker.DeleteMarker, marker.VersionId], [true, 'null']);
        const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: 'vers-null' }));
        assert.deepEqual(
          versions.Versions?.map((v) => v.VersionId),
          [enabled.VersionId],
        );
        assert.deepEqual(
          versions.DeleteMarkers?.map((m) => m.VersionId),
          ['null'],
        );
      });

      it('DeleteObjects removes named versions and markers and adds markers for keys without ids', async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'vers-batch' }));
        await enableVersioning('vers-batch');
        const a = await put('vers-batch', 'a', 'a');
        const b = await put('vers-batch', 'b', 'b');
        const result = await s3.send(
          new DeleteObjectsCommand({
            Bucket: 'vers-batch',
            Delete: { Objects: [{ Key: 'a', VersionId: a.VersionId }, { Key: 'b' }] },
          }),
        );
        const byKey = new Map(result.Deleted?.map((d) => [d.Key, d]));
        assert.equal(byKey.get('a')?.VersionId, a.VersionId);
        assert.equal(byKey.get('b')?.DeleteMarker, true);
        const markerId = byKey.get('b')?.DeleteMarkerVersionId;
        assert.match(markerId ?? '', /^[0-9a-f]{32}$/);
        const again = await s3.send(
          new DeleteObjectsCommand({
            Bucket: 'vers-batch',
            Delete: { Objects: [{ Key: 'b', VersionId: markerId }] },
          }),
        );
        assert.equal(again.Deleted?.[0]?.DeleteMarker, true);
        assert.equal(await read('vers-batch', 'b', b.VersionId), 'b');
        assert.equal(await read('vers-batch', 'b'), 'b');
        const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: 'vers-batch' }));
        assert.deepEqual(
          versions.Versions?.map((v) => v.Key),
          ['b'],
        );
      });
    });

    describe('tagging', () => {
      before(async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'tags' }));
        await enableVersioning('tags');
      });

      it('Put/Get/DeleteBucketTagging; an untagged bucket answers only its label tag', async () => {
        const none = await s3.send(new GetBucketTaggingCommand({ Bucket: 'tags' }));
        assert.deepEqual(none.TagSet, [LABEL_TAG]);
        await s3.send(
          new PutBucketTaggingCommand({
            Bucket: 'tags',
            Tagging: {
              TagSet: [
                { Key: 'cost-center', Value: 'moh-42' },
                { Key: 'owner', Value: '' },
              ],
            },
          }),
        );
        const got = await s3.send(new GetBucketTaggingCommand({ Bucket: 'tags' }));
        assert.deepEqual(got.TagSet, [
          { Key: 'cost-center', Value: 'moh-42' },
          { Key: 'owner', Value: '' },
          LABEL_TAG,
        ]);
        await s3.send(new DeleteBucketTaggingCommand({ Bucket: 'tags' }));
        assert.deepEqual((await s3.send(new GetBucketTaggingCommand({ Bucket: 'tags' }))).TagSet, [
          LABEL_TAG,
        ]);
      });

      it('bucket tags: more than 50 or repeated keys fail with InvalidTag', async () => {
        const many = Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
        for (const TagSet of [
          many,
          [
            { Key: 'same', Value: '1' },
            { Key: 'same', Value: '2' },
          ],
        ]) {
          const failure = await s3Failure(
            s3.send(new PutBucketTaggingCommand({ Bucket: 'tags', Tagging: { TagSet } })),
          );
          assert.deepEqual([failure.code, failure.status], ['InvalidTag', 400]);
        }
      });

      it('every version keeps its own tags: x-amz-tagging on PUT, Put/Get/DeleteObjectTagging by version id', async () => {
        const one = await put('tags', 'doc', 'one', { Tagging: 'stage=draft&team=a%20b' });
        const two = await put('tags', 'doc', 'two');
        assert.deepEqual(
          (
            await s3.send(
              new GetObjectTaggingCommand({ Bucket: 'tags', Key: 'doc', VersionId: one.VersionId }),
            )
          ).TagSet,
          [{ Key: 'stage', Value: 'draft' }, { Key: 'team', Value: 'a b' }, LABEL_TAG],
        );
        const latest = await s3.send(new GetObjectTaggingCommand({ Bucket: 'tags', Key: 'doc' }));
        assert.deepEqual([latest.TagSet, latest.VersionId], [[LABEL_TAG], two.VersionId]);
        const tagged = await s3.send(
          new PutObjectTaggingCommand({
            Bucket: 'tags',
            Key: 'doc',
            VersionId: two.VersionId,
            Tagging: { TagSet: [{ Key: 'stage', Value: 'final' }] },
          }),
        );
        assert.equal(tagged.VersionId, two.VersionId);
        const head = await s3.send(new GetObjectCommand({ Bucket: 'tags', Key: 'doc' }));
        assert.equal(head.TagCount, 1);
        await bodyText(head.Body);
        assert.deepEqual(
          (
            await s3.send(
              new GetObjectTaggingCommand({ Bucket: 'tags', Key: 'doc', VersionId: one.VersionId }),
            )
          ).TagSet?.length,
          3,
          'tagging one version leaves the others alone',
        );
        await s3.send(
          new DeleteObjectTaggingCommand({ Bucket: 'tags', Key: 'doc', VersionId: one.VersionId }),
        );
        assert.deepEqual(
          (
            await s3.send(
              new GetObjectTaggingCommand({ Bucket: 'tags', Key: 'doc', VersionId: one.VersionId }),
            )
          ).TagSet,
          [LABEL_TAG],
        );
        const copied = await s3.send(
          new CopyObjectCommand({
            Bucket: 'tags',
            Key: 'copy',
            CopySource: `tags/doc?versionId=${two.VersionId}`,
          }),
        );
        assert.deepEqual(
          (
            await s3.send(
              new GetObjectTaggingCommand({ Bucket: 'tags', Key: 'copy', VersionId: copied.VersionId }),
            )
          ).TagSet,
          [{ Key: 'stage', Value: 'final' }, LABEL_TAG],
          'CopyObject copies the source version tags by default',
        );
      });

      it('object tag limits: 11 tags, a 129-character key, a 257-character value and aws: keys fail with InvalidTag', async () => {
        await put('tags', 'limits', 'x');
        const eleven = Array.from({ length: 11 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
        for (const TagSet of [
          eleven,
          [{ Key: 'k'.repeat(129), Value: 'v' }],
          [{ Key: 'k', Value: 'v'.repeat(257) }],
          [{ Key: 'aws:owner', Value: 'v' }],
        ]) {
          const failure = await s3Failure(
            s3.send(new PutObjectTaggingCommand({ Bucket: 'tags', Key: 'limits', Tagging: { TagSet } })),
          );
          assert.deepEqual([failure.code, failure.status], ['InvalidTag', 400]);
        }
        const header = eleven.map((t) => `${t.Key}=${t.Value}`).join('&');
        assert.equal((await s3Failure(put('tags', 'limits', 'y', { Tagging: header }))).code, 'InvalidTag');
        const ten = Array.from({ length: 10 }, (_, i) => ({ Key: `k${i}`, Value: 'v'.repeat(256) }));
        await s3.send(
          new PutObjectTaggingCommand({ Bucket: 'tags', Key: 'limits', Tagging: { TagSet: ten } }),
        );
        assert.equal(
          (await s3.send(new GetObjectTaggingCommand({ Bucket: 'tags', Key: 'limits' }))).TagSet?.length,
          11,
        );
      });
    });

    describe('Object Lock configuration and retention', () => {
      it('CreateBucket with Object Lock turns versioning on; GetObjectLockConfiguration answers Enabled, then the default retention set', async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'lock-config', ObjectLockEnabledForBucket: true }));
        assert.equal(
          (await s3.send(new GetBucketVersioningCommand({ Bucket: 'lock-config' }))).Status,
          'Enabled',
        );
        const initial = await s3.send(new GetObjectLockConfigurationCommand({ Bucket: 'lock-config' }));
        assert.deepEqual(initial.ObjectLockConfiguration, { ObjectLockEnabled: 'Enabled' });
        for (const DefaultRetention of [
          { Mode: 'GOVERNANCE' as const, Days: 3 },
          { Mode: 'COMPLIANCE' as const, Years: 1 },
        ]) {
          await s3.send(
            new PutObjectLockConfigurationCommand({
              Bucket: 'lock-config',
              ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention } },
            }),
          );
          const got = await s3.send(new GetObjectLockConfigurationCommand({ Bucket: 'lock-config' }));
          assert.deepEqual(got.ObjectLockConfiguration?.Rule?.DefaultRetention, DefaultRetention);
        }
        await s3.send(
          new PutObjectLockConfigurationCommand({
            Bucket: 'lock-config',
            ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' },
          }),
        );
        assert.equal(
          (await s3.send(new GetObjectLockConfigurationCommand({ Bucket: 'lock-config' })))
            .ObjectLockConfiguration?.Rule,
          undefined,
        );
        const suspend = await s3Failure(enableVersioning('lock-config', 'Suspended'));
        assert.deepEqual([suspend.code, suspend.status], ['InvalidBucketState', 409]);
      });

      it('invalid configurations: Days and Years together or a bad mode are MalformedXML, zero days InvalidRetentionPeriod', async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'lock-invalid', ObjectLockEnabledForBucket: true }));
        const cases: [DefaultRetention, string][] = [
          [{ Mode: 'GOVERNANCE', Days: 1, Years: 1 }, 'MalformedXML'],
          [{ Mode: 'SOMETIMES' as never, Days: 1 }, 'MalformedXML'],
          [{ Mode: 'GOVERNANCE', Days: 0 }, 'InvalidRetentionPeriod'],
        ];
        for (const [DefaultRetention, expected] of cases) {
          const failure = await s3Failure(
            s3.send(
              new PutObjectLockConfigurationCommand({
                Bucket: 'lock-invalid',
                ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention } },
              }),
            ),
          );
          assert.deepEqual([failure.code, failure.status], [expected, 400], JSON.stringify(DefaultRetention));
        }
      });

      it('a bucket without Object Lock: no configuration (404), no lock headers (InvalidRequest); it gains Object Lock once versioned', async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'lock-later' }));
        const none = await s3Failure(
          s3.send(new GetObjectLockConfigurationCommand({ Bucket: 'lock-later' })),
        );
        assert.deepEqual([none.code, none.status], ['ObjectLockConfigurationNotFoundError', 404]);
        const headers = await s3Failure(
          put('lock-later', 'k', 'x', { ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: inDays(1) }),
        );
        assert.deepEqual([headers.code, headers.status], ['InvalidRequest', 400]);
        const retention = await s3Failure(
          s3.send(new GetObjectRetentionCommand({ Bucket: 'lock-later', Key: 'k' })),
        );
        assert.equal(retention.code, 'InvalidRequest');
        const lockConfiguration = {
          Bucket: 'lock-later',
          ObjectLockConfiguration: {
            ObjectLockEnabled: 'Enabled' as const,
            Rule: { DefaultRetention: { Mode: 'GOVERNANCE' as const, Days: 1 } },
          },
        };
        const unversioned = await s3Failure(
          s3.send(new PutObjectLockConfigurationCommand(lockConfiguration)),
        );
        assert.deepEqual([unversioned.code, unversioned.status], ['InvalidBucketState', 409]);
        await enableVersioning('lock-later');
        await s3.send(new PutObjectLockConfigurationCommand(lockConfiguration));
        const locked = await put('lock-later', 'k', 'x');
        const head = await s3.send(new HeadObjectCommand({ Bucket: 'lock-later', Key: 'k' }));
        assert.equal(head.ObjectLockMode, 'GOVERNANCE');
        assert.equal(head.VersionId, locked.VersionId);
      });

      it('lock headers on PUT: both mode and date, a future date, known mode and legal hold values', async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'lock-headers', ObjectLockEnabledForBucket: true }));
        const cases: [Partial<PutObjectCommand['input']>, string][] = [
          [{ ObjectLockMode: 'GOVERNANCE' }, 'InvalidArgument'],
          [{ ObjectLockRetainUntilDate: inDays(1) }, 'InvalidArgument'],
          [{ ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: inDays(-1) }, 'InvalidArgument'],
          [{ ObjectLockMode: 'FOREVER' as never, ObjectLockRetainUntilDate: inDays(1) }, 'InvalidArgument'],
          [{ ObjectLockLegalHoldStatus: 'MAYBE' as never }, 'InvalidArgument'],
        ];
        for (const [extra, expected] of cases) {
          const failure = await s3Failure(put('lock-headers', 'k', 'x', extra));
          assert.deepEqual([failure.code, failure.status], [expected, 400], JSON.stringify(extra));
        }
      });

      it('PutObject, CreateMultipartUpload and CopyObject apply lock headers; the default retention fills in; HEAD and Get* report them', async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'lock-writes', ObjectLockEnabledForBucket: true }));
        const until = inDays(2);
        const direct = await put('lock-writes', 'direct', 'd', {
          ObjectLockMode: 'GOVERNANCE',
          ObjectLockRetainUntilDate: until,
          ObjectLockLegalHoldStatus: 'ON',
        });
        const head = await s3.send(new HeadObjectCommand({ Bucket: 'lock-writes', Key: 'direct' }));
        assert.deepEqual(
          [head.ObjectLockMode, head.ObjectLockRetainUntilDate?.getTime(), head.ObjectLockLegalHoldStatus],
          ['GOVERNANCE', until.getTime(), 'ON'],
        );
        const retention = await s3.send(
          new GetObjectRetentionCommand({
            Bucket: 'lock-writes',
            Key: 'direct',
            VersionId: direct.VersionId,
          }),
        );
        assert.deepEqual(
          [retention.Retention?.Mode, retention.Retention?.RetainUntilDate?.getTime()],
          ['GOVERNANCE', until.getTime()],
        );
        const hold = await s3.send(new GetObjectLegalHoldCommand({ Bucket: 'lock-writes', Key: 'direct' }));
        assert.equal(hold.LegalHold?.Status, 'ON');
        await s3.send(
          new PutObjectLegalHoldCommand({
            Bucket: 'lock-writes',
            Key: 'direct',
            LegalHold: { Status: 'OFF' },
          }),
        );

        const upload = await s3.send(
          new CreateMultipartUploadCommand({
            Bucket: 'lock-writes',
            Key: 'multipart',
            ObjectLockMode: 'COMPLIANCE',
            ObjectLockRetainUntilDate: until,
          }),
        );
        const part = await s3.send(
          new UploadPartCommand({
            Bucket: 'lock-writes',
            Key: 'multipart',
            UploadId: upload.UploadId,
            PartNumber: 1,
            Body: 'mp',
          }),
        );
        await s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: 'lock-writes',
            Key: 'multipart',
            UploadId: upload.UploadId,
            MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
          }),
        );
        const mpHead = await s3.send(new HeadObjectCommand({ Bucket: 'lock-writes', Key: 'multipart' }));
        assert.deepEqual(
          [mpHead.ObjectLockMode, mpHead.ObjectLockRetainUntilDate?.getTime()],
          ['COMPLIANCE', until.getTime()],
        );

        await s3.send(
          new PutObjectLockConfigurationCommand({
            Bucket: 'lock-writes',
            ObjectLockConfiguration: {
              ObjectLockEnabled: 'Enabled',
              Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } },
            },
          }),
        );
        const before = Date.now();
        const defaulted = await put('lock-writes', 'defaulted', 'x');
        const defaultedHead = await s3.send(
          new HeadObjectCommand({ Bucket: 'lock-writes', Key: 'defaulted', VersionId: defaulted.VersionId }),
        );
        assert.equal(defaultedHead.ObjectLockMode, 'GOVERNANCE');
        const untilMs = defaultedHead.ObjectLockRetainUntilDate?.getTime() ?? 0;
        assert.ok(
          untilMs >= before + DAY_MS - 2000 && untilMs <= Date.now() + DAY_MS + 2000,
          'one day from the write',
        );

        const copyUntil = inDays(3);
        await s3.send(
          new CopyObjectCommand({
            Bucket: 'lock-writes',
            Key: 'copied',
            CopySource: `lock-writes/multipart`,
            ObjectLockMode: 'COMPLIANCE',
            ObjectLockRetainUntilDate: copyUntil,
          }),
        );
        const copiedHead = await s3.send(new HeadObjectCommand({ Bucket: 'lock-writes', Key: 'copied' }));
        assert.deepEqual(
          [copiedHead.ObjectLockMode, copiedHead.ObjectLockRetainUntilDate?.getTime()],
          ['COMPLIANCE', copyUntil.getTime()],
          'the copy carries its own lock, not the source one',
        );
        const plain = await s3Failure(
          s3.send(new GetObjectRetentionCommand({ Bucket: 'lock-writes', Key: 'direct-none' })),
        );
        assert.equal(plain.code, 'NoSuchKey');
      });

      it('GOVERNANCE: deletes and shortening need x-amz-bypass-governance-retention; extending does not', async () => {
        await s3.send(
          new CreateBucketCommand({ Bucket: 'lock-governance', ObjectLockEnabledForBucket: true }),
        );
        const version = await put('lock-governance', 'g', 'governed', {
          ObjectLockMode: 'GOVERNANCE',
          ObjectLockRetainUntilDate: inDays(5),
        });
        const target = { Bucket: 'lock-governance', Key: 'g', VersionId: version.VersionId };
        const refused = await s3Failure(s3.send(new DeleteObjectCommand(target)));
        assert.deepEqual([refused.code, refused.status], ['AccessDenied', 403]);
        await s3.send(
          new PutObjectRetentionCommand({
            ...target,
            Retention: { Mode: 'GOVERNANCE', RetainUntilDate: inDays(6) },
          }),
        );
        const shorter = inDays(1);
        const shorten = { ...target, Retention: { Mode: 'GOVERNANCE' as const, RetainUntilDate: shorter } };
        assert.equal((await s3Failure(s3.send(new PutObjectRetentionCommand(shorten)))).code, 'AccessDenied');
        const toCompliance = {
          ...target,
          Retention: { Mode: 'COMPLIANCE' as const, RetainUntilDate: inDays(9) },
        };
        assert.equal(
          (await s3Failure(s3.send(new PutObjectRetentionCommand(toCompliance)))).code,
          'AccessDenied',
        );
        await s3.send(new PutObjectRetentionCommand({ ...shorten, BypassGovernanceRetention: true }));
        assert.equal(
          (await s3.send(new GetObjectRetentionCommand(target))).Retention?.RetainUntilDate?.getTime(),
          shorter.getTime(),
        );
        const past = await s3Failure(
          s3.send(
            new PutObjectRetentionCommand({
              ...target,
              Retention: { Mode: 'GOVERNANCE', RetainUntilDate: inDays(-1) },
              BypassGovernanceRetention: true,
            }),
          ),
        );
        assert.equal(past.code, 'InvalidArgument');
        await s3.send(new DeleteObjectCommand({ ...target, BypassGovernanceRetention: true }));
        assert.equal((await s3Failure(s3.send(new HeadObjectCommand(target)))).status, 404);

        const removable = await put('lock-governance', 'r', 'r', {
          ObjectLockMode: 'GOVERNANCE',
          ObjectLockRetainUntilDate: inDays(5),
        });
        const removableTarget = { Bucket: 'lock-governance', Key: 'r', VersionId: removable.VersionId };
        await s3.send(
          new PutObjectRetentionCommand({
            ...removableTarget,
            Retention: {},
            BypassGovernanceRetention: true,
          }),
        );
        assert.equal(
          (await s3Failure(s3.send(new GetObjectRetentionCommand(removableTarget)))).code,
          'NoSuchObjectLockConfiguration',
        );
        await s3.send(new DeleteObjectCommand(removableTarget));
      });

      it('a legal hold refuses deletes until it is removed', async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'lock-hold', ObjectLockEnabledForBucket: true }));
        const version = await put('lock-hold', 'h', 'held', { ObjectLockLegalHoldStatus: 'ON' });
        const target = { Bucket: 'lock-hold', Key: 'h', VersionId: version.VersionId };
        assert.equal(
          (await s3Failure(s3.send(new DeleteObjectCommand({ ...target, BypassGovernanceRetention: true }))))
            .code,
          'AccessDenied',
        );
        await s3.send(new PutObjectLegalHoldCommand({ ...target, LegalHold: { Status: 'OFF' } }));
        assert.equal((await s3.send(new GetObjectLegalHoldCommand(target))).LegalHold?.Status, 'OFF');
        await s3.send(new DeleteObjectCommand(target));
      });
    });

    describe('a COMPLIANCE-locked version cannot be deleted or altered by any path', () => {
      const bucket = 'compliance-vault';
      const key = 'ledger/2030.csv';
      const body = `ledger ${randomBytes(8).toString('hex')}`;
      let versionId: string;
      let heldVersionId: string;
      let until: Date;

      before(async () => {
        await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
        until = inDays(30);
        versionId = (
          await put(bucket, key, body, { ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: until })
        ).VersionId!;
        heldVersionId = (await put(bucket, 'held', 'held', { ObjectLockLegalHoldStatus: 'ON' })).VersionId!;
      });

      /** After every attempt: the version is still there, with the same bytes and the same lock. */
      const assertIntact = async () => {
        assert.equal(await read(bucket, key, versionId), body);
        const retention = await s3.send(
          new GetObjectRetentionCommand({ Bucket: bucket, Key: key, VersionId: versionId }),
        );
        assert.deepEqual(
          [retention.Retention?.Mode, retention.Retention?.RetainUntilDate?.getTime()],
          ['COMPLIANCE', until.getTime()],
        );
        assert.equal(await read(bucket, 'held', heldVersionId), 'held');
      };

      it('DeleteObject with the version id is AccessDenied, with or without the governance bypass', async () => {
        for (const BypassGovernanceRetention of [undefined, true]) {
          const failure = await s3Failure(
            s3.send(
              new DeleteObjectCommand({
                Bucket: bucket,
                Key: key,
                VersionId: versionId,
                BypassGovernanceRetention,
              }),
            ),
          );
          assert.deepEqual([failure.code, failure.status], ['AccessDenied', 403]);
        }
        await assertIntact();
      });

      it('DeleteObjects with version ids reports AccessDenied for each locked version', async () => {
        for (const BypassGovernanceRetention of [undefined, true]) {
          const result = await s3.send(
            new DeleteObjectsCommand({
              Bucket: bucket,
              BypassGovernanceRetention,
              Delete: {
                Objects: [
                  { Key: key, VersionId: versionId },
                  { Key: 'held', VersionId: heldVersionId },
                ],
              },
            }),
          );
          assert.deepEqual(
            result.Errors?.map((e) => [e.Key, e.VersionId, e.Code]),
            [
              [key, versionId, 'AccessDenied'],
              ['held', heldVersionId, 'AccessDenied'],
            ],
          );
          assert.equal(result.Deleted, undefined);
        }
        await assertIntact();
      });

      it('PutObjectRetention cannot shorten it, remove it or switch it to GOVERNANCE, even with the bypass; extending works', async () => {
        const target = { Bucket: bucket, Key: key, VersionId: versionId, BypassGovernanceRetention: true };
        for (const Retention of [
          { Mode: 'COMPLIANCE' as const, RetainUntilDate: inDays(1) },
          {},
          { Mode: 'GOVERNANCE' as const, RetainUntilDate: inDays(60) },
        ]) {
          const failure = await s3Failure(s3.send(new PutObjectRetentionCommand({ ...target, Retention })));
          assert.deepEqual([failure.code, failure.status], ['AccessDenied', 403], JSON.stringify(Retention));
        }
        await assertIntact();
        const extended = inDays(31);
        await s3.send(
          new PutObjectRetentionCommand({
            Bucket: bucket,
            Key: key,
            VersionId: versionId,
            Retention: { Mode: 'COMPLIANCE', RetainUntilDate: extended },
          }),
        );
        until = extended;
        await assertIntact();
      });

      it('overwriting the key, by PUT or multipart upload, adds versions and leaves the locked one in place', async () => {
        const overwrite = await put(bucket, key, 'overwrite attempt');
        assert.notEqual(overwrite.VersionId, versionId);
        const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
        const part = await s3.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId: upload.UploadId,
            PartNumber: 1,
            Body: 'mp',
          }),
        );
        const completed = await s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            UploadId: upload.UploadId,
            MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
          }),
        );
        assert.notEqual(completed.VersionId, versionId);
        const marker = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
        assert.equal(marker.DeleteMarker, true, 'a delete without a version id only adds a marker');
        for (const unlocked of [overwrite.VersionId, completed.VersionId, marker.VersionId]) {
          await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: unlocked }));
        }
        await assertIntact();
      });

      it('DeleteBucket is refused while locked versions remain (BucketNotEmpty)', async () => {
        const failure = await s3Failure(s3.send(new DeleteBucketCommand({ Bucket: bucket })));
        assert.deepEqual([failure.code, failure.status], ['BucketNotEmpty', 409]);
        await assertIntact();
      });

      it('the admin CLI refuses the locked versions like the API, bypass flag or not', async () => {
        for (const extra of [[], ['--bypass-governance-retention']]) {
          const locked = await adminDelete(bucket, key, versionId, ...extra);
          assert.equal(locked.exitCode, 1, locked.stderr);
          assert.match(locked.stderr, /ObjectLocked/);
          const held = await adminDelete(bucket, 'held', heldVersionId, ...extra);
          assert.equal(held.exitCode, 1, held.stderr);
          assert.match(held.stderr, /ObjectLocked/);
        }
        await assertIntact();
        const free = await put(bucket, 'free', 'free');
        const deleted = await adminDelete(bucket, 'free', free.VersionId!);
        assert.equal(deleted.exitCode, 0, deleted.stderr);
        assert.equal(
          (
            await s3Failure(
              s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'free', VersionId: free.VersionId })),
            )
          ).status,
          404,
        );
      });

      it(`direct SQL against the ${backend} metadata hits the triggers: no shortening, removing or switching, no deleting a held version`, async () => {
        for (const [statement, params] of [
          ['UPDATE object_versions SET retain_until_ms = ? WHERE version_id = ?', [0, versionId]],
          [
            'UPDATE object_versions SET retention_mode = NULL, retain_until_ms = NULL WHERE version_id = ?',
            [versionId],
          ],
          ["UPDATE object_versions SET retention_mode = 'GOVERNANCE' WHERE version_id = ?", [versionId]],
          ['DELETE FROM object_versions WHERE version_id = ?', [heldVersionId]],
        ] as const) {
          await assert.rejects(rawSql(statement, [...params]), /Object Lock/, statement);
        }
        await assertIntact();
      });
    });

    describe('aws s3api', () => {
      it('creates an Object Lock bucket, configures it, locks, tags and lists versions; a locked delete fails', async () => {
        await aws('s3api', 'create-bucket', '--bucket', 'cli-lock', '--object-lock-enabled-for-bucket');
        await aws(
          's3api',
          'put-object-lock-configuration',
          '--bucket',
          'cli-lock',
          '--object-lock-configuration',
          '{"ObjectLockEnabled":"Enabled","Rule":{"DefaultRetention":{"Mode":"GOVERNANCE","Days":2}}}',
        );
        const configuration = JSON.parse(
          await aws('s3api', 'get-object-lock-configuration', '--bucket', 'cli-lock'),
        ) as { ObjectLockConfiguration: { Rule: { DefaultRetention: { Mode: string; Days: number } } } };
        assert.deepEqual(configuration.ObjectLockConfiguration.Rule.DefaultRetention, {
          Mode: 'GOVERNANCE',
          Days: 2,
        });
        assert.match(await aws('s3api', 'get-bucket-versioning', '--bucket', 'cli-lock'), /"Enabled"/);
        const until = inDays(10).toISOString().replace('.000Z', 'Z');
        const putResult = JSON.parse(
          await aws(
            's3api',
            'put-object',
            '--bucket',
            'cli-lock',
            '--key',
            'report.txt',
            '--body',
            CLI,
            '--object-lock-mode',
            'COMPLIANCE',
            '--object-lock-retain-until-date',
            until,
            '--tagging',
            'class=record',
          ),
        ) as { VersionId: string };
        const retention = JSON.parse(
          await aws('s3api', 'get-object-retention', '--bucket', 'cli-lock', '--key', 'report.txt'),
        ) as { Retention: { Mode: string; RetainUntilDate: string } };
        assert.equal(retention.Retention.Mode, 'COMPLIANCE');
        assert.equal(Date.parse(retention.Retention.RetainUntilDate), Date.parse(until));
        await aws(
          's3api',
          'put-object-legal-hold',
          '--bucket',
          'cli-lock',
          '--key',
          'report.txt',
          '--legal-hold',
          'Status=ON',
        );
        assert.match(
          await aws('s3api', 'get-object-legal-hold', '--bucket', 'cli-lock', '--key', 'report.txt'),
          /"Status": "ON"/,
        );
        await assert.rejects(
          aws(
            's3api',
            'delete-object',
            '--bucket',
            'cli-lock',
            '--key',
            'report.txt',
            '--version-id',
            putResult.VersionId,
            '--bypass-governance-retention',
          ),
          (error: { stderr?: string }) => /AccessDenied/.test(error.stderr ?? ''),
        );
        await assert.rejects(
          aws(
            's3api',
            'put-object-retention',
            '--bucket',
            'cli-lock',
            '--key',
            'report.txt',
            '--retention',
            `{"Mode":"GOVERNANCE","RetainUntilDate":"${until}"}`,
            '--bypass-governance-retention',
          ),
          (error: { stderr?: string }) => /AccessDenied/.test(error.stderr ?? ''),
        );
        const tags = JSON.parse(
          await aws('s3api', 'get-object-tagging', '--bucket', 'cli-lock', '--key', 'report.txt'),
        ) as { TagSet: { Key: string; Value: string }[] };
        assert.deepEqual(tags.TagSet, [{ Key: 'class', Value: 'record' }, LABEL_TAG]);
        await aws(
          's3api',
          'put-bucket-tagging',
          '--bucket',
          'cli-lock',
          '--tagging',
          'TagSet=[{Key=department,Value=finance}]',
        );
        assert.match(await aws('s3api', 'get-bucket-tagging', '--bucket', 'cli-lock'), /finance/);
        const marker = JSON.parse(
          await aws('s3api', 'delete-object', '--bucket', 'cli-lock', '--key', 'report.txt'),
        ) as { DeleteMarker: boolean; VersionId: string };
        assert.equal(marker.DeleteMarker, true);
        const versions = JSON.parse(
          await aws('s3api', 'list-object-versions', '--bucket', 'cli-lock', '--prefix', 'report'),
        ) as { Versions: { VersionId: string }[]; DeleteMarkers: { VersionId: string }[] };
        assert.deepEqual(
          versions.Versions.map((v) => v.VersionId),
          [putResult.VersionId],
        );
        assert.deepEqual(
          versions.DeleteMarkers.map((m) => m.VersionId),
          [marker.VersionId],
        );
        const batch = JSON.parse(
          await aws(
            's3api',
            'delete-objects',
            '--bucket',
            'cli-lock',
            '--delete',
            JSON.stringify({
              Objects: [
                { Key: 'report.txt', VersionId: putResult.VersionId },
                { Key: 'report.txt', VersionId: marker.VersionId },
              ],
            }),
          ),
        ) as { Deleted: { VersionId: string }[]; Errors: { VersionId: string; Code: string }[] };
        assert.deepEqual(
          batch.Deleted.map((d) => d.VersionId),
          [marker.VersionId],
        );
        assert.deepEqual(
          batch.Errors.map((e) => [e.VersionId, e.Code]),
          [[putResult.VersionId, 'AccessDenied']],
        );
      });

      it('versioning, tagging and version reads through aws s3api on a plain bucket', async () => {
        await aws('s3api', 'create-bucket', '--bucket', 'cli-versions');
        await aws(
          's3api',
          'put-bucket-versioning',
          '--bucket',
          'cli-versions',
          '--versioning-configuration',
          'Status=Enabled',
        );
        const first = JSON.parse(
          await aws('s3api', 'put-object', '--bucket', 'cli-versions', '--key', 'k', '--body', CLI),
        ) as { VersionId: string };
        await aws('s3api', 'put-object', '--bucket', 'cli-versions', '--key', 'k', '--body', SECOND_FILE);
        await aws(
          's3api',
          'put-object-tagging',
          '--bucket',
          'cli-versions',
          '--key',
          'k',
          '--version-id',
          first.VersionId,
          '--tagging',
          'TagSet=[{Key=v,Value=first}]',
        );
        const head = JSON.parse(
          await aws(
            's3api',
            'head-object',
            '--bucket',
            'cli-versions',
            '--key',
            'k',
            '--version-id',
            first.VersionId,
          ),
        ) as { VersionId: string; ContentLength: number };
        assert.equal(head.VersionId, first.VersionId);
        const tags = JSON.parse(
          await aws(
            's3api',
            'get-object-tagging',
            '--bucket',
            'cli-versions',
            '--key',
            'k',
            '--version-id',
            first.VersionId,
          ),
        ) as { TagSet: { Key: string; Value: string }[] };
        assert.deepEqual(tags.TagSet, [{ Key: 'v', Value: 'first' }, LABEL_TAG]);
        await aws(
          's3api',
          'delete-object',
          '--bucket',
          'cli-versions',
          '--key',
          'k',
          '--version-id',
          first.VersionId,
        );
        const versions = JSON.parse(
          await aws('s3api', 'list-object-versions', '--bucket', 'cli-versions'),
        ) as { Versions: { VersionId: string }[] };
        assert.equal(versions.Versions.length, 1);
        assert.notEqual(versions.Versions[0]?.VersionId, first.VersionId);
        await aws('s3api', 'delete-bucket-tagging', '--bucket', 'cli-versions');
      });
    });
  });
}
