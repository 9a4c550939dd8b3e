import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { errorCode, pathWithQuery, send, sendRaw, signRequest } from '../helpers/raw-s3.ts';
import { removeDir, startSovra, type SovraProcess } from '../helpers/sovra-process.ts';

describe('hostile and malformed input gets clean S3 errors and never corrupts data', () => {
  let sovra: SovraProcess;
  let s3: S3Client;

  before(async () => {
    sovra = await startSovra();
    s3 = sovra.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'hostile' }));
  });
  after(async () => {
    s3?.destroy();
    await sovra?.stop();
    if (sovra !== undefined) removeDir(sovra.dataDir);
  });

  async function signedSend(
    method: string,
    path: string,
    query: Record<string, string>,
    headers: Record<string, string>,
    body?: Buffer | string,
    payloadHash?: string,
  ) {
    const signed = await signRequest(sovra, {
      method,
      path,
      query,
      headers,
      ...(payloadHash === undefined ? {} : { payloadHash }),
    });
    return send(sovra, method, pathWithQuery(path, query), signed, body);
  }

  it('malformed XML bodies fail with MalformedXML', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'hostile', Key: 'mp' }));
    for (const body of [
      '<CompleteMultipartUpload><Part>',
      'not xml at all',
      '<Wrong/>',
      '<CompleteMultipartUpload><Part><PartNumber>x</PartNumber></Part></CompleteMultipartUpload>',
    ]) {
      const response = await signedSend(
        'POST',
        '/hostile/mp',
        { uploadId: UploadId! },
        { 'content-length': String(Buffer.byteLength(body)) },
        body,
      );
      assert.equal(response.status, 400, body);
      assert.equal(errorCode(response.body), 'MalformedXML', body);
    }
    const deleteBody = '<Delete><Object></Object></Delete>';
    const md5 = createHash('md5').update(deleteBody).digest('base64');
    const response = await signedSend(
      'POST',
      '/hostile',
      { delete: '' },
      { 'content-md5': md5, 'content-length': String(deleteBody.length) },
      deleteBody,
    );
    assert.equal(errorCode(response.body), 'MalformedXML');
  });

  it('a body that does not match x-amz-content-sha256 fails with XAmzContentSHA256Mismatch and stores nothing', async () => {
    const claimed = createHash('sha256').update('expected body').digest('hex');
    const response = await signedSend(
      'PUT',
      '/hostile/sha',
      {},
      { 'content-length': '10' },
      'other body',
      claimed,
    );
    assert.equal(response.status, 400);
    assert.equal(errorCode(response.body), 'XAmzContentSHA256Mismatch');
    await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: 'hostile', Key: 'sha' })));
  });

  it('a garbled Authorization header is refused without a crash', async () => {
    for (const authorization of [
      'AWS4-HMAC-SHA256 garbage',
      'AWS AKIA:sig',
      'Bearer x',
      'AWS4-HMAC-SHA256 Credential=/, SignedHeaders=, Signature=',
    ]) {
      const response = await send(sovra, 'GET', '/hostile', {
        authorization,
        'x-amz-date': '20260101T000000Z',
        'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      });
      assert.ok(response.status === 400 || response.status === 403, `${authorization}: ${response.status}`);
      assert.ok(errorCode(response.body) !== null);
    }
  });

  it('oversized request headers get 431 or a closed connection, and the server keeps serving', async () => {
    const big = 'x'.repeat(64 * 1024);
    const reply = await sendRaw(
      sovra.port,
      `GET /hostile HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${big}\r\n\r\n`,
    );
    assert.ok(reply === '' || reply.startsWith('HTTP/1.1 431'), reply.slice(0, 40));
    await s3.send(new ListBucketsCommand({}));
  });

  it('a client that disconnects mid-upload leaves no object and no temporary file', async () => {
    const signed = await signRequest(sovra, {
      method: 'PUT',
      path: '/hostile/cut',
      headers: { 'content-length': String(10 * 1024 * 1024) },
    });
    const head = `PUT /hostile/cut HTTP/1.1\r\n${Object.entries(signed)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\r\n')}\r\n\r\n`;
    await sendRaw(sovra.port, Buffer.concat([Buffer.from(head), Buffer.alloc(300 * 1024, 1)]), {
      endAfterWrite: true,
      timeoutMs: 500,
    });
    await new Promise((r) => setTimeout(r, 300));
    await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: 'hostile', Key: 'cut' })));
    assert.deepEqual(readdirSync(join(sovra.dataDir, 'tmp')), []);
  });

  it('downloads a client abandons or reads slowly close their files and never send wrong bytes', async () => {
    const body = Buffer.alloc(12 * 1024 * 1024);
    for (let at = 0; at < body.length; at += 4) body.writeUInt32BE(at, at);
    await s3.send(new PutObjectCommand({ Bucket: 'hostile', Key: 'download', Body: body }));
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'hostile', Key: 'download' }), {
      expiresIn: 600,
    });
    const blobFilesOpen = () =>
      readdirSync(`/proc/${sovra.child.pid}/fd`).filter((fd) => {
        try {
          return readlinkSync(`/proc/${sovra.child.pid}/fd/${fd}`).includes(join(sovra.dataDir, 'blobs'));
        } catch {
          return false;
        }
      }).length;
    // Abandoned after the first chunk, five times.
    for (let round = 0; round < 5; round += 1) {
      await new Promise<void>((resolve, reject) => {
        const req = httpGet(url, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', (error) => (req.destroyed ? resolve() : reject(error)));
      });
    }
    // Read slowly: the response waits for the socket, the reader reuses only what was sent.
    const slow = await new Promise<Buffer>((resolve, reject) => {
      httpGet(url, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          if (chunks.length % 16 === 0) {
            res.pause();
            setTimeout(() => res.resume(), 20);
          }
        });
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', reject);
      }).on('error', reject);
    });
    assert.ok(slow.equals(body), 'a slow reader gets exactly the object');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(blobFilesOpen(), 0, 'no blob file stays open');
    const again = await s3.send(new GetObjectCommand({ Bucket: 'hostile', Key: 'download' }));
    assert.ok(Buffer.from(await again.Body!.transformToByteArray()).equals(body));
  });

  it('a truncated aws-chunked body fails cleanly', async () => {
    const signed = await signRequest(sovra, {
      method: 'PUT',
      path: '/hostile/chunked',
      headers: {
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': '100',
        'content-length': '30',
      },
      payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
    });
    const response = await send(
      sovra,
      'PUT',
      '/hostile/chunked',
      signed,
      '64\r\nshort\r\n0\r\n\r\n'.padEnd(30, ' '),
    );
    assert.equal(response.status, 400);
    assert.ok(errorCode(response.body) !== null);
    await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: 'hostile', Key: 'chunked' })));
  });

  it('invalid query values fail with InvalidArgument', async () => {
    const response = await signedSend('GET', '/hostile', { 'list-type': '2', 'max-keys': '-1' }, {});
    assert.equal(errorCode(response.body), 'InvalidArgument');
  });

  it('every response carries x-amz-request-id and x-amz-id-2', async () => {
    const response = await send(sovra, 'GET', '/', {});
    assert.ok(response.headers['x-amz-request-id']);
    assert.ok(response.headers['x-amz-id-2']);
  });
});
