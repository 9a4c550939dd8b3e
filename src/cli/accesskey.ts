import { Command } from 'commander';
import {
  runAdminCall,
  saveCredentials,
  segment,
  UsageError,
  withConnectionOptions,
  type ConnectionOptions,
} from './admin-client.ts';

const DURATION = /^\+?([0-9]{1,9})([smhd])$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `sovra accesskey …`: access keys of users and service accounts (at most two each, for rotation). */
export function accessKeyCommand(env: Record<string, string | undefined>): Command {
  const accessKey = new Command('accesskey').description(
    'create, list, disable, enable and delete access keys; rotate by creating the second key, switching, then deleting the first',
  );

  withConnectionOptions(
    accessKey
      .command('create')
      .description('create an access key; its secret is printed only this once and stored only sealed')
      .requiredOption('--user <name>', 'the user or service account')
      .option(
        '--expires <when>',
        'when the key stops working: an ISO 8601 time, or a duration from now such as 90d, 12h, 30m',
      )
      .option('--save <file>', 'also write the key to this file (mode 0600) for --credentials'),
    env,
  ).action((options: ConnectionOptions & { user: string; expires?: string; save?: string }) =>
    runAdminCall(options, async (client) => {
      const expiresAt = options.expires === undefined ? undefined : expiryOf(options.expires, Date.now());
      const answer = await client.call('POST', `users/${segment(options.user)}/access-keys`, {
        body: expiresAt === undefined ? {} : { expiresAt },
      });
      if (options.save !== undefined)
        saveCredentials(options.save, (answer as { accessKey?: unknown }).accessKey);
      return answer;
    }),
  );

  withConnectionOptions(
    accessKey
      .command('list')
      .description('list a user’s access keys (never their secrets)')
      .requiredOption('--user <name>', 'the user or service account'),
    env,
  ).action((options: ConnectionOptions & { user: string }) =>
    runAdminCall(options, (client) => client.call('GET', `users/${segment(options.user)}/access-keys`)),
  );

  for (const [name, status, description] of [
    ['disable', 'Inactive', 'deactivate a key: refused from the next request on'],
    ['enable', 'Active', 'activate a deactivated key again'],
  ] as const) {
    withConnectionOptions(
      accessKey
        .command(name)
        .description(description)
        .argument('<accessKeyId>')
        .requiredOption('--user <name>', 'the user or service account holding the key'),
      env,
    ).action((accessKeyId: string, options: ConnectionOptions & { user: string }) =>
      runAdminCall(options, (client) =>
        client.call('PATCH', `users/${segment(options.user)}/access-keys/${segment(accessKeyId)}`, {
          body: { status },
        }),
      ),
    );
  }

  withConnectionOptions(
    accessKey
      .command('delete')
      .description('delete a key for good')
      .argument('<accessKeyId>')
      .requiredOption('--user <name>', 'the user or service account holding the key'),
    env,
  ).action((accessKeyId: string, options: ConnectionOptions & { user: string }) =>
    runAdminCall(options, (client) =>
      client.call('DELETE', `users/${segment(options.user)}/access-keys/${segment(accessKeyId)}`),
    ),
  );
  return accessKey;
}

/** `--expires`: an ISO 8601 time, or a duration from `nowMs` (`90d`, `+12h`, `30m`, `45s`). */
export function expiryOf(text: string, nowMs: number): string {
  const duration = DURATION.exec(text);
  if (duration !== null) {
    return new Date(nowMs + Number(duration[1]) * UNIT_MS[duration[2] as keyof typeof UNIT_MS]).toISOString();
  }
  const ms = /^\d{4}-\d{2}-\d{2}T/.test(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw new UsageError(`--expires: "${text}" is neither an ISO 8601 time nor a duration such as 90d`);
  }
  return new Date(ms).toISOString();
}
