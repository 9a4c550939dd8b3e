import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { combine, decodeShare } from '../../src/domain/kms/shamir.ts';
import { signRequest } from '../../src/protocols/sigv4/sign.ts';
import {
  CLI,
  NODE,
  removeDir,
  startSovra,
  TEST_REGION,
  type SovraProcess,
} from '../helpers/sovra-process.ts';

/** Rows of credential_keys (the wrapped credential-sealing key) in the server's SQLite database. */
function storedCredentialKeys(dataDir: string): number {
  const db = new DatabaseSync(join(dataDir, 'metadata.sqlite'), { readOnly: true });
  try {
    return db.prepare('SELECT id FROM credential_keys').all().length;
  } finally {
    db.close();
  }
}

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `sovra …`, optionally feeding standard input. */
function sovraCli(args: string[], stdin?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

interface SealStatusBody {
  initialized: boolean;
  sealed: boolean;
  threshold: number;
  shares: number;
  progress: number;
}

/** Well-formed credentials of no one: while sealed, no key is even looked up. */
const UNKNOWN_CREDENTIALS = {
  accessKeyId: 'SVRAAAAAAAAAAAAAAAAA',
  secretAccessKey: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
};

describe('the sealed software root of trust (sovra operator, --root-of-trust sealed-shamir)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sovra-seal-e2e-'));
  const otherDataDir = mkdtempSync(join(tmpdir(), 'sovra-seal-other-'));
  const processes: SovraProcess[] = [];
  let sovra: SovraProcess;
  let shares: string[] = [];
  let foreignShares: string[] = [];
  const cliOutputs: string[] = [];

  const start = async () => {
    sovra = await startSovra({ dataDir, extraArgs: ['--root-of-trust', 'sealed-shamir'] });
    processes.push(sovra);
  };
  const restart = async () => {
    assert.equal(await sovra.stop(), 0);
    await start();
  };
  const operator = async (command: string, args: string[], stdin?: string) => {
    const result = await sovraCli(['operator', command, '--endpoint', sovra.endpoint, ...args], stdin);
    cliOutputs.push(result.stderr);
    return result;
  };
  const status = async (): Promise<SealStatusBody> => {
    const response = await fetch(`${sovra.endpoint}/_sovra/operator/status`);
    assert.equal(response.status, 200);
    return (await response.json()) as SealStatusBody;
  };
  const s3 = (credentials = sovra.credentials) =>
    new S3Client({
      endpoint: sovra.endpoint,
      region: TEST_REGION,
      forcePathStyle: true,
      credentials,
      maxAttempts: 1,
    });
  /** The S3 error name and status of a request, or 'ok'. */
  const s3Outcome = async (request: Promise<unknown>) => {
    try {
      await request;
      return 'ok';
    } catch (error) {
      assert.ok(error instanceof S3ServiceException, String(error));
      assert.match(error.message, /sealed/);
      return `${error.name} ${error.$metadata.httpStatusCode}`;
    }
  };
  /** A signed admin API request: its status and error code. */
  const adminCall = async (credentials: { accessKeyId: string; secretAccessKey: string }) => {
    const url = new URL('/_sovra/admin/tenants', sovra.endpoint);
    const headers = signRequest({ method: 'GET', url, body: '' }, credentials, {
      region: TEST_REGION,
      service: 'sovra',
      now: new Date(),
    });
    delete headers.host;
    const response = await fetch(url, { headers });
    const body = (await response.json()) as { code?: string; message?: string };
    return { status: response.status, code: body.code, message: body.message };
  };
  const postUnseal = (body: string) =>
    fetch(`${sovra.endpoint}/_sovra/operator/unseal`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });

  after(async () => {
    for (const p of processes) if (p.child.exitCode === null) await p.stop();
    removeDir(dataDir);
    removeDir(otherDataDir);
  });

  it('operator init prints the shares once with custodian instructions and writes only a 0600 seal record', async () => {
    const init = await sovraCli([
      'operator',
      'init',
      '--data-dir',
      dataDir,
      '--shares',
      '5',
      '--threshold',
      '3',
    ]);
    assert.equal(init.code, 0, init.stderr);
    shares = [...init.stdout.matchAll(/^Share (\d): (sovra-share-v1:\S+)$/gm)].map((m) => m[2]!);
    assert.equal(shares.length, 5);
    assert.match(init.stdout, /threshold of 3/);
    assert.match(init.stdout, /shown only this once/);
    const record = join(dataDir, 'keys', 'seal.json');
    assert.equal(statSync(record).mode & 0o777, 0o600);
    const text = readFileSync(record, 'utf8');
    for (const share of shares) assert.ok(!text.includes(share.split(':')[2]!));

    const again = await sovraCli(['operator', 'init', '--data-dir', dataDir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /AlreadyInitialized/);
    assert.equal(again.stdout, '', 'no new shares are printed');

    const other = await sovraCli([
      'operator',
      'init',
      '--data-dir',
      otherDataDir,
      '--shares',
      '3',
      '--threshold',
      '2',
    ]);
    foreignShares = [...other.stdout.matchAll(/^Share \d: (sovra-share-v1:\S+)$/gm)].map((m) => m[1]!);
    assert.equal(foreignShares.length, 3);
  });

  it('the server starts sealed, says so, and answers every signed request 503 (no secret unseals); the root tenant waits for the unseal', async () => {
    await start();
    const cli = await operator('status', []);
    assert.equal(cli.code, 2, 'exit code 2 while sealed, as vault status');
    assert.match(cli.stdout, /Sealed:\s+true/);
    assert.match(cli.stdout, /Unseal progress:\s+0 of 3/);
    assert.deepEqual(await status(), {
      type: 'shamir',
      initialized: true,
      sealed: true,
      threshold: 3,
      shares: 5,
      progress: 0,
      nonce: '',
    });
    assert.ok(sovra.logs.some((l) => l.includes('root of trust is sealed')));
    assert.ok(sovra.logs.some((l) => l.includes('will be created once the root of trust is unsealed')));
    assert.equal(
      existsSync(join(dataDir, 'admin-credentials.json')),
      false,
      'no credentials before the unseal',
    );
    assert.equal(storedCredentialKeys(dataDir), 0, 'no credential-sealing key before the unseal');
    const client = s3(UNKNOWN_CREDENTIALS);
    assert.equal(
      await s3Outcome(client.send(new CreateBucketCommand({ Bucket: 'while-sealed' }))),
      'ServiceUnavailable 503',
    );
    assert.equal(await s3Outcome(client.send(new ListBucketsCommand({}))), 'ServiceUnavailable 503');
    client.destroy();
    const admin = await adminCall(UNKNOWN_CREDENTIALS);
    assert.deepEqual([admin.status, admin.code], [503, 'ServiceUnavailable']);
    assert.match(admin.message ?? '', /sealed/);
  });

  it('two of three shares (one by flag, one on stdin) leave it sealed with progress 2 of 3', async () => {
    const first = await operator('unseal', ['--share', shares[0]!]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /Unseal progress:\s+1 of 3/);
    const second = await operator('unseal', [], `${shares[1]!}\n`);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /Sealed:\s+true/);
    assert.match(second.stdout, /Unseal progress:\s+2 of 3/);
    assert.equal((await status()).progress, 2);
  });

  it('a mistyped share is refused before it counts; a wrong share fails the quorum and resets the progress', async () => {
    const typo = shares[2]!.replace(
      /:(.)([^:]*):([0-9a-f]{8})$/,
      (_m, c: string, rest: string, sum: string) => `:${c === 'A' ? 'B' : 'A'}${rest}:${sum}`,
    );
    const local = await operator('unseal', ['--share', typo]);
    assert.equal(local.code, 1);
    assert.match(local.stderr, /checksum/);
    const mistyped = await postUnseal(JSON.stringify({ share: typo }));
    assert.equal(mistyped.status, 400);
    assert.equal(((await mistyped.json()) as { code: string }).code, 'Validation');
    assert.equal((await status()).progress, 2);

    // Well formed, index 3, but from another seal: detected by the key-check value.
    const wrong = await operator('unseal', ['--share', foreignShares[2]!]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /UnsealFailed/);
    assert.match(wrong.stderr, /progress was reset/);
    const after = await status();
    assert.equal(after.sealed, true);
    assert.equal(after.progress, 0);
  });

  it('refuses malformed and oversized unseal bodies', async () => {
    assert.equal((await postUnseal('not json')).status, 400);
    assert.equal((await postUnseal(JSON.stringify({ key: shares[0] }))).status, 400);
    const oversized = await postUnseal(JSON.stringify({ share: 'x'.repeat(8 * 1024) }));
    assert.equal(oversized.status, 413);
    assert.equal((await status()).progress, 0);
  });

  it('a restart while sealed stays sealed and forgets the progress', async () => {
    await operator('unseal', ['--share', shares[4]!]);
    assert.equal((await status()).progress, 1);
    await restart();
    const restarted = await status();
    assert.equal(restarted.sealed, true);
    assert.equal(restarted.progress, 0);
  });

  it('three correct shares unseal it; the root tenant is bootstrapped before the last share is answered, and signed requests work', async () => {
    for (const share of [shares[1]!, shares[3]!]) await operator('unseal', ['--share', share]);
    const last = await operator('unseal', [], shares[4]);
    assert.equal(last.code, 0, last.stderr);
    assert.match(last.stdout, /Sovra is unsealed/);
    assert.equal((await status()).sealed, false);
    assert.equal((await operator('status', [])).code, 0);
    assert.equal(statSync(join(dataDir, 'admin-credentials.json')).mode & 0o777, 0o600);
    assert.ok(sovra.logs.some((l) => l.includes('Sovra bootstrapped the root tenant')));
    assert.equal(storedCredentialKeys(dataDir), 1, 'K is stored, wrapped, in the metadata database');
    assert.equal(existsSync(join(dataDir, 'keys', 'credential-key.wrapped')), false);
    assert.equal(existsSync(join(dataDir, 'keys', 'local-seal.key')), false);
    const client = s3();
    assert.equal(await s3Outcome(client.send(new CreateBucketCommand({ Bucket: 'after-unseal' }))), 'ok');
    await client.send(new PutObjectCommand({ Bucket: 'after-unseal', Key: 'k', Body: 'data' }));
    const got = await client.send(new GetObjectCommand({ Bucket: 'after-unseal', Key: 'k' }));
    assert.equal(await got.Body?.transformToString(), 'data');
    client.destroy();
    assert.equal((await adminCall(sovra.credentials)).status, 200);
  });

  it('an unauthenticated, wrongly signed or other-service seal request is refused with 403', async () => {
    const url = new URL(`${sovra.endpoint}/_sovra/operator/seal`);
    const anonymous = await fetch(url, { method: 'POST' });
    assert.equal(anonymous.status, 403);
    assert.equal(((await anonymous.json()) as { code: string }).code, 'AccessDenied');
    const forged = signRequest(
      { method: 'POST', url, body: '' },
      { accessKeyId: sovra.credentials.accessKeyId, secretAccessKey: 'not-the-secret' },
      { region: TEST_REGION, service: 'sovra', now: new Date() },
    );
    delete forged.host;
    assert.equal((await fetch(url, { method: 'POST', headers: forged, body: '' })).status, 403);
    const otherService = signRequest({ method: 'POST', url, body: '' }, sovra.credentials, {
      region: TEST_REGION,
      service: 's3',
      now: new Date(),
    });
    delete otherService.host;
    assert.equal((await fetch(url, { method: 'POST', headers: otherService, body: '' })).status, 403);
    assert.equal((await status()).sealed, false, 'still unsealed');
  });

  it('operator seal with the admin credentials seals at once; signed requests answer 503 again, the same key included', async () => {
    const sealed = await operator('seal', ['--credentials', join(dataDir, 'admin-credentials.json')]);
    assert.equal(sealed.code, 0, sealed.stderr);
    assert.match(sealed.stdout, /Sovra is sealed/);
    assert.equal((await status()).sealed, true);
    assert.ok(sovra.logs.some((l) => l.includes('"event":"sealed"')));
    // The credential just used is not served from a cache either.
    const client = s3();
    assert.equal(await s3Outcome(client.send(new ListBucketsCommand({}))), 'ServiceUnavailable 503');
    client.destroy();
    assert.equal((await adminCall(sovra.credentials)).status, 503);
    const again = await operator('seal', ['--credentials', join(dataDir, 'admin-credentials.json')]);
    assert.equal(again.code, 1, 'sealing needs a signed request, which cannot authenticate while sealed');
  });

  it('unsealed and restarted, it comes back sealed; unsealed again, the same credentials work (the key is unwrapped again)', async () => {
    for (const share of [shares[0]!, shares[2]!, shares[4]!]) await operator('unseal', ['--share', share]);
    assert.equal((await status()).sealed, false);
    await restart();
    assert.equal((await status()).sealed, true);
    let client = s3();
    assert.equal(await s3Outcome(client.send(new ListBucketsCommand({}))), 'ServiceUnavailable 503');
    client.destroy();
    for (const share of [shares[1]!, shares[2]!, shares[3]!]) await operator('unseal', ['--share', share]);
    client = s3();
    const listed = await client.send(new ListBucketsCommand({}));
    assert.deepEqual(
      listed.Buckets?.map((b) => b.Name),
      ['after-unseal'],
    );
    client.destroy();
    assert.equal(
      sovra.logs.filter((l) => l.includes('Sovra bootstrapped the root tenant')).length,
      0,
      'bootstrapped once, in the first process',
    );
  });

  it('unseal submissions are rate-limited per source address (429 with Retry-After)', async () => {
    const answers: Response[] = [];
    for (let i = 0; i < 25; i++)
      answers.push(await postUnseal(JSON.stringify({ share: 'sovra-share-v1:1:AA:00000000' })));
    const limited = answers.filter((r) => r.status === 429);
    assert.ok(limited.length >= 5, `${limited.length} answered 429`);
    assert.ok(Number(limited[0]!.headers.get('retry-after')) >= 1);
    for (const r of answers) await r.body?.cancel();
  });

  it('no log line and no error message carries a share or the root key', () => {
    const rootKey = combine(shares.slice(0, 3).map(decodeShare));
    const secrets = [
      ...shares.map((s) => s.split(':')[2]!),
      ...foreignShares.map((s) => s.split(':')[2]!),
      rootKey.toString('hex'),
      rootKey.toString('base64'),
      rootKey.toString('base64url'),
    ];
    const lines = [...processes.flatMap((p) => p.logs), ...cliOutputs];
    assert.ok(lines.length > 20);
    for (const line of lines) {
      for (const secret of secrets)
        assert.ok(!line.includes(secret), `a log line carries a secret: ${line.slice(0, 120)}`);
    }
    const events = lines.filter((l) => l.includes('"seal":{'));
    for (const event of [
      'unseal-share-accepted',
      'unseal-share-refused',
      'unseal-failed',
      'unsealed',
      'sealed',
    ]) {
      assert.ok(
        events.some((l) => l.includes(`"event":"${event}"`)),
        `the ${event} decision is logged`,
      );
    }
  });
});
