import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SqlKeyStore } from '../../src/adapters/sql/kms-store.ts';
import { SqlMetadataStore } from '../../src/adapters/sql/metadata-store.ts';
import { SQLITE_MIGRATIONS } from '../../src/adapters/sqlite/migrations.ts';
import { SqliteDatabase } from '../../src/adapters/sqlite/sqlite-database.ts';
import { LocalKeySealer } from '../../src/adapters/secrets/local-key-sealer.ts';
import { CedarGuardrailCompiler, readDefaultGuardrails } from '../../src/adapters/cedar/cedar-guardrails.ts';
import { Guardrails } from '../../src/domain/guardrails/guardrails.ts';
import { RequestAuthorizer } from '../../src/domain/iam/request-authorizer.ts';
import { newAccessKeyId, newSecretAccessKey, sealAccessKey } from '../../src/domain/iam/bootstrap.ts';
import { CredentialResolver } from '../../src/domain/iam/credentials.ts';
import type { Principal } from '../../src/domain/iam/types.ts';
import { KeyRing } from '../../src/domain/kms/key-ring.ts';
import { SoftwareRoot } from '../../src/domain/kms/root-of-trust.ts';
import { KmsEndpoint } from '../../src/protocols/kms/kms-endpoint.ts';
import { signRequest, type SigningCredentials } from '../../src/protocols/sigv4/sign.ts';
import { systemClock } from '../../src/platform/clock.ts';

/**
 * The KMS JSON endpoint in process, on a real SQLite database and a software root, driven with
 * hand-made requests: what SDKs never send (malformed bodies, wrong types, other services'
 * signatures) and what only an operator can cause (a seal).
 */
const REGION = 'eu-central-1';

describe('KMS endpoint (AWS JSON 1.1 protocol)', () => {
  let directory: string;
  let metadata: SqlMetadataStore;
  let server: Server;
  let root: SoftwareRoot;
  let endpoint: URL;
  let admin: SigningCredentials;
  let reader: SigningCredentials;

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'sovra-kms-endpoint-'));
    const db = new SqliteDatabase(join(directory, 'metadata.sqlite'));
    metadata = new SqlMetadataStore(db, { migrations: SQLITE_MIGRATIONS, clock: systemClock });
    await metadata.migrate();
    const sealer = LocalKeySealer.openOrCreate(join(directory, 'local-seal.key'));
    const now = new Date();
    const principal = (id: string, isTenantAdmin: boolean): Principal => ({
      id,
      tenantId: 'acme',
      kind: 'user',
      name: id,
      isTenantAdmin,
      createdAt: now,
    });
    admin = { accessKeyId: newAccessKeyId(), secretAccessKey: newSecretAccessKey() };
    reader = { accessKeyId: newAccessKeyId(), secretAccessKey: newSecretAccessKey() };
    await metadata.transaction(async (tx) => {
      await tx.insertTenant({ id: 'acme', name: 'acme', createdAt: now });
      for (const [who, credentials] of [
        [principal('admin', true), admin],
        [principal('reader', false), reader],
      ] as const) {
        await tx.insertPrincipal(who);
        await tx.insertAccessKey(sealAccessKey(sealer, who, credentials, now, null));
      }
    });
    root = new SoftwareRoot();
    root.unsealWith(randomBytes(32));
    const kms = new KmsEndpoint({
      keyRing: new KeyRing({ store: new SqlKeyStore(db), root, clock: systemClock, region: REGION }),
      credentials: new CredentialResolver({ metadata, sealer, clock: systemClock }),
      // As the server decides: tenant administrators by their policy, the default key policy and guardrails.
      authorizer: new RequestAuthorizer({
        bucketPolicies: { getBucketConfig: () => Promise.resolve(null) },
        guardrails: new Guardrails(new CedarGuardrailCompiler(), readDefaultGuardrails()),
        clock: systemClock,
      }),
      clock: systemClock,
      region: REGION,
    });
    server = createServer((req, res) => void kms.handle(req, res, 'REQ123', { error: () => undefined }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    assert.ok(typeof address === 'object' && address !== null);
    endpoint = new URL(`http://127.0.0.1:${address.port}/`);
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await root.close();
    await metadata.close();
    await rm(directory, { recursive: true, force: true });
  });

  async function call(
    operation: string,
    body: string,
    options: {
      credentials?: SigningCredentials | null;
      service?: string;
      tamper?: boolean;
      method?: string;
    } = {},
  ): Promise<{
    status: number;
    type: string | undefined;
    message: string;
    body: Record<string, unknown>;
    requestId: string | null;
  }> {
    const headers: Record<string, string> = {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `TrentService.${operation}`,
    };
    const credentials = options.credentials === undefined ? admin : options.credentials;
    let signed = headers;
    if (credentials !== null) {
      signed = signRequest({ method: options.method ?? 'POST', url: endpoint, headers, body }, credentials, {
        region: REGION,
        service: options.service ?? 'kms',
        now: new Date(),
      });
      delete signed.host;
    }
    const response = await fetch(endpoint, {
      method: options.method ?? 'POST',
      headers: signed,
      body: options.method === 'GET' ? undefined : options.tamper === true ? `${body} ` : body,
    });
    const parsed = (await response.json()) as Record<string, unknown>;
    return {
      status: response.status,
      type: typeof parsed.__type === 'string' ? parsed.__type : undefined,
      message: typeof parsed.message === 'string' ? parsed.message : '',
      body: parsed,
      requestId: response.headers.get('x-amzn-requestid'),
    };
  }

  test('a signed request runs and answers application/x-amz-json-1.1 with x-amzn-RequestId', async () => {
    const created = await call('CreateKey', '{"Description":"endpoint"}');
    assert.equal(created.status, 200);
    assert.equal(created.requestId, 'REQ123');
    const metadataOfKey = created.body.KeyMetadata as { KeyId: string; Arn: string; CreationDate: number };
    assert.equal(metadataOfKey.Arn, `arn:aws:kms:${REGION}:acme:key/${metadataOfKey.KeyId}`);
    assert.equal(typeof metadataOfKey.CreationDate, 'number');
  });

  test('bodies that are not JSON objects, or members of the wrong type, are SerializationException', async () => {
    for (const body of [
      '{',
      '[]',
      '"text"',
      '{"KeyId": 5}',
      '{"KeyId":"alias/x","Plaintext":"not base64!"}',
    ]) {
      const operation = body.includes('Plaintext') ? 'Encrypt' : 'DescribeKey';
      const answer = await call(operation, body);
      assert.deepEqual([answer.status, answer.type], [400, 'SerializationException'], body);
    }
  });

  test('a missing required member is ValidationException worded as AWS words it', async () => {
    const answer = await call('DescribeKey', '{}');
    assert.equal(answer.type, 'ValidationException');
    assert.equal(
      answer.message,
      "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null",
    );
    const range = await call('ListKeys', '{"Limit": 0}');
    assert.equal(range.type, 'ValidationException');
  });

  test('unknown operations and other methods are UnknownOperationException', async () => {
    assert.equal((await call('CreateGrant', '{}')).type, 'UnknownOperationException');
    assert.equal((await call('ListKeys', '', { method: 'GET' })).type, 'UnknownOperationException');
  });

  test('a body over 256 KiB is refused with 413 before it is read', async () => {
    const answer = await call('Encrypt', JSON.stringify({ KeyId: 'x', Plaintext: 'A'.repeat(300 * 1024) }));
    assert.deepEqual([answer.status, answer.type], [413, 'RequestEntityTooLargeException']);
  });

  test('unsigned, other-service, tampered and unknown-key requests are refused as AWS JSON services refuse them', async () => {
    assert.equal(
      (await call('ListKeys', '{}', { credentials: null })).type,
      'MissingAuthenticationTokenException',
    );
    assert.equal((await call('ListKeys', '{}', { service: 's3' })).type, 'IncompleteSignatureException');
    assert.equal((await call('ListKeys', '{}', { tamper: true })).type, 'InvalidSignatureException');
    const stranger = { accessKeyId: newAccessKeyId(), secretAccessKey: newSecretAccessKey() };
    assert.equal(
      (await call('ListKeys', '{}', { credentials: stranger })).type,
      'UnrecognizedClientException',
    );
  });

  test('a principal without policies is AccessDeniedException, worded as AWS KMS words it', async () => {
    const answer = await call('ListKeys', '{}', { credentials: reader });
    assert.deepEqual([answer.status, answer.type], [400, 'AccessDeniedException']);
    assert.equal(
      answer.message,
      'User: arn:aws:iam::acme:user/reader is not authorized to perform: kms:ListKeys on resource: * ' +
        'because no identity-based policy allows the kms:ListKeys action (justification CUSTOMER_INITIATED_ACCESS from jurisdiction unknown)',
    );
    const created = await call('CreateKey', '{}');
    const keyArn = (created.body.KeyMetadata as { Arn: string }).Arn;
    const use = await call('Encrypt', JSON.stringify({ KeyId: keyArn, Plaintext: 'aGk=' }), {
      credentials: reader,
    });
    assert.equal(use.type, 'AccessDeniedException');
    assert.match(use.message, new RegExp(`perform: kms:Encrypt on resource: ${keyArn} because`));
  });

  test('sealed, key use answers 503 KMSInternalException saying so, and metadata stays readable', async () => {
    const created = await call('CreateKey', '{}');
    const keyId = (created.body.KeyMetadata as { KeyId: string }).KeyId;
    await root.close();
    try {
      const answer = await call('GenerateDataKey', JSON.stringify({ KeyId: keyId, KeySpec: 'AES_256' }));
      assert.deepEqual([answer.status, answer.type], [503, 'KMSInternalException']);
      assert.match(answer.message, /sealed/);
      assert.equal((await call('DescribeKey', JSON.stringify({ KeyId: keyId }))).status, 200);
    } finally {
      root.unsealWith(randomBytes(32));
    }
  });

  test('DryRun answers 412 DryRunOperationException', async () => {
    const created = await call('CreateKey', '{}');
    const keyId = (created.body.KeyMetadata as { KeyId: string }).KeyId;
    const answer = await call('Encrypt', JSON.stringify({ KeyId: keyId, Plaintext: 'aGk=', DryRun: true }));
    assert.deepEqual([answer.status, answer.type], [412, 'DryRunOperationException']);
  });
});
