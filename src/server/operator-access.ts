import type { AuditLog } from '../domain/audit/audit-log.ts';
import type { CredentialResolver } from '../domain/iam/credentials.ts';
import { AccessApprovals } from '../domain/lockbox/access-approvals.ts';
import { parseAttestationKeys } from '../domain/lockbox/attestation.ts';
import { OperatorEligibility } from '../domain/lockbox/eligibility.ts';
import { LockboxError } from '../domain/lockbox/errors.ts';
import { OperatorAccessGate } from '../domain/lockbox/operator-access-gate.ts';
import type { AccessApprovalStore, AuditSink } from '../domain/lockbox/ports.ts';
import { parseOperatorAccessRules, type OperatorAccessRules } from '../domain/lockbox/rules.ts';
import type { JurisdictionMap } from '../domain/residency/jurisdiction.ts';
import type { MetadataStore } from '../domain/storage/ports.ts';
import type { Clock } from '../platform/clock.ts';
import { ConfigError, type ServerConfig } from '../platform/config.ts';
import type { Logger } from '../platform/logger.ts';
import { AccessEndpoint } from '../protocols/access/access-endpoint.ts';

export interface OperatorAccess {
  /** The /_sovra/access/ API. */
  endpoint: AccessEndpoint;
  /** Enforcement on the data path, for the S3 and KMS request authorizers. */
  gate: OperatorAccessGate;
}

/**
 * Builds operator access approval (the lockbox) from the configuration: the security offices'
 * keys and the platform rules (a bad file stops the start, naming its setting), the service over
 * the access request store, its HTTP endpoint, and the gate the data path asks.
 */
export function openOperatorAccess(options: {
  config: ServerConfig;
  store: AccessApprovalStore;
  metadata: MetadataStore;
  audit: AuditLog | null;
  jurisdictions: JurisdictionMap;
  credentials: CredentialResolver;
  clock: Clock;
  log: Logger;
}): OperatorAccess {
  const { config, store, metadata, clock, log } = options;
  const eligibility = new OperatorEligibility({
    rules: rulesOf(config.operatorAccess.rules),
    attestationKeys: configured('operatorAttestationKeys', () =>
      parseAttestationKeys(config.operatorAccess.attestationKeys),
    ),
    jurisdictions: options.jurisdictions,
  });
  if (config.operatorAccess.rules === null || config.operatorAccess.attestationKeys.length === 0) {
    log.info(
      {},
      'operator access requests are disabled (no operatorAccessRules or no operatorAttestationKeys)',
    );
  }
  // With the audit log off (benchmarks only) lockbox steps cannot be recorded; they still work.
  const audit: AuditSink = options.audit ?? { record: () => Promise.resolve() };
  const approvals = new AccessApprovals({
    store,
    tenants: { getTenant: (id) => metadata.transaction((tx) => tx.getTenant(id)) },
    eligibility,
    audit,
    clock,
  });
  return {
    endpoint: new AccessEndpoint({
      approvals,
      credentials: options.credentials,
      clock,
      region: config.region,
      onInternalError: (err, requestId) => log.error({ err, requestId }, 'access API request failed'),
    }),
    gate: new OperatorAccessGate({ store, eligibility, audit, clock }),
  };
}

function rulesOf(text: string | null): OperatorAccessRules | null {
  return text === null ? null : configured('operatorAccessRules', () => parseOperatorAccessRules(text));
}

function configured<T>(setting: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof LockboxError) {
      throw new ConfigError('InvalidConfig', `config: ${setting}: ${error.message}`, { setting });
    }
    throw error;
  }
}
