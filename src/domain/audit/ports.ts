import type { SealedAuditRecord } from './records.ts';
import type { TileHashReader } from './tlog/tiles.ts';

/** The journal segment an append stores; the store records it as applied in the same transaction. */
export interface JournalMark {
  journalId: string;
  segment: number;
}

/** A record as the intake journal keeps it until the log holds it. */
export interface JournaledRecord {
  sealed: SealedAuditRecord;
  retainUntilMs: number;
}

/**
 * A gateway's intake journal (adapters/audit-journal): a record written here is durable against
 * a crash of the process before the log's transaction runs, so a request waits for this write
 * and not for the database. Records go into numbered segments; the log appends one closed
 * segment per transaction and marks it applied in that transaction (JournalMark), then discards
 * it. Segment numbers only grow, across restarts too.
 */
export interface AuditJournal {
  /** Identifies this journal in the log's marks (one per gateway data directory). */
  readonly id: string;
  /**
   * Starts the journal after an earlier process: returns the segments it left, oldest first,
   * with their records (a torn last record is dropped), and numbers new segments above both
   * those and `appliedSegment`.
   */
  resume(appliedSegment: number): { segment: number; records: JournaledRecord[] }[];
  /** Writes one record to the open segment and returns that segment's number; durable against a process crash on return. */
  write(record: JournaledRecord): number;
  /** The segment new records go to. */
  readonly openSegment: number;
  /** Closes the open segment: the next record starts a new one. */
  rotate(): void;
  /** The segment's records are in the log: its file goes. */
  discard(segment: number): void;
  close(): void;
}

/** The tree as the store holds it: its size and RFC 9162 root hash. */
export interface TreeHead {
  treeSize: number;
  rootHash: Buffer;
}

/** A stored record with its leaf index (its place in the one log sequence). */
export interface StoredAuditRecord {
  index: number;
  recordedAtMs: number;
  /** Null once archived after its retention ended; the leaf stays. */
  canonical: Buffer | null;
  salt: Buffer | null;
  leaf: Buffer;
}

export interface AuditRecordFilter {
  tenantId: string | null;
  fromMs: number;
  toMs: number;
  principalId?: string;
  action?: string;
  resourcePrefix?: string;
  result?: string;
  /** Exclusive: only records after this index (pagination). */
  afterIndex: number;
  limit: number;
}

export interface StoredCheckpoint {
  treeSize: number;
  rootHash: Buffer;
  /** The signed note (checkpoint body and signature lines). */
  note: string;
  signedAtMs: number;
}

export interface StoredLogKey {
  name: string;
  algorithm: 'ed25519' | 'ml-dsa-65';
  publicKey: Buffer;
  /** The private key, wrapped by the root of trust (or the local seal key without one). */
  wrappedPrivateKey: Buffer;
  createdAtMs: number;
}

/**
 * Where the audit log lives: the metadata database (adapters/sql/audit-log-store.ts), so that it
 * is one log with one sequence however many gateways append, on SQLite and PostgreSQL alike.
 */
export interface AuditLogStore {
  /**
   * Appends the records after the current tree in one transaction (serialized across gateways),
   * storing each record, its leaf and the updated hash tiles; returns the new tree head. Durable
   * when the promise resolves.
   */
  append(
    records: readonly SealedAuditRecord[],
    retainUntilMs: readonly number[],
    journalMark?: JournalMark,
  ): Promise<TreeHead>;
  /** The last segment of journal `journalId` whose records are in the log; -1 when none. */
  appliedJournalSegment(journalId: string): Promise<number>;
  head(): Promise<TreeHead>;
  /** Leaves [start, end) in order (for entry bundles and verification). */
  readLeaves(start: number, end: number): Promise<Buffer[]>;
  /** The stored hash tile (level, index): its hashes, `width` of them (≤ 256). Null if absent. */
  readTile(level: number, index: number): Promise<Buffer | null>;
  /** The tile store read side, for the tile-based prover (domain/audit/tlog/tile-prover.ts). */
  tiles(): TileHashReader;
  readRecords(filter: AuditRecordFilter): Promise<StoredAuditRecord[]>;
  /** Every stored entry with index in [start, end), ascending (gaps are missing rows). */
  readEntries(start: number, end: number): Promise<StoredAuditRecord[]>;
  readRecord(index: number): Promise<StoredAuditRecord | null>;
  /** Records whose retention ended by `nowMs` and that are not archived yet, ascending, at most `limit`. */
  expiredRecords(nowMs: number, limit: number): Promise<StoredAuditRecord[]>;
  /**
   * Archives records: their record and salt are removed, their leaves (and so every hash of the
   * tree) stay. The database refuses it for any record whose retention has not ended.
   */
  archiveRecords(indexes: readonly number[]): Promise<number>;
  saveCheckpoint(checkpoint: StoredCheckpoint): Promise<void>;
  latestCheckpoint(): Promise<StoredCheckpoint | null>;
  /** Checkpoints with treeSize in [fromSize, toSize], ascending. */
  checkpoints(fromSize: number, toSize: number, limit: number): Promise<StoredCheckpoint[]>;
  /** Records a witness's cosignature line of the checkpoint of `treeSize` (the first per key stays). */
  addCosignature(
    treeSize: number,
    keyName: string,
    signatureLine: string,
    receivedAtMs: number,
  ): Promise<void>;
  /** The cosignature lines of the checkpoint of `treeSize`, by key name. */
  cosignatures(treeSize: number): Promise<string[]>;
  /** The leaf index a SIEM export sink has delivered up to (inclusive); -1 when it has sent nothing. */
  exportCursor(sink: string): Promise<number>;
  saveExportCursor(sink: string, afterIndex: number, updatedAtMs: number): Promise<void>;
  logKeys(): Promise<StoredLogKey[]>;
  /** Adds a key; false when one of that name exists (another gateway made it first). */
  addLogKey(key: StoredLogKey): Promise<boolean>;
}
