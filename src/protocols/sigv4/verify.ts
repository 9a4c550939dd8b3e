import type { KeyObject } from 'node:crypto';
/**
 * Server-side verification of AWS Signature Version 4 (AWS4-HMAC-SHA256 only), by Authorization
 * header (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-auth-using-authorization-header.html)
 * or presigned URL (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html).
 * Signature Version 2 and SigV4a are refused with UnsupportedSignatureAlgorithm.
 */
import { createHash, hash, timingSafeEqual } from 'node:crypto';

import {
  buildCanonicalRequest,
  buildStringToSign,
  canonicalHeaders,
  canonicalQueryString,
  canonicalUri,
  hmacSha256,
  parseAmzDate,
  parseQuery,
  SCOPE_TERMINATOR,
  SIGV4_ALGORITHM,
  UNSIGNED_PAYLOAD,
  type HeaderMap,
  type QueryParameter,
  type UriEncoding,
} from './canonical.ts';
import { SovraError } from '../../platform/errors.ts';
import { SigV4Error, type SigV4ErrorCode } from './errors.ts';
import { SigningKeyCache } from './signing-key.ts';

export interface SigV4Input {
  method: string;
  /** Path exactly as on the request line (percent-encoded), without the query. */
  rawPath: string;
  /** Raw query string without '?', may be ''. */
  rawQuery: string;
  /**
   * Node IncomingHttpHeaders (lower-case names). Pass `req.headersDistinct` to canonicalise a
   * header sent several times exactly (values joined with ','); `req.headers` has already joined
   * them with ', '.
   */
  headers: HeaderMap;
  /**
   * Hex SHA-256 of the buffered body, for services whose clients send no x-amz-content-sha256
   * (KMS and other JSON services sign the body hash without sending it). Ignored when the header
   * is present.
   */
  payloadSha256Hex?: string;
}

export interface SigningSecret {
  secretAccessKey: string;
  principalId: string;
  tenantId: string;
  sessionToken?: string;
}

/**
 * Resolves an access key id; null when it is unknown. It receives the session token the request
 * carries (`x-amz-security-token` or `X-Amz-Security-Token`), which temporary credentials need. It
 * may throw SigV4Error('InactiveAccessKey') or SigV4Error('ExpiredToken'); those propagate
 * unchanged, and any other coded error named ExpiredToken or InvalidToken (the credential
 * resolver's) becomes the SigV4Error of that code.
 */
export type CredentialLookup = (accessKeyId: string, sessionToken?: string) => Promise<SigningSecret | null>;

export type PayloadMode =
  | { kind: 'unsigned' } // UNSIGNED-PAYLOAD (also presigned URLs)
  | { kind: 'sha256'; hex: string } // body must hash to this (caller verifies with createPayloadHashVerifier)
  | { kind: 'streaming-signed' } // STREAMING-AWS4-HMAC-SHA256-PAYLOAD
  | { kind: 'streaming-signed-trailer' } // STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
  | { kind: 'streaming-unsigned-trailer' }; // STREAMING-UNSIGNED-PAYLOAD-TRAILER

export interface VerifiedRequest {
  accessKeyId: string;
  principalId: string;
  tenantId: string;
  region: string;
  service: string;
  requestTime: Date;
  method: 'header' | 'presigned';
  payload: PayloadMode;
  /** For chunk-signature verification. */
  signingKey: KeyObject;
  scope: string;
  seedSignature: string;
  sessionToken?: string;
}

export interface VerifyOptions {
  service: string;
  nowMs: number;
  maxSkewMs: number;
  maxPresignSeconds: number;
  uriEncoding: UriEncoding;
  /** The composition root passes one cache per process; without it a lazily made default is used. */
  signingKeyCache?: SigningKeyCache;
}

/** Authorization header, a SigV4 presigned URL, or a SigV2 one (refused later, but not anonymous). */
export function hasAuthentication(input: SigV4Input): boolean {
  if (input.headers.authorization !== undefined) return true;
  if (input.rawQuery === '') return false;
  return (
    queryHasParameter(input.rawQuery, QUERY_ALGORITHM) ||
    (queryHasParameter(input.rawQuery, 'AWSAccessKeyId') && queryHasParameter(input.rawQuery, 'Signature'))
  );
}

export async function verifySigV4(
  input: SigV4Input,
  lookup: CredentialLookup,
  options: VerifyOptions,
): Promise<VerifiedRequest> {
  const query = parseQuery(input.rawQuery);
  const claim = readClaim(input, query, options);
  checkRequestTime(claim, options);
  checkSignedHeaderCoverage(claim, input.headers);
  const secret = await lookupCredential(lookup, claim);
  if (secret === null) {
    throw new SigV4Error(
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
      {
        accessKeyId: claim.accessKeyId,
      },
    );
  }
  checkSessionToken(claim, secret);
  const signingKey = signingKeyCacheFor(options).signingKey(
    claim.accessKeyId,
    secret.secretAccessKey,
    claim.scopeDate,
    claim.region,
    claim.service,
  );
  checkSignature(input, query, claim, signingKey, options.uriEncoding);
  const verified: VerifiedRequest = {
    accessKeyId: claim.accessKeyId,
    principalId: secret.principalId,
    tenantId: secret.tenantId,
    region: claim.region,
    service: claim.service,
    requestTime: new Date(claim.requestTimeMs),
    method: claim.method,
    payload: claim.payload,
    signingKey,
    scope: claim.scope,
    seedSignature: claim.signatureHex,
  };
  if (claim.sessionToken !== undefined) verified.sessionToken = claim.sessionToken;
  return verified;
}

// ---------------------------------------------------------------------------------------------
// What the request claims, before any secret is involved.

const QUERY_ALGORITHM = 'X-Amz-Algorithm';
const QUERY_CREDENTIAL = 'X-Amz-Credential';
const QUERY_DATE = 'X-Amz-Date';
const QUERY_EXPIRES = 'X-Amz-Expires';
const QUERY_SIGNED_HEADERS = 'X-Amz-SignedHeaders';
const QUERY_SIGNATURE = 'X-Amz-Signature';
const QUERY_SECURITY_TOKEN = 'X-Amz-Security-Token';
const QUERY_CONTENT_SHA256 = 'X-Amz-Content-Sha256';

const HEADER_DATE = 'x-amz-date';
const HEADER_CONTENT_SHA256 = 'x-amz-content-sha256';
const HEADER_SECURITY_TOKEN = 'x-amz-security-token';

interface Claim {
  method: 'header' | 'presigned';
  accessKeyId: string;
  scopeDate: string;
  region: string;
  service: string;
  scope: string;
  signedHeaderNames: string[];
  signedHeaders: string;
  signatureHex: string;
  amzDate: string;
  requestTimeMs: number;
  /** Which header carried the date (header auth); it must be signed. */
  dateHeaderName: 'x-amz-date' | 'date' | null;
  expiresSeconds: number | null;
  payloadHash: string;
  payload: PayloadMode;
  sessionToken: string | undefined;
}

function readClaim(input: SigV4Input, query: QueryParameter[], options: VerifyOptions): Claim {
  const hasHeader = input.headers.authorization !== undefined;
  const hasQuery = query.some((parameter) => parameter.name === QUERY_ALGORITHM);
  if (hasHeader && hasQuery) {
    throw new SigV4Error(
      'InvalidArgument',
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified',
    );
  }
  if (hasHeader) return readHeaderClaim(input, options);
  if (hasQuery) return readPresignedClaim(input, query, options);
  if (query.some((p) => p.name === 'AWSAccessKeyId') && query.some((p) => p.name === 'Signature')) {
    throw unsupportedAlgorithm('AWS');
  }
  throw new SigV4Error(
    'AccessDeniedAnonymous',
    'The request carries no AWS Signature Version 4 authentication.',
  );
}

function readHeaderClaim(input: SigV4Input, options: VerifyOptions): Claim {
  const code = 'AuthorizationHeaderMalformed';
  const authorization = singleHeader(input.headers, 'authorization', code);
  const fields = parseAuthorizationHeader(authorization ?? '');
  const credential = parseCredential(fields.credential, code);
  const signedHeaderNames = parseSignedHeaders(fields.signedHeaders, code);
  const signatureHex = parseSignature(fields.signature, code);

  // x-amz-date wins over Date; a Date header used for signing must be ISO 8601 basic as well
  // (https://docs.aws.amazon.com/AmazonS3/latest/API/RESTCommonRequestHeaders.html).
  const amzDateHeader = singleHeader(input.headers, HEADER_DATE, 'MissingDateHeader');
  const dateHeaderName = amzDateHeader !== undefined ? HEADER_DATE : 'date';
  const amzDate = amzDateHeader ?? singleHeader(input.headers, 'date', 'MissingDateHeader');
  const requestTimeMs = amzDate === undefined ? null : parseAmzDate(amzDate);
  if (amzDate === undefined || requestTimeMs === null) {
    throw new SigV4Error(
      'MissingDateHeader',
      'AWS authentication requires a valid Date or x-amz-date header',
    );
  }
  checkScope(credential, amzDate, options.service, code);

  const contentSha256 = singleHeader(input.headers, HEADER_CONTENT_SHA256, 'InvalidArgument');
  let payloadHash: string;
  let payload: PayloadMode;
  if (contentSha256 !== undefined) {
    payloadHash = contentSha256;
    payload = parseContentSha256(contentSha256);
  } else if (input.payloadSha256Hex !== undefined) {
    payloadHash = input.payloadSha256Hex;
    payload = parseContentSha256(input.payloadSha256Hex);
  } else {
    // S3 answers InvalidRequest "Missing required header for this request: x-amz-content-sha256".
    throw new SigV4Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256', {
      header: HEADER_CONTENT_SHA256,
    });
  }

  return {
    method: 'header',
    ...credential,
    signedHeaderNames,
    signedHeaders: fields.signedHeaders,
    signatureHex,
    amzDate,
    requestTimeMs,
    dateHeaderName,
    expiresSeconds: null,
    payloadHash,
    payload,
    sessionToken: singleHeader(input.headers, HEADER_SECURITY_TOKEN, 'InvalidToken'),
  };
}

function readPresignedClaim(input: SigV4Input, query: QueryParameter[], options: VerifyOptions): Claim {
  const code = 'AuthorizationQueryParametersError';
  const algorithm = singleParameter(query, QUERY_ALGORITHM);
  if (algorithm !== SIGV4_ALGORITHM) {
    if (algorithm === 'AWS4-ECDSA-P256-SHA256') throw unsupportedAlgorithm(algorithm);
    throw new SigV4Error(code, 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"', { algorithm });
  }
  const credentialText = singleParameter(query, QUERY_CREDENTIAL);
  const amzDate = singleParameter(query, QUERY_DATE);
  const expiresText = singleParameter(query, QUERY_EXPIRES);
  const signedHeadersText = singleParameter(query, QUERY_SIGNED_HEADERS);
  const signatureText = singleParameter(query, QUERY_SIGNATURE);
  if (
    credentialText === undefined ||
    amzDate === undefined ||
    expiresText === undefined ||
    signedHeadersText === undefined ||
    signatureText === undefined
  ) {
    throw new SigV4Error(
      code,
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
    );
  }
  const credential = parseCredential(credentialText, code);
  const signedHeaderNames = parseSignedHeaders(signedHeadersText, code);
  const signatureHex = parseSignature(signatureText, code);
  const requestTimeMs = parseAmzDate(amzDate);
  if (requestTimeMs === null) {
    throw new SigV4Error(code, `X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`, {
      amzDate,
    });
  }
  checkScope(credential, amzDate, options.service, code);
  const expiresSeconds = parseExpires(expiresText, options.maxPresignSeconds);

  // A presigned URL signs UNSIGNED-PAYLOAD unless the signer said otherwise, in a header or (as
  // @aws-sdk/s3-request-presigner does) a hoisted X-Amz-Content-Sha256 query parameter.
  const payloadHash =
    singleHeader(input.headers, HEADER_CONTENT_SHA256, 'InvalidArgument') ??
    singleParameter(query, QUERY_CONTENT_SHA256) ??
    UNSIGNED_PAYLOAD;

  return {
    method: 'presigned',
    ...credential,
    signedHeaderNames,
    signedHeaders: signedHeadersText,
    signatureHex,
    amzDate,
    requestTimeMs,
    dateHeaderName: null,
    expiresSeconds,
    payloadHash,
    payload: parseContentSha256(payloadHash),
    sessionToken: singleParameter(query, QUERY_SECURITY_TOKEN),
  };
}

interface AuthorizationFields {
  credential: string;
  signedHeaders: string;
  signature: string;
}

/**
 * `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`; the components are separated
 * by commas with optional spaces, in any order, each exactly once.
 */
function parseAuthorizationHeader(value: string): AuthorizationFields {
  const space = value.indexOf(' ');
  const algorithm = space === -1 ? value : value.slice(0, space);
  if (algorithm !== SIGV4_ALGORITHM) throw unsupportedAlgorithm(algorithm);
  let credential: string | undefined;
  let signedHeaders: string | undefined;
  let signature: string | undefined;
  for (const component of value.slice(space + 1).split(',')) {
    const field = component.trim();
    const equals = field.indexOf('=');
    const name = equals === -1 ? field : field.slice(0, equals);
    const fieldValue = field.slice(equals + 1);
    if (name === 'Credential' && credential === undefined) credential = fieldValue;
    else if (name === 'SignedHeaders' && signedHeaders === undefined) signedHeaders = fieldValue;
    else if (name === 'Signature' && signature === undefined) signature = fieldValue;
    else throw malformedAuthorization(`unexpected component "${name}"`);
  }
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    throw malformedAuthorization('Credential, SignedHeaders and Signature are all required');
  }
  return { credential, signedHeaders, signature };
}

interface Credential {
  accessKeyId: string;
  scopeDate: string;
  region: string;
  service: string;
  scope: string;
}

/** `<access key id>/<yyyymmdd>/<region>/<service>/aws4_request` */
function parseCredential(text: string, code: SigV4ErrorCode): Credential {
  const parts = text.split('/');
  const [accessKeyId, scopeDate, region, service, terminator] = parts;
  if (
    parts.length !== 5 ||
    accessKeyId === undefined ||
    accessKeyId === '' ||
    scopeDate === undefined ||
    !isDigits(scopeDate, 8) ||
    region === undefined ||
    region === '' ||
    service === undefined ||
    service === '' ||
    terminator !== SCOPE_TERMINATOR
  ) {
    throw new SigV4Error(
      code,
      'Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
      { credential: text },
    );
  }
  return {
    accessKeyId,
    scopeDate,
    region,
    service,
    scope: `${scopeDate}/${region}/${service}/${SCOPE_TERMINATOR}`,
  };
}

function checkScope(
  credential: Credential,
  amzDate: string,
  expectedService: string,
  code: SigV4ErrorCode,
): void {
  if (credential.scopeDate !== amzDate.slice(0, 8)) {
    throw new SigV4Error(code, 'Invalid credential date. Date is not the same as X-Amz-Date.', {
      credentialDate: credential.scopeDate,
      amzDate,
    });
  }
  if (credential.service !== expectedService) {
    throw new SigV4Error(
      code,
      `The authorization header is malformed; incorrect service "${credential.service}". This endpoint belongs to "${expectedService}".`,
      { service: credential.service },
    );
  }
}

/** Lower-case header names, strictly ascending, as the canonical request lists them. */
function parseSignedHeaders(text: string, code: SigV4ErrorCode): string[] {
  const names = text.split(';');
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const previous = i === 0 ? undefined : names[i - 1];
    if (!isLowerCaseToken(name) || (previous !== undefined && previous >= name)) {
      throw new SigV4Error(code, 'SignedHeaders must be lower-case header names, sorted, separated by ";".', {
        signedHeaders: text,
      });
    }
  }
  return names;
}

function parseSignature(text: string, code: SigV4ErrorCode): string {
  if (text.length !== 64 || !isHex(text)) {
    throw new SigV4Error(code, 'The signature must be 64 hexadecimal characters.', { signature: text });
  }
  return text.toLowerCase();
}

function parseExpires(text: string, maxPresignSeconds: number): number {
  const code = 'AuthorizationQueryParametersError';
  if (!isDigits(text, null) || text.length > 9) {
    throw new SigV4Error(code, 'X-Amz-Expires should be a number', { expires: text });
  }
  const seconds = Number(text);
  if (seconds < 1) throw new SigV4Error(code, 'X-Amz-Expires must be non-negative', { expires: text });
  if (seconds > maxPresignSeconds) {
    throw new SigV4Error(
      code,
      `X-Amz-Expires must be less than a week (in seconds) that is ${maxPresignSeconds}`,
      { expires: text },
    );
  }
  return seconds;
}

/** The x-amz-content-sha256 values S3 accepts (sig-v4-header-based-auth, "x-amz-content-sha256"). */
function parseContentSha256(value: string): PayloadMode {
  switch (value) {
    case UNSIGNED_PAYLOAD:
      return { kind: 'unsigned' };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD':
      return { kind: 'streaming-signed' };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER':
      return { kind: 'streaming-signed-trailer' };
    case 'STREAMING-UNSIGNED-PAYLOAD-TRAILER':
      return { kind: 'streaming-unsigned-trailer' };
    case 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD':
    case 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER':
      throw unsupportedAlgorithm('AWS4-ECDSA-P256-SHA256');
    default:
      if (value.length === 64 && isHex(value)) return { kind: 'sha256', hex: value.toLowerCase() };
      throw new SigV4Error(
        'InvalidArgument',
        'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, or a valid sha256 value.',
        { contentSha256: value },
      );
  }
}

// ---------------------------------------------------------------------------------------------
// Checks

function checkRequestTime(claim: Claim, options: VerifyOptions): void {
  const serverTime = () => new Date(options.nowMs).toISOString();
  if (claim.expiresSeconds === null) {
    if (Math.abs(options.nowMs - claim.requestTimeMs) > options.maxSkewMs) {
      throw new SigV4Error(
        'RequestTimeTooSkewed',
        'The difference between the request time and the current time is too large.',
        {
          requestTime: claim.amzDate,
          serverTime: serverTime(),
          maxAllowedSkewMilliseconds: options.maxSkewMs,
        },
      );
    }
    return;
  }
  if (claim.requestTimeMs - options.nowMs > options.maxSkewMs) {
    throw new SigV4Error('RequestNotYetValid', 'Request is not valid yet', {
      requestTime: claim.amzDate,
      serverTime: serverTime(),
    });
  }
  const expiresMs = claim.requestTimeMs + claim.expiresSeconds * 1000;
  if (options.nowMs > expiresMs) {
    throw new SigV4Error('RequestExpired', 'Request has expired', {
      xAmzExpires: claim.expiresSeconds,
      expires: new Date(expiresMs).toISOString(),
      serverTime: serverTime(),
    });
  }
}

/**
 * S3 requires `host`, the date header used, and every x-amz-* header present to be signed, and
 * answers AccessDenied "There were headers present in the request which were not signed".
 */
function checkSignedHeaderCoverage(claim: Claim, headers: HeaderMap): void {
  const signed = claim.signedHeaderNames;
  const notSigned: string[] = [];
  if (!signed.includes('host')) notSigned.push('host');
  if (claim.dateHeaderName !== null && !signed.includes(claim.dateHeaderName))
    notSigned.push(claim.dateHeaderName);
  for (const name in headers) {
    if (name.startsWith('x-amz-') && headers[name] !== undefined && !signed.includes(name))
      notSigned.push(name);
  }
  if (notSigned.length > 0) {
    throw new SigV4Error(
      'HeadersNotSigned',
      'There were headers present in the request which were not signed',
      {
        headersNotSigned: notSigned.join(', '),
      },
    );
  }
}

/** Temporary credentials are only valid with their token; long-term keys never carry one. */
async function lookupCredential(lookup: CredentialLookup, claim: Claim): Promise<SigningSecret | null> {
  try {
    return await lookup(claim.accessKeyId, claim.sessionToken);
  } catch (error) {
    if (
      error instanceof SovraError &&
      !(error instanceof SigV4Error) &&
      (error.code === 'ExpiredToken' || error.code === 'InvalidToken')
    ) {
      const code: SigV4ErrorCode = error.code === 'ExpiredToken' ? 'ExpiredToken' : 'InvalidToken';
      throw new SigV4Error(code, error.message);
    }
    throw error;
  }
}

function checkSessionToken(claim: Claim, secret: SigningSecret): void {
  const expected = secret.sessionToken;
  const presented = claim.sessionToken;
  if (expected === undefined && presented === undefined) return;
  if (expected === undefined || presented === undefined || !equalSecrets(expected, presented)) {
    throw new SigV4Error('InvalidToken', 'The provided token is malformed or otherwise invalid.');
  }
}

function checkSignature(
  input: SigV4Input,
  query: readonly QueryParameter[],
  claim: Claim,
  signingKey: KeyObject,
  uriEncoding: UriEncoding,
): void {
  const headers = canonicalHeaders(input.headers, claim.signedHeaderNames);
  const canonicalRequest = buildCanonicalRequest({
    method: input.method,
    canonicalUri: canonicalUri(input.rawPath, uriEncoding),
    canonicalQuery: canonicalQueryString(query, claim.method === 'presigned' ? QUERY_SIGNATURE : null),
    canonicalHeaders: headers.text,
    signedHeaders: claim.signedHeaders,
    payloadHash: claim.payloadHash,
  });
  const stringToSign = buildStringToSign(
    claim.amzDate,
    claim.scope,
    canonicalRequestSha256Hex(canonicalRequest, headers.hasWideCharacters),
  );
  const expected = hmacSha256(signingKey, stringToSign);
  const provided = Buffer.from(claim.signatureHex, 'hex');
  if (!timingSafeEqual(expected, provided)) {
    // S3 returns the string to sign and the canonical request so clients can debug; both are
    // derived from the request itself and reveal nothing about the secret.
    throw new SigV4Error(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      {
        accessKeyId: claim.accessKeyId,
        signatureProvided: claim.signatureHex,
        stringToSign,
        canonicalRequest,
      },
    );
  }
}

/**
 * The canonical request's SHA-256 as the client computed it: over its latin1 bytes (see
 * canonical.ts), or UTF-8 when a header holds wider characters. The one-shot `hash()` costs half
 * of a Hash object, and pure-ASCII text (nearly every request) is the same bytes in both encodings.
 */
function canonicalRequestSha256Hex(canonicalRequest: string, hasWideCharacters: boolean): string {
  if (hasWideCharacters || isAscii(canonicalRequest)) return hash('sha256', canonicalRequest, 'hex');
  return hash('sha256', Buffer.from(canonicalRequest, 'latin1'), 'hex');
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Small parsers

let defaultSigningKeyCache: SigningKeyCache | undefined;

function signingKeyCacheFor(options: VerifyOptions): SigningKeyCache {
  if (options.signingKeyCache !== undefined) return options.signingKeyCache;
  defaultSigningKeyCache ??= new SigningKeyCache();
  return defaultSigningKeyCache;
}

function singleHeader(headers: HeaderMap, name: string, code: SigV4ErrorCode): string | undefined {
  const value = headers[name];
  if (value === undefined || typeof value === 'string') return value;
  if (value.length === 1) return value[0];
  if (value.length === 0) return undefined;
  throw new SigV4Error(code, `The ${name} header must appear once.`, { header: name });
}

function singleParameter(query: readonly QueryParameter[], name: string): string | undefined {
  let found: string | undefined;
  for (const parameter of query) {
    if (parameter.name !== name) continue;
    if (found !== undefined) {
      throw new SigV4Error('AuthorizationQueryParametersError', `The ${name} parameter must appear once.`, {
        parameter: name,
      });
    }
    found = parameter.value;
  }
  return found;
}

/** Whether `name` or `name=…` is one of the &-separated parameters, without decoding anything. */
function queryHasParameter(rawQuery: string, name: string): boolean {
  let start = 0;
  while (start < rawQuery.length) {
    const at = rawQuery.indexOf(name, start);
    if (at === -1) return false;
    const end = at + name.length;
    const startsParameter = at === 0 || rawQuery.charCodeAt(at - 1) === 0x26; // '&'
    const endsName =
      end === rawQuery.length || rawQuery.charCodeAt(end) === 0x3d || rawQuery.charCodeAt(end) === 0x26;
    if (startsParameter && endsName) return true;
    start = at + 1;
  }
  return false;
}

function equalSecrets(a: string, b: string): boolean {
  const digestA = createHash('sha256').update(a, 'utf8').digest();
  const digestB = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(digestA, digestB);
}

function isDigits(text: string, length: number | null): boolean {
  if (text.length === 0 || (length !== null && text.length !== length)) return false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x30 || code > 0x39) return false;
  }
  return true;
}

function isHex(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const isDigit = code >= 0x30 && code <= 0x39;
    const isLetter = (code >= 0x61 && code <= 0x66) || (code >= 0x41 && code <= 0x46);
    if (!isDigit && !isLetter) return false;
  }
  return true;
}

/** RFC 9110 token characters, without upper-case letters. */
function isLowerCaseToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const ok =
      (code >= 0x61 && code <= 0x7a) ||
      (code >= 0x30 && code <= 0x39) ||
      "!#$%&'*+-.^_`|~".includes(text[i]!);
    if (!ok) return false;
  }
  return true;
}

function malformedAuthorization(reason: string): SigV4Error {
  return new SigV4Error('AuthorizationHeaderMalformed', `The authorization header is malformed; ${reason}.`);
}

function unsupportedAlgorithm(algorithm: string): SigV4Error {
  const message =
    algorithm === 'AWS'
      ? 'Signature Version 2 is not supported; sign requests with AWS4-HMAC-SHA256 (Signature Version 4).'
      : `The authorization mechanism "${algorithm}" is not supported. Please use AWS4-HMAC-SHA256.`;
  return new SigV4Error('UnsupportedSignatureAlgorithm', message, { algorithm });
}
