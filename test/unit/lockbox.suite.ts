import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SqlAccessApprovalStore } from '../../src/adapters/sql/access-approval-store.ts';
import { SqlAttestationRevocationStore } from '../../src/adapters/sql/attestation-revocation-store.ts';
import { SqlAuditLogStore } from '../../src/adapters/sql/audit-log-store.ts';
import type { SqlDatabase } from '../../src/adapters/sql/driver.ts';
import { AuditLog } from '../../src/domain/audit/audit-log.ts';
import { parseCanonicalRecord, type AuditRecord } from '../../src/domain/audit/records.ts';
import { DEFAULT_RETENTION_DAYS } from '../../src/domain/audit/retention.ts';
import { generateNoteKey, parseSignerKey, type NoteSigner } from '../../src/domain/audit/tlog/note-keys.ts';
import { ROOT_TENANT_ID } from '../../src/domain/iam/bootstrap.ts';
import { AccessApprovals, type LockboxCaller } from '../../src/domain/lockbox/access-approvals.ts';
import type { AccessRequest } from '../../src/domain/lockbox/access-request.ts';
import {
  openAttestation,
  parseAttestationKeys,
  signAttestation,
  type OperatorAttestation,
} from '../../src/domain/lockbox/attestation.ts';
import {
  signAttestationRevocation,
  type AttestationRevocation,
} from '../../src/domain/lockbox/attestation-revocation.ts';
import { AttestationRevocations } from '../../src/domain/lockbox/attestation-revocations.ts';
import { OperatorEligibility } from '../../src/domain/lockbox/eligibility.ts';
import { LockboxError, type LockboxErrorCode } from '../../src/domain/lockbox/errors.ts';
import {
  OperatorAccessGate,
  type OperatorAccessCheck,
  type OperatorAccessDecision,
} from '../../src/domain/lockbox/operator-access-gate.ts';
import { parseOperatorAccessRules } from '../../src/domain/lockbox/rules.ts';
import {
  SecurityNotifications,
  type SecurityEvent,
} from '../../src/domain/lockbox/security-notifications.ts';
import { JurisdictionMap } from '../../src/domain/residency/jurisdiction.ts';
import type { MetadataStore } from '../../src/domain/storage/ports.ts';
import { REVOCATION_REFRESH_INTERVAL_MS } from '../../src/domain/lockbox/limits.ts';
import type { Clock } from '../../src/platform/clock.ts';

/** The lockbox on a real metadata database, SQLite and PostgreSQL alike. */
export interface LockboxDatabase {
  db: SqlDatabase;
  metadata: MetadataStore;
  dispose: () => Promise<void>;
}

const HOUR_MS = 3_600_000;
const START_MS = Date.parse('2030-01-01T00:00:00.000Z');
const TENANT = 'agency-a';
const OTHER_TENANT = 'agency-b';
const BUCKET = 'case-files';
const KMS_KEY = '0b6f1c3e-8f5d-4a3b-9c2e-7d1a5b4c3e2f';
/** Addresses: loopback is the home jurisdiction (VN); this range is mapped abroad. */
const HOME_IP = '127.0.0.1';
const FOREIGN_IP = '203.0.113.7';
/** The operator's notification targets: ARN → destination id. */
const HOOKS_ARN = 'arn:sovra:sqs:us-east-1:hooks:webhook';
const BUS_ARN = 'arn:sovra:sqs:us-east-1:bus:nats';
const DESTINATIONS = new Map([
  [HOOKS_ARN, 'hooks'],
  [BUS_ARN, 'bus'],
]);

const RULES = {
  profile: 'generic',
  minClearance: 'SECRET',
  nationalities: ['VN'],
  residencies: ['VN'],
  networkJurisdictions: ['VN'],
  maxDurationSeconds: 28_800,
  breakGlass: { enabled: true, maxDurationSeconds: 3600 },
};

class TestClock implements Clock {
  ms = START_MS;
  now(): Date {
    return new Date(this.ms);
  }
  nowMs(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

interface Fixture {
  db: SqlDatabase;
  approvals: AccessApprovals;
  /** The same service as a second gateway on the same database would build it. */
  secondGateway: AccessApprovals;
  notifications: SecurityNotifications;
  /** The event outbox's rows, in order. */
  outbox(): Promise<{ destinationId: string; format: number; deliveryId: string; payload: string }[]>;
  gate: OperatorAccessGate;
  /** The security offices' revocations as this gateway keeps them. */
  revocations: AttestationRevocations;
  /** The gate and the revocations of a second gateway on the same database. */
  secondGate: OperatorAccessGate;
  secondRevocations: AttestationRevocations;
  store: SqlAccessApprovalStore;
  clock: TestClock;
  office: NoteSigner;
  /** An attestation for `subject` by the trusted office, valid a day unless overridden. */
  attest(subject: string, claims?: Partial<OperatorAttestation>, signer?: NoteSigner): Promise<string>;
  /** A revocation note by the trusted office (or `signer`), dated now. */
  revocationNote(
    subject: string,
    revoked: AttestationRevocation['revoked'],
    signer?: NoteSigner,
  ): Promise<string>;
  /** The identity (SHA-256 of the text) of an attestation note. */
  identityOf(note: string): string;
  /** The tenant's audit records, in log order. */
  tenantRecords(tenantId: string): Promise<AuditRecord[]>;
  dispose(): Promise<void>;
}

function operator(principalId: string, attestationNote: string | null, sourceIp = HOME_IP): LockboxCaller {
  return {
    principalId,
    principalTenantId: ROOT_TENANT_ID,
    isTenantAdmin: false,
    sourceIp,
    requestId: `req-${principalId}`,
    attestationNote,
  };
}

function tenantPrincipal(principalId: string, tenantId: string, isTenantAdmin: boolean): LockboxCaller {
  return {
    principalId,
    principalTenantId: tenantId,
    isTenantAdmin,
    sourceIp: HOME_IP,
    requestId: `req-${principalId}`,
    attestationNote: null,
  };
}

const ADMIN_A = tenantPrincipal('admin-a', TENANT, true);
const USER_A = tenantPrincipal('user-a', TENANT, false);
const ADMIN_B = tenantPrincipal('admin-b', OTHER_TENANT, true);

function filing(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    tenantId: TENANT,
    bucket: BUCKET,
    keyPrefix: 'incident-42/',
    kmsKeyId: KMS_KEY,
    actions: ['s3:GetObject', 's3:ListBucket', 'kms:Decrypt'],
    durationSeconds: 3600,
    justification: 'Restore corrupted case file after disk failure',
    ticket: 'INC-2030-0042',
    ...overrides,
  };
}

async function rejectsWith(promise: Promise<unknown>, code: LockboxErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof LockboxError, `expected a LockboxError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

function refused(decision: OperatorAccessDecision, reason: string): void {
  assert.equal(decision.granted, false, 'the use is refused');
  if (!decision.granted) assert.equal(decision.reason, reason, decision.message);
}

export function lockboxSuite(name: string, open: () => Promise<LockboxDatabase>): void {
  async function fixture(rules: object | null = RULES): Promise<Fixture> {
    const { db, metadata, dispose } = await open();
    const clock = new TestClock();
    await metadata.transaction(async (tx) => {
      for (const id of [ROOT_TENANT_ID, TENANT, OTHER_TENANT]) {
        await tx.insertTenant({ id, name: id, createdAt: clock.now() });
      }
    });
    const auditStore = new SqlAuditLogStore(db);
    const audit = new AuditLog({
      store: auditStore,
      clock,
      retention: DEFAULT_RETENTION_DAYS,
      onError: () => {},
    });
    const officeKey = generateNoteKey('ed25519', 'security-office.gov.vn');
    const office = parseSignerKey(officeKey.signerKey, clock);
    const attestationKeys = parseAttestationKeys([officeKey.verifierKey]);
    const jurisdictions = new JurisdictionMap({ '203.0.113.0/24': 'SG' }, 'VN');
    const parsedRules = rules === null ? null : parseOperatorAccessRules(JSON.stringify(rules));
    // Each gateway keeps its own copy of the revocations, over the one database.
    const newRevocations = () =>
      new AttestationRevocations({
        store: new SqlAttestationRevocationStore(db),
        attestationKeys,
        audit,
        jurisdictions,
        clock,
      });
    const revocations = newRevocations();
    const secondRevocations = newRevocations();
    const eligibilityWith = (check: AttestationRevocations) =>
      new OperatorEligibility({ rules: parsedRules, attestationKeys, jurisdictions, revocations: check });
    const eligibility = eligibilityWith(revocations);
    const store = new SqlAccessApprovalStore(db);
    const tenants = { getTenant: (id: string) => metadata.transaction((tx) => tx.getTenant(id)) };
    const notifications = new SecurityNotifications({ store, destinations: DESTINATIONS, clock });
    const gateway = () =>
      new AccessApprovals({
        store: new SqlAccessApprovalStore(db),
        tenants,
        eligibility,
        audit,
        notifications: new SecurityNotifications({ store, destinations: DESTINATIONS, clock }),
        clock,
      });
    return {
      db,
      approvals: new AccessApprovals({ store, tenants, eligibility, audit, notifications, clock }),
      secondGateway: gateway(),
      notifications,
      outbox: async () =>
        (
          await db.query(
            'SELECT destination_id, format, delivery_id, payload FROM event_outbox ORDER BY seq',
            [],
          )
        ).map((row) => ({
          destinationId: String(row.destination_id),
          format: Number(row.format),
          deliveryId: String(row.delivery_id),
          payload: String(row.payload),
        })),
      gate: new OperatorAccessGate({ store, eligibility, audit, clock }),
      revocations,
      secondGate: new OperatorAccessGate({
        store: new SqlAccessApprovalStore(db),
        eligibility: eligibilityWith(secondRevocations),
        audit,
        clock,
      }),
      secondRevocations,
      store,
      clock,
      office,
      attest: (subject, claims = {}, signer = office) =>
        signAttestation(
          {
            subject,
            clearance: 'SECRET',
            nationality: 'VN',
            residency: 'VN',
            issuedAtMs: clock.nowMs() - HOUR_MS,
            expiresAtMs: clock.nowMs() + 24 * HOUR_MS,
            ...claims,
          },
          signer,
        ),
      revocationNote: (subject, revoked, signer = office) =>
        signAttestationRevocation(
          { subject, revoked, reason: 'Clearance withdrawn', revokedAtMs: clock.nowMs() },
          signer,
        ),
      identityOf: (note) => openAttestation(note, attestationKeys, clock.nowMs()).sha256,
      tenantRecords: async (tenantId) => {
        const stored = await auditStore.readRecords({
          tenantId,
          fromMs: 0,
          toMs: Number.MAX_SAFE_INTEGER,
          afterIndex: -1,
          limit: 10_000,
        });
        return stored.map((record) => parseCanonicalRecord(record.canonical!));
      },
      dispose: async () => {
        await audit.close();
        await dispose();
      },
    };
  }

  /** Files as op-alice (attested) and has admin-a approve; returns the active request. */
  async function approvedRequest(
    f: Fixture,
    overrides: Record<string, unknown> = {},
  ): Promise<AccessRequest> {
    const filed = await f.approvals.file(operator('op-alice', await f.attest('op-alice')), filing(overrides));
    return f.approvals.approve(ADMIN_A, filed.id, 'approved for INC-2030-0042');
  }

  async function use(
    f: Fixture,
    request: AccessRequest,
    overrides: Partial<OperatorAccessCheck> = {},
  ): Promise<OperatorAccessDecision> {
    return f.gate.check({
      principalId: 'op-alice',
      principalTenantId: ROOT_TENANT_ID,
      attestationNote: await f.attest('op-alice'),
      approvalId: request.id,
      action: 's3:GetObject',
      tenantId: TENANT,
      bucket: BUCKET,
      key: 'incident-42/report.pdf',
      sourceIp: HOME_IP,
      requestId: 'req-use',
      ...overrides,
    });
  }

  describe(`operator access approval on ${name}`, () => {
    test('filing without an attestation is refused, and the refusal is in the tenant’s records', async () => {
      const f = await fixture();
      try {
        await rejectsWith(f.approvals.file(operator('op-alice', null), filing()), 'AttestationRequired');
        const records = await f.tenantRecords(TENANT);
        assert.equal(records.length, 1);
        const [record] = records;
        assert.equal(record!.kind, 'access-approval');
        assert.equal(record!.action, 'sovra:FileAccessRequest');
        assert.equal(record!.result, 'denied');
        assert.equal(record!.errorCode, 'AttestationRequired');
        assert.equal(record!.principalId, 'op-alice');
        assert.equal(record!.principalTenantId, ROOT_TENANT_ID);
        assert.equal(record!.justification, 'Restore corrupted case file after disk failure');
        assert.equal(record!.approvalId, null, 'no request was created');
        assert.deepEqual(await f.store.list({ tenantId: null, afterId: null, limit: 10 }), []);
      } finally {
        await f.dispose();
      }
    });

    test('an expired, forged, or someone else’s attestation cannot file', async () => {
      const f = await fixture();
      try {
        const expired = await f.attest('op-alice', {
          issuedAtMs: f.clock.nowMs() - 48 * HOUR_MS,
          expiresAtMs: f.clock.nowMs() - HOUR_MS,
        });
        await rejectsWith(f.approvals.file(operator('op-alice', expired), filing()), 'AttestationExpired');
        // A key with the office's name but not its key: an unknown signer.
        const impostor = parseSignerKey(
          generateNoteKey('ed25519', 'security-office.gov.vn').signerKey,
          f.clock,
        );
        const forged = await f.attest('op-alice', {}, impostor);
        await rejectsWith(f.approvals.file(operator('op-alice', forged), filing()), 'InvalidAttestation');
        // The office's real signature over altered claims.
        const genuine = await f.attest('op-alice', { clearance: 'CONFIDENTIAL' });
        const altered = genuine.replace('"CONFIDENTIAL"', '"TOP_SECRET"');
        await rejectsWith(f.approvals.file(operator('op-alice', altered), filing()), 'InvalidAttestation');
        const bobs = await f.attest('op-bob');
        await rejectsWith(
          f.approvals.file(operator('op-alice', bobs), filing()),
          'AttestationSubjectMismatch',
        );
        const records = await f.tenantRecords(TENANT);
        assert.deepEqual(
          records.map((r) => r.errorCode),
          ['AttestationExpired', 'InvalidAttestation', 'InvalidAttestation', 'AttestationSubjectMismatch'],
        );
        assert.ok(records.every((r) => r.result === 'denied' && r.approvalId === null));
        assert.ok(records.every((r) => r.justification === 'Restore corrupted case file after disk failure'));
      } finally {
        await f.dispose();
      }
    });

    test('operators below the clearance, of another nationality or residency, or connecting from abroad cannot file', async () => {
      const f = await fixture();
      try {
        const cases: [Partial<OperatorAttestation>, string][] = [
          [{ clearance: 'CONFIDENTIAL' }, HOME_IP],
          [{ clearance: 'NOT_A_LEVEL' }, HOME_IP],
          [{ nationality: 'SG' }, HOME_IP],
          [{ residency: 'TH' }, HOME_IP],
          [{}, FOREIGN_IP],
        ];
        for (const [claims, ip] of cases) {
          await rejectsWith(
            f.approvals.file(operator('op-alice', await f.attest('op-alice', claims), ip), filing()),
            'OperatorNotEligible',
          );
        }
        // TOP_SECRET dominates SECRET: eligible.
        const filed = await f.approvals.file(
          operator('op-alice', await f.attest('op-alice', { clearance: 'TOP_SECRET' })),
          filing(),
        );
        assert.equal(filed.status, 'pending');
        assert.equal(filed.requesterClaims.clearance, 'TOP_SECRET');
        const records = await f.tenantRecords(TENANT);
        assert.equal(records.filter((r) => r.errorCode === 'OperatorNotEligible').length, 5);
        const abroad = records.find((r) => r.sourceIp === FOREIGN_IP);
        assert.equal(abroad?.sourceJurisdiction, 'SG');
      } finally {
        await f.dispose();
      }
    });

    test('tenant principals cannot file; filing needs rules and keys; durations are bounded by the rules', async () => {
      const f = await fixture();
      try {
        await rejectsWith(
          f.approvals.file({ ...ADMIN_B, attestationNote: await f.attest('admin-b') }, filing()),
          'NotAnOperator',
        );
        const alice = operator('op-alice', await f.attest('op-alice'));
        await rejectsWith(f.approvals.file(alice, filing({ durationSeconds: 28_801 })), 'DurationNotAllowed');
        await rejectsWith(
          f.approvals.file(alice, filing({ durationSeconds: 7200, breakGlass: true })),
          'DurationNotAllowed',
        );
        await rejectsWith(f.approvals.file(alice, filing({ tenantId: 'no-such-agency' })), 'NoSuchTenant');
        await rejectsWith(f.approvals.file(alice, filing({ actions: ['s3:*'] })), 'MalformedAccessRequest');
        await rejectsWith(f.approvals.file(alice, filing({ kmsKeyId: null })), 'MalformedAccessRequest');
        await rejectsWith(
          f.approvals.file(alice, filing({ bucket: 'Not_A_Bucket' })),
          'MalformedAccessRequest',
        );
        await rejectsWith(f.approvals.file(alice, filing({ extra: 1 })), 'MalformedAccessRequest');
        await rejectsWith(
          f.approvals.file(alice, filing({ justification: 'a\u0000b' })),
          'MalformedAccessRequest',
        );
        await rejectsWith(f.approvals.file(alice, 'not an object'), 'MalformedAccessRequest');
      } finally {
        await f.dispose();
      }
      const disabled = await fixture(null);
      try {
        await rejectsWith(
          disabled.approvals.file(operator('op-alice', await disabled.attest('op-alice')), filing()),
          'OperatorAccessDisabled',
        );
      } finally {
        await disabled.dispose();
      }
      const noBreakGlass = await fixture({ ...RULES, breakGlass: { enabled: false } });
      try {
        await rejectsWith(
          noBreakGlass.approvals.file(
            operator('op-alice', await noBreakGlass.attest('op-alice')),
            filing({ breakGlass: true }),
          ),
          'BreakGlassDisabled',
        );
      } finally {
        await noBreakGlass.dispose();
      }
    });

    test('only the target tenant’s administrators approve; never the requester, another tenant, or a non-admin', async () => {
      const f = await fixture();
      try {
        const filed = await f.approvals.file(operator('op-alice', await f.attest('op-alice')), filing());
        assert.equal(filed.status, 'pending');
        // Another tenant's administrator and the tenant's non-admin users do not even see it.
        await rejectsWith(f.approvals.approve(ADMIN_B, filed.id, null), 'NoSuchAccessRequest');
        await rejectsWith(f.approvals.approve(USER_A, filed.id, null), 'NoSuchAccessRequest');
        await rejectsWith(f.approvals.get(ADMIN_B, filed.id), 'NoSuchAccessRequest');
        // Operators see it but do not decide.
        await rejectsWith(
          f.approvals.approve(operator('op-alice', await f.attest('op-alice')), filed.id, null),
          'NotAnApprover',
        );
        await rejectsWith(f.approvals.approve(operator('op-bob', null), filed.id, null), 'NotAnApprover');
        const approved = await f.approvals.approve(ADMIN_A, filed.id, 'ok for this incident');
        assert.equal(approved.status, 'active');
        assert.equal(approved.decidedBy, 'admin-a');
        assert.equal(approved.expiresAtMs, f.clock.nowMs() + 3600 * 1000);
        await rejectsWith(f.approvals.approve(ADMIN_A, filed.id, null), 'InvalidRequestState');
        await rejectsWith(f.approvals.deny(ADMIN_A, filed.id, 'no'), 'InvalidRequestState');
        const stored = await f.store.get(filed.id);
        assert.equal(stored?.status, 'active');
        assert.equal(stored?.decisionComment, 'ok for this incident');

        // A request for the root tenant: its administrator approves, but not its own request.
        const rootAdmin: LockboxCaller = { ...operator('op-root-admin', null), isTenantAdmin: true };
        const forRoot = await f.approvals.file(
          { ...rootAdmin, attestationNote: await f.attest('op-root-admin') },
          filing({ tenantId: ROOT_TENANT_ID }),
        );
        await rejectsWith(f.approvals.approve(rootAdmin, forRoot.id, null), 'NotAnApprover');
        const otherRootAdmin: LockboxCaller = { ...operator('op-root-admin-2', null), isTenantAdmin: true };
        assert.equal((await f.approvals.approve(otherRootAdmin, forRoot.id, null)).status, 'active');
      } finally {
        await f.dispose();
      }
    });

    test('a denied request grants nothing', async () => {
      const f = await fixture();
      try {
        const filed = await f.approvals.file(operator('op-alice', await f.attest('op-alice')), filing());
        refused(await use(f, filed), 'ApprovalNotActive');
        const denied = await f.approvals.deny(ADMIN_A, filed.id, 'not justified');
        assert.equal(denied.status, 'denied');
        refused(await use(f, filed), 'ApprovalNotActive');
        await rejectsWith(f.approvals.approve(ADMIN_A, filed.id, null), 'InvalidRequestState');
      } finally {
        await f.dispose();
      }
    });

    test('an approval grants its scope and every use is an operator-access record with identity, justification and approval', async () => {
      const f = await fixture();
      try {
        const approved = await approvedRequest(f);
        const granted = await use(f, approved);
        assert.deepEqual(granted, {
          granted: true,
          approvalId: approved.id,
          justification: 'Restore corrupted case file after disk failure',
          ticket: 'INC-2030-0042',
          expiresAtMs: approved.expiresAtMs,
        });
        assert.equal(
          (await use(f, approved, { action: 's3:ListBucket', key: 'incident-42/' })).granted,
          true,
        );
        assert.equal(
          (await use(f, approved, { action: 'kms:Decrypt', bucket: null, key: null, kmsKeyId: KMS_KEY }))
            .granted,
          true,
        );
        const accesses = (await f.tenantRecords(TENANT)).filter((r) => r.kind === 'operator-access');
        assert.equal(accesses.length, 3);
        const [first] = accesses;
        assert.equal(first!.principalId, 'op-alice');
        assert.equal(first!.principalTenantId, ROOT_TENANT_ID);
        assert.equal(first!.action, 's3:GetObject');
        assert.equal(first!.resource, `arn:aws:s3:::${BUCKET}/incident-42/report.pdf`);
        assert.equal(first!.result, 'success');
        assert.equal(first!.justification, 'Restore corrupted case file after disk failure');
        assert.equal(first!.approvalId, approved.id);
        assert.equal(first!.requestId, 'req-use');
        assert.equal(first!.sourceJurisdiction, 'VN');
        assert.equal(first!.details.clearance, 'SECRET');
        assert.equal(first!.details.attestationIssuer, 'security-office.gov.vn');
        assert.equal(accesses[2]!.resource, `sovra:kms-key/${KMS_KEY}`);
        // Nothing of it reaches another tenant's view.
        assert.deepEqual(await f.tenantRecords(OTHER_TENANT), []);
      } finally {
        await f.dispose();
      }
    });

    test('another bucket, another prefix, another action or another KMS key is refused', async () => {
      const f = await fixture();
      try {
        const approved = await approvedRequest(f);
        refused(await use(f, approved, { bucket: 'other-bucket' }), 'OutsideApprovedScope');
        refused(await use(f, approved, { key: 'incident-43/report.pdf' }), 'OutsideApprovedScope');
        refused(await use(f, approved, { action: 's3:ListBucket', key: null }), 'OutsideApprovedScope');
        refused(await use(f, approved, { action: 's3:PutObject' }), 'OutsideApprovedScope');
        refused(await use(f, approved, { action: 's3:DeleteObject' }), 'OutsideApprovedScope');
        refused(
          await use(f, approved, {
            action: 'kms:Decrypt',
            bucket: null,
            key: null,
            kmsKeyId: '11111111-2222-4333-8444-555555555555',
          }),
          'OutsideApprovedScope',
        );
        refused(await use(f, approved, { tenantId: OTHER_TENANT }), 'UnknownApproval');
        refused(await use(f, approved, { approvalId: 'ar-not-an-id' }), 'UnknownApproval');
        const denials = (await f.tenantRecords(TENANT)).filter(
          (r) => r.kind === 'operator-access' && r.result === 'denied',
        );
        assert.equal(denials.length, 7, 'each refused use is in the tenant’s view');
        assert.ok(denials.every((r) => r.errorCode !== null && r.principalId === 'op-alice'));
        assert.equal(
          (await f.tenantRecords(OTHER_TENANT)).length,
          1,
          'the probe of the other tenant is in its view',
        );
      } finally {
        await f.dispose();
      }
    });

    test('the operator is judged again at every use: attestation, claims and the current network', async () => {
      const f = await fixture();
      try {
        const approved = await approvedRequest(f);
        const shortLived = await f.attest('op-alice', { expiresAtMs: f.clock.nowMs() + 60_000 });
        assert.equal((await use(f, approved, { attestationNote: shortLived })).granted, true);
        refused(await use(f, approved, { attestationNote: null }), 'AttestationRequired');
        refused(await use(f, approved, { sourceIp: FOREIGN_IP }), 'OperatorNotEligible');
        refused(
          await use(f, approved, {
            attestationNote: await f.attest('op-alice', { clearance: 'CONFIDENTIAL' }),
          }),
          'OperatorNotEligible',
        );
        refused(
          await use(f, approved, { attestationNote: await f.attest('op-alice', { residency: 'SG' }) }),
          'OperatorNotEligible',
        );
        // The office's attestation lapses a minute later: the same note no longer opens.
        f.clock.advance(61_000);
        refused(await use(f, approved, { attestationNote: shortLived }), 'AttestationExpired');
        // Only the operator who asked uses the approval, even with a valid attestation of its own.
        refused(
          await use(f, approved, { principalId: 'op-bob', attestationNote: await f.attest('op-bob') }),
          'NotTheRequester',
        );
        refused(
          await use(f, approved, { principalTenantId: TENANT, attestationNote: await f.attest('op-alice') }),
          'NotAnOperator',
        );
        const foreign = (await f.tenantRecords(TENANT)).find(
          (r) => r.kind === 'operator-access' && r.sourceIp === FOREIGN_IP,
        );
        assert.equal(foreign?.sourceJurisdiction, 'SG');
        assert.equal(foreign?.errorCode, 'OperatorNotEligible');
        // A current attestation from home works again: nothing was consumed by the refusals.
        assert.equal((await use(f, approved)).granted, true);
      } finally {
        await f.dispose();
      }
    });

    test('access expires on its own: the first use after the end records the expiry once and is refused', async () => {
      const f = await fixture();
      try {
        const approved = await approvedRequest(f);
        f.clock.advance(3600 * 1000 - 1);
        assert.equal((await use(f, approved)).granted, true);
        f.clock.advance(1);
        const page = await f.approvals.list(ADMIN_A, {
          tenantId: null,
          status: null,
          afterId: null,
          limit: null,
        });
        assert.equal(page.requests[0]?.status, 'expired', 'listing shows it expired before anyone uses it');
        refused(await use(f, approved), 'ApprovalExpired');
        refused(await use(f, approved), 'ApprovalExpired');
        assert.equal((await f.store.get(approved.id))?.status, 'expired');
        const records = await f.tenantRecords(TENANT);
        const expiries = records.filter((r) => r.details.step === 'expired');
        assert.equal(expiries.length, 1, 'the expiry is one step');
        assert.equal(expiries[0]!.action, 'sovra:ExpireAccessRequest');
        assert.equal(expiries[0]!.approvalId, approved.id);
        await rejectsWith(f.approvals.revoke(ADMIN_A, approved.id, null), 'InvalidRequestState');
      } finally {
        await f.dispose();
      }
    });

    test('a request left undecided expires; approving it afterwards is refused', async () => {
      const f = await fixture();
      try {
        const filed = await f.approvals.file(operator('op-alice', await f.attest('op-alice')), filing());
        f.clock.advance(7 * 24 * HOUR_MS);
        await rejectsWith(f.approvals.approve(ADMIN_A, filed.id, null), 'InvalidRequestState');
        assert.equal((await f.approvals.get(ADMIN_A, filed.id)).status, 'expired');
        const steps = (await f.tenantRecords(TENANT)).map((r) => r.details.step);
        assert.deepEqual(steps, ['filed', 'expired', 'approve-refused']);
      } finally {
        await f.dispose();
      }
    });

    test('revocation ends access at once, by the tenant’s administrator or by the requester', async () => {
      const f = await fixture();
      try {
        const first = await approvedRequest(f);
        assert.equal((await use(f, first)).granted, true);
        await rejectsWith(f.approvals.revoke(ADMIN_B, first.id, 'not mine'), 'NoSuchAccessRequest');
        await rejectsWith(f.approvals.revoke(operator('op-bob', null), first.id, null), 'NotAnApprover');
        const revoked = await f.approvals.revoke(ADMIN_A, first.id, 'incident closed');
        assert.equal(revoked.status, 'revoked');
        assert.equal(revoked.revokedBy, 'admin-a');
        refused(await use(f, first), 'ApprovalNotActive');

        const second = await approvedRequest(f);
        assert.equal(
          (await f.approvals.revoke(operator('op-alice', null), second.id, null)).status,
          'revoked',
        );
        refused(await use(f, second), 'ApprovalNotActive');
        // A pending request may be withdrawn too.
        const pending = await f.approvals.file(operator('op-alice', await f.attest('op-alice')), filing());
        assert.equal(
          (await f.approvals.revoke(operator('op-alice', null), pending.id, 'filed by mistake')).status,
          'revoked',
        );
        await rejectsWith(f.approvals.approve(ADMIN_A, pending.id, null), 'InvalidRequestState');
      } finally {
        await f.dispose();
      }
    });

    test('two decisions at once: exactly one wins (compare-and-set in the store)', async () => {
      const f = await fixture();
      try {
        const filed = await f.approvals.file(operator('op-alice', await f.attest('op-alice')), filing());
        const outcomes = await Promise.allSettled([
          // Each needs the request still pending: whichever commits first, the others find it decided.
          f.approvals.approve(ADMIN_A, filed.id, null),
          f.approvals.approve({ ...ADMIN_A, principalId: 'admin-a2' }, filed.id, null),
          f.approvals.deny({ ...ADMIN_A, principalId: 'admin-a3' }, filed.id, 'no'),
        ]);
        assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
        for (const outcome of outcomes) {
          if (outcome.status === 'rejected') {
            assert.ok(outcome.reason instanceof LockboxError);
            assert.equal(outcome.reason.code, 'InvalidRequestState');
          }
        }
        const winner = outcomes.find((o) => o.status === 'fulfilled')!.value;
        assert.equal((await f.store.get(filed.id))?.status, winner.status);
      } finally {
        await f.dispose();
      }
    });

    test('break-glass needs a second, distinct, eligible operator, activates without the tenant, and is flagged until acknowledged', async () => {
      const f = await fixture();
      try {
        const alice = operator('op-alice', await f.attest('op-alice'));
        const request = await f.approvals.file(alice, filing({ breakGlass: true, durationSeconds: 1800 }));
        assert.equal(request.kind, 'break-glass');
        assert.equal(request.status, 'awaiting-confirmation');
        refused(await use(f, request), 'ApprovalNotActive');
        // The tenant does not approve break-glass access; the requester cannot confirm its own.
        await rejectsWith(f.approvals.approve(ADMIN_A, request.id, null), 'InvalidRequestState');
        await rejectsWith(f.approvals.confirm(alice, request.id), 'SameOperator');
        // The second operator is judged like the first.
        await rejectsWith(f.approvals.confirm(operator('op-bob', null), request.id), 'AttestationRequired');
        await rejectsWith(
          f.approvals.confirm(operator('op-bob', await f.attest('op-bob'), FOREIGN_IP), request.id),
          'OperatorNotEligible',
        );
        await rejectsWith(
          f.approvals.confirm({ ...ADMIN_A, attestationNote: await f.attest('admin-a') }, request.id),
          'NotAnOperator',
        );
        const active = await f.approvals.confirm(operator('op-bob', await f.attest('op-bob')), request.id);
        assert.equal(active.status, 'active');
        assert.equal(active.decidedBy, 'op-bob');
        assert.equal(active.review, 'pending');
        assert.equal((await use(f, request)).granted, true);
        await rejectsWith(
          f.approvals.confirm(operator('op-carol', await f.attest('op-carol')), request.id),
          'InvalidRequestState',
        );

        const flagged = await f.approvals.list(ADMIN_A, {
          tenantId: null,
          status: 'active',
          afterId: null,
          limit: 10,
        });
        assert.equal(flagged.requests[0]?.review, 'pending', 'flagged for review');
        await rejectsWith(f.approvals.acknowledge(ADMIN_B, request.id, null), 'NoSuchAccessRequest');
        await rejectsWith(
          f.approvals.acknowledge(operator('op-bob', null), request.id, null),
          'NotAnApprover',
        );
        const acknowledged = await f.approvals.acknowledge(ADMIN_A, request.id, 'reviewed with the ticket');
        assert.equal(acknowledged.review, 'acknowledged');
        assert.equal(acknowledged.reviewedBy, 'admin-a');
        assert.equal(acknowledged.status, 'active', 'acknowledging does not end the access');
        await rejectsWith(f.approvals.acknowledge(ADMIN_A, request.id, null), 'InvalidRequestState');

        const records = (await f.tenantRecords(TENANT)).filter((r) => r.kind === 'access-approval');
        const activated = records.find((r) => r.details.step === 'break-glass-activated');
        assert.ok(activated, 'the activation is in the tenant’s view: its notification');
        assert.equal(activated.details.severity, 'high');
        assert.equal(activated.details.notifyTenant, true);
        assert.equal(activated.principalId, 'op-alice');
        assert.equal(activated.details.actor, 'op-bob');
        assert.equal(activated.approvalId, request.id);
        assert.equal(records.find((r) => r.details.step === 'filed')?.details.severity, 'high');
        const ack = records.find((r) => r.details.step === 'break-glass-acknowledged');
        assert.equal(ack?.details.actor, 'admin-a');
        assert.equal(ack?.details.comment, 'reviewed with the ticket');
      } finally {
        await f.dispose();
      }
    });

    test('an unconfirmed break-glass request expires within the hour', async () => {
      const f = await fixture();
      try {
        const request = await f.approvals.file(
          operator('op-alice', await f.attest('op-alice')),
          filing({ breakGlass: true }),
        );
        f.clock.advance(HOUR_MS);
        await rejectsWith(
          f.approvals.confirm(operator('op-bob', await f.attest('op-bob')), request.id),
          'InvalidRequestState',
        );
        assert.equal((await f.store.get(request.id))?.status, 'expired');
      } finally {
        await f.dispose();
      }
    });

    test('every step is an access-approval record in the tenant’s view, with the operator, justification and request id', async () => {
      const f = await fixture();
      try {
        const approved = await approvedRequest(f);
        await use(f, approved);
        await f.approvals.revoke(ADMIN_A, approved.id, 'done');
        const denied = await f.approvals.file(operator('op-alice', await f.attest('op-alice')), filing());
        await f.approvals.deny(ADMIN_A, denied.id, 'not now');
        const records = await f.tenantRecords(TENANT);
        assert.deepEqual(
          records.map((r) => [r.kind, r.details.step ?? r.action, r.result]),
          [
            ['access-approval', 'filed', 'success'],
            ['access-approval', 'approved', 'success'],
            ['operator-access', 's3:GetObject', 'success'],
            ['access-approval', 'revoked', 'success'],
            ['access-approval', 'filed', 'success'],
            ['access-approval', 'denied', 'success'],
          ],
        );
        for (const record of records) {
          assert.equal(record.tenantId, TENANT);
          assert.equal(record.principalId, 'op-alice');
          assert.equal(record.justification, 'Restore corrupted case file after disk failure');
          assert.ok(record.approvalId === approved.id || record.approvalId === denied.id);
        }
        const approval = records[1]!;
        assert.equal(approval.action, 'sovra:ApproveAccessRequest');
        assert.equal(approval.details.actor, 'admin-a');
        assert.equal(approval.details.actorTenantId, TENANT);
        assert.equal(approval.details.ticket, 'INC-2030-0042');
        assert.equal(approval.details.scope, `arn:aws:s3:::${BUCKET}/incident-42/*`);
        assert.equal(approval.details.actions, 'kms:Decrypt,s3:GetObject,s3:ListBucket');
        assert.equal(approval.details.comment, 'approved for INC-2030-0042');
        assert.equal(records[5]!.details.comment, 'not now');
      } finally {
        await f.dispose();
      }
    });

    test('tenant administrators list only their tenant’s requests; operators list all; pages run newest first', async () => {
      const f = await fixture();
      try {
        const alice = operator('op-alice', await f.attest('op-alice'));
        const ids: string[] = [];
        for (let i = 0; i < 5; i += 1) {
          ids.push((await f.approvals.file(alice, filing({ ticket: `INC-${i}` }))).id);
          f.clock.advance(1000);
        }
        const other = await f.approvals.file(alice, filing({ tenantId: OTHER_TENANT }));
        const seen: string[] = [];
        let afterId: string | null = null;
        do {
          const page = await f.approvals.list(ADMIN_A, { tenantId: null, status: null, afterId, limit: 2 });
          seen.push(...page.requests.map((r) => r.id));
          afterId = page.nextAfterId;
        } while (afterId !== null);
        assert.deepEqual(seen, [...ids].reverse());
        await rejectsWith(
          f.approvals.list(ADMIN_A, { tenantId: OTHER_TENANT, status: null, afterId: null, limit: null }),
          'NotAnApprover',
        );
        await rejectsWith(
          f.approvals.list(USER_A, { tenantId: null, status: null, afterId: null, limit: null }),
          'NotAnApprover',
        );
        const b = await f.approvals.list(ADMIN_B, {
          tenantId: null,
          status: null,
          afterId: null,
          limit: null,
        });
        assert.deepEqual(
          b.requests.map((r) => r.id),
          [other.id],
        );
        const all = await f.approvals.list(operator('op-bob', null), {
          tenantId: null,
          status: 'pending',
          afterId: null,
          limit: 100,
        });
        assert.equal(all.requests.length, 6);
        await rejectsWith(
          f.approvals.list(ADMIN_A, { tenantId: null, status: 'bogus', afterId: null, limit: null }),
          'MalformedAccessRequest',
        );
      } finally {
        await f.dispose();
      }
    });

    test('a stored request reads back field for field, and the database refuses to delete it', async () => {
      const f = await fixture();
      try {
        const approved = await approvedRequest(f, { keyPrefix: 'ünïcode/\u{1F600}/' });
        const stored = await f.store.get(approved.id);
        assert.deepEqual(stored, approved);
        assert.equal(
          await f.store.update({ ...approved, status: 'revoked' }, { status: 'pending', review: 'none' }),
          false,
        );
        assert.equal(await f.store.get('ar-00000000000000000000000000000000'), null);
        // Two writers holding the same snapshot: the store lets exactly one of them through.
        const snapshot = { status: approved.status, review: approved.review };
        const writes = await Promise.all([
          f.store.update({ ...approved, status: 'revoked', revokedBy: 'admin-a' }, snapshot),
          f.store.update({ ...approved, status: 'expired' }, snapshot),
        ]);
        assert.deepEqual(
          writes.filter((won) => won),
          [true],
        );
        const settled = await f.store.get(approved.id);
        assert.equal(settled?.status, writes[0] ? 'revoked' : 'expired');
        await assert.rejects(f.db.execute('DELETE FROM access_requests', []), /never deleted/);
        assert.deepEqual(await f.store.get(approved.id), settled);
      } finally {
        await f.dispose();
      }
    });

    test('the expiry pass expires undecided and ended requests without a use, once across gateways, acted by the platform', async () => {
      const f = await fixture();
      try {
        const alice = operator('op-alice', await f.attest('op-alice'));
        const approved = await approvedRequest(f, { durationSeconds: 600 });
        const breakGlass = await f.approvals.file(alice, filing({ breakGlass: true }));
        const pending = await f.approvals.file(alice, filing());
        const confirmedBreakGlass = await f.approvals.confirm(
          operator('op-bob', await f.attest('op-bob')),
          (await f.approvals.file(alice, filing({ breakGlass: true, durationSeconds: 1800 }))).id,
        );
        assert.equal(await f.approvals.expireDue(), 0, 'nothing is due yet');
        f.clock.advance(600 * 1000);
        assert.equal(await f.approvals.expireDue(), 1, 'the 10-minute approval ended');
        assert.equal((await f.store.get(approved.id))?.status, 'expired');
        f.clock.advance(HOUR_MS);
        // Two gateways run their passes at the same moment: each request is expired by one of them.
        const counts = await Promise.all([f.approvals.expireDue(), f.secondGateway.expireDue()]);
        assert.equal(
          counts[0] + counts[1],
          2,
          'the unconfirmed break-glass request and the break-glass access',
        );
        assert.equal(await f.approvals.expireDue(), 0);
        for (const id of [approved.id, breakGlass.id, confirmedBreakGlass.id]) {
          assert.equal((await f.store.get(id))?.status, 'expired');
        }
        assert.equal((await f.store.get(pending.id))?.status, 'pending', 'undecided for less than 7 days');
        f.clock.advance(7 * 24 * HOUR_MS);
        assert.equal(await f.approvals.expireDue(), 1);
        assert.equal((await f.store.get(pending.id))?.status, 'expired');

        const expiries = (await f.tenantRecords(TENANT)).filter((r) => r.details.step === 'expired');
        assert.deepEqual(
          expiries.map((r) => r.approvalId).sort(),
          [approved.id, breakGlass.id, confirmedBreakGlass.id, pending.id].sort(),
          'one record per expiry',
        );
        for (const record of expiries) {
          assert.equal(record.action, 'sovra:ExpireAccessRequest');
          assert.equal(record.details.actor, 'sovra:system');
          assert.equal(record.details.actorTenantId, ROOT_TENANT_ID);
          assert.equal(record.principalId, 'op-alice', 'the operator whose access ended');
          assert.equal(record.requestId, null);
        }
        const ended = expiries.find((r) => r.approvalId === approved.id)!;
        assert.equal(ended.details.expiresAtMs, approved.expiresAtMs);
        assert.equal(ended.timeMs, approved.expiresAtMs, 'recorded by the first pass after the end');
        // The stored state is what listings and uses see; the break-glass review flag outlives the access.
        const listed = await f.approvals.list(ADMIN_A, {
          tenantId: null,
          status: 'expired',
          afterId: null,
          limit: 10,
        });
        assert.equal(listed.requests.length, 4);
        refused(await use(f, approved), 'ApprovalExpired');
        assert.equal((await f.store.get(confirmedBreakGlass.id))?.review, 'pending');
        const acknowledged = await f.approvals.acknowledge(ADMIN_A, confirmedBreakGlass.id, 'reviewed');
        assert.deepEqual([acknowledged.status, acknowledged.review], ['expired', 'acknowledged']);
        assert.equal(
          (await f.tenantRecords(TENANT)).filter((r) => r.details.step === 'expired').length,
          4,
          'uses and steps after the pass record no second expiry',
        );
      } finally {
        await f.dispose();
      }
    });

    test('the store expires a request only once and only when its time has passed (conditional UPDATE)', async () => {
      const f = await fixture();
      try {
        const approved = await approvedRequest(f);
        const endMs = approved.expiresAtMs!;
        assert.equal(await f.store.expire(approved.id, endMs - 1), false, 'not yet');
        assert.deepEqual(await f.store.listDue(endMs - 1, 10), []);
        assert.deepEqual(
          (await f.store.listDue(endMs, 10)).map((r) => r.id),
          [approved.id],
        );
        const attempts = await Promise.all([
          f.store.expire(approved.id, endMs),
          f.store.expire(approved.id, endMs),
          f.store.expire(approved.id, endMs + 1),
        ]);
        assert.deepEqual(
          attempts.filter((won) => won),
          [true],
        );
        const stored = await f.store.get(approved.id);
        assert.equal(stored?.status, 'expired');
        assert.equal(stored?.expiresAtMs, endMs, 'the end stays as approved');
        assert.deepEqual(await f.store.listDue(endMs + HOUR_MS, 10), []);
        // A revoked request is closed: its time passing changes nothing.
        const revoked = await approvedRequest(f);
        await f.approvals.revoke(ADMIN_A, revoked.id, null);
        assert.equal(await f.store.expire(revoked.id, revoked.expiresAtMs! + 1), false);
        assert.equal((await f.store.get(revoked.id))?.status, 'revoked');
      } finally {
        await f.dispose();
      }
    });

    test('a tenant’s administrators point its security notifications at an operator-registered target', async () => {
      const f = await fixture();
      try {
        assert.equal(await f.notifications.get(ADMIN_A), null);
        await rejectsWith(f.notifications.put(USER_A, HOOKS_ARN), 'NotAnApprover');
        await rejectsWith(f.notifications.get(USER_A), 'NotAnApprover');
        for (const destination of [
          'https://soc.agency-a.example/hook',
          'arn:sovra:sqs:us-east-1:elsewhere:webhook',
          undefined,
          42,
        ]) {
          await rejectsWith(f.notifications.put(ADMIN_A, destination), 'UnknownNotificationDestination');
        }
        const set = await f.notifications.put(ADMIN_A, HOOKS_ARN);
        assert.deepEqual(set, {
          format: 1,
          tenantId: TENANT,
          destinationArn: HOOKS_ARN,
          updatedBy: 'admin-a',
          updatedAtMs: START_MS,
        });
        assert.deepEqual(await f.notifications.get(ADMIN_A), set);
        assert.equal(await f.notifications.get(ADMIN_B), null, 'each tenant has its own');
        f.clock.advance(1000);
        await f.notifications.put({ ...ADMIN_A, principalId: 'admin-a2' }, BUS_ARN);
        assert.deepEqual(await f.notifications.get(ADMIN_A), {
          ...set,
          destinationArn: BUS_ARN,
          updatedBy: 'admin-a2',
          updatedAtMs: START_MS + 1000,
        });
        await rejectsWith(f.notifications.clear(USER_A), 'NotAnApprover');
        await f.notifications.clear(ADMIN_A);
        assert.equal(await f.notifications.get(ADMIN_A), null);
        await f.notifications.clear(ADMIN_A);
      } finally {
        await f.dispose();
      }
    });

    test('break-glass access and new requests are queued for the tenant’s destination with the step that makes them', async () => {
      const f = await fixture();
      try {
        const alice = operator('op-alice', await f.attest('op-alice'));
        // Without a destination, the audit record is the only notice.
        await f.approvals.file(alice, filing());
        assert.deepEqual(await f.outbox(), []);
        await f.notifications.put(ADMIN_A, HOOKS_ARN);
        const request = await f.approvals.file(alice, filing({ breakGlass: true, durationSeconds: 1800 }));
        await rejectsWith(f.approvals.confirm(alice, request.id), 'SameOperator');
        // Two operators confirm at once: one step commits, and with it one notice.
        const bob = operator('op-bob', await f.attest('op-bob'));
        const carol = operator('op-carol', await f.attest('op-carol'));
        const outcomes = await Promise.allSettled([
          f.approvals.confirm(bob, request.id),
          f.secondGateway.confirm(carol, request.id),
        ]);
        const confirmed = outcomes.find((o) => o.status === 'fulfilled')?.value;
        assert.ok(confirmed);
        assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
        await f.approvals.file(alice, filing({ tenantId: OTHER_TENANT }));

        const rows = await f.outbox();
        assert.deepEqual(
          rows.map((row) => [row.destinationId, row.format]),
          [
            ['hooks', 2],
            ['hooks', 2],
          ],
          'the filing and the activation, nothing for the tenant without a destination',
        );
        const [filed, activated] = rows.map((row) => JSON.parse(row.payload) as SecurityEvent);
        assert.equal(filed!.type, 'AccessRequestFiled');
        assert.equal(filed!.status, 'awaiting-confirmation');
        assert.equal(filed!.severity, 'high');
        assert.deepEqual(activated, {
          version: 1,
          id: rows[1]!.deliveryId,
          type: 'BreakGlassAccessActivated',
          severity: 'high',
          time: new Date(START_MS).toISOString(),
          tenantId: TENANT,
          approvalId: request.id,
          requestKind: 'break-glass',
          status: 'active',
          operators: { requester: 'op-alice', confirmer: confirmed.decidedBy },
          scope: {
            bucket: BUCKET,
            keyPrefix: 'incident-42/',
            kmsKeyId: KMS_KEY,
            resource: `arn:aws:s3:::${BUCKET}/incident-42/*`,
          },
          actions: ['kms:Decrypt', 's3:GetObject', 's3:ListBucket'],
          durationSeconds: 1800,
          justification: 'Restore corrupted case file after disk failure',
          ticket: 'INC-2030-0042',
          decisionDeadline: new Date(START_MS + HOUR_MS).toISOString(),
          activatedAt: new Date(START_MS).toISOString(),
          expiresAt: new Date(START_MS + 1800 * 1000).toISOString(),
          review: 'pending',
          requesterClaims: {
            issuer: 'security-office.gov.vn',
            clearance: 'SECRET',
            nationality: 'VN',
            residency: 'VN',
          },
        });
        // A destination the operator no longer registers receives nothing; the audit record remains.
        await f.db.execute(
          "UPDATE security_notification_settings SET destination_arn = 'arn:sovra:sqs:us-east-1:gone:webhook'",
          [],
        );
        await f.approvals.file(alice, filing());
        assert.equal((await f.outbox()).length, 2);
      } finally {
        await f.dispose();
      }
    });

    test('a revoked attestation ends an active access at the next use, and the refusal is in the tenant’s records', async () => {
      const f = await fixture();
      try {
        const note = await f.attest('op-alice');
        const approved = await approvedRequest(f);
        assert.equal((await use(f, approved, { attestationNote: note })).granted, true);
        const revocation = await f.revocationNote('op-alice', {
          kind: 'attestation',
          attestationSha256: f.identityOf(note),
        });
        const { revocation: stored, created } = await f.revocations.submit(
          operator('op-root', null),
          revocation,
        );
        assert.equal(created, true);
        assert.equal(stored.seq, 1);
        refused(await use(f, approved, { attestationNote: note }), 'AttestationRevoked');
        const [last] = (await f.tenantRecords(TENANT)).slice(-1);
        assert.equal(last!.kind, 'operator-access');
        assert.equal(last!.result, 'denied');
        assert.equal(last!.errorCode, 'AttestationRevoked');
        assert.equal(last!.approvalId, approved.id);
        assert.match(String(last!.details.reason), /revoked by security-office\.gov\.vn/);
        // Filing and break-glass confirmation refuse it as they refuse an expired one.
        await rejectsWith(f.approvals.file(operator('op-alice', note), filing()), 'AttestationRevoked');
        // The office re-attests (a new attestation, another identity): access works again.
        f.clock.advance(1000);
        const reissued = await f.attest('op-alice');
        assert.notEqual(f.identityOf(reissued), f.identityOf(note));
        assert.equal((await use(f, approved, { attestationNote: reissued })).granted, true);
        // Everything issued before an instant: the re-issued one too, and anything older.
        await f.revocations.submit(
          operator('op-root', null),
          await f.revocationNote('op-alice', { kind: 'issued-before', issuedBeforeMs: f.clock.nowMs() }),
        );
        refused(await use(f, approved, { attestationNote: reissued }), 'AttestationRevoked');
        const fresh = await f.attest('op-alice', { issuedAtMs: f.clock.nowMs() });
        assert.equal((await use(f, approved, { attestationNote: fresh })).granted, true);
        // Another operator's attestations are not touched.
        const bob = await f.attest('op-bob');
        await f.approvals.file(operator('op-bob', bob), filing());
      } finally {
        await f.dispose();
      }
    });

    test('a revocation binds the gateway that accepted it at once and every other gateway within the refresh interval', async () => {
      const f = await fixture();
      try {
        const note = await f.attest('op-alice');
        const approved = await approvedRequest(f);
        const secondUse = () =>
          f.secondGate.check({
            principalId: 'op-alice',
            principalTenantId: ROOT_TENANT_ID,
            attestationNote: note,
            approvalId: approved.id,
            action: 's3:GetObject',
            tenantId: TENANT,
            bucket: BUCKET,
            key: 'incident-42/report.pdf',
            sourceIp: HOME_IP,
            requestId: 'req-second',
          });
        assert.equal((await secondUse()).granted, true, 'the second gateway has read the (empty) list');
        await f.revocations.submit(
          operator('op-root', null),
          await f.revocationNote('op-alice', { kind: 'attestation', attestationSha256: f.identityOf(note) }),
        );
        refused(await use(f, approved, { attestationNote: note }), 'AttestationRevoked');
        f.clock.advance(REVOCATION_REFRESH_INTERVAL_MS - 1);
        assert.equal(
          (await secondUse()).granted,
          true,
          'within the interval the second gateway may still judge on its copy',
        );
        f.clock.advance(1);
        refused(await secondUse(), 'AttestationRevoked');
      } finally {
        await f.dispose();
      }
    });

    test('revocations are submitted by platform operators with an office’s signature, stored once, listed in order, and recorded', async () => {
      const f = await fixture();
      try {
        const note = await f.revocationNote('op-alice', { kind: 'issued-before', issuedBeforeMs: START_MS });
        await rejectsWith(f.revocations.submit(ADMIN_A, note), 'NotAnOperator');
        const stranger = parseSignerKey(
          generateNoteKey('ed25519', 'security-office.gov.vn').signerKey,
          f.clock,
        );
        await rejectsWith(
          f.revocations.submit(
            operator('op-root', null),
            await f.revocationNote('op-alice', { kind: 'issued-before', issuedBeforeMs: START_MS }, stranger),
          ),
          'InvalidAttestationRevocation',
        );
        await rejectsWith(
          f.revocations.submit(operator('op-root', null), 42),
          'InvalidAttestationRevocation',
        );
        const first = await f.revocations.submit(operator('op-root', null), note);
        const again = await f.secondRevocations.submit(operator('op-other', null), note);
        assert.equal(again.created, false, 'the same revocation is stored once');
        assert.deepEqual(again.revocation, first.revocation);
        assert.deepEqual(first.revocation, {
          format: 1,
          seq: 1,
          id: first.revocation.id,
          subject: 'op-alice',
          revoked: { kind: 'issued-before', issuedBeforeMs: START_MS },
          reason: 'Clearance withdrawn',
          revokedAtMs: START_MS,
          issuer: 'security-office.gov.vn',
          note,
          submittedBy: 'op-root',
          acceptedAtMs: START_MS,
        });
        assert.match(first.revocation.id, /^[0-9a-f]{64}$/);
        // Two gateways at once: distinct seqs, in commit order.
        const subjects = ['op-bob', 'op-carol', 'op-dave', 'op-erin'];
        const notes = await Promise.all(
          subjects.map((subject) =>
            f.revocationNote(subject, { kind: 'issued-before', issuedBeforeMs: START_MS }),
          ),
        );
        await Promise.all(
          notes.map((each, i) =>
            (i % 2 === 0 ? f.revocations : f.secondRevocations).submit(operator('op-root', null), each),
          ),
        );
        const page = await f.revocations.list(operator('op-root', null), { afterSeq: null, limit: 3 });
        assert.deepEqual(
          page.revocations.map((r) => r.seq),
          [1, 2, 3],
        );
        assert.equal(page.nextAfterSeq, 3);
        const rest = await f.revocations.list(operator('op-root', null), { afterSeq: 3, limit: 3 });
        assert.deepEqual(
          rest.revocations.map((r) => r.seq),
          [4, 5],
        );
        assert.equal(rest.nextAfterSeq, null);
        assert.deepEqual(
          [...page.revocations, ...rest.revocations].map((r) => r.subject).sort(),
          ['op-alice', ...subjects].sort(),
        );
        await rejectsWith(f.revocations.list(ADMIN_A, { afterSeq: null, limit: null }), 'NotAnOperator');
        await rejectsWith(
          f.revocations.list(operator('op-root', null), { afterSeq: null, limit: 101 }),
          'MalformedAccessRequest',
        );
        // The offices' decisions are evidence: the database refuses to change or delete them.
        await assert.rejects(f.db.execute("UPDATE attestation_revocations SET reason = 'none'", []));
        await assert.rejects(f.db.execute('DELETE FROM attestation_revocations', []));
        // Every submission, accepted or refused, is an access-approval record of the root tenant.
        const records = (await f.tenantRecords(ROOT_TENANT_ID)).filter(
          (r) => r.action === 'sovra:RevokeOperatorAttestation',
        );
        assert.deepEqual(
          records.map((r) => [r.result, r.errorCode, r.details.step, r.details.duplicate]),
          [
            ['denied', 'NotAnOperator', 'attestation-revocation-refused', false],
            ['denied', 'InvalidAttestationRevocation', 'attestation-revocation-refused', false],
            ['denied', 'InvalidAttestationRevocation', 'attestation-revocation-refused', false],
            ['success', null, 'attestation-revoked', false],
            ['success', null, 'attestation-revoked', true],
            ['success', null, 'attestation-revoked', false],
            ['success', null, 'attestation-revoked', false],
            ['success', null, 'attestation-revoked', false],
            ['success', null, 'attestation-revoked', false],
          ],
        );
        const accepted = records[3]!;
        assert.equal(accepted.kind, 'access-approval');
        assert.equal(accepted.tenantId, ROOT_TENANT_ID);
        assert.equal(accepted.principalId, 'op-alice', 'the operator whose attestations are revoked');
        assert.equal(accepted.details.actor, 'op-root');
        assert.equal(accepted.details.issuer, 'security-office.gov.vn');
        assert.equal(accepted.details.issuedBeforeMs, START_MS);
        assert.equal(accepted.resource, `sovra:attestation-revocation/${first.revocation.id}`);
        assert.equal(records[0]!.principalId, 'admin-a');
        assert.equal(records[0]!.principalTenantId, TENANT);
      } finally {
        await f.dispose();
      }
    });
  });
}
