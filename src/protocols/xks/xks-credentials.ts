import { readFileSync } from 'node:fs';
import { xksApiPath } from './request.ts';

/**
 * The XKS proxy's own SigV4 credentials and where it is served, from the operator's 0600 JSON
 * file (setting `xksCredentialsFile`): {accessKeyId, secretAccessKey, uriPrefix, tenantId}. They
 * are unrelated to any Sovra or AWS principal (spec "Appendix A"); the same pair is given to the
 * cloud's CreateCustomKeyStore.
 */
export interface XksProxyCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** '' or `/segment[/segment…]`; the API lives at `<uriPrefix>/kms/xks/v1`. */
  uriPrefix: string;
  tenantId: string;
}

/** Spec "Appendix A": 20–30 characters of A–Z and 2–7. */
const ACCESS_KEY_ID = /^[A-Z2-7]{20,30}$/;
/** Spec "Appendix A": at least 256 bits of entropy; KMS accepts A–Z a–z 0–9 + / =; 43–64 characters. */
const SECRET_ACCESS_KEY = /^[A-Za-z0-9+/=]{43,64}$/;
/** Spec "API operations": XksProxyUriPath has at most 128 characters of a–z A–Z 0–9 / - _. */
const URI_PREFIX = /^(\/[A-Za-z0-9_-]+)*$/;
const MAX_URI_PATH_CHARS = 128;

export class XksCredentialsError extends Error {}

/** Reads and validates the file; the caller has already refused loose permissions. */
export function loadXksCredentials(path: string): XksProxyCredentials {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new XksCredentialsError(
      `xksCredentialsFile: cannot read ${path} as JSON: ${(error as Error).message}`,
    );
  }
  return parseXksCredentials(parsed, path);
}

export function parseXksCredentials(parsed: unknown, where: string): XksProxyCredentials {
  const bad = (message: string) => new XksCredentialsError(`xksCredentialsFile ${where}: ${message}`);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw bad('must hold a JSON object');
  const members: Record<string, unknown> = Object.fromEntries(Object.entries(parsed));
  const known = new Set(['accessKeyId', 'secretAccessKey', 'uriPrefix', 'tenantId']);
  for (const key of Object.keys(members)) if (!known.has(key)) throw bad(`unknown member "${key}"`);
  const { accessKeyId, secretAccessKey, uriPrefix, tenantId } = members;
  if (typeof accessKeyId !== 'string' || !ACCESS_KEY_ID.test(accessKeyId))
    throw bad('accessKeyId must be 20 to 30 characters of A-Z and 2-7');
  if (typeof secretAccessKey !== 'string' || !SECRET_ACCESS_KEY.test(secretAccessKey))
    throw bad('secretAccessKey must be 43 to 64 characters of A-Z, a-z, 0-9, +, / and =');
  const prefix: unknown = uriPrefix ?? '';
  if (
    typeof prefix !== 'string' ||
    !URI_PREFIX.test(prefix) ||
    xksApiPath(prefix).length > MAX_URI_PATH_CHARS
  )
    throw bad('uriPrefix must be empty or /segments of A-Z, a-z, 0-9, - and _, the whole path at most 128');
  if (typeof tenantId !== 'string' || tenantId === '') throw bad('tenantId must name a tenant');
  return { accessKeyId, secretAccessKey, uriPrefix: prefix, tenantId };
}
