import type { Command } from 'commander';
import { createLogger } from '../platform/logger.ts';
import { runLifecyclePass } from '../server/lifecycle-pass.ts';
import { storeCommand } from './store-command.ts';

/**
 * `sovra admin lifecycle-run`: one lifecycle pass now, or as if it were `--now` (an ISO 8601
 * time). The pass's clock runs from that instant, so expiry can be proved or rehearsed without
 * waiting days. Prints the pass report as JSON on stdout; logs (one line per action) go to stderr.
 */
export function lifecycleRunCommand(env: Record<string, string | undefined>): Command {
  return storeCommand(env, {
    name: 'lifecycle-run',
    description: 'run one lifecycle pass over every bucket with a lifecycle configuration, then exit',
    nowHelp: 'evaluate the rules as if it were this time (e.g. 2031-01-01T00:00:00Z)',
    extraSettings: ['notificationTargets'],
    async run(config, clock) {
      const log = createLogger(config.logLevel, process.stderr);
      const report = await runLifecyclePass(config, clock, log);
      process.stdout.write(`${JSON.stringify({ ...report, startedAt: report.startedAt.toISOString() })}\n`);
    },
  });
}
