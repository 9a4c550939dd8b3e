import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CreateBucketCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { readDefaultGuardrails } from '../../src/adapters/cedar/cedar-guardrails.ts';
import { parseCanonicalRecord } from '../../src/domain/audit/records.ts';
import { GUARDRAIL_REFRESH_INTERVAL_MS } from '../../src/domain/guardrails/limits.ts';
import { signRequest } from '../../src/protocols/sigv4/sign.ts';
import { createTestSchema } from '../helpers/postgres.ts';
import {
  CLI,
  NODE,
  removeDir,
  startSovra,
  TEST_REGION,
  type SovraProcess,
} from '../helpers/sovra-process.ts';

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

interface GuardrailsView {
  policies: string;
  sha256: string;
  version: number | null;
  source: string;
  replacedAt: string | null;
  replacedBy: { principalId: string; tenantId: string } | null;
  policyIds: string[];
  refusedStoredSet: { version: number; message: string } | null;
}

/** The shipped set and one more forbid: nobody reads objects of the bucket `embargoed`. */
const EMBARGO = `${readDefaultGuardrails()}
@id("embargoed-bucket-is-unreadable")
forbid (principal, action == Sovra::Action::"s3:GetObject", resource in Sovra::Bucket::"embargoed");
`;

/** The embargo and a misspelt attribute: parses, but does not validate against the schema. */
const MISSPELT = `${EMBARGO}
@id("typo")
forbid (principal, action == Sovra::Action::"s3:GetObject", resource)
when { resource.clasificationRank > 0 };
`;

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A signed request to one of Sovra's JSON APIs (service `sovra`) or to S3 (service `s3`). */
async function signedCall(
  sovra: SovraProcess,
  credentials: Credentials,
  method: string,
  path: string,
  options: { body?: string; headers?: Record<string, string>; service?: string } = {},
): Promise<Answer> {
  const url = new URL(path, sovra.endpoint);
  const body = options.body ?? '';
  const headers = signRequest({ method, url, body, headers: options.headers ?? {} }, credentials, {
    region: TEST_REGION,
    service: options.service ?? 'sovra',
    now: new Date(),
    ...(options.service === 's3' ? { uriEncoding: 's3' as const } : {}),
  });
  delete headers.host;
  const response = await fetch(url, { method, headers, ...(body === '' ? {} : { body }) });
  const text = await response.text();
  return {
    status: response.status,
    body: text === '' || !text.startsWith('{') ? {} : (JSON.parse(text) as Record<string, unknown>),
    headers: response.headers,
  };
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
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

function s3Client(sovra: SovraProcess, credentials: Credentials): S3Client {
  return new S3Client({
    endpoint: sovra.endpoint,
    region: TEST_REGION,
    forcePathStyle: true,
    credentials,
    maxAttempts: 1,
  });
}

/** GetObject: 'ok', or the S3 error code. */
async function read(s3: S3Client, bucket: string, key: string): Promise<string> {
  try {
    const answer = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    await answer.Body?.transformToString();
    return 'ok';
  } catch (error) {
    assert.ok(error instanceof S3ServiceException, String(error));
    return error.name;
  }
}

const guardrailsOf = (answer: Answer) => answer.body.guardrails as GuardrailsView;

describe('the classification profile and the platform guardrails, chosen and replaced by the platform operator', () => {
  const work = mkdtempSync(join(tmpdir(), 'sovra-guardrails-e2e-'));
  let sovra: SovraProcess;
  let root: Credentials;
  let agencyAdmin: Credentials;
  let s3: S3Client;
  const rootFile = () => join(sovra.dataDir, 'admin-credentials.json');
  const getGuardrails = (credentials: Credentials) =>
    signedCall(sovra, credentials, 'GET', '/_sovra/admin/guardrails');
  const putGuardrails = (credentials: Credentials, policies: string) =>
    signedCall(sovra, credentials, 'PUT', '/_sovra/admin/guardrails', {
      body: JSON.stringify({ policies }),
      headers: { 'content-type': 'application/json' },
    });
  const bucketLabel = async (bucket: string) => {
    const answer = await signedCall(sovra, root, 'HEAD', `/${bucket}`, { service: 's3' });
    assert.equal(answer.status, 200, `HEAD ${bucket}`);
    return answer.headers.get('x-sovra-classification');
  };

  before(async () => {
    sovra = await startSovra({ extraArgs: ['--classification-profile', 'vietnam'] });
    root = sovra.credentials;
    const created = await signedCall(sovra, root, 'POST', '/_sovra/admin/tenants', {
      body: JSON.stringify({ id: 'agency-v', name: 'Agency V' }),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const key = (created.body.accessKey ?? {}) as Credentials;
    agencyAdmin = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
    s3 = s3Client(sovra, root);
    for (const bucket of ['embargoed', 'open-data']) {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc.txt', Body: 'report' }));
    }
  });

  after(async () => {
    s3.destroy();
    if (sovra.child.exitCode === null) await sovra.stop();
    removeDir(sovra.dataDir);
    removeDir(work);
  });

  it('a server started with --classification-profile vietnam labels in Vietnam level ids, and clearances must be its levels', async () => {
    assert.equal(
      await bucketLabel('open-data'),
      'UNCLASSIFIED',
      'an unlabelled bucket is at the lowest level',
    );
    const generic = await signedCall(sovra, root, 'PATCH', '/_sovra/admin/users/admin', {
      body: JSON.stringify({ clearance: 'SECRET' }),
    });
    assert.equal(generic.status, 400);
    assert.equal(generic.body.code, 'ValidationError');
    assert.match(String(generic.body.message), /not a level of the vietnam classification scheme/);
    const cleared = await signedCall(sovra, root, 'PATCH', '/_sovra/admin/users/admin', {
      body: JSON.stringify({ clearance: 'TOI_MAT' }),
    });
    assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
    const labelled = await signedCall(sovra, root, 'PUT', '/v-toi-mat', {
      service: 's3',
      headers: { 'x-sovra-classification': 'TOI_MAT' },
    });
    assert.equal(labelled.status, 200);
    assert.equal(await bucketLabel('v-toi-mat'), 'TOI_MAT');
    const foreign = await signedCall(sovra, root, 'PUT', '/v-secret', {
      service: 's3',
      headers: { 'x-sovra-classification': 'SECRET' },
    });
    assert.equal(foreign.status, 400, 'SECRET is a level of the generic profile, not of this one');
  });

  it('GET /guardrails answers the shipped set to root administrators; a tenant administrator is refused both operations', async () => {
    const answer = await getGuardrails(root);
    assert.equal(answer.status, 200);
    const active = guardrailsOf(answer);
    assert.deepEqual(
      [active.source, active.version, active.replacedAt, active.replacedBy, active.refusedStoredSet],
      ['default', null, null, null, null],
    );
    assert.equal(active.policies, readDefaultGuardrails());
    assert.equal(active.sha256, sha256(readDefaultGuardrails()));
    assert.ok(active.policyIds.includes('no-read-up'));
    for (const refused of [await getGuardrails(agencyAdmin), await putGuardrails(agencyAdmin, EMBARGO)]) {
      assert.equal(refused.status, 403);
      assert.equal(refused.body.code, 'AccessDenied');
    }
    assert.equal(guardrailsOf(await getGuardrails(root)).source, 'default', 'nothing changed');
  });

  it('a replaced set takes effect on the S3 path at once', async () => {
    assert.equal(await read(s3, 'embargoed', 'doc.txt'), 'ok');
    const answer = await putGuardrails(root, EMBARGO);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const active = guardrailsOf(answer);
    assert.deepEqual([active.source, active.version, active.sha256], ['api', 1, sha256(EMBARGO)]);
    assert.equal(active.replacedBy?.tenantId, 'root');
    assert.ok(active.replacedAt !== null && Date.parse(active.replacedAt) > Date.now() - 60_000);
    assert.equal(await read(s3, 'embargoed', 'doc.txt'), 'AccessDenied');
    assert.equal(await read(s3, 'open-data', 'doc.txt'), 'ok', 'other buckets are untouched');
  });

  it("an invalid set is refused with the Cedar validator's message and the previous set still applies", async () => {
    const answer = await putGuardrails(root, MISSPELT);
    assert.equal(answer.status, 400);
    assert.equal(answer.body.code, 'InvalidGuardrails');
    assert.match(String(answer.body.message), /typo: .*clasificationRank/);
    assert.equal(await read(s3, 'embargoed', 'doc.txt'), 'AccessDenied');
    const active = guardrailsOf(await getGuardrails(root));
    assert.deepEqual([active.version, active.sha256], [1, sha256(EMBARGO)]);
    const notCedar = await signedCall(sovra, root, 'PUT', '/_sovra/admin/guardrails', {
      body: JSON.stringify({ policies: 42 }),
    });
    assert.deepEqual([notCedar.status, notCedar.body.code], [400, 'ValidationError']);
  });

  it('the CLI reads and replaces the guardrails, and the API also takes the Cedar text itself as the body', async () => {
    const connection = ['--endpoint', sovra.endpoint, '--credentials', rootFile(), '--region', TEST_REGION];
    const file = join(work, 'open.cedar');
    writeFileSync(file, readDefaultGuardrails());
    const put = await runCli(['policy', 'guardrails', 'put', '--file', file, ...connection]);
    assert.equal(put.code, 0, put.stderr);
    assert.equal((JSON.parse(put.stdout) as { guardrails: GuardrailsView }).guardrails.version, 2);
    assert.equal(await read(s3, 'embargoed', 'doc.txt'), 'ok');

    const badFile = join(work, 'typo.cedar');
    writeFileSync(badFile, MISSPELT);
    const refused = await runCli(['policy', 'guardrails', 'put', '--file', badFile, ...connection]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^sovra: InvalidGuardrails: .*clasificationRank/m);

    const plain = await signedCall(sovra, root, 'PUT', '/_sovra/admin/guardrails', {
      body: EMBARGO,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
    });
    assert.equal(plain.status, 200, JSON.stringify(plain.body));
    assert.equal(guardrailsOf(plain).version, 3);
    const get = await runCli(['policy', 'guardrails', 'get', ...connection]);
    assert.equal(get.code, 0, get.stderr);
    const shown = (JSON.parse(get.stdout) as { guardrails: GuardrailsView }).guardrails;
    assert.deepEqual([shown.version, shown.source, shown.policies], [3, 'api', EMBARGO]);
    assert.equal(await read(s3, 'embargoed', 'doc.txt'), 'AccessDenied');
  });

  it('every replacement, accepted or refused, is an audit record naming the SHA-256 of the set offered', async () => {
    const answer = await signedCall(
      sovra,
      root,
      'GET',
      '/_sovra/audit/records?action=sovra%3APutGuardrails&limit=100',
    );
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const records = (answer.body.records as { record: string }[]).map((entry) =>
      parseCanonicalRecord(Buffer.from(entry.record, 'utf8')),
    );
    const summary = records.map((record) => [
      record.kind,
      record.result,
      record.errorCode,
      record.resource,
      record.details.guardrailsSha256,
      record.details.guardrailsVersion,
    ]);
    assert.deepEqual(summary, [
      ['admin-change', 'success', null, 'sovra:guardrails', sha256(EMBARGO), 1],
      ['request', 'failure', 'InvalidGuardrails', 'sovra:guardrails', sha256(MISSPELT), null],
      ['request', 'failure', 'ValidationError', 'sovra:guardrails', null, null],
      ['admin-change', 'success', null, 'sovra:guardrails', sha256(readDefaultGuardrails()), 2],
      ['request', 'failure', 'InvalidGuardrails', 'sovra:guardrails', sha256(MISSPELT), null],
      ['admin-change', 'success', null, 'sovra:guardrails', sha256(EMBARGO), 3],
    ]);
  });

  it('a restart uses the replaced set, which also takes precedence over a --guardrails file', async () => {
    await sovra.stop();
    const file = join(work, 'baseline.cedar');
    writeFileSync(file, readDefaultGuardrails());
    sovra = await startSovra({
      dataDir: sovra.dataDir,
      extraArgs: ['--classification-profile', 'vietnam', '--guardrails', file],
    });
    s3.destroy();
    s3 = s3Client(sovra, root);
    const active = guardrailsOf(await getGuardrails(root));
    assert.deepEqual([active.source, active.version, active.sha256], ['api', 3, sha256(EMBARGO)]);
    assert.equal(await read(s3, 'embargoed', 'doc.txt'), 'AccessDenied');
    assert.equal(await bucketLabel('v-toi-mat'), 'TOI_MAT');
  });

  it('refuses to start with a guardrails file that does not validate or an unknown profile, naming the setting', async () => {
    const file = join(work, 'typo-start.cedar');
    writeFileSync(file, MISSPELT);
    const cases: [string[], RegExp][] = [
      [
        ['--guardrails', file],
        /config: guardrails: .*typo-start\.cedar: Guardrails refused: .*clasificationRank/,
      ],
      [['--classification-profile', 'atlantis'], /config: classificationProfile: .*atlantis/],
    ];
    for (const [flags, message] of cases) {
      const dataDir = mkdtempSync(join(work, 'refused-'));
      const result = await runCli(['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0', ...flags]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, message);
    }
  });
});

describe('two gateways on one PostgreSQL database share the replaced guardrails', () => {
  it('a set replaced through one gateway applies on the other within the refresh interval', async () => {
    const schema = await createTestSchema();
    const options = {
      metadata: 'postgres' as const,
      postgresSchema: schema.schema,
      postgresUrl: schema.connectionString,
    };
    const first = await startSovra(options);
    // The same data directory stands for the shared blob backend and key files of a deployment.
    const second = await startSovra({ ...options, dataDir: first.dataDir });
    const clients = [s3Client(first, first.credentials), s3Client(second, first.credentials)];
    try {
      await clients[0]!.send(new CreateBucketCommand({ Bucket: 'embargoed' }));
      await clients[0]!.send(new PutObjectCommand({ Bucket: 'embargoed', Key: 'doc.txt', Body: 'x' }));
      assert.equal(await read(clients[1]!, 'embargoed', 'doc.txt'), 'ok');
      const replaced = await signedCall(first, first.credentials, 'PUT', '/_sovra/admin/guardrails', {
        body: JSON.stringify({ policies: EMBARGO }),
      });
      assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
      assert.equal(await read(clients[0]!, 'embargoed', 'doc.txt'), 'AccessDenied');
      const deadline = Date.now() + GUARDRAIL_REFRESH_INTERVAL_MS + 5_000;
      let onSecond = 'ok';
      while (onSecond === 'ok' && Date.now() < deadline) {
        await sleep(250);
        onSecond = await read(clients[1]!, 'embargoed', 'doc.txt');
      }
      assert.equal(onSecond, 'AccessDenied', 'the second gateway picked up the stored set');
      const active = guardrailsOf(
        await signedCall(second, first.credentials, 'GET', '/_sovra/admin/guardrails'),
      );
      assert.deepEqual([active.source, active.version], ['api', 1]);
    } finally {
      for (const client of clients) client.destroy();
      await second.stop();
      await first.stop();
      removeDir(first.dataDir);
      await schema.drop();
    }
  });
});
