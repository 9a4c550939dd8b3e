import type { Clock } from '../../platform/clock.ts';
import { ROOT_TENANT_ID } from '../iam/bootstrap.ts';
import { expireIfDue } from './access-approvals.ts';
import { isAccessRequestId, scopeViolation, type AccessRequest } from './access-request.ts';
import { operatorAccessRecord } from './audit-records.ts';
import type { OperatorEligibility, OperatorStanding } from './eligibility.ts';
import { LockboxError } from './errors.ts';
import type { AccessApprovalStore, AuditSink } from './ports.ts';

/** The request header naming the approval (the access request id) an operator's request uses. */
export const ACCESS_APPROVAL_HEADER = 'x-sovra-access-approval';

/** One operator request on the data path (S3 or KMS), as the request authorizer sees it. */
export interface OperatorAccessCheck {
  principalId: string;
  principalTenantId: string;
  /** The decoded `x-sovra-operator-attestation` note presented with this request, or null. */
  attestationNote: string | null;
  /** The `x-sovra-access-approval` header: the id of the access request to use. */
  approvalId: string;
  /** The IAM action, e.g. s3:GetObject, s3:ListBucket, kms:Decrypt. */
  action: string;
  /** The tenant that owns the bucket or KMS key. */
  tenantId: string;
  bucket: string | null;
  /** The object key; for s3:ListBucket the listing prefix; null for bucket-level actions. */
  key: string | null;
  /** For kms: actions, the key id (UUID) used. */
  kmsKeyId?: string | null;
  sourceIp: string | null;
  /** The HTTP request id, copied into the audit record. */
  requestId?: string | null;
}

/** Why a use was refused; every refusal is also an 'operator-access' record with this errorCode. */
export type OperatorAccessRefusal =
  | 'NotAnOperator'
  | 'UnknownApproval'
  | 'NotTheRequester'
  | 'ApprovalNotActive'
  | 'ApprovalExpired'
  | 'AttestationRequired'
  | 'InvalidAttestation'
  | 'AttestationExpired'
  | 'AttestationRevoked'
  | 'AttestationSubjectMismatch'
  | 'OperatorNotEligible'
  | 'OperatorAccessDisabled'
  | 'OutsideApprovedScope';

export type OperatorAccessDecision =
  | {
      granted: true;
      approvalId: string;
      justification: string;
      ticket: string;
      /** When the approval ends; the gate refuses every use from then on. */
      expiresAtMs: number;
    }
  | { granted: false; reason: OperatorAccessRefusal; message: string };

export interface OperatorAccessGateOptions {
  store: AccessApprovalStore;
  eligibility: OperatorEligibility;
  audit: AuditSink;
  clock: Clock;
}

/**
 * Enforces approvals on the data path. For a request carrying `x-sovra-access-approval`, the
 * request authorizer asks `check`: the caller must be the operator who filed the approval, which
 * must be active now (not expired, not revoked) and for this tenant; the operator's attestation
 * and network are judged again against the platform rules (so a lapsed or revoked attestation
 * or a connection from abroad ends access at once); and the action, bucket, key and KMS key must lie
 * inside the approved scope. Every use, granted or refused, is an 'operator-access' record in
 * the tenant's view with the operator, the justification and the approval, durable before
 * `check` resolves. `check` rejects only when the store or the audit log is unavailable; the
 * caller then refuses the request.
 */
export class OperatorAccessGate {
  readonly #o: OperatorAccessGateOptions;

  constructor(options: OperatorAccessGateOptions) {
    this.#o = options;
  }

  async check(use: OperatorAccessCheck): Promise<OperatorAccessDecision> {
    const nowMs = this.#o.clock.nowMs();
    const approvalId = isAccessRequestId(use.approvalId) ? use.approvalId : null;
    let request: AccessRequest | null = null;
    let standing: OperatorStanding | null = null;
    let sourceJurisdiction = this.#o.eligibility.jurisdictionOf(use.sourceIp);
    const refuse = async (
      reason: OperatorAccessRefusal,
      message: string,
    ): Promise<OperatorAccessDecision> => {
      await this.#record(use, nowMs, sourceJurisdiction, request, standing, approvalId, { reason, message });
      return { granted: false, reason, message };
    };

    if (use.principalTenantId !== ROOT_TENANT_ID) {
      return refuse('NotAnOperator', 'approvals are used only by platform operators');
    }
    const found = approvalId === null ? null : await this.#o.store.get(approvalId);
    if (found === null || found.tenantId !== use.tenantId) {
      return refuse('UnknownApproval', 'no such access approval for this tenant');
    }
    request = found;
    if (request.requesterId !== use.principalId) {
      return refuse('NotTheRequester', 'an approval is used only by the operator who requested it');
    }
    request = await expireIfDue(this.#o, request, nowMs, {
      principalId: use.principalId,
      tenantId: use.principalTenantId,
      sourceIp: use.sourceIp,
      sourceJurisdiction,
      requestId: use.requestId ?? null,
    });
    if (request.status === 'expired') return refuse('ApprovalExpired', 'the approval has expired');
    const expiresAtMs = request.expiresAtMs;
    if (request.status !== 'active' || expiresAtMs === null) {
      return refuse('ApprovalNotActive', `the approval is ${request.status}`);
    }
    try {
      standing = await this.#o.eligibility.assess(use, nowMs);
      sourceJurisdiction = standing.sourceJurisdiction;
    } catch (error) {
      if (error instanceof LockboxError && isEligibilityRefusal(error.code))
        return refuse(error.code, error.message);
      throw error;
    }
    const violation = scopeViolation(request, {
      action: use.action,
      bucket: use.bucket,
      key: use.key,
      kmsKeyId: use.kmsKeyId ?? null,
    });
    if (violation !== null) return refuse('OutsideApprovedScope', violation);
    await this.#record(use, nowMs, sourceJurisdiction, request, standing, approvalId, null);
    return {
      granted: true,
      approvalId: request.id,
      justification: request.justification,
      ticket: request.ticket,
      expiresAtMs,
    };
  }

  async #record(
    use: OperatorAccessCheck,
    nowMs: number,
    sourceJurisdiction: string,
    request: AccessRequest | null,
    standing: OperatorStanding | null,
    approvalId: string | null,
    refusal: { reason: OperatorAccessRefusal; message: string } | null,
  ): Promise<void> {
    const attestation = standing?.attestation ?? null;
    await this.#o.audit.record(
      operatorAccessRecord({
        timeMs: nowMs,
        tenantId: use.tenantId,
        principalId: use.principalId,
        principalTenantId: use.principalTenantId,
        action: use.action,
        resource: resourceOf(use),
        sourceIp: use.sourceIp,
        sourceJurisdiction,
        request,
        approvalId,
        refusal: refusal === null ? null : { code: refusal.reason, reason: refusal.message },
        claims:
          attestation === null
            ? null
            : {
                issuer: attestation.issuer,
                clearance: attestation.clearance,
                nationality: attestation.nationality,
                residency: attestation.residency,
              },
        requestId: use.requestId ?? null,
      }),
    );
  }
}

const ELIGIBILITY_REFUSALS = [
  'NotAnOperator',
  'AttestationRequired',
  'InvalidAttestation',
  'AttestationExpired',
  'AttestationRevoked',
  'AttestationSubjectMismatch',
  'OperatorNotEligible',
  'OperatorAccessDisabled',
] as const;

function isEligibilityRefusal(code: string): code is (typeof ELIGIBILITY_REFUSALS)[number] {
  return ELIGIBILITY_REFUSALS.some((refusal) => refusal === code);
}

function resourceOf(use: OperatorAccessCheck): string | null {
  if (use.action.startsWith('kms:') && typeof use.kmsKeyId === 'string')
    return `sovra:kms-key/${use.kmsKeyId}`;
  if (use.bucket === null) return null;
  return use.key === null ? `arn:aws:s3:::${use.bucket}` : `arn:aws:s3:::${use.bucket}/${use.key}`;
}
