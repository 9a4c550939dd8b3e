import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3ServiceException,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { removeDir, startSovra, type SovraProcess } from '../helpers/sovra-process.ts';

const MiB = 1024 * 1024;

function md5(data: Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

async function readObject(s3: S3Client, bucket: string, key: string): Promise<Buffer | null> {
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await got.Body!.transformToByteArray());
  } catch (error) {
    if (error instanceof S3ServiceException && error.name === 'NoSuchKey') return null;
    throw error;
  }
}

describe('crash safety: kill -9 during writes', () => {
  const cleanups: (() => void)[] = [];
  after(() => {
    for (const cleanup of cleanups) cleanup();
  });

  it('every acknowledged object reads back intact after kill -9 during large uploads, and no partial object is visible', async () => {
    let sovra: SovraProcess = await startSovra();
    const dataDir = sovra.dataDir;
    cleanups.push(() => removeDir(dataDir));
    let s3 = sovra.client({ maxAttempts: 1 });
    await s3.send(new CreateBucketCommand({ Bucket: 'crash' }));
    const bodies = new Map<string, Buffer>();
    const acknowledged = new Set<string>();
    const uploads: Promise<void>[] = [];
    for (let i = 0; i < 12; i++) {
      const key = `object-${i}`;
      const body = randomBytes((i % 3 === 0 ? 1 : 12) * MiB + i);
      bodies.set(key, body);
      uploads.push(
        s3.send(new PutObjectCommand({ Bucket: 'crash', Key: key, Body: body })).then(
          () => void acknowledged.add(key),
          () => undefined,
        ),
      );
    }
    // Kill once some, but not all, writes have been acknowledged.
    const deadline = Date.now() + 20_000;
    while (acknowledged.size < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await sovra.kill();
    await Promise.all(uploads);
    assert.ok(acknowledged.size >= 3, 'some uploads were acknowledged before the crash');

    sovra = await startSovra({ dataDir });
    s3 = sovra.client();
    for (const [key, body] of bodies) {
      const stored = await readObject(s3, 'crash', key);
      if (acknowledged.has(key))
        assert.ok(stored !== null && md5(stored) === md5(body), `acknowledged ${key} is intact`);
      else if (stored !== null) assert.equal(md5(stored), md5(body), `${key} is either absent or complete`);
    }
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'crash' }));
    for (const entry of listed.Contents ?? []) {
      assert.equal(entry.Size, bodies.get(entry.Key!)!.length, `listed ${entry.Key} has its full size`);
    }
    assert.deepEqual(readdirSync(join(dataDir, 'tmp')), [], 'temporary data is cleaned at start');
    s3.destroy();
    await sovra.stop();
  });

  it('kill -9 during CompleteMultipartUpload leaves either the whole object or the resumable upload', async () => {
    let sovra: SovraProcess = await startSovra();
    const dataDir = sovra.dataDir;
    cleanups.push(() => removeDir(dataDir));
    let s3 = sovra.client({ maxAttempts: 1 });
    await s3.send(new CreateBucketCommand({ Bucket: 'crash-mp' }));
    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(MiB)];
    const whole = Buffer.concat(parts);
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'crash-mp', Key: 'mp' }));
    const etags: string[] = [];
    for (const [index, part] of parts.entries()) {
      const result = await s3.send(
        new UploadPartCommand({ Bucket: 'crash-mp', Key: 'mp', UploadId, PartNumber: index + 1, Body: part }),
      );
      etags.push(result.ETag!);
    }
    const completing = s3
      .send(
        new CompleteMultipartUploadCommand({
          Bucket: 'crash-mp',
          Key: 'mp',
          UploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
        }),
      )
      .then(
        () => true,
        () => false,
      );
    await new Promise((r) => setTimeout(r, 2));
    await sovra.kill();
    const completed = await completing;

    sovra = await startSovra({ dataDir });
    s3 = sovra.client();
    const stored = await readObject(s3, 'crash-mp', 'mp');
    if (completed) assert.ok(stored !== null, 'an acknowledged completion survives');
    if (stored !== null) {
      assert.equal(md5(stored), md5(whole), 'the completed object is whole');
      const head = await s3.send(new HeadObjectCommand({ Bucket: 'crash-mp', Key: 'mp' }));
      assert.equal(head.ContentLength, whole.length);
    } else {
      const pending = await s3.send(new ListMultipartUploadsCommand({ Bucket: 'crash-mp' }));
      assert.ok(
        pending.Uploads?.some((u) => u.UploadId === UploadId),
        'the upload can still be completed',
      );
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'crash-mp',
          Key: 'mp',
          UploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
        }),
      );
      assert.equal(md5((await readObject(s3, 'crash-mp', 'mp'))!), md5(whole));
    }
    s3.destroy();
    await sovra.stop();
  });
});
