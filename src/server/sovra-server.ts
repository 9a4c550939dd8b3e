import { isSovraError } from '../platform/errors.ts';
import { AUDIT_BATCH_MAX_RECORDS, AuditLog } from '../domain/audit/audit-log.ts';
import { FileAuditJournal } from '../adapters/audit-journal/file-audit-journal.ts';
import { DEFAULT_RETENTION_DAYS } from '../domain/audit/retention.ts';
import { AuditReader } from '../domain/audit/audit-reader.ts';
import { Checkpointer } from '../domain/audit/checkpointer.ts';
import { WitnessCosignatures } from '../domain/audit/witnessing.ts';
import { SiemExporter } from '../domain/audit/siem-exporter.ts';
import { openSiemSinks } from '../adapters/siem/siem-sinks.ts';
import { AUDIT_PATH_PREFIX, AuditEndpoint, newAuditOutcome } from '../protocols/audit/audit-endpoint.ts';
import {
  accessRequestRecord,
  adminRequestRecord,
  auditRequestRecord,
  auditedKeyUseDecisions,
  auditedPlacements,
  guardrailsRequestRecord,
  witnessVerifiers,
  holdResponseForAudit,
  kmsRequestRecord,
  logKeyCustody,
  operatorRequestRecord,
  s3RequestRecord,
} from './audit-trail.ts';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { DiskBlobStore } from '../adapters/blobs/disk-blob-store.ts';
import { RequestAuthorizer } from '../domain/iam/request-authorizer.ts';
import { ApprovedOperatorAuthorizer } from '../domain/lockbox/approved-operator-authorizer.ts';
import { bootstrapRootTenant, ROOT_TENANT_ID } from '../domain/iam/bootstrap.ts';
import { CredentialResolver, type SecretSealer } from '../domain/iam/credentials.ts';
import { BucketAdministration } from '../domain/iam/bucket-administration.ts';
import { IdentityAdministration } from '../domain/iam/identity-admin.ts';
import { CachedIdentitySource } from '../domain/iam/identity-policies.ts';
import { FederationAdministration } from '../domain/iam/federation-admin.ts';
import { IdTokenVerifier } from '../domain/iam/federation-tokens.ts';
import { SecurityTokenService } from '../domain/iam/sts.ts';
import { SessionIdentitySource } from '../domain/iam/sts-sessions.ts';
import { isFederationAdminPath, isGuardrailsAdminPath } from '../protocols/admin/routes.ts';
import { FederationAdminEndpoint } from '../protocols/sts/federation-admin-endpoint.ts';
import { isStsRequest, newStsOutcome, StsEndpoint } from '../protocols/sts/sts-endpoint.ts';
import { DecisionExplainer } from '../domain/iam/decision-explainer.ts';
import { ADMIN_PATH_PREFIX, AdminEndpoint, newAdminOutcome } from '../protocols/admin/admin-endpoint.ts';
import { GuardrailsAdminEndpoint, newGuardrailsOutcome } from '../protocols/admin/guardrails-endpoint.ts';
import { KeyUseDecisionRecorder } from '../domain/kms/decision-records.ts';
import { KeyRing } from '../domain/kms/key-ring.ts';
import { openOpenSslDigestSigner } from '../adapters/openssl/digest-signer.ts';
import { startHeapTrimmer } from '../adapters/native/heap-trimmer.ts';
import { openScavengePacer } from '../adapters/native/scavenge-pacer.ts';
import { openOpenSslFrameCiphers } from '../adapters/openssl/frame-cipher.ts';
import { openThreadedMd5 } from '../adapters/openssl/threaded-md5.ts';
import type { RootOfTrust } from '../domain/kms/root-of-trust.ts';
import { JurisdictionMap } from '../domain/residency/jurisdiction.ts';
import { GarbageCollector } from '../domain/storage/garbage-collector.ts';
import { LifecycleRunner } from '../domain/storage/lifecycle-runner.ts';
import { MultipartUploads } from '../domain/storage/multipart-uploads.ts';
import { NotificationDispatcher } from '../domain/storage/notification-dispatcher.ts';
import { BucketNotifications } from '../domain/storage/notifications.ts';
import { ObjectLock } from '../domain/storage/object-lock.ts';
import { ObjectData } from '../domain/storage/object-data.ts';
import { ObjectEncryptor } from '../domain/storage/object-encryption.ts';
import { ObjectStore } from '../domain/storage/object-store.ts';
import type { MetadataStore } from '../domain/storage/ports.ts';
import { Tagging } from '../domain/storage/tagging.ts';
import { isKmsRequest, KmsEndpoint, newKmsOutcome } from '../protocols/kms/kms-endpoint.ts';
import {
  OPERATOR_PATH_PREFIX,
  OperatorEndpoint,
  type OperatorOutcome,
} from '../protocols/operator/operator-endpoint.ts';
import { newS3Outcome, S3Endpoint } from '../protocols/s3/s3-endpoint.ts';
import type { Clock } from '../platform/clock.ts';
import type { ServerConfig } from '../platform/config.ts';
import { LIMITS } from '../platform/limits.ts';
import { createRequestIdSource } from '../platform/ids.ts';
import { loggablePath, type Logger } from '../platform/logger.ts';
import { openCredentialSealer } from './credential-sealing.ts';
import { createHttpServer } from './http-server.ts';
import { startKmsMaintenance } from './kms-maintenance.ts';
import { openMetadataAndKeyStores } from './metadata.ts';
import { openOperatorAccess } from './operator-access.ts';
import { openClassificationScheme, openPlatformGuardrails } from './platform-policy.ts';
import { ACCESS_PATH_PREFIX, newAccessOutcome } from '../protocols/access/access-endpoint.ts';
import { keyRingDataKeys } from './object-encryption-keys.ts';
import { openNotificationSinks } from './notification-sinks.ts';
import { openRootOfTrust } from './root-of-trust.ts';
import { startXks, type RunningXks } from './xks-listener.ts';

export const ADMIN_CREDENTIALS_FILE = 'admin-credentials.json';
const HEALTH_LIVE = '/_sovra/health/live';
const HEALTH_READY = '/_sovra/health/ready';

export interface RunningServer {
  server: Server;
  /** host:port actually bound (port 0 resolves to a free port). */
  address: { host: string; port: number };
  /** The KMS root of trust (null with rootOfTrust none); the sealed software root starts sealed. */
  rootOfTrust: RootOfTrust | null;
  /** The AWS KMS XKS proxy (null unless configured): its tenant switch and own listener. */
  xks: RunningXks | null;
  stop(): Promise<void>;
}

/**
 * The composition root: builds adapters, then domain services, then protocol endpoints, and
 * wires them to one HTTP(S) server. Nothing else constructs adapters.
 */
export async function startServer(
  config: ServerConfig,
  log: Logger,
  clock: Clock,
  announce: (text: string) => void,
): Promise<RunningServer> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // The one scheme of the whole server: S3 label headers, clearances, bucket labels, lockbox rules.
  const scheme = openClassificationScheme(config);
  const {
    metadata,
    keys,
    keyUseDecisions,
    auditLog: auditStore,
    identity: identityStore,
    accessApprovals: accessApprovalStore,
    guardrailSets,
    credentialKeys,
  } = openMetadataAndKeyStores(config, clock);
  await metadata.migrate();
  // The guardrails file (or the shipped set), replaced by the newest set stored through the admin API.
  const platformGuardrails = await openPlatformGuardrails({ config, store: guardrailSets, clock, log });
  const blobs = new DiskBlobStore({ root: config.dataDir });
  const cleaned = await blobs.cleanTemporary();
  if (cleaned > 0) log.info({ cleaned }, 'removed temporary data left by an earlier process');
  // Key services take `rootOfTrust`; while it is sealed they answer 503 (domain/kms/seal.ts
  // requireUnsealed). With a root of trust every new object is encrypted under a data key of the
  // tenant's KMS, so S3 writes and reads of encrypted objects also answer 503 while sealed; with
  // none (`--root-of-trust none`) objects are stored in plaintext CRC frames.
  const { root: rootOfTrust, seal } = await openRootOfTrust(config, log, clock);
  // Identity providers and role sessions (migration 10); temporary credentials resolve through it.
  const federationStore = identityStore.federation();
  // Credential secrets are sealed under a key the root of trust wraps (docs/decisions/0005): with
  // the sealed software root nothing authenticates (503) until a quorum unseals it, and the root
  // tenant of a new installation is bootstrapped right after that first unseal.
  if (seal !== null && (await identityStore.getTenant(ROOT_TENANT_ID)) === null) {
    log.info(
      {},
      'the root tenant and its admin credentials will be created once the root of trust is unsealed',
    );
  }
  const sealer = await openCredentialSealer({
    dataDir: config.dataDir,
    root: rootOfTrust,
    seal,
    keyStore: credentialKeys,
    stores: { accessKeys: identityStore, sessions: federationStore },
    logKeys: auditStore,
    log,
    whenAvailable: bootstrapOnFirstStart,
  });
  async function bootstrapOnFirstStart(available: SecretSealer): Promise<void> {
    const boot = await bootstrapRootTenant(metadata, available, clock);
    if (boot === null) return;
    const path = join(config.dataDir, ADMIN_CREDENTIALS_FILE);
    writeFileSync(
      path,
      `${JSON.stringify({ accessKeyId: boot.credentials.accessKeyId, secretAccessKey: boot.credentials.secretAccessKey }, null, 2)}\n`,
      {
        mode: 0o600,
        flag: 'wx',
      },
    );
    // Printed once on the console for the operator; deliberately not through the logger.
    announce(
      `Sovra bootstrapped the root tenant. Admin credentials (shown once, also in ${path}, mode 0600):\n` +
        `  accessKeyId:     ${boot.credentials.accessKeyId}\n  secretAccessKey: ${boot.credentials.secretAccessKey}\n`,
    );
    log.info(
      { tenant: boot.tenant.id, principal: boot.principal.id, credentialsFile: path },
      'bootstrapped root tenant',
    );
  }

  const data = new ObjectData(blobs, {
    ciphers: await openOpenSslFrameCiphers(),
    digests: await openThreadedMd5(),
    pacer: openScavengePacer(LIMITS.scavengeEveryIngestBytes),
  });
  const notifications = new BucketNotifications({
    metadata,
    clock,
    region: config.region,
    destinations: config.notificationTargets,
  });
  const jurisdictions = openJurisdictionMap(config);
  const jurisdictionOf = (address: string) => jurisdictions.jurisdictionOf(address);
  // Requests wait for their record to reach the gateway's intake journal (durable against kill
  // -9), not for the log's transaction; `open` first appends what an earlier process journaled.
  const audit = config.audit.enabled
    ? new AuditLog({
        store: auditStore,
        clock,
        retention: DEFAULT_RETENTION_DAYS,
        onError: (err) => log.error({ err }, 'audit records could not be written'),
        journal: new FileAuditJournal({
          directory: join(config.dataDir, 'audit-journal'),
          maxRecordsPerSegment: AUDIT_BATCH_MAX_RECORDS,
        }),
      })
    : null;
  if (audit === null) log.warn({}, 'the audit log is off (--audit-log off): requests are not recorded');
  const recovered = await audit?.open();
  if (recovered !== undefined && recovered > 0) {
    log.info({ records: recovered }, 'audit records journaled before a restart were appended to the log');
  }
  const requestFacts = (req: IncomingMessage, requestId: string) => ({
    req,
    requestId,
    nowMs: clock.nowMs(),
    jurisdictionOf,
  });
  const onAuditFailure = (err: unknown) =>
    log.error({ err }, 'a response was withheld because its audit record could not be written');
  const decisions = new KeyUseDecisionRecorder(
    audit === null ? keyUseDecisions : auditedKeyUseDecisions(keyUseDecisions, audit),
    (err) => log.error({ err }, 'key-use decisions could not be written; retrying'),
  );
  const keyRing = new KeyRing({
    store: keys,
    root: rootOfTrust,
    clock,
    region: config.region,
    decisions,
    digestSigner: await openOpenSslDigestSigner(),
  });
  const encryptor = rootOfTrust === null ? null : new ObjectEncryptor(keyRingDataKeys(keyRing, keys, clock));
  const objects = new ObjectStore({
    metadata,
    data,
    clock,
    region: config.region,
    events: notifications,
    encryptor,
    scheme,
  });
  const uploads = new MultipartUploads({ metadata, data, objects, clock });
  const credentials = new CredentialResolver({ metadata, sealer, clock, sessions: federationStore });
  const operator = new OperatorEndpoint({ seal, credentials, clock, region: config.region, log });
  // Operator access approval (the lockbox); `operatorAccess.gate` enforces approvals on the data path.
  const operatorAccess = openOperatorAccess({
    config,
    scheme,
    store: accessApprovalStore,
    revocationStore: accessApprovalStore.attestationRevocations(),
    metadata,
    audit,
    jurisdictions,
    credentials,
    clock,
    log,
  });
  // Tenants and identities (the admin API). `identities` caches principals' identity policies and
  // attributes (tags, clearance) for the request path; every admin change invalidates it.
  const identities = new CachedIdentitySource({ store: identityStore, clock });
  // A role session's policies are its role's; its clearance and compartments its own (federation).
  const sessionIdentities = new SessionIdentitySource({ inner: identities, store: federationStore });
  // The S3 data path's authorizer; the admin API's `sovra policy explain` runs the same one.
  const requestAuthorizer = new RequestAuthorizer({
    bucketPolicies: objects,
    objectTags: objects,
    guardrails: platformGuardrails.guardrails,
    identityPolicies: sessionIdentities,
    principalAttributes: sessionIdentities,
    clock,
    jurisdictions,
    scheme,
  });
  const adminEndpoint = new AdminEndpoint({
    admin: new IdentityAdministration({
      store: identityStore,
      sealer,
      credentials,
      identities,
      clock,
      // Clearances and compartments given through the admin API must be the scheme's.
      classification: scheme,
      explainer: new DecisionExplainer({
        identities: identityStore,
        authorizer: requestAuthorizer,
        buckets: objects,
        objectLabels: objects,
      }),
      // The tenant's buckets with their labels, from the records S3 ListBuckets and HeadBucket read.
      buckets: new BucketAdministration({ buckets: objects, scheme }),
    }),
    credentials,
    clock,
    region: config.region,
    log,
  });
  const guardrailsEndpoint = new GuardrailsAdminEndpoint({
    guardrails: platformGuardrails.administration,
    credentials,
    clock,
    region: config.region,
    log,
  });
  // Federation: STS (temporary credentials) and the tenant's identity providers.
  const idTokens = new IdTokenVerifier({ clock });
  const sts = new StsEndpoint({
    sts: new SecurityTokenService({
      identities: identityStore,
      sources: sessionIdentities,
      federation: federationStore,
      tokens: idTokens,
      sealer,
      clock,
    }),
    credentials,
    sources: sessionIdentities,
    clock,
    region: config.region,
    log,
  });
  const federationEndpoint = new FederationAdminEndpoint({
    federation: new FederationAdministration({
      identities: identityStore,
      sources: sessionIdentities,
      store: federationStore,
      credentials,
      tokens: idTokens,
      clock,
    }),
    credentials,
    clock,
    region: config.region,
    log,
  });
  const checkpointer =
    audit === null
      ? null
      : new Checkpointer({
          store: auditStore,
          custody: logKeyCustody(rootOfTrust, sealer),
          origin: config.audit.origin,
          clock,
          audit,
          onError: (err) => {
            // While sealed the log keys cannot be unwrapped; the next checkpoint waits for unseal.
            if (!(isSovraError(err) && err.code === 'Sealed')) log.error({ err }, 'audit checkpoint failed');
          },
        });
  await checkpointer?.start();
  // The SIEM export streams the audit log as OCSF events (docs/reference/siem-export.md).
  const siemExporter =
    config.auditExport.length === 0
      ? null
      : new SiemExporter({ store: auditStore, sinks: openSiemSinks(config.auditExport), clock, log });
  siemExporter?.start();
  const auditEndpoint = new AuditEndpoint({
    reader: new AuditReader(auditStore, () => audit?.flush() ?? Promise.resolve()),
    witnesses: new WitnessCosignatures(auditStore, witnessVerifiers(config.audit.witnessKeys), clock),
    credentials,
    clock,
    region: config.region,
    verifierKeys: () => checkpointer?.verifierKeys() ?? Promise.resolve([]),
  });
  // KMS requests are decided like S3's: identity policies with the key policy as the resource
  // policy, the guardrails, and operators' approved access through the lockbox gate.
  const kms = new KmsEndpoint({
    keyRing,
    credentials,
    authorizer: new ApprovedOperatorAuthorizer(requestAuthorizer, operatorAccess.gate),
    clock,
    region: config.region,
    jurisdictions,
  });
  const kmsMaintenance = startKmsMaintenance({ keyRing, root: rootOfTrust, clock, log });
  const s3 = new S3Endpoint({
    objects,
    uploads,
    objectLock: new ObjectLock({ metadata, objects, clock }),
    tagging: new Tagging({ metadata, objects, clock }),
    notifications,
    credentials,
    // Operators' approved, just-in-time access (the lockbox) first; everyone else: tenant policies.
    authorizer: new ApprovedOperatorAuthorizer(requestAuthorizer, operatorAccess.gate),
    clock,
    region: config.region,
    domains: config.domains,
    scheme: requestAuthorizer.scheme,
    jurisdictions,
    ...(audit === null ? {} : { placements: auditedPlacements(audit) }),
  });
  const gc = new GarbageCollector({ metadata, blobs, clock, log });
  gc.start(config.gcIntervalMs);
  const lifecycle = new LifecycleRunner({ metadata, objects, uploads, clock, log });
  if (config.lifecycleIntervalMs > 0) lifecycle.start(config.lifecycleIntervalMs);
  const dispatcher = new NotificationDispatcher({
    metadata,
    clock,
    sinks: openNotificationSinks(config.notificationTargets),
    log,
  });
  dispatcher.start();
  // Expired access requests and approvals are marked and recorded without waiting for a use.
  operatorAccess.expiry.start();
  void gc.sweepOrphans().catch((error: unknown) => log.warn({ err: error }, 'orphan sweep failed'));

  const newRequestId = createRequestIdSource();
  const xks =
    config.xks === null
      ? null
      : await startXks({
          config: config.xks,
          keyRing,
          rootOfTrust,
          jurisdictions,
          clock,
          region: config.region,
          log,
          newRequestId,
        });
  let inFlight = 0;
  let idle: (() => void) | null = null;
  // One function for every response rather than a closure per request: this runs on each one.
  const onResponseClose = () => {
    inFlight -= 1;
    if (inFlight === 0 && idle !== null) idle();
  };
  const handleS3 = (
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    path: string,
    logged: boolean,
    started: bigint,
  ) => {
    const outcome = newS3Outcome();
    if (audit !== null) {
      holdResponseForAudit(
        res,
        audit,
        (status) =>
          s3RequestRecord(outcome, status, { req, requestId, nowMs: clock.nowMs(), jurisdictionOf }),
        onAuditFailure,
      );
    }
    const handled = s3.handle(req, res, requestId, log, outcome);
    if (!logged) return;
    void handled.then((outcome) => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      log.info(
        {
          requestId,
          method: req.method,
          path: loggablePath(path),
          status: res.statusCode,
          durationMs: Math.round(durationMs * 100) / 100,
          action: outcome.action,
          bucket: outcome.bucket,
          principal: outcome.principalId,
          tenant: outcome.tenantId,
          error: outcome.errorCode,
          remote: req.socket.remoteAddress,
        },
        'request',
      );
    });
  };
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const requestId = newRequestId();
    inFlight += 1;
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', requestId);
    res.setHeader('server', 'Sovra');
    res.on('close', onResponseClose);
    const path = req.url ?? '/';
    if (path === HEALTH_LIVE || path === HEALTH_READY) {
      void health(path === HEALTH_READY, metadata, res);
      return;
    }
    if (path.startsWith(OPERATOR_PATH_PREFIX)) {
      const operatorOutcome: OperatorOutcome = { action: null, principalId: null, errorCode: null };
      if (audit !== null) {
        holdResponseForAudit(
          res,
          audit,
          (status) => operatorRequestRecord(operatorOutcome, status, requestFacts(req, requestId)),
          onAuditFailure,
        );
      }
      void operator.handle(req, res, requestId, operatorOutcome);
      return;
    }
    if (path.startsWith(AUDIT_PATH_PREFIX)) {
      const auditOutcome = newAuditOutcome();
      if (audit !== null) {
        holdResponseForAudit(
          res,
          audit,
          (status) => auditRequestRecord(auditOutcome, status, requestFacts(req, requestId)),
          onAuditFailure,
        );
      }
      void auditEndpoint.handle(req, res, requestId, auditOutcome);
      return;
    }
    if (path.startsWith(ACCESS_PATH_PREFIX)) {
      const accessOutcome = newAccessOutcome();
      if (audit !== null) {
        holdResponseForAudit(
          res,
          audit,
          (status) => accessRequestRecord(accessOutcome, status, requestFacts(req, requestId)),
          onAuditFailure,
        );
      }
      void operatorAccess.endpoint.handle(req, res, requestId, accessOutcome);
      return;
    }
    if (path.startsWith(ADMIN_PATH_PREFIX) && isGuardrailsAdminPath(path)) {
      const guardrailsOutcome = newGuardrailsOutcome();
      if (audit !== null) {
        holdResponseForAudit(
          res,
          audit,
          (status) => guardrailsRequestRecord(guardrailsOutcome, status, requestFacts(req, requestId)),
          onAuditFailure,
        );
      }
      void guardrailsEndpoint.handle(req, res, requestId, guardrailsOutcome);
      return;
    }
    if (path.startsWith(ADMIN_PATH_PREFIX) && isFederationAdminPath(path)) {
      const federationOutcome = newAdminOutcome();
      if (audit !== null) {
        holdResponseForAudit(
          res,
          audit,
          (status) => adminRequestRecord(federationOutcome, status, requestFacts(req, requestId)),
          onAuditFailure,
        );
      }
      void federationEndpoint.handle(req, res, requestId, federationOutcome);
      return;
    }
    if (path.startsWith(ADMIN_PATH_PREFIX)) {
      const adminOutcome = newAdminOutcome();
      if (audit !== null) {
        holdResponseForAudit(
          res,
          audit,
          (status) => adminRequestRecord(adminOutcome, status, requestFacts(req, requestId)),
          onAuditFailure,
        );
      }
      void adminEndpoint.handle(req, res, requestId, adminOutcome);
      return;
    }
    if (xks?.ownsMainPath(path) === true) {
      xks.handle(req, res, requestId);
      return;
    }
    // The access log line (and its closure) is built only when it will be written.
    const logged = log.isLevelEnabled('info');
    const started = logged ? process.hrtime.bigint() : 0n;
    if (isStsRequest(req)) {
      // AWS STS (AssumeRoleWithWebIdentity, AssumeRole), recorded like an admin request.
      const stsOutcome = newStsOutcome();
      if (audit !== null) {
        holdResponseForAudit(
          res,
          audit,
          (status) => adminRequestRecord(stsOutcome, status, requestFacts(req, requestId)),
          onAuditFailure,
        );
      }
      void sts.handle(req, res, requestId, stsOutcome);
      return;
    }
    if (isKmsRequest(req)) {
      const kmsOutcome = newKmsOutcome();
      if (audit !== null) {
        holdResponseForAudit(
          res,
          audit,
          (status) =>
            kmsRequestRecord(kmsOutcome, status, { req, requestId, nowMs: clock.nowMs(), jurisdictionOf }),
          onAuditFailure,
        );
      }
      void kms.handle(req, res, requestId, log, kmsOutcome).then((outcome) => {
        if (!logged) return;
        log.info(
          {
            requestId,
            status: res.statusCode,
            durationMs: Math.round((Number(process.hrtime.bigint() - started) / 1e6) * 100) / 100,
            action: outcome.operation === null ? null : `kms:${outcome.operation}`,
            principal: outcome.principalId,
            tenant: outcome.tenantId,
            error: outcome.errorCode,
            remote: req.socket.remoteAddress,
          },
          'request',
        );
      });
      return;
    }
    // S3 requests are handled in the check phase, once the poll phase has read and parsed every
    // request that arrived in this turn of the event loop: a burst is handled as one run (and its
    // small responses are written as another, see endSoon in handlers/objects.ts) instead of
    // alternating parsing, handling and socket writes request by request. Each stage then stays
    // warm in the CPU caches, which roughly halves the cost of a small GET under load.
    setImmediate(handleS3, req, res, requestId, path, logged, started);
  };

  const heapTrimmer = await startHeapTrimmer(LIMITS.heapTrimIntervalMs);
  const server = createHttpServer(config, listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  const address =
    typeof bound === 'object' && bound !== null ? { host: bound.address, port: bound.port } : config.listen;
  log.info(
    { address, tls: config.tls !== null, metadata: config.metadata.backend, dataDir: config.dataDir },
    'listening',
  );

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      log.info({ inFlight }, 'shutting down: draining in-flight requests');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inFlight > 0) {
        await Promise.race([
          new Promise<void>((resolve) => {
            idle = resolve;
          }),
          new Promise<void>((resolve) => setTimeout(resolve, config.shutdownDrainMs).unref()),
        ]);
      }
      server.closeAllConnections();
      await closed;
      await lifecycle.stop();
      await gc.stop();
      await dispatcher.stop();
      await kmsMaintenance.stop();
      await operatorAccess.expiry.stop();
      await platformGuardrails.administration.stop();
      await xks?.close();
      // Key-use decisions feed the audit log, and the last checkpoint covers both.
      await decisions
        .close()
        .catch((err: unknown) => log.error({ err }, 'key-use decisions lost at shutdown'));
      await audit?.close().catch((err: unknown) => log.error({ err }, 'audit records lost at shutdown'));
      await siemExporter?.stop();
      await checkpointer?.stop();
      await metadata.close();
      await (seal ?? rootOfTrust)?.close();
      heapTrimmer.stop();
      log.info({}, 'stopped');
    })();
    return stopping;
  };
  return { server, address, rootOfTrust, xks, stop };
}

async function health(ready: boolean, metadata: MetadataStore, res: ServerResponse): Promise<void> {
  let status = 200;
  let body: Record<string, string> = { status: 'ok' };
  if (ready) {
    try {
      await metadata.ping();
    } catch {
      status = 503;
      body = { status: 'unavailable', reason: 'metadata store unreachable' };
    }
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The requesters' jurisdiction map of the configuration (domain/residency/jurisdiction.ts). */
function openJurisdictionMap(config: ServerConfig): JurisdictionMap {
  const { homeJurisdiction, mapFile } = config.jurisdictions;
  if (mapFile === null) return new JurisdictionMap({}, homeJurisdiction);
  return JurisdictionMap.fromJson(readFileSync(mapFile, 'utf8'), homeJurisdiction);
}
