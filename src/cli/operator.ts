import { readFileSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { Command, Option } from 'commander';
import { createPkcs11RootKey } from '../adapters/root-of-trust/pkcs11-root.ts';
import { SealRecordFile, sealRecordPath } from '../adapters/root-of-trust/seal-record-file.ts';
import { initializeSealedRoot, type SealStatus } from '../domain/kms/seal.ts';
import { decodeShare } from '../domain/kms/shamir.ts';
import { systemClock } from '../platform/clock.ts';
import {
  ConfigError,
  loadServerConfig,
  SERVER_SETTINGS,
  type Pkcs11Settings,
  type RawSettings,
} from '../platform/config.ts';
import { isSovraError } from '../platform/errors.ts';
import { LIMITS } from '../platform/limits.ts';
import { OperatorClient, OperatorRequestError } from './operator-client.ts';

const DEFAULT_ENDPOINT = 'http://127.0.0.1:9000';
const DEFAULT_REGION = 'us-east-1';
/** Vault's defaults (https://developer.hashicorp.com/vault/docs/commands/operator/init). */
const DEFAULT_SHARES = 5;
const DEFAULT_THRESHOLD = 3;

/** The server settings naming the HSM root key, so that init-hsm and the server agree on it. */
const HSM_SETTINGS = ['pkcs11Module', 'pkcs11TokenLabel', 'pkcs11PinFile', 'pkcs11KeyLabel', 'config'];

/** Exit codes of `status`, as `vault status` has them: 0 unsealed, 1 error, 2 sealed. */
const EXIT_ERROR = 1;
const EXIT_SEALED = 2;

/**
 * `sovra operator …`: the key custodians' commands for the sealed software root of trust
 * (`--root-of-trust sealed-shamir`). `init` runs offline on the data directory; the others talk
 * to a running server's /_sovra/operator/ endpoints. `init-hsm` is the HSM root's counterpart of
 * `init`: it creates the root key inside the PKCS#11 token, which the server never does.
 */
export function operatorCommand(env: Record<string, string | undefined>): Command {
  const operator = new Command('operator').description(
    'initialise, unseal and seal the sealed software root of trust (Shamir shares held by key custodians)',
  );
  const endpointOption = () =>
    new Option('--endpoint <url>', 'server URL [env SOVRA_ENDPOINT]').default(
      env.SOVRA_ENDPOINT ?? DEFAULT_ENDPOINT,
    );

  const init = operator
    .command('init')
    .description(
      'create the root key, split it into Shamir shares printed once for the key custodians, and write the ' +
        'seal record (no secret) to <data-dir>/keys/seal.json; refused when already initialised',
    )
    .option(
      '--shares <n>',
      `number of shares to issue, 2 to ${LIMITS.shamirSharesMax}`,
      String(DEFAULT_SHARES),
    )
    .option(
      '--threshold <k>',
      `shares needed to unseal, ${LIMITS.shamirThresholdMin} to --shares`,
      String(DEFAULT_THRESHOLD),
    );
  for (const spec of SERVER_SETTINGS.filter((s) => s.key === 'dataDir' || s.key === 'config')) {
    init.addOption(new Option(spec.flag, `${spec.description} [env ${spec.env}]`));
  }
  init.action(async (options: Record<string, string | undefined>) => {
    const flags: RawSettings = {};
    if (options.dataDir !== undefined) flags.dataDir = options.dataDir;
    if (options.config !== undefined) flags.config = options.config;
    let dataDir: string;
    try {
      dataDir = loadServerConfig(flags, env).dataDir;
    } catch (error) {
      if (error instanceof ConfigError) return fail(error.message, 2);
      throw error;
    }
    const shareCount = integerOption('--shares', options.shares);
    const threshold = integerOption('--threshold', options.threshold);
    if (shareCount === null || threshold === null) return;
    const records = new SealRecordFile(sealRecordPath(dataDir));
    try {
      const { shares } = await initializeSealedRoot({ records, shareCount, threshold, clock: systemClock });
      process.stdout.write(initReport(shares, threshold, records.location));
    } catch (error) {
      if (!isSovraError(error)) throw error;
      fail(`${error.code}: ${error.message}`);
    }
  });

  const initHsm = operator
    .command('init-hsm')
    .description(
      'generate the root key inside the PKCS#11 token (AES-256, sensitive, never extractable) under ' +
        '--pkcs11-key-label and print its label and key check value; refused when the token already has a key ' +
        "with that label. Takes the server's PKCS#11 settings (flags, environment or --config)",
    );
  for (const spec of SERVER_SETTINGS.filter((s) => HSM_SETTINGS.includes(s.key))) {
    initHsm.addOption(new Option(spec.flag, `${spec.description} [env ${spec.env}]`));
  }
  initHsm.action(async (options: Record<string, string | undefined>) => {
    const flags: RawSettings = { rootOfTrust: 'pkcs11' };
    for (const key of HSM_SETTINGS) {
      const value = options[key];
      if (value !== undefined) flags[key] = value;
    }
    let settings: Pkcs11Settings;
    try {
      const rootOfTrust = loadServerConfig(flags, env).rootOfTrust;
      if (rootOfTrust.kind !== 'pkcs11') return fail('the root of trust must be pkcs11', 2);
      settings = rootOfTrust;
    } catch (error) {
      if (error instanceof ConfigError) return fail(error.message, 2);
      throw error;
    }
    try {
      const { keyCheckValue } = await createPkcs11RootKey(settings);
      process.stdout.write(initHsmReport(settings, keyCheckValue));
    } catch (error) {
      if (!isSovraError(error)) throw error;
      fail(`${error.code}: ${error.message}`);
    }
  });

  operator
    .command('unseal')
    .description(
      'submit one key share to a sealed server and print the unseal progress; without --share the share ' +
        'is read from standard input (prompted for, hidden, on a terminal)',
    )
    .addOption(endpointOption())
    .option('--share <share>', 'the share (visible in shell history and process lists: prefer stdin)')
    .option('--reset', 'discard the shares submitted so far instead')
    .action(async (options: { endpoint: string; share?: string; reset?: boolean }) => {
      await talk(async () => {
        const client = new OperatorClient(options.endpoint);
        if (options.reset === true) return printStatus(await client.resetUnseal(), 'unseal');
        const share = options.share ?? (await readShareFromStdin());
        // A mistyped share is caught here, before it reaches the server or its rate limit.
        decodeShare(share).value.fill(0);
        printStatus(await client.unseal(share), 'unseal');
      });
    });

  operator
    .command('seal')
    .description('seal a running server at once: the root key is forgotten until a quorum unseals it again')
    .addOption(endpointOption())
    .requiredOption(
      '--credentials <file>',
      'JSON file with accessKeyId and secretAccessKey of a root tenant administrator (e.g. admin-credentials.json)',
    )
    .addOption(
      new Option('--region <name>', 'signing region of the server [env SOVRA_REGION]').default(
        env.SOVRA_REGION ?? DEFAULT_REGION,
      ),
    )
    .action(async (options: { endpoint: string; credentials: string; region: string }) => {
      await talk(async () => {
        const credentials = readCredentialsFile(options.credentials);
        const client = new OperatorClient(options.endpoint);
        printStatus(await client.seal(credentials, options.region, new Date()), 'seal');
      });
    });

  operator
    .command('status')
    .description('print the seal status; exit code 0 unsealed, 2 sealed, 1 error')
    .addOption(endpointOption())
    .option('--json', 'print the status as JSON')
    .action(async (options: { endpoint: string; json?: boolean }) => {
      await talk(async () => {
        const status = await new OperatorClient(options.endpoint).status();
        if (options.json === true) process.stdout.write(`${JSON.stringify(status)}\n`);
        else printStatus(status, 'status');
        if (status.sealed) process.exitCode = EXIT_SEALED;
      });
    });
  return operator;
}

function initReport(shares: readonly string[], threshold: number, recordPath: string): string {
  const lines = shares.map((share, i) => `Share ${i + 1}: ${share}`);
  return (
    `${lines.join('\n')}\n\n` +
    `Sovra's root of trust is initialised with ${shares.length} key shares and a threshold of ${threshold}.\n\n` +
    `Give each share to a different key custodian now. The shares are shown only this once and are\n` +
    `stored nowhere: Sovra keeps only the seal record ${recordPath}, which holds no secret.\n\n` +
    `Sovra starts sealed (with --root-of-trust sealed-shamir), and after every restart or\n` +
    `\`sovra operator seal\`. To unseal it, ${threshold} custodians each run \`sovra operator unseal\`\n` +
    `and enter their share. If fewer than ${threshold} shares survive, the root key and every key it\n` +
    `protects are lost for good.\n`
  );
}

function initHsmReport(settings: Pkcs11Settings, keyCheckValue: Buffer | null): string {
  return (
    `Token:            ${settings.tokenLabel}\n` +
    `Module:           ${settings.modulePath}\n` +
    `Root key label:   ${settings.keyLabel}\n` +
    `Key check value:  ${keyCheckValue === null ? 'not reported by this token' : keyCheckValue.toString('hex')}\n\n` +
    `The root key was generated inside the token as a sensitive, non-extractable AES-256 key; its\n` +
    `value never leaves the token. The key check value (CKA_CHECK_VALUE: the first bytes of the key's\n` +
    `encryption of a zero block) identifies it: record it, and compare it with the token's when an\n` +
    `installation or a backup of the token is set up. Start Sovra with --root-of-trust pkcs11 and these\n` +
    `settings. Lose every copy of the token and every key it protects is lost for good.\n`
  );
}

function printStatus(status: SealStatus, command: 'unseal' | 'seal' | 'status'): void {
  const lines =
    command === 'status'
      ? [
          `Seal type:        ${status.type}`,
          `Initialized:      ${status.initialized}`,
          `Sealed:           ${status.sealed}`,
          `Total shares:     ${status.shares}`,
          `Threshold:        ${status.threshold}`,
        ]
      : [`Sealed:           ${status.sealed}`];
  if (status.sealed && status.initialized) {
    lines.push(`Unseal progress:  ${status.progress} of ${status.threshold}`);
    if (status.nonce !== '') lines.push(`Unseal nonce:     ${status.nonce}`);
  }
  if (command === 'seal') lines.push('Sovra is sealed.');
  if (command === 'unseal' && !status.sealed) lines.push('Sovra is unsealed.');
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Runs one request, turning refusals into a message on stderr and exit code 1. */
async function talk(work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (error instanceof OperatorRequestError) return fail(`${error.code}: ${error.message}`);
    if (isSovraError(error)) return fail(`${error.code}: ${error.message}`);
    throw error;
  }
}

function fail(message: string, exitCode = EXIT_ERROR): void {
  process.stderr.write(`sovra: ${message}\n`);
  process.exitCode = exitCode;
}

function integerOption(name: string, value: string | undefined): number | null {
  if (value === undefined || !/^\d{1,3}$/.test(value)) {
    fail(`${name} must be a whole number, got "${String(value)}"`, 2);
    return null;
  }
  return Number(value);
}

/**
 * One share from standard input: piped (the whole input, which must be one line), or typed at a
 * terminal with the echo off, as `vault operator unseal` prompts.
 */
async function readShareFromStdin(): Promise<string> {
  const stdin = process.stdin;
  const muted = new Writable({ write: (_chunk, _encoding, done) => done() });
  const terminal = stdin.isTTY;
  if (terminal) process.stderr.write('Key share (will be hidden): ');
  const lines = createInterface({ input: stdin, output: muted, terminal });
  const shares: string[] = [];
  let read = 0;
  try {
    for await (const line of lines) {
      read += line.length + 1;
      if (read > LIMITS.shamirShareTextMaxChars * 4)
        throw inputError('standard input is too long for one share');
      if (line.trim() !== '') shares.push(line.trim());
      if (terminal && shares.length > 0) break;
    }
  } finally {
    lines.close();
    if (terminal) process.stderr.write('\n');
  }
  if (shares.length !== 1) {
    throw inputError(`standard input must hold exactly one share (found ${shares.length} lines)`);
  }
  return shares[0]!;
}

export function readCredentialsFile(path: string): { accessKeyId: string; secretAccessKey: string } {
  let text: string;
  try {
    if ((statSync(path).mode & 0o077) !== 0) {
      throw inputError(`${path} is readable by group or others; chmod 600 it`);
    }
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof OperatorRequestError) throw error;
    throw inputError(`cannot read ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw inputError(`${path} is not JSON`);
  }
  const fields = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  if (typeof fields.accessKeyId !== 'string' || typeof fields.secretAccessKey !== 'string') {
    throw inputError(`${path} must hold {"accessKeyId": "…", "secretAccessKey": "…"}`);
  }
  return { accessKeyId: fields.accessKeyId, secretAccessKey: fields.secretAccessKey };
}

function inputError(message: string): OperatorRequestError {
  return new OperatorRequestError('InvalidInput', message, null);
}
