import { Command } from 'commander';
import {
  keyValuePairs,
  pageQuery,
  runAdminCall,
  segment,
  withConnectionOptions,
  withPageOptions,
  type ConnectionOptions,
} from './admin-client.ts';
import { readDocument } from './policy.ts';
import { attributeOptions, attributesOf } from './user.ts';

/** `sovra role …`: roles with their trust policies (who may assume them). */
export function roleCommand(env: Record<string, string | undefined>): Command {
  const role = new Command('role').description(
    'manage roles: identities that principals assume, with a trust policy saying who may',
  );

  withConnectionOptions(
    attributeOptions(
      role
        .command('create')
        .description(
          'create a role; its trust policy names who may assume it (no Resource, sts: actions only)',
        )
        .argument('<name>')
        .requiredOption(
          '--trust-policy <json|file|->',
          'the trust policy: inline JSON, a file (also file://path), or -',
        ),
    ),
    env,
  ).action(
    (
      name: string,
      options: ConnectionOptions & {
        trustPolicy: string;
        description?: string;
        clearance?: string;
        compartment?: string[];
        tag?: string[];
      },
    ) =>
      runAdminCall(options, (client) =>
        client.call('POST', 'roles', {
          body: {
            name,
            trustPolicy: readDocument(options.trustPolicy),
            ...attributesOf(options),
            ...(options.tag === undefined ? {} : { tags: keyValuePairs(options.tag, '--tag') }),
          },
        }),
      ),
  );

  withConnectionOptions(withPageOptions(role.command('list').description('list roles')), env).action(
    (options: ConnectionOptions & { maxItems?: string; marker?: string }) =>
      runAdminCall(options, (client) => client.call('GET', 'roles', { query: pageQuery(options) })),
  );

  withConnectionOptions(
    role.command('get').description('read a role with its trust policy').argument('<name>'),
    env,
  ).action((name: string, options: ConnectionOptions) =>
    runAdminCall(options, (client) => client.call('GET', `roles/${segment(name)}`)),
  );

  withConnectionOptions(
    role
      .command('update-trust')
      .description('replace a role’s trust policy')
      .argument('<name>')
      .requiredOption('--trust-policy <json|file|->', 'the new trust policy'),
    env,
  ).action((name: string, options: ConnectionOptions & { trustPolicy: string }) =>
    runAdminCall(options, (client) =>
      client.call('PUT', `roles/${segment(name)}/trust-policy`, {
        body: { trustPolicy: readDocument(options.trustPolicy) },
      }),
    ),
  );

  withConnectionOptions(
    role
      .command('delete')
      .description('delete a role; its policies must be detached first')
      .argument('<name>'),
    env,
  ).action((name: string, options: ConnectionOptions) =>
    runAdminCall(options, (client) => client.call('DELETE', `roles/${segment(name)}`)),
  );

  withConnectionOptions(
    role
      .command('revoke-sessions')
      .description(
        'revoke every session of the role issued until now (temporary credentials refused at once); new sessions may be assumed',
      )
      .argument('<name>'),
    env,
  ).action((name: string, options: ConnectionOptions) =>
    runAdminCall(options, (client) => client.call('POST', `roles/${segment(name)}/revoke-sessions`)),
  );
  return role;
}
