import type { Command } from 'commander';
import { runKeyDeletionPass } from '../server/kms-deletion-pass.ts';
import { storeCommand } from './store-command.ts';

/**
 * `sovra admin kms-maintenance`: completes the KMS key deletions that are due now, or as of
 * `--now` (an ISO 8601 time), then exits — so crypto-shredding can be proved or rehearsed without
 * waiting out the 7-to-30-day window. Prints the report as JSON on stdout.
 */
export function kmsMaintenanceCommand(env: Record<string, string | undefined>): Command {
  return storeCommand(env, {
    name: 'kms-maintenance',
    description: 'complete the KMS key deletions that are due, then exit',
    nowHelp: 'act as if it were this time (e.g. 2031-01-01T00:00:00Z)',
    async run(config, clock) {
      const report = await runKeyDeletionPass(config, clock);
      process.stdout.write(`${JSON.stringify(report)}\n`);
    },
  });
}
