import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { S3Client } from '@aws-sdk/client-s3';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const NODE = join(REPO_ROOT, 'node_modules', '.bin', 'node');
export const CLI = join(REPO_ROOT, 'src', 'cli', 'main.ts');
/** The V8 flags bin/sovra runs the server with, so tests measure what operators run. */
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=8'];
export const TEST_REGION = 'us-east-1';

export type MetadataBackend = 'sqlite' | 'postgres';

export interface SovraProcess {
  endpoint: string;
  port: number;
  dataDir: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  child: ChildProcess;
  logs: string[];
  client(options?: Partial<ConstructorParameters<typeof S3Client>[0]>): S3Client;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  /** SIGKILL (crash) and wait for exit. */
  kill(): Promise<void>;
}

export interface StartOptions {
  metadata?: MetadataBackend;
  /** Postgres schema to use (a fresh one is required per server unless restarting on the same data). */
  postgresSchema?: string;
  postgresUrl?: string;
  dataDir?: string;
  extraArgs?: string[];
  env?: Record<string, string>;
  port?: number;
}

/** Starts the real server process (`sovra server`) and waits until it listens. */
export async function startSovra(options: StartOptions = {}): Promise<SovraProcess> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'sovra-e2e-'));
  const port = options.port ?? (await freePort());
  const tls = (options.extraArgs ?? []).includes('--dev-tls');
  const args = [
    ...SERVER_NODE_FLAGS,
    CLI,
    'server',
    '--data-dir',
    dataDir,
    '--listen',
    `127.0.0.1:${port}`,
    '--region',
    TEST_REGION,
    '--log-level',
    'info',
  ];
  if (options.metadata === 'postgres') {
    args.push(
      '--metadata-backend',
      'postgres',
      '--postgres-url',
      options.postgresUrl ?? 'postgres://postgres@127.0.0.1:5432/test',
      '--postgres-schema',
      options.postgresSchema ?? 'sovra',
    );
  }
  args.push(...(options.extraArgs ?? []));
  const child = spawn(NODE, args, {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  let exitCode: number | null | undefined;
  child.once('exit', (code) => {
    exitCode = code;
  });
  const onLine = (line: string) => {
    logs.push(line);
    if (logs.length > 5000) logs.shift();
  };
  createInterface({ input: child.stdout }).on('line', onLine);
  createInterface({ input: child.stderr }).on('line', onLine);
  // Ready when the health endpoint answers (works at any log level).
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exitCode !== undefined) throw new Error(`sovra exited with ${exitCode}:\n${logs.join('\n')}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`sovra did not start in time:\n${logs.join('\n')}`);
    }
    const ready = await probe(tls, port);
    if (ready) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  // Read when first used: with the sealed software root a new installation's root tenant (and
  // this file) is created only once a quorum has unsealed it.
  let credentials: SovraProcess['credentials'] | null = null;
  const adminCredentials = () =>
    (credentials ??= JSON.parse(
      readFileSync(join(dataDir, 'admin-credentials.json'), 'utf8'),
    ) as SovraProcess['credentials']);
  const endpoint = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  return {
    endpoint,
    port,
    dataDir,
    get credentials() {
      return adminCredentials();
    },
    child,
    logs,
    client: (extra = {}) =>
      new S3Client({
        endpoint,
        region: TEST_REGION,
        forcePathStyle: true,
        credentials: adminCredentials(),
        ...extra,
      }),
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** True when the readiness endpoint answers 200 (self-signed certificates accepted). */
function probe(tls: boolean, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const get = tls ? httpsGet : httpGet;
    const req = get(
      { host: '127.0.0.1', port, path: '/_sovra/health/ready', rejectUnauthorized: false },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on('error', () => resolve(false));
    req.setTimeout(1000, () => req.destroy());
  });
}

/** A port that was free a moment ago (the server binds it right after). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
