import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  GetBucketTaggingCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { AuditClient } from '../../src/cli/audit-client.ts';
import { parseCanonicalRecord, type AuditRecord } from '../../src/domain/audit/records.ts';
import { sovraRequest } from '../helpers/sovra-api.ts';
import { removeDir, startSovra, TEST_REGION, type SovraProcess } from '../helpers/sovra-process.ts';

/**
 * Object labels through S3 (docs/reference/classification.md "Object labels"), on the generic
 * profile: objects labelled above their bucket, no read up through reads, copies and listings,
 * no write down through copies, and the labels in headers and audit records.
 */

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

const TENANT = 'agency-l';
const DENIED = { status: 403, code: 'AccessDenied' };

/** Sends a command with extra request headers (the x-sovra-* label headers), signed with them. */
function sendWithHeaders<Output>(
  s3: S3Client,
  command: { middlewareStack: { add: (...args: never[]) => void } },
  headers: Record<string, string>,
): Promise<Output> {
  (command.middlewareStack as unknown as { add: (middleware: unknown, options: unknown) => void }).add(
    (next: (args: { request: { headers: Record<string, string> } }) => unknown) =>
      (args: { request: { headers: Record<string, string> } }) => {
        Object.assign(args.request.headers, headers);
        return next(args);
      },
    { step: 'build', name: 'sovraLabelHeaders' },
  );
  return (s3.send as (command: unknown) => Promise<Output>)(command);
}

async function s3Refusal(call: Promise<unknown>): Promise<{ status: number | undefined; code: string }> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof S3ServiceException, String(error));
    return { status: error.$metadata.httpStatusCode, code: error.name };
  }
  assert.fail('the request succeeded');
}

describe('object labels through S3: above the bucket, no read up, no write down', () => {
  let sovra: SovraProcess;
  let adminKeys: Credentials;
  let officer: S3Client;
  let analyst: S3Client;

  const adminCall = async (credentials: Credentials, method: string, path: string, body?: unknown) => {
    const response = await sovraRequest(sovra.endpoint, credentials, method, `/_sovra/admin/${path}`, body);
    const answer = response.body ?? {};
    assert.ok(response.status < 300, `${method} ${path}: ${JSON.stringify(answer)}`);
    return answer;
  };
  const userClient = async (name: string, clearance: string) => {
    await adminCall(adminKeys, 'POST', 'users', { name, clearance, tags: { team: 'records' } });
    await adminCall(adminKeys, 'PUT', `users/${name}/policies/records-team-data`);
    const key = await adminCall(adminKeys, 'POST', `users/${name}/access-keys`, {});
    return new S3Client({
      endpoint: sovra.endpoint,
      region: TEST_REGION,
      forcePathStyle: true,
      credentials: key.accessKey as Credentials,
      maxAttempts: 1,
    });
  };
  /** The label headers a GET or HEAD of an object answers with (through a presigned URL). */
  const labelOf = async (
    s3: S3Client,
    method: 'GET' | 'HEAD',
    Bucket: string,
    Key: string,
    VersionId?: string,
  ) => {
    const url =
      method === 'GET'
        ? await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key, VersionId }), { expiresIn: 60 })
        : await getSignedUrl(s3, new HeadObjectCommand({ Bucket, Key, VersionId }), { expiresIn: 60 });
    const response = await fetch(url, { method });
    assert.equal(response.status, 200, `${method} ${Bucket}/${Key}`);
    await response.arrayBuffer();
    return response.headers.get('x-sovra-classification');
  };
  const createBucket = (Bucket: string, classification: string) =>
    sendWithHeaders(officer, new CreateBucketCommand({ Bucket }), {
      'x-sovra-classification': classification,
    });
  const put = (s3: S3Client, Bucket: string, Key: string, headers: Record<string, string> = {}) =>
    sendWithHeaders<{ VersionId?: string; $metadata: { requestId?: string } }>(
      s3,
      new PutObjectCommand({ Bucket, Key, Body: `${Bucket}/${Key}` }),
      headers,
    );
  const keysOf = async (s3: S3Client, Bucket: string) =>
    ((await s3.send(new ListObjectsV2Command({ Bucket }))).Contents ?? []).map((entry) => entry.Key);
  const versionsOf = async (s3: S3Client, Bucket: string) =>
    ((await s3.send(new ListObjectVersionsCommand({ Bucket }))).Versions ?? []).map(
      (entry) => `${entry.Key}@${entry.VersionId}`,
    );

  before(async () => {
    sovra = await startSovra();
    const created = await adminCall(sovra.credentials, 'POST', 'tenants', { id: TENANT, name: 'Agency L' });
    adminKeys = created.accessKey as Credentials;
    await adminCall(adminKeys, 'POST', 'policies', {
      name: 'records-team-data',
      document: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'RecordsTeam',
            Effect: 'Allow',
            Action: 's3:*',
            Resource: '*',
            Condition: { StringEquals: { 'aws:PrincipalTag/team': 'records' } },
          },
        ],
      },
    });
    officer = await userClient('officer', 'SECRET');
    analyst = await userClient('analyst', 'CONFIDENTIAL');
    await createBucket('l-confidential', 'CONFIDENTIAL');
    await createBucket('l-secret', 'SECRET');
    await put(officer, 'l-confidential', 'menu.txt');
    await put(officer, 'l-confidential', 'plans.txt', { 'x-sovra-classification': 'secret' });
  });

  after(async () => {
    officer?.destroy();
    analyst?.destroy();
    if (sovra !== undefined) {
      await sovra.stop();
      removeDir(sovra.dataDir);
    }
  });

  it('an object written with x-sovra-classification above its bucket answers with its own label', async () => {
    for (const method of ['GET', 'HEAD'] as const) {
      assert.equal(await labelOf(officer, method, 'l-confidential', 'plans.txt'), 'SECRET');
      assert.equal(await labelOf(officer, method, 'l-confidential', 'menu.txt'), 'CONFIDENTIAL');
    }
    const body = await officer.send(new GetObjectCommand({ Bucket: 'l-confidential', Key: 'plans.txt' }));
    assert.equal(await body.Body?.transformToString(), 'l-confidential/plans.txt');
    // GetObjectTagging answers with the label headers too, and with the label as reserved tags.
    const tagging = await fetch(
      await getSignedUrl(
        officer,
        new GetObjectTaggingCommand({ Bucket: 'l-confidential', Key: 'plans.txt' }),
        {
          expiresIn: 60,
        },
      ),
    );
    assert.equal(tagging.status, 200);
    assert.equal(tagging.headers.get('x-sovra-classification'), 'SECRET');
    assert.match(await tagging.text(), /<Key>sovra:classification<\/Key><Value>SECRET<\/Value>/);
  });

  it('labels are reserved, read-only tags: answered after the user’s tags, sent back unchanged they are ignored, any other sovra: tag is InvalidTag', async () => {
    const invalidTag = { status: 400, code: 'InvalidTag' };
    const tagsOf = async (s3: S3Client, Bucket: string, Key: string) =>
      (await s3.send(new GetObjectTaggingCommand({ Bucket, Key }))).TagSet;
    await createBucket('l-tags', 'CONFIDENTIAL');
    await put(officer, 'l-tags', 'plain.txt');
    await put(officer, 'l-tags', 'high.txt', { 'x-sovra-classification': 'SECRET' });
    const confidential = { Key: 'sovra:classification', Value: 'CONFIDENTIAL' };
    const secret = { Key: 'sovra:classification', Value: 'SECRET' };
    assert.deepEqual(await tagsOf(officer, 'l-tags', 'plain.txt'), [confidential]);
    assert.deepEqual(await tagsOf(officer, 'l-tags', 'high.txt'), [secret]);

    // A tag set read back and written again (aws s3 cp --copy-props, rclone) is accepted; only the
    // user's tags are stored (TagCount), and they are answered before the label's.
    const read = [{ Key: 'project', Value: 'atlas' }, ...(await tagsOf(officer, 'l-tags', 'high.txt'))!];
    await officer.send(
      new PutObjectTaggingCommand({ Bucket: 'l-tags', Key: 'high.txt', Tagging: { TagSet: read } }),
    );
    assert.deepEqual(await tagsOf(officer, 'l-tags', 'high.txt'), [
      { Key: 'project', Value: 'atlas' },
      secret,
    ]);
    assert.equal(
      (await officer.send(new HeadObjectCommand({ Bucket: 'l-tags', Key: 'high.txt' }))).TagCount,
      1,
    );
    // Any other value, another sovra: key, or a label above what the object has: InvalidTag.
    for (const TagSet of [
      [confidential],
      [{ Key: 'sovra:classification', Value: 'TOP_SECRET' }],
      [{ Key: 'sovra:compartments', Value: 'NUCLEAR' }],
      [{ Key: 'sovra:owner', Value: 'officer' }],
    ]) {
      assert.deepEqual(
        await s3Refusal(
          officer.send(
            new PutObjectTaggingCommand({ Bucket: 'l-tags', Key: 'high.txt', Tagging: { TagSet } }),
          ),
        ),
        invalidTag,
      );
    }
    assert.deepEqual(await tagsOf(officer, 'l-tags', 'high.txt'), [
      { Key: 'project', Value: 'atlas' },
      secret,
    ]);

    // x-amz-tagging on a write may send back the label the object gets, never another.
    await sendWithHeaders(
      officer,
      new PutObjectCommand({
        Bucket: 'l-tags',
        Key: 'copied.txt',
        Body: 'c',
        Tagging: 'stage=final&sovra%3Aclassification=SECRET',
      }),
      { 'x-sovra-classification': 'SECRET' },
    );
    assert.deepEqual(await tagsOf(officer, 'l-tags', 'copied.txt'), [
      { Key: 'stage', Value: 'final' },
      secret,
    ]);
    assert.deepEqual(
      await s3Refusal(
        officer.send(
          new PutObjectCommand({
            Bucket: 'l-tags',
            Key: 'other.txt',
            Body: 'o',
            Tagging: 'sovra%3Aclassification=SECRET',
          }),
        ),
      ),
      invalidTag,
    );
    // A writer not cleared for the label (writing up needs no clearance) gets InvalidTag whatever
    // it sends, so reserved tags tell it nothing of the label.
    for (const Tagging of ['sovra%3Aclassification=SECRET', 'sovra%3Aclassification=PUBLIC']) {
      assert.deepEqual(
        await s3Refusal(
          analyst.send(new PutObjectCommand({ Bucket: 'l-secret', Key: 'probe.txt', Body: 'p', Tagging })),
        ),
        invalidTag,
      );
    }

    // The limits count the user's tags only: 10 on an object, 50 on a bucket.
    const userTags = (n: number) => Array.from({ length: n }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    await officer.send(
      new PutObjectTaggingCommand({
        Bucket: 'l-tags',
        Key: 'plain.txt',
        Tagging: { TagSet: [...userTags(10), confidential] },
      }),
    );
    assert.deepEqual(await tagsOf(officer, 'l-tags', 'plain.txt'), [...userTags(10), confidential]);
    assert.deepEqual(
      await s3Refusal(
        officer.send(
          new PutObjectTaggingCommand({
            Bucket: 'l-tags',
            Key: 'plain.txt',
            Tagging: { TagSet: [...userTags(11), confidential] },
          }),
        ),
      ),
      invalidTag,
    );

    // GetBucketTagging: a bucket without tags of its own answers its label; PutBucketTagging takes
    // it back; a caller not cleared for the bucket's label is not shown it.
    assert.deepEqual((await officer.send(new GetBucketTaggingCommand({ Bucket: 'l-tags' }))).TagSet, [
      confidential,
    ]);
    await officer.send(
      new PutBucketTaggingCommand({ Bucket: 'l-tags', Tagging: { TagSet: [...userTags(50), confidential] } }),
    );
    assert.deepEqual((await officer.send(new GetBucketTaggingCommand({ Bucket: 'l-tags' }))).TagSet, [
      ...userTags(50),
      confidential,
    ]);
    for (const TagSet of [[...userTags(51), confidential], [secret]]) {
      assert.deepEqual(
        await s3Refusal(officer.send(new PutBucketTaggingCommand({ Bucket: 'l-tags', Tagging: { TagSet } }))),
        invalidTag,
      );
    }
    assert.deepEqual(await s3Refusal(analyst.send(new GetBucketTaggingCommand({ Bucket: 'l-secret' }))), {
      status: 404,
      code: 'NoSuchTagSet',
    });
    assert.deepEqual((await officer.send(new GetBucketTaggingCommand({ Bucket: 'l-secret' }))).TagSet, [
      secret,
    ]);
  });

  it('a label below the bucket is InvalidArgument; a label above the writer’s own clearance is AccessDenied', async () => {
    assert.deepEqual(
      await s3Refusal(put(officer, 'l-secret', 'low.txt', { 'x-sovra-classification': 'CONFIDENTIAL' })),
      { status: 400, code: 'InvalidArgument' },
    );
    assert.deepEqual(
      await s3Refusal(put(analyst, 'l-confidential', 'high.txt', { 'x-sovra-classification': 'SECRET' })),
      DENIED,
    );
    // A writer not cleared for the bucket (writing up needs no clearance) learns nothing of its
    // label by labelling: every label it sends is above its own clearance.
    assert.deepEqual(
      await s3Refusal(put(analyst, 'l-secret', 'probe.txt', { 'x-sovra-classification': 'INTERNAL' })),
      DENIED,
    );
    await put(analyst, 'l-secret', 'report.txt');
    await put(analyst, 'l-confidential', 'same.txt', { 'x-sovra-classification': 'CONFIDENTIAL' });
    assert.equal(await labelOf(officer, 'HEAD', 'l-confidential', 'same.txt'), 'CONFIDENTIAL');
    assert.deepEqual(
      await s3Refusal(put(officer, 'l-confidential', 'odd.txt', { 'x-sovra-classification': 'COSMIC' })),
      { status: 400, code: 'InvalidArgument' },
    );
  });

  it('no read up: a principal cleared for the bucket but not the object is denied its data, tags and copies', async () => {
    const plans = { Bucket: 'l-confidential', Key: 'plans.txt' };
    assert.deepEqual(await s3Refusal(analyst.send(new GetObjectCommand(plans))), DENIED);
    // A HEAD answer has no body, so only its status tells.
    assert.equal((await s3Refusal(analyst.send(new HeadObjectCommand(plans)))).status, 403);
    assert.deepEqual(await s3Refusal(analyst.send(new GetObjectTaggingCommand(plans))), DENIED);
    // Conditions and ranges are looked at only after the label: no 304 or 416 leaks anything.
    const { ETag } = await officer.send(new HeadObjectCommand(plans));
    assert.deepEqual(
      await s3Refusal(analyst.send(new GetObjectCommand({ ...plans, IfNoneMatch: ETag }))),
      DENIED,
    );
    assert.deepEqual(
      await s3Refusal(analyst.send(new GetObjectCommand({ ...plans, Range: 'bytes=1000-2000' }))),
      DENIED,
    );
    assert.deepEqual(
      await s3Refusal(
        analyst.send(
          new CopyObjectCommand({
            Bucket: 'l-secret',
            Key: 'stolen.txt',
            CopySource: 'l-confidential/plans.txt',
          }),
        ),
      ),
      DENIED,
      'the copy source is read up',
    );
    const menu = await analyst.send(new GetObjectCommand({ Bucket: 'l-confidential', Key: 'menu.txt' }));
    assert.equal(await menu.Body?.transformToString(), 'l-confidential/menu.txt');
  });

  it('listings leave out the objects above the caller’s clearance; a cleared caller sees them', async () => {
    assert.deepEqual(await keysOf(analyst, 'l-confidential'), ['menu.txt', 'same.txt']);
    assert.deepEqual(await keysOf(officer, 'l-confidential'), ['menu.txt', 'plans.txt', 'same.txt']);
    const v1 = await analyst.send(new ListObjectsCommand({ Bucket: 'l-confidential' }));
    assert.deepEqual(
      (v1.Contents ?? []).map((entry) => entry.Key),
      ['menu.txt', 'same.txt'],
    );
    assert.deepEqual(await versionsOf(analyst, 'l-confidential'), ['menu.txt@null', 'same.txt@null']);
    assert.deepEqual(await versionsOf(officer, 'l-confidential'), [
      'menu.txt@null',
      'plans.txt@null',
      'same.txt@null',
    ]);
    // Paging goes on past a page whose entries were all left out.
    const first = await analyst.send(
      new ListObjectsV2Command({ Bucket: 'l-confidential', StartAfter: 'menu.txt', MaxKeys: 1 }),
    );
    assert.equal(first.KeyCount, 0);
    assert.equal(first.IsTruncated, true);
    const second = await analyst.send(
      new ListObjectsV2Command({
        Bucket: 'l-confidential',
        MaxKeys: 1,
        ContinuationToken: first.NextContinuationToken,
      }),
    );
    assert.deepEqual(
      (second.Contents ?? []).map((entry) => entry.Key),
      ['same.txt'],
    );
    const markers = await analyst.send(
      new ListObjectsCommand({ Bucket: 'l-confidential', Marker: 'menu.txt', MaxKeys: 1 }),
    );
    assert.equal(markers.IsTruncated, true);
    assert.equal(markers.NextMarker, 'plans.txt', 'V1 names where to go on when it left entries out');
  });

  it('versions: each version has its own label, and reads and version listings follow it', async () => {
    await createBucket('l-history', 'CONFIDENTIAL');
    await officer.send(
      new PutBucketVersioningCommand({ Bucket: 'l-history', VersioningConfiguration: { Status: 'Enabled' } }),
    );
    const first = await put(officer, 'l-history', 'memo.txt');
    const second = await put(officer, 'l-history', 'memo.txt', { 'x-sovra-classification': 'SECRET' });
    assert.deepEqual(
      await s3Refusal(analyst.send(new GetObjectCommand({ Bucket: 'l-history', Key: 'memo.txt' }))),
      DENIED,
    );
    assert.deepEqual(
      await s3Refusal(
        analyst.send(
          new GetObjectCommand({ Bucket: 'l-history', Key: 'memo.txt', VersionId: second.VersionId }),
        ),
      ),
      DENIED,
    );
    assert.equal(await labelOf(analyst, 'GET', 'l-history', 'memo.txt', first.VersionId), 'CONFIDENTIAL');
    assert.equal(await labelOf(officer, 'HEAD', 'l-history', 'memo.txt', second.VersionId), 'SECRET');
    assert.deepEqual(await versionsOf(analyst, 'l-history'), [`memo.txt@${first.VersionId}`]);
    assert.deepEqual(await versionsOf(officer, 'l-history'), [
      `memo.txt@${second.VersionId}`,
      `memo.txt@${first.VersionId}`,
    ]);
  });

  it('no write down: a SECRET object is not copied into a CONFIDENTIAL bucket, labelled or not; into a SECRET one it is', async () => {
    const copy = (Bucket: string, Key: string, headers: Record<string, string> = {}) =>
      sendWithHeaders(
        officer,
        new CopyObjectCommand({ Bucket, Key, CopySource: 'l-confidential/plans.txt' }),
        headers,
      );
    assert.deepEqual(await s3Refusal(copy('l-confidential', 'plans-copy.txt')), DENIED);
    assert.deepEqual(
      await s3Refusal(copy('l-confidential', 'plans-copy.txt', { 'x-sovra-classification': 'SECRET' })),
      DENIED,
      'the destination bucket must dominate the data, whatever the copy’s own label',
    );
    await copy('l-secret', 'plans-copy.txt');
    assert.equal(await labelOf(officer, 'HEAD', 'l-secret', 'plans-copy.txt'), 'SECRET');
    // An object without a label of its own copies as before: up, never down.
    await officer.send(
      new CopyObjectCommand({
        Bucket: 'l-secret',
        Key: 'menu-copy.txt',
        CopySource: 'l-confidential/menu.txt',
      }),
    );
    assert.deepEqual(
      await s3Refusal(
        officer.send(
          new CopyObjectCommand({
            Bucket: 'l-confidential',
            Key: 'report.txt',
            CopySource: 'l-secret/report.txt',
          }),
        ),
      ),
      DENIED,
    );

    // UploadPartCopy: the same rules for the parts of a multipart upload.
    const partCopy = async (Bucket: string) => {
      const upload = await officer.send(new CreateMultipartUploadCommand({ Bucket, Key: 'assembled.bin' }));
      return officer.send(
        new UploadPartCopyCommand({
          Bucket,
          Key: 'assembled.bin',
          UploadId: upload.UploadId,
          PartNumber: 1,
          CopySource: 'l-confidential/plans.txt',
        }),
      );
    };
    assert.deepEqual(await s3Refusal(partCopy('l-confidential')), DENIED);
    await partCopy('l-secret');
    const analystUpload = await analyst.send(
      new CreateMultipartUploadCommand({ Bucket: 'l-secret', Key: 'analyst.bin' }),
    );
    assert.deepEqual(
      await s3Refusal(
        analyst.send(
          new UploadPartCopyCommand({
            Bucket: 'l-secret',
            Key: 'analyst.bin',
            UploadId: analystUpload.UploadId,
            PartNumber: 1,
            CopySource: 'l-confidential/plans.txt',
          }),
        ),
      ),
      DENIED,
      'the part copy source is read up',
    );
  });

  it('a multipart upload keeps the label it was created with; the completed object carries it', async () => {
    const Bucket = 'l-confidential';
    const Key = 'large.bin';
    const created = await sendWithHeaders<{ UploadId?: string }>(
      officer,
      new CreateMultipartUploadCommand({ Bucket, Key }),
      { 'x-sovra-classification': 'SECRET' },
    );
    const uploads = async (s3: S3Client) =>
      ((await s3.send(new ListMultipartUploadsCommand({ Bucket }))).Uploads ?? []).map(
        (upload) => upload.Key,
      );
    assert.equal(
      (await uploads(analyst)).includes(Key),
      false,
      'an upload above the clearance is not listed',
    );
    assert.equal((await uploads(officer)).includes(Key), true);
    const part = await officer.send(
      new UploadPartCommand({ Bucket, Key, UploadId: created.UploadId, PartNumber: 1, Body: 'part one' }),
    );
    await officer.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId: created.UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    assert.equal(await labelOf(officer, 'HEAD', Bucket, Key), 'SECRET');
    assert.equal((await s3Refusal(analyst.send(new HeadObjectCommand({ Bucket, Key })))).status, 403);
    assert.equal((await keysOf(analyst, Bucket)).includes(Key), false);
    assert.deepEqual(
      await s3Refusal(
        sendWithHeaders(analyst, new CreateMultipartUploadCommand({ Bucket, Key: 'mine.bin' }), {
          'x-sovra-classification': 'SECRET',
        }),
      ),
      DENIED,
    );
  });

  it('POST Object takes the label from its form fields, with the same rules as PutObject', async () => {
    const post = async (s3: S3Client, Key: string, classification: string) => {
      const { url, fields } = await createPresignedPost(s3, {
        Bucket: 'l-confidential',
        Key,
        Fields: { 'x-sovra-classification': classification },
        Expires: 300,
      });
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) form.append(name, value);
      form.append('file', new Blob(['posted']), 'posted.txt');
      const response = await fetch(url, { method: 'POST', body: form });
      return { status: response.status, body: await response.text() };
    };
    assert.equal((await post(officer, 'posted.txt', 'SECRET')).status, 204);
    assert.equal(await labelOf(officer, 'HEAD', 'l-confidential', 'posted.txt'), 'SECRET');
    assert.equal((await post(analyst, 'posted-high.txt', 'SECRET')).status, 403);
    const below = await post(officer, 'posted-low.txt', 'INTERNAL');
    assert.equal(below.status, 400);
    assert.match(below.body, /<Code>InvalidArgument<\/Code>/);
  });

  it('the admin API’s explain shows an object’s own label and the rule it decides', async () => {
    const explain = async (principal: string) =>
      (
        (await adminCall(adminKeys, 'POST', 'explain', {
          principal,
          action: 's3:GetObject',
          bucket: 'l-confidential',
          key: 'plans.txt',
        })) as {
          explanation: { decision: string; classification: { rule: string | null; resourceLabel: string } };
        }
      ).explanation;
    const analystView = await explain('analyst');
    assert.equal(analystView.decision, 'deny');
    assert.equal(analystView.classification.rule, 'no-read-up');
    assert.equal(analystView.classification.resourceLabel, 'SECRET');
    const officerView = await explain('officer');
    assert.equal(officerView.decision, 'allow');
    assert.equal(officerView.classification.resourceLabel, 'SECRET');
  });

  it('audit records carry the object’s label, for reads, writes and denials', async () => {
    const written = await put(officer, 'l-confidential', 'audited.txt', {
      'x-sovra-classification': 'SECRET',
    });
    const read = await officer.send(new GetObjectCommand({ Bucket: 'l-confidential', Key: 'audited.txt' }));
    await read.Body?.transformToString();
    await s3Refusal(analyst.send(new GetObjectCommand({ Bucket: 'l-confidential', Key: 'audited.txt' })));
    const plain = await officer.send(new GetObjectCommand({ Bucket: 'l-confidential', Key: 'menu.txt' }));
    await plain.Body?.transformToString();
    const audit = new AuditClient(sovra.endpoint, adminKeys, TEST_REGION);
    const records = (await audit.records({ limit: '1000' })).records.map((record) =>
      parseCanonicalRecord(Buffer.from(record.record!, 'utf8')),
    );
    const about = (action: string, key: string) =>
      records.filter(
        (record) => record.action === action && record.resource === `arn:aws:s3:::l-confidential/${key}`,
      );
    const put1 = about('s3:PutObject', 'audited.txt').find(
      (record) => record.requestId === written.$metadata.requestId,
    );
    assert.equal(put1?.classification, 'SECRET');
    const reads = about('s3:GetObject', 'audited.txt');
    assert.deepEqual(
      reads.map((record) => [record.result, record.classification]),
      [
        ['success', 'SECRET'],
        ['denied', 'SECRET'],
      ],
    );
    assert.equal(about('s3:GetObject', 'menu.txt').at(-1)?.classification, 'CONFIDENTIAL');
  });

  it('key-use records of the data path carry the label of the data whose key they use, as the request’s record does', async () => {
    const since = new Date(Date.now() - 1_000).toISOString();
    const Bucket = 'l-confidential';
    const get = async (Key: string) => {
      const read = await officer.send(new GetObjectCommand({ Bucket, Key }));
      await read.Body?.transformToString();
      return read.$metadata.requestId;
    };
    const writeHigh = await put(officer, Bucket, 'keyed-secret.txt', { 'x-sovra-classification': 'SECRET' });
    const writePlain = await put(officer, Bucket, 'keyed-plain.txt');
    const readHigh = await get('keyed-secret.txt');
    const readPlain = await get('keyed-plain.txt');
    // A copy unwraps the source's data key at the source's label and makes the copy's at its own.
    const copy = await officer.send(
      new CopyObjectCommand({
        Bucket: 'l-secret',
        Key: 'keyed-copy.txt',
        CopySource: `${Bucket}/keyed-plain.txt`,
      }),
    );
    const expected: [string | undefined, string, [string, string][]][] = [
      [writeHigh.$metadata.requestId, 'SECRET', [['kms:GenerateDataKey', 'SECRET']]],
      [writePlain.$metadata.requestId, 'CONFIDENTIAL', [['kms:GenerateDataKey', 'CONFIDENTIAL']]],
      [readHigh, 'SECRET', [['kms:Decrypt', 'SECRET']]],
      [readPlain, 'CONFIDENTIAL', [['kms:Decrypt', 'CONFIDENTIAL']]],
      [
        copy.$metadata.requestId,
        'SECRET',
        [
          ['kms:Decrypt', 'CONFIDENTIAL'],
          ['kms:GenerateDataKey', 'SECRET'],
        ],
      ],
    ];
    const audit = new AuditClient(sovra.endpoint, adminKeys, TEST_REGION);
    const keyUsesOf = (records: AuditRecord[], requestId: string | undefined) =>
      records.filter((record) => record.kind === 'key-use' && record.requestId === requestId);
    // Key-use decisions reach the log in batches a few milliseconds after the use.
    let records: AuditRecord[] = [];
    for (let attempt = 0; attempt < 50; attempt += 1) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      records = (await audit.records({ from: since, limit: '1000' })).records.map((record) =>
        parseCanonicalRecord(Buffer.from(record.record!, 'utf8')),
      );
      if (expected.every(([requestId, , uses]) => keyUsesOf(records, requestId).length >= uses.length)) break;
    }
    for (const [requestId, label, uses] of expected) {
      assert.ok(requestId !== undefined);
      const request = records.find((record) => record.kind === 'request' && record.requestId === requestId);
      assert.equal(request?.classification, label, `${request?.action} ${request?.resource}`);
      assert.deepEqual(
        keyUsesOf(records, requestId)
          .map((record) => [record.action, record.classification])
          .sort(),
        uses.sort(),
        `the key uses of ${request?.action} ${request?.resource}`,
      );
    }
  });
});
