import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { LIMITS } from '../platform/limits.ts';
import { signRequest, type SigningCredentials } from '../protocols/sigv4/sign.ts';
import { readCredentialsFile } from './operator.ts';
import { OperatorRequestError } from './operator-client.ts';
import { failCommand } from './store-command.ts';

const DEFAULT_ENDPOINT = 'http://127.0.0.1:9000';
const DEFAULT_REGION = 'us-east-1';
const ADMIN_PREFIX = '_sovra/admin/';
/** Exit status when the server refuses or fails a request (usage errors are 2). */
const EXIT_REFUSED = 1;

/** A refusal reported by the server (`{"code", "message", "requestId"}`) or a network failure. */
export class AdminRequestError extends Error {
  readonly code: string;
  readonly httpStatus: number | null;
  readonly requestId: string | null;

  constructor(code: string, message: string, httpStatus: number | null, requestId: string | null = null) {
    super(message);
    this.name = 'AdminRequestError';
    this.code = code;
    this.httpStatus = httpStatus;
    this.requestId = requestId;
  }
}

/** Signed JSON calls to a server's admin API (/_sovra/admin/, SigV4 service `sovra`). */
export class AdminClient {
  readonly #base: URL;
  readonly #credentials: SigningCredentials;
  readonly #region: string;

  constructor(endpoint: string, credentials: SigningCredentials, region: string) {
    let url: URL;
    try {
      url = new URL(endpoint.endsWith('/') ? endpoint : `${endpoint}/`);
    } catch {
      throw new AdminRequestError('InvalidEndpoint', `--endpoint: "${endpoint}" is not a URL`, null);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new AdminRequestError('InvalidEndpoint', '--endpoint must be an http:// or https:// URL', null);
    }
    this.#base = url;
    this.#credentials = credentials;
    this.#region = region;
  }

  /**
   * One operation: `path` is relative to /_sovra/admin/ with each name already encoded
   * (see `segment`). Answers the JSON body, or null for 204.
   */
  async call(
    method: string,
    path: string,
    options: { query?: Record<string, string | undefined>; body?: unknown } = {},
  ): Promise<unknown> {
    const url = new URL(`${ADMIN_PREFIX}${path}`, this.#base);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, value);
    }
    const body = options.body === undefined ? '' : JSON.stringify(options.body);
    const headers = signRequest(
      { method, url, body, headers: body === '' ? {} : { 'content-type': 'application/json' } },
      this.#credentials,
      { region: this.#region, service: 'sovra', now: new Date() },
    );
    // fetch sets Host itself, to the same value that was signed.
    delete headers.host;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        ...(body === '' ? {} : { body }),
        signal: AbortSignal.timeout(LIMITS.operatorClientTimeoutMs),
      });
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
      throw new AdminRequestError('Unreachable', `cannot reach ${this.#base.origin}: ${cause}`, null);
    }
    const text = await response.text();
    if (response.status === 204) return null;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new AdminRequestError(
        'UnexpectedResponse',
        `the server answered HTTP ${response.status} without JSON`,
        response.status,
      );
    }
    if (!response.ok) {
      const error = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
      if (typeof error.code === 'string' && typeof error.message === 'string') {
        const requestId = typeof error.requestId === 'string' ? error.requestId : null;
        throw new AdminRequestError(error.code, error.message, response.status, requestId);
      }
      throw new AdminRequestError(
        'UnexpectedResponse',
        `the server answered HTTP ${response.status}`,
        response.status,
      );
    }
    return parsed;
  }
}

/** A name as one path segment. */
export function segment(name: string): string {
  return encodeURIComponent(name);
}

export interface ConnectionOptions {
  endpoint: string;
  credentials?: string;
  region: string;
}

/** `--endpoint`, `--credentials` and `--region`, with their environment defaults, on every admin command. */
export function withConnectionOptions(command: Command, env: Record<string, string | undefined>): Command {
  return command
    .addOption(
      new Option('--endpoint <url>', 'server URL [env SOVRA_ENDPOINT]').default(
        env.SOVRA_ENDPOINT ?? DEFAULT_ENDPOINT,
      ),
    )
    .addOption(
      new Option(
        '--credentials <file>',
        'JSON file {"accessKeyId", "secretAccessKey"} (mode 0600) of the signing principal [env SOVRA_CREDENTIALS]',
      ).default(env.SOVRA_CREDENTIALS),
    )
    .addOption(
      new Option('--region <region>', 'signing region [env SOVRA_REGION]').default(
        env.SOVRA_REGION ?? DEFAULT_REGION,
      ),
    );
}

/**
 * Runs one admin call and prints its answer as JSON on standard output. A refusal prints
 * `sovra: <code>: <message>` on standard error and exits 1; bad usage exits 2.
 */
export async function runAdminCall(
  options: ConnectionOptions,
  call: (client: AdminClient) => Promise<unknown>,
): Promise<void> {
  try {
    if (options.credentials === undefined) {
      failCommand('--credentials <file> (or SOVRA_CREDENTIALS) is required');
      return;
    }
    const client = new AdminClient(
      options.endpoint,
      readCredentialsFile(options.credentials),
      options.region,
    );
    const answer = await call(client);
    process.stdout.write(`${JSON.stringify(answer ?? {}, null, 2)}\n`);
  } catch (error) {
    if (
      error instanceof UsageError ||
      (error instanceof OperatorRequestError && error.code === 'InvalidInput')
    ) {
      failCommand(error.message);
      return;
    }
    if (error instanceof AdminRequestError) {
      if (error.code === 'InvalidEndpoint') return failCommand(error.message);
      process.stderr.write(`sovra: ${error.code}: ${error.message}\n`);
      process.exitCode = EXIT_REFUSED;
      return;
    }
    throw error;
  }
}

/** A mistake in the command line, found before anything is sent. */
export class UsageError extends Error {}

/** `key=value` options (`--tag team=records`) as an object; repeated keys are a usage error. */
export function keyValuePairs(
  values: readonly string[] | undefined,
  option: string,
): Record<string, string> | undefined {
  if (values === undefined) return undefined;
  const pairs: Record<string, string> = {};
  for (const value of values) {
    const at = value.indexOf('=');
    if (at <= 0) throw new UsageError(`${option} takes key=value, not "${value}"`);
    const key = value.slice(0, at);
    if (Object.hasOwn(pairs, key)) throw new UsageError(`${option}: the key "${key}" is given twice`);
    pairs[key] = value.slice(at + 1);
  }
  return pairs;
}

/** Repeatable options collect into an array (commander's variadic options need the same). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `--max-items` and `--marker` of list commands. */
export function withPageOptions(command: Command): Command {
  return command
    .option('--max-items <n>', 'at most this many items (1 to 1000; default 100)')
    .option('--marker <marker>', 'continue after the `marker` of a previous answer');
}

export function pageQuery(options: {
  maxItems?: string;
  marker?: string;
}): Record<string, string | undefined> {
  return { maxItems: options.maxItems, marker: options.marker };
}

/**
 * Writes new credentials as a JSON file usable with --credentials: mode 0600, never over an
 * existing file.
 */
export function saveCredentials(path: string, accessKey: unknown): void {
  const key = (typeof accessKey === 'object' && accessKey !== null ? accessKey : {}) as Record<
    string,
    unknown
  >;
  if (typeof key.accessKeyId !== 'string' || typeof key.secretAccessKey !== 'string') {
    throw new AdminRequestError('UnexpectedResponse', 'the answer holds no access key to save', null);
  }
  try {
    writeFileSync(
      path,
      `${JSON.stringify({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey }, null, 2)}\n`,
      { mode: 0o600, flag: 'wx' },
    );
  } catch (error) {
    // The key exists now and its secret is printed below; only the file could not be written.
    process.stderr.write(`sovra: could not write ${path}: ${(error as Error).message}\n`);
  }
}
