import {
  encodeBucketEncryptionDocument,
  parseBucketEncryptionDocument,
  type BucketEncryptionDefault,
} from '../../../domain/storage/object-encryption.ts';
import type { BucketRecord } from '../../../domain/storage/types.ts';
import { LIMITS } from '../../../platform/limits.ts';
import { s3Error } from '../errors.ts';
import { readBodyText, sendEmpty, sendXml, type S3Exchange } from '../exchange.ts';
import type { S3Services } from '../s3-endpoint.ts';
import { parseXmlBody, renderXmlDocument, xmlList, xmlObject, xmlText } from '../xml.ts';

/**
 * Bucket default encryption (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-encryption.html),
 * stored as the bucket's 'encryption' document. As in S3 since 2023, a bucket without a
 * configuration reports SSE-S3 (AES256): every object is encrypted anyway. A server without a
 * root of trust stores plaintext and says so with ServerSideEncryptionConfigurationNotFoundError.
 */

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketEncryption.html */
export async function getBucketEncryption(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
): Promise<void> {
  const stored = await services.objects.getBucketConfig(bucket.name, 'encryption');
  if (stored === null && !services.objects.encryptsAtRest) {
    throw s3Error(
      'ServerSideEncryptionConfigurationNotFoundError',
      'The server side encryption configuration was not found',
    );
  }
  const value: BucketEncryptionDefault =
    stored === null ? { sse: 'AES256', kmsKeyId: null } : parseBucketEncryptionDocument(stored.document);
  sendXml(
    x.res,
    200,
    renderXmlDocument('ServerSideEncryptionConfiguration', [
      [
        'Rule',
        [
          [
            'ApplyServerSideEncryptionByDefault',
            [
              ['SSEAlgorithm', value.sse],
              ['KMSMasterKeyID', value.kmsKeyId ?? undefined],
            ],
          ],
          ['BucketKeyEnabled', false],
        ],
      ],
    ]),
  );
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketEncryption.html */
export async function putBucketEncryption(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
): Promise<void> {
  if (!services.objects.encryptsAtRest) {
    throw s3Error(
      'InvalidRequest',
      'Server-side encryption needs a root of trust; this server runs without one.',
    );
  }
  const doc = parseXmlBody(
    await readBodyText(x.body, LIMITS.xmlBodyMaxBytes),
    'ServerSideEncryptionConfiguration',
  );
  const rules = xmlList(doc.Rule);
  const rule = rules.length === 1 ? xmlObject(rules[0]) : undefined;
  const applied = rule === undefined ? undefined : xmlObject(rule.ApplyServerSideEncryptionByDefault);
  const sse = applied === undefined ? undefined : xmlText(applied.SSEAlgorithm);
  const kmsKeyId = applied === undefined ? undefined : xmlText(applied.KMSMasterKeyID);
  if (sse !== 'AES256' && sse !== 'aws:kms') {
    throw s3Error(
      'MalformedXML',
      'The XML you provided was not well-formed or did not validate against our published schema',
    );
  }
  if (
    kmsKeyId !== undefined &&
    (sse !== 'aws:kms' || kmsKeyId === '' || kmsKeyId.length > LIMITS.kmsKeyReferenceMaxChars)
  ) {
    throw s3Error('InvalidArgument', 'a KMSMasterKeyID is allowed only with SSEAlgorithm aws:kms');
  }
  await services.objects.putBucketConfig(
    bucket.name,
    'encryption',
    encodeBucketEncryptionDocument({ sse, kmsKeyId: kmsKeyId ?? null }),
  );
  sendEmpty(x.res, 200);
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucketEncryption.html: back to SSE-S3. */
export async function deleteBucketEncryption(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
): Promise<void> {
  await services.objects.deleteBucketConfig(bucket.name, 'encryption');
  sendEmpty(x.res, 204);
}
