import { hash } from 'node:crypto';
import { publicRandomBytes } from '../../platform/random-pool.ts';
import { auditError } from './errors.ts';

/**
 * What the audit log records. Every record is one of these kinds; retention is set per kind
 * (retention.ts) and SIEM export maps each to an OCSF class.
 */
export const AUDIT_RECORD_KINDS = [
  'request', // an authenticated request and its outcome (S3, KMS, admin)
  'authorization-denied', // a request that authorization refused (also anonymous ones)
  'key-use', // a KMS key use and its justification
  'admin-change', // tenants, principals, keys, policies, guardrails changed
  'operator-access', // a platform operator touched tenant data, metadata or keys
  'access-approval', // lockbox: request, approval, denial, revocation, break-glass
  'residency-decision', // the sovereignty firewall allowed or refused a placement
  'seal', // seal, unseal, root-of-trust events
  'log-key', // the audit log's own signing keys were created or changed
] as const;
export type AuditRecordKind = (typeof AUDIT_RECORD_KINDS)[number];

export type AuditResult = 'success' | 'failure' | 'denied';

/**
 * One audit record, format version 1 (docs/reference/audit-log-formats.md "Entries"). It names
 * who did what to which resource with what result, and carries nothing secret: no key material,
 * no secret access key, no object data, no signature.
 */
export interface AuditRecord {
  kind: AuditRecordKind;
  /** When the outcome was known, milliseconds since the Unix epoch. */
  timeMs: number;
  /** The tenant whose data, metadata or keys were concerned; null for platform-wide events. */
  tenantId: string | null;
  /** Who acted: a principal id, an operator id, or null (anonymous, or the platform itself). */
  principalId: string | null;
  /** The tenant of the acting principal when it differs from tenantId (cross-tenant, operators). */
  principalTenantId: string | null;
  /** The IAM-style action name, e.g. s3:GetObject, kms:Decrypt, sovra:CreateUser, sovra:Unseal. */
  action: string;
  /** The resource, as an ARN-like name (arn:aws:s3:::bucket/key) or null. */
  resource: string | null;
  classification: string | null;
  sourceIp: string | null;
  sourceJurisdiction: string | null;
  result: AuditResult;
  /** HTTP status for requests; null otherwise. */
  status: number | null;
  /** The stable error code when result is not success. */
  errorCode: string | null;
  /** A key-use or operator justification (reason code and free text); null when none was given. */
  justification: string | null;
  /** The access approval an operator used; null otherwise. */
  approvalId: string | null;
  requestId: string | null;
  /** Small, non-secret extra facts (e.g. key id and version of a key use). */
  details: Readonly<Record<string, string | number | boolean | null>>;
}

export const AUDIT_RECORD_FORMAT_VERSION = 1;

/** Leaf entry format byte: leaf = 0x01 ‖ SHA-256(salt ‖ canonical record). */
export const AUDIT_LEAF_FORMAT_V1 = 0x01;
export const AUDIT_SALT_BYTES = 32;
export const AUDIT_LEAF_BYTES = 33;

/** The fields of a version-1 record in canonical order; the canonical encoding follows it exactly. */
const FIELDS = [
  'kind',
  'timeMs',
  'tenantId',
  'principalId',
  'principalTenantId',
  'action',
  'resource',
  'classification',
  'sourceIp',
  'sourceJurisdiction',
  'result',
  'status',
  'errorCode',
  'justification',
  'approvalId',
  'requestId',
  'details',
] as const;

/**
 * The canonical bytes of a record: UTF-8 JSON of `{"v":1, <FIELDS in order>}` with `details`
 * keys sorted, no insignificant whitespace. Anyone holding the record and its salt recomputes the
 * leaf from these bytes, so the encoding is fixed by this function and its golden test.
 */
export function canonicalRecordBytes(record: AuditRecord): Buffer {
  const ordered: Record<string, unknown> = { v: AUDIT_RECORD_FORMAT_VERSION };
  for (const field of FIELDS) {
    if (field === 'details') {
      const sorted: Record<string, unknown> = {};
      for (const key of Object.keys(record.details).sort()) sorted[key] = record.details[key];
      ordered.details = sorted;
    } else {
      ordered[field] = record[field];
    }
  }
  return Buffer.from(JSON.stringify(ordered), 'utf8');
}

/** Parses canonical bytes back into a record, refusing anything that does not re-encode identically. */
export function parseCanonicalRecord(bytes: Uint8Array): AuditRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw auditError('MalformedRecord', 'the record is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || (parsed as { v?: unknown }).v !== 1) {
    throw auditError('MalformedRecord', 'the record is not a version-1 audit record');
  }
  const record = parsed as AuditRecord & { v?: number };
  delete record.v;
  if (!canonicalRecordBytes(record).equals(Buffer.from(bytes))) {
    throw auditError('MalformedRecord', 'the record is not in canonical form');
  }
  return record;
}

/**
 * The leaf a record commits to: 0x01 ‖ SHA-256(salt ‖ canonical record). The served log (tiles,
 * entry bundles) holds only these commitments, so it reveals neither a tenant's activity nor how
 * many records a tenant has; the record and its salt go only to that tenant and to authorized
 * auditors, who recompute the leaf and check its inclusion proof against the signed checkpoint.
 */
export function recordLeaf(canonical: Uint8Array, salt: Uint8Array): Buffer {
  if (salt.length !== AUDIT_SALT_BYTES) throw auditError('MalformedRecord', 'a salt is 32 bytes');
  const digest = hash('sha256', Buffer.concat([salt, canonical]), 'buffer');
  const leaf = Buffer.allocUnsafe(1 + digest.length);
  leaf[0] = AUDIT_LEAF_FORMAT_V1;
  digest.copy(leaf, 1);
  return leaf;
}

/**
 * Salts are cut from the process's pool of public random bytes (platform/random-pool.ts): a
 * call into OpenSSL's generator per record cost more than the rest of sealing together
 * (docs/performance.md). Every salt is still fresh random bytes, used once.
 */
export function newSalt(): Buffer {
  return publicRandomBytes(AUDIT_SALT_BYTES);
}

/** A record ready to append: canonical bytes, its salt and its leaf. */
export interface SealedAuditRecord {
  record: AuditRecord;
  canonical: Buffer;
  salt: Buffer;
  leaf: Buffer;
}

export function sealRecord(record: AuditRecord, salt: Buffer = newSalt()): SealedAuditRecord {
  const canonical = canonicalRecordBytes(record);
  return { record, canonical, salt, leaf: recordLeaf(canonical, salt) };
}
