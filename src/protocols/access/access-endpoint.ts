import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CredentialResolver } from '../../domain/iam/credentials.ts';
import type { AccessApprovals, LockboxCaller } from '../../domain/lockbox/access-approvals.ts';
import type { AccessRequest } from '../../domain/lockbox/access-request.ts';
import { ATTESTATION_HEADER, decodeAttestationHeader } from '../../domain/lockbox/attestation.ts';
import type {
  AttestationRevocations,
  StoredAttestationRevocation,
} from '../../domain/lockbox/attestation-revocations.ts';
import { LockboxError } from '../../domain/lockbox/errors.ts';
import type {
  SecurityNotificationSetting,
  SecurityNotifications,
} from '../../domain/lockbox/security-notifications.ts';
import type { Clock } from '../../platform/clock.ts';
import { assertNever } from '../../platform/errors.ts';
import { readBoundedBody } from '../bounded-body.ts';
import { SignedRequestAuthenticator, SOVRA_SIGNING_SERVICE } from '../sigv4/signed-request.ts';
import { AccessProtocolError, wireErrorOf } from './errors.ts';

export const ACCESS_PATH_PREFIX = '/_sovra/access/';
/** SigV4 service name of Sovra's own APIs (operator, audit, access, admin). */
/** A filing is a few hundred bytes; a 1,024-byte key prefix and justification fit many times over. */
export const ACCESS_BODY_MAX_BYTES = 16 * 1024;
/** An access request id in a path: 'ar-' and 32 hex digits. */
const REQUEST_ID_SEGMENT = /^ar-[0-9a-f]{32}$/;

/** The operations of the access API, named as the audit log names them (sovra:<Action>). */
export type AccessApiAction =
  | 'FileAccessRequest'
  | 'ListAccessRequests'
  | 'GetAccessRequest'
  | 'ApproveAccessRequest'
  | 'DenyAccessRequest'
  | 'RevokeAccessRequest'
  | 'ConfirmBreakGlassAccess'
  | 'AcknowledgeBreakGlassAccess'
  | RevocationAction
  | SettingAction;

/** The security offices' attestation revocations: submitted and listed by platform operators. */
type RevocationAction = 'RevokeOperatorAttestation' | 'ListAttestationRevocations';

const REVOCATION_ACTIONS: Readonly<Record<string, RevocationAction>> = {
  POST: 'RevokeOperatorAttestation',
  GET: 'ListAttestationRevocations',
};

/** The operations on the caller's tenant's security notification setting. */
type SettingAction =
  | 'GetSecurityNotificationConfiguration'
  | 'PutSecurityNotificationConfiguration'
  | 'DeleteSecurityNotificationConfiguration';

const SETTING_ACTIONS: Readonly<Record<string, SettingAction>> = {
  GET: 'GetSecurityNotificationConfiguration',
  PUT: 'PutSecurityNotificationConfiguration',
  DELETE: 'DeleteSecurityNotificationConfiguration',
};
const SETTING_ACTION_NAMES: ReadonlySet<AccessApiAction> = new Set(Object.values(SETTING_ACTIONS));

/** What a request to the access API did, for the request-level audit record and the access log. */
export interface AccessOutcome {
  action: AccessApiAction | null;
  principalId: string | null;
  /** The caller's tenant. */
  tenantId: string | null;
  /** The access request concerned (filed, read or decided). */
  accessRequestId: string | null;
  /** The attestation revocation submitted (its id, the SHA-256 of its note text). */
  revocationId: string | null;
  errorCode: string | null;
}

export function newAccessOutcome(): AccessOutcome {
  return {
    action: null,
    principalId: null,
    tenantId: null,
    accessRequestId: null,
    revocationId: null,
    errorCode: null,
  };
}

export interface AccessEndpointOptions {
  approvals: AccessApprovals;
  notifications: SecurityNotifications;
  revocations: AttestationRevocations;
  credentials: CredentialResolver;
  clock: Clock;
  region: string;
  /** Errors without a code become InternalError answers; their cause is logged here. */
  onInternalError: (error: unknown, requestId: string) => void;
}

type Route =
  | { action: 'FileAccessRequest' | 'ListAccessRequests' | SettingAction | RevocationAction }
  | { action: DecisionAction | 'GetAccessRequest'; id: string };
type DecisionAction = Exclude<
  AccessApiAction,
  'FileAccessRequest' | 'ListAccessRequests' | 'GetAccessRequest' | SettingAction | RevocationAction
>;

const DECISIONS: Readonly<Record<string, DecisionAction>> = {
  approve: 'ApproveAccessRequest',
  deny: 'DenyAccessRequest',
  revoke: 'RevokeAccessRequest',
  confirm: 'ConfirmBreakGlassAccess',
  acknowledge: 'AcknowledgeBreakGlassAccess',
};

/** The body fields each decision takes (all optional). */
const DECISION_FIELDS: Readonly<Record<DecisionAction, readonly string[]>> = {
  ApproveAccessRequest: ['comment'],
  DenyAccessRequest: ['reason'],
  RevokeAccessRequest: ['reason'],
  ConfirmBreakGlassAccess: [],
  AcknowledgeBreakGlassAccess: ['comment'],
};

/**
 * Operator access approval (domain/lockbox) over HTTP, JSON signed with AWS
 * SigV4, service `sovra`:
 *
 *   POST /_sovra/access/requests                     an operator files (x-sovra-operator-attestation)
 *   GET  /_sovra/access/requests?tenant=&status=&after=&limit=
 *   GET  /_sovra/access/requests/<id>
 *   POST /_sovra/access/requests/<id>/approve        {"comment"}   the tenant's administrators
 *   POST /_sovra/access/requests/<id>/deny           {"reason"}    the tenant's administrators
 *   POST /_sovra/access/requests/<id>/revoke         {"reason"}    the tenant's administrators or the requester
 *   POST /_sovra/access/requests/<id>/confirm                      a second operator (break-glass; attested)
 *   POST /_sovra/access/requests/<id>/acknowledge    {"comment"}   the tenant's administrators (break-glass review)
 *   GET|PUT|DELETE /_sovra/access/notifications       {"destination"} (PUT)  the caller's tenant's
 *                                                    security notification destination (its administrators)
 *   POST /_sovra/access/attestation-revocations      body: a security office's revocation note
 *   GET  /_sovra/access/attestation-revocations?after=&limit=   platform operators
 *
 * Errors are `{"code", "message", "requestId"}` from the one table in errors.ts. Parsing and
 * rendering only: every rule lives in domain/lockbox.
 */
export class AccessEndpoint {
  readonly #o: AccessEndpointOptions;
  readonly #signed: SignedRequestAuthenticator;

  constructor(options: AccessEndpointOptions) {
    this.#o = options;
    this.#signed = SignedRequestAuthenticator.for(options, SOVRA_SIGNING_SERVICE);
  }

  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    outcome: AccessOutcome = newAccessOutcome(),
  ): Promise<AccessOutcome> {
    try {
      const url = new URL(req.url ?? '/', 'http://access.invalid');
      const route = routeOf(req.method ?? 'GET', url.pathname.slice(ACCESS_PATH_PREFIX.length));
      outcome.action = route.action;
      if ('id' in route) outcome.accessRequestId = route.id;
      const body =
        req.method === 'POST' || req.method === 'PUT'
          ? await readBoundedBody(
              req,
              ACCESS_BODY_MAX_BYTES,
              () =>
                new AccessProtocolError(
                  'RequestTooLarge',
                  `a request body is at most ${ACCESS_BODY_MAX_BYTES} bytes`,
                ),
            )
          : Buffer.alloc(0);
      const principal = await this.#signed.principalOf(req, body);
      outcome.principalId = principal.id;
      outcome.tenantId = principal.tenantId;
      const caller: LockboxCaller = {
        principalId: principal.id,
        principalTenantId: principal.tenantId,
        isTenantAdmin: principal.isTenantAdmin,
        sourceIp: req.socket.remoteAddress ?? null,
        requestId,
        attestationNote: attestationOf(req),
      };
      const answer = await this.#dispatch(route, caller, url, body);
      if (answer.request !== undefined) outcome.accessRequestId = answer.request.id;
      if (answer.revocationId !== undefined) outcome.revocationId = answer.revocationId;
      sendJson(res, answer.status, answer.json);
    } catch (error) {
      const wire = wireErrorOf(error);
      if (wire.status === 500) this.#o.onInternalError(error, requestId);
      outcome.errorCode = wire.code;
      if (res.headersSent) res.destroy();
      else sendJson(res, wire.status, { code: wire.code, message: wire.message, requestId });
    }
    return outcome;
  }

  async #dispatch(
    route: Route,
    caller: LockboxCaller,
    url: URL,
    body: Buffer,
  ): Promise<{ status: number; json: unknown; request?: AccessRequest; revocationId?: string }> {
    const approvals = this.#o.approvals;
    const one = (request: AccessRequest, status = 200) => ({
      status,
      json: { request: renderRequest(request) },
      request,
    });
    switch (route.action) {
      case 'FileAccessRequest':
        return one(await approvals.file(caller, jsonOf(body)), 201);
      case 'ListAccessRequests': {
        const page = await approvals.list(caller, listQueryOf(url));
        return {
          status: 200,
          json: { requests: page.requests.map(renderRequest), nextAfter: page.nextAfterId },
        };
      }
      case 'GetAccessRequest':
        return one(await approvals.get(caller, route.id));
      case 'ApproveAccessRequest':
        return one(await approvals.approve(caller, route.id, decisionOf(route.action, body).comment));
      case 'DenyAccessRequest':
        return one(await approvals.deny(caller, route.id, decisionOf(route.action, body).reason));
      case 'RevokeAccessRequest':
        return one(await approvals.revoke(caller, route.id, decisionOf(route.action, body).reason));
      case 'ConfirmBreakGlassAccess':
        decisionOf(route.action, body);
        return one(await approvals.confirm(caller, route.id));
      case 'AcknowledgeBreakGlassAccess':
        return one(await approvals.acknowledge(caller, route.id, decisionOf(route.action, body).comment));
      case 'GetSecurityNotificationConfiguration':
        return setting(caller, await this.#o.notifications.get(caller));
      case 'PutSecurityNotificationConfiguration':
        return setting(caller, await this.#o.notifications.put(caller, destinationOf(body)));
      case 'DeleteSecurityNotificationConfiguration':
        await this.#o.notifications.clear(caller);
        return setting(caller, null);
      case 'RevokeOperatorAttestation': {
        const { revocation, created } = await this.#o.revocations.submit(caller, noteOf(body));
        return {
          status: created ? 201 : 200,
          json: { revocation: renderRevocation(revocation) },
          revocationId: revocation.id,
        };
      }
      case 'ListAttestationRevocations': {
        const page = await this.#o.revocations.list(caller, revocationQueryOf(url));
        return {
          status: 200,
          json: {
            revocations: page.revocations.map(renderRevocation),
            nextAfter: page.nextAfterSeq === null ? null : String(page.nextAfterSeq),
          },
        };
      }
      default:
        return assertNever(route, 'access route');
    }
  }
}

/** The request line → one operation of the closed union, or NotFound / MethodNotAllowed. */
function routeOf(method: string, path: string): Route {
  const segments = path.split('/');
  if (segments.length === 1 && segments[0] === 'notifications') {
    const action = Object.hasOwn(SETTING_ACTIONS, method) ? SETTING_ACTIONS[method] : undefined;
    if (action === undefined) {
      throw new AccessProtocolError(
        'MethodNotAllowed',
        'the setting is read (GET), set (PUT) or cleared (DELETE)',
      );
    }
    return { action };
  }
  if (segments.length === 1 && segments[0] === 'attestation-revocations') {
    const action = Object.hasOwn(REVOCATION_ACTIONS, method) ? REVOCATION_ACTIONS[method] : undefined;
    if (action === undefined) {
      throw new AccessProtocolError('MethodNotAllowed', 'revocations are submitted (POST) or listed (GET)');
    }
    return { action };
  }
  if (segments[0] !== 'requests' || segments.length > 3)
    throw new AccessProtocolError('NotFound', `no access resource ${path.slice(0, 128)}`);
  if (segments.length === 1) {
    if (method === 'POST') return { action: 'FileAccessRequest' };
    if (method === 'GET') return { action: 'ListAccessRequests' };
    throw new AccessProtocolError('MethodNotAllowed', 'requests are listed (GET) or filed (POST)');
  }
  const id = segments[1]!;
  if (!REQUEST_ID_SEGMENT.test(id)) throw new AccessProtocolError('NotFound', 'no such access request');
  if (segments.length === 2) {
    if (method === 'GET') return { action: 'GetAccessRequest', id };
    throw new AccessProtocolError('MethodNotAllowed', 'a request is read with GET');
  }
  const action = Object.hasOwn(DECISIONS, segments[2]!) ? DECISIONS[segments[2]!] : undefined;
  if (action === undefined)
    throw new AccessProtocolError('NotFound', `no access resource ${path.slice(0, 128)}`);
  if (method !== 'POST') throw new AccessProtocolError('MethodNotAllowed', 'decisions are POSTed');
  return { action, id };
}

/**
 * The presented attestation note. A header that does not decode is passed on as it came, so that
 * the domain refuses it as an invalid attestation and records the refused step like any other.
 */
function attestationOf(req: IncomingMessage): string | null {
  const values = req.headersDistinct[ATTESTATION_HEADER];
  if (values === undefined) return null;
  if (values.length !== 1)
    throw new AccessProtocolError('MalformedRequest', `send one ${ATTESTATION_HEADER} header`);
  try {
    return decodeAttestationHeader(values[0]!);
  } catch (error) {
    if (error instanceof LockboxError) return values[0]!;
    throw error;
  }
}

function jsonOf(body: Buffer): unknown {
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new AccessProtocolError('MalformedRequest', 'the request body is not JSON');
  }
}

function decisionOf(action: DecisionAction, body: Buffer): { comment?: unknown; reason?: unknown } {
  const parsed = jsonOf(body);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new AccessProtocolError('MalformedRequest', 'the request body is a JSON object');
  }
  const fields: Record<string, unknown> = { ...parsed };
  const allowed = DECISION_FIELDS[action];
  for (const key of Object.keys(fields)) {
    if (!allowed.includes(key)) {
      throw new AccessProtocolError(
        'MalformedRequest',
        `unknown field "${key.slice(0, 64)}" (known: ${allowed.join(', ') || 'none'})`,
      );
    }
  }
  return { comment: fields.comment, reason: fields.reason };
}

/** The body of PutSecurityNotificationConfiguration: `{"destination": "<target ARN>"}`. */
function destinationOf(body: Buffer): unknown {
  const parsed = jsonOf(body);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new AccessProtocolError('MalformedRequest', 'the request body is a JSON object');
  }
  const fields: Record<string, unknown> = { ...parsed };
  for (const key of Object.keys(fields)) {
    if (key !== 'destination') {
      throw new AccessProtocolError(
        'MalformedRequest',
        `unknown field "${key.slice(0, 64)}" (known: destination)`,
      );
    }
  }
  return fields.destination;
}

/** The wire form of a tenant's setting; a tenant without one has destination null. */
function setting(
  caller: LockboxCaller,
  stored: SecurityNotificationSetting | null,
): { status: number; json: unknown } {
  return {
    status: 200,
    json: {
      notifications: {
        tenantId: caller.principalTenantId,
        destination: stored?.destinationArn ?? null,
        updatedBy: stored?.updatedBy ?? null,
        updatedAt: stored === null ? null : new Date(stored.updatedAtMs).toISOString(),
      },
    },
  };
}

/**
 * The body of RevokeOperatorAttestation: the note itself (UTF-8 text). A body that is not UTF-8
 * goes on as null, so that the domain refuses it and records the refusal like any other.
 */
function noteOf(body: Buffer): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return null;
  }
}

function revocationQueryOf(url: URL): { afterSeq: number | null; limit: number | null } {
  const params = url.searchParams;
  for (const name of params.keys()) {
    if (!['after', 'limit'].includes(name)) {
      throw new AccessProtocolError('MalformedRequest', `unknown query parameter ${name.slice(0, 64)}`);
    }
  }
  const number = (name: string, pattern: RegExp) => {
    const value = params.get(name);
    if (value === null) return null;
    if (!pattern.test(value)) {
      throw new AccessProtocolError(
        'MalformedRequest',
        `${name} is a ${name === 'after' ? 'non-negative' : 'positive'} integer`,
      );
    }
    return Number(value);
  };
  return { afterSeq: number('after', /^(0|[1-9][0-9]{0,14})$/), limit: number('limit', /^[1-9][0-9]{0,3}$/) };
}

/** The wire form of an accepted revocation: times as RFC 3339 strings, the note as submitted. */
export function renderRevocation(revocation: StoredAttestationRevocation): Record<string, unknown> {
  const { revoked } = revocation;
  return {
    seq: revocation.seq,
    id: revocation.id,
    subject: revocation.subject,
    attestationSha256: revoked.kind === 'attestation' ? revoked.attestationSha256 : null,
    issuedBefore: revoked.kind === 'issued-before' ? new Date(revoked.issuedBeforeMs).toISOString() : null,
    reason: revocation.reason,
    revokedAt: new Date(revocation.revokedAtMs).toISOString(),
    issuer: revocation.issuer,
    submittedBy: revocation.submittedBy,
    acceptedAt: new Date(revocation.acceptedAtMs).toISOString(),
    note: revocation.note,
  };
}

/** The resource the request-level audit record names. */
export function accessResourceOf(outcome: AccessOutcome): string {
  if (outcome.accessRequestId !== null) return `sovra:access-request/${outcome.accessRequestId}`;
  if (outcome.action === 'RevokeOperatorAttestation' || outcome.action === 'ListAttestationRevocations') {
    return outcome.revocationId === null
      ? 'sovra:attestation-revocation'
      : `sovra:attestation-revocation/${outcome.revocationId}`;
  }
  if (outcome.action !== null && SETTING_ACTION_NAMES.has(outcome.action)) {
    return `sovra:security-notifications/${outcome.tenantId ?? ''}`;
  }
  return 'sovra:access-request';
}

function listQueryOf(url: URL) {
  const params = url.searchParams;
  for (const name of params.keys()) {
    if (!['tenant', 'status', 'after', 'limit'].includes(name)) {
      throw new AccessProtocolError('MalformedRequest', `unknown query parameter ${name.slice(0, 64)}`);
    }
  }
  const limitText = params.get('limit');
  if (limitText !== null && !/^[1-9][0-9]{0,3}$/.test(limitText)) {
    throw new AccessProtocolError('MalformedRequest', 'limit is a positive integer');
  }
  return {
    tenantId: params.get('tenant'),
    status: params.get('status'),
    afterId: params.get('after'),
    limit: limitText === null ? null : Number(limitText),
  };
}

/** The wire form of a request: times as RFC 3339 strings, nothing else changed. */
export function renderRequest(request: AccessRequest): Record<string, unknown> {
  const time = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: request.id,
    tenantId: request.tenantId,
    requesterId: request.requesterId,
    kind: request.kind,
    status: request.status,
    scope: request.scope,
    actions: request.actions,
    durationSeconds: request.durationSeconds,
    justification: request.justification,
    ticket: request.ticket,
    requesterClaims: {
      issuer: request.requesterClaims.issuer,
      clearance: request.requesterClaims.clearance,
      nationality: request.requesterClaims.nationality,
      residency: request.requesterClaims.residency,
      attestationExpiresAt: time(request.requesterClaims.attestationExpiresAtMs),
    },
    sourceIp: request.sourceIp,
    sourceJurisdiction: request.sourceJurisdiction,
    filedAt: time(request.filedAtMs),
    decisionDeadline: time(request.decisionDeadlineMs),
    decidedBy: request.decidedBy,
    decidedAt: time(request.decidedAtMs),
    decisionComment: request.decisionComment,
    activatedAt: time(request.activatedAtMs),
    expiresAt: time(request.expiresAtMs),
    revokedBy: request.revokedBy,
    revokedAt: time(request.revokedAtMs),
    revokeReason: request.revokeReason,
    review: request.review,
    reviewedBy: request.reviewedBy,
    reviewedAt: time(request.reviewedAtMs),
    reviewComment: request.reviewComment,
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}
