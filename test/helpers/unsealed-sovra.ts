import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestSchema } from './postgres.ts';
import {
  CLI,
  NODE,
  startSovra,
  type MetadataBackend,
  type SovraProcess,
  type StartOptions,
} from './sovra-process.ts';

const run = promisify(execFile);

/** Runs the `sovra` CLI and returns its standard output. */
export async function sovraCli(args: string[]): Promise<string> {
  const { stdout } = await run(NODE, [CLI, ...args]);
  return stdout;
}

/** `sovra operator init` with 3 shares and threshold 2, as custodians would; returns the shares. */
export async function initSealedRoot(dataDir: string): Promise<string[]> {
  const init = await sovraCli([
    'operator',
    'init',
    '--data-dir',
    dataDir,
    '--shares',
    '3',
    '--threshold',
    '2',
  ]);
  const shares = [...init.matchAll(/^Share \d: (sovra-share-v1:\S+)$/gm)].map((match) => match[1]!);
  assert.equal(shares.length, 3);
  return shares;
}

/** Submits one custodian's share to the operator endpoint. */
export async function unseal(sovra: SovraProcess, share: string): Promise<void> {
  const response = await fetch(`${sovra.endpoint}/_sovra/operator/unseal`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ share }),
  });
  assert.equal(response.status, 200, await response.text());
}

/**
 * A real server with the sealed software root, initialised by `sovra operator init` and unsealed
 * by two of three custodians' shares through the operator endpoint.
 */
export async function startUnsealedSovra(
  metadata: MetadataBackend,
  schema: TestSchema | null,
  options: Omit<StartOptions, 'dataDir' | 'metadata'> = {},
): Promise<SovraProcess & { shares: string[] }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sovra-unsealed-'));
  const shares = await initSealedRoot(dataDir);
  const sovra = await startSovra({
    ...options,
    dataDir,
    metadata,
    extraArgs: ['--root-of-trust', 'sealed-shamir', ...(options.extraArgs ?? [])],
    ...(schema === null ? {} : { postgresSchema: schema.schema, postgresUrl: schema.connectionString }),
  });
  for (const share of shares.slice(0, 2)) await unseal(sovra, share);
  return Object.assign(sovra, { shares });
}
