import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { CredentialResolver } from '../../domain/iam/credentials.ts';
import type { Principal } from '../../domain/iam/types.ts';
import type { Clock } from '../../platform/clock.ts';
import { LIMITS } from '../../platform/limits.ts';
import { SigV4Error } from './errors.ts';
import type { SigningKeyCache } from './signing-key.ts';
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
