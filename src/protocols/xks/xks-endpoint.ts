import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { XksKeyStore, XksRequester } from '../../domain/kms/xks.ts';
import type { Clock } from '../../platform/clock.ts';
import { LIMITS } from '../../platform/limits.ts';
import { SigV4Error } from '../sigv4/errors.ts';
import { SigningKeyCache } from '../sigv4/signing-key.ts';
import { hasAuthentication, verifySigV4 } from '../sigv4/verify.ts';
import { toXksWireError, xksProtocolError } from './errors.ts';
import type { XksProxyCredentials } from './xks-credentials.ts';
import { routeOf, xksApiPath, XksRequestBody, type XksRoute } from './request.ts';
import { readBoundedBody } from '../bounded-body.ts';

export interface XksEndpointLog {
  error(fields: Record<string, unknown>, message: string): void;
}

export interface XksEndpointOptions {
  keyStore: XksKeyStore;
  credentials: XksProxyCredentials;
  clock: Clock;
  region: string;
  /** Whether the root of trust can unwrap keys now (GetHealthStatus). */
  rootUsable: () => boolean;
  /** The network jurisdiction of a source address (key policies may test it). */
  jurisdictionOf: (address: string) => string;
}

/** Outcome of one request, for the access log. */
export interface XksOutcome {
  operation: XksRoute['operation'] | null;
  kmsRequestId: string | null;
  errorName: string | null;
}

/** Spec "Appendix A", Task 3: the SigV4 service name of XKS requests. */
export const XKS_SIGV4_SERVICE = 'kms-xks-proxy';
const PRINCIPAL_ID = 'xks-proxy';

/**
 * The AWS KMS External Key Store proxy API (xks_proxy_api_spec.md): POST JSON to
 * `<uriPrefix>/kms/xks/v1/…`, SigV4-signed by the XKS proxy credentials. Route → bounded body →
 * authenticate → parse → run on the tenant's XksKeyStore → answer JSON; every failure is
 * `{"errorName", "errorMessage"}` from the one table in errors.ts.
 */
export class XksEndpoint {
  readonly #o: XksEndpointOptions;
  readonly #signingKeys = new SigningKeyCache();
  readonly #accessKeyId: Buffer;

  constructor(options: XksEndpointOptions) {
    this.#o = options;
    this.#accessKeyId = Buffer.from(options.credentials.accessKeyId);
  }

  /** Whether a request path belongs to this endpoint (the composition root routes on it). */
  owns(rawPath: string): boolean {
    const base = xksApiPath(this.#o.credentials.uriPrefix);
    return rawPath === base || rawPath.startsWith(`${base}/`);
  }

  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    log: XksEndpointLog,
  ): Promise<XksOutcome> {
    const outcome: XksOutcome = { operation: null, kmsRequestId: null, errorName: null };
    try {
      const url = req.url ?? '/';
      const queryAt = url.indexOf('?');
      const rawPath = queryAt === -1 ? url : url.slice(0, queryAt);
      const route = routeOf(rawPath, this.#o.credentials.uriPrefix);
      outcome.operation = route.operation;
      if (req.method !== 'POST') {
        throw xksProtocolError(
          'MethodNotAllowed',
          `${req.method ?? ''} is not allowed; XKS requests are POSTs.`,
        );
      }
      const body = await readBoundedBody(req, LIMITS.xksRequestBodyMaxBytes, tooLarge);
      await this.#authenticate(req, rawPath, queryAt === -1 ? '' : url.slice(queryAt + 1), body);
      const request = new XksRequestBody(body);
      send(res, 200, await this.#run(route, request, outcome, this.#requesterOf(req)));
    } catch (error) {
      const wire = toXksWireError(error);
      outcome.errorName = wire.errorName;
      if (!wire.known) log.error({ err: error, requestId }, 'XKS request failed with an internal error');
      const errorMessage = wire.known ? wire.errorMessage : `${wire.errorMessage} Request id: ${requestId}.`;
      if (res.headersSent) res.destroy();
      else send(res, wire.status, { errorName: wire.errorName, errorMessage }, !req.complete);
      if (!req.complete && !req.destroyed) req.resume();
    }
    return outcome;
  }

  async #run(
    route: XksRoute,
    request: XksRequestBody,
    outcome: XksOutcome,
    requester: XksRequester,
  ): Promise<Record<string, unknown>> {
    const store = this.#o.keyStore;
    switch (route.operation) {
      case 'GetHealthStatus': {
        outcome.kmsRequestId = request.healthRequestMetadata().kmsRequestId;
        return {
          xksProxyFleetSize: 1,
          xksProxyVendor: 'Sovra',
          xksProxyModel: 'Sovra XKS Proxy 1',
          ekmVendor: 'Sovra',
          ekmFleetDetails: [
            { id: 'sovra-1', model: 'Sovra KeyRing 1', healthStatus: store.health(this.#o.rootUsable) },
          ],
        };
      }
      case 'GetKeyMetadata': {
        const metadata = request.keyRequestMetadata(false);
        outcome.kmsRequestId = metadata.kmsRequestId;
        return { ...(await store.getKeyMetadata(route.externalKeyId, metadata)) };
      }
      case 'Encrypt': {
        const metadata = request.keyRequestMetadata(true);
        outcome.kmsRequestId = metadata.kmsRequestId;
        const output = await store.encrypt(route.externalKeyId, metadata, request.encryptInput(), requester);
        const response: Record<string, string> = {
          ciphertext: output.ciphertext.toString('base64'),
          ciphertextMetadata: output.ciphertextMetadata.toString('base64'),
          initializationVector: output.initializationVector.toString('base64'),
          authenticationTag: output.authenticationTag.toString('base64'),
        };
        if (output.ciphertextDataIntegrityValue !== undefined) {
          response.ciphertextDataIntegrityValue = output.ciphertextDataIntegrityValue.toString('base64');
        }
        return response;
      }
      case 'Decrypt': {
        const metadata = request.keyRequestMetadata(true);
        outcome.kmsRequestId = metadata.kmsRequestId;
        const plaintext = await store.decrypt(
          route.externalKeyId,
          metadata,
          request.decryptInput(),
          requester,
        );
        return { plaintext: plaintext.toString('base64') };
      }
    }
  }

  #requesterOf(req: IncomingMessage): XksRequester {
    const sourceIp = req.socket.remoteAddress ?? '';
    return { sourceIp, jurisdiction: this.#o.jurisdictionOf(sourceIp) };
  }

  /**
   * SigV4 (spec "Authentication", "Appendix A"): header authentication only, service
   * `kms-xks-proxy`, this proxy's region, the body's SHA-256 as the payload hash, and a request
   * time within 5 minutes of ours either way (the replay window of Task 4).
   */
  async #authenticate(req: IncomingMessage, rawPath: string, rawQuery: string, body: Buffer): Promise<void> {
    const input = {
      method: req.method ?? 'POST',
      rawPath,
      rawQuery,
      headers: req.headersDistinct,
      payloadSha256Hex: createHash('sha256').update(body).digest('hex'),
    };
    if (!hasAuthentication(input))
      throw new SigV4Error('AccessDeniedAnonymous', 'The request is not signed.');
    const credentials = this.#o.credentials;
    const verified = await verifySigV4(
      input,
      (accessKeyId) => {
        const given = Buffer.from(accessKeyId);
        const matches =
          given.length === this.#accessKeyId.length && timingSafeEqual(given, this.#accessKeyId);
        return Promise.resolve(
          matches
            ? {
                secretAccessKey: credentials.secretAccessKey,
                principalId: PRINCIPAL_ID,
                tenantId: credentials.tenantId,
              }
            : null,
        );
      },
      {
        service: XKS_SIGV4_SERVICE,
        nowMs: this.#o.clock.nowMs(),
        maxSkewMs: LIMITS.xksRequestSkewMaxMs,
        maxPresignSeconds: 0,
        uriEncoding: 'standard',
        signingKeyCache: this.#signingKeys,
      },
    );
    if (verified.method !== 'header') {
      throw new SigV4Error(
        'AuthorizationQueryParametersError',
        'XKS requests carry an Authorization header.',
      );
    }
    if (verified.payload.kind !== 'sha256' || verified.payload.hex !== input.payloadSha256Hex) {
      throw new SigV4Error('XAmzContentSHA256Mismatch', 'The request body does not match its signed hash.');
    }
    if (verified.region !== this.#o.region) {
      throw new SigV4Error(
        'AuthorizationHeaderMalformed',
        `Credential should be scoped to region '${this.#o.region}', not '${verified.region}'.`,
      );
    }
  }
}

function tooLarge(): Error {
  return xksProtocolError(
    'RequestTooLarge',
    `The request body is larger than ${LIMITS.xksRequestBodyMaxBytes} bytes.`,
  );
}

function send(res: ServerResponse, status: number, body: Record<string, unknown>, closeAfter = false): void {
  const bytes = Buffer.from(JSON.stringify(body), 'utf8');
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': bytes.length,
  };
  if (closeAfter) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(bytes);
}
