import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { generateNoteKey, parseSignerKey } from '../../src/domain/audit/tlog/note-keys.ts';
import { signNote } from '../../src/domain/audit/tlog/signed-note.ts';
import {
  decodeAttestationHeader,
  encodeAttestationHeader,
  formatAttestationText,
  openAttestation,
  parseAttestationKeys,
  signAttestation,
  type OperatorAttestation,
} from '../../src/domain/lockbox/attestation.ts';
import { LockboxError, type LockboxErrorCode } from '../../src/domain/lockbox/errors.ts';
import { parseOperatorAccessRules, ruleViolation } from '../../src/domain/lockbox/rules.ts';
import { systemClock } from '../../src/platform/clock.ts';

const NOW_MS = Date.parse('2030-06-01T12:00:00.000Z');
const office = generateNoteKey('ed25519', 'security-office.gov.vn');
const signer = parseSignerKey(office.signerKey, systemClock);
const verifiers = parseAttestationKeys([office.verifierKey]);

const CLAIMS: OperatorAttestation = {
  subject: 'user-0123abcd',
  clearance: 'SECRET',
  nationality: 'VN',
  residency: 'VN',
  issuedAtMs: NOW_MS - 3_600_000,
  expiresAtMs: NOW_MS + 86_400_000,
};

function throwsCode(run: () => unknown, code: LockboxErrorCode): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof LockboxError, String(error));
    assert.equal(error.code, code, error.message);
    return true;
  });
}

describe('operator attestations (sovra-operator-attestation/v1 signed notes)', () => {
  test('the note text is the type line and one canonical JSON line (golden)', () => {
    assert.equal(
      formatAttestationText(CLAIMS),
      'sovra-operator-attestation/v1\n' +
        '{"subject":"user-0123abcd","clearance":"SECRET","nationality":"VN","residency":"VN",' +
        '"issuedAt":"2030-06-01T11:00:00.000Z","expiresAt":"2030-06-02T12:00:00.000Z"}\n',
    );
  });

  test('an attestation signed by a configured office opens with its claims and the office as issuer', async () => {
    const note = await signAttestation(CLAIMS, signer);
    assert.deepEqual(openAttestation(note, verifiers, NOW_MS), {
      ...CLAIMS,
      issuer: 'security-office.gov.vn',
    });
    // It travels base64-encoded in x-sovra-operator-attestation.
    assert.equal(decodeAttestationHeader(encodeAttestationHeader(note)), note);
  });

  test('an attestation expires at its expiry instant, not a millisecond later', async () => {
    const note = await signAttestation(CLAIMS, signer);
    assert.equal(openAttestation(note, verifiers, CLAIMS.expiresAtMs - 1).subject, CLAIMS.subject);
    throwsCode(() => openAttestation(note, verifiers, CLAIMS.expiresAtMs), 'AttestationExpired');
  });

  test('an unknown office, altered claims, or a non-canonical text is refused as InvalidAttestation', async () => {
    const stranger = parseSignerKey(
      generateNoteKey('ed25519', 'other-office.example').signerKey,
      systemClock,
    );
    throwsCode(() => openAttestation('', verifiers, NOW_MS), 'InvalidAttestation');
    const fromStranger = await signAttestation(CLAIMS, stranger);
    throwsCode(() => openAttestation(fromStranger, verifiers, NOW_MS), 'InvalidAttestation');
    const note = await signAttestation(CLAIMS, signer);
    throwsCode(() => openAttestation(note.replace('"VN"', '"SG"'), verifiers, NOW_MS), 'InvalidAttestation');
    // Signed by the office itself, but not canonical v1 text: each is refused.
    const text = formatAttestationText(CLAIMS);
    const variants = [
      text.replace('{"subject"', '{ "subject"'),
      text.replace('"clearance":"SECRET","nationality":"VN"', '"nationality":"VN","clearance":"SECRET"'),
      text.replace('"residency":"VN"', '"residency":"VN","admin":true'),
      text.replace('"clearance":"SECRET"', '"clearance":7'),
      text.replace('"nationality":"VN"', '"nationality":"vn"'),
      text.replace('/v1', '/v2'),
      text.replace('.000Z"}', 'Z"}'),
      `${text}{}\n`,
    ];
    for (const variant of variants) {
      const signed = await signNote(variant, [signer]);
      throwsCode(() => openAttestation(signed, verifiers, NOW_MS), 'InvalidAttestation');
    }
  });

  test('claims are checked before signing: a year of validity at most, expiry after issue', async () => {
    await assert.rejects(
      signAttestation({ ...CLAIMS, expiresAtMs: CLAIMS.issuedAtMs + 367 * 86_400_000 }, signer),
      LockboxError,
    );
    await assert.rejects(
      signAttestation({ ...CLAIMS, expiresAtMs: CLAIMS.issuedAtMs }, signer),
      LockboxError,
    );
    await assert.rejects(signAttestation({ ...CLAIMS, subject: 'has space' }, signer), LockboxError);
    const issuedLater = await signAttestation(
      { ...CLAIMS, issuedAtMs: NOW_MS + 3_600_000, expiresAtMs: NOW_MS + 7_200_000 },
      signer,
    );
    throwsCode(() => openAttestation(issuedLater, verifiers, NOW_MS), 'InvalidAttestation');
  });

  test('the header must be canonical base64 of UTF-8 and bounded', () => {
    throwsCode(() => decodeAttestationHeader('not base64!'), 'InvalidAttestation');
    throwsCode(
      () => decodeAttestationHeader(Buffer.from([0xff, 0xfe]).toString('base64')),
      'InvalidAttestation',
    );
    throwsCode(() => decodeAttestationHeader('A'.repeat(10_000)), 'InvalidAttestation');
  });

  test('only Ed25519 vkeys are accepted as attestation keys, each named by its line when wrong', () => {
    const cosigner = generateNoteKey('cosignature/v1', 'witness.example');
    throwsCode(
      () => parseAttestationKeys([office.verifierKey, cosigner.verifierKey]),
      'InvalidAttestationKeys',
    );
    assert.throws(() => parseAttestationKeys(['garbage']), /line 1/);
  });
});

describe('operator access rules', () => {
  const rules = parseOperatorAccessRules(
    JSON.stringify({
      // Mật (secret) in the Vietnamese profile; Tối mật and Tuyệt mật rank above it.
      minClearance: 'MAT',
      profile: 'vietnam',
      nationalities: ['VN'],
      residencies: ['VN'],
      networkJurisdictions: ['VN'],
      maxDurationSeconds: 28_800,
      breakGlass: { enabled: true },
    }),
  );

  test('the break-glass duration defaults to the standard maximum', () => {
    assert.equal(rules.breakGlass.maxDurationSeconds, 28_800);
    assert.equal(rules.scheme.profile, 'vietnam');
  });

  test('an operator is judged on clearance rank, nationality, residency and network, in that order', () => {
    const levels = rules.scheme.levels.map((level) => level.id);
    const above = levels.at(-1)!;
    const below = levels[rules.scheme.levels.indexOf(rules.minClearance) - 1]!;
    const claims = { ...CLAIMS, clearance: above };
    assert.equal(ruleViolation(rules, claims, 'VN'), null);
    assert.match(ruleViolation(rules, { ...claims, clearance: below }, 'VN') ?? '', /below/);
    assert.match(ruleViolation(rules, { ...claims, nationality: 'SG' }, 'VN') ?? '', /nationality/);
    assert.match(ruleViolation(rules, { ...claims, residency: 'SG' }, 'VN') ?? '', /residency/);
    assert.match(ruleViolation(rules, claims, 'unknown') ?? '', /outside the allowed networks/);
  });

  test('an invalid rules document is refused with a reason: unknown keys, empty lists, unknown levels, durations', () => {
    const valid = {
      minClearance: 'SECRET',
      nationalities: ['VN'],
      residencies: ['VN'],
      networkJurisdictions: ['VN'],
      maxDurationSeconds: 3600,
    };
    assert.equal(
      parseOperatorAccessRules(JSON.stringify(valid)).breakGlass.enabled,
      false,
      'break-glass is off by default',
    );
    for (const [document, reason] of [
      ['{', /not valid JSON/],
      ['[]', /JSON object/],
      [JSON.stringify({ ...valid, anyone: true }), /unknown key "anyone"/],
      [JSON.stringify({ ...valid, nationalities: [] }), /nationalities/],
      [JSON.stringify({ ...valid, residencies: ['vn'] }), /residencies/],
      [JSON.stringify({ ...valid, minClearance: 'ULTRA' }), /ULTRA/],
      [JSON.stringify({ ...valid, profile: 'atlantis' }), /atlantis/],
      [JSON.stringify({ ...valid, maxDurationSeconds: 30 }), /maxDurationSeconds/],
      [JSON.stringify({ ...valid, maxDurationSeconds: 8 * 86_400 }), /maxDurationSeconds/],
      [JSON.stringify({ ...valid, breakGlass: { enabled: 'yes' } }), /breakGlass.enabled/],
      [JSON.stringify({ ...valid, formatVersion: 2 }), /formatVersion/],
    ] as const) {
      assert.throws(
        () => parseOperatorAccessRules(document),
        (error: unknown) =>
          error instanceof LockboxError &&
          error.code === 'InvalidOperatorAccessRules' &&
          reason.test(error.message),
      );
    }
  });
});
