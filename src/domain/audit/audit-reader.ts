import { auditError } from './errors.ts';
import type { AuditLogStore, AuditRecordFilter, StoredCheckpoint } from './ports.ts';
import { encodeEntryBundle } from './tlog/entry-bundle.ts';
import { TLOG_LIMITS } from './tlog/limits.ts';
import { SubtreeHashCache } from './tlog/subtree-hash-cache.ts';
import { proveConsistency, proveInclusion } from './tlog/tile-prover.ts';

/** Records per page of a tenant's audit query. */
export const AUDIT_QUERY_PAGE_MAX = 1_000;

/**
 * Perfect-subtree hashes the reader keeps for its proofs. Every proof shares the upper tile
 * levels and the right border, so with these cached a proof at 10^7 leaves rebuilds only its
 * level-0 tile's nodes (~250 hashes instead of ~900: docs/performance.md "audit proofs"). A few
 * hundred bytes an entry (key, Buffer, map slot) bound it to a few MiB.
 */
export const PROOF_SUBTREE_CACHE_ENTRIES = 16_384;

/** One record as its tenant (or an auditor) receives it: enough to recompute its leaf and check inclusion. */
export interface DisclosedRecord {
  leafIndex: number;
  /** The canonical record (UTF-8 JSON), or null once archived after retention. */
  record: string | null;
  /** base64 of the 32-byte salt; null once archived. */
  salt: string | null;
  /** base64 of the 33-byte leaf (0x01 ‖ SHA-256(salt ‖ record)). */
  leaf: string;
  /** RFC 9162 inclusion proof in the tree of `checkpoint.treeSize`, base64 hashes; absent if not asked or not yet checkpointed. */
  inclusionProof?: string[];
}

/**
 * The read side of the audit log: what is served to tenants (their own records with proofs) and
 * to authorized readers (c2sp.org/tlog-tiles checkpoint, hash tiles, entry bundles, proofs).
 */
export class AuditReader {
  readonly #store: AuditLogStore;
  /** Perfect subtrees never change once complete, so cached hashes are never stale. */
  readonly #prover: { readonly cache: SubtreeHashCache };
  readonly #caughtUp: () => Promise<void>;

  /**
   * `caughtUp` resolves once this gateway's own queued records are in the store (AuditLog.flush),
   * so a tenant reading right after a request sees that request's record.
   */
  constructor(store: AuditLogStore, caughtUp: () => Promise<void> = () => Promise.resolve()) {
    this.#store = store;
    this.#caughtUp = caughtUp;
    this.#prover = { cache: new SubtreeHashCache(PROOF_SUBTREE_CACHE_ENTRIES) };
  }

  latestCheckpoint(): Promise<StoredCheckpoint | null> {
    return this.#store.latestCheckpoint();
  }

  /**
   * A hash tile as c2sp.org/tlog-tiles serves it: `width` hashes; null when the tree has not
   * reached that width yet. Only what a signed checkpoint covers is served, so readers never see
   * hashes no checkpoint commits to.
   */
  async hashTile(level: number, index: number, width: number): Promise<Buffer | null> {
    const covered = await this.#coveredSize();
    const firstLeaf = index * TLOG_LIMITS.tileWidth ** (level + 1);
    const needed = firstLeaf + width * TLOG_LIMITS.tileWidth ** level;
    if (needed > covered) return null;
    const tile = await this.#store.readTile(level, index);
    if (tile === null || tile.length < width * TLOG_LIMITS.hashBytes) return null;
    return tile.subarray(0, width * TLOG_LIMITS.hashBytes);
  }

  /** An entry bundle: the leaves (record commitments) [index·256, index·256 + width). */
  async entryBundle(index: number, width: number): Promise<Buffer | null> {
    const start = index * TLOG_LIMITS.tileWidth;
    if (start + width > (await this.#coveredSize())) return null;
    const leaves = await this.#store.readLeaves(start, start + width);
    if (leaves.length !== width) return null;
    return encodeEntryBundle(leaves);
  }

  /**
   * A tenant's records, paginated, each with its inclusion proof in the latest checkpoint when
   * asked. The filter always carries the tenant: nothing of another tenant is read, counted or
   * proved here.
   */
  async tenantRecords(
    filter: AuditRecordFilter & { tenantId: string },
    withProofs: boolean,
  ): Promise<{ records: DisclosedRecord[]; checkpoint: StoredCheckpoint | null; nextAfter: number | null }> {
    if (!Number.isSafeInteger(filter.limit) || filter.limit < 1 || filter.limit > AUDIT_QUERY_PAGE_MAX) {
      throw auditError('InvalidQuery', `limit must be 1 to ${AUDIT_QUERY_PAGE_MAX}`);
    }
    await this.#caughtUp();
    const [stored, checkpoint] = await Promise.all([
      this.#store.readRecords(filter),
      withProofs ? this.#store.latestCheckpoint() : Promise.resolve(null),
    ]);
    const records: DisclosedRecord[] = [];
    for (const entry of stored) {
      const disclosed: DisclosedRecord = {
        leafIndex: entry.index,
        record: entry.canonical === null ? null : entry.canonical.toString('utf8'),
        salt: entry.salt === null ? null : entry.salt.toString('base64'),
        leaf: entry.leaf.toString('base64'),
      };
      if (checkpoint !== null && entry.index < checkpoint.treeSize) {
        const proof = await proveInclusion(
          this.#store.tiles(),
          checkpoint.treeSize,
          entry.index,
          this.#prover,
        );
        disclosed.inclusionProof = proof.map((hash) => hash.toString('base64'));
      }
      records.push(disclosed);
    }
    const nextAfter = stored.length === filter.limit ? stored[stored.length - 1]!.index : null;
    return { records, checkpoint, nextAfter };
  }

  /** RFC 9162 consistency proof between two checkpointed sizes. */
  async consistencyProof(oldSize: number, newSize: number): Promise<Buffer[]> {
    if (newSize > (await this.#coveredSize())) {
      throw auditError('InvalidQuery', 'the new size is beyond the latest checkpoint');
    }
    try {
      return await proveConsistency(this.#store.tiles(), oldSize, newSize, this.#prover);
    } catch (error) {
      throw auditError('InvalidQuery', error instanceof Error ? error.message : 'invalid sizes');
    }
  }

  /** RFC 9162 inclusion proof of a leaf in a checkpointed tree size (authorized readers only). */
  async inclusionProof(leafIndex: number, treeSize: number): Promise<Buffer[]> {
    if (treeSize > (await this.#coveredSize())) {
      throw auditError('InvalidQuery', 'the tree size is beyond the latest checkpoint');
    }
    try {
      return await proveInclusion(this.#store.tiles(), treeSize, leafIndex, this.#prover);
    } catch (error) {
      throw auditError('InvalidQuery', error instanceof Error ? error.message : 'invalid index or size');
    }
  }

  async #coveredSize(): Promise<number> {
    return (await this.#store.latestCheckpoint())?.treeSize ?? 0;
  }
}
