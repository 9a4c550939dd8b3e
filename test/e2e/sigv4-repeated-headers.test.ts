import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { errorCode, sendRaw, signRequest } from '../helpers/raw-s3.ts';
import { removeDir, startSovra, type SovraProcess } from '../helpers/sovra-process.ts';

/**
 * SigV4 canonicalises a header sent several times as its values joined with ','
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html). The server reads
 * the already-parsed headers when no name repeats and the distinct values when one does; these
 * tests pin the second case through the real HTTP parser.
 */
describe('repeated request headers are canonicalised with every value', () => {
  let sovra: SovraProcess;
  let s3: S3Client;

  before(async () => {
    sovra = await startSovra();
    s3 = sovra.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'repeated' }));
    await s3.send(new PutObjectCommand({ Bucket: 'repeated', Key: 'k', Body: 'hello' }));
  });
  after(async () => {
    s3?.destroy();
    await sovra?.stop();
    if (sovra !== undefined) removeDir(sovra.dataDir);
  });

  function rawGet(path: string, headerLines: string[]): Promise<string> {
    return sendRaw(
      sovra.port,
      `GET ${path} HTTP/1.1\r\n${headerLines.join('\r\n')}\r\nConnection: close\r\n\r\n`,
    );
  }

  it('a presigned URL sent with its Host header twice fails with SignatureDoesNotMatch', async () => {
    const url = new URL(
      await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'repeated', Key: 'k' }), { expiresIn: 600 }),
    );
    const path = `${url.pathname}${url.search}`;
    const once = await rawGet(path, [`Host: ${url.host}`]);
    assert.match(once, /^HTTP\/1\.1 200 /);
    const twice = await rawGet(path, [`Host: ${url.host}`, `Host: ${url.host}`]);
    assert.match(twice, /^HTTP\/1\.1 403 /);
    assert.equal(errorCode(twice), 'SignatureDoesNotMatch');
  });

  it('a signed header sent as two lines verifies against its values joined with a comma', async () => {
    const signed = await signRequest(sovra, {
      method: 'GET',
      path: '/repeated/k',
      headers: { 'x-amz-meta-note': 'first,second' },
    });
    const lines = Object.entries(signed)
      .filter(([name]) => name.toLowerCase() !== 'x-amz-meta-note')
      .map(([name, value]) => `${name}: ${value}`);
    const response = await rawGet('/repeated/k', [
      ...lines,
      'x-amz-meta-note: first',
      'x-amz-meta-note: second',
    ]);
    assert.match(response, /^HTTP\/1\.1 200 /);
  });
});
