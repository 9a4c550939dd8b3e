import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Caller } from '../../domain/iam/caller.ts';
import type { CredentialResolver } from '../../domain/iam/credentials.ts';
import type { Principal } from '../../domain/iam/types.ts';
import type { Clock } from '../../platform/clock.ts';
import { LIMITS } from '../../platform/limits.ts';
import { SigV4Error } from './errors.ts';
import { SigningKeyCache } from './signing-key.ts';
import { hasAuthentication, verifySigV4, type VerifiedRequest } from './verify.ts';

export interface SignedRequestOptions {
  credentials: CredentialResolver;
  clock: Clock;
  region: string;
  /** The SigV4 service name the request must be scoped to (`kms`, `sovra`, …). */
  service: string;
  signingKeys: SigningKeyCache;
  /** Whether presigned URLs (query authentication) are accepted; JSON APIs refuse them. */
  allowPresigned: boolean;
}

/**
 * Authenticates a request whose whole body has been read (JSON APIs: KMS, admin, audit): AWS
 * SigV4 over the body's SHA-256 (JSON clients sign it without always sending
 * x-amz-content-sha256), scoped to this region and service. Returns the signing principal.
 * Failures are SigV4Errors that each protocol maps to its own wire error.
 */
export async function authenticateSignedRequest(
  req: IncomingMessage,
  body: Uint8Array,
  options: SignedRequestOptions,
): Promise<{ principal: Principal; verified: VerifiedRequest }> {
  const url = req.url ?? '/';
  const queryAt = url.indexOf('?');
  const input = {
    method: req.method ?? 'GET',
    rawPath: queryAt === -1 ? url : url.slice(0, queryAt),
    rawQuery: queryAt === -1 ? '' : url.slice(queryAt + 1),
    headers: req.headersDistinct,
    payloadSha256Hex: createHash('sha256').update(body).digest('hex'),
  };
  if (!hasAuthentication(input))
    throw new SigV4Error('AccessDeniedAnonymous', 'Missing Authentication Token');
  let principal: Principal | null = null;
  const verified = await verifySigV4(
    input,
    async (accessKeyId, sessionToken) => {
      // Temporary credentials resolve only with their session token, checked by the resolver.
      const credential = await options.credentials.resolve(accessKeyId, sessionToken);
      if (credential === null) return null;
      principal = credential.principal;
      return {
        secretAccessKey: credential.secretAccessKey,
        principalId: credential.principal.id,
        tenantId: credential.principal.tenantId,
        ...(credential.session === undefined ? {} : { sessionToken: credential.session.sessionToken }),
      };
    },
    {
      service: options.service,
      nowMs: options.clock.nowMs(),
      maxSkewMs: LIMITS.clockSkewMaxMs,
      maxPresignSeconds: options.allowPresigned ? LIMITS.presignMaxExpiresSeconds : 0,
      uriEncoding: 'standard',
      signingKeyCache: options.signingKeys,
    },
  );
  if (verified.method !== 'header' && !options.allowPresigned) {
    throw new SigV4Error(
      'AuthorizationQueryParametersError',
      'Requests carry a signed Authorization header.',
    );
  }
  if (verified.payload.kind !== 'sha256' || verified.payload.hex !== input.payloadSha256Hex) {
    // The signature covered a payload hash other than this body's (or none): not this request.
    throw new SigV4Error('XAmzContentSHA256Mismatch', 'The request body does not match its signed hash.');
  }
  if (verified.region !== options.region) {
    throw new SigV4Error(
      'AuthorizationHeaderMalformed',
      `Credential should be scoped to a valid region; this endpoint serves '${options.region}', not '${verified.region}'.`,
    );
  }
  const signer = principal as Principal | null;
  if (signer === null) throw new SigV4Error('InvalidAccessKeyId', 'The access key is not known.');
  return { principal: signer, verified };
}

/** Sovra's own JSON APIs (admin, access, audit, operator) sign for this SigV4 service. */
export const SOVRA_SIGNING_SERVICE = 'sovra';

/**
 * One endpoint's authentication of whole-body requests: authenticateSignedRequest with the
 * endpoint's region and service and a signing-key cache of its own; header signatures only
 * unless `allowPresigned`.
 */
export class SignedRequestAuthenticator {
  readonly #options: SignedRequestOptions;

  constructor(options: SignedRequestOptions) {
    this.#options = options;
  }

  /** The authenticator of an endpoint configured with `endpoint`'s credentials, clock and region. */
  static for(
    endpoint: { credentials: CredentialResolver; clock: Clock; region: string },
    service: string,
    { allowPresigned = false }: { allowPresigned?: boolean } = {},
  ): SignedRequestAuthenticator {
    return new SignedRequestAuthenticator({
      credentials: endpoint.credentials,
      clock: endpoint.clock,
      region: endpoint.region,
      service,
      signingKeys: new SigningKeyCache(),
      allowPresigned,
    });
  }

  async principalOf(req: IncomingMessage, body: Uint8Array): Promise<Principal> {
    return (await authenticateSignedRequest(req, body, this.#options)).principal;
  }

  /** The signing principal and the Caller the domain decides for. */
  async callerOf(
    req: IncomingMessage,
    body: Uint8Array,
    requestId: string,
  ): Promise<{ principal: Principal; caller: Caller }> {
    const principal = await this.principalOf(req, body);
    return { principal, caller: signedCaller(principal, req, requestId) };
  }
}

/** The Caller of a request signed by `principal`. */
export function signedCaller(principal: Principal, req: IncomingMessage, requestId: string): Caller {
  return {
    principalId: principal.id,
    tenantId: principal.tenantId,
    isTenantAdmin: principal.isTenantAdmin,
    requestId,
    sourceIp: req.socket.remoteAddress ?? '',
    secureTransport: isSecureTransport(req),
  };
}

/** Whether the request came over TLS (aws:SecureTransport). */
export function isSecureTransport(req: IncomingMessage): boolean {
  return 'encrypted' in req.socket && req.socket.encrypted === true;
}
