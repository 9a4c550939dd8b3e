/**
 * How a policy document's size is measured against its limit. AWS counts the document without
 * the whitespace between JSON tokens: IAM in characters ("IAM does not count white space when
 * calculating the size of a policy", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html),
 * S3 in bytes after removing unnecessary whitespace.
 */
export interface PolicySizeLimit {
  maxSize: number;
  unit: 'utf8Bytes' | 'characters';
}

/** Bucket policies are limited to 20 KB (https://docs.aws.amazon.com/AmazonS3/latest/userguide/add-bucket-policy.html). */
export const BUCKET_POLICY_SIZE_LIMIT: PolicySizeLimit = { maxSize: 20 * 1024, unit: 'utf8Bytes' };

/** Managed policies are limited to 6,144 characters (IAM and AWS STS quotas, "IAM and STS character limits"). */
export const IDENTITY_POLICY_SIZE_LIMIT: PolicySizeLimit = { maxSize: 6144, unit: 'characters' };

/** Key policies are limited to 32 KB (https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html). */
export const KEY_POLICY_SIZE_LIMIT: PolicySizeLimit = { maxSize: 32 * 1024, unit: 'utf8Bytes' };

/**
 * Sovra's own bound on the raw text handed to the parser, whitespace included, so that a
 * document padded with megabytes of blanks is refused before it is read.
 */
export const POLICY_TEXT_MAX_CHARS = 256 * 1024;

/** Nesting depth of JSON a policy may have; a real policy needs 5 (policy, Statement, Condition...). */
export const POLICY_JSON_MAX_DEPTH = 16;

/**
 * Distinct actions whose candidate statements one compiled policy remembers. Actions come from
 * Sovra's own route table (a few dozen), so the bound only matters against misuse.
 */
export const ACTION_INDEX_MAX_ENTRIES = 512;

/** Policy values (parsed ARNs of condition values) one request context remembers. */
export const REQUEST_CONTEXT_CACHE_MAX_ENTRIES = 256;
