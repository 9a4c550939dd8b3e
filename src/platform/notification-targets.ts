import { readFileSync, statSync } from 'node:fs';
import { LIMITS } from './limits.ts';

/**
 * Event notification destinations the operator registers (setting `notificationTargets`: a JSON
 * file holding an array of targets). Tenants can only point their buckets at these, by ARN
 * `arn:sovra:sqs:<region>:<id>:<type>` (docs/reference/event-notifications.md).
 */
export type NotificationTarget =
  | { id: string; type: 'webhook'; url: string; secretFile: string }
  | { id: string; type: 'nats'; servers: string[]; subject: string; stream: string };

const TARGET_ID = /^[A-Za-z0-9_-]{1,64}$/;
// https://docs.nats.io/nats-concepts/subjects: dot-separated tokens; no wildcards for publishing.
const NATS_SUBJECT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
// https://docs.nats.io/nats-concepts/jetstream/streams: names must not contain spaces, `.`, `*`, `>`, path separators.
const STREAM_NAME = /^[A-Za-z0-9_-]{1,255}$/;
const NATS_SERVER = /^(nats|tls):\/\/[^\s/]+$|^[^\s/:]+(:\d{1,5})?$/;
const KEYS: Record<NotificationTarget['type'], readonly string[]> = {
  webhook: ['id', 'type', 'url', 'secretFile'],
  nats: ['id', 'type', 'servers', 'subject', 'stream'],
};

/**
 * Reads and validates the targets file; `fail` builds the config error for a message. Webhook
 * secret files must not be readable by group or others, as every secret file Sovra reads.
 */
export function loadNotificationTargets(
  path: string,
  fail: (message: string) => Error,
): NotificationTarget[] {
  let text: string;
  try {
    if (statSync(path).size > LIMITS.notificationTargetsFileMaxBytes) {
      throw new Error(`larger than ${LIMITS.notificationTargetsFileMaxBytes} bytes`);
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
  if (!Array.isArray(parsed)) throw fail(`${path} must hold a JSON array of targets`);
  if (parsed.length > LIMITS.notificationTargetsMax) {
    throw fail(`${path} lists more than ${LIMITS.notificationTargetsMax} targets`);
  }
  const targets = parsed.map((entry: unknown, index) =>
    parseTarget(entry, (message) => fail(`${path}: target ${index + 1}: ${message}`)),
  );
  const ids = new Set<string>();
  for (const target of targets) {
    if (ids.has(target.id)) throw fail(`${path}: target id "${target.id}" is used twice`);
    ids.add(target.id);
  }
  return targets;
}

function parseTarget(entry: unknown, fail: (message: string) => Error): NotificationTarget {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
    throw fail('must be a JSON object');
  const fields = entry as Record<string, unknown>;
  const type = fields.type;
  if (type !== 'webhook' && type !== 'nats') throw fail('type must be "webhook" or "nats"');
  for (const key of Object.keys(fields)) {
    if (!KEYS[type].includes(key))
      throw fail(`unknown key "${key}" (known for ${type}: ${KEYS[type].join(', ')})`);
  }
  const id = fields.id;
  if (typeof id !== 'string' || !TARGET_ID.test(id))
    throw fail('id must be 1 to 64 letters, digits, "_" or "-"');
  if (type === 'webhook') {
    const url = fields.url;
    if (typeof url !== 'string' || !isHttpUrl(url)) throw fail('url must be an http:// or https:// URL');
    const secretFile = fields.secretFile;
    if (typeof secretFile !== 'string' || secretFile === '') throw fail('secretFile must name a file');
    checkSecretFile(secretFile, fail);
    return { id, type, url, secretFile };
  }
  const servers = typeof fields.servers === 'string' ? [fields.servers] : fields.servers;
  if (
    !Array.isArray(servers) ||
    servers.length === 0 ||
    !servers.every((server): server is string => typeof server === 'string' && NATS_SERVER.test(server))
  ) {
    throw fail('servers must be a host:port (or nats://host:port) or a non-empty array of them');
  }
  const subject = fields.subject;
  if (typeof subject !== 'string' || !NATS_SUBJECT.test(subject)) {
    throw fail('subject must be a NATS subject without wildcards, e.g. "sovra.events"');
  }
  const stream = fields.stream;
  if (typeof stream !== 'string' || !STREAM_NAME.test(stream)) {
    throw fail('stream must be a JetStream stream name (letters, digits, "_" or "-")');
  }
  return { id, type, servers, subject, stream };
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === ''
    );
  } catch {
    return false;
  }
}

/** Shorter HMAC keys are guessable; 16 characters is the floor, a random 32 bytes in hex is better. */
const WEBHOOK_SECRET_MIN_LENGTH = 16;

function checkSecretFile(path: string, fail: (message: string) => Error): void {
  let mode: number;
  let secret: Buffer;
  try {
    mode = statSync(path).mode;
    secret = readWebhookSecret(path);
  } catch (error) {
    throw fail(`cannot read secretFile ${path}: ${(error as Error).message}`);
  }
  if ((mode & 0o077) !== 0) {
    throw fail(`${path} is readable by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
  }
  if (secret.length < WEBHOOK_SECRET_MIN_LENGTH) {
    throw fail(`secretFile ${path} must hold at least ${WEBHOOK_SECRET_MIN_LENGTH} characters`);
  }
}

/** The webhook's HMAC key: the secret file's bytes without surrounding whitespace (a trailing newline). */
export function readWebhookSecret(path: string): Buffer {
  return Buffer.from(readFileSync(path, 'utf8').trim(), 'utf8');
}
