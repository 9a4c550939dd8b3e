import { spawn } from 'node:child_process';
import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  randomBytes,
  randomFillSync,
  type KeyObject,
} from 'node:crypto';
import { Agent } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import type { SqlDatabase } from '../src/adapters/sql/driver.ts';
import { SqlKeyStore } from '../src/adapters/sql/kms-store.ts';
import { SqlMetadataStore } from '../src/adapters/sql/metadata-store.ts';
import { POSTGRES_MIGRATIONS } from '../src/adapters/postgres/migrations.ts';
import { PostgresDatabase } from '../src/adapters/postgres/postgres-database.ts';
import { SQLITE_MIGRATIONS } from '../src/adapters/sqlite/migrations.ts';
import { SqliteDatabase } from '../src/adapters/sqlite/sqlite-database.ts';
import { KeyRing } from '../src/domain/kms/key-ring.ts';
import { SoftwareRoot } from '../src/domain/kms/root-of-trust.ts';
import { systemClock } from '../src/platform/clock.ts';
import { createTestSchema } from '../test/helpers/postgres.ts';
import {
  CLI,
  NODE,
  removeDir,
  startSovra,
  TEST_REGION,
  type SovraProcess,
} from '../test/helpers/sovra-process.ts';
import { cpuSecondsOf, formatTable } from './harness.ts';

const TENANT = 'bench';
const CONTEXT = { bucket: 'bench', object: 'photos/1.jpg' };

/**
 * KMS throughput: one operation is a GenerateDataKey (32-byte data key) followed by a Decrypt of
 * its blob, the pair an object write and read cost. In-process on the key ring with the software
 * root (SQLite and PostgreSQL key stores), next to a same-run ceiling: raw AES-256-GCM encrypt and
 * decrypt of 32 bytes with node:crypto; then over HTTP with @aws-sdk/client-kms at concurrency 16
 * against the real server (sealed software root, unsealed by shares).
 */
export async function benchKms(durationMs: number): Promise<string> {
  const rows: (string | number)[][] = [
    ['KMS: GenerateDataKey + Decrypt', 'concurrency', 'pairs/s', 'p50 ms', 'p99 ms', 'server CPU ms/pair'],
  ];
  const raw = (keyObject: boolean) => rawAesPairsPerSecond(durationMs, keyObject);
  rows.push(['ceiling: raw AES-256-GCM enc+dec of 32 B (KeyObject)', 1, raw(true), '', '', '']);
  rows.push(['raw AES-256-GCM enc+dec of 32 B (Buffer key)', 1, raw(false), '', '', '']);
  for (const backend of ['sqlite', 'postgres'] as const) {
    const result = await inProcess(backend, durationMs);
    const name = `in-process key ring, software root, ${backend}`;
    rows.push([name, 1, result.pairsPerSecond, result.p50Ms, result.p99Ms, '']);
  }
  // The SDK spends about twice the server's CPU per request; on a small machine the client bounds this row.
  const http = await overHttp(durationMs, 16);
  const name = 'HTTP, @aws-sdk/client-kms, sqlite';
  rows.push([name, 16, http.pairsPerSecond, http.p50Ms, http.p99Ms, http.serverCpuMsPerPair]);
  return formatTable(rows);
}

function rawAesPairsPerSecond(durationMs: number, asKeyObject: boolean): number {
  const raw = randomBytes(32);
  const key: KeyObject | Buffer = asKeyObject ? createSecretKey(raw) : raw;
  const plaintext = randomBytes(32);
  const aad = randomBytes(40);
  const iv = Buffer.alloc(12);
  let pairs = 0;
  const deadline = performance.now() + durationMs;
  while (performance.now() < deadline) {
    for (let i = 0; i < 1000; i++) {
      randomFillSync(iv);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(aad);
      const ciphertext = cipher.update(plaintext);
      cipher.final();
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAAD(aad);
      decipher.setAuthTag(cipher.getAuthTag());
      decipher.update(ciphertext);
      decipher.final();
    }
    pairs += 1000;
  }
  return Math.round(pairs / (durationMs / 1000));
}

interface Measured {
  pairsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

async function inProcess(backend: 'sqlite' | 'postgres', durationMs: number): Promise<Measured> {
  const opened = await openDatabase(backend);
  const root = new SoftwareRoot();
  root.unsealWith(randomBytes(32));
  const ring = new KeyRing({
    store: new SqlKeyStore(opened.db),
    root,
    clock: systemClock,
    region: 'us-east-1',
  });
  try {
    const key = await ring.createKey(TENANT, {
      keySpec: 'SYMMETRIC_DEFAULT',
      keyUsage: null,
      description: 'bench',
      policy: null,
      tags: [],
    });
    const pair = async () => {
      const dataKey = await ring.generateDataKey(TENANT, {
        keyReference: key.keyId,
        numberOfBytes: 32,
        context: CONTEXT,
        dryRun: false,
      });
      await ring.decrypt(TENANT, {
        ciphertextBlob: dataKey.ciphertextBlob,
        context: CONTEXT,
        keyReference: null,
        dryRun: false,
      });
    };
    return await measure(pair, 1, durationMs);
  } finally {
    ring.forgetMaterial();
    await root.close();
    await opened.close();
  }
}

async function openDatabase(
  backend: 'sqlite' | 'postgres',
): Promise<{ db: SqlDatabase; close(): Promise<void> }> {
  if (backend === 'sqlite') {
    const directory = mkdtempSync(join(tmpdir(), 'sovra-bench-kms-'));
    const db = new SqliteDatabase(join(directory, 'metadata.sqlite'));
    const metadata = new SqlMetadataStore(db, { migrations: SQLITE_MIGRATIONS, clock: systemClock });
    await metadata.migrate();
    return {
      db,
      close: async () => {
        await metadata.close();
        removeDir(directory);
      },
    };
  }
  const schema = await createTestSchema();
  const db = new PostgresDatabase({ connectionString: schema.connectionString, schema: schema.schema });
  const metadata = new SqlMetadataStore(db, { migrations: POSTGRES_MIGRATIONS, clock: systemClock });
  await metadata.migrate();
  return {
    db,
    close: async () => {
      await metadata.close();
      await schema.drop();
    },
  };
}

async function overHttp(
  durationMs: number,
  concurrency: number,
): Promise<Measured & { serverCpuMsPerPair: number }> {
  const sovra = await startUnsealedSovra();
  const kms = new KMSClient({
    endpoint: sovra.endpoint,
    region: TEST_REGION,
    credentials: sovra.credentials,
    requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: concurrency }) },
  });
  try {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    const pair = async () => {
      const dataKey = await kms.send(
        new GenerateDataKeyCommand({
          KeyId: KeyMetadata!.KeyId,
          NumberOfBytes: 32,
          EncryptionContext: CONTEXT,
        }),
      );
      await kms.send(
        new DecryptCommand({ CiphertextBlob: dataKey.CiphertextBlob, EncryptionContext: CONTEXT }),
      );
    };
    const cpuBefore = cpuSecondsOf(sovra.child.pid!);
    const measured = await measure(pair, concurrency, durationMs);
    const cpuSeconds = cpuSecondsOf(sovra.child.pid!) - cpuBefore;
    const pairs = measured.pairsPerSecond * (durationMs / 1000);
    return { ...measured, serverCpuMsPerPair: (cpuSeconds * 1000) / Math.max(1, pairs) };
  } finally {
    kms.destroy();
    await sovra.stop();
    removeDir(sovra.dataDir);
  }
}

/** Runs `pair` from `concurrency` loops for `durationMs` after a short warm-up. */
async function measure(
  pair: () => Promise<void>,
  concurrency: number,
  durationMs: number,
): Promise<Measured> {
  for (let i = 0; i < 200; i++) await pair();
  const latenciesMs: number[] = [];
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const begun = performance.now();
        await pair();
        latenciesMs.push(performance.now() - begun);
      }
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;
  latenciesMs.sort((a, b) => a - b);
  const at = (q: number) =>
    latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(q * latenciesMs.length))] ?? 0;
  return { pairsPerSecond: Math.round(latenciesMs.length / elapsedS), p50Ms: at(0.5), p99Ms: at(0.99) };
}

/** The real server with the sealed software root, initialised and unsealed by two of three shares. */
async function startUnsealedSovra(): Promise<SovraProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sovra-bench-kms-http-'));
  const init = await new Promise<string>((resolve, reject) => {
    const child = spawn(
      NODE,
      [CLI, 'operator', 'init', '--data-dir', dataDir, '--shares', '3', '--threshold', '2'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`operator init exited ${code}`)),
    );
  });
  const shares = [...init.matchAll(/^Share \d: (sovra-share-v1:\S+)$/gm)].map((match) => match[1]!);
  const sovra = await startSovra({
    dataDir,
    extraArgs: ['--root-of-trust', 'sealed-shamir', '--log-level', 'warn'],
  });
  for (const share of shares.slice(0, 2)) {
    const response = await fetch(`${sovra.endpoint}/_sovra/operator/unseal`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ share }),
    });
    if (response.status !== 200)
      throw new Error(`unseal failed: ${response.status} ${await response.text()}`);
  }
  return sovra;
}
