import type { NewOutboxEvent, OutboxEvent } from '../../domain/storage/ports.ts';
import {
  renderPlaceholders,
  type PlaceholderStyle,
  type SqlDatabase,
  type SqlExecutor,
  type SqlRow,
} from './driver.ts';
import { lockNumberOf } from './locks.ts';
import { integer, text } from './rows.ts';

/**
 * The transactional outbox of event notifications (table event_outbox, migration 3), over any
 * SqlDatabase. Each destination's events form a queue ordered by seq; the dispatcher reads the
 * head, claims a due prefix under a lease, and deletes what the destination acknowledged.
 */

const INSERT_COLUMNS =
  'destination_id, bucket, delivery_id, format, payload, created_at_ms, attempts, next_attempt_at_ms';
const COLUMNS = `seq, ${INSERT_COLUMNS}`;

const STATEMENTS = {
  insert: `INSERT INTO event_outbox (${INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 0, ?)`,
  selectHead:
    'SELECT seq, next_attempt_at_ms FROM event_outbox WHERE destination_id = ? ORDER BY seq LIMIT 1',
  selectQueue: `SELECT ${COLUMNS} FROM event_outbox WHERE destination_id = ? ORDER BY seq LIMIT ?`,
  selectOldestSeq: 'SELECT MIN(seq) AS seq FROM event_outbox WHERE destination_id = ?',
  countOfDestination: 'SELECT COUNT(*) AS events FROM event_outbox WHERE destination_id = ?',
  countAll: 'SELECT COUNT(*) AS events FROM event_outbox',
} as const;

type OutboxStatements = { readonly [Name in keyof typeof STATEMENTS]: string };

const rendered = new Map<PlaceholderStyle, OutboxStatements>();

function statementsFor(style: PlaceholderStyle): OutboxStatements {
  let statements = rendered.get(style);
  if (statements === undefined) {
    const out: Record<string, string> = {};
    for (const [name, sql] of Object.entries(STATEMENTS)) out[name] = renderPlaceholders(sql, style);
    statements = out as OutboxStatements;
    rendered.set(style, statements);
  }
  return statements;
}

/** Runs inside the transaction of the change that caused the events. */
export async function insertOutboxEvents(
  session: SqlExecutor,
  style: PlaceholderStyle,
  events: readonly NewOutboxEvent[],
): Promise<void> {
  const sql = statementsFor(style).insert;
  for (const event of events) {
    await session.execute(sql, [
      event.destinationId,
      event.bucket,
      event.deliveryId,
      event.format,
      event.payload,
      event.createdAtMs,
      event.createdAtMs,
    ]);
  }
}

export async function peekOutboxHead(
  db: SqlDatabase,
  destinationId: string,
): Promise<{ seq: number; nextAttemptAtMs: number } | null> {
  const [row] = await db.query(statementsFor(db.placeholderStyle).selectHead, [destinationId]);
  return row === undefined
    ? null
    : { seq: integer(row, 'seq'), nextAttemptAtMs: integer(row, 'next_attempt_at_ms') };
}

/**
 * On PostgreSQL the queue's first rows are locked FOR UPDATE SKIP LOCKED: a second gateway
 * claiming at the same moment skips them, sees that the destination's oldest event is not among
 * what it got, and claims nothing, so one destination's events are never sent by two gateways at
 * once and never out of order. SQLite needs no lock clause: its write transactions are serial.
 */
export async function claimOutboxEvents(
  db: SqlDatabase,
  destinationId: string,
  nowMs: number,
  leaseUntilMs: number,
  limit: number,
): Promise<OutboxEvent[]> {
  const sql = statementsFor(db.placeholderStyle);
  return db.transaction(async (session) => {
    // Claims of one destination run one at a time (a transaction-scoped advisory lock on
    // PostgreSQL; BEGIN IMMEDIATE on SQLite), so the winner always leases a contiguous run from
    // the head. With SKIP LOCKED instead, a concurrent claimant's short-lived row locks made the
    // winner skip rows and lease events out of order.
    if (db.transactionLockSql !== null) {
      await session.query(db.transactionLockSql, [lockNumberOf(`event-outbox:${destinationId}`)]);
    }
    const queue = (await session.query(sql.selectQueue, [destinationId, limit])).map(decodeOutboxEvent);
    const first = queue[0];
    if (first === undefined || first.nextAttemptAtMs > nowMs) return [];
    const [oldest] = await session.query(sql.selectOldestSeq, [destinationId]);
    if (oldest === undefined || integer(oldest, 'seq') !== first.seq) return [];
    const due = queue.findIndex((event) => event.nextAttemptAtMs > nowMs);
    const claimed = due === -1 ? queue : queue.slice(0, due);
    const seqs = claimed.map((event) => event.seq);
    for (const chunk of seqChunks(seqs)) {
      await session.execute(
        renderPlaceholders(
          `UPDATE event_outbox SET next_attempt_at_ms = ? WHERE seq IN (${chunk.marks})`,
          db.placeholderStyle,
        ),
        [leaseUntilMs, ...chunk.params],
      );
    }
    return claimed.map((event) => ({ ...event, nextAttemptAtMs: leaseUntilMs }));
  });
}

export async function deleteOutboxEvents(db: SqlDatabase, seqs: readonly number[]): Promise<void> {
  if (seqs.length === 0) return;
  await db.transaction(async (session) => {
    for (const chunk of seqChunks(seqs)) {
      await session.execute(
        renderPlaceholders(`DELETE FROM event_outbox WHERE seq IN (${chunk.marks})`, db.placeholderStyle),
        chunk.params,
      );
    }
  });
}

export async function releaseOutboxEvents(
  db: SqlDatabase,
  seqs: readonly number[],
  nextAttemptAtMs: number,
  failedSeq: number | null,
): Promise<void> {
  if (seqs.length === 0) return;
  await db.transaction(async (session) => {
    for (const chunk of seqChunks(seqs)) {
      await session.execute(
        renderPlaceholders(
          'UPDATE event_outbox SET next_attempt_at_ms = ?, ' +
            `attempts = attempts + (CASE WHEN seq = ? THEN 1 ELSE 0 END) WHERE seq IN (${chunk.marks})`,
          db.placeholderStyle,
        ),
        [nextAttemptAtMs, failedSeq ?? -1, ...chunk.params],
      );
    }
  });
}

export async function countOutboxEvents(db: SqlDatabase, destinationId: string | null): Promise<number> {
  const sql = statementsFor(db.placeholderStyle);
  const [row] =
    destinationId === null
      ? await db.query(sql.countAll, [])
      : await db.query(sql.countOfDestination, [destinationId]);
  return row === undefined ? 0 : integer(row, 'events');
}

function decodeOutboxEvent(row: SqlRow): OutboxEvent {
  return {
    seq: integer(row, 'seq'),
    destinationId: text(row, 'destination_id'),
    bucket: text(row, 'bucket'),
    deliveryId: text(row, 'delivery_id'),
    format: integer(row, 'format'),
    payload: text(row, 'payload'),
    createdAtMs: integer(row, 'created_at_ms'),
    attempts: integer(row, 'attempts'),
    nextAttemptAtMs: integer(row, 'next_attempt_at_ms'),
  };
}

/** Largest IN list per statement; lists are padded to a power of two. */
const IN_LIST_MAX = 512;

/**
 * Splits seqs into IN lists whose lengths are powers of two (the last seq repeats as padding), so
 * that a handful of statement texts cover every batch size and the prepared-statement caches
 * are not flooded with one text per length.
 */
function seqChunks(seqs: readonly number[]): { marks: string; params: number[] }[] {
  const chunks: { marks: string; params: number[] }[] = [];
  for (let start = 0; start < seqs.length; start += IN_LIST_MAX) {
    const params = seqs.slice(start, start + IN_LIST_MAX);
    let size = 1;
    while (size < params.length) size *= 2;
    const last = params[params.length - 1]!;
    while (params.length < size) params.push(last);
    chunks.push({ marks: params.map(() => '?').join(', '), params });
  }
  return chunks;
}
