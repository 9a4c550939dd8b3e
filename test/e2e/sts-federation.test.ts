import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import {
  CreateBucketCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import {
  AssumeRoleCommand,
  AssumeRoleWithWebIdentityCommand,
  STSClient,
  STSServiceException,
} from '@aws-sdk/client-sts';
import { fromWebToken } from '@aws-sdk/credential-providers';
import { OffsetClock } from '../../src/platform/clock.ts';
import { loadServerConfig } from '../../src/platform/config.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { sovraRequest } from '../helpers/sovra-api.ts';
import { startServer, type RunningServer } from '../../src/server/sovra-server.ts';
import {
  CLI,
  NODE,
  removeDir,
  startSovra,
  TEST_REGION,
  type SovraProcess,
} from '../helpers/sovra-process.ts';

const run = promisify(execFile);
const CLIENT_ID = 'sovra-cli';
/** Test accounts of the provider and the claims their ID tokens carry. */
const ACCOUNTS: Record<string, Record<string, unknown>> = {
  alice: { groups: ['auditors', 'staff'], clearance: 'CONFIDENTIAL', compartments: ['NATO'] },
  bob: { groups: ['visitors'] },
};

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** The part of oidc-provider's Provider class the test uses (the package ships no types). */
interface OpenIdProvider {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
}
type ProviderClass = new (issuer: string, configuration: Record<string, unknown>) => OpenIdProvider;
/** A variable specifier keeps the untyped package out of the type checker. */
const OIDC_PROVIDER_PACKAGE: string = 'oidc-provider';

/** A real OpenID provider on 127.0.0.1, issuer http://localhost:<port> (a loopback issuer). */
async function startProvider(
  redirectUri: string,
): Promise<{ issuer: string; server: Server; provider: OpenIdProvider }> {
  const { default: Provider } = (await import(OIDC_PROVIDER_PACKAGE)) as { default: ProviderClass };
  const server = (await import('node:http')).createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(typeof address === 'object' && address !== null);
  const issuer = `http://localhost:${address.port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        token_endpoint_auth_method: 'none',
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        application_type: 'native',
      },
    ],
    findAccount: (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: () => ({ sub: id, ...ACCOUNTS[id] }),
    }),
    claims: { openid: ['sub'], profile: ['groups', 'clearance', 'compartments'] },
    // The claims of the requested scopes go into the ID token (STS reads only the ID token).
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    cookies: { keys: ['sts-federation-test'] },
  });
  server.on('request', provider.callback());
  return { issuer, server, provider };
}

/** A cookie jar for driving the provider's pages with fetch, as a browser would. */
class Browser {
  readonly #cookies = new Map<string, string>();

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const response = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), cookie: this.#cookieHeader() },
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair!.indexOf('=');
      this.#cookies.set(pair!.slice(0, at), pair!.slice(at + 1));
    }
    return response;
  }

  /**
   * Follows the authorization flow through oidc-provider's dev interactions (login, then consent)
   * until the provider redirects to the client; returns that redirect URL.
   */
  async authorize(authorizeUrl: string, redirectUri: string, account: string): Promise<URL> {
    let url = authorizeUrl;
    for (let step = 0; step < 12; step++) {
      const response = await this.request(url);
      const location = response.headers.get('location');
      if (location !== null) {
        const next = new URL(location, url);
        if (next.href.startsWith(redirectUri)) return next;
        url = next.href;
        continue;
      }
      const page = await response.text();
      const prompt = /name="prompt" value="(\w+)"/.exec(page)?.[1];
      assert.ok(prompt !== undefined, `no interaction form at ${url}: ${page.slice(0, 300)}`);
      const form = new URLSearchParams({ prompt });
      if (prompt === 'login') {
        form.set('login', account);
        form.set('password', 'any');
      }
      const submitted = await this.request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      });
      url = new URL(submitted.headers.get('location')!, url).href;
    }
    assert.fail('the authorization flow did not finish');
  }

  #cookieHeader(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

/** Authorization code + PKCE (RFC 7636, S256) against the provider; returns the ID token. */
async function idTokenFor(issuer: string, redirectUri: string, account: string): Promise<string> {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const authorize = new URL(`${issuer}/auth`);
  authorize.search = new URLSearchParams({
    client_id: CLIENT_ID,
    response_type: 'code',
    scope: 'openid profile',
    redirect_uri: redirectUri,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: randomBytes(8).toString('hex'),
    nonce: randomBytes(8).toString('hex'),
  }).toString();
  const callback = await new Browser().authorize(authorize.href, redirectUri, account);
  const code = callback.searchParams.get('code');
  assert.ok(code !== null, callback.href);
  const token = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      client_id: CLIENT_ID,
      code_verifier: verifier,
    }).toString(),
  });
  const body = (await token.json()) as { id_token?: string };
  assert.equal(token.status, 200, JSON.stringify(body));
  assert.ok(typeof body.id_token === 'string');
  return body.id_token;
}

async function adminCall(
  endpoint: string,
  credentials: Credentials,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> | null }> {
  return sovraRequest(endpoint, credentials, method, `/_sovra/admin/${path}`, body);
}

async function refusal(promise: Promise<unknown>): Promise<{ code: string; status: number | undefined }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof S3ServiceException || error instanceof STSServiceException) {
      return { code: error.name, status: error.$metadata.httpStatusCode };
    }
    throw error;
  }
  assert.fail('expected a refusal');
}

/**
 * The token (or signature) with one character changed, away from the last one, whose low bits
 * may be padding that a decoder ignores. A fixed suffix is not enough: the last two characters of
 * a 32-byte base64url token are "AA" one time in 256, and the token would stay valid.
 */
function anotherToken(token: string): string {
  const at = token.length - 5;
  return `${token.slice(0, at)}${token[at] === 'A' ? 'B' : 'A'}${token.slice(at + 1)}`;
}

/** A tenant with a reader role (federated trust, s3:GetObject on one bucket), an IdP and a bucket. */
async function provisionTenant(endpoint: string, root: Credentials, issuer: string): Promise<Credentials> {
  const tenant = await adminCall(endpoint, root, 'POST', 'tenants', { id: 'agency-f', name: 'Agency F' });
  assert.equal(tenant.status, 201, JSON.stringify(tenant.body));
  const key = tenant.body!.accessKey as { accessKeyId: string; secretAccessKey: string };
  const admin = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
  const host = new URL(issuer).host;
  const trust = {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: `arn:aws:iam::agency-f:oidc-provider/${host}` },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringEquals: { [`${host}:aud`]: CLIENT_ID } },
      },
      {
        Effect: 'Allow',
        Principal: { AWS: 'arn:aws:iam::agency-f:user/operator' },
        Action: 'sts:AssumeRole',
      },
    ],
  };
  for (const [path, body] of [
    ['roles', { name: 'auditor', trustPolicy: JSON.stringify(trust) }],
    ['roles', { name: 'visitor', trustPolicy: JSON.stringify(trust) }],
    [
      'policies',
      {
        name: 'read-records',
        document: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::records-f/*' }],
        },
      },
    ],
    ['users', { name: 'operator' }],
  ] as const) {
    const created = await adminCall(endpoint, admin, 'POST', path, body);
    assert.equal(created.status, 201, JSON.stringify(created.body));
  }
  assert.equal((await adminCall(endpoint, admin, 'PUT', 'roles/auditor/policies/read-records')).status, 204);
  const provider = await adminCall(endpoint, admin, 'POST', 'identity-providers', {
    issuer,
    audiences: [CLIENT_ID],
    rules: [{ claim: 'groups', equals: 'auditors', roles: ['auditor'] }],
    clearanceClaim: 'clearance',
    compartmentsClaim: 'compartments',
  });
  assert.equal(provider.status, 201, JSON.stringify(provider.body));
  const s3 = new S3Client({ endpoint, region: TEST_REGION, forcePathStyle: true, credentials: admin });
  await s3.send(new CreateBucketCommand({ Bucket: 'records-f' }));
  await s3.send(new PutObjectCommand({ Bucket: 'records-f', Key: 'report.txt', Body: 'quarterly report' }));
  s3.destroy();
  return admin;
}

describe('STS federation: OpenID Connect web identities and temporary credentials', () => {
  let sovra: SovraProcess;
  let oidc: Awaited<ReturnType<typeof startProvider>>;
  let admin: Credentials;
  const redirectUri = 'http://127.0.0.1:47613/callback';
  const roleArn = 'arn:aws:iam::agency-f:role/auditor';

  before(async () => {
    oidc = await startProvider(redirectUri);
    sovra = await startSovra();
    admin = await provisionTenant(sovra.endpoint, sovra.credentials, oidc.issuer);
  });

  after(async () => {
    await sovra.stop();
    removeDir(sovra.dataDir);
    oidc.server.closeAllConnections();
    await new Promise((resolve) => oidc.server.close(resolve));
  });

  const sts = () => new STSClient({ endpoint: sovra.endpoint, region: TEST_REGION, credentials: admin });
  const s3With = (credentials: Credentials | ReturnType<typeof fromWebToken>) =>
    new S3Client({ endpoint: sovra.endpoint, region: TEST_REGION, forcePathStyle: true, credentials });

  it('fromWebToken exchanges an ID token from a real authorization-code + PKCE flow; the role’s policy allows reads only', async () => {
    const token = await idTokenFor(oidc.issuer, redirectUri, 'alice');
    const s3 = s3With(
      fromWebToken({
        roleArn,
        webIdentityToken: token,
        roleSessionName: 'alice-session',
        clientConfig: { endpoint: sovra.endpoint, region: TEST_REGION },
      }),
    );
    const object = await s3.send(new GetObjectCommand({ Bucket: 'records-f', Key: 'report.txt' }));
    assert.equal(await object.Body!.transformToString(), 'quarterly report');
    const write = await refusal(s3.send(new PutObjectCommand({ Bucket: 'records-f', Key: 'x', Body: 'x' })));
    assert.deepEqual([write.code, write.status], ['AccessDenied', 403]);
    s3.destroy();
  });

  it('AssumeRoleWithWebIdentity answers AWS’s response elements with ASIA credentials that expire', async () => {
    const token = await idTokenFor(oidc.issuer, redirectUri, 'alice');
    const answer = await sts().send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: roleArn,
        RoleSessionName: 'audit-1',
        WebIdentityToken: token,
        DurationSeconds: 900,
      }),
    );
    assert.match(answer.Credentials!.AccessKeyId!, /^ASIA[A-Z2-7]{16}$/);
    assert.ok(answer.Credentials!.SessionToken!.length > 40);
    const lifetime = answer.Credentials!.Expiration!.getTime() - Date.now();
    assert.ok(lifetime > 880_000 && lifetime <= 900_000, String(lifetime));
    assert.equal(answer.AssumedRoleUser!.Arn, 'arn:aws:sts::agency-f:assumed-role/auditor/audit-1');
    assert.equal(answer.SubjectFromWebIdentityToken, 'alice');
    assert.equal(answer.Audience, CLIENT_ID);
    assert.equal(answer.Provider, new URL(oidc.issuer).host);
  });

  it('temporary credentials without their session token, or with another, are refused', async () => {
    const token = await idTokenFor(oidc.issuer, redirectUri, 'alice');
    const { Credentials: issued } = await sts().send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: roleArn,
        RoleSessionName: 'audit-2',
        WebIdentityToken: token,
      }),
    );
    const get = new GetObjectCommand({ Bucket: 'records-f', Key: 'report.txt' });
    const missing = await refusal(
      s3With({ accessKeyId: issued!.AccessKeyId!, secretAccessKey: issued!.SecretAccessKey! }).send(get),
    );
    assert.deepEqual([missing.code, missing.status], ['InvalidAccessKeyId', 403]);
    const wrong = await refusal(
      s3With({
        accessKeyId: issued!.AccessKeyId!,
        secretAccessKey: issued!.SecretAccessKey!,
        sessionToken: anotherToken(issued!.SessionToken!),
      }).send(get),
    );
    assert.deepEqual([wrong.code, wrong.status], ['InvalidToken', 400]);
  });

  it('revoking a role’s sessions refuses them at once; a session assumed afterwards works', async () => {
    const token = await idTokenFor(oidc.issuer, redirectUri, 'alice');
    const assume = (name: string) =>
      sts().send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: roleArn,
          RoleSessionName: name,
          WebIdentityToken: token,
        }),
      );
    const { Credentials: before } = await assume('before-revoke');
    const s3 = s3With({
      accessKeyId: before!.AccessKeyId!,
      secretAccessKey: before!.SecretAccessKey!,
      sessionToken: before!.SessionToken!,
    });
    const get = new GetObjectCommand({ Bucket: 'records-f', Key: 'report.txt' });
    await s3.send(get);
    const { stdout } = await run(NODE, [
      CLI,
      'role',
      'revoke-sessions',
      'auditor',
      '--endpoint',
      sovra.endpoint,
      '--region',
      TEST_REGION,
      '--credentials',
      writeCredentials(admin),
    ]);
    assert.ok((JSON.parse(stdout) as { revokedSessions: number }).revokedSessions >= 1, stdout);
    const refused = await refusal(s3.send(get));
    assert.equal(refused.code, 'InvalidToken');
    await new Promise((resolve) => setTimeout(resolve, 5));
    const { Credentials: afterwards } = await assume('after-revoke');
    await s3With({
      accessKeyId: afterwards!.AccessKeyId!,
      secretAccessKey: afterwards!.SecretAccessKey!,
      sessionToken: afterwards!.SessionToken!,
    }).send(get);
  });

  it('a token for another audience, from an unknown issuer or with a broken signature is InvalidIdentityToken', async () => {
    const token = await idTokenFor(oidc.issuer, redirectUri, 'alice');
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forged = (changes: Record<string, unknown>) =>
      `${header}.${Buffer.from(JSON.stringify({ ...claims, ...changes })).toString('base64url')}.${signature}`;
    const flipped = `${header}.${payload}.${anotherToken(signature)}`;
    for (const bad of [
      forged({ aud: 'another-client' }),
      forged({ iss: 'https://idp.example.org' }),
      flipped,
    ]) {
      const answer = await refusal(
        sts().send(
          new AssumeRoleWithWebIdentityCommand({
            RoleArn: roleArn,
            RoleSessionName: 'bad',
            WebIdentityToken: bad,
          }),
        ),
      );
      // The wire code is InvalidIdentityToken; the SDK names its exception class after it.
      assert.deepEqual([answer.code, answer.status], ['InvalidIdentityTokenException', 400]);
    }
  });

  it('a token whose claims map to no role is AccessDenied, even for a role whose trust policy allows the provider', async () => {
    const token = await idTokenFor(oidc.issuer, redirectUri, 'bob');
    const answer = await refusal(
      sts().send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: 'arn:aws:iam::agency-f:role/visitor',
          RoleSessionName: 'bob',
          WebIdentityToken: token,
        }),
      ),
    );
    assert.deepEqual([answer.code, answer.status], ['AccessDenied', 403]);
  });

  it('AssumeRole with a user’s long-term keys works as the trust policy allows', async () => {
    const created = await adminCall(sovra.endpoint, admin, 'POST', 'users/operator/access-keys', {});
    const key = created.body!.accessKey as { accessKeyId: string; secretAccessKey: string };
    const client = new STSClient({ endpoint: sovra.endpoint, region: TEST_REGION, credentials: key });
    const answer = await client.send(
      new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'operator' }),
    );
    assert.equal(answer.AssumedRoleUser!.Arn, 'arn:aws:sts::agency-f:assumed-role/auditor/operator');
    const object = await s3With({
      accessKeyId: answer.Credentials!.AccessKeyId!,
      secretAccessKey: answer.Credentials!.SecretAccessKey!,
      sessionToken: answer.Credentials!.SessionToken!,
    }).send(new GetObjectCommand({ Bucket: 'records-f', Key: 'report.txt' }));
    assert.equal(await object.Body!.transformToString(), 'quarterly report');
    // A role that does not exist is refused like one whose trust policy does not allow.
    const denied = await refusal(
      new STSClient({ endpoint: sovra.endpoint, region: TEST_REGION, credentials: key }).send(
        new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::agency-f:role/nonexistent', RoleSessionName: 'xx' }),
      ),
    );
    assert.deepEqual([denied.code, denied.status], ['AccessDenied', 403]);
  });

  it('sovra login signs in by authorization code + PKCE on a loopback redirect and prints credential_process JSON', async () => {
    const child = spawn(
      NODE,
      [
        CLI,
        'login',
        '--endpoint',
        sovra.endpoint,
        '--issuer',
        oidc.issuer,
        '--client-id',
        CLIENT_ID,
        '--role-arn',
        roleArn,
        '--port',
        new URL(redirectUri).port,
        '--credential-process',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const authorizeUrl = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const match = /^\s+(http\S+)$/m.exec(stderr);
        if (match !== null) resolve(match[1]!);
      });
      child.once('exit', () => reject(new Error(`sovra login exited: ${stderr}`)));
    });
    // The browser: sign in at the provider, which redirects to the CLI's loopback listener.
    const callback = await new Browser().authorize(authorizeUrl, redirectUri, 'alice');
    assert.equal((await fetch(callback)).status, 200);
    assert.equal(await exited, 0, stderr);
    const printed = JSON.parse(stdout) as Record<string, string | number>;
    assert.equal(printed.Version, 1);
    assert.match(String(printed.AccessKeyId), /^ASIA/);
    const object = await s3With({
      accessKeyId: String(printed.AccessKeyId),
      secretAccessKey: String(printed.SecretAccessKey),
      sessionToken: String(printed.SessionToken),
    }).send(new GetObjectCommand({ Bucket: 'records-f', Key: 'report.txt' }));
    assert.equal(await object.Body!.transformToString(), 'quarterly report');
  });

  it('sovra idp lists the tenant’s provider with its mapping rules', async () => {
    const { stdout } = await run(NODE, [
      CLI,
      'idp',
      'list',
      '--endpoint',
      sovra.endpoint,
      '--region',
      TEST_REGION,
      '--credentials',
      writeCredentials(admin),
    ]);
    const listed = JSON.parse(stdout) as { identityProviders: { issuer: string; rules: unknown[] }[] };
    assert.deepEqual(
      listed.identityProviders.map((provider) => [provider.issuer, provider.rules]),
      [[oidc.issuer, [{ claim: 'groups', equals: 'auditors', roles: ['auditor'] }]]],
    );
  });

  function writeCredentials(credentials: Credentials): string {
    const path = join(mkdtempSync(join(tmpdir(), 'sovra-sts-')), 'credentials.json');
    writeFileSync(path, JSON.stringify(credentials), { mode: 0o600 });
    return path;
  }
});

describe('STS federation: session expiry (in-process server on a movable clock)', () => {
  let running: RunningServer;
  let endpoint: string;
  let oidc: Awaited<ReturnType<typeof startProvider>>;
  const clock = new OffsetClock();
  const dataDir = mkdtempSync(join(tmpdir(), 'sovra-sts-expiry-'));
  const redirectUri = 'http://127.0.0.1:47614/callback';

  before(async () => {
    oidc = await startProvider(redirectUri);
    const config = loadServerConfig(
      {
        dataDir,
        listen: '127.0.0.1:0',
        region: TEST_REGION,
        rootOfTrust: 'none',
        auditLog: 'off',
        logLevel: 'error',
      },
      {},
    );
    running = await startServer(config, createLogger('error'), clock, () => {});
    endpoint = `http://127.0.0.1:${running.address.port}`;
    const root = JSON.parse(readFileSync(join(dataDir, 'admin-credentials.json'), 'utf8')) as Credentials;
    await provisionTenant(endpoint, root, oidc.issuer);
  });

  after(async () => {
    await running.stop();
    removeDir(dataDir);
    oidc.server.closeAllConnections();
    await new Promise((resolve) => oidc.server.close(resolve));
  });

  it('a session past its expiry is refused with ExpiredToken', async () => {
    const token = await idTokenFor(oidc.issuer, redirectUri, 'alice');
    const { Credentials: issued } = await new STSClient({
      endpoint,
      region: TEST_REGION,
      credentials: { accessKeyId: 'unused', secretAccessKey: 'unused' },
    }).send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: 'arn:aws:iam::agency-f:role/auditor',
        RoleSessionName: 'short',
        WebIdentityToken: token,
        DurationSeconds: 900,
      }),
    );
    const credentials = {
      accessKeyId: issued!.AccessKeyId!,
      secretAccessKey: issued!.SecretAccessKey!,
      sessionToken: issued!.SessionToken!,
    };
    const get = new GetObjectCommand({ Bucket: 'records-f', Key: 'report.txt' });
    await new S3Client({ endpoint, region: TEST_REGION, forcePathStyle: true, credentials }).send(get);
    clock.advance(901_000);
    // The client signs on the server's time, as an SDK corrects a measured clock skew.
    const late = new S3Client({
      endpoint,
      region: TEST_REGION,
      forcePathStyle: true,
      credentials,
      systemClockOffset: 901_000,
      maxAttempts: 1,
    });
    const answer = await refusal(late.send(get));
    assert.deepEqual([answer.code, answer.status], ['ExpiredToken', 400]);
  });
});
