import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { statSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { CreateBucketCommand, ListBucketsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CLI, NODE, removeDir, startSovra, type SovraProcess } from '../helpers/sovra-process.ts';

const run = promisify(execFile);

describe('the sovra server process', () => {
  const started: SovraProcess[] = [];
  after(async () => {
    for (const s of started) {
      if (s.child.exitCode === null) await s.stop();
      removeDir(s.dataDir);
    }
  });

  it('bootstraps a root admin key into a 0600 JSON file and never logs the secret', async () => {
    const sovra = await startSovra();
    started.push(sovra);
    const path = join(sovra.dataDir, 'admin-credentials.json');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const creds = JSON.parse(readFileSync(path, 'utf8')) as { accessKeyId: string; secretAccessKey: string };
    assert.match(creds.accessKeyId, /^[A-Z0-9]{20}$/);
    assert.equal(creds.secretAccessKey.length, 40);
    const s3 = sovra.client();
    await s3.send(new ListBucketsCommand({}));
    const jsonLogs = sovra.logs.filter((l) => l.startsWith('{'));
    assert.ok(jsonLogs.length > 0);
    assert.ok(
      jsonLogs.every((l) => !l.includes(creds.secretAccessKey)),
      'no log line carries the secret',
    );
    s3.destroy();
  });

  it('serves health and readiness, and logs the request id it returns in x-amz-request-id', async () => {
    const sovra = await startSovra();
    started.push(sovra);
    const live = await fetch(`${sovra.endpoint}/_sovra/health/live`);
    assert.equal(live.status, 200);
    const ready = await fetch(`${sovra.endpoint}/_sovra/health/ready`);
    assert.equal(ready.status, 200);
    const denied = await fetch(`${sovra.endpoint}/some-bucket`);
    const requestId = denied.headers.get('x-amz-request-id')!;
    assert.match(requestId, /^[0-9A-F]{16}$/);
    assert.equal(denied.headers.get('x-amz-id-2') !== null, true);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(
      sovra.logs.some((l) => l.includes(`"requestId":"${requestId}"`)),
      'the log carries the same request id',
    );
  });

  it('drains an in-flight upload on SIGTERM before exiting', async () => {
    const sovra = await startSovra();
    started.push(sovra);
    const s3 = sovra.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'drain' }));
    const body = Buffer.alloc(8 * 1024 * 1024, 7);
    // A slow, raw upload: headers now, body later, so the request is in flight at SIGTERM.
    const url = await (
      await import('@aws-sdk/s3-request-presigner')
    ).getSignedUrl(
      sovra.client({ requestChecksumCalculation: 'WHEN_REQUIRED' }),
      new PutObjectCommand({ Bucket: 'drain', Key: 'k' }),
      {
        expiresIn: 60,
      },
    );
    const status = new Promise<number>((resolve, reject) => {
      const req = request(url, { method: 'PUT', headers: { 'content-length': body.length } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write(body.subarray(0, 1024));
      setTimeout(() => {
        sovra.child.kill('SIGTERM');
        setTimeout(() => req.end(body.subarray(1024)), 300);
      }, 200);
    });
    assert.equal(await status, 200);
    assert.equal(await new Promise((resolve) => sovra.child.once('exit', resolve)), 0);
    s3.destroy();
  });

  it('refuses invalid configuration with a message naming the setting', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sovra-config-'));
    try {
      const bad = await run(NODE, [CLI, 'server', '--data-dir', dir, '--listen', 'nonsense']).catch(
        (e: { stderr: string; code: number }) => e,
      );
      assert.equal((bad as { code: number }).code, 2);
      assert.match((bad as { stderr: string }).stderr, /listen/);
      const file = join(dir, 'config.json');
      writeFileSync(file, JSON.stringify({ dataDir: dir, lisen: '127.0.0.1:1' }));
      const unknown = await run(NODE, [CLI, 'server', '--config', file]).catch((e: { stderr: string }) => e);
      assert.match(unknown.stderr, /unknown setting "lisen"/);
      const envBad = await run(NODE, [CLI, 'server', '--data-dir', dir], {
        env: { ...process.env, SOVRA_METADATA_BACKEND: 'mongo' },
      }).catch((e: { stderr: string }) => e);
      assert.match(envBad.stderr, /metadataBackend/);
    } finally {
      removeDir(dir);
    }
  });

  it('documents every setting in --help', async () => {
    const help = (await run(NODE, [CLI, 'server', '--help'])).stdout;
    for (const name of [
      '--data-dir',
      '--listen',
      'SOVRA_DATA_DIR',
      'SOVRA_LISTEN',
      '--dev-tls',
      '--tls-cert',
      '--config',
      'admin-credentials.json',
    ]) {
      assert.ok(help.includes(name), `--help mentions ${name}`);
    }
  });

  it('serves HTTPS with --dev-tls and negotiates the hybrid post-quantum group X25519MLKEM768', async () => {
    const sovra = await startSovra({ extraArgs: ['--dev-tls'] });
    started.push(sovra);
    const negotiated = await new Promise<{ protocol: string | null; group: string | undefined }>(
      (resolve, reject) => {
        const socket = connect(
          {
            host: '127.0.0.1',
            port: sovra.port,
            rejectUnauthorized: false,
            ecdhCurve: 'X25519MLKEM768',
            servername: 'localhost',
          },
          () => {
            const info = socket.getEphemeralKeyInfo() as { name?: string };
            resolve({ protocol: socket.getProtocol(), group: info.name });
            socket.end();
          },
        );
        socket.on('error', reject);
      },
    );
    assert.equal(negotiated.protocol, 'TLSv1.3');
    assert.equal(negotiated.group, 'X25519MLKEM768');
    const tls12 = await new Promise<string | null>((resolve, reject) => {
      const socket = connect(
        { host: '127.0.0.1', port: sovra.port, rejectUnauthorized: false, maxVersion: 'TLSv1.2' },
        () => {
          resolve(socket.getProtocol());
          socket.end();
        },
      );
      socket.on('error', reject);
    });
    assert.equal(tls12, 'TLSv1.2');
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(
        {
          host: '127.0.0.1',
          port: sovra.port,
          rejectUnauthorized: false,
          maxVersion: 'TLSv1.1',
          minVersion: 'TLSv1',
        },
        () => resolve(false),
      );
      socket.on('error', () => resolve(true));
    });
    assert.equal(refused, true, 'TLS 1.1 is refused');
  });
});
