import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LIMITS } from '../../src/platform/limits.ts';
import { SigV4Error } from '../../src/protocols/sigv4/errors.ts';
import { signRequest } from '../../src/protocols/sigv4/sign.ts';
import { verifySigV4, type CredentialLookup, type VerifyOptions } from '../../src/protocols/sigv4/verify.ts';

const CREDENTIALS = {
  accessKeyId: 'SVRAKEYID00000000001',
  secretAccessKey: 'sovra/secret+key/0123456789abcdefghij',
};
const NOW = new Date(Date.UTC(2026, 0, 15, 12, 30, 0));
const REGION = 'eu-central-1';

const lookup: CredentialLookup = (accessKeyId) =>
  Promise.resolve(
    accessKeyId === CREDENTIALS.accessKeyId
      ? { secretAccessKey: CREDENTIALS.secretAccessKey, principalId: 'user-1', tenantId: 'root' }
      : null,
  );

const options = (service = 'sovra'): VerifyOptions => ({
  service,
  nowMs: NOW.getTime(),
  maxSkewMs: LIMITS.clockSkewMaxMs,
  maxPresignSeconds: LIMITS.presignMaxExpiresSeconds,
  uriEncoding: 'standard',
});

function inputOf(method: string, url: URL, headers: Record<string, string>) {
  return { method, rawPath: url.pathname, rawQuery: url.search.slice(1), headers };
}

describe('the SigV4 signer (protocols/sigv4/sign.ts)', () => {
  it('produces what @smithy/signature-v4 produces for the same request', async () => {
    const url = new URL('http://127.0.0.1:9000/_sovra/operator/seal?b=2&a=1');
    const body = '{"x":1}';
    const ours = signRequest(
      { method: 'POST', url, body, headers: { 'Content-Type': 'application/json' } },
      CREDENTIALS,
      { region: REGION, service: 'sovra', now: NOW },
    );
    const smithy = new SignatureV4({
      credentials: CREDENTIALS,
      region: REGION,
      service: 'sovra',
      sha256: Sha256,
    });
    const signed = await smithy.sign(
      {
        method: 'POST',
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: 9000,
        path: '/_sovra/operator/seal',
        query: { b: '2', a: '1' },
        headers: {
          host: '127.0.0.1:9000',
          'content-type': 'application/json',
          'x-amz-content-sha256': ours['x-amz-content-sha256']!,
        },
        body,
      },
      { signingDate: NOW },
    );
    assert.equal(ours.authorization, signed.headers.authorization);
    assert.equal(ours['x-amz-date'], '20260115T123000Z');
  });

  it('verifies with the server-side verifier, and any change to the request breaks it', async () => {
    const url = new URL('http://localhost:9000/_sovra/operator/seal');
    const headers = signRequest({ method: 'POST', url, body: '' }, CREDENTIALS, {
      region: REGION,
      service: 'sovra',
      now: NOW,
    });
    const verified = await verifySigV4(inputOf('POST', url, headers), lookup, options());
    assert.equal(verified.principalId, 'user-1');
    assert.equal(verified.service, 'sovra');
    assert.deepEqual(verified.payload, {
      kind: 'sha256',
      hex: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    });

    const refused = (code: string) => (error: unknown) => error instanceof SigV4Error && error.code === code;
    await assert.rejects(
      verifySigV4(inputOf('PUT', url, headers), lookup, options()),
      refused('SignatureDoesNotMatch'),
    );
    await assert.rejects(
      verifySigV4(
        inputOf('POST', new URL('http://localhost:9000/_sovra/operator/status'), headers),
        lookup,
        options(),
      ),
      refused('SignatureDoesNotMatch'),
    );
    await assert.rejects(
      verifySigV4(inputOf('POST', url, headers), lookup, options('s3')),
      refused('AuthorizationHeaderMalformed'),
    );
    const wrongSecret = signRequest(
      { method: 'POST', url },
      { ...CREDENTIALS, secretAccessKey: 'x' },
      {
        region: REGION,
        service: 'sovra',
        now: NOW,
      },
    );
    await assert.rejects(
      verifySigV4(inputOf('POST', url, wrongSecret), lookup, options()),
      refused('SignatureDoesNotMatch'),
    );
  });
});
