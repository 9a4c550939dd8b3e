import type { XksDecryptInput, XksRequestMetadata } from '../../domain/kms/xks.ts';
import { LIMITS } from '../../platform/limits.ts';
import { xksProtocolError } from './errors.ts';

/** The four operations of the spec ("API operations"), as a closed union. */
export type XksRoute =
  | { operation: 'GetHealthStatus' }
  | { operation: 'GetKeyMetadata' | 'Encrypt' | 'Decrypt'; externalKeyId: string };

const OPERATION_OF_INDICATOR = {
  metadata: 'GetKeyMetadata',
  encrypt: 'Encrypt',
  decrypt: 'Decrypt',
} as const;

/** Spec "API operations": letters, digits, hyphen, period and underscore, at most 128. */
const EXTERNAL_KEY_ID = /^[A-Za-z0-9._-]+$/;
const API_ROOT = '/kms/xks/v1';

/** The base path of the XKS API under a URI prefix ('' or `/a/b`). */
export function xksApiPath(uriPrefix: string): string {
  return `${uriPrefix}${API_ROOT}`;
}

/**
 * `[/<uri-prefix>]/kms/xks/v1/keys/<externalKeyId>/<metadata|encrypt|decrypt>` or
 * `[/<uri-prefix>]/kms/xks/v1/health` (spec "API operations"); anything else under the API is
 * InvalidUriPathException.
 */
export function routeOf(rawPath: string, uriPrefix: string): XksRoute {
  const base = xksApiPath(uriPrefix);
  if (!rawPath.startsWith(`${base}/`)) throw invalidUri(rawPath);
  const rest = rawPath.slice(base.length + 1).split('/');
  if (rest.length === 1 && rest[0] === 'health') return { operation: 'GetHealthStatus' };
  const [keys, externalKeyId, indicator] = rest;
  if (rest.length !== 3 || keys !== 'keys' || externalKeyId === undefined || indicator === undefined) {
    throw invalidUri(rawPath);
  }
  if (!Object.hasOwn(OPERATION_OF_INDICATOR, indicator)) throw invalidUri(rawPath);
  if (externalKeyId.length > LIMITS.xksExternalKeyIdMaxChars || !EXTERNAL_KEY_ID.test(externalKeyId)) {
    throw invalidUri(rawPath);
  }
  return {
    operation: OPERATION_OF_INDICATOR[indicator as keyof typeof OPERATION_OF_INDICATOR],
    externalKeyId,
  };
}

/**
 * An XKS request body, read with its types checked: anything malformed is ValidationException.
 * Unknown members (of the body and of requestMetadata) are ignored: KMS may add fields
 * (spec "Appendix B").
 */
export class XksRequestBody {
  readonly #members: Record<string, unknown>;

  constructor(body: Buffer) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw malformed('The request body is not valid JSON.');
    }
    this.#members = objectOf(parsed, 'The request body');
  }

  /** requestMetadata of a key operation: awsPrincipalArn, kmsOperation, kmsRequestId required. */
  keyRequestMetadata(kmsKeyArnRequired: boolean): XksRequestMetadata {
    const fields = new Fields(objectOf(this.#members.requestMetadata, 'requestMetadata'), 'requestMetadata');
    const kmsKeyArn = fields.optionalString('kmsKeyArn');
    if (kmsKeyArnRequired && kmsKeyArn === null) throw malformed('requestMetadata.kmsKeyArn is required.');
    return {
      awsPrincipalArn: fields.requiredString('awsPrincipalArn'),
      kmsOperation: fields.requiredString('kmsOperation'),
      kmsRequestId: fields.requiredString('kmsRequestId'),
      kmsKeyArn,
      awsSourceVpc: fields.optionalString('awsSourceVpc'),
      awsSourceVpce: fields.optionalString('awsSourceVpce'),
      kmsViaService: fields.optionalString('kmsViaService'),
    };
  }

  /** requestMetadata of GetHealthStatus: kmsRequestId and kmsOperation only. */
  healthRequestMetadata(): { kmsRequestId: string; kmsOperation: string } {
    const fields = new Fields(objectOf(this.#members.requestMetadata, 'requestMetadata'), 'requestMetadata');
    return {
      kmsRequestId: fields.requiredString('kmsRequestId'),
      kmsOperation: fields.requiredString('kmsOperation'),
    };
  }

  encryptInput(): {
    plaintext: Buffer;
    additionalAuthenticatedData: Buffer | null;
    cdivRequested: boolean;
  } {
    const fields = new Fields(this.#members, '');
    this.#checkAlgorithm(fields);
    const cdiv = fields.optionalString('ciphertextDataIntegrityValueAlgorithm');
    if (cdiv !== null && cdiv !== 'SHA_256') {
      throw malformed('ciphertextDataIntegrityValueAlgorithm must be SHA_256.');
    }
    return {
      plaintext: fields.requiredBase64('plaintext', 1, LIMITS.xksPlaintextMaxBytes),
      additionalAuthenticatedData: fields.optionalBase64(
        'additionalAuthenticatedData',
        0,
        LIMITS.xksAadMaxBytes,
      ),
      cdivRequested: cdiv !== null,
    };
  }

  decryptInput(): XksDecryptInput {
    const fields = new Fields(this.#members, '');
    this.#checkAlgorithm(fields);
    return {
      ciphertext: fields.requiredBase64('ciphertext', 1, LIMITS.xksCiphertextMaxBytes),
      ciphertextMetadata: fields.optionalBase64('ciphertextMetadata', 0, 20),
      initializationVector: fields.requiredBase64('initializationVector', 12, 16),
      authenticationTag: fields.requiredBase64('authenticationTag', 16, 16),
      additionalAuthenticatedData: fields.optionalBase64(
        'additionalAuthenticatedData',
        0,
        LIMITS.xksAadMaxBytes,
      ),
    };
  }

  #checkAlgorithm(fields: Fields): void {
    const algorithm = fields.requiredString('encryptionAlgorithm');
    if (algorithm !== 'AES_GCM') throw malformed('encryptionAlgorithm must be AES_GCM.');
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

class Fields {
  readonly #members: Record<string, unknown>;
  readonly #where: string;

  constructor(members: Record<string, unknown>, where: string) {
    this.#members = members;
    this.#where = where === '' ? '' : `${where}.`;
  }

  requiredString(name: string): string {
    const value = this.optionalString(name);
    if (value === null) throw malformed(`${this.#where}${name} is required.`);
    return value;
  }

  optionalString(name: string): string | null {
    const value = this.#members[name];
    if (value === undefined || value === null) return null;
    if (typeof value !== 'string') throw malformed(`${this.#where}${name} must be a string.`);
    if (value.length > LIMITS.xksMetadataFieldMaxChars) {
      throw malformed(`${this.#where}${name} is longer than ${LIMITS.xksMetadataFieldMaxChars} characters.`);
    }
    return value;
  }

  requiredBase64(name: string, minBytes: number, maxBytes: number): Buffer {
    const value = this.optionalBase64(name, minBytes, maxBytes);
    if (value === null) throw malformed(`${name} is required.`);
    return value;
  }

  /** Standard Base64 (RFC 4648 section 4), padded, length-checked before and after decoding. */
  optionalBase64(name: string, minBytes: number, maxBytes: number): Buffer | null {
    const value = this.#members[name];
    if (value === undefined || value === null) return null;
    if (typeof value !== 'string') throw malformed(`${name} must be a Base64 string.`);
    if (value.length > Math.ceil(maxBytes / 3) * 4 || !BASE64.test(value)) {
      throw malformed(`${name} must be Base64 of at most ${maxBytes} bytes.`);
    }
    const bytes = Buffer.from(value, 'base64');
    if (bytes.length < minBytes || bytes.length > maxBytes) {
      throw malformed(`${name} must be between ${minBytes} and ${maxBytes} bytes.`);
    }
    return bytes;
  }
}

function objectOf(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw malformed(`${what} must be a JSON object.`);
  }
  return Object.fromEntries(Object.entries(value));
}

function malformed(message: string): Error {
  return xksProtocolError('MalformedRequest', message);
}

function invalidUri(rawPath: string): Error {
  return xksProtocolError('InvalidUriPath', `${rawPath.slice(0, 300)} is not a valid XKS URI path.`);
}
