import { SECRET_RESEAL_PAGE_ROWS } from '../../domain/iam/limits.ts';
import type { ResealStoredSecret } from '../../domain/iam/secret-resealing.ts';
import { renderPlaceholders, type SqlDatabase } from './driver.ts';
import { bytes, text } from './rows.ts';

/** The tables whose rows hold a sealed secret keyed by an access key id. */
export type SealedSecretTable = 'access_keys' | 'sts_sessions';

/**
 * Gives every row's `sealed_secret` the value `reseal` returns (null: unchanged), in one
 * transaction read in pages of SECRET_RESEAL_PAGE_ROWS by access key id. Returns how many rows
 * changed. Re-running it (a conflict) re-reads the rows, so it is safe to re-run.
 */
export function resealSecretColumn(
  db: SqlDatabase,
  table: SealedSecretTable,
  reseal: ResealStoredSecret,
): Promise<number> {
  const r = (sql: string) => renderPlaceholders(sql, db.placeholderStyle);
  const selectPage = r(
    `SELECT access_key_id, sealed_secret FROM ${table} WHERE access_key_id > ? ORDER BY access_key_id LIMIT ?`,
  );
  const update = r(`UPDATE ${table} SET sealed_secret = ? WHERE access_key_id = ?`);
  return db.transaction(async (session) => {
    let changed = 0;
    let after = '';
    for (;;) {
      const rows = await session.query(selectPage, [after, SECRET_RESEAL_PAGE_ROWS]);
      for (const row of rows) {
        const accessKeyId = text(row, 'access_key_id');
        const resealed = reseal(accessKeyId, bytes(row, 'sealed_secret'));
        if (resealed !== null) changed += await session.execute(update, [resealed, accessKeyId]);
        after = accessKeyId;
      }
      if (rows.length < SECRET_RESEAL_PAGE_ROWS) return changed;
    }
  });
}
