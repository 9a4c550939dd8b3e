import { Command, Option } from 'commander';
import { systemClock } from '../platform/clock.ts';
import { ConfigError, loadServerConfig, SERVER_SETTINGS, type RawSettings } from '../platform/config.ts';
import { createLogger } from '../platform/logger.ts';
import { startServer } from '../server/sovra-server.ts';
import { adminCommand } from './admin.ts';
import { accessCommand } from './access.ts';
import { auditCommand } from './audit.ts';
import { bucketCommand } from './bucket.ts';
import { idpCommand } from './idp.ts';
import { keysCommand } from './keys.ts';
import { kmsMaintenanceCommand } from './kms-maintenance.ts';
import { lifecycleRunCommand } from './lifecycle-run.ts';
import { loginCommand } from './login.ts';
import { operatorCommand } from './operator.ts';
import { accessKeyCommand } from './accesskey.ts';
import { policyCommand } from './policy.ts';
import { roleCommand } from './role.ts';
import { tenantCommand } from './tenant.ts';
import { groupCommand, userCommand } from './user.ts';

/** The `sovra` command. */
export function buildProgram(): Command {
  const program = new Command('sovra')
    .description('Sovra: sovereign cloud platform — S3-compatible object storage with in-country key custody')
    .showHelpAfterError()
    .configureHelp({ sortSubcommands: true });

  const server = program
    .command('server')
    .description('run the Sovra server (S3 API) on the embedded default or PostgreSQL metadata')
    .addHelpText(
      'after',
      `\nEvery flag can also be set by environment variable or config file (flags > environment > file > default):\n` +
        SERVER_SETTINGS.map(
          (s) =>
            `  ${s.env.padEnd(24)} ${s.key.padEnd(16)} ${s.description}${s.default === undefined ? '' : ` (default ${s.default})`}`,
        ).join('\n') +
        `\n\nOn first start Sovra creates the root tenant and an admin access key, prints it once and writes it\n` +
        `to <data-dir>/admin-credentials.json (JSON with accessKeyId and secretAccessKey, mode 0600).\n` +
        `Health: GET /_sovra/health/live, readiness: GET /_sovra/health/ready.`,
    );
  for (const spec of SERVER_SETTINGS) {
    const option = new Option(spec.flag, `${spec.description} [env ${spec.env}]`);
    server.addOption(option);
  }
  server.action(async (options: Record<string, string | boolean | undefined>) => {
    const flags: RawSettings = {};
    for (const spec of SERVER_SETTINGS) {
      const value = options[spec.key];
      if (value !== undefined) flags[spec.key] = value;
    }
    let config;
    try {
      config = loadServerConfig(flags, process.env);
    } catch (error) {
      if (error instanceof ConfigError) {
        process.stderr.write(`sovra: ${error.message}\n`);
        process.exit(2);
      }
      throw error;
    }
    const log = createLogger(config.logLevel);
    let running;
    try {
      running = await startServer(config, log, systemClock, (text) => process.stdout.write(text));
    } catch (error) {
      // Settings only checkable once their subject loads (e.g. witness keys) name themselves too.
      if (error instanceof ConfigError) {
        process.stderr.write(`sovra: ${error.message}\n`);
        process.exit(2);
      }
      throw error;
    }
    const shutdown = (signal: string) => {
      log.info({ signal }, 'signal received');
      void running.stop().then(
        () => {
          log.flush();
          process.exit(0);
        },
        (error: unknown) => {
          log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
  const admin = adminCommand(process.env);
  admin.addCommand(lifecycleRunCommand(process.env));
  admin.addCommand(kmsMaintenanceCommand(process.env));
  program.addCommand(admin);
  program.addCommand(operatorCommand(process.env));
  program.addCommand(keysCommand(process.env));
  program.addCommand(auditCommand(process.env));
  program.addCommand(accessCommand(process.env));
  // Tenants and identities, through the admin API of a running server (/_sovra/admin/).
  program.addCommand(tenantCommand(process.env));
  program.addCommand(userCommand(process.env));
  program.addCommand(groupCommand(process.env));
  program.addCommand(roleCommand(process.env));
  program.addCommand(accessKeyCommand(process.env));
  program.addCommand(policyCommand(process.env));
  program.addCommand(bucketCommand(process.env));
  // Federation: identity providers, and single sign-on for temporary credentials.
  program.addCommand(idpCommand(process.env));
  program.addCommand(loginCommand(process.env));
  return program;
}

await buildProgram().parseAsync(process.argv);
