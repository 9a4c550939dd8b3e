/**
 * CORS (bucket configuration, preflights, actual-request headers) and browser-based uploads
 * (POST Object with a signed POST policy) against the real server: the AWS SDK, hand-built
 * HTTP requests, @aws-sdk/s3-presigned-post, and a real page in headless Chromium.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteBucketCorsCommand,
  GetBucketCorsCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
  S3ServiceException,
  type CORSRule,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { chromium, type Browser } from 'playwright-core';
import { errorCode, send, signRequest, type RawResponse } from '../helpers/raw-s3.ts';
import { createTestSchema } from '../helpers/postgres.ts';
import {
  freePort,
  removeDir,
  startSovra,
  TEST_REGION,
  type MetadataBackend,
  type SovraProcess,
} from '../helpers/sovra-process.ts';

const CHROMIUM = '/usr/bin/chromium';

async function s3Failure(
  promise: Promise<unknown>,
): Promise<{ code: string; status: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof S3ServiceException) {
      return { code: error.name, status: error.$metadata.httpStatusCode ?? 0, message: error.message };
    }
    throw error;
  }
  assert.fail('expected the request to fail');
}

/** The text of an element of an XML response, entities decoded. */
function element(body: string, name: string): string | null {
  const raw = new RegExp(`<${name}>([^<]*)</${name}>`).exec(body)?.[1];
  if (raw === undefined) return null;
  const entities: Record<string, string> = { quot: '"', apos: "'", lt: '<', gt: '>', amp: '&' };
  return raw.replace(/&(quot|apos|lt|gt|amp);/g, (_, entity: string) => entities[entity]!);
}

function md5Hex(data: Uint8Array | string): string {
  return createHash('md5').update(data).digest('hex');
}

/** The suite on one metadata backend; the browser part runs where `browser` is set. */
export function defineCorsPostSuite(backend: MetadataBackend, options: { browser: boolean }): void {
  describe(`CORS and browser-based uploads (${backend})`, () => {
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

    async function createBucket(name: string): Promise<void> {
      await s3.send(new CreateBucketCommand({ Bucket: name }));
    }

    async function putCors(bucket: string, rules: CORSRule[]): Promise<void> {
      await s3.send(new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: { CORSRules: rules } }));
    }

    /** Sends a signed PutBucketCors with a hand-written document and the given extra headers. */
    async function putCorsXml(
      bucket: string,
      xml: string,
      headers: Record<string, string>,
    ): Promise<RawResponse> {
      const payloadHash = createHash('sha256').update(xml).digest('hex');
      const signed = await signRequest(sovra, {
        method: 'PUT',
        path: `/${bucket}`,
        query: { cors: '' },
        headers,
        payloadHash,
      });
      return send(sovra, 'PUT', `/${bucket}?cors=`, signed, xml);
    }

    function contentMd5(text: string): string {
      return createHash('md5').update(text).digest('base64');
    }

    describe('the CORS configuration', () => {
      before(() => createBucket('cors-config'));

      it('PutBucketCors, GetBucketCors and DeleteBucketCors round-trip every element of the rules', async () => {
        const rules: CORSRule[] = [
          {
            ID: 'site',
            AllowedOrigins: ['https://app.example.com', 'https://*.example.org'],
            AllowedMethods: ['GET', 'PUT', 'POST'],
            AllowedHeaders: ['Content-Type', 'x-amz-*'],
            ExposeHeaders: ['ETag', 'x-amz-version-id'],
            MaxAgeSeconds: 3000,
          },
          { AllowedOrigins: ['*'], AllowedMethods: ['GET', 'HEAD'] },
        ];
        await putCors('cors-config', rules);
        const got = await s3.send(new GetBucketCorsCommand({ Bucket: 'cors-config' }));
        assert.deepEqual(got.CORSRules, rules);
        await s3.send(new DeleteBucketCorsCommand({ Bucket: 'cors-config' }));
        const gone = await s3Failure(s3.send(new GetBucketCorsCommand({ Bucket: 'cors-config' })));
        assert.deepEqual([gone.code, gone.status], ['NoSuchCORSConfiguration', 404]);
        assert.equal(gone.message, 'The CORS configuration does not exist');
        // Deleting a configuration that does not exist succeeds, as on S3.
        await s3.send(new DeleteBucketCorsCommand({ Bucket: 'cors-config' }));
      });

      it('a bucket without a configuration answers GetBucketCors with NoSuchCORSConfiguration', async () => {
        await createBucket('cors-none');
        const failure = await s3Failure(s3.send(new GetBucketCorsCommand({ Bucket: 'cors-none' })));
        assert.deepEqual([failure.code, failure.status], ['NoSuchCORSConfiguration', 404]);
      });

      it('an unsupported AllowedMethod fails with InvalidRequest naming it', async () => {
        const failure = await s3Failure(
          putCors('cors-config', [{ AllowedOrigins: ['*'], AllowedMethods: ['GET', 'PATCH'] }]),
        );
        assert.deepEqual([failure.code, failure.status], ['InvalidRequest', 400]);
        assert.equal(
          failure.message,
          'Found unsupported HTTP method in CORS config. Unsupported method is PATCH',
        );
      });

      it('an AllowedOrigin or AllowedHeader with two wildcards fails with InvalidRequest', async () => {
        const origin = await s3Failure(
          putCors('cors-config', [{ AllowedOrigins: ['https://*.example.*'], AllowedMethods: ['GET'] }]),
        );
        assert.equal(origin.code, 'InvalidRequest');
        assert.equal(
          origin.message,
          'AllowedOrigin "https://*.example.*" can not have more than one wildcard.',
        );
        const headerName = await s3Failure(
          putCors('cors-config', [
            { AllowedOrigins: ['*'], AllowedMethods: ['GET'], AllowedHeaders: ['x-*-*'] },
          ]),
        );
        assert.equal(headerName.message, 'AllowedHeader "x-*-*" can not have more than one wildcard.');
      });

      it('an ExposeHeader with a wildcard fails with InvalidRequest', async () => {
        const failure = await s3Failure(
          putCors('cors-config', [
            { AllowedOrigins: ['*'], AllowedMethods: ['GET'], ExposeHeaders: ['x-amz-*'] },
          ]),
        );
        assert.equal(failure.code, 'InvalidRequest');
        assert.match(failure.message, /^ExposeHeader "x-amz-\*" contains wildcard/);
      });

      it('more than 100 rules, no rule, or a rule without AllowedOrigin fail with MalformedXML', async () => {
        const many = Array.from({ length: 101 }, () => ({ AllowedOrigins: ['*'], AllowedMethods: ['GET'] }));
        assert.equal((await s3Failure(putCors('cors-config', many))).code, 'MalformedXML');
        const hundred = many.slice(0, 100);
        await putCors('cors-config', hundred);
        for (const xml of [
          '<CORSConfiguration></CORSConfiguration>',
          '<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>',
          '<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedHeaders>*</AllowedHeaders></CORSRule></CORSConfiguration>',
          '<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>-1</MaxAgeSeconds></CORSRule></CORSConfiguration>',
          'not xml',
        ]) {
          const response = await putCorsXml('cors-config', xml, { 'content-md5': contentMd5(xml) });
          assert.equal(response.status, 400, xml);
          assert.equal(errorCode(response.body), 'MalformedXML', xml);
        }
      });

      it('PutBucketCors requires Content-MD5 (or a checksum) and checks it', async () => {
        const xml =
          '<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>';
        const missing = await putCorsXml('cors-config', xml, {});
        assert.equal(missing.status, 400);
        assert.equal(errorCode(missing.body), 'InvalidRequest');
        assert.equal(
          element(missing.body, 'Message'),
          'Missing required header for this request: Content-MD5',
        );
        const wrong = await putCorsXml('cors-config', xml, { 'content-md5': contentMd5(`${xml} `) });
        assert.equal(wrong.status, 400);
        assert.equal(errorCode(wrong.body), 'BadDigest');
        const right = await putCorsXml('cors-config', xml, { 'content-md5': contentMd5(xml) });
        assert.equal(right.status, 200, right.body);
      });

      it('CORS operations on a missing bucket fail with NoSuchBucket', async () => {
        const failure = await s3Failure(s3.send(new GetBucketCorsCommand({ Bucket: 'cors-never-was' })));
        assert.deepEqual([failure.code, failure.status], ['NoSuchBucket', 404]);
      });

      it('a bucket deleted and created again does not keep its old configuration', async () => {
        await createBucket('cors-reborn');
        await putCors('cors-reborn', [{ AllowedOrigins: ['*'], AllowedMethods: ['GET'] }]);
        await s3.send(new DeleteBucketCommand({ Bucket: 'cors-reborn' }));
        await createBucket('cors-reborn');
        const failure = await s3Failure(s3.send(new GetBucketCorsCommand({ Bucket: 'cors-reborn' })));
        assert.equal(failure.code, 'NoSuchCORSConfiguration');
      });
    });

    describe('preflight requests', () => {
      const VARY = 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method';

      before(async () => {
        await createBucket('preflight');
        await createBucket('preflight-none');
        await putCors('preflight', [
          {
            ID: 'app',
            AllowedOrigins: ['https://app.example.com'],
            AllowedMethods: ['GET', 'PUT'],
            AllowedHeaders: ['Content-Type', 'x-amz-*'],
            ExposeHeaders: ['ETag', 'x-amz-request-id'],
            MaxAgeSeconds: 600,
          },
          { ID: 'tenants', AllowedOrigins: ['https://*.tenants.example'], AllowedMethods: ['DELETE'] },
          { ID: 'public', AllowedOrigins: ['*'], AllowedMethods: ['GET', 'HEAD'] },
        ]);
      });

      function preflight(path: string, headers: Record<string, string>): Promise<Response> {
        return fetch(`${sovra.endpoint}${path}`, { method: 'OPTIONS', headers });
      }

      it('an allowed preflight needs no credentials and gets the matching rule’s headers', async () => {
        const response = await preflight('/preflight/docs/a.txt', {
          origin: 'https://app.example.com',
          'access-control-request-method': 'PUT',
          'access-control-request-headers': 'Content-Type, X-Amz-Date, x-amz-meta-Owner',
        });
        assert.equal(response.status, 200, await response.clone().text());
        assert.equal(response.headers.get('access-control-allow-origin'), 'https://app.example.com');
        assert.equal(response.headers.get('access-control-allow-methods'), 'GET, PUT');
        assert.equal(
          response.headers.get('access-control-allow-headers'),
          'content-type, x-amz-date, x-amz-meta-owner',
        );
        assert.equal(response.headers.get('access-control-expose-headers'), 'ETag, x-amz-request-id');
        assert.equal(response.headers.get('access-control-max-age'), '600');
        assert.equal(response.headers.get('access-control-allow-credentials'), 'true');
        assert.equal(response.headers.get('vary'), VARY);
        assert.equal(await response.text(), '');
      });

      it('an origin no rule allows is refused with 403 AccessForbidden', async () => {
        const response = await preflight('/preflight/docs/a.txt', {
          origin: 'https://evil.example.net',
          'access-control-request-method': 'PUT',
        });
        const body = await response.text();
        assert.equal(response.status, 403);
        assert.equal(errorCode(body), 'AccessForbidden');
        assert.match(element(body, 'Message') ?? '', /^CORSResponse: This CORS request is not allowed\./);
        assert.equal(element(body, 'Method'), 'PUT');
        assert.equal(element(body, 'ResourceType'), 'OBJECT');
        assert.equal(response.headers.get('access-control-allow-origin'), null);
      });

      it('a method the origin’s rules do not allow is refused', async () => {
        const response = await preflight('/preflight/k', {
          origin: 'https://app.example.com',
          'access-control-request-method': 'DELETE',
        });
        assert.equal(response.status, 403);
        assert.equal(errorCode(await response.text()), 'AccessForbidden');
      });

      it('a request header no AllowedHeader matches is refused; matching is case-insensitive', async () => {
        const refused = await preflight('/preflight/k', {
          origin: 'https://app.example.com',
          'access-control-request-method': 'PUT',
          'access-control-request-headers': 'content-type, authorization',
        });
        assert.equal(refused.status, 403);
        const allowed = await preflight('/preflight/k', {
          origin: 'https://app.example.com',
          'access-control-request-method': 'PUT',
          'access-control-request-headers': 'CONTENT-TYPE,X-AMZ-CONTENT-SHA256',
        });
        assert.equal(allowed.status, 200);
        assert.equal(
          allowed.headers.get('access-control-allow-headers'),
          'content-type, x-amz-content-sha256',
        );
      });

      it('an AllowedOrigin with one wildcard matches any text in its place, and only there', async () => {
        const allowed = await preflight('/preflight/k', {
          origin: 'https://eu.acme.tenants.example',
          'access-control-request-method': 'DELETE',
        });
        assert.equal(allowed.status, 200);
        assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://eu.acme.tenants.example');
        assert.equal(allowed.headers.get('access-control-allow-methods'), 'DELETE');
        assert.equal(allowed.headers.get('access-control-max-age'), null);
        for (const origin of [
          'https://tenants.example',
          'http://acme.tenants.example',
          'https://acme.tenants.example.com',
        ]) {
          const refused = await preflight('/preflight/k', {
            origin,
            'access-control-request-method': 'DELETE',
          });
          assert.equal(refused.status, 403, origin);
        }
      });

      it('the literal * answers Access-Control-Allow-Origin: * without credentials', async () => {
        const response = await preflight('/preflight', {
          origin: 'https://anyone.example',
          'access-control-request-method': 'HEAD',
        });
        assert.equal(response.status, 200);
        assert.equal(response.headers.get('access-control-allow-origin'), '*');
        assert.equal(response.headers.get('access-control-allow-methods'), 'GET, HEAD');
        assert.equal(response.headers.get('access-control-allow-credentials'), null);
      });

      it('the first matching rule decides, even when a later one would give more', async () => {
        const response = await preflight('/preflight/k', {
          origin: 'https://app.example.com',
          'access-control-request-method': 'GET',
        });
        assert.equal(response.headers.get('access-control-allow-origin'), 'https://app.example.com');
        assert.equal(response.headers.get('access-control-max-age'), '600');
      });

      it('a bucket without a configuration refuses preflights: CORS is not enabled', async () => {
        const response = await preflight('/preflight-none', {
          origin: 'https://app.example.com',
          'access-control-request-method': 'GET',
        });
        const body = await response.text();
        assert.equal(response.status, 403);
        assert.equal(errorCode(body), 'AccessForbidden');
        assert.equal(element(body, 'Message'), 'CORSResponse: CORS is not enabled for this bucket.');
        assert.equal(element(body, 'ResourceType'), 'BUCKET');
        const missing = await preflight('/preflight-never-was/k', {
          origin: 'https://app.example.com',
          'access-control-request-method': 'GET',
        });
        assert.equal(missing.status, 403);
        assert.equal(element(await missing.text(), 'Message'), 'CORSResponse: Bucket not found');
      });

      it('a preflight without Origin or with an invalid method fails with 400 BadRequest', async () => {
        const noOrigin = await preflight('/preflight/k', { 'access-control-request-method': 'GET' });
        const noOriginBody = await noOrigin.text();
        assert.equal(noOrigin.status, 400);
        assert.equal(errorCode(noOriginBody), 'BadRequest');
        assert.equal(
          element(noOriginBody, 'Message'),
          'Insufficient information. Origin request header needed.',
        );
        const noMethod = await preflight('/preflight/k', { origin: 'https://app.example.com' });
        assert.equal(noMethod.status, 400);
        assert.equal(
          element(await noMethod.text(), 'Message'),
          'Invalid Access-Control-Request-Method: null',
        );
        const patch = await preflight('/preflight/k', {
          origin: 'https://app.example.com',
          'access-control-request-method': 'PATCH',
        });
        assert.equal(element(await patch.text(), 'Message'), 'Invalid Access-Control-Request-Method: PATCH');
      });
    });

    describe('actual requests', () => {
      let presigner: S3Client;

      before(async () => {
        presigner = sovra.client({ requestChecksumCalculation: 'WHEN_REQUIRED' });
        await createBucket('actual');
        await s3.send(new PutObjectCommand({ Bucket: 'actual', Key: 'hello.txt', Body: 'hello' }));
        await putCors('actual', [
          {
            AllowedOrigins: ['https://app.example.com'],
            AllowedMethods: ['GET', 'PUT'],
            ExposeHeaders: ['ETag'],
            MaxAgeSeconds: 60,
          },
        ]);
      });

      after(() => presigner?.destroy());

      async function presignedGet(key: string): Promise<string> {
        return getSignedUrl(s3, new GetObjectCommand({ Bucket: 'actual', Key: key }), { expiresIn: 300 });
      }

      it('a GET from an allowed origin carries the rule’s headers', async () => {
        const response = await fetch(await presignedGet('hello.txt'), {
          headers: { origin: 'https://app.example.com' },
        });
        assert.equal(response.status, 200);
        assert.equal(await response.text(), 'hello');
        assert.equal(response.headers.get('access-control-allow-origin'), 'https://app.example.com');
        assert.equal(response.headers.get('access-control-allow-methods'), 'GET, PUT');
        assert.equal(response.headers.get('access-control-expose-headers'), 'ETag');
        assert.equal(response.headers.get('access-control-allow-credentials'), 'true');
        assert.equal(
          response.headers.get('vary'),
          'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
        );
      });

      it('a PUT from an allowed origin carries them too', async () => {
        const url = await getSignedUrl(
          presigner,
          new PutObjectCommand({ Bucket: 'actual', Key: 'put.txt' }),
          {
            expiresIn: 300,
          },
        );
        const response = await fetch(url, {
          method: 'PUT',
          body: 'put',
          headers: { origin: 'https://app.example.com' },
        });
        assert.equal(response.status, 200, await response.clone().text());
        assert.equal(response.headers.get('access-control-allow-origin'), 'https://app.example.com');
      });

      it('other origins, other methods and requests without Origin get no CORS headers', async () => {
        const url = await presignedGet('hello.txt');
        for (const headers of [{ origin: 'https://evil.example.net' }, {}]) {
          const response = await fetch(url, { headers });
          assert.equal(response.status, 200);
          assert.equal(response.headers.get('access-control-allow-origin'), null);
          await response.arrayBuffer();
        }
        const head = await fetch(
          await getSignedUrl(s3, new HeadObjectCommand({ Bucket: 'actual', Key: 'hello.txt' }), {
            expiresIn: 300,
          }),
          { method: 'HEAD', headers: { origin: 'https://app.example.com' } },
        );
        assert.equal(head.status, 200);
        assert.equal(head.headers.get('access-control-allow-origin'), null);
      });

      it('error responses carry the CORS headers, so that a page can read the error', async () => {
        const response = await fetch(await presignedGet('missing.txt'), {
          headers: { origin: 'https://app.example.com' },
        });
        assert.equal(response.status, 404);
        assert.equal(errorCode(await response.text()), 'NoSuchKey');
        assert.equal(response.headers.get('access-control-allow-origin'), 'https://app.example.com');
      });

      it('DeleteBucketCors takes effect at once on this gateway', async () => {
        await createBucket('actual-deleted');
        await s3.send(new PutObjectCommand({ Bucket: 'actual-deleted', Key: 'k', Body: 'k' }));
        await putCors('actual-deleted', [{ AllowedOrigins: ['*'], AllowedMethods: ['GET'] }]);
        const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'actual-deleted', Key: 'k' }), {
          expiresIn: 300,
        });
        const before = await fetch(url, { headers: { origin: 'https://x.example' } });
        assert.equal(before.headers.get('access-control-allow-origin'), '*');
        await before.arrayBuffer();
        await s3.send(new DeleteBucketCorsCommand({ Bucket: 'actual-deleted' }));
        const afterDelete = await fetch(url, { headers: { origin: 'https://x.example' } });
        assert.equal(afterDelete.headers.get('access-control-allow-origin'), null);
        await afterDelete.arrayBuffer();
      });
    });

    // ---- POST Object -------------------------------------------------------------------------

    type FormPart =
      { name: string; value: string } | { name: string; filename?: string; type?: string; data: Buffer };

    /** A multipart/form-data body written by hand (RFC 7578), parts in the order given. */
    function multipart(parts: readonly FormPart[]): { body: Buffer; contentType: string } {
      const boundary = `----sovra${randomBytes(12).toString('hex')}`;
      const chunks: Buffer[] = [];
      for (const part of parts) {
        let head = `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"`;
        if ('data' in part) {
          if (part.filename !== undefined) head += `; filename="${part.filename}"`;
          head += `\r\nContent-Type: ${part.type ?? 'application/octet-stream'}`;
        }
        chunks.push(
          Buffer.from(`${head}\r\n\r\n`),
          'data' in part ? part.data : Buffer.from(part.value),
          Buffer.from('\r\n'),
        );
      }
      chunks.push(Buffer.from(`--${boundary}--\r\n`));
      return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
    }

    function amzDate(date: Date): string {
      return date
        .toISOString()
        .replace(/[-:]/g, '')
        .replace(/\.\d{3}/, '');
    }

    /** The SigV4 POST signature, computed here independently of the server's code. */
    function signPolicy(secretAccessKey: string, date: string, policyBase64: string): string {
      const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
      const signingKey = hmac(
        hmac(hmac(hmac(`AWS4${secretAccessKey}`, date.slice(0, 8)), TEST_REGION), 's3'),
        'aws4_request',
      );
      return createHmac('sha256', signingKey).update(policyBase64).digest('hex');
    }

    interface PolicyOptions {
      bucket: string;
      key: string;
      /** Conditions besides the bucket, the key (`starts-with $key ""` unless given) and the SigV4 fields. */
      conditions?: unknown[];
      keyCondition?: unknown;
      /** Form fields besides key and the SigV4 fields, before the file. */
      fields?: Record<string, string>;
      expiresInMs?: number;
      accessKeyId?: string;
    }

    /** The fields of a signed POST form, in the order a page would send them. */
    function signedFields(options: PolicyOptions): { name: string; value: string }[] {
      const now = new Date();
      const date = amzDate(now);
      const accessKeyId = options.accessKeyId ?? sovra.credentials.accessKeyId;
      const credential = `${accessKeyId}/${date.slice(0, 8)}/${TEST_REGION}/s3/aws4_request`;
      const policy = {
        expiration: new Date(now.getTime() + (options.expiresInMs ?? 300_000)).toISOString(),
        conditions: [
          { bucket: options.bucket },
          options.keyCondition ?? ['starts-with', '$key', ''],
          { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' },
          { 'x-amz-credential': credential },
          { 'x-amz-date': date },
          ...(options.conditions ?? []),
        ],
      };
      const policyBase64 = Buffer.from(JSON.stringify(policy)).toString('base64');
      return [
        { name: 'key', value: options.key },
        ...Object.entries(options.fields ?? {}).map(([name, value]) => ({ name, value })),
        { name: 'X-Amz-Algorithm', value: 'AWS4-HMAC-SHA256' },
        { name: 'X-Amz-Credential', value: credential },
        { name: 'X-Amz-Date', value: date },
        { name: 'Policy', value: policyBase64 },
        { name: 'X-Amz-Signature', value: signPolicy(sovra.credentials.secretAccessKey, date, policyBase64) },
      ];
    }

    function file(
      data: Buffer | string,
      filename = 'upload.bin',
      type = 'application/octet-stream',
    ): FormPart {
      return { name: 'file', filename, type, data: Buffer.isBuffer(data) ? data : Buffer.from(data) };
    }

    async function postForm(
      bucket: string,
      parts: readonly FormPart[],
      headers: Record<string, string> = {},
    ): Promise<RawResponse> {
      const { body, contentType } = multipart(parts);
      return send(sovra, 'POST', `/${bucket}`, { 'content-type': contentType, ...headers }, body);
    }

    async function objectText(bucket: string, key: string): Promise<string> {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return got.Body!.transformToString();
    }

    async function assertAbsent(bucket: string, key: string): Promise<void> {
      const failure = await s3Failure(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })));
      assert.equal(failure.status, 404);
    }

    function assertError(
      response: RawResponse,
      status: number,
      code: string,
      message?: string | RegExp,
    ): void {
      assert.equal(response.status, status, response.body);
      assert.equal(errorCode(response.body), code, response.body);
      if (typeof message === 'string') assert.equal(element(response.body, 'Message'), message);
      else if (message !== undefined) assert.match(element(response.body, 'Message') ?? '', message);
    }

    describe('POST Object with a hand-built form', () => {
      before(() => createBucket('forms'));

      it('stores the file with its Content-Type and metadata and answers 204 with ETag and Location', async () => {
        const data = randomBytes(3000);
        const response = await postForm('forms', [
          ...signedFields({
            bucket: 'forms',
            key: 'uploads/photo.jpg',
            fields: {
              'Content-Type': 'image/jpeg',
              'x-amz-meta-Owner': 'eric',
              'Cache-Control': 'max-age=60',
            },
            conditions: [
              ['starts-with', '$Content-Type', 'image/'],
              { 'x-amz-meta-owner': 'eric' },
              ['eq', '$cache-control', 'max-age=60'],
            ],
          }),
          file(data, 'photo.jpg', 'image/jpeg'),
        ]);
        assert.equal(response.status, 204, response.body);
        assert.equal(response.headers.etag, `"${md5Hex(data)}"`);
        assert.equal(response.headers.location, `${sovra.endpoint}/forms/uploads%2Fphoto.jpg`);
        const head = await s3.send(new HeadObjectCommand({ Bucket: 'forms', Key: 'uploads/photo.jpg' }));
        assert.equal(head.ContentType, 'image/jpeg');
        assert.equal(head.CacheControl, 'max-age=60');
        assert.deepEqual(head.Metadata, { owner: 'eric' });
        assert.equal(head.ContentLength, 3000);
      });

      it('success_action_status 201 answers a PostResponse document; 200 an empty body', async () => {
        const created = await postForm('forms', [
          ...signedFields({
            bucket: 'forms',
            key: 'status/201.txt',
            fields: { success_action_status: '201' },
            conditions: [{ success_action_status: '201' }],
          }),
          file('created'),
        ]);
        assert.equal(created.status, 201, created.body);
        assert.match(created.headers['content-type'] ?? '', /application\/xml/);
        assert.match(created.body, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<PostResponse>/);
        assert.equal(element(created.body, 'Bucket'), 'forms');
        assert.equal(element(created.body, 'Key'), 'status/201.txt');
        assert.equal(element(created.body, 'ETag'), `"${md5Hex('created')}"`);
        assert.equal(element(created.body, 'Location'), `${sovra.endpoint}/forms/status%2F201.txt`);
        const ok = await postForm('forms', [
          ...signedFields({
            bucket: 'forms',
            key: 'status/200.txt',
            fields: { success_action_status: '200' },
            conditions: [['starts-with', '$success_action_status', '']],
          }),
          file('ok'),
        ]);
        assert.equal(ok.status, 200, ok.body);
        assert.equal(ok.body, '');
        assert.equal(await objectText('forms', 'status/200.txt'), 'ok');
      });

      it('success_action_redirect answers 303 to the URL with bucket, key and etag in its query', async () => {
        const target = 'https://app.example.com/done?from=form';
        const response = await postForm('forms', [
          ...signedFields({
            bucket: 'forms',
            key: 'redirected/a b.txt',
            fields: { success_action_redirect: target },
            conditions: [['starts-with', '$success_action_redirect', 'https://app.example.com/']],
          }),
          file('redirected'),
        ]);
        assert.equal(response.status, 303, response.body);
        const location = new URL(response.headers.location ?? '');
        assert.equal(`${location.origin}${location.pathname}`, 'https://app.example.com/done');
        assert.equal(location.searchParams.get('from'), 'form');
        assert.equal(location.searchParams.get('bucket'), 'forms');
        assert.equal(location.searchParams.get('key'), 'redirected/a b.txt');
        assert.equal(location.searchParams.get('etag'), `"${md5Hex('redirected')}"`);
      });

      it('${filename} in the key becomes the uploaded file’s name, and conditions see the result', async () => {
        const response = await postForm('forms', [
          ...signedFields({
            bucket: 'forms',
            key: 'user/eric/${filename}',
            keyCondition: ['starts-with', '$key', 'user/eric/'],
          }),
          file('named', 'C:\\Users\\eric\\report 2026.pdf', 'application/pdf'),
        ]);
        assert.equal(response.status, 204, response.body);
        assert.equal(await objectText('forms', 'user/eric/report 2026.pdf'), 'named');
      });

      it('an expired policy fails with AccessDenied: Policy expired', async () => {
        const response = await postForm('forms', [
          ...signedFields({ bucket: 'forms', key: 'expired.txt', expiresInMs: -1000 }),
          file('late'),
        ]);
        assertError(response, 403, 'AccessDenied', 'Invalid according to Policy: Policy expired.');
        await assertAbsent('forms', 'expired.txt');
      });

      it('a field that fails an eq or starts-with condition fails with AccessDenied naming the condition', async () => {
        const eq = await postForm('forms', [
          ...signedFields({ bucket: 'forms', key: 'other.txt', keyCondition: { key: 'allowed.txt' } }),
          file('x'),
        ]);
        assertError(
          eq,
          403,
          'AccessDenied',
          'Invalid according to Policy: Policy Condition failed: ["eq", "$key", "allowed.txt"]',
        );
        const startsWith = await postForm('forms', [
          ...signedFields({
            bucket: 'forms',
            key: 'k.txt',
            fields: { 'Content-Type': 'text/html' },
            conditions: [['starts-with', '$Content-Type', 'image/']],
          }),
          file('x'),
        ]);
        assertError(
          startsWith,
          403,
          'AccessDenied',
          'Invalid according to Policy: Policy Condition failed: ["starts-with", "$Content-Type", "image/"]',
        );
        const absent = await postForm('forms', [
          ...signedFields({
            bucket: 'forms',
            key: 'k.txt',
            conditions: [['starts-with', '$x-amz-meta-tag', '']],
          }),
          file('x'),
        ]);
        assertError(
          absent,
          403,
          'AccessDenied',
          /Policy Condition failed: \["starts-with", "\$x-amz-meta-tag", ""\]/,
        );
        await assertAbsent('forms', 'k.txt');
      });

      it('a policy for another bucket fails its bucket condition', async () => {
        await createBucket('forms-other');
        const response = await postForm('forms-other', [
          ...signedFields({ bucket: 'forms', key: 'wrong-bucket.txt' }),
          file('x'),
        ]);
        assertError(response, 403, 'AccessDenied', /Policy Condition failed: \["eq", "\$bucket", "forms"\]/);
      });

      it('a field no condition names fails with Extra input fields; x-ignore- fields need none', async () => {
        const extra = await postForm('forms', [
          ...signedFields({ bucket: 'forms', key: 'extra.txt', fields: { 'X-Amz-Meta-Note': 'hi' } }),
          file('x'),
        ]);
        assertError(
          extra,
          403,
          'AccessDenied',
          'Invalid according to Policy: Extra input fields: X-Amz-Meta-Note',
        );
        const ignored = await postForm('forms', [
          ...signedFields({ bucket: 'forms', key: 'ignored.txt', fields: { 'x-ignore-tracker': '1' } }),
          file('ignored'),
        ]);
        assert.equal(ignored.status, 204, ignored.body);
      });

      it('fields after the file are ignored, as S3 ignores them', async () => {
        const response = await postForm('forms', [
          ...signedFields({ bucket: 'forms', key: 'after.txt' }),
          file('after'),
          { name: 'x-amz-meta-late', value: 'not stored' },
          { name: 'submit', value: 'Upload' },
        ]);
        assert.equal(response.status, 204, response.body);
        const head = await s3.send(new HeadObjectCommand({ Bucket: 'forms', Key: 'after.txt' }));
        assert.deepEqual(head.Metadata, {});
      });

      it('content-length-range is inclusive; too large fails with EntityTooLarge and stores nothing', async () => {
        const range = ['content-length-range', 5, 10];
        for (const size of [5, 10]) {
          const ok = await postForm('forms', [
            ...signedFields({ bucket: 'forms', key: `range-${size}`, conditions: [range] }),
            file(Buffer.alloc(size, 'a')),
          ]);
          assert.equal(ok.status, 204, ok.body);
        }
        const large = await postForm('forms', [
          ...signedFields({ bucket: 'forms', key: 'range-large', conditions: [range] }),
          file(Buffer.alloc(11, 'a')),
        ]);
        assertError(large, 400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size');
        assert.equal(element(large.body, 'MaxSizeAllowed'), '10');
        await assertAbsent('forms', 'range-large');
        const small = await postForm('forms', [
          ...signedFields({ bucket: 'forms', key: 'range-small', conditions: [range] }),
          file(Buffer.alloc(1, 'a')),
        ]);
        assertError(
          small,
          400,
          'EntityTooSmall',
          'Your proposed upload is smaller than the minimum allowed size',
        );
        assert.equal(element(small.body, 'MinSizeAllowed'), '5');
        assert.equal(element(small.body, 'ProposedSize'), '1');
        await assertAbsent('forms', 'range-small');
      });

      it('a file over the range is refused while streaming and leaves the existing object as it was', async () => {
        await s3.send(new PutObjectCommand({ Bucket: 'forms', Key: 'kept.bin', Body: 'original' }));
        const response = await postForm('forms', [
          ...signedFields({
            bucket: 'forms',
            key: 'kept.bin',
            conditions: [['content-length-range', 0, 1024 * 1024]],
          }),
          file(randomBytes(3 * 1024 * 1024)),
        ]);
        assertError(response, 400, 'EntityTooLarge');
        assert.equal(await objectText('forms', 'kept.bin'), 'original');
      });

      it('streams a multi-megabyte file into a blob intact', async () => {
        const data = randomBytes(5 * 1024 * 1024 + 17);
        const response = await postForm('forms', [
          ...signedFields({
            bucket: 'forms',
            key: 'big.bin',
            conditions: [['content-length-range', 0, 10 * 1024 * 1024]],
          }),
          file(data),
        ]);
        assert.equal(response.status, 204, response.body);
        const got = await s3.send(new GetObjectCommand({ Bucket: 'forms', Key: 'big.bin' }));
        assert.equal(md5Hex(await got.Body!.transformToByteArray()), md5Hex(data));
      });

      it('a tampered policy or signature fails with SignatureDoesNotMatch', async () => {
        const fields = signedFields({
          bucket: 'forms',
          key: 'tampered.txt',
          keyCondition: { key: 'tampered.txt' },
        });
        const policy = fields.find((f) => f.name === 'Policy')!;
        const decoded = JSON.parse(Buffer.from(policy.value, 'base64').toString('utf8')) as {
          conditions: unknown[];
        };
        decoded.conditions[1] = ['starts-with', '$key', ''];
        const tamperedPolicy = fields.map((f) =>
          f.name === 'Policy' ? { ...f, value: Buffer.from(JSON.stringify(decoded)).toString('base64') } : f,
        );
        const byPolicy = await postForm('forms', [...tamperedPolicy, file('x')]);
        assertError(byPolicy, 403, 'SignatureDoesNotMatch');
        const tamperedSignature = fields.map((f) =>
          f.name === 'X-Amz-Signature'
            ? { ...f, value: f.value.replace(/^./, (c) => (c === '0' ? '1' : '0')) }
            : f,
        );
        assertError(await postForm('forms', [...tamperedSignature, file('x')]), 403, 'SignatureDoesNotMatch');
        await assertAbsent('forms', 'tampered.txt');
      });

      it('an unknown access key fails with InvalidAccessKeyId; a form without a policy is anonymous', async () => {
        const unknown = await postForm('forms', [
          ...signedFields({ bucket: 'forms', key: 'who.txt', accessKeyId: 'AKIDNOTKNOWNANYWHERE' }),
          file('x'),
        ]);
        assertError(unknown, 403, 'InvalidAccessKeyId');
        const anonymous = await postForm('forms', [{ name: 'key', value: 'anon.txt' }, file('x')]);
        assertError(anonymous, 403, 'AccessDenied', 'Access Denied');
        await assertAbsent('forms', 'anon.txt');
      });

      it('a missing file, key or signature field fails with InvalidArgument naming it', async () => {
        const noFile = await postForm('forms', signedFields({ bucket: 'forms', key: 'nofile.txt' }));
        assertError(noFile, 400, 'InvalidArgument', 'POST requires exactly one file upload per request.');
        assert.equal(element(noFile.body, 'ArgumentName'), 'file');
        const noKey = await postForm('forms', [
          ...signedFields({ bucket: 'forms', key: 'x' }).filter((f) => f.name !== 'key'),
          file('x'),
        ]);
        assertError(noKey, 400, 'InvalidArgument', /^Bucket POST must contain a field named 'key'\./);
        assert.equal(element(noKey.body, 'ArgumentName'), 'key');
        const noSignature = await postForm('forms', [
          ...signedFields({ bucket: 'forms', key: 'x' }).filter((f) => f.name !== 'X-Amz-Signature'),
          file('x'),
        ]);
        assertError(noSignature, 400, 'InvalidArgument', /field named 'X-Amz-Signature'/);
      });

      it('a policy that is not base64 JSON with expiration and conditions fails with InvalidPolicyDocument', async () => {
        const date = amzDate(new Date());
        const credential = `${sovra.credentials.accessKeyId}/${date.slice(0, 8)}/${TEST_REGION}/s3/aws4_request`;
        const cases: [string, string][] = [
          ['{"expiration": "2030-01-01T00:00:00Z", "conditions": [', 'Invalid Policy: Invalid JSON.'],
          ['{"conditions": []}', 'Invalid Policy: Policy missing expiration.'],
          ['{"expiration": "2030-01-01T00:00:00Z"}', 'Invalid Policy: Policy missing conditions.'],
          [
            '{"expiration": "2030-01-01 00:00:00", "conditions": []}',
            "Invalid Policy: Invalid 'expiration' value: '2030-01-01 00:00:00'",
          ],
          [
            '{"expiration": "2030-01-01T00:00:00Z", "conditions": [{"key": "a", "acl": "private"}]}',
            'Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.',
          ],
          [
            '{"expiration": "2030-01-01T00:00:00Z", "conditions": [["matches", "$key", "a"]]}',
            "Invalid Policy: Invalid Condition: unknown operation 'matches'.",
          ],
        ];
        for (const [json, message] of cases) {
          const policy = Buffer.from(json).toString('base64');
          const response = await postForm('forms', [
            { name: 'key', value: 'bad-policy.txt' },
            { name: 'x-amz-algorithm', value: 'AWS4-HMAC-SHA256' },
            { name: 'x-amz-credential', value: credential },
            { name: 'x-amz-date', value: date },
            { name: 'policy', value: policy },
            { name: 'x-amz-signature', value: signPolicy(sovra.credentials.secretAccessKey, date, policy) },
            file('x'),
          ]);
          assertError(response, 400, 'InvalidPolicyDocument', message);
        }
      });

      it('a checksum field is verified and stored; a wrong one fails with BadDigest', async () => {
        const data = Buffer.from('checksummed');
        const sha256 = createHash('sha256').update(data).digest('base64');
        const ok = await postForm('forms', [
          ...signedFields({
            bucket: 'forms',
            key: 'sum.txt',
            fields: { 'x-amz-checksum-sha256': sha256 },
            conditions: [{ 'x-amz-checksum-sha256': sha256 }],
          }),
          file(data),
        ]);
        assert.equal(ok.status, 204, ok.body);
        assert.equal(ok.headers['x-amz-checksum-sha256'], sha256);
        const wrongValue = createHash('sha256').update('other').digest('base64');
        const wrong = await postForm('forms', [
          ...signedFields({
            bucket: 'forms',
            key: 'sum-wrong.txt',
            fields: { 'x-amz-checksum-sha256': wrongValue },
            conditions: [{ 'x-amz-checksum-sha256': wrongValue }],
          }),
          file(data),
        ]);
        assertError(wrong, 400, 'BadDigest');
        await assertAbsent('forms', 'sum-wrong.txt');
      });

      it('a tagging field is stored as the object’s tags; tags over the limits fail with InvalidTag', async () => {
        const tagging =
          '<Tagging><TagSet><Tag><Key>project</Key><Value>sovra</Value></Tag><Tag><Key>tier</Key><Value></Value></Tag></TagSet></Tagging>';
        const ok = await postForm('forms', [
          ...signedFields({
            bucket: 'forms',
            key: 'tagged.txt',
            fields: { tagging },
            conditions: [['starts-with', '$tagging', '']],
          }),
          file('tagged'),
        ]);
        assert.equal(ok.status, 204, ok.body);
        const got = await s3.send(new GetObjectTaggingCommand({ Bucket: 'forms', Key: 'tagged.txt' }));
        assert.deepEqual(got.TagSet?.map((tag) => [tag.Key, tag.Value]).sort(), [
          ['project', 'sovra'],
          ['sovra:classification', 'PUBLIC'],
          ['tier', ''],
        ]);
        const duplicate =
          '<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>a</Key><Value>2</Value></Tag></TagSet></Tagging>';
        const refused = await postForm('forms', [
          ...signedFields({
            bucket: 'forms',
            key: 'tagged-twice.txt',
            fields: { tagging: duplicate },
            conditions: [['starts-with', '$tagging', '']],
          }),
          file('x'),
        ]);
        assertError(refused, 400, 'InvalidTag');
        await assertAbsent('forms', 'tagged-twice.txt');
      });

      it('x-amz-server-side-encryption aws:kms with a key id and a context stores the file under that key; the response and HEAD say so', async () => {
        const kms = new KMSClient({
          endpoint: sovra.endpoint,
          region: TEST_REGION,
          credentials: sovra.credentials,
        });
        const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
        kms.destroy();
        const context = Buffer.from(JSON.stringify({ project: 'atlas' })).toString('base64');
        const fields = {
          'x-amz-server-side-encryption': 'aws:kms',
          'x-amz-server-side-encryption-aws-kms-key-id': KeyMetadata!.KeyId!,
          'x-amz-server-side-encryption-context': context,
        };
        const response = await postForm('forms', [
          ...signedFields({
            bucket: 'forms',
            key: 'sse/kms.txt',
            fields,
            conditions: Object.entries(fields).map(([name, value]) => ({ [name]: value })),
          }),
          file('under a named key'),
        ]);
        assert.equal(response.status, 204, response.body);
        assert.equal(response.headers['x-amz-server-side-encryption'], 'aws:kms');
        assert.equal(response.headers['x-amz-server-side-encryption-aws-kms-key-id'], KeyMetadata!.Arn);
        const head = await s3.send(new HeadObjectCommand({ Bucket: 'forms', Key: 'sse/kms.txt' }));
        assert.deepEqual([head.ServerSideEncryption, head.SSEKMSKeyId], ['aws:kms', KeyMetadata!.Arn]);
        assert.equal(await objectText('forms', 'sse/kms.txt'), 'under a named key');
        const aes = await postForm('forms', [
          ...signedFields({
            bucket: 'forms',
            key: 'sse/aes.txt',
            fields: { 'x-amz-server-side-encryption': 'AES256' },
            conditions: [['starts-with', '$x-amz-server-side-encryption', '']],
          }),
          file('under the default key'),
        ]);
        assert.equal(aes.status, 204, aes.body);
        assert.equal(aes.headers['x-amz-server-side-encryption'], 'AES256');
        const unknown = await postForm('forms', [
          ...signedFields({
            bucket: 'forms',
            key: 'sse/unknown-key.txt',
            fields: {
              'x-amz-server-side-encryption': 'aws:kms',
              'x-amz-server-side-encryption-aws-kms-key-id': 'alias/none',
            },
            conditions: [
              { 'x-amz-server-side-encryption': 'aws:kms' },
              ['starts-with', '$x-amz-server-side-encryption-aws-kms-key-id', ''],
            ],
          }),
          file('x'),
        ]);
        assertError(unknown, 400, 'KMS.NotFoundException');
        await assertAbsent('forms', 'sse/unknown-key.txt');
      });

      it('SSE-C fields encrypt the file under the customer key: GET needs it, and the response echoes its MD5', async () => {
        const key = randomBytes(32);
        const keyMd5 = createHash('md5').update(key).digest('base64');
        const fields = {
          'x-amz-server-side-encryption-customer-algorithm': 'AES256',
          'x-amz-server-side-encryption-customer-key': key.toString('base64'),
          'x-amz-server-side-encryption-customer-key-MD5': keyMd5,
        };
        const response = await postForm('forms', [
          ...signedFields({
            bucket: 'forms',
            key: 'sse/customer.txt',
            fields,
            conditions: Object.entries(fields).map(([name, value]) => ['eq', `$${name}`, value]),
          }),
          file('customer keyed'),
        ]);
        assert.equal(response.status, 204, response.body);
        assert.equal(response.headers['x-amz-server-side-encryption-customer-algorithm'], 'AES256');
        assert.equal(response.headers['x-amz-server-side-encryption-customer-key-md5'], keyMd5);
        const withoutKey = await s3Failure(
          s3.send(new GetObjectCommand({ Bucket: 'forms', Key: 'sse/customer.txt' })),
        );
        assert.deepEqual([withoutKey.code, withoutKey.status], ['InvalidRequest', 400]);
        const got = await s3.send(
          new GetObjectCommand({
            Bucket: 'forms',
            Key: 'sse/customer.txt',
            SSECustomerAlgorithm: 'AES256',
            SSECustomerKey: key.toString('base64'),
            SSECustomerKeyMD5: keyMd5,
          }),
        );
        assert.equal(await got.Body!.transformToString(), 'customer keyed');
      });

      it('SSE fields are checked as PutObject checks its headers, and nothing is stored', async () => {
        const key = randomBytes(32);
        const cases: { fields: Record<string, string>; code: string; message: RegExp }[] = [
          {
            fields: { 'x-amz-server-side-encryption': 'aws:kms:dsse' },
            code: 'InvalidArgument',
            message: /encryption method specified is not supported/,
          },
          {
            fields: { 'x-amz-server-side-encryption-aws-kms-key-id': 'alias/some' },
            code: 'InvalidArgument',
            message: /requires HTTP header x-amz-server-side-encryption : aws:kms/,
          },
          {
            fields: {
              'x-amz-server-side-encryption': 'aws:kms',
              'x-amz-server-side-encryption-customer-algorithm': 'AES256',
              'x-amz-server-side-encryption-customer-key': key.toString('base64'),
              'x-amz-server-side-encryption-customer-key-MD5': createHash('md5').update(key).digest('base64'),
            },
            code: 'InvalidArgument',
            message: /incompatible with the encryption method specified/,
          },
          {
            fields: {
              'x-amz-server-side-encryption-customer-algorithm': 'AES256',
              'x-amz-server-side-encryption-customer-key': key.toString('base64'),
              'x-amz-server-side-encryption-customer-key-MD5': createHash('md5')
                .update('other')
                .digest('base64'),
            },
            code: 'InvalidArgument',
            message: /MD5 hash of the key did not match/,
          },
          {
            fields: { 'x-amz-server-side-encryption-customer-algorithm': 'AES256' },
            code: 'InvalidArgument',
            message: /must provide the algorithm, the key and its MD5/,
          },
        ];
        for (const [index, { fields, code, message }] of cases.entries()) {
          const response = await postForm('forms', [
            ...signedFields({
              bucket: 'forms',
              key: `sse/refused-${index}.txt`,
              fields,
              conditions: Object.keys(fields).map((name) => ['starts-with', `$${name}`, '']),
            }),
            file('x'),
          ]);
          assertError(response, 400, code, message);
          await assertAbsent('forms', `sse/refused-${index}.txt`);
        }
      });

      it('SSE fields are covered by the policy like any other field: unnamed they are extra fields, and a condition on them holds', async () => {
        const extra = await postForm('forms', [
          ...signedFields({
            bucket: 'forms',
            key: 'sse/extra.txt',
            fields: { 'x-amz-server-side-encryption': 'AES256' },
          }),
          file('x'),
        ]);
        assertError(
          extra,
          403,
          'AccessDenied',
          'Invalid according to Policy: Extra input fields: x-amz-server-side-encryption',
        );
        const mismatch = await postForm('forms', [
          ...signedFields({
            bucket: 'forms',
            key: 'sse/mismatch.txt',
            fields: { 'x-amz-server-side-encryption': 'AES256' },
            conditions: [{ 'x-amz-server-side-encryption': 'aws:kms' }],
          }),
          file('x'),
        ]);
        assertError(
          mismatch,
          403,
          'AccessDenied',
          'Invalid according to Policy: Policy Condition failed: ["eq", "$x-amz-server-side-encryption", "aws:kms"]',
        );
        for (const name of ['sse/extra.txt', 'sse/mismatch.txt']) await assertAbsent('forms', name);
      });

      it('fields before the file over 20 KB fail with MaxPostPreDataLengthExceeded', async () => {
        const response = await postForm('forms', [
          ...signedFields({ bucket: 'forms', key: 'huge-fields.txt' }),
          { name: 'x-ignore-padding', value: 'p'.repeat(21 * 1024) },
          file('x'),
        ]);
        assertError(response, 400, 'MaxPostPreDataLengthExceeded');
      });

      it('a form that ends inside the file fails with MalformedPOSTRequest and stores nothing', async () => {
        const { body, contentType } = multipart([
          ...signedFields({ bucket: 'forms', key: 'truncated.bin' }),
          file(Buffer.alloc(50_000, 'z')),
        ]);
        // Cut the body in the middle of the file: the closing boundary never comes.
        const response = await send(
          sovra,
          'POST',
          '/forms',
          { 'content-type': contentType },
          body.subarray(0, body.length - 20_000),
        );
        assertError(response, 400, 'MalformedPOSTRequest');
        await assertAbsent('forms', 'truncated.bin');
      });

      it('a file part without a filename (a text area) is stored as sent, and ${filename} stays literal', async () => {
        const response = await postForm('forms', [
          ...signedFields({ bucket: 'forms', key: 'notes/${filename}' }),
          { name: 'file', value: 'typed into a text area' },
        ]);
        assert.equal(response.status, 204, response.body);
        assert.equal(await objectText('forms', 'notes/${filename}'), 'typed into a text area');
      });

      it('a multipart body without a boundary fails with MalformedPOSTRequest', async () => {
        const response = await send(
          sovra,
          'POST',
          '/forms',
          { 'content-type': 'multipart/form-data' },
          'nothing',
        );
        assertError(response, 400, 'MalformedPOSTRequest');
      });

      it('a POST to a missing bucket fails with NoSuchBucket', async () => {
        const response = await postForm('forms-never-was', [
          ...signedFields({ bucket: 'forms-never-was', key: 'x' }),
          file('x'),
        ]);
        assertError(response, 404, 'NoSuchBucket');
      });

      it('a POST from an origin the bucket’s CORS rules allow carries the CORS headers', async () => {
        await createBucket('forms-cors');
        await putCors('forms-cors', [
          {
            AllowedOrigins: ['https://app.example.com'],
            AllowedMethods: ['POST'],
            ExposeHeaders: ['ETag', 'Location'],
          },
        ]);
        const response = await postForm(
          'forms-cors',
          [...signedFields({ bucket: 'forms-cors', key: 'from-page.txt' }), file('page')],
          { origin: 'https://app.example.com' },
        );
        assert.equal(response.status, 204, response.body);
        assert.equal(response.headers['access-control-allow-origin'], 'https://app.example.com');
        assert.equal(response.headers['access-control-expose-headers'], 'ETag, Location');
      });
    });

    describe('POST Object with createPresignedPost', () => {
      before(() => createBucket('presigned-post'));

      async function submit(url: string, fields: Record<string, string>, content: Blob, filename: string) {
        const form = new FormData();
        for (const [name, value] of Object.entries(fields)) form.append(name, value);
        form.append('file', content, filename);
        return fetch(url, { method: 'POST', body: form });
      }

      it('a form made by the SDK uploads through fetch and FormData', async () => {
        const { url, fields } = await createPresignedPost(s3, {
          Bucket: 'presigned-post',
          Key: 'sdk/${filename}',
          Conditions: [
            ['content-length-range', 1, 1024],
            ['starts-with', '$Content-Type', 'text/'],
          ],
          Fields: { 'Content-Type': 'text/plain', success_action_status: '201' },
          Expires: 300,
        });
        const response = await submit(url, fields, new Blob(['from the SDK']), 'note.txt');
        const body = await response.text();
        assert.equal(response.status, 201, body);
        assert.equal(element(body, 'Key'), 'sdk/note.txt');
        assert.equal(await objectText('presigned-post', 'sdk/note.txt'), 'from the SDK');
        const head = await s3.send(new HeadObjectCommand({ Bucket: 'presigned-post', Key: 'sdk/note.txt' }));
        assert.equal(head.ContentType, 'text/plain');
      });

      it('the SDK’s content-length-range is enforced', async () => {
        const { url, fields } = await createPresignedPost(s3, {
          Bucket: 'presigned-post',
          Key: 'sdk/limited.bin',
          Conditions: [['content-length-range', 0, 100]],
          Expires: 300,
        });
        const response = await submit(url, fields, new Blob([randomBytes(101)]), 'limited.bin');
        assert.equal(response.status, 400);
        assert.equal(errorCode(await response.text()), 'EntityTooLarge');
        await assertAbsent('presigned-post', 'sdk/limited.bin');
      });

      it('changing a field the SDK signed fails the policy', async () => {
        const { url, fields } = await createPresignedPost(s3, {
          Bucket: 'presigned-post',
          Key: 'sdk/fixed.txt',
          Expires: 300,
        });
        const response = await submit(url, { ...fields, key: 'sdk/elsewhere.txt' }, new Blob(['x']), 'x.txt');
        assert.equal(response.status, 403);
        assert.equal(
          element(await response.text(), 'Message'),
          'Invalid according to Policy: Policy Condition failed: ["eq", "$key", "sdk/fixed.txt"]',
        );
      });
    });

    // ---- a real browser ----------------------------------------------------------------------

    if (options.browser)
      describe('a page on another origin in headless Chromium', () => {
        const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Sovra CORS test page</title></head><body>
<script>
  // Uploads text through a presigned PUT URL and reads it back through a presigned GET URL.
  async function roundTrip(putUrl, getUrl, text) {
    const result = {};
    try {
      const put = await fetch(putUrl, { method: 'PUT', body: text, headers: { 'content-type': 'text/plain' } });
      result.putStatus = put.status;
      result.putEtag = put.headers.get('etag');
    } catch (error) {
      result.putError = String(error);
    }
    try {
      const got = await fetch(getUrl);
      result.getStatus = got.status;
      result.getBody = await got.text();
    } catch (error) {
      result.getError = String(error);
    }
    return result;
  }
  // Submits a browser form upload (POST Object) built from presigned POST fields.
  async function formUpload(url, fields, text) {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    form.append('file', new Blob([text], { type: 'text/plain' }), 'page.txt');
    try {
      const response = await fetch(url, { method: 'POST', body: form });
      return { status: response.status, etag: response.headers.get('etag') };
    } catch (error) {
      return { error: String(error) };
    }
  }
</script>
</body></html>`;

        interface RoundTrip {
          putStatus?: number;
          putEtag?: string | null;
          putError?: string;
          getStatus?: number;
          getBody?: string;
          getError?: string;
        }

        let browser: Browser;
        let pageServer: Server;
        let pageOrigin: string;
        let presigner: S3Client;

        before(async () => {
          assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is required (Debian package chromium)`);
          const port = await freePort();
          pageServer = createServer((_req, res) => {
            res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
            res.end(PAGE);
          });
          await new Promise<void>((resolve) => pageServer.listen(port, '127.0.0.1', resolve));
          // localhost:<port> is another origin than the server's 127.0.0.1:<port>.
          pageOrigin = `http://localhost:${port}`;
          browser = await chromium.launch({
            executablePath: CHROMIUM,
            args: [
              '--headless',
              '--no-sandbox',
              '--disable-gpu',
              '--disable-quic',
              '--no-first-run',
              '--disable-background-networking',
              '--disable-component-update',
              '--disable-sync',
            ],
          });
          presigner = sovra.client({ requestChecksumCalculation: 'WHEN_REQUIRED' });
          await createBucket('browser');
        });

        after(async () => {
          presigner?.destroy();
          await browser?.close();
          if (pageServer !== undefined) await new Promise((resolve) => pageServer.close(resolve));
        });

        async function roundTripInPage(key: string, text: string): Promise<RoundTrip> {
          const putUrl = await getSignedUrl(
            presigner,
            new PutObjectCommand({ Bucket: 'browser', Key: key }),
            {
              expiresIn: 300,
            },
          );
          const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'browser', Key: key }), {
            expiresIn: 300,
          });
          const page = await browser.newPage();
          try {
            await page.goto(`${pageOrigin}/`);
            return await page.evaluate<RoundTrip>(
              `roundTrip(${JSON.stringify(putUrl)}, ${JSON.stringify(getUrl)}, ${JSON.stringify(text)})`,
            );
          } finally {
            await page.close();
          }
        }

        it('without a CORS rule the browser blocks the upload and the download', async () => {
          await s3.send(new PutObjectCommand({ Bucket: 'browser', Key: 'blocked.txt', Body: 'server side' }));
          const result = await roundTripInPage('blocked.txt', 'from the page');
          assert.match(result.putError ?? '', /TypeError/, JSON.stringify(result));
          assert.match(result.getError ?? '', /TypeError/, JSON.stringify(result));
          // The preflight was refused, so the PUT itself was never sent.
          assert.equal(await objectText('browser', 'blocked.txt'), 'server side');
        });

        it('with a CORS rule for the page’s origin it uploads and downloads through presigned URLs', async () => {
          await putCors('browser', [
            {
              AllowedOrigins: [pageOrigin],
              AllowedMethods: ['GET', 'PUT', 'POST'],
              AllowedHeaders: ['*'],
              ExposeHeaders: ['ETag'],
              MaxAgeSeconds: 5,
            },
          ]);
          const text = `written by Chromium at ${new Date().toISOString()}`;
          const result = await roundTripInPage('from-page.txt', text);
          assert.equal(result.putStatus, 200, JSON.stringify(result));
          assert.equal(result.putEtag, `"${md5Hex(text)}"`);
          assert.equal(result.getStatus, 200, JSON.stringify(result));
          assert.equal(result.getBody, text);
          assert.equal(await objectText('browser', 'from-page.txt'), text);
        });

        it('the page uploads a form (POST Object) made by createPresignedPost', async () => {
          const { url, fields } = await createPresignedPost(s3, {
            Bucket: 'browser',
            Key: 'forms/${filename}',
            Conditions: [['content-length-range', 1, 1024]],
            Expires: 300,
          });
          const page = await browser.newPage();
          try {
            await page.goto(`${pageOrigin}/`);
            const result = await page.evaluate<{ status?: number; etag?: string | null; error?: string }>(
              `formUpload(${JSON.stringify(url)}, ${JSON.stringify(fields)}, 'posted by the page')`,
            );
            assert.equal(result.status, 204, JSON.stringify(result));
            assert.equal(result.etag, `"${md5Hex('posted by the page')}"`);
          } finally {
            await page.close();
          }
          assert.equal(await objectText('browser', 'forms/page.txt'), 'posted by the page');
        });
      });

    it('no request above failed with an internal error', () => {
      const internal = sovra.logs.filter((line) => line.includes('request failed with an internal error'));
      assert.deepEqual(internal, []);
    });
  });
}
