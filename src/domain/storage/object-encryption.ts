/**
 * Encryption at rest of object data (scheme SOVRA_GCM_V1, docs/architecture.md "Persisted
 * formats"): every new object version or multipart upload gets a fresh 32-byte data key; frames
 * are sealed with it by the AES-256-GCM frame suite, which binds them to bucket, key, version and
 * part. Only the data key wrapped by a KMS key (SSE-KMS, SSE-S3) or by the customer's key (SSE-C)
 * is stored; a customer key itself is never stored, only a salted HMAC that checks the key of a
 * later request (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerSideEncryptionCustomerKeys.html).
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RequestJustification } from '../kms/justification.ts';
import { storageError } from './errors.ts';
import type { FrameSuite } from './frame-codec.ts';
import type { ObjectEncryption } from './types.ts';

export const ENCRYPTION_SCHEME = 'SOVRA_GCM_V1';
export const DATA_KEY_BYTES = 32;
/** The alias of a tenant's Sovra-managed S3 key, as AWS names the aws-managed key for S3. */
export const MANAGED_S3_KEY_ALIAS = 'alias/aws/s3';

export type ServerSideEncryption = 'aws:kms' | 'AES256';

/** What a write asked for with x-amz-server-side-encryption* headers (all absent: the defaults). */
export interface EncryptionRequest {
  sse: ServerSideEncryption | null;
  /** x-amz-server-side-encryption-aws-kms-key-id: key id, ARN or alias. */
  kmsKeyId: string | null;
  /** x-amz-server-side-encryption-context, decoded. */
  context: Record<string, string>;
  /** SSE-C: the 32-byte customer key (its MD5 already checked at the edge). */
  customerKey: Buffer | null;
}

export const NO_ENCRYPTION_REQUEST: EncryptionRequest = {
  sse: null,
  kmsKeyId: null,
  context: {},
  customerKey: null,
};

/** A bucket's default encryption (PutBucketEncryption), as the domain stores it. */
export interface BucketEncryptionDefault {
  sse: ServerSideEncryption;
  kmsKeyId: string | null;
}

/**
 * Port: the tenant's KMS as object encryption needs it. The server adapts the key ring and turns
 * its errors into storage errors (EncryptionUnavailable, EncryptionKeyDisabled, …; a key policy's
 * refusal is EncryptionKeyUseDenied). Every use says who asked, through which service and why
 * (`keyUse`), so that the key policy decides on the real requester and the decision record names
 * it.
 */
export interface DataKeySource {
  generateDataKey(
    tenantId: string,
    keyReference: string,
    context: Record<string, string>,
    keyUse: RequestJustification,
  ): Promise<{ plaintext: Buffer; ciphertextBlob: Buffer; keyArn: string }>;
  decryptDataKey(
    tenantId: string,
    kmsKeyId: string,
    ciphertextBlob: Buffer,
    context: Record<string, string>,
    keyUse: RequestJustification,
  ): Promise<Buffer>;
  /** The tenant's managed S3 key (MANAGED_S3_KEY_ALIAS), created on first use; its key id. */
  managedKeyId(tenantId: string): Promise<string>;
}

/** A data key for new frames and the record that lets a later read recover it. */
export interface SealedDataKey {
  encryption: ObjectEncryption;
  suite: FrameSuite;
}

const SSEC_WRAP_LABEL = Buffer.from('sovra-ssec-wrap-v1', 'ascii');
const SSEC_HMAC_SALT_BYTES = 16;
const GCM_NONCE_BYTES = 12;
const GCM_TAG_BYTES = 16;

export class ObjectEncryptor {
  readonly #keys: DataKeySource;

  constructor(keys: DataKeySource) {
    this.#keys = keys;
  }

  /**
   * A fresh data key for a new version of `bucket/key`, under (first that applies) the customer
   * key, the key the request names, the bucket's default, or the tenant's managed key. The KMS
   * context carries aws:s3:arn as S3 sends it
   * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#encryption-context).
   */
  async newDataKey(
    tenantId: string,
    bucket: string,
    key: string,
    request: EncryptionRequest,
    bucketDefault: BucketEncryptionDefault | null,
    keyUse: RequestJustification,
  ): Promise<SealedDataKey> {
    const context = { ...request.context, 'aws:s3:arn': `arn:aws:s3:::${bucket}/${key}` };
    if (request.customerKey !== null) return sealUnderCustomerKey(request.customerKey, context);
    const sse: ServerSideEncryption = request.sse ?? bucketDefault?.sse ?? 'AES256';
    const named = sse === 'aws:kms' ? (request.kmsKeyId ?? bucketDefault?.kmsKeyId ?? null) : null;
    const keyReference = named ?? (await this.#keys.managedKeyId(tenantId));
    const generated = await this.#keys.generateDataKey(tenantId, keyReference, context, keyUse);
    return {
      encryption: {
        scheme: ENCRYPTION_SCHEME,
        kmsKeyId: generated.keyArn,
        wrappedDataKey: generated.ciphertextBlob.toString('base64'),
        context,
        sse,
        ssecKeyHmac: null,
      },
      suite: { kind: 'aes-256-gcm', dataKey: generated.plaintext },
    };
  }

  /** The frame suite that opens data stored under `encryption` (null: plaintext CRC frames). */
  async suiteFor(
    tenantId: string,
    encryption: ObjectEncryption | null,
    customerKey: Buffer | null,
    keyUse: RequestJustification,
  ): Promise<FrameSuite> {
    if (encryption === null) {
      if (customerKey !== null) throw encryptionNotApplicable();
      return { kind: 'crc32' };
    }
    if (encryption.scheme !== ENCRYPTION_SCHEME || encryption.wrappedDataKey === null) {
      throw storageError('DataCorrupted', 'stored object data failed verification');
    }
    const wrapped = Buffer.from(encryption.wrappedDataKey, 'base64');
    const context = encryption.context ?? {};
    if (encryption.sse === 'SSE-C') {
      const dataKey = openUnderCustomerKey(checkCustomerKey(encryption, customerKey), wrapped, context);
      return { kind: 'aes-256-gcm', dataKey };
    }
    if (customerKey !== null) throw encryptionNotApplicable();
    const dataKey = await this.#keys.decryptDataKey(
      tenantId,
      encryption.kmsKeyId ?? '',
      wrapped,
      context,
      keyUse,
    );
    return { kind: 'aes-256-gcm', dataKey };
  }
}

/**
 * SSE-C reads: no key → InvalidRequest, a different key → AccessDenied, as S3 answers
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerSideEncryptionCustomerKeys.html).
 */
export function checkCustomerKey(encryption: ObjectEncryption, customerKey: Buffer | null): Buffer {
  if (encryption.sse !== 'SSE-C') {
    if (customerKey !== null) throw encryptionNotApplicable();
    return Buffer.alloc(0);
  }
  if (customerKey === null) {
    throw storageError(
      'EncryptionKeyMissing',
      'The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.',
    );
  }
  const stored = Buffer.from(encryption.ssecKeyHmac ?? '', 'base64');
  const salt = stored.subarray(0, SSEC_HMAC_SALT_BYTES);
  const expected = stored.subarray(SSEC_HMAC_SALT_BYTES);
  const actual = createHmac('sha256', salt).update(customerKey).digest();
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
    throw storageError('EncryptionKeyMismatch', 'Access Denied');
  }
  return customerKey;
}

/** Zeroes a data key once the frames that needed it are done. */
export function wipeSuite(suite: FrameSuite): void {
  if (suite.kind === 'aes-256-gcm') suite.dataKey.fill(0);
}

function sealUnderCustomerKey(customerKey: Buffer, context: Record<string, string>): SealedDataKey {
  const dataKey = randomBytes(DATA_KEY_BYTES);
  const nonce = randomBytes(GCM_NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', customerKey, nonce);
  cipher.setAAD(wrapAad(context));
  const wrapped = Buffer.concat([nonce, cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
  const salt = randomBytes(SSEC_HMAC_SALT_BYTES);
  const hmac = createHmac('sha256', salt).update(customerKey).digest();
  return {
    encryption: {
      scheme: ENCRYPTION_SCHEME,
      kmsKeyId: null,
      wrappedDataKey: wrapped.toString('base64'),
      context,
      sse: 'SSE-C',
      ssecKeyHmac: Buffer.concat([salt, hmac]).toString('base64'),
    },
    suite: { kind: 'aes-256-gcm', dataKey },
  };
}

function openUnderCustomerKey(customerKey: Buffer, wrapped: Buffer, context: Record<string, string>): Buffer {
  if (wrapped.length !== GCM_NONCE_BYTES + DATA_KEY_BYTES + GCM_TAG_BYTES) {
    throw storageError('DataCorrupted', 'stored object data failed verification');
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', customerKey, wrapped.subarray(0, GCM_NONCE_BYTES));
    decipher.setAAD(wrapAad(context));
    decipher.setAuthTag(wrapped.subarray(GCM_NONCE_BYTES + DATA_KEY_BYTES));
    return Buffer.concat([
      decipher.update(wrapped.subarray(GCM_NONCE_BYTES, GCM_NONCE_BYTES + DATA_KEY_BYTES)),
      decipher.final(),
    ]);
  } catch {
    throw storageError('DataCorrupted', 'stored object data failed verification');
  }
}

/** The wrap binds the data key to its object: the label and the sorted context. */
function wrapAad(context: Record<string, string>): Buffer {
  const sorted = Object.keys(context)
    .sort()
    .map((name) => [name, context[name]]);
  return Buffer.concat([SSEC_WRAP_LABEL, Buffer.from(JSON.stringify(sorted), 'utf8')]);
}

export function encryptionNotApplicable() {
  return storageError(
    'InvalidEncryptionRequest',
    'The encryption parameters are not applicable to this object.',
  );
}

/** Format of the bucket_configs 'encryption' document; bump with a migration of the rows. */
export const BUCKET_ENCRYPTION_DOCUMENT_FORMAT = 1;

export function encodeBucketEncryptionDocument(value: BucketEncryptionDefault): string {
  return JSON.stringify({
    format: BUCKET_ENCRYPTION_DOCUMENT_FORMAT,
    sse: value.sse,
    kmsKeyId: value.kmsKeyId,
  });
}

export function parseBucketEncryptionDocument(document: string): BucketEncryptionDefault {
  const parsed: unknown = JSON.parse(document);
  if (typeof parsed === 'object' && parsed !== null && 'format' in parsed && 'sse' in parsed) {
    const { format, sse } = parsed;
    const kmsKeyId = 'kmsKeyId' in parsed ? parsed.kmsKeyId : null;
    if (
      format === BUCKET_ENCRYPTION_DOCUMENT_FORMAT &&
      (sse === 'aws:kms' || sse === 'AES256') &&
      (kmsKeyId === null || typeof kmsKeyId === 'string')
    ) {
      return { sse, kmsKeyId };
    }
  }
  throw storageError('DataCorrupted', 'stored bucket encryption configuration is not readable');
}
