import { Command } from 'commander';
import {
  collect,
  keyValuePairs,
  pageQuery,
  runAdminCall,
  segment,
  withConnectionOptions,
  withPageOptions,
  type ConnectionOptions,
} from './admin-client.ts';

interface AttributeOptions {
  description?: string;
  clearance?: string;
  compartment?: string[];
  tag?: string[];
}

/** `sovra user …`: users and service accounts of the signing principal's tenant. */
export function userCommand(env: Record<string, string | undefined>): Command {
  const user = new Command('user').description(
    'manage the users and service accounts of your tenant (tenant administrators, or as identity policies allow)',
  );

  withConnectionOptions(
    attributeOptions(
      user
        .command('create')
        .description('create a user (a person) or, with --service, a service account (a workload)')
        .argument('<name>', 'user name: letters, digits and + = , . @ _ -')
        .option('--service', 'a service account rather than a person')
        .option('--admin', 'a tenant administrator (only administrators make them)'),
    ),
    env,
  ).action(
    (name: string, options: ConnectionOptions & AttributeOptions & { service?: boolean; admin?: boolean }) =>
      runAdminCall(options, (client) =>
        client.call('POST', 'users', {
          body: {
            name,
            kind: options.service === true ? 'service' : 'user',
            ...(options.admin === true ? { admin: true } : {}),
            ...attributesOf(options),
            ...(options.tag === undefined ? {} : { tags: keyValuePairs(options.tag, '--tag') }),
          },
        }),
      ),
  );

  withConnectionOptions(
    withPageOptions(user.command('list').description('list users and service accounts')),
    env,
  ).action((options: ConnectionOptions & { maxItems?: string; marker?: string }) =>
    runAdminCall(options, (client) => client.call('GET', 'users', { query: pageQuery(options) })),
  );

  withConnectionOptions(user.command('get').description('read one user').argument('<name>'), env).action(
    (name: string, options: ConnectionOptions) =>
      runAdminCall(options, (client) => client.call('GET', `users/${segment(name)}`)),
  );

  withConnectionOptions(
    user
      .command('update')
      .description('change a user’s description, clearance, compartments or administrator flag')
      .argument('<name>')
      .option('--description <text>', 'free text')
      .option('--clearance <level>', 'classification level id, e.g. CONFIDENTIAL ("none" clears it)')
      .option('--compartment <id>', 'a compartment (need-to-know category); repeat for several', collect)
      .option('--no-compartments', 'remove every compartment')
      .option('--admin', 'make a tenant administrator')
      .option('--no-admin', 'no longer a tenant administrator'),
    env,
  ).action(
    (
      name: string,
      options: ConnectionOptions & AttributeOptions & { compartments?: boolean; admin?: boolean },
    ) =>
      runAdminCall(options, (client) =>
        client.call('PATCH', `users/${segment(name)}`, {
          body: {
            ...attributesOf(options),
            ...(options.compartments === false ? { compartments: [] } : {}),
            ...(options.admin === undefined ? {} : { admin: options.admin }),
          },
        }),
      ),
  );

  withConnectionOptions(
    user
      .command('delete')
      .description('delete a user; its keys, policies and group memberships must be removed first')
      .argument('<name>'),
    env,
  ).action((name: string, options: ConnectionOptions) =>
    runAdminCall(options, (client) => client.call('DELETE', `users/${segment(name)}`)),
  );

  withConnectionOptions(
    user
      .command('tag')
      .description('add or replace tags (aws:PrincipalTag/<key> in policies), or remove them')
      .argument('<name>')
      .option('--tag <key=value>', 'a tag to add or replace; repeat for several', collect)
      .option('--remove <key>', 'a tag key to remove; repeat for several', collect),
    env,
  ).action((name: string, options: ConnectionOptions & { tag?: string[]; remove?: string[] }) =>
    runAdminCall(options, async (client) => {
      let answer: unknown = null;
      const tags = keyValuePairs(options.tag, '--tag');
      if (tags !== undefined)
        answer = await client.call('POST', `users/${segment(name)}/tags`, { body: { tags } });
      for (const key of options.remove ?? []) {
        answer = await client.call('DELETE', `users/${segment(name)}/tags/${segment(key)}`);
      }
      return answer ?? client.call('GET', `users/${segment(name)}`);
    }),
  );

  withConnectionOptions(
    user.command('groups').description('list the groups of a user').argument('<name>'),
    env,
  ).action((name: string, options: ConnectionOptions) =>
    runAdminCall(options, (client) => client.call('GET', `users/${segment(name)}/groups`)),
  );
  return user;
}

/** `sovra group …`: groups of users, to which managed policies are attached. */
export function groupCommand(env: Record<string, string | undefined>): Command {
  const group = new Command('group').description('manage groups of users in your tenant');
  withConnectionOptions(group.command('create').description('create a group').argument('<name>'), env).action(
    (name: string, options: ConnectionOptions) =>
      runAdminCall(options, (client) => client.call('POST', 'groups', { body: { name } })),
  );
  withConnectionOptions(withPageOptions(group.command('list').description('list groups')), env).action(
    (options: ConnectionOptions & { maxItems?: string; marker?: string }) =>
      runAdminCall(options, (client) => client.call('GET', 'groups', { query: pageQuery(options) })),
  );
  withConnectionOptions(
    withPageOptions(group.command('get').description('read a group and its members').argument('<name>')),
    env,
  ).action((name: string, options: ConnectionOptions & { maxItems?: string; marker?: string }) =>
    runAdminCall(options, (client) =>
      client.call('GET', `groups/${segment(name)}`, { query: pageQuery(options) }),
    ),
  );
  withConnectionOptions(
    group.command('delete').description('delete a group without members or policies').argument('<name>'),
    env,
  ).action((name: string, options: ConnectionOptions) =>
    runAdminCall(options, (client) => client.call('DELETE', `groups/${segment(name)}`)),
  );
  withConnectionOptions(
    group.command('add-user').description('add a user to a group').argument('<group>').argument('<user>'),
    env,
  ).action((name: string, userName: string, options: ConnectionOptions) =>
    runAdminCall(options, (client) =>
      client.call('PUT', `groups/${segment(name)}/members/${segment(userName)}`),
    ),
  );
  withConnectionOptions(
    group
      .command('remove-user')
      .description('remove a user from a group')
      .argument('<group>')
      .argument('<user>'),
    env,
  ).action((name: string, userName: string, options: ConnectionOptions) =>
    runAdminCall(options, (client) =>
      client.call('DELETE', `groups/${segment(name)}/members/${segment(userName)}`),
    ),
  );
  return group;
}

/** The options of a principal's attributes, shared by `user create` and `role create`. */
export function attributeOptions(command: Command): Command {
  return command
    .option('--description <text>', 'free text')
    .option('--clearance <level>', 'classification level id, e.g. CONFIDENTIAL')
    .option('--compartment <id>', 'a compartment (need-to-know category); repeat for several', collect)
    .option('--tag <key=value>', 'a tag (aws:PrincipalTag/<key>); repeat for several', collect);
}

export function attributesOf(options: AttributeOptions): Record<string, unknown> {
  return {
    ...(options.description === undefined ? {} : { description: options.description }),
    ...(options.clearance === undefined
      ? {}
      : { clearance: options.clearance === 'none' ? null : options.clearance }),
    ...(options.compartment === undefined ? {} : { compartments: options.compartment }),
  };
}
