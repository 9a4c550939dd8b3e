import type { AuditRecord } from '../audit/records.ts';
import type { AccessRequest, AccessRequestStatus, AccessReviewState } from './access-request.ts';

/** Where access requests are kept (adapters/sql/access-approval-store.ts, SQLite and PostgreSQL). */
export interface AccessApprovalStore {
  /** Stores a new request (its id is fresh). */
  insert(request: AccessRequest): Promise<void>;
  get(id: string): Promise<AccessRequest | null>;
  /**
   * Writes the changing fields of `next` (status, decision, activation, revocation, review,
   * updatedAtMs) if the stored request still has `expected` status and review state: a
   * compare-and-set, so two concurrent decisions cannot both win. False when another writer
   * changed it first.
   */
  update(
    next: AccessRequest,
    expected: { status: AccessRequestStatus; review: AccessReviewState },
  ): Promise<boolean>;
  /** Requests newest first (filing time, then id), optionally of one tenant, after a listed id. */
  list(filter: AccessRequestListFilter): Promise<AccessRequest[]>;
}

export interface AccessRequestListFilter {
  tenantId: string | null;
  /** Continue after this request (the last of the previous page); null for the first page. */
  afterId: string | null;
  limit: number;
}

/** The audit log's append side (domain/audit/audit-log.ts): resolves once the record is durable. */
export interface AuditSink {
  record(record: AuditRecord): Promise<void>;
}

/** Tenants, to refuse requests for one that does not exist. */
export interface TenantDirectory {
  getTenant(id: string): Promise<{ id: string } | null>;
}
