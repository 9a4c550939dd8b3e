import { SovraError } from '../../../platform/errors.ts';

/**
 * Stable codes of the transparency-log core. Protocols (the tile server, the audit API, the
 * `sovra audit` commands) map them to their own wire errors in one table each; messages may
 * change, codes may not.
 */
export type TlogErrorCode =
  /** A tree size or an old/new size pair is not allowed (negative, unsafe, old > new, 0 where RFC 9162 needs > 0). */
  | 'InvalidTreeSize'
  /** A leaf index is not below the tree size (RFC 9162 §2.1.3.2 step 1). */
  | 'IndexOutOfRange'
  /** A hash (leaf, node, root, proof element) is not 32 bytes. */
  | 'InvalidHash'
  /** A proof has the wrong number of elements for its sizes, or is empty/non-empty when it must not be. */
  | 'InvalidProof'
  /** A well-formed proof does not lead to the expected root hash. */
  | 'RootMismatch'
  /** The tile store lacks a tile, or holds it narrower than the tree size needs. */
  | 'TileMissing'
  /** A tile given to or returned by a store is malformed (width, byte length, coordinates). */
  | 'InvalidTile'
  /** A `tile/...` path does not follow c2sp.org/tlog-tiles exactly. */
  | 'MalformedTilePath'
  /** An entry bundle is truncated, has trailing bytes or the wrong number of entries. */
  | 'MalformedEntryBundle'
  /** An entry does not fit the 2-byte length prefix of entry bundles. */
  | 'EntryTooLarge'
  /** More entries in one append than TLOG_LIMITS.appendBatchMaxEntries. */
  | 'BatchTooLarge'
  /** A signed note is not in c2sp.org/signed-note form. */
  | 'MalformedNote'
  /** A signed note carries more signature lines than TLOG_LIMITS.noteMaxSignatures. */
  | 'TooManySignatures'
  /** A verifier or signer key string is malformed. */
  | 'MalformedKey'
  /** A key's signature type is not one Sovra implements. */
  | 'UnsupportedKeyType'
  /** A key string's key ID does not match its name and key material. */
  | 'KeyHashMismatch'
  /** Two verifier keys share both name and key ID, so a signature could not be attributed. */
  | 'DuplicateKey'
  /** A signature by a known key does not verify. */
  | 'InvalidSignature'
  /** A note parsed, but no signature by a known key is on it. */
  | 'UnverifiedNote'
  /** A checkpoint body is not in c2sp.org/tlog-checkpoint form. */
  | 'MalformedCheckpoint'
  /** A cosignature is not a c2sp.org/tlog-cosignature timestamped signature. */
  | 'MalformedCosignature';

export class TlogError extends SovraError<TlogErrorCode> {}

export function tlogError(
  code: TlogErrorCode,
  message: string,
  details: Record<string, unknown> = {},
): TlogError {
  return new TlogError(code, message, details);
}
