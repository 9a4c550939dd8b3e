/**
 * Bounds of the transparency-log core. Values dictated by a specification cite it; the others
 * are Sovra's own bounds so that no input can grow without limit.
 */
const KiB = 1024;

export const TLOG_LIMITS = {
  /** SHA-256 output (RFC 9162 §2.1.1 with SHA-256, the only hash c2sp.org/tlog-tiles allows). */
  hashBytes: 32,
  /** c2sp.org/tlog-tiles: tiles are subtrees of height 8, i.e. 256 hashes when full. */
  tileHeight: 8,
  tileWidth: 256,
  /** c2sp.org/tlog-tiles: the tile level `<L>` is between 0 and 63. */
  tileLevelMax: 63,
  /** Sizes and indexes are JavaScript numbers; beyond 2^53 − 1 they would silently round. */
  treeSizeMax: Number.MAX_SAFE_INTEGER,
  /** c2sp.org/tlog-tiles entry bundles prefix every entry with a big-endian uint16 length. */
  entryMaxBytes: 65_535,
  /** Entries one append may add; bounds the memory of one append plan. */
  appendBatchMaxEntries: 65_536,
  /**
   * c2sp.org/signed-note: verifiers MUST accept at least 16 signatures; Go's sumdb/note stops at
   * 100. 64 leaves room for many witnesses while bounding the work of opening one note.
   */
  noteMaxSignatures: 64,
  /** 64 ML-DSA-65 signature lines are about 290 KiB; nothing legitimate comes near this. */
  noteMaxBytes: 512 * KiB,
  /** A checkpoint's extension lines (c2sp.org/tlog-checkpoint: NOT RECOMMENDED, so few). */
  checkpointMaxExtensionLines: 16,
} as const;
