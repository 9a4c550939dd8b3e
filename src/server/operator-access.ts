import type { AuditLog } from '../domain/audit/audit-log.ts';
import type { ClassificationScheme } from '../domain/classification/scheme.ts';
import type { CredentialResolver } from '../domain/iam/credentials.ts';
import { AccessApprovals } from '../domain/lockbox/access-approvals.ts';
import { parseAttestationKeys } from '../domain/lockbox/attestation.ts';
import { AttestationRevocations } from '../domain/lockbox/attestation-revocations.ts';
import { OperatorEligibility } from '../domain/lockbox/eligibility.ts';
import { LockboxError } from '../domain/lockbox/errors.ts';
import { EXPIRY_PASS_INTERVAL_MS } from '../domain/lockbox/limits.ts';
import { OperatorAccessGate } from '../domain/lockbox/operator-access-gate.ts';
import type { AccessApprovalStore, AttestationRevocationStore, AuditSink } from '../domain/lockbox/ports.ts';
import { parseOperatorAccessRules, type OperatorAccessRules } from '../domain/lockbox/rules.ts';
import { SecurityNotifications } from '../domain/lockbox/security-notifications.ts';
import type { JurisdictionMap } from '../domain/residency/jurisdiction.ts';
import { destinationArn } from '../domain/storage/notifications.ts';
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
  /** The expiry pass, every EXPIRY_PASS_INTERVAL_MS in every gateway. */
  expiry: { start(): void; stop(): Promise<void> };
}

/**
 * Builds operator access approval (the lockbox) from the configuration: the security offices'
 * keys and the platform rules (a bad file stops the start, naming its setting), the offices'
 * attestation revocations, the service over the access request store, its HTTP endpoint, the
 * gate the data path asks, and the expiry pass.
 * Tenants' security notifications go to the operator's notification targets, through the event
 * outbox that the server's NotificationDispatcher delivers.
 */
export function openOperatorAccess(options: {
  config: ServerConfig;
  /** The platform's classification scheme: the rules' minClearance is one of its levels. */
  scheme: ClassificationScheme;
  store: AccessApprovalStore;
  /** The security offices' attestation revocations (migration 15). */
  revocationStore: AttestationRevocationStore;
  metadata: MetadataStore;
  audit: AuditLog | null;
  jurisdictions: JurisdictionMap;
  credentials: CredentialResolver;
  clock: Clock;
  log: Logger;
}): OperatorAccess {
  const { config, store, metadata, clock, log } = options;
  const attestationKeys = configured('operatorAttestationKeys', () =>
    parseAttestationKeys(config.operatorAccess.attestationKeys),
  );
  // With the audit log off (benchmarks only) lockbox steps cannot be recorded; they still work.
  const audit: AuditSink = options.audit ?? { record: () => Promise.resolve() };
  // The offices' revocations bind this gateway at once, the others within REVOCATION_REFRESH_INTERVAL_MS.
  const revocations = new AttestationRevocations({
    store: options.revocationStore,
    attestationKeys,
    audit,
    jurisdictions: options.jurisdictions,
    clock,
  });
  const eligibility = new OperatorEligibility({
    rules: rulesOf(config.operatorAccess.rules, options.scheme),
    attestationKeys,
    jurisdictions: options.jurisdictions,
    revocations,
  });
  if (config.operatorAccess.rules === null || config.operatorAccess.attestationKeys.length === 0) {
    log.info(
      {},
      'operator access requests are disabled (no operatorAccessRules or no operatorAttestationKeys)',
    );
  }
  const notifications = new SecurityNotifications({
    store,
    destinations: new Map(
      config.notificationTargets.map((target) => [destinationArn(config.region, target), target.id]),
    ),
    clock,
  });
  const approvals = new AccessApprovals({
    store,
    tenants: { getTenant: (id) => metadata.transaction((tx) => tx.getTenant(id)) },
    eligibility,
    audit,
    notifications,
    clock,
  });
  return {
    endpoint: new AccessEndpoint({
      approvals,
      notifications,
      revocations,
      credentials: options.credentials,
      clock,
      region: config.region,
      onInternalError: (err, requestId) => log.error({ err, requestId }, 'access API request failed'),
    }),
    gate: new OperatorAccessGate({ store, eligibility, audit, clock }),
    expiry: expiryPasses(approvals, log),
  };
}

/**
 * Runs AccessApprovals.expireDue every EXPIRY_PASS_INTERVAL_MS, one pass at a time; a failed pass
 * (database or audit log unavailable) is logged and the next one tries again.
 */
function expiryPasses(approvals: AccessApprovals, log: Logger): OperatorAccess['expiry'] {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  const pass = () => {
    running ??= approvals
      .expireDue()
      .then((expired) => {
        if (expired > 0) log.info({ expired }, 'operator access requests expired');
      })
      .catch((error: unknown) => log.warn({ err: error }, 'operator access expiry pass failed'))
      .finally(() => {
        running = null;
      });
  };
  return {
    start: () => {
      if (timer !== null) return;
      timer = setInterval(pass, EXPIRY_PASS_INTERVAL_MS);
      timer.unref();
    },
    stop: async () => {
      if (timer !== null) clearInterval(timer);
      timer = null;
      await running;
    },
  };
}

function rulesOf(text: string | null, scheme: ClassificationScheme): OperatorAccessRules | null {
  return text === null
    ? null
    : configured('operatorAccessRules', () => parseOperatorAccessRules(text, scheme));
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
