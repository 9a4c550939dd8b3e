import { renderPlaceholders, type PlaceholderStyle } from './driver.ts';
import { LIFECYCLE_ACTION_COLUMNS } from './lifecycle-actions.ts';
import {
  ACCESS_KEY_COLUMNS,
  BUCKET_COLUMNS,
  PART_COLUMNS,
  PRINCIPAL_COLUMNS,
  TENANT_COLUMNS,
  UPLOAD_COLUMNS,
  VERSION_COLUMNS,
  VERSION_INSERT_COLUMNS,
} from './rows.ts';

/**
 * Every statement the metadata store runs, in the SQL both dialects share, with `?` for each
 * value: nothing is ever spliced into SQL text. The `is_latest = 1 AND is_delete_marker = 0`
 * literals match the partial indexes' predicates, which is what lets the planners use them.
 */
const STATEMENTS = {
  ping: 'SELECT 1 AS alive',

  selectBucket: `SELECT ${BUCKET_COLUMNS} FROM buckets WHERE name = ?`,
  selectTenantBuckets: `SELECT ${BUCKET_COLUMNS} FROM buckets WHERE tenant_id = ? ORDER BY name`,
  insertBucket: `INSERT INTO buckets (${BUCKET_COLUMNS}) VALUES (${marks(BUCKET_COLUMNS)})`,
  deleteBucket: 'DELETE FROM buckets WHERE name = ?',
  updateBucketVersioning: 'UPDATE buckets SET versioning = ? WHERE name = ?',
  enableBucketObjectLock: 'UPDATE buckets SET object_lock_enabled = 1 WHERE name = ?',
  selectBucketContent:
    'SELECT 1 AS found FROM object_versions WHERE bucket = ? ' +
    'UNION ALL SELECT 1 AS found FROM multipart_uploads WHERE bucket = ? LIMIT 1',

  selectBucketConfig:
    'SELECT bucket, kind, document, updated_at_ms FROM bucket_configs WHERE bucket = ? AND kind = ?',
  upsertBucketConfig:
    'INSERT INTO bucket_configs (bucket, kind, document, updated_at_ms) VALUES (?, ?, ?, ?) ' +
    'ON CONFLICT (bucket, kind) DO UPDATE SET document = excluded.document, updated_at_ms = excluded.updated_at_ms',
  deleteBucketConfig: 'DELETE FROM bucket_configs WHERE bucket = ? AND kind = ?',
  /** Params: kind, bucket bound (exclusive), limit. */
  selectBucketConfigsOfKind:
    'SELECT bucket, kind, document, updated_at_ms FROM bucket_configs WHERE kind = ? AND bucket > ? ' +
    'ORDER BY bucket LIMIT ?',

  insertLifecycleAction: `INSERT INTO lifecycle_actions (${LIFECYCLE_ACTION_COLUMNS}) VALUES (${marks(LIFECYCLE_ACTION_COLUMNS)})`,
  /** Params: bucket, seq bound (exclusive), limit. */
  selectLifecycleActions: `SELECT seq, ${LIFECYCLE_ACTION_COLUMNS} FROM lifecycle_actions WHERE bucket = ? AND seq > ? ORDER BY seq LIMIT ?`,

  selectLatestVersion: `SELECT ${VERSION_COLUMNS}, inline_data FROM object_versions WHERE bucket = ? AND object_key = ? AND is_latest = 1`,
  selectVersion: `SELECT ${VERSION_COLUMNS}, inline_data FROM object_versions WHERE bucket = ? AND object_key = ? AND version_id = ?`,
  clearLatest:
    'UPDATE object_versions SET is_latest = 0 WHERE bucket = ? AND object_key = ? AND is_latest = 1',
  insertVersion: `INSERT INTO object_versions (${VERSION_INSERT_COLUMNS}) VALUES (${marks(VERSION_INSERT_COLUMNS)}) RETURNING seq`,
  selectVersionSeq: 'SELECT seq FROM object_versions WHERE bucket = ? AND object_key = ? AND version_id = ?',
  insertVersionBlob: 'INSERT INTO version_blobs (blob_id, seq) VALUES (?, ?) ON CONFLICT DO NOTHING',
  setVersionTags:
    'UPDATE object_versions SET tags = ? WHERE bucket = ? AND object_key = ? AND version_id = ?',
  setVersionRetention:
    'UPDATE object_versions SET retention_mode = ?, retain_until_ms = ? WHERE bucket = ? AND object_key = ? AND version_id = ?',
  setVersionLegalHold:
    'UPDATE object_versions SET legal_hold = ? WHERE bucket = ? AND object_key = ? AND version_id = ?',
  deleteVersion:
    'DELETE FROM object_versions WHERE bucket = ? AND object_key = ? AND version_id = ? RETURNING is_latest',
  electLatest:
    'UPDATE object_versions SET is_latest = 1 WHERE seq = ' +
    '(SELECT seq FROM object_versions WHERE bucket = ? AND object_key = ? ORDER BY seq DESC LIMIT 1)',
  /** Params: bucket, from key (inclusive), upper bound (exclusive), limit. */
  listLatestVersions:
    `SELECT ${VERSION_COLUMNS} FROM object_versions ` +
    'WHERE bucket = ? AND is_latest = 1 AND is_delete_marker = 0 AND object_key >= ? AND object_key < ? ' +
    'ORDER BY object_key LIMIT ?',
  /** Params: bucket, cursor key, upper bound, cursor key, seq bound, limit: versions of the cursor key older than the bound, then later keys. */
  listAllVersions:
    `SELECT ${VERSION_COLUMNS} FROM object_versions ` +
    'WHERE bucket = ? AND object_key >= ? AND object_key < ? AND (object_key > ? OR seq < ?) ' +
    'ORDER BY object_key, seq DESC LIMIT ?',

  insertUpload: `INSERT INTO multipart_uploads (${UPLOAD_COLUMNS}) VALUES (${marks(UPLOAD_COLUMNS)})`,
  selectUpload: `SELECT ${UPLOAD_COLUMNS} FROM multipart_uploads WHERE upload_id = ? AND bucket = ? AND object_key = ?`,
  selectUploadById: `SELECT ${UPLOAD_COLUMNS} FROM multipart_uploads WHERE upload_id = ?`,
  selectUploadInitiation:
    'SELECT initiated_at_ms FROM multipart_uploads WHERE upload_id = ? AND bucket = ? AND object_key = ?',
  deleteUpload: 'DELETE FROM multipart_uploads WHERE upload_id = ?',
  /**
   * Params: bucket, cursor key, upper bound, cursor key, initiated bound, initiated bound, upload
   * id bound, limit: uploads of the cursor key after (initiated, upload id), then later keys.
   */
  listUploads:
    `SELECT ${UPLOAD_COLUMNS} FROM multipart_uploads ` +
    'WHERE bucket = ? AND object_key >= ? AND object_key < ? ' +
    'AND (object_key > ? OR initiated_at_ms > ? OR (initiated_at_ms = ? AND upload_id > ?)) ' +
    'ORDER BY object_key, initiated_at_ms, upload_id LIMIT ?',

  selectPartBlob: 'SELECT blob_id FROM multipart_parts WHERE upload_id = ? AND part_number = ?',
  upsertPart:
    `INSERT INTO multipart_parts (${PART_COLUMNS}) VALUES (${marks(PART_COLUMNS)}) ` +
    'ON CONFLICT (upload_id, part_number) DO UPDATE SET blob_id = excluded.blob_id, size_bytes = excluded.size_bytes, ' +
    'etag = excluded.etag, checksum = excluded.checksum, last_modified_ms = excluded.last_modified_ms',
  selectParts: `SELECT ${PART_COLUMNS} FROM multipart_parts WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?`,
  selectAllParts: `SELECT ${PART_COLUMNS} FROM multipart_parts WHERE upload_id = ? ORDER BY part_number`,

  enqueueGarbage:
    'INSERT INTO blob_garbage (blob_id, enqueued_at_ms) VALUES (?, ?) ON CONFLICT (blob_id) DO NOTHING',
  selectGarbage: 'SELECT blob_id FROM blob_garbage ORDER BY enqueued_at_ms, blob_id LIMIT ?',
  deleteGarbage: 'DELETE FROM blob_garbage WHERE blob_id = ?',
  selectBlobReference:
    'SELECT 1 AS found FROM version_blobs WHERE blob_id = ? ' +
    'UNION ALL SELECT 1 AS found FROM multipart_parts WHERE blob_id = ? LIMIT 1',

  selectTenant: `SELECT ${TENANT_COLUMNS} FROM tenants WHERE id = ?`,
  insertTenant: `INSERT INTO tenants (${TENANT_COLUMNS}) VALUES (${marks(TENANT_COLUMNS)})`,
  countTenants: 'SELECT COUNT(*) AS tenants FROM tenants',
  selectPrincipal: `SELECT ${PRINCIPAL_COLUMNS} FROM principals WHERE id = ?`,
  insertPrincipal: `INSERT INTO principals (${PRINCIPAL_COLUMNS}) VALUES (${marks(PRINCIPAL_COLUMNS)})`,
  selectAccessKey: `SELECT ${ACCESS_KEY_COLUMNS} FROM access_keys WHERE access_key_id = ?`,
  insertAccessKey: `INSERT INTO access_keys (${ACCESS_KEY_COLUMNS}) VALUES (${marks(ACCESS_KEY_COLUMNS)})`,

  selectMigrations: 'SELECT version FROM schema_migrations ORDER BY version',
  insertMigration: 'INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?, ?)',
} as const;

export type Statements = { readonly [Name in keyof typeof STATEMENTS]: string };

/** The statement set in one dialect's placeholder style; rendered once per store. */
export function renderStatements(style: PlaceholderStyle): Statements {
  const rendered: Record<string, string> = {};
  for (const [name, sql] of Object.entries(STATEMENTS)) rendered[name] = renderPlaceholders(sql, style);
  return rendered as Statements;
}

/** One `?` per column of a column list. */
function marks(columns: string): string {
  return columns
    .split(',')
    .map(() => '?')
    .join(', ');
}

/** A multi-row VALUES list of `rows` rows of `columns` placeholders each (bulk inserts). */
export function valuesList(columns: string, rows: number): string {
  const row = `(${marks(columns)})`;
  return Array.from({ length: rows }, () => row).join(', ');
}
