import type { Clock } from '../../platform/clock.ts';
import { ROOT_TENANT_ID } from '../iam/bootstrap.ts';
import {
  ACCESS_REQUEST_FORMAT,
  ACCESS_REQUEST_STATUSES,
  effectiveStatus,
  isAccessRequestId,
  isTenantIdForm,
  newAccessRequestId,
  parseAccessRequestInput,
  parseComment,
  type AccessRequest,
  type AccessRequestInput,
  type AccessRequestStatus,
} from './access-request.ts';
import {
  lockboxStepRecord,
  PLATFORM_ACTOR_ID,
  refusedStepRecord,
  type LockboxAttempt,
  type LockboxStep,
  type StepActor,
} from './audit-records.ts';
import type { OperatorEligibility, OperatorStanding } from './eligibility.ts';
import { LockboxError, lockboxError } from './errors.ts';
import {
  BREAK_GLASS_CONFIRMATION_TTL_MS,
  EXPIRY_PASS_BATCH_MAX,
  EXPIRY_PASS_BATCHES_MAX,
  LIST_PAGE_DEFAULT,
  LIST_PAGE_MAX,
  PENDING_REQUEST_TTL_MS,
} from './limits.ts';
import type { AccessApprovalStore, AuditSink, TenantDirectory } from './ports.ts';
import type { SecurityEventType, SecurityNotifications } from './security-notifications.ts';

/** Who calls the lockbox API: an authenticated principal, from where, with what attestation. */
export interface LockboxCaller {
  principalId: string;
  principalTenantId: string;
  isTenantAdmin: boolean;
  sourceIp: string | null;
  /** The HTTP request id, copied into audit records. */
  requestId: string | null;
  /** The attestation note presented (`x-sovra-operator-attestation`), or null. */
  attestationNote: string | null;
}

export interface AccessRequestQuery {
  /** One tenant's requests; null: the caller's own tenant (platform operators: every tenant). */
  tenantId: string | null;
  /** Only requests in this (effective) status. */
  status: string | null;
  afterId: string | null;
  limit: number | null;
}

export interface AccessRequestPage {
  /** Each with its effective status at the time of listing. */
  requests: AccessRequest[];
  /** Pass as afterId for the next page; null when this was the last. */
  nextAfterId: string | null;
}

export interface AccessApprovalsOptions {
  store: AccessApprovalStore;
  tenants: TenantDirectory;
  eligibility: OperatorEligibility;
  audit: AuditSink;
  /** The tenants' security notifications: new requests and break-glass access are sent there. */
  notifications: SecurityNotifications;
  clock: Clock;
}

/**
 * Operator access approval (the lockbox): platform operators have no standing access to tenant
 * data or keys. An eligible operator (see OperatorEligibility) files a request; the target
 * tenant's administrators approve or deny it; approval grants just-in-time access for the
 * requested duration, which the tenant or the requester may revoke at any time. The break-glass
 * path skips the tenant's approval but needs a second, distinct eligible operator to confirm, is a
 * high-severity event in the tenant's records, and stays flagged until a tenant administrator
 * acknowledges it. Every step, and every refused step, is an 'access-approval' audit record in
 * the tenant's view, durable before the step's result is returned; new requests and break-glass
 * access are also sent to the tenant's security notification destination, if it has one, from
 * the outbox row written with the step. Access ends on its own: the gate refuses a use after
 * the end, and the expiry pass (expireDue) records the end without waiting for one.
 * OperatorAccessGate enforces approvals on the data path.
 */
export class AccessApprovals {
  readonly #o: AccessApprovalsOptions;

  constructor(options: AccessApprovalsOptions) {
    this.#o = options;
  }

  /** An operator files a request (body: the JSON of AccessRequestInput's wire form). */
  async file(caller: LockboxCaller, body: unknown): Promise<AccessRequest> {
    const nowMs = this.#o.clock.nowMs();
    let input: AccessRequestInput | null = null;
    try {
      input = parseAccessRequestInput(body);
      const standing = await this.#o.eligibility.assess(caller, nowMs);
      if ((await this.#o.tenants.getTenant(input.tenantId)) === null) {
        throw lockboxError('NoSuchTenant', `there is no tenant ${input.tenantId}`);
      }
      checkDuration(input, standing);
      const request = newRequest(input, caller, standing, nowMs);
      await this.#o.store.insert(
        request,
        await this.#o.notifications.noticeFor('AccessRequestFiled', request, nowMs),
      );
      await this.#o.audit.record(
        lockboxStepRecord('filed', request, this.#actor(caller, standing.sourceJurisdiction), nowMs),
      );
      return request;
    } catch (error) {
      if (error instanceof LockboxError) await this.#recordRefusedFiling(caller, body, input, error, nowMs);
      throw error;
    }
  }

  /** A tenant administrator approves a pending request: access starts now and ends on its own. */
  approve(caller: LockboxCaller, id: string, comment: unknown): Promise<AccessRequest> {
    return this.#step('approve', caller, id, (request, nowMs) => {
      requireApprover(caller, request);
      if (request.kind !== 'standard') {
        throw invalidState('a break-glass request is confirmed by a second operator, not approved');
      }
      requireStatus(request, 'pending');
      const text = parseComment(comment, 'comment');
      return {
        step: 'approved',
        comment: text,
        next: {
          ...request,
          status: 'active',
          decidedBy: caller.principalId,
          decidedAtMs: nowMs,
          decisionComment: text,
          activatedAtMs: nowMs,
          expiresAtMs: nowMs + request.durationSeconds * 1000,
          updatedAtMs: nowMs,
        },
      };
    });
  }

  /** A tenant administrator denies a pending request. */
  deny(caller: LockboxCaller, id: string, reason: unknown): Promise<AccessRequest> {
    return this.#step('deny', caller, id, (request, nowMs) => {
      requireApprover(caller, request);
      requireStatus(request, 'pending');
      const comment = parseComment(reason, 'reason');
      return {
        step: 'denied',
        comment,
        next: {
          ...request,
          status: 'denied',
          decidedBy: caller.principalId,
          decidedAtMs: nowMs,
          decisionComment: comment,
          updatedAtMs: nowMs,
        },
      };
    });
  }

  /** The tenant's administrators or the requester end a request or an access at once. */
  revoke(caller: LockboxCaller, id: string, reason: unknown): Promise<AccessRequest> {
    return this.#step('revoke', caller, id, (request, nowMs) => {
      const isRequester = caller.principalId === request.requesterId;
      const isTenantAdmin = caller.principalTenantId === request.tenantId && caller.isTenantAdmin;
      if (!isRequester && !isTenantAdmin) {
        throw lockboxError(
          'NotAnApprover',
          'only the tenant’s administrators or the requester revoke a request',
        );
      }
      if (
        request.status !== 'pending' &&
        request.status !== 'awaiting-confirmation' &&
        request.status !== 'active'
      ) {
        throw invalidState(`the request is ${request.status}`);
      }
      const comment = parseComment(reason, 'reason');
      return {
        step: 'revoked',
        comment,
        next: {
          ...request,
          status: 'revoked',
          revokedBy: caller.principalId,
          revokedAtMs: nowMs,
          revokeReason: comment,
          updatedAtMs: nowMs,
        },
      };
    });
  }

  /**
   * Break-glass: a second operator, itself eligible (attested and satisfying the rules now), and
   * never the requester, confirms; access starts without the tenant's approval, as a
   * high-severity event in the tenant's records, flagged for the tenant's review.
   */
  confirm(caller: LockboxCaller, id: string): Promise<AccessRequest> {
    return this.#step('confirm', caller, id, async (request, nowMs) => {
      const standing = await this.#o.eligibility.assess(caller, nowMs);
      if (request.kind !== 'break-glass') {
        throw invalidState('only break-glass requests are confirmed by a second operator');
      }
      if (caller.principalId === request.requesterId) {
        throw lockboxError(
          'SameOperator',
          'a break-glass request is confirmed by a second, distinct operator',
        );
      }
      requireStatus(request, 'awaiting-confirmation');
      return {
        step: 'break-glass-activated',
        comment: null,
        sourceJurisdiction: standing.sourceJurisdiction,
        notify: 'BreakGlassAccessActivated',
        next: {
          ...request,
          status: 'active',
          decidedBy: caller.principalId,
          decidedAtMs: nowMs,
          activatedAtMs: nowMs,
          expiresAtMs: nowMs + request.durationSeconds * 1000,
          review: 'pending',
          updatedAtMs: nowMs,
        },
      };
    });
  }

  /** A tenant administrator acknowledges a break-glass access, which clears its review flag. */
  acknowledge(caller: LockboxCaller, id: string, comment: unknown): Promise<AccessRequest> {
    return this.#step('acknowledge', caller, id, (request, nowMs) => {
      requireApprover(caller, request);
      if (request.review !== 'pending') throw invalidState('the request is not awaiting review');
      const text = parseComment(comment, 'comment');
      return {
        step: 'break-glass-acknowledged',
        comment: text,
        next: {
          ...request,
          review: 'acknowledged',
          reviewedBy: caller.principalId,
          reviewedAtMs: nowMs,
          reviewComment: text,
          updatedAtMs: nowMs,
        },
      };
    });
  }

  /** One request, with its effective status; NoSuchAccessRequest for callers who may not see it. */
  async get(caller: LockboxCaller, id: string): Promise<AccessRequest> {
    const request = isAccessRequestId(id) ? await this.#o.store.get(id) : null;
    if (request === null || !canSee(caller, request)) throw noSuchRequest(id);
    return withEffectiveStatus(request, this.#o.clock.nowMs());
  }

  /**
   * Requests newest first. Tenant administrators see their tenant's; platform operators (root
   * tenant principals) see every tenant's, which is how a second operator finds a break-glass
   * request to confirm.
   */
  async list(caller: LockboxCaller, query: AccessRequestQuery): Promise<AccessRequestPage> {
    const isOperator = caller.principalTenantId === ROOT_TENANT_ID;
    if (!isOperator && !caller.isTenantAdmin) {
      throw lockboxError(
        'NotAnApprover',
        'only tenant administrators and platform operators list access requests',
      );
    }
    if (!isOperator && query.tenantId !== null && query.tenantId !== caller.principalTenantId) {
      throw lockboxError('NotAnApprover', 'tenant administrators list their own tenant’s requests');
    }
    const status = query.status === null ? null : statusOf(query.status);
    const limit = query.limit ?? LIST_PAGE_DEFAULT;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > LIST_PAGE_MAX) {
      throw lockboxError('MalformedAccessRequest', `limit is from 1 to ${LIST_PAGE_MAX}`);
    }
    if (query.afterId !== null && !isAccessRequestId(query.afterId)) {
      throw lockboxError('MalformedAccessRequest', 'after is the id of a listed request');
    }
    const rows = await this.#o.store.list({
      tenantId: isOperator ? query.tenantId : caller.principalTenantId,
      afterId: query.afterId,
      limit,
    });
    const nowMs = this.#o.clock.nowMs();
    const requests = rows
      .map((request) => withEffectiveStatus(request, nowMs))
      .filter((request) => status === null || request.status === status);
    return { requests, nextAfterId: rows.length === limit ? rows.at(-1)!.id : null };
  }

  /**
   * The checklist every decision follows: find the request (invisible ones do not exist), expire
   * it if its time has passed, let `plan` authorize the caller and compute the next state, write
   * it with compare-and-set, record the step; record any refusal in the tenant's view.
   */
  async #step(
    attempt: LockboxAttempt,
    caller: LockboxCaller,
    id: string,
    plan: (request: AccessRequest, nowMs: number) => StepPlan | Promise<StepPlan>,
  ): Promise<AccessRequest> {
    const nowMs = this.#o.clock.nowMs();
    const found = isAccessRequestId(id) ? await this.#o.store.get(id) : null;
    if (found === null) throw noSuchRequest(id);
    let request = found;
    try {
      if (!canSee(caller, request)) throw noSuchRequest(id);
      request = await expireIfDue(this.#o, request, nowMs, this.#actor(caller, null));
      const { next, step, comment, sourceJurisdiction, notify } = await plan(request, nowMs);
      const notice = notify === undefined ? null : await this.#o.notifications.noticeFor(notify, next, nowMs);
      if (!(await this.#o.store.update(next, { status: request.status, review: request.review }, notice))) {
        throw invalidState('the request was changed by someone else at the same time; read it again');
      }
      await this.#o.audit.record(
        lockboxStepRecord(step, next, this.#actor(caller, sourceJurisdiction ?? null), nowMs, comment),
      );
      return next;
    } catch (error) {
      if (error instanceof LockboxError) {
        await this.#o.audit.record(
          refusedStepRecord(
            attempt,
            { tenantId: request.tenantId, request, justification: null },
            this.#actor(caller, null),
            error.code,
            error.message,
            nowMs,
          ),
        );
      }
      throw error;
    }
  }

  /**
   * The expiry pass: marks expired every request whose time has passed (undecided past its
   * deadline, active past its end) and records that step in the tenant's view, acted by the
   * platform, without waiting for a use. Gateways sharing the database may run it at once: each
   * expiry is written and recorded by exactly one of them (AccessApprovalStore.expire). Returns
   * how many requests this pass expired.
   */
  async expireDue(): Promise<number> {
    const actor: StepActor = {
      principalId: PLATFORM_ACTOR_ID,
      tenantId: ROOT_TENANT_ID,
      sourceIp: null,
      sourceJurisdiction: this.#o.eligibility.jurisdictionOf(null),
      requestId: null,
    };
    let expired = 0;
    for (let batch = 0; batch < EXPIRY_PASS_BATCHES_MAX; batch += 1) {
      const nowMs = this.#o.clock.nowMs();
      const due = await this.#o.store.listDue(nowMs, EXPIRY_PASS_BATCH_MAX);
      for (const request of due) {
        if ((await recordExpiry(this.#o, request, nowMs, actor)) !== null) expired += 1;
      }
      if (due.length < EXPIRY_PASS_BATCH_MAX) break;
    }
    return expired;
  }

  async #recordRefusedFiling(
    caller: LockboxCaller,
    body: unknown,
    input: AccessRequestInput | null,
    error: LockboxError,
    nowMs: number,
  ): Promise<void> {
    // The refusal goes to the tenant the filing named, if that tenant exists.
    const named = input?.tenantId ?? namedTenant(body);
    const tenantId = named !== null && (await this.#o.tenants.getTenant(named)) !== null ? named : null;
    await this.#o.audit.record(
      refusedStepRecord(
        'file',
        { tenantId, request: null, justification: input?.justification ?? null },
        this.#actor(caller, null),
        error.code,
        error.message,
        nowMs,
      ),
    );
  }

  #actor(caller: LockboxCaller, sourceJurisdiction: string | null): StepActor {
    return {
      principalId: caller.principalId,
      tenantId: caller.principalTenantId,
      sourceIp: caller.sourceIp,
      sourceJurisdiction: sourceJurisdiction ?? this.#o.eligibility.jurisdictionOf(caller.sourceIp),
      requestId: caller.requestId,
    };
  }
}

interface StepPlan {
  next: AccessRequest;
  step: LockboxStep;
  comment: string | null;
  /** The actor's jurisdiction when the step judged it (break-glass confirmation). */
  sourceJurisdiction?: string;
  /** The security notification the tenant receives for this step, if any. */
  notify?: SecurityEventType;
}

/**
 * Marks a request whose time has passed as expired (once, whoever else tries at the same time)
 * and records that step; steps and the gate call it first, so a use or a decision after the end
 * finds the request expired even before the expiry pass came by. Returns the request as it now is.
 */
export async function expireIfDue(
  deps: { store: AccessApprovalStore; audit: AuditSink },
  request: AccessRequest,
  nowMs: number,
  actor: StepActor,
): Promise<AccessRequest> {
  if (request.status === 'expired' || effectiveStatus(request, nowMs) !== 'expired') return request;
  // Null: another writer changed it first (revoked it, or expired it); use what is stored now.
  return (await recordExpiry(deps, request, nowMs, actor)) ?? (await deps.store.get(request.id)) ?? request;
}

/**
 * The conditional UPDATE that expires a due request, then its audit record, written only by the
 * writer whose UPDATE changed the row. The stored request after the expiry, or null when this
 * writer did not expire it.
 */
async function recordExpiry(
  deps: { store: AccessApprovalStore; audit: AuditSink },
  request: AccessRequest,
  nowMs: number,
  actor: StepActor,
): Promise<AccessRequest | null> {
  if (!(await deps.store.expire(request.id, nowMs))) return null;
  const expired = (await deps.store.get(request.id)) ?? { ...request, status: 'expired', updatedAtMs: nowMs };
  await deps.audit.record(lockboxStepRecord('expired', expired, actor, nowMs));
  return expired;
}

export function withEffectiveStatus(request: AccessRequest, nowMs: number): AccessRequest {
  const status = effectiveStatus(request, nowMs);
  return status === request.status ? request : { ...request, status };
}

function newRequest(
  input: AccessRequestInput,
  caller: LockboxCaller,
  standing: OperatorStanding,
  nowMs: number,
): AccessRequest {
  const breakGlass = input.kind === 'break-glass';
  const { attestation } = standing;
  return {
    format: ACCESS_REQUEST_FORMAT,
    id: newAccessRequestId(),
    tenantId: input.tenantId,
    requesterId: caller.principalId,
    kind: input.kind,
    scope: input.scope,
    actions: input.actions,
    durationSeconds: input.durationSeconds,
    justification: input.justification,
    ticket: input.ticket,
    requesterClaims: {
      issuer: attestation.issuer,
      clearance: attestation.clearance,
      nationality: attestation.nationality,
      residency: attestation.residency,
      attestationExpiresAtMs: attestation.expiresAtMs,
    },
    sourceIp: caller.sourceIp,
    sourceJurisdiction: standing.sourceJurisdiction,
    status: breakGlass ? 'awaiting-confirmation' : 'pending',
    filedAtMs: nowMs,
    decisionDeadlineMs: nowMs + (breakGlass ? BREAK_GLASS_CONFIRMATION_TTL_MS : PENDING_REQUEST_TTL_MS),
    decidedBy: null,
    decidedAtMs: null,
    decisionComment: null,
    activatedAtMs: null,
    expiresAtMs: null,
    revokedBy: null,
    revokedAtMs: null,
    revokeReason: null,
    review: 'none',
    reviewedBy: null,
    reviewedAtMs: null,
    reviewComment: null,
    updatedAtMs: nowMs,
  };
}

function checkDuration(input: AccessRequestInput, standing: OperatorStanding): void {
  const { rules } = standing;
  if (input.kind === 'break-glass' && !rules.breakGlass.enabled) {
    throw lockboxError('BreakGlassDisabled', 'the platform rules do not enable break-glass access');
  }
  const maxSeconds =
    input.kind === 'break-glass' ? rules.breakGlass.maxDurationSeconds : rules.maxDurationSeconds;
  if (input.durationSeconds > maxSeconds) {
    throw lockboxError('DurationNotAllowed', `the platform rules allow at most ${maxSeconds} seconds`, {
      maxDurationSeconds: maxSeconds,
    });
  }
}

/** Platform operators see every request; a tenant's administrators see their tenant's. */
function canSee(caller: LockboxCaller, request: AccessRequest): boolean {
  return (
    caller.principalTenantId === ROOT_TENANT_ID ||
    (caller.principalTenantId === request.tenantId && caller.isTenantAdmin)
  );
}

/** Decisions belong to the target tenant's administrators, never to the operator who asked. */
function requireApprover(caller: LockboxCaller, request: AccessRequest): void {
  if (caller.principalTenantId !== request.tenantId || !caller.isTenantAdmin) {
    throw lockboxError('NotAnApprover', 'only the tenant’s administrators decide on access to its data');
  }
  if (caller.principalId === request.requesterId) {
    throw lockboxError('NotAnApprover', 'an operator cannot decide on its own request');
  }
}

function requireStatus(request: AccessRequest, status: AccessRequestStatus): void {
  if (request.status !== status) throw invalidState(`the request is ${request.status}, not ${status}`);
}

function statusOf(text: string): AccessRequestStatus {
  const status = ACCESS_REQUEST_STATUSES.find((candidate) => candidate === text);
  if (status === undefined) {
    throw lockboxError('MalformedAccessRequest', `status is one of ${ACCESS_REQUEST_STATUSES.join(', ')}`);
  }
  return status;
}

function namedTenant(body: unknown): string | null {
  if (typeof body !== 'object' || body === null || !('tenantId' in body)) return null;
  return isTenantIdForm(body.tenantId) ? body.tenantId : null;
}

function invalidState(message: string): LockboxError {
  return lockboxError('InvalidRequestState', message);
}

function noSuchRequest(id: string): LockboxError {
  return lockboxError('NoSuchAccessRequest', `there is no access request ${String(id).slice(0, 64)}`);
}
