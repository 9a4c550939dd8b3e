import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import { OffsetClock } from '../platform/clock.ts';
import { ConfigError, loadServerConfig, SERVER_SETTINGS, type RawSettings } from '../platform/config.ts';
import { createLogger } from '../platform/logger.ts';
import { runLifecyclePass } from '../server/lifecycle-pass.ts';

/** Server settings the pass needs to find the stores; the rest keep their defaults. */
const STORE_SETTINGS = [
  'dataDir',
  'metadataBackend',
  'postgresUrl',
  'postgresSchema',
  'region',
  'notificationTargets',
  'logLevel',
  'config',
];

/**
 * `sovra admin lifecycle-run`: one lifecycle pass now, or as if it were `--now` (an ISO 8601
 * time). The pass's clock runs from that instant, so expiry can be proved or rehearsed without
 * waiting days. Prints the pass report as JSON on stdout; logs (one line per action) go to stderr.
 */
export function lifecycleRunCommand(env: Record<string, string | undefined>): Command {
  const command = new Command('lifecycle-run')
    .description('run one lifecycle pass over every bucket with a lifecycle configuration, then exit')
    .option('--now <iso8601>', 'evaluate the rules as if it were this time (e.g. 2031-01-01T00:00:00Z)');
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
    const log = createLogger(config.logLevel, process.stderr);
    const report = await runLifecyclePass(config, new OffsetClock(nowMs - Date.now()), log);
    process.stdout.write(`${JSON.stringify({ ...report, startedAt: report.startedAt.toISOString() })}\n`);
  });
  return command;
}

function fail(message: string): void {
  process.stderr.write(`sovra: ${message}\n`);
  process.exitCode = 2;
}
