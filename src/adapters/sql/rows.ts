import type {
  AccessKeyRecord,
  AccessKeyStatus,
  Principal,
  PrincipalKind,
  Tenant,
} from '../../domain/iam/types.ts';
import { BUCKET_CONFIG_KINDS, type BucketConfig } from '../../domain/storage/ports.ts';
import {
  CHECKSUM_ALGORITHMS,
  OBJECT_RECORD_FORMAT,
  type BucketRecord,
  type DataLayout,
  type MultipartUpload,
  type NewObjectVersion,
  type ObjectChecksum,
  type ObjectRetention,
  type ObjectEncryption,
  type ObjectVersion,
  type RequestedObjectLock,
  type SystemMetadata,
  type UploadPart,
  type VersioningState,
} from '../../domain/storage/types.ts';
import type { SqlRow, SqlValue } from './driver.ts';
import { keyBytes, keyText } from './object-keys.ts';

/**
 * Records ↔ rows. Both dialects share one representation: times as epoch milliseconds (BIGINT),
 * booleans as 0/1 (SMALLINT), object keys as UTF-8 bytes, nested documents as JSON text. The
 * column lists here are the only place that knows the column order of each INSERT.
 */

// ---- buckets ----------------------------------------------------------------------------------

export const BUCKET_COLUMNS =
  'name, tenant_id, region, created_at_ms, versioning, object_lock_enabled, classification, jurisdiction, tier';

export function bucketParams(bucket: BucketRecord): SqlValue[] {
  return [
    bucket.name,
    bucket.tenantId,
    bucket.region,
    bucket.createdAt.getTime(),
    bucket.versioning,
    flagValue(bucket.objectLockEnabled),
    bucket.classification,
    bucket.jurisdiction,
    bucket.tier,
  ];
}

const VERSIONING_STATES: readonly VersioningState[] = ['Unversioned', 'Enabled', 'Suspended'];

export function decodeBucket(row: SqlRow): BucketRecord {
  return {
    name: text(row, 'name'),
    tenantId: text(row, 'tenant_id'),
    region: text(row, 'region'),
    createdAt: time(row, 'created_at_ms'),
    versioning: oneOf(row, 'versioning', VERSIONING_STATES),
    objectLockEnabled: flag(row, 'object_lock_enabled'),
    classification: nullableText(row, 'classification'),
    jurisdiction: nullableText(row, 'jurisdiction'),
    tier: nullableText(row, 'tier'),
  };
}

export function decodeBucketConfig(row: SqlRow): BucketConfig {
  return {
    bucket: text(row, 'bucket'),
    kind: oneOf(row, 'kind', BUCKET_CONFIG_KINDS),
    document: text(row, 'document'),
    updatedAt: time(row, 'updated_at_ms'),
  };
}

// ---- object versions --------------------------------------------------------------------------

/** Everything but the inline data, which listings never load. */
export const VERSION_COLUMNS =
  'seq, bucket, object_key, version_id, version_uid, is_latest, is_delete_marker, size_bytes, etag, ' +
  'last_modified_ms, system_meta, user_meta, checksum, layout, encryption, tags, owner_tenant_id, format, ' +
  'retention_mode, retain_until_ms, legal_hold, classification';

export const VERSION_INSERT_COLUMNS =
  'bucket, object_key, version_id, version_uid, is_latest, is_delete_marker, size_bytes, etag, last_modified_ms, ' +
  'system_meta, user_meta, checksum, layout, inline_data, encryption, tags, owner_tenant_id, format, ' +
  'retention_mode, retain_until_ms, legal_hold, classification';

/** Parameters for VERSION_INSERT_COLUMNS; a new version is always the latest. */
export function versionParams(version: NewObjectVersion): SqlValue[] {
  return [
    version.bucket,
    keyBytes(version.key),
    version.versionId,
    version.versionUid,
    1,
    flagValue(version.isDeleteMarker),
    version.sizeBytes,
    version.etag,
    version.lastModified.getTime(),
    JSON.stringify(version.system),
    JSON.stringify(version.userMetadata),
    jsonOrNull(version.checksum),
    JSON.stringify(version.layout),
    version.inlineData,
    jsonOrNull(version.encryption),
    JSON.stringify(version.tags),
    version.ownerTenantId,
    version.format,
    version.retention?.mode ?? null,
    version.retention?.retainUntil.getTime() ?? null,
    flagValue(version.legalHold),
    version.classification,
  ];
}

/** Blobs a version's layout names; kept in version_blobs so that reference checks use an index. */
export function blobIdsOfLayout(layout: DataLayout): string[] {
  return layout.kind === 'segments' ? layout.segments.map((segment) => segment.blobId) : [];
}

/** A version row; `inline_data` is read when the row has that column (single-version reads). */
export function decodeVersion(row: SqlRow): ObjectVersion {
  return {
    format: integer(row, 'format'),
    bucket: text(row, 'bucket'),
    key: keyText(bytes(row, 'object_key')),
    versionUid: text(row, 'version_uid'),
    versionId: text(row, 'version_id'),
    isLatest: flag(row, 'is_latest'),
    isDeleteMarker: flag(row, 'is_delete_marker'),
    sizeBytes: integer(row, 'size_bytes'),
    etag: text(row, 'etag'),
    lastModified: time(row, 'last_modified_ms'),
    system: json<SystemMetadata>(row, 'system_meta'),
    userMetadata: json<Record<string, string>>(row, 'user_meta'),
    checksum: nullableJson<ObjectChecksum>(row, 'checksum'),
    layout: json<DataLayout>(row, 'layout'),
    inlineData: 'inline_data' in row ? nullableBytes(row, 'inline_data') : null,
    encryption: nullableJson<ObjectEncryption>(row, 'encryption'),
    tags: json<Record<string, string>>(row, 'tags'),
    retention: decodeRetention(row),
    legalHold: row.legal_hold !== null && row.legal_hold !== undefined && flag(row, 'legal_hold'),
    classification: nullableText(row, 'classification'),
    ownerTenantId: text(row, 'owner_tenant_id'),
    seq: integer(row, 'seq'),
  };
}

function decodeRetention(row: SqlRow): ObjectRetention | null {
  if (row.retention_mode === null || row.retention_mode === undefined) return null;
  return { mode: oneOf(row, 'retention_mode', RETENTION_MODES), retainUntil: time(row, 'retain_until_ms') };
}

const RETENTION_MODES = ['GOVERNANCE', 'COMPLIANCE'] as const;

// ---- multipart uploads ------------------------------------------------------------------------

/** Multipart upload rows are versioned like object records; this is their current format. */
const UPLOAD_RECORD_FORMAT = OBJECT_RECORD_FORMAT;

export const UPLOAD_COLUMNS =
  'upload_id, bucket, object_key, version_uid, initiated_at_ms, system_meta, user_meta, checksum_algorithm, ' +
  'checksum_type, encryption, tags, owner_tenant_id, initiator_principal_id, format, ' +
  'retention_mode, retain_until_ms, legal_hold, classification';

export function uploadParams(upload: MultipartUpload): SqlValue[] {
  return [
    upload.uploadId,
    upload.bucket,
    keyBytes(upload.key),
    upload.versionUid,
    upload.initiatedAt.getTime(),
    JSON.stringify(upload.system),
    JSON.stringify(upload.userMetadata),
    upload.checksumAlgorithm,
    upload.checksumType,
    jsonOrNull(upload.encryption),
    JSON.stringify(upload.tags),
    upload.ownerTenantId,
    upload.initiatorPrincipalId,
    UPLOAD_RECORD_FORMAT,
    upload.objectLock?.retention?.mode ?? null,
    upload.objectLock?.retention?.retainUntil.getTime() ?? null,
    nullableFlagValue(upload.objectLock?.legalHold ?? null),
    upload.classification,
  ];
}

const CHECKSUM_TYPES: readonly NonNullable<MultipartUpload['checksumType']>[] = ['FULL_OBJECT', 'COMPOSITE'];

export function decodeUpload(row: SqlRow): MultipartUpload {
  return {
    uploadId: text(row, 'upload_id'),
    bucket: text(row, 'bucket'),
    key: keyText(bytes(row, 'object_key')),
    versionUid: text(row, 'version_uid'),
    initiatedAt: time(row, 'initiated_at_ms'),
    system: json<SystemMetadata>(row, 'system_meta'),
    userMetadata: json<Record<string, string>>(row, 'user_meta'),
    checksumAlgorithm:
      row['checksum_algorithm'] === null ? null : oneOf(row, 'checksum_algorithm', CHECKSUM_ALGORITHMS),
    checksumType: row['checksum_type'] === null ? null : oneOf(row, 'checksum_type', CHECKSUM_TYPES),
    encryption: nullableJson<ObjectEncryption>(row, 'encryption'),
    tags: json<Record<string, string>>(row, 'tags'),
    ownerTenantId: text(row, 'owner_tenant_id'),
    initiatorPrincipalId: text(row, 'initiator_principal_id'),
    ...decodeRequestedObjectLock(row),
    classification: nullableText(row, 'classification'),
  };
}

/** The upload's requested Object Lock settings; the property is absent when none were asked for. */
function decodeRequestedObjectLock(row: SqlRow): { objectLock?: RequestedObjectLock } {
  const retention = decodeRetention(row);
  const legalHold = row.legal_hold === null || row.legal_hold === undefined ? null : flag(row, 'legal_hold');
  return retention === null && legalHold === null ? {} : { objectLock: { retention, legalHold } };
}

export const PART_COLUMNS = 'upload_id, part_number, blob_id, size_bytes, etag, checksum, last_modified_ms';

export function partParams(part: UploadPart): SqlValue[] {
  return [
    part.uploadId,
    part.partNumber,
    part.blobId,
    part.sizeBytes,
    part.etag,
    jsonOrNull(part.checksum),
    part.lastModified.getTime(),
  ];
}

export function decodePart(row: SqlRow): UploadPart {
  return {
    uploadId: text(row, 'upload_id'),
    partNumber: integer(row, 'part_number'),
    blobId: text(row, 'blob_id'),
    sizeBytes: integer(row, 'size_bytes'),
    etag: text(row, 'etag'),
    checksum: nullableJson<ObjectChecksum>(row, 'checksum'),
    lastModified: time(row, 'last_modified_ms'),
  };
}

// ---- identity ---------------------------------------------------------------------------------

export const TENANT_COLUMNS = 'id, name, created_at_ms';

export function tenantParams(tenant: Tenant): SqlValue[] {
  return [tenant.id, tenant.name, tenant.createdAt.getTime()];
}

export function decodeTenant(row: SqlRow): Tenant {
  return { id: text(row, 'id'), name: text(row, 'name'), createdAt: time(row, 'created_at_ms') };
}

export const PRINCIPAL_COLUMNS = 'id, tenant_id, kind, name, is_tenant_admin, created_at_ms';

export function principalParams(principal: Principal): SqlValue[] {
  return [
    principal.id,
    principal.tenantId,
    principal.kind,
    principal.name,
    flagValue(principal.isTenantAdmin),
    principal.createdAt.getTime(),
  ];
}

const PRINCIPAL_KINDS: readonly PrincipalKind[] = ['user', 'service', 'role'];

export function decodePrincipal(row: SqlRow): Principal {
  return {
    id: text(row, 'id'),
    tenantId: text(row, 'tenant_id'),
    kind: oneOf(row, 'kind', PRINCIPAL_KINDS),
    name: text(row, 'name'),
    isTenantAdmin: flag(row, 'is_tenant_admin'),
    createdAt: time(row, 'created_at_ms'),
  };
}

export const ACCESS_KEY_COLUMNS =
  'access_key_id, principal_id, tenant_id, sealed_secret, status, created_at_ms, expires_at_ms';

export function accessKeyParams(key: AccessKeyRecord): SqlValue[] {
  return [
    key.accessKeyId,
    key.principalId,
    key.tenantId,
    key.sealedSecret,
    key.status,
    key.createdAt.getTime(),
    key.expiresAt === null ? null : key.expiresAt.getTime(),
  ];
}

const ACCESS_KEY_STATUSES: readonly AccessKeyStatus[] = ['Active', 'Inactive'];

export function decodeAccessKey(row: SqlRow): AccessKeyRecord {
  return {
    accessKeyId: text(row, 'access_key_id'),
    principalId: text(row, 'principal_id'),
    tenantId: text(row, 'tenant_id'),
    sealedSecret: bytes(row, 'sealed_secret'),
    status: oneOf(row, 'status', ACCESS_KEY_STATUSES),
    createdAt: time(row, 'created_at_ms'),
    expiresAt: row['expires_at_ms'] === null ? null : time(row, 'expires_at_ms'),
  };
}

// ---- column decoders --------------------------------------------------------------------------
// A value of the wrong type means the database holds something this code never wrote: fail loudly
// (an internal error) rather than hand a malformed record to the domain.

export function text(row: SqlRow, column: string): string {
  const value = row[column];
  if (typeof value !== 'string') throw unexpected(column, value);
  return value;
}

export function nullableText(row: SqlRow, column: string): string | null {
  return row[column] === null ? null : text(row, column);
}

/** SQLite returns integers as numbers; node-postgres returns BIGINT as a decimal string. */
export function integer(row: SqlRow, column: string): number {
  const value = row[column];
  const parsed = typeof value === 'string' ? Number(value) : value;
  if (typeof parsed !== 'number' || !Number.isSafeInteger(parsed)) throw unexpected(column, value);
  return parsed;
}

function time(row: SqlRow, column: string): Date {
  return new Date(integer(row, column));
}

function flag(row: SqlRow, column: string): boolean {
  return integer(row, column) === 1;
}

function nullableFlagValue(value: boolean | null): number | null {
  return value === null ? null : flagValue(value);
}

function flagValue(value: boolean): number {
  return value ? 1 : 0;
}

/** SQLite returns BLOBs as Uint8Array, PostgreSQL bytea as Buffer; callers always get a Buffer. */
export function bytes(row: SqlRow, column: string): Buffer {
  const value = row[column];
  if (!(value instanceof Uint8Array)) throw unexpected(column, value);
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

export function nullableBytes(row: SqlRow, column: string): Buffer | null {
  return row[column] === null ? null : bytes(row, column);
}

function oneOf<T extends string>(row: SqlRow, column: string, allowed: readonly T[]): T {
  const value = row[column];
  const match = allowed.find((candidate) => candidate === value);
  if (match === undefined) throw unexpected(column, value);
  return match;
}

/**
 * Nested documents are written only by this module from typed records and carry the record's
 * `format`, so reading them back trusts their shape (the cast is the record format's contract).
 */
function json<T>(row: SqlRow, column: string): T {
  return JSON.parse(text(row, column)) as T;
}

function nullableJson<T>(row: SqlRow, column: string): T | null {
  return row[column] === null ? null : json<T>(row, column);
}

function jsonOrNull(value: object | null): string | null {
  return value === null ? null : JSON.stringify(value);
}

function unexpected(column: string, value: unknown): Error {
  return new Error(`metadata column ${column} holds an unexpected ${value === null ? 'null' : typeof value}`);
}
