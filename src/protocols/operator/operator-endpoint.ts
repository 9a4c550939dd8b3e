import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CredentialResolver } from '../../domain/iam/credentials.ts';
import type { Principal } from '../../domain/iam/types.ts';
import { KmsError, type KmsErrorCode } from '../../domain/kms/errors.ts';
import type { SealStatus, ShamirSeal } from '../../domain/kms/seal.ts';
import type { Clock } from '../../platform/clock.ts';
import { assertNever, isSovraError, SovraError } from '../../platform/errors.ts';
import { LIMITS } from '../../platform/limits.ts';
import { sha256Hex } from '../sigv4/canonical.ts';
import { SigV4Error } from '../sigv4/errors.ts';
import { SigningKeyCache } from '../sigv4/signing-key.ts';
import { hasAuthentication, verifySigV4 } from '../sigv4/verify.ts';
import { SourceRateLimit } from './source-rate-limit.ts';
import { readBoundedBody } from '../bounded-body.ts';
import { ROOT_TENANT_ID } from '../../domain/iam/bootstrap.ts';
import { SOVRA_SIGNING_SERVICE } from '../sigv4/signed-request.ts';

/**
 * Operator endpoints of the sealed root of trust, under a prefix that can never be a bucket name
 * (`_` is not allowed in one). Modelled on Vault's sys/seal-status, sys/unseal and sys/seal
 * (https://developer.hashicorp.com/vault/api-docs/system/unseal):
 *
 *   GET  /_sovra/operator/status   unauthenticated; initialized, sealed, threshold, progress
 *   POST /_sovra/operator/unseal   unauthenticated ({"share": "…"} or {"reset": true}): the shares
 *                                  are the authentication. Rate-limited per source address.
 *   POST /_sovra/operator/seal     SigV4 (service `sovra`) by an administrator of the root tenant
 *
 * Initialisation is deliberately not here: `sovra operator init` runs offline on the data
 * directory, so shares never cross the network at birth. Responses are JSON; errors are
 * `{"code", "message", "requestId"}` with the HTTP status from one table (OPERATOR_STATUS).
 */
export const OPERATOR_PATH_PREFIX = '/_sovra/operator/';

/** The root tenant created at bootstrap (domain/iam/bootstrap.ts). */

export type OperatorAction = 'GetSealStatus' | 'Unseal' | 'Seal';

export interface OperatorOutcome {
  action: OperatorAction | null;
  principalId: string | null;
  errorCode: string | null;
}

export interface OperatorEndpointLog {
  info(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
  isLevelEnabled(level: string): boolean;
}

export interface OperatorEndpointOptions {
  /** null when the server's root of trust is not the sealed software root. */
  seal: ShamirSeal | null;
  credentials: CredentialResolver;
  clock: Clock;
  region: string;
  log: OperatorEndpointLog;
}

type OperatorErrorCode =
  | 'NotFound'
  | 'MethodNotAllowed'
  | 'NotConfigured'
  | 'MalformedRequest'
  | 'RequestTooLarge'
  | 'TooManyRequests'
  | 'AccessDenied';

class OperatorError extends SovraError<OperatorErrorCode> {
  /** Response headers the refusal needs (Allow, Retry-After). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: OperatorErrorCode, message: string, headers: Record<string, string> = {}) {
    super(code, message);
    this.headers = headers;
  }
}

/** HTTP status of every code an operator request can fail with. */
function statusOf(error: SovraError): number {
  if (error instanceof OperatorError) {
    const code = error.code;
    switch (code) {
      case 'NotFound':
      case 'NotConfigured':
        return 404;
      case 'MethodNotAllowed':
        return 405;
      case 'MalformedRequest':
        return 400;
      case 'RequestTooLarge':
        return 413;
      case 'TooManyRequests':
        return 429;
      case 'AccessDenied':
        return 403;
      default:
        return assertNever(code, 'operator error code');
    }
  }
  if (error instanceof KmsError) return KMS_STATUS[error.code] ?? 500;
  // Every signature failure on the seal endpoint is a refusal to act: 403.
  if (error instanceof SigV4Error) return 403;
  return 500;
}

const KMS_STATUS: Partial<Record<KmsErrorCode, number>> = {
  Validation: 400,
  UnsealFailed: 400,
  NotInitialized: 400,
  Sealed: 503,
  RootUnavailable: 500,
  LimitExceeded: 429,
};

export class OperatorEndpoint {
  readonly #o: OperatorEndpointOptions;
  readonly #signingKeys = new SigningKeyCache();
  readonly #unsealLimit: SourceRateLimit;

  constructor(options: OperatorEndpointOptions) {
    this.#o = options;
    this.#unsealLimit = new SourceRateLimit({
      perMinute: LIMITS.unsealSubmissionsPerMinute,
      maxSources: LIMITS.unsealRateLimitSourcesMax,
      clock: options.clock,
    });
  }

  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    outcome: OperatorOutcome = { action: null, principalId: null, errorCode: null },
  ): Promise<OperatorOutcome> {
    const started = process.hrtime.bigint();
    const source = req.socket.remoteAddress ?? 'unknown';
    try {
      const action = routeOperatorRequest(req.method ?? 'GET', req.url ?? '/');
      outcome.action = action;
      const seal = this.#o.seal;
      if (seal === null) {
        throw new OperatorError(
          'NotConfigured',
          'this server has no sealed root of trust (start it with --root-of-trust sealed-shamir)',
        );
      }
      switch (action) {
        case 'GetSealStatus':
          return this.#reply(res, outcome, await seal.status());
        case 'Unseal':
          return this.#reply(res, outcome, await this.#unseal(req, seal, source));
        case 'Seal': {
          const principal = await this.#authenticateRootAdmin(req);
          outcome.principalId = principal.id;
          return this.#reply(res, outcome, await seal.seal(source, principal.id));
        }
        default:
          return assertNever(action, 'operator action');
      }
    } catch (error) {
      this.#fail(req, res, outcome, error, requestId);
      return outcome;
    } finally {
      this.#logRequest(req, res, outcome, requestId, source, started);
    }
  }

  async #unseal(req: IncomingMessage, seal: ShamirSeal, source: string): Promise<SealStatus> {
    if (!this.#unsealLimit.take(source)) {
      throw new OperatorError(
        'TooManyRequests',
        `too many unseal submissions from this address; at most ${LIMITS.unsealSubmissionsPerMinute} a minute`,
        { 'retry-after': String(this.#unsealLimit.retryAfterSeconds(source)) },
      );
    }
    const body = await readBody(req);
    const request = parseUnsealRequest(body);
    body.fill(0);
    if (request.reset) return seal.reset(source);
    return seal.submit(request.share, source);
  }

  /** SigV4 with service `sovra`, header form only, signed by a root tenant administrator. */
  async #authenticateRootAdmin(req: IncomingMessage): Promise<Principal> {
    const body = await readBody(req);
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const computedSha256 = sha256Hex(body);
    const input = {
      method: req.method ?? 'POST',
      rawPath: queryAt === -1 ? url : url.slice(0, queryAt),
      rawQuery: queryAt === -1 ? '' : url.slice(queryAt + 1),
      headers: req.headersDistinct,
      payloadSha256Hex: computedSha256,
    };
    if (!hasAuthentication(input)) {
      throw new OperatorError(
        'AccessDenied',
        'sealing needs a request signed (AWS SigV4, service "sovra") by an administrator of the root tenant',
      );
    }
    let principal: Principal | null = null;
    const verified = await verifySigV4(
      input,
      async (accessKeyId) => {
        const credential = await this.#o.credentials.resolve(accessKeyId);
        if (credential === null) return null;
        principal = credential.principal;
        return {
          secretAccessKey: credential.secretAccessKey,
          principalId: credential.principal.id,
          tenantId: credential.principal.tenantId,
        };
      },
      {
        service: SOVRA_SIGNING_SERVICE,
        nowMs: this.#o.clock.nowMs(),
        maxSkewMs: LIMITS.clockSkewMaxMs,
        maxPresignSeconds: LIMITS.presignMaxExpiresSeconds,
        uriEncoding: 'standard',
        signingKeyCache: this.#signingKeys,
      },
    );
    const denied = (message: string) => new OperatorError('AccessDenied', message);
    if (verified.method !== 'header')
      throw denied('sealing needs a signed Authorization header, not a presigned URL');
    if (verified.region !== this.#o.region) throw denied(`the signing region must be ${this.#o.region}`);
    const payload = verified.payload;
    if (payload.kind !== 'sha256' || payload.hex !== computedSha256) {
      throw denied('the signed x-amz-content-sha256 must be the SHA-256 of the body');
    }
    const signer = principal as Principal | null;
    if (signer === null || !signer.isTenantAdmin || signer.tenantId !== ROOT_TENANT_ID) {
      throw denied('only an administrator of the root tenant may seal');
    }
    return signer;
  }

  #reply(res: ServerResponse, outcome: OperatorOutcome, status: SealStatus): OperatorOutcome {
    writeJson(res, 200, status);
    return outcome;
  }

  #fail(
    req: IncomingMessage,
    res: ServerResponse,
    outcome: OperatorOutcome,
    error: unknown,
    requestId: string,
  ): void {
    let status = 500;
    let code = 'InternalError';
    let message = `internal error; see the server log for request ${requestId}`;
    if (isSovraError(error)) {
      status = statusOf(error);
      if (status !== 500) {
        code = error.code;
        message = error.message;
      } else if (error instanceof KmsError && error.code === 'RootUnavailable') {
        // The detail (a path, a parse error) is for the server log, not for an unauthenticated caller.
        code = error.code;
        message = `the root of trust is unavailable: the seal record cannot be read; see the server log for request ${requestId}`;
      }
    }
    if (status === 500) this.#o.log.error({ err: error, requestId }, 'operator request failed');
    outcome.errorCode = code;
    const headers: Record<string, string> = error instanceof OperatorError ? { ...error.headers } : {};
    if (error instanceof OperatorError && error.code === 'RequestTooLarge') {
      // The rest of an oversized body is not read: close the connection once the answer is out.
      headers.connection = 'close';
      res.once('finish', () => req.destroy());
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    writeJson(res, status, { code, message, requestId }, headers);
  }

  #logRequest(
    req: IncomingMessage,
    res: ServerResponse,
    outcome: OperatorOutcome,
    requestId: string,
    source: string,
    started: bigint,
  ): void {
    if (!this.#o.log.isLevelEnabled('info')) return;
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    this.#o.log.info(
      {
        requestId,
        method: req.method,
        // The query is dropped: the operator endpoints take none, and it could carry anything.
        path: queryAt === -1 ? url : url.slice(0, queryAt),
        status: res.statusCode,
        durationMs: Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100,
        action: outcome.action,
        principal: outcome.principalId,
        error: outcome.errorCode,
        remote: source,
      },
      'request',
    );
  }
}

/** Method and path → action; anything else is NotFound or MethodNotAllowed. */
export function routeOperatorRequest(method: string, url: string): OperatorAction {
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const name = path.startsWith(OPERATOR_PATH_PREFIX) ? path.slice(OPERATOR_PATH_PREFIX.length) : null;
  const routes: Record<string, { method: string; action: OperatorAction }> = {
    status: { method: 'GET', action: 'GetSealStatus' },
    unseal: { method: 'POST', action: 'Unseal' },
    seal: { method: 'POST', action: 'Seal' },
  };
  const route = name === null ? undefined : Object.hasOwn(routes, name) ? routes[name] : undefined;
  if (route === undefined) {
    throw new OperatorError('NotFound', `no operator endpoint at ${path} (status, unseal, seal)`);
  }
  if (method !== route.method) {
    throw new OperatorError('MethodNotAllowed', `${path} accepts ${route.method} only`, {
      allow: route.method,
    });
  }
  return route.action;
}

type UnsealRequest = { reset: true } | { reset: false; share: string };

/** `{"share": "<printed share>"}` or `{"reset": true}` (Vault's `key`/`reset`); nothing else. */
function parseUnsealRequest(body: Buffer): UnsealRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new OperatorError('MalformedRequest', 'the body must be JSON: {"share": "sovra-share-v1:…"}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new OperatorError(
      'MalformedRequest',
      'the body must be a JSON object: {"share": "sovra-share-v1:…"}',
    );
  }
  const fields = parsed as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (key !== 'share' && key !== 'reset') {
      throw new OperatorError(
        'MalformedRequest',
        `unknown field "${key.slice(0, 64)}" (expected share or reset)`,
      );
    }
  }
  if (fields.reset !== undefined && typeof fields.reset !== 'boolean') {
    throw new OperatorError('MalformedRequest', 'reset must be true or false');
  }
  // As in Vault, reset takes precedence when both are given.
  if (fields.reset === true) return { reset: true };
  if (typeof fields.share !== 'string' || fields.share === '') {
    throw new OperatorError('MalformedRequest', 'share must be a non-empty string');
  }
  return { reset: false, share: fields.share };
}

/** Unseal shares travel in these bodies, so they are zeroed once read (bounded-body.ts). */
function readBody(req: IncomingMessage): Promise<Buffer> {
  const limit = LIMITS.operatorRequestBodyMaxBytes;
  const tooLarge = () =>
    new OperatorError('RequestTooLarge', `operator request bodies are limited to ${limit} bytes`);
  return readBoundedBody(req, limit, tooLarge, true);
}

function writeJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}
