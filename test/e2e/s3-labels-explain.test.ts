import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CreateBucketCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { parseCanonicalRecord } from '../../src/domain/audit/records.ts';
import { sovraRequest } from '../helpers/sovra-api.ts';
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

const TENANT = 'agency-c';

/** CreateBucket with the label headers of docs/reference/classification.md "S3". */
function createLabelledBucket(
  s3: S3Client,
  bucket: string,
  labelHeaders: Record<string, string>,
): Promise<unknown> {
  const command = new CreateBucketCommand({ Bucket: bucket });
  command.middlewareStack.add(
    (next) => (args) => {
      const request = args.request as { headers: Record<string, string> };
      Object.assign(request.headers, labelHeaders);
      return next(args);
    },
    { step: 'build', name: 'sovraLabelHeaders' },
  );
  return s3.send(command);
}

async function s3Refusal(call: Promise<unknown>): Promise<{ status: number | undefined; code: string }> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof S3ServiceException, String(error));
    return { status: error.$metadata.httpStatusCode, code: error.name };
  }
  assert.fail('the request succeeded');
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

interface Explanation {
  decision: 'allow' | 'deny';
  deniedBy: { source: string; policies: string[] } | null;
  principal: { name: string; arn: string; clearance: string | null };
  iam: { effect: string; statements: { source: string; sid: string | null; matched: boolean }[] };
  guardrails: { decision: string; determiningPolicies: { id: string }[] };
  classification: { rule: string | null; clearance: string; resourceLabel: string | null };
}

describe('security labels through S3, clearances from principals, and sovra policy explain', () => {
  const work = mkdtempSync(join(tmpdir(), 'sovra-labels-'));
  let sovra: SovraProcess;
  let adminKeys: Credentials;
  let officerKeys: Credentials;
  let adminS3: S3Client;
  let officerS3: S3Client;
  const adminFile = join(work, 'c-admin.json');
  const officerFile = join(work, 'officer.json');

  const adminCall = async (credentials: Credentials, method: string, path: string, body?: unknown) => {
    const { status, answer } = await adminAnswer(credentials, method, path, body);
    assert.ok(status < 300, `${method} ${path}: ${JSON.stringify(answer)}`);
    return answer;
  };
  /** A signed request to /_sovra/ with its status and JSON answer, refusals included. */
  const adminAnswer = async (credentials: Credentials, method: string, path: string, body?: unknown) => {
    const apiPath = `/_sovra/${path.startsWith('audit/') ? '' : 'admin/'}${path}`;
    const { status, body: answer } = await sovraRequest(sovra.endpoint, credentials, method, apiPath, body);
    return { status, answer: answer ?? {} };
  };
  const s3Client = (credentials: Credentials) =>
    new S3Client({
      endpoint: sovra.endpoint,
      region: TEST_REGION,
      forcePathStyle: true,
      credentials,
      maxAttempts: 1,
    });
  /** The label headers of a presigned request's answer. */
  const labelOf = async (s3: S3Client, command: HeadBucketCommand | HeadObjectCommand | GetObjectCommand) => {
    const method = command instanceof GetObjectCommand ? 'GET' : 'HEAD';
    // getSignedUrl is generic over one command type; each of the three is one.
    const url =
      command instanceof GetObjectCommand
        ? await getSignedUrl(s3, command, { expiresIn: 60 })
        : command instanceof HeadObjectCommand
          ? await getSignedUrl(s3, command, { expiresIn: 60 })
          : await getSignedUrl(s3, command, { expiresIn: 60 });
    const response = await fetch(url, { method });
    assert.equal(response.status, 200);
    return {
      classification: response.headers.get('x-sovra-classification'),
      compartments: response.headers.get('x-sovra-compartments'),
    };
  };
  const explain = async (credentials: string, args: string[]) =>
    runCli([
      'policy',
      'explain',
      ...args,
      '--endpoint',
      sovra.endpoint,
      '--credentials',
      credentials,
      '--region',
      TEST_REGION,
    ]);

  before(async () => {
    sovra = await startSovra();
    const created = await adminCall(sovra.credentials, 'POST', 'tenants', { id: TENANT, name: 'Agency C' });
    adminKeys = created.accessKey as Credentials;
    await adminCall(adminKeys, 'POST', 'users', {
      name: 'officer',
      clearance: 'SECRET',
      tags: { team: 'records' },
    });
    const key = await adminCall(adminKeys, 'POST', 'users/officer/access-keys', {});
    officerKeys = key.accessKey as Credentials;
    await adminCall(adminKeys, 'POST', 'policies', {
      name: 'records-team-data',
      document: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'RecordsTeam',
            Effect: 'Allow',
            Action: 's3:*',
            Resource: '*',
            Condition: { StringEquals: { 'aws:PrincipalTag/team': 'records' } },
          },
        ],
      },
    });
    await adminCall(adminKeys, 'PUT', 'users/officer/policies/records-team-data');
    writeFileSync(adminFile, JSON.stringify(adminKeys), { mode: 0o600 });
    writeFileSync(officerFile, JSON.stringify(officerKeys), { mode: 0o600 });
    adminS3 = s3Client(adminKeys);
    officerS3 = s3Client(officerKeys);
  });

  after(async () => {
    adminS3?.destroy();
    officerS3?.destroy();
    if (sovra !== undefined) {
      await sovra.stop();
      removeDir(sovra.dataDir);
    }
    removeDir(work);
  });

  it('a bucket created with x-sovra-classification carries the label; its objects answer with it', async () => {
    await createLabelledBucket(officerS3, 'c-secret', { 'x-sovra-classification': 'secret' });
    await officerS3.send(new PutObjectCommand({ Bucket: 'c-secret', Key: 'doc.txt', Body: 'classified' }));
    assert.deepEqual(await labelOf(officerS3, new HeadBucketCommand({ Bucket: 'c-secret' })), {
      classification: 'SECRET',
      compartments: null,
    });
    for (const command of [
      new HeadObjectCommand({ Bucket: 'c-secret', Key: 'doc.txt' }),
      new GetObjectCommand({ Bucket: 'c-secret', Key: 'doc.txt' }),
    ]) {
      assert.equal((await labelOf(officerS3, command)).classification, 'SECRET');
    }
    await officerS3.send(new CreateBucketCommand({ Bucket: 'c-open' }));
    assert.equal(
      (await labelOf(officerS3, new HeadBucketCommand({ Bucket: 'c-open' }))).classification,
      'PUBLIC',
    );
  });

  it('nobody creates a bucket above their clearance, and unknown or malformed labels are InvalidArgument', async () => {
    assert.deepEqual(
      await s3Refusal(createLabelledBucket(officerS3, 'c-top', { 'x-sovra-classification': 'TOP_SECRET' })),
      { status: 403, code: 'AccessDenied' },
    );
    assert.deepEqual(
      await s3Refusal(createLabelledBucket(adminS3, 'c-internal', { 'x-sovra-classification': 'INTERNAL' })),
      { status: 403, code: 'AccessDenied' },
      'an administrator without a clearance is at the lowest level',
    );
    const malformed: Record<string, string>[] = [
      { 'x-sovra-classification': 'COSMIC' },
      { 'x-sovra-classification': 'SECRET', 'x-sovra-compartments': 'NATO' },
      { 'x-sovra-classification': 'SEC RET' },
    ];
    for (const headers of malformed) {
      assert.deepEqual(await s3Refusal(createLabelledBucket(officerS3, 'c-odd', headers)), {
        status: 400,
        code: 'InvalidArgument',
      });
    }
  });

  it('no read up: an administrator without a clearance manages the bucket but cannot read or list it', async () => {
    const versioning = await adminS3.send(new GetBucketVersioningCommand({ Bucket: 'c-secret' }));
    assert.equal(versioning.Status, undefined);
    const denied = { status: 403, code: 'AccessDenied' };
    assert.deepEqual(
      await s3Refusal(adminS3.send(new GetObjectCommand({ Bucket: 'c-secret', Key: 'doc.txt' }))),
      denied,
    );
    // HeadBucket is authorized as s3:ListBucket, a listing (AWS's action for it).
    assert.equal((await s3Refusal(adminS3.send(new HeadBucketCommand({ Bucket: 'c-secret' })))).status, 403);
  });

  it('sovra policy explain shows the decision with every statement, guardrail and label rule', async () => {
    const officer = await explain(adminFile, [
      '--principal',
      'officer',
      '--action',
      's3:GetObject',
      '--resource',
      'c-secret/doc.txt',
      '--source-ip',
      '192.0.2.10',
    ]);
    assert.equal(officer.code, 0, officer.stderr);
    const allowed = (JSON.parse(officer.stdout) as { explanation: Explanation }).explanation;
    assert.equal(allowed.decision, 'allow');
    assert.equal(allowed.principal.arn, `arn:aws:iam::${TENANT}:user/officer`);
    assert.deepEqual(
      allowed.iam.statements.map((statement) => [statement.source, statement.sid, statement.matched]),
      [['managed policy records-team-data', 'RecordsTeam', true]],
    );
    assert.equal(allowed.guardrails.decision, 'allow');
    assert.ok(allowed.guardrails.determiningPolicies.length > 0);
    assert.deepEqual(
      [allowed.classification.rule, allowed.classification.clearance, allowed.classification.resourceLabel],
      [null, 'SECRET', 'SECRET'],
    );

    const administrator = await explain(adminFile, [
      '--principal',
      `arn:aws:iam::${TENANT}:user/admin`,
      '--action',
      's3:GetObject',
      '--resource',
      'arn:aws:s3:::c-secret/doc.txt',
    ]);
    assert.equal(administrator.code, 0, administrator.stderr);
    const denied = (JSON.parse(administrator.stdout) as { explanation: Explanation }).explanation;
    assert.equal(denied.decision, 'deny');
    assert.equal(denied.iam.effect, 'Allow');
    assert.equal(denied.classification.rule, 'no-read-up');
    assert.equal(denied.classification.clearance, 'PUBLIC');
    assert.ok(denied.deniedBy !== null && ['guardrails', 'classification'].includes(denied.deniedBy.source));
  });

  it('the admin API shows a bucket’s label to its tenant’s administrators only, and records it', async () => {
    await createLabelledBucket(officerS3, 'c-confidential', { 'x-sovra-classification': 'CONFIDENTIAL' });
    const read = await adminCall(adminKeys, 'GET', 'buckets/c-confidential');
    const bucket = read.bucket as Record<string, unknown>;
    assert.deepEqual(
      [bucket.name, bucket.tenant, bucket.region, bucket.classification, bucket.compartments, bucket.label],
      ['c-confidential', TENANT, TEST_REGION, 'CONFIDENTIAL', [], 'CONFIDENTIAL'],
    );
    assert.deepEqual([bucket.versioning, bucket.objectLockEnabled], ['Unversioned', false]);
    assert.ok(typeof bucket.createdAt === 'string' && !Number.isNaN(Date.parse(bucket.createdAt)));

    // Paged like the other lists, in name order; a bucket without a label is at the lowest level.
    const listed: Record<string, unknown>[] = [];
    let marker: string | null = '';
    while (marker !== null) {
      const page = await adminCall(adminKeys, 'GET', `buckets?maxItems=2&marker=${marker}`);
      listed.push(...(page.buckets as Record<string, unknown>[]));
      marker = page.marker as string | null;
      assert.equal(page.isTruncated, marker !== null);
    }
    assert.deepEqual(
      listed.map((b) => [b.name, b.classification]),
      [
        ['c-confidential', 'CONFIDENTIAL'],
        ['c-open', 'PUBLIC'],
        ['c-secret', 'SECRET'],
      ],
    );

    const connection = ['--endpoint', sovra.endpoint, '--credentials', adminFile, '--region', TEST_REGION];
    const cli = await runCli(['bucket', 'get', 'c-confidential', ...connection]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(
      (JSON.parse(cli.stdout) as { bucket: { classification: string } }).bucket.classification,
      'CONFIDENTIAL',
    );
    const cliList = await runCli(['bucket', 'list', ...connection]);
    assert.equal(cliList.code, 0, cliList.stderr);
    assert.equal((JSON.parse(cliList.stdout) as { buckets: unknown[] }).buckets.length, 3);

    // Another tenant's administrator: NotFound exactly like a missing bucket, and an empty list.
    const other = await adminCall(sovra.credentials, 'POST', 'tenants', { id: 'agency-x', name: 'Agency X' });
    const otherKeys = other.accessKey as Credentials;
    const foreign = await adminAnswer(otherKeys, 'GET', 'buckets/c-confidential');
    const missing = await adminAnswer(otherKeys, 'GET', 'buckets/c-nowhere');
    assert.deepEqual([foreign.status, foreign.answer.code], [404, 'NoSuchEntity']);
    assert.deepEqual([missing.status, missing.answer.code], [404, 'NoSuchEntity']);
    assert.deepEqual((await adminCall(otherKeys, 'GET', 'buckets')).buckets, []);

    // Not an administrator: AccessDenied, even with a clearance that dominates the label.
    for (const path of ['buckets/c-confidential', 'buckets']) {
      const refused = await adminAnswer(officerKeys, 'GET', path);
      assert.deepEqual([refused.status, refused.answer.code], [403, 'AccessDenied']);
    }
    const byCli = await runCli([
      'bucket',
      'get',
      'c-confidential',
      ...connection.slice(0, 2),
      '--credentials',
      officerFile,
    ]);
    assert.match(byCli.stderr, /^sovra: AccessDenied: /m);

    // Every read is recorded; the record of a bucket read carries the bucket's label.
    const audit = await adminCall(adminKeys, 'GET', 'audit/records?action=sovra%3AGetBucket&limit=100');
    const records = (audit.records as { record: string }[]).map((entry) =>
      parseCanonicalRecord(Buffer.from(entry.record, 'utf8')),
    );
    const summary = records.map((record) => [record.result, record.resource, record.classification]);
    assert.deepEqual(summary.slice(0, 2), [
      ['success', 'arn:aws:s3:::c-confidential', 'CONFIDENTIAL'],
      ['success', 'arn:aws:s3:::c-confidential', 'CONFIDENTIAL'],
    ]);
    assert.ok(summary.some(([result, , classification]) => result === 'denied' && classification === null));
  });

  it('only tenant administrators explain decisions, and unknown principals are NoSuchEntity', async () => {
    const byOfficer = await explain(officerFile, ['--principal', 'officer', '--action', 's3:GetObject']);
    assert.equal(byOfficer.code, 1);
    assert.match(byOfficer.stderr, /^sovra: AccessDenied: /m);
    const unknown = await explain(adminFile, ['--principal', 'nobody', '--action', 's3:GetObject']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^sovra: NoSuchEntity: /m);
    const badAction = await explain(adminFile, ['--principal', 'officer', '--action', 'GetObject']);
    assert.match(badAction.stderr, /^sovra: ValidationError: action/m);
  });
});
