import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command, Option } from 'commander';
import { openPkcs11Root } from '../adapters/root-of-trust/pkcs11-root.ts';
import { SealRecordFile, sealRecordPath } from '../adapters/root-of-trust/seal-record-file.ts';
import {
  createRecipientKey,
  exportKeys,
  importKeys,
  type RecipientKeyRecord,
} from '../domain/kms/key-export.ts';
import type { KeyStore } from '../domain/kms/ports.ts';
import { SoftwareRoot, type RootOfTrust } from '../domain/kms/root-of-trust.ts';
import { ShamirSeal } from '../domain/kms/seal.ts';
import { systemClock } from '../platform/clock.ts';
import {
  ConfigError,
  loadServerConfig,
  SERVER_SETTINGS,
  type RawSettings,
  type ServerConfig,
} from '../platform/config.ts';
import { isSovraError } from '../platform/errors.ts';
import { openMetadataAndKeyStores } from '../server/metadata.ts';

/** Server settings the commands need: where the stores are and which root of trust guards them. */
const STORE_SETTINGS = [
  'dataDir',
  'metadataBackend',
  'postgresUrl',
  'postgresSchema',
  'region',
  'rootOfTrust',
  'pkcs11Module',
  'pkcs11TokenLabel',
  'pkcs11PinFile',
  'pkcs11KeyLabel',
  'config',
];

/**
 * `sovra keys export` / `sovra keys import`: disaster-recovery copies of the KMS keys between
 * installations that share one root of trust (domain/kms/key-export.ts). Both need the root: the
 * sealed software root is unsealed for the command by custodians' shares read from standard
 * input, one per line (never from arguments, which other users can see); a PKCS#11 root logs in
 * to the configured token. A data directory with a seal record uses the sealed software root
 * unless another root is configured.
 */
export function keysCommand(env: Record<string, string | undefined>): Command {
  const keys = new Command('keys').description('export and import KMS keys (disaster recovery)');
  const exportCommand = withStoreOptions(
    new Command('export')
      .description('write the KMS keys, still wrapped by the root of trust, to a hybrid-KEM-sealed file')
      .requiredOption('--out <file>', 'the export file to create (refused if it exists)')
      .option('--tenant <id>', 'export only this tenant’s keys'),
  );
  exportCommand.action(async (options: Record<string, string | boolean | undefined>) => {
    await withStores(options, env, async (config, store, root) => {
      const out = String(options.out);
      if (existsSync(out)) throw new Error(`${out} exists; choose a new file`);
      const recipient = await recipientKey(config, root);
      const tenantIds = typeof options.tenant === 'string' ? [options.tenant] : await allTenants(store);
      const { file, summary } = await exportKeys({ store, root, recipient, tenantIds, clock: systemClock });
      writeFileSync(out, file, { mode: 0o600, flag: 'wx' });
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    });
  });
  const importCommand = withStoreOptions(
    new Command('import')
      .description('add the keys of an export made under the same root of trust')
      .requiredOption('--in <file>', 'the export file'),
  );
  importCommand.action(async (options: Record<string, string | boolean | undefined>) => {
    await withStores(options, env, async (_config, store, root) => {
      const summary = await importKeys({ store, root, file: readFileSync(String(options.in)) });
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    });
  });
  keys.addCommand(exportCommand);
  keys.addCommand(importCommand);
  return keys;
}

function withStoreOptions(command: Command): Command {
  for (const spec of SERVER_SETTINGS.filter((s) => STORE_SETTINGS.includes(s.key))) {
    command.addOption(new Option(spec.flag, `${spec.description} [env ${spec.env}]`));
  }
  return command;
}

async function withStores(
  options: Record<string, string | boolean | undefined>,
  env: Record<string, string | undefined>,
  work: (config: ServerConfig, store: KeyStore, root: RootOfTrust) => Promise<void>,
): Promise<void> {
  const flags: RawSettings = {};
  for (const key of STORE_SETTINGS) {
    const value = options[key];
    if (value !== undefined) flags[key] = value;
  }
  let config: ServerConfig;
  try {
    config = loadServerConfig(flags, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return fail(error.message);
  }
  if (!existsSync(config.dataDir)) return fail(`no data directory at ${config.dataDir}`);
  let root: RootOfTrust;
  try {
    root = await openRoot(config);
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error));
  }
  const { metadata, keys } = openMetadataAndKeyStores(config, systemClock);
  try {
    await metadata.migrate();
    await work(config, keys, root);
  } catch (error) {
    if (isSovraError(error) || error instanceof Error) return fail(error.message);
    throw error;
  } finally {
    await metadata.close();
    await root.close();
  }
}

async function openRoot(config: ServerConfig): Promise<RootOfTrust> {
  const settings = config.rootOfTrust;
  if (settings.kind === 'pkcs11') return openPkcs11Root(settings);
  const records = new SealRecordFile(sealRecordPath(config.dataDir));
  if (settings.kind === 'none' && (await records.read()) === null) {
    throw new Error(
      'the data directory has no root of trust (run `sovra operator init` or configure pkcs11)',
    );
  }
  const root = new SoftwareRoot();
  const seal = new ShamirSeal({ root, records, clock: systemClock, events: () => {} });
  const shares = readFileSync(0, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  for (const share of shares) {
    await seal.submit(share, 'sovra keys');
    if (root.state() === 'unsealed') break;
  }
  if (root.state() !== 'unsealed') {
    throw new Error(
      'the root of trust stays sealed: give a quorum of shares on standard input, one per line',
    );
  }
  return root;
}

/** `<data-dir>/keys/dr-recipient.json`: the installation's export recipient, made on first use. */
async function recipientKey(config: ServerConfig, root: RootOfTrust): Promise<RecipientKeyRecord> {
  const path = join(config.dataDir, 'keys', 'dr-recipient.json');
  if (existsSync(path)) {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (!isRecipient(parsed)) throw new Error(`${path} is not a recipient key record`);
    return parsed;
  }
  const created = await createRecipientKey(root);
  // With the root of trust in an HSM nothing else may have made keys/ in this data directory.
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(created, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return created;
}

function isRecipient(value: unknown): value is RecipientKeyRecord {
  if (typeof value !== 'object' || value === null) return false;
  const fields = [
    'x25519PublicKey',
    'mlkem768PublicKey',
    'wrappedX25519PrivateKey',
    'wrappedMlkem768PrivateKey',
  ];
  return (
    'format' in value &&
    value.format === 1 &&
    fields.every((field) => typeof Reflect.get(value, field) === 'string')
  );
}

async function allTenants(store: KeyStore): Promise<string[]> {
  const tenants: string[] = [];
  for (let after = ''; ;) {
    const page = await store.listKeyTenants(after, 100);
    tenants.push(...page);
    if (page.length < 100) return tenants;
    after = page.at(-1) ?? after;
  }
}

function fail(message: string): void {
  process.stderr.write(`sovra: ${message}\n`);
  process.exitCode = 2;
}
