import type { AuditRecord } from '../audit/records.ts';
import { ROOT_TENANT_ID } from '../iam/bootstrap.ts';
import { scopeResource, type AccessRequest } from './access-request.ts';
import type { VerifiedAttestationRevocation } from './attestation-revocation.ts';
import type { LockboxErrorCode } from './errors.ts';

/**
 * The audit records of the lockbox (kinds 'access-approval' and 'operator-access',
 * docs/reference/audit-log-formats.md). Each is written with tenantId = the tenant whose data the
 * request concerns, so it is in that tenant's view; principalId is the operator whose access is
 * at stake (the requester), and `details.actor` the principal who took the step (an approver, a
 * revoker, the confirming operator). approvalId is the access request's id.
 */
export type LockboxStep =
  | 'filed'
  | 'approved'
  | 'denied'
  | 'revoked'
  | 'expired'
  | 'break-glass-activated'
  | 'break-glass-acknowledged';

/** Steps that were refused are recorded under the action they attempted. */
export type LockboxAttempt = 'file' | 'approve' | 'deny' | 'revoke' | 'confirm' | 'acknowledge';

const STEP_ACTIONS: Readonly<Record<LockboxStep, string>> = {
  filed: 'sovra:FileAccessRequest',
  approved: 'sovra:ApproveAccessRequest',
  denied: 'sovra:DenyAccessRequest',
  revoked: 'sovra:RevokeAccessRequest',
  expired: 'sovra:ExpireAccessRequest',
  'break-glass-activated': 'sovra:ConfirmBreakGlassAccess',
  'break-glass-acknowledged': 'sovra:AcknowledgeBreakGlassAccess',
};

const ATTEMPT_ACTIONS: Readonly<Record<LockboxAttempt, string>> = {
  file: 'sovra:FileAccessRequest',
  approve: 'sovra:ApproveAccessRequest',
  deny: 'sovra:DenyAccessRequest',
  revoke: 'sovra:RevokeAccessRequest',
  confirm: 'sovra:ConfirmBreakGlassAccess',
  acknowledge: 'sovra:AcknowledgeBreakGlassAccess',
};

/**
 * The actor of steps the platform takes itself (the expiry pass), named as the SIEM export names
 * the platform (domain/audit/ocsf.ts).
 */
export const PLATFORM_ACTOR_ID = 'sovra:system';

/** Who took a step, from where. */
export interface StepActor {
  principalId: string;
  tenantId: string;
  sourceIp: string | null;
  sourceJurisdiction: string;
  /** The HTTP request id, when the step came through the API. */
  requestId: string | null;
}

/** 'high' marks what a tenant must look at: break-glass access (the tenant's notification). */
export type StepSeverity = 'high' | 'normal';

/** A step that happened to a request. */
export function lockboxStepRecord(
  step: LockboxStep,
  request: AccessRequest,
  actor: StepActor,
  timeMs: number,
  comment: string | null = null,
): AuditRecord {
  const breakGlass = request.kind === 'break-glass';
  const severity: StepSeverity = breakGlass && step !== 'break-glass-acknowledged' ? 'high' : 'normal';
  return {
    kind: 'access-approval',
    timeMs,
    tenantId: request.tenantId,
    principalId: request.requesterId,
    principalTenantId: operatorTenantOf(request),
    action: STEP_ACTIONS[step],
    resource: `sovra:access-request/${request.id}`,
    classification: null,
    sourceIp: actor.sourceIp,
    sourceJurisdiction: actor.sourceJurisdiction,
    result: 'success',
    status: null,
    errorCode: null,
    justification: request.justification,
    approvalId: request.id,
    requestId: actor.requestId,
    details: {
      step,
      severity,
      notifyTenant: severity === 'high',
      actor: actor.principalId,
      actorTenantId: actor.tenantId,
      requestKind: request.kind,
      ticket: request.ticket,
      scope: scopeResource(request.scope),
      kmsKeyId: request.scope.kmsKeyId,
      actions: request.actions.join(','),
      durationSeconds: request.durationSeconds,
      expiresAtMs: request.expiresAtMs,
      review: request.review,
      comment,
      clearance: request.requesterClaims.clearance,
      nationality: request.requesterClaims.nationality,
      residency: request.requesterClaims.residency,
      attestationIssuer: request.requesterClaims.issuer,
    },
  };
}

/**
 * A refused step: who tried, what, why. With the request known, it is recorded in its tenant's
 * view; a filing refused before its target could be read is recorded under the tenant it named
 * (null when that does not exist), so the tenant sees operators' refused attempts too.
 */
export function refusedStepRecord(
  attempt: LockboxAttempt,
  target: { tenantId: string | null; request: AccessRequest | null; justification: string | null },
  actor: StepActor,
  errorCode: LockboxErrorCode,
  reason: string,
  timeMs: number,
): AuditRecord {
  const request = target.request;
  return {
    kind: 'access-approval',
    timeMs,
    tenantId: request?.tenantId ?? target.tenantId,
    principalId: request?.requesterId ?? actor.principalId,
    principalTenantId:
      request === null ? nullIfSame(actor.tenantId, target.tenantId) : operatorTenantOf(request),
    action: ATTEMPT_ACTIONS[attempt],
    resource: request === null ? null : `sovra:access-request/${request.id}`,
    classification: null,
    sourceIp: actor.sourceIp,
    sourceJurisdiction: actor.sourceJurisdiction,
    result: 'denied',
    status: null,
    errorCode,
    justification: request?.justification ?? target.justification,
    approvalId: request?.id ?? null,
    requestId: actor.requestId,
    details: {
      step: `${attempt}-refused`,
      severity: request?.kind === 'break-glass' || attempt === 'confirm' ? 'high' : 'normal',
      actor: actor.principalId,
      actorTenantId: actor.tenantId,
      reason: reason.slice(0, 512),
    },
  };
}

/** One use of an approval on the data path, granted or refused. */
export function operatorAccessRecord(use: {
  timeMs: number;
  tenantId: string;
  principalId: string;
  principalTenantId: string;
  action: string;
  resource: string | null;
  sourceIp: string | null;
  sourceJurisdiction: string;
  request: AccessRequest | null;
  approvalId: string | null;
  refusal: { code: string; reason: string } | null;
  /** The attestation presented for this use, when it verified. */
  claims: { issuer: string; clearance: string; nationality: string; residency: string } | null;
  requestId: string | null;
}): AuditRecord {
  const request = use.request;
  return {
    kind: 'operator-access',
    timeMs: use.timeMs,
    tenantId: use.tenantId,
    principalId: use.principalId,
    principalTenantId: nullIfSame(use.principalTenantId, use.tenantId),
    action: use.action,
    resource: use.resource,
    classification: null,
    sourceIp: use.sourceIp,
    sourceJurisdiction: use.sourceJurisdiction,
    result: use.refusal === null ? 'success' : 'denied',
    status: null,
    errorCode: use.refusal?.code ?? null,
    justification: request?.justification ?? null,
    approvalId: use.approvalId,
    requestId: use.requestId,
    details: {
      requestKind: request?.kind ?? null,
      ticket: request?.ticket ?? null,
      expiresAtMs: request?.expiresAtMs ?? null,
      reason: use.refusal?.reason.slice(0, 512) ?? null,
      clearance: use.claims?.clearance ?? null,
      nationality: use.claims?.nationality ?? null,
      residency: use.claims?.residency ?? null,
      attestationIssuer: use.claims?.issuer ?? null,
    },
  };
}

/** The action of a security office's revocation of operator attestations, accepted or refused. */
export const REVOKE_ATTESTATION_ACTION = 'sovra:RevokeOperatorAttestation';

/**
 * A revocation of operator attestations submitted to the platform, accepted or refused. It is a
 * record of the root tenant's view (the operators' own tenant): principalId is the operator whose
 * attestations are revoked (the submitter when the note could not be read), `details.actor` who
 * submitted it, `details.issuer` the security office whose key signed it.
 */
export function attestationRevocationRecord(outcome: {
  /** The verified revocation; null when it was refused before it verified. */
  revocation: VerifiedAttestationRevocation | null;
  /** True when the same revocation was already stored (the submission changed nothing). */
  duplicate: boolean;
  actor: StepActor;
  refusal: { code: LockboxErrorCode; reason: string } | null;
  timeMs: number;
}): AuditRecord {
  const { revocation, actor, refusal } = outcome;
  const revoked = revocation?.revoked ?? null;
  return {
    kind: 'access-approval',
    timeMs: outcome.timeMs,
    tenantId: ROOT_TENANT_ID,
    principalId: revocation?.subject ?? actor.principalId,
    principalTenantId: revocation === null ? nullIfSame(actor.tenantId, ROOT_TENANT_ID) : null,
    action: REVOKE_ATTESTATION_ACTION,
    resource: revocation === null ? null : `sovra:attestation-revocation/${revocation.id}`,
    classification: null,
    sourceIp: actor.sourceIp,
    sourceJurisdiction: actor.sourceJurisdiction,
    result: refusal === null ? 'success' : 'denied',
    status: null,
    errorCode: refusal?.code ?? null,
    justification: null,
    approvalId: null,
    requestId: actor.requestId,
    details: {
      step: refusal === null ? 'attestation-revoked' : 'attestation-revocation-refused',
      severity: 'high',
      actor: actor.principalId,
      actorTenantId: actor.tenantId,
      issuer: revocation?.issuer ?? null,
      attestationSha256: revoked?.kind === 'attestation' ? revoked.attestationSha256 : null,
      issuedBeforeMs: revoked?.kind === 'issued-before' ? revoked.issuedBeforeMs : null,
      revokedAtMs: revocation?.revokedAtMs ?? null,
      revocationReason: revocation?.reason ?? null,
      duplicate: outcome.duplicate,
      reason: refusal?.reason.slice(0, 512) ?? null,
    },
  };
}

function operatorTenantOf(request: AccessRequest): string | null {
  // Requesters are always root-tenant principals; a request for the root tenant itself is not cross-tenant.
  return nullIfSame(ROOT_TENANT_ID, request.tenantId);
}

function nullIfSame(principalTenantId: string, tenantId: string | null): string | null {
  return principalTenantId === tenantId ? null : principalTenantId;
}
