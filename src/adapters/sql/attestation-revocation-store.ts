import type { RevokedAttestations } from '../../domain/lockbox/attestation-revocation.ts';
import {
  ATTESTATION_REVOCATION_FORMAT,
  type NewAttestationRevocation,
  type StoredAttestationRevocation,
} from '../../domain/lockbox/attestation-revocations.ts';
import type { AttestationRevocationStore } from '../../domain/lockbox/ports.ts';
import { renderPlaceholders, type SqlDatabase, type SqlRow } from './driver.ts';
import { lockNumberOf } from './locks.ts';
import { integer, nullableText, text } from './rows.ts';

const COLUMNS = [
  'seq',
  'id',
  'format',
  'subject',
  'attestation_sha256',
  'issued_before_ms',
  'reason',
  'revoked_at_ms',
  'issuer',
  'note',
  'submitted_by',
  'accepted_at_ms',
] as const;

const SELECT = `SELECT ${COLUMNS.join(', ')} FROM attestation_revocations`;

/**
 * The security offices' attestation revocations on the metadata database (table of migration
 * 15), for SQLite and PostgreSQL with the same statements. Appends take a transaction lock
 * (PostgreSQL advisory lock; SQLite runs one writer at a time) before reading the highest seq, so
 * seqs are given in commit order: a gateway that has read seq n has every revocation before it,
 * and reads on from n. Rows are never changed or deleted (the tables' triggers refuse it).
 */
export class SqlAttestationRevocationStore implements AttestationRevocationStore {
  readonly #db: SqlDatabase;
  readonly #selectById: string;
  readonly #selectLatestSeq: string;
  readonly #selectAfter: string;
  readonly #insert: string;

  constructor(db: SqlDatabase) {
    this.#db = db;
    const sql = (statement: string) => renderPlaceholders(statement, db.placeholderStyle);
    this.#selectById = sql(`${SELECT} WHERE id = ?`);
    this.#selectLatestSeq = sql('SELECT COALESCE(MAX(seq), 0) AS seq FROM attestation_revocations');
    this.#selectAfter = sql(`${SELECT} WHERE seq > ? ORDER BY seq LIMIT ?`);
    this.#insert = sql(
      `INSERT INTO attestation_revocations (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`,
    );
  }

  appendRevocation(
    revocation: NewAttestationRevocation,
  ): Promise<{ revocation: StoredAttestationRevocation; created: boolean }> {
    return this.#db.transaction(async (session) => {
      if (this.#db.transactionLockSql !== null) {
        await session.query(this.#db.transactionLockSql, [lockNumberOf('attestation-revocations')]);
      }
      const [existing] = await session.query(this.#selectById, [revocation.id]);
      if (existing !== undefined) return { revocation: decodeRevocation(existing), created: false };
      const [latest] = await session.query(this.#selectLatestSeq, []);
      const seq = (latest === undefined ? 0 : integer(latest, 'seq')) + 1;
      const { revoked } = revocation;
      await session.execute(this.#insert, [
        seq,
        revocation.id,
        revocation.format,
        revocation.subject,
        revoked.kind === 'attestation' ? revoked.attestationSha256 : null,
        revoked.kind === 'issued-before' ? revoked.issuedBeforeMs : null,
        revocation.reason,
        revocation.revokedAtMs,
        revocation.issuer,
        revocation.note,
        revocation.submittedBy,
        revocation.acceptedAtMs,
      ]);
      return { revocation: { ...revocation, seq }, created: true };
    });
  }

  async listRevocations(afterSeq: number, limit: number): Promise<StoredAttestationRevocation[]> {
    const rows = await this.#db.query(this.#selectAfter, [afterSeq, limit]);
    return rows.map(decodeRevocation);
  }
}

function decodeRevocation(row: SqlRow): StoredAttestationRevocation {
  const format = integer(row, 'format');
  if (format !== ATTESTATION_REVOCATION_FORMAT) {
    throw new Error(`attestation revocation format ${format} is not known`);
  }
  const attestationSha256 = nullableText(row, 'attestation_sha256');
  // The table's CHECK keeps exactly one of the two set.
  const revoked: RevokedAttestations =
    attestationSha256 !== null
      ? { kind: 'attestation', attestationSha256 }
      : { kind: 'issued-before', issuedBeforeMs: integer(row, 'issued_before_ms') };
  return {
    format,
    seq: integer(row, 'seq'),
    id: text(row, 'id'),
    subject: text(row, 'subject'),
    revoked,
    reason: text(row, 'reason'),
    revokedAtMs: integer(row, 'revoked_at_ms'),
    issuer: text(row, 'issuer'),
    note: text(row, 'note'),
    submittedBy: text(row, 'submitted_by'),
    acceptedAtMs: integer(row, 'accepted_at_ms'),
  };
}
