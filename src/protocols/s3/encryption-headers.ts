/**
 * Server-side encryption headers of S3 requests and responses
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/specifying-kms-encryption.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerSideEncryptionCustomerKeys.html).
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { EncryptionRequest } from '../../domain/storage/object-encryption.ts';
import type { ObjectEncryption } from '../../domain/storage/types.ts';
import { LIMITS } from '../../platform/limits.ts';
import { s3Error } from './errors.ts';
import { header } from './object-headers.ts';

const SSE = 'x-amz-server-side-encryption';
const KMS_KEY_ID = 'x-amz-server-side-encryption-aws-kms-key-id';
const CONTEXT = 'x-amz-server-side-encryption-context';
export const CUSTOMER_KEY_PREFIX = 'x-amz-server-side-encryption-customer-';
export const COPY_SOURCE_CUSTOMER_KEY_PREFIX = 'x-amz-copy-source-server-side-encryption-customer-';
const CUSTOMER_KEY_BYTES = 32;

/** A customer key (SSE-C) as sent, with the MD5 that S3 echoes back. */
export interface CustomerKey {
  key: Buffer;
  md5Base64: string;
}

/**
 * The encryption a write asks for. SSE-C excludes the other headers, as in S3. `headers` are the
 * request's, or a POST Object form's fields read as headers (its connection still decides
 * whether a customer key may be sent).
 */
export function readEncryptionRequest(
  req: IncomingMessage,
  headers: IncomingHttpHeaders = req.headers,
): {
  request: EncryptionRequest;
  customerKey: CustomerKey | null;
} {
  const customerKey = readCustomerKey(req, CUSTOMER_KEY_PREFIX, headers);
  const sse = header(headers, SSE);
  const kmsKeyId = header(headers, KMS_KEY_ID);
  const contextText = header(headers, CONTEXT);
  if (customerKey !== null && (sse !== undefined || kmsKeyId !== undefined)) {
    throw s3Error(
      'InvalidArgument',
      'Server Side Encryption with Customer provided key is incompatible with the encryption method specified',
      { argumentName: SSE },
    );
  }
  if (sse !== undefined && sse !== 'AES256' && sse !== 'aws:kms') {
    throw s3Error('InvalidArgument', 'The encryption method specified is not supported', {
      argumentName: SSE,
    });
  }
  if ((kmsKeyId !== undefined || contextText !== undefined) && sse !== 'aws:kms') {
    throw s3Error(
      'InvalidArgument',
      'Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms',
      { argumentName: SSE },
    );
  }
  if (kmsKeyId !== undefined && (kmsKeyId === '' || kmsKeyId.length > LIMITS.kmsKeyReferenceMaxChars)) {
    throw s3Error('InvalidArgument', 'The KMS key id is not valid', { argumentName: KMS_KEY_ID });
  }
  return {
    request: {
      sse: sse ?? null,
      kmsKeyId: kmsKeyId ?? null,
      context: contextText === undefined ? {} : parseContext(contextText),
      customerKey: customerKey?.key ?? null,
    },
    customerKey,
  };
}

/**
 * The SSE-C key of a request (prefix: the object's or the copy source's headers), or null.
 * S3 accepts SSE-C only over HTTPS; Sovra also accepts it from a loopback peer (the tests and a
 * TLS-terminating proxy on the same host), never from the network in the clear.
 */
export function readCustomerKey(
  req: IncomingMessage,
  prefix: string,
  headers: IncomingHttpHeaders = req.headers,
): CustomerKey | null {
  const algorithm = header(headers, `${prefix}algorithm`);
  const keyText = header(headers, `${prefix}key`);
  const md5Text = header(headers, `${prefix}key-md5`);
  if (algorithm === undefined && keyText === undefined && md5Text === undefined) return null;
  if (!isSecure(req)) {
    throw s3Error(
      'InvalidRequest',
      'Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.',
    );
  }
  if (algorithm === undefined || keyText === undefined || md5Text === undefined) {
    throw s3Error(
      'InvalidArgument',
      'Requests specifying Server Side Encryption with Customer provided keys must provide the algorithm, the key and its MD5.',
      { argumentName: `${prefix}algorithm` },
    );
  }
  if (algorithm !== 'AES256') {
    throw s3Error(
      'InvalidArgument',
      'The encryption algorithm specified is not valid; the valid value is AES256.',
      { argumentName: `${prefix}algorithm` },
    );
  }
  const key = Buffer.from(keyText, 'base64');
  if (key.length !== CUSTOMER_KEY_BYTES || key.toString('base64') !== keyText) {
    key.fill(0);
    throw s3Error('InvalidArgument', 'The secret key was invalid for the specified algorithm.', {
      argumentName: `${prefix}key`,
    });
  }
  const md5Base64 = createHash('md5').update(key).digest('base64');
  if (md5Base64 !== md5Text) {
    key.fill(0);
    throw s3Error(
      'InvalidArgument',
      'The calculated MD5 hash of the key did not match the hash that was provided.',
      { argumentName: `${prefix}key-md5` },
    );
  }
  return { key, md5Base64 };
}

/** The response headers S3 sends for an object's encryption. */
export function encryptionHeaders(
  encryption: ObjectEncryption | null,
  customerKey: CustomerKey | null,
): OutgoingHttpHeaders {
  if (encryption === null || encryption.sse === null) return {};
  if (encryption.sse === 'SSE-C') {
    const headers: OutgoingHttpHeaders = { [`${CUSTOMER_KEY_PREFIX}algorithm`]: 'AES256' };
    if (customerKey !== null) headers[`${CUSTOMER_KEY_PREFIX}key-md5`] = customerKey.md5Base64;
    return headers;
  }
  if (encryption.sse === 'aws:kms' && encryption.kmsKeyId !== null) {
    return { [SSE]: 'aws:kms', [KMS_KEY_ID]: encryption.kmsKeyId };
  }
  return { [SSE]: encryption.sse };
}

/** x-amz-server-side-encryption-context: base64 of a JSON object of strings. */
function parseContext(text: string): Record<string, string> {
  const invalid = () =>
    s3Error(
      'InvalidArgument',
      'The encryption context is not valid: expected base64 of a JSON object of strings',
      {
        argumentName: CONTEXT,
      },
    );
  if (text.length > LIMITS.kmsEncryptionContextMaxBytes * 2) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid();
  const context: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value !== 'string' || name.startsWith('aws:')) throw invalid();
    context[name] = value;
  }
  return context;
}

function isSecure(req: IncomingMessage): boolean {
  if ('encrypted' in req.socket && req.socket.encrypted === true) return true;
  const remote = req.socket.remoteAddress;
  return remote === '127.0.0.1' || remote === '::1' || remote === '::ffff:127.0.0.1';
}
