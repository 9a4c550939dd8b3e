import type { NoteVerifier } from '../audit/tlog/note-keys.ts';
import { ROOT_TENANT_ID } from '../iam/bootstrap.ts';
import { UNKNOWN_JURISDICTION } from '../residency/jurisdiction.ts';
import { openAttestation, type VerifiedAttestation } from './attestation.ts';
import type { VerifiedAttestationRevocation } from './attestation-revocation.ts';
import { lockboxError } from './errors.ts';
import { ruleViolation, type OperatorAccessRules } from './rules.ts';

/** Who presents themselves as an operator, from where, with what attestation. */
export interface OperatorPresentation {
  principalId: string;
  principalTenantId: string;
  /** The attestation note (decoded from `x-sovra-operator-attestation`), or null when none came. */
  attestationNote: string | null;
  /** The connection's source address; null counts as an unknown network. */
  sourceIp: string | null;
}

/** An operator found eligible: the attested claims and the network they connect from now. */
export interface OperatorStanding {
  attestation: VerifiedAttestation;
  sourceJurisdiction: string;
  /** The rules the operator satisfied (durations and break-glass settings come from them). */
  rules: OperatorAccessRules;
}

export interface OperatorEligibilityOptions {
  /** The platform rules; null when the platform configured none, and then nobody is eligible. */
  rules: OperatorAccessRules | null;
  /** The security offices' Ed25519 verifier keys; empty means nobody is eligible. */
  attestationKeys: readonly NoteVerifier[];
  jurisdictions: { jurisdictionOf(address: string): string };
  /** The security offices' revocations (AttestationRevocations). */
  revocations: AttestationRevocationCheck;
}

/** Which accepted revocation, if any, ends a verified attestation (AttestationRevocations). */
export interface AttestationRevocationCheck {
  revocationOf(
    attestation: VerifiedAttestation,
    nowMs: number,
  ): Promise<VerifiedAttestationRevocation | null>;
}

/**
 * Judges whether a principal may act as a platform operator right now: it is a principal of the
 * root tenant, it presents an attestation signed by a trusted security office, in force (neither
 * expired nor revoked by the office), naming it, and the attested clearance, nationality and
 * residency and the network it connects from satisfy the platform rules. Used at filing, at break-glass confirmation and at every use of an
 * approval, so nothing judged once is trusted later.
 */
export class OperatorEligibility {
  readonly #o: OperatorEligibilityOptions;

  constructor(options: OperatorEligibilityOptions) {
    this.#o = options;
  }

  /**
   * The operator's standing, or a LockboxError saying why it has none. Rejects with another error
   * only when the revocations cannot be read; the caller then refuses.
   */
  async assess(presentation: OperatorPresentation, nowMs: number): Promise<OperatorStanding> {
    if (presentation.principalTenantId !== ROOT_TENANT_ID) {
      throw lockboxError(
        'NotAnOperator',
        'only platform operators (principals of the root tenant) request access to tenant data',
      );
    }
    const rules = this.#o.rules;
    if (rules === null || this.#o.attestationKeys.length === 0) {
      throw lockboxError(
        'OperatorAccessDisabled',
        'operator access is disabled: the platform has no operator access rules or no attestation keys',
      );
    }
    if (presentation.attestationNote === null) {
      throw lockboxError(
        'AttestationRequired',
        'an operator presents the attestation of its security office',
      );
    }
    const attestation = openAttestation(presentation.attestationNote, this.#o.attestationKeys, nowMs);
    if (attestation.subject !== presentation.principalId) {
      throw lockboxError('AttestationSubjectMismatch', 'the attestation was issued for another principal');
    }
    // A revoked attestation is refused as an expired one is: at filing, confirmation and every use.
    const revocation = await this.#o.revocations.revocationOf(attestation, nowMs);
    if (revocation !== null) {
      throw lockboxError(
        'AttestationRevoked',
        `the attestation was revoked by ${revocation.issuer} at ${new Date(revocation.revokedAtMs).toISOString()}: ${revocation.reason}`,
        { revocationId: revocation.id },
      );
    }
    const sourceJurisdiction =
      presentation.sourceIp === null
        ? UNKNOWN_JURISDICTION
        : this.#o.jurisdictions.jurisdictionOf(presentation.sourceIp);
    const violation = ruleViolation(rules, attestation, sourceJurisdiction);
    if (violation !== null) throw lockboxError('OperatorNotEligible', violation, { sourceJurisdiction });
    return { attestation, sourceJurisdiction, rules };
  }

  /** The network jurisdiction of an address, for records of steps that need no attestation. */
  jurisdictionOf(sourceIp: string | null): string {
    return sourceIp === null ? UNKNOWN_JURISDICTION : this.#o.jurisdictions.jurisdictionOf(sourceIp);
  }
}
