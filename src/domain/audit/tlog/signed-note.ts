/**
 * Signed notes of c2sp.org/signed-note (golang.org/x/mod/sumdb/note):
 *
 *     <text, ending in a newline>
 *     <blank line>
 *     — <key name> base64(4-byte key ID ‖ signature)
 *     …
 *
 * A note is valid UTF-8 without ASCII control characters other than newline; the text is
 * separated from the signatures by the last blank line. Opening a note verifies every
 * signature whose (name, key ID) is known, ignores the others (as the specification requires),
 * refuses the whole note when a known key's signature fails, and refuses a note that no known key
 * signed.
 */
import { decodeBase64Strict, encodeBase64 } from './base64.ts';
import { readCosignatureTimestamp } from './cosignature.ts';
import { tlogError } from './errors.ts';
import { TLOG_LIMITS } from './limits.ts';
import { isValidKeyName, type NoteKeyType, type NoteSigner, type NoteVerifier } from './note-keys.ts';

/** One signature line: who signed (name and key ID) and the signature bytes after the key ID. */
export interface NoteSignature {
  readonly name: string;
  readonly keyId: number;
  readonly signature: Buffer;
}

export interface VerifiedNoteSignature extends NoteSignature {
  readonly keyType: NoteKeyType;
  /** For cosignature/v1: when the cosigner signed, in POSIX seconds. */
  readonly timestamp?: number;
}

/** A note split into its text and signature lines, nothing verified. */
export interface ParsedNote {
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

export interface OpenedNote {
  readonly text: string;
  /** Signatures by known keys, all verified. Never empty. */
  readonly verifiedSignatures: readonly VerifiedNoteSignature[];
  /** Signatures by keys the verifier list does not hold (ignored, kept for re-publishing). */
  readonly unverifiedSignatures: readonly NoteSignature[];
}

const SIGNATURE_PREFIX = '\u2014 '; // em dash, space
const TEXT_SEPARATOR = '\n\n';
/** key ID (4) + at least one signature byte, as Go's sumdb/note requires. */
const SIGNATURE_MIN_BYTES = 5;
const KEY_ID_BYTES = 4;

/**
 * Splits a note into text and signature lines, checking the form only. A byte string must be
 * valid UTF-8 (a byte-order mark stays part of the text); a string must be well-formed UTF-16.
 */
export function parseNote(message: string | Uint8Array): ParsedNote {
  const note = decodeNote(message);
  const split = note.lastIndexOf(TEXT_SEPARATOR);
  if (split < 0) throw tlogError('MalformedNote', 'a signed note needs a blank line before its signatures');
  const text = note.slice(0, split + 1);
  const block = note.slice(split + TEXT_SEPARATOR.length);
  if (block.length === 0 || !block.endsWith('\n')) {
    throw tlogError('MalformedNote', 'a signed note ends with signature lines, each ending in a newline');
  }
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > TLOG_LIMITS.noteMaxSignatures) {
    throw tlogError(
      'TooManySignatures',
      `a note may carry at most ${TLOG_LIMITS.noteMaxSignatures} signatures`,
      {
        count: lines.length,
      },
    );
  }
  return { text, signatures: lines.map(parseSignatureLine) };
}

/**
 * Parses `message` and verifies it against `verifiers`. Repeated signatures by one key and
 * repeated identical unknown lines are dropped, as Go's note.Open does.
 */
export function openNote(message: string | Uint8Array, verifiers: readonly NoteVerifier[]): OpenedNote {
  const known = verifierIndex(verifiers);
  const { text, signatures } = parseNote(message);
  const textBytes = Buffer.from(text, 'utf8');
  const verifiedSignatures: VerifiedNoteSignature[] = [];
  const unverifiedSignatures: NoteSignature[] = [];
  const seen = new Set<string>();
  for (const signature of signatures) {
    const key = signatureKey(signature.name, signature.keyId);
    const verifier = known.get(key);
    if (verifier === undefined) {
      const line = `${key}\n${encodeBase64(signature.signature)}`;
      if (!seen.has(line)) unverifiedSignatures.push(signature);
      seen.add(line);
      continue;
    }
    if (seen.has(key)) continue;
    seen.add(key);
    if (!verifier.verify(textBytes, signature.signature)) {
      throw tlogError('InvalidSignature', `the signature of ${signature.name} does not verify`, {
        name: signature.name,
        keyId: signature.keyId,
      });
    }
    const timestamp =
      verifier.keyType === 'cosignature/v1' ? readCosignatureTimestamp(signature.signature) : undefined;
    verifiedSignatures.push({
      ...signature,
      keyType: verifier.keyType,
      ...(timestamp === undefined ? {} : { timestamp }),
    });
  }
  if (verifiedSignatures.length === 0) {
    throw tlogError('UnverifiedNote', 'no known key signed this note', {
      signers: signatures.map((s) => s.name).slice(0, 8),
    });
  }
  return { text, verifiedSignatures, unverifiedSignatures };
}

/** Signs `text` (ending in a newline) with each signer, in order. */
export async function signNote(text: string, signers: readonly NoteSigner[]): Promise<string> {
  const signatures = await Promise.all(signers.map((signer) => signatureOf(text, signer)));
  return formatNote(text, signatures);
}

/** One signature line `— <name> <base64>\n` by `signer` over `text`, e.g. a witness cosignature. */
export async function createSignatureLine(text: string, signer: NoteSigner): Promise<string> {
  assertNoteText(text);
  return formatSignatureLine(await signatureOf(text, signer));
}

/** Assembles a note from its text and signatures (existing ones, new ones or both). */
export function formatNote(text: string, signatures: readonly NoteSignature[]): string {
  assertNoteText(text);
  if (signatures.length === 0)
    throw tlogError('MalformedNote', 'a signed note carries at least one signature');
  if (signatures.length > TLOG_LIMITS.noteMaxSignatures) {
    throw tlogError(
      'TooManySignatures',
      `a note may carry at most ${TLOG_LIMITS.noteMaxSignatures} signatures`,
      {
        count: signatures.length,
      },
    );
  }
  const note = `${text}\n${signatures.map(formatSignatureLine).join('')}`;
  if (Buffer.byteLength(note, 'utf8') > TLOG_LIMITS.noteMaxBytes) {
    throw tlogError('MalformedNote', `a signed note is at most ${TLOG_LIMITS.noteMaxBytes} bytes`);
  }
  return note;
}

async function signatureOf(text: string, signer: NoteSigner): Promise<NoteSignature> {
  assertNoteText(text);
  if (!isValidKeyName(signer.name)) throw tlogError('MalformedKey', 'the signer has an invalid key name');
  const signature = await signer.sign(Buffer.from(text, 'utf8'));
  return { name: signer.name, keyId: signer.keyId, signature: Buffer.from(signature) };
}

function formatSignatureLine(signature: NoteSignature): string {
  if (
    !isValidKeyName(signature.name) ||
    signature.signature.byteLength < SIGNATURE_MIN_BYTES - KEY_ID_BYTES
  ) {
    throw tlogError('MalformedNote', 'a signature line needs a valid key name and a signature');
  }
  const bytes = Buffer.alloc(KEY_ID_BYTES + signature.signature.byteLength);
  bytes.writeUInt32BE(signature.keyId >>> 0, 0);
  bytes.set(signature.signature, KEY_ID_BYTES);
  return `${SIGNATURE_PREFIX}${signature.name} ${encodeBase64(bytes)}\n`;
}

function parseSignatureLine(line: string): NoteSignature {
  if (!line.startsWith(SIGNATURE_PREFIX))
    throw tlogError('MalformedNote', 'a signature line starts with an em dash and a space');
  const rest = line.slice(SIGNATURE_PREFIX.length);
  const space = rest.indexOf(' ');
  const name = space < 0 ? rest : rest.slice(0, space);
  const bytes = space < 0 ? undefined : decodeBase64Strict(rest.slice(space + 1));
  if (!isValidKeyName(name) || bytes === undefined || bytes.byteLength < SIGNATURE_MIN_BYTES) {
    throw tlogError('MalformedNote', 'a signature line is "— <key name> <base64(key ID ‖ signature)>"');
  }
  return { name, keyId: bytes.readUInt32BE(0), signature: bytes.subarray(KEY_ID_BYTES) };
}

function decodeNote(message: string | Uint8Array): string {
  let note: string;
  if (typeof message === 'string') {
    if (!message.isWellFormed() || Buffer.byteLength(message, 'utf8') > TLOG_LIMITS.noteMaxBytes)
      throw malformedText();
    note = message;
  } else if (message instanceof Uint8Array) {
    if (message.byteLength > TLOG_LIMITS.noteMaxBytes) throw malformedText();
    try {
      note = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(message);
    } catch {
      throw malformedText();
    }
  } else {
    throw malformedText();
  }
  if (hasControlCharacters(note, { newlineAllowed: true })) throw malformedText();
  return note;
}

/** Note text: non-empty, ends in a newline, UTF-8 without control characters other than newline. */
function assertNoteText(text: string): void {
  if (
    typeof text !== 'string' ||
    !text.endsWith('\n') ||
    !text.isWellFormed() ||
    hasControlCharacters(text, { newlineAllowed: true })
  ) {
    throw tlogError(
      'MalformedNote',
      'note text ends in a newline and has no control characters other than newlines',
    );
  }
}

/** Whether `text` holds ASCII control characters (below U+0020), newlines aside if allowed. */
export function hasControlCharacters(text: string, options: { newlineAllowed: boolean }): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 && !(code === 0x0a && options.newlineAllowed)) return true;
  }
  return false;
}

function verifierIndex(verifiers: readonly NoteVerifier[]): Map<string, NoteVerifier> {
  const index = new Map<string, NoteVerifier>();
  for (const verifier of verifiers) {
    const key = signatureKey(verifier.name, verifier.keyId);
    // Go's VerifierList reports such a pair as ambiguous: a signature could not be attributed.
    if (index.has(key))
      throw tlogError('DuplicateKey', `two verifier keys are named ${verifier.name} with one key ID`);
    index.set(key, verifier);
  }
  return index;
}

function signatureKey(name: string, keyId: number): string {
  return `${name}+${keyId.toString(16).padStart(8, '0')}`;
}

function malformedText(): Error {
  return tlogError(
    'MalformedNote',
    `a signed note is UTF-8 of at most ${TLOG_LIMITS.noteMaxBytes} bytes without control characters other than newlines`,
  );
}
