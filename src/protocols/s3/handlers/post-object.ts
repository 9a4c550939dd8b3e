/**
 * Browser-based uploads: POST Object with a signed POST policy
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTForms.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html). The
 * signature travels in form fields, so this path authenticates itself.
 *
 * The form is parsed as it streams: the fields before the file (at most 20 KB) are read, the
 * request is authenticated, authorized and checked against the policy, and only then do the
 * file's bytes flow, unbuffered, into ObjectStore.putObject, which commits the object only when
 * the whole file has arrived within the policy's content-length-range. Fields after the file are
 * ignored, as S3 ignores them.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import busboy from 'busboy';
import type { Caller } from '../../../domain/iam/caller.ts';
import type { ChecksumClaim } from '../../../domain/storage/object-store.ts';
import {
  hasReservedTag,
  NO_RESERVED_TAGS,
  validatedTagSet,
  type Tag,
} from '../../../domain/storage/tagging.ts';
import type { BucketRecord } from '../../../domain/storage/types.ts';
import { assertNever, isSovraError } from '../../../platform/errors.ts';
import { LIMITS } from '../../../platform/limits.ts';
import { hmacSha256, parseAmzDate, SCOPE_TERMINATOR, SIGV4_ALGORITHM } from '../../sigv4/canonical.ts';
import { SigV4Error } from '../../sigv4/errors.ts';
import { deriveSigningKey } from '../../sigv4/signing-key.ts';
import { encryptionHeaders, readEncryptionRequest } from '../encryption-headers.ts';
import { s3Error } from '../errors.ts';
import { sendEmpty, sendXml } from '../exchange.ts';
import { requestJustification } from '../key-use.ts';
import {
  checksumHeaders,
  header,
  quotedEtag,
  readChecksumAlgorithmName,
  readChecksumHeader,
  readContentMd5,
  readSystemMetadata,
  readUserMetadata,
} from '../object-headers.ts';
import { IAM_ACTION, type S3Route } from '../route.ts';
import type { S3ObjectLabels } from '../object-labels.ts';
import type { S3Outcome, S3Services } from '../s3-endpoint.ts';
import { parseXmlBody, renderXmlDocument, xmlList, xmlObject, xmlText } from '../xml.ts';
import { ALLOWED_CANNED_ACLS } from './buckets.ts';
import { showsVersionIds } from './objects.ts';
import { isSecureTransport } from '../../sigv4/signed-request.ts';

/**
 * Browser-based uploads: POST Object with a signed POST policy. Resolves with who uploaded once
 * the object is committed and the response sent; every failure is thrown as a coded error for
 * the endpoint to render (nothing has been stored then).
 */
export async function postObject(
  req: IncomingMessage,
  res: ServerResponse,
  route: S3Route,
  requestId: string,
  services: S3Services,
  labels: S3ObjectLabels,
  outcome: S3Outcome,
): Promise<{ principalId: string; tenantId: string } | null> {
  try {
    return await receiveAndStore(req, res, route, requestId, services, labels, outcome);
  } catch (error) {
    await discardRest(req);
    throw error;
  }
}

async function receiveAndStore(
  req: IncomingMessage,
  res: ServerResponse,
  route: S3Route,
  requestId: string,
  services: S3Services,
  labels: S3ObjectLabels,
  outcome: S3Outcome,
): Promise<{ principalId: string; tenantId: string }> {
  const bucket = await services.objects.getBucket(route.bucket!);
  outcome.resourceTenantId = bucket.tenantId;
  outcome.classification = labels.textOf(bucket.classification, null);
  const form = await receiveFormHead(req);
  try {
    const fields = new PostFields(form.fields, form.file?.filename);
    const key = requireField(fields, 'key');
    if (form.file === null) throw fileMissing();
    const caller = await authenticate(fields, req, requestId, services);
    await services.authorizer.authorize(caller, IAM_ACTION.PostObject, { bucket, key });
    const policy = parsePostPolicy(requireField(fields, 'Policy'));
    const lengthRange = checkPostPolicy(policy, fields, bucket.name, key, services.clock.nowMs());
    // x-sovra-classification / x-sovra-compartments fields, as PutObject's headers (and, like
    // every field, covered by the policy's conditions).
    const requested = labels.requestedLabel(fields.asHeaders());
    const label =
      requested === null
        ? null
        : await labels.labelWrite({ caller, outcome }, IAM_ACTION.PostObject, bucket, key, requested);
    // The x-amz-server-side-encryption* fields, read and checked as PutObject's headers, and the
    // x-sovra-justification field; like every field, covered by the policy's conditions.
    const encryption = readEncryptionRequest(req, fields.asHeaders());
    const keyUse = requestJustification(fields.asHeaders(), caller, services.jurisdictions);
    const { sentTags, ...objectFields } = readObjectFields(fields);
    // The tagging field as PutObject's x-amz-tagging: a reserved tag may only send back the label.
    const reserved = hasReservedTag(sentTags)
      ? await labels.echoableLabelTags({ caller, outcome }, bucket, {
          key,
          classification: label?.stored ?? null,
        })
      : NO_RESERVED_TAGS;
    const version = await services.objects.putObject({
      caller,
      bucket: bucket.name,
      key,
      body: withinLengthRange(form.file.stream, lengthRange),
      declaredBytes: null,
      ...objectFields,
      tags: validatedTagSet(sentTags, 'object', reserved),
      conditions: {},
      encryption: encryption.request,
      keyUse,
      classification: label?.stored ?? null,
    });
    sendPostResponse(res, fields, {
      bucket,
      key,
      etag: quotedEtag(version.etag),
      location: objectLocation(req, route, caller.secureTransport, key),
      headers: {
        ...checksumHeaders(version),
        ...encryptionHeaders(version.encryption, encryption.customerKey),
        ...(showsVersionIds(bucket) ? { 'x-amz-version-id': version.versionId } : {}),
      },
    });
    return { principalId: caller.principalId, tenantId: caller.tenantId };
  } catch (error) {
    form.abandon();
    throw error;
  }
}

/**
 * After a failure, reads and discards what is left of a request of moderate size, so that a
 * client still sending (a browser mid-upload) receives the error rather than a reset
 * connection. A larger or slower remainder is left to the endpoint, which answers and closes
 * the connection.
 */
function discardRest(req: IncomingMessage): Promise<void> {
  if (req.complete || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let discardedBytes = 0;
    const done = () => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', done);
      req.off('close', done);
      req.off('error', done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      discardedBytes += chunk.length;
      if (discardedBytes > LIMITS.postErrorDiscardMaxBytes) {
        req.pause();
        done();
      }
    };
    const timer = setTimeout(() => {
      req.pause();
      done();
    }, LIMITS.postErrorDiscardMaxMs);
    req.on('data', onData);
    req.once('end', done);
    req.once('close', done);
    req.once('error', done);
    req.resume();
  });
}

// ---- the form -------------------------------------------------------------------------------

interface FormField {
  /** As sent; names compare case-insensitively ("The post parameters are case insensitive"). */
  name: string;
  value: string;
}

interface FilePart {
  stream: Readable;
  /** The part's filename parameter without any path; undefined when the part had none. */
  filename: string | undefined;
}

interface FormHead {
  /** Every field before the file, in order. */
  fields: FormField[];
  file: FilePart | null;
  /** Stops parsing the request after a failure (the endpoint drains or closes the connection). */
  abandon(): void;
}

/**
 * Parses the multipart/form-data body up to the part named `file` (RFC 7578), bounding what
 * comes before it: "The form data and boundaries (excluding the contents of the file) cannot
 * exceed 20KB." Resolves when the file part starts, with its stream not yet read (the request
 * is then paused by backpressure), or when the form ends without one.
 */
function receiveFormHead(req: IncomingMessage): Promise<FormHead> {
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: req.headers,
      defParamCharset: 'utf8',
      limits: {
        fieldNameSize: LIMITS.postFormPreFileMaxBytes,
        fieldSize: LIMITS.postFormPreFileMaxBytes,
        parts: LIMITS.postFormPartsMax,
      },
    });
  } catch {
    // No boundary parameter, or not multipart/form-data after all.
    return Promise.reject(malformedPost());
  }
  const abandon = () => {
    req.unpipe(parser);
    parser.destroy();
  };
  // A client that goes away mid-file must fail the upload, not leave it waiting for bytes.
  req.once('close', () => {
    if (!req.complete) parser.destroy(new SigV4Error('IncompleteBody', 'The request body ended early.'));
  });
  return new Promise((resolve, reject) => {
    const fields: FormField[] = [];
    const pending: Promise<void>[] = [];
    let preFileBytes = 0;
    let closed = false;
    const fail = (error: unknown) => {
      const reason = error instanceof Error ? error : malformedPost();
      if (closed) return;
      closed = true;
      abandon();
      reject(reason);
    };
    const finish = (file: FilePart | null) => {
      if (closed) return;
      closed = true;
      Promise.all(pending).then(
        () => resolve({ fields, file, abandon }),
        (error: unknown) => {
          abandon();
          reject(error instanceof Error ? error : malformedPost());
        },
      );
    };
    const charge = (bytes: number) => {
      preFileBytes += bytes;
      if (preFileBytes > LIMITS.postFormPreFileMaxBytes) throw preDataTooLarge();
    };
    const addField = (name: string | undefined, value: string): FormField => {
      if (name === undefined || name === '') throw malformedPost();
      if (fields.length >= LIMITS.postFormFieldsMax) throw preDataTooLarge();
      charge(Buffer.byteLength(name) + Buffer.byteLength(value));
      const field = { name, value };
      fields.push(field);
      return field;
    };

    parser.on('field', (name, value, info) => {
      if (closed) return;
      try {
        if (name?.toLowerCase() === 'file') {
          // A file part without a filename (a text area): busboy delivers it as a field.
          if (info.valueTruncated) throw fileFieldTooLarge();
          finish({ stream: Readable.from([Buffer.from(value, 'utf8')]), filename: undefined });
          return;
        }
        if (info.nameTruncated || info.valueTruncated) throw preDataTooLarge();
        addField(name, value);
      } catch (error) {
        fail(error);
      }
    });
    parser.on('file', (name, stream, info) => {
      // busboy destroys an unfinished part's stream with an error when the form is abandoned
      // or ends early; whoever reads the stream sees that error, nobody else must crash on it.
      stream.on('error', () => undefined);
      if (closed) {
        stream.resume();
        return;
      }
      if (name?.toLowerCase() === 'file') {
        finish({ stream, filename: info.filename });
        return;
      }
      // Some clients give every part a filename (Python requests' `files=`); only the part
      // named `file` is the file, the others are fields.
      try {
        const field = addField(name, '');
        const collected = readFieldPart(stream, charge).then((value) => void (field.value = value));
        // The first failure fails the form at once; Promise.all in finish() sees it too.
        collected.catch(fail);
        pending.push(collected);
      } catch (error) {
        stream.resume();
        fail(error);
      }
    });
    parser.on('partsLimit', () => fail(malformedPost()));
    parser.on('error', () => fail(malformedPost()));
    parser.on('finish', () => finish(null));
    req.pipe(parser);
  });
}

/** The text of a part sent with a filename that is not the file, within the 20 KB budget. */
function readFieldPart(stream: Readable, charge: (bytes: number) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => {
      try {
        charge(chunk.length);
        chunks.push(chunk);
      } catch (error) {
        stream.resume();
        reject(error instanceof Error ? error : malformedPost());
      }
    });
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', () => reject(malformedPost()));
  });
}

/**
 * The fields by lower-case name. Repeated fields are joined with commas, as the POST policy
 * matches them ("the values must be separated by commas"), and `${filename}` is replaced in
 * every value by the file's name ("recognized by all form fields"); with no filename parameter
 * at all S3 leaves it as written.
 */
class PostFields {
  readonly #fields = new Map<string, FormField>();

  constructor(fields: readonly FormField[], filename: string | undefined) {
    for (const field of fields) {
      const name = field.name.toLowerCase();
      const value = filename === undefined ? field.value : field.value.replaceAll('${filename}', filename);
      const existing = this.#fields.get(name);
      this.#fields.set(name, {
        name: existing?.name ?? field.name,
        value: existing === undefined ? value : `${existing.value},${value}`,
      });
    }
  }

  get(name: string): string | undefined {
    return this.#fields.get(name.toLowerCase())?.value;
  }

  has(name: string): boolean {
    return this.#fields.has(name.toLowerCase());
  }

  /** Every field, with its lower-case name. */
  entries(): IterableIterator<[string, FormField]> {
    return this.#fields.entries();
  }

  /** The fields as a header map, so that PutObject's header readers read them the same way. */
  asHeaders(): IncomingHttpHeaders {
    const headers: IncomingHttpHeaders = {};
    for (const [name, field] of this.#fields) headers[name] = field.value;
    return headers;
  }
}

function requireField(fields: PostFields, name: string): string {
  const value = fields.get(name);
  if (value === undefined) {
    throw s3Error(
      'InvalidArgument',
      `Bucket POST must contain a field named '${name}'.  If it is specified, please check the order of the fields.`,
      { argumentName: name, argumentValue: '' },
    );
  }
  return value;
}

// ---- authentication -------------------------------------------------------------------------

const SIGV4_FIELDS = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Signature', 'Policy'];

/**
 * SigV4 for POST (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-authentication-HTTPPOST.html):
 * the string to sign is the policy field exactly as received (its base64 text), signed with the
 * SigV4 signing key of the credential's date, region and service.
 */
async function authenticate(
  fields: PostFields,
  req: IncomingMessage,
  requestId: string,
  services: S3Services,
): Promise<Caller> {
  if (fields.has('AWSAccessKeyId') || fields.has('Signature')) {
    throw new SigV4Error(
      'UnsupportedSignatureAlgorithm',
      'Signature Version 2 is not supported; sign the POST policy with AWS4-HMAC-SHA256 (Signature Version 4).',
      { algorithm: 'AWS' },
    );
  }
  // "If you don't provide elements required for authenticated requests, such as the policy
  // element, the request is assumed to be anonymous"; Sovra serves no anonymous writes.
  if (!SIGV4_FIELDS.some((name) => fields.has(name)))
    throw new SigV4Error('AccessDeniedAnonymous', 'Access Denied');
  const [algorithm, credentialText, amzDate, signatureText, policyText] = SIGV4_FIELDS.map((name) =>
    requireField(fields, name),
  ) as [string, string, string, string, string];
  if (algorithm !== SIGV4_ALGORITHM) {
    throw s3Error('InvalidArgument', `X-Amz-Algorithm only supports "${SIGV4_ALGORITHM}"`, {
      argumentName: 'X-Amz-Algorithm',
      argumentValue: algorithm,
    });
  }
  const credential = parsePostCredential(credentialText, services.region);
  const requestTimeMs = parseAmzDate(amzDate);
  if (requestTimeMs === null) {
    throw s3Error('InvalidArgument', `X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`, {
      argumentName: 'X-Amz-Date',
      argumentValue: amzDate,
    });
  }
  if (amzDate.slice(0, 8) !== credential.scopeDate) {
    throw s3Error('InvalidArgument', 'Invalid credential date. Date is not the same as X-Amz-Date.', {
      argumentName: 'X-Amz-Credential',
      argumentValue: credentialText,
    });
  }
  // "In Signature Version 4, the signing key is valid for up to seven days. Therefore, the
  // signatures are also valid for up to seven days."
  if (services.clock.nowMs() - requestTimeMs > LIMITS.presignMaxExpiresSeconds * 1000) {
    throw new SigV4Error('RequestExpired', 'The POST policy was signed more than seven days ago.');
  }
  const resolved = await services.credentials.resolve(credential.accessKeyId);
  if (resolved === null) {
    throw new SigV4Error(
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
      { accessKeyId: credential.accessKeyId },
    );
  }
  // Sovra issues no temporary credentials, so no session token can be valid.
  if (fields.has('X-Amz-Security-Token')) {
    throw new SigV4Error('InvalidToken', 'The provided token is malformed or otherwise invalid.');
  }
  const signingKey = deriveSigningKey(
    resolved.secretAccessKey,
    credential.scopeDate,
    credential.region,
    's3',
  );
  const expected = hmacSha256(signingKey, policyText);
  const provided = /^[0-9a-fA-F]{64}$/.test(signatureText) ? Buffer.from(signatureText, 'hex') : null;
  if (provided === null || !timingSafeEqual(expected, provided)) {
    throw new SigV4Error(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      { accessKeyId: credential.accessKeyId, stringToSign: policyText, signatureProvided: signatureText },
    );
  }
  return {
    principalId: resolved.principal.id,
    tenantId: resolved.principal.tenantId,
    isTenantAdmin: resolved.principal.isTenantAdmin,
    requestId,
    sourceIp: req.socket.remoteAddress ?? '',
    secureTransport: isSecureTransport(req),
  };
}

/** `<access key id>/<yyyymmdd>/<region>/s3/aws4_request`, for this endpoint's region. */
function parsePostCredential(
  text: string,
  region: string,
): { accessKeyId: string; scopeDate: string; region: string } {
  const details = { argumentName: 'X-Amz-Credential', argumentValue: text };
  const [accessKeyId, scopeDate, scopeRegion, service, terminator, ...rest] = text.split('/');
  if (
    accessKeyId === undefined ||
    accessKeyId === '' ||
    scopeDate === undefined ||
    !/^\d{8}$/.test(scopeDate) ||
    scopeRegion === undefined ||
    scopeRegion === '' ||
    service === undefined ||
    terminator !== SCOPE_TERMINATOR ||
    rest.length > 0
  ) {
    throw s3Error(
      'InvalidArgument',
      'Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
      details,
    );
  }
  if (service !== 's3') {
    throw s3Error(
      'InvalidArgument',
      `Error parsing the X-Amz-Credential parameter; incorrect service "${service}". This endpoint belongs to "s3".`,
      details,
    );
  }
  if (scopeRegion !== region) {
    throw s3Error('InvalidArgument', `the region '${scopeRegion}' is wrong; expecting '${region}'`, {
      ...details,
      region,
    });
  }
  return { accessKeyId, scopeDate, region: scopeRegion };
}

// ---- the POST policy ------------------------------------------------------------------------

type PolicyCondition =
  | {
      kind: 'eq' | 'starts-with';
      /** As written: `$key`; a name without `$` never matches. */
      field: string;
      value: string;
      /** The condition as S3 prints it when it fails. */
      display: string;
    }
  | {
      kind: 'content-length-range';
      /** Null when a bound is a string that is not a number: the condition fails (403). */
      range: { min: number; max: number } | null;
      display: string;
    };

interface PostPolicy {
  expiresAtMs: number;
  conditions: PolicyCondition[];
}

/**
 * Decodes and parses the policy: base64 of UTF-8 JSON with exactly `expiration` (ISO 8601, UTC)
 * and `conditions` (a list of exact-match objects and eq / starts-with / content-length-range
 * lists). Anything else is InvalidPolicyDocument with S3's "Invalid Policy: …" messages.
 */
function parsePostPolicy(policyText: string): PostPolicy {
  if (policyText.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(policyText)) {
    throw invalidPolicy('invalid Base64 encoding.');
  }
  let document: unknown;
  try {
    const json = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(policyText, 'base64'));
    document = JSON.parse(json);
  } catch {
    throw invalidPolicy('Invalid JSON.');
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw invalidPolicy('Invalid JSON.');
  }
  const members = document as Record<string, unknown>;
  for (const name of Object.keys(members)) {
    if (name !== 'expiration' && name !== 'conditions') {
      throw invalidPolicy(`Unexpected: '${name.toLowerCase()}'`);
    }
  }
  const { expiration, conditions } = members;
  if (expiration === undefined) throw invalidPolicy('Policy missing expiration.');
  if (conditions === undefined) throw invalidPolicy('Policy missing conditions.');
  const expiresAtMs = parseExpiration(expiration);
  if (!Array.isArray(conditions)) throw invalidPolicy("Invalid 'conditions' value: must be a List.");
  if (conditions.length > LIMITS.postPolicyConditionsMax) {
    throw invalidPolicy(`Too many conditions: at most ${LIMITS.postPolicyConditionsMax} are allowed.`);
  }
  return { expiresAtMs, conditions: conditions.map(parseCondition) };
}

function parseExpiration(value: unknown): number {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const ms = typeof value === 'string' && ISO8601_UTC.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw invalidPolicy(`Invalid 'expiration' value: '${text}'`);
  return ms;
}

/** `2013-08-01T12:00:00.000Z`; the SDKs leave out the fraction. An offset other than Z is refused. */
const ISO8601_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

function parseCondition(condition: unknown): PolicyCondition {
  if (Array.isArray(condition)) return parseListCondition(condition as unknown[]);
  if (typeof condition === 'object' && condition !== null) {
    const entries = Object.entries(condition as Record<string, unknown>);
    const [entry] = entries;
    if (entries.length !== 1 || entry === undefined) {
      throw invalidPolicy(
        'Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.',
      );
    }
    const [name, value] = entry;
    if (typeof value !== 'string') throw invalidPolicy('Invalid Simple-Condition: value must be a string.');
    return { kind: 'eq', field: `$${name}`, value, display: displayCondition(['eq', `$${name}`, value]) };
  }
  throw invalidPolicy('Invalid condition test: must be a List or Object.');
}

function parseListCondition(items: unknown[]): PolicyCondition {
  const [operation, first, second] = items;
  if (typeof operation !== 'string') throw invalidPolicy('Invalid Condition: missing operation identifier.');
  const kind = operation.toLowerCase();
  if (kind !== 'eq' && kind !== 'starts-with' && kind !== 'content-length-range') {
    throw invalidPolicy(`Invalid Condition: unknown operation '${operation}'.`);
  }
  if (items.length !== 3) throw invalidPolicy(`Invalid ${operation}: wrong number of arguments.`);
  const display = displayCondition(items);
  if (kind === 'content-length-range') {
    const min = lengthBound(first);
    const max = lengthBound(second);
    return { kind, range: min === null || max === null ? null : { min, max }, display };
  }
  if (typeof first !== 'string' || typeof second !== 'string') throw invalidPolicy('Invalid JSON.');
  return { kind, field: first, value: second, display };
}

/**
 * A content-length-range bound: a non-negative integer, or a string of digits (S3 accepts
 * `"5"`); a number of another kind is not a valid policy, a string of another kind fails the
 * condition.
 */
function lengthBound(value: unknown): number | null {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw invalidPolicy('Invalid JSON.');
    return value;
  }
  if (typeof value === 'string') return /^\d{1,15}$/.test(value) ? Number(value) : null;
  throw invalidPolicy('Invalid JSON.');
}

/** `["eq", "$key", "user/eric/"]`, as S3 prints a failed condition. */
function displayCondition(items: readonly unknown[]): string {
  return `[${items.map((item) => JSON.stringify(item)).join(', ')}]`;
}

/** Fields no condition needs to name (sigv4-HTTPPOSTConstructPolicy, "Conditions"). */
function isExemptField(name: string): boolean {
  return name === 'policy' || name === 'x-amz-signature' || name === 'file' || name.startsWith('x-ignore-');
}

/**
 * Checks the form against the policy: not expired, every condition satisfied (values compare
 * case-sensitively after `${filename}` expansion, names case-insensitively; a condition on a
 * field that is absent fails, even `starts-with` ""), and every field named by a condition.
 * Returns the allowed file size range, enforced while the file streams.
 */
function checkPostPolicy(
  policy: PostPolicy,
  fields: PostFields,
  bucket: string,
  key: string,
  nowMs: number,
): { min: number; max: number } | null {
  if (nowMs > policy.expiresAtMs) throw policyViolated('Policy expired.');
  const covered = new Set<string>();
  let range: { min: number; max: number } | null = null;
  for (const condition of policy.conditions) {
    switch (condition.kind) {
      case 'eq':
      case 'starts-with': {
        const name = condition.field.startsWith('$') ? condition.field.slice(1).toLowerCase() : null;
        if (name !== null) covered.add(name);
        const actual = name === null ? undefined : policyFieldValue(name, fields, bucket, key);
        if (actual === undefined || !satisfies(condition.kind, name!, actual, condition.value)) {
          throw policyViolated(`Policy Condition failed: ${condition.display}`);
        }
        break;
      }
      case 'content-length-range':
        if (condition.range === null) throw policyViolated(`Policy Condition failed: ${condition.display}`);
        range =
          range === null
            ? condition.range
            : {
                min: Math.max(range.min, condition.range.min),
                max: Math.min(range.max, condition.range.max),
              };
        break;
      default:
        return assertNever(condition, 'POST policy condition');
    }
  }
  for (const [name, field] of fields.entries()) {
    if (!isExemptField(name) && !covered.has(name)) {
      throw policyViolated(`Extra input fields: ${field.name}`);
    }
  }
  return range;
}

/** `bucket` is the bucket posted to (it need not be a field); `key` is after `${filename}`. */
function policyFieldValue(name: string, fields: PostFields, bucket: string, key: string): string | undefined {
  if (name === 'bucket') return bucket;
  if (name === 'key') return key;
  return fields.get(name);
}

/**
 * eq is exact; starts-with is a prefix, and for Content-Type each value of a comma-separated
 * list must start with it ("Content-Types values for a starts-with condition that include commas
 * are interpreted as lists").
 */
function satisfies(kind: 'eq' | 'starts-with', name: string, actual: string, expected: string): boolean {
  if (kind === 'eq') return actual === expected;
  if (name === 'content-type') return actual.split(',').every((item) => item.trim().startsWith(expected));
  return actual.startsWith(expected);
}

/** Counts the file's bytes as they stream; past the policy's maximum the upload fails at once. */
async function* withinLengthRange(
  file: Readable,
  range: { min: number; max: number } | null,
): AsyncGenerator<Buffer> {
  let sizeBytes = 0;
  const chunks = file[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  for (;;) {
    let next: IteratorResult<Buffer>;
    try {
      next = await chunks.next();
    } catch (error) {
      // busboy ends the file with a plain Error when the form stops before the file's boundary.
      throw isSovraError(error) ? error : malformedPost();
    }
    if (next.done === true) break;
    sizeBytes += next.value.length;
    if (range !== null && sizeBytes > range.max) {
      await chunks.return?.();
      throw s3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
        maxSizeAllowed: range.max,
      });
    }
    yield next.value;
  }
  if (range !== null && sizeBytes < range.min) {
    throw s3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size', {
      proposedSize: sizeBytes,
      minSizeAllowed: range.min,
    });
  }
}

// ---- what the fields ask for ----------------------------------------------------------------

/**
 * PutObject's headers sent as fields: Content-Type and the other representation fields,
 * x-amz-meta-*, tagging (an XML Tagging document), Content-MD5, x-amz-checksum-*, and the
 * acl and storage class Sovra can honour.
 */
function readObjectFields(fields: PostFields) {
  const asHeaders = fields.asHeaders();
  const acl = fields.get('acl');
  if (acl !== undefined && !ALLOWED_CANNED_ACLS.has(acl)) {
    throw s3Error(
      'AccessControlListNotSupported',
      'The bucket does not allow ACLs; access is governed by policies.',
    );
  }
  const storageClass = fields.get('x-amz-storage-class');
  if (storageClass !== undefined && storageClass !== 'STANDARD') {
    throw s3Error(
      'InvalidStorageClass',
      'The storage class you specified is not valid; Sovra serves STANDARD.',
    );
  }
  return {
    system: readSystemMetadata(asHeaders),
    userMetadata: readUserMetadata(asHeaders),
    sentTags: readTaggingField(fields.get('tagging')),
    checksum: readChecksumFields(fields, asHeaders),
    contentMd5: readContentMd5(asHeaders),
  };
}

/** x-amz-checksum-<algorithm> (and x-amz-checksum-algorithm, which requires its value). */
function readChecksumFields(fields: PostFields, asHeaders: IncomingHttpHeaders): ChecksumClaim | null {
  const sent = readChecksumHeader(asHeaders);
  const algorithm = readChecksumAlgorithmName(
    fields.get('x-amz-checksum-algorithm'),
    'x-amz-checksum-algorithm',
  );
  if (algorithm !== null && sent?.algorithm !== algorithm) {
    throw s3Error(
      'InvalidRequest',
      `x-amz-checksum-algorithm ${algorithm} requires the x-amz-checksum-${algorithm.toLowerCase()} field.`,
    );
  }
  return sent === null ? null : { algorithm: sent.algorithm, expected: () => sent.value };
}

/** `<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag>…</TagSet></Tagging>` (object-tagging), as sent. */
function readTaggingField(xml: string | undefined): Tag[] {
  if (xml === undefined) return [];
  const root = parseXmlBody(xml, 'Tagging');
  const tags: Tag[] = [];
  for (const item of xmlList(xmlObject(root.TagSet)?.Tag)) {
    const tag = xmlObject(item);
    const key = xmlText(tag?.Key);
    const value = tag?.Value === undefined ? '' : xmlText(tag.Value);
    if (key === undefined || value === undefined) {
      throw s3Error(
        'MalformedXML',
        'The XML you provided was not well-formed or did not validate against our published schema',
      );
    }
    tags.push({ key, value });
  }
  return tags;
}

// ---- the response ---------------------------------------------------------------------------

/**
 * success_action_redirect (or the deprecated redirect): 303 to it with bucket, key and etag
 * added to its query; a value that is not an absolute http(s) URL is ignored ("If Amazon S3
 * cannot interpret the URL, it acts as if the field is not present"). Otherwise
 * success_action_status: 200 (empty), 201 (a PostResponse document) or 204, the default and
 * the answer to any other value.
 */
function sendPostResponse(
  res: ServerResponse,
  fields: PostFields,
  stored: { bucket: BucketRecord; key: string; etag: string; location: string; headers: OutgoingHttpHeaders },
): void {
  const headers: OutgoingHttpHeaders = { ...stored.headers, etag: stored.etag };
  const redirect = redirectTarget(
    fields.get('success_action_redirect') ?? fields.get('redirect'),
    stored.bucket.name,
    stored.key,
    stored.etag,
  );
  if (redirect !== null) {
    sendEmpty(res, 303, { ...headers, location: redirect });
    return;
  }
  headers.location = stored.location;
  switch (fields.get('success_action_status') ?? '204') {
    case '200':
      sendEmpty(res, 200, headers);
      return;
    case '201':
      sendXml(
        res,
        201,
        renderXmlDocument(
          'PostResponse',
          [
            ['Location', stored.location],
            ['Bucket', stored.bucket.name],
            ['Key', stored.key],
            ['ETag', stored.etag],
          ],
          '',
        ),
        headers,
      );
      return;
    default:
      sendEmpty(res, 204, headers);
  }
}

function redirectTarget(url: string | undefined, bucket: string, key: string, etag: string): string | null {
  if (url === undefined || !URL.canParse(url)) return null;
  const protocol = new URL(url).protocol;
  if (protocol !== 'http:' && protocol !== 'https:') return null;
  const hashAt = url.indexOf('#');
  const base = hashAt === -1 ? url : url.slice(0, hashAt);
  const fragment = hashAt === -1 ? '' : url.slice(hashAt);
  const query = new URLSearchParams({ bucket, key, etag }).toString();
  return `${base}${base.includes('?') ? '&' : '?'}${query}${fragment}`;
}

/** The new object's URL, addressed as the form was (path-style or virtual-hosted). */
function objectLocation(req: IncomingMessage, route: S3Route, secure: boolean, key: string): string {
  const host = header(req.headers, 'host') ?? 'localhost';
  const path = route.virtualHosted
    ? `/${encodeURIComponent(key)}`
    : `/${encodeURIComponent(route.bucket!)}/${encodeURIComponent(key)}`;
  return `${secure ? 'https' : 'http'}://${host}${path}`;
}

// ---- errors ---------------------------------------------------------------------------------

function malformedPost() {
  return s3Error(
    'MalformedPOSTRequest',
    'The body of your POST request is not well-formed multipart/form-data.',
  );
}

function preDataTooLarge() {
  return s3Error(
    'MaxPostPreDataLengthExceeded',
    `Your POST request fields preceding the upload file were too large (at most ${LIMITS.postFormPreFileMaxBytes} bytes).`,
  );
}

function fileFieldTooLarge() {
  return s3Error(
    'MalformedPOSTRequest',
    `The file part has no filename, so it is read as a text field, which is limited to ${LIMITS.postFormPreFileMaxBytes} bytes; send the file with a filename.`,
  );
}

function fileMissing() {
  return s3Error('InvalidArgument', 'POST requires exactly one file upload per request.', {
    argumentName: 'file',
    argumentValue: '0',
  });
}

function invalidPolicy(reason: string) {
  return s3Error('InvalidPolicyDocument', `Invalid Policy: ${reason}`);
}

function policyViolated(reason: string) {
  return s3Error('PostPolicyViolated', `Invalid according to Policy: ${reason}`);
}
