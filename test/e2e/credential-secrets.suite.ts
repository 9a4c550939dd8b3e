import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, ListBucketsCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import pg from 'pg';
import { unwrapCredentialKey } from '../../src/adapters/secrets/credential-key.ts';
import { credentialKeyPath } from '../../src/adapters/secrets/credential-key-file.ts';
import { localRootKeyPath } from '../../src/adapters/root-of-trust/local-root-key-file.ts';
import { SoftwareRoot } from '../../src/domain/kms/root-of-trust.ts';
import { sovraRequest } from '../helpers/sovra-api.ts';
import { readFilesUnder } from '../helpers/data-dir.ts';
import { createTestSchema, type TestSchema } from '../helpers/postgres.ts';
import {
  removeDir,
  startSovra,
  TEST_REGION,
  type MetadataBackend,
  type SovraProcess,
  type StartOptions,
} from '../helpers/sovra-process.ts';

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** Every value of every row of every table, as one buffer to search (text and bytes as stored). */
async function dumpMetadata(
  backend: MetadataBackend,
  dataDir: string,
  schema: TestSchema | null,
): Promise<{ dump: Buffer; sealedSecrets: Buffer[]; wrappedCredentialKeys: Buffer[] }> {
  const parts: Buffer[] = [];
  const sealedSecrets: Buffer[] = [];
  const wrappedCredentialKeys: Buffer[] = [];
  const add = (table: string, row: Record<string, unknown>) => {
    for (const [column, value] of Object.entries(row)) {
      if (value instanceof Uint8Array) {
        parts.push(Buffer.from(value));
        if (table === 'access_keys' && column === 'sealed_secret') sealedSecrets.push(Buffer.from(value));
        if (table === 'credential_keys' && column === 'wrapped')
          wrappedCredentialKeys.push(Buffer.from(value));
      } else if (typeof value === 'string') parts.push(Buffer.from(value, 'utf8'));
      // Numbers, dates and PostgreSQL's parsed JSON columns, as text.
      else if (value !== null)
        parts.push(
          Buffer.from(
            JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
            'utf8',
          ),
        );
    }
  };
  if (backend === 'sqlite') {
    const db = new DatabaseSync(join(dataDir, 'metadata.sqlite'), { readOnly: true });
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all();
      for (const { name } of tables as { name: string }[]) {
        for (const row of db.prepare(`SELECT * FROM "${name}"`).all()) add(name, row);
      }
    } finally {
      db.close();
    }
  } else {
    assert.ok(schema !== null);
    const client = new pg.Client({ connectionString: schema.connectionString });
    await client.connect();
    try {
      const tables = await client.query<{ table_name: string }>(
        'SELECT table_name FROM information_schema.tables WHERE table_schema = $1',
        [schema.schema],
      );
      for (const { table_name: name } of tables.rows) {
        const rows = await client.query<Record<string, unknown>>(
          `SELECT * FROM "${schema.schema}"."${name}"`,
        );
        for (const row of rows.rows) add(name, row);
      }
    } finally {
      await client.end();
    }
  }
  assert.ok(sealedSecrets.length > 0, 'the dump holds the access keys');
  return { dump: Buffer.concat(parts), sealedSecrets, wrappedCredentialKeys };
}

/** Paths of the files under `dir` holding any of the needles. */
function filesHolding(dir: string, needles: readonly Buffer[]): string[] {
  return readFilesUnder(dir)
    .filter(([, bytes]) => needles.some((needle) => bytes.includes(needle)))
    .map(([path]) => path);
}

/** The forms a key or secret could take in a file: raw, hex, base64. */
function encodings(value: Buffer): Buffer[] {
  return [value, Buffer.from(value.toString('hex')), Buffer.from(value.toString('base64'))];
}

/** K, unwrapped as the server does: the local-key root's key file unwraps the database's wrapping. */
async function credentialKeyOf(dataDir: string, wrapped: Buffer): Promise<Buffer> {
  const root = new SoftwareRoot();
  root.unsealWith(readFileSync(localRootKeyPath(dataDir)));
  try {
    return await unwrapCredentialKey(wrapped, root, 'the metadata database');
  } finally {
    await root.close();
  }
}

/** A signed call of the admin API. */
async function adminRequest(
  endpoint: string,
  credentials: Credentials,
  method: string,
  path: string,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const answer = await sovraRequest(endpoint, credentials, method, `/_sovra/admin/${path}`, body);
  return answer as { status: number; body: Record<string, unknown> };
}

function s3Client(endpoint: string, credentials: Credentials): S3Client {
  return new S3Client({ endpoint, region: TEST_REGION, forcePathStyle: true, credentials, maxAttempts: 1 });
}

/** 'ok' or the S3 error code of a ListBuckets with these credentials. */
async function listBucketsOn(endpoint: string, credentials: Credentials): Promise<string> {
  const client = s3Client(endpoint, credentials);
  try {
    await client.send(new ListBucketsCommand({}));
    return 'ok';
  } catch (error) {
    assert.ok(error instanceof S3ServiceException, String(error));
    return error.name;
  } finally {
    client.destroy();
  }
}

/**
 * Credential secrets at rest under the KMS root of trust (docs/decisions/0005), with the default
 * `local-key` root on the given metadata backend.
 */
export function credentialSecretsSuite(backend: MetadataBackend): void {
  describe(`credential secrets are stored only sealed under the root of trust (${backend})`, () => {
    let schema: TestSchema | null = null;
    let sovra: SovraProcess;
    let created: Credentials;
    const started: SovraProcess[] = [];

    const start = async (options: StartOptions = {}) => {
      sovra = await startSovra({
        ...options,
        metadata: backend,
        ...(schema === null ? {} : { postgresSchema: schema.schema, postgresUrl: schema.connectionString }),
      });
      started.push(sovra);
      return sovra;
    };
    const adminCall = (credentials: Credentials, method: string, path: string, body: unknown) =>
      adminRequest(sovra.endpoint, credentials, method, path, body);
    const s3 = (credentials: Credentials) => s3Client(sovra.endpoint, credentials);
    const listBuckets = (credentials: Credentials) => listBucketsOn(sovra.endpoint, credentials);

    before(async () => {
      if (backend === 'postgres') schema = await createTestSchema();
    });

    after(async () => {
      for (const process of started) if (process.child.exitCode === null) await process.stop();
      for (const dir of new Set(started.map((process) => process.dataDir))) removeDir(dir);
      await schema?.drop();
    });

    it('a secret key created through the admin API is in no file of the data directory and no row of the database, and neither is K', async () => {
      await start();
      const user = await adminCall(sovra.credentials, 'POST', 'users', { name: 'alice', admin: true });
      assert.equal(user.status, 201, JSON.stringify(user.body));
      const key = await adminCall(sovra.credentials, 'POST', 'users/alice/access-keys', {});
      assert.equal(key.status, 201, JSON.stringify(key.body));
      created = key.body.accessKey as Credentials;
      assert.equal(created.secretAccessKey.length, 40);
      const client = s3(created);
      await client.send(new CreateBucketCommand({ Bucket: 'alice-bucket' }));
      client.destroy();

      const keysDir = join(sovra.dataDir, 'keys');
      assert.equal(
        existsSync(join(keysDir, 'local-seal.key')),
        false,
        'no plaintext seal key beside the data',
      );
      assert.equal(
        existsSync(credentialKeyPath(sovra.dataDir)),
        false,
        'K is kept in the database, not a file',
      );
      const { dump, sealedSecrets, wrappedCredentialKeys } = await dumpMetadata(
        backend,
        sovra.dataDir,
        schema,
      );
      assert.equal(wrappedCredentialKeys.length, 1, 'the database holds K, wrapped by the root of trust');
      const credentialKey = await credentialKeyOf(sovra.dataDir, wrappedCredentialKeys[0]!);
      const secret = Buffer.from(created.secretAccessKey, 'utf8');
      const needles = [...encodings(secret), ...encodings(credentialKey)];
      assert.deepEqual(filesHolding(sovra.dataDir, needles), []);
      // The scan finds what is there: the root administrator's first key, written on purpose.
      assert.deepEqual(filesHolding(sovra.dataDir, [Buffer.from(sovra.credentials.secretAccessKey)]), [
        join(sovra.dataDir, 'admin-credentials.json'),
      ]);
      // The dump holds K's wrapping (the scan's own check that it reads that table), never K itself.
      assert.ok(dump.includes(wrappedCredentialKeys[0]!));
      for (const needle of needles)
        assert.ok(!dump.includes(needle), 'the database holds no secret and not K');
      assert.ok(
        sealedSecrets.every((sealed) => sealed[0] === 2),
        'every access key secret is sealed under K (format 2)',
      );
      for (const line of sovra.logs)
        for (const needle of needles) assert.ok(!line.includes(needle.toString()));
    });

    it('after a restart K is unwrapped again and the same credentials work', async () => {
      assert.equal(await sovra.stop(), 0);
      await start({ dataDir: sovra.dataDir });
      assert.ok(
        sovra.logs.some((line) => line.includes('"created":false') && line.includes('root of trust unwraps')),
      );
      assert.equal(await listBuckets(created), 'ok');
      assert.equal(await listBuckets(sovra.credentials), 'ok');
      assert.equal(
        await listBuckets({ ...created, secretAccessKey: wrongSecret(created.secretAccessKey) }),
        'SignatureDoesNotMatch',
      );
    });
  });

  describe(`an installation whose secrets were sealed under the local key file moves them under the root of trust (${backend})`, () => {
    let schema: TestSchema | null = null;
    const started: SovraProcess[] = [];

    before(async () => {
      if (backend === 'postgres') schema = await createTestSchema();
    });

    after(async () => {
      for (const process of started) if (process.child.exitCode === null) await process.stop();
      for (const dir of new Set(started.map((process) => process.dataDir))) removeDir(dir);
      await schema?.drop();
    });

    it('re-seals every stored secret under K at the first start with a root, deletes local-seal.key, and the keys still work', async () => {
      const postgres =
        schema === null ? {} : { postgresSchema: schema.schema, postgresUrl: schema.connectionString };
      // No root of trust: the secrets go under keys/local-seal.key, as every installation's did.
      // (The audit log is off so that its keys are not wrapped under that file too.)
      const before = await startSovra({
        metadata: backend,
        ...postgres,
        extraArgs: ['--root-of-trust', 'none', '--audit-log', 'off'],
      });
      started.push(before);
      const legacyKey = join(before.dataDir, 'keys', 'local-seal.key');
      assert.ok(existsSync(legacyKey));
      assert.equal((await dumpMetadata(backend, before.dataDir, schema)).sealedSecrets[0]![0], 1);
      const admin = before.credentials;
      assert.equal(await before.stop(), 0);

      const after = await startSovra({ metadata: backend, ...postgres, dataDir: before.dataDir });
      started.push(after);
      assert.equal(existsSync(legacyKey), false, 'the local key file is deleted');
      assert.ok(
        after.logs.some((line) =>
          line.includes('re-sealed under the root of trust; the key file is deleted'),
        ),
      );
      const { sealedSecrets } = await dumpMetadata(backend, after.dataDir, schema);
      assert.ok(sealedSecrets.every((sealed) => sealed[0] === 2));
      const client = new S3Client({
        endpoint: after.endpoint,
        region: TEST_REGION,
        forcePathStyle: true,
        credentials: admin,
        maxAttempts: 1,
      });
      await client.send(new CreateBucketCommand({ Bucket: 'after-reseal' }));
      client.destroy();
    });
  });
  if (backend !== 'postgres') return;
  describe('gateways with their own data directories on one PostgreSQL schema share K', () => {
    it('an access key created through the first gateway is accepted by the second, and neither keeps K in a file', async () => {
      const schema = await createTestSchema();
      const options = {
        metadata: 'postgres' as const,
        postgresSchema: schema.schema,
        postgresUrl: schema.connectionString,
      };
      const started: SovraProcess[] = [];
      try {
        const first = await startSovra(options);
        started.push(first);
        // The gateways share the root of trust (here the local-key root's file) and the database,
        // not a data directory: the second has no file of the first's but the root key.
        const secondDir = mkdtempSync(join(tmpdir(), 'sovra-e2e-'));
        mkdirSync(join(secondDir, 'keys'), { mode: 0o700 });
        copyFileSync(localRootKeyPath(first.dataDir), localRootKeyPath(secondDir));
        chmodSync(localRootKeyPath(secondDir), 0o600);
        const second = await startSovra({ ...options, dataDir: secondDir });
        started.push(second);
        assert.ok(
          second.logs.some(
            (line) => line.includes('"created":false') && line.includes('root of trust unwraps'),
          ),
          'the second gateway unwraps the K the first one stored',
        );

        const admin = first.credentials;
        const user = await adminRequest(first.endpoint, admin, 'POST', 'users', { name: 'bob', admin: true });
        assert.equal(user.status, 201, JSON.stringify(user.body));
        const key = await adminRequest(first.endpoint, admin, 'POST', 'users/bob/access-keys', {});
        assert.equal(key.status, 201, JSON.stringify(key.body));
        const bob = key.body.accessKey as Credentials;
        assert.equal(await listBucketsOn(second.endpoint, bob), 'ok');
        assert.equal(await listBucketsOn(second.endpoint, admin), 'ok');
        assert.equal(
          await listBucketsOn(second.endpoint, {
            ...bob,
            secretAccessKey: wrongSecret(bob.secretAccessKey),
          }),
          'SignatureDoesNotMatch',
        );
        // And the other way round: a key created through the second is accepted by the first.
        const other = await adminRequest(second.endpoint, admin, 'POST', 'users/bob/access-keys', {});
        assert.equal(other.status, 201, JSON.stringify(other.body));
        assert.equal(await listBucketsOn(first.endpoint, other.body.accessKey as Credentials), 'ok');
        for (const gateway of started) assert.equal(existsSync(credentialKeyPath(gateway.dataDir)), false);
        const { wrappedCredentialKeys } = await dumpMetadata('postgres', first.dataDir, schema);
        assert.equal(wrappedCredentialKeys.length, 1);
      } finally {
        for (const gateway of started) if (gateway.child.exitCode === null) await gateway.stop();
        for (const gateway of started) removeDir(gateway.dataDir);
        await schema.drop();
      }
    });
  });
}

/** The secret with its last character changed (to another character: a secret may end in A). */
function wrongSecret(secret: string): string {
  return `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
}
