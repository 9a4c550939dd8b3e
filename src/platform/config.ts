import { readFileSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { loadAuditExport, type SiemSinkConfig } from './audit-export.ts';
import { SovraError } from './errors.ts';
import { LIMITS } from './limits.ts';
import { loadNotificationTargets, type NotificationTarget } from './notification-targets.ts';

/**
 * Server configuration: defaults < config file < environment < command-line flags. Loaded once,
 * validated completely, typed; unknown keys are errors. This is the only module that reads
 * `process.env` (through the `env` argument).
 */
export interface ServerConfig {
  dataDir: string;
  listen: { host: string; port: number };
  region: string;
  domains: string[];
  metadata: { backend: 'sqlite' } | { backend: 'postgres'; url: string; schema: string };
  tls: { certFile: string; keyFile: string } | { dev: true } | null;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  gcIntervalMs: number;
  shutdownDrainMs: number;
  /** Time between background lifecycle passes; 0 runs none (passes then come from `sovra admin lifecycle-run`). */
  lifecycleIntervalMs: number;
  /** Event notification destinations (empty when the setting is absent). */
  notificationTargets: NotificationTarget[];
  /** Root of the KMS key hierarchy; `none` until one is configured. */
  rootOfTrust: RootOfTrustConfig;
  /**
   * Requesters' network jurisdictions for key policies (domain/residency/jurisdiction.ts): the
   * platform's home country (ISO 3166-1 alpha-2, or 'unknown'), which loopback and private
   * addresses belong to, and an optional JSON file mapping CIDR ranges to countries.
   */
  jurisdictions: { homeJurisdiction: string; mapFile: string | null };
  /** The AWS KMS External Key Store proxy (protocols/xks); null when not configured. */
  xks: XksConfig | null;
  /**
   * The verifiable audit log (domain/audit). `enabled` is false only for benchmarks measuring its
   * cost; `origin` is the log's name, the first line of every checkpoint (c2sp.org/tlog-checkpoint).
   */
  audit: { enabled: boolean; origin: string; witnessKeys: string[] };
  /** SIEM export sinks of the audit log (docs/reference/siem-export.md); empty when the setting is absent. */
  auditExport: SiemSinkConfig[];
  /**
   * Operator access approval (domain/lockbox): the security offices' attestation verifier keys
   * (Ed25519 C2SP vkeys, one per line of the file) and the text of the platform's operator access
   * rules file (JSON), null when not configured. Without both, no operator can file a request.
   */
  operatorAccess: { attestationKeys: string[]; rules: string | null };
  /**
   * The classification scheme every label, clearance and guardrail rank is read in
   * (domain/classification): a shipped profile by name, or the text of the operator's scheme file
   * (JSON, docs/reference/classification.md). The name and the document are checked at start.
   */
  classification: { profile: string } | { file: string; text: string };
  /**
   * The operator's guardrails file (Cedar, docs/reference/cedar-guardrails.md) replacing the shipped
   * default set; null for the default set. Validated against the schema at start.
   */
  guardrails: { file: string; text: string } | null;
}

/**
 * XKS: the 0600 credentials file ({accessKeyId, secretAccessKey, uriPrefix, tenantId}, read by
 * protocols/xks/xks-credentials.ts) and, optionally, a listener of its own. Without one, XKS is
 * served on the main listener. Client certificates (mutual TLS) need the own listener, so that
 * S3 clients on the main one are never asked for a certificate.
 */
export interface XksConfig {
  credentialsFile: string;
  listener: {
    host: string;
    port: number;
    certFile: string;
    keyFile: string;
    /** PEM CA bundle client certificates must chain to; null: no client certificate asked. */
    clientCaFile: string | null;
    /** The subject CN a client certificate must carry (e.g. cks.kms.eu-west-1.amazonaws.com). */
    clientCommonName: string | null;
  } | null;
}

/**
 * `sealed-shamir`: a software root key that exists only as Shamir shares (`sovra operator init`)
 * and is held in memory once a quorum unseals it. `pkcs11`: a key inside an HSM. `local-key`: a
 * 256-bit key in `<data-dir>/keys/root.key` (0600), loaded unsealed at start — encryption at rest
 * for a single-node install, not for production (the key sits beside the data). `none`: no root,
 * so no KMS and no encryption at rest (tests and the benchmark's plaintext control only).
 */
export type RootOfTrustConfig =
  | { kind: 'none' }
  | { kind: 'local-key' }
  | { kind: 'sealed-shamir' }
  | ({ kind: 'pkcs11' } & Pkcs11Settings);

/** Where the HSM root key lives (adapters/root-of-trust/pkcs11-root.ts). */
export interface Pkcs11Settings {
  /** Absolute path of the PKCS#11 module. */
  modulePath: string;
  tokenLabel: string;
  /** File holding the token's user PIN; refused when group or others may read it. */
  pinFile: string;
  /** CKA_LABEL of the root key inside the token. */
  keyLabel: string;
}

const ROOT_OF_TRUST_KINDS = ['sealed-shamir', 'pkcs11', 'local-key', 'none'] as const;

export type ConfigErrorCode = 'InvalidConfig';
export class ConfigError extends SovraError<ConfigErrorCode> {}

/** One documented setting: its flag, environment variable and config-file key. */
export interface SettingSpec {
  key: string;
  flag: string;
  env: string;
  description: string;
  default?: string;
}

export const SERVER_SETTINGS: readonly SettingSpec[] = [
  {
    key: 'dataDir',
    flag: '--data-dir <dir>',
    env: 'SOVRA_DATA_DIR',
    description: 'directory for metadata and object data',
    default: './data',
  },
  {
    key: 'listen',
    flag: '--listen <host:port>',
    env: 'SOVRA_LISTEN',
    description: 'address to listen on',
    default: '127.0.0.1:9000',
  },
  {
    key: 'region',
    flag: '--region <name>',
    env: 'SOVRA_REGION',
    description: 'region this endpoint serves (SigV4 scope, LocationConstraint)',
    default: 'us-east-1',
  },
  {
    key: 'domains',
    flag: '--domains <list>',
    env: 'SOVRA_DOMAINS',
    description: 'comma-separated base domains for virtual-hosted-style bucket addressing',
    default: 'localhost',
  },
  {
    key: 'metadataBackend',
    flag: '--metadata-backend <sqlite|postgres>',
    env: 'SOVRA_METADATA_BACKEND',
    description: 'metadata store',
    default: 'sqlite',
  },
  {
    key: 'postgresUrl',
    flag: '--postgres-url <url>',
    env: 'SOVRA_POSTGRES_URL',
    description: 'PostgreSQL connection string (metadata-backend postgres)',
  },
  {
    key: 'postgresSchema',
    flag: '--postgres-schema <name>',
    env: 'SOVRA_POSTGRES_SCHEMA',
    description: 'PostgreSQL schema for Sovra tables',
    default: 'sovra',
  },
  {
    key: 'tlsCert',
    flag: '--tls-cert <file>',
    env: 'SOVRA_TLS_CERT',
    description: 'PEM certificate chain; serves HTTPS with --tls-key',
  },
  {
    key: 'tlsKey',
    flag: '--tls-key <file>',
    env: 'SOVRA_TLS_KEY',
    description: 'PEM private key (must not be group/world readable)',
  },
  {
    key: 'devTls',
    flag: '--dev-tls',
    env: 'SOVRA_DEV_TLS',
    description: 'serve HTTPS with a self-signed certificate made at start (local use only)',
  },
  {
    key: 'logLevel',
    flag: '--log-level <level>',
    env: 'SOVRA_LOG_LEVEL',
    description: 'fatal|error|warn|info|debug|trace|silent',
    default: 'info',
  },
  {
    key: 'notificationTargets',
    flag: '--notification-targets <file>',
    env: 'SOVRA_NOTIFICATION_TARGETS',
    description: 'JSON file listing event notification destinations (webhook, NATS JetStream)',
  },
  {
    key: 'homeJurisdiction',
    flag: '--home-jurisdiction <country>',
    env: 'SOVRA_HOME_JURISDICTION',
    description: "ISO 3166-1 alpha-2 country of the platform's own (loopback, private) networks",
    default: 'unknown',
  },
  {
    key: 'jurisdictionMap',
    flag: '--jurisdiction-map <file>',
    env: 'SOVRA_JURISDICTION_MAP',
    description: 'JSON file {"ranges": {"<cidr>": "<country>"}} giving requesters\' network jurisdictions',
  },
  {
    key: 'auditLog',
    flag: '--audit-log <on|off>',
    env: 'SOVRA_AUDIT_LOG',
    description: 'the verifiable audit log of every request (off only to measure its cost)',
    default: 'on',
  },
  {
    key: 'auditOrigin',
    flag: '--audit-origin <name>',
    env: 'SOVRA_AUDIT_ORIGIN',
    description:
      'the audit log origin, first line of its checkpoints (schema-less URL, e.g. audit.gov.example/sovra)',
    default: 'sovra.localhost/audit',
  },
  {
    key: 'auditWitnessKeys',
    flag: '--audit-witness-keys <file>',
    env: 'SOVRA_AUDIT_WITNESS_KEYS',
    description:
      'file of witness verifier keys (c2sp.org/tlog-cosignature vkeys, one per line) whose cosignatures checkpoints carry',
  },
  {
    key: 'auditExport',
    flag: '--audit-export <file>',
    env: 'SOVRA_AUDIT_EXPORT',
    description:
      'JSON file {"sinks": [...]} streaming the audit log as OCSF events to files, stdout, syslog (RFC 5424) and webhooks',
  },
  {
    key: 'operatorAttestationKeys',
    flag: '--operator-attestation-keys <file>',
    env: 'SOVRA_OPERATOR_ATTESTATION_KEYS',
    description:
      "file of security-office verifier keys (Ed25519 signed-note vkeys, one per line) that sign operators' attestations",
  },
  {
    key: 'operatorAccessRules',
    flag: '--operator-access-rules <file>',
    env: 'SOVRA_OPERATOR_ACCESS_RULES',
    description:
      'JSON file of who may request access to tenant data (minClearance, profile, nationalities, residencies, networkJurisdictions, maxDurationSeconds, breakGlass)',
  },
  {
    key: 'classificationProfile',
    flag: '--classification-profile <name|file>',
    env: 'SOVRA_CLASSIFICATION_PROFILE',
    description:
      'classification scheme of labels and clearances: a shipped profile (generic, malaysia, vietnam, japan) or a scheme JSON file (a path with / or ending in .json)',
    default: 'generic',
  },
  {
    key: 'guardrails',
    flag: '--guardrails <file>',
    env: 'SOVRA_GUARDRAILS',
    description:
      'Cedar file of platform guardrails replacing the shipped defaults (a set replaced through the admin API takes precedence)',
  },
  {
    key: 'lifecycleIntervalMs',
    flag: '--lifecycle-interval-ms <ms>',
    env: 'SOVRA_LIFECYCLE_INTERVAL_MS',
    description: 'milliseconds between background lifecycle passes (0: none)',
    default: String(LIMITS.lifecycleIntervalMsDefault),
  },
  {
    key: 'rootOfTrust',
    flag: '--root-of-trust <sealed-shamir|pkcs11|local-key|none>',
    env: 'SOVRA_ROOT_OF_TRUST',
    description:
      'root of the KMS key hierarchy (sealed-shamir starts sealed, see sovra operator; local-key: a key file in the data directory, not for production; none: no encryption at rest, tests and benchmark control only)',
    default: 'local-key',
  },
  {
    key: 'pkcs11Module',
    flag: '--pkcs11-module <file>',
    env: 'SOVRA_PKCS11_MODULE',
    description: 'absolute path of the PKCS#11 module (rootOfTrust pkcs11)',
    default: '/usr/lib/softhsm/libsofthsm2.so',
  },
  {
    key: 'pkcs11TokenLabel',
    flag: '--pkcs11-token-label <label>',
    env: 'SOVRA_PKCS11_TOKEN_LABEL',
    description: 'label of the token holding the root key (rootOfTrust pkcs11)',
  },
  {
    key: 'pkcs11PinFile',
    flag: '--pkcs11-pin-file <file>',
    env: 'SOVRA_PKCS11_PIN_FILE',
    description: "file holding the token's user PIN (must not be group/world readable)",
  },
  {
    key: 'pkcs11KeyLabel',
    flag: '--pkcs11-key-label <label>',
    env: 'SOVRA_PKCS11_KEY_LABEL',
    description: 'label of the root key inside the token (rootOfTrust pkcs11)',
    default: 'sovra-root-key',
  },
  {
    key: 'xksCredentialsFile',
    flag: '--xks-credentials-file <file>',
    env: 'SOVRA_XKS_CREDENTIALS_FILE',
    description:
      'JSON file {accessKeyId, secretAccessKey, uriPrefix, tenantId} enabling the AWS KMS XKS proxy (mode 0600)',
  },
  {
    key: 'xksListen',
    flag: '--xks-listen <host:port>',
    env: 'SOVRA_XKS_LISTEN',
    description:
      'serve XKS on its own HTTPS listener (with --xks-tls-cert/--xks-tls-key) instead of the main one',
  },
  {
    key: 'xksTlsCert',
    flag: '--xks-tls-cert <file>',
    env: 'SOVRA_XKS_TLS_CERT',
    description: 'PEM certificate chain of the XKS listener',
  },
  {
    key: 'xksTlsKey',
    flag: '--xks-tls-key <file>',
    env: 'SOVRA_XKS_TLS_KEY',
    description: 'PEM private key of the XKS listener (must not be group/world readable)',
  },
  {
    key: 'xksClientCa',
    flag: '--xks-client-ca <file>',
    env: 'SOVRA_XKS_CLIENT_CA',
    description:
      'PEM CA bundle: the XKS listener then requires client certificates chained to it (mutual TLS)',
  },
  {
    key: 'xksClientCn',
    flag: '--xks-client-cn <name>',
    env: 'SOVRA_XKS_CLIENT_CN',
    description: 'subject CN required of XKS client certificates, e.g. cks.kms.eu-west-1.amazonaws.com',
  },
  {
    key: 'config',
    flag: '--config <file>',
    env: 'SOVRA_CONFIG',
    description: 'JSON configuration file with any of the keys above',
  },
];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export type RawSettings = Partial<Record<string, string | boolean>>;

/** Merges the sources in precedence order and validates the result. */
export function loadServerConfig(flags: RawSettings, env: Record<string, string | undefined>): ServerConfig {
  const fromEnv: RawSettings = {};
  for (const spec of SERVER_SETTINGS) {
    const value = env[spec.env];
    if (value !== undefined && value !== '') fromEnv[spec.key] = value;
  }
  const configPath = flags.config ?? fromEnv.config;
  const fromFile = typeof configPath === 'string' ? readConfigFile(configPath) : {};
  const merged: RawSettings = {};
  for (const spec of SERVER_SETTINGS) {
    const value = flags[spec.key] ?? fromEnv[spec.key] ?? fromFile[spec.key] ?? spec.default;
    if (value !== undefined) merged[spec.key] = value;
  }
  return validate(merged);
}

function readConfigFile(path: string): RawSettings {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError('InvalidConfig', `config: cannot read ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError('InvalidConfig', `config: ${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError('InvalidConfig', `config: ${path} must hold a JSON object`);
  }
  const known = new Set(SERVER_SETTINGS.map((s) => s.key));
  const out: RawSettings = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!known.has(key) || key === 'config') {
      throw new ConfigError(
        'InvalidConfig',
        `config: unknown setting "${key}" in ${path} (known: ${[...known].filter((k) => k !== 'config').join(', ')})`,
      );
    }
    if (typeof value === 'number') out[key] = String(value);
    else if (typeof value === 'string' || typeof value === 'boolean') out[key] = value;
    else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) out[key] = value.join(',');
    else
      throw new ConfigError(
        'InvalidConfig',
        `config: setting "${key}" in ${path} must be a string, number or boolean`,
      );
  }
  return out;
}

function bad(setting: string, message: string): ConfigError {
  return new ConfigError('InvalidConfig', `config: ${setting}: ${message}`, { setting });
}

function text(raw: RawSettings, key: string): string | undefined {
  const value = raw[key];
  if (value === undefined || value === false) return undefined;
  if (value === true) return 'true';
  return value;
}

function flag(raw: RawSettings, key: string): boolean {
  const value = raw[key];
  if (value === undefined) return false;
  if (value === true || value === 'true' || value === '1') return true;
  if (value === false || value === 'false' || value === '0') return false;
  throw bad(key, `expected true or false, got "${String(value)}"`);
}

function validate(raw: RawSettings): ServerConfig {
  const dataDir = text(raw, 'dataDir');
  if (dataDir === undefined || dataDir === '') throw bad('dataDir', 'must be set');
  const listenText = text(raw, 'listen') ?? '';
  const listenMatch = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(listenText);
  if (listenMatch === null) throw bad('listen', `expected HOST:PORT, got "${listenText}"`);
  const port = Number(listenMatch[2]);
  if (port > 65535) throw bad('listen', `port ${port} is out of range`);
  const host = listenMatch[1]!.replace(/^\[(.*)\]$/, '$1');
  const region = text(raw, 'region') ?? '';
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(region))
    throw bad('region', `"${region}" is not a valid region name`);
  const domains = (text(raw, 'domains') ?? '')
    .split(',')
    .map((d) => d.trim().toLowerCase())
    .filter((d) => d !== '');
  for (const domain of domains) {
    if (!/^[a-z0-9.-]+$/.test(domain)) throw bad('domains', `"${domain}" is not a domain name`);
  }
  const backend = text(raw, 'metadataBackend');
  let metadata: ServerConfig['metadata'];
  if (backend === 'sqlite') metadata = { backend: 'sqlite' };
  else if (backend === 'postgres') {
    const url = text(raw, 'postgresUrl');
    if (url === undefined) throw bad('postgresUrl', 'must be set when metadataBackend is postgres');
    if (!/^postgres(ql)?:\/\//.test(url)) throw bad('postgresUrl', 'must be a postgres:// URL');
    const schema = text(raw, 'postgresSchema') ?? 'sovra';
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
      throw bad('postgresSchema', `"${schema}" is not a valid schema name`);
    metadata = { backend: 'postgres', url, schema };
  } else throw bad('metadataBackend', `expected sqlite or postgres, got "${String(backend)}"`);
  const cert = text(raw, 'tlsCert');
  const key = text(raw, 'tlsKey');
  const dev = flag(raw, 'devTls');
  let tls: ServerConfig['tls'] = null;
  if (dev && (cert !== undefined || key !== undefined))
    throw bad('devTls', 'cannot be combined with tlsCert/tlsKey');
  if (dev) tls = { dev: true };
  else if (cert !== undefined || key !== undefined) {
    if (cert === undefined || key === undefined)
      throw bad(cert === undefined ? 'tlsCert' : 'tlsKey', 'tlsCert and tlsKey must be given together');
    checkSecretFile('tlsKey', key);
    tls = { certFile: cert, keyFile: key };
  }
  const logLevel = text(raw, 'logLevel') ?? 'info';
  const level = LOG_LEVELS.find((l) => l === logLevel);
  if (level === undefined) throw bad('logLevel', `expected one of ${LOG_LEVELS.join(', ')}`);
  return {
    dataDir,
    listen: { host, port },
    region,
    domains,
    metadata,
    tls,
    logLevel: level,
    gcIntervalMs: 5_000,
    shutdownDrainMs: 25_000,
    lifecycleIntervalMs: lifecycleIntervalOf(text(raw, 'lifecycleIntervalMs')),
    notificationTargets: notificationTargetsOf(text(raw, 'notificationTargets')),
    rootOfTrust: rootOfTrustOf(text(raw, 'rootOfTrust'), raw),
    jurisdictions: jurisdictionsOf(text(raw, 'homeJurisdiction'), text(raw, 'jurisdictionMap')),
    xks: xksOf(raw),
    audit: auditOf(text(raw, 'auditLog'), text(raw, 'auditOrigin'), text(raw, 'auditWitnessKeys')),
    auditExport: auditExportOf(text(raw, 'auditExport')),
    operatorAccess: operatorAccessOf(text(raw, 'operatorAttestationKeys'), text(raw, 'operatorAccessRules')),
    classification: classificationOf(text(raw, 'classificationProfile')),
    guardrails: guardrailsOf(text(raw, 'guardrails')),
  };
}

/**
 * A profile name, or a path to the operator's scheme file, which is read here; a value with a
 * `/` or ending in `.json` is a path (`./scheme.json` for one in the working directory). Whether
 * the name is shipped and the document valid is checked when the server starts.
 */
function classificationOf(value: string | undefined): ServerConfig['classification'] {
  const given = value ?? 'generic';
  if (!given.includes('/') && !given.endsWith('.json')) {
    if (!/^[a-z][a-z0-9_-]{0,63}$/.test(given)) {
      throw bad(
        'classificationProfile',
        `expected a shipped profile name or a scheme file (a path with / or ending in .json), got "${given.slice(0, 128)}"`,
      );
    }
    return { profile: given };
  }
  try {
    return { file: given, text: readFileSync(given, 'utf8') };
  } catch (error) {
    throw bad('classificationProfile', `cannot read ${given}: ${(error as Error).message}`);
  }
}

/** Reads the guardrails file; the policies are validated against the schema when the server starts. */
function guardrailsOf(file: string | undefined): ServerConfig['guardrails'] {
  if (file === undefined || file === '') return null;
  try {
    return { file, text: readFileSync(file, 'utf8') };
  } catch (error) {
    throw bad('guardrails', `cannot read ${file}: ${(error as Error).message}`);
  }
}

/** c2sp.org/tlog-checkpoint: the origin SHOULD be a schema-less URL; no spaces, no '+', printable. */
function auditOf(
  enabled: string | undefined,
  origin: string | undefined,
  witnessKeysFile: string | undefined,
): ServerConfig['audit'] {
  const on = enabled ?? 'on';
  if (on !== 'on' && on !== 'off') throw bad('auditLog', `expected on or off, got "${on}"`);
  const name = origin ?? 'sovra.localhost/audit';
  if (!/^[\x21-\x2a\x2c-\x7e]{1,255}$/.test(name)) {
    throw bad(
      'auditOrigin',
      `expected a schema-less URL of printable ASCII without spaces or '+', got "${name}"`,
    );
  }
  let witnessKeys: string[] = [];
  if (witnessKeysFile !== undefined) {
    try {
      witnessKeys = readFileSync(witnessKeysFile, 'utf8')
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line.length > 0 && !line.startsWith('#'));
    } catch (error) {
      throw bad('auditWitnessKeys', `cannot read ${witnessKeysFile}: ${(error as Error).message}`);
    }
  }
  return { enabled: on === 'on', origin: name, witnessKeys };
}

function xksOf(raw: RawSettings): XksConfig | null {
  const credentialsFile = text(raw, 'xksCredentialsFile');
  const listen = text(raw, 'xksListen');
  const cert = text(raw, 'xksTlsCert');
  const key = text(raw, 'xksTlsKey');
  const clientCaFile = text(raw, 'xksClientCa') ?? null;
  const clientCommonName = text(raw, 'xksClientCn') ?? null;
  if (credentialsFile === undefined || credentialsFile === '') {
    for (const setting of ['xksListen', 'xksTlsCert', 'xksTlsKey', 'xksClientCa', 'xksClientCn']) {
      if (text(raw, setting) !== undefined) throw bad(setting, 'is set but xksCredentialsFile is not');
    }
    return null;
  }
  checkSecretFile('xksCredentialsFile', credentialsFile);
  if (listen === undefined) {
    for (const setting of ['xksTlsCert', 'xksTlsKey', 'xksClientCa', 'xksClientCn']) {
      if (text(raw, setting) !== undefined) throw bad(setting, 'needs xksListen (its own listener)');
    }
    return { credentialsFile, listener: null };
  }
  const match = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(listen);
  if (match === null || Number(match[2]) > 65535)
    throw bad('xksListen', `expected HOST:PORT, got "${listen}"`);
  // The spec requires HTTPS between KMS and the proxy ("Authentication").
  if (cert === undefined || key === undefined) throw bad('xksListen', 'needs xksTlsCert and xksTlsKey');
  checkSecretFile('xksTlsKey', key);
  if (clientCommonName !== null && clientCaFile === null) throw bad('xksClientCn', 'needs xksClientCa');
  return {
    credentialsFile,
    listener: {
      host: match[1]!.replace(/^\[(.*)\]$/, '$1'),
      port: Number(match[2]),
      certFile: cert,
      keyFile: key,
      clientCaFile,
      clientCommonName,
    },
  };
}

function rootOfTrustOf(value: string | undefined, raw: RawSettings): RootOfTrustConfig {
  const kind = ROOT_OF_TRUST_KINDS.find((k) => k === (value ?? 'local-key'));
  if (kind === undefined) {
    throw bad('rootOfTrust', `expected one of ${ROOT_OF_TRUST_KINDS.join(', ')}, got "${String(value)}"`);
  }
  if (kind === 'pkcs11') return { kind, ...pkcs11SettingsOf(raw) };
  for (const key of ['pkcs11TokenLabel', 'pkcs11PinFile']) {
    if (text(raw, key) !== undefined) throw bad(key, `is set but rootOfTrust is ${kind}, not pkcs11`);
  }
  return { kind };
}

function pkcs11SettingsOf(raw: RawSettings): Pkcs11Settings {
  const modulePath = text(raw, 'pkcs11Module') ?? '';
  if (!isAbsolute(modulePath)) throw bad('pkcs11Module', `must be an absolute path, got "${modulePath}"`);
  try {
    if (!statSync(modulePath).isFile()) throw bad('pkcs11Module', `${modulePath} is not a file`);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw bad('pkcs11Module', `cannot read ${modulePath}: ${(error as Error).message}`);
  }
  const tokenLabel = labelOf(raw, 'pkcs11TokenLabel', LIMITS.pkcs11TokenLabelMaxBytes);
  const pinFile = text(raw, 'pkcs11PinFile');
  if (pinFile === undefined || pinFile === '')
    throw bad('pkcs11PinFile', 'must be set when rootOfTrust is pkcs11');
  checkSecretFile('pkcs11PinFile', pinFile);
  const keyLabel = labelOf(raw, 'pkcs11KeyLabel', LIMITS.pkcs11KeyLabelMaxBytes);
  return { modulePath, tokenLabel, pinFile, keyLabel };
}

function labelOf(raw: RawSettings, key: string, maxBytes: number): string {
  const label = text(raw, key);
  if (label === undefined || label === '') throw bad(key, 'must be set when rootOfTrust is pkcs11');
  if (Buffer.byteLength(label, 'utf8') > maxBytes)
    throw bad(key, `must be at most ${maxBytes} bytes (UTF-8)`);
  return label;
}

function jurisdictionsOf(
  home: string | undefined,
  mapFile: string | undefined,
): ServerConfig['jurisdictions'] {
  const homeJurisdiction = home ?? 'unknown';
  if (homeJurisdiction !== 'unknown' && !/^[A-Z]{2}$/.test(homeJurisdiction)) {
    throw bad(
      'homeJurisdiction',
      `expected an ISO 3166-1 alpha-2 code such as DE, got "${homeJurisdiction}"`,
    );
  }
  if (mapFile !== undefined && !isAbsolute(mapFile)) throw bad('jurisdictionMap', 'must be an absolute path');
  return { homeJurisdiction, mapFile: mapFile === undefined || mapFile === '' ? null : mapFile };
}

/** Reads the two lockbox files; their contents are checked by domain/lockbox when the server starts. */
function operatorAccessOf(
  keysFile: string | undefined,
  rulesFile: string | undefined,
): ServerConfig['operatorAccess'] {
  let attestationKeys: string[] = [];
  if (keysFile !== undefined && keysFile !== '') {
    try {
      attestationKeys = readFileSync(keysFile, 'utf8')
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line.length > 0 && !line.startsWith('#'));
    } catch (error) {
      throw bad('operatorAttestationKeys', `cannot read ${keysFile}: ${(error as Error).message}`);
    }
  }
  let rules: string | null = null;
  if (rulesFile !== undefined && rulesFile !== '') {
    try {
      rules = readFileSync(rulesFile, 'utf8');
    } catch (error) {
      throw bad('operatorAccessRules', `cannot read ${rulesFile}: ${(error as Error).message}`);
    }
  }
  return { attestationKeys, rules };
}

function auditExportOf(path: string | undefined): SiemSinkConfig[] {
  if (path === undefined || path === '') return [];
  return loadAuditExport(path, (message) => bad('auditExport', message));
}

function notificationTargetsOf(path: string | undefined): NotificationTarget[] {
  if (path === undefined || path === '') return [];
  return loadNotificationTargets(path, (message) => bad('notificationTargets', message));
}

function lifecycleIntervalOf(value: string | undefined): number {
  const given = value ?? String(LIMITS.lifecycleIntervalMsDefault);
  const ms = Number(given);
  if (!/^\d{1,12}$/.test(given) || (ms !== 0 && (ms < 1000 || ms > LIMITS.lifecycleIntervalMsMax))) {
    throw bad(
      'lifecycleIntervalMs',
      `expected 0 (no background passes) or 1000 to ${LIMITS.lifecycleIntervalMsMax} milliseconds, got "${given}"`,
    );
  }
  return ms;
}

/** Secret files readable by group or others are refused. */
function checkSecretFile(setting: string, path: string): void {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (error) {
    throw bad(setting, `cannot read ${path}: ${(error as Error).message}`);
  }
  if ((mode & 0o077) !== 0)
    throw bad(
      setting,
      `${path} is readable by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`,
    );
}
