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
 * Validates a tag list and returns it as a key → value map: at most LIMITS.objectTagsMax (objects)
 * or LIMITS.bucketTagsMax (buckets) tags, unique keys of 1..128 characters, values of 0..256,
 * no `aws:` prefix (reserved). Every violation is InvalidTag.
 */
export function validatedTagSet(tags: readonly Tag[], target: TagTarget): Record<string, string> {
  const max = target === 'object' ? LIMITS.objectTagsMax : LIMITS.bucketTagsMax;
  if (tags.length > max) {
    throw storageError(
      'InvalidTag',
      `${target === 'object' ? 'Object' : 'Bucket'} tags cannot be greater than ${max}`,
    );
  }
  const set: Record<string, string> = {};
  for (const { key, value } of tags) {
    if (Object.hasOwn(set, key))
      throw storageError('InvalidTag', 'Cannot provide multiple Tags with the same key');
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

  /** A bucket never tagged (or whose tags were deleted) has no tag set: NoSuchTagSet. */
  async getBucketTags(bucket: BucketRecord): Promise<Tag[]> {
    const stored = await this.#metadata.getBucketConfig(bucket.name, 'tagging');
    if (stored === null) throw storageError('NoSuchTagSet', 'The TagSet does not exist');
    return decodeBucketTagging(stored.document);
  }

  /** Replaces the bucket's tags; an empty set removes them. */
  async putBucketTags(bucketName: string, tags: readonly Tag[]): Promise<void> {
    const set = validatedTagSet(tags, 'bucket');
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

  /** Replaces one version's tag set; tags are not versioned content, so no new version is made. */
  async putObjectTags(
    bucket: string,
    key: string,
    versionId: string | null,
    tags: readonly Tag[],
  ): Promise<ObjectVersion> {
    const set = validatedTagSet(tags, 'object');
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
