import { SovraError } from '../../platform/errors.ts';

/**
 * Stable codes of operator access approval (the lockbox). The access API maps them to wire errors
 * in one table (protocols/access/errors.ts); the enforcement gate reports the refusal codes as
 * data (`OperatorAccessDecision.reason`) rather than throwing them.
 */
export type LockboxErrorCode =
  /** A field of an access request or a decision is missing, of the wrong type or out of bounds. */
  | 'MalformedAccessRequest'
  /** The requested duration is outside what the platform rules allow. */
  | 'DurationNotAllowed'
  /** An operator step (filing, break-glass confirmation, a use) came without an attestation. */
  | 'AttestationRequired'
  /** The attestation is not a signed note of a configured security office, or not in v1 form. */
  | 'InvalidAttestation'
  /** The attestation's expiry has passed. */
  | 'AttestationExpired'
  /** The security office revoked the attestation (a stored sovra-operator-attestation-revocation/v1). */
  | 'AttestationRevoked'
  /** A revocation is not a signed note of a configured security office, or not in v1 form. */
  | 'InvalidAttestationRevocation'
  /** The attestation names another principal than the one that signed the request. */
  | 'AttestationSubjectMismatch'
  /** The attested clearance, nationality, residency or the current network fails the platform rules. */
  | 'OperatorNotEligible'
  /** Only principals of the root tenant (platform operators) file, confirm and use access requests. */
  | 'NotAnOperator'
  /** Only the target tenant's administrators (never the requester) decide on a request. */
  | 'NotAnApprover'
  /** A break-glass request is confirmed by a second operator, never by the one who filed it. */
  | 'SameOperator'
  /** The platform has no operator access rules or no attestation keys: nobody may file. */
  | 'OperatorAccessDisabled'
  /** The platform rules do not enable the break-glass path. */
  | 'BreakGlassDisabled'
  | 'NoSuchAccessRequest'
  | 'NoSuchTenant'
  /** The request is not in a state that allows this step (already decided, expired, revoked, …). */
  | 'InvalidRequestState'
  /** A security notification setting names no notification target the operator registered. */
  | 'UnknownNotificationDestination'
  /** An approval exists but does not cover this action, bucket, key or KMS key. */
  | 'OutsideApprovedScope'
  /** The operator access rules document is invalid (a configuration error, found at start). */
  | 'InvalidOperatorAccessRules'
  /** A configured attestation verifier key is invalid (a configuration error, found at start). */
  | 'InvalidAttestationKeys';

export class LockboxError extends SovraError<LockboxErrorCode> {}

export function lockboxError(
  code: LockboxErrorCode,
  message: string,
  details: Record<string, unknown> = {},
): LockboxError {
  return new LockboxError(code, message, details);
}
