import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { S3Client } from '@aws-sdk/client-s3';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const NODE = join(REPO_ROOT, 'node_modules', '.bin', 'node');
export const CLI = join(REPO_ROOT, 'src', 'cli', 'main.ts');
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
  const args = [
    CLI,
    'server',
    '--data-dir',
    dataDir,
    '--listen',
    `127.0.0.1:${options.port ?? 0}`,
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
  const listening = new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`sovra did not start in time:\n${logs.join('\n')}`)),
      30_000,
    );
    const onLine = (line: string) => {
      logs.push(line);
      if (logs.length > 5000) logs.shift();
      if (line.includes('"msg":"listening"')) {
        clearTimeout(timer);
        resolvePort((JSON.parse(line) as { address: { port: number } }).address.port);
      }
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sovra exited with ${code}:\n${logs.join('\n')}`));
    });
  });
  const port = await listening;
  const credentials = JSON.parse(
    readFileSync(join(dataDir, 'admin-credentials.json'), 'utf8'),
  ) as SovraProcess['credentials'];
  const endpoint = `http://127.0.0.1:${port}`;
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  return {
    endpoint,
    port,
    dataDir,
    credentials,
    child,
    logs,
    client: (extra = {}) =>
      new S3Client({ endpoint, region: TEST_REGION, forcePathStyle: true, credentials, ...extra }),
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

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
