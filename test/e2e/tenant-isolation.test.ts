import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetBucketNotificationConfigurationCommand,
  GetBucketPolicyCommand,
  GetBucketPolicyStatusCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  ListPartsCommand,
  PutBucketNotificationConfigurationCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  EncryptCommand,
  KMSClient,
  KMSServiceException,
} from '@aws-sdk/client-kms';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { sovraRequest } from '../helpers/sovra-api.ts';
import { freePort, removeDir, TEST_REGION, type SovraProcess } from '../helpers/sovra-process.ts';
import { startUnsealedSovra } from '../helpers/unsealed-sovra.ts';

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** How a refusal looks from outside: the HTTP status and the error code. */
interface Refusal {
  status: number | undefined;
  code: string;
}

const A = 'agency-a';
const B = 'agency-b';
const B_BUCKET = 'b-records';
const B_PLAIN_BUCKET = 'b-plain';
const A_BUCKET = 'a-work';
const B_KEY = 'report.txt';
const MISSING_KEY = 'no-such-object.txt';
const B_ALIAS = 'alias/b-records-key';

/** Runs an S3 call that must fail; its status and code. */
async function s3Refusal(call: Promise<unknown>): Promise<Refusal> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof S3ServiceException, String(error));
    return { status: error.$metadata.httpStatusCode, code: error.name };
  }
  assert.fail('the request succeeded');
}

async function kmsRefusal(call: Promise<unknown>): Promise<Refusal & { message: string }> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof KMSServiceException, String(error));
    return { status: error.$metadata.httpStatusCode, code: error.name, message: error.message };
  }
  assert.fail('the request succeeded');
}

describe('tenant isolation: a principal of tenant A reaches none of tenant B’s data or metadata', () => {
  const work = mkdtempSync(join(tmpdir(), 'sovra-isolation-'));
  let sovra: SovraProcess;
  let aKeys: Credentials;
  let bKeys: Credentials;
  let s3A: S3Client;
  let s3B: S3Client;
  let kmsA: KMSClient;
  let kmsB: KMSClient;
  let bVersions: string[] = [];
  let bUploadId = '';
  let bKeyId = '';
  let bKeyArn = '';

  /** A signed request to one of Sovra's own APIs (service `sovra`). */
  const sovraCall = async (credentials: Credentials, method: string, path: string, body?: unknown) => {
    const answer = await sovraRequest(sovra.endpoint, credentials, method, path, body);
    return { status: answer.status, body: answer.body ?? {} };
  };
  const s3Client = (credentials: Credentials) =>
    new S3Client({
      endpoint: sovra.endpoint,
      region: TEST_REGION,
      forcePathStyle: true,
      credentials,
      maxAttempts: 1,
    });
  const kmsClient = (credentials: Credentials) =>
    new KMSClient({ endpoint: sovra.endpoint, region: TEST_REGION, credentials, maxAttempts: 1 });

  before(async () => {
    const secretFile = join(work, 'webhook.secret');
    writeFileSync(secretFile, 'isolation-webhook-secret\n');
    chmodSync(secretFile, 0o600);
    const targetsFile = join(work, 'targets.json');
    const url = `http://127.0.0.1:${await freePort()}/hook`;
    writeFileSync(targetsFile, JSON.stringify([{ id: 'hooks', type: 'webhook', url, secretFile }]));
    sovra = await startUnsealedSovra('sqlite', null, { extraArgs: ['--notification-targets', targetsFile] });

    // The platform operator creates both tenants, each with its first administrator.
    for (const [id, assign] of [
      [A, (keys: Credentials) => (aKeys = keys)],
      [B, (keys: Credentials) => (bKeys = keys)],
    ] as const) {
      const created = await sovraCall(sovra.credentials, 'POST', '/_sovra/admin/tenants', {
        id,
        name: `Agency ${id}`,
        adminName: 'admin',
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assign(created.body.accessKey as Credentials);
    }
    s3A = s3Client(aKeys);
    s3B = s3Client(bKeys);
    kmsA = kmsClient(aKeys);
    kmsB = kmsClient(bKeys);

    // Tenant B's data: a versioned bucket with a tagged object in two versions, a multipart
    // upload in progress, a bucket policy, a notification configuration, a KMS key and alias,
    // and a principal of its own.
    await s3B.send(new CreateBucketCommand({ Bucket: B_BUCKET }));
    await s3B.send(new CreateBucketCommand({ Bucket: B_PLAIN_BUCKET }));
    await s3B.send(
      new PutBucketVersioningCommand({ Bucket: B_BUCKET, VersioningConfiguration: { Status: 'Enabled' } }),
    );
    bVersions = [];
    for (const body of ['first draft', 'final report']) {
      const put = await s3B.send(
        new PutObjectCommand({ Bucket: B_BUCKET, Key: B_KEY, Body: body, Tagging: 'owner=agency-b' }),
      );
      bVersions.push(put.VersionId!);
    }
    await s3B.send(
      new PutObjectTaggingCommand({
        Bucket: B_BUCKET,
        Key: B_KEY,
        Tagging: { TagSet: [{ Key: 'secret-project', Value: 'atlas' }] },
      }),
    );
    const upload = await s3B.send(new CreateMultipartUploadCommand({ Bucket: B_BUCKET, Key: 'big.bin' }));
    bUploadId = upload.UploadId!;
    await s3B.send(
      new UploadPartCommand({
        Bucket: B_BUCKET,
        Key: 'big.bin',
        UploadId: bUploadId,
        PartNumber: 1,
        Body: Buffer.alloc(1024, 7),
      }),
    );
    await s3B.send(
      new PutBucketPolicyCommand({
        Bucket: B_BUCKET,
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'AgencyBReads',
              Effect: 'Allow',
              Principal: { AWS: `arn:aws:iam::${B}:root` },
              Action: 's3:GetObject',
              Resource: `arn:aws:s3:::${B_BUCKET}/*`,
            },
          ],
        }),
      }),
    );
    await s3B.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: B_BUCKET,
        NotificationConfiguration: {
          QueueConfigurations: [
            {
              Id: 'removals',
              QueueArn: `arn:sovra:sqs:${TEST_REGION}:hooks:webhook`,
              Events: ['s3:ObjectRemoved:*'],
            },
          ],
        },
      }),
    );
    const key = await kmsB.send(new CreateKeyCommand({ Description: 'agency B records' }));
    bKeyId = key.KeyMetadata!.KeyId!;
    bKeyArn = key.KeyMetadata!.Arn!;
    await kmsB.send(new CreateAliasCommand({ AliasName: B_ALIAS, TargetKeyId: bKeyId }));
    const user = await sovraCall(bKeys, 'POST', '/_sovra/admin/users', { name: 'b-analyst' });
    assert.equal(user.status, 201, JSON.stringify(user.body));

    // Tenant A's own bucket, the destination of the copies A attempts.
    await s3A.send(new CreateBucketCommand({ Bucket: A_BUCKET }));
    await s3A.send(new PutObjectCommand({ Bucket: A_BUCKET, Key: 'own.txt', Body: 'agency A' }));
  });

  after(async () => {
    for (const client of [s3A, s3B, kmsA, kmsB]) client?.destroy();
    if (sovra !== undefined) {
      await sovra.stop();
      removeDir(sovra.dataDir);
    }
    removeDir(work);
  });

  it('B’s data is readable by B itself: the setup is real', async () => {
    const got = await s3B.send(new GetObjectCommand({ Bucket: B_BUCKET, Key: B_KEY }));
    assert.equal(await got.Body!.transformToString(), 'final report');
    assert.equal(bVersions.length, 2);
  });

  it('A’s bucket listing shows only A’s buckets', async () => {
    const listed = await s3A.send(new ListBucketsCommand({}));
    assert.deepEqual(
      (listed.Buckets ?? []).map((bucket) => bucket.Name),
      [A_BUCKET],
    );
  });

  it('listings of B’s bucket — objects (V1, V2), versions, multipart uploads and parts — are AccessDenied', async () => {
    const denied: Refusal = { status: 403, code: 'AccessDenied' };
    assert.deepEqual(await s3Refusal(s3A.send(new ListObjectsCommand({ Bucket: B_BUCKET }))), denied);
    assert.deepEqual(await s3Refusal(s3A.send(new ListObjectsV2Command({ Bucket: B_BUCKET }))), denied);
    assert.deepEqual(
      await s3Refusal(s3A.send(new ListObjectsV2Command({ Bucket: B_BUCKET, Prefix: 'rep' }))),
      denied,
    );
    assert.deepEqual(await s3Refusal(s3A.send(new ListObjectVersionsCommand({ Bucket: B_BUCKET }))), denied);
    assert.deepEqual(
      await s3Refusal(s3A.send(new ListMultipartUploadsCommand({ Bucket: B_BUCKET }))),
      denied,
    );
    const parts = await s3Refusal(
      s3A.send(new ListPartsCommand({ Bucket: B_BUCKET, Key: 'big.bin', UploadId: bUploadId })),
    );
    const noUpload = await s3Refusal(
      s3A.send(new ListPartsCommand({ Bucket: B_BUCKET, Key: 'big.bin', UploadId: 'no-such-upload' })),
    );
    assert.deepEqual(parts, denied);
    assert.deepEqual(noUpload, parts, 'an upload that exists and one that does not answer alike');
  });

  it('GetObject and HeadObject answer the same for B’s object, its versions and an object that does not exist', async () => {
    const existing = await s3Refusal(s3A.send(new GetObjectCommand({ Bucket: B_BUCKET, Key: B_KEY })));
    assert.deepEqual(existing, { status: 403, code: 'AccessDenied' });
    assert.deepEqual(
      await s3Refusal(s3A.send(new GetObjectCommand({ Bucket: B_BUCKET, Key: MISSING_KEY }))),
      existing,
    );
    for (const versionId of [bVersions[0]!, 'no-such-version']) {
      assert.deepEqual(
        await s3Refusal(
          s3A.send(new GetObjectCommand({ Bucket: B_BUCKET, Key: B_KEY, VersionId: versionId })),
        ),
        existing,
      );
    }
    const head = await s3Refusal(s3A.send(new HeadObjectCommand({ Bucket: B_BUCKET, Key: B_KEY })));
    assert.equal(head.status, 403);
    assert.deepEqual(
      await s3Refusal(s3A.send(new HeadObjectCommand({ Bucket: B_BUCKET, Key: MISSING_KEY }))),
      head,
    );
    const headBucket = await s3Refusal(s3A.send(new HeadBucketCommand({ Bucket: B_BUCKET })));
    assert.equal(headBucket.status, 403);
  });

  it('CopyObject and UploadPartCopy with B’s object as the source are refused alike for existing and missing sources', async () => {
    const copy = (key: string) =>
      s3Refusal(
        s3A.send(
          new CopyObjectCommand({ Bucket: A_BUCKET, Key: 'stolen.txt', CopySource: `${B_BUCKET}/${key}` }),
        ),
      );
    const existing = await copy(B_KEY);
    assert.deepEqual(existing, { status: 403, code: 'AccessDenied' });
    assert.deepEqual(await copy(MISSING_KEY), existing);
    assert.deepEqual(
      await s3Refusal(
        s3A.send(
          new CopyObjectCommand({
            Bucket: A_BUCKET,
            Key: 'stolen.txt',
            CopySource: `${B_BUCKET}/${B_KEY}?versionId=${bVersions[0]!}`,
          }),
        ),
      ),
      existing,
    );
    const upload = await s3A.send(
      new CreateMultipartUploadCommand({ Bucket: A_BUCKET, Key: 'assembled.bin' }),
    );
    const partCopy = (key: string) =>
      s3Refusal(
        s3A.send(
          new UploadPartCopyCommand({
            Bucket: A_BUCKET,
            Key: 'assembled.bin',
            UploadId: upload.UploadId!,
            PartNumber: 1,
            CopySource: `${B_BUCKET}/${key}`,
          }),
        ),
      );
    assert.deepEqual(await partCopy(B_KEY), existing);
    assert.deepEqual(await partCopy(MISSING_KEY), existing);
    // Nothing was copied into A's bucket.
    assert.equal(
      (await s3Refusal(s3A.send(new HeadObjectCommand({ Bucket: A_BUCKET, Key: 'stolen.txt' })))).status,
      404,
    );
  });

  it('a presigned URL made with A’s key for B’s object is refused exactly like one for a missing object', async () => {
    const presigned = (key: string) =>
      getSignedUrl(s3A, new GetObjectCommand({ Bucket: B_BUCKET, Key: key }), { expiresIn: 300 });
    const answers: { status: number; code: string | undefined }[] = [];
    for (const key of [B_KEY, MISSING_KEY]) {
      const response = await fetch(await presigned(key));
      const body = await response.text();
      assert.doesNotMatch(body, /final report|first draft/);
      answers.push({ status: response.status, code: /<Code>(\w+)<\/Code>/.exec(body)?.[1] });
    }
    assert.deepEqual(answers[0], { status: 403, code: 'AccessDenied' });
    assert.deepEqual(answers[1], answers[0]);
  });

  it('B’s bucket policy, object tags and notification configuration can be neither read nor replaced', async () => {
    const denied: Refusal = { status: 403, code: 'AccessDenied' };
    assert.deepEqual(await s3Refusal(s3A.send(new GetBucketPolicyCommand({ Bucket: B_BUCKET }))), denied);
    // A bucket of B without a policy answers the same: A cannot tell which of B's buckets have one.
    assert.deepEqual(
      await s3Refusal(s3A.send(new GetBucketPolicyCommand({ Bucket: B_PLAIN_BUCKET }))),
      denied,
    );
    assert.deepEqual(
      await s3Refusal(s3A.send(new GetBucketPolicyStatusCommand({ Bucket: B_BUCKET }))),
      denied,
    );
    const takeOver = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${A}:root` },
          Action: 's3:*',
          Resource: [`arn:aws:s3:::${B_BUCKET}`, `arn:aws:s3:::${B_BUCKET}/*`],
        },
      ],
    });
    assert.deepEqual(
      await s3Refusal(s3A.send(new PutBucketPolicyCommand({ Bucket: B_BUCKET, Policy: takeOver }))),
      denied,
    );
    const tagging = await s3Refusal(s3A.send(new GetObjectTaggingCommand({ Bucket: B_BUCKET, Key: B_KEY })));
    assert.deepEqual(tagging, denied);
    assert.deepEqual(
      await s3Refusal(s3A.send(new GetObjectTaggingCommand({ Bucket: B_BUCKET, Key: MISSING_KEY }))),
      tagging,
    );
    assert.deepEqual(
      await s3Refusal(s3A.send(new GetBucketNotificationConfigurationCommand({ Bucket: B_BUCKET }))),
      denied,
    );
    // B's policy is unchanged and still B's own.
    const policy = await s3B.send(new GetBucketPolicyCommand({ Bucket: B_BUCKET }));
    assert.match(policy.Policy ?? '', /AgencyBReads/);
    assert.doesNotMatch(policy.Policy ?? '', new RegExp(A));
  });

  it('B’s KMS key, by id, ARN and alias, is NotFoundException for A, as a key that does not exist', async () => {
    const plaintext = Buffer.from('exfiltrate me');
    const missingKeyId = '00000000-0000-4000-8000-000000000000';
    const shape = (refusal: Refusal & { message: string }, identifier: string) => ({
      status: refusal.status,
      code: refusal.code,
      message: refusal.message.split(identifier).join('<key>'),
    });
    const pairs: [string, string][] = [
      [bKeyId, missingKeyId],
      [bKeyArn, bKeyArn.replace(bKeyId, missingKeyId)],
      [B_ALIAS, 'alias/no-such-key'],
    ];
    for (const [existing, missing] of pairs) {
      const describeExisting = await kmsRefusal(kmsA.send(new DescribeKeyCommand({ KeyId: existing })));
      const describeMissing = await kmsRefusal(kmsA.send(new DescribeKeyCommand({ KeyId: missing })));
      assert.equal(describeExisting.code, 'NotFoundException', `DescribeKey ${existing}`);
      assert.deepEqual(shape(describeExisting, existing), shape(describeMissing, missing));
      const encryptExisting = await kmsRefusal(
        kmsA.send(new EncryptCommand({ KeyId: existing, Plaintext: plaintext })),
      );
      const encryptMissing = await kmsRefusal(
        kmsA.send(new EncryptCommand({ KeyId: missing, Plaintext: plaintext })),
      );
      assert.equal(encryptExisting.code, 'NotFoundException', `Encrypt ${existing}`);
      assert.deepEqual(shape(encryptExisting, existing), shape(encryptMissing, missing));
    }
    // B still uses its key.
    const described = await kmsB.send(new DescribeKeyCommand({ KeyId: B_ALIAS }));
    assert.equal(described.KeyMetadata?.KeyId, bKeyId);
  });

  it('B’s audit records are refused to A exactly as a tenant that does not exist', async () => {
    const forB = await sovraCall(aKeys, 'GET', `/_sovra/audit/records?tenant=${B}`);
    const forNobody = await sovraCall(aKeys, 'GET', '/_sovra/audit/records?tenant=agency-nobody');
    assert.equal(forB.status, 403);
    assert.equal(forB.body.code, 'AccessDenied');
    assert.deepEqual(
      { status: forNobody.status, code: forNobody.body.code, message: forNobody.body.message },
      { status: forB.status, code: forB.body.code, message: forB.body.message },
    );
    // A's own records are readable, and none of them is B's.
    const own = await sovraCall(aKeys, 'GET', '/_sovra/audit/records');
    assert.equal(own.status, 200, JSON.stringify(own.body));
    const records = (own.body.records as { record: string | null }[])
      .filter((disclosed) => disclosed.record !== null)
      .map((disclosed) => JSON.parse(disclosed.record!) as { tenantId: string | null });
    assert.ok(records.length > 0, 'A has records of its own');
    assert.ok(
      records.every((record) => record.tenantId === A),
      'every record A reads is about tenant A',
    );
  });

  it('B’s tenant and principals are invisible through the admin API, also to policy explain', async () => {
    const tenant = await sovraCall(aKeys, 'GET', `/_sovra/admin/tenants/${B}`);
    const noTenant = await sovraCall(aKeys, 'GET', '/_sovra/admin/tenants/agency-nobody');
    assert.equal(tenant.status, 403);
    assert.deepEqual([noTenant.status, noTenant.body.code], [tenant.status, tenant.body.code]);
    const user = await sovraCall(aKeys, 'GET', '/_sovra/admin/users/b-analyst');
    const noUser = await sovraCall(aKeys, 'GET', '/_sovra/admin/users/nobody-at-all');
    assert.equal(user.status, 404);
    assert.equal(user.body.code, 'NoSuchEntity');
    assert.equal(
      String(user.body.message).replace('b-analyst', '<name>'),
      String(noUser.body.message).replace('nobody-at-all', '<name>'),
    );
    const listed = await sovraCall(aKeys, 'GET', '/_sovra/admin/users');
    assert.deepEqual(
      (listed.body.users as { name: string }[]).map((entry) => entry.name),
      ['admin'],
    );
    const explain = (principal: string, bucket?: string) =>
      sovraCall(aKeys, 'POST', '/_sovra/admin/explain', {
        principal,
        action: 's3:GetObject',
        ...(bucket === undefined ? {} : { bucket, key: B_KEY }),
      });
    const bPrincipal = await explain(`arn:aws:iam::${B}:user/b-analyst`);
    const noPrincipal = await explain(`arn:aws:iam::${B}:user/nobody-at-all`);
    assert.deepEqual([bPrincipal.status, bPrincipal.body.code], [404, 'NoSuchEntity']);
    assert.deepEqual([noPrincipal.status, noPrincipal.body.code], [404, 'NoSuchEntity']);
    const bBucket = await explain('admin', B_BUCKET);
    const noBucket = await explain('admin', 'no-such-bucket-anywhere');
    assert.deepEqual([bBucket.status, bBucket.body.code], [404, 'NoSuchEntity']);
    assert.equal(
      String(bBucket.body.message).replace(B_BUCKET, '<bucket>'),
      String(noBucket.body.message).replace('no-such-bucket-anywhere', '<bucket>'),
    );
    assert.doesNotMatch(JSON.stringify(bBucket.body), /AgencyBReads/);
  });
});
