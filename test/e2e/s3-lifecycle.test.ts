import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketLifecycleCommand,
  DeleteObjectCommand,
  GetBucketLifecycleConfigurationCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  S3ServiceException,
  type LifecycleRule,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createTestSchema, type TestSchema } from '../helpers/postgres.ts';
import {
  CLI,
  NODE,
  removeDir,
  startSovra,
  TEST_REGION,
  type MetadataBackend,
  type SovraProcess,
  type StartOptions,
} from '../helpers/sovra-process.ts';

const run = promisify(execFile);
const DAY_MS = 24 * 60 * 60 * 1000;
/** Debian's awscli (scripts/system-deps.sh); its absence fails the suite. */
const AWS = '/usr/bin/aws';

async function s3Code(promise: Promise<unknown>): Promise<{ code: string; status: number | undefined }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof S3ServiceException)
      return { code: error.name, status: error.$metadata.httpStatusCode };
    throw error;
  }
  assert.fail('expected the request to fail');
}

const captured = new WeakMap<S3Client, Record<string, string>[]>();

/** Response headers of every request the client sends, most recent last. */
function captureHeaders(client: S3Client): Record<string, string>[] {
  const known = captured.get(client);
  if (known !== undefined) return known;
  const seen: Record<string, string>[] = [];
  captured.set(client, seen);
  client.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const response = result.response as { headers?: Record<string, string> };
      seen.push(response.headers ?? {});
      return result;
    },
    { step: 'deserialize', name: 'captureResponseHeaders' },
  );
  return seen;
}

const putRules = (s3: S3Client, bucket: string, rules: LifecycleRule[]) =>
  s3.send(
    new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: rules } }),
  );

function lifecycleSuite(backend: MetadataBackend): void {
  describe(`S3 lifecycle end to end (${backend})`, () => {
    let sovra: SovraProcess;
    let s3: S3Client;
    let schema: TestSchema | null = null;
    const serverOptions = (): StartOptions => ({
      metadata: backend,
      extraArgs: ['--lifecycle-interval-ms', '0'],
      ...(schema === null ? {} : { postgresSchema: schema.schema, postgresUrl: schema.connectionString }),
    });

    before(async () => {
      if (backend === 'postgres') schema = await createTestSchema();
      sovra = await startSovra(serverOptions());
      s3 = sovra.client();
    });

    after(async () => {
      s3?.destroy();
      if (sovra !== undefined) {
        await sovra.stop();
        removeDir(sovra.dataDir);
      }
      await schema?.drop();
    });

    it('Put, Get and DeleteBucketLifecycleConfiguration round-trip every filter and action', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'lc-config' }));
      const rules: LifecycleRule[] = [
        {
          ID: 'and-filter',
          Status: 'Enabled',
          Filter: {
            And: {
              Prefix: 'logs/',
              Tags: [
                { Key: 'class', Value: 'temp' },
                { Key: 'team', Value: 'ops' },
              ],
              ObjectSizeGreaterThan: 10,
              ObjectSizeLessThan: 5000,
            },
          },
          Expiration: { Days: 30 },
          NoncurrentVersionExpiration: { NoncurrentDays: 7, NewerNoncurrentVersions: 2 },
        },
        { ID: 'markers', Status: 'Disabled', Filter: {}, Expiration: { ExpiredObjectDeleteMarker: true } },
        {
          ID: 'dated',
          Status: 'Enabled',
          Filter: { Tag: { Key: 'k', Value: 'v' } },
          Expiration: { Date: new Date('2031-01-01T00:00:00Z') },
        },
        {
          ID: 'uploads',
          Status: 'Enabled',
          Filter: { Prefix: 'up/' },
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 3 },
        },
        { ID: 'size', Status: 'Enabled', Filter: { ObjectSizeLessThan: 100 }, Expiration: { Days: 1 } },
      ];
      const headers = captureHeaders(s3);
      await putRules(s3, 'lc-config', rules);
      assert.equal(headers.at(-1)?.['x-sovra-lifecycle-transitions'], undefined);
      const got = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'lc-config' }));
      assert.deepEqual(got.Rules, rules);

      await s3.send(new DeleteBucketLifecycleCommand({ Bucket: 'lc-config' }));
      const missing = await s3Code(
        s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'lc-config' })),
      );
      assert.deepEqual(missing, { code: 'NoSuchLifecycleConfiguration', status: 404 });
      // Deleting a configuration that is not there succeeds, as in S3.
      await s3.send(new DeleteBucketLifecycleCommand({ Bucket: 'lc-config' }));
    });

    it('transitions are stored and returned, and the response says they are recorded but not executed', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'lc-transitions' }));
      const headers = captureHeaders(s3);
      const rules: LifecycleRule[] = [
        {
          ID: 'tiering',
          Status: 'Enabled',
          Filter: { Prefix: 'archive/' },
          Transitions: [
            { Days: 30, StorageClass: 'STANDARD_IA' },
            { Days: 90, StorageClass: 'GLACIER' },
          ],
          NoncurrentVersionTransitions: [{ NoncurrentDays: 30, StorageClass: 'GLACIER' }],
          Expiration: { Days: 365 },
        },
      ];
      await putRules(s3, 'lc-transitions', rules);
      assert.equal(headers.at(-1)?.['x-sovra-lifecycle-transitions'], 'recorded-not-executed');
      const got = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'lc-transitions' }));
      assert.deepEqual(got.Rules, rules);
      assert.ok(
        sovra.logs.some((line) => line.includes('lifecycle transitions recorded but not executed')),
        'the gateway logs that transitions are not carried out',
      );
    });

    it('invalid configurations fail with the S3 error codes', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'lc-invalid' }));
      const cases: [string, LifecycleRule[], string][] = [
        [
          'Days of 0',
          [{ ID: 'a', Status: 'Enabled', Filter: {}, Expiration: { Days: 0 } }],
          'InvalidArgument',
        ],
        [
          'an ID over 255 characters',
          [{ ID: 'x'.repeat(256), Status: 'Enabled', Filter: {}, Expiration: { Days: 1 } }],
          'InvalidArgument',
        ],
        [
          'a duplicate ID',
          [
            { ID: 'same', Status: 'Enabled', Filter: {}, Expiration: { Days: 1 } },
            { ID: 'same', Status: 'Enabled', Filter: {}, Expiration: { Days: 2 } },
          ],
          'InvalidArgument',
        ],
        [
          'AbortIncompleteMultipartUpload with a tag filter',
          [
            {
              ID: 'a',
              Status: 'Enabled',
              Filter: { Tag: { Key: 'k', Value: 'v' } },
              AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
            },
          ],
          'InvalidRequest',
        ],
        [
          'a rule without a filter',
          [{ ID: 'a', Status: 'Enabled', Expiration: { Days: 1 } }],
          'MalformedXML',
        ],
        [
          'ExpiredObjectDeleteMarker with Days',
          [
            {
              ID: 'a',
              Status: 'Enabled',
              Filter: {},
              Expiration: { Days: 1, ExpiredObjectDeleteMarker: true },
            },
          ],
          'MalformedXML',
        ],
        [
          'a Status that is neither Enabled nor Disabled',
          [{ ID: 'a', Status: 'On' as never, Filter: {}, Expiration: { Days: 1 } }],
          'MalformedXML',
        ],
        [
          'a Date not at midnight UTC',
          [
            {
              ID: 'a',
              Status: 'Enabled',
              Filter: {},
              Expiration: { Date: new Date('2031-01-01T12:00:00Z') },
            },
          ],
          'InvalidArgument',
        ],
      ];
      for (const [what, rules, code] of cases) {
        assert.deepEqual(await s3Code(putRules(s3, 'lc-invalid', rules)), { code, status: 400 }, what);
      }
      const none = await s3Code(
        s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'lc-invalid' })),
      );
      assert.equal(none.code, 'NoSuchLifecycleConfiguration', 'a refused configuration is not stored');
      const noBucket = await s3Code(
        putRules(s3, 'no-such-bucket-lc', [
          { ID: 'a', Status: 'Enabled', Filter: {}, Expiration: { Days: 1 } },
        ]),
      );
      assert.deepEqual(noBucket, { code: 'NoSuchBucket', status: 404 });
    });

    it('`sovra admin lifecycle-run --now` removes exactly what is due and leaves locked, younger and unselected data', async () => {
      // An unversioned bucket with prefix, tag and size rules and an abort rule for uploads.
      await s3.send(new CreateBucketCommand({ Bucket: 'tt-plain' }));
      const put = (bucket: string, key: string, body = 'x', tagging?: string) =>
        s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, Tagging: tagging }));
      await put('tt-plain', 'tmp/a');
      await put('tt-plain', 'tmp/b');
      await put('tt-plain', 'keep/a');
      await put('tt-plain', 'young/a');
      await put('tt-plain', 'misc/temp', 'x', 'class=temp');
      await put('tt-plain', 'misc/other', 'x', 'class=other');
      await put('tt-plain', 'size/big', 'x'.repeat(2000));
      await put('tt-plain', 'size/small', 'x'.repeat(10));
      const staleUpload = await s3.send(
        new CreateMultipartUploadCommand({ Bucket: 'tt-plain', Key: 'uploads/stale' }),
      );
      const otherUpload = await s3.send(
        new CreateMultipartUploadCommand({ Bucket: 'tt-plain', Key: 'other/upload' }),
      );
      await putRules(s3, 'tt-plain', [
        { ID: 'tmp', Status: 'Enabled', Filter: { Prefix: 'tmp/' }, Expiration: { Days: 1 } },
        { ID: 'young', Status: 'Enabled', Filter: { Prefix: 'young/' }, Expiration: { Days: 10 } },
        {
          ID: 'temp-tag',
          Status: 'Enabled',
          Filter: { Tag: { Key: 'class', Value: 'temp' } },
          Expiration: { Days: 1 },
        },
        {
          ID: 'big',
          Status: 'Enabled',
          Filter: { And: { Prefix: 'size/', ObjectSizeGreaterThan: 1000 } },
          Expiration: { Days: 1 },
        },
        {
          ID: 'mpu',
          Status: 'Enabled',
          Filter: { Prefix: 'uploads/' },
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
        },
        { ID: 'off', Status: 'Disabled', Filter: { Prefix: 'keep/' }, Expiration: { Days: 1 } },
      ]);

      // A versioned bucket with Object Lock: noncurrent expiry with NewerNoncurrentVersions,
      // expired delete markers, current expiry, and a version under legal hold.
      await s3.send(new CreateBucketCommand({ Bucket: 'tt-versions', ObjectLockEnabledForBucket: true }));
      await s3.send(
        new PutBucketVersioningCommand({
          Bucket: 'tt-versions',
          VersioningConfiguration: { Status: 'Enabled' },
        }),
      );
      const docVersions = [];
      for (let i = 0; i < 3; i++) docVersions.push((await put('tt-versions', 'doc', `v${i}`)).VersionId!);
      const held = (await put('tt-versions', 'old/held')).VersionId!;
      await s3.send(
        new PutObjectLegalHoldCommand({
          Bucket: 'tt-versions',
          Key: 'old/held',
          VersionId: held,
          LegalHold: { Status: 'ON' },
        }),
      );
      await s3.send(new DeleteObjectCommand({ Bucket: 'tt-versions', Key: 'old/held' }));
      await put('tt-versions', 'old/gone');
      await s3.send(new DeleteObjectCommand({ Bucket: 'tt-versions', Key: 'old/gone' }));
      const current = (await put('tt-versions', 'cur/x')).VersionId!;
      await putRules(s3, 'tt-versions', [
        {
          ID: 'doc-keep-1',
          Status: 'Enabled',
          Filter: { Prefix: 'doc' },
          NoncurrentVersionExpiration: { NoncurrentDays: 1, NewerNoncurrentVersions: 1 },
        },
        {
          ID: 'old',
          Status: 'Enabled',
          Filter: { Prefix: 'old/' },
          NoncurrentVersionExpiration: { NoncurrentDays: 1 },
        },
        { ID: 'markers', Status: 'Enabled', Filter: {}, Expiration: { ExpiredObjectDeleteMarker: true } },
        { ID: 'current', Status: 'Enabled', Filter: { Prefix: 'cur/' }, Expiration: { Days: 1 } },
      ]);

      // Stop the server, let three days pass for the pass alone, and start again.
      await sovra.stop();
      const now = new Date(Date.now() + 3 * DAY_MS).toISOString();
      const args = [CLI, 'admin', 'lifecycle-run', '--data-dir', sovra.dataDir, '--now', now];
      if (schema !== null) {
        args.push(
          '--metadata-backend',
          'postgres',
          '--postgres-url',
          schema.connectionString,
          '--postgres-schema',
          schema.schema,
        );
      }
      const { stdout, stderr } = await run(NODE, args, { env: process.env });
      const report = JSON.parse(stdout) as {
        actions: Record<string, number>;
        skippedLocked: number;
        startedAt: string;
      };
      assert.deepEqual(report.actions, {
        DeleteCurrentVersion: 4,
        AddDeleteMarker: 1,
        DeleteNoncurrentVersion: 2,
        DeleteExpiredDeleteMarker: 1,
        AbortMultipartUpload: 1,
      });
      assert.equal(report.skippedLocked, 1);
      assert.ok(Math.abs(Date.parse(report.startedAt) - Date.parse(now)) < 60_000, 'the pass ran at --now');
      assert.equal(stderr.split('\n').filter((line) => line.includes('"lifecycle action"')).length, 9);

      s3.destroy();
      sovra = await startSovra({ ...serverOptions(), dataDir: sovra.dataDir });
      s3 = sovra.client();
      const plain = await s3.send(new ListObjectVersionsCommand({ Bucket: 'tt-plain' }));
      assert.deepEqual(
        (plain.Versions ?? []).map((v) => v.Key),
        ['keep/a', 'misc/other', 'size/small', 'young/a'],
      );
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: 'tt-plain' }));
      assert.deepEqual(
        (uploads.Uploads ?? []).map((u) => u.UploadId),
        [otherUpload.UploadId],
      );
      assert.notEqual(staleUpload.UploadId, otherUpload.UploadId);

      const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: 'tt-versions' }));
      const listed = [
        ...(versions.Versions ?? []).map(
          (v) => `${v.Key}:${v.VersionId}:${v.IsLatest ? 'current' : 'noncurrent'}`,
        ),
        ...(versions.DeleteMarkers ?? []).map(
          (m) => `${m.Key}:marker:${m.IsLatest ? 'current' : 'noncurrent'}`,
        ),
      ].sort();
      assert.deepEqual(
        listed,
        [
          `cur/x:${current}:noncurrent`,
          'cur/x:marker:current',
          `doc:${docVersions[2]}:current`,
          `doc:${docVersions[1]}:noncurrent`,
          `old/held:${held}:noncurrent`,
          'old/held:marker:current',
        ].sort(),
      );
    });

    if (backend === 'sqlite') {
      it('aws s3api put-bucket-lifecycle-configuration and get-bucket-lifecycle-configuration round-trip', async () => {
        assert.ok(existsSync(AWS), `${AWS} is required (run scripts/system-deps.sh)`);
        const work = mkdtempSync(join(tmpdir(), 'sovra-lc-cli-'));
        try {
          const env = {
            ...process.env,
            AWS_ACCESS_KEY_ID: sovra.credentials.accessKeyId,
            AWS_SECRET_ACCESS_KEY: sovra.credentials.secretAccessKey,
            AWS_DEFAULT_REGION: TEST_REGION,
            AWS_CONFIG_FILE: join(work, 'no-aws-config'),
            AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-aws-credentials'),
            AWS_EC2_METADATA_DISABLED: 'true',
            AWS_PAGER: '',
          };
          const aws = async (...args: string[]) =>
            (await run(AWS, ['--endpoint-url', sovra.endpoint, ...args], { env })).stdout;
          await aws('s3api', 'create-bucket', '--bucket', 'lc-awscli');
          const configuration = {
            Rules: [
              {
                ID: 'logs',
                Filter: { Prefix: 'logs/' },
                Status: 'Enabled',
                Expiration: { Days: 30 },
                NoncurrentVersionExpiration: { NoncurrentDays: 10, NewerNoncurrentVersions: 3 },
                AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2 },
              },
            ],
          };
          const file = join(work, 'lifecycle.json');
          writeFileSync(file, JSON.stringify(configuration));
          await aws(
            's3api',
            'put-bucket-lifecycle-configuration',
            '--bucket',
            'lc-awscli',
            '--lifecycle-configuration',
            `file://${file}`,
          );
          const got = JSON.parse(
            await aws('s3api', 'get-bucket-lifecycle-configuration', '--bucket', 'lc-awscli'),
          ) as unknown;
          assert.deepEqual(got, configuration);
          await aws('s3api', 'delete-bucket-lifecycle', '--bucket', 'lc-awscli');
          await assert.rejects(
            aws('s3api', 'get-bucket-lifecycle-configuration', '--bucket', 'lc-awscli'),
            /NoSuchLifecycleConfiguration/,
          );
        } finally {
          removeDir(work);
        }
      });
    }
  });
}

lifecycleSuite('sqlite');
lifecycleSuite('postgres');
