import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, ListBucketsCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { ADMIN_ROUTES, FEDERATION_ROUTES, GUARDRAIL_ROUTES } from '../../src/protocols/admin/routes.ts';
import { sovraRequest } from '../helpers/sovra-api.ts';
import { readFilesUnder } from '../helpers/data-dir.ts';
import {
  CLI,
  NODE,
  removeDir,
  startSovra,
  TEST_REGION,
  type SovraProcess,
} from '../helpers/sovra-process.ts';

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `sovra …` with no SOVRA_* settings from the environment. */
function sovraCli(args: string[]): Promise<CliResult> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SOVRA_')));
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function succeeded(result: CliResult): unknown {
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

function refused(result: CliResult, code: string): string {
  assert.equal(result.code, 1, `expected ${code}, got: ${result.stdout}${result.stderr}`);
  const match = /^sovra: (\w+): (.*)$/m.exec(result.stderr);
  assert.ok(match !== null, result.stderr);
  assert.equal(match[1], code, result.stderr);
  return match[2]!;
}

describe('the admin API: tenants, principals, access keys and policies, through the sovra CLI and over HTTP', () => {
  const work = mkdtempSync(join(tmpdir(), 'sovra-admin-e2e-'));
  const secrets: string[] = [];
  let sovra: SovraProcess;
  let rootFile: string;
  const files = {
    a: join(work, 'a-admin.json'),
    b: join(work, 'b-admin.json'),
    alice: join(work, 'alice.json'),
  };
  let aliceKey: Credentials;

  const admin = (credentials: string, args: string[]) =>
    sovraCli([...args, '--endpoint', sovra.endpoint, '--credentials', credentials, '--region', TEST_REGION]);
  const load = (file: string): Credentials => JSON.parse(readFileSync(file, 'utf8')) as Credentials;
  const s3 = (credentials: Credentials) =>
    new S3Client({
      endpoint: sovra.endpoint,
      region: TEST_REGION,
      forcePathStyle: true,
      credentials,
      maxAttempts: 1,
    });
  /** ListBuckets with a key: 'ok', or the S3 error code. */
  const listBuckets = async (credentials: Credentials): Promise<string> => {
    try {
      await s3(credentials).send(new ListBucketsCommand({}));
      return 'ok';
    } catch (error) {
      assert.ok(error instanceof S3ServiceException, String(error));
      return error.name;
    }
  };
  /** A signed request to the admin API, without the CLI. */
  const call = async (credentials: Credentials, method: string, path: string, body?: unknown) => {
    const answer = await sovraRequest(sovra.endpoint, credentials, method, `/_sovra/admin/${path}`, body);
    return answer as { status: number; body: Record<string, unknown> };
  };

  before(async () => {
    sovra = await startSovra();
    rootFile = join(sovra.dataDir, 'admin-credentials.json');
  });

  after(async () => {
    if (sovra.child.exitCode === null) await sovra.stop();
    removeDir(sovra.dataDir);
    removeDir(work);
  });

  it('serves the OpenAPI 3.1 document without authentication, with every operation the router serves', async () => {
    const response = await fetch(`${sovra.endpoint}/_sovra/admin/openapi.json`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /application\/json/);
    const document = (await response.json()) as {
      openapi: string;
      paths: Record<string, Record<string, { operationId: string }>>;
    };
    assert.equal(document.openapi, '3.1.0');
    for (const path of [
      '/_sovra/admin/tenants',
      '/_sovra/admin/tenants/{tenantId}',
      '/_sovra/admin/users',
      '/_sovra/admin/users/{userName}/access-keys',
      '/_sovra/admin/users/{userName}/access-keys/{accessKeyId}',
      '/_sovra/admin/roles/{roleName}/trust-policy',
      '/_sovra/admin/groups/{groupName}/members/{userName}',
      '/_sovra/admin/policies/{policyName}',
      '/_sovra/admin/buckets',
      '/_sovra/admin/buckets/{bucketName}',
    ]) {
      assert.ok(document.paths[path] !== undefined, `the document describes ${path}`);
    }
    assert.equal(document.paths['/_sovra/admin/tenants']?.post?.operationId, 'CreateTenant');
    assert.equal(document.paths['/_sovra/admin/buckets/{bucketName}']?.get?.operationId, 'GetBucket');
    const operations = Object.values(document.paths).flatMap((methods) => Object.values(methods));
    assert.equal(
      operations.length,
      ADMIN_ROUTES.length + FEDERATION_ROUTES.length + GUARDRAIL_ROUTES.length + 1,
      'every route (identity, federation and guardrails), and the document itself',
    );
  });

  it('refuses unsigned and unknown requests with JSON errors carrying the request id', async () => {
    const unsigned = await fetch(`${sovra.endpoint}/_sovra/admin/users`);
    assert.equal(unsigned.status, 403);
    const body = (await unsigned.json()) as Record<string, string>;
    assert.equal(body.code, 'MissingAuthenticationToken');
    assert.equal(body.requestId, unsigned.headers.get('x-amz-request-id'));
    const unknown = await call(load(rootFile), 'GET', 'nothing-here');
    assert.deepEqual([unknown.status, unknown.body.code], [404, 'NotFound']);
    const wrongMethod = await call(load(rootFile), 'PATCH', 'tenants');
    assert.deepEqual([wrongMethod.status, wrongMethod.body.code], [405, 'MethodNotAllowed']);
  });

  it('the root administrator creates tenants with their first administrator, whose secret is printed once', async () => {
    for (const [id, file] of [
      ['agency-a', files.a],
      ['agency-b', files.b],
    ] as const) {
      const created = succeeded(
        await admin(rootFile, [
          'tenant',
          'create',
          '--id',
          id,
          '--name',
          `Agency ${id}`,
          '--save-credentials',
          file,
        ]),
      ) as {
        tenant: { id: string };
        administrator: { name: string; admin: boolean; arn: string };
        accessKey: { accessKeyId: string; secretAccessKey: string; status: string };
      };
      assert.equal(created.tenant.id, id);
      assert.deepEqual([created.administrator.name, created.administrator.admin], ['admin', true]);
      assert.equal(created.administrator.arn, `arn:aws:iam::${id}:user/admin`);
      assert.equal(created.accessKey.secretAccessKey.length, 40);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.deepEqual(load(file), {
        accessKeyId: created.accessKey.accessKeyId,
        secretAccessKey: created.accessKey.secretAccessKey,
      });
      secrets.push(created.accessKey.secretAccessKey);
    }
    const tenants = succeeded(await admin(rootFile, ['tenant', 'list'])) as { tenants: { id: string }[] };
    assert.deepEqual(
      tenants.tenants.map((t) => t.id),
      ['agency-a', 'agency-b', 'root'],
    );
    const again = await admin(rootFile, ['tenant', 'create', '--id', 'agency-b', '--name', 'again']);
    refused(again, 'EntityAlreadyExists');

    // A tenant's administrator reads its own tenant and nothing else about tenants.
    assert.equal(
      (succeeded(await admin(files.b, ['tenant', 'get', 'agency-b'])) as { tenant: { id: string } }).tenant
        .id,
      'agency-b',
    );
    refused(await admin(files.b, ['tenant', 'get', 'agency-a']), 'AccessDenied');
    refused(await admin(files.b, ['tenant', 'list']), 'AccessDenied');
    refused(await admin(files.b, ['tenant', 'create', '--id', 'agency-c', '--name', 'C']), 'AccessDenied');
  });

  it("B's administrator creates a user whose new key authenticates to S3 (and is denied what no policy allows)", async () => {
    const user = succeeded(
      await admin(files.b, [
        'user',
        'create',
        'alice',
        '--clearance',
        'CONFIDENTIAL',
        '--tag',
        'team=records',
      ]),
    ) as { user: { arn: string; clearance: string; tags: Record<string, string>; admin: boolean } };
    assert.equal(user.user.arn, 'arn:aws:iam::agency-b:user/alice');
    assert.equal(user.user.clearance, 'CONFIDENTIAL');
    assert.deepEqual(user.user.tags, { team: 'records' });
    assert.equal(user.user.admin, false);
    const created = succeeded(
      await admin(files.b, ['accesskey', 'create', '--user', 'alice', '--save', files.alice]),
    ) as {
      accessKey: { accessKeyId: string; secretAccessKey: string; userName: string; status: string };
    };
    assert.deepEqual([created.accessKey.userName, created.accessKey.status], ['alice', 'Active']);
    aliceKey = load(files.alice);
    secrets.push(aliceKey.secretAccessKey);

    // The tenant administrator's key works for S3 too.
    await s3(load(files.b)).send(new CreateBucketCommand({ Bucket: 'agency-b-records' }));
    assert.equal(await listBuckets(load(files.b)), 'ok');
    // Alice's key authenticates: the refusal is authorization's, not the signature's.
    assert.equal(await listBuckets(aliceKey), 'AccessDenied');
    refused(await admin(files.alice, ['user', 'list']), 'AccessDenied');
  });

  it('disabling a key refuses it at once, on S3 and on the admin API; enabling restores it', async () => {
    const disabled = succeeded(
      await admin(files.b, ['accesskey', 'disable', '--user', 'alice', aliceKey.accessKeyId]),
    ) as { accessKey: { status: string } };
    assert.equal(disabled.accessKey.status, 'Inactive');
    assert.equal(await listBuckets(aliceKey), 'InvalidAccessKeyId');
    const viaAdmin = await call(aliceKey, 'GET', 'users');
    assert.deepEqual([viaAdmin.status, viaAdmin.body.code], [403, 'InvalidAccessKeyId']);
    succeeded(await admin(files.b, ['accesskey', 'enable', '--user', 'alice', aliceKey.accessKeyId]));
    assert.equal(await listBuckets(aliceKey), 'AccessDenied');
  });

  it('a user holds at most two keys: a third is LimitExceeded, and listings never show secrets', async () => {
    const second = succeeded(await admin(files.b, ['accesskey', 'create', '--user', 'alice'])) as {
      accessKey: { accessKeyId: string; secretAccessKey: string };
    };
    secrets.push(second.accessKey.secretAccessKey);
    const message = refused(
      await admin(files.b, ['accesskey', 'create', '--user', 'alice']),
      'LimitExceeded',
    );
    assert.equal(message, 'Cannot exceed quota for AccessKeysPerUser: 2');
    const raw = await call(load(files.b), 'POST', 'users/alice/access-keys', {});
    assert.deepEqual([raw.status, raw.body.code], [409, 'LimitExceeded']);
    const listed = await admin(files.b, ['accesskey', 'list', '--user', 'alice']);
    const keys = (succeeded(listed) as { accessKeys: { accessKeyId: string }[] }).accessKeys;
    assert.deepEqual(
      keys.map((k) => k.accessKeyId).sort(),
      [aliceKey.accessKeyId, second.accessKey.accessKeyId].sort(),
    );
    assert.ok(!listed.stdout.includes('secretAccessKey'));
    succeeded(await admin(files.b, ['accesskey', 'delete', '--user', 'alice', second.accessKey.accessKeyId]));
  });

  it('a key with an expiry works until then and is refused after', async () => {
    const created = succeeded(
      await admin(files.b, ['accesskey', 'create', '--user', 'alice', '--expires', '6s']),
    ) as {
      accessKey: { accessKeyId: string; secretAccessKey: string; expiresAt: string };
    };
    secrets.push(created.accessKey.secretAccessKey);
    const expiring = {
      accessKeyId: created.accessKey.accessKeyId,
      secretAccessKey: created.accessKey.secretAccessKey,
    };
    assert.equal(await listBuckets(expiring), 'AccessDenied');
    await sleep(Math.max(0, Date.parse(created.accessKey.expiresAt) - Date.now()) + 500);
    assert.equal(await listBuckets(expiring), 'InvalidAccessKeyId');
    const listed = succeeded(await admin(files.b, ['accesskey', 'list', '--user', 'alice'])) as {
      accessKeys: { accessKeyId: string; expired: boolean }[];
    };
    assert.equal(listed.accessKeys.find((k) => k.accessKeyId === expiring.accessKeyId)?.expired, true);
    succeeded(await admin(files.b, ['accesskey', 'delete', '--user', 'alice', expiring.accessKeyId]));
    refused(
      await admin(files.b, ['accesskey', 'create', '--user', 'alice', '--expires', '2001-01-01T00:00:00Z']),
      'ValidationError',
    );
  });

  it("tenant A's administrator can neither see nor touch B's principals, and cannot tell them from missing ones", async () => {
    const attempts = (name: string) => [
      ['user', 'get', name],
      ['accesskey', 'list', '--user', name],
      ['accesskey', 'disable', '--user', name, aliceKey.accessKeyId],
      ['user', 'tag', name, '--tag', 'x=y'],
      ['user', 'delete', name],
      ['policy', 'attached', '--user', name],
    ];
    const messages = async (name: string) => {
      const seen: string[] = [];
      for (const args of attempts(name)) {
        seen.push(refused(await admin(files.a, args), 'NoSuchEntity').replaceAll(name, 'NAME'));
      }
      return seen;
    };
    assert.deepEqual(await messages('alice'), await messages('nobody'));
    refused(
      await admin(files.a, ['accesskey', 'delete', '--user', 'admin', aliceKey.accessKeyId]),
      'NoSuchEntity',
    );
    const users = succeeded(await admin(files.a, ['user', 'list'])) as { users: { name: string }[] };
    assert.deepEqual(
      users.users.map((u) => u.name),
      ['admin'],
    );
    assert.equal(await listBuckets(aliceKey), 'AccessDenied', "alice's key is untouched");
  });

  it('malformed policies are refused naming the element; an attached policy applies at once', async () => {
    const bad = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 'sovra:ListUsers',
          Resource: '*',
          Condition: { StringEqualz: { 'aws:username': 'a' } },
        },
      ],
    });
    const message = refused(
      await admin(files.b, ['policy', 'create', 'bad', '--document', bad]),
      'MalformedPolicy',
    );
    assert.match(message, /^Statement\[0\]\.Condition\.StringEqualz: /);
    const raw = await call(load(files.b), 'POST', 'policies', {
      name: 'bad',
      document: { Statement: [{ Effect: 'Permit' }] },
    });
    assert.equal(raw.status, 400);
    assert.equal(raw.body.code, 'MalformedPolicy');
    assert.match(String(raw.body.message), /^Statement\[0\]\.Effect: /);

    const readers = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['sovra:ListUsers', 'sovra:GetUser'],
          Resource: 'arn:aws:iam::agency-b:user/*',
        },
      ],
    });
    const policyFile = join(work, 'readers.json');
    writeFileSync(policyFile, readers);
    succeeded(
      await admin(files.b, ['policy', 'create', 'user-readers', '--document', `file://${policyFile}`]),
    );
    const got = succeeded(await admin(files.b, ['policy', 'get', 'user-readers'])) as {
      policy: { arn: string; document: unknown; attachmentCount: number };
    };
    assert.equal(got.policy.arn, 'arn:aws:iam::agency-b:policy/user-readers');
    assert.deepEqual(got.policy.document, JSON.parse(readers));
    succeeded(await admin(files.b, ['policy', 'attach', 'user-readers', '--user', 'alice']));
    const listed = succeeded(await admin(files.alice, ['user', 'list'])) as { users: { name: string }[] };
    assert.deepEqual(
      listed.users.map((u) => u.name),
      ['admin', 'alice'],
    );
    refused(await admin(files.alice, ['user', 'create', 'mallory']), 'AccessDenied');
    succeeded(await admin(files.b, ['policy', 'detach', 'user-readers', '--user', 'alice']));
    refused(await admin(files.alice, ['user', 'list']), 'AccessDenied');
  });

  it('roles carry a validated trust policy; groups pass their policies to their members', async () => {
    const trust = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::agency-b:user/alice' }, Action: 'sts:AssumeRole' },
      ],
    });
    const role = succeeded(
      await admin(files.b, ['role', 'create', 'deployer', '--trust-policy', trust, '--clearance', 'SECRET']),
    ) as {
      role: { arn: string; trustPolicy: unknown; clearance: string };
    };
    assert.equal(role.role.arn, 'arn:aws:iam::agency-b:role/deployer');
    assert.deepEqual(role.role.trustPolicy, JSON.parse(trust));
    const withResource = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRole', Resource: '*' }],
    });
    assert.match(
      refused(
        await admin(files.b, ['role', 'create', 'open', '--trust-policy', withResource]),
        'MalformedPolicy',
      ),
      /^Statement\[0\]\.Resource: /,
    );
    const roles = succeeded(await admin(files.b, ['role', 'list'])) as { roles: { name: string }[] };
    assert.deepEqual(
      roles.roles.map((r) => r.name),
      ['deployer'],
    );
    succeeded(await admin(files.b, ['role', 'delete', 'deployer']));

    succeeded(await admin(files.b, ['group', 'create', 'readers']));
    succeeded(await admin(files.b, ['group', 'add-user', 'readers', 'alice']));
    succeeded(await admin(files.b, ['policy', 'attach', 'user-readers', '--group', 'readers']));
    const groups = succeeded(await admin(files.b, ['user', 'groups', 'alice'])) as {
      groups: { name: string }[];
    };
    assert.deepEqual(
      groups.groups.map((g) => g.name),
      ['readers'],
    );
    assert.equal(
      (succeeded(await admin(files.alice, ['user', 'get', 'admin'])) as { user: { name: string } }).user.name,
      'admin',
    );
    succeeded(await admin(files.b, ['group', 'remove-user', 'readers', 'alice']));
    refused(await admin(files.alice, ['user', 'get', 'admin']), 'AccessDenied');
    succeeded(await admin(files.b, ['policy', 'detach', 'user-readers', '--group', 'readers']));
    succeeded(await admin(files.b, ['group', 'delete', 'readers']));
  });

  it('a user is deleted once its keys are gone, and its key stops working at once', async () => {
    refused(await admin(files.b, ['user', 'delete', 'alice']), 'DeleteConflict');
    succeeded(await admin(files.b, ['accesskey', 'delete', '--user', 'alice', aliceKey.accessKeyId]));
    assert.equal(await listBuckets(aliceKey), 'InvalidAccessKeyId');
    succeeded(await admin(files.b, ['user', 'delete', 'alice']));
    refused(await admin(files.b, ['user', 'get', 'alice']), 'NoSuchEntity');
  });

  it('logs every admin request with its action, tenant and resource', () => {
    const lines = sovra.logs.flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
    const created = lines.find((line) => line.action === 'sovra:CreateUser' && line.status === 201);
    assert.ok(created !== undefined, 'a CreateUser line');
    assert.equal(created.tenant, 'agency-b');
    assert.equal(created.resource, 'arn:aws:iam::agency-b:user/alice');
    const tenant = lines.find((line) => line.action === 'sovra:CreateTenant' && line.status === 201);
    assert.equal(tenant?.tenant, 'agency-a');
    const denied = lines.find((line) => line.action === 'sovra:ListTenants' && line.error === 'AccessDenied');
    assert.equal(denied?.tenant, 'agency-b', 'a refusal is recorded under the caller’s own tenant');
  });

  it('secret keys are stored only sealed: no file of the data directory, nor the log, holds one', () => {
    assert.ok(secrets.length >= 5);
    const found = readFilesUnder(sovra.dataDir)
      // The root administrator's own first key is written there on purpose (mode 0600).
      .filter(([path]) => basename(path) !== 'admin-credentials.json')
      .filter(([, bytes]) => secrets.some((secret) => bytes.includes(Buffer.from(secret))))
      .map(([path]) => path);
    assert.deepEqual(found, []);
    const log = sovra.logs.join('\n');
    for (const secret of secrets) assert.ok(!log.includes(secret), 'the log holds no secret');
  });
});
