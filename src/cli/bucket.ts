import { Command } from 'commander';
import {
  pageQuery,
  runAdminCall,
  segment,
  withConnectionOptions,
  withPageOptions,
  type ConnectionOptions,
} from './admin-client.ts';

/**
 * `sovra bucket …`: the tenant's buckets with their labels, read through the admin API (tenant
 * administrators). Buckets are made and changed through S3; this shows their labels beside the
 * principals' clearances.
 */
export function bucketCommand(env: Record<string, string | undefined>): Command {
  const bucket = new Command('bucket').description(
    'read the tenant’s buckets with their labels (classification level and compartments)',
  );

  withConnectionOptions(
    withPageOptions(bucket.command('list').description('list the tenant’s buckets with their labels')),
    env,
  ).action((options: ConnectionOptions & { maxItems?: string; marker?: string }) =>
    runAdminCall(options, (client) => client.call('GET', 'buckets', { query: pageQuery(options) })),
  );

  withConnectionOptions(
    bucket
      .command('get')
      .description('read one bucket: region, creation time, label, versioning, object lock')
      .argument('<name>'),
    env,
  ).action((name: string, options: ConnectionOptions) =>
    runAdminCall(options, (client) => client.call('GET', `buckets/${segment(name)}`)),
  );
  return bucket;
}
