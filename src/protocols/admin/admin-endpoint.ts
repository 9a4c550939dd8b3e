import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CredentialResolver } from '../../domain/iam/credentials.ts';
import { adminPolicyAction, type IdentityAdministration } from '../../domain/iam/identity-admin.ts';
import type { Clock } from '../../platform/clock.ts';
import { readBoundedBody } from '../bounded-body.ts';
import { SignedRequestAuthenticator, SOVRA_SIGNING_SERVICE } from '../sigv4/signed-request.ts';
import { AdminProtocolError, adminWireError } from './errors.ts';
import { adminOpenApiDocument } from './openapi.ts';
import { performAdminAction } from './operations.ts';
import { RequestFields } from './request-fields.ts';
import { matchAdminRoute, OPENAPI_PATH } from './routes.ts';

export { ADMIN_PATH_PREFIX, OPENAPI_PATH } from './routes.ts';

/** SigV4 service name of Sovra's own APIs (operator, audit, admin). */
/** Admin requests are small JSON documents; a policy is at most 6,144 characters without whitespace. */
export const ADMIN_REQUEST_BODY_MAX_BYTES = 64 * 1024;

/** What a request did, for the audit log and the access log; filled as the request is handled. */
export interface AdminOutcome {
  /** The policy action, e.g. `sovra:CreateUser`; null when the request matched no operation. */
  action: string | null;
  principalId: string | null;
  /** The tenant whose entities were read or changed (the new tenant for CreateTenant). */
  tenantId: string | null;
  /** The ARN of the entity, e.g. arn:aws:iam::agency-b:user/alice. */
  resource: string | null;
  /** The label of the data read (GetBucket: the bucket's, compact form); null otherwise. */
  classification: string | null;
  errorCode: string | null;
}

export function newAdminOutcome(): AdminOutcome {
  return {
    action: null,
    principalId: null,
    tenantId: null,
    resource: null,
    classification: null,
    errorCode: null,
  };
}

export interface AdminEndpointLog {
  info(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
  isLevelEnabled(level: string): boolean;
}

export interface AdminEndpointOptions {
  admin: IdentityAdministration;
  credentials: CredentialResolver;
  clock: Clock;
  region: string;
  log: AdminEndpointLog;
}

/**
 * The admin API: JSON over HTTP(S) under /_sovra/admin/ (docs/reference/admin-api.md; the OpenAPI
 * document at GET /_sovra/admin/openapi.json, unauthenticated). Every other request is signed
 * with AWS SigV4 (service `sovra`, header form) and decided by IdentityAdministration. Responses
 * are never cached (`no-store`): some carry secret access keys, which are answered only over TLS
 * or to a loopback peer.
 */
export class AdminEndpoint {
  readonly #o: AdminEndpointOptions;
  readonly #signed: SignedRequestAuthenticator;
  #openApi: string | null = null;

  constructor(options: AdminEndpointOptions) {
    this.#o = options;
    this.#signed = SignedRequestAuthenticator.for(options, SOVRA_SIGNING_SERVICE);
  }

  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    outcome: AdminOutcome = newAdminOutcome(),
  ): Promise<AdminOutcome> {
    const started = process.hrtime.bigint();
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    try {
      if (path === OPENAPI_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
        this.#openApi ??= JSON.stringify(adminOpenApiDocument());
        sendAdminJson(res, 200, this.#openApi);
        return outcome;
      }
      const { route, params } = matchAdminRoute(req.method ?? 'GET', path);
      outcome.action = adminPolicyAction(route.action);
      const body = await readBoundedBody(
        req,
        ADMIN_REQUEST_BODY_MAX_BYTES,
        () =>
          new AdminProtocolError(
            'RequestTooLarge',
            `admin request bodies are limited to ${ADMIN_REQUEST_BODY_MAX_BYTES} bytes`,
          ),
      );
      const { principal, caller } = await this.#signed.callerOf(req, body, requestId);
      outcome.principalId = principal.id;
      outcome.tenantId = principal.tenantId;
      if (route.returnsSecret === true && !caller.secureTransport && !isLoopback(req.socket.remoteAddress)) {
        throw new AdminProtocolError(
          'SecureTransportRequired',
          'this answer carries a secret access key: send the request over HTTPS',
        );
      }
      // The operation names its tenant and resource in the outcome before calling the domain, so
      // both are known when the response (and with it the audit record) is written, refusals included.
      const answer = await performAdminAction(this.#o.admin, route.action, {
        caller,
        params,
        query: new URLSearchParams(queryAt === -1 ? '' : url.slice(queryAt + 1)),
        fields: RequestFields.parse(body),
        nowMs: this.#o.clock.nowMs(),
        target: outcome,
      });
      if (route.response === null) sendAdminJson(res, 204, null);
      else sendAdminJson(res, route.status, JSON.stringify(answer));
    } catch (error) {
      sendAdminError(req, res, outcome, error, requestId, this.#o.log);
    } finally {
      this.#logRequest(req, res, outcome, requestId, path, started);
    }
    return outcome;
  }

  #logRequest(
    req: IncomingMessage,
    res: ServerResponse,
    outcome: AdminOutcome,
    requestId: string,
    path: string,
    started: bigint,
  ): void {
    if (!this.#o.log.isLevelEnabled('info')) return;
    this.#o.log.info(
      {
        requestId,
        method: req.method,
        // Names in the path are the tenant's own; the query (markers) is dropped.
        path: path.slice(0, 512),
        status: res.statusCode,
        durationMs: Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100,
        action: outcome.action,
        principal: outcome.principalId,
        tenant: outcome.tenantId,
        resource: outcome.resource,
        error: outcome.errorCode,
        remote: req.socket.remoteAddress,
      },
      'request',
    );
  }
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 addresses. */
function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}

/**
 * An admin API error answer (one for every endpoint under /_sovra/admin/): the wire code from the
 * error table, the request id, and no internal detail for a 500, which is logged instead.
 */
export function sendAdminError(
  req: IncomingMessage,
  res: ServerResponse,
  outcome: { errorCode: string | null },
  error: unknown,
  requestId: string,
  log: { error(fields: Record<string, unknown>, message: string): void },
): void {
  const wire = adminWireError(error);
  outcome.errorCode = wire.code;
  if (wire.status === 500) log.error({ err: error, requestId }, 'admin request failed');
  const headers: Record<string, string> = error instanceof AdminProtocolError ? { ...error.headers } : {};
  if (error instanceof AdminProtocolError && error.code === 'RequestTooLarge') {
    // The rest of an oversized body is not read: close the connection once the answer is out.
    headers.connection = 'close';
    res.once('finish', () => req.destroy());
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const message =
    wire.status === 500 ? `internal error; see the server log for request ${requestId}` : wire.message;
  sendAdminJson(res, wire.status, JSON.stringify({ code: wire.code, message, requestId }), headers);
}

/** An admin API answer: JSON (or no body), never cached. */
export function sendAdminJson(
  res: ServerResponse,
  status: number,
  body: string | null,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    ...headers,
    ...(body === null
      ? {}
      : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
    'cache-control': 'no-store',
  });
  res.end(body ?? undefined);
}
