import type { AuditLogStore, StoredAuditRecord } from './ports.ts';

/** Records archived per step. */
export const PRUNE_BATCH_RECORDS = 1_000;

/** Where archived records go before they leave the database (a file the operator keeps). */
export interface RecordArchive {
  /** Durably stores the records (e.g. appends JSON lines and fsyncs); only then are they removed. */
  keep(records: readonly StoredAuditRecord[]): Promise<void>;
}

/**
 * Prunes the log after retention: records whose minimum retention has ended are first written
 * to the archive, then removed from the database. Their leaves stay, so every hash, checkpoint
 * and proof remains verifiable; the archived record and salt still prove their own inclusion.
 * The database itself refuses to archive a record before its retention ends (migration 7).
 */
export async function pruneExpiredRecords(
  store: AuditLogStore,
  archive: RecordArchive,
  nowMs: number,
): Promise<{ archived: number }> {
  let archived = 0;
  for (;;) {
    const expired = await store.expiredRecords(nowMs, PRUNE_BATCH_RECORDS);
    if (expired.length === 0) return { archived };
    await archive.keep(expired);
    archived += await store.archiveRecords(expired.map((record) => record.index));
    if (expired.length < PRUNE_BATCH_RECORDS) return { archived };
  }
}
