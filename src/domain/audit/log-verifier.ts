import type { AuditLogStore } from './ports.ts';
import { recordLeaf } from './records.ts';
import { openCheckpoint, type Checkpoint } from './tlog/checkpoint.ts';
import { CompactRange } from './tlog/compact-range.ts';
import { hashLeaf } from './tlog/hashing.ts';
import type { NoteVerifier } from './tlog/note-keys.ts';
import { TLOG_LIMITS } from './tlog/limits.ts';

/** Leaves read per step while verifying (a multiple of the tile width). */
export const VERIFY_CHUNK_LEAVES = 16 * TLOG_LIMITS.tileWidth;

/** One leaf as a source holds it: its index, its bytes and, where the source has them, the record and salt. */
export interface SourcedLeaf {
  index: number;
  leaf: Buffer;
  canonical: Buffer | null;
  salt: Buffer | null;
}

/**
 * Where a verification reads the log: the metadata database (every record, its salt, the stored
 * tiles and every checkpoint) or a tlog-tiles URL (the latest checkpoint, entry bundles, tiles).
 */
export interface LogSource {
  /** Signed checkpoints in ascending tree size (a tiles URL has only the latest). */
  checkpoints(): Promise<string[]>;
  /** The leaves [start, end) the source has, ascending by index (gaps show as missing indexes). */
  leaves(start: number, end: number): Promise<SourcedLeaf[]>;
  /** The stored level-0 tile `index` (leaf hashes), or null when the source has none. */
  leafHashTile(index: number): Promise<Buffer | null>;
}

export interface VerificationProblem {
  /** The first entry that does not match (the leaf index), or null when only a checkpoint is wrong. */
  index: number | null;
  reason: string;
}

export interface VerificationReport {
  ok: boolean;
  treeSize: number;
  entriesChecked: number;
  recordsChecked: number;
  checkpointsChecked: number;
  problem: VerificationProblem | null;
}

/**
 * Recomputes the log from its source and names the first entry that does not match:
 * 1. every checkpoint's signatures by the given log keys (all of them must sign);
 * 2. every record (where present) against its leaf: leaf = 0x01 ‖ SHA-256(salt ‖ record);
 * 3. the leaf indexes run without a gap up to the latest checkpoint's size (deletion, truncation);
 * 4. every leaf hash against the stored level-0 tiles (a changed leaf whose record was also changed);
 * 5. the RFC 9162 root of every checkpointed prefix against that checkpoint's root, which also
 *    proves each checkpoint consistent with the one before (both are prefixes of one leaf sequence).
 */
export async function verifyLog(
  source: LogSource,
  verifiers: readonly NoteVerifier[],
): Promise<VerificationReport> {
  const report: VerificationReport = {
    ok: false,
    treeSize: 0,
    entriesChecked: 0,
    recordsChecked: 0,
    checkpointsChecked: 0,
    problem: null,
  };
  const fail = (index: number | null, reason: string): VerificationReport => ({
    ...report,
    problem: { index, reason },
  });
  const notes = await source.checkpoints();
  if (notes.length === 0) return fail(null, 'the log has no checkpoint');
  const checkpoints: Checkpoint[] = [];
  for (const note of notes) {
    let opened;
    try {
      opened = openCheckpoint(note, verifiers);
    } catch (error) {
      return fail(
        null,
        `a checkpoint does not verify: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const signedBy = new Set(opened.note.verifiedSignatures.map((s) => s.name));
    const missing = verifiers.filter((v) => !signedBy.has(v.name)).map((v) => v.name);
    if (missing.length > 0)
      return fail(null, `checkpoint ${opened.checkpoint.treeSize} lacks signatures by ${missing.join(', ')}`);
    checkpoints.push(opened.checkpoint);
  }
  report.checkpointsChecked = checkpoints.length;
  const treeSize = checkpoints[checkpoints.length - 1]!.treeSize;
  report.treeSize = treeSize;
  const range = new CompactRange();
  let nextCheckpoint = 0;
  const checkRoots = (): VerificationProblem | null => {
    while (nextCheckpoint < checkpoints.length && checkpoints[nextCheckpoint]!.treeSize === range.size) {
      const checkpoint = checkpoints[nextCheckpoint]!;
      if (!range.rootHash().equals(checkpoint.rootHash)) {
        const previous = nextCheckpoint === 0 ? 0 : checkpoints[nextCheckpoint - 1]!.treeSize;
        return {
          index: previous,
          reason: `the entries do not hash to the root of checkpoint ${checkpoint.treeSize}; the first altered entry is in [${previous}, ${checkpoint.treeSize})`,
        };
      }
      nextCheckpoint += 1;
    }
    return null;
  };
  let tile: Buffer | null = null;
  const atZero = checkRoots();
  if (atZero !== null) return fail(atZero.index, atZero.reason);
  for (let start = 0; start < treeSize; start += VERIFY_CHUNK_LEAVES) {
    const end = Math.min(treeSize, start + VERIFY_CHUNK_LEAVES);
    const leaves = await source.leaves(start, end);
    for (let i = 0; i < end - start; i += 1) {
      const index = start + i;
      const leaf = leaves[i];
      if (leaf === undefined || leaf.index !== index) {
        return fail(index, `entry ${index} is missing (deleted, or the log was truncated)`);
      }
      if (leaf.canonical !== null && leaf.salt !== null) {
        if (!recordLeaf(leaf.canonical, leaf.salt).equals(leaf.leaf)) {
          return fail(
            index,
            `entry ${index}: the record does not match its leaf (altered, or swapped with another)`,
          );
        }
        report.recordsChecked += 1;
      }
      const leafHash = hashLeaf(leaf.leaf);
      if (index % TLOG_LIMITS.tileWidth === 0 || i === 0) {
        tile = await source.leafHashTile(Math.floor(index / TLOG_LIMITS.tileWidth));
      }
      if (tile !== null) {
        const offset = (index % TLOG_LIMITS.tileWidth) * TLOG_LIMITS.hashBytes;
        const stored = tile.subarray(offset, offset + TLOG_LIMITS.hashBytes);
        if (stored.length === TLOG_LIMITS.hashBytes && !stored.equals(leafHash)) {
          return fail(index, `entry ${index}: the leaf does not match the hash the tree holds for it`);
        }
      }
      range.appendLeafHash(leafHash);
      report.entriesChecked += 1;
      const problem = checkRoots();
      if (problem !== null) return fail(problem.index, problem.reason);
    }
    if (leaves.length > end - start) return fail(end, 'the source returned more entries than asked');
  }
  return { ...report, ok: true };
}

/** Checkpoints read per query while verifying from the store. */
const CHECKPOINTS_PER_READ = 10_000;

/** The log as the metadata database holds it: every checkpoint, record, salt and stored tile. */
export function storeLogSource(store: AuditLogStore): LogSource {
  return {
    async checkpoints() {
      const notes: string[] = [];
      for (let from = 0; ;) {
        const page = await store.checkpoints(from, Number.MAX_SAFE_INTEGER, CHECKPOINTS_PER_READ);
        notes.push(...page.map((c) => c.note));
        if (page.length < CHECKPOINTS_PER_READ) return notes;
        from = page[page.length - 1]!.treeSize + 1;
      }
    },
    async leaves(start, end) {
      return (await store.readEntries(start, end)).map((entry) => ({
        index: entry.index,
        leaf: entry.leaf,
        canonical: entry.canonical,
        salt: entry.salt,
      }));
    },
    leafHashTile: (index) => store.readTile(0, index),
  };
}
