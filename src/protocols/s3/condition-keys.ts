import type { IncomingHttpHeaders } from 'node:http';
import type { RequestFacts } from '../../domain/iam/authorizer.ts';
import { isReservedTagKey, NO_RESERVED_TAGS, validatedTagSet } from '../../domain/storage/tagging.ts';
import { header, readTaggingHeaderTags } from './object-headers.ts';
import type { S3Action, S3Route } from './route.ts';

/**
 * The condition keys an S3 request carries for policies, as the Service Authorization Reference
 * lists them per action (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html#amazons3-policy-keys):
 * s3:prefix, s3:delimiter and s3:max-keys for listings; s3:x-amz-server-side-encryption,
 * s3:x-amz-server-side-encryption-aws-kms-key-id, s3:RequestObjectTag/<key> and
 * s3:RequestObjectTagKeys for writes; and the `versionId` a request names (s3:VersionId). Keys
 * about the caller, the transport and the time are the authorizer's. Undefined when the request
 * carries none of them, as a plain GET does, so the hot path allocates nothing here.
 */
export function requestFactsOf(route: S3Route, headers: IncomingHttpHeaders): RequestFacts | undefined {
  switch (REQUEST_KEYS[route.action]) {
    case 'listing':
      return { conditionKeys: listingKeys(route.query) };
    case 'write':
      return writeFacts(headers);
    case 'version': {
      const versionId = route.query.get('versionId');
      return versionId === null ? undefined : { versionId };
    }
    case null:
      return undefined;
  }
}

/** Which request keys each operation has: listing keys, upload keys, a version id, or none. */
const REQUEST_KEYS: Record<S3Action, 'listing' | 'write' | 'version' | null> = {
  ListObjects: 'listing',
  ListObjectsV2: 'listing',
  ListObjectVersions: 'listing',
  ListMultipartUploads: 'listing',
  PutObject: 'write',
  CopyObject: 'write',
  CreateMultipartUpload: 'write',
  GetObject: 'version',
  HeadObject: 'version',
  DeleteObject: 'version',
  GetObjectAcl: 'version',
  PutObjectAcl: 'version',
  GetObjectTagging: 'version',
  PutObjectTagging: 'version',
  DeleteObjectTagging: 'version',
  GetObjectRetention: 'version',
  PutObjectRetention: 'version',
  GetObjectLegalHold: 'version',
  PutObjectLegalHold: 'version',
  ListBuckets: null,
  CreateBucket: null,
  HeadBucket: null,
  DeleteBucket: null,
  GetBucketLocation: null,
  GetBucketVersioning: null,
  PutBucketVersioning: null,
  GetBucketAcl: null,
  PutBucketAcl: null,
  // Authorized per key by the handler, with each key's version.
  DeleteObjects: null,
  UploadPart: null,
  // The copy's keys are those of its source and destination, authorized by the handler.
  UploadPartCopy: null,
  CompleteMultipartUpload: null,
  AbortMultipartUpload: null,
  ListParts: null,
  GetBucketTagging: null,
  PutBucketTagging: null,
  DeleteBucketTagging: null,
  GetBucketCors: null,
  PutBucketCors: null,
  DeleteBucketCors: null,
  GetBucketEncryption: null,
  PutBucketEncryption: null,
  DeleteBucketEncryption: null,
  GetBucketLifecycleConfiguration: null,
  PutBucketLifecycleConfiguration: null,
  DeleteBucketLifecycle: null,
  GetObjectLockConfiguration: null,
  PutObjectLockConfiguration: null,
  GetBucketNotificationConfiguration: null,
  PutBucketNotificationConfiguration: null,
  GetBucketPolicy: null,
  PutBucketPolicy: null,
  DeleteBucketPolicy: null,
  GetBucketPolicyStatus: null,
  PostObject: null,
};

/**
 * "If the request does not include a prefix, the value of s3:prefix is an empty string": the
 * AWS guide's "list only the root" examples compare it with "" (amazon-s3-policy-keys.html).
 */
function listingKeys(query: URLSearchParams): [string, string][] {
  const keys: [string, string][] = [['s3:prefix', query.get('prefix') ?? '']];
  const delimiter = query.get('delimiter');
  if (delimiter !== null) keys.push(['s3:delimiter', delimiter]);
  const maxKeys = query.get('max-keys');
  if (maxKeys !== null) keys.push(['s3:max-keys', maxKeys]);
  return keys;
}

function writeFacts(headers: IncomingHttpHeaders): RequestFacts | undefined {
  const keys: [string, string | string[]][] = [];
  const sse = header(headers, 'x-amz-server-side-encryption');
  if (sse !== undefined) keys.push(['s3:x-amz-server-side-encryption', sse]);
  const kmsKeyId = header(headers, 'x-amz-server-side-encryption-aws-kms-key-id');
  if (kmsKeyId !== undefined) keys.push(['s3:x-amz-server-side-encryption-aws-kms-key-id', kmsKeyId]);
  // Only the tags the write would store: the reserved label tags are never the request's own
  // (docs/reference/classification.md "Labels as tags"); the handler checks them.
  const sent = readTaggingHeaderTags(headers);
  if (sent !== null) {
    const tags = validatedTagSet(
      sent.filter((tag) => !isReservedTagKey(tag.key)),
      'object',
      NO_RESERVED_TAGS,
    );
    const tagKeys = Object.keys(tags);
    keys.push(['s3:RequestObjectTagKeys', tagKeys]);
    for (const key of tagKeys) keys.push([`s3:RequestObjectTag/${key}`, tags[key]!]);
  }
  return keys.length === 0 ? undefined : { conditionKeys: keys };
}
