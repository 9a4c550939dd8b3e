import {
  ACCESS_REQUEST_FORMAT,
  ACCESS_REQUEST_STATUSES,
  type AccessRequest,
  type AccessRequestKind,
  type AccessRequestStatus,
  type AccessReviewState,
  type AttestedClaims,
} from '../../domain/lockbox/access-request.ts';
import type { AccessApprovalStore, AccessRequestListFilter } from '../../domain/lockbox/ports.ts';
import {
  SECURITY_NOTIFICATION_SETTING_FORMAT,
  type SecurityNotificationSetting,
} from '../../domain/lockbox/security-notifications.ts';
import type { NewOutboxEvent } from '../../domain/storage/ports.ts';
import { SqlAttestationRevocationStore } from './attestation-revocation-store.ts';
import { renderPlaceholders, type SqlDatabase, type SqlRow, type SqlValue } from './driver.ts';
import { insertOutboxEvents } from './outbox.ts';
import { integer, nullableBytes, nullableText, text } from './rows.ts';

const COLUMNS = [
  'id',
  'format',
  'tenant_id',
  'requester_id',
  'kind',
  'bucket',
  'key_prefix',
  'kms_key_id',
  'actions',
  'duration_seconds',
  'justification',
  'ticket',
  'requester_claims',
  'source_ip',
  'source_jurisdiction',
  'status',
  'filed_at_ms',
  'decision_deadline_ms',
  'decided_by',
  'decided_at_ms',
  'decision_comment',
  'activated_at_ms',
  'expires_at_ms',
  'revoked_by',
  'revoked_at_ms',
  'revoke_reason',
  'review_state',
  'reviewed_by',
  'reviewed_at_ms',
  'review_comment',
  'updated_at_ms',
] as const;

type Column = (typeof COLUMNS)[number];

/** The columns a step may change; everything else is fixed at filing. */
const CHANGING_COLUMNS: readonly Column[] = [
  'status',
  'decided_by',
  'decided_at_ms',
  'decision_comment',
  'activated_at_ms',
  'expires_at_ms',
  'revoked_by',
  'revoked_at_ms',
  'revoke_reason',
  'review_state',
  'reviewed_by',
  'reviewed_at_ms',
  'review_comment',
  'updated_at_ms',
];

const SELECT = `SELECT ${COLUMNS.join(', ')} FROM access_requests`;

/** Undecided requests past their deadline; migration 13's partial index serves it. */
const OPEN_PAST_DEADLINE = "status IN ('pending', 'awaiting-confirmation') AND decision_deadline_ms <= ?";
/** Active requests past their end; migration 13's partial index serves it. */
const ACTIVE_PAST_END = "status = 'active' AND expires_at_ms <= ?";

const SETTING_COLUMNS = 'tenant_id, format, destination_arn, updated_by, updated_at_ms';

/**
 * Access requests on the metadata database (migration 9), for SQLite and PostgreSQL with the same
 * statements. Steps are compare-and-set updates on (status, review_state), so two concurrent
 * decisions (approve and revoke, two confirmations) cannot both win, on one gateway or several;
 * expiry is a conditional UPDATE on the request's time, so one gateway records each. A step's
 * notice goes into the event outbox (migration 3) in the step's transaction. The tenants'
 * security notification settings are in security_notification_settings (migration 13).
 */
export class SqlAccessApprovalStore implements AccessApprovalStore {
  readonly #db: SqlDatabase;
  readonly #sql: (statement: string) => string;

  constructor(db: SqlDatabase) {
    this.#db = db;
    const cache = new Map<string, string>();
    this.#sql = (statement) => {
      let rendered = cache.get(statement);
      if (rendered === undefined) {
        rendered = renderPlaceholders(statement, db.placeholderStyle);
        cache.set(statement, rendered);
      }
      return rendered;
    };
  }

  /** The security offices' attestation revocations, on the same database (migration 15). */
  attestationRevocations(): SqlAttestationRevocationStore {
    return new SqlAttestationRevocationStore(this.#db);
  }

  async insert(request: AccessRequest, notice: NewOutboxEvent | null = null): Promise<void> {
    const values = columnValues(request);
    await this.#db.transaction(async (session) => {
      await session.execute(
        this.#sql(
          `INSERT INTO access_requests (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`,
        ),
        COLUMNS.map((column) => values[column]),
      );
      if (notice !== null) await insertOutboxEvents(session, this.#db.placeholderStyle, [notice]);
    });
  }

  async get(id: string): Promise<AccessRequest | null> {
    const rows = await this.#db.query(this.#sql(`${SELECT} WHERE id = ?`), [id]);
    return rows.length === 0 ? null : decodeRequest(rows[0]!);
  }

  async update(
    next: AccessRequest,
    expected: { status: AccessRequestStatus; review: AccessReviewState },
    notice: NewOutboxEvent | null = null,
  ): Promise<boolean> {
    const values = columnValues(next);
    return this.#db.transaction(async (session) => {
      const changed = await session.execute(
        this.#sql(
          `UPDATE access_requests SET ${CHANGING_COLUMNS.map((column) => `${column} = ?`).join(', ')} ` +
            'WHERE id = ? AND status = ? AND review_state = ?',
        ),
        [...CHANGING_COLUMNS.map((column) => values[column]), next.id, expected.status, expected.review],
      );
      if (changed !== 1) return false;
      if (notice !== null) await insertOutboxEvents(session, this.#db.placeholderStyle, [notice]);
      return true;
    });
  }

  async expire(id: string, nowMs: number): Promise<boolean> {
    const changed = await this.#db.execute(
      this.#sql(
        "UPDATE access_requests SET status = 'expired', updated_at_ms = ? " +
          `WHERE id = ? AND ((${OPEN_PAST_DEADLINE}) OR (${ACTIVE_PAST_END}))`,
      ),
      [nowMs, id, nowMs, nowMs],
    );
    return changed === 1;
  }

  async listDue(nowMs: number, limit: number): Promise<AccessRequest[]> {
    // One query per partial index (a disjunction would make either planner scan the table).
    const undecided = await this.#db.query(
      this.#sql(`${SELECT} WHERE ${OPEN_PAST_DEADLINE} ORDER BY decision_deadline_ms, id LIMIT ?`),
      [nowMs, limit],
    );
    const active = await this.#db.query(
      this.#sql(`${SELECT} WHERE ${ACTIVE_PAST_END} ORDER BY expires_at_ms, id LIMIT ?`),
      [nowMs, limit],
    );
    const dueAtMs = (request: AccessRequest) =>
      request.status === 'active' ? (request.expiresAtMs ?? 0) : request.decisionDeadlineMs;
    return [...undecided, ...active]
      .map(decodeRequest)
      .sort((a, b) => dueAtMs(a) - dueAtMs(b))
      .slice(0, limit);
  }

  async getNotificationSetting(tenantId: string): Promise<SecurityNotificationSetting | null> {
    const [row] = await this.#db.query(
      this.#sql(`SELECT ${SETTING_COLUMNS} FROM security_notification_settings WHERE tenant_id = ?`),
      [tenantId],
    );
    return row === undefined ? null : decodeSetting(row);
  }

  async putNotificationSetting(setting: SecurityNotificationSetting): Promise<void> {
    await this.#db.execute(
      this.#sql(
        `INSERT INTO security_notification_settings (${SETTING_COLUMNS}) VALUES (?, ?, ?, ?, ?) ` +
          'ON CONFLICT (tenant_id) DO UPDATE SET format = excluded.format, ' +
          'destination_arn = excluded.destination_arn, updated_by = excluded.updated_by, ' +
          'updated_at_ms = excluded.updated_at_ms',
      ),
      [setting.tenantId, setting.format, setting.destinationArn, setting.updatedBy, setting.updatedAtMs],
    );
  }

  async deleteNotificationSetting(tenantId: string): Promise<boolean> {
    const changed = await this.#db.execute(
      this.#sql('DELETE FROM security_notification_settings WHERE tenant_id = ?'),
      [tenantId],
    );
    return changed === 1;
  }

  async list(filter: AccessRequestListFilter): Promise<AccessRequest[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (filter.tenantId !== null) {
      where.push('tenant_id = ?');
      params.push(filter.tenantId);
    }
    if (filter.afterId !== null) {
      // Newest first: the next page holds what sorts before the last listed request.
      where.push(
        '(filed_at_ms < (SELECT filed_at_ms FROM access_requests WHERE id = ?) OR ' +
          '(filed_at_ms = (SELECT filed_at_ms FROM access_requests WHERE id = ?) AND id < ?))',
      );
      params.push(filter.afterId, filter.afterId, filter.afterId);
    }
    params.push(filter.limit);
    const rows = await this.#db.query(
      this.#sql(
        `${SELECT}${where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`} ORDER BY filed_at_ms DESC, id DESC LIMIT ?`,
      ),
      params,
    );
    return rows.map(decodeRequest);
  }
}

/** Every column's value for a request; the only place that maps fields to columns. */
function columnValues(request: AccessRequest): Record<Column, SqlValue> {
  return {
    id: request.id,
    format: request.format,
    tenant_id: request.tenantId,
    requester_id: request.requesterId,
    kind: request.kind,
    bucket: request.scope.bucket,
    key_prefix: request.scope.keyPrefix === null ? null : Buffer.from(request.scope.keyPrefix, 'utf8'),
    kms_key_id: request.scope.kmsKeyId,
    actions: JSON.stringify(request.actions),
    duration_seconds: request.durationSeconds,
    justification: request.justification,
    ticket: request.ticket,
    requester_claims: JSON.stringify(request.requesterClaims),
    source_ip: request.sourceIp,
    source_jurisdiction: request.sourceJurisdiction,
    status: request.status,
    filed_at_ms: request.filedAtMs,
    decision_deadline_ms: request.decisionDeadlineMs,
    decided_by: request.decidedBy,
    decided_at_ms: request.decidedAtMs,
    decision_comment: request.decisionComment,
    activated_at_ms: request.activatedAtMs,
    expires_at_ms: request.expiresAtMs,
    revoked_by: request.revokedBy,
    revoked_at_ms: request.revokedAtMs,
    revoke_reason: request.revokeReason,
    review_state: request.review,
    reviewed_by: request.reviewedBy,
    reviewed_at_ms: request.reviewedAtMs,
    review_comment: request.reviewComment,
    updated_at_ms: request.updatedAtMs,
  };
}

const KINDS: readonly AccessRequestKind[] = ['standard', 'break-glass'];
const REVIEW_STATES: readonly AccessReviewState[] = ['none', 'pending', 'acknowledged'];

function decodeRequest(row: SqlRow): AccessRequest {
  const format = integer(row, 'format');
  if (format !== ACCESS_REQUEST_FORMAT) throw new Error(`access request format ${format} is not known`);
  const keyPrefix = nullableBytes(row, 'key_prefix');
  return {
    format,
    id: text(row, 'id'),
    tenantId: text(row, 'tenant_id'),
    requesterId: text(row, 'requester_id'),
    kind: oneOf(row, 'kind', KINDS),
    scope: {
      bucket: text(row, 'bucket'),
      keyPrefix: keyPrefix === null ? null : keyPrefix.toString('utf8'),
      kmsKeyId: nullableText(row, 'kms_key_id'),
    },
    // JSON documents are written only by rowOf from typed records, in this format.
    actions: JSON.parse(text(row, 'actions')) as string[],
    durationSeconds: integer(row, 'duration_seconds'),
    justification: text(row, 'justification'),
    ticket: text(row, 'ticket'),
    requesterClaims: JSON.parse(text(row, 'requester_claims')) as AttestedClaims,
    sourceIp: nullableText(row, 'source_ip'),
    sourceJurisdiction: text(row, 'source_jurisdiction'),
    status: oneOf(row, 'status', ACCESS_REQUEST_STATUSES),
    filedAtMs: integer(row, 'filed_at_ms'),
    decisionDeadlineMs: integer(row, 'decision_deadline_ms'),
    decidedBy: nullableText(row, 'decided_by'),
    decidedAtMs: nullableInteger(row, 'decided_at_ms'),
    decisionComment: nullableText(row, 'decision_comment'),
    activatedAtMs: nullableInteger(row, 'activated_at_ms'),
    expiresAtMs: nullableInteger(row, 'expires_at_ms'),
    revokedBy: nullableText(row, 'revoked_by'),
    revokedAtMs: nullableInteger(row, 'revoked_at_ms'),
    revokeReason: nullableText(row, 'revoke_reason'),
    review: oneOf(row, 'review_state', REVIEW_STATES),
    reviewedBy: nullableText(row, 'reviewed_by'),
    reviewedAtMs: nullableInteger(row, 'reviewed_at_ms'),
    reviewComment: nullableText(row, 'review_comment'),
    updatedAtMs: integer(row, 'updated_at_ms'),
  };
}

function decodeSetting(row: SqlRow): SecurityNotificationSetting {
  const format = integer(row, 'format');
  if (format !== SECURITY_NOTIFICATION_SETTING_FORMAT) {
    throw new Error(`security notification setting format ${format} is not known`);
  }
  return {
    format,
    tenantId: text(row, 'tenant_id'),
    destinationArn: text(row, 'destination_arn'),
    updatedBy: text(row, 'updated_by'),
    updatedAtMs: integer(row, 'updated_at_ms'),
  };
}

function nullableInteger(row: SqlRow, column: string): number | null {
  return row[column] === null ? null : integer(row, column);
}

function oneOf<T extends string>(row: SqlRow, column: string, allowed: readonly T[]): T {
  const value = row[column];
  const match = allowed.find((candidate) => candidate === value);
  if (match === undefined) throw new Error(`access_requests.${column} holds an unexpected value`);
  return match;
}
