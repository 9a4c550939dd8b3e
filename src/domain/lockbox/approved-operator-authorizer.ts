import { accessDenied, refusalMessage, type ActionTarget, type Authorizer } from '../iam/authorizer.ts';
import type { Caller } from '../iam/caller.ts';
import { s3ResourceArn } from '../iam/policy/index.ts';
import { principalArnOf } from '../kms/key-policy.ts';
import type { OperatorAccessGate } from './operator-access-gate.ts';

/**
 * The data path's lockbox check. Platform operators have no standing access to tenant data: a
 * request that names an access approval (x-sovra-access-approval) is decided by the gate alone —
 * the approval must be active, within its scope (tenant, bucket, prefix, KMS key, actions), and the
 * operator's attestation and current network must still satisfy the platform rules. Every use,
 * granted or refused, is recorded in the tenant's audit view by the gate. Requests without an
 * approval go to the tenant's own authorization unchanged.
 */
export class ApprovedOperatorAuthorizer implements Authorizer {
  readonly #inner: Authorizer;
  readonly #gate: OperatorAccessGate;

  constructor(inner: Authorizer, gate: OperatorAccessGate) {
    this.#inner = inner;
    this.#gate = gate;
  }

  async authorize(
    caller: Caller,
    action: string,
    target: ActionTarget,
    facts?: Parameters<Authorizer['authorize']>[3],
  ): Promise<void> {
    const approval = caller.operatorApproval;
    if (approval === undefined) return this.#inner.authorize(caller, action, target, facts);
    const kmsKey = target.kmsKey ?? null;
    const tenantId = target.bucket?.tenantId ?? kmsKey?.tenantId ?? caller.tenantId;
    const decision = await this.#gate.check({
      principalId: caller.principalId,
      principalTenantId: caller.tenantId,
      attestationNote: approval.attestationNote,
      approvalId: approval.approvalId,
      action,
      tenantId,
      bucket: target.bucket?.name ?? null,
      key: target.key,
      kmsKeyId: kmsKey?.keyId ?? null,
      sourceIp: caller.sourceIp,
      requestId: caller.requestId,
    });
    if (!decision.granted) {
      const refusal = `${decision.reason}: ${decision.message}`;
      throw accessDenied(action, {
        source: 'lockbox',
        policies: [refusal],
        message: refusalMessage(
          principalArnOf(caller.tenantId, caller.principalId),
          action,
          kmsKey?.arn ?? (target.bucket === null ? '*' : s3ResourceArn(target.bucket.name, target.key)),
          `because the operator access approval ${approval.approvalId} does not allow it (${refusal})`,
        ),
      });
    }
  }

  forgetBucketPolicy(bucket: string): void {
    this.#inner.forgetBucketPolicy?.(bucket);
  }
}
