import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import {
  checkClaimMapping,
  checkIssuer,
  mapClaims,
  providerArn,
  providerName,
  type IdentityProviderRecord,
} from '../../src/domain/iam/federation.ts';
import { IdTokenVerifier, unverifiedIssuer } from '../../src/domain/iam/federation-tokens.ts';
import {
  checkDuration,
  checkRoleArn,
  checkSessionName,
  newTemporaryAccessKeyId,
} from '../../src/domain/iam/sts.ts';
import { OffsetClock } from '../../src/platform/clock.ts';
import { isSovraError } from '../../src/platform/errors.ts';

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isSovraError(error)) return error.code;
    throw error;
  }
  assert.fail('expected a refusal');
}

async function asyncCodeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isSovraError(error)) return error.code;
    throw error;
  }
  assert.fail('expected a refusal');
}

describe('claim mapping rules', () => {
  const mapping = checkClaimMapping({
    rules: [
      { claim: 'groups', equals: 'auditors', roles: ['auditor'] },
      { claim: 'realm_access.roles', equals: 'records', roles: ['reader', 'auditor'] },
      { claim: 'department', equals: 'finance', roles: ['finance'] },
    ],
    clearanceClaim: 'clearance',
    compartmentsClaim: 'compartments',
  });

  it('a rule matches a string claim equal to its value or an array claim containing it, nested claims by dots', () => {
    const mapped = mapClaims(mapping, {
      groups: ['staff', 'auditors'],
      realm_access: { roles: ['records'] },
      department: 'finance',
      clearance: 'SECRET',
      compartments: ['NATO', 'EU', 'NATO'],
    });
    assert.deepEqual([...mapped.roles].sort(), ['auditor', 'finance', 'reader']);
    assert.equal(mapped.clearance, 'SECRET');
    assert.deepEqual(mapped.compartments, ['EU', 'NATO']);
  });

  it('claims that match no rule map to no role, no clearance and no compartments', () => {
    const mapped = mapClaims(mapping, { groups: 'auditorsX', department: ['fin'] });
    assert.equal(mapped.roles.size, 0);
    assert.equal(mapped.clearance, null);
    assert.deepEqual(mapped.compartments, []);
  });

  it('a space-separated compartments claim is a list', () => {
    assert.deepEqual(mapClaims(mapping, { compartments: 'B A' }).compartments, ['A', 'B']);
  });

  it('a clearance or compartments claim of the wrong shape is IDPRejectedClaim, never ignored', () => {
    assert.equal(
      codeOf(() => mapClaims(mapping, { clearance: ['SECRET'] })),
      'IDPRejectedClaim',
    );
    assert.equal(
      codeOf(() => mapClaims(mapping, { compartments: [1] })),
      'IDPRejectedClaim',
    );
    assert.equal(
      codeOf(() => mapClaims(mapping, { clearance: 'no spaces allowed' })),
      'IDPRejectedClaim',
    );
  });

  it('inherited properties are not claims', () => {
    const proto = checkClaimMapping({
      rules: [{ claim: 'toString', equals: 'x', roles: ['r'] }],
      clearanceClaim: null,
      compartmentsClaim: null,
    });
    assert.equal(mapClaims(proto, {}).roles.size, 0);
    assert.equal(
      codeOf(() =>
        checkClaimMapping({
          rules: [{ claim: '__proto__.x', equals: 'x', roles: ['r'] }],
          clearanceClaim: null,
          compartmentsClaim: null,
        }),
      ),
      'ValidationError',
    );
  });

  it('malformed rules are ValidationError: unknown members, empty roles, bad role names, non-arrays', () => {
    for (const rules of [
      [{ claim: 'g', equals: 'x', roles: ['r'], extra: 1 }],
      [{ claim: 'g', equals: 'x', roles: [] }],
      [{ claim: 'g', equals: 'x', roles: ['bad role'] }],
      [{ claim: '', equals: 'x', roles: ['r'] }],
      'groups=auditors',
    ]) {
      assert.equal(
        codeOf(() => checkClaimMapping({ rules, clearanceClaim: null, compartmentsClaim: null })),
        'ValidationError',
      );
    }
  });
});

describe('issuers and names', () => {
  it('an issuer must use https, except on a loopback host', () => {
    assert.equal(checkIssuer('https://idp.example.gov/realms/a'), 'https://idp.example.gov/realms/a');
    assert.equal(checkIssuer('http://127.0.0.1:8080'), 'http://127.0.0.1:8080');
    assert.equal(checkIssuer('http://localhost:8080'), 'http://localhost:8080');
    for (const bad of [
      'http://idp.example.gov',
      'ftp://127.0.0.1',
      'https://idp.example.gov?x=1',
      'not a url',
      '',
    ]) {
      assert.equal(
        codeOf(() => checkIssuer(bad)),
        'ValidationError',
        bad,
      );
    }
  });

  it('the provider is named in policies as AWS names it: the issuer without scheme', () => {
    assert.equal(providerName('https://idp.example.gov/realms/a/'), 'idp.example.gov/realms/a');
    assert.equal(
      providerArn('agency-b', 'https://idp.example.gov'),
      'arn:aws:iam::agency-b:oidc-provider/idp.example.gov',
    );
  });

  it('STS request values are checked as AWS checks them', () => {
    assert.deepEqual(checkRoleArn('arn:aws:iam::agency-b:role/reader'), {
      tenantId: 'agency-b',
      roleName: 'reader',
    });
    assert.deepEqual(checkRoleArn('arn:aws:iam::agency-b:role/team/reader'), {
      tenantId: 'agency-b',
      roleName: 'reader',
    });
    assert.equal(
      codeOf(() => checkRoleArn('arn:aws:iam::agency-b:user/alice')),
      'ValidationError',
    );
    assert.equal(
      codeOf(() => checkSessionName('x')),
      'ValidationError',
    );
    assert.equal(
      codeOf(() => checkSessionName('has space')),
      'ValidationError',
    );
    assert.equal(checkDuration(null), 3600);
    assert.equal(
      codeOf(() => checkDuration(899)),
      'ValidationError',
    );
    assert.equal(
      codeOf(() => checkDuration(43_201)),
      'ValidationError',
    );
    assert.match(newTemporaryAccessKeyId(), /^ASIA[A-Z2-7]{16}$/);
  });
});

type SigningKey = Parameters<SignJWT['sign']>[0];

describe('ID token verification against a provider’s discovery document and keys', () => {
  let server: Server;
  let issuer: string;
  let sign: (
    claims: Record<string, unknown>,
    options?: { expiresIn?: string; key?: SigningKey },
  ) => Promise<string>;
  let otherKey: SigningKey;
  let provider: IdentityProviderRecord;
  const clock = new OffsetClock();

  before(async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    otherKey = (await generateKeyPair('ES256')).privateKey;
    const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    server = createServer((req, res) => {
      if (req.url === '/.well-known/openid-configuration') {
        res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
      } else if (req.url === '/jwks') {
        res.end(JSON.stringify({ keys: [jwk] }));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    assert.ok(typeof address === 'object' && address !== null);
    issuer = `http://127.0.0.1:${address.port}`;
    provider = {
      id: 'idp-1',
      tenantId: 'agency-b',
      issuer,
      audiences: ['cli', 'workload'],
      mapping: { rules: [], clearanceClaim: null, compartmentsClaim: null },
      createdAt: new Date(),
    };
    sign = (claims, options = {}) =>
      new SignJWT({ iss: issuer, aud: 'workload', sub: 'svc-1', ...claims })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuedAt()
        .setExpirationTime(options.expiresIn ?? '5m')
        .sign(options.key ?? privateKey);
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('a token signed by the provider’s key for one of its audiences is verified', async () => {
    const verified = await new IdTokenVerifier({ clock }).verify(provider, await sign({ groups: ['a'] }));
    assert.deepEqual(
      [verified.subject, verified.audience, verified.claims.groups],
      ['svc-1', 'workload', ['a']],
    );
  });

  it('another audience, another issuer, another key or an altered payload is InvalidIdentityToken', async () => {
    const verifier = new IdTokenVerifier({ clock });
    const good = await sign({});
    const [header, , signature] = good.split('.');
    const altered = `${header}.${Buffer.from(JSON.stringify({ iss: issuer, aud: 'workload', sub: 'root', exp: 9e9, iat: 1 })).toString('base64url')}.${signature}`;
    for (const token of [
      await sign({ aud: 'someone-else' }),
      await sign({ iss: 'https://idp.example.gov' }),
      await sign({}, { key: otherKey }),
      altered,
    ]) {
      assert.equal(await asyncCodeOf(verifier.verify(provider, token)), 'InvalidIdentityToken');
    }
  });

  it('an expired token is ExpiredTokenException; unsigned (alg none) tokens are never accepted', async () => {
    const verifier = new IdTokenVerifier({ clock });
    const token = await sign({}, { expiresIn: '1m' });
    const late = new OffsetClock(10 * 60_000);
    assert.equal(
      await asyncCodeOf(new IdTokenVerifier({ clock: late }).verify(provider, token)),
      'ExpiredTokenException',
    );
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${token.split('.')[1]}.`;
    assert.equal(await asyncCodeOf(verifier.verify(provider, none)), 'InvalidIdentityToken');
  });

  it('a token that is not a JWT, or has no issuer, is InvalidIdentityToken before any provider is asked', () => {
    assert.equal(
      codeOf(() => unverifiedIssuer('abc')),
      'InvalidIdentityToken',
    );
    assert.equal(
      codeOf(() => unverifiedIssuer('not.a.jwt')),
      'InvalidIdentityToken',
    );
    assert.equal(
      codeOf(() => unverifiedIssuer('x'.repeat(20_001))),
      'InvalidIdentityToken',
    );
  });

  it('a provider whose discovery document names another issuer is IDPCommunicationError', async () => {
    const renamed = { ...provider, issuer: `${issuer}/other` };
    assert.equal(
      await asyncCodeOf(new IdTokenVerifier({ clock }).verify(renamed, await sign({ iss: renamed.issuer }))),
      'IDPCommunicationError',
    );
  });
});
