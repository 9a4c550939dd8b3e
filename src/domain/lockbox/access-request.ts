import { randomBytes } from 'node:crypto';
import { LIMITS } from '../../platform/limits.ts';
import { isSovraError } from '../../platform/errors.ts';
import { validateBucketName } from '../storage/names.ts';
import { lockboxError } from './errors.ts';
import {
  ACTIONS_MAX,
  COMMENT_MAX_CHARS,
  DURATION_CEILING_SECONDS,
  DURATION_MIN_SECONDS,
  JUSTIFICATION_MAX_CHARS,
  TICKET_MAX_CHARS,
} from './limits.ts';

/**
 * An operator access request and its life, after Azure Customer Lockbox and Google Access
 * Approval: an operator files it (standard: the tenant's administrators approve or deny;
 * break-glass: a second operator confirms and it activates at once, flagged for the tenant's
 * review); once active it grants exactly its scope for its duration and then ends on its own; the
 * tenant or the requester may revoke it at any time.
 *
 *     standard:     pending ──approve──▶ active ──(duration)──▶ expired
 *                      │ deny / revoke / (7 days undecided) ──▶ denied / revoked / expired
 *     break-glass:  awaiting-confirmation ──confirm (2nd operator)──▶ active (review: pending)
 *                                                           acknowledge ──▶ review: acknowledged
 */
export const ACCESS_REQUEST_FORMAT = 1;

export type AccessRequestKind = 'standard' | 'break-glass';
export const ACCESS_REQUEST_STATUSES = [
  'pending',
  'awaiting-confirmation',
  'active',
  'denied',
  'revoked',
  'expired',
] as const;
export type AccessRequestStatus = (typeof ACCESS_REQUEST_STATUSES)[number];
/** Break-glass access stays flagged for the tenant's review ('pending') until acknowledged. */
export type AccessReviewState = 'none' | 'pending' | 'acknowledged';

/** What an approval covers: one bucket, optionally only keys under a prefix, optionally one KMS key. */
export interface AccessScope {
  bucket: string;
  keyPrefix: string | null;
  kmsKeyId: string | null;
}

/** The requester's attested claims at filing, kept for the tenant to read (nothing secret). */
export interface AttestedClaims {
  issuer: string;
  clearance: string;
  nationality: string;
  residency: string;
  attestationExpiresAtMs: number;
}

export interface AccessRequest {
  format: typeof ACCESS_REQUEST_FORMAT;
  id: string;
  tenantId: string;
  requesterId: string;
  kind: AccessRequestKind;
  scope: AccessScope;
  /** IAM action names, sorted, without duplicates (s3:GetObject, kms:Decrypt, …). */
  actions: readonly string[];
  durationSeconds: number;
  justification: string;
  ticket: string;
  requesterClaims: AttestedClaims;
  sourceIp: string | null;
  sourceJurisdiction: string;
  /** The stored status; `effectiveStatus` also accounts for time. */
  status: AccessRequestStatus;
  filedAtMs: number;
  /** Undecided (or unconfirmed) past this instant, the request has expired. */
  decisionDeadlineMs: number;
  /** Who approved or denied it, or for break-glass, the confirming operator. */
  decidedBy: string | null;
  decidedAtMs: number | null;
  decisionComment: string | null;
  activatedAtMs: number | null;
  expiresAtMs: number | null;
  revokedBy: string | null;
  revokedAtMs: number | null;
  revokeReason: string | null;
  review: AccessReviewState;
  reviewedBy: string | null;
  reviewedAtMs: number | null;
  reviewComment: string | null;
  updatedAtMs: number;
}

/** What an operator asks for, as validated from the request body. */
export interface AccessRequestInput {
  tenantId: string;
  scope: AccessScope;
  actions: string[];
  durationSeconds: number;
  justification: string;
  ticket: string;
  kind: AccessRequestKind;
}

/** The status at `nowMs`: a pending request past its deadline and an active one past its end have expired. */
export function effectiveStatus(request: AccessRequest, nowMs: number): AccessRequestStatus {
  switch (request.status) {
    case 'pending':
    case 'awaiting-confirmation':
      return nowMs >= request.decisionDeadlineMs ? 'expired' : request.status;
    case 'active':
      return request.expiresAtMs !== null && nowMs >= request.expiresAtMs ? 'expired' : 'active';
    case 'denied':
    case 'revoked':
    case 'expired':
      return request.status;
  }
}

const REQUEST_ID = /^ar-[0-9a-f]{32}$/;
const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function newAccessRequestId(): string {
  return `ar-${randomBytes(16).toString('hex')}`;
}

export function isAccessRequestId(value: unknown): value is string {
  return typeof value === 'string' && REQUEST_ID.test(value);
}

/** Whether `value` has the form of a tenant id (whether that tenant exists is another question). */
export function isTenantIdForm(value: unknown): value is string {
  return typeof value === 'string' && TENANT_ID.test(value);
}

const INPUT_KEYS = [
  'tenantId',
  'bucket',
  'keyPrefix',
  'kmsKeyId',
  'actions',
  'durationSeconds',
  'justification',
  'ticket',
  'breakGlass',
];
/** IAM action names, spelled out: no wildcards, so an approval lists exactly what it grants. */
const ACTION = /^(s3|kms):[A-Z][A-Za-z0-9]{2,63}$/;
/** KMS key ids are UUIDs (docs/architecture.md "KMS"). */
const KMS_KEY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TICKET = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,${TICKET_MAX_CHARS - 1}}$`);
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Validates a filing's JSON body (any JSON value) into an AccessRequestInput. */
export function parseAccessRequestInput(body: unknown): AccessRequestInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw malformed('the access request is a JSON object');
  }
  const fields: Record<string, unknown> = { ...body };
  for (const key of Object.keys(fields)) {
    if (!INPUT_KEYS.includes(key))
      throw malformed(`unknown field "${key.slice(0, 64)}" (known: ${INPUT_KEYS.join(', ')})`);
  }
  const tenantId = fields.tenantId;
  if (!isTenantIdForm(tenantId)) throw malformed('tenantId names a tenant');
  const actions = actionsOf(fields.actions);
  const kmsKeyId = optionalString(fields.kmsKeyId, 'kmsKeyId');
  if (kmsKeyId !== null && !KMS_KEY_ID.test(kmsKeyId)) throw malformed('kmsKeyId is a KMS key id (a UUID)');
  if (actions.some((action) => action.startsWith('kms:')) && kmsKeyId === null) {
    throw malformed('kms: actions need kmsKeyId, the one KMS key they may use');
  }
  const durationSeconds = fields.durationSeconds;
  if (
    typeof durationSeconds !== 'number' ||
    !Number.isSafeInteger(durationSeconds) ||
    durationSeconds < DURATION_MIN_SECONDS ||
    durationSeconds > DURATION_CEILING_SECONDS
  ) {
    throw lockboxError(
      'DurationNotAllowed',
      `durationSeconds is an integer from ${DURATION_MIN_SECONDS} to ${DURATION_CEILING_SECONDS}`,
    );
  }
  const breakGlass = fields.breakGlass ?? false;
  if (typeof breakGlass !== 'boolean') throw malformed('breakGlass is true or false');
  const ticket = fields.ticket;
  if (typeof ticket !== 'string' || !TICKET.test(ticket)) {
    throw malformed(`ticket is a reference of 1 to ${TICKET_MAX_CHARS} letters, digits and . _ : / # -`);
  }
  return {
    tenantId,
    scope: { bucket: bucketOf(fields.bucket), keyPrefix: keyPrefixOf(fields.keyPrefix), kmsKeyId },
    actions,
    durationSeconds,
    justification: requiredText(fields.justification, 'justification', JUSTIFICATION_MAX_CHARS),
    ticket,
    kind: breakGlass ? 'break-glass' : 'standard',
  };
}

/** An optional decision comment (approval, denial, revocation, acknowledgement). */
export function parseComment(value: unknown, name: string): string | null {
  if (value === undefined || value === null) return null;
  return requiredText(value, name, COMMENT_MAX_CHARS);
}

/** What one use of an approval touches (the enforcement gate's question). */
export interface AccessUse {
  action: string;
  bucket: string | null;
  /** The object key, or for listings the listing prefix; null for bucket-level actions. */
  key: string | null;
  kmsKeyId: string | null;
}

/**
 * Why `use` falls outside the approved scope; null when it is inside. An s3: action must name the
 * approved bucket and, when the scope has a key prefix, a key (or listing prefix) under it; a kms:
 * action must name the approved KMS key (and, if it names a bucket, the approved one).
 */
export function scopeViolation(request: AccessRequest, use: AccessUse): string | null {
  if (!request.actions.includes(use.action)) return `${use.action} is not among the approved actions`;
  const { bucket, keyPrefix, kmsKeyId } = request.scope;
  if (use.action.startsWith('kms:')) {
    if (kmsKeyId === null || use.kmsKeyId !== kmsKeyId) return 'the KMS key is not the approved one';
    if (use.bucket !== null && use.bucket !== bucket) return 'the bucket is not the approved one';
    return null;
  }
  if (use.bucket !== bucket) return 'the bucket is not the approved one';
  if (keyPrefix !== null && (use.key === null || !use.key.startsWith(keyPrefix))) {
    return `only keys under "${keyPrefix}" are approved`;
  }
  return null;
}

/** The ARN-style name of a scope, for audit records: arn:aws:s3:::bucket/prefix*. */
export function scopeResource(scope: AccessScope): string {
  return scope.keyPrefix === null
    ? `arn:aws:s3:::${scope.bucket}/*`
    : `arn:aws:s3:::${scope.bucket}/${scope.keyPrefix}*`;
}

function actionsOf(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > ACTIONS_MAX) {
    throw malformed(`actions is a list of 1 to ${ACTIONS_MAX} IAM action names`);
  }
  const actions = new Set<string>();
  for (const action of value as unknown[]) {
    if (typeof action !== 'string' || !ACTION.test(action)) {
      throw malformed('every action is an s3: or kms: action name such as s3:GetObject (no wildcards)');
    }
    actions.add(action);
  }
  return [...actions].sort();
}

function bucketOf(value: unknown): string {
  if (typeof value !== 'string') throw malformed('bucket names the bucket the access is for');
  try {
    validateBucketName(value);
  } catch (error) {
    if (isSovraError(error)) throw malformed(error.message);
    throw error;
  }
  return value;
}

function keyPrefixOf(value: unknown): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (
    typeof value !== 'string' ||
    !value.isWellFormed() ||
    Buffer.byteLength(value, 'utf8') > LIMITS.objectKeyMaxBytes
  ) {
    throw malformed(`keyPrefix is a key prefix of at most ${LIMITS.objectKeyMaxBytes} bytes`);
  }
  return value;
}

function optionalString(value: unknown, name: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw malformed(`${name} is a string`);
  return value;
}

function requiredText(value: unknown, name: string, maxChars: number): string {
  if (
    typeof value !== 'string' ||
    value.trim().length === 0 ||
    value.length > maxChars ||
    !value.isWellFormed() ||
    CONTROL.test(value)
  ) {
    throw malformed(`${name} is text of 1 to ${maxChars} characters without control characters`);
  }
  return value;
}

function malformed(message: string) {
  return lockboxError('MalformedAccessRequest', message);
}
