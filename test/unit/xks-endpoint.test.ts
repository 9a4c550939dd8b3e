import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SqlKeyStore } from '../../src/adapters/sql/kms-store.ts';
import { SqlMetadataStore } from '../../src/adapters/sql/metadata-store.ts';
import { SQLITE_MIGRATIONS } from '../../src/adapters/sqlite/migrations.ts';
import { SqliteDatabase } from '../../src/adapters/sqlite/sqlite-database.ts';
import { KeyRing } from '../../src/domain/kms/key-ring.ts';
import { SoftwareRoot } from '../../src/domain/kms/root-of-trust.ts';
import {
  XKS_ENABLED_TAG_KEY,
  XKS_ENABLED_TAG_VALUE,
  XksKeyStore,
  type XksJustification,
} from '../../src/domain/kms/xks.ts';
import { XksEndpoint } from '../../src/protocols/xks/xks-endpoint.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { LIMITS } from '../../src/platform/limits.ts';
import { EXAMPLE_METADATA, XksClient, type XksResponse } from '../helpers/xks-client.ts';

/**
 * The XKS proxy endpoint in process, on a real SQLite key store and a software root, driven by
 * requests signed with @smithy/signature-v4 exactly as the specification's examples sign them
 * (service kms-xks-proxy, SignedHeaders host;x-amz-date) and checked field by field against
 * xks_proxy_api_spec.md.
 */
const REGION = 'eu-central-1';
const TENANT = 'acme';
const ACCESS_KEY_ID = 'MUBSXM6K3KMXHN6RRCXI7TWQH4NU';
const SECRET = 'FYtE5EFA5FT0mCc3DrGUe2sti527BitkQ0Zr9MO9fvE';
const PREFIX = '/keystores/acme';
// Spec "Encrypt", request payload example: "Hello World!" and "project=nile,department=marketing".
const EXAMPLE_PLAINTEXT = 'SGVsbG8gV29ybGQh';
const EXAMPLE_AAD = 'cHJvamVjdD1uaWxlLGRlcGFydG1lbnQ9bWFya2V0aW5n';

describe('XKS proxy endpoint (AWS KMS External Key Store proxy API)', () => {
  let directory: string;
  let metadataStore: SqlMetadataStore;
  let server: Server;
  let root: SoftwareRoot;
  let rootKey: Buffer;
  let keyRing: KeyRing;
  let xks: XksKeyStore;
  let client: XksClient;
  let endpointUrl: string;
  const justifications: XksJustification[] = [];
  let keyId: string;
  let otherKeyId: string;
  let untaggedKeyId: string;
  let signingKeyId: string;

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'sovra-xks-endpoint-'));
    const db = new SqliteDatabase(join(directory, 'metadata.sqlite'));
    metadataStore = new SqlMetadataStore(db, { migrations: SQLITE_MIGRATIONS, clock: systemClock });
    await metadataStore.migrate();
    await metadataStore.transaction(async (tx) => {
      await tx.insertTenant({ id: TENANT, name: TENANT, createdAt: new Date() });
    });
    root = new SoftwareRoot();
    rootKey = randomBytes(32);
    root.unsealWith(Buffer.from(rootKey));
    keyRing = new KeyRing({ store: new SqlKeyStore(db), root, clock: systemClock, region: REGION });
    const tag = [{ key: XKS_ENABLED_TAG_KEY, value: XKS_ENABLED_TAG_VALUE }];
    const create = async (keySpec: 'SYMMETRIC_DEFAULT' | 'ECC_NIST_P256', tags: typeof tag) =>
      (await keyRing.createKey(TENANT, { keySpec, keyUsage: null, description: 'xks', policy: null, tags }))
        .keyId;
    keyId = await create('SYMMETRIC_DEFAULT', tag);
    otherKeyId = await create('SYMMETRIC_DEFAULT', tag);
    untaggedKeyId = await create('SYMMETRIC_DEFAULT', []);
    signingKeyId = await create('ECC_NIST_P256', tag);
    await keyRing.createAlias(TENANT, 'alias/payroll-xks', keyId);
    xks = new XksKeyStore({
      keyRing,
      tenantId: TENANT,
      justifications: (j) => justifications.push(j),
      clock: systemClock,
    });
    const endpoint = new XksEndpoint({
      keyStore: xks,
      credentials: {
        accessKeyId: ACCESS_KEY_ID,
        secretAccessKey: SECRET,
        uriPrefix: PREFIX,
        tenantId: TENANT,
      },
      clock: systemClock,
      region: REGION,
      rootUsable: () => root.state() === 'unsealed',
      jurisdictionOf: () => 'DE',
    });
    server = createServer((req, res) => void endpoint.handle(req, res, 'REQ1', { error: () => undefined }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    assert.ok(typeof address === 'object' && address !== null);
    endpointUrl = `http://127.0.0.1:${address.port}`;
    client = clientWith({});
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await root.close();
    await metadataStore.close();
    await rm(directory, { recursive: true, force: true });
  });

  function clientWith(overrides: Partial<ConstructorParameters<typeof XksClient>[0]>): XksClient {
    return new XksClient({
      endpoint: endpointUrl,
      uriPrefix: PREFIX,
      accessKeyId: ACCESS_KEY_ID,
      secretAccessKey: SECRET,
      region: REGION,
      ...overrides,
    });
  }

  function assertError(response: XksResponse, status: number, errorName: string): void {
    assert.equal(response.status, status, JSON.stringify(response.body));
    assert.equal(response.body.errorName, errorName);
    const message = response.body.errorMessage;
    assert.ok(typeof message === 'string' && message.length < 512 && /^[\x20-\x7e]*$/.test(message));
  }

  const encryptBody = (extra: Record<string, unknown> = {}) => ({
    requestMetadata: { ...EXAMPLE_METADATA, kmsOperation: 'Encrypt' },
    additionalAuthenticatedData: EXAMPLE_AAD,
    plaintext: EXAMPLE_PLAINTEXT,
    encryptionAlgorithm: 'AES_GCM',
    ...extra,
  });

  async function encrypt(externalKeyId: string, extra: Record<string, unknown> = {}) {
    const response = await client.post(`/keys/${externalKeyId}/encrypt`, encryptBody(extra));
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body as Record<string, string>;
  }

  function decryptBody(encrypted: Record<string, string>, extra: Record<string, unknown> = {}) {
    return {
      requestMetadata: { ...EXAMPLE_METADATA, kmsOperation: 'Decrypt' },
      additionalAuthenticatedData: EXAMPLE_AAD,
      encryptionAlgorithm: 'AES_GCM',
      ciphertext: encrypted.ciphertext,
      ciphertextMetadata: encrypted.ciphertextMetadata,
      initializationVector: encrypted.initializationVector,
      authenticationTag: encrypted.authenticationTag,
      ...extra,
    };
  }

  test('GetHealthStatus answers every required field with the root ACTIVE', async () => {
    const response = await client.post('/health', {
      requestMetadata: {
        kmsRequestId: '4112f4d6-db54-4af4-ae30-c55a22a8dfae',
        kmsOperation: 'CreateCustomKeyStore',
      },
    });
    assert.equal(response.status, 200);
    assert.equal(response.contentType, 'application/json');
    assert.deepEqual(Object.keys(response.body).sort(), [
      'ekmFleetDetails',
      'ekmVendor',
      'xksProxyFleetSize',
      'xksProxyModel',
      'xksProxyVendor',
    ]);
    assert.ok(
      Number.isInteger(response.body.xksProxyFleetSize) && Number(response.body.xksProxyFleetSize) > 0,
    );
    assert.equal(typeof response.body.xksProxyVendor, 'string');
    assert.equal(typeof response.body.xksProxyModel, 'string');
    assert.equal(typeof response.body.ekmVendor, 'string');
    const fleet = response.body.ekmFleetDetails as Record<string, unknown>[];
    assert.ok(fleet.length >= 1 && fleet.length <= 10);
    assert.deepEqual(Object.keys(fleet[0]!).sort(), ['healthStatus', 'id', 'model']);
    assert.equal(fleet[0]!.healthStatus, 'ACTIVE');
  });

  test('GetKeyMetadata answers AES_256, ENCRYPT and DECRYPT, ENABLED (spec example)', async () => {
    const response = await client.post(`/keys/${keyId}/metadata`, {
      requestMetadata: { ...EXAMPLE_METADATA, kmsOperation: 'DescribeKey' },
    });
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, {
      keySpec: 'AES_256',
      keyUsage: ['ENCRYPT', 'DECRYPT'],
      keyStatus: 'ENABLED',
    });
  });

  test('GetKeyMetadata for CreateKey needs no kmsKeyArn', async () => {
    const metadata: Record<string, string> = { ...EXAMPLE_METADATA, kmsOperation: 'CreateKey' };
    delete metadata.kmsKeyArn;
    const response = await client.post(`/keys/${keyId}/metadata`, { requestMetadata: metadata });
    assert.equal(response.status, 200);
  });

  test('Encrypt of the spec example answers ciphertext, 20-byte metadata, 12-byte IV, 16-byte tag and the CDIV', async () => {
    const body = await encrypt(keyId, { ciphertextDataIntegrityValueAlgorithm: 'SHA_256' });
    assert.deepEqual(Object.keys(body).sort(), [
      'authenticationTag',
      'ciphertext',
      'ciphertextDataIntegrityValue',
      'ciphertextMetadata',
      'initializationVector',
    ]);
    const bytes = (name: string) => Buffer.from(body[name]!, 'base64');
    assert.equal(bytes('ciphertext').length, Buffer.from(EXAMPLE_PLAINTEXT, 'base64').length);
    assert.equal(bytes('ciphertextMetadata').length, 20);
    assert.equal(bytes('initializationVector').length, 12);
    assert.equal(bytes('authenticationTag').length, 16);
    // Spec "Appendix C": SHA-256 over AAD ‖ ciphertextMetadata ‖ IV ‖ ciphertext ‖ tag.
    const cdiv = createHash('sha256')
      .update(Buffer.from(EXAMPLE_AAD, 'base64'))
      .update(bytes('ciphertextMetadata'))
      .update(bytes('initializationVector'))
      .update(bytes('ciphertext'))
      .update(bytes('authenticationTag'))
      .digest('base64');
    assert.equal(body.ciphertextDataIntegrityValue, cdiv);
    const decrypted = await client.post(`/keys/${keyId}/decrypt`, decryptBody(body));
    assert.equal(decrypted.status, 200);
    assert.deepEqual(decrypted.body, { plaintext: EXAMPLE_PLAINTEXT });
  });

  test('Encrypt without ciphertextDataIntegrityValueAlgorithm answers no CDIV', async () => {
    const body = await encrypt(keyId);
    assert.equal(body.ciphertextDataIntegrityValue, undefined);
  });

  test('an alias names the same external key (alias/<externalKeyId>)', async () => {
    const body = await encrypt('payroll-xks');
    const decrypted = await client.post(`/keys/${keyId}/decrypt`, decryptBody(body));
    assert.deepEqual(decrypted.body, { plaintext: EXAMPLE_PLAINTEXT });
  });

  test("plaintext of 4,300 bytes and AAD of 8,192 bytes (the spec's maxima) round-trip", async () => {
    assert.equal(LIMITS.xksPlaintextMaxBytes, 4300);
    const plaintext = randomBytes(LIMITS.xksPlaintextMaxBytes).toString('base64');
    const aad = randomBytes(LIMITS.xksAadMaxBytes).toString('base64');
    const body = await encrypt(keyId, { plaintext, additionalAuthenticatedData: aad });
    const decrypted = await client.post(
      `/keys/${keyId}/decrypt`,
      decryptBody(body, { additionalAuthenticatedData: aad }),
    );
    assert.deepEqual(decrypted.body, { plaintext });
  });

  test("plaintexts beyond the KMS API's 4,096 bytes are accepted up to 4,300 and refused past it", async () => {
    for (const length of [4097, 4200, 4299]) {
      const plaintext = randomBytes(length).toString('base64');
      const body = await encrypt(keyId, { plaintext });
      assert.equal(Buffer.from(body.ciphertext!, 'base64').length, length);
      const decrypted = await client.post(`/keys/${keyId}/decrypt`, decryptBody(body));
      assert.deepEqual(decrypted.body, { plaintext }, `${length} bytes`);
    }
    const tooLong = randomBytes(LIMITS.xksPlaintextMaxBytes + 1).toString('base64');
    assertError(
      await client.post(`/keys/${keyId}/encrypt`, encryptBody({ plaintext: tooLong })),
      400,
      'ValidationException',
    );
  });

  test('a changed AAD, metadata, IV, tag or ciphertext fails with one InvalidCiphertextException', async () => {
    const body = await encrypt(keyId);
    const flip = (value: string) => {
      const bytes = Buffer.from(value, 'base64');
      bytes[bytes.length - 1]! ^= 1;
      return bytes.toString('base64');
    };
    const variants: Record<string, unknown>[] = [
      { additionalAuthenticatedData: flip(EXAMPLE_AAD) },
      { additionalAuthenticatedData: undefined },
      { ciphertextMetadata: flip(body.ciphertextMetadata!) },
      { ciphertextMetadata: undefined },
      { initializationVector: flip(body.initializationVector!) },
      { initializationVector: randomBytes(16).toString('base64') },
      { authenticationTag: flip(body.authenticationTag!) },
      { ciphertext: flip(body.ciphertext!) },
    ];
    const messages = new Set<unknown>();
    for (const variant of variants) {
      const response = await client.post(`/keys/${keyId}/decrypt`, decryptBody(body, variant));
      assertError(response, 400, 'InvalidCiphertextException');
      messages.add(response.body.errorMessage);
    }
    assert.equal(messages.size, 1);
  });

  test('ciphertextMetadata passed as AAD does not decrypt (lengths are bound)', async () => {
    const body = await encrypt(keyId, { additionalAuthenticatedData: undefined });
    const response = await client.post(
      `/keys/${keyId}/decrypt`,
      decryptBody(body, { additionalAuthenticatedData: body.ciphertextMetadata }),
    );
    assertError(response, 400, 'InvalidCiphertextException');
  });

  test('a ciphertext of another external key fails with InvalidCiphertextException', async () => {
    const body = await encrypt(otherKeyId);
    assertError(
      await client.post(`/keys/${keyId}/decrypt`, decryptBody(body)),
      400,
      'InvalidCiphertextException',
    );
  });

  test('after rotation, old ciphertexts decrypt and new ones name the new version', async () => {
    const old = await encrypt(otherKeyId);
    await keyRing.rotateKeyOnDemand(TENANT, otherKeyId);
    await new Promise((resolve) => setTimeout(resolve, LIMITS.kmsKeyRecordCacheTtlMs + 50));
    const fresh = await encrypt(otherKeyId);
    const version = (metadata: string) => Buffer.from(metadata, 'base64').readUInt32BE(16);
    assert.equal(version(old.ciphertextMetadata!), 1);
    assert.equal(version(fresh.ciphertextMetadata!), 2);
    for (const body of [old, fresh]) {
      const response = await client.post(`/keys/${otherKeyId}/decrypt`, decryptBody(body));
      assert.deepEqual(response.body, { plaintext: EXAMPLE_PLAINTEXT });
    }
  });

  test('a key not tagged for XKS, or unknown, is KeyNotFoundException 404', async () => {
    for (const id of [untaggedKeyId, '00000000-0000-4000-8000-000000000000', 'no-such-alias']) {
      assertError(
        await client.post(`/keys/${id}/metadata`, { requestMetadata: EXAMPLE_METADATA }),
        404,
        'KeyNotFoundException',
      );
      assertError(await client.post(`/keys/${id}/encrypt`, encryptBody()), 404, 'KeyNotFoundException');
    }
  });

  test('removing the sovra:xks tag cuts the key off within the key-record cache time', async () => {
    const body = await encrypt(otherKeyId);
    await keyRing.untagResource(TENANT, otherKeyId, [XKS_ENABLED_TAG_KEY]);
    try {
      await new Promise((resolve) => setTimeout(resolve, LIMITS.kmsKeyRecordCacheTtlMs + 50));
      assertError(
        await client.post(`/keys/${otherKeyId}/decrypt`, decryptBody(body)),
        404,
        'KeyNotFoundException',
      );
    } finally {
      await keyRing.tagResource(TENANT, otherKeyId, [
        { key: XKS_ENABLED_TAG_KEY, value: XKS_ENABLED_TAG_VALUE },
      ]);
    }
    await new Promise((resolve) => setTimeout(resolve, LIMITS.kmsKeyRecordCacheTtlMs + 50));
    assert.equal((await client.post(`/keys/${otherKeyId}/decrypt`, decryptBody(body))).status, 200);
  });

  test('a key that is not AES-256 is InvalidKeyUsageException', async () => {
    assertError(
      await client.post(`/keys/${signingKeyId}/encrypt`, encryptBody()),
      400,
      'InvalidKeyUsageException',
    );
  });

  test('a disabled key reports DISABLED and refuses Encrypt and Decrypt with InvalidStateException', async () => {
    const body = await encrypt(keyId);
    await keyRing.disableKey(TENANT, keyId);
    try {
      await new Promise((resolve) => setTimeout(resolve, LIMITS.kmsKeyRecordCacheTtlMs + 50));
      const metadata = await client.post(`/keys/${keyId}/metadata`, { requestMetadata: EXAMPLE_METADATA });
      assert.equal(metadata.body.keyStatus, 'DISABLED');
      assertError(await client.post(`/keys/${keyId}/encrypt`, encryptBody()), 400, 'InvalidStateException');
      assertError(
        await client.post(`/keys/${keyId}/decrypt`, decryptBody(body)),
        400,
        'InvalidStateException',
      );
    } finally {
      await keyRing.enableKey(TENANT, keyId);
      await new Promise((resolve) => setTimeout(resolve, LIMITS.kmsKeyRecordCacheTtlMs + 50));
    }
  });

  test('a revoked tenant is refused at once with InvalidStateException and reports UNAVAILABLE', async () => {
    const body = await encrypt(keyId);
    xks.revoke();
    try {
      assertError(
        await client.post(`/keys/${keyId}/decrypt`, decryptBody(body)),
        400,
        'InvalidStateException',
      );
      assertError(
        await client.post(`/keys/${keyId}/metadata`, { requestMetadata: EXAMPLE_METADATA }),
        400,
        'InvalidStateException',
      );
      const health = await client.post('/health', {
        requestMetadata: { kmsRequestId: 'r', kmsOperation: 'KmsHealthCheck' },
      });
      assert.equal(
        (health.body.ekmFleetDetails as { healthStatus: string }[])[0]!.healthStatus,
        'UNAVAILABLE',
      );
    } finally {
      xks.restore();
    }
    assert.equal((await client.post(`/keys/${keyId}/decrypt`, decryptBody(body))).status, 200);
  });

  test('a sealed root refuses Encrypt and Decrypt with InvalidStateException and reports UNAVAILABLE', async () => {
    const body = await encrypt(keyId);
    await root.close();
    keyRing.forgetMaterial();
    try {
      assertError(await client.post(`/keys/${keyId}/encrypt`, encryptBody()), 400, 'InvalidStateException');
      assertError(
        await client.post(`/keys/${keyId}/decrypt`, decryptBody(body)),
        400,
        'InvalidStateException',
      );
      const health = await client.post('/health', {
        requestMetadata: { kmsRequestId: 'r', kmsOperation: 'KmsHealthCheck' },
      });
      assert.equal(health.status, 200);
      assert.equal(
        (health.body.ekmFleetDetails as { healthStatus: string }[])[0]!.healthStatus,
        'UNAVAILABLE',
      );
    } finally {
      root.unsealWith(Buffer.from(rootKey));
    }
    assert.equal((await client.post(`/keys/${keyId}/decrypt`, decryptBody(body))).status, 200);
  });

  test('every key operation records a CUSTOMER_INITIATED_ACCESS justification from requestMetadata', async () => {
    justifications.length = 0;
    await encrypt(keyId);
    const metadata: Record<string, string> = { ...EXAMPLE_METADATA, kmsOperation: 'BulkEncrypt' };
    delete metadata.kmsViaService;
    const response = await client.post(`/keys/${keyId}/encrypt`, encryptBody({ requestMetadata: metadata }));
    assert.equal(response.status, 200, 'an unknown kmsOperation is not rejected (spec "Encrypt")');
    assert.equal(justifications.length, 2);
    assert.deepEqual(justifications[0], {
      tenantId: TENANT,
      keyReference: keyId,
      principal: EXAMPLE_METADATA.awsPrincipalArn,
      service: 'ebs',
      reason: 'CUSTOMER_INITIATED_ACCESS',
      operation: 'Encrypt',
      requestId: EXAMPLE_METADATA.kmsRequestId,
      xksOperation: 'Encrypt',
      keyArn: EXAMPLE_METADATA.kmsKeyArn,
      sourceVpc: null,
      sourceVpce: null,
    });
    assert.equal(justifications[1]!.service, 'kms');
    assert.equal(justifications[1]!.operation, 'BulkEncrypt');
  });

  test('a key policy denying the xks service refuses with AccessDeniedException 403', async () => {
    const body = await encrypt(otherKeyId);
    const original = await keyRing.getKeyPolicy(TENANT, otherKeyId, 'default');
    const parsed = JSON.parse(original) as { Statement: unknown[] };
    const denyXks = {
      Effect: 'Deny',
      Principal: '*',
      Action: 'kms:*',
      Resource: '*',
      Condition: { StringEquals: { 'sovra:service': 'xks' } },
    };
    await keyRing.putKeyPolicy(
      TENANT,
      otherKeyId,
      'default',
      JSON.stringify({ ...parsed, Statement: [...parsed.Statement, denyXks] }),
    );
    try {
      await new Promise((resolve) => setTimeout(resolve, LIMITS.kmsKeyRecordCacheTtlMs + 50));
      assertError(
        await client.post(`/keys/${otherKeyId}/encrypt`, encryptBody()),
        403,
        'AccessDeniedException',
      );
      assertError(
        await client.post(`/keys/${otherKeyId}/decrypt`, decryptBody(body)),
        403,
        'AccessDeniedException',
      );
    } finally {
      await keyRing.putKeyPolicy(TENANT, otherKeyId, 'default', original);
      await new Promise((resolve) => setTimeout(resolve, LIMITS.kmsKeyRecordCacheTtlMs + 50));
    }
  });

  test('a wrong secret, an unknown access key, another service or region, or no signature is AuthenticationFailedException 401', async () => {
    const clients = [
      clientWith({ secretAccessKey: `${SECRET.slice(0, -1)}X` }),
      clientWith({ accessKeyId: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAA' }),
      clientWith({ service: 'kms' }),
      clientWith({ region: 'us-east-1' }),
    ];
    for (const other of clients) {
      assertError(
        await other.post(`/keys/${keyId}/encrypt`, encryptBody()),
        401,
        'AuthenticationFailedException',
      );
      assertError(
        await other.post('/health', {
          requestMetadata: { kmsRequestId: 'r', kmsOperation: 'KmsHealthCheck' },
        }),
        401,
        'AuthenticationFailedException',
      );
    }
    const unsigned = await fetch(`${endpointUrl}${PREFIX}/kms/xks/v1/health`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"requestMetadata":{"kmsRequestId":"r","kmsOperation":"KmsHealthCheck"}}',
    });
    assert.equal(unsigned.status, 401);
    assert.equal(
      ((await unsigned.json()) as { errorName: string }).errorName,
      'AuthenticationFailedException',
    );
  });

  test('a body other than the signed one is AuthenticationFailedException', async () => {
    const path = `/keys/${keyId}/encrypt`;
    const url = `${endpointUrl}${PREFIX}/kms/xks/v1${path}`;
    const headers = await signedHeadersFor(path, JSON.stringify(encryptBody()));
    const genuine = await fetch(url, { method: 'POST', headers, body: JSON.stringify(encryptBody()) });
    assert.equal(genuine.status, 200);
    const tampered = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify(encryptBody({ plaintext: 'QUFBQQ==' })),
    });
    assert.equal(tampered.status, 401);
    assert.equal(
      ((await tampered.json()) as { errorName: string }).errorName,
      'AuthenticationFailedException',
    );
  });

  test('requests signed more than 5 minutes before or after now are refused; within 5 minutes they pass', async () => {
    const at = (offsetMs: number) => clientWith({ now: () => new Date(Date.now() + offsetMs) });
    const health = { requestMetadata: { kmsRequestId: 'r', kmsOperation: 'KmsHealthCheck' } };
    assertError(await at(-6 * 60_000).post('/health', health), 401, 'AuthenticationFailedException');
    assertError(await at(6 * 60_000).post('/health', health), 401, 'AuthenticationFailedException');
    assert.equal((await at(-4 * 60_000).post('/health', health)).status, 200);
    assert.equal((await at(4 * 60_000).post('/health', health)).status, 200);
  });

  test('GET on an XKS URI is 405 Method Not Allowed', async () => {
    for (const path of [
      '/health',
      `/keys/${keyId}/metadata`,
      `/keys/${keyId}/encrypt`,
      `/keys/${keyId}/decrypt`,
    ]) {
      const response = await fetch(`${endpointUrl}${PREFIX}/kms/xks/v1${path}`);
      assert.equal(response.status, 405);
    }
  });

  test('an unknown URI path is InvalidUriPathException 404', async () => {
    for (const path of [
      `/keys/${keyId}/rotate`,
      '/keys',
      `/keys/${keyId}`,
      '/status',
      `/keys/${'a'.repeat(129)}/metadata`,
      '/keys/bad%2Fid/metadata',
    ]) {
      assertError(
        await client.post(path, { requestMetadata: EXAMPLE_METADATA }),
        404,
        'InvalidUriPathException',
      );
    }
    const otherPrefix = clientWith({ uriPrefix: '/keystores/other' });
    assertError(await otherPrefix.post('/health', {}), 404, 'InvalidUriPathException');
  });

  test('malformed requests are ValidationException 400', async () => {
    const cases: unknown[] = [
      {},
      { requestMetadata: 'x' },
      encryptBody({ requestMetadata: { kmsOperation: 'Encrypt', kmsRequestId: 'r' } }),
      encryptBody({ requestMetadata: { ...EXAMPLE_METADATA, kmsKeyArn: undefined } }),
      encryptBody({ encryptionAlgorithm: 'AES_CBC' }),
      encryptBody({ encryptionAlgorithm: undefined }),
      encryptBody({ plaintext: 'not base64!' }),
      encryptBody({ plaintext: '' }),
      encryptBody({ plaintext: 12 }),
      encryptBody({ additionalAuthenticatedData: randomBytes(LIMITS.xksAadMaxBytes + 1).toString('base64') }),
      encryptBody({ ciphertextDataIntegrityValueAlgorithm: 'MD5' }),
    ];
    for (const body of cases) {
      assertError(await client.post(`/keys/${keyId}/encrypt`, body), 400, 'ValidationException');
    }
    assertError(
      await client.post(`/keys/${keyId}/encrypt`, null, { rawBody: '{not json' }),
      400,
      'ValidationException',
    );
    const decrypt = {
      ...decryptBody({}),
      ciphertext: 'AAAA',
      initializationVector: 'AAAA',
      authenticationTag: 'AAAA',
    };
    assertError(await client.post(`/keys/${keyId}/decrypt`, decrypt), 400, 'ValidationException');
  });

  test('a body over the bound is UnsupportedOperationException 501', async () => {
    const big = encryptBody({ padding: 'x'.repeat(LIMITS.xksRequestBodyMaxBytes) });
    assertError(await client.post(`/keys/${keyId}/encrypt`, big), 501, 'UnsupportedOperationException');
  });

  async function signedHeadersFor(path: string, body: string): Promise<Record<string, string>> {
    const { SignatureV4 } = await import('@smithy/signature-v4');
    const { Sha256 } = await import('@aws-crypto/sha256-js');
    const url = new URL(`${endpointUrl}${PREFIX}/kms/xks/v1${path}`);
    const signer = new SignatureV4({
      credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET },
      region: REGION,
      service: 'kms-xks-proxy',
      sha256: Sha256,
      applyChecksum: false,
    });
    const signed = await signer.sign({
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      headers: { host: url.host },
      body,
    });
    const headers: Record<string, string> = { ...signed.headers, 'content-type': 'application/json' };
    delete headers.host;
    return headers;
  }
});
