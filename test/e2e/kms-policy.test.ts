import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import {
  CreateKeyCommand,
  DecryptCommand,
  EncryptCommand,
  KMSClient,
  KMSServiceException,
  PutKeyPolicyCommand,
} from '@aws-sdk/client-kms';
import {
  CLI,
  NODE,
  removeDir,
  startSovra,
  TEST_REGION,
  type SovraProcess,
} from '../helpers/sovra-process.ts';

/**
 * Key access justifications over the KMS API: the x-sovra-justification header, key policies that
 * deny by reason and by the requester's network jurisdiction, AccessDeniedException carrying the
 * reason, and the decision records the server writes for granted and denied uses.
 */

function sovraCli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`sovra ${args[0]} exited ${code}: ${stderr}`)),
    );
  });
}

async function failure(promise: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof KMSServiceException) return { name: error.name, message: error.message };
    throw error;
  }
  assert.fail('expected the call to fail');
}

function policy(deny: Record<string, unknown>): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::root:root' }, Action: 'kms:*', Resource: '*' },
      { Sid: 'Guard', Effect: 'Deny', Principal: '*', Resource: '*', ...deny },
    ],
  });
}

describe('KMS key access justifications against the real server', () => {
  let sovra: SovraProcess;
  let kms: KMSClient;

  /** A client whose every request carries the given Sovra headers. */
  function clientWith(headers: Record<string, string>): KMSClient {
    const client = new KMSClient({
      endpoint: sovra.endpoint,
      region: TEST_REGION,
      credentials: sovra.credentials,
    });
    client.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { headers: Record<string, string> };
        Object.assign(request.headers, headers);
        return next(args);
      },
      { step: 'build', name: 'sovraJustification' },
    );
    return client;
  }

  before(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sovra-kms-policy-'));
    const init = await sovraCli([
      'operator',
      'init',
      '--data-dir',
      dataDir,
      '--shares',
      '2',
      '--threshold',
      '2',
    ]);
    const shares = [...init.matchAll(/^Share \d: (sovra-share-v1:\S+)$/gm)].map((match) => match[1]!);
    assert.equal(shares.length, 2);
    sovra = await startSovra({
      dataDir,
      metadata: 'sqlite',
      extraArgs: ['--root-of-trust', 'sealed-shamir', '--home-jurisdiction', 'DE'],
    });
    for (const share of shares) {
      const response = await fetch(`${sovra.endpoint}/_sovra/operator/unseal`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ share }),
      });
      assert.equal(response.status, 200, await response.text());
    }
    kms = new KMSClient({ endpoint: sovra.endpoint, region: TEST_REGION, credentials: sovra.credentials });
  });

  after(async () => {
    kms?.destroy();
    await sovra?.stop();
    if (sovra !== undefined) removeDir(sovra.dataDir);
  });

  it('a key policy denying MIGRATION answers AccessDeniedException with the reason; other reasons pass', async () => {
    const { KeyMetadata } = await kms.send(
      new CreateKeyCommand({
        Policy: policy({
          Action: 'kms:Decrypt',
          Condition: { StringEquals: { 'sovra:JustificationReason': 'MIGRATION' } },
        }),
      }),
    );
    const { CiphertextBlob } = await kms.send(
      new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from('secret') }),
    );
    const migration = clientWith({ 'x-sovra-justification': 'MIGRATION' });
    const denied = await failure(migration.send(new DecryptCommand({ CiphertextBlob })));
    assert.equal(denied.name, 'AccessDeniedException');
    assert.match(denied.message, /MIGRATION/);
    assert.match(denied.message, /Guard/);
    const backup = clientWith({ 'x-sovra-justification': 'BACKUP' });
    const plain = await backup.send(new DecryptCommand({ CiphertextBlob }));
    assert.equal(Buffer.from(plain.Plaintext!).toString(), 'secret');
    migration.destroy();
    backup.destroy();
  });

  it('OPERATOR_SUPPORT needs an approval reference; an unknown reason is a ValidationException', async () => {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    const input = { KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from('x') };
    const unapproved = clientWith({ 'x-sovra-justification': 'OPERATOR_SUPPORT' });
    const refused = await failure(unapproved.send(new EncryptCommand(input)));
    assert.equal(refused.name, 'ValidationException');
    assert.match(refused.message, /approval reference/);
    const approved = clientWith({
      'x-sovra-justification': 'OPERATOR_SUPPORT',
      'x-sovra-approval-reference': 'CHG-42',
    });
    await approved.send(new EncryptCommand(input));
    const unknown = clientWith({ 'x-sovra-justification': 'CURIOSITY' });
    assert.equal((await failure(unknown.send(new EncryptCommand(input)))).name, 'ValidationException');
    for (const client of [unapproved, approved, unknown]) client.destroy();
  });

  it('a key policy denying requesters outside FR denies a loopback requester in the home jurisdiction DE', async () => {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    const KeyId = KeyMetadata!.KeyId!;
    await kms.send(new EncryptCommand({ KeyId, Plaintext: Buffer.from('x') }));
    await kms.send(
      new PutKeyPolicyCommand({
        KeyId,
        PolicyName: 'default',
        Policy: policy({
          Action: 'kms:*',
          Condition: { StringNotEquals: { 'sovra:RequestJurisdiction': 'FR' } },
        }),
      }),
    );
    // The key record cache lives up to LIMITS.kmsKeyRecordCacheTtlMs.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const denied = await failure(kms.send(new EncryptCommand({ KeyId, Plaintext: Buffer.from('x') })));
    assert.equal(denied.name, 'AccessDeniedException');
    assert.match(denied.message, /jurisdiction DE/);
  });

  it('every decision, granted and denied, is in key_use_decisions after shutdown', async () => {
    await sovra.stop();
    const db = new DatabaseSync(join(sovra.dataDir, 'metadata.sqlite'), { readOnly: true });
    try {
      const rows = db
        .prepare(
          'SELECT decision, justification_reason, approval_reference, jurisdiction, operation FROM key_use_decisions ORDER BY seq',
        )
        .all();
      const summary = rows.map(
        (row) => `${String(row.operation)}:${String(row.justification_reason)}:${String(row.decision)}`,
      );
      assert.ok(summary.includes('Decrypt:MIGRATION:denied'), summary.join(', '));
      assert.ok(summary.includes('Decrypt:BACKUP:granted'), summary.join(', '));
      assert.ok(summary.includes('Encrypt:OPERATOR_SUPPORT:granted'), summary.join(', '));
      assert.ok(summary.includes('Encrypt:CUSTOMER_INITIATED_ACCESS:denied'), summary.join(', '));
      assert.ok(rows.every((row) => row.jurisdiction === 'DE'));
      assert.ok(rows.some((row) => row.approval_reference === 'CHG-42'));
    } finally {
      db.close();
    }
  });
});
