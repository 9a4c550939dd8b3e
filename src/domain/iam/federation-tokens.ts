import { createRemoteJWKSet, decodeJwt, errors, jwtVerify, type JWTPayload } from 'jose';
import type { Clock } from '../../platform/clock.ts';
import { federationError, isLoopbackHost, type IdentityProviderRecord } from './federation.ts';

/** AWS STS: "WebIdentityToken: Length Constraints: Minimum length of 4. Maximum length of 20000." */
export const WEB_IDENTITY_TOKEN_MAX_CHARS = 20_000;
export const WEB_IDENTITY_TOKEN_MIN_CHARS = 4;
/** How long a discovery document (and the key set it names) is trusted before being fetched again. */
export const DISCOVERY_CACHE_TTL_MS = 60 * 60 * 1000;
export const DISCOVERY_FETCH_TIMEOUT_MS = 5_000;
/** A discovery document is a small JSON object. */
export const DISCOVERY_DOCUMENT_MAX_BYTES = 64 * 1024;
export const DISCOVERY_CACHE_MAX_ENTRIES = 256;
/** Clock difference tolerated between the provider and Sovra when checking exp, nbf and iat. */
export const TOKEN_CLOCK_TOLERANCE_SECONDS = 60;
/**
 * Signature algorithms accepted (RFC 7518 §3; OpenID Connect Core §3.1.3.7 requires RS256 support).
 * `none` and HMAC are never accepted: an HMAC would use the client secret, which Sovra does not hold.
 */
export const ID_TOKEN_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
];

export interface VerifiedIdToken {
  issuer: string;
  subject: string;
  /** The client id of the provider's audiences that the token was issued to. */
  audience: string;
  claims: Readonly<Record<string, unknown>>;
}

/** The issuer a token claims, read before verification only to find its provider. */
export function unverifiedIssuer(token: string): string {
  checkTokenShape(token);
  let payload: JWTPayload;
  try {
    payload = decodeJwt(token);
  } catch {
    throw federationError('InvalidIdentityToken', 'The ID token provided is not a JSON Web Token.');
  }
  if (typeof payload.iss !== 'string' || payload.iss === '') {
    throw federationError('InvalidIdentityToken', 'The ID token has no issuer (iss).');
  }
  return payload.iss;
}

/**
 * Verifies OpenID Connect ID tokens (OpenID Connect Core 1.0 §3.1.3.7) against the provider's keys:
 * the key set named by the issuer's discovery document (OpenID Connect Discovery 1.0 §4, whose
 * `issuer` must equal the configured one), the signature, `iss`, `aud` (one of the provider's
 * client ids), `exp`, `nbf` and a `sub`. Discovery documents are cached per issuer; jose caches and
 * refreshes the key set (a token signed by an unknown `kid` makes it fetch again, with a cooldown).
 */
export class IdTokenVerifier {
  readonly #clock: Clock;
  readonly #providers = new Map<
    string,
    { expiresAtMs: number; keys: Promise<ReturnType<typeof createRemoteJWKSet>> }
  >();

  constructor(options: { clock: Clock }) {
    this.#clock = options.clock;
  }

  async verify(provider: IdentityProviderRecord, token: string): Promise<VerifiedIdToken> {
    checkTokenShape(token);
    const keys = await this.#keysOf(provider.issuer);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: provider.issuer,
        audience: [...provider.audiences],
        algorithms: ID_TOKEN_ALGORITHMS,
        currentDate: this.#clock.now(),
        clockTolerance: TOKEN_CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['sub', 'exp', 'iat'],
      }));
    } catch (error) {
      throw tokenFailure(error);
    }
    const audiences = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
    const audience = audiences.find((item) => provider.audiences.includes(item));
    if (typeof payload.sub !== 'string' || payload.sub === '' || audience === undefined) {
      throw federationError('InvalidIdentityToken', 'The ID token has no subject or audience.');
    }
    return { issuer: provider.issuer, subject: payload.sub, audience, claims: payload };
  }

  /** Forget an issuer's discovery document and keys (its provider was deleted or changed). */
  forget(issuer: string): void {
    this.#providers.delete(issuer);
  }

  #keysOf(issuer: string): Promise<ReturnType<typeof createRemoteJWKSet>> {
    const now = this.#clock.nowMs();
    const cached = this.#providers.get(issuer);
    if (cached !== undefined && cached.expiresAtMs > now) return cached.keys;
    if (this.#providers.size >= DISCOVERY_CACHE_MAX_ENTRIES) this.#providers.clear();
    const keys = discover(issuer).then((jwksUri) =>
      createRemoteJWKSet(jwksUri, { timeoutDuration: DISCOVERY_FETCH_TIMEOUT_MS }),
    );
    const entry = { expiresAtMs: now + DISCOVERY_CACHE_TTL_MS, keys };
    this.#providers.set(issuer, entry);
    keys.catch(() => {
      if (this.#providers.get(issuer) === entry) this.#providers.delete(issuer);
    });
    return keys;
  }
}

/** The key set URL of an issuer, from its discovery document (OpenID Connect Discovery 1.0 §4). */
async function discover(issuer: string): Promise<URL> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  let document: unknown;
  try {
    const response = await fetch(url, {
      redirect: 'error',
      signal: AbortSignal.timeout(DISCOVERY_FETCH_TIMEOUT_MS),
      headers: { accept: 'application/json' },
    });
    if (!response.ok) throw new Error(`status ${response.status}`);
    const text = await response.text();
    if (text.length > DISCOVERY_DOCUMENT_MAX_BYTES) throw new Error('discovery document too large');
    document = JSON.parse(text);
  } catch {
    throw federationError(
      'IDPCommunicationError',
      `The OpenID Connect discovery document of ${issuer} could not be read.`,
    );
  }
  if (typeof document !== 'object' || document === null) {
    throw federationError(
      'IDPCommunicationError',
      `The discovery document of ${issuer} is not a JSON object.`,
    );
  }
  const { issuer: named, jwks_uri: jwksUri } = document as Record<string, unknown>;
  // §4.3: the issuer in the document MUST be identical to the one it was retrieved for.
  if (named !== issuer || typeof jwksUri !== 'string') {
    throw federationError(
      'IDPCommunicationError',
      `The discovery document of ${issuer} names another issuer or no jwks_uri.`,
    );
  }
  let keysUrl: URL;
  try {
    keysUrl = new URL(jwksUri);
  } catch {
    throw federationError('IDPCommunicationError', `The jwks_uri of ${issuer} is not a URL.`);
  }
  if (keysUrl.protocol !== 'https:' && !(keysUrl.protocol === 'http:' && isLoopbackHost(keysUrl.hostname))) {
    throw federationError('IDPCommunicationError', `The jwks_uri of ${issuer} does not use https.`);
  }
  return keysUrl;
}

function checkTokenShape(token: string): void {
  if (token.length < WEB_IDENTITY_TOKEN_MIN_CHARS || token.length > WEB_IDENTITY_TOKEN_MAX_CHARS) {
    throw federationError(
      'InvalidIdentityToken',
      `The ID token must be ${WEB_IDENTITY_TOKEN_MIN_CHARS} to ${WEB_IDENTITY_TOKEN_MAX_CHARS} characters.`,
    );
  }
}

/** jose's failures as STS names them; anything that is not about the token is the provider's. */
function tokenFailure(error: unknown): Error {
  if (error instanceof errors.JWTExpired) {
    return federationError(
      'ExpiredTokenException',
      'Token expired: current date/time is after the exp claim.',
    );
  }
  if (error instanceof errors.JWKSTimeout) {
    return federationError('IDPCommunicationError', 'The identity provider did not answer in time.');
  }
  if (error instanceof errors.JOSEError) {
    // The reason (signature, issuer, audience, …) without echoing token contents.
    return federationError('InvalidIdentityToken', `The ID token is not valid: ${error.code}.`);
  }
  return federationError('IDPCommunicationError', 'The identity provider’s keys could not be read.');
}
