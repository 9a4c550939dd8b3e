import type { Clock } from '../../platform/clock.ts';
import { isSovraError } from '../../platform/errors.ts';
import {
  BUCKET_POLICY_SIZE_LIMIT,
  isPublicPolicy,
  parsePolicy,
  PolicyError,
  type CompiledPolicy,
  type LabeledPolicy,
} from './policy/index.ts';

/**
 * S3 bucket policies (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html):
 * resource policies in the IAM policy language, at most 20 KB, every Resource inside the bucket
 * they are attached to. Stored as the bucket's `policy` document in bucket_configs, read on the
 * request path through a short cache of compiled policies.
 */

/** Version of the stored document `{"format": 1, "policy": "<the text as put>"}`. */
export const BUCKET_POLICY_DOCUMENT_FORMAT = 1;
/** Another gateway's change is seen within this time (as LIMITS.bucketCacheTtlMs for bucket records). */
export const BUCKET_POLICY_CACHE_TTL_MS = 1_000;
/** Buckets whose compiled policy (or absence of one) is remembered; the cache is emptied when full. */
export const BUCKET_POLICY_CACHE_ENTRIES = 10_000;

/** Where bucket policy documents live (ObjectStore fits). */
export interface BucketPolicyStore {
  getBucketConfig(bucket: string, kind: 'policy'): Promise<{ document: string } | null>;
}

/** A bucket's policy as the request path uses it. */
export interface BucketPolicyEntry {
  readonly bucket: string;
  readonly text: string;
  readonly policy: CompiledPolicy;
  /** The policy as `resourcePolicies` of a policy set, built once. */
  readonly resourcePolicies: readonly LabeledPolicy[];
  /** GetBucketPolicyStatus's IsPublic (isPublicPolicy). */
  readonly isPublic: boolean;
  /** Some condition reads s3:ExistingObjectTag/…: only then are object tags fetched for a request. */
  readonly readsExistingObjectTags: boolean;
}

/**
 * Parses a bucket policy for `bucket`: PolicyError MalformedPolicy (the message starts with the
 * path of the offending element) or PolicyTooLarge, as parsePolicy; and MalformedPolicy "Policy
 * has invalid resource" when a Resource or NotResource names anything but this bucket or objects
 * in it, as S3 refuses "statements that refer to other buckets or resources in other buckets"
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-bucket-policies.html).
 */
export function parseBucketPolicy(text: string, bucket: string): CompiledPolicy {
  const policy = parsePolicy(text, { kind: 'resource', sizeLimit: BUCKET_POLICY_SIZE_LIMIT });
  const bucketArn = `arn:aws:s3:::${bucket}`;
  for (const statement of policy.document.statements) {
    const element = statement.resource.negated ? 'NotResource' : 'Resource';
    for (const resource of statement.resource.values) {
      if (resource !== bucketArn && !resource.startsWith(`${bucketArn}/`)) {
        throw new PolicyError(
          'MalformedPolicy',
          `${statement.path}.${element}: Policy has invalid resource ${JSON.stringify(resource.slice(0, 256))}; a policy of bucket ${bucket} names only ${bucketArn} and ${bucketArn}/…`,
          { path: `${statement.path}.${element}` },
        );
      }
    }
  }
  return policy;
}

export function encodeBucketPolicyDocument(text: string): string {
  return JSON.stringify({ format: BUCKET_POLICY_DOCUMENT_FORMAT, policy: text });
}

/**
 * The policy text of a stored document. A document this code did not write is corrupt data, an
 * internal error (never the client's fault), so it fails with a plain Error.
 */
export function decodeBucketPolicyDocument(document: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(document);
  } catch {
    throw new Error('the stored bucket policy document is not JSON');
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    !('format' in parsed) ||
    !('policy' in parsed) ||
    parsed.format !== BUCKET_POLICY_DOCUMENT_FORMAT ||
    typeof parsed.policy !== 'string'
  ) {
    throw new Error(`the stored bucket policy document is not format ${BUCKET_POLICY_DOCUMENT_FORMAT}`);
  }
  return parsed.policy;
}

/** The label explain output and denial records give a bucket's policy. */
export function bucketPolicyLabel(bucket: string): string {
  return `bucket policy of ${bucket}`;
}

/** Compiles a stored policy into the entry the request path uses. */
export function bucketPolicyEntry(bucket: string, text: string): BucketPolicyEntry {
  const policy = parseBucketPolicy(text, bucket);
  return {
    bucket,
    text,
    policy,
    resourcePolicies: Object.freeze([{ label: bucketPolicyLabel(bucket), policy }]),
    isPublic: isPublicPolicy(policy),
    readsExistingObjectTags: readsExistingObjectTags(policy),
  };
}

/** Whether a policy has a condition on s3:ExistingObjectTag/<key>. */
export function readsExistingObjectTags(policy: CompiledPolicy): boolean {
  return policy.document.statements.some((statement) =>
    statement.conditions.some((condition) => condition.key.toLowerCase().startsWith('s3:existingobjecttag/')),
  );
}

/**
 * Compiled bucket policies per bucket, re-read at most every BUCKET_POLICY_CACHE_TTL_MS; a bucket
 * without a policy is remembered too, so the request path reads the store about once a second
 * per bucket. Changes through this gateway call `forget`.
 */
export class BucketPolicyCache {
  readonly #store: BucketPolicyStore;
  readonly #clock: Clock;
  readonly #entries = new Map<string, { entry: BucketPolicyEntry | null; expiresAtMs: number }>();

  constructor(options: { store: BucketPolicyStore; clock: Clock }) {
    this.#store = options.store;
    this.#clock = options.clock;
  }

  /** The cached entry (null: the bucket has no policy), or undefined when it must be loaded. */
  cached(bucket: string): BucketPolicyEntry | null | undefined {
    const hit = this.#entries.get(bucket);
    if (hit === undefined || hit.expiresAtMs <= this.#clock.nowMs()) return undefined;
    return hit.entry;
  }

  async load(bucket: string): Promise<BucketPolicyEntry | null> {
    const stored = await this.#storedDocument(bucket);
    const entry = stored === null ? null : storedEntry(bucket, stored.document);
    if (this.#entries.size >= BUCKET_POLICY_CACHE_ENTRIES) this.#entries.clear();
    this.#entries.set(bucket, { entry, expiresAtMs: this.#clock.nowMs() + BUCKET_POLICY_CACHE_TTL_MS });
    return entry;
  }

  /** The entry, from the cache when fresh. */
  lookup(bucket: string): Promise<BucketPolicyEntry | null> {
    const hit = this.cached(bucket);
    return hit === undefined ? this.load(bucket) : Promise.resolve(hit);
  }

  forget(bucket: string): void {
    this.#entries.delete(bucket);
  }

  /** A bucket that does not exist (yet: CreateBucket is authorized on it) has no policy. */
  async #storedDocument(bucket: string): Promise<{ document: string } | null> {
    try {
      return await this.#store.getBucketConfig(bucket, 'policy');
    } catch (error) {
      if (isSovraError(error) && error.code === 'BucketNotFound') return null;
      throw error;
    }
  }
}

/**
 * A stored policy passed parseBucketPolicy when it was put; one that no longer does (corrupt
 * data, a stricter parser) is an internal error, never the MalformedPolicy of a client's request,
 * and the bucket's requests fail closed until the policy is replaced or deleted.
 */
function storedEntry(bucket: string, document: string): BucketPolicyEntry {
  try {
    return bucketPolicyEntry(bucket, decodeBucketPolicyDocument(document));
  } catch (error) {
    throw new Error(`the stored policy of bucket ${bucket} cannot be read`, { cause: error });
  }
}
