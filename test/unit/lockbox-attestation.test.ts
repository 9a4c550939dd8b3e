import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { generateNoteKey, parseSignerKey } from '../../src/domain/audit/tlog/note-keys.ts';
import { signNote } from '../../src/domain/audit/tlog/signed-note.ts';
import {
  decodeAttestationHeader,
  encodeAttestationHeader,
  formatAttestationText,
  inspectAttestation,
  openAttestation,
  parseAttestationKeys,
  signAttestation,
  type OperatorAttestation,
} from '../../src/domain/lockbox/attestation.ts';
import {
  formatAttestationRevocationText,
  openAttestationRevocation,
  revokes,
  signAttestationRevocation,
  type AttestationRevocation,
} from '../../src/domain/lockbox/attestation-revocation.ts';
import { ATTESTATION_REVOCATION_NOTE_MAX_BYTES } from '../../src/domain/lockbox/limits.ts';
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
      // Its identity: the SHA-256 of the signed text, whatever signatures it carries.
      sha256: createHash('sha256').update(formatAttestationText(CLAIMS)).digest('hex'),
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

describe('attestation revocations (sovra-operator-attestation-revocation/v1 signed notes)', () => {
  const ONE: AttestationRevocation = {
    subject: CLAIMS.subject,
    revoked: { kind: 'attestation', attestationSha256: 'ab'.repeat(32) },
    reason: 'Clearance withdrawn by decision 12/2030',
    revokedAtMs: NOW_MS,
  };
  const ALL_BEFORE: AttestationRevocation = {
    ...ONE,
    revoked: { kind: 'issued-before', issuedBeforeMs: NOW_MS - 60_000 },
  };

  test('the note text is the type line and one canonical JSON line, in one of two forms (golden)', () => {
    assert.equal(
      formatAttestationRevocationText(ONE),
      'sovra-operator-attestation-revocation/v1\n' +
        `{"subject":"user-0123abcd","attestationSha256":"${'ab'.repeat(32)}",` +
        '"reason":"Clearance withdrawn by decision 12/2030","revokedAt":"2030-06-01T12:00:00.000Z"}\n',
    );
    assert.equal(
      formatAttestationRevocationText(ALL_BEFORE),
      'sovra-operator-attestation-revocation/v1\n' +
        '{"subject":"user-0123abcd","issuedBefore":"2030-06-01T11:59:00.000Z",' +
        '"reason":"Clearance withdrawn by decision 12/2030","revokedAt":"2030-06-01T12:00:00.000Z"}\n',
    );
  });

  test('a revocation signed by a configured office opens with its fields, the office and its identity', async () => {
    for (const revocation of [ONE, ALL_BEFORE]) {
      const note = await signAttestationRevocation(revocation, signer);
      assert.deepEqual(openAttestationRevocation(note, verifiers, NOW_MS), {
        ...revocation,
        issuer: 'security-office.gov.vn',
        id: createHash('sha256').update(formatAttestationRevocationText(revocation)).digest('hex'),
      });
    }
  });

  test('a revocation names one attestation by its identity, or all of the subject’s issued before an instant', async () => {
    const note = await signAttestation(CLAIMS, signer);
    const attestation = openAttestation(note, verifiers, NOW_MS);
    const inspected = inspectAttestation(note);
    assert.equal(inspected.sha256, attestation.sha256, 'the office’s tooling computes the same identity');
    assert.equal(inspected.subject, CLAIMS.subject);
    const byIdentity = {
      ...ONE,
      revoked: { kind: 'attestation', attestationSha256: attestation.sha256 },
    } as const;
    assert.equal(revokes(byIdentity, attestation), true);
    assert.equal(revokes(ONE, attestation), false, 'another attestation');
    assert.equal(revokes({ ...byIdentity, subject: 'someone-else' }, attestation), false);
    const reissued = openAttestation(
      await signAttestation({ ...CLAIMS, issuedAtMs: CLAIMS.issuedAtMs + 1 }, signer),
      verifiers,
      NOW_MS,
    );
    assert.equal(revokes(byIdentity, reissued), false, 'a new attestation is not the revoked one');
    const before = (issuedBeforeMs: number) =>
      ({ ...ONE, revoked: { kind: 'issued-before', issuedBeforeMs } }) as const;
    assert.equal(revokes(before(CLAIMS.issuedAtMs + 1), attestation), true);
    assert.equal(
      revokes(before(CLAIMS.issuedAtMs), attestation),
      false,
      'issued at the instant: not before it',
    );
  });

  test('an unknown office, a changed text, a non-canonical or unknown field, or an oversized note is refused', async () => {
    const stranger = parseSignerKey(
      generateNoteKey('ed25519', 'security-office.gov.vn').signerKey,
      systemClock,
    );
    const fromStranger = await signAttestationRevocation(ONE, stranger);
    throwsCode(
      () => openAttestationRevocation(fromStranger, verifiers, NOW_MS),
      'InvalidAttestationRevocation',
    );
    throwsCode(() => openAttestationRevocation(fromStranger, [], NOW_MS), 'InvalidAttestationRevocation');
    throwsCode(() => openAttestationRevocation('', verifiers, NOW_MS), 'InvalidAttestationRevocation');
    const genuine = await signAttestationRevocation(ONE, signer);
    throwsCode(
      () => openAttestationRevocation(genuine.replace('user-0123abcd', 'user-0123abce'), verifiers, NOW_MS),
      'InvalidAttestationRevocation',
    );
    // An attestation is not a revocation, though the same office signed it.
    const attestationNote = await signAttestation(CLAIMS, signer);
    throwsCode(
      () => openAttestationRevocation(attestationNote, verifiers, NOW_MS),
      'InvalidAttestationRevocation',
    );
    const text = formatAttestationRevocationText(ONE);
    const variants = [
      text.replace('{"subject"', '{ "subject"'),
      text.replace(
        '"reason":"Clearance withdrawn by decision 12/2030","revokedAt":"2030-06-01T12:00:00.000Z"',
        '"revokedAt":"2030-06-01T12:00:00.000Z","reason":"Clearance withdrawn by decision 12/2030"',
      ),
      text.replace('"revokedAt"', '"scope":"all","revokedAt"'),
      text.replace('"reason"', '"issuedBefore":"2030-06-01T11:00:00.000Z","reason"'),
      text.replace('"reason":"Clearance withdrawn by decision 12/2030",', ''),
      text.replace('ab'.repeat(32), 'AB'.repeat(32)),
      text.replace('ab'.repeat(32), 'ab'.repeat(31)),
      text.replace('.000Z"}', 'Z"}'),
      text.replace('"reason":"Clearance', '"reason":"\\u0007Clearance'),
      text.replace('"reason":"Clearance withdrawn by decision 12/2030"', '"reason":"   "'),
      text.replace('"subject":"user-0123abcd"', '"subject":["user-0123abcd"]'),
      text.replace('/v1', '/v2'),
      `${text}{}\n`,
    ];
    for (const variant of variants) {
      const signed = await signNote(variant, [signer]);
      throwsCode(() => openAttestationRevocation(signed, verifiers, NOW_MS), 'InvalidAttestationRevocation');
    }
    const oversized = await signNote(
      `${text.replace('Clearance', 'x'.repeat(ATTESTATION_REVOCATION_NOTE_MAX_BYTES))}`,
      [signer],
    );
    assert.ok(Buffer.byteLength(oversized) > ATTESTATION_REVOCATION_NOTE_MAX_BYTES);
    throwsCode(() => openAttestationRevocation(oversized, verifiers, NOW_MS), 'InvalidAttestationRevocation');
  });

  test('fields are checked before signing: a bounded reason, nothing revoked ahead of time, no future date', async () => {
    await assert.rejects(
      signAttestationRevocation({ ...ONE, reason: 'x'.repeat(513) }, signer),
      LockboxError,
    );
    await assert.rejects(signAttestationRevocation({ ...ONE, reason: 'line\nbreak' }, signer), LockboxError);
    await assert.rejects(
      signAttestationRevocation(
        { ...ONE, revoked: { kind: 'issued-before', issuedBeforeMs: ONE.revokedAtMs + 1 } },
        signer,
      ),
      LockboxError,
    );
    const dated = await signAttestationRevocation({ ...ONE, revokedAtMs: NOW_MS + 3_600_000 }, signer);
    throwsCode(() => openAttestationRevocation(dated, verifiers, NOW_MS), 'InvalidAttestationRevocation');
    assert.equal(
      openAttestationRevocation(dated, verifiers, NOW_MS + 3_600_000).revokedAtMs,
      NOW_MS + 3_600_000,
    );
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
