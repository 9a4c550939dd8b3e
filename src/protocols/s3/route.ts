import { s3Error } from './errors.ts';

/**
 * The S3 operations Sovra serves, named as the AWS API names them; the same names are the
 * policy actions (`s3:<name>` where IAM uses the API name) and the audit actions.
 */
export type S3Action =
  | 'ListBuckets'
  | 'CreateBucket'
  | 'HeadBucket'
  | 'DeleteBucket'
  | 'GetBucketLocation'
  | 'GetBucketVersioning'
  | 'PutBucketVersioning'
  | 'GetBucketAcl'
  | 'PutBucketAcl'
  | 'ListObjects'
  | 'ListObjectsV2'
  | 'ListObjectVersions'
  | 'ListMultipartUploads'
  | 'DeleteObjects'
  | 'PutObject'
  | 'CopyObject'
  | 'GetObject'
  | 'HeadObject'
  | 'DeleteObject'
  | 'GetObjectAcl'
  | 'PutObjectAcl'
  | 'CreateMultipartUpload'
  | 'UploadPart'
  | 'UploadPartCopy'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'ListParts'
  | 'GetBucketTagging'
  | 'PutBucketTagging'
  | 'DeleteBucketTagging'
  | 'GetObjectTagging'
  | 'PutObjectTagging'
  | 'DeleteObjectTagging'
  | 'GetBucketCors'
  | 'PutBucketCors'
  | 'DeleteBucketCors'
  | 'GetBucketEncryption'
  | 'PutBucketEncryption'
  | 'DeleteBucketEncryption'
  | 'GetBucketLifecycleConfiguration'
  | 'PutBucketLifecycleConfiguration'
  | 'DeleteBucketLifecycle'
  | 'GetObjectLockConfiguration'
  | 'PutObjectLockConfiguration'
  | 'GetObjectRetention'
  | 'PutObjectRetention'
  | 'GetObjectLegalHold'
  | 'PutObjectLegalHold'
  | 'GetBucketNotificationConfiguration'
  | 'PutBucketNotificationConfiguration'
  | 'GetBucketPolicy'
  | 'PutBucketPolicy'
  | 'DeleteBucketPolicy'
  | 'GetBucketPolicyStatus'
  | 'PostObject';

export interface S3Route {
  action: S3Action;
  bucket: string | null;
  key: string | null;
  query: URLSearchParams;
  /** Path as sent (percent-encoded), for SigV4. */
  rawPath: string;
  rawQuery: string;
  virtualHosted: boolean;
}

/** Subresources that are S3 operations Sovra does not serve yet: answered NotImplemented. */
const PENDING_SUBRESOURCES = [
  'website',
  'logging',
  'replication',
  'requestPayment',
  'accelerate',
  'analytics',
  'inventory',
  'metrics',
  'intelligent-tiering',
  'ownershipControls',
  'publicAccessBlock',
  'restore',
  'select',
  'torrent',
  'attributes',
  'object-lambda',
];

/**
 * Splits a request into bucket, key and operation, for path-style (`/bucket/key`) and
 * virtual-hosted-style (`bucket.<domain>/key`) addressing
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html).
 */
export function routeS3Request(
  method: string,
  url: string,
  host: string | undefined,
  domains: readonly string[],
  hasCopySource: boolean,
  isForm = false,
): S3Route {
  const queryAt = url.indexOf('?');
  const rawPath = queryAt === -1 ? url : url.slice(0, queryAt);
  const rawQuery = queryAt === -1 ? '' : url.slice(queryAt + 1);
  if (!rawPath.startsWith('/')) throw s3Error('InvalidURI', 'Could not parse the specified URI.');
  const query = new URLSearchParams(rawQuery);
  const hostBucket = bucketFromHost(host, domains);
  let bucket: string | null;
  let key: string | null;
  if (hostBucket !== null) {
    bucket = hostBucket;
    key = rawPath.length > 1 ? decodePath(rawPath.slice(1)) : null;
  } else {
    const slash = rawPath.indexOf('/', 1);
    const bucketPart = slash === -1 ? rawPath.slice(1) : rawPath.slice(1, slash);
    bucket = bucketPart === '' ? null : decodePath(bucketPart);
    const keyPart = slash === -1 ? '' : rawPath.slice(slash + 1);
    key = keyPart === '' ? null : decodePath(keyPart);
  }
  const action = resolveAction(method, bucket, key, query, hasCopySource, isForm);
  return { action, bucket, key, query, rawPath, rawQuery, virtualHosted: hostBucket !== null };
}

/** Subresources served on a bucket only. */
const BUCKET_ONLY_SUBRESOURCES = ['policy', 'policyStatus'];

function bucketFromHost(host: string | undefined, domains: readonly string[]): string | null {
  if (host === undefined) return null;
  const hostname = host.replace(/:\d+$/, '').toLowerCase();
  for (const domain of domains) {
    if (hostname.length > domain.length + 1 && hostname.endsWith(`.${domain}`)) {
      return hostname.slice(0, hostname.length - domain.length - 1);
    }
  }
  return null;
}

function decodePath(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw s3Error('InvalidURI', 'Could not parse the specified URI.');
  }
}

function resolveAction(
  method: string,
  bucket: string | null,
  key: string | null,
  query: URLSearchParams,
  hasCopySource: boolean,
  isForm: boolean,
): S3Action {
  const pending =
    PENDING_SUBRESOURCES.find((name) => query.has(name)) ??
    // Bucket policies are served on buckets; on an object or the service they are no operation.
    (key !== null || bucket === null ? BUCKET_ONLY_SUBRESOURCES.find((name) => query.has(name)) : undefined);
  if (pending !== undefined) {
    throw s3Error('NotImplemented', `The ${pending} subresource is not implemented yet.`, {
      subresource: pending,
    });
  }
  if (bucket === null) {
    if (method === 'GET') return 'ListBuckets';
    throw s3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
  }
  if (key === null) return bucketAction(method, query, isForm);
  return objectAction(method, query, hasCopySource);
}

function bucketAction(method: string, query: URLSearchParams, isForm: boolean): S3Action {
  switch (method) {
    case 'GET':
      if (query.has('policyStatus')) return 'GetBucketPolicyStatus';
      if (query.has('policy')) return 'GetBucketPolicy';
      if (query.has('tagging')) return 'GetBucketTagging';
      if (query.has('cors')) return 'GetBucketCors';
      if (query.has('encryption')) return 'GetBucketEncryption';
      if (query.has('lifecycle')) return 'GetBucketLifecycleConfiguration';
      if (query.has('object-lock')) return 'GetObjectLockConfiguration';
      if (query.has('notification')) return 'GetBucketNotificationConfiguration';
      if (query.has('location')) return 'GetBucketLocation';
      if (query.has('versioning')) return 'GetBucketVersioning';
      if (query.has('acl')) return 'GetBucketAcl';
      if (query.has('versions')) return 'ListObjectVersions';
      if (query.has('uploads')) return 'ListMultipartUploads';
      if (query.get('list-type') === '2') return 'ListObjectsV2';
      return 'ListObjects';
    case 'HEAD':
      return 'HeadBucket';
    case 'PUT':
      if (query.has('policy')) return 'PutBucketPolicy';
      if (query.has('tagging')) return 'PutBucketTagging';
      if (query.has('cors')) return 'PutBucketCors';
      if (query.has('encryption')) return 'PutBucketEncryption';
      if (query.has('lifecycle')) return 'PutBucketLifecycleConfiguration';
      if (query.has('object-lock')) return 'PutObjectLockConfiguration';
      if (query.has('notification')) return 'PutBucketNotificationConfiguration';
      if (query.has('versioning')) return 'PutBucketVersioning';
      if (query.has('acl')) return 'PutBucketAcl';
      return 'CreateBucket';
    case 'DELETE':
      if (query.has('policy')) return 'DeleteBucketPolicy';
      if (query.has('tagging')) return 'DeleteBucketTagging';
      if (query.has('cors')) return 'DeleteBucketCors';
      if (query.has('encryption')) return 'DeleteBucketEncryption';
      if (query.has('lifecycle')) return 'DeleteBucketLifecycle';
      return 'DeleteBucket';
    case 'POST':
      if (query.has('delete')) return 'DeleteObjects';
      if (isForm) return 'PostObject';
      throw s3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
    default:
      throw s3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
  }
}

function objectAction(method: string, query: URLSearchParams, hasCopySource: boolean): S3Action {
  switch (method) {
    case 'GET':
      if (query.has('uploadId')) return 'ListParts';
      if (query.has('acl')) return 'GetObjectAcl';
      if (query.has('tagging')) return 'GetObjectTagging';
      if (query.has('retention')) return 'GetObjectRetention';
      if (query.has('legal-hold')) return 'GetObjectLegalHold';
      return 'GetObject';
    case 'HEAD':
      return 'HeadObject';
    case 'PUT':
      if (query.has('acl')) return 'PutObjectAcl';
      if (query.has('tagging')) return 'PutObjectTagging';
      if (query.has('retention')) return 'PutObjectRetention';
      if (query.has('legal-hold')) return 'PutObjectLegalHold';
      if (query.has('partNumber') || query.has('uploadId'))
        return hasCopySource ? 'UploadPartCopy' : 'UploadPart';
      return hasCopySource ? 'CopyObject' : 'PutObject';
    case 'DELETE':
      if (query.has('uploadId')) return 'AbortMultipartUpload';
      if (query.has('tagging')) return 'DeleteObjectTagging';
      return 'DeleteObject';
    case 'POST':
      if (query.has('uploads')) return 'CreateMultipartUpload';
      if (query.has('uploadId')) return 'CompleteMultipartUpload';
      throw s3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
    default:
      throw s3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
  }
}

/** The IAM action each operation is authorized as (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html). */
export const IAM_ACTION: Record<S3Action, string> = {
  ListBuckets: 's3:ListAllMyBuckets',
  CreateBucket: 's3:CreateBucket',
  HeadBucket: 's3:ListBucket',
  DeleteBucket: 's3:DeleteBucket',
  GetBucketLocation: 's3:GetBucketLocation',
  GetBucketVersioning: 's3:GetBucketVersioning',
  PutBucketVersioning: 's3:PutBucketVersioning',
  GetBucketAcl: 's3:GetBucketAcl',
  PutBucketAcl: 's3:PutBucketAcl',
  ListObjects: 's3:ListBucket',
  ListObjectsV2: 's3:ListBucket',
  ListObjectVersions: 's3:ListBucketVersions',
  ListMultipartUploads: 's3:ListBucketMultipartUploads',
  DeleteObjects: 's3:DeleteObject',
  PutObject: 's3:PutObject',
  CopyObject: 's3:PutObject',
  GetObject: 's3:GetObject',
  HeadObject: 's3:GetObject',
  DeleteObject: 's3:DeleteObject',
  GetObjectAcl: 's3:GetObjectAcl',
  PutObjectAcl: 's3:PutObjectAcl',
  CreateMultipartUpload: 's3:PutObject',
  UploadPart: 's3:PutObject',
  UploadPartCopy: 's3:PutObject',
  CompleteMultipartUpload: 's3:PutObject',
  AbortMultipartUpload: 's3:AbortMultipartUpload',
  ListParts: 's3:ListMultipartUploadParts',
  GetBucketTagging: 's3:GetBucketTagging',
  PutBucketTagging: 's3:PutBucketTagging',
  DeleteBucketTagging: 's3:PutBucketTagging',
  GetObjectTagging: 's3:GetObjectTagging',
  PutObjectTagging: 's3:PutObjectTagging',
  DeleteObjectTagging: 's3:DeleteObjectTagging',
  GetBucketCors: 's3:GetBucketCORS',
  PutBucketCors: 's3:PutBucketCORS',
  DeleteBucketCors: 's3:PutBucketCORS',
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucketEncryption.html: s3:PutEncryptionConfiguration
  GetBucketEncryption: 's3:GetEncryptionConfiguration',
  PutBucketEncryption: 's3:PutEncryptionConfiguration',
  DeleteBucketEncryption: 's3:PutEncryptionConfiguration',
  GetBucketLifecycleConfiguration: 's3:GetLifecycleConfiguration',
  PutBucketLifecycleConfiguration: 's3:PutLifecycleConfiguration',
  DeleteBucketLifecycle: 's3:PutLifecycleConfiguration',
  GetObjectLockConfiguration: 's3:GetBucketObjectLockConfiguration',
  PutObjectLockConfiguration: 's3:PutBucketObjectLockConfiguration',
  GetObjectRetention: 's3:GetObjectRetention',
  PutObjectRetention: 's3:PutObjectRetention',
  GetObjectLegalHold: 's3:GetObjectLegalHold',
  PutObjectLegalHold: 's3:PutObjectLegalHold',
  GetBucketNotificationConfiguration: 's3:GetBucketNotification',
  PutBucketNotificationConfiguration: 's3:PutBucketNotification',
  GetBucketPolicy: 's3:GetBucketPolicy',
  PutBucketPolicy: 's3:PutBucketPolicy',
  DeleteBucketPolicy: 's3:DeleteBucketPolicy',
  GetBucketPolicyStatus: 's3:GetBucketPolicyStatus',
  PostObject: 's3:PutObject',
};
