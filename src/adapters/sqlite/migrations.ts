import type { Migration } from '../sql/migrations.ts';

/**
 * SQLite schema history. STRICT tables make SQLite refuse a value of the wrong type instead of
 * storing it (https://sqlite.org/stricttables.html). Times are epoch milliseconds, booleans 0/1,
 * object keys BLOBs of UTF-8 (compared with memcmp, i.e. S3's order). Keep this in step with
 * postgres/migrations.ts: same tables, columns, constraints and indexes.
 */

export const SQLITE_BOOTSTRAP = `
CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  applied_at_ms INTEGER NOT NULL
) STRICT;
`;

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description:
      'tenants, principals, access keys, buckets, object versions, multipart uploads, blob garbage',
    script: `
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE principals (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  kind TEXT NOT NULL CHECK (kind IN ('user', 'service', 'role')),
  name TEXT NOT NULL,
  is_tenant_admin INTEGER NOT NULL CHECK (is_tenant_admin IN (0, 1)),
  created_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX principals_by_tenant ON principals (tenant_id);

CREATE TABLE access_keys (
  access_key_id TEXT PRIMARY KEY,
  principal_id TEXT NOT NULL REFERENCES principals (id),
  tenant_id TEXT NOT NULL,
  sealed_secret BLOB NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('Active', 'Inactive')),
  created_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER
) STRICT;
CREATE INDEX access_keys_by_principal ON access_keys (principal_id);

CREATE TABLE buckets (
  name TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  region TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  versioning TEXT NOT NULL CHECK (versioning IN ('Unversioned', 'Enabled', 'Suspended')),
  object_lock_enabled INTEGER NOT NULL CHECK (object_lock_enabled IN (0, 1)),
  classification TEXT,
  jurisdiction TEXT,
  tier TEXT
) STRICT;
CREATE INDEX buckets_by_tenant ON buckets (tenant_id, name);

CREATE TABLE bucket_configs (
  bucket TEXT NOT NULL REFERENCES buckets (name) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  document TEXT NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (bucket, kind)
) STRICT;

CREATE TABLE object_versions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  bucket TEXT NOT NULL REFERENCES buckets (name),
  object_key BLOB NOT NULL,
  version_id TEXT NOT NULL,
  version_uid TEXT NOT NULL,
  is_latest INTEGER NOT NULL CHECK (is_latest IN (0, 1)),
  is_delete_marker INTEGER NOT NULL CHECK (is_delete_marker IN (0, 1)),
  size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
  etag TEXT NOT NULL,
  last_modified_ms INTEGER NOT NULL,
  system_meta TEXT NOT NULL,
  user_meta TEXT NOT NULL,
  checksum TEXT,
  layout TEXT NOT NULL,
  inline_data BLOB,
  encryption TEXT,
  tags TEXT NOT NULL,
  owner_tenant_id TEXT NOT NULL,
  format INTEGER NOT NULL,
  retention_mode TEXT,
  retain_until_ms INTEGER,
  legal_hold INTEGER CHECK (legal_hold IN (0, 1)),
  classification TEXT,
  UNIQUE (bucket, object_key, version_id)
) STRICT;
CREATE INDEX object_versions_by_key ON object_versions (bucket, object_key, seq DESC);
CREATE INDEX object_versions_listing ON object_versions (bucket, object_key)
  WHERE is_latest = 1 AND is_delete_marker = 0;
-- One latest version per key, as a database invariant. Key first, so that range scans over a
-- bucket's keys prefer object_versions_listing, which leaves delete markers out.
CREATE UNIQUE INDEX object_versions_one_latest ON object_versions (object_key, bucket) WHERE is_latest = 1;

CREATE TABLE version_blobs (
  blob_id TEXT NOT NULL,
  seq INTEGER NOT NULL REFERENCES object_versions (seq) ON DELETE CASCADE,
  PRIMARY KEY (blob_id, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX version_blobs_by_seq ON version_blobs (seq);

CREATE TABLE multipart_uploads (
  upload_id TEXT PRIMARY KEY,
  bucket TEXT NOT NULL REFERENCES buckets (name),
  object_key BLOB NOT NULL,
  version_uid TEXT NOT NULL,
  initiated_at_ms INTEGER NOT NULL,
  system_meta TEXT NOT NULL,
  user_meta TEXT NOT NULL,
  checksum_algorithm TEXT,
  checksum_type TEXT,
  encryption TEXT,
  tags TEXT NOT NULL,
  owner_tenant_id TEXT NOT NULL,
  initiator_principal_id TEXT NOT NULL,
  format INTEGER NOT NULL
) STRICT;
CREATE INDEX multipart_uploads_by_key ON multipart_uploads (bucket, object_key, initiated_at_ms, upload_id);

CREATE TABLE multipart_parts (
  upload_id TEXT NOT NULL REFERENCES multipart_uploads (upload_id) ON DELETE CASCADE,
  part_number INTEGER NOT NULL,
  blob_id TEXT NOT NULL,
  size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
  etag TEXT NOT NULL,
  checksum TEXT,
  last_modified_ms INTEGER NOT NULL,
  PRIMARY KEY (upload_id, part_number)
) STRICT;
CREATE INDEX multipart_parts_by_blob ON multipart_parts (blob_id);

CREATE TABLE blob_garbage (
  blob_id TEXT PRIMARY KEY,
  enqueued_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX blob_garbage_by_age ON blob_garbage (enqueued_at_ms, blob_id);
`,
  },
  {
    version: 2,
    description:
      'Object Lock: lock settings requested by multipart uploads; triggers guarding locked versions',
    script: `
ALTER TABLE multipart_uploads ADD COLUMN retention_mode TEXT;
ALTER TABLE multipart_uploads ADD COLUMN retain_until_ms INTEGER;
ALTER TABLE multipart_uploads ADD COLUMN legal_hold INTEGER CHECK (legal_hold IN (0, 1));

-- Defence in depth below the domain, for whoever edits the database directly: a version under
-- legal hold cannot be deleted, and a COMPLIANCE retention can be neither removed, nor shortened,
-- nor switched to GOVERNANCE. Both rules hold whatever the time, so they need no clock; that a
-- retention has not yet expired is checked by the domain, whose clock tests can move.
CREATE TRIGGER object_versions_keep_legal_hold
BEFORE DELETE ON object_versions
FOR EACH ROW WHEN OLD.legal_hold = 1
BEGIN
  SELECT RAISE(ABORT, 'Object Lock: a version under legal hold cannot be deleted');
END;

CREATE TRIGGER object_versions_keep_compliance
BEFORE UPDATE OF retention_mode, retain_until_ms ON object_versions
FOR EACH ROW WHEN OLD.retention_mode = 'COMPLIANCE' AND (
  NEW.retention_mode IS NOT 'COMPLIANCE'
  OR NEW.retain_until_ms IS NULL
  OR NEW.retain_until_ms < OLD.retain_until_ms
)
BEGIN
  SELECT RAISE(ABORT, 'Object Lock: a COMPLIANCE retention can only be extended');
END;
`,
  },
  {
    version: 3,
    description: 'event notifications: the transactional outbox',
    script: `
-- One row per event and destination, written in the transaction of the change that caused it and
-- deleted once the destination acknowledged it. No foreign key to buckets: events outlive them.
CREATE TABLE event_outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  destination_id TEXT NOT NULL,
  bucket TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  format INTEGER NOT NULL,
  payload TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL CHECK (attempts >= 0),
  next_attempt_at_ms INTEGER NOT NULL
) STRICT;
-- Each destination's queue in order: the dispatcher reads its head and claims from there.
CREATE INDEX event_outbox_by_destination ON event_outbox (destination_id, seq);
`,
  },
  {
    version: 4,
    description: 'lifecycle_actions: the durable record of what lifecycle rules deleted',
    script: `
-- One row per lifecycle action, written in the transaction that makes the change, so a row exists
-- if and only if the change committed. No foreign key to buckets: the record outlives the bucket.
CREATE TABLE lifecycle_actions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  occurred_at_ms INTEGER NOT NULL,
  bucket TEXT NOT NULL,
  object_key BLOB NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('DeleteCurrentVersion', 'AddDeleteMarker',
    'DeleteNoncurrentVersion', 'DeleteExpiredDeleteMarker', 'AbortMultipartUpload')),
  rule_id TEXT NOT NULL,
  version_id TEXT,
  upload_id TEXT,
  size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0)
) STRICT;
CREATE INDEX lifecycle_actions_by_bucket ON lifecycle_actions (bucket, seq);
`,
  },
  {
    version: 5,
    description: 'KMS: keys, key versions (material wrapped by the root of trust), aliases',
    script: `
-- One row per KMS key. tags is a JSON array of {key, value}; format versions it.
CREATE TABLE kms_keys (
  key_id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  format INTEGER NOT NULL,
  key_spec TEXT NOT NULL CHECK (key_spec IN ('SYMMETRIC_DEFAULT', 'ECC_NIST_P256', 'ML_DSA_65')),
  key_usage TEXT NOT NULL CHECK (key_usage IN ('ENCRYPT_DECRYPT', 'SIGN_VERIFY')),
  key_state TEXT NOT NULL CHECK (key_state IN ('Enabled', 'Disabled', 'PendingDeletion')),
  description TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  deletion_date_ms INTEGER,
  pending_window_days INTEGER,
  rotation_enabled INTEGER NOT NULL CHECK (rotation_enabled IN (0, 1)),
  rotation_period_days INTEGER,
  next_rotation_ms INTEGER,
  current_version INTEGER NOT NULL CHECK (current_version >= 1),
  on_demand_rotations INTEGER NOT NULL CHECK (on_demand_rotations >= 0),
  policy TEXT NOT NULL,
  tags TEXT NOT NULL
) STRICT;
CREATE INDEX kms_keys_by_tenant ON kms_keys (tenant_id, key_id);
CREATE INDEX kms_keys_due_deletion ON kms_keys (deletion_date_ms, key_id) WHERE key_state = 'PendingDeletion';
CREATE INDEX kms_keys_due_rotation ON kms_keys (next_rotation_ms, key_id)
  WHERE key_state = 'Enabled' AND rotation_enabled = 1;

-- Each version's key material, only ever wrapped by the root of trust (AAD: tenant, key,
-- version). Deleting a key's rows is its crypto-shredding.
CREATE TABLE kms_key_versions (
  key_id TEXT NOT NULL REFERENCES kms_keys (key_id),
  version INTEGER NOT NULL CHECK (version >= 1),
  wrapped_material BLOB NOT NULL,
  public_key BLOB,
  created_at_ms INTEGER NOT NULL,
  rotation_type TEXT CHECK (rotation_type IN ('AUTOMATIC', 'ON_DEMAND')),
  PRIMARY KEY (key_id, version)
) STRICT;

CREATE TABLE kms_aliases (
  tenant_id TEXT NOT NULL,
  alias_name TEXT NOT NULL,
  key_id TEXT NOT NULL REFERENCES kms_keys (key_id),
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, alias_name)
) STRICT;
CREATE INDEX kms_aliases_by_key ON kms_aliases (key_id);
`,
  },
  {
    version: 6,
    description: 'key_use_decisions: the append-only record of every key-use decision',
    script: `
-- One row per key use, granted or denied, with the requester's justification. Append-only: the
-- triggers refuse UPDATE and DELETE, and nothing in Sovra issues them.
CREATE TABLE key_use_decisions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  decided_at_ms INTEGER NOT NULL,
  tenant_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  key_version INTEGER NOT NULL CHECK (key_version >= 1),
  operation TEXT NOT NULL,
  decision TEXT NOT NULL CHECK (decision IN ('granted', 'denied')),
  denial_reason TEXT,
  principal_id TEXT NOT NULL,
  service TEXT NOT NULL,
  justification_reason TEXT NOT NULL,
  approval_reference TEXT,
  source_ip TEXT NOT NULL,
  jurisdiction TEXT NOT NULL,
  request_id TEXT NOT NULL
) STRICT;
CREATE INDEX key_use_decisions_by_tenant ON key_use_decisions (tenant_id, decided_at_ms, seq);
CREATE TRIGGER key_use_decisions_no_update BEFORE UPDATE ON key_use_decisions
BEGIN SELECT RAISE(ABORT, 'key_use_decisions is append-only'); END;
CREATE TRIGGER key_use_decisions_no_delete BEFORE DELETE ON key_use_decisions
BEGIN SELECT RAISE(ABORT, 'key_use_decisions is append-only'); END;
`,
  },
  {
    version: 7,
    description: 'audit log: records, leaves, hash tiles, checkpoints, log keys',
    script: `
-- The head of the one audit log: its size and RFC 9162 root. Appending updates it in the same
-- transaction, which serializes appenders across gateways (BEGIN IMMEDIATE here).
CREATE TABLE audit_log_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  tree_size INTEGER NOT NULL CHECK (tree_size >= 0),
  root_hash BLOB NOT NULL CHECK (length(root_hash) = 32)
) STRICT;
INSERT INTO audit_log_head VALUES (1, 0, x'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
-- One row per leaf. leaf (0x01 ‖ SHA-256(salt ‖ record)) is permanent; record and salt may be
-- archived (set to NULL) once retain_until_ms has passed, never before and never otherwise.
CREATE TABLE audit_records (
  leaf_index INTEGER PRIMARY KEY CHECK (leaf_index >= 0),
  recorded_at_ms INTEGER NOT NULL,
  kind TEXT NOT NULL,
  tenant_id TEXT,
  principal_id TEXT,
  action TEXT NOT NULL,
  resource TEXT,
  result TEXT NOT NULL,
  leaf BLOB NOT NULL CHECK (length(leaf) = 33),
  record BLOB,
  salt BLOB,
  retain_until_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX audit_records_by_tenant ON audit_records (tenant_id, recorded_at_ms, leaf_index);
CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records
BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END;
CREATE TRIGGER audit_records_archive_only BEFORE UPDATE ON audit_records
WHEN NOT (NEW.record IS NULL AND NEW.salt IS NULL AND OLD.retain_until_ms <= CAST(unixepoch('subsec') * 1000 AS INTEGER)
  AND NEW.leaf_index = OLD.leaf_index AND NEW.leaf = OLD.leaf AND NEW.recorded_at_ms = OLD.recorded_at_ms
  AND NEW.retain_until_ms = OLD.retain_until_ms)
BEGIN SELECT RAISE(ABORT, 'audit records can only be archived, and only after their retention'); END;
-- C2SP tlog-tiles hash tiles (height 8): a tile only ever grows; its existing hashes never change.
CREATE TABLE audit_tiles (
  level INTEGER NOT NULL CHECK (level >= 0),
  tile_index INTEGER NOT NULL CHECK (tile_index >= 0),
  hashes BLOB NOT NULL,
  PRIMARY KEY (level, tile_index)
) STRICT;
CREATE TRIGGER audit_tiles_no_delete BEFORE DELETE ON audit_tiles
BEGIN SELECT RAISE(ABORT, 'audit_tiles is append-only'); END;
CREATE TRIGGER audit_tiles_grow_only BEFORE UPDATE ON audit_tiles
WHEN NOT (length(NEW.hashes) >= length(OLD.hashes) AND substr(NEW.hashes, 1, length(OLD.hashes)) = OLD.hashes
  AND NEW.level = OLD.level AND NEW.tile_index = OLD.tile_index)
BEGIN SELECT RAISE(ABORT, 'audit tiles only grow'); END;
CREATE TABLE audit_checkpoints (
  tree_size INTEGER PRIMARY KEY CHECK (tree_size >= 0),
  root_hash BLOB NOT NULL,
  note TEXT NOT NULL,
  signed_at_ms INTEGER NOT NULL
) STRICT;
CREATE TRIGGER audit_checkpoints_no_change BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
-- Witness cosignatures (c2sp.org/tlog-cosignature) of a checkpoint, one per witness key;
-- served appended to the checkpoint note.
CREATE TABLE audit_cosignatures (
  tree_size INTEGER NOT NULL,
  key_name TEXT NOT NULL,
  signature_line TEXT NOT NULL,
  received_at_ms INTEGER NOT NULL,
  PRIMARY KEY (tree_size, key_name)
) STRICT;
-- Where each SIEM export sink has got to: records after this leaf index are still to send.
CREATE TABLE audit_export_cursors (
  sink TEXT PRIMARY KEY,
  after_index INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
) STRICT;
-- The log's signing keys; private halves only wrapped by the root of trust.
CREATE TABLE audit_log_keys (
  name TEXT PRIMARY KEY,
  algorithm TEXT NOT NULL CHECK (algorithm IN ('ed25519', 'ml-dsa-65')),
  public_key BLOB NOT NULL,
  wrapped_private_key BLOB NOT NULL,
  created_at_ms INTEGER NOT NULL
) STRICT;
`,
  },
  {
    version: 8,
    description: 'identity administration: principal attributes, groups, managed policies, attachments',
    script: `
-- What the admin API keeps about a principal beyond its identity: tags and description, the
-- clearance (a classification level id) and compartments (a JSON array of ids), and a role's
-- trust policy (JSON text, roles only). Defaults keep rows written before this migration valid.
ALTER TABLE principals ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE principals ADD COLUMN tags TEXT NOT NULL DEFAULT '{}';
ALTER TABLE principals ADD COLUMN clearance TEXT;
ALTER TABLE principals ADD COLUMN compartments TEXT NOT NULL DEFAULT '[]';
ALTER TABLE principals ADD COLUMN trust_policy TEXT;
-- As in AWS IAM, users and service accounts share one name space per tenant and roles have their
-- own. Name first, so the index also serves listings in name order.
CREATE UNIQUE INDEX principals_unique_name ON principals (tenant_id, name, kind = 'role');

CREATE TABLE iam_groups (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  name TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  UNIQUE (tenant_id, name)
) STRICT;

CREATE TABLE iam_group_members (
  group_id TEXT NOT NULL REFERENCES iam_groups (id),
  principal_id TEXT NOT NULL REFERENCES principals (id),
  PRIMARY KEY (group_id, principal_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX iam_group_members_by_principal ON iam_group_members (principal_id);

-- Customer managed policies: identity policy documents (AWS IAM JSON, validated when written).
CREATE TABLE iam_policies (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  document TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  UNIQUE (tenant_id, name)
) STRICT;

-- Which policy is attached to which principal (user, service account, role) or group.
CREATE TABLE iam_policy_attachments (
  policy_id TEXT NOT NULL REFERENCES iam_policies (id),
  target_kind TEXT NOT NULL CHECK (target_kind IN ('principal', 'group')),
  target_id TEXT NOT NULL,
  attached_at_ms INTEGER NOT NULL,
  PRIMARY KEY (policy_id, target_kind, target_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX iam_policy_attachments_by_target ON iam_policy_attachments (target_kind, target_id);
`,
  },
  {
    version: 9,
    description: 'operator access approval (lockbox): access requests, their decisions and reviews',
    script: `
-- One row per operator access request (domain/lockbox/access-request.ts, format 1). Scope,
-- justification, ticket and the requester's attested claims never change; status, decision,
-- activation, revocation and review change by compare-and-set on (status, review_state).
CREATE TABLE access_requests (
  id TEXT PRIMARY KEY,
  format INTEGER NOT NULL,
  tenant_id TEXT NOT NULL,
  requester_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('standard', 'break-glass')),
  bucket TEXT NOT NULL,
  key_prefix BLOB,
  kms_key_id TEXT,
  actions TEXT NOT NULL,
  duration_seconds INTEGER NOT NULL,
  justification TEXT NOT NULL,
  ticket TEXT NOT NULL,
  requester_claims TEXT NOT NULL,
  source_ip TEXT,
  source_jurisdiction TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'awaiting-confirmation', 'active', 'denied', 'revoked', 'expired')),
  filed_at_ms INTEGER NOT NULL,
  decision_deadline_ms INTEGER NOT NULL,
  decided_by TEXT,
  decided_at_ms INTEGER,
  decision_comment TEXT,
  activated_at_ms INTEGER,
  expires_at_ms INTEGER,
  revoked_by TEXT,
  revoked_at_ms INTEGER,
  revoke_reason TEXT,
  review_state TEXT NOT NULL CHECK (review_state IN ('none', 'pending', 'acknowledged')),
  reviewed_by TEXT,
  reviewed_at_ms INTEGER,
  review_comment TEXT,
  updated_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX access_requests_by_tenant ON access_requests (tenant_id, filed_at_ms, id);
CREATE INDEX access_requests_by_time ON access_requests (filed_at_ms, id);
-- A request is evidence of what operators asked for and were granted: it is never deleted.
CREATE TRIGGER access_requests_no_delete BEFORE DELETE ON access_requests
BEGIN SELECT RAISE(ABORT, 'access_requests are kept: a request is never deleted'); END;
`,
  },
  {
    version: 10,
    description: 'federation: OpenID Connect identity providers and STS role sessions',
    script: `
-- Per-tenant OpenID Connect providers (domain/iam/federation.ts): the issuer as tokens carry it,
-- its client ids and the claim mapping (JSON documents, format 1).
CREATE TABLE iam_identity_providers (
  id TEXT PRIMARY KEY,
  format INTEGER NOT NULL,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  issuer TEXT NOT NULL,
  audiences TEXT NOT NULL,
  mapping TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX iam_identity_providers_by_issuer ON iam_identity_providers (tenant_id, issuer);
-- Role sessions (temporary credentials, domain/iam/sts-sessions.ts, format 1): the secret sealed,
-- the session token only as its SHA-256. Rows outlive their role so that audit records resolve.
CREATE TABLE sts_sessions (
  access_key_id TEXT PRIMARY KEY,
  format INTEGER NOT NULL,
  principal_id TEXT NOT NULL UNIQUE,
  tenant_id TEXT NOT NULL,
  role_id TEXT NOT NULL,
  role_name TEXT NOT NULL,
  session_name TEXT NOT NULL,
  sealed_secret BLOB NOT NULL,
  token_sha256 BLOB NOT NULL,
  issued_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER NOT NULL,
  revoked_at_ms INTEGER,
  source_identity TEXT NOT NULL,
  provider TEXT,
  audience TEXT,
  clearance TEXT,
  compartments TEXT NOT NULL
) STRICT;
CREATE INDEX sts_sessions_by_role ON sts_sessions (role_id, issued_at_ms);
CREATE INDEX sts_sessions_by_expiry ON sts_sessions (expires_at_ms);
`,
  },
  {
    version: 11,
    description: 'platform guardrails replaced through the admin API',
    script: `
-- Guardrail sets written through the admin API (domain/guardrails/guardrail-administration.ts):
-- Cedar text (format 1), one row per replacement; the highest version is the platform's set,
-- read by every gateway. Rows are the history of what bound the tenants: never changed or deleted.
CREATE TABLE guardrail_sets (
  version INTEGER PRIMARY KEY CHECK (version > 0),
  format INTEGER NOT NULL,
  policies TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  replaced_at_ms INTEGER NOT NULL,
  replaced_by_principal TEXT NOT NULL,
  replaced_by_tenant TEXT NOT NULL
) STRICT;
CREATE TRIGGER guardrail_sets_no_update BEFORE UPDATE ON guardrail_sets
BEGIN SELECT RAISE(ABORT, 'guardrail_sets are kept: a stored set is never changed'); END;
CREATE TRIGGER guardrail_sets_no_delete BEFORE DELETE ON guardrail_sets
BEGIN SELECT RAISE(ABORT, 'guardrail_sets are kept: a stored set is never deleted'); END;
`,
  },
  {
    version: 12,
    description: 'object labels: the label a multipart upload gives its object',
    script: `
-- object_versions.classification (migration 1) holds a version's own security label in the
-- compact form (SECRET//CRYPTO), NULL when the version carries its bucket's label; an upload
-- keeps the label CreateMultipartUpload asked for until CompleteMultipartUpload writes the
-- version. NULL: the object will carry its bucket's label (docs/reference/classification.md).
ALTER TABLE multipart_uploads ADD COLUMN classification TEXT;
`,
  },
  {
    version: 13,
    description: 'operator access approval: the expiry pass and security notification settings',
    script: `
-- The expiry pass (AccessApprovals.expireDue) looks for open requests whose time has passed:
-- these partial indexes hold only open rows, so each pass reads what is due and nothing else.
CREATE INDEX access_requests_undecided_by_deadline ON access_requests (decision_deadline_ms)
  WHERE status IN ('pending', 'awaiting-confirmation');
CREATE INDEX access_requests_active_by_expiry ON access_requests (expires_at_ms) WHERE status = 'active';
-- Where a tenant's security notifications go (domain/lockbox/security-notifications.ts, format 1):
-- the ARN of one operator-registered notification target, set by the tenant's administrators.
CREATE TABLE security_notification_settings (
  tenant_id TEXT PRIMARY KEY REFERENCES tenants (id),
  format INTEGER NOT NULL,
  destination_arn TEXT NOT NULL,
  updated_by TEXT NOT NULL,
  updated_at_ms INTEGER NOT NULL
) STRICT;
`,
  },
  {
    version: 14,
    description: 'audit log: the intake journals whose segments are in the log',
    script: `
-- Each gateway journals audit records on its own disk before they reach this log
-- (adapters/audit-journal, format 1). The append that stores a journal segment's records sets
-- that journal's applied segment in the same transaction, so a restart appends exactly the
-- segments that are not in the log yet: none twice, none lost.
CREATE TABLE audit_journal_marks (
  journal_id TEXT PRIMARY KEY,
  applied_segment INTEGER NOT NULL CHECK (applied_segment >= 0),
  updated_at_ms INTEGER NOT NULL
) STRICT;
`,
  },
  {
    version: 15,
    description: "operator access approval: the security offices' attestation revocations",
    script: `
-- Revocations of operator attestations by their security offices
-- (domain/lockbox/attestation-revocations.ts, format 1), in acceptance order: seq is given under
-- the appenders' lock, so seq order is commit order and each gateway reads on from the last seq
-- it has. id is the hex SHA-256 of the revocation's note text; note the signed note as
-- submitted. Exactly one of attestation_sha256 (one attestation) and issued_before_ms (all of
-- the subject's issued before) is set. Rows are the offices' decisions: never changed or deleted.
CREATE TABLE attestation_revocations (
  seq INTEGER PRIMARY KEY CHECK (seq > 0),
  id TEXT NOT NULL UNIQUE,
  format INTEGER NOT NULL,
  subject TEXT NOT NULL,
  attestation_sha256 TEXT,
  issued_before_ms INTEGER,
  reason TEXT NOT NULL,
  revoked_at_ms INTEGER NOT NULL,
  issuer TEXT NOT NULL,
  note TEXT NOT NULL,
  submitted_by TEXT NOT NULL,
  accepted_at_ms INTEGER NOT NULL,
  CHECK ((attestation_sha256 IS NULL) <> (issued_before_ms IS NULL))
) STRICT;
CREATE TRIGGER attestation_revocations_no_update BEFORE UPDATE ON attestation_revocations
BEGIN SELECT RAISE(ABORT, 'attestation_revocations are kept: a revocation is never changed'); END;
CREATE TRIGGER attestation_revocations_no_delete BEFORE DELETE ON attestation_revocations
BEGIN SELECT RAISE(ABORT, 'attestation_revocations are kept: a revocation is never deleted'); END;
`,
  },
  {
    version: 16,
    description: 'credential secrets: the credential-sealing key, wrapped by the root of trust',
    script: `
-- The credential-sealing key K (docs/decisions/0005), stored only as the root of trust's wrapping
-- (adapters/secrets/credential-key.ts; format 1: the wrapping under the AAD
-- sovra-credential-sealing-key/v1). One row for the whole installation, so that every gateway
-- sharing this database unwraps the same K: the first gateway inserts it (ON CONFLICT DO
-- NOTHING), and a gateway that lost the race unwraps the winner's. Every stored secret is sealed
-- under it: never changed or deleted.
CREATE TABLE credential_keys (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  format INTEGER NOT NULL,
  wrapped BLOB NOT NULL,
  created_at_ms INTEGER NOT NULL
) STRICT;
CREATE TRIGGER credential_keys_no_update BEFORE UPDATE ON credential_keys
BEGIN SELECT RAISE(ABORT, 'credential_keys are kept: the credential-sealing key is never changed'); END;
CREATE TRIGGER credential_keys_no_delete BEFORE DELETE ON credential_keys
BEGIN SELECT RAISE(ABORT, 'credential_keys are kept: the credential-sealing key is never deleted'); END;
`,
  },
];
