import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { EXAMPLE_METADATA, XksClient } from '../test/helpers/xks-client.ts';
import { CLI, NODE, removeDir, startSovra, TEST_REGION } from '../test/helpers/sovra-process.ts';
import { formatTable } from './harness.ts';

const ACCESS_KEY_ID = 'HGIE2BUAFNDMBCMSQVWLGCEXAMPLE';
const SECRET = 'VU6W2byoiBrhDqNGbx703oL0syCAmhlQgwNUT123456';
const PREFIX = '/xks/bench';
/** The spec's latency budget: KMS times out a proxy call after 250 ms ("GetKeyMetadata", KMS considerations). */
const BUDGET_MS = 250;

/**
 * XKS Decrypt latency of the real server (sealed-shamir root, unsealed; SQLite) over HTTP with
 * keep-alive, at concurrency 1, 16 and 64: each request is signed (SigV4, kms-xks-proxy) by the
 * light client of test/helpers/xks-client.ts, as KMS's proxy fleet signs each call. The baseline,
 * same run and same client transport, is the bare liveness endpoint (no auth, no key).
 */
export async function benchXks(durationMs: number): Promise<string> {
  const work = mkdtempSync(join(tmpdir(), 'sovra-bench-xks-'));
  const credentialsFile = join(work, 'xks.json');
  writeFileSync(
    credentialsFile,
    JSON.stringify({
      accessKeyId: ACCESS_KEY_ID,
      secretAccessKey: SECRET,
      uriPrefix: PREFIX,
      tenantId: 'root',
    }),
    { mode: 0o600 },
  );
  const dataDir = join(work, 'data');
  const init = await runCli(['operator', 'init', '--data-dir', dataDir, '--shares', '2', '--threshold', '2']);
  const shares = [...init.matchAll(/^Share \d: (sovra-share-v1:\S+)$/gm)].map((match) => match[1]!);
  const sovra = await startSovra({
    dataDir,
    extraArgs: [
      '--root-of-trust',
      'sealed-shamir',
      '--xks-credentials-file',
      credentialsFile,
      '--log-level',
      'warn',
    ],
  });
  try {
    for (const share of shares) {
      await fetch(`${sovra.endpoint}/_sovra/operator/unseal`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ share }),
      });
    }
    const kms = new KMSClient({
      endpoint: sovra.endpoint,
      region: TEST_REGION,
      credentials: sovra.credentials,
    });
    const keyId = (
      await kms.send(new CreateKeyCommand({ Tags: [{ TagKey: 'sovra:xks', TagValue: 'enabled' }] }))
    ).KeyMetadata!.KeyId!;
    kms.destroy();
    const rows: (string | number)[][] = [
      ['XKS (budget 250 ms)', 'concurrency', 'req/s', 'p50 ms', 'p99 ms', 'p99 / budget'],
    ];
    for (const concurrency of [1, 16, 64]) {
      const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
      const client = new XksClient({
        endpoint: sovra.endpoint,
        uriPrefix: PREFIX,
        accessKeyId: ACCESS_KEY_ID,
        secretAccessKey: SECRET,
        region: TEST_REGION,
        agent,
      });
      // A data key wrapped as KMS wraps one (32 bytes, AAD of KMS's ciphertext header size).
      const aad = Buffer.alloc(64, 7).toString('base64');
      const encrypted = await client.post(`/keys/${keyId}/encrypt`, {
        requestMetadata: { ...EXAMPLE_METADATA, kmsOperation: 'GenerateDataKey' },
        plaintext: Buffer.alloc(32, 1).toString('base64'),
        additionalAuthenticatedData: aad,
        encryptionAlgorithm: 'AES_GCM',
      });
      const decryptBody = {
        requestMetadata: { ...EXAMPLE_METADATA, kmsOperation: 'Decrypt' },
        additionalAuthenticatedData: aad,
        encryptionAlgorithm: 'AES_GCM',
        ...encrypted.body,
      };
      const baseline = await measure(concurrency, durationMs, () => getLive(sovra.endpoint, agent));
      const decrypt = await measure(concurrency, durationMs, async () => {
        const response = await client.post(`/keys/${keyId}/decrypt`, decryptBody);
        if (response.status !== 200) throw new Error(`XKS Decrypt answered ${response.status}`);
      });
      rows.push([
        'baseline: GET /_sovra/health/live',
        concurrency,
        baseline.perSecond,
        baseline.p50Ms,
        baseline.p99Ms,
        '',
      ]);
      rows.push([
        'XKS Decrypt (signed, 32-byte key, 64-byte AAD)',
        concurrency,
        decrypt.perSecond,
        decrypt.p50Ms,
        decrypt.p99Ms,
        `${((decrypt.p99Ms / BUDGET_MS) * 100).toFixed(1)}%`,
      ]);
      agent.destroy();
    }
    return formatTable(rows);
  } finally {
    await sovra.stop();
    removeDir(work);
  }
}

async function measure(
  concurrency: number,
  durationMs: number,
  call: () => Promise<void>,
): Promise<{ perSecond: number; p50Ms: number; p99Ms: number }> {
  for (let i = 0; i < concurrency * 4; i++) await call();
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        await call();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    perSecond: Math.round(latencies.length / elapsedS),
    p50Ms: Math.round(at(0.5) * 100) / 100,
    p99Ms: Math.round(at(0.99) * 100) / 100,
  };
}

function getLive(endpoint: string, agent: Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(`${endpoint}/_sovra/health/live`, { agent }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`live ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

function runCli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`sovra ${args[0]} exited ${code}`)),
    );
  });
}
