import type { Clock } from '../../platform/clock.ts';
import type { NoteVerifier } from '../audit/tlog/note-keys.ts';
import { ROOT_TENANT_ID } from '../iam/bootstrap.ts';
import { UNKNOWN_JURISDICTION } from '../residency/jurisdiction.ts';
import type { VerifiedAttestation } from './attestation.ts';
import {
  openAttestationRevocation,
  revokes,
  type VerifiedAttestationRevocation,
} from './attestation-revocation.ts';
import { attestationRevocationRecord, type StepActor } from './audit-records.ts';
import { LockboxError, lockboxError } from './errors.ts';
import {
  REVOCATION_LIST_PAGE_DEFAULT,
  REVOCATION_LIST_PAGE_MAX,
  REVOCATION_REFRESH_BATCH_MAX,
  REVOCATION_REFRESH_INTERVAL_MS,
} from './limits.ts';
import type { AttestationRevocationStore, AuditSink } from './ports.ts';

/** Version of a stored revocation (table attestation_revocations, migration 15). */
export const ATTESTATION_REVOCATION_FORMAT = 1;

/** A revocation the platform accepted. */
export interface StoredAttestationRevocation extends VerifiedAttestationRevocation {
  format: typeof ATTESTATION_REVOCATION_FORMAT;
  /** Acceptance order across all gateways (1, 2, …): the listing cursor. */
  seq: number;
  /** The signed note as submitted: the evidence of the office's decision. */
  note: string;
  /** The root-tenant principal that submitted it. */
  submittedBy: string;
  acceptedAtMs: number;
}

export type NewAttestationRevocation = Omit<StoredAttestationRevocation, 'seq'>;

/** Who submits or lists revocations: an authenticated principal, from where. */
export interface RevocationCaller {
  principalId: string;
  principalTenantId: string;
  sourceIp: string | null;
  /** The HTTP request id, copied into audit records. */
  requestId: string | null;
}

export interface RevocationPage {
  revocations: StoredAttestationRevocation[];
  /** Pass as afterSeq for the next page; null when this was the last. */
  nextAfterSeq: number | null;
}

export interface AttestationRevocationsOptions {
  store: AttestationRevocationStore;
  /** The security offices' verifier keys: the same that sign attestations. */
  attestationKeys: readonly NoteVerifier[];
  audit: AuditSink;
  jurisdictions: { jurisdictionOf(address: string): string };
  clock: Clock;
}

/** One subject's revocations, as the judgement needs them. */
interface SubjectRevocations {
  /** The revocation of everything issued before the latest instant any revocation names. */
  issuedBefore: StoredAttestationRevocation | null;
  /** Revocations of single attestations, by the attestation's identity. */
  attestations: Map<string, StoredAttestationRevocation>;
}

/**
 * The security offices' revocations of operator attestations (attestation-revocation.ts). A
 * revocation is submitted by a platform operator (a principal of the root tenant) but its
 * authority is the office's signature, checked against the same keys as attestations; accepted
 * ones are appended to the metadata database, which every gateway shares, and every submission,
 * accepted or refused, is an 'access-approval' record of the root tenant.
 *
 * OperatorEligibility asks `revocationOf` at filing, at break-glass confirmation and at every use
 * of an approval, and refuses a revoked attestation as it refuses an expired one. The answer
 * comes from memory: each gateway keeps every accepted revocation indexed by subject and reads on
 * from the last one it has (seq order is commit order, AttestationRevocationStore) whenever its
 * copy is REVOCATION_REFRESH_INTERVAL_MS old, before it answers. So a revocation binds the
 * gateway that accepted it before it answers the submission, and every other gateway for every
 * judgement starting REVOCATION_REFRESH_INTERVAL_MS or later after its commit. A refresh that
 * fails (database unavailable) fails the judgement: nothing is granted on a stale copy. The copy
 * grows by one small entry per revocation and keeps, per subject, only the latest issued-before
 * instant; offices revoke by hand, so it stays small.
 */
export class AttestationRevocations {
  readonly #o: AttestationRevocationsOptions;
  readonly #bySubject = new Map<string, SubjectRevocations>();
  /** The highest seq read from the store; the next refresh reads on from there. */
  #lastSeq = 0;
  /** Clock time at which the newest complete refresh started reading. */
  #refreshedAtMs = Number.NEGATIVE_INFINITY;
  #refreshing: Promise<void> | null = null;

  constructor(options: AttestationRevocationsOptions) {
    this.#o = options;
  }

  /**
   * A security office's revocation note, submitted by a platform operator: verified, stored once
   * (a second submission of the same note changes nothing), in force on this gateway at once.
   * Refusals: NotAnOperator, InvalidAttestationRevocation.
   */
  async submit(
    caller: RevocationCaller,
    note: unknown,
  ): Promise<{ revocation: StoredAttestationRevocation; created: boolean }> {
    const nowMs = this.#o.clock.nowMs();
    const actor = this.#actor(caller);
    let verified: VerifiedAttestationRevocation | null = null;
    try {
      if (caller.principalTenantId !== ROOT_TENANT_ID) {
        throw lockboxError(
          'NotAnOperator',
          'only platform operators (principals of the root tenant) submit attestation revocations',
        );
      }
      if (typeof note !== 'string')
        throw lockboxError('InvalidAttestationRevocation', 'a revocation is a signed note');
      verified = openAttestationRevocation(note, this.#o.attestationKeys, nowMs);
      const stored = await this.#o.store.appendRevocation({
        ...verified,
        format: ATTESTATION_REVOCATION_FORMAT,
        note,
        submittedBy: caller.principalId,
        acceptedAtMs: nowMs,
      });
      this.#index(stored.revocation);
      await this.#o.audit.record(
        attestationRevocationRecord({
          revocation: stored.revocation,
          duplicate: !stored.created,
          actor,
          refusal: null,
          timeMs: nowMs,
        }),
      );
      return stored;
    } catch (error) {
      if (error instanceof LockboxError) {
        await this.#o.audit.record(
          attestationRevocationRecord({
            revocation: verified,
            duplicate: false,
            actor,
            refusal: { code: error.code, reason: error.message },
            timeMs: nowMs,
          }),
        );
      }
      throw error;
    }
  }

  /** Accepted revocations in acceptance order; platform operators only (NotAnOperator). */
  async list(
    caller: RevocationCaller,
    query: { afterSeq: number | null; limit: number | null },
  ): Promise<RevocationPage> {
    if (caller.principalTenantId !== ROOT_TENANT_ID) {
      throw lockboxError(
        'NotAnOperator',
        'only platform operators (principals of the root tenant) list attestation revocations',
      );
    }
    const limit = query.limit ?? REVOCATION_LIST_PAGE_DEFAULT;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > REVOCATION_LIST_PAGE_MAX) {
      throw lockboxError('MalformedAccessRequest', `limit is from 1 to ${REVOCATION_LIST_PAGE_MAX}`);
    }
    const afterSeq = query.afterSeq ?? 0;
    if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) {
      throw lockboxError('MalformedAccessRequest', 'after is the seq of a listed revocation');
    }
    const revocations = await this.#o.store.listRevocations(afterSeq, limit);
    return {
      revocations,
      nextAfterSeq: revocations.length === limit ? revocations.at(-1)!.seq : null,
    };
  }

  /**
   * The accepted revocation that ends `attestation` (a verified one), or null. Reads the
   * revocations stored since the last refresh first when that is REVOCATION_REFRESH_INTERVAL_MS
   * old at `nowMs`; rejects when that read fails.
   */
  async revocationOf(
    attestation: VerifiedAttestation,
    nowMs: number,
  ): Promise<StoredAttestationRevocation | null> {
    // Twice at most: a read already under way may have started too early; one started now has not.
    for (
      let reads = 0;
      reads < 2 && nowMs - this.#refreshedAtMs >= REVOCATION_REFRESH_INTERVAL_MS;
      reads += 1
    ) {
      await this.refresh();
    }
    const subject = this.#bySubject.get(attestation.subject);
    if (subject === undefined) return null;
    const byTime = subject.issuedBefore;
    if (byTime !== null && revokes(byTime, attestation)) return byTime;
    return subject.attestations.get(attestation.sha256) ?? null;
  }

  /**
   * Reads every revocation stored after the last one this gateway has. Concurrent callers share
   * one read; the refresh time is when the read started, so nothing committed before it is missed.
   */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#readOn().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  async #readOn(): Promise<void> {
    const startedAtMs = this.#o.clock.nowMs();
    for (;;) {
      const batch = await this.#o.store.listRevocations(this.#lastSeq, REVOCATION_REFRESH_BATCH_MAX);
      for (const revocation of batch) {
        this.#index(revocation);
        this.#lastSeq = Math.max(this.#lastSeq, revocation.seq);
      }
      if (batch.length < REVOCATION_REFRESH_BATCH_MAX) break;
    }
    this.#refreshedAtMs = startedAtMs;
  }

  /**
   * Adds a revocation to the in-memory index. Idempotent; it does not move #lastSeq, so a
   * revocation this gateway accepted ahead of others' does not make the next refresh skip theirs.
   */
  #index(revocation: StoredAttestationRevocation): void {
    let subject = this.#bySubject.get(revocation.subject);
    if (subject === undefined) {
      subject = { issuedBefore: null, attestations: new Map() };
      this.#bySubject.set(revocation.subject, subject);
    }
    const { revoked } = revocation;
    if (revoked.kind === 'attestation') {
      subject.attestations.set(revoked.attestationSha256, revocation);
      return;
    }
    const current = subject.issuedBefore?.revoked;
    if (current?.kind !== 'issued-before' || revoked.issuedBeforeMs > current.issuedBeforeMs) {
      subject.issuedBefore = revocation;
    }
  }

  #actor(caller: RevocationCaller): StepActor {
    return {
      principalId: caller.principalId,
      tenantId: caller.principalTenantId,
      sourceIp: caller.sourceIp,
      sourceJurisdiction:
        caller.sourceIp === null
          ? UNKNOWN_JURISDICTION
          : this.#o.jurisdictions.jurisdictionOf(caller.sourceIp),
      requestId: caller.requestId,
    };
  }
}
