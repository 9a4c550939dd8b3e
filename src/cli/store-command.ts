import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import { OffsetClock, type Clock } from '../platform/clock.ts';
import {
  ConfigError,
  loadServerConfig,
  SERVER_SETTINGS,
  type RawSettings,
  type ServerConfig,
} from '../platform/config.ts';

/** Server settings every offline command needs to find the stores; the rest keep their defaults. */
const STORE_SETTINGS = [
  'dataDir',
  'metadataBackend',
  'postgresUrl',
  'postgresSchema',
  'region',
  'logLevel',
  'config',
];

export interface StoreCommandSpec {
  name: string;
  description: string;
  /** Help for `--now`; commands without a `--now` option leave it out. */
  nowHelp?: string;
  /** Server settings this command reads beyond STORE_SETTINGS (e.g. notificationTargets). */
  extraSettings?: readonly string[];
  run(
    config: ServerConfig,
    clock: Clock,
    options: Record<string, string | boolean | undefined>,
  ): Promise<void>;
  /** True when these options do not use the local stores (they name a remote log), so no data directory is needed. */
  storesUnused?: (options: Record<string, string | boolean | undefined>) => boolean;
}

/**
 * An offline command that opens the server's stores with the server's own settings (flags,
 * SOVRA_* environment, config file), optionally as of `--now` (an ISO 8601 time, so time-based
 * passes can be proved or rehearsed without waiting days), runs, then exits. Bad settings exit 2
 * with the loader's message naming the setting.
 */
export function storeCommand(env: Record<string, string | undefined>, spec: StoreCommandSpec): Command {
  const settings = [...STORE_SETTINGS, ...(spec.extraSettings ?? [])];
  const command = new Command(spec.name).description(spec.description);
  if (spec.nowHelp !== undefined) command.option('--now <iso8601>', spec.nowHelp);
  for (const setting of SERVER_SETTINGS.filter((s) => settings.includes(s.key))) {
    command.addOption(new Option(setting.flag, `${setting.description} [env ${setting.env}]`));
  }
  return command.action(async (options: Record<string, string | boolean | undefined>) => {
    const flags: RawSettings = {};
    for (const key of settings) {
      const value = options[key];
      if (value !== undefined) flags[key] = value;
    }
    let config;
    try {
      config = loadServerConfig(flags, env);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return failCommand(error.message);
    }
    if (
      config.metadata.backend === 'sqlite' &&
      !existsSync(config.dataDir) &&
      spec.storesUnused?.(options) !== true
    ) {
      return failCommand(`no data directory at ${config.dataDir}`);
    }
    const nowText = typeof options.now === 'string' ? options.now : null;
    const nowMs = nowText === null ? Date.now() : Date.parse(nowText);
    if (!Number.isFinite(nowMs) || (nowText !== null && !/^\d{4}-\d{2}-\d{2}/.test(nowText))) {
      return failCommand(`--now: "${String(nowText)}" is not an ISO 8601 time`);
    }
    await spec.run(config, new OffsetClock(nowMs - Date.now()), options);
  });
}

/** Exit status 2 with a one-line message: the convention of every `sovra` subcommand's usage errors. */
export function failCommand(message: string): void {
  process.stderr.write(`sovra: ${message}\n`);
  process.exitCode = 2;
}
