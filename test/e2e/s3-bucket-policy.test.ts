import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateBucketCommand,
  DeleteBucketPolicyCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketPolicyCommand,
  GetBucketPolicyStatusCommand,
  GetObjectCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  S3ServiceException,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createTestSchema } from '../helpers/postgres.ts';
import { removeDir, startSovra, type MetadataBackend, type SovraProcess } from '../helpers/sovra-process.ts';

/** The bootstrap administrator belongs to the root tenant. */
const TENANT = 'root';

async function s3Error(
  promise: Promise<unknown>,
): Promise<{ code: string; status: number | undefined; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof S3ServiceException) {
      return { code: error.name, status: error.$metadata.httpStatusCode, message: error.message };
    }
    throw error;
  }
  assert.fail('expected the request to fail');
}

function policy(statements: object[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

function publicRead(bucket: string): string {
  return policy([
    {
      Sid: 'PublicRead',
      Effect: 'Allow',
      Principal: '*',
      Action: ['s3:GetObject', 's3:ListBucket'],
      Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`],
    },
  ]);
}

function defineBucketPolicySuite(backend: MetadataBackend): void {
  describe(`S3 bucket policies with @aws-sdk/client-s3 (${backend})`, () => {
    let sovra: SovraProcess;
    let s3: S3Client;
    let dropSchema: (() => Promise<void>) | null = null;

    before(async () => {
      let pgOptions = {};
      if (backend === 'postgres') {
        const pg = await createTestSchema();
        pgOptions = { postgresSchema: pg.schema, postgresUrl: pg.connectionString };
        dropSchema = () => pg.drop();
      }
      sovra = await startSovra({ metadata: backend, ...pgOptions });
      s3 = sovra.client();
    });

    after(async () => {
      s3.destroy();
      await sovra.stop();
      removeDir(sovra.dataDir);
      await dropSchema?.();
    });

    const unsigned = (path: string, method = 'GET') => fetch(`${sovra.endpoint}${path}`, { method });

    it('PutBucketPolicy, GetBucketPolicy, GetBucketPolicyStatus and DeleteBucketPolicy round-trip', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'rounds' }));
      assert.equal(
        (await s3Error(s3.send(new GetBucketPolicyCommand({ Bucket: 'rounds' })))).code,
        'NoSuchBucketPolicy',
      );
      const status404 = await s3Error(s3.send(new GetBucketPolicyStatusCommand({ Bucket: 'rounds' })));
      assert.deepEqual([status404.code, status404.status], ['NoSuchBucketPolicy', 404]);
      const tenantOnly = `{\n  "Version": "2012-10-17",\n  "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::${TENANT}:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::rounds/*"}]\n}`;
      const put = await s3.send(new PutBucketPolicyCommand({ Bucket: 'rounds', Policy: tenantOnly }));
      assert.equal(put.$metadata.httpStatusCode, 204);
      assert.equal((await s3.send(new GetBucketPolicyCommand({ Bucket: 'rounds' }))).Policy, tenantOnly);
      const notPublic = await s3.send(new GetBucketPolicyStatusCommand({ Bucket: 'rounds' }));
      assert.equal(notPublic.PolicyStatus?.IsPublic, false);
      await s3.send(new PutBucketPolicyCommand({ Bucket: 'rounds', Policy: publicRead('rounds') }));
      assert.equal(
        (await s3.send(new GetBucketPolicyStatusCommand({ Bucket: 'rounds' }))).PolicyStatus?.IsPublic,
        true,
      );
      const deleted = await s3.send(new DeleteBucketPolicyCommand({ Bucket: 'rounds' }));
      assert.equal(deleted.$metadata.httpStatusCode, 204);
      assert.equal(
        (await s3Error(s3.send(new GetBucketPolicyCommand({ Bucket: 'rounds' })))).code,
        'NoSuchBucketPolicy',
      );
      // Deleting what is not there is not an error.
      await s3.send(new DeleteBucketPolicyCommand({ Bucket: 'rounds' }));
    });

    it('a malformed policy is refused with MalformedPolicy and a message naming the problem', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'malformed' }));
      const typo = await s3Error(
        s3.send(
          new PutBucketPolicyCommand({
            Bucket: 'malformed',
            Policy: policy([
              {
                Effect: 'Alow',
                Principal: '*',
                Action: 's3:GetObject',
                Resource: 'arn:aws:s3:::malformed/*',
              },
            ]),
          }),
        ),
      );
      assert.deepEqual([typo.code, typo.status], ['MalformedPolicy', 400]);
      assert.match(typo.message, /Statement\[0\]\.Effect/);
      const elsewhere = await s3Error(
        s3.send(new PutBucketPolicyCommand({ Bucket: 'malformed', Policy: publicRead('rounds') })),
      );
      assert.equal(elsewhere.code, 'MalformedPolicy');
      assert.match(elsewhere.message, /Policy has invalid resource/);
      const notJson = await s3Error(
        s3.send(new PutBucketPolicyCommand({ Bucket: 'malformed', Policy: '{"Version": ' })),
      );
      assert.equal(notJson.code, 'MalformedPolicy');
      const statements = Array.from({ length: 250 }, (_, index) => ({
        Sid: `Reader${index}`,
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${TENANT}:user/reader-number-${index}` },
        Action: 's3:GetObject',
        Resource: 'arn:aws:s3:::malformed/*',
      }));
      const tooLarge = await s3Error(
        s3.send(new PutBucketPolicyCommand({ Bucket: 'malformed', Policy: policy(statements) })),
      );
      assert.deepEqual([tooLarge.code, tooLarge.status], ['MalformedPolicy', 400]);
      assert.match(tooLarge.message, /20480 bytes/);
      assert.equal(
        (await s3Error(s3.send(new GetBucketPolicyCommand({ Bucket: 'malformed' })))).code,
        'NoSuchBucketPolicy',
      );
    });

    it('a public-read policy lets unsigned GET, HEAD and listing through on a lowest-classification bucket, and nothing else', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'open-data' }));
      await s3.send(new PutObjectCommand({ Bucket: 'open-data', Key: 'readme.txt', Body: 'hello, world' }));
      const before = await unsigned('/open-data/readme.txt');
      assert.equal(before.status, 403);
      assert.match(await before.text(), /<Code>AccessDenied<\/Code>/);
      await s3.send(new PutBucketPolicyCommand({ Bucket: 'open-data', Policy: publicRead('open-data') }));
      const got = await unsigned('/open-data/readme.txt');
      assert.equal(got.status, 200);
      assert.equal(await got.text(), 'hello, world');
      const head = await unsigned('/open-data/readme.txt', 'HEAD');
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), '12');
      const listing = await unsigned('/open-data?list-type=2');
      assert.equal(listing.status, 200);
      assert.match(await listing.text(), /<Key>readme.txt<\/Key>/);
      for (const [path, method] of [
        ['/open-data/readme.txt', 'DELETE'],
        ['/open-data/new.txt', 'PUT'],
        ['/open-data?policy', 'GET'],
        ['/', 'GET'],
      ] as const) {
        const refused = await unsigned(path, method);
        assert.equal(refused.status, 403, `${method} ${path}`);
      }
      assert.equal(
        await (
          await s3.send(new GetObjectCommand({ Bucket: 'open-data', Key: 'readme.txt' }))
        ).Body?.transformToString(),
        'hello, world',
      );
    });

    it('an explicit Deny in the bucket policy blocks even the tenant administrator, who can still remove the policy', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'kept' }));
      await s3.send(new PutObjectCommand({ Bucket: 'kept', Key: 'record', Body: 'evidence' }));
      await s3.send(
        new PutBucketPolicyCommand({
          Bucket: 'kept',
          Policy: policy([
            {
              Sid: 'NoDeletes',
              Effect: 'Deny',
              Principal: '*',
              Action: 's3:DeleteObject',
              Resource: 'arn:aws:s3:::kept/*',
            },
            {
              Sid: 'NoPolicyChanges',
              Effect: 'Deny',
              Principal: '*',
              Action: ['s3:PutBucketPolicy', 's3:DeleteBucketPolicy', 's3:GetBucketPolicy'],
              Resource: 'arn:aws:s3:::kept',
            },
          ]),
        }),
      );
      const refused = await s3Error(s3.send(new DeleteObjectCommand({ Bucket: 'kept', Key: 'record' })));
      assert.deepEqual([refused.code, refused.status], ['AccessDenied', 403]);
      const batch = await s3.send(
        new DeleteObjectsCommand({ Bucket: 'kept', Delete: { Objects: [{ Key: 'record' }] } }),
      );
      assert.deepEqual(
        batch.Errors?.map((error) => [error.Key, error.Code]),
        [['record', 'AccessDenied']],
      );
      await s3.send(new PutObjectCommand({ Bucket: 'kept', Key: 'another', Body: 'more' }));
      // As for the AWS account root: the owning tenant's administrator can always read and remove the policy.
      assert.match((await s3.send(new GetBucketPolicyCommand({ Bucket: 'kept' }))).Policy ?? '', /NoDeletes/);
      await s3.send(new DeleteBucketPolicyCommand({ Bucket: 'kept' }));
      await s3.send(new DeleteObjectCommand({ Bucket: 'kept', Key: 'record' }));
    });

    it('aws:SecureTransport and aws:SourceIp conditions decide requests', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'conditions' }));
      await s3.send(new PutObjectCommand({ Bucket: 'conditions', Key: 'k', Body: 'v' }));
      const denyWhen = (condition: object) =>
        s3.send(
          new PutBucketPolicyCommand({
            Bucket: 'conditions',
            Policy: policy([
              {
                Sid: 'Guard',
                Effect: 'Deny',
                Principal: '*',
                Action: 's3:GetObject',
                Resource: 'arn:aws:s3:::conditions/*',
                Condition: condition,
              },
            ]),
          }),
        );
      const read = () => s3.send(new GetObjectCommand({ Bucket: 'conditions', Key: 'k' }));
      // The test server speaks plain HTTP.
      await denyWhen({ Bool: { 'aws:SecureTransport': 'false' } });
      assert.equal((await s3Error(read())).code, 'AccessDenied');
      await denyWhen({ Bool: { 'aws:SecureTransport': 'true' } });
      await read();
      await denyWhen({ NotIpAddress: { 'aws:SourceIp': '127.0.0.0/8' } });
      await read();
      await denyWhen({ IpAddress: { 'aws:SourceIp': '127.0.0.1/32' } });
      assert.equal((await s3Error(read())).code, 'AccessDenied');
      await s3.send(new DeleteBucketPolicyCommand({ Bucket: 'conditions' }));
      await read();
    });

    it('presigned URLs keep working under a bucket policy', async () => {
      const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
      await s3.send(new CreateBucketCommand({ Bucket: 'presigned-policy' }));
      await s3.send(new PutObjectCommand({ Bucket: 'presigned-policy', Key: 'p', Body: 'presigned body' }));
      await s3.send(
        new PutBucketPolicyCommand({
          Bucket: 'presigned-policy',
          Policy: policy([
            {
              Effect: 'Deny',
              Principal: '*',
              Action: 's3:DeleteObject',
              Resource: 'arn:aws:s3:::presigned-policy/*',
            },
          ]),
        }),
      );
      const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'presigned-policy', Key: 'p' }), {
        expiresIn: 60,
      });
      const got = await fetch(url);
      assert.equal(got.status, 200);
      assert.equal(await got.text(), 'presigned body');
    });
  });
}

defineBucketPolicySuite('sqlite');
defineBucketPolicySuite('postgres');
