/**
 * Checkpoints of c2sp.org/tlog-checkpoint: the signed note whose text is
 *
 *     <origin>\n
 *     <tree size, ASCII decimal, no leading zeroes>\n
 *     <root hash, base64 of 32 bytes>\n
 *     [<extension line>\n]…
 *
 * Parsing is strict: a checkpoint is what clients and witnesses rely on, so anything but the
 * canonical form is MalformedCheckpoint.
 */
import { decodeBase64Strict, encodeBase64 } from './base64.ts';
import { tlogError } from './errors.ts';
import { assertHash } from './hashing.ts';
import { TLOG_LIMITS } from './limits.ts';
import { isValidKeyName, type NoteSigner, type NoteVerifier } from './note-keys.ts';
import {
  createSignatureLine,
  hasControlCharacters,
  openNote,
  signNote,
  type OpenedNote,
} from './signed-note.ts';
import { isUint53 } from './uint53.ts';

export interface Checkpoint {
  /** The log's identity, e.g. `sovra.example/audit`. */
  readonly origin: string;
  readonly treeSize: number;
  readonly rootHash: Buffer;
  /** Opaque extension lines (NOT RECOMMENDED by the specification; Sovra writes none). */
  readonly extensionLines: readonly string[];
}

const TREE_SIZE_PATTERN = /^(0|[1-9][0-9]{0,15})$/;

/** The note text of a checkpoint. The origin must also be a valid key name, as the log's key is named after it. */
export function formatCheckpoint(checkpoint: Checkpoint): string {
  const { origin, treeSize, rootHash, extensionLines } = checkpoint;
  if (!isValidKeyName(origin)) {
    throw tlogError('MalformedCheckpoint', 'the origin is a non-empty name without spaces or +', {
      origin: String(origin),
    });
  }
  if (!isUint53(treeSize))
    throw tlogError('MalformedCheckpoint', 'the tree size is an integer in [0, 2^53)', { treeSize });
  assertHash(rootHash, 'checkpoint root hash');
  assertExtensionLines(extensionLines);
  return [origin, String(treeSize), encodeBase64(rootHash), ...extensionLines]
    .map((line) => `${line}\n`)
    .join('');
}

/** Parses checkpoint note text (the text of an opened note, final newline included). */
export function parseCheckpoint(text: string): Checkpoint {
  if (typeof text !== 'string' || !text.endsWith('\n') || text.length > TLOG_LIMITS.noteMaxBytes) {
    throw tlogError('MalformedCheckpoint', 'checkpoint text is a string of lines, each ending in a newline');
  }
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3)
    throw tlogError('MalformedCheckpoint', 'a checkpoint has an origin, a tree size and a root hash line');
  const [origin, sizeLine, hashLine, ...extensionLines] = lines as [string, string, string, ...string[]];
  if (
    origin.length === 0 ||
    hasControlCharacters(origin, { newlineAllowed: false }) ||
    !origin.isWellFormed()
  ) {
    throw tlogError('MalformedCheckpoint', 'the origin line is empty or not text');
  }
  if (!TREE_SIZE_PATTERN.test(sizeLine) || !isUint53(Number(sizeLine))) {
    throw tlogError('MalformedCheckpoint', 'the tree size is decimal without leading zeroes, below 2^53', {
      treeSize: sizeLine.slice(0, 32),
    });
  }
  const rootHash = decodeBase64Strict(hashLine);
  if (rootHash === undefined || rootHash.byteLength !== TLOG_LIMITS.hashBytes) {
    throw tlogError('MalformedCheckpoint', 'the root hash is the base64 of 32 bytes');
  }
  assertExtensionLines(extensionLines);
  return { origin, treeSize: Number(sizeLine), rootHash, extensionLines };
}

/** The checkpoint as a note signed by each of `signers` (e.g. the log's Ed25519 and ML-DSA-65 keys). */
export async function signCheckpoint(
  checkpoint: Checkpoint,
  signers: readonly NoteSigner[],
): Promise<string> {
  return signNote(formatCheckpoint(checkpoint), signers);
}

/** Opens a signed checkpoint against `verifiers` and parses its text. */
export function openCheckpoint(
  note: string | Uint8Array,
  verifiers: readonly NoteVerifier[],
): { checkpoint: Checkpoint; note: OpenedNote } {
  const opened = openNote(note, verifiers);
  return { checkpoint: parseCheckpoint(opened.text), note: opened };
}

/**
 * What a witness does with a checkpoint once it has checked consistency with the last one it
 * cosigned (that check needs its own state and a proof, so it is the caller's): verify the log's
 * signature, then return the cosignature line of `cosigner` (a cosignature/v1 key) to append.
 */
export async function cosignCheckpoint(
  signedCheckpoint: string | Uint8Array,
  logVerifiers: readonly NoteVerifier[],
  cosigner: NoteSigner,
): Promise<{ checkpoint: Checkpoint; signatureLine: string }> {
  if (cosigner.keyType !== 'cosignature/v1') {
    throw tlogError('UnsupportedKeyType', 'checkpoints are cosigned with cosignature/v1 keys');
  }
  const { checkpoint, note } = openCheckpoint(signedCheckpoint, logVerifiers);
  return { checkpoint, signatureLine: await createSignatureLine(note.text, cosigner) };
}

function assertExtensionLines(lines: readonly string[]): void {
  if (lines.length > TLOG_LIMITS.checkpointMaxExtensionLines) {
    throw tlogError(
      'MalformedCheckpoint',
      `at most ${TLOG_LIMITS.checkpointMaxExtensionLines} extension lines`,
    );
  }
  for (const line of lines) {
    if (
      typeof line !== 'string' ||
      line.length === 0 ||
      hasControlCharacters(line, { newlineAllowed: false }) ||
      !line.isWellFormed()
    ) {
      throw tlogError('MalformedCheckpoint', 'extension lines are non-empty text');
    }
  }
}
