/**
 * Entry bundles of c2sp.org/tlog-tiles (`tile/entries/<N>[.p/<W>]`): the entries of one level-0
 * tile, each as a big-endian uint16 length followed by its bytes. Entry i of the bundle hashes
 * (RFC 9162 leaf hash) to hash i of the level-0 tile with the same index.
 */
import { tlogError } from './errors.ts';
import { TLOG_LIMITS } from './limits.ts';

const LENGTH_PREFIX_BYTES = 2;

/** Encodes 1–256 entries of at most 65,535 bytes each. */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Buffer {
  if (entries.length === 0 || entries.length > TLOG_LIMITS.tileWidth) {
    throw tlogError('MalformedEntryBundle', `an entry bundle holds 1–${TLOG_LIMITS.tileWidth} entries`, {
      count: entries.length,
    });
  }
  let total = 0;
  entries.forEach((entry, i) => {
    if (!(entry instanceof Uint8Array) || entry.byteLength > TLOG_LIMITS.entryMaxBytes) {
      throw tlogError('EntryTooLarge', `entry ${i} does not fit a uint16 length prefix`, { entry: i });
    }
    total += LENGTH_PREFIX_BYTES + entry.byteLength;
  });
  const bundle = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const entry of entries) {
    offset = bundle.writeUInt16BE(entry.byteLength, offset);
    bundle.set(entry, offset);
    offset += entry.byteLength;
  }
  return bundle;
}

/**
 * Decodes a bundle. With `expectedCount` (the width its path names) the bundle must hold exactly
 * that many entries; without it, 1–256. Truncated entries and trailing bytes are refused.
 */
export function parseEntryBundle(bundle: Uint8Array, expectedCount?: number): Buffer[] {
  if (!(bundle instanceof Uint8Array))
    throw tlogError('MalformedEntryBundle', 'an entry bundle is a byte string');
  const bytes = Buffer.from(bundle.buffer, bundle.byteOffset, bundle.byteLength);
  const entries: Buffer[] = [];
  let offset = 0;
  while (offset < bytes.byteLength) {
    if (entries.length === TLOG_LIMITS.tileWidth) {
      throw tlogError(
        'MalformedEntryBundle',
        `an entry bundle holds at most ${TLOG_LIMITS.tileWidth} entries`,
      );
    }
    if (offset + LENGTH_PREFIX_BYTES > bytes.byteLength) {
      throw tlogError('MalformedEntryBundle', 'the bundle ends inside a length prefix', { offset });
    }
    const length = bytes.readUInt16BE(offset);
    offset += LENGTH_PREFIX_BYTES;
    if (offset + length > bytes.byteLength) {
      throw tlogError('MalformedEntryBundle', 'the bundle ends inside an entry', { entry: entries.length });
    }
    entries.push(Buffer.from(bytes.subarray(offset, offset + length)));
    offset += length;
  }
  const wanted = expectedCount ?? entries.length;
  if (entries.length === 0 || entries.length !== wanted) {
    throw tlogError(
      'MalformedEntryBundle',
      `the bundle holds ${entries.length} entries where ${wanted} are expected`,
      {
        count: entries.length,
        expectedCount,
      },
    );
  }
  return entries;
}
