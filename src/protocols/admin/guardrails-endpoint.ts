import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  GUARDRAILS_RESOURCE,
  guardrailTextSha256,
  type GuardrailAdministration,
  type GuardrailSetDescription,
} from '../../domain/guardrails/guardrail-administration.ts';
import { MAX_GUARDRAIL_TEXT_BYTES } from '../../domain/guardrails/limits.ts';
import type { CredentialResolver } from '../../domain/iam/credentials.ts';
import type { Clock } from '../../platform/clock.ts';
import { assertNever } from '../../platform/errors.ts';
import { readBoundedBody } from '../bounded-body.ts';
import { SignedRequestAuthenticator, SOVRA_SIGNING_SERVICE } from '../sigv4/signed-request.ts';
import { newAdminOutcome, sendAdminError, sendAdminJson, type AdminOutcome } from './admin-endpoint.ts';
import { AdminProtocolError } from './errors.ts';
import { RequestFields } from './request-fields.ts';
import { matchGuardrailRoute } from './routes.ts';

/**
 * A guardrail set of the largest size the compiler accepts, as a JSON string: quotes and line
 * breaks escape to two bytes each. The compiler refuses text above MAX_GUARDRAIL_TEXT_BYTES itself.
 */
export const GUARDRAILS_REQUEST_BODY_MAX_BYTES = 2 * MAX_GUARDRAIL_TEXT_BYTES + 1024;

/** An admin outcome with the set a request read or offered, for its audit record. */
export interface GuardrailsOutcome extends AdminOutcome {
  /** SHA-256 of the text a PUT offered (accepted or refused), or of the set a GET answered. */
  guardrailsSha256: string | null;
  /** The stored version a PUT created, or the active version a GET answered (null: default or file). */
  guardrailsVersion: number | null;
}

export function newGuardrailsOutcome(): GuardrailsOutcome {
  return { ...newAdminOutcome(), guardrailsSha256: null, guardrailsVersion: null };
}

export interface GuardrailsEndpointOptions {
  guardrails: GuardrailAdministration;
  credentials: CredentialResolver;
  clock: Clock;
  region: string;
  log: { error(fields: Record<string, unknown>, message: string): void };
}

/**
 * `GET` and `PUT /_sovra/admin/guardrails` (GUARDRAIL_ROUTES): the platform guardrails, read and
 * replaced by root-tenant administrators, with the admin API's SigV4 service `sovra`, audit outcome
 * and error table. PUT takes `{"policies": "<Cedar text>"}`, or the Cedar text itself;
 * GuardrailAdministration validates, stores and activates it.
 */
export class GuardrailsAdminEndpoint {
  readonly #o: GuardrailsEndpointOptions;
  readonly #signed: SignedRequestAuthenticator;

  constructor(options: GuardrailsEndpointOptions) {
    this.#o = options;
    this.#signed = SignedRequestAuthenticator.for(options, SOVRA_SIGNING_SERVICE);
  }

  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    outcome: GuardrailsOutcome,
  ): Promise<GuardrailsOutcome> {
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    try {
      const { route } = matchGuardrailRoute(req.method ?? 'GET', path);
      outcome.action = `sovra:${route.action}`;
      outcome.resource = GUARDRAILS_RESOURCE;
      const body = await readBoundedBody(
        req,
        GUARDRAILS_REQUEST_BODY_MAX_BYTES,
        () =>
          new AdminProtocolError(
            'RequestTooLarge',
            `guardrail requests are limited to ${GUARDRAILS_REQUEST_BODY_MAX_BYTES} bytes`,
          ),
      );
      const { principal, caller } = await this.#signed.callerOf(req, body, requestId);
      outcome.principalId = principal.id;
      outcome.tenantId = principal.tenantId;
      let described: GuardrailSetDescription;
      switch (route.action) {
        case 'GetGuardrails':
          RequestFields.parse(body).done();
          described = this.#o.guardrails.describe(caller);
          break;
        case 'PutGuardrails': {
          const text = policiesOf(body);
          // Named before the domain decides, so a refused set's record names it too.
          outcome.guardrailsSha256 = guardrailTextSha256(text);
          described = await this.#o.guardrails.replace(caller, text);
          break;
        }
        default:
          return assertNever(route.action, 'guardrail action');
      }
      outcome.guardrailsSha256 = described.sha256;
      outcome.guardrailsVersion = described.version;
      sendAdminJson(res, route.status, JSON.stringify({ guardrails: guardrailsView(described) }));
    } catch (error) {
      sendAdminError(req, res, outcome, error, requestId, this.#o.log);
    }
    return outcome;
  }
}

/**
 * The Cedar text of a PUT: the admin API's JSON with one member, `policies`, or the Cedar text
 * itself. The body's first non-blank character tells them apart — a JSON object starts with `{`,
 * Cedar text never does (a policy starts with an annotation, `permit` or `forbid`, or a comment) —
 * rather than Content-Type, which HTTP clients set to text/plain for any string body.
 */
function policiesOf(body: Buffer): string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new AdminProtocolError('ValidationError', 'the request body must be UTF-8');
  }
  if (!text.trimStart().startsWith('{')) return text;
  const fields = RequestFields.parse(body);
  const policies = fields.string('policies');
  fields.done();
  return policies;
}

/** The GuardrailsResponse schema's `guardrails` member. */
function guardrailsView(described: GuardrailSetDescription) {
  return {
    policies: described.text,
    sha256: described.sha256,
    version: described.version,
    source: described.source,
    replacedAt: described.replacedAt === null ? null : described.replacedAt.toISOString(),
    replacedBy: described.replacedBy,
    policyIds: described.policyIds,
    refusedStoredSet: described.refusedStoredSet,
  };
}
