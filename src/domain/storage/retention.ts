import type { ObjectVersion } from './types.ts';

/** Why a version may not be deleted or overwritten right now, if it may not. */
export type LockReason = 'LegalHold' | 'ComplianceRetention' | 'GovernanceRetention';

/**
 * Object Lock protection of one version at `nowMs`
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html): a legal hold protects
 * until removed; retention protects until its date. GOVERNANCE retention can be bypassed by a
 * principal allowed s3:BypassGovernanceRetention who asks to; COMPLIANCE retention and legal
 * holds cannot be bypassed by anyone.
 */
export function lockReason(
  version: Pick<ObjectVersion, 'retention' | 'legalHold'>,
  nowMs: number,
): LockReason | null {
  if (version.legalHold) return 'LegalHold';
  const retention = version.retention;
  if (retention === null || retention.retainUntil.getTime() <= nowMs) return null;
  return retention.mode === 'COMPLIANCE' ? 'ComplianceRetention' : 'GovernanceRetention';
}

/** True when the version may be removed now, given whether a governance bypass was granted. */
export function mayRemove(
  version: Pick<ObjectVersion, 'retention' | 'legalHold'>,
  nowMs: number,
  governanceBypass: boolean,
): boolean {
  const reason = lockReason(version, nowMs);
  return reason === null || (reason === 'GovernanceRetention' && governanceBypass);
}
