import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CredentialResolver } from '../../domain/iam/credentials.ts';
import type { FederationAdministration } from '../../domain/iam/federation-admin.ts';
import type { Clock } from '../../platform/clock.ts';
import {
  ADMIN_REQUEST_BODY_MAX_BYTES,
  sendAdminError,
  sendAdminJson,
  type AdminOutcome,
} from '../admin/admin-endpoint.ts';
import { AdminProtocolError } from '../admin/errors.ts';
import { performFederationAction } from '../admin/operations.ts';
import { matchFederationRoute } from '../admin/routes.ts';
import { readBoundedBody } from '../bounded-body.ts';
import { SignedRequestAuthenticator, SOVRA_SIGNING_SERVICE } from '../sigv4/signed-request.ts';

export interface FederationAdminEndpointOptions {
  federation: FederationAdministration;
  credentials: CredentialResolver;
  clock: Clock;
  region: string;
  log: { error(fields: Record<string, unknown>, message: string): void };
}

/**
 * The federation part of the admin API (FEDERATION_ROUTES: identity providers, revocation of role
 * sessions): the same prefix, SigV4 service `sovra`, JSON bodies, audit outcome and error table
 * as the rest of the admin API (protocols/admin), with FederationAdministration deciding.
 */
export class FederationAdminEndpoint {
  readonly #o: FederationAdminEndpointOptions;
  readonly #signed: SignedRequestAuthenticator;

  constructor(options: FederationAdminEndpointOptions) {
    this.#o = options;
    this.#signed = SignedRequestAuthenticator.for(options, SOVRA_SIGNING_SERVICE);
  }

  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    outcome: AdminOutcome,
  ): Promise<AdminOutcome> {
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    try {
      const matched = matchFederationRoute(req.method ?? 'GET', path);
      if (matched === null)
        throw new AdminProtocolError('NotFound', `no admin API operation at ${path.slice(0, 256)}`);
      const { route, params } = matched;
      outcome.action = `sovra:${route.action}`;
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
      const answer = await performFederationAction(this.#o.federation, route.action, {
        caller,
        params,
        body: jsonObject(body),
        target: outcome,
      });
      if (route.response === null) sendAdminJson(res, 204, null);
      else sendAdminJson(res, route.status, JSON.stringify(answer));
    } catch (error) {
      sendAdminError(req, res, outcome, error, requestId, this.#o.log);
    }
    return outcome;
  }
}

function jsonObject(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new AdminProtocolError('ValidationError', 'the request body must be JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new AdminProtocolError('ValidationError', 'the request body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}
