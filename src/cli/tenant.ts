import { Command } from 'commander';
import {
  runAdminCall,
  saveCredentials,
  segment,
  withConnectionOptions,
  withPageOptions,
  pageQuery,
  type ConnectionOptions,
} from './admin-client.ts';

/** `sovra tenant …`: the platform operator's tenants (agencies), through the admin API. */
export function tenantCommand(env: Record<string, string | undefined>): Command {
  const tenant = new Command('tenant').description(
    'create and read tenants (agencies); root-tenant administrators only, except reading one’s own tenant',
  );

  withConnectionOptions(
    tenant
      .command('create')
      .description(
        'create a tenant and its first administrator with an access key; the secret is printed only this once',
      )
      .requiredOption(
        '--id <id>',
        'tenant id: 3 to 63 characters of a-z, 0-9 and inner hyphens (the account id in ARNs)',
      )
      .requiredOption('--name <name>', 'display name')
      .option('--admin-name <name>', 'user name of the first administrator', 'admin')
      .option(
        '--save-credentials <file>',
        'also write the administrator’s key to this file (mode 0600) for --credentials',
      ),
    env,
  ).action(
    (
      options: ConnectionOptions & { id: string; name: string; adminName: string; saveCredentials?: string },
    ) =>
      runAdminCall(options, async (client) => {
        const answer = await client.call('POST', 'tenants', {
          body: { id: options.id, name: options.name, adminName: options.adminName },
        });
        if (options.saveCredentials !== undefined) {
          saveCredentials(options.saveCredentials, (answer as { accessKey?: unknown }).accessKey);
        }
        return answer;
      }),
  );

  withConnectionOptions(withPageOptions(tenant.command('list').description('list tenants')), env).action(
    (options: ConnectionOptions & { maxItems?: string; marker?: string }) =>
      runAdminCall(options, (client) => client.call('GET', 'tenants', { query: pageQuery(options) })),
  );

  withConnectionOptions(
    tenant.command('get').description('read one tenant').argument('<id>', 'tenant id'),
    env,
  ).action((id: string, options: ConnectionOptions) =>
    runAdminCall(options, (client) => client.call('GET', `tenants/${segment(id)}`)),
  );
  return tenant;
}
