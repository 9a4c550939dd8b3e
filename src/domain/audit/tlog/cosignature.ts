/**
 * Timestamped Ed25519 cosignatures, cosignature/v1 of c2sp.org/tlog-cosignature: the statement
 * by a cosigner (a witness) that, as of a time, the checkpoint is the largest consistent tree it
 * has seen for the log. The signature line is a signed-note line of key type 0x04 whose
 * signature is an 8-byte big-endian POSIX timestamp followed by the Ed25519 signature of
 *
 *     cosignature/v1\n
 *     time <timestamp, ASCII decimal, no leading zeroes>\n
 *     <the checkpoint's note text, final newline included, signature lines excluded>
 *
 * Keys and signing are in note-keys.ts (type `cosignature/v1`); this module builds and reads
 * the parts specific to cosignatures.
 */
import { TLOG_LIMITS } from './limits.ts';

export const COSIGNATURE_TIMESTAMP_BYTES = 8;
const COSIGNATURE_HEADER = 'cosignature/v1\n';

/** The message a cosignature/v1 signs for `checkpointText` at `timestamp` (POSIX seconds). */
export function cosignedMessage(checkpointText: Uint8Array, timestamp: number): Buffer {
  return Buffer.concat([Buffer.from(`${COSIGNATURE_HEADER}time ${timestamp}\n`, 'ascii'), checkpointText]);
}

/**
 * The timestamp of a cosignature/v1 signature (the bytes after the key ID), or undefined when
 * there is none. The specification caps it at 2^63 − 1; Sovra also refuses anything beyond
 * 2^53 − 1 seconds (285 million years away), which verifiers MAY do with future timestamps.
 */
export function readCosignatureTimestamp(signature: Uint8Array): number | undefined {
  if (signature.byteLength < COSIGNATURE_TIMESTAMP_BYTES) return undefined;
  const timestamp = Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength).readBigUInt64BE(
    0,
  );
  return timestamp <= BigInt(TLOG_LIMITS.treeSizeMax) ? Number(timestamp) : undefined;
}
