import type { Clock } from '../../platform/clock.ts';
import { LIMITS } from '../../platform/limits.ts';
import { storageError } from './errors.ts';
import type { ObjectStore } from './object-store.ts';
import type { MetadataStore } from './ports.ts';
import type { BucketRecord, ObjectVersion } from './types.ts';
import { versionForSubresource } from './version-subresources.ts';

/**
 * Bucket and object tagging (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-tagging.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/tagging-managing.html). Object tags live on
 * each version; bucket tags are a bucket_configs document (kind 'tagging').
 */

export interface Tag {
  key: string;
  value: string;
}

export type TagTarget = 'object' | 'bucket';

/** Version of the JSON document stored for bucket tags. */
export const BUCKET_TAGGING_FORMAT = 1;

/**
 * Tag characters S3 accepts: Unicode letters, digits and spaces, and `+ - = . _ : / @`
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_Tag.html refers to the AWS tag rules).
 */
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/**
 * Tag keys Sovra answers itself and never stores, as AWS reserves `aws:`: the target's label as
 * `sovra:classification` and `sovra:compartments` (docs/reference/classification.md "Labels as
 * tags"). Matched without regard to case, as AWS matches `aws:`.
 */
export const RESERVED_TAG_PREFIX = 'sovra:';

/**
 * The reserved tags a write may send back and have ignored: its target's label, as GetObjectTagging
 * or GetBucketTagging answers it, when the caller may read that label; none otherwise.
 */
export type ReservedTags = Readonly<Record<string, string>>;

export const NO_RESERVED_TAGS: ReservedTags = Object.freeze({});

const RESERVED_TAG_MESSAGE =
  'tag keys starting with sovra: are reserved; labels are set with x-sovra-classification';

export function isReservedTagKey(key: string): boolean {
  return key.slice(0, RESERVED_TAG_PREFIX.length).toLowerCase() === RESERVED_TAG_PREFIX;
}

/** Whether a tag list holds a reserved key: only then does a write need its target's label. */
export function hasReservedTag(tags: readonly Tag[]): boolean {
  return tags.some((tag) => isReservedTagKey(tag.key));
}

/**
 * Validates a tag list and returns the tags to store as a key → value map: at most
 * LIMITS.objectTagsMax (objects) or LIMITS.bucketTagsMax (buckets) tags, unique keys of 1..128
 * characters, values of 0..256, no `aws:` prefix (reserved). A `sovra:` tag equal to one of
 * `reserved` is left out and not counted, so that clients copying back a tag set they read keep
 * working; any other `sovra:` tag is refused. Every violation is InvalidTag.
 */
export function validatedTagSet(
  tags: readonly Tag[],
  target: TagTarget,
  reserved: ReservedTags,
): Record<string, string> {
  const max = target === 'object' ? LIMITS.objectTagsMax : LIMITS.bucketTagsMax;
  if (tags.filter((tag) => !isReservedTagKey(tag.key)).length > max) {
    throw storageError(
      'InvalidTag',
      `${target === 'object' ? 'Object' : 'Bucket'} tags cannot be greater than ${max}`,
    );
  }
  const set: Record<string, string> = {};
  const echoed = new Set<string>();
  for (const { key, value } of tags) {
    if (Object.hasOwn(set, key) || echoed.has(key))
      throw storageError('InvalidTag', 'Cannot provide multiple Tags with the same key');
    if (isReservedTagKey(key)) {
      if (!Object.hasOwn(reserved, key) || reserved[key] !== value)
        throw storageError('InvalidTag', RESERVED_TAG_MESSAGE);
      echoed.add(key);
      continue;
    }
    const keyChars = [...key].length;
    if (keyChars === 0 || keyChars > LIMITS.tagKeyMaxChars) {
      throw storageError(
        'InvalidTag',
        `The TagKey you have provided is invalid: 1 to ${LIMITS.tagKeyMaxChars} characters`,
      );
    }
    if ([...value].length > LIMITS.tagValueMaxChars) {
      throw storageError(
        'InvalidTag',
        `The TagValue you have provided is too long, max ${LIMITS.tagValueMaxChars}`,
      );
    }
    if (!TAG_TEXT.test(key)) throw storageError('InvalidTag', 'The TagKey you have provided is invalid');
    if (!TAG_TEXT.test(value)) throw storageError('InvalidTag', 'The TagValue you have provided is invalid');
    if (key.toLowerCase().startsWith('aws:')) {
      throw storageError('InvalidTag', 'Your TagKey cannot be prefixed with aws:');
    }
    // defineProperty, so that a key such as `__proto__` is an ordinary tag.
    Object.defineProperty(set, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return set;
}

/** Object tags as S3 returns them: in the order they were set. */
export function tagList(tags: Record<string, string>): Tag[] {
  return Object.entries(tags).map(([key, value]) => ({ key, value }));
}

export class Tagging {
  readonly #metadata: MetadataStore;
  readonly #objects: ObjectStore;
  readonly #clock: Clock;

  constructor(options: { metadata: MetadataStore; objects: ObjectStore; clock: Clock }) {
    this.#metadata = options.metadata;
    this.#objects = options.objects;
    this.#clock = options.clock;
  }

  /**
   * The bucket's tags, then `labelTags` (its label, as reserved tags, when the caller may read
   * it). Only a bucket without tags of either kind has no tag set: NoSuchTagSet.
   */
  async getBucketTags(bucket: BucketRecord, labelTags: readonly Tag[]): Promise<Tag[]> {
    const stored = await this.#metadata.getBucketConfig(bucket.name, 'tagging');
    const tags = stored === null ? [] : decodeBucketTagging(stored.document);
    if (tags.length === 0 && labelTags.length === 0)
      throw storageError('NoSuchTagSet', 'The TagSet does not exist');
    return [...tags, ...labelTags];
  }

  /** Replaces the bucket's tags; an empty set removes them. Reserved tags are never stored. */
  async putBucketTags(bucketName: string, tags: readonly Tag[], reserved: ReservedTags): Promise<void> {
    const set = validatedTagSet(tags, 'bucket', reserved);
    await this.#metadata.transaction(async (tx) => {
      if ((await tx.getBucket(bucketName)) === null)
        throw storageError('BucketNotFound', 'The specified bucket does not exist', { name: bucketName });
      if (Object.keys(set).length === 0) {
        await tx.deleteBucketConfig(bucketName, 'tagging');
        return;
      }
      await tx.putBucketConfig({
        bucket: bucketName,
        kind: 'tagging',
        document: JSON.stringify({ format: BUCKET_TAGGING_FORMAT, tags: set }),
        updatedAt: this.#clock.now(),
      });
    });
  }

  async deleteBucketTags(bucketName: string): Promise<void> {
    await this.#metadata.transaction(async (tx) => {
      if ((await tx.getBucket(bucketName)) === null)
        throw storageError('BucketNotFound', 'The specified bucket does not exist', { name: bucketName });
      await tx.deleteBucketConfig(bucketName, 'tagging');
    });
  }

  /** The tags of one version (the latest without a version id); an untagged version has none. */
  getObjectTags(bucket: string, key: string, versionId: string | null): Promise<ObjectVersion> {
    return this.#objects.getObjectVersion(bucket, key, versionId);
  }

  /**
   * Replaces one version's tag set; tags are not versioned content, so no new version is made.
   * Reserved tags are never stored.
   */
  async putObjectTags(
    bucket: string,
    key: string,
    versionId: string | null,
    tags: readonly Tag[],
    reserved: ReservedTags,
  ): Promise<ObjectVersion> {
    const set = validatedTagSet(tags, 'object', reserved);
    return this.#setObjectTags(bucket, key, versionId, set);
  }

  deleteObjectTags(bucket: string, key: string, versionId: string | null): Promise<ObjectVersion> {
    return this.#setObjectTags(bucket, key, versionId, {});
  }

  #setObjectTags(
    bucket: string,
    key: string,
    versionId: string | null,
    tags: Record<string, string>,
  ): Promise<ObjectVersion> {
    return this.#metadata.transaction(async (tx) => {
      const version = await versionForSubresource(tx, bucket, key, versionId);
      await tx.setVersionTags(bucket, key, version.versionId, tags);
      return { ...version, tags };
    });
  }
}

function decodeBucketTagging(document: string): Tag[] {
  const parsed = JSON.parse(document) as unknown;
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    !('format' in parsed) ||
    parsed.format !== BUCKET_TAGGING_FORMAT ||
    !('tags' in parsed) ||
    typeof parsed.tags !== 'object' ||
    parsed.tags === null
  ) {
    throw new Error('bucket tagging document is malformed or of an unknown format');
  }
  return Object.entries(parsed.tags).map(([key, value]) => {
    if (typeof value !== 'string') throw new Error('bucket tagging document holds a non-string value');
    return { key, value };
  });
}
