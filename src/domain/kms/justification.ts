import { LIMITS } from '../../platform/limits.ts';
import { kmsError } from './errors.ts';

/**
 * Why a key is used, carried by every key use (S3 data path, KMS API, XKS, lifecycle), after
 * Google Cloud's Key Access Justifications
 * (https://cloud.google.com/assured-workloads/key-access-justifications/docs/justification-codes):
 * who asked, through which service, from which network jurisdiction, and for what reason. Key
 * policies may deny uses by these fields (key-policy.ts) and every decision is recorded
 * (decision-records.ts).
 */

/** Reasons, named after Google's justification codes where one exists. */
export const JUSTIFICATION_REASONS = [
  'CUSTOMER_INITIATED_ACCESS',
  'MIGRATION',
  'OPERATOR_SUPPORT',
  'BACKUP',
  'LIFECYCLE',
] as const;
export type JustificationReason = (typeof JUSTIFICATION_REASONS)[number];

export const KEY_USE_SERVICES = ['s3', 'kms', 'xks', 'lifecycle'] as const;
export type KeyUseService = (typeof KEY_USE_SERVICES)[number];

export const DEFAULT_JUSTIFICATION_REASON: JustificationReason = 'CUSTOMER_INITIATED_ACCESS';

/** The Sovra request headers of the KMS API carrying a reason and an approval reference. */
export const JUSTIFICATION_HEADER = 'x-sovra-justification';
export const APPROVAL_REFERENCE_HEADER = 'x-sovra-approval-reference';

export interface KeyUseJustification {
  principalId: string;
  tenantId: string;
  service: KeyUseService;
  reason: JustificationReason;
  /** The ticket or change that approved an OPERATOR_SUPPORT use; null otherwise. */
  approvalReference: string | null;
  sourceIp: string;
  /** ISO 3166-1 alpha-2 country code of the requester's network, or 'unknown'. */
  jurisdiction: string;
  requestId: string;
  /** The KMS action name of the use (Encrypt, Decrypt, GenerateDataKey, …). */
  operation: string;
  /**
   * The compact security label of the data the use protects (an object's data key on the S3 data
   * path: the object's own label joined with its bucket's), so that the key-use record shows it as
   * the request's record does. Absent or null when the use protects no labelled data (the KMS
   * API, XKS): a KMS key has no label. Not a justification the key policy decides on.
   */
  classification?: string | null;
}

/**
 * Reasons a client may state for itself on the S3 data path (x-sovra-justification).
 * OPERATOR_SUPPORT belongs to requests that an operator access approval let through (the
 * lockbox), LIFECYCLE to Sovra's own lifecycle runner: a client claiming either would pass for
 * someone else in the decision record, and past a key policy that denies its own reason.
 */
export const CLIENT_CLAIMABLE_REASONS: readonly JustificationReason[] = [
  'CUSTOMER_INITIATED_ACCESS',
  'MIGRATION',
  'BACKUP',
];

/** The reason a client stated, when it is one a client may claim; null otherwise. */
export function clientClaimableReason(text: string): JustificationReason | null {
  return CLIENT_CLAIMABLE_REASONS.find((reason) => reason === text) ?? null;
}

/**
 * A request's justification before each key use it makes names its KMS operation: one S3 request
 * may use keys several times (a copy unwraps its source's data key and generates the copy's), and
 * each use is recorded with its own operation.
 */
export type RequestJustification = Omit<KeyUseJustification, 'operation'>;

/** What a caller says about itself; the rest of a justification is what Sovra observed. */
export interface RequesterContext {
  principalId: string;
  tenantId: string;
  service: KeyUseService;
  sourceIp: string;
  jurisdiction: string;
  requestId: string;
}

/**
 * Reads the reason and approval reference headers (absent: CUSTOMER_INITIATED_ACCESS). An
 * unknown reason, an over-long or malformed approval reference, or OPERATOR_SUPPORT without an
 * approval reference fails with Validation: operators act on a customer's key only under an
 * approval that the decision record names.
 */
export function parseJustification(
  requester: RequesterContext,
  reasonHeader: string | undefined,
  approvalHeader: string | undefined,
  operation: string,
): KeyUseJustification {
  const reason = parseReason(reasonHeader);
  const approvalReference = parseApprovalReference(approvalHeader);
  if (reason === 'OPERATOR_SUPPORT' && approvalReference === null) {
    throw kmsError(
      'Validation',
      `Justification OPERATOR_SUPPORT requires an approval reference in ${APPROVAL_REFERENCE_HEADER}.`,
    );
  }
  return { ...requester, reason, approvalReference, operation };
}

/** The justification of a use nobody explained: the caller's own access. */
export function customerInitiated(requester: RequesterContext, operation: string): KeyUseJustification {
  return { ...requester, reason: DEFAULT_JUSTIFICATION_REASON, approvalReference: null, operation };
}

function parseReason(header: string | undefined): JustificationReason {
  if (header === undefined || header.trim() === '') return DEFAULT_JUSTIFICATION_REASON;
  const value = header.trim();
  const reason = JUSTIFICATION_REASONS.find((candidate) => candidate === value);
  if (reason === undefined) {
    throw kmsError(
      'Validation',
      `${JUSTIFICATION_HEADER} must be one of ${JUSTIFICATION_REASONS.join(', ')}.`,
    );
  }
  return reason;
}

const APPROVAL_REFERENCE = /^[A-Za-z0-9._:/#@+=-]+$/;

function parseApprovalReference(header: string | undefined): string | null {
  if (header === undefined || header.trim() === '') return null;
  const value = header.trim();
  if (value.length > LIMITS.kmsApprovalReferenceMaxChars || !APPROVAL_REFERENCE.test(value)) {
    throw kmsError(
      'Validation',
      `${APPROVAL_REFERENCE_HEADER} must be 1 to ${LIMITS.kmsApprovalReferenceMaxChars} characters of letters, digits and ._:/#@+=-`,
    );
  }
  return value;
}
