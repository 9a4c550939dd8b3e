import { TlogError } from '../audit/tlog/errors.ts';
import type { NoteSigner, NoteVerifier } from '../audit/tlog/note-keys.ts';
import { openNote, signNote } from '../audit/tlog/signed-note.ts';
import {
  attestationTextSha256,
  ISSUED_AT_SKEW_MS,
  PRINCIPAL_ID_PATTERN,
  type VerifiedAttestation,
} from './attestation.ts';
import { lockboxError } from './errors.ts';
import { ATTESTATION_REVOCATION_NOTE_MAX_BYTES, REVOCATION_REASON_MAX_CHARS } from './limits.ts';

/**
 * Revocations of operator attestations: the security office that issued an attestation ends it
 * before its expiry with a document of its own, a C2SP signed note (c2sp.org/signed-note) whose
 * text is exactly two lines, in one of two forms:
 *
 *     sovra-operator-attestation-revocation/v1
 *     {"subject":"<principal id>","attestationSha256":"<64 hex>","reason":"<text>","revokedAt":"<RFC 3339>"}
 *
 *     sovra-operator-attestation-revocation/v1
 *     {"subject":"<principal id>","issuedBefore":"<RFC 3339>","reason":"<text>","revokedAt":"<RFC 3339>"}
 *
 * The first revokes one attestation, named by its identity (hex SHA-256 of its note text,
 * VerifiedAttestation.sha256); the second every attestation of the subject issued before that
 * instant (a withdrawn clearance: the office re-attests what still holds). As for attestations, the
 * JSON line is canonical — those keys in that order, no whitespace, times as toISOString writes
 * them — and anything else is refused, so one revocation has one encoding and one identity (the
 * hex SHA-256 of its text). It is signed with an Ed25519 note key of the same security offices
 * whose attestations the platform trusts (`operatorAttestationKeys`): the signature is the
 * authority, whoever submits it.
 */
export const ATTESTATION_REVOCATION_TYPE_LINE = 'sovra-operator-attestation-revocation/v1';

/** What a revocation ends: one attestation, or all of the subject's issued before an instant. */
export type RevokedAttestations =
  { kind: 'attestation'; attestationSha256: string } | { kind: 'issued-before'; issuedBeforeMs: number };

export interface AttestationRevocation {
  /** The operator's principal id, as the revoked attestations name it. */
  subject: string;
  revoked: RevokedAttestations;
  /** Why the office revoked (a withdrawn clearance, a move abroad, …). */
  reason: string;
  /** When the office revoked, by its own clock. */
  revokedAtMs: number;
}

/** A revocation whose signature verified: the office that signed it and the revocation's identity. */
export interface VerifiedAttestationRevocation extends AttestationRevocation {
  issuer: string;
  /** Hex SHA-256 of the note text: the same revocation submitted twice is stored once. */
  id: string;
}

/** A revocation's fields as read, before their types are checked. */
interface RevocationFields {
  subject: unknown;
  revoked:
    { kind: 'attestation'; attestationSha256: unknown } | { kind: 'issued-before'; issuedBeforeMs: unknown };
  reason: unknown;
  revokedAtMs: unknown;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const ONE_ATTESTATION_KEYS = ['subject', 'attestationSha256', 'reason', 'revokedAt'] as const;
const ISSUED_BEFORE_KEYS = ['subject', 'issuedBefore', 'reason', 'revokedAt'] as const;

/** The note text of a revocation (type line, canonical JSON line), after checking every field. */
export function formatAttestationRevocationText(revocation: AttestationRevocation): string {
  const checked = checkRevocation(revocation);
  const target =
    checked.revoked.kind === 'attestation'
      ? { attestationSha256: checked.revoked.attestationSha256 }
      : { issuedBefore: new Date(checked.revoked.issuedBeforeMs).toISOString() };
  const fields = {
    subject: checked.subject,
    ...target,
    reason: checked.reason,
    revokedAt: new Date(checked.revokedAtMs).toISOString(),
  };
  return `${ATTESTATION_REVOCATION_TYPE_LINE}\n${JSON.stringify(fields)}\n`;
}

/** Signs a revocation as its security office does (an Ed25519 note key). */
export async function signAttestationRevocation(
  revocation: AttestationRevocation,
  signer: NoteSigner,
): Promise<string> {
  if (signer.keyType !== 'ed25519') {
    throw lockboxError('InvalidAttestationRevocation', 'revocations are signed with an Ed25519 note key');
  }
  return signNote(formatAttestationRevocationText(revocation), [signer]);
}

/**
 * Verifies a revocation note against the configured office keys. Refusals, all
 * InvalidAttestationRevocation: larger than ATTESTATION_REVOCATION_NOTE_MAX_BYTES, not signed by
 * a trusted office, not v1 canonical form, or dated in the future (beyond clock skew) at `nowMs`.
 */
export function openAttestationRevocation(
  note: string,
  verifiers: readonly NoteVerifier[],
  nowMs: number,
): VerifiedAttestationRevocation {
  if (typeof note !== 'string' || Buffer.byteLength(note, 'utf8') > ATTESTATION_REVOCATION_NOTE_MAX_BYTES) {
    throw invalid(`a revocation is a signed note of at most ${ATTESTATION_REVOCATION_NOTE_MAX_BYTES} bytes`);
  }
  if (verifiers.length === 0) {
    throw invalid('the platform trusts no security office keys (operatorAttestationKeys)');
  }
  let opened;
  try {
    opened = openNote(note, verifiers);
  } catch (error) {
    if (error instanceof TlogError) {
      throw lockboxError(
        'InvalidAttestationRevocation',
        'the revocation is not signed by a trusted security office',
        { cause: error.code },
      );
    }
    throw error;
  }
  const signer = opened.verifiedSignatures.find((signature) => signature.keyType === 'ed25519');
  if (signer === undefined) throw invalid('the revocation is not signed by a trusted security office');
  const revocation = parseRevocationText(opened.text);
  if (revocation.revokedAtMs > nowMs + ISSUED_AT_SKEW_MS)
    throw invalid('the revocation is dated in the future');
  return { ...revocation, issuer: signer.name, id: attestationTextSha256(opened.text) };
}

/** Whether `revocation` ends `attestation` (a verified attestation of its subject). */
export function revokes(revocation: AttestationRevocation, attestation: VerifiedAttestation): boolean {
  if (revocation.subject !== attestation.subject) return false;
  return revocation.revoked.kind === 'attestation'
    ? revocation.revoked.attestationSha256 === attestation.sha256
    : attestation.issuedAtMs < revocation.revoked.issuedBeforeMs;
}

function parseRevocationText(text: string): AttestationRevocation {
  const lines = text.split('\n');
  // "type\njson\n" splits into three parts, the last empty.
  if (lines.length !== 3 || lines[0] !== ATTESTATION_REVOCATION_TYPE_LINE || lines[2] !== '') {
    throw invalid(`the revocation text is "${ATTESTATION_REVOCATION_TYPE_LINE}" and one JSON line`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(lines[1]!);
  } catch {
    throw invalid('the revocation is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid('the revocation is a JSON object');
  }
  const fields: Record<string, unknown> = { ...parsed };
  const keys = Object.keys(fields);
  const form = [ONE_ATTESTATION_KEYS, ISSUED_BEFORE_KEYS].find(
    (expected) => keys.length === expected.length && expected.every((key, i) => keys[i] === key),
  );
  if (form === undefined) {
    throw invalid(
      `the revocation's fields are exactly ${ONE_ATTESTATION_KEYS.join(', ')} or ` +
        `${ISSUED_BEFORE_KEYS.join(', ')}, in that order`,
    );
  }
  const revoked: RevocationFields['revoked'] =
    form === ONE_ATTESTATION_KEYS
      ? { kind: 'attestation', attestationSha256: fields.attestationSha256 }
      : { kind: 'issued-before', issuedBeforeMs: timeField(fields.issuedBefore, 'issuedBefore') };
  const revocation = checkRevocation({
    subject: fields.subject,
    revoked,
    reason: fields.reason,
    revokedAtMs: timeField(fields.revokedAt, 'revokedAt'),
  });
  if (formatAttestationRevocationText(revocation) !== text)
    throw invalid('the revocation is not in canonical form');
  return revocation;
}

/** Checks every field's type and form (hostile input: the values may be anything JSON holds). */
function checkRevocation(fields: RevocationFields): AttestationRevocation {
  const { subject, reason, revokedAtMs } = fields;
  if (typeof subject !== 'string' || !PRINCIPAL_ID_PATTERN.test(subject)) {
    throw invalid('the revocation subject is a principal id');
  }
  if (
    typeof reason !== 'string' ||
    reason.trim().length === 0 ||
    reason.length > REVOCATION_REASON_MAX_CHARS ||
    !reason.isWellFormed() ||
    CONTROL.test(reason)
  ) {
    throw invalid(
      `the reason is text of 1 to ${REVOCATION_REASON_MAX_CHARS} characters without control characters`,
    );
  }
  if (!isTime(revokedAtMs)) throw invalid('revokedAt is a time');
  let revoked: RevokedAttestations;
  if (fields.revoked.kind === 'attestation') {
    const { attestationSha256 } = fields.revoked;
    if (typeof attestationSha256 !== 'string' || !SHA256_HEX.test(attestationSha256)) {
      throw invalid('attestationSha256 is the hex SHA-256 (lower case) of the attestation’s note text');
    }
    revoked = { kind: 'attestation', attestationSha256 };
  } else {
    const { issuedBeforeMs } = fields.revoked;
    if (!isTime(issuedBeforeMs) || issuedBeforeMs > revokedAtMs) {
      throw invalid('issuedBefore is a time no later than revokedAt: an office revokes what it has issued');
    }
    revoked = { kind: 'issued-before', issuedBeforeMs };
  }
  return { subject, revoked, reason, revokedAtMs };
}

function timeField(value: unknown, name: string): number {
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms) || new Date(ms).toISOString() !== value) {
    throw invalid(`${name} is an RFC 3339 UTC time as toISOString writes it`);
  }
  return ms;
}

function isTime(value: unknown): value is number {
  // Dates that toISOString can write: years 0000-9999.
  return (
    typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value < 253_402_300_800_000
  );
}

function invalid(message: string) {
  return lockboxError('InvalidAttestationRevocation', message);
}
