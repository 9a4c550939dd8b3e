import type {
  KeyUseDecisionLog,
  KeyUseDecisionRecord,
  StoredKeyUseDecision,
} from '../../domain/kms/decision-records.ts';
import {
  JUSTIFICATION_REASONS,
  KEY_USE_SERVICES,
  type KeyUseJustification,
} from '../../domain/kms/justification.ts';
import { renderPlaceholders, type SqlDatabase, type SqlRow, type SqlValue } from './driver.ts';
import { integer, text } from './rows.ts';

const INSERT_COLUMNS = [
  'decided_at_ms',
  'tenant_id',
  'key_id',
  'key_version',
  'operation',
  'decision',
  'denial_reason',
  'principal_id',
  'service',
  'justification_reason',
  'approval_reference',
  'source_ip',
  'jurisdiction',
  'request_id',
] as const;

/** Rows per INSERT statement: 50 × 14 parameters stays far below both dialects' limits. */
const ROWS_PER_STATEMENT = 50;

/**
 * The key-use decision log on the metadata database (table of migration 6), for SQLite and
 * PostgreSQL. Only INSERT and SELECT: the table's triggers refuse anything else.
 */
export class SqlKeyUseDecisionLog implements KeyUseDecisionLog {
  readonly #db: SqlDatabase;
  readonly #inserts = new Map<number, string>();
  readonly #selectTenant: string;

  constructor(db: SqlDatabase) {
    this.#db = db;
    this.#selectTenant = renderPlaceholders(
      `SELECT seq, ${INSERT_COLUMNS.join(', ')} FROM key_use_decisions WHERE tenant_id = ? AND decided_at_ms >= ? AND decided_at_ms < ? AND seq > ? ORDER BY seq LIMIT ?`,
      db.placeholderStyle,
    );
  }

  /** One transaction per batch, several rows per statement: the batch is all or nothing. */
  async append(records: readonly KeyUseDecisionRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.#db.transaction(async (session) => {
      for (let start = 0; start < records.length; start += ROWS_PER_STATEMENT) {
        const chunk = records.slice(start, start + ROWS_PER_STATEMENT);
        await session.execute(this.#insertOf(chunk.length), chunk.flatMap(decisionParams));
      }
    });
  }

  async listTenantDecisions(
    tenantId: string,
    range: { fromMs: number; toMs: number },
    afterSeq: number,
    limit: number,
  ): Promise<StoredKeyUseDecision[]> {
    const rows = await this.#db.query(this.#selectTenant, [
      tenantId,
      range.fromMs,
      range.toMs,
      afterSeq,
      limit,
    ]);
    return rows.map(decodeDecision);
  }

  #insertOf(rowCount: number): string {
    let sql = this.#inserts.get(rowCount);
    if (sql === undefined) {
      const row = `(${INSERT_COLUMNS.map(() => '?').join(', ')})`;
      sql = renderPlaceholders(
        `INSERT INTO key_use_decisions (${INSERT_COLUMNS.join(', ')}) VALUES ${new Array<string>(rowCount).fill(row).join(', ')}`,
        this.#db.placeholderStyle,
      );
      this.#inserts.set(rowCount, sql);
    }
    return sql;
  }
}

function decisionParams(record: KeyUseDecisionRecord): SqlValue[] {
  const j = record.justification;
  return [
    record.decidedAt.getTime(),
    record.tenantId,
    record.keyId,
    record.keyVersion,
    j.operation,
    record.decision,
    record.denialReason,
    j.principalId,
    j.service,
    j.reason,
    j.approvalReference,
    j.sourceIp,
    j.jurisdiction,
    j.requestId,
  ];
}

function decodeDecision(row: SqlRow): StoredKeyUseDecision {
  const tenantId = text(row, 'tenant_id');
  const justification: KeyUseJustification = {
    principalId: text(row, 'principal_id'),
    tenantId,
    service: oneOf(row, 'service', KEY_USE_SERVICES),
    reason: oneOf(row, 'justification_reason', JUSTIFICATION_REASONS),
    approvalReference: row.approval_reference === null ? null : text(row, 'approval_reference'),
    sourceIp: text(row, 'source_ip'),
    jurisdiction: text(row, 'jurisdiction'),
    requestId: text(row, 'request_id'),
    operation: text(row, 'operation'),
  };
  return {
    seq: integer(row, 'seq'),
    decidedAt: new Date(integer(row, 'decided_at_ms')),
    tenantId,
    keyId: text(row, 'key_id'),
    keyVersion: integer(row, 'key_version'),
    decision: oneOf(row, 'decision', ['granted', 'denied'] as const),
    denialReason: row.denial_reason === null ? null : text(row, 'denial_reason'),
    justification,
  };
}

function oneOf<T extends string>(row: SqlRow, column: string, allowed: readonly T[]): T {
  const value = row[column];
  const match = allowed.find((candidate) => candidate === value);
  if (match === undefined) throw new Error(`key_use_decisions.${column} holds an unexpected value`);
  return match;
}
