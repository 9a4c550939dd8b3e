import type { AuditRecord } from '../audit/records.ts';
import type { NewOutboxEvent } from '../storage/ports.ts';
import type { AccessRequest, AccessRequestStatus, AccessReviewState } from './access-request.ts';
import type { NewAttestationRevocation, StoredAttestationRevocation } from './attestation-revocations.ts';
import type { SecurityNotificationSetting } from './security-notifications.ts';

/**
 * Where access requests and the tenants' security notification settings are kept
 * (adapters/sql/access-approval-store.ts, SQLite and PostgreSQL). A step that tells the tenant
 * passes its `notice`, an event notification outbox row (table event_outbox) that the store
 * writes in the same transaction as the step: it exists if and only if the step committed.
 */
export interface AccessApprovalStore {
  /** Stores a new request (its id is fresh), with the tenant's notice of it if any. */
  insert(request: AccessRequest, notice?: NewOutboxEvent | null): Promise<void>;
  get(id: string): Promise<AccessRequest | null>;
  /**
   * Writes the changing fields of `next` (status, decision, activation, revocation, review,
   * updatedAtMs) if the stored request still has `expected` status and review state: a
   * compare-and-set, so two concurrent decisions cannot both win. False when another writer
   * changed it first; then `notice` is not written either.
   */
  update(
    next: AccessRequest,
    expected: { status: AccessRequestStatus; review: AccessReviewState },
    notice?: NewOutboxEvent | null,
  ): Promise<boolean>;
  /**
   * Marks the request expired if it is still open and its time has passed at `nowMs` (pending or
   * awaiting confirmation past its decision deadline, active past its end): one conditional
   * UPDATE, so of several gateways expiring it at once exactly one gets true. The review state
   * is kept: an expired break-glass access still awaits the tenant's acknowledgement.
   */
  expire(id: string, nowMs: number): Promise<boolean>;
  /**
   * Requests whose stored status is still open although their time has passed at `nowMs`, oldest
   * deadline first, at most `limit` of each kind (undecided, active).
   */
  listDue(nowMs: number, limit: number): Promise<AccessRequest[]>;
  /** Requests newest first (filing time, then id), optionally of one tenant, after a listed id. */
  list(filter: AccessRequestListFilter): Promise<AccessRequest[]>;

  getNotificationSetting(tenantId: string): Promise<SecurityNotificationSetting | null>;
  /** Creates or replaces the tenant's setting. */
  putNotificationSetting(setting: SecurityNotificationSetting): Promise<void>;
  /** Removes the tenant's setting; false when it had none. */
  deleteNotificationSetting(tenantId: string): Promise<boolean>;
}

export interface AccessRequestListFilter {
  tenantId: string | null;
  /** Continue after this request (the last of the previous page); null for the first page. */
  afterId: string | null;
  limit: number;
}

/**
 * Where the security offices' attestation revocations are kept (adapters/sql/
 * attestation-revocation-store.ts, SQLite and PostgreSQL): append-only, so every gateway reads
 * the same growing list.
 */
export interface AttestationRevocationStore {
  /**
   * Appends a revocation unless one with its id is stored, and then returns that one with created
   * false. Appends are serialized across gateways, so seq order is commit order: a reader that
   * sees seq n has every revocation before it.
   */
  appendRevocation(
    revocation: NewAttestationRevocation,
  ): Promise<{ revocation: StoredAttestationRevocation; created: boolean }>;
  /** Revocations with seq greater than `afterSeq`, in seq order, at most `limit`. */
  listRevocations(afterSeq: number, limit: number): Promise<StoredAttestationRevocation[]>;
}

/** The audit log's append side (domain/audit/audit-log.ts): resolves once the record is durable. */
export interface AuditSink {
  record(record: AuditRecord): Promise<void>;
}

/** Tenants, to refuse requests for one that does not exist. */
export interface TenantDirectory {
  getTenant(id: string): Promise<{ id: string } | null>;
}
