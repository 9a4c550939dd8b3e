import { Command, Option } from 'commander';
import { systemClock } from '../platform/clock.ts';
import { ConfigError, loadServerConfig, SERVER_SETTINGS, type RawSettings } from '../platform/config.ts';
import { isSovraError } from '../platform/errors.ts';
import { openObjectStoreForMaintenance } from '../server/maintenance.ts';

/** Server settings a maintenance command needs to find the stores (the rest keep their defaults). */
const STORE_SETTINGS = ['dataDir', 'metadataBackend', 'postgresUrl', 'postgresSchema', 'region', 'config'];

/**
 * `sovra admin …`: maintenance through the domain, never around it. A version that Object Lock
 * protects is refused here exactly as through the S3 API.
 */
export function adminCommand(env: Record<string, string | undefined>): Command {
  const admin = new Command('admin').description('maintenance commands that go through the storage rules');

  const deleteVersion = admin
    .command('delete-object-version')
    .description(
      'permanently delete one object version (refused while Object Lock protects it; ' +
        'GOVERNANCE retention only with --bypass-governance-retention)',
    )
    .requiredOption('--bucket <name>', 'bucket')
    .requiredOption('--key <key>', 'object key')
    .requiredOption('--version-id <id>', "version id ('null' for the null version)")
    .option('--bypass-governance-retention', 'remove a version under GOVERNANCE retention');
  for (const spec of SERVER_SETTINGS.filter((s) => STORE_SETTINGS.includes(s.key))) {
    deleteVersion.addOption(new Option(spec.flag, `${spec.description} [env ${spec.env}]`));
  }
  deleteVersion.action(async (options: Record<string, string | boolean | undefined>) => {
    const flags: RawSettings = {};
    for (const key of STORE_SETTINGS) {
      const value = options[key];
      if (value !== undefined) flags[key] = value;
    }
    let config;
    try {
      config = loadServerConfig(flags, env);
    } catch (error) {
      if (error instanceof ConfigError) {
        process.stderr.write(`sovra: ${error.message}\n`);
        process.exitCode = 2;
        return;
      }
      throw error;
    }
    const bucket = String(options.bucket);
    const key = String(options.key);
    const versionId = String(options.versionId);
    const { objects, close } = await openObjectStoreForMaintenance(config, systemClock);
    try {
      const result = await objects.deleteObject(
        null,
        bucket,
        key,
        versionId,
        'api',
        undefined,
        options.bypassGovernanceRetention === true,
      );
      process.stdout.write(`${JSON.stringify({ deleted: { bucket, key, versionId: result.versionId } })}\n`);
    } catch (error) {
      if (!isSovraError(error)) throw error;
      process.stderr.write(`sovra: refused: ${error.code}: ${error.message}\n`);
      process.exitCode = 1;
    } finally {
      await close();
    }
  });
  return admin;
}
