import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import { OffsetClock } from '../platform/clock.ts';
import { ConfigError, loadServerConfig, SERVER_SETTINGS, type RawSettings } from '../platform/config.ts';
import { runKeyDeletionPass } from '../server/kms-deletion-pass.ts';

/** Server settings the pass needs to find the stores; the rest keep their defaults. */
const STORE_SETTINGS = [
  'dataDir',
  'metadataBackend',
  'postgresUrl',
  'postgresSchema',
  'region',
  'logLevel',
  'config',
];

/**
 * `sovra admin kms-maintenance`: completes the KMS key deletions that are due now, or as of
 * `--now` (an ISO 8601 time), then exits — so crypto-shredding can be proved or rehearsed without
 * waiting out the 7-to-30-day window. Prints the report as JSON on stdout.
 */
export function kmsMaintenanceCommand(env: Record<string, string | undefined>): Command {
  const command = new Command('kms-maintenance')
    .description('complete the KMS key deletions that are due, then exit')
    .option('--now <iso8601>', 'act as if it were this time (e.g. 2031-01-01T00:00:00Z)');
  for (const spec of SERVER_SETTINGS.filter((s) => STORE_SETTINGS.includes(s.key))) {
    command.addOption(new Option(spec.flag, `${spec.description} [env ${spec.env}]`));
  }
  command.action(async (options: Record<string, string | boolean | undefined>) => {
    const flags: RawSettings = {};
    for (const key of STORE_SETTINGS) {
      const value = options[key];
      if (value !== undefined) flags[key] = value;
    }
    let config;
    try {
      config = loadServerConfig(flags, env);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return fail(error.message);
    }
    if (config.metadata.backend === 'sqlite' && !existsSync(config.dataDir)) {
      return fail(`no data directory at ${config.dataDir}`);
    }
    const nowText = typeof options.now === 'string' ? options.now : null;
    const nowMs = nowText === null ? Date.now() : Date.parse(nowText);
    if (!Number.isFinite(nowMs) || (nowText !== null && !/^\d{4}-\d{2}-\d{2}/.test(nowText))) {
      return fail(`--now: "${String(nowText)}" is not an ISO 8601 time`);
    }
    const report = await runKeyDeletionPass(config, new OffsetClock(nowMs - Date.now()));
    process.stdout.write(`${JSON.stringify(report)}\n`);
  });
  return command;
}

function fail(message: string): void {
  process.stderr.write(`sovra: ${message}\n`);
  process.exitCode = 2;
}
