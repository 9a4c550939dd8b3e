/**
 * Bucket CORS: the configuration (Put/Get/DeleteBucketCors), preflight requests (OPTIONS) and
 * the Access-Control-* headers of actual requests, evaluated as Amazon S3 does
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketCors.html): rules in order, the
 * first rule whose AllowedOrigin, AllowedMethod and (for preflights) AllowedHeader all match
 * decides, and nothing is added when none does.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { checksumOf } from '../../../domain/storage/digests.ts';
import type { ObjectStore } from '../../../domain/storage/object-store.ts';
import type { BucketRecord } from '../../../domain/storage/types.ts';
import type { Clock } from '../../../platform/clock.ts';
import { isSovraError } from '../../../platform/errors.ts';
import { LIMITS } from '../../../platform/limits.ts';
import { s3Error } from '../errors.ts';
import { sendEmpty, sendXml, type S3Exchange } from '../exchange.ts';
import { header, readContentMd5 } from '../object-headers.ts';
import { routeS3Request } from '../route.ts';
import type { S3Services } from '../s3-endpoint.ts';
import {
  parseXmlBody,
  renderXmlDocument,
  xmlList,
  type XmlNode,
  type XmlObject,
  type XmlValue,
} from '../xml.ts';

/** The methods a CORSRule may allow (API_CORSRule: "Valid values are GET, PUT, HEAD, POST, and DELETE"). */
export const CORS_METHODS = ['GET', 'PUT', 'HEAD', 'POST', 'DELETE'] as const;
export type CorsMethod = (typeof CORS_METHODS)[number];

/** One CORSRule (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CORSRule.html). */
export interface CorsRule {
  id: string | null;
  allowedOrigins: string[];
  allowedMethods: CorsMethod[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds: number | null;
}

export interface CorsMatch {
  rule: CorsRule;
  /** `*` when the rule allows every origin with the literal `*`, else the request's Origin. */
  allowOrigin: string;
}

/** The version of the JSON document stored in bucket_configs (kind 'cors'). */
const CORS_DOCUMENT_FORMAT = 1;

const VARY = 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method';

// ---- configuration --------------------------------------------------------------------------

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketCors.html */
export async function getBucketCors(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
): Promise<void> {
  const config = await services.objects.getBucketConfig(bucket.name, 'cors');
  if (config === null) {
    throw s3Error('NoSuchCORSConfiguration', 'The CORS configuration does not exist');
  }
  sendXml(x.res, 200, renderCorsConfiguration(decodeCorsDocument(config.document)));
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketCors.html */
export async function putBucketCors(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
): Promise<void> {
  const body = await readConfigurationBody(x, LIMITS.corsConfigMaxBytes);
  const rules = parseCorsConfiguration(body.toString('utf8'));
  await services.objects.putBucketConfig(bucket.name, 'cors', encodeCorsDocument(rules));
  corsConfigCacheOf(services).forget(bucket.name);
  sendEmpty(x.res, 200);
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucketCors.html (204, configured or not). */
export async function deleteBucketCors(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
): Promise<void> {
  await services.objects.deleteBucketConfig(bucket.name, 'cors');
  corsConfigCacheOf(services).forget(bucket.name);
  sendEmpty(x.res, 204);
}

// ---- preflight and actual requests ----------------------------------------------------------

/**
 * Answers a CORS preflight (OPTIONS) for a bucket or object as S3 evaluates the bucket's rules;
 * preflights are not authenticated. The order of the checks is S3's: a missing Origin, then an
 * Access-Control-Request-Method that is not a CORS method (400 BadRequest), then the bucket and
 * its configuration (403 AccessForbidden).
 */
export async function handlePreflight(
  req: IncomingMessage,
  res: ServerResponse,
  bucket: string | null,
  services: S3Services,
): Promise<void> {
  const origin = header(req.headers, 'origin');
  if (origin === undefined || origin === '') {
    throw s3Error('BadRequest', 'Insufficient information. Origin request header needed.');
  }
  const method = header(req.headers, 'access-control-request-method');
  if (method === undefined || !isCorsMethod(method)) {
    throw s3Error('BadRequest', `Invalid Access-Control-Request-Method: ${method ?? 'null'}`);
  }
  const requestedHeaders = parseRequestedHeaders(header(req.headers, 'access-control-request-headers'));
  const refusal = { method, resourceType: resourceTypeOf(req, services) };
  const configured = bucket === null ? NO_BUCKET : await corsConfigCacheOf(services).lookup(bucket);
  if (configured === NO_BUCKET) throw s3Error('CORSNotAllowed', 'CORSResponse: Bucket not found', refusal);
  if (configured === null) {
    throw s3Error('CORSNotAllowed', 'CORSResponse: CORS is not enabled for this bucket.', refusal);
  }
  const match = matchCorsRule(configured, origin, method, requestedHeaders);
  if (match === null) {
    throw s3Error(
      'CORSNotAllowed',
      "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
      refusal,
    );
  }
  res.writeHead(200, { ...corsResponseHeaders(match, requestedHeaders), 'content-length': 0 });
  res.end();
}

/**
 * Adds Access-Control-* headers to an actual (non-preflight) request whose Origin matches a
 * rule, before the handler runs, so that error responses carry them too. Buckets without a
 * configuration cost one map lookup (the cache remembers "none" as well).
 */
export async function addCorsResponseHeaders(
  req: IncomingMessage,
  res: ServerResponse,
  bucket: string,
  services: S3Services,
): Promise<void> {
  const origin = header(req.headers, 'origin');
  if (origin === undefined || origin === '') return;
  const configured = await corsConfigCacheOf(services).lookup(bucket);
  if (configured === null || configured === NO_BUCKET) return;
  const match = matchCorsRule(configured, origin, req.method ?? 'GET', null);
  if (match === null) return;
  for (const [name, value] of Object.entries(corsResponseHeaders(match, null))) {
    if (value !== undefined) res.setHeader(name, value);
  }
}

/**
 * The first rule that allows the origin, the method and every requested header (preflights
 * only; `null` for actual requests, whose headers S3 does not check).
 */
export function matchCorsRule(
  rules: readonly CorsRule[],
  origin: string,
  method: string,
  requestedHeaders: readonly string[] | null,
): CorsMatch | null {
  for (const rule of rules) {
    if (!(rule.allowedMethods as readonly string[]).includes(method)) continue;
    if (!rule.allowedOrigins.some((pattern) => wildcardMatches(pattern, origin))) continue;
    if (
      requestedHeaders !== null &&
      !requestedHeaders.every((name) =>
        rule.allowedHeaders.some((pattern) => wildcardMatches(pattern.toLowerCase(), name)),
      )
    ) {
      continue;
    }
    return { rule, allowOrigin: rule.allowedOrigins.includes('*') ? '*' : origin };
  }
  return null;
}

/** The response headers of a match, in S3's order. */
export function corsResponseHeaders(
  match: CorsMatch,
  requestedHeaders: readonly string[] | null,
): OutgoingHttpHeaders {
  const { rule, allowOrigin } = match;
  const headers: OutgoingHttpHeaders = {
    'access-control-allow-origin': allowOrigin,
    'access-control-allow-methods': rule.allowedMethods.join(', '),
  };
  if (requestedHeaders !== null && requestedHeaders.length > 0) {
    headers['access-control-allow-headers'] = requestedHeaders.join(', ');
  }
  if (rule.exposeHeaders.length > 0) headers['access-control-expose-headers'] = rule.exposeHeaders.join(', ');
  if (rule.maxAgeSeconds !== null) headers['access-control-max-age'] = String(rule.maxAgeSeconds);
  // S3 allows credentials whenever the origin is echoed rather than `*` (which the Fetch
  // standard forbids together with credentials).
  if (allowOrigin !== '*') headers['access-control-allow-credentials'] = 'true';
  headers.vary = VARY;
  return headers;
}

/**
 * One `*` matches any run of characters, empty included; the text around it must match exactly
 * and may not overlap (`a*a` does not match `a`). Origins compare case-sensitively; callers
 * lower-case header names and patterns.
 */
function wildcardMatches(pattern: string, value: string): boolean {
  const star = pattern.indexOf('*');
  if (star === -1) return pattern === value;
  const prefix = pattern.slice(0, star);
  const suffix = pattern.slice(star + 1);
  return value.length >= prefix.length + suffix.length && value.startsWith(prefix) && value.endsWith(suffix);
}

function isCorsMethod(method: string): method is CorsMethod {
  return (CORS_METHODS as readonly string[]).includes(method);
}

/** `Access-Control-Request-Headers: Content-Type, x-amz-date` → lower-case names, empties dropped. */
function parseRequestedHeaders(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
}

/** S3 names what a refused preflight was for: the bucket itself or an object in it. */
function resourceTypeOf(req: IncomingMessage, services: S3Services): 'BUCKET' | 'OBJECT' {
  try {
    const route = routeS3Request('GET', req.url ?? '/', header(req.headers, 'host'), services.domains, false);
    return route.key === null ? 'BUCKET' : 'OBJECT';
  } catch {
    return 'BUCKET';
  }
}

// ---- the configuration cache ----------------------------------------------------------------

const NO_BUCKET = Symbol('no bucket');
type CorsLookup = readonly CorsRule[] | null | typeof NO_BUCKET;

/**
 * Parsed CORS configurations per bucket, re-read at most every LIMITS.corsConfigCacheTtlMs
 * (as ObjectStore caches bucket records); Put/DeleteBucketCors through this gateway forget the
 * entry at once, other gateways' changes are seen within the TTL.
 */
class CorsConfigCache {
  readonly #objects: ObjectStore;
  readonly #clock: Clock;
  readonly #entries = new Map<string, { value: CorsLookup; expiresAtMs: number }>();

  constructor(objects: ObjectStore, clock: Clock) {
    this.#objects = objects;
    this.#clock = clock;
  }

  async lookup(bucket: string): Promise<CorsLookup> {
    const nowMs = this.#clock.nowMs();
    const cached = this.#entries.get(bucket);
    if (cached !== undefined && cached.expiresAtMs > nowMs) return cached.value;
    const value = await this.#read(bucket);
    if (this.#entries.size >= LIMITS.corsConfigCacheEntries) this.#entries.clear();
    this.#entries.set(bucket, { value, expiresAtMs: nowMs + LIMITS.corsConfigCacheTtlMs });
    return value;
  }

  forget(bucket: string): void {
    this.#entries.delete(bucket);
  }

  async #read(bucket: string): Promise<CorsLookup> {
    if ((await this.#objects.findBucket(bucket)) === null) return NO_BUCKET;
    try {
      const config = await this.#objects.getBucketConfig(bucket, 'cors');
      return config === null ? null : decodeCorsDocument(config.document);
    } catch (error) {
      // Deleted between the two reads.
      if (isSovraError(error) && error.code === 'BucketNotFound') return NO_BUCKET;
      throw error;
    }
  }
}

/**
 * One cache per ObjectStore, that is per composed gateway: the composition root builds the
 * store, and the cache lives and dies with it (no process-wide state).
 */
const corsConfigCaches = new WeakMap<ObjectStore, CorsConfigCache>();

function corsConfigCacheOf(services: S3Services): CorsConfigCache {
  let cache = corsConfigCaches.get(services.objects);
  if (cache === undefined) {
    cache = new CorsConfigCache(services.objects, services.clock);
    corsConfigCaches.set(services.objects, cache);
  }
  return cache;
}

// ---- the XML document -----------------------------------------------------------------------

const MALFORMED_XML_MESSAGE =
  'The XML you provided was not well-formed or did not validate against our published schema';

const RULE_ELEMENTS = new Set([
  'ID',
  'AllowedOrigin',
  'AllowedMethod',
  'AllowedHeader',
  'ExposeHeader',
  'MaxAgeSeconds',
]);

/**
 * Parses a PutBucketCors body. The document's structure is checked first (MalformedXML: 1 to 100
 * rules, each with at least one AllowedOrigin and AllowedMethod, at most one ID of at most 255
 * characters and one MaxAgeSeconds that is a 32-bit non-negative integer, nothing else); then
 * each rule's values in S3's order (InvalidRequest: methods, origins, allowed headers, expose
 * headers). Values are kept as sent, whitespace included.
 */
export function parseCorsConfiguration(text: string): CorsRule[] {
  if (/<!DOCTYPE/i.test(text)) throw malformedXml();
  const root = parseXmlBody(text, 'CORSConfiguration');
  for (const [name, value] of Object.entries(root)) {
    if (name === 'CORSRule') continue;
    if (name === '#text' && typeof value === 'string' && value.trim() === '') continue;
    throw malformedXml();
  }
  const ruleValues = xmlList(root.CORSRule);
  if (ruleValues.length === 0 || ruleValues.length > LIMITS.corsRulesMax) throw malformedXml();
  const rules = ruleValues.map(readRuleStructure);
  for (const rule of rules) checkRuleValues(rule);
  return rules.map((rule) => ({ ...rule, allowedMethods: rule.allowedMethods as CorsMethod[] }));
}

type UncheckedRule = Omit<CorsRule, 'allowedMethods'> & { allowedMethods: string[] };

function readRuleStructure(value: XmlValue): UncheckedRule {
  if (typeof value !== 'object' || Array.isArray(value)) throw malformedXml();
  const element: XmlObject = value;
  for (const [name, content] of Object.entries(element)) {
    if (RULE_ELEMENTS.has(name)) continue;
    if (name === '#text' && typeof content === 'string' && content.trim() === '') continue;
    throw malformedXml();
  }
  const ids = texts(element.ID);
  const maxAges = texts(element.MaxAgeSeconds);
  const rule: UncheckedRule = {
    id: ids[0] ?? null,
    allowedOrigins: texts(element.AllowedOrigin),
    allowedMethods: texts(element.AllowedMethod),
    allowedHeaders: texts(element.AllowedHeader),
    exposeHeaders: texts(element.ExposeHeader),
    maxAgeSeconds: null,
  };
  if (ids.length > 1 || (rule.id !== null && rule.id.length > LIMITS.corsRuleIdMaxChars))
    throw malformedXml();
  if (rule.allowedOrigins.length === 0 || rule.allowedMethods.length === 0) throw malformedXml();
  if (maxAges.length > 1) throw malformedXml();
  const maxAge = maxAges[0];
  if (maxAge !== undefined) {
    if (!/^\d{1,10}$/.test(maxAge) || Number(maxAge) > LIMITS.corsMaxAgeSecondsMax) throw malformedXml();
    rule.maxAgeSeconds = Number(maxAge);
  }
  return rule;
}

function checkRuleValues(rule: UncheckedRule): void {
  for (const method of rule.allowedMethods) {
    if (!isCorsMethod(method)) {
      throw s3Error(
        'InvalidRequest',
        `Found unsupported HTTP method in CORS config. Unsupported method is ${method}`,
      );
    }
  }
  for (const origin of rule.allowedOrigins) {
    if (wildcardCount(origin) > 1) {
      throw s3Error('InvalidRequest', `AllowedOrigin "${origin}" can not have more than one wildcard.`);
    }
  }
  for (const name of rule.allowedHeaders) {
    if (wildcardCount(name) > 1) {
      throw s3Error('InvalidRequest', `AllowedHeader "${name}" can not have more than one wildcard.`);
    }
  }
  for (const name of rule.exposeHeaders) {
    if (name.includes('*')) {
      throw s3Error(
        'InvalidRequest',
        `ExposeHeader "${name}" contains wildcard. We currently do not support wildcard for ExposeHeader.`,
      );
    }
  }
}

function wildcardCount(text: string): number {
  let count = 0;
  for (const c of text) if (c === '*') count++;
  return count;
}

/** Text values of a repeatable element; an element with child elements is not a value. */
function texts(value: XmlValue | undefined): string[] {
  return xmlList(value).map((item) => {
    if (typeof item !== 'string') throw malformedXml();
    return item;
  });
}

function malformedXml() {
  return s3Error('MalformedXML', MALFORMED_XML_MESSAGE);
}

/** GetBucketCors: elements in the order S3 writes them. */
export function renderCorsConfiguration(rules: readonly CorsRule[]): string {
  return renderXmlDocument(
    'CORSConfiguration',
    rules.map((rule): XmlNode => {
      const nodes: XmlNode[] = [];
      if (rule.id !== null) nodes.push(['ID', rule.id]);
      for (const method of rule.allowedMethods) nodes.push(['AllowedMethod', method]);
      for (const origin of rule.allowedOrigins) nodes.push(['AllowedOrigin', origin]);
      for (const name of rule.allowedHeaders) nodes.push(['AllowedHeader', name]);
      if (rule.maxAgeSeconds !== null) nodes.push(['MaxAgeSeconds', rule.maxAgeSeconds]);
      for (const name of rule.exposeHeaders) nodes.push(['ExposeHeader', name]);
      return ['CORSRule', nodes];
    }),
  );
}

// ---- the stored document --------------------------------------------------------------------

function encodeCorsDocument(rules: readonly CorsRule[]): string {
  return JSON.stringify({ format: CORS_DOCUMENT_FORMAT, rules });
}

/** Reads what encodeCorsDocument wrote; anything else is corrupt metadata (an internal error). */
function decodeCorsDocument(document: string): CorsRule[] {
  const parsed: unknown = JSON.parse(document);
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    !('format' in parsed) ||
    parsed.format !== CORS_DOCUMENT_FORMAT ||
    !('rules' in parsed) ||
    !Array.isArray(parsed.rules)
  ) {
    throw new Error('stored CORS configuration has an unknown format');
  }
  return (parsed.rules as unknown[]).map((value) => {
    const rule = value as Partial<Record<keyof CorsRule, unknown>>;
    const strings = (list: unknown): string[] => {
      if (!Array.isArray(list) || !list.every((item) => typeof item === 'string')) {
        throw new Error('stored CORS rule is malformed');
      }
      return list;
    };
    const methods = strings(rule.allowedMethods);
    if (!methods.every(isCorsMethod)) throw new Error('stored CORS rule has an unknown method');
    return {
      id: typeof rule.id === 'string' ? rule.id : null,
      allowedOrigins: strings(rule.allowedOrigins),
      allowedMethods: methods,
      allowedHeaders: strings(rule.allowedHeaders),
      exposeHeaders: strings(rule.exposeHeaders),
      maxAgeSeconds: typeof rule.maxAgeSeconds === 'number' ? rule.maxAgeSeconds : null,
    };
  });
}

// ---- the request body -----------------------------------------------------------------------

/**
 * Reads a configuration document (bounded) and checks its integrity. S3 requires Content-MD5 or
 * an x-amz-checksum-* value on PutBucketCors ("Missing required header for this request:
 * Content-MD5"); whichever is sent must match the bytes.
 */
async function readConfigurationBody(x: S3Exchange, maxBytes: number): Promise<Buffer> {
  const body = await readBounded(x.body, maxBytes);
  const contentMd5 = readContentMd5(x.req.headers);
  const claimed = x.checksumClaim?.expected();
  if (contentMd5 === null && (x.checksumClaim === null || claimed === undefined)) {
    throw s3Error('InvalidRequest', 'Missing required header for this request: Content-MD5');
  }
  if (contentMd5 !== null && !createHash('md5').update(body).digest().equals(contentMd5)) {
    throw s3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.');
  }
  if (x.checksumClaim !== null && claimed !== undefined) {
    const actual = await checksumOf(x.checksumClaim.algorithm, body);
    if (actual.toString('base64') !== claimed) {
      throw s3Error(
        'BadDigest',
        `The ${x.checksumClaim.algorithm} you specified did not match the calculated checksum.`,
      );
    }
  }
  return body;
}

async function readBounded(body: Readable, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > maxBytes) {
      throw s3Error(
        'MalformedXML',
        `The XML you provided was larger than the maximum allowed size (${maxBytes} bytes).`,
      );
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}
