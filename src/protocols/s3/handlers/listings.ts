import type { ObjectStore } from '../../../domain/storage/object-store.ts';
import type { MultipartUploads } from '../../../domain/storage/multipart-uploads.ts';
import type { BucketRecord, MultipartUpload, ObjectVersion } from '../../../domain/storage/types.ts';
import { LIMITS } from '../../../platform/limits.ts';
import { s3Error } from '../errors.ts';
import { sendXml, type S3Exchange } from '../exchange.ts';
import { parseNonNegativeInteger, quotedEtag } from '../object-headers.ts';
import type { S3ObjectLabels } from '../object-labels.ts';
import { renderXmlDocument, type XmlNode } from '../xml.ts';
import { ownerNode } from './buckets.ts';

/** With `encoding-type=url`, keys and prefixes are URL-encoded in the response (S3 encodes as for a query value). */
function encoderFor(query: URLSearchParams): (text: string) => string {
  const type = query.get('encoding-type');
  if (type === null) return (text) => text;
  if (type !== 'url')
    throw s3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', {
      argumentName: 'encoding-type',
    });
  return (text) => encodeURIComponent(text).replace(/%2F/g, '/');
}

function maxKeysOf(query: URLSearchParams, name = 'max-keys'): number {
  return Math.min(parseNonNegativeInteger(query.get(name), name, LIMITS.listMaxKeys), LIMITS.listMaxKeys);
}

function objectNode(version: ObjectVersion, encode: (t: string) => string, withOwner: boolean): XmlNode {
  const nodes: XmlNode[] = [
    ['Key', encode(version.key)],
    ['LastModified', version.lastModified.toISOString()],
    ['ETag', quotedEtag(version.etag)],
  ];
  if (version.checksum !== null) {
    nodes.push(['ChecksumAlgorithm', version.checksum.algorithm], ['ChecksumType', version.checksum.type]);
  }
  nodes.push(['Size', version.sizeBytes], ['StorageClass', 'STANDARD']);
  if (withOwner) nodes.push(ownerNode(version.ownerTenantId));
  return ['Contents', nodes];
}

/** The query parameters every listing shares (prefix, delimiter, page size, encoding). */
function listingQuery(q: URLSearchParams, maxName = 'max-keys') {
  return {
    encode: encoderFor(q),
    prefix: q.get('prefix') ?? '',
    delimiter: q.get('delimiter') ?? '',
    max: maxKeysOf(q, maxName),
    urlEncoded: q.get('encoding-type') !== null,
  };
}

/**
 * The entries of a page the caller may see: no read up through listings. An entry whose version
 * has a label of its own above the caller's clearance is left out, so a page may hold fewer
 * entries than asked for while IsTruncated is true; paging goes on from the last entry the
 * store returned, seen or not. Key names and common prefixes are the bucket's, at its label.
 */
async function readableEntries<T extends { classification: string | null }>(
  entries: readonly T[],
  readable: (entry: T) => Promise<boolean>,
): Promise<readonly T[]> {
  // Most pages have no entry with a label of its own: they pass as they are, with no decision.
  if (entries.every((entry) => entry.classification === null)) return entries;
  const kept: T[] = [];
  for (const entry of entries) if (await readable(entry)) kept.push(entry);
  return kept;
}

function commonPrefixNodes(prefixes: readonly string[], encode: (text: string) => string): XmlNode[] {
  return prefixes.map((p) => ['CommonPrefixes', [['Prefix', encode(p)]]]);
}

/** Continuation tokens are opaque to clients: the base64url of the last key or prefix returned. */
function encodeToken(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

function decodeToken(token: string): string {
  const key = Buffer.from(token, 'base64url').toString('utf8');
  if (token === '' || encodeToken(key) !== token) {
    throw s3Error('InvalidArgument', 'The continuation token provided is incorrect', {
      argumentName: 'continuation-token',
    });
  }
  return key;
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html */
export async function listObjectsV2(
  x: S3Exchange,
  objects: ObjectStore,
  bucket: BucketRecord,
  readable: (entry: ObjectVersion) => Promise<boolean>,
): Promise<void> {
  const q = x.route.query;
  const { encode, prefix, delimiter, max: maxKeys, urlEncoded } = listingQuery(q);
  const token = q.get('continuation-token');
  const startAfter = q.get('start-after') ?? '';
  const after = token !== null ? decodeToken(token) : startAfter;
  const page = await objects.listObjects(bucket.name, { prefix, delimiter, after, maxKeys });
  const listed = await readableEntries(page.objects, readable);
  const nodes: XmlNode[] = [
    ['Name', bucket.name],
    ['Prefix', encode(prefix)],
  ];
  if (delimiter !== '') nodes.push(['Delimiter', encode(delimiter)]);
  nodes.push(['MaxKeys', maxKeys]);
  if (urlEncoded) nodes.push(['EncodingType', 'url']);
  nodes.push(['KeyCount', listed.length + page.commonPrefixes.length], ['IsTruncated', page.isTruncated]);
  if (token !== null) nodes.push(['ContinuationToken', token]);
  if (page.isTruncated && page.lastReturned !== null)
    nodes.push(['NextContinuationToken', encodeToken(page.lastReturned)]);
  if (startAfter !== '') nodes.push(['StartAfter', encode(startAfter)]);
  const withOwner = q.get('fetch-owner') === 'true';
  for (const version of listed) nodes.push(objectNode(version, encode, withOwner));
  nodes.push(...commonPrefixNodes(page.commonPrefixes, encode));
  sendXml(x.res, 200, renderXmlDocument('ListBucketResult', nodes));
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjects.html */
export async function listObjectsV1(
  x: S3Exchange,
  objects: ObjectStore,
  bucket: BucketRecord,
  readable: (entry: ObjectVersion) => Promise<boolean>,
): Promise<void> {
  const q = x.route.query;
  const { encode, prefix, delimiter, max: maxKeys, urlEncoded } = listingQuery(q);
  const marker = q.get('marker') ?? '';
  const page = await objects.listObjects(bucket.name, { prefix, delimiter, after: marker, maxKeys });
  const listed = await readableEntries(page.objects, readable);
  const nodes: XmlNode[] = [
    ['Name', bucket.name],
    ['Prefix', encode(prefix)],
    ['Marker', encode(marker)],
  ];
  // NextMarker is returned only when a delimiter was given; otherwise clients use the last key,
  // which is not the last one the store returned when entries were left out: then it is sent.
  const leftOut = listed.length !== page.objects.length;
  if (page.isTruncated && (delimiter !== '' || leftOut) && page.lastReturned !== null)
    nodes.push(['NextMarker', encode(page.lastReturned)]);
  nodes.push(['MaxKeys', maxKeys]);
  if (delimiter !== '') nodes.push(['Delimiter', encode(delimiter)]);
  if (urlEncoded) nodes.push(['EncodingType', 'url']);
  nodes.push(['IsTruncated', page.isTruncated]);
  for (const version of listed) nodes.push(objectNode(version, encode, true));
  nodes.push(...commonPrefixNodes(page.commonPrefixes, encode));
  sendXml(x.res, 200, renderXmlDocument('ListBucketResult', nodes));
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html */
export async function listObjectVersions(
  x: S3Exchange,
  objects: ObjectStore,
  bucket: BucketRecord,
  readable: (entry: ObjectVersion) => Promise<boolean>,
): Promise<void> {
  const q = x.route.query;
  const { encode, prefix, delimiter, max: maxKeys, urlEncoded } = listingQuery(q);
  const keyMarker = q.get('key-marker') ?? '';
  const versionIdMarker = q.get('version-id-marker') ?? '';
  const page = await objects.listVersions(bucket.name, {
    prefix,
    delimiter,
    keyMarker,
    versionIdMarker,
    maxKeys,
  });
  const nodes: XmlNode[] = [
    ['Name', bucket.name],
    ['Prefix', encode(prefix)],
    ['KeyMarker', encode(keyMarker)],
    ['VersionIdMarker', versionIdMarker],
  ];
  const last = page.versions.at(-1);
  const lastPrefix = page.commonPrefixes.at(-1);
  if (page.isTruncated) {
    const lastKey = [last?.key, lastPrefix]
      .filter((k): k is string => k !== undefined)
      .sort(compareBytes)
      .at(-1);
    if (lastKey !== undefined) nodes.push(['NextKeyMarker', encode(lastKey)]);
    if (last !== undefined && last.key === lastKey) nodes.push(['NextVersionIdMarker', last.versionId]);
  }
  nodes.push(['MaxKeys', maxKeys]);
  if (delimiter !== '') nodes.push(['Delimiter', encode(delimiter)]);
  if (urlEncoded) nodes.push(['EncodingType', 'url']);
  nodes.push(['IsTruncated', page.isTruncated]);
  for (const v of await readableEntries(page.versions, readable)) {
    const common: XmlNode[] = [
      ['Key', encode(v.key)],
      ['VersionId', v.versionId],
      ['IsLatest', v.isLatest],
      ['LastModified', v.lastModified.toISOString()],
    ];
    if (v.isDeleteMarker) {
      nodes.push(['DeleteMarker', [...common, ownerNode(v.ownerTenantId)]]);
    } else {
      const fields: XmlNode[] = [...common, ['ETag', quotedEtag(v.etag)]];
      if (v.checksum !== null)
        fields.push(['ChecksumAlgorithm', v.checksum.algorithm], ['ChecksumType', v.checksum.type]);
      fields.push(['Size', v.sizeBytes], ['StorageClass', 'STANDARD'], ownerNode(v.ownerTenantId));
      nodes.push(['Version', fields]);
    }
  }
  nodes.push(...commonPrefixNodes(page.commonPrefixes, encode));
  sendXml(x.res, 200, renderXmlDocument('ListVersionsResult', nodes));
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html */
export async function listMultipartUploads(
  x: S3Exchange,
  uploads: MultipartUploads,
  bucket: BucketRecord,
  readable: (entry: MultipartUpload) => Promise<boolean>,
): Promise<void> {
  const q = x.route.query;
  const { encode, prefix, delimiter, max: maxUploads, urlEncoded } = listingQuery(q, 'max-uploads');
  const keyMarker = q.get('key-marker') ?? '';
  const uploadIdMarker = q.get('upload-id-marker') ?? '';
  const page = await uploads.listUploads(bucket.name, {
    prefix,
    delimiter,
    keyMarker,
    uploadIdMarker,
    maxUploads,
  });
  const nodes: XmlNode[] = [
    ['Bucket', bucket.name],
    ['KeyMarker', encode(keyMarker)],
    ['UploadIdMarker', uploadIdMarker],
  ];
  const last = page.uploads.at(-1);
  if (page.isTruncated && last !== undefined)
    nodes.push(['NextKeyMarker', encode(last.key)], ['NextUploadIdMarker', last.uploadId]);
  nodes.push(['Prefix', encode(prefix)]);
  if (delimiter !== '') nodes.push(['Delimiter', encode(delimiter)]);
  nodes.push(['MaxUploads', maxUploads]);
  if (urlEncoded) nodes.push(['EncodingType', 'url']);
  nodes.push(['IsTruncated', page.isTruncated]);
  for (const u of await readableEntries(page.uploads, readable)) {
    const fields: XmlNode[] = [
      ['Key', encode(u.key)],
      ['UploadId', u.uploadId],
      [
        'Initiator',
        [
          ['ID', u.initiatorPrincipalId],
          ['DisplayName', u.initiatorPrincipalId],
        ],
      ],
      ownerNode(u.ownerTenantId),
      ['StorageClass', 'STANDARD'],
      ['Initiated', u.initiatedAt.toISOString()],
    ];
    if (u.checksumAlgorithm !== null) fields.push(['ChecksumAlgorithm', u.checksumAlgorithm]);
    nodes.push(['Upload', fields]);
  }
  nodes.push(...commonPrefixNodes(page.commonPrefixes, encode));
  sendXml(x.res, 200, renderXmlDocument('ListMultipartUploadsResult', nodes));
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListParts.html */
export async function listParts(
  x: S3Exchange,
  uploads: MultipartUploads,
  bucket: BucketRecord,
  labels: S3ObjectLabels,
): Promise<void> {
  const q = x.route.query;
  const uploadId = q.get('uploadId') ?? '';
  const marker = parseNonNegativeInteger(q.get('part-number-marker'), 'part-number-marker', 0);
  const maxParts = maxKeysOf(q, 'max-parts');
  const { upload, parts, isTruncated } = await uploads.listParts(
    bucket.name,
    x.route.key!,
    uploadId,
    marker,
    maxParts,
  );
  await labels.admit(x, 's3:ListMultipartUploadParts', bucket, upload);
  const nodes: XmlNode[] = [
    ['Bucket', bucket.name],
    ['Key', x.route.key!],
    ['UploadId', uploadId],
    [
      'Initiator',
      [
        ['ID', upload.initiatorPrincipalId],
        ['DisplayName', upload.initiatorPrincipalId],
      ],
    ],
    ownerNode(upload.ownerTenantId),
    ['StorageClass', 'STANDARD'],
    ['PartNumberMarker', marker],
  ];
  if (isTruncated) nodes.push(['NextPartNumberMarker', parts.at(-1)?.partNumber ?? marker]);
  nodes.push(['MaxParts', maxParts], ['IsTruncated', isTruncated]);
  if (upload.checksumAlgorithm !== null) nodes.push(['ChecksumAlgorithm', upload.checksumAlgorithm]);
  if (upload.checksumType !== null) nodes.push(['ChecksumType', upload.checksumType]);
  for (const part of parts) {
    const fields: XmlNode[] = [
      ['PartNumber', part.partNumber],
      ['LastModified', part.lastModified.toISOString()],
      ['ETag', quotedEtag(part.etag)],
      ['Size', part.sizeBytes],
    ];
    if (part.checksum !== null) fields.push([`Checksum${part.checksum.algorithm}`, part.checksum.value]);
    nodes.push(['Part', fields]);
  }
  sendXml(x.res, 200, renderXmlDocument('ListPartsResult', nodes));
}
