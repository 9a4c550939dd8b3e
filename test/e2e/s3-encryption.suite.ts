import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketEncryptionCommand,
  GetBucketEncryptionCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketEncryptionCommand,
  PutObjectCommand,
  S3ServiceException,
  type S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import {
  CreateKeyCommand,
  PutKeyPolicyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  KMSClient,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { AdminClient } from '../../src/cli/admin-client.ts';
import { AuditClient } from '../../src/cli/audit-client.ts';
import { parseCanonicalRecord, type AuditRecord } from '../../src/domain/audit/records.ts';
import { filesUnder, readFilesUnder } from '../helpers/data-dir.ts';
import { startUnsealedSovra, sovraCli } from '../helpers/unsealed-sovra.ts';
import { createTestSchema, type TestSchema } from '../helpers/postgres.ts';
import { removeDir, TEST_REGION, type MetadataBackend, type SovraProcess } from '../helpers/sovra-process.ts';

const run = promisify(execFile);
const MiB = 1024 * 1024;
/** Frames are 2^18 bytes (LIMITS.frameSizeLog2). */
const FRAME_BYTES = 256 * 1024;

async function s3Failure(
  promise: Promise<unknown>,
): Promise<{ name: string; status: number | undefined; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof S3ServiceException) {
      return { name: error.name, status: error.$metadata.httpStatusCode, message: error.message };
    }
    throw error;
  }
  assert.fail('expected the request to fail');
}

/** A policy whose one Deny statement ("Guard") carries `deny`; everything else is allowed. */
function keyPolicyDenying(deny: Record<string, unknown>): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Sid: 'Admin', Effect: 'Allow', Principal: { AWS: '*' }, Action: 'kms:*', Resource: '*' },
      { Sid: 'Guard', Effect: 'Deny', Principal: '*', Resource: '*', ...deny },
    ],
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function bodyOf(response: { Body?: unknown }): Promise<Buffer> {
  const body = response.Body as { transformToByteArray(): Promise<Uint8Array> };
  return Buffer.from(await body.transformToByteArray());
}

function customerKey(): {
  SSECustomerAlgorithm: 'AES256';
  SSECustomerKey: string;
  SSECustomerKeyMD5: string;
  raw: Buffer;
} {
  const raw = randomBytes(32);
  return {
    SSECustomerAlgorithm: 'AES256',
    SSECustomerKey: raw.toString('base64'),
    SSECustomerKeyMD5: createHash('md5').update(raw).digest('base64'),
    raw,
  };
}

function ssecParams(key: ReturnType<typeof customerKey>) {
  return {
    SSECustomerAlgorithm: key.SSECustomerAlgorithm,
    SSECustomerKey: key.SSECustomerKey,
    SSECustomerKeyMD5: key.SSECustomerKeyMD5,
  };
}

/** A plaintext no file could hold by accident: a marker phrase followed by random bytes, repeated. */
function distinctivePlaintext(sizeBytes: number): Buffer {
  const unit = Buffer.concat([Buffer.from('SOVRA-PLAINTEXT-CANARY-'), randomBytes(41)]);
  const out = Buffer.alloc(sizeBytes);
  for (let at = 0; at < sizeBytes; at += unit.length) unit.copy(out, at);
  return out;
}

export function encryptionSuite(metadata: MetadataBackend): void {
  describe(`encryption at rest on ${metadata}: SSE-S3, SSE-KMS, SSE-C through the AWS SDK`, () => {
    let sovra: SovraProcess;
    let schema: TestSchema | null = null;
    let s3: S3Client;
    let kms: KMSClient;

    before(async () => {
      if (metadata === 'postgres') schema = await createTestSchema();
      sovra = await startUnsealedSovra(metadata, schema);
      s3 = sovra.client();
      kms = new KMSClient({ endpoint: sovra.endpoint, region: TEST_REGION, credentials: sovra.credentials });
      await s3.send(new CreateBucketCommand({ Bucket: 'sse' }));
    });

    after(async () => {
      s3?.destroy();
      kms?.destroy();
      await sovra?.stop();
      if (sovra !== undefined) removeDir(sovra.dataDir);
      await schema?.drop();
    });

    async function newKmsKey(): Promise<{ keyId: string; arn: string }> {
      const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
      return { keyId: KeyMetadata!.KeyId!, arn: KeyMetadata!.Arn! };
    }

    /** An S3 client whose every request carries the given headers (signed with them). */
    function s3With(
      headers: Record<string, string>,
      credentials: { accessKeyId: string; secretAccessKey: string } = sovra.credentials,
    ): S3Client {
      const client = sovra.client({ credentials, maxAttempts: 1 });
      client.middlewareStack.add(
        (next) => async (args) => {
          Object.assign((args.request as { headers: Record<string, string> }).headers, headers);
          return next(args);
        },
        { step: 'build', name: 'sovraHeaders' },
      );
      return client;
    }

    /** The tenant's key-use records of `kms:Decrypt` made for one S3 request, once they are in the log. */
    async function keyUseRecordsOf(requestId: string): Promise<AuditRecord[]> {
      const audit = new AuditClient(sovra.endpoint, sovra.credentials, TEST_REGION);
      for (let attempt = 0; ; attempt += 1) {
        const page = await audit.records({ action: 'kms:Decrypt', limit: '1000' });
        const found = page.records
          .map((r) => parseCanonicalRecord(Buffer.from(r.record!, 'utf8')))
          .filter((record) => record.kind === 'key-use' && record.requestId === requestId);
        // Key-use records arrive in batches a few milliseconds after the use.
        if (found.length > 0 || attempt === 50) return found;
        await sleep(100);
      }
    }

    async function putUnderKey(Key: string, keyId: string): Promise<void> {
      await s3.send(
        new PutObjectCommand({
          Bucket: 'sse',
          Key,
          Body: `${Key} body`,
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: keyId,
        }),
      );
    }

    async function putKeyPolicy(keyId: string, policy: string): Promise<void> {
      await kms.send(new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default', Policy: policy }));
      await sleep(1100); // the key record cache (LIMITS.kmsKeyRecordCacheTtlMs)
    }

    it('without encryption headers an object is SSE-S3 (AES256) on PUT, GET and HEAD, and GetBucketEncryption says so', async () => {
      const put = await s3.send(new PutObjectCommand({ Bucket: 'sse', Key: 'plain', Body: 'hello' }));
      assert.equal(put.ServerSideEncryption, 'AES256');
      const got = await s3.send(new GetObjectCommand({ Bucket: 'sse', Key: 'plain' }));
      assert.equal(got.ServerSideEncryption, 'AES256');
      assert.equal((await bodyOf(got)).toString(), 'hello');
      const head = await s3.send(new HeadObjectCommand({ Bucket: 'sse', Key: 'plain' }));
      assert.equal(head.ServerSideEncryption, 'AES256');
      const config = await s3.send(new GetBucketEncryptionCommand({ Bucket: 'sse' }));
      assert.equal(
        config.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault
          ?.SSEAlgorithm,
        'AES256',
      );
    });

    it('a bucket default of aws:kms with a customer key applies to new objects; DeleteBucketEncryption returns to AES256', async () => {
      const key = await newKmsKey();
      await s3.send(new CreateBucketCommand({ Bucket: 'sse-default' }));
      await s3.send(
        new PutBucketEncryptionCommand({
          Bucket: 'sse-default',
          ServerSideEncryptionConfiguration: {
            Rules: [
              { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: key.keyId } },
            ],
          },
        }),
      );
      const config = await s3.send(new GetBucketEncryptionCommand({ Bucket: 'sse-default' }));
      const applied =
        config.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault;
      assert.deepEqual([applied?.SSEAlgorithm, applied?.KMSMasterKeyID], ['aws:kms', key.keyId]);
      const put = await s3.send(
        new PutObjectCommand({ Bucket: 'sse-default', Key: 'k', Body: 'under the default' }),
      );
      assert.deepEqual([put.ServerSideEncryption, put.SSEKMSKeyId], ['aws:kms', key.arn]);
      const head = await s3.send(new HeadObjectCommand({ Bucket: 'sse-default', Key: 'k' }));
      assert.deepEqual([head.ServerSideEncryption, head.SSEKMSKeyId], ['aws:kms', key.arn]);
      await s3.send(new DeleteBucketEncryptionCommand({ Bucket: 'sse-default' }));
      const after = await s3.send(new PutObjectCommand({ Bucket: 'sse-default', Key: 'k2', Body: 'x' }));
      assert.equal(after.ServerSideEncryption, 'AES256');
    });

    it('aws:kms with a key id and an encryption context; a disabled key fails reads with KMS.DisabledException', async () => {
      const key = await newKmsKey();
      const put = await s3.send(
        new PutObjectCommand({
          Bucket: 'sse',
          Key: 'kms',
          Body: 'kms protected',
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: key.keyId,
          SSEKMSEncryptionContext: Buffer.from(JSON.stringify({ project: 'atlas' })).toString('base64'),
        }),
      );
      assert.deepEqual([put.ServerSideEncryption, put.SSEKMSKeyId], ['aws:kms', key.arn]);
      const got = await s3.send(new GetObjectCommand({ Bucket: 'sse', Key: 'kms' }));
      assert.deepEqual([got.ServerSideEncryption, got.SSEKMSKeyId], ['aws:kms', key.arn]);
      assert.equal((await bodyOf(got)).toString(), 'kms protected');
      await kms.send(new DisableKeyCommand({ KeyId: key.keyId }));
      await new Promise((resolve) => setTimeout(resolve, 1100)); // the key record cache (1 s)
      const disabled = await s3Failure(s3.send(new GetObjectCommand({ Bucket: 'sse', Key: 'kms' })));
      assert.deepEqual([disabled.name, disabled.status], ['KMS.DisabledException', 400]);
      await kms.send(new EnableKeyCommand({ KeyId: key.keyId }));
      await new Promise((resolve) => setTimeout(resolve, 1100));
      assert.equal(
        (await bodyOf(await s3.send(new GetObjectCommand({ Bucket: 'sse', Key: 'kms' })))).toString(),
        'kms protected',
      );
      const unknown = await s3Failure(
        s3.send(
          new PutObjectCommand({
            Bucket: 'sse',
            Key: 'x',
            Body: 'x',
            ServerSideEncryption: 'aws:kms',
            SSEKMSKeyId: 'alias/none',
          }),
        ),
      );
      assert.deepEqual([unknown.name, unknown.status], ['KMS.NotFoundException', 400]);
    });

    it('a key policy that denies the use answers the S3 request AccessDenied 403, and the denial is recorded', async () => {
      const key = await newKmsKey();
      const policy = JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Sid: 'Admin', Effect: 'Allow', Principal: { AWS: '*' }, Action: 'kms:*', Resource: '*' },
          {
            Sid: 'NoNewData',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'kms:GenerateDataKey',
            Resource: '*',
          },
        ],
      });
      await kms.send(new PutKeyPolicyCommand({ KeyId: key.keyId, PolicyName: 'default', Policy: policy }));
      await new Promise((resolve) => setTimeout(resolve, 1100)); // the key record cache (1 s)
      const denied = await s3Failure(
        s3.send(
          new PutObjectCommand({
            Bucket: 'sse',
            Key: 'denied',
            Body: 'x',
            ServerSideEncryption: 'aws:kms',
            SSEKMSKeyId: key.keyId,
          }),
        ),
      );
      assert.deepEqual([denied.name, denied.status], ['AccessDenied', 403]);
    });

    it('a key policy denying kms:Decrypt for MIGRATION fails a GET that states x-sovra-justification: MIGRATION with AccessDenied naming the reason; a plain GET and HEAD work, and the key-use records name the principal and reason', async () => {
      const key = await newKmsKey();
      await putUnderKey('migrating', key.keyId);
      await putKeyPolicy(
        key.keyId,
        keyPolicyDenying({
          Action: 'kms:Decrypt',
          Condition: { StringEquals: { 'sovra:JustificationReason': 'MIGRATION' } },
        }),
      );
      const migration = s3With({ 'x-sovra-justification': 'MIGRATION' });
      const backup = s3With({ 'x-sovra-justification': 'BACKUP' });
      try {
        let deniedRequestId = '';
        try {
          await migration.send(new GetObjectCommand({ Bucket: 'sse', Key: 'migrating' }));
          assert.fail('a MIGRATION read must be denied');
        } catch (error) {
          assert.ok(error instanceof S3ServiceException, String(error));
          assert.deepEqual([error.name, error.$metadata.httpStatusCode], ['AccessDenied', 403]);
          assert.match(error.message, /MIGRATION/);
          assert.match(error.message, /Guard/);
          deniedRequestId = error.$metadata.requestId ?? '';
        }
        const plain = await s3.send(new GetObjectCommand({ Bucket: 'sse', Key: 'migrating' }));
        assert.equal((await bodyOf(plain)).toString(), 'migrating body');
        const backedUp = await backup.send(new GetObjectCommand({ Bucket: 'sse', Key: 'migrating' }));
        assert.equal((await bodyOf(backedUp)).toString(), 'migrating body');
        // HEAD unwraps no data key, so the key policy does not decide it (S3 asks only s3:GetObject).
        const head = await migration.send(new HeadObjectCommand({ Bucket: 'sse', Key: 'migrating' }));
        assert.deepEqual([head.ServerSideEncryption, head.SSEKMSKeyId], ['aws:kms', key.arn]);

        const admin = new AdminClient(sovra.endpoint, sovra.credentials, TEST_REGION);
        const { users } = (await admin.call('GET', 'users')) as { users: { id: string; admin: boolean }[] };
        const adminId = users.find((user) => user.admin)!.id;
        const [denied] = await keyUseRecordsOf(deniedRequestId);
        assert.ok(denied, 'the denied use is recorded');
        assert.deepEqual(
          [denied.principalId, denied.justification, denied.result, denied.action, denied.details.service],
          [adminId, 'MIGRATION', 'denied', 'kms:Decrypt', 's3'],
        );
        assert.equal(denied.resource, `sovra:kms-key/${key.keyId}`);
        const [granted] = await keyUseRecordsOf(backedUp.$metadata.requestId ?? '');
        assert.ok(granted, 'the granted use is recorded');
        assert.deepEqual(
          [granted.principalId, granted.justification, granted.result],
          [adminId, 'BACKUP', 'success'],
        );
        const [plainUse] = await keyUseRecordsOf(plain.$metadata.requestId ?? '');
        assert.equal(plainUse?.justification, 'CUSTOMER_INITIATED_ACCESS');
      } finally {
        migration.destroy();
        backup.destroy();
      }
    });

    it('a key policy denying one principal denies that user’s GET of an SSE-KMS object with AccessDenied, and the record names the user', async () => {
      const key = await newKmsKey();
      await putUnderKey('guarded', key.keyId);
      const admin = new AdminClient(sovra.endpoint, sovra.credentials, TEST_REGION);
      const { user } = (await admin.call('POST', 'users', { body: { name: 'sse-reader' } })) as {
        user: { id: string };
      };
      await admin.call('POST', 'policies', {
        body: {
          name: 'sse-reads',
          document: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::sse/*' }],
          },
        },
      });
      await admin.call('PUT', 'users/sse-reader/policies/sse-reads');
      const created = (await admin.call('POST', 'users/sse-reader/access-keys', { body: {} })) as {
        accessKey: { accessKeyId: string; secretAccessKey: string };
      };
      const reader = s3With({}, created.accessKey);
      try {
        const before = await reader.send(new GetObjectCommand({ Bucket: 'sse', Key: 'guarded' }));
        assert.equal((await bodyOf(before)).toString(), 'guarded body');
        await putKeyPolicy(
          key.keyId,
          keyPolicyDenying({
            Action: 'kms:Decrypt',
            Condition: { StringEquals: { 'sovra:PrincipalId': user.id } },
          }),
        );
        let deniedRequestId = '';
        try {
          await reader.send(new GetObjectCommand({ Bucket: 'sse', Key: 'guarded' }));
          assert.fail('the reader’s GET must be denied');
        } catch (error) {
          assert.ok(error instanceof S3ServiceException, String(error));
          assert.deepEqual([error.name, error.$metadata.httpStatusCode], ['AccessDenied', 403]);
          assert.match(error.message, /CUSTOMER_INITIATED_ACCESS/);
          deniedRequestId = error.$metadata.requestId ?? '';
        }
        // Everyone else still reads it.
        const other = await s3.send(new GetObjectCommand({ Bucket: 'sse', Key: 'guarded' }));
        assert.equal((await bodyOf(other)).toString(), 'guarded body');
        const [denied] = await keyUseRecordsOf(deniedRequestId);
        assert.ok(denied, 'the denied use is recorded');
        assert.deepEqual(
          [denied.principalId, denied.justification, denied.result],
          [user.id, 'CUSTOMER_INITIATED_ACCESS', 'denied'],
        );
      } finally {
        reader.destroy();
      }
    });

    it('x-sovra-justification accepts only reasons a client may claim: OPERATOR_SUPPORT, LIFECYCLE and unknown reasons are InvalidArgument', async () => {
      for (const reason of ['OPERATOR_SUPPORT', 'LIFECYCLE', 'CURIOSITY']) {
        const client = s3With({ 'x-sovra-justification': reason });
        try {
          const refused = await s3Failure(client.send(new GetObjectCommand({ Bucket: 'sse', Key: 'plain' })));
          assert.deepEqual([refused.name, refused.status], ['InvalidArgument', 400], reason);
          assert.match(refused.message, /x-sovra-justification/);
        } finally {
          client.destroy();
        }
      }
    });

    it('SSE-C: the right key reads; no key is InvalidRequest 400, another key AccessDenied 403, on GET and HEAD', async () => {
      const key = customerKey();
      const put = await s3.send(
        new PutObjectCommand({ Bucket: 'sse', Key: 'ssec', Body: 'customer keyed', ...ssecParams(key) }),
      );
      assert.equal(put.SSECustomerAlgorithm, 'AES256');
      assert.equal(put.SSECustomerKeyMD5, key.SSECustomerKeyMD5);
      assert.equal(put.ServerSideEncryption, undefined);
      const got = await s3.send(new GetObjectCommand({ Bucket: 'sse', Key: 'ssec', ...ssecParams(key) }));
      assert.equal((await bodyOf(got)).toString(), 'customer keyed');
      assert.equal(got.SSECustomerKeyMD5, key.SSECustomerKeyMD5);
      const missing = await s3Failure(s3.send(new GetObjectCommand({ Bucket: 'sse', Key: 'ssec' })));
      assert.deepEqual([missing.name, missing.status], ['InvalidRequest', 400]);
      const wrong = await s3Failure(
        s3.send(new GetObjectCommand({ Bucket: 'sse', Key: 'ssec', ...ssecParams(customerKey()) })),
      );
      assert.deepEqual([wrong.name, wrong.status], ['AccessDenied', 403]);
      const headMissing = await s3Failure(s3.send(new HeadObjectCommand({ Bucket: 'sse', Key: 'ssec' })));
      assert.equal(headMissing.status, 400);
      const headWrong = await s3Failure(
        s3.send(new HeadObjectCommand({ Bucket: 'sse', Key: 'ssec', ...ssecParams(customerKey()) })),
      );
      assert.equal(headWrong.status, 403);
      const head = await s3.send(new HeadObjectCommand({ Bucket: 'sse', Key: 'ssec', ...ssecParams(key) }));
      assert.equal(head.SSECustomerAlgorithm, 'AES256');
    });

    it('multipart under a KMS key: parts and the completed object carry it; a range across parts and frames reads back', async () => {
      const key = await newKmsKey();
      const data = randomBytes(5 * MiB + 300 * 1024);
      const created = await s3.send(
        new CreateMultipartUploadCommand({
          Bucket: 'sse',
          Key: 'mp',
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: key.arn,
        }),
      );
      assert.deepEqual([created.ServerSideEncryption, created.SSEKMSKeyId], ['aws:kms', key.arn]);
      const first = await s3.send(
        new UploadPartCommand({
          Bucket: 'sse',
          Key: 'mp',
          UploadId: created.UploadId,
          PartNumber: 1,
          Body: data.subarray(0, 5 * MiB),
        }),
      );
      assert.deepEqual([first.ServerSideEncryption, first.SSEKMSKeyId], ['aws:kms', key.arn]);
      const second = await s3.send(
        new UploadPartCommand({
          Bucket: 'sse',
          Key: 'mp',
          UploadId: created.UploadId,
          PartNumber: 2,
          Body: data.subarray(5 * MiB),
        }),
      );
      const done = await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'sse',
          Key: 'mp',
          UploadId: created.UploadId,
          MultipartUpload: {
            Parts: [
              { PartNumber: 1, ETag: first.ETag },
              { PartNumber: 2, ETag: second.ETag },
            ],
          },
        }),
      );
      assert.deepEqual([done.ServerSideEncryption, done.SSEKMSKeyId], ['aws:kms', key.arn]);
      assert.ok(
        (await bodyOf(await s3.send(new GetObjectCommand({ Bucket: 'sse', Key: 'mp' })))).equals(data),
      );
      const start = 5 * MiB - FRAME_BYTES - 10;
      const end = 5 * MiB + FRAME_BYTES + 10;
      const ranged = await s3.send(
        new GetObjectCommand({ Bucket: 'sse', Key: 'mp', Range: `bytes=${start}-${end}` }),
      );
      assert.ok((await bodyOf(ranged)).equals(data.subarray(start, end + 1)));
    });

    it('ranges of a large encrypted object decrypt only what they cover and match the plaintext', async () => {
      const data = randomBytes(3 * MiB + 17);
      await s3.send(new PutObjectCommand({ Bucket: 'sse', Key: 'large', Body: data }));
      for (const [start, end] of [
        [0, 0],
        [FRAME_BYTES - 5, FRAME_BYTES + 5],
        [FRAME_BYTES * 3 + 1, FRAME_BYTES * 7 - 1],
        [data.length - 20, data.length - 1],
      ] as const) {
        const got = await s3.send(
          new GetObjectCommand({ Bucket: 'sse', Key: 'large', Range: `bytes=${start}-${end}` }),
        );
        assert.ok((await bodyOf(got)).equals(data.subarray(start, end + 1)), `bytes ${start}-${end}`);
      }
    });

    it('CopyObject re-encrypts under another KMS key; an SSE-C source needs the copy-source customer key', async () => {
      const [one, two] = [await newKmsKey(), await newKmsKey()];
      await s3.send(
        new PutObjectCommand({
          Bucket: 'sse',
          Key: 'copy-src',
          Body: 'copied',
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: one.keyId,
        }),
      );
      const copied = await s3.send(
        new CopyObjectCommand({
          Bucket: 'sse',
          Key: 'copy-dst',
          CopySource: 'sse/copy-src',
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: two.keyId,
        }),
      );
      assert.deepEqual([copied.ServerSideEncryption, copied.SSEKMSKeyId], ['aws:kms', two.arn]);
      const got = await s3.send(new GetObjectCommand({ Bucket: 'sse', Key: 'copy-dst' }));
      assert.deepEqual([got.SSEKMSKeyId, (await bodyOf(got)).toString()], [two.arn, 'copied']);

      const key = customerKey();
      await s3.send(
        new PutObjectCommand({ Bucket: 'sse', Key: 'copy-ssec', Body: 'ssec source', ...ssecParams(key) }),
      );
      const refused = await s3Failure(
        s3.send(new CopyObjectCommand({ Bucket: 'sse', Key: 'copy-ssec-dst', CopySource: 'sse/copy-ssec' })),
      );
      assert.deepEqual([refused.name, refused.status], ['InvalidRequest', 400]);
      await s3.send(
        new CopyObjectCommand({
          Bucket: 'sse',
          Key: 'copy-ssec-dst',
          CopySource: 'sse/copy-ssec',
          CopySourceSSECustomerAlgorithm: 'AES256',
          CopySourceSSECustomerKey: key.SSECustomerKey,
          CopySourceSSECustomerKeyMD5: key.SSECustomerKeyMD5,
        }),
      );
      const plain = await s3.send(new GetObjectCommand({ Bucket: 'sse', Key: 'copy-ssec-dst' }));
      assert.deepEqual(
        [plain.ServerSideEncryption, (await bodyOf(plain)).toString()],
        ['AES256', 'ssec source'],
      );
    });

    it('a flipped byte in a stored blob fails the GET; wrong bytes are never returned', async () => {
      const data = randomBytes(2 * MiB);
      await s3.send(new CreateBucketCommand({ Bucket: 'tamper' }));
      const before = new Set(filesUnder(join(sovra.dataDir, 'blobs')));
      await s3.send(new PutObjectCommand({ Bucket: 'tamper', Key: 't', Body: data }));
      const blob = filesUnder(join(sovra.dataDir, 'blobs')).find((path) => !before.has(path));
      assert.ok(blob !== undefined, 'the object has a blob file');
      const stored = readFileSync(blob);
      stored[stored.length >> 1]! ^= 0x01;
      writeFileSync(blob, stored);
      let received: Buffer = Buffer.alloc(0);
      try {
        const got = await s3.send(new GetObjectCommand({ Bucket: 'tamper', Key: 't' }));
        received = await bodyOf(got);
        assert.fail('the GET of a tampered object must fail');
      } catch (error) {
        if (error instanceof assert.AssertionError) throw error;
      }
      assert.ok(received.length < data.length);
    });

    it('no plaintext and no customer key reach the data directory or the metadata database, by any upload path', async () => {
      const canary = distinctivePlaintext(600 * 1024);
      const small = canary.subarray(0, 4 * 1024);
      const key = customerKey();
      await s3.send(new CreateBucketCommand({ Bucket: 'scan' }));
      await s3.send(new PutObjectCommand({ Bucket: 'scan', Key: 'buffered', Body: canary }));
      await s3.send(new PutObjectCommand({ Bucket: 'scan', Key: 'inline', Body: small }));
      await s3.send(
        new PutObjectCommand({
          Bucket: 'scan',
          Key: 'streamed',
          Body: Readable.from([canary]),
          ContentLength: canary.length,
        }),
      );
      await s3.send(new PutObjectCommand({ Bucket: 'scan', Key: 'ssec', Body: canary, ...ssecParams(key) }));
      await s3.send(new CopyObjectCommand({ Bucket: 'scan', Key: 'copied', CopySource: 'scan/buffered' }));
      const mpPart = Buffer.concat([canary, canary, canary, canary, canary, canary, canary, canary, canary]);
      const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'scan', Key: 'mp' }));
      const p1 = await s3.send(
        new UploadPartCommand({
          Bucket: 'scan',
          Key: 'mp',
          UploadId: upload.UploadId,
          PartNumber: 1,
          Body: mpPart,
        }),
      );
      const p2 = await s3.send(
        new UploadPartCopyCommand({
          Bucket: 'scan',
          Key: 'mp',
          UploadId: upload.UploadId,
          PartNumber: 2,
          CopySource: 'scan/buffered',
        }),
      );
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'scan',
          Key: 'mp',
          UploadId: upload.UploadId,
          MultipartUpload: {
            Parts: [
              { PartNumber: 1, ETag: p1.ETag },
              { PartNumber: 2, ETag: p2.CopyPartResult?.ETag },
            ],
          },
        }),
      );
      const mp = await bodyOf(await s3.send(new GetObjectCommand({ Bucket: 'scan', Key: 'mp' })));
      assert.ok(mp.equals(Buffer.concat([mpPart, canary])));

      const needles = [
        canary.subarray(0, 64),
        canary.subarray(100_000, 100_064),
        small.subarray(1000, 1064),
        key.raw,
        Buffer.from(key.SSECustomerKey),
      ];
      const haystacks: Array<[string, Buffer]> = readFilesUnder(sovra.dataDir);
      if (metadata === 'postgres') {
        const dump = await run('pg_dump', ['--schema', schema!.schema, schema!.connectionString], {
          maxBuffer: 512 * MiB,
          encoding: 'buffer',
        });
        haystacks.push(['pg_dump', dump.stdout]);
      }
      assert.ok(haystacks.some(([path]) => path.endsWith('.sqlite')) || metadata === 'postgres');
      for (const [path, bytes] of haystacks) {
        const hex = bytes.toString('latin1');
        for (const needle of needles) {
          assert.equal(
            bytes.indexOf(needle),
            -1,
            `${path} holds plaintext or a key (${statSync(path, { throwIfNoEntry: false })?.size ?? bytes.length} bytes)`,
          );
          assert.equal(hex.indexOf(needle.toString('hex')), -1, `${path} holds plaintext or a key in hex`);
        }
      }
    });

    it('crypto-shredding: once the deletion of its KMS key completes, GET answers KMS.NotFoundException: the data is unrecoverable', async () => {
      const key = await newKmsKey();
      await s3.send(
        new PutObjectCommand({
          Bucket: 'sse',
          Key: 'shred',
          Body: 'to be shredded',
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: key.keyId,
        }),
      );
      await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.keyId, PendingWindowInDays: 7 }));
      const pending = await s3Failure(s3.send(new GetObjectCommand({ Bucket: 'sse', Key: 'shred' })));
      assert.deepEqual([pending.name, pending.status], ['KMS.KMSInvalidStateException', 400]);
      const in8Days = new Date(Date.now() + 8 * 24 * 3600 * 1000).toISOString();
      const args = [
        'admin',
        'kms-maintenance',
        '--now',
        in8Days,
        '--data-dir',
        sovra.dataDir,
        '--region',
        TEST_REGION,
      ];
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
      const report = JSON.parse(await sovraCli(args)) as { keysDeleted: number };
      assert.equal(report.keysDeleted, 1);
      await new Promise((resolve) => setTimeout(resolve, 1100)); // the server's key record cache
      const shredded = await s3Failure(s3.send(new GetObjectCommand({ Bucket: 'sse', Key: 'shred' })));
      assert.deepEqual([shredded.name, shredded.status], ['KMS.NotFoundException', 400]);
      assert.match(shredded.message, /deleted; the data is unrecoverable/);
    });
  });
}
