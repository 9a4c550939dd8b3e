import type { OutgoingHttpHeaders } from 'node:http';
import { hasReservedTag, NO_RESERVED_TAGS, tagList, type Tag } from '../../../domain/storage/tagging.ts';
import type { BucketRecord, ObjectVersion } from '../../../domain/storage/types.ts';
import { LIMITS } from '../../../platform/limits.ts';
import { s3Error } from '../errors.ts';
import { readBodyText, sendEmpty, sendXml, type S3Exchange } from '../exchange.ts';
import type { S3ObjectLabels } from '../object-labels.ts';
import type { S3Services } from '../s3-endpoint.ts';
import { parseXmlBody, renderXmlDocument, xmlList, xmlObject, xmlText, type XmlNode } from '../xml.ts';
import { showsVersionIds } from './objects.ts';

/**
 * Bucket and object tagging (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-tagging.html).
 * The bucket's or object's label is answered after its own tags as the reserved, read-only tags
 * `sovra:classification` and `sovra:compartments`, as AWS reserves `aws:`; a write may send them
 * back unchanged, which stores nothing, and no other `sovra:` tag
 * (docs/reference/classification.md "Labels as tags").
 */

/**
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketTagging.html; the label tags only
 * for a caller who may read the label (GetBucketTagging itself needs no clearance). A bucket
 * answers NoSuchTagSet only when it has neither tags nor label tags for this caller.
 */
export async function getBucketTagging(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
  labels: S3ObjectLabels,
): Promise<void> {
  const labelTags = (await labels.mayReadLabel(x, bucket, BUCKET_LABEL))
    ? labels.labelTags(bucket, BUCKET_LABEL)
    : [];
  sendXml(x.res, 200, renderTagging(await services.tagging.getBucketTags(bucket, labelTags)));
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketTagging.html */
export async function putBucketTagging(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
  labels: S3ObjectLabels,
): Promise<void> {
  const tags = await readTagging(x);
  const reserved = hasReservedTag(tags)
    ? await labels.echoableLabelTags(x, bucket, BUCKET_LABEL)
    : NO_RESERVED_TAGS;
  await services.tagging.putBucketTags(bucket.name, tags, reserved);
  sendEmpty(x.res, 204);
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucketTagging.html */
export async function deleteBucketTagging(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
): Promise<void> {
  await services.tagging.deleteBucketTags(bucket.name);
  sendEmpty(x.res, 204);
}

/**
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectTagging.html; a version with a
 * label of its own is admitted (no read up) before its tags are answered.
 */
export async function getObjectTagging(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
  labels: S3ObjectLabels,
): Promise<void> {
  const versionId = x.route.query.get('versionId');
  const version = await services.tagging.getObjectTags(bucket.name, x.route.key!, versionId);
  await labels.admit(
    x,
    's3:GetObjectTagging',
    bucket,
    version,
    versionId === null ? undefined : { versionId },
  );
  // Admitted above: the caller may read the label it is answered as tags and headers.
  const tags = [...tagList(version.tags), ...labels.labelTags(bucket, version)];
  sendXml(x.res, 200, renderTagging(tags), {
    ...versionIdHeader(x, bucket, version),
    ...labels.responseHeaders(bucket, version),
  });
}

/**
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectTagging.html. Only a request
 * sending reserved tags reads the version's label first. Should a new latest version arrive in
 * between, that read decides only whether tags that are never stored are accepted.
 */
export async function putObjectTagging(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
  labels: S3ObjectLabels,
): Promise<void> {
  const tags = await readTagging(x);
  const versionId = x.route.query.get('versionId');
  const reserved = hasReservedTag(tags)
    ? await labels.echoableLabelTags(
        x,
        bucket,
        await services.tagging.getObjectTags(bucket.name, x.route.key!, versionId),
      )
    : NO_RESERVED_TAGS;
  const version = await services.tagging.putObjectTags(bucket.name, x.route.key!, versionId, tags, reserved);
  sendEmpty(x.res, 200, versionIdHeader(x, bucket, version));
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjectTagging.html */
export async function deleteObjectTagging(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
): Promise<void> {
  const version = await services.tagging.deleteObjectTags(
    bucket.name,
    x.route.key!,
    x.route.query.get('versionId'),
  );
  sendEmpty(x.res, 204, versionIdHeader(x, bucket, version));
}

/** A bucket's own label: no object, no label of an object's own. */
const BUCKET_LABEL = Object.freeze({ key: null, classification: null });

function versionIdHeader(x: S3Exchange, bucket: BucketRecord, version: ObjectVersion): OutgoingHttpHeaders {
  return showsVersionIds(bucket) || x.route.query.get('versionId') !== null
    ? { 'x-amz-version-id': version.versionId }
    : {};
}

function renderTagging(tags: readonly Tag[]): string {
  const nodes: XmlNode[] = tags.map((tag) => [
    'Tag',
    [
      ['Key', tag.key],
      ['Value', tag.value],
    ],
  ]);
  return renderXmlDocument('Tagging', [['TagSet', nodes]]);
}

/**
 * <Tagging><TagSet><Tag><Key/><Value/></Tag>…</TagSet></Tagging>: a missing TagSet, Key or Value
 * is MalformedXML; the limits on the tags themselves are the domain's (InvalidTag).
 */
async function readTagging(x: S3Exchange): Promise<Tag[]> {
  const doc = parseXmlBody(await readBodyText(x.body, LIMITS.xmlBodyMaxBytes), 'Tagging');
  if (doc.TagSet === undefined) throw s3Error('MalformedXML', 'The Tagging document must hold a TagSet.');
  const tagSet = xmlObject(doc.TagSet);
  const tags: Tag[] = [];
  for (const entry of xmlList(tagSet?.Tag)) {
    const tag = xmlObject(entry);
    const key = xmlText(tag?.Key);
    const value = tag?.Value === undefined ? undefined : (xmlText(tag.Value) ?? '');
    if (key === undefined || value === undefined) {
      throw s3Error('MalformedXML', 'Each Tag must hold a Key and a Value.');
    }
    tags.push({ key, value });
  }
  return tags;
}
