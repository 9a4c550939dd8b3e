import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3ServiceException,
  UploadPartCommand,
  UploadPartCopyCommand,
  GetObjectAclCommand,
  GetBucketAclCommand,
  PutBucketVersioningCommand,
  GetBucketVersioningCommand,
  ListObjectVersionsCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startSovra, removeDir, type MetadataBackend, type SovraProcess } from '../helpers/sovra-process.ts';
import { createTestSchema } from '../helpers/postgres.ts';

const MiB = 1024 * 1024;

async function s3Code(
  promise: Promise<unknown>,
): Promise<{ code: string; status: number | undefined; requestId: string | undefined }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof S3ServiceException) {
      return {
        code: error.name,
        status: error.$metadata.httpStatusCode,
        requestId: error.$metadata.requestId,
      };
    }
    throw error;
  }
  assert.fail('expected the request to fail');
}

async function bodyBytes(body: unknown): Promise<Buffer> {
  const stream = body as { transformToByteArray(): Promise<Uint8Array> };
  return Buffer.from(await stream.transformToByteArray());
}

function md5(data: Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

/** The S3 end-to-end suite, run against the real server process on one metadata backend. */
export function defineS3Suite(backend: MetadataBackend): void {
  describe(`S3 API with @aws-sdk/client-s3 (${backend})`, () => {
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
      s3?.destroy();
      if (sovra !== undefined) {
        await sovra.stop();
        removeDir(sovra.dataDir);
      }
      if (dropSchema !== null) await dropSchema();
    });

    describe('buckets', () => {
      it('creates, heads, lists, locates and deletes a bucket', async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'alpha-bucket' }));
        await s3.send(new HeadBucketCommand({ Bucket: 'alpha-bucket' }));
        const list = await s3.send(new ListBucketsCommand({}));
        assert.ok(list.Buckets?.some((b) => b.Name === 'alpha-bucket'));
        const location = await s3.send(new GetBucketLocationCommand({ Bucket: 'alpha-bucket' }));
        assert.equal(location.LocationConstraint ?? '', '');
        await s3.send(new DeleteBucketCommand({ Bucket: 'alpha-bucket' }));
        assert.equal((await s3Code(s3.send(new HeadBucketCommand({ Bucket: 'alpha-bucket' })))).status, 404);
      });

      it('creating a bucket one already owns fails with BucketAlreadyOwnedByYou', async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'owned-twice' }));
        const failure = await s3Code(s3.send(new CreateBucketCommand({ Bucket: 'owned-twice' })));
        assert.equal(failure.code, 'BucketAlreadyOwnedByYou');
        assert.equal(failure.status, 409);
      });

      it('a LocationConstraint other than the served region fails with InvalidLocationConstraint', async () => {
        const failure = await s3Code(
          s3.send(
            new CreateBucketCommand({
              Bucket: 'elsewhere',
              CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
            }),
          ),
        );
        assert.equal(failure.code, 'InvalidLocationConstraint');
      });

      it('invalid bucket names fail with InvalidBucketName', async () => {
        for (const name of [
          'ab',
          'Upper-Case',
          'has_underscore',
          '192.168.1.1',
          'double..dot',
          'xn--punycode',
          '-leading',
        ]) {
          const failure = await s3Code(s3.send(new CreateBucketCommand({ Bucket: name })));
          assert.equal(failure.code, 'InvalidBucketName', name);
        }
      });

      it('deleting a non-empty bucket fails with BucketNotEmpty; a missing one with NoSuchBucket', async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'not-empty' }));
        await s3.send(new PutObjectCommand({ Bucket: 'not-empty', Key: 'x', Body: 'x' }));
        assert.equal(
          (await s3Code(s3.send(new DeleteBucketCommand({ Bucket: 'not-empty' })))).code,
          'BucketNotEmpty',
        );
        assert.equal(
          (await s3Code(s3.send(new DeleteBucketCommand({ Bucket: 'never-was' })))).code,
          'NoSuchBucket',
        );
        assert.equal(
          (await s3Code(s3.send(new GetObjectCommand({ Bucket: 'never-was', Key: 'k' })))).code,
          'NoSuchBucket',
        );
      });

      it('answers bucket and object ACL reads with owner full control', async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'acl-bucket' }));
        const acl = await s3.send(new GetBucketAclCommand({ Bucket: 'acl-bucket' }));
        assert.equal(acl.Grants?.[0]?.Permission, 'FULL_CONTROL');
        await s3.send(new PutObjectCommand({ Bucket: 'acl-bucket', Key: 'o', Body: 'o', ACL: 'private' }));
        const objectAcl = await s3.send(new GetObjectAclCommand({ Bucket: 'acl-bucket', Key: 'o' }));
        assert.equal(objectAcl.Grants?.[0]?.Permission, 'FULL_CONTROL');
        const refused = await s3Code(
          s3.send(new PutObjectCommand({ Bucket: 'acl-bucket', Key: 'p', Body: 'p', ACL: 'public-read' })),
        );
        assert.equal(refused.code, 'AccessControlListNotSupported');
      });
    });

    describe('objects', () => {
      before(async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'objects' }));
      });

      it('round-trips bytes, user metadata and representation headers', async () => {
        const body = randomBytes(100_000);
        const put = await s3.send(
          new PutObjectCommand({
            Bucket: 'objects',
            Key: 'docs/report.bin',
            Body: body,
            ContentType: 'application/x-report',
            ContentEncoding: 'identity',
            ContentLanguage: 'vi',
            ContentDisposition: 'attachment; filename="r.bin"',
            CacheControl: 'max-age=60',
            Expires: new Date('2030-01-01T00:00:00Z'),
            Metadata: { agency: 'moh', 'case-number': '42' },
          }),
        );
        assert.equal(put.ETag, `"${md5(body)}"`);
        const got = await s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'docs/report.bin' }));
        assert.deepEqual(await bodyBytes(got.Body), body);
        assert.equal(got.ContentType, 'application/x-report');
        assert.equal(got.ContentLanguage, 'vi');
        assert.equal(got.ContentDisposition, 'attachment; filename="r.bin"');
        assert.equal(got.CacheControl, 'max-age=60');
        assert.equal(got.ContentEncoding, 'identity');
        assert.equal(got.Expires?.toISOString(), '2030-01-01T00:00:00.000Z');
        assert.deepEqual(got.Metadata, { agency: 'moh', 'case-number': '42' });
        assert.equal(got.ContentLength, body.length);
        const head = await s3.send(new HeadObjectCommand({ Bucket: 'objects', Key: 'docs/report.bin' }));
        assert.equal(head.ETag, put.ETag);
        assert.equal(head.ContentLength, body.length);
      });

      it('streams a 24 MiB body sent as aws-chunked with a trailing checksum', async () => {
        const body = randomBytes(24 * MiB);
        const put = await s3.send(
          new PutObjectCommand({
            Bucket: 'objects',
            Key: 'big/stream.bin',
            Body: Readable.from([body.subarray(0, 10 * MiB), body.subarray(10 * MiB)]),
            ContentLength: body.length,
          }),
        );
        assert.equal(put.ETag, `"${md5(body)}"`);
        const got = await s3.send(
          new GetObjectCommand({ Bucket: 'objects', Key: 'big/stream.bin', ChecksumMode: 'ENABLED' }),
        );
        const bytes = await bodyBytes(got.Body);
        assert.equal(md5(bytes), md5(body));
        assert.ok(got.ChecksumCRC32 !== undefined, 'the trailing CRC32 is stored and returned');
      });

      it('serves byte ranges: bounded, open-ended and suffix (206), and 416 past the end', async () => {
        const body = Buffer.from('0123456789abcdefghij');
        await s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'range', Body: body }));
        const cases: [string, string, string][] = [
          ['bytes=0-4', '01234', 'bytes 0-4/20'],
          ['bytes=15-', 'fghij', 'bytes 15-19/20'],
          ['bytes=-3', 'hij', 'bytes 17-19/20'],
          ['bytes=18-100', 'ij', 'bytes 18-19/20'],
        ];
        for (const [range, expected, contentRange] of cases) {
          const got = await s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'range', Range: range }));
          assert.equal((await bodyBytes(got.Body)).toString(), expected, range);
          assert.equal(got.ContentRange, contentRange);
          assert.equal(got.$metadata.httpStatusCode, 206);
        }
        const failure = await s3Code(
          s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'range', Range: 'bytes=20-30' })),
        );
        assert.equal(failure.code, 'InvalidRange');
        assert.equal(failure.status, 416);
      });

      it('ranges across frame and part boundaries of a large object return exact bytes', async () => {
        const body = randomBytes(3 * MiB + 123);
        await s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'range-large', Body: body }));
        for (const [start, end] of [
          [0, 0],
          [262_143, 262_144],
          [1_000_000, 2_500_000],
          [body.length - 5, body.length - 1],
        ] as const) {
          const got = await s3.send(
            new GetObjectCommand({ Bucket: 'objects', Key: 'range-large', Range: `bytes=${start}-${end}` }),
          );
          assert.deepEqual(await bodyBytes(got.Body), body.subarray(start, end + 1));
        }
      });

      it('applies GET conditions: 304 for If-None-Match and If-Modified-Since, 412 for If-Match and If-Unmodified-Since', async () => {
        const put = await s3.send(
          new PutObjectCommand({ Bucket: 'objects', Key: 'cond', Body: 'conditional' }),
        );
        const past = new Date(Date.now() - 3600_000);
        const future = new Date(Date.now() + 3600_000);
        assert.equal(
          (
            await s3Code(
              s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'cond', IfNoneMatch: put.ETag! })),
            )
          ).status,
          304,
        );
        assert.equal(
          (
            await s3Code(
              s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'cond', IfModifiedSince: future })),
            )
          ).status,
          304,
        );
        assert.equal(
          (await s3Code(s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'cond', IfMatch: '"nope"' }))))
            .code,
          'PreconditionFailed',
        );
        assert.equal(
          (
            await s3Code(
              s3.send(new HeadObjectCommand({ Bucket: 'objects', Key: 'cond', IfUnmodifiedSince: past })),
            )
          ).status,
          412,
        );
        const ok = await s3.send(
          new GetObjectCommand({ Bucket: 'objects', Key: 'cond', IfMatch: put.ETag!, IfModifiedSince: past }),
        );
        assert.equal((await bodyBytes(ok.Body)).toString(), 'conditional');
      });

      it('conditional writes: If-None-Match * refuses to overwrite, If-Match refuses a stale ETag', async () => {
        await s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'cw', Body: 'v1', IfNoneMatch: '*' }));
        assert.equal(
          (
            await s3Code(
              s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'cw', Body: 'v2', IfNoneMatch: '*' })),
            )
          ).status,
          412,
        );
        assert.equal(
          (
            await s3Code(
              s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'cw', Body: 'v2', IfMatch: '"0000"' })),
            )
          ).status,
          412,
        );
        const head = await s3.send(new HeadObjectCommand({ Bucket: 'objects', Key: 'cw' }));
        await s3.send(
          new PutObjectCommand({ Bucket: 'objects', Key: 'cw', Body: 'v2', IfMatch: head.ETag! }),
        );
        const got = await s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'cw' }));
        assert.equal((await bodyBytes(got.Body)).toString(), 'v2');
      });

      it('GET response-header overrides replace the stored headers', async () => {
        await s3.send(
          new PutObjectCommand({ Bucket: 'objects', Key: 'override', Body: 'x', ContentType: 'text/plain' }),
        );
        const got = await s3.send(
          new GetObjectCommand({
            Bucket: 'objects',
            Key: 'override',
            ResponseContentType: 'application/json',
            ResponseContentDisposition: 'inline',
            ResponseCacheControl: 'no-store',
          }),
        );
        assert.equal(got.ContentType, 'application/json');
        assert.equal(got.ContentDisposition, 'inline');
        assert.equal(got.CacheControl, 'no-store');
      });

      it('stores keys with .., //, a leading /, unicode, control characters and 1,024 bytes exactly', async () => {
        const keys = [
          '../../etc/passwd',
          'a//b',
          '/leading',
          'Tài liệu/文件/📄.txt',
          'tab\tnew\nline',
          'k'.repeat(1024),
          'é'.repeat(512),
          '..',
          '.',
          'sp ace+plus%25',
        ];
        for (const key of keys) {
          await s3.send(new PutObjectCommand({ Bucket: 'objects', Key: key, Body: `body of ${key.length}` }));
          const got = await s3.send(new GetObjectCommand({ Bucket: 'objects', Key: key }));
          assert.equal((await bodyBytes(got.Body)).toString(), `body of ${key.length}`, JSON.stringify(key));
        }
        const listed = await s3.send(
          new ListObjectsV2Command({ Bucket: 'objects', Prefix: '../', EncodingType: 'url' }),
        );
        assert.deepEqual(
          listed.Contents?.map((c) => decodeURIComponent(c.Key!)),
          ['../../etc/passwd'],
        );
        const tooLong = await s3Code(
          s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'k'.repeat(1025), Body: 'x' })),
        );
        assert.equal(tooLong.code, 'KeyTooLongError');
      });

      it('missing objects fail with NoSuchKey and a request id', async () => {
        const failure = await s3Code(s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'missing' })));
        assert.equal(failure.code, 'NoSuchKey');
        assert.equal(failure.status, 404);
        assert.match(failure.requestId ?? '', /^[0-9A-F]{16}$/);
      });

      it('deletes objects singly (idempotently) and in batches, quiet mode reporting only errors', async () => {
        for (const key of ['d1', 'd2', 'd3'])
          await s3.send(new PutObjectCommand({ Bucket: 'objects', Key: key, Body: key }));
        await s3.send(new DeleteObjectCommand({ Bucket: 'objects', Key: 'd1' }));
        await s3.send(new DeleteObjectCommand({ Bucket: 'objects', Key: 'd1' }));
        const batch = await s3.send(
          new DeleteObjectsCommand({
            Bucket: 'objects',
            Delete: { Objects: [{ Key: 'd2' }, { Key: 'never' }] },
          }),
        );
        assert.deepEqual(batch.Deleted?.map((d) => d.Key).sort(), ['d2', 'never']);
        const quiet = await s3.send(
          new DeleteObjectsCommand({ Bucket: 'objects', Delete: { Objects: [{ Key: 'd3' }], Quiet: true } }),
        );
        assert.equal(quiet.Deleted, undefined);
        assert.equal(
          (await s3Code(s3.send(new HeadObjectCommand({ Bucket: 'objects', Key: 'd3' })))).status,
          404,
        );
      });

      it('a wrong x-amz-checksum or Content-MD5 fails with BadDigest and stores nothing', async () => {
        const wrongSha = await s3Code(
          s3.send(
            new PutObjectCommand({
              Bucket: 'objects',
              Key: 'bad-sum',
              Body: 'hello',
              ChecksumSHA256: createHash('sha256').update('other').digest('base64'),
            }),
          ),
        );
        assert.equal(wrongSha.code, 'BadDigest');
        const wrongMd5 = await s3Code(
          s3.send(
            new PutObjectCommand({
              Bucket: 'objects',
              Key: 'bad-sum',
              Body: 'hello',
              ContentMD5: createHash('md5').update('other').digest('base64'),
            }),
          ),
        );
        assert.equal(wrongMd5.code, 'BadDigest');
        assert.equal(
          (await s3Code(s3.send(new HeadObjectCommand({ Bucket: 'objects', Key: 'bad-sum' })))).status,
          404,
        );
      });

      it('stores every checksum algorithm and returns it with ChecksumMode ENABLED', async () => {
        for (const algorithm of ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const) {
          const key = `sum-${algorithm}`;
          const put = await s3.send(
            new PutObjectCommand({
              Bucket: 'objects',
              Key: key,
              Body: 'checksummed',
              ChecksumAlgorithm: algorithm,
            }),
          );
          const head = await s3.send(
            new HeadObjectCommand({ Bucket: 'objects', Key: key, ChecksumMode: 'ENABLED' }),
          );
          const field = `Checksum${algorithm}` as const;
          assert.ok(put[field] !== undefined, `${algorithm} returned on PUT`);
          assert.equal(head[field], put[field], algorithm);
        }
      });

      it('copies objects with metadata COPY and REPLACE, across buckets, honouring copy-source conditions', async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'copy-target' }));
        const put = await s3.send(
          new PutObjectCommand({
            Bucket: 'objects',
            Key: 'src',
            Body: 'source body',
            ContentType: 'text/plain',
            Metadata: { a: '1' },
          }),
        );
        await s3.send(
          new CopyObjectCommand({ Bucket: 'copy-target', Key: 'copied', CopySource: 'objects/src' }),
        );
        const copied = await s3.send(new GetObjectCommand({ Bucket: 'copy-target', Key: 'copied' }));
        assert.equal((await bodyBytes(copied.Body)).toString(), 'source body');
        assert.deepEqual(copied.Metadata, { a: '1' });
        assert.equal(copied.ContentType, 'text/plain');
        await s3.send(
          new CopyObjectCommand({
            Bucket: 'objects',
            Key: 'src',
            CopySource: 'objects/src',
            MetadataDirective: 'REPLACE',
            Metadata: { b: '2' },
            ContentType: 'text/x',
          }),
        );
        const replaced = await s3.send(new HeadObjectCommand({ Bucket: 'objects', Key: 'src' }));
        assert.deepEqual(replaced.Metadata, { b: '2' });
        assert.equal(replaced.ContentType, 'text/x');
        const toSelf = await s3Code(
          s3.send(new CopyObjectCommand({ Bucket: 'objects', Key: 'src', CopySource: 'objects/src' })),
        );
        assert.equal(toSelf.code, 'InvalidRequest');
        const stale = await s3Code(
          s3.send(
            new CopyObjectCommand({
              Bucket: 'copy-target',
              Key: 'c2',
              CopySource: 'objects/src',
              CopySourceIfNoneMatch: put.ETag!,
            }),
          ),
        );
        assert.equal(stale.code, 'PreconditionFailed');
        const encoded = await s3.send(
          new PutObjectCommand({ Bucket: 'objects', Key: 'with space/ü', Body: 'enc' }),
        );
        assert.ok(encoded.ETag);
        await s3.send(
          new CopyObjectCommand({
            Bucket: 'copy-target',
            Key: 'c3',
            CopySource: `objects/${encodeURIComponent('with space/ü')}`,
          }),
        );
        const c3 = await s3.send(new GetObjectCommand({ Bucket: 'copy-target', Key: 'c3' }));
        assert.equal((await bodyBytes(c3.Body)).toString(), 'enc');
      });
    });

    describe('listing', () => {
      before(async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'listing' }));
        const keys = ['a', 'b/1', 'b/2', 'b/c/3', 'c', 'é', 'z', '😀', 'Z', 'b/d/4'];
        for (const key of keys)
          await s3.send(new PutObjectCommand({ Bucket: 'listing', Key: key, Body: key }));
      });

      it('lists keys in UTF-8 byte order', async () => {
        const all = await s3.send(new ListObjectsV2Command({ Bucket: 'listing' }));
        assert.deepEqual(
          all.Contents?.map((c) => c.Key),
          ['Z', 'a', 'b/1', 'b/2', 'b/c/3', 'b/d/4', 'c', 'z', 'é', '😀'],
        );
        assert.equal(all.KeyCount, 10);
      });

      it('groups by delimiter into CommonPrefixes and honours prefix', async () => {
        const top = await s3.send(new ListObjectsV2Command({ Bucket: 'listing', Delimiter: '/' }));
        assert.deepEqual(
          top.CommonPrefixes?.map((p) => p.Prefix),
          ['b/'],
        );
        assert.deepEqual(
          top.Contents?.map((c) => c.Key),
          ['Z', 'a', 'c', 'z', 'é', '😀'],
        );
        const inner = await s3.send(
          new ListObjectsV2Command({ Bucket: 'listing', Delimiter: '/', Prefix: 'b/' }),
        );
        assert.deepEqual(
          inner.Contents?.map((c) => c.Key),
          ['b/1', 'b/2'],
        );
        assert.deepEqual(
          inner.CommonPrefixes?.map((p) => p.Prefix),
          ['b/c/', 'b/d/'],
        );
      });

      it('paginates v2 with continuation tokens and start-after, and v1 with markers', async () => {
        const seen: string[] = [];
        let token: string | undefined;
        do {
          const page = await s3.send(
            new ListObjectsV2Command({
              Bucket: 'listing',
              MaxKeys: 3,
              ContinuationToken: token,
              Delimiter: '/',
            }),
          );
          for (const c of page.Contents ?? []) seen.push(c.Key!);
          for (const p of page.CommonPrefixes ?? []) seen.push(p.Prefix!);
          token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
        } while (token !== undefined);
        assert.deepEqual(seen, ['Z', 'a', 'b/', 'c', 'z', 'é', '😀']);
        const after = await s3.send(new ListObjectsV2Command({ Bucket: 'listing', StartAfter: 'c' }));
        assert.deepEqual(
          after.Contents?.map((c) => c.Key),
          ['z', 'é', '😀'],
        );
        const v1 = await s3.send(new ListObjectsCommand({ Bucket: 'listing', Marker: 'b/d/4', MaxKeys: 2 }));
        assert.deepEqual(
          v1.Contents?.map((c) => c.Key),
          ['c', 'z'],
        );
        assert.equal(v1.IsTruncated, true);
        const bad = await s3Code(
          s3.send(new ListObjectsV2Command({ Bucket: 'listing', ContinuationToken: '!!not-a-token' })),
        );
        assert.equal(bad.code, 'InvalidArgument');
      });

      it('url-encodes keys with encoding-type=url', async () => {
        const listed = await s3.send(
          new ListObjectsV2Command({ Bucket: 'listing', Prefix: 'é', EncodingType: 'url' }),
        );
        assert.equal(listed.Contents?.[0]?.Key, '%C3%A9');
      });
    });

    describe('multipart uploads', () => {
      before(async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'multipart' }));
      });

      it('uploads, lists and completes parts into an object with an md5-of-md5s-N ETag', async () => {
        const part1 = randomBytes(5 * MiB);
        const part2 = randomBytes(1234);
        const created = await s3.send(
          new CreateMultipartUploadCommand({
            Bucket: 'multipart',
            Key: 'mp/object',
            ContentType: 'application/x-mp',
            Metadata: { m: 'p' },
          }),
        );
        const uploadId = created.UploadId!;
        const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: 'multipart' }));
        assert.ok(uploads.Uploads?.some((u) => u.UploadId === uploadId));
        const p1 = await s3.send(
          new UploadPartCommand({
            Bucket: 'multipart',
            Key: 'mp/object',
            UploadId: uploadId,
            PartNumber: 1,
            Body: part1,
          }),
        );
        const p2 = await s3.send(
          new UploadPartCommand({
            Bucket: 'multipart',
            Key: 'mp/object',
            UploadId: uploadId,
            PartNumber: 2,
            Body: part2,
          }),
        );
        const parts = await s3.send(
          new ListPartsCommand({ Bucket: 'multipart', Key: 'mp/object', UploadId: uploadId }),
        );
        assert.deepEqual(
          parts.Parts?.map((p) => [p.PartNumber, p.Size]),
          [
            [1, 5 * MiB],
            [2, 1234],
          ],
        );
        const done = await s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: 'multipart',
            Key: 'mp/object',
            UploadId: uploadId,
            MultipartUpload: {
              Parts: [
                { PartNumber: 1, ETag: p1.ETag! },
                { PartNumber: 2, ETag: p2.ETag! },
              ],
            },
          }),
        );
        const expected = createHash('md5')
          .update(Buffer.concat([Buffer.from(md5(part1), 'hex'), Buffer.from(md5(part2), 'hex')]))
          .digest('hex');
        assert.equal(done.ETag, `"${expected}-2"`);
        const got = await s3.send(new GetObjectCommand({ Bucket: 'multipart', Key: 'mp/object' }));
        assert.equal(md5(await bodyBytes(got.Body)), md5(Buffer.concat([part1, part2])));
        assert.equal(got.ContentType, 'application/x-mp');
        assert.deepEqual(got.Metadata, { m: 'p' });
        const part2Only = await s3.send(
          new GetObjectCommand({ Bucket: 'multipart', Key: 'mp/object', PartNumber: 2 }),
        );
        assert.deepEqual(await bodyBytes(part2Only.Body), part2);
        assert.equal(part2Only.PartsCount, 2);
        const again = await s3Code(
          s3.send(
            new CompleteMultipartUploadCommand({
              Bucket: 'multipart',
              Key: 'mp/object',
              UploadId: uploadId,
              MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag! }] },
            }),
          ),
        );
        assert.equal(again.code, 'NoSuchUpload');
      });

      it('refuses small parts, unknown parts and out-of-order lists', async () => {
        const { UploadId } = await s3.send(
          new CreateMultipartUploadCommand({ Bucket: 'multipart', Key: 'mp/bad' }),
        );
        const p1 = await s3.send(
          new UploadPartCommand({
            Bucket: 'multipart',
            Key: 'mp/bad',
            UploadId,
            PartNumber: 1,
            Body: 'small',
          }),
        );
        const p2 = await s3.send(
          new UploadPartCommand({
            Bucket: 'multipart',
            Key: 'mp/bad',
            UploadId,
            PartNumber: 2,
            Body: 'small',
          }),
        );
        const complete = (parts: { PartNumber: number; ETag: string }[]) =>
          s3Code(
            s3.send(
              new CompleteMultipartUploadCommand({
                Bucket: 'multipart',
                Key: 'mp/bad',
                UploadId,
                MultipartUpload: { Parts: parts },
              }),
            ),
          );
        assert.equal(
          (
            await complete([
              { PartNumber: 1, ETag: p1.ETag! },
              { PartNumber: 2, ETag: p2.ETag! },
            ])
          ).code,
          'EntityTooSmall',
        );
        assert.equal(
          (
            await complete([
              { PartNumber: 2, ETag: p2.ETag! },
              { PartNumber: 1, ETag: p1.ETag! },
            ])
          ).code,
          'InvalidPartOrder',
        );
        assert.equal((await complete([{ PartNumber: 3, ETag: p1.ETag! }])).code, 'InvalidPart');
        assert.equal((await complete([{ PartNumber: 1, ETag: '"ffff"' }])).code, 'InvalidPart');
        const badNumber = await s3Code(
          s3.send(
            new UploadPartCommand({
              Bucket: 'multipart',
              Key: 'mp/bad',
              UploadId,
              PartNumber: 10001,
              Body: 'x',
            }),
          ),
        );
        assert.equal(badNumber.code, 'InvalidArgument');
        await s3.send(new AbortMultipartUploadCommand({ Bucket: 'multipart', Key: 'mp/bad', UploadId }));
        const gone = await s3Code(
          s3.send(
            new UploadPartCommand({ Bucket: 'multipart', Key: 'mp/bad', UploadId, PartNumber: 1, Body: 'x' }),
          ),
        );
        assert.equal(gone.code, 'NoSuchUpload');
      });

      it('copies byte ranges of an object into parts (UploadPartCopy)', async () => {
        const source = randomBytes(6 * MiB);
        await s3.send(new PutObjectCommand({ Bucket: 'multipart', Key: 'copy-source', Body: source }));
        const { UploadId } = await s3.send(
          new CreateMultipartUploadCommand({ Bucket: 'multipart', Key: 'mp/copied' }),
        );
        const c1 = await s3.send(
          new UploadPartCopyCommand({
            Bucket: 'multipart',
            Key: 'mp/copied',
            UploadId,
            PartNumber: 1,
            CopySource: 'multipart/copy-source',
            CopySourceRange: `bytes=0-${5 * MiB - 1}`,
          }),
        );
        const c2 = await s3.send(
          new UploadPartCopyCommand({
            Bucket: 'multipart',
            Key: 'mp/copied',
            UploadId,
            PartNumber: 2,
            CopySource: 'multipart/copy-source',
            CopySourceRange: `bytes=${5 * MiB}-${6 * MiB - 1}`,
          }),
        );
        await s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: 'multipart',
            Key: 'mp/copied',
            UploadId,
            MultipartUpload: {
              Parts: [
                { PartNumber: 1, ETag: c1.CopyPartResult!.ETag! },
                { PartNumber: 2, ETag: c2.CopyPartResult!.ETag! },
              ],
            },
          }),
        );
        const got = await s3.send(new GetObjectCommand({ Bucket: 'multipart', Key: 'mp/copied' }));
        assert.equal(md5(await bodyBytes(got.Body)), md5(source));
      });

      it('returns a composite checksum for multipart uploads with a checksum algorithm', async () => {
        const { UploadId } = await s3.send(
          new CreateMultipartUploadCommand({
            Bucket: 'multipart',
            Key: 'mp/sum',
            ChecksumAlgorithm: 'SHA256',
          }),
        );
        const body = randomBytes(5 * MiB);
        const p1 = await s3.send(
          new UploadPartCommand({
            Bucket: 'multipart',
            Key: 'mp/sum',
            UploadId,
            PartNumber: 1,
            Body: body,
            ChecksumAlgorithm: 'SHA256',
          }),
        );
        const p2 = await s3.send(
          new UploadPartCommand({
            Bucket: 'multipart',
            Key: 'mp/sum',
            UploadId,
            PartNumber: 2,
            Body: 'tail',
            ChecksumAlgorithm: 'SHA256',
          }),
        );
        const done = await s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: 'multipart',
            Key: 'mp/sum',
            UploadId,
            MultipartUpload: {
              Parts: [
                { PartNumber: 1, ETag: p1.ETag!, ChecksumSHA256: p1.ChecksumSHA256! },
                { PartNumber: 2, ETag: p2.ETag!, ChecksumSHA256: p2.ChecksumSHA256! },
              ],
            },
          }),
        );
        const composite = createHash('sha256')
          .update(
            Buffer.concat([
              Buffer.from(p1.ChecksumSHA256!, 'base64'),
              Buffer.from(p2.ChecksumSHA256!, 'base64'),
            ]),
          )
          .digest('base64');
        assert.equal(done.ChecksumSHA256, `${composite}-2`);
      });
    });

    describe('versioning basics', () => {
      it('versioned buckets keep versions and delete markers', async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'versioned' }));
        await s3.send(
          new PutBucketVersioningCommand({
            Bucket: 'versioned',
            VersioningConfiguration: { Status: 'Enabled' },
          }),
        );
        assert.equal(
          (await s3.send(new GetBucketVersioningCommand({ Bucket: 'versioned' }))).Status,
          'Enabled',
        );
        const v1 = await s3.send(new PutObjectCommand({ Bucket: 'versioned', Key: 'doc', Body: 'one' }));
        const v2 = await s3.send(new PutObjectCommand({ Bucket: 'versioned', Key: 'doc', Body: 'two' }));
        assert.notEqual(v1.VersionId, v2.VersionId);
        const del = await s3.send(new DeleteObjectCommand({ Bucket: 'versioned', Key: 'doc' }));
        assert.equal(del.DeleteMarker, true);
        assert.equal(
          (await s3Code(s3.send(new GetObjectCommand({ Bucket: 'versioned', Key: 'doc' })))).code,
          'NoSuchKey',
        );
        const old = await s3.send(
          new GetObjectCommand({ Bucket: 'versioned', Key: 'doc', VersionId: v1.VersionId }),
        );
        assert.equal((await bodyBytes(old.Body)).toString(), 'one');
        const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: 'versioned' }));
        assert.equal(versions.Versions?.length, 2);
        assert.equal(versions.DeleteMarkers?.length, 1);
      });
    });

    describe('authentication', () => {
      it('a wrong secret fails with SignatureDoesNotMatch, an unknown key with InvalidAccessKeyId', async () => {
        const wrong = sovra.client({
          credentials: {
            accessKeyId: sovra.credentials.accessKeyId,
            secretAccessKey: 'wrong-secret-wrong-secret-wrong-secret00',
          },
        });
        assert.equal((await s3Code(wrong.send(new ListBucketsCommand({})))).code, 'SignatureDoesNotMatch');
        const unknown = sovra.client({
          credentials: { accessKeyId: 'SVRAUNKNOWNKEY000000', secretAccessKey: 'x'.repeat(40) },
        });
        assert.equal((await s3Code(unknown.send(new ListBucketsCommand({})))).code, 'InvalidAccessKeyId');
      });

      it('anonymous requests are denied', async () => {
        const response = await fetch(`${sovra.endpoint}/objects/docs/report.bin`);
        assert.equal(response.status, 403);
        assert.match(await response.text(), /<Code>AccessDenied<\/Code>/);
        assert.match(response.headers.get('x-amz-request-id') ?? '', /^[0-9A-F]{16}$/);
      });

      it('presigned URLs work for GET and PUT and expire', async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'presigned' }));
        // Without WHEN_REQUIRED the presigner signs a CRC32 of an empty body into the URL.
        const presigner = sovra.client({ requestChecksumCalculation: 'WHEN_REQUIRED' });
        const putUrl = await getSignedUrl(
          presigner,
          new PutObjectCommand({ Bucket: 'presigned', Key: 'p' }),
          { expiresIn: 60 },
        );
        const put = await fetch(putUrl, { method: 'PUT', body: 'presigned body' });
        assert.equal(put.status, 200, await put.text());
        const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'presigned', Key: 'p' }), {
          expiresIn: 60,
        });
        const got = await fetch(getUrl);
        assert.equal(await got.text(), 'presigned body');
        const expiredUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'presigned', Key: 'p' }), {
          expiresIn: 1,
          signingDate: new Date(Date.now() - 10_000),
        });
        const expired = await fetch(expiredUrl);
        assert.equal(expired.status, 403);
        const tooLong = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'presigned', Key: 'p' }), {
          expiresIn: 8 * 24 * 3600,
        }).catch(() => null);
        if (tooLong !== null) assert.equal((await fetch(tooLong)).status, 400);
      });

      it('requests signed with a skewed clock fail with RequestTimeTooSkewed', async () => {
        // The SDK corrects its clock after a skew error and retries; one attempt shows the error.
        const skewed = sovra.client({ systemClockOffset: -3600_000, maxAttempts: 1 });
        const failure = await s3Code(skewed.send(new ListBucketsCommand({})));
        assert.equal(failure.code, 'RequestTimeTooSkewed');
      });
    });
  });
}
