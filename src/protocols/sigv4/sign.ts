/**
 * Client-side AWS Signature Version 4 (header form) for Sovra's own tools, built from the same
 * canonicalisation the verifier uses, so the two cannot drift apart
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html). The body is
 * hashed whole: these are small JSON requests, never streams.
 */
import {
  buildCanonicalRequest,
  buildStringToSign,
  canonicalHeaders,
  canonicalQueryString,
  canonicalUri,
  formatAmzDate,
  hmacSha256,
  parseQuery,
  SCOPE_TERMINATOR,
  sha256Hex,
  SIGV4_ALGORITHM,
  type UriEncoding,
} from './canonical.ts';
import { deriveSigningKey } from './signing-key.ts';

export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface RequestToSign {
  method: string;
  url: URL;
  /** Extra headers to sign and send (any case; sent lower-cased). */
  headers?: Record<string, string>;
  body?: Uint8Array | string;
}

export interface SigningOptions {
  region: string;
  service: string;
  now: Date;
  /** 's3' for S3, 'standard' for every other service (the default). */
  uriEncoding?: UriEncoding;
}

/**
 * The headers to send: the caller's, plus `host`, `x-amz-date`, `x-amz-content-sha256`, the
 * session token if any, and `authorization`. Every header returned is signed. `host` is
 * included for completeness; HTTP clients that set it themselves (fetch) may drop it, since
 * they send the same value.
 */
export function signRequest(
  request: RequestToSign,
  credentials: SigningCredentials,
  options: SigningOptions,
): Record<string, string> {
  const amzDate = formatAmzDate(options.now);
  const scope = `${amzDate.slice(0, 8)}/${options.region}/${options.service}/${SCOPE_TERMINATOR}`;
  const payloadHash = sha256Hex(request.body ?? '');

  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers ?? {})) headers[name.toLowerCase()] = value;
  headers.host = request.url.host;
  headers['x-amz-date'] = amzDate;
  headers['x-amz-content-sha256'] = payloadHash;
  if (credentials.sessionToken !== undefined) headers['x-amz-security-token'] = credentials.sessionToken;
  const signedHeaderNames = Object.keys(headers).sort();
  const signedHeaders = signedHeaderNames.join(';');

  const canonical = canonicalHeaders(headers, signedHeaderNames);
  const canonicalRequest = buildCanonicalRequest({
    method: request.method.toUpperCase(),
    canonicalUri: canonicalUri(request.url.pathname, options.uriEncoding ?? 'standard'),
    canonicalQuery: canonicalQueryString(parseQuery(request.url.search.slice(1)), null),
    canonicalHeaders: canonical.text,
    signedHeaders,
    payloadHash,
  });
  const stringToSign = buildStringToSign(amzDate, scope, sha256Hex(canonicalRequest, 'utf8'));
  const signingKey = deriveSigningKey(
    credentials.secretAccessKey,
    amzDate.slice(0, 8),
    options.region,
    options.service,
  );
  const signature = hmacSha256(signingKey, stringToSign).toString('hex');
  signingKey.fill(0);
  headers.authorization =
    `${SIGV4_ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, ` +
    `SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return headers;
}
