import { LIMITS } from '../../platform/limits.ts';
import { kmsError } from './errors.ts';

/**
 * How requests name a KMS key (https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#key-id):
 * a key id, a key ARN, an alias name or an alias ARN. ARNs keep the `aws` partition so that AWS
 * SDKs and tools accept them, and carry the tenant id where AWS has the account id:
 * `arn:aws:kms:<region>:<tenantId>:key/<keyId>` and `arn:aws:kms:<region>:<tenantId>:alias/<name>`.
 */
export type KeyReference = { kind: 'key'; keyId: string } | { kind: 'alias'; aliasName: string };

/** The tenant and region a request is answered in: an ARN naming anything else names nothing. */
export interface KeyScope {
  tenantId: string;
  region: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html: `^[a-zA-Z0-9/_-]+$`. */
const ALIAS_NAME = /^alias\/[a-zA-Z0-9/_-]+$/;
const RESERVED_ALIAS_PREFIX = 'alias/aws/';

export function keyArn(scope: KeyScope, keyId: string): string {
  return `arn:aws:kms:${scope.region}:${scope.tenantId}:key/${keyId}`;
}

export function aliasArn(scope: KeyScope, aliasName: string): string {
  return `arn:aws:kms:${scope.region}:${scope.tenantId}:${aliasName}`;
}

/**
 * Parses a KeyId parameter. Operations that manage a key take only its id or ARN
 * (`allowAlias` false); cryptographic operations and DescribeKey also take aliases. Anything else,
 * including an ARN of another tenant or region, is NotFound, as AWS answers "Invalid keyId".
 */
export function parseKeyReference(text: string, scope: KeyScope, allowAlias: boolean): KeyReference {
  const reference = parseAny(text, scope);
  if (reference === null || (reference.kind === 'alias' && !allowAlias)) {
    throw kmsError('KeyNotFound', `Invalid keyId ${text}`);
  }
  return reference;
}

/**
 * The tenant a key or alias ARN of this region names (its account field), or null when the text
 * is no such ARN: key ids and alias names always name the caller's own tenant's keys.
 */
export function tenantOfKeyArn(text: string, region: string): string | null {
  const prefix = `arn:aws:kms:${region}:`;
  if (text.length > LIMITS.kmsKeyReferenceMaxChars || !text.startsWith(prefix)) return null;
  const rest = text.slice(prefix.length);
  const colon = rest.indexOf(':');
  return colon <= 0 ? null : rest.slice(0, colon);
}

function parseAny(text: string, scope: KeyScope): KeyReference | null {
  if (text.length === 0 || text.length > LIMITS.kmsKeyReferenceMaxChars) return null;
  if (UUID.test(text)) return { kind: 'key', keyId: text.toLowerCase() };
  if (text.startsWith('alias/')) return isAliasName(text) ? { kind: 'alias', aliasName: text } : null;
  const prefix = `arn:aws:kms:${scope.region}:${scope.tenantId}:`;
  if (!text.startsWith(prefix)) return null;
  const resource = text.slice(prefix.length);
  if (resource.startsWith('key/')) {
    const keyId = resource.slice('key/'.length);
    return UUID.test(keyId) ? { kind: 'key', keyId: keyId.toLowerCase() } : null;
  }
  return isAliasName(resource) ? { kind: 'alias', aliasName: resource } : null;
}

function isAliasName(text: string): boolean {
  return text.length <= LIMITS.kmsAliasNameMaxChars && ALIAS_NAME.test(text);
}

/**
 * Checks a name for CreateAlias/UpdateAlias/DeleteAlias: `alias/` and then letters, digits, `/`,
 * `_` and `-`, at most 256 characters; `alias/aws/` is reserved for AWS managed keys.
 */
export function checkAliasName(text: string, forCreation: boolean): string {
  if (!isAliasName(text)) {
    throw kmsError(
      'InvalidAliasName',
      `Alias name ${JSON.stringify(text)} must begin with alias/ and contain only letters, digits, /, _ and - (at most ${LIMITS.kmsAliasNameMaxChars} characters)`,
    );
  }
  if (forCreation && text.startsWith(RESERVED_ALIAS_PREFIX)) {
    throw kmsError(
      'InvalidAliasName',
      `The alias prefix ${RESERVED_ALIAS_PREFIX} is reserved for AWS managed keys`,
    );
  }
  return text;
}
