import { Sha256 } from '@aws-crypto/sha256-js';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl, S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest as SmithyRequest, QueryParameterBag } from '@smithy/types';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';

import { LIMITS } from '../../src/platform/limits.ts';
import { awsChunkedDecoderOptions, createAwsChunkedDecoder } from '../../src/protocols/sigv4/chunked.ts';
import { SigV4Error } from '../../src/protocols/sigv4/errors.ts';
import { createPayloadHashVerifier } from '../../src/protocols/sigv4/payload.ts';
import { SigningKeyCache } from '../../src/protocols/sigv4/signing-key.ts';
import {
  hasAuthentication,
  verifySigV4,
  type CredentialLookup,
  type SigV4Input,
  type VerifiedRequest,
  type VerifyOptions,
} from '../../src/protocols/sigv4/verify.ts';

const AWS_EXAMPLE_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const AWS_EXAMPLE_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const AWS_EXAMPLE_TIME_MS = Date.UTC(2013, 4, 24);
const AWS_EXAMPLE_HOST = 'examplebucket.s3.amazonaws.com';
const AWS_EXAMPLE_CREDENTIAL = `AWS4-HMAC-SHA256 Credential=${AWS_EXAMPLE_KEY_ID}/20130524/us-east-1/s3/aws4_request`;
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const KEY_ID = 'SOVRAKEYID0000000001';
const SECRET = 'sovra/secret+key/0123456789abcdefghij';
const HOST = 'sovra.test:9000';
const NOW_MS = Date.UTC(2025, 0, 15, 12, 30, 0);
const REGION = 'eu-central-1';

function lookupOf(
  secrets: Record<string, string>,
  sessionTokens: Record<string, string> = {},
): CredentialLookup {
  return (accessKeyId) => {
    const secretAccessKey = secrets[accessKeyId];
    if (secretAccessKey === undefined) return Promise.resolve(null);
    const sessionToken = sessionTokens[accessKeyId];
    return Promise.resolve({
      secretAccessKey,
      principalId: `principal-${accessKeyId}`,
      tenantId: 'tenant-1',
      ...(sessionToken === undefined ? {} : { sessionToken }),
    });
  };
}

const awsExampleLookup = lookupOf({ [AWS_EXAMPLE_KEY_ID]: AWS_EXAMPLE_SECRET });
const lookup = lookupOf({ [KEY_ID]: SECRET });

function s3Options(nowMs: number, overrides: Partial<VerifyOptions> = {}): VerifyOptions {
  return {
    service: 's3',
    nowMs,
    maxSkewMs: LIMITS.clockSkewMaxMs,
    maxPresignSeconds: LIMITS.presignMaxExpiresSeconds,
    uriEncoding: 's3',
    signingKeyCache: new SigningKeyCache(16),
    ...overrides,
  };
}

async function assertRejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof SigV4Error, `expected SigV4Error(${code}), got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

/** The SDK's query and key escaping (encodeURIComponent plus !'()*), as its HTTP handler sends them. */
function escapeUri(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
  );
}

function s3Path(bucket: string, key: string): string {
  return `/${bucket}/${key.split('/').map(escapeUri).join('/')}`;
}

function rawQueryOf(query: QueryParameterBag | undefined): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value === null) parts.push(escapeUri(name));
    else
      for (const item of Array.isArray(value) ? value : [value])
        parts.push(`${escapeUri(name)}=${escapeUri(item)}`);
  }
  return parts.join('&');
}

/** What Node would hand the server for this signed request. */
function inputOf(request: SmithyRequest): SigV4Input & { headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value;
  return { method: request.method, rawPath: request.path, rawQuery: rawQueryOf(request.query), headers };
}

interface SignOptions {
  secret?: string;
  accessKeyId?: string;
  sessionToken?: string;
  signingDateMs?: number;
  unsignableHeaders?: Set<string>;
}

/** Signs like @aws-sdk/client-s3: service s3, path escaped once by the caller (uriEscapePath false). */
async function signS3(
  request: { method: string; path: string; query?: QueryParameterBag; headers?: Record<string, string> },
  options: SignOptions = {},
): Promise<SmithyRequest> {
  const signer = new SignatureV4({
    service: 's3',
    region: REGION,
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
    credentials: {
      accessKeyId: options.accessKeyId ?? KEY_ID,
      secretAccessKey: options.secret ?? SECRET,
      ...(options.sessionToken === undefined ? {} : { sessionToken: options.sessionToken }),
    },
  });
  return signer.sign(
    {
      method: request.method,
      protocol: 'https:',
      hostname: 'sovra.test',
      port: 9000,
      path: request.path,
      query: request.query ?? {},
      headers: { host: HOST, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...request.headers },
    },
    {
      signingDate: new Date(options.signingDateMs ?? NOW_MS),
      ...(options.unsignableHeaders === undefined ? {} : { unsignableHeaders: options.unsignableHeaders }),
    },
  );
}

async function presignS3(
  request: { method: string; path: string; query?: QueryParameterBag; headers?: Record<string, string> },
  expiresIn: number,
  signingDateMs = NOW_MS,
): Promise<SmithyRequest> {
  const presigner = new S3RequestPresigner({
    credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET },
    region: REGION,
    sha256: Sha256,
  });
  return presigner.presign(
    {
      method: request.method,
      protocol: 'https:',
      hostname: 'sovra.test',
      port: 9000,
      path: request.path,
      query: request.query ?? {},
      headers: { host: HOST, ...request.headers },
    },
    { signingDate: new Date(signingDateMs), expiresIn },
  );
}

describe('AWS documentation examples (sig-v4-header-based-auth, sigv4-query-string-auth)', () => {
  const options = s3Options(AWS_EXAMPLE_TIME_MS);
  const exampleHeaders = {
    host: AWS_EXAMPLE_HOST,
    'x-amz-content-sha256': EMPTY_SHA256,
    'x-amz-date': '20130524T000000Z',
  };

  it('GET Object with a Range header verifies (signature f0e8bdb8…)', async () => {
    const verified = await verifySigV4(
      {
        method: 'GET',
        rawPath: '/test.txt',
        rawQuery: '',
        headers: {
          ...exampleHeaders,
          range: 'bytes=0-9',
          authorization: `${AWS_EXAMPLE_CREDENTIAL},SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41`,
        },
      },
      awsExampleLookup,
      options,
    );
    assert.equal(verified.accessKeyId, AWS_EXAMPLE_KEY_ID);
    assert.equal(verified.principalId, `principal-${AWS_EXAMPLE_KEY_ID}`);
    assert.equal(verified.tenantId, 'tenant-1');
    assert.equal(verified.region, 'us-east-1');
    assert.equal(verified.service, 's3');
    assert.equal(verified.method, 'header');
    assert.equal(verified.scope, '20130524/us-east-1/s3/aws4_request');
    assert.equal(verified.requestTime.getTime(), AWS_EXAMPLE_TIME_MS);
    assert.deepEqual(verified.payload, { kind: 'sha256', hex: EMPTY_SHA256 });
    assert.equal(verified.seedSignature, 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
  });

  it('PUT Object with "$" in the key and a signed Date header verifies (signature 98ad7217…)', async () => {
    const verified = await verifySigV4(
      {
        method: 'PUT',
        rawPath: '/test$file.text',
        rawQuery: '',
        headers: {
          host: AWS_EXAMPLE_HOST,
          date: 'Fri, 24 May 2013 00:00:00 GMT',
          'x-amz-date': '20130524T000000Z',
          'x-amz-storage-class': 'REDUCED_REDUNDANCY',
          'x-amz-content-sha256': '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072',
          authorization: `${AWS_EXAMPLE_CREDENTIAL},SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd`,
        },
      },
      awsExampleLookup,
      options,
    );
    assert.equal(verified.payload.kind, 'sha256');
  });

  it('GET Bucket lifecycle (a bare query name) verifies (signature fea454ca…)', async () => {
    await verifySigV4(
      {
        method: 'GET',
        rawPath: '/',
        rawQuery: 'lifecycle',
        headers: {
          ...exampleHeaders,
          authorization: `${AWS_EXAMPLE_CREDENTIAL},SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543`,
        },
      },
      awsExampleLookup,
      options,
    );
  });

  it('GET Bucket with unsorted query parameters verifies (signature 34b48302…)', async () => {
    await verifySigV4(
      {
        method: 'GET',
        rawPath: '/',
        rawQuery: 'max-keys=2&prefix=J',
        headers: {
          ...exampleHeaders,
          authorization: `${AWS_EXAMPLE_CREDENTIAL},SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7`,
        },
      },
      awsExampleLookup,
      options,
    );
  });

  const presignedQuery =
    'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';

  it('the presigned GET URL verifies (signature aeeed9bb…) with an unsigned payload', async () => {
    const input = {
      method: 'GET',
      rawPath: '/test.txt',
      rawQuery: presignedQuery,
      headers: { host: AWS_EXAMPLE_HOST },
    };
    assert.equal(hasAuthentication(input), true);
    const verified = await verifySigV4(input, awsExampleLookup, options);
    assert.equal(verified.method, 'presigned');
    assert.deepEqual(verified.payload, { kind: 'unsigned' });
    assert.equal(verified.seedSignature, 'aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404');
  });

  it('the presigned URL fails with RequestExpired one second after its 86400 s', async () => {
    const input = {
      method: 'GET',
      rawPath: '/test.txt',
      rawQuery: presignedQuery,
      headers: { host: AWS_EXAMPLE_HOST },
    };
    await verifySigV4(input, awsExampleLookup, s3Options(AWS_EXAMPLE_TIME_MS + 86_400_000));
    await assertRejectsWith(
      verifySigV4(input, awsExampleLookup, s3Options(AWS_EXAMPLE_TIME_MS + 86_401_000)),
      'RequestExpired',
    );
  });
});

describe('header authentication signed by @smithy/signature-v4 as the S3 client signs', () => {
  const options = () => s3Options(NOW_MS);
  const keys = [
    'plain.txt',
    'with space/and more spaces',
    'ünïcödé/日本語/😀',
    'plus+sign+key',
    'tilde~key',
    'dots/../../up/./here',
    'double//slash///key',
    'trailing/',
    "sub-delims !$&'()*+,;=:@",
    'percent%25literal%',
    'hash#question?mark',
  ];

  for (const key of keys) {
    it(`the key ${JSON.stringify(key)} verifies`, async () => {
      const signed = await signS3({ method: 'PUT', path: s3Path('bucket', key) });
      const verified = await verifySigV4(inputOf(signed), lookup, options());
      assert.equal(verified.accessKeyId, KEY_ID);
      assert.deepEqual(verified.payload, { kind: 'unsigned' });
    });
  }

  it('query parameters with reserved characters, empty values and repeated names verify', async () => {
    const signed = await signS3({
      method: 'GET',
      path: '/bucket',
      query: {
        'list-type': '2',
        prefix: 'a b/c+d&e=f%g~h',
        delimiter: '/',
        'continuation-token': 'tok/en+==',
        'encoding-type': '',
        tag: ['zeta', 'alpha'],
        'ünï cödé': '日本',
      },
    });
    await verifySigV4(inputOf(signed), lookup, options());
  });

  it('a header sent several times verifies with its values joined by ","', async () => {
    const signed = await signS3({
      method: 'GET',
      path: '/bucket/key',
      headers: { 'x-amz-meta-list': 'first,second  value' },
    });
    const input = inputOf(signed);
    // Node's headersDistinct: one entry per occurrence, as the client put them on the wire.
    const headers = { ...input.headers, 'x-amz-meta-list': ['  first ', 'second   value'] };
    await verifySigV4({ ...input, headers }, lookup, options());
  });

  it('header values are trimmed and inner whitespace runs collapse before signing', async () => {
    const signed = await signS3({
      method: 'GET',
      path: '/bucket/key',
      headers: { 'x-amz-meta-spaced': 'a   b \t c' },
    });
    await verifySigV4(inputOf(signed), lookup, options());
  });

  it('a non-ASCII header value verifies as the bytes Node received (latin1 per byte)', async () => {
    const signed = await signS3({
      method: 'PUT',
      path: '/bucket/key',
      headers: { 'x-amz-meta-name': 'Zoë & 日本' },
    });
    const input = inputOf(signed);
    const asReceived = Buffer.from('Zoë & 日本', 'utf8').toString('latin1');
    await verifySigV4(
      { ...input, headers: { ...input.headers, 'x-amz-meta-name': asReceived } },
      lookup,
      options(),
    );
  });

  it('the Authorization header tolerates spaces after the commas and any component order', async () => {
    const signed = await signS3({ method: 'GET', path: '/bucket/key' });
    const input = inputOf(signed);
    const parts = /^AWS4-HMAC-SHA256 (Credential=[^,]+), (SignedHeaders=[^,]+), (Signature=\w+)$/.exec(
      input.headers.authorization ?? '',
    );
    assert.ok(parts);
    for (const authorization of [
      `AWS4-HMAC-SHA256 ${parts[1]},${parts[2]},${parts[3]}`,
      `AWS4-HMAC-SHA256 ${parts[3]},   ${parts[1]},  ${parts[2]}`,
    ]) {
      await verifySigV4({ ...input, headers: { ...input.headers, authorization } }, lookup, options());
    }
  });

  it('a signed x-amz-content-sha256 digest becomes the payload the caller must check', async () => {
    const body = Buffer.from('hello sovra');
    const hex = createHash('sha256').update(body).digest('hex');
    const signed = await signS3({
      method: 'PUT',
      path: '/bucket/key',
      headers: { 'x-amz-content-sha256': hex },
    });
    const verified = await verifySigV4(inputOf(signed), lookup, options());
    assert.deepEqual(verified.payload, { kind: 'sha256', hex });
  });

  it('each streaming x-amz-content-sha256 value selects its payload mode', async () => {
    const modes = {
      'STREAMING-AWS4-HMAC-SHA256-PAYLOAD': 'streaming-signed',
      'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER': 'streaming-signed-trailer',
      'STREAMING-UNSIGNED-PAYLOAD-TRAILER': 'streaming-unsigned-trailer',
    } as const;
    for (const [value, kind] of Object.entries(modes)) {
      const signed = await signS3({
        method: 'PUT',
        path: '/bucket/key',
        headers: { 'x-amz-content-sha256': value },
      });
      const verified = await verifySigV4(inputOf(signed), lookup, options());
      assert.equal(verified.payload.kind, kind);
    }
  });

  it('temporary credentials verify with their session token, which is passed through', async () => {
    const tokenLookup = lookupOf({ [KEY_ID]: SECRET }, { [KEY_ID]: 'session-token/+=' });
    const signed = await signS3({ method: 'GET', path: '/bucket/key' }, { sessionToken: 'session-token/+=' });
    const verified = await verifySigV4(inputOf(signed), tokenLookup, options());
    assert.equal(verified.sessionToken, 'session-token/+=');
  });

  it('the signing key is derived once and then served from the cache', async () => {
    const cache = new SigningKeyCache(4);
    const signed = await signS3({ method: 'GET', path: '/bucket/key' });
    const first = await verifySigV4(inputOf(signed), lookup, s3Options(NOW_MS, { signingKeyCache: cache }));
    const second = await verifySigV4(inputOf(signed), lookup, s3Options(NOW_MS, { signingKeyCache: cache }));
    assert.equal(cache.size, 1);
    assert.equal(first.signingKey, second.signingKey);
  });
});

describe('header authentication failures', () => {
  const options = () => s3Options(NOW_MS);
  let baseline: SigV4Input & { headers: Record<string, string> };

  before(async () => {
    baseline = inputOf(
      await signS3({
        method: 'GET',
        path: '/bucket/photos/cat.jpg',
        query: { versionId: 'v1' },
        headers: { range: 'bytes=0-9', 'x-amz-meta-color': 'orange' },
      }),
    );
    await verifySigV4(baseline, lookup, options());
  });

  const withHeaders = (headers: Record<string, string | string[] | undefined>): SigV4Input => ({
    ...baseline,
    headers: { ...baseline.headers, ...headers },
  });

  it('a wrong secret fails with SignatureDoesNotMatch and reports the string to sign', async () => {
    await assert.rejects(
      verifySigV4(baseline, lookupOf({ [KEY_ID]: `${SECRET}x` }), options()),
      (error: unknown) => {
        assert.ok(error instanceof SigV4Error);
        assert.equal(error.code, 'SignatureDoesNotMatch');
        assert.match(String(error.details.stringToSign), /^AWS4-HMAC-SHA256\n20250115T123000Z\n/);
        return true;
      },
    );
  });

  it('an altered signed header fails with SignatureDoesNotMatch', async () => {
    await assertRejectsWith(
      verifySigV4(withHeaders({ range: 'bytes=0-99' }), lookup, options()),
      'SignatureDoesNotMatch',
    );
    await assertRejectsWith(
      verifySigV4(withHeaders({ host: 'evil.test' }), lookup, options()),
      'SignatureDoesNotMatch',
    );
  });

  it('an altered path fails with SignatureDoesNotMatch', async () => {
    for (const rawPath of ['/bucket/photos/dog.jpg', '/bucket/photos/cat.jpg/', '/bucket//photos/cat.jpg']) {
      await assertRejectsWith(
        verifySigV4({ ...baseline, rawPath }, lookup, options()),
        'SignatureDoesNotMatch',
      );
    }
  });

  it('an altered, added or removed query parameter fails with SignatureDoesNotMatch', async () => {
    for (const rawQuery of ['versionId=v2', 'versionId=v1&acl', '']) {
      await assertRejectsWith(
        verifySigV4({ ...baseline, rawQuery }, lookup, options()),
        'SignatureDoesNotMatch',
      );
    }
  });

  it('a different method fails with SignatureDoesNotMatch', async () => {
    await assertRejectsWith(
      verifySigV4({ ...baseline, method: 'DELETE' }, lookup, options()),
      'SignatureDoesNotMatch',
    );
  });

  it('an unsigned x-amz-* header fails with HeadersNotSigned', async () => {
    await assertRejectsWith(
      verifySigV4(withHeaders({ 'x-amz-acl': 'public-read' }), lookup, options()),
      'HeadersNotSigned',
    );
  });

  it('an unsigned host header fails with HeadersNotSigned', async () => {
    const signed = await signS3(
      { method: 'GET', path: '/bucket/key' },
      { unsignableHeaders: new Set(['host']) },
    );
    await assertRejectsWith(verifySigV4(inputOf(signed), lookup, options()), 'HeadersNotSigned');
  });

  it('a request more than 15 minutes away from the server clock fails with RequestTimeTooSkewed', async () => {
    const skew = LIMITS.clockSkewMaxMs;
    await verifySigV4(baseline, lookup, s3Options(NOW_MS + skew));
    await assertRejectsWith(
      verifySigV4(baseline, lookup, s3Options(NOW_MS + skew + 1000)),
      'RequestTimeTooSkewed',
    );
    await assertRejectsWith(
      verifySigV4(baseline, lookup, s3Options(NOW_MS - skew - 1000)),
      'RequestTimeTooSkewed',
    );
  });

  it('an unknown access key fails with InvalidAccessKeyId', async () => {
    await assertRejectsWith(verifySigV4(baseline, lookupOf({}), options()), 'InvalidAccessKeyId');
  });

  it('errors thrown by the credential lookup propagate unchanged', async () => {
    const inactive: CredentialLookup = () =>
      Promise.reject(new SigV4Error('InactiveAccessKey', 'The access key is inactive.'));
    await assertRejectsWith(verifySigV4(baseline, inactive, options()), 'InactiveAccessKey');
  });

  it('a missing x-amz-content-sha256 fails with InvalidRequest, as S3 answers', async () => {
    const signer = new SignatureV4({
      service: 's3',
      region: REGION,
      sha256: Sha256,
      uriEscapePath: false,
      applyChecksum: false,
      credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET },
    });
    const signed = await signer.sign(
      {
        method: 'GET',
        protocol: 'https:',
        hostname: 'sovra.test',
        path: '/bucket/key',
        headers: { host: HOST },
      },
      { signingDate: new Date(NOW_MS) },
    );
    await assertRejectsWith(verifySigV4(inputOf(signed), lookup, options()), 'InvalidRequest');
  });

  it('an x-amz-content-sha256 that is neither a digest nor a known mode fails with InvalidArgument', async () => {
    const signed = await signS3({
      method: 'PUT',
      path: '/bucket/key',
      headers: { 'x-amz-content-sha256': 'abc' },
    });
    await assertRejectsWith(verifySigV4(inputOf(signed), lookup, options()), 'InvalidArgument');
  });

  it('Signature Version 2 and SigV4a fail with UnsupportedSignatureAlgorithm', async () => {
    for (const authorization of [
      `AWS ${KEY_ID}:frJIUN8DYpKDtOLCwo//yllqDzg=`,
      'AWS4-ECDSA-P256-SHA256 Credential=x',
    ]) {
      const input = withHeaders({ authorization });
      assert.equal(hasAuthentication(input), true);
      await assertRejectsWith(verifySigV4(input, lookup, options()), 'UnsupportedSignatureAlgorithm');
    }
    const v2Query = {
      ...baseline,
      rawQuery: 'AWSAccessKeyId=AKID&Expires=1700000000&Signature=abc%3D',
      headers: { host: HOST },
    };
    assert.equal(hasAuthentication(v2Query), true);
    await assertRejectsWith(verifySigV4(v2Query, lookup, options()), 'UnsupportedSignatureAlgorithm');
  });

  it('a malformed Authorization header fails with AuthorizationHeaderMalformed', async () => {
    const authorization = baseline.headers.authorization ?? '';
    const malformed = [
      authorization.replace(/, Signature=\w+/, ''),
      authorization.replace('SignedHeaders=', 'SignedHeaders=x-amz-date;host;'),
      authorization.replace('SignedHeaders=', 'SignedHeaders=Host;'),
      authorization.replace(/Signature=\w+/, 'Signature=abc'),
      authorization.replace('/aws4_request', '/aws5_request'),
      authorization.replace(`${KEY_ID}/`, ''),
      `${authorization}, Extra=1`,
    ];
    for (const value of malformed) {
      await assertRejectsWith(
        verifySigV4(withHeaders({ authorization: value }), lookup, options()),
        'AuthorizationHeaderMalformed',
      );
    }
  });

  it('a credential scope for another service or another day fails with AuthorizationHeaderMalformed', async () => {
    const authorization = baseline.headers.authorization ?? '';
    for (const value of [
      authorization.replace('/s3/', '/kms/'),
      authorization.replace('/20250115/', '/20250114/'),
    ]) {
      await assertRejectsWith(
        verifySigV4(withHeaders({ authorization: value }), lookup, options()),
        'AuthorizationHeaderMalformed',
      );
    }
  });

  it('a missing or unparseable date fails with MissingDateHeader', async () => {
    await assertRejectsWith(
      verifySigV4(withHeaders({ 'x-amz-date': undefined }), lookup, options()),
      'MissingDateHeader',
    );
    await assertRejectsWith(
      verifySigV4(withHeaders({ 'x-amz-date': 'Wed, 15 Jan 2025 12:30:00 GMT' }), lookup, options()),
      'MissingDateHeader',
    );
  });

  it('a wrong or missing session token fails with InvalidToken', async () => {
    const tokenLookup = lookupOf({ [KEY_ID]: SECRET }, { [KEY_ID]: 'right-token' });
    const wrong = await signS3({ method: 'GET', path: '/bucket/key' }, { sessionToken: 'wrong-token' });
    await assertRejectsWith(verifySigV4(inputOf(wrong), tokenLookup, options()), 'InvalidToken');
    await assertRejectsWith(verifySigV4(baseline, tokenLookup, options()), 'InvalidToken');
    const unexpected = await signS3({ method: 'GET', path: '/bucket/key' }, { sessionToken: 'some-token' });
    await assertRejectsWith(verifySigV4(inputOf(unexpected), lookup, options()), 'InvalidToken');
  });

  it('an Authorization header together with X-Amz-Algorithm fails with InvalidArgument', async () => {
    await assertRejectsWith(
      verifySigV4(
        { ...baseline, rawQuery: 'versionId=v1&X-Amz-Algorithm=AWS4-HMAC-SHA256' },
        lookup,
        options(),
      ),
      'InvalidArgument',
    );
  });

  it('a request with no authentication fails with AccessDeniedAnonymous', async () => {
    const anonymous = {
      method: 'GET',
      rawPath: '/bucket/key',
      rawQuery: 'X-Amz-Algorithmic=1',
      headers: { host: HOST },
    };
    assert.equal(hasAuthentication(anonymous), false);
    await assertRejectsWith(verifySigV4(anonymous, lookup, options()), 'AccessDeniedAnonymous');
  });
});

describe('presigned URLs signed by @aws-sdk/s3-request-presigner', () => {
  const options = () => s3Options(NOW_MS);

  it('a presigned GET with response overrides verifies, with an unsigned payload', async () => {
    const presigned = await presignS3(
      {
        method: 'GET',
        path: s3Path('bucket', 'reports/Q1 2025 (final).pdf'),
        query: { 'response-content-disposition': 'attachment; filename="Q1 2025.pdf"' },
      },
      3600,
    );
    const input = inputOf(presigned);
    assert.equal(hasAuthentication(input), true);
    const verified = await verifySigV4(input, lookup, options());
    assert.equal(verified.method, 'presigned');
    assert.deepEqual(verified.payload, { kind: 'unsigned' });
  });

  it('a presigned PUT whose server-side-encryption header stays a signed header verifies', async () => {
    const presigned = await presignS3(
      { method: 'PUT', path: s3Path('bucket', 'k'), headers: { 'x-amz-server-side-encryption': 'aws:kms' } },
      600,
    );
    const input = inputOf(presigned);
    assert.equal(input.headers['x-amz-server-side-encryption'], 'aws:kms');
    await verifySigV4(input, lookup, options());
  });

  it('a presigned URL within its lifetime verifies; one second after, it fails with RequestExpired', async () => {
    const input = inputOf(await presignS3({ method: 'GET', path: '/bucket/key' }, 900));
    await verifySigV4(input, lookup, s3Options(NOW_MS + 900_000));
    await assertRejectsWith(verifySigV4(input, lookup, s3Options(NOW_MS + 901_000)), 'RequestExpired');
  });

  it('a presigned URL dated beyond the allowed skew in the future fails with RequestNotYetValid', async () => {
    const input = inputOf(
      await presignS3({ method: 'GET', path: '/bucket/key' }, 900, NOW_MS + LIMITS.clockSkewMaxMs + 60_000),
    );
    await assertRejectsWith(verifySigV4(input, lookup, options()), 'RequestNotYetValid');
  });

  it('X-Amz-Expires outside 1..604800 fails with AuthorizationQueryParametersError', async () => {
    const input = inputOf(await presignS3({ method: 'GET', path: '/bucket/key' }, 900));
    for (const expires of ['604801', '0', '-1', '1e3', '']) {
      const rawQuery = input.rawQuery.replace('X-Amz-Expires=900', `X-Amz-Expires=${expires}`);
      await assertRejectsWith(
        verifySigV4({ ...input, rawQuery }, lookup, options()),
        'AuthorizationQueryParametersError',
      );
    }
  });

  it('a missing or repeated authentication parameter fails with AuthorizationQueryParametersError', async () => {
    const input = inputOf(await presignS3({ method: 'GET', path: '/bucket/key' }, 900));
    const withoutSignature = input.rawQuery.replace(/&?X-Amz-Signature=\w+/, '');
    const repeatedDate = `${input.rawQuery}&X-Amz-Date=20250115T123000Z`;
    const wrongAlgorithm = input.rawQuery.replace('X-Amz-Algorithm=AWS4-HMAC-SHA256', 'X-Amz-Algorithm=HMAC');
    for (const rawQuery of [withoutSignature, repeatedDate, wrongAlgorithm]) {
      await assertRejectsWith(
        verifySigV4({ ...input, rawQuery }, lookup, options()),
        'AuthorizationQueryParametersError',
      );
    }
  });

  it('an altered query parameter or path fails with SignatureDoesNotMatch', async () => {
    const input = inputOf(
      await presignS3(
        { method: 'GET', path: '/bucket/key', query: { 'response-content-type': 'text/plain' } },
        900,
      ),
    );
    const rawQuery = input.rawQuery.replace(
      'response-content-type=text%2Fplain',
      'response-content-type=text%2Fhtml',
    );
    await assertRejectsWith(verifySigV4({ ...input, rawQuery }, lookup, options()), 'SignatureDoesNotMatch');
    await assertRejectsWith(
      verifySigV4({ ...input, rawPath: '/bucket/other' }, lookup, options()),
      'SignatureDoesNotMatch',
    );
    await assertRejectsWith(
      verifySigV4({ ...input, method: 'PUT' }, lookup, options()),
      'SignatureDoesNotMatch',
    );
  });

  it('an x-amz-* header that the URL did not sign fails with HeadersNotSigned', async () => {
    const input = inputOf(await presignS3({ method: 'PUT', path: '/bucket/key' }, 900));
    await assertRejectsWith(
      verifySigV4({ ...input, headers: { ...input.headers, 'x-amz-acl': 'public-read' } }, lookup, options()),
      'HeadersNotSigned',
    );
  });
});

describe('services other than S3 (standard URI encoding, body hash supplied by the caller)', () => {
  const body = JSON.stringify({ KeyId: 'alias/sovra', Plaintext: 'aGVsbG8=' });
  const bodySha256 = createHash('sha256').update(body).digest('hex');
  const kmsOptions = () => s3Options(NOW_MS, { service: 'kms', uriEncoding: 'standard' });

  async function signKms(path: string, applyChecksum: boolean): Promise<SmithyRequest> {
    const signer = new SignatureV4({
      service: 'kms',
      region: REGION,
      sha256: Sha256,
      applyChecksum,
      credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET },
    });
    return signer.sign(
      {
        method: 'POST',
        protocol: 'https:',
        hostname: 'kms.sovra.test',
        path,
        headers: {
          host: 'kms.sovra.test',
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': 'TrentService.Encrypt',
        },
        body,
      },
      { signingDate: new Date(NOW_MS) },
    );
  }

  it('a request without x-amz-content-sha256 (boto, Go SDK) verifies against the body hash the caller supplies', async () => {
    for (const path of ['/', '/a/./b/../c%20d//e']) {
      const input = { ...inputOf(await signKms(path, false)), payloadSha256Hex: bodySha256 };
      assert.equal(input.headers['x-amz-content-sha256'], undefined);
      const verified = await verifySigV4(input, lookup, kmsOptions());
      assert.equal(verified.service, 'kms');
      const otherBody = createHash('sha256').update(`${body} `).digest('hex');
      await assertRejectsWith(
        verifySigV4({ ...input, payloadSha256Hex: otherBody }, lookup, kmsOptions()),
        'SignatureDoesNotMatch',
      );
    }
  });

  it('a request with x-amz-content-sha256 (the JS SDK default) verifies and asks for the body to be checked', async () => {
    const verified = await verifySigV4(inputOf(await signKms('/', true)), lookup, kmsOptions());
    assert.deepEqual(verified.payload, { kind: 'sha256', hex: bodySha256 });
  });

  it('an S3 credential scope on the KMS endpoint fails with AuthorizationHeaderMalformed', async () => {
    const signed = await signS3({ method: 'GET', path: '/' });
    await assertRejectsWith(
      verifySigV4(inputOf(signed), lookup, kmsOptions()),
      'AuthorizationHeaderMalformed',
    );
  });
});

describe('the real S3 client over loopback', () => {
  interface Received {
    verified: VerifiedRequest;
    body: Buffer;
    trailers: Record<string, string>;
  }
  const received: Received[] = [];
  let server: http.Server;
  let endpoint: string;

  async function handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const url = request.url ?? '/';
    const question = url.indexOf('?');
    const input: SigV4Input = {
      method: request.method ?? 'GET',
      rawPath: question === -1 ? url : url.slice(0, question),
      rawQuery: question === -1 ? '' : url.slice(question + 1),
      headers: request.headersDistinct,
    };
    try {
      const verified = await verifySigV4(input, lookup, s3Options(Date.now()));
      const chunkedOptions = awsChunkedDecoderOptions(verified, request.headersDistinct);
      const decoder = chunkedOptions === null ? null : createAwsChunkedDecoder(chunkedOptions);
      const parts: Buffer[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          parts.push(chunk);
          callback();
        },
      });
      if (decoder !== null) await pipeline(request, decoder, sink);
      else if (verified.payload.kind === 'sha256')
        await pipeline(request, createPayloadHashVerifier(verified.payload.hex), sink);
      else await pipeline(request, sink);
      received.push({ verified, body: Buffer.concat(parts), trailers: decoder?.trailers() ?? {} });
      response.writeHead(200, { etag: '"sovra"', 'content-type': 'text/plain' });
      response.end(request.method === 'GET' ? 'object body' : '');
    } catch (error) {
      request.resume();
      const code = error instanceof SigV4Error ? error.code : 'InternalError';
      response.writeHead(403, { 'content-type': 'application/xml' });
      response.end(
        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>denied</Message></Error>`,
      );
    }
  }

  const clientWith = (secretAccessKey: string) =>
    new S3Client({
      region: REGION,
      endpoint,
      forcePathStyle: true,
      maxAttempts: 1,
      credentials: { accessKeyId: KEY_ID, secretAccessKey },
    });

  before(async () => {
    server = http.createServer((request, response) => void handle(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('PutObject with a buffer body verifies and its x-amz-content-sha256 digest matches the body', async () => {
    const client = clientWith(SECRET);
    received.length = 0;
    await client.send(
      new PutObjectCommand({ Bucket: 'bucket', Key: 'dir/ü key+(1).txt', Body: Buffer.from('hello sovra') }),
    );
    client.destroy();
    assert.equal(received.length, 1);
    assert.equal(received[0]?.verified.payload.kind, 'sha256');
    assert.equal(received[0]?.body.toString(), 'hello sovra');
  });

  it('PutObject with a stream body is decoded from aws-chunked with its checksum trailer', async () => {
    const client = clientWith(SECRET);
    received.length = 0;
    const parts = [Buffer.alloc(70_000, 'x'), Buffer.from('tail')];
    await client.send(
      new PutObjectCommand({
        Bucket: 'bucket',
        Key: 'streamed',
        Body: Readable.from(parts),
        ContentLength: 70_004,
      }),
    );
    client.destroy();
    assert.equal(received[0]?.verified.payload.kind, 'streaming-unsigned-trailer');
    assert.deepEqual(received[0]?.body, Buffer.concat(parts));
    assert.deepEqual(Object.keys(received[0]?.trailers ?? {}), ['x-amz-checksum-crc32']);
  });

  it('a presigned GetObject URL fetched with plain fetch verifies', async () => {
    const client = clientWith(SECRET);
    const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: 'bucket', Key: 'a b/c' }), {
      expiresIn: 60,
    });
    client.destroy();
    const response = await fetch(url);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), 'object body');
  });

  it('a client with the wrong secret is refused with SignatureDoesNotMatch', async () => {
    const client = clientWith(`${SECRET}-wrong`);
    await assert.rejects(
      client.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'k', Body: Buffer.from('x') })),
      (error: unknown) => {
        assert.equal((error as { name?: string }).name, 'SignatureDoesNotMatch');
        return true;
      },
    );
    client.destroy();
  });
});
