import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { Command, Option } from 'commander';

/** How long `sovra login` waits for the browser to come back to the loopback redirect. */
export const LOGIN_TIMEOUT_MS = 5 * 60 * 1000;
/** Discovery documents and token answers are small JSON objects. */
const IDP_ANSWER_MAX_BYTES = 256 * 1024;

interface LoginOptions {
  endpoint: string;
  region: string;
  issuer: string;
  clientId: string;
  roleArn: string;
  sessionName?: string;
  duration?: string;
  scope: string;
  port: string;
  output?: string;
  credentialProcess?: boolean;
}

/** Temporary credentials as `sovra login` writes them (also the credential_process shape's fields). */
export interface LoginCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: string;
}

/**
 * `sovra login`: single sign-on with the tenant's identity provider by the authorization code
 * flow with PKCE for native apps (RFC 8252: a loopback redirect; RFC 7636: S256 challenge), then
 * AssumeRoleWithWebIdentity at Sovra's STS endpoint with the ID token. The credentials go to a file
 * (0600) or to standard output as AWS `credential_process` JSON.
 */
export function loginCommand(env: Record<string, string | undefined>): Command {
  return new Command('login')
    .description(
      'sign in with the tenant’s OpenID Connect provider and obtain temporary credentials for a role',
    )
    .addOption(
      new Option('--endpoint <url>', 'the Sovra endpoint')
        .env('SOVRA_ENDPOINT')
        .default(env.SOVRA_ENDPOINT ?? 'https://127.0.0.1:9000'),
    )
    .addOption(new Option('--region <region>', 'the Sovra region').default(env.SOVRA_REGION ?? 'us-east-1'))
    .requiredOption('--issuer <url>', 'the identity provider’s issuer URL')
    .requiredOption('--client-id <id>', 'the client id registered at the provider for the CLI')
    .requiredOption('--role-arn <arn>', 'the role to assume (arn:aws:iam::<tenant>:role/<name>)')
    .option('--session-name <name>', 'RoleSessionName (default: the token’s subject)')
    .option('--duration <seconds>', 'session duration, 900 to 43200 (default 3600)')
    .option('--scope <scopes>', 'scopes to request', 'openid profile')
    .option('--port <port>', 'loopback port of the redirect URI (0: any free port)', '0')
    .option('--output <file>', 'write the credentials as JSON to this file (mode 0600)')
    .option('--credential-process', 'print AWS credential_process JSON on standard output')
    .action(async (options: LoginOptions) => {
      try {
        const credentials = await login(options, (url) =>
          process.stderr.write(`Open this URL in your browser to sign in:\n\n  ${url}\n\n`),
        );
        if (options.output !== undefined) {
          writeFileSync(options.output, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
        }
        if (options.credentialProcess === true || options.output === undefined) {
          process.stdout.write(
            `${JSON.stringify({
              Version: 1,
              AccessKeyId: credentials.accessKeyId,
              SecretAccessKey: credentials.secretAccessKey,
              SessionToken: credentials.sessionToken,
              Expiration: credentials.expiration,
            })}\n`,
          );
        } else {
          process.stderr.write(
            `Credentials written to ${options.output}, valid until ${credentials.expiration}\n`,
          );
        }
      } catch (error) {
        process.stderr.write(
          `sovra: login failed: ${error instanceof Error ? error.message : String(error)}\n`,
        );
        process.exitCode = 1;
      }
    });
}

/** The whole flow: discovery → browser (authorize URL) → code → ID token → STS. */
export async function login(
  options: LoginOptions,
  showUrl: (url: string) => void,
): Promise<LoginCredentials> {
  const discovery = await readJson(`${options.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`);
  const authorizationEndpoint = stringMember(discovery, 'authorization_endpoint');
  const tokenEndpoint = stringMember(discovery, 'token_endpoint');
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const nonce = randomBytes(16).toString('base64url');
  const { server, redirectUri, code } = await awaitRedirect(Number(options.port), state);
  try {
    const authorize = new URL(authorizationEndpoint);
    authorize.search = new URLSearchParams({
      client_id: options.clientId,
      response_type: 'code',
      scope: options.scope,
      redirect_uri: redirectUri,
      state,
      nonce,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    showUrl(authorize.href);
    const tokens = await readJson(tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: await code,
        redirect_uri: redirectUri,
        client_id: options.clientId,
        code_verifier: verifier,
      }).toString(),
    });
    const idToken = stringMember(tokens, 'id_token');
    const claims = unverifiedClaims(idToken);
    // OpenID Connect Core §3.1.3.7: the nonce must be the one this request sent (Sovra verifies the rest).
    if (claims.nonce !== nonce) throw new Error('the ID token does not carry this login’s nonce');
    const subject = typeof claims.sub === 'string' ? claims.sub : 'sovra-login';
    return await assumeRoleWithWebIdentity(options, idToken, options.sessionName ?? sessionNameOf(subject));
  } finally {
    server.close();
  }
}

/** Listens on the loopback interface for the provider's redirect (RFC 8252 §7.3). */
async function awaitRedirect(
  port: number,
  state: string,
): Promise<{ server: Server; redirectUri: string; code: Promise<string> }> {
  let settle: { resolve: (code: string) => void; reject: (error: Error) => void } | null = null;
  const code = new Promise<string>((resolve, reject) => {
    settle = { resolve, reject };
  });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/callback') {
      res.writeHead(404).end();
      return;
    }
    const error = url.searchParams.get('error');
    const received = url.searchParams.get('code');
    const ok = error === null && received !== null && url.searchParams.get('state') === state;
    res.writeHead(ok ? 200 : 400, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(ok ? 'Signed in to Sovra. You may close this window.\n' : 'Sign-in failed.\n');
    if (ok) settle?.resolve(received);
    else
      settle?.reject(
        new Error(
          error === null
            ? 'the redirect did not carry this login’s state and a code'
            : `the provider answered ${error}`,
        ),
      );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  const timer = setTimeout(
    () => settle?.reject(new Error('timed out waiting for the browser')),
    LOGIN_TIMEOUT_MS,
  );
  timer.unref();
  return { server, redirectUri: `http://127.0.0.1:${bound}/callback`, code };
}

async function assumeRoleWithWebIdentity(
  options: LoginOptions,
  idToken: string,
  sessionName: string,
): Promise<LoginCredentials> {
  const form = new URLSearchParams({
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: options.roleArn,
    RoleSessionName: sessionName,
    WebIdentityToken: idToken,
  });
  if (options.duration !== undefined) form.set('DurationSeconds', options.duration);
  const response = await fetch(new URL('/', options.endpoint), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(
      `${element(text, 'Code') ?? response.status}: ${element(text, 'Message') ?? 'STS refused'}`,
    );
  }
  const accessKeyId = element(text, 'AccessKeyId');
  const secretAccessKey = element(text, 'SecretAccessKey');
  const sessionToken = element(text, 'SessionToken');
  const expiration = element(text, 'Expiration');
  if (accessKeyId === null || secretAccessKey === null || sessionToken === null || expiration === null) {
    throw new Error('the STS answer carries no credentials');
  }
  return { accessKeyId, secretAccessKey, sessionToken, expiration };
}

/** One element's text of Sovra's own STS answer (no nesting of equal names, XML-escaped). */
function element(xml: string, name: string): string | null {
  const match = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  if (match === null) return null;
  return match[1]!.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
}

async function readJson(url: string, init: RequestInit = {}): Promise<Record<string, unknown>> {
  const response = await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  if (text.length > IDP_ANSWER_MAX_BYTES) throw new Error(`${url} answered too much`);
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${text.slice(0, 200)}`);
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`${url} answered no JSON object`);
  return value as Record<string, unknown>;
}

function stringMember(object: Record<string, unknown>, name: string): string {
  const value = object[name];
  if (typeof value !== 'string' || value === '') throw new Error(`the provider’s answer has no ${name}`);
  return value;
}

function unverifiedClaims(token: string): Record<string, unknown> {
  const payload = token.split('.')[1];
  if (payload === undefined) throw new Error('the provider answered an ID token that is not a JWT');
  const value: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  if (typeof value !== 'object' || value === null) throw new Error('the ID token has no claims');
  return value as Record<string, unknown>;
}

/** A RoleSessionName from the subject: `[\w+=,.@-]`, 2 to 64 characters. */
function sessionNameOf(subject: string): string {
  const name = subject.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
  return name.length >= 2 ? name : `${name}--`;
}
