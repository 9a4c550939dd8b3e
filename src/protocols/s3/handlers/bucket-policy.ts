import { createHash } from 'node:crypto';
import {
  decodeBucketPolicyDocument,
  encodeBucketPolicyDocument,
  parseBucketPolicy,
} from '../../../domain/iam/bucket-policy.ts';
import { isPublicPolicy, POLICY_TEXT_MAX_CHARS, PolicyError } from '../../../domain/iam/policy/index.ts';
import { checksumOf } from '../../../domain/storage/digests.ts';
import { storageError } from '../../../domain/storage/errors.ts';
import type { BucketRecord } from '../../../domain/storage/types.ts';
import { s3Error } from '../errors.ts';
import { sendEmpty, sendXml, type S3Exchange } from '../exchange.ts';
import { readContentMd5 } from '../object-headers.ts';
import { IAM_ACTION } from '../route.ts';
import type { S3Services } from '../s3-endpoint.ts';
import { renderXmlDocument } from '../xml.ts';

/**
 * Bucket policies (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html):
 * the policy text is stored as the bucket's `policy` document exactly as it was put, after it
 * parsed as a resource policy of this bucket (domain/iam/bucket-policy.ts). Every change makes
 * the authorizer forget its compiled copy at once (other gateways within a second).
 */

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html */
export async function putBucketPolicy(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
): Promise<void> {
  requireOwnerTenant(x, bucket);
  const text = await readPolicyText(x);
  const policy = parseBucketPolicy(text, bucket.name);
  if (isPublicPolicy(policy)) {
    // Making a bucket public is a decision of its own: the guardrails refuse it for data above
    // the lowest level (classified-data-is-never-made-public).
    await services.authorizer.authorize(
      x.caller,
      IAM_ACTION.PutBucketPolicy,
      { bucket, key: null },
      { grantsPublicAccess: true },
    );
  }
  await services.objects.putBucketConfig(bucket.name, 'policy', encodeBucketPolicyDocument(text));
  services.authorizer.forgetBucketPolicy?.(bucket.name);
  sendEmpty(x.res, 204);
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketPolicy.html: the policy as it was put. */
export async function getBucketPolicy(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
): Promise<void> {
  requireOwnerTenant(x, bucket);
  const text = await storedPolicyText(services, bucket);
  const body = Buffer.from(text, 'utf8');
  x.res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  x.res.end(body);
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucketPolicy.html: 204 whether or not there was one. */
export async function deleteBucketPolicy(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
): Promise<void> {
  requireOwnerTenant(x, bucket);
  await services.objects.deleteBucketConfig(bucket.name, 'policy');
  services.authorizer.forgetBucketPolicy?.(bucket.name);
  sendEmpty(x.res, 204);
}

/**
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketPolicyStatus.html: IsPublic as
 * "The meaning of 'public'" defines it (isPublicPolicy); NoSuchBucketPolicy without a policy.
 */
export async function getBucketPolicyStatus(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
): Promise<void> {
  const text = await storedPolicyText(services, bucket);
  const isPublic = isPublicPolicy(parseBucketPolicy(text, bucket.name));
  sendXml(x.res, 200, renderXmlDocument('PolicyStatus', [['IsPublic', isPublic]]));
}

/**
 * "If you have the correct permissions, but you're not using an identity that belongs to the
 * bucket owner's account, Amazon S3 returns a 405 Method Not Allowed error."
 */
function requireOwnerTenant(x: S3Exchange, bucket: BucketRecord): void {
  if (x.caller.tenantId !== bucket.tenantId) {
    throw s3Error('MethodNotAllowed', 'Only the bucket owner’s tenant manages its bucket policy.');
  }
}

async function storedPolicyText(services: S3Services, bucket: BucketRecord): Promise<string> {
  const stored = await services.objects.getBucketConfig(bucket.name, 'policy');
  if (stored === null) throw s3Error('NoSuchBucketPolicy', 'The bucket policy does not exist');
  return decodeBucketPolicyDocument(stored.document);
}

/**
 * The request body as text, refused past POLICY_TEXT_MAX_CHARS bytes (the parser's own bound on
 * raw text; the 20 KB policy limit is measured by the parser without whitespace, as S3 does).
 * A Content-MD5 or x-amz-checksum-* value, which SDKs send with PutBucketPolicy, must match.
 */
async function readPolicyText(x: S3Exchange): Promise<string> {
  const contentMd5 = readContentMd5(x.req.headers);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of x.body) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > POLICY_TEXT_MAX_CHARS) {
      throw new PolicyError(
        'PolicyTooLarge',
        `the policy is larger than ${POLICY_TEXT_MAX_CHARS} bytes of text; bucket policies are at most 20 KB`,
      );
    }
    chunks.push(buffer);
  }
  const body = Buffer.concat(chunks, size);
  if (contentMd5 !== null && !createHash('md5').update(body).digest().equals(contentMd5)) {
    throw storageError('DigestMismatch', 'The Content-MD5 you specified did not match what we received.');
  }
  const claim = x.checksumClaim;
  const expected = claim?.expected();
  if (claim !== null && expected !== undefined) {
    if ((await checksumOf(claim.algorithm, body)).toString('base64') !== expected) {
      throw storageError(
        'ChecksumMismatch',
        `The ${claim.algorithm} you specified did not match the calculated checksum.`,
      );
    }
  }
  return body.toString('utf8');
}
