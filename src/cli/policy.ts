import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { MAX_GUARDRAIL_TEXT_BYTES } from '../domain/guardrails/limits.ts';
import { IDENTITY_POLICY_SIZE_LIMIT } from '../domain/iam/policy/index.ts';
import {
  pageQuery,
  runAdminCall,
  segment,
  UsageError,
  withConnectionOptions,
  withPageOptions,
  type ConnectionOptions,
} from './admin-client.ts';

/** Sovra's bound on a document read from a file or standard input (whitespace included). */
const DOCUMENT_FILE_MAX_BYTES = 64 * 1024;

interface HolderOptions {
  user?: string;
  role?: string;
  group?: string;
}

/** `sovra policy …`: managed identity policies (AWS IAM JSON) and their attachments. */
export function policyCommand(env: Record<string, string | undefined>): Command {
  const policy = new Command('policy').description(
    'manage identity policies (AWS IAM JSON) and attach them to users, roles and groups',
  );

  withConnectionOptions(
    policy
      .command('create')
      .description(
        `create a managed policy; malformed documents are refused with MalformedPolicy naming the element (at most ${IDENTITY_POLICY_SIZE_LIMIT.maxSize} characters without whitespace)`,
      )
      .argument('<name>')
      .requiredOption(
        '--document <json|file|->',
        'the policy: inline JSON, a file (also file://path), or - for standard input',
      )
      .option('--description <text>', 'free text'),
    env,
  ).action((name: string, options: ConnectionOptions & { document: string; description?: string }) =>
    runAdminCall(options, (client) =>
      client.call('POST', 'policies', {
        body: {
          name,
          document: readDocument(options.document),
          ...(options.description === undefined ? {} : { description: options.description }),
        },
      }),
    ),
  );

  withConnectionOptions(
    withPageOptions(policy.command('list').description('list managed policies')),
    env,
  ).action((options: ConnectionOptions & { maxItems?: string; marker?: string }) =>
    runAdminCall(options, (client) => client.call('GET', 'policies', { query: pageQuery(options) })),
  );

  withConnectionOptions(
    policy.command('get').description('read a policy with its document').argument('<name>'),
    env,
  ).action((name: string, options: ConnectionOptions) =>
    runAdminCall(options, (client) => client.call('GET', `policies/${segment(name)}`)),
  );

  withConnectionOptions(
    policy
      .command('update')
      .description('replace a policy’s document (applies to every principal it is attached to)')
      .argument('<name>')
      .option('--document <json|file|->', 'the new document')
      .option('--description <text>', 'the new description'),
    env,
  ).action((name: string, options: ConnectionOptions & { document?: string; description?: string }) =>
    runAdminCall(options, (client) =>
      client.call('PUT', `policies/${segment(name)}`, {
        body: {
          ...(options.document === undefined ? {} : { document: readDocument(options.document) }),
          ...(options.description === undefined ? {} : { description: options.description }),
        },
      }),
    ),
  );

  withConnectionOptions(
    policy.command('delete').description('delete a policy attached to nothing').argument('<name>'),
    env,
  ).action((name: string, options: ConnectionOptions) =>
    runAdminCall(options, (client) => client.call('DELETE', `policies/${segment(name)}`)),
  );

  withConnectionOptions(
    holderOptions(
      policy.command('attach').description('attach a policy to a user, role or group').argument('<name>'),
    ),
    env,
  ).action((name: string, options: ConnectionOptions & HolderOptions) =>
    runAdminCall(options, (client) => client.call('PUT', `${holderPath(options)}/policies/${segment(name)}`)),
  );

  withConnectionOptions(
    holderOptions(
      policy.command('detach').description('detach a policy from a user, role or group').argument('<name>'),
    ),
    env,
  ).action((name: string, options: ConnectionOptions & HolderOptions) =>
    runAdminCall(options, (client) =>
      client.call('DELETE', `${holderPath(options)}/policies/${segment(name)}`),
    ),
  );

  withConnectionOptions(
    holderOptions(
      policy.command('attached').description('list the policies attached to a user, role or group'),
    ),
    env,
  ).action((options: ConnectionOptions & HolderOptions) =>
    runAdminCall(options, (client) => client.call('GET', `${holderPath(options)}/policies`)),
  );

  withConnectionOptions(
    policy
      .command('explain')
      .description(
        'show what the S3 request path decides for a principal of your tenant, and every statement, guardrail and label rule that contributed (tenant administrators)',
      )
      .requiredOption('--principal <name|arn>', 'a user, service account or role: its name or ARN')
      .requiredOption('--action <action>', 'the policy action, e.g. s3:GetObject')
      .option(
        '--resource <bucket[/key]>',
        'the bucket, or the object, as bucket/key or arn:aws:s3:::bucket/key',
      )
      .option('--source-ip <address>', 'aws:SourceIp of the request (default 0.0.0.0)')
      .option('--insecure-transport', 'the request comes over plain HTTP (aws:SecureTransport false)'),
    env,
  ).action(
    (
      options: ConnectionOptions & {
        principal: string;
        action: string;
        resource?: string;
        sourceIp?: string;
        insecureTransport?: boolean;
      },
    ) =>
      runAdminCall(options, (client) =>
        client.call('POST', 'explain', {
          body: {
            principal: options.principal,
            action: options.action,
            ...resourceOf(options.resource),
            ...(options.sourceIp === undefined ? {} : { sourceIp: options.sourceIp }),
            secureTransport: options.insecureTransport !== true,
          },
        }),
      ),
  );
  policy.addCommand(guardrailsCommand(env));
  return policy;
}

/**
 * `sovra policy guardrails get|put`: the platform guardrails (Cedar), read and replaced by
 * root-tenant administrators through `GET`/`PUT /_sovra/admin/guardrails`.
 */
function guardrailsCommand(env: Record<string, string | undefined>): Command {
  const guardrails = new Command('guardrails').description(
    'read or replace the platform guardrails (Cedar) that bound every tenant (root administrators)',
  );
  withConnectionOptions(
    guardrails
      .command('get')
      .description('print the active guardrails: Cedar text, version, SHA-256, source, who replaced them'),
    env,
  ).action((options: ConnectionOptions) =>
    runAdminCall(options, (client) => client.call('GET', 'guardrails')),
  );
  withConnectionOptions(
    guardrails
      .command('put')
      .description(
        'replace the guardrails on every gateway; a set that does not validate against the schema is refused with InvalidGuardrails and the validator’s messages, and the previous set stays active',
      )
      .requiredOption(
        '--file <file|->',
        'the Cedar policies (every policy with a unique @id), or - for standard input',
      ),
    env,
  ).action((options: ConnectionOptions & { file: string }) =>
    runAdminCall(options, (client) =>
      client.call('PUT', 'guardrails', { body: { policies: readGuardrailsFile(options.file) } }),
    ),
  );
  return guardrails;
}

function readGuardrailsFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read the guardrails ${path}: ${(error as Error).message}`);
  }
  if (Buffer.byteLength(text) > MAX_GUARDRAIL_TEXT_BYTES) {
    throw new UsageError(`the guardrails ${path} are larger than ${MAX_GUARDRAIL_TEXT_BYTES} bytes`);
  }
  return text;
}

/** `bucket`, `bucket/key` or `arn:aws:s3:::bucket/key` as the explain request's bucket and key. */
export function resourceOf(resource: string | undefined): { bucket?: string; key?: string } {
  if (resource === undefined) return {};
  const path = resource.startsWith(S3_ARN_PREFIX) ? resource.slice(S3_ARN_PREFIX.length) : resource;
  const slash = path.indexOf('/');
  if (slash === 0 || path === '') throw new UsageError('--resource takes bucket or bucket/key');
  if (slash === -1) return { bucket: path };
  const key = path.slice(slash + 1);
  return key === '' ? { bucket: path.slice(0, slash) } : { bucket: path.slice(0, slash), key };
}

const S3_ARN_PREFIX = 'arn:aws:s3:::';

function holderOptions(command: Command): Command {
  return command
    .option('--user <name>', 'a user or service account')
    .option('--role <name>', 'a role')
    .option('--group <name>', 'a group');
}

function holderPath(options: HolderOptions): string {
  const given = [
    options.user === undefined ? null : `users/${segment(options.user)}`,
    options.role === undefined ? null : `roles/${segment(options.role)}`,
    options.group === undefined ? null : `groups/${segment(options.group)}`,
  ].filter((path) => path !== null);
  if (given.length !== 1) throw new UsageError('name exactly one of --user, --role and --group');
  return given[0]!;
}

/**
 * A policy document argument: inline JSON (starts with `{`), `-` for standard input, or a file
 * (optionally `file://path`, as the AWS CLI writes it). Sent as text, so that the server's strict
 * parser sees the document exactly as written (duplicate keys included).
 */
export function readDocument(argument: string): string {
  if (argument.trimStart().startsWith('{')) return argument;
  const path = argument.startsWith('file://') ? argument.slice('file://'.length) : argument;
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read the document ${path}: ${(error as Error).message}`);
  }
  if (Buffer.byteLength(text) > DOCUMENT_FILE_MAX_BYTES) {
    throw new UsageError(`the document ${path} is larger than ${DOCUMENT_FILE_MAX_BYTES} bytes`);
  }
  return text;
}
