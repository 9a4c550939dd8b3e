import { readFileSync, statSync, type Stats } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute } from 'node:path';

/**
 * The SIEM export's sinks (setting `auditExport`: a JSON file `{"sinks": [...]}`), read once at
 * start and validated completely; unknown keys are refused. docs/reference/siem-export.md
 * documents every field.
 */
export type SiemSinkConfig = FileSinkConfig | StdoutSinkConfig | SyslogSinkConfig | WebhookSinkConfig;

/** JSON lines appended to a file, fsynced per batch. */
export interface FileSinkConfig {
  name: string;
  type: 'file';
  path: string;
}

/** JSON lines on the server's standard output (beside its own log lines, which are JSON too). */
export interface StdoutSinkConfig {
  name: string;
  type: 'stdout';
}

/** RFC 5424 messages over TCP with octet-counting framing (RFC 6587 §3.4.1), optionally TLS (RFC 5425). */
export interface SyslogSinkConfig {
  name: string;
  type: 'syslog';
  host: string;
  port: number;
  tls: boolean;
  /** PEM CA bundle the collector's certificate must chain to; null: the system's CAs. */
  caFile: string | null;
  /** Client certificate and key for collectors that require mutual TLS. */
  certFile: string | null;
  keyFile: string | null;
  /** RFC 5424 §6.2.1 facility code; 13 ("log audit") unless set. */
  facility: number;
  /** RFC 5424 §6.3.2 SD-ID (`name@<private enterprise number>`); null: no structured data. */
  structuredDataId: string | null;
}

/** POST of each batch as a JSON array; only a 2xx answer acknowledges. */
export interface WebhookSinkConfig {
  name: string;
  type: 'webhook';
  url: string;
  /** File holding the HMAC-SHA256 key of the `x-sovra-signature` header; null: unsigned. */
  secretFile: string | null;
  /** File holding the `Authorization` header value (e.g. `Splunk <token>`); null: none. */
  authorizationFile: string | null;
}

export const AUDIT_EXPORT_FILE_MAX_BYTES = 64 * 1024;
export const AUDIT_EXPORT_SINKS_MAX = 16;
/** RFC 5424 §6.2.1 table 1: 13 is "log audit". */
export const SYSLOG_FACILITY_LOG_AUDIT = 13;
const SINK_NAME = /^[A-Za-z0-9_-]{1,64}$/;
// RFC 5424 §6.3.2: SD-NAME is 1*32 PRINTUSASCII except '=', SP, ']', '"'; private IDs are name@PEN.
const SD_ID = /^[!#-<>-?A-\\^-~]+@\d+(\.\d+)*$/;
const HOST = /^[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$/;
/** Shorter HMAC keys are guessable, as for event notification webhooks. */
const SECRET_MIN_LENGTH = 16;

const KEYS: Record<SiemSinkConfig['type'], readonly string[]> = {
  file: ['name', 'type', 'path'],
  stdout: ['name', 'type'],
  syslog: [
    'name',
    'type',
    'host',
    'port',
    'tls',
    'caFile',
    'certFile',
    'keyFile',
    'facility',
    'structuredDataId',
  ],
  webhook: ['name', 'type', 'url', 'secretFile', 'authorizationFile'],
};

/**
 * Reads and validates the sinks file; `fail` builds the config error for a message (the caller
 * names the setting). Secret files (client key, HMAC key, authorization) readable by group or
 * others are refused, as every secret file Sovra reads.
 */
export function loadAuditExport(path: string, fail: (message: string) => Error): SiemSinkConfig[] {
  let text: string;
  try {
    if (statSync(path).size > AUDIT_EXPORT_FILE_MAX_BYTES) {
      throw new Error(`larger than ${AUDIT_EXPORT_FILE_MAX_BYTES} bytes`);
    }
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw fail(`cannot read ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw fail(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (!isObject(parsed)) throw fail(`${path} must hold a JSON object {"sinks": [...]}`);
  for (const key of Object.keys(parsed)) {
    if (key !== 'sinks') throw fail(`${path}: unknown key "${key}" (known: sinks)`);
  }
  const sinks = parsed.sinks;
  if (!Array.isArray(sinks)) throw fail(`${path}: "sinks" must be an array of sinks`);
  if (sinks.length > AUDIT_EXPORT_SINKS_MAX)
    throw fail(`${path} lists more than ${AUDIT_EXPORT_SINKS_MAX} sinks`);
  const configs = sinks.map((entry: unknown, index) =>
    parseSink(entry, (message) => fail(`${path}: sink ${index + 1}${sinkLabel(entry)}: ${message}`)),
  );
  const names = new Set<string>();
  for (const sink of configs) {
    if (names.has(sink.name)) throw fail(`${path}: sink name "${sink.name}" is used twice`);
    names.add(sink.name);
  }
  if (configs.filter((sink) => sink.type === 'stdout').length > 1) {
    throw fail(`${path}: at most one stdout sink (two would print every event twice)`);
  }
  return configs;
}

function sinkLabel(entry: unknown): string {
  return isObject(entry) && typeof entry.name === 'string' && SINK_NAME.test(entry.name)
    ? ` ("${entry.name}")`
    : '';
}

function parseSink(entry: unknown, fail: (message: string) => Error): SiemSinkConfig {
  if (!isObject(entry)) throw fail('must be a JSON object');
  const type = entry.type;
  if (type !== 'file' && type !== 'stdout' && type !== 'syslog' && type !== 'webhook') {
    throw fail('type must be "file", "stdout", "syslog" or "webhook"');
  }
  for (const key of Object.keys(entry)) {
    if (!KEYS[type].includes(key))
      throw fail(`unknown key "${key}" (known for ${type}: ${KEYS[type].join(', ')})`);
  }
  const name = entry.name;
  // The name keys the sink's export cursor: renaming a sink starts it over from the first record.
  if (typeof name !== 'string' || !SINK_NAME.test(name)) {
    throw fail('name must be 1 to 64 letters, digits, "_" or "-"');
  }
  switch (type) {
    case 'file':
      return { name, type, path: filePathOf(entry.path, fail) };
    case 'stdout':
      return { name, type };
    case 'syslog':
      return syslogSinkOf(name, entry, fail);
    case 'webhook':
      return webhookSinkOf(name, entry, fail);
  }
}

function filePathOf(value: unknown, fail: (message: string) => Error): string {
  if (typeof value !== 'string' || !isAbsolute(value)) throw fail('path must be an absolute file path');
  let directory: boolean;
  try {
    directory = statSync(dirname(value)).isDirectory();
  } catch (error) {
    throw fail(`the directory of ${value} cannot be read: ${(error as Error).message}`);
  }
  if (!directory) throw fail(`the directory of ${value} is not a directory`);
  let existing: Stats | null = null;
  try {
    existing = statSync(value);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw fail(`cannot read ${value}: ${(error as Error).message}`);
    }
  }
  if (existing !== null && !existing.isFile()) throw fail(`${value} is not a regular file`);
  return value;
}

function syslogSinkOf(
  name: string,
  entry: Record<string, unknown>,
  fail: (message: string) => Error,
): SyslogSinkConfig {
  const host = entry.host;
  if (typeof host !== 'string' || (isIP(host) === 0 && !HOST.test(host))) {
    throw fail('host must be a host name or an IP address');
  }
  const port = entry.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw fail('port must be an integer from 1 to 65535');
  }
  const tls = entry.tls ?? false;
  if (typeof tls !== 'boolean') throw fail('tls must be true or false');
  const caFile = optionalFile(entry, 'caFile', fail);
  const certFile = optionalFile(entry, 'certFile', fail);
  const keyFile = optionalFile(entry, 'keyFile', fail);
  if (!tls) {
    for (const key of ['caFile', 'certFile', 'keyFile']) {
      if (entry[key] !== undefined) throw fail(`${key} needs tls: true`);
    }
  }
  if ((certFile === null) !== (keyFile === null)) throw fail('certFile and keyFile must be given together');
  if (keyFile !== null) checkSecretFile(keyFile, fail);
  const facility = entry.facility ?? SYSLOG_FACILITY_LOG_AUDIT;
  if (typeof facility !== 'number' || !Number.isInteger(facility) || facility < 0 || facility > 23) {
    throw fail('facility must be an RFC 5424 facility code from 0 to 23 (13 is "log audit")');
  }
  const structuredDataId = entry.structuredDataId ?? null;
  if (structuredDataId !== null && (typeof structuredDataId !== 'string' || !isSdId(structuredDataId))) {
    throw fail(
      'structuredDataId must be an RFC 5424 SD-ID name@<private enterprise number>, e.g. "ocsf@32473"',
    );
  }
  return { name, type: 'syslog', host, port, tls, caFile, certFile, keyFile, facility, structuredDataId };
}

function isSdId(value: string): boolean {
  return value.length <= 32 && SD_ID.test(value);
}

function webhookSinkOf(
  name: string,
  entry: Record<string, unknown>,
  fail: (message: string) => Error,
): WebhookSinkConfig {
  const url = entry.url;
  if (typeof url !== 'string') throw fail('url must be an https:// URL');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw fail('url must be an https:// URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw fail('url must be an https:// URL');
  if (parsed.username !== '' || parsed.password !== '') {
    throw fail('url must not carry credentials (use authorizationFile)');
  }
  // The events name every tenant's principals and resources: in clear only to this machine.
  if (parsed.protocol === 'http:' && !isLoopback(parsed.hostname)) {
    throw fail('url must be https:// (plain http:// only to a loopback address)');
  }
  const secretFile = optionalFile(entry, 'secretFile', fail);
  if (secretFile !== null) {
    checkSecretFile(secretFile, fail);
    if (readFileSync(secretFile, 'utf8').trim().length < SECRET_MIN_LENGTH) {
      throw fail(`secretFile ${secretFile} must hold at least ${SECRET_MIN_LENGTH} characters`);
    }
  }
  const authorizationFile = optionalFile(entry, 'authorizationFile', fail);
  if (authorizationFile !== null) {
    checkSecretFile(authorizationFile, fail);
    if (!/^[\x21-\x7e][\x20-\x7e]*$/.test(readFileSync(authorizationFile, 'utf8').trim())) {
      throw fail(`authorizationFile ${authorizationFile} must hold one printable header value`);
    }
  }
  return { name, type: 'webhook', url, secretFile, authorizationFile };
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function optionalFile(
  entry: Record<string, unknown>,
  key: string,
  fail: (message: string) => Error,
): string | null {
  const value = entry[key];
  if (value === undefined) return null;
  if (typeof value !== 'string' || !isAbsolute(value)) throw fail(`${key} must be an absolute file path`);
  try {
    if (!statSync(value).isFile()) throw new Error('not a file');
    readFileSync(value);
  } catch (error) {
    throw fail(`cannot read ${key} ${value}: ${(error as Error).message}`);
  }
  return value;
}

function checkSecretFile(path: string, fail: (message: string) => Error): void {
  const mode = statSync(path).mode;
  if ((mode & 0o077) !== 0) {
    throw fail(`${path} is readable by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
