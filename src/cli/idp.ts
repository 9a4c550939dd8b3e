import { Command } from 'commander';
import {
  collect,
  runAdminCall,
  segment,
  UsageError,
  withConnectionOptions,
  type ConnectionOptions,
} from './admin-client.ts';

/**
 * `sovra idp …`: the tenant's OpenID Connect identity providers and their claim mapping rules
 * (docs/reference/sts-federation.md), through the admin API.
 */
export function idpCommand(env: Record<string, string | undefined>): Command {
  const idp = new Command('idp').description(
    'manage OpenID Connect identity providers whose ID tokens may be exchanged for temporary credentials',
  );

  withConnectionOptions(
    idp
      .command('create')
      .description('register an identity provider: its issuer, client ids and claim mapping rules')
      .argument('<issuer>', 'the issuer URL exactly as tokens carry it in iss (https; http only on loopback)')
      .requiredOption('--audience <client-id>', 'a client id tokens must be issued to (repeatable)', collect)
      .option(
        '--map <claim=value:role[,role…]>',
        'a mapping rule: tokens whose claim equals (or, for an array, contains) value may assume the roles (repeatable)',
        collect,
      )
      .option('--clearance-claim <claim>', 'the claim carrying the session’s clearance level')
      .option('--compartments-claim <claim>', 'the claim carrying the session’s compartments'),
    env,
  ).action(
    (
      issuer: string,
      options: ConnectionOptions & {
        audience: string[];
        map?: string[];
        clearanceClaim?: string;
        compartmentsClaim?: string;
      },
    ) =>
      runAdminCall(options, (client) =>
        client.call('POST', 'identity-providers', {
          body: {
            issuer,
            audiences: options.audience,
            rules: (options.map ?? []).map(parseRule),
            ...(options.clearanceClaim === undefined ? {} : { clearanceClaim: options.clearanceClaim }),
            ...(options.compartmentsClaim === undefined
              ? {}
              : { compartmentsClaim: options.compartmentsClaim }),
          },
        }),
      ),
  );

  withConnectionOptions(idp.command('list').description('list the tenant’s identity providers'), env).action(
    (options: ConnectionOptions) =>
      runAdminCall(options, (client) => client.call('GET', 'identity-providers')),
  );

  withConnectionOptions(
    idp.command('get').description('read an identity provider').argument('<issuer>'),
    env,
  ).action((issuer: string, options: ConnectionOptions) =>
    runAdminCall(options, (client) => client.call('GET', `identity-providers/${segment(issuer)}`)),
  );

  withConnectionOptions(
    idp
      .command('delete')
      .description(
        'delete an identity provider (sessions already issued stay until they expire or are revoked)',
      )
      .argument('<issuer>'),
    env,
  ).action((issuer: string, options: ConnectionOptions) =>
    runAdminCall(options, (client) => client.call('DELETE', `identity-providers/${segment(issuer)}`)),
  );
  return idp;
}

/** `groups=auditors:auditor,reader` → {claim: groups, equals: auditors, roles: [auditor, reader]}. */
export function parseRule(text: string): { claim: string; equals: string; roles: string[] } {
  const match = /^([^=]+)=(.+):([^:]+)$/.exec(text);
  if (match === null) throw new UsageError(`--map ${text}: expected claim=value:role[,role…]`);
  return { claim: match[1]!, equals: match[2]!, roles: match[3]!.split(',').filter((role) => role !== '') };
}
