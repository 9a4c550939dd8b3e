import { createHash } from 'node:crypto';
import { TlogError } from '../audit/tlog/errors.ts';
import { decodeBase64Strict, encodeBase64 } from '../audit/tlog/base64.ts';
import { parseVerifierKey, type NoteSigner, type NoteVerifier } from '../audit/tlog/note-keys.ts';
import { openNote, parseNote, signNote } from '../audit/tlog/signed-note.ts';
import { LABEL_ID_PATTERN } from '../classification/scheme.ts';
import { lockboxError } from './errors.ts';
import {
  ATTESTATION_HEADER_MAX_CHARS,
  ATTESTATION_KEYS_MAX,
  ATTESTATION_MAX_VALIDITY_MS,
  ATTESTATION_NOTE_MAX_BYTES,
  PRINCIPAL_ID_MAX_CHARS,
} from './limits.ts';

/**
 * Operator attestations: the attributes the platform rules judge an operator by (clearance,
 * nationality, residency) are never free text typed by the operator. They come from a document
 * issued by the operator's security office, a C2SP signed note (c2sp.org/signed-note) whose text
 * is exactly two lines:
 *
 *     sovra-operator-attestation/v1
 *     {"subject":"<principal id>","clearance":"SECRET","nationality":"VN","residency":"VN","issuedAt":"<RFC 3339>","expiresAt":"<RFC 3339>"}
 *
 * The JSON line is canonical: those keys in that order, no whitespace, times as
 * `Date.prototype.toISOString` writes them (UTC, milliseconds); anything that does not re-encode
 * to the same bytes is refused, so one attestation has one encoding. It is signed with an Ed25519
 * note key (type 0x01) whose verifier key the platform operator configures
 * (`operatorAttestationKeys`); the key name identifies the issuing office. Operators present it
 * with every lockbox step and every use of an approval (header `x-sovra-operator-attestation`,
 * base64 of the note), so an expired attestation, or a key the platform stops trusting, ends
 * access at once.
 */
export const ATTESTATION_TYPE_LINE = 'sovra-operator-attestation/v1';
export const ATTESTATION_HEADER = 'x-sovra-operator-attestation';

/**
 * How far an office's issue (or revocation) time may lie in the future (clock drift between the
 * offices and the platform).
 */
export const ISSUED_AT_SKEW_MS = 5 * 60_000;

export interface OperatorAttestation {
  /** The operator's principal id (a principal of the root tenant). */
  subject: string;
  /** A classification level id of the profile the platform rules name. */
  clearance: string;
  /** ISO 3166-1 alpha-2. */
  nationality: string;
  /** ISO 3166-1 alpha-2: the country the operator lives in. */
  residency: string;
  issuedAtMs: number;
  expiresAtMs: number;
}

/** An attestation whose signature verified, with the key name of the office that signed it. */
export interface VerifiedAttestation extends OperatorAttestation {
  issuer: string;
  /**
   * The attestation's identity: hex SHA-256 of its note text (the two signed lines), which is
   * what a revocation of this one attestation names (attestation-revocation.ts). The text is
   * canonical, so one attestation has one identity whichever offices' signatures it carries.
   */
  sha256: string;
}

/** A principal id as attestations and revocations name their subject. */
export const PRINCIPAL_ID_PATTERN = new RegExp(
  `^[A-Za-z0-9][A-Za-z0-9._:@-]{0,${PRINCIPAL_ID_MAX_CHARS - 1}}$`,
);
const COUNTRY = /^[A-Z]{2}$/;
const CLAIM_KEYS = ['subject', 'clearance', 'nationality', 'residency', 'issuedAt', 'expiresAt'] as const;

/** The note text of an attestation (type line, canonical JSON line), after checking every claim. */
export function formatAttestationText(attestation: OperatorAttestation): string {
  const checked = checkClaims(attestation);
  const claims = {
    subject: checked.subject,
    clearance: checked.clearance,
    nationality: checked.nationality,
    residency: checked.residency,
    issuedAt: new Date(checked.issuedAtMs).toISOString(),
    expiresAt: new Date(checked.expiresAtMs).toISOString(),
  };
  return `${ATTESTATION_TYPE_LINE}\n${JSON.stringify(claims)}\n`;
}

/** Signs an attestation as its security office does (an Ed25519 note key). */
export async function signAttestation(attestation: OperatorAttestation, signer: NoteSigner): Promise<string> {
  if (signer.keyType !== 'ed25519') {
    throw lockboxError('InvalidAttestation', 'attestations are signed with an Ed25519 note key');
  }
  return signNote(formatAttestationText(attestation), [signer]);
}

/**
 * Verifies an attestation note against the configured office keys and checks it is in force at
 * `nowMs`. Refusals: InvalidAttestation (not signed by a trusted office, or not v1 canonical
 * form), AttestationExpired.
 */
export function openAttestation(
  note: string,
  verifiers: readonly NoteVerifier[],
  nowMs: number,
): VerifiedAttestation {
  if (typeof note !== 'string' || Buffer.byteLength(note, 'utf8') > ATTESTATION_NOTE_MAX_BYTES) {
    throw lockboxError(
      'InvalidAttestation',
      `an attestation is a signed note of at most ${ATTESTATION_NOTE_MAX_BYTES} bytes`,
    );
  }
  let opened;
  try {
    opened = openNote(note, verifiers);
  } catch (error) {
    if (error instanceof TlogError) {
      throw lockboxError('InvalidAttestation', 'the attestation is not signed by a trusted security office', {
        cause: error.code,
      });
    }
    throw error;
  }
  const signer = opened.verifiedSignatures.find((signature) => signature.keyType === 'ed25519');
  if (signer === undefined) {
    throw lockboxError('InvalidAttestation', 'the attestation is not signed by a trusted security office');
  }
  const attestation = parseAttestationText(opened.text);
  if (attestation.issuedAtMs > nowMs + ISSUED_AT_SKEW_MS) {
    throw lockboxError('InvalidAttestation', 'the attestation is issued in the future');
  }
  if (nowMs >= attestation.expiresAtMs) {
    throw lockboxError(
      'AttestationExpired',
      `the attestation expired at ${new Date(attestation.expiresAtMs).toISOString()}`,
    );
  }
  return { ...attestation, issuer: signer.name, sha256: attestationTextSha256(opened.text) };
}

/** The identity of an attestation: hex SHA-256 of its note text (UTF-8). */
export function attestationTextSha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * An attestation's claims and identity read without verifying any signature: for the security
 * office's own tooling (`sovra access revoke-attestation --attestation`), never for a decision.
 * Refusals: InvalidAttestation (not a note, or not v1 canonical form).
 */
export function inspectAttestation(note: string): OperatorAttestation & { sha256: string } {
  if (typeof note !== 'string' || Buffer.byteLength(note, 'utf8') > ATTESTATION_NOTE_MAX_BYTES) {
    throw lockboxError(
      'InvalidAttestation',
      `an attestation is a signed note of at most ${ATTESTATION_NOTE_MAX_BYTES} bytes`,
    );
  }
  let text: string;
  try {
    text = parseNote(note).text;
  } catch (error) {
    if (error instanceof TlogError) {
      throw lockboxError('InvalidAttestation', 'the attestation is not a signed note', { cause: error.code });
    }
    throw error;
  }
  return { ...parseAttestationText(text), sha256: attestationTextSha256(text) };
}

/** The note carried by the `x-sovra-operator-attestation` header (base64 of the note's UTF-8). */
export function decodeAttestationHeader(value: string): string {
  const bytes =
    typeof value === 'string' && value.length <= ATTESTATION_HEADER_MAX_CHARS
      ? decodeBase64Strict(value.trim())
      : undefined;
  if (bytes === undefined) {
    throw lockboxError(
      'InvalidAttestation',
      `${ATTESTATION_HEADER} is the base64 of a signed attestation note`,
    );
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw lockboxError('InvalidAttestation', `${ATTESTATION_HEADER} does not hold UTF-8 text`);
  }
}

/** The header value that carries `note`. */
export function encodeAttestationHeader(note: string): string {
  return encodeBase64(Buffer.from(note, 'utf8'));
}

/**
 * The configured security offices' verifier keys (C2SP vkeys, Ed25519 only). A key that does not
 * parse is an InvalidAttestationKeys error naming its line, which the server reports as a
 * configuration error.
 */
export function parseAttestationKeys(vkeys: readonly string[]): NoteVerifier[] {
  if (vkeys.length > ATTESTATION_KEYS_MAX) {
    throw lockboxError(
      'InvalidAttestationKeys',
      `at most ${ATTESTATION_KEYS_MAX} attestation keys are allowed`,
    );
  }
  return vkeys.map((vkey, i) => {
    let verifier: NoteVerifier;
    try {
      verifier = parseVerifierKey(vkey);
    } catch (error) {
      throw lockboxError('InvalidAttestationKeys', `line ${i + 1}: ${(error as Error).message}`);
    }
    if (verifier.keyType !== 'ed25519') {
      throw lockboxError(
        'InvalidAttestationKeys',
        `line ${i + 1}: ${verifier.name} is not an Ed25519 note key`,
      );
    }
    return verifier;
  });
}

function parseAttestationText(text: string): OperatorAttestation {
  const lines = text.split('\n');
  // "type\njson\n" splits into three parts, the last empty.
  if (lines.length !== 3 || lines[0] !== ATTESTATION_TYPE_LINE || lines[2] !== '') {
    throw lockboxError(
      'InvalidAttestation',
      `the attestation text is "${ATTESTATION_TYPE_LINE}" and one JSON line`,
    );
  }
  const jsonLine = lines[1]!;
  let parsed: unknown;
  try {
    parsed = JSON.parse(jsonLine);
  } catch {
    throw lockboxError('InvalidAttestation', 'the attestation claims are not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw lockboxError('InvalidAttestation', 'the attestation claims are a JSON object');
  }
  const claims: Record<string, unknown> = { ...parsed };
  const keys = Object.keys(claims);
  if (keys.length !== CLAIM_KEYS.length || CLAIM_KEYS.some((key, i) => keys[i] !== key)) {
    throw lockboxError(
      'InvalidAttestation',
      `the attestation claims are exactly ${CLAIM_KEYS.join(', ')}, in that order`,
    );
  }
  const attestation = checkClaims({
    subject: claims.subject,
    clearance: claims.clearance,
    nationality: claims.nationality,
    residency: claims.residency,
    issuedAtMs: timeClaim(claims.issuedAt, 'issuedAt'),
    expiresAtMs: timeClaim(claims.expiresAt, 'expiresAt'),
  });
  if (formatAttestationText(attestation) !== text) {
    throw lockboxError('InvalidAttestation', 'the attestation is not in canonical form');
  }
  return attestation;
}

/** Checks every claim's type and form (hostile input: the values may be anything JSON holds). */
function checkClaims(claims: Readonly<Record<keyof OperatorAttestation, unknown>>): OperatorAttestation {
  const { subject, clearance, nationality, residency, issuedAtMs, expiresAtMs } = claims;
  if (typeof subject !== 'string' || !PRINCIPAL_ID_PATTERN.test(subject)) {
    throw lockboxError('InvalidAttestation', 'the attestation subject is a principal id');
  }
  if (typeof clearance !== 'string' || !LABEL_ID_PATTERN.test(clearance)) {
    throw lockboxError('InvalidAttestation', 'the attested clearance is a classification level id');
  }
  if (typeof nationality !== 'string' || !COUNTRY.test(nationality)) {
    throw lockboxError('InvalidAttestation', 'the attested nationality is an ISO 3166-1 alpha-2 code');
  }
  if (typeof residency !== 'string' || !COUNTRY.test(residency)) {
    throw lockboxError('InvalidAttestation', 'the attested residency is an ISO 3166-1 alpha-2 code');
  }
  if (!isTime(issuedAtMs) || !isTime(expiresAtMs) || expiresAtMs <= issuedAtMs) {
    throw lockboxError('InvalidAttestation', 'an attestation expires after it is issued');
  }
  if (expiresAtMs - issuedAtMs > ATTESTATION_MAX_VALIDITY_MS) {
    throw lockboxError('InvalidAttestation', 'an attestation is valid for at most a year');
  }
  return { subject, clearance, nationality, residency, issuedAtMs, expiresAtMs };
}

function timeClaim(value: unknown, name: string): number {
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms) || new Date(ms).toISOString() !== value) {
    throw lockboxError('InvalidAttestation', `${name} is an RFC 3339 UTC time as toISOString writes it`);
  }
  return ms;
}

function isTime(value: unknown): value is number {
  // Dates that toISOString can write: years 0000-9999.
  return (
    typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value < 253_402_300_800_000
  );
}
