import type {
  AuditLogStore,
  JournalMark,
  AuditRecordFilter,
  StoredAuditRecord,
  StoredCheckpoint,
  StoredLogKey,
  TreeHead,
} from '../../domain/audit/ports.ts';
import type { SealedAuditRecord } from '../../domain/audit/records.ts';
import { planAppend } from '../../domain/audit/tlog/appender.ts';
import { SubtreeHashCache } from '../../domain/audit/tlog/subtree-hash-cache.ts';
import type { HashTile, TileHashReader, TileRef } from '../../domain/audit/tlog/tiles.ts';
import { renderPlaceholders, type SqlDatabase, type SqlExecutor, type SqlValue } from './driver.ts';
import { lockNumberOf } from './locks.ts';
import { bytes, integer, nullableBytes, text } from './rows.ts';

const RECORD_COLUMNS = [
  'leaf_index',
  'recorded_at_ms',
  'kind',
  'tenant_id',
  'principal_id',
  'action',
  'resource',
  'result',
  'leaf',
  'record',
  'salt',
  'retain_until_ms',
] as const;

/** Rows per INSERT: 100 × 12 parameters stays below SQLite's and PostgreSQL's limits. */
const RECORDS_PER_STATEMENT = 100;
/** Subtree hashes kept for appends: the right edge needs a few dozen; more helps nothing. */
const APPEND_SUBTREE_CACHE_ENTRIES = 1_024;
/** Tiles per SELECT when reading a batch of tiles. */
const TILES_PER_STATEMENT = 100;

/**
 * The audit log on the metadata database (tables of migration 7), for SQLite and PostgreSQL.
 * Appends serialize on the head row (and, on PostgreSQL, an advisory lock), so several gateways
 * append to one log with one sequence. Tiles are stored one row per (level, index), rewritten as
 * a partial tile grows (the triggers allow only growth).
 */
export class SqlAuditLogStore implements AuditLogStore {
  readonly #db: SqlDatabase;
  readonly #sql: (text: string) => string;
  readonly #inserts = new Map<number, string>();
  /** Hashes of committed perfect subtrees: immutable, so appends reuse them (tlog/appender.ts). */
  readonly #subtreeHashes = new SubtreeHashCache(APPEND_SUBTREE_CACHE_ENTRIES);

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

  async append(
    records: readonly SealedAuditRecord[],
    retainUntilMs: readonly number[],
    journalMark?: JournalMark,
  ): Promise<TreeHead> {
    // Records are held durable against a crash of the process (the response waits for them); on
    // SQLite they reach the disk with the next fsynced commit rather than costing each one its own.
    return this.#db.transaction(async (session) => {
      if (this.#db.transactionLockSql !== null) {
        await session.query(this.#db.transactionLockSql, [lockNumberOf('audit-log')]);
      }
      const head = await readHead(session, this.#sql);
      if (records.length === 0) return head;
      const plan = await planAppend(
        tileReader(session, this.#sql),
        head.treeSize,
        records.map((r) => r.leaf),
        this.#subtreeHashes,
      );
      for (let start = 0; start < records.length; start += RECORDS_PER_STATEMENT) {
        const end = Math.min(records.length, start + RECORDS_PER_STATEMENT);
        const params: SqlValue[] = [];
        for (let i = start; i < end; i += 1) {
          params.push(...recordParams(head.treeSize + i, records[i]!, retainUntilMs[i]!));
        }
        await session.execute(this.#insertOf(end - start), params);
      }
      await writeTiles(session, this.#sql, this.#db.dialect, plan.tiles);
      await session.execute(
        this.#sql('UPDATE audit_log_head SET tree_size = ?, root_hash = ? WHERE id = 1'),
        [plan.treeSize, plan.rootHash],
      );
      if (journalMark !== undefined) {
        await session.execute(
          this.#sql(
            'INSERT INTO audit_journal_marks (journal_id, applied_segment, updated_at_ms) VALUES (?, ?, ?) ON CONFLICT (journal_id) DO UPDATE SET applied_segment = excluded.applied_segment, updated_at_ms = excluded.updated_at_ms',
          ),
          [journalMark.journalId, journalMark.segment, Date.now()],
        );
      }
      return { treeSize: plan.treeSize, rootHash: plan.rootHash };
    }, 'process-crash');
  }

  head(): Promise<TreeHead> {
    return readHead(this.#db, this.#sql);
  }

  async appliedJournalSegment(journalId: string): Promise<number> {
    const rows = await this.#db.query(
      this.#sql('SELECT applied_segment FROM audit_journal_marks WHERE journal_id = ?'),
      [journalId],
    );
    return rows[0] === undefined ? -1 : integer(rows[0], 'applied_segment');
  }

  async readLeaves(start: number, end: number): Promise<Buffer[]> {
    const rows = await this.#db.query(
      this.#sql(
        'SELECT leaf FROM audit_records WHERE leaf_index >= ? AND leaf_index < ? ORDER BY leaf_index',
      ),
      [start, end],
    );
    return rows.map((row) => bytes(row, 'leaf'));
  }

  async readTile(level: number, index: number): Promise<Buffer | null> {
    const [tile] = await tileReader(this.#db, this.#sql).readTiles([{ level, index }]);
    return tile === undefined ? null : Buffer.from(tile.hashes);
  }

  /** A reader for the tile-based prover outside any append. */
  tiles(): TileHashReader {
    return tileReader(this.#db, this.#sql);
  }

  async readRecords(filter: AuditRecordFilter): Promise<StoredAuditRecord[]> {
    const where = ['recorded_at_ms >= ?', 'recorded_at_ms < ?', 'leaf_index > ?'];
    const params: SqlValue[] = [filter.fromMs, filter.toMs, filter.afterIndex];
    if (filter.tenantId !== null) {
      where.unshift('tenant_id = ?');
      params.unshift(filter.tenantId);
    }
    if (filter.principalId !== undefined) {
      where.push('principal_id = ?');
      params.push(filter.principalId);
    }
    if (filter.action !== undefined) {
      where.push('action = ?');
      params.push(filter.action);
    }
    if (filter.result !== undefined) {
      where.push('result = ?');
      params.push(filter.result);
    }
    if (filter.resourcePrefix !== undefined) {
      // A range rather than LIKE: no escaping, and the prefix's bytes compare as stored.
      where.push('resource >= ?', 'resource < ?');
      params.push(filter.resourcePrefix, `${filter.resourcePrefix}\u{10FFFF}`);
    }
    params.push(filter.limit);
    const rows = await this.#db.query(
      this.#sql(
        `SELECT leaf_index, recorded_at_ms, leaf, record, salt FROM audit_records WHERE ${where.join(' AND ')} ORDER BY leaf_index LIMIT ?`,
      ),
      params,
    );
    return rows.map(decodeStoredRecord);
  }

  async readEntries(start: number, end: number): Promise<StoredAuditRecord[]> {
    const rows = await this.#db.query(
      this.#sql(
        'SELECT leaf_index, recorded_at_ms, leaf, record, salt FROM audit_records WHERE leaf_index >= ? AND leaf_index < ? ORDER BY leaf_index',
      ),
      [start, end],
    );
    return rows.map(decodeStoredRecord);
  }

  async readRecord(index: number): Promise<StoredAuditRecord | null> {
    const rows = await this.#db.query(
      this.#sql(
        'SELECT leaf_index, recorded_at_ms, leaf, record, salt FROM audit_records WHERE leaf_index = ?',
      ),
      [index],
    );
    return rows.length === 0 ? null : decodeStoredRecord(rows[0]!);
  }

  async expiredRecords(nowMs: number, limit: number): Promise<StoredAuditRecord[]> {
    const rows = await this.#db.query(
      this.#sql(
        'SELECT leaf_index, recorded_at_ms, leaf, record, salt FROM audit_records WHERE retain_until_ms <= ? AND record IS NOT NULL ORDER BY leaf_index LIMIT ?',
      ),
      [nowMs, limit],
    );
    return rows.map(decodeStoredRecord);
  }

  async archiveRecords(indexes: readonly number[]): Promise<number> {
    if (indexes.length === 0) return 0;
    return this.#db.transaction(async (session) => {
      let archived = 0;
      for (let start = 0; start < indexes.length; start += RECORDS_PER_STATEMENT) {
        const chunk = indexes.slice(start, start + RECORDS_PER_STATEMENT);
        archived += await session.execute(
          this.#sql(
            `UPDATE audit_records SET record = NULL, salt = NULL WHERE leaf_index IN (${chunk.map(() => '?').join(', ')})`,
          ),
          chunk,
        );
      }
      return archived;
    });
  }

  async saveCheckpoint(checkpoint: StoredCheckpoint): Promise<void> {
    // Two gateways may sign the same size; the first stored stays (both are valid).
    const conflict = this.#db.dialect === 'postgres' ? ' ON CONFLICT (tree_size) DO NOTHING' : '';
    const verb = this.#db.dialect === 'postgres' ? 'INSERT' : 'INSERT OR IGNORE';
    await this.#db.execute(
      this.#sql(
        `${verb} INTO audit_checkpoints (tree_size, root_hash, note, signed_at_ms) VALUES (?, ?, ?, ?)${conflict}`,
      ),
      [checkpoint.treeSize, checkpoint.rootHash, checkpoint.note, checkpoint.signedAtMs],
    );
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | null> {
    const rows = await this.#db.query(
      this.#sql(
        'SELECT tree_size, root_hash, note, signed_at_ms FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1',
      ),
      [],
    );
    return rows.length === 0 ? null : decodeCheckpoint(rows[0]!);
  }

  async checkpoints(fromSize: number, toSize: number, limit: number): Promise<StoredCheckpoint[]> {
    const rows = await this.#db.query(
      this.#sql(
        'SELECT tree_size, root_hash, note, signed_at_ms FROM audit_checkpoints WHERE tree_size >= ? AND tree_size <= ? ORDER BY tree_size LIMIT ?',
      ),
      [fromSize, toSize, limit],
    );
    return rows.map(decodeCheckpoint);
  }

  async addCosignature(
    treeSize: number,
    keyName: string,
    signatureLine: string,
    receivedAtMs: number,
  ): Promise<void> {
    const conflict = this.#db.dialect === 'postgres' ? ' ON CONFLICT (tree_size, key_name) DO NOTHING' : '';
    const verb = this.#db.dialect === 'postgres' ? 'INSERT' : 'INSERT OR IGNORE';
    await this.#db.execute(
      this.#sql(
        `${verb} INTO audit_cosignatures (tree_size, key_name, signature_line, received_at_ms) VALUES (?, ?, ?, ?)${conflict}`,
      ),
      [treeSize, keyName, signatureLine, receivedAtMs],
    );
  }

  async cosignatures(treeSize: number): Promise<string[]> {
    const rows = await this.#db.query(
      this.#sql('SELECT signature_line FROM audit_cosignatures WHERE tree_size = ? ORDER BY key_name'),
      [treeSize],
    );
    return rows.map((row) => text(row, 'signature_line'));
  }

  async exportCursor(sink: string): Promise<number> {
    const rows = await this.#db.query(
      this.#sql('SELECT after_index FROM audit_export_cursors WHERE sink = ?'),
      [sink],
    );
    return rows.length === 0 ? -1 : integer(rows[0]!, 'after_index');
  }

  async saveExportCursor(sink: string, afterIndex: number, updatedAtMs: number): Promise<void> {
    await this.#db.execute(
      this.#sql(
        'INSERT INTO audit_export_cursors (sink, after_index, updated_at_ms) VALUES (?, ?, ?) ON CONFLICT (sink) DO UPDATE SET after_index = excluded.after_index, updated_at_ms = excluded.updated_at_ms',
      ),
      [sink, afterIndex, updatedAtMs],
    );
  }

  async logKeys(): Promise<StoredLogKey[]> {
    const rows = await this.#db.query(
      this.#sql(
        'SELECT name, algorithm, public_key, wrapped_private_key, created_at_ms FROM audit_log_keys ORDER BY created_at_ms, name',
      ),
      [],
    );
    return rows.map((row) => ({
      name: text(row, 'name'),
      algorithm: text(row, 'algorithm') === 'ml-dsa-65' ? 'ml-dsa-65' : 'ed25519',
      publicKey: bytes(row, 'public_key'),
      wrappedPrivateKey: bytes(row, 'wrapped_private_key'),
      createdAtMs: integer(row, 'created_at_ms'),
    }));
  }

  async addLogKey(key: StoredLogKey): Promise<boolean> {
    try {
      await this.#db.execute(
        this.#sql(
          'INSERT INTO audit_log_keys (name, algorithm, public_key, wrapped_private_key, created_at_ms) VALUES (?, ?, ?, ?, ?)',
        ),
        [key.name, key.algorithm, key.publicKey, key.wrappedPrivateKey, key.createdAtMs],
      );
      return true;
    } catch (error) {
      if (this.#db.isUniqueViolation(error)) return false;
      throw error;
    }
  }

  #insertOf(rowCount: number): string {
    let statement = this.#inserts.get(rowCount);
    if (statement === undefined) {
      const row = `(${RECORD_COLUMNS.map(() => '?').join(', ')})`;
      statement = renderPlaceholders(
        `INSERT INTO audit_records (${RECORD_COLUMNS.join(', ')}) VALUES ${Array.from({ length: rowCount }, () => row).join(', ')}`,
        this.#db.placeholderStyle,
      );
      this.#inserts.set(rowCount, statement);
    }
    return statement;
  }
}

function recordParams(index: number, sealed: SealedAuditRecord, retainUntilMs: number): SqlValue[] {
  const r = sealed.record;
  return [
    index,
    r.timeMs,
    r.kind,
    r.tenantId,
    r.principalId,
    r.action,
    r.resource,
    r.result,
    sealed.leaf,
    sealed.canonical,
    sealed.salt,
    retainUntilMs,
  ];
}

async function readHead(executor: SqlExecutor, sql: (text: string) => string): Promise<TreeHead> {
  const rows = await executor.query(sql('SELECT tree_size, root_hash FROM audit_log_head WHERE id = 1'), []);
  const row = rows[0];
  if (row === undefined) throw new Error('audit_log_head is missing: the schema was not migrated');
  return { treeSize: integer(row, 'tree_size'), rootHash: bytes(row, 'root_hash') };
}

function tileReader(executor: SqlExecutor, sql: (text: string) => string): TileHashReader {
  return {
    async readTiles(refs: readonly TileRef[]) {
      const found = new Map<string, HashTile>();
      for (let start = 0; start < refs.length; start += TILES_PER_STATEMENT) {
        const chunk = refs.slice(start, start + TILES_PER_STATEMENT);
        const rows = await executor.query(
          sql(
            `SELECT level, tile_index, hashes FROM audit_tiles WHERE ${chunk.map(() => '(level = ? AND tile_index = ?)').join(' OR ')}`,
          ),
          chunk.flatMap((ref) => [ref.level, ref.index]),
        );
        for (const row of rows) {
          const hashes = bytes(row, 'hashes');
          const tile = {
            level: integer(row, 'level'),
            index: integer(row, 'tile_index'),
            width: hashes.length / 32,
            hashes,
          };
          found.set(`${tile.level}/${tile.index}`, tile);
        }
      }
      return refs.map((ref) => found.get(`${ref.level}/${ref.index}`));
    },
  };
}

async function writeTiles(
  executor: SqlExecutor,
  sql: (text: string) => string,
  dialect: 'sqlite' | 'postgres',
  tiles: readonly HashTile[],
): Promise<void> {
  const upsert = sql(
    dialect === 'postgres'
      ? 'INSERT INTO audit_tiles (level, tile_index, hashes) VALUES (?, ?, ?) ON CONFLICT (level, tile_index) DO UPDATE SET hashes = EXCLUDED.hashes'
      : 'INSERT INTO audit_tiles (level, tile_index, hashes) VALUES (?, ?, ?) ON CONFLICT (level, tile_index) DO UPDATE SET hashes = excluded.hashes',
  );
  for (const tile of tiles) {
    await executor.execute(upsert, [tile.level, tile.index, tile.hashes]);
  }
}

function decodeStoredRecord(row: Record<string, unknown>): StoredAuditRecord {
  return {
    index: integer(row, 'leaf_index'),
    recordedAtMs: integer(row, 'recorded_at_ms'),
    leaf: bytes(row, 'leaf'),
    canonical: nullableBytes(row, 'record'),
    salt: nullableBytes(row, 'salt'),
  };
}

function decodeCheckpoint(row: Record<string, unknown>): StoredCheckpoint {
  return {
    treeSize: integer(row, 'tree_size'),
    rootHash: bytes(row, 'root_hash'),
    note: text(row, 'note'),
    signedAtMs: integer(row, 'signed_at_ms'),
  };
}
