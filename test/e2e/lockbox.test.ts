import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { AuditClient } from '../../src/cli/audit-client.ts';
import { parseCanonicalRecord, type AuditRecord } from '../../src/domain/audit/records.ts';
import type { SecurityEvent } from '../../src/domain/lockbox/security-notifications.ts';
import { OffsetClock } from '../../src/platform/clock.ts';
import { loadServerConfig } from '../../src/platform/config.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { signRequest } from '../../src/protocols/sigv4/sign.ts';
import { startServer, type RunningServer } from '../../src/server/sovra-server.ts';
import {
  CLI,
  NODE,
  removeDir,
  startSovra,
  TEST_REGION,
  type SovraProcess,
} from '../helpers/sovra-process.ts';

const run = promisify(execFile);

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `sovra …`, returning its exit code and output instead of throwing on failure. */
async function sovra(args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(NODE, [CLI, ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

async function sovraJson(args: string[]): Promise<Record<string, unknown>> {
  const result = await sovra(args);
  assert.equal(result.code, 0, `sovra ${args.slice(0, 2).join(' ')} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

/** Runs `sovra …` that must succeed; its standard output. */
async function sovraText(args: string[]): Promise<string> {
  const result = await sovra(args);
  assert.equal(result.code, 0, `sovra ${args.slice(0, 2).join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function credentialsIn(path: string): { accessKeyId: string; secretAccessKey: string } {
  return JSON.parse(readFileSync(path, 'utf8')) as { accessKeyId: string; secretAccessKey: string };
}

/** The operator's notification target for tenants' security teams, and the secret it signs with. */
const SOC_ARN = `arn:sovra:sqs:${TEST_REGION}:soc:webhook`;
const SOC_SECRET = 'security-operations-centre-hmac-key';
const DELIVERY_TIMEOUT_MS = 20_000;

interface ReceivedNotification {
  headers: IncomingHttpHeaders;
  body: string;
  event: SecurityEvent;
}

/** A security team's webhook: every POST is kept, and acknowledged with 204. */
async function startWebhookReceiver(): Promise<{
  server: Server;
  url: string;
  received: ReceivedNotification[];
}> {
  const received: ReceivedNotification[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ headers: req.headers, body, event: JSON.parse(body) as SecurityEvent });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('the receiver has no port');
  return { server, url: `http://127.0.0.1:${address.port}/security-events`, received };
}

/** A security office key and platform rules as the tests configure them; returns their files. */
async function writeOperatorAccessConfig(file: (name: string) => string): Promise<void> {
  const vkey = (
    await sovraText([
      'access',
      'attestation-key',
      '--name',
      'security-office.test',
      '--out',
      file('office.key'),
    ])
  ).trim();
  writeFileSync(file('office.vkeys'), `# the security office of the hosting country\n${vkey}\n`);
  writeFileSync(
    file('rules.json'),
    JSON.stringify({
      minClearance: 'SECRET',
      profile: 'generic',
      nationalities: ['VN'],
      residencies: ['VN'],
      networkJurisdictions: ['VN'],
      maxDurationSeconds: 28_800,
      breakGlass: { enabled: true, maxDurationSeconds: 3600 },
    }),
  );
}

/** `sovra access attest` by the office of writeOperatorAccessConfig, valid a day; the note's file. */
async function attestWith(file: (name: string) => string, subject: string, name: string): Promise<string> {
  await sovraText([
    'access',
    'attest',
    '--key',
    file('office.key'),
    '--subject',
    subject,
    '--clearance',
    'SECRET',
    '--nationality',
    'VN',
    '--residency',
    'VN',
    '--expires',
    new Date(Date.now() + 86_400_000).toISOString(),
    '--out',
    file(name),
  ]);
  return file(name);
}

/**
 * Operator access approval end to end: a real server configured with a security office's key and
 * platform rules, driven by the `sovra` CLI. The target tenant is a second tenant made through the
 * admin API (`sovra tenant create`), whose administrator decides; the operators are root-tenant
 * principals with attestations from `sovra access attest`.
 */
describe('operator access approval (lockbox) through the CLI', () => {
  let server: SovraProcess;
  let dir: string;
  let endpoint: string[];
  let webhook: Awaited<ReturnType<typeof startWebhookReceiver>>;
  const file = (name: string) => join(dir, name);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sovra-lockbox-'));
    await writeOperatorAccessConfig(file);
    // The operator registers a webhook target that tenants may send their security notifications to.
    webhook = await startWebhookReceiver();
    writeFileSync(file('soc.secret'), SOC_SECRET, { mode: 0o600 });
    writeFileSync(
      file('targets.json'),
      JSON.stringify([{ id: 'soc', type: 'webhook', url: webhook.url, secretFile: file('soc.secret') }]),
    );
    server = await startSovra({
      extraArgs: [
        '--operator-attestation-keys',
        file('office.vkeys'),
        '--operator-access-rules',
        file('rules.json'),
        // Loopback connections are the platform's own network, here in Vietnam.
        '--home-jurisdiction',
        'VN',
        '--notification-targets',
        file('targets.json'),
      ],
    });
    endpoint = ['--endpoint', server.endpoint, '--region', TEST_REGION];
    writeFileSync(file('root.json'), JSON.stringify(server.credentials), { mode: 0o600 });
  });

  after(async () => {
    await server?.stop();
    if (webhook !== undefined) {
      webhook.server.closeAllConnections();
      await new Promise<void>((resolve) => webhook.server.close(() => resolve()));
    }
    if (server !== undefined) removeDir(server.dataDir);
    if (dir !== undefined) removeDir(dir);
  });

  function attest(subject: string, name: string): Promise<string> {
    return attestWith(file, subject, name);
  }

  async function tenantRecords(credentials: {
    accessKeyId: string;
    secretAccessKey: string;
  }): Promise<AuditRecord[]> {
    const page = await new AuditClient(server.endpoint, credentials, TEST_REGION).records({ limit: '1000' });
    return page.records.map((r) => parseCanonicalRecord(Buffer.from(r.record!, 'utf8')));
  }

  it('an operator requests, the tenant approves, the listing shows it active, the tenant revokes it', async () => {
    const created = await sovraJson([
      'tenant',
      'create',
      '--id',
      'agency-a',
      '--name',
      'Agency A',
      '--save-credentials',
      file('agency.json'),
      '--credentials',
      file('root.json'),
      ...endpoint,
    ]);
    assert.equal((created.tenant as { id: string }).id, 'agency-a');
    const operatorId = (
      (await sovraJson(['user', 'get', 'admin', '--credentials', file('root.json'), ...endpoint])).user as {
        id: string;
      }
    ).id;
    const attestation = await attest(operatorId, 'operator.note');
    const asOperator = ['--credentials', file('root.json'), ...endpoint];
    const asTenant = ['--credentials', file('agency.json'), ...endpoint];

    const request = [
      'access',
      'request',
      '--tenant',
      'agency-a',
      '--bucket',
      'case-files',
      '--prefix',
      'incident-42/',
      '--action',
      's3:GetObject',
      's3:ListBucket',
      '--duration',
      '3600',
      '--justification',
      'Restore a corrupted case file after a disk failure',
      '--ticket',
      'INC-2030-0042',
    ];
    // Without an attestation from a trusted office, nobody files.
    const forgedKey = await sovraText([
      'access',
      'attestation-key',
      '--name',
      'security-office.test',
      '--out',
      file('forged.key'),
    ]);
    assert.ok(forgedKey.length > 0);
    await sovraText([
      'access',
      'attest',
      '--key',
      file('forged.key'),
      '--subject',
      operatorId,
      '--clearance',
      'TOP_SECRET',
      '--nationality',
      'VN',
      '--residency',
      'VN',
      '--expires',
      new Date(Date.now() + 86_400_000).toISOString(),
      '--out',
      file('forged.note'),
    ]);
    const forged = await sovra([...request, '--attestation', file('forged.note'), ...asOperator]);
    assert.equal(forged.code, 2);
    assert.match(forged.stderr, /InvalidAttestation/);

    const filed = await sovraJson([...request, '--attestation', attestation, ...asOperator]);
    assert.equal(filed.status, 'pending');
    assert.equal(filed.tenantId, 'agency-a');
    assert.equal(filed.requesterId, operatorId);
    assert.deepEqual(filed.scope, { bucket: 'case-files', keyPrefix: 'incident-42/', kmsKeyId: null });
    assert.deepEqual((filed.requesterClaims as { clearance: string }).clearance, 'SECRET');
    const id = String(filed.id);

    // The tenant's administrator sees it waiting, and the operator cannot approve its own request.
    const pending = jsonLines(await sovraText(['access', 'list', '--status', 'pending', ...asTenant]));
    assert.deepEqual(
      pending.map((r) => r.id),
      [id],
    );
    const selfApproval = await sovra(['access', 'approve', id, ...asOperator]);
    assert.equal(selfApproval.code, 2);
    assert.match(selfApproval.stderr, /NotAnApprover/);

    const approved = await sovraJson([
      'access',
      'approve',
      id,
      '--comment',
      'approved for INC-2030-0042',
      ...asTenant,
    ]);
    assert.equal(approved.status, 'active');
    assert.equal(approved.decisionComment, 'approved for INC-2030-0042');
    const expiresAt = Date.parse(String(approved.expiresAt));
    assert.ok(
      Math.abs(expiresAt - (Date.now() + 3_600_000)) < 60_000,
      'the access ends on its own in an hour',
    );

    // The approval is what lets the operator read the tenant's data, within its scope only.
    const tenantS3 = server.client({ credentials: credentialsIn(file('agency.json')) });
    await tenantS3.send(new CreateBucketCommand({ Bucket: 'case-files' }));
    await tenantS3.send(
      new PutObjectCommand({ Bucket: 'case-files', Key: 'incident-42/report.txt', Body: 'case 42' }),
    );
    await tenantS3.send(
      new PutObjectCommand({ Bucket: 'case-files', Key: 'other/secret.txt', Body: 'not yours' }),
    );
    tenantS3.destroy();
    const plainOperator = server.client();
    const approvedOperator = server.client();
    const attestationHeader = Buffer.from(readFileSync(attestation, 'utf8'), 'utf8').toString('base64');
    approvedOperator.middlewareStack.add(
      (next) => (args) => {
        const request = args.request as { headers: Record<string, string> };
        request.headers['x-sovra-access-approval'] = id;
        request.headers['x-sovra-operator-attestation'] = attestationHeader;
        return next(args);
      },
      { step: 'build', name: 'lockboxHeaders' },
    );
    const read = new GetObjectCommand({ Bucket: 'case-files', Key: 'incident-42/report.txt' });
    await assert.rejects(plainOperator.send(read), { name: 'AccessDenied' }, 'no standing access');
    const got = await approvedOperator.send(read);
    assert.equal(await got.Body!.transformToString(), 'case 42');
    await assert.rejects(
      approvedOperator.send(new GetObjectCommand({ Bucket: 'case-files', Key: 'other/secret.txt' })),
      { name: 'AccessDenied' },
      'outside the approved prefix',
    );
    await assert.rejects(
      approvedOperator.send(new PutObjectCommand({ Bucket: 'case-files', Key: 'incident-42/x', Body: 'x' })),
      { name: 'AccessDenied' },
      'an action the approval does not name',
    );

    const active = jsonLines(await sovraText(['access', 'list', '--status', 'active', ...asTenant]));
    assert.deepEqual(
      active.map((r) => [r.id, r.status]),
      [[id, 'active']],
    );
    const revoked = await sovraJson(['access', 'revoke', id, '--reason', 'incident closed', ...asTenant]);
    assert.equal(revoked.status, 'revoked');
    assert.equal(revoked.revokeReason, 'incident closed');
    assert.deepEqual(jsonLines(await sovraText(['access', 'list', '--status', 'active', ...asTenant])), []);
    await assert.rejects(approvedOperator.send(read), { name: 'AccessDenied' }, 'revoked: ends at once');
    plainOperator.destroy();
    approvedOperator.destroy();
    const uses = (await tenantRecords(credentialsIn(file('agency.json')))).filter(
      (r) => r.kind === 'operator-access',
    );
    assert.ok(
      uses.some((r) => r.result === 'success' && r.approvalId === id && r.principalId === operatorId),
      'the tenant sees the operator’s access, the approval it used and who they are',
    );
    assert.ok(uses.some((r) => r.result === 'denied'));
    // Reading the object unwrapped its data key (the tenant's managed S3 key) as the operator, for
    // OPERATOR_SUPPORT under the approval; the tenant's key-use record says so.
    const keyUses = (await tenantRecords(credentialsIn(file('agency.json')))).filter(
      (r) => r.kind === 'key-use' && r.requestId === got.$metadata.requestId,
    );
    assert.deepEqual(
      keyUses.map((r) => [
        r.action,
        r.principalId,
        r.justification,
        r.approvalId,
        r.result,
        r.details.service,
      ]),
      [['kms:Decrypt', operatorId, 'OPERATOR_SUPPORT', id, 'success', 's3']],
    );
    const shown = await sovraJson(['access', 'get', id, ...asOperator]);
    assert.equal(shown.status, 'revoked');
    const again = await sovra(['access', 'approve', id, ...asTenant]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /InvalidRequestState/);

    // Every step is in the tenant's own audit records, with the operator, justification and request id.
    const steps = (await tenantRecords(credentialsIn(file('agency.json')))).filter(
      (r) => r.kind === 'access-approval',
    );
    assert.deepEqual(
      steps.map((r) => [r.details.step, r.result]),
      [
        ['file-refused', 'denied'],
        ['filed', 'success'],
        ['approve-refused', 'denied'],
        ['approved', 'success'],
        ['revoked', 'success'],
        ['approve-refused', 'denied'],
      ],
    );
    for (const step of steps) {
      assert.equal(step.tenantId, 'agency-a');
      assert.equal(step.principalId, operatorId);
      assert.equal(step.justification, 'Restore a corrupted case file after a disk failure');
    }
    assert.deepEqual(
      steps.slice(1).map((r) => r.approvalId),
      [id, id, id, id, id],
    );
    assert.equal(steps[3]!.details.actor, String((created.administrator as { id: string }).id));
    // None of it is in the root tenant's own view.
    const rootView = await tenantRecords(server.credentials);
    assert.equal(rootView.filter((r) => r.kind === 'access-approval').length, 0);
  });

  it('break-glass: a second root operator confirms, the tenant sees a high-severity event and acknowledges it', async () => {
    const asRoot = ['--credentials', file('root.json'), ...endpoint];
    const asTenant = ['--credentials', file('agency.json'), ...endpoint];
    const first = ((await sovraJson(['user', 'get', 'admin', ...asRoot])).user as { id: string }).id;
    const second = ((await sovraJson(['user', 'create', 'on-call', ...asRoot])).user as { id: string }).id;
    await sovraJson(['accesskey', 'create', '--user', 'on-call', '--save', file('on-call.json'), ...asRoot]);
    const filed = await sovraJson([
      'access',
      'request',
      '--tenant',
      'agency-a',
      '--bucket',
      'case-files',
      '--action',
      's3:GetObject',
      '--duration',
      '1800',
      '--justification',
      'Data corruption spreading; restore before the nightly batch',
      '--ticket',
      'SEV1-7',
      '--break-glass',
      '--attestation',
      await attest(first, 'first.note'),
      ...asRoot,
    ]);
    assert.equal(filed.status, 'awaiting-confirmation');
    const id = String(filed.id);
    const same = await sovra(['access', 'confirm', id, '--attestation', file('first.note'), ...asRoot]);
    assert.equal(same.code, 2);
    assert.match(same.stderr, /SameOperator/);
    const confirmed = await sovraJson([
      'access',
      'confirm',
      id,
      '--attestation',
      await attest(second, 'second.note'),
      '--credentials',
      file('on-call.json'),
      ...endpoint,
    ]);
    assert.equal(confirmed.status, 'active');
    assert.equal(confirmed.review, 'pending');
    assert.equal(confirmed.decidedBy, second);

    const flagged = jsonLines(await sovraText(['access', 'list', '--status', 'active', ...asTenant]));
    assert.equal(flagged.find((r) => r.id === id)?.review, 'pending');
    const acknowledged = await sovraJson([
      'access',
      'acknowledge',
      id,
      '--comment',
      'reviewed SEV1-7',
      ...asTenant,
    ]);
    assert.equal(acknowledged.review, 'acknowledged');

    const steps = (await tenantRecords(credentialsIn(file('agency.json')))).filter(
      (r) => r.approvalId === id,
    );
    const activated = steps.find((r) => r.details.step === 'break-glass-activated');
    assert.equal(activated?.details.severity, 'high');
    assert.equal(activated?.details.actor, second);
    assert.equal(activated?.principalId, first);
    assert.ok(steps.some((r) => r.details.step === 'break-glass-acknowledged'));
  });

  it('break-glass access reaches the tenant’s security notification webhook, signed, with operators, scope and review state', async () => {
    const asRoot = ['--credentials', file('root.json'), ...endpoint];
    const asTenant = ['--credentials', file('agency.json'), ...endpoint];
    assert.equal((await sovraJson(['access', 'notifications', 'get', ...asTenant])).destination, null);
    const invented = await sovra([
      'access',
      'notifications',
      'set',
      '--destination',
      'https://soc.agency-a.example/hook',
      ...asTenant,
    ]);
    assert.equal(invented.code, 2, 'tenants choose among the operator’s targets, never invent addresses');
    assert.match(invented.stderr, /UnknownNotificationDestination/);
    const set = await sovraJson(['access', 'notifications', 'set', '--destination', SOC_ARN, ...asTenant]);
    assert.equal(set.tenantId, 'agency-a');
    assert.equal(set.destination, SOC_ARN);
    assert.equal((await sovraJson(['access', 'notifications', 'get', ...asTenant])).destination, SOC_ARN);
    const root = await sovraJson(['access', 'notifications', 'get', ...asRoot]);
    assert.deepEqual([root.tenantId, root.destination], ['root', null], 'each tenant has its own');

    const first = ((await sovraJson(['user', 'get', 'admin', ...asRoot])).user as { id: string }).id;
    const second = ((await sovraJson(['user', 'get', 'on-call', ...asRoot])).user as { id: string }).id;
    const filed = await sovraJson([
      'access',
      'request',
      '--tenant',
      'agency-a',
      '--bucket',
      'case-files',
      '--prefix',
      'incident-43/',
      '--action',
      's3:GetObject',
      '--duration',
      '900',
      '--justification',
      'Ransomware on the case-file index; restore from the last good version',
      '--ticket',
      'SEV1-8',
      '--break-glass',
      '--attestation',
      await attest(first, 'first-again.note'),
      ...asRoot,
    ]);
    const id = String(filed.id);
    await sovraJson([
      'access',
      'confirm',
      id,
      '--attestation',
      await attest(second, 'second-again.note'),
      '--credentials',
      file('on-call.json'),
      ...endpoint,
    ]);

    const deadline = Date.now() + DELIVERY_TIMEOUT_MS;
    let events = webhook.received.filter((each) => each.event.approvalId === id);
    while (events.length < 2) {
      if (Date.now() > deadline) assert.fail('the security notifications did not arrive in time');
      await sleep(50);
      events = webhook.received.filter((each) => each.event.approvalId === id);
    }
    assert.deepEqual(
      events.map((each) => each.event.type),
      ['AccessRequestFiled', 'BreakGlassAccessActivated'],
    );
    const activation = events[1]!;
    assert.equal(
      activation.headers['x-sovra-signature'],
      `sha256=${createHmac('sha256', SOC_SECRET).update(activation.body).digest('hex')}`,
      'signed with the target’s secret',
    );
    assert.equal(activation.headers['x-sovra-delivery-id'], activation.event.id);
    const event = activation.event;
    assert.equal(event.version, 1);
    assert.equal(event.severity, 'high');
    assert.equal(event.tenantId, 'agency-a');
    assert.deepEqual(event.operators, { requester: first, confirmer: second });
    assert.deepEqual(event.scope, {
      bucket: 'case-files',
      keyPrefix: 'incident-43/',
      kmsKeyId: null,
      resource: 'arn:aws:s3:::case-files/incident-43/*',
    });
    assert.deepEqual(event.actions, ['s3:GetObject']);
    assert.equal(
      event.justification,
      'Ransomware on the case-file index; restore from the last good version',
    );
    assert.equal(event.ticket, 'SEV1-8');
    assert.equal(event.status, 'active');
    assert.equal(event.review, 'pending');
    assert.equal(Date.parse(event.expiresAt!) - Date.parse(event.activatedAt!), 900_000);
    assert.ok(Math.abs(Date.parse(event.time) - Date.now()) < 60_000);

    const cleared = await sovraJson(['access', 'notifications', 'clear', ...asTenant]);
    assert.equal(cleared.destination, null);
    assert.equal((await sovraJson(['access', 'notifications', 'get', ...asTenant])).destination, null);
    // Who pointed the tenant's notifications where is in its own audit view.
    const changes = (await tenantRecords(credentialsIn(file('agency.json')))).filter((r) =>
      r.action.endsWith('SecurityNotificationConfiguration'),
    );
    assert.deepEqual(
      changes.map((r) => [r.action, r.resource, r.result]),
      [
        ['sovra:GetSecurityNotificationConfiguration', 'sovra:security-notifications/agency-a', 'success'],
        ['sovra:PutSecurityNotificationConfiguration', 'sovra:security-notifications/agency-a', 'failure'],
        ['sovra:PutSecurityNotificationConfiguration', 'sovra:security-notifications/agency-a', 'success'],
        ['sovra:GetSecurityNotificationConfiguration', 'sovra:security-notifications/agency-a', 'success'],
        ['sovra:DeleteSecurityNotificationConfiguration', 'sovra:security-notifications/agency-a', 'success'],
        ['sovra:GetSecurityNotificationConfiguration', 'sovra:security-notifications/agency-a', 'success'],
      ],
    );
  });

  it('the security office revokes an operator’s attestation: the next read of an approved access is refused and the tenant sees it', async () => {
    const asRoot = ['--credentials', file('root.json'), ...endpoint];
    const asTenant = ['--credentials', file('agency.json'), ...endpoint];
    const reviewer = ((await sovraJson(['user', 'create', 'reviewer', ...asRoot])).user as { id: string }).id;
    await sovraJson([
      'accesskey',
      'create',
      '--user',
      'reviewer',
      '--save',
      file('reviewer.json'),
      ...asRoot,
    ]);
    const attestation = await attest(reviewer, 'reviewer.note');
    const filed = await sovraJson([
      'access',
      'request',
      '--tenant',
      'agency-a',
      '--bucket',
      'case-files',
      '--prefix',
      'incident-44/',
      '--action',
      's3:GetObject',
      '--duration',
      '3600',
      '--justification',
      'Review the evidence of incident 44',
      '--ticket',
      'INC-2030-0044',
      '--attestation',
      attestation,
      '--credentials',
      file('reviewer.json'),
      ...endpoint,
    ]);
    const id = String(filed.id);
    assert.equal((await sovraJson(['access', 'approve', id, ...asTenant])).status, 'active');
    const tenantS3 = server.client({ credentials: credentialsIn(file('agency.json')) });
    await tenantS3.send(
      new PutObjectCommand({ Bucket: 'case-files', Key: 'incident-44/evidence.txt', Body: 'evidence 44' }),
    );
    tenantS3.destroy();
    const operatorS3 = server.client({ credentials: credentialsIn(file('reviewer.json')) });
    const attestationHeader = Buffer.from(readFileSync(attestation, 'utf8'), 'utf8').toString('base64');
    operatorS3.middlewareStack.add(
      (next) => (args) => {
        const request = args.request as { headers: Record<string, string> };
        request.headers['x-sovra-access-approval'] = id;
        request.headers['x-sovra-operator-attestation'] = attestationHeader;
        return next(args);
      },
      { step: 'build', name: 'lockboxHeaders' },
    );
    const read = new GetObjectCommand({ Bucket: 'case-files', Key: 'incident-44/evidence.txt' });
    assert.equal(await (await operatorS3.send(read)).Body!.transformToString(), 'evidence 44');

    // A key the platform does not trust cannot revoke anything (and cannot be used to deny service).
    await sovraText([
      'access',
      'attestation-key',
      '--name',
      'security-office.test',
      '--out',
      file('rogue.key'),
    ]);
    const rogue = await sovra([
      'access',
      'revoke-attestation',
      '--office-key',
      file('rogue.key'),
      '--subject',
      reviewer,
      '--before',
      new Date().toISOString(),
      '--reason',
      'forged revocation',
      ...asRoot,
    ]);
    assert.equal(rogue.code, 2);
    assert.match(rogue.stderr, /InvalidAttestationRevocation/);
    assert.equal(await (await operatorS3.send(read)).Body!.transformToString(), 'evidence 44');

    // --out only writes the signed note.
    await sovraText([
      'access',
      'revoke-attestation',
      '--office-key',
      file('office.key'),
      '--attestation',
      attestation,
      '--reason',
      'Clearance withdrawn by decision 12/2030',
      '--out',
      file('revocation.note'),
    ]);
    assert.match(
      readFileSync(file('revocation.note'), 'utf8'),
      /^sovra-operator-attestation-revocation\/v1\n/,
    );
    assert.deepEqual(jsonLines(await sovraText(['access', 'revocations', ...asRoot])), []);

    const revocation = await sovraJson([
      'access',
      'revoke-attestation',
      '--office-key',
      file('office.key'),
      '--attestation',
      attestation,
      '--reason',
      'Clearance withdrawn by decision 12/2030',
      ...asRoot,
    ]);
    assert.equal(revocation.subject, reviewer);
    assert.equal(revocation.issuer, 'security-office.test');
    assert.match(String(revocation.attestationSha256), /^[0-9a-f]{64}$/);
    assert.equal(revocation.issuedBefore, null);
    // The access is still approved and active, but the operator no longer qualifies: refused at once.
    await assert.rejects(operatorS3.send(read), { name: 'AccessDenied' }, 'revoked: ends at once');
    operatorS3.destroy();
    assert.equal((await sovraJson(['access', 'get', id, ...asTenant])).status, 'active');

    const listed = jsonLines(await sovraText(['access', 'revocations', ...asRoot]));
    assert.deepEqual(
      listed.map((r) => [r.id, r.subject, r.reason]),
      [[revocation.id, reviewer, 'Clearance withdrawn by decision 12/2030']],
    );
    const notOperator = await sovra(['access', 'revocations', ...asTenant]);
    assert.equal(notOperator.code, 2);
    assert.match(notOperator.stderr, /NotAnOperator/);

    // The tenant sees the refused use, with the operator, the approval and why.
    const uses = (await tenantRecords(credentialsIn(file('agency.json')))).filter(
      (r) => r.kind === 'operator-access' && r.approvalId === id,
    );
    assert.deepEqual(
      uses.map((r) => [r.result, r.errorCode]),
      [
        ['success', null],
        ['success', null],
        ['denied', 'AttestationRevoked'],
      ],
    );
    assert.equal(uses[2]!.principalId, reviewer);
    assert.match(String(uses[2]!.details.reason), /revoked by security-office\.test/);
    // The platform's own view holds every submission, accepted or refused.
    const submissions = (await tenantRecords(server.credentials)).filter(
      (r) => r.kind === 'access-approval' && r.action === 'sovra:RevokeOperatorAttestation',
    );
    assert.deepEqual(
      submissions.map((r) => [r.result, r.errorCode]),
      [
        ['denied', 'InvalidAttestationRevocation'],
        ['success', null],
      ],
    );
  });

  it('errors are JSON {code, message, requestId}: unsigned, unknown routes, wrong methods, malformed bodies, oversized bodies', async () => {
    const signed = (method: string, path: string, body = '', headers: Record<string, string> = {}) => {
      const url = new URL(path, server.endpoint);
      const signedHeaders = signRequest({ method, url, body, headers }, server.credentials, {
        region: TEST_REGION,
        service: 'sovra',
        now: new Date(),
      });
      delete signedHeaders.host;
      return fetch(url, { method, headers: signedHeaders, ...(method === 'POST' ? { body } : {}) });
    };
    const expectError = async (response: Response, status: number, code: string) => {
      assert.equal(response.status, status);
      const body = (await response.json()) as { code: string; message: string; requestId: string };
      assert.equal(body.code, code, body.message);
      assert.equal(body.requestId, response.headers.get('x-amz-request-id'));
    };
    await expectError(await fetch(`${server.endpoint}/_sovra/access/requests`), 403, 'AccessDeniedAnonymous');
    await expectError(await signed('GET', '/_sovra/access/nothing-here'), 404, 'NotFound');
    await expectError(await signed('DELETE', '/_sovra/access/requests'), 405, 'MethodNotAllowed');
    await expectError(await signed('POST', '/_sovra/access/notifications'), 405, 'MethodNotAllowed');
    await expectError(
      await signed('PUT', '/_sovra/access/notifications'),
      400,
      'UnknownNotificationDestination',
    );
    await expectError(
      await signed('GET', `/_sovra/access/requests/ar-${'0'.repeat(32)}`),
      404,
      'NoSuchAccessRequest',
    );
    await expectError(await signed('POST', '/_sovra/access/requests', '{not json'), 400, 'MalformedRequest');
    await expectError(
      await signed('DELETE', '/_sovra/access/attestation-revocations'),
      405,
      'MethodNotAllowed',
    );
    await expectError(
      await signed('POST', '/_sovra/access/attestation-revocations', 'not a signed note'),
      403,
      'InvalidAttestationRevocation',
    );
    await expectError(
      await signed('GET', '/_sovra/access/attestation-revocations?after=-1'),
      400,
      'MalformedRequest',
    );
    await expectError(
      await signed('POST', '/_sovra/access/requests', 'x'.repeat(20_000)),
      413,
      'RequestTooLarge',
    );
    const filing = JSON.stringify({
      tenantId: 'agency-a',
      bucket: 'case-files',
      actions: ['s3:GetObject'],
      durationSeconds: 600,
      justification: 'probe',
      ticket: 'T-1',
    });
    // An attestation header that is not even base64 is a refused filing like any other.
    await expectError(
      await signed('POST', '/_sovra/access/requests', filing, { 'x-sovra-operator-attestation': '!!' }),
      403,
      'InvalidAttestation',
    );
    await expectError(await signed('POST', '/_sovra/access/requests', filing), 403, 'AttestationRequired');
    await expectError(await signed('GET', '/_sovra/access/requests?limit=0'), 400, 'MalformedRequest');
    await expectError(
      await signed('GET', '/_sovra/access/requests?status=bogus'),
      400,
      'MalformedAccessRequest',
    );
  });

  it('a server whose operator access rules are invalid does not start, and says which setting is wrong', async () => {
    writeFileSync(
      file('bad-rules.json'),
      JSON.stringify({ minClearance: 'SECRET', maxDurationSeconds: 3600, nationalities: [] }),
    );
    const dataDir = mkdtempSync(join(tmpdir(), 'sovra-lockbox-bad-'));
    try {
      const started = await sovra([
        'server',
        '--data-dir',
        dataDir,
        '--listen',
        '127.0.0.1:0',
        '--operator-access-rules',
        file('bad-rules.json'),
      ]);
      assert.equal(started.code, 2);
      assert.match(started.stderr, /operatorAccessRules: operator access rules: nationalities/);
    } finally {
      removeDir(dataDir);
    }
  });
});

/**
 * The expiry pass on a real server whose clock the test moves: an approval's end is recorded in the
 * tenant's view, acted by the platform, without anyone using the approval again.
 */
describe('operator access expires on its own (in-process server on a movable clock)', () => {
  const clock = new OffsetClock();
  let running: RunningServer;
  let dir: string;
  let dataDir: string;
  let endpoint: string[];
  const file = (name: string) => join(dir, name);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sovra-lockbox-expiry-'));
    dataDir = mkdtempSync(join(tmpdir(), 'sovra-lockbox-expiry-data-'));
    await writeOperatorAccessConfig(file);
    const config = loadServerConfig(
      {
        dataDir,
        listen: '127.0.0.1:0',
        region: TEST_REGION,
        rootOfTrust: 'none',
        logLevel: 'error',
        operatorAttestationKeys: file('office.vkeys'),
        operatorAccessRules: file('rules.json'),
        homeJurisdiction: 'VN',
      },
      {},
    );
    running = await startServer(config, createLogger('error'), clock, () => {});
    endpoint = ['--endpoint', `http://127.0.0.1:${running.address.port}`, '--region', TEST_REGION];
    writeFileSync(file('root.json'), readFileSync(join(dataDir, 'admin-credentials.json')), { mode: 0o600 });
  });

  after(async () => {
    await running?.stop();
    removeDir(dataDir);
    removeDir(dir);
  });

  it('an approval past its end is marked expired and recorded once by the platform; the listing shows it expired', async () => {
    const asRoot = ['--credentials', file('root.json'), ...endpoint];
    await sovraJson([
      'tenant',
      'create',
      '--id',
      'agency-x',
      '--name',
      'Agency X',
      '--save-credentials',
      file('agency.json'),
      ...asRoot,
    ]);
    const asTenant = ['--credentials', file('agency.json'), ...endpoint];
    const operatorId = ((await sovraJson(['user', 'get', 'admin', ...asRoot])).user as { id: string }).id;
    const filed = await sovraJson([
      'access',
      'request',
      '--tenant',
      'agency-x',
      '--bucket',
      'archive',
      '--action',
      's3:GetObject',
      '--duration',
      '60',
      '--justification',
      'Verify a restored archive',
      '--ticket',
      'CHG-19',
      '--attestation',
      await attestWith(file, operatorId, 'operator.note'),
      ...asRoot,
    ]);
    const id = String(filed.id);
    const approved = await sovraJson(['access', 'approve', id, ...asTenant]);
    assert.equal(approved.status, 'active');

    // A minute later by the server's clock (well inside SigV4's clock skew allowance for the CLI).
    clock.advance(61_000);
    const audit = new AuditClient(
      `http://127.0.0.1:${running.address.port}`,
      credentialsIn(file('agency.json')),
      TEST_REGION,
    );
    const expiryOf = async () =>
      (await audit.records({ limit: '1000' })).records
        .map((r) => parseCanonicalRecord(Buffer.from(r.record!, 'utf8')))
        .filter((r) => r.approvalId === id && r.details.step === 'expired');
    const deadline = Date.now() + 20_000;
    let expiries = await expiryOf();
    while (expiries.length === 0) {
      if (Date.now() > deadline) assert.fail('the expiry pass did not record the end in time');
      await sleep(200);
      expiries = await expiryOf();
    }
    const [expiry] = expiries;
    assert.equal(expiries.length, 1);
    assert.equal(expiry!.action, 'sovra:ExpireAccessRequest');
    assert.equal(expiry!.details.actor, 'sovra:system');
    assert.equal(expiry!.principalId, operatorId, 'the operator whose access ended');
    assert.equal(expiry!.tenantId, 'agency-x');
    assert.equal(expiry!.details.expiresAtMs, Date.parse(String(approved.expiresAt)));

    const listed = jsonLines(await sovraText(['access', 'list', '--status', 'expired', ...asTenant]));
    assert.deepEqual(
      listed.map((r) => [r.id, r.status]),
      [[id, 'expired']],
    );
    assert.equal((await sovraJson(['access', 'get', id, ...asRoot])).status, 'expired');
    assert.deepEqual(jsonLines(await sovraText(['access', 'list', '--status', 'active', ...asTenant])), []);
  });
});
