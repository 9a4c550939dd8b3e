import { ServerResponse, type IncomingMessage } from 'node:http';
import type { AuditLog } from '../domain/audit/audit-log.ts';
import type { LogKeyCustody } from '../domain/audit/checkpointer.ts';
import type { SecretSealer } from '../domain/iam/credentials.ts';
import { parseVerifierKey, type NoteVerifier } from '../domain/audit/tlog/note-keys.ts';
import { ConfigError } from '../platform/config.ts';
import type { KeyUseDecisionLog, KeyUseDecisionRecord } from '../domain/kms/decision-records.ts';
import type { RootOfTrust } from '../domain/kms/root-of-trust.ts';
import type { AuditRecord, AuditResult } from '../domain/audit/records.ts';
import { accessResourceOf, type AccessOutcome } from '../protocols/access/access-endpoint.ts';
import type { AdminOutcome } from '../protocols/admin/admin-endpoint.ts';
import type { GuardrailsOutcome } from '../protocols/admin/guardrails-endpoint.ts';
import type { AuditOutcome } from '../protocols/audit/audit-endpoint.ts';
import type { KmsOutcome } from '../protocols/kms/kms-endpoint.ts';
import type { OperatorOutcome } from '../protocols/operator/operator-endpoint.ts';
import type { S3Outcome } from '../protocols/s3/s3-endpoint.ts';
import type { PlacementDecision, PlacementDecisionLog } from '../domain/residency/placement.ts';
import type { AccessDenial } from '../domain/iam/authorizer.ts';

/** Wire error codes that mean "who you are, or what you may do, was refused". */
const DENIAL_CODES = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'SignatureDoesNotMatch',
  'InvalidAccessKeyId',
  'InvalidClientTokenId',
  'IncompleteSignatureException',
  'MissingAuthenticationToken',
  'UnrecognizedClientException',
  'ExpiredToken',
  'RequestTimeTooSkewed',
]);

export interface RequestFacts {
  req: IncomingMessage;
  requestId: string;
  nowMs: number;
  jurisdictionOf: (address: string) => string;
}

/**
 * Holds a response's bytes until its audit record is durable, so that no request is acknowledged
 * whose record a crash could lose. The first `write` or `end` (when the status is known: headers
 * are sent with the first body bytes) builds the record from the outcome object the endpoint
 * fills in, queues that call and every later one, and replays them in order once the group commit
 * holding the record has committed. While held, `write` answers false, so a piped body waits for
 * 'drain' and at most one chunk is queued. (Corking the socket would not do: Node fully uncorks
 * it in `end`.) If the record cannot be written the connection is destroyed: the client sees a
 * failure, never a success without a record.
 */
export function holdResponseForAudit(
  res: ServerResponse,
  audit: AuditLog,
  build: (status: number) => AuditRecord,
  onFailure: (error: unknown) => void,
): void {
  const queue: { end: boolean; args: unknown[] }[] = [];
  let held = false;
  const release = () => {
    Reflect.deleteProperty(res, 'write');
    Reflect.deleteProperty(res, 'end');
    if (res.destroyed) return;
    let flowing = true;
    for (const call of queue) {
      if (call.end) Reflect.apply(PROTOTYPE_END, res, call.args);
      else flowing = Reflect.apply(PROTOTYPE_WRITE, res, call.args) as boolean;
    }
    if (flowing && !queue.some((call) => call.end)) res.emit('drain');
  };
  const hold = (end: boolean, args: unknown[]) => {
    queue.push({ end, args });
    if (held) return;
    held = true;
    audit.record(build(res.statusCode)).then(release, (error: unknown) => {
      onFailure(error);
      res.destroy();
    });
  };
  Object.defineProperty(res, 'write', {
    configurable: true,
    writable: true,
    value: (...args: unknown[]) => {
      hold(false, args);
      return false;
    },
  });
  Object.defineProperty(res, 'end', {
    configurable: true,
    writable: true,
    value: (...args: unknown[]) => {
      hold(true, args);
      return res;
    },
  });
}

/* eslint-disable @typescript-eslint/unbound-method -- applied to the response with Reflect.apply */
const PROTOTYPE_WRITE = ServerResponse.prototype.write;
const PROTOTYPE_END = ServerResponse.prototype.end;
/* eslint-enable @typescript-eslint/unbound-method */

export function s3RequestRecord(outcome: S3Outcome, status: number, facts: RequestFacts): AuditRecord {
  const resource =
    outcome.bucket === null
      ? null
      : outcome.key === null
        ? `arn:aws:s3:::${outcome.bucket}`
        : `arn:aws:s3:::${outcome.bucket}/${outcome.key}`;
  // An access that happened belongs to the bucket owner's view (who touched its data), naming the
  // caller's tenant when it is another one, with the bucket's label. A refused request on another
  // tenant's bucket stays in the caller's view without the label: the owner learns nothing new,
  // and the caller cannot tell an existing foreign bucket from a missing one by where its own
  // records went.
  const own = outcome.resourceTenantId !== null && outcome.resourceTenantId === outcome.tenantId;
  return viewedRecord(`s3:${outcome.action ?? 'Unknown'}`, resource, outcome, status, facts, (accessed) =>
    accessed || own ? outcome.classification : null,
  );
}

/** Who a request involved, as the S3 and KMS outcomes both say it. */
interface RequestParties {
  principalId: string | null;
  tenantId: string | null;
  resourceTenantId: string | null;
  errorCode: string | null;
  denial: AccessDenial | null;
}

/**
 * A request's record in the view it belongs to: the resource owner's when the access happened
 * (naming the caller's tenant when it is another one), the caller's otherwise; a refusal by
 * authorization says who refused. `classification` gets whether the access happened.
 */
function viewedRecord(
  action: string,
  resource: string | null,
  parties: RequestParties,
  status: number,
  facts: RequestFacts,
  classification: (accessed: boolean) => AuditRecord['classification'] = () => null,
): AuditRecord {
  const accessed = parties.resourceTenantId !== null && parties.errorCode === null;
  const owner = accessed ? parties.resourceTenantId : parties.tenantId;
  const record: AuditRecord = {
    ...requestRecord(action, resource, parties.principalId, owner, parties.errorCode, status, facts),
    principalTenantId: owner !== parties.tenantId ? parties.tenantId : null,
    classification: classification(accessed),
  };
  return withDenial(record, parties.denial);
}

/** A request refused by authorization is an 'authorization-denied' record naming who refused. */
function withDenial(record: AuditRecord, denial: AccessDenial | null): AuditRecord {
  if (denial === null) return record;
  // Which layer refused and which statements or guardrails did: the "why" of a denial.
  return {
    ...record,
    kind: 'authorization-denied',
    result: 'denied',
    details: {
      ...record.details,
      deniedBy: denial.source,
      denyingPolicies: denial.policies.join(' ').slice(0, 512),
    },
  };
}

/**
 * KMS requests, named by the key they acted on. As for S3, a use that happened belongs to the key
 * owner's view, naming the caller's tenant when it is another one; a refusal stays in the
 * caller's view, as an 'authorization-denied' record with the layer and the statements that
 * refused (a refused use of another tenant's key is answered, and recorded, as a missing key).
 */
export function kmsRequestRecord(outcome: KmsOutcome, status: number, facts: RequestFacts): AuditRecord {
  return viewedRecord(`kms:${outcome.operation ?? 'Unknown'}`, outcome.resource, outcome, status, facts);
}

/**
 * Admin API requests: changes that succeed are 'admin-change' records of the tenant changed;
 * reads and refusals are requests like any other.
 */
export function adminRequestRecord(outcome: AdminOutcome, status: number, facts: RequestFacts): AuditRecord {
  const record: AuditRecord = {
    ...requestRecord(
      outcome.action ?? 'sovra:Unknown',
      outcome.resource,
      outcome.principalId,
      outcome.tenantId,
      outcome.errorCode,
      status,
      facts,
    ),
    // Set only once a read found its bucket in the caller's own tenant (GetBucket): the label.
    classification: outcome.classification,
  };
  const isChange = outcome.action !== null && !/^sovra:(Get|List)/.test(outcome.action);
  return isChange && record.result === 'success' ? { ...record, kind: 'admin-change' } : record;
}

/**
 * Guardrail requests, recorded as admin requests (an accepted replacement is an 'admin-change'),
 * with the SHA-256 of the set offered or read and the version stored or active, so that the record
 * of a replacement, accepted or refused, identifies the exact text.
 */
export function guardrailsRequestRecord(
  outcome: GuardrailsOutcome,
  status: number,
  facts: RequestFacts,
): AuditRecord {
  const record = adminRequestRecord(outcome, status, facts);
  return {
    ...record,
    details: {
      ...record.details,
      guardrailsSha256: outcome.guardrailsSha256,
      guardrailsVersion: outcome.guardrailsVersion,
    },
  };
}

/** Lockbox API requests (the steps themselves are also 'access-approval' records of the tenant). */
export function accessRequestRecord(
  outcome: AccessOutcome,
  status: number,
  facts: RequestFacts,
): AuditRecord {
  return requestRecord(
    `sovra:${outcome.action ?? 'Unknown'}`,
    accessResourceOf(outcome),
    outcome.principalId,
    outcome.tenantId,
    outcome.errorCode,
    status,
    facts,
  );
}

/** Reads of the audit log are recorded too: who looked at whose records is itself auditable. */
export function auditRequestRecord(outcome: AuditOutcome, status: number, facts: RequestFacts): AuditRecord {
  return requestRecord(
    `sovra:ReadAuditLog`,
    `sovra:audit-log/${outcome.route ?? ''}`,
    outcome.principalId,
    outcome.tenantId,
    outcome.errorCode,
    status,
    facts,
  );
}

/** Seal and unseal requests are 'seal' records (status reads are requests like any other). */
export function operatorRequestRecord(
  outcome: OperatorOutcome,
  status: number,
  facts: RequestFacts,
): AuditRecord {
  const record = requestRecord(
    `sovra:${outcome.action ?? 'Unknown'}`,
    'sovra:root-of-trust',
    outcome.principalId,
    null,
    outcome.errorCode,
    status,
    facts,
  );
  return outcome.action === 'Seal' || outcome.action === 'Unseal' ? { ...record, kind: 'seal' } : record;
}

function requestRecord(
  action: string,
  resource: string | null,
  principalId: string | null,
  tenantId: string | null,
  errorCode: string | null,
  status: number,
  facts: RequestFacts,
): AuditRecord {
  const denied = errorCode !== null && (DENIAL_CODES.has(errorCode) || status === 403);
  const result: AuditResult = denied ? 'denied' : status < 400 ? 'success' : 'failure';
  const sourceIp = facts.req.socket.remoteAddress ?? null;
  return {
    kind: denied ? 'authorization-denied' : 'request',
    timeMs: facts.nowMs,
    tenantId,
    principalId,
    principalTenantId: null,
    action,
    resource,
    classification: null,
    sourceIp,
    sourceJurisdiction: sourceIp === null ? null : facts.jurisdictionOf(sourceIp),
    result,
    status,
    errorCode,
    justification: null,
    approvalId: null,
    requestId: facts.requestId,
    details: { method: facts.req.method ?? null },
  };
}

/**
 * The log keys' custody: the root of trust when there is one (wrap/unwrap inside the HSM, or
 * under the unsealed software root), else the local seal key of the embedded default.
 */
export function logKeyCustody(root: RootOfTrust | null, sealer: SecretSealer): LogKeyCustody {
  if (root !== null)
    return { wrap: (seed, aad) => root.wrap(seed, aad), unwrap: (w, aad) => root.unwrap(w, aad) };
  const context = (aad: Uint8Array) => Buffer.from(aad).toString('utf8');
  return {
    wrap: (seed, aad) => Promise.resolve(sealer.seal(Buffer.from(seed), context(aad))),
    unwrap: (wrapped, aad) => Promise.resolve(sealer.unseal(wrapped, context(aad))),
  };
}

/**
 * Key-use decisions go to their own table (the KMS's decision log) and, as 'key-use' records with
 * their justification, to the audit log: one batch of decisions, one group of audit appends.
 */
export function auditedKeyUseDecisions(log: KeyUseDecisionLog, audit: AuditLog): KeyUseDecisionLog {
  return {
    async append(records) {
      await log.append(records);
      await Promise.all(records.map((record) => audit.record(keyUseRecord(record))));
    },
    listTenantDecisions: (tenantId, range, afterSeq, limit) =>
      log.listTenantDecisions(tenantId, range, afterSeq, limit),
  };
}

function keyUseRecord(decision: KeyUseDecisionRecord): AuditRecord {
  const j = decision.justification;
  return {
    kind: 'key-use',
    timeMs: decision.decidedAt.getTime(),
    tenantId: decision.tenantId,
    principalId: j.principalId,
    principalTenantId: j.tenantId === decision.tenantId ? null : j.tenantId,
    action: `kms:${j.operation}`,
    resource: `sovra:kms-key/${decision.keyId}`,
    // The label of the data the key protected (an object's, on the S3 data path); a KMS key has none.
    classification: j.classification ?? null,
    sourceIp: j.sourceIp,
    sourceJurisdiction: j.jurisdiction,
    result: decision.decision === 'granted' ? 'success' : 'denied',
    status: null,
    errorCode: decision.denialReason,
    justification: j.reason,
    approvalId: j.approvalReference,
    requestId: j.requestId,
    details: { keyVersion: decision.keyVersion, service: j.service },
  };
}

/** Bucket placements (residency decisions, domain/residency/placement.ts) as `residency-decision` records. */
export function auditedPlacements(audit: AuditLog): PlacementDecisionLog {
  return { record: (decision) => audit.record(placementRecord(decision)) };
}

function placementRecord(decision: PlacementDecision): AuditRecord {
  return {
    kind: 'residency-decision',
    timeMs: decision.timeMs,
    tenantId: decision.tenantId,
    principalId: decision.principalId,
    principalTenantId: null,
    action: 'sovra:PlaceBucket',
    resource: `arn:aws:s3:::${decision.bucket}`,
    classification: decision.classification,
    sourceIp: decision.sourceIp,
    sourceJurisdiction: decision.sourceJurisdiction,
    result: decision.allowed ? 'success' : 'denied',
    status: null,
    errorCode: decision.allowed ? null : 'InvalidLocationConstraint',
    justification: null,
    approvalId: null,
    requestId: decision.requestId,
    details: {
      requestedRegion: decision.requestedRegion,
      region: decision.region,
      jurisdiction: decision.jurisdiction,
    },
  };
}

/** The configured witness keys, each a cosignature/v1 vkey; a bad one stops the start naming the setting. */
export function witnessVerifiers(vkeys: readonly string[]): NoteVerifier[] {
  return vkeys.map((vkey, i) => {
    let verifier: NoteVerifier;
    try {
      verifier = parseVerifierKey(vkey);
    } catch (error) {
      throw invalidWitnessKeys(`line ${i + 1}: ${(error as Error).message}`);
    }
    if (verifier.keyType !== 'cosignature/v1') {
      throw invalidWitnessKeys(`line ${i + 1}: ${verifier.name} is not a cosignature/v1 key`);
    }
    return verifier;
  });
}

function invalidWitnessKeys(message: string): ConfigError {
  return new ConfigError('InvalidConfig', `config: auditWitnessKeys: ${message}`, {
    setting: 'auditWitnessKeys',
  });
}
