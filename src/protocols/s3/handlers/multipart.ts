import type { OutgoingHttpHeaders } from 'node:http';
import type { Authorizer } from '../../../domain/iam/authorizer.ts';
import type { CompletedPartClaim, MultipartUploads } from '../../../domain/storage/multipart-uploads.ts';
import type { ObjectStore } from '../../../domain/storage/object-store.ts';
import type { BucketRecord } from '../../../domain/storage/types.ts';
import { LIMITS } from '../../../platform/limits.ts';
import {
  COPY_SOURCE_CUSTOMER_KEY_PREFIX,
  CUSTOMER_KEY_PREFIX,
  encryptionHeaders,
  readCustomerKey,
  readEncryptionRequest,
} from '../encryption-headers.ts';
import { s3Error } from '../errors.ts';
import { readBodyText, sendEmpty, sendXml, type S3Exchange } from '../exchange.ts';
import {
  header,
  parseNonNegativeInteger,
  quotedEtag,
  readChecksumAlgorithmName,
  readContentMd5,
  readRange,
  readReadConditions,
  readSystemMetadata,
  readUserMetadata,
  readWriteConditions,
} from '../object-headers.ts';
import type { ObjectLabelWrite, S3ObjectLabels } from '../object-labels.ts';
import { parseXmlBody, renderXmlDocument, xmlList, xmlObject, xmlText, type XmlNode } from '../xml.ts';
import { readObjectLockHeaders } from './object-lock.ts';
import { authorizeCopySource, checkCannedAcl, readCopySource, showsVersionIds } from './objects.ts';

/**
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html; `label` is what
 * the label headers asked for (null: the bucket's), kept on the upload until it completes.
 */
export async function createMultipartUpload(
  x: S3Exchange,
  uploads: MultipartUploads,
  bucket: BucketRecord,
  label: ObjectLabelWrite | null,
  labels: S3ObjectLabels,
): Promise<void> {
  checkCannedAcl(x);
  const checksumAlgorithm = readChecksumAlgorithmName(
    header(x.req.headers, 'x-amz-checksum-algorithm'),
    'x-amz-checksum-algorithm',
  );
  const typeHeader = header(x.req.headers, 'x-amz-checksum-type');
  if (typeHeader !== undefined && typeHeader !== 'COMPOSITE' && typeHeader !== 'FULL_OBJECT') {
    throw s3Error('InvalidRequest', 'Value for x-amz-checksum-type header is invalid.');
  }
  const encryption = readEncryptionRequest(x.req);
  const tags = await labels.requestTagSet(x, x.req.headers, bucket, x.route.key!, label);
  const upload = await uploads.create({
    caller: x.caller,
    bucket: bucket.name,
    key: x.route.key!,
    system: readSystemMetadata(x.req.headers),
    userMetadata: readUserMetadata(x.req.headers),
    tags: tags ?? {},
    checksumAlgorithm,
    checksumType: typeHeader ?? null,
    objectLock: readObjectLockHeaders(x.req.headers),
    encryption: encryption.request,
    keyUse: x.keyUse,
    classification: label?.stored ?? null,
  });
  const headers: OutgoingHttpHeaders = {
    ...encryptionHeaders(upload.encryption, encryption.customerKey),
    ...label?.responseHeaders,
  };
  if (upload.checksumAlgorithm !== null) {
    headers['x-amz-checksum-algorithm'] = upload.checksumAlgorithm;
    headers['x-amz-checksum-type'] = upload.checksumType ?? 'COMPOSITE';
  }
  sendXml(
    x.res,
    200,
    renderXmlDocument('InitiateMultipartUploadResult', [
      ['Bucket', bucket.name],
      ['Key', upload.key],
      ['UploadId', upload.uploadId],
    ]),
    headers,
  );
}

function partNumberOf(x: S3Exchange): number {
  const value = x.route.query.get('partNumber');
  if (value === null)
    throw s3Error('InvalidArgument', 'Part number must be specified', { argumentName: 'partNumber' });
  return parseNonNegativeInteger(value, 'partNumber', 0);
}

function uploadIdOf(x: S3Exchange): string {
  const uploadId = x.route.query.get('uploadId');
  if (uploadId === null || uploadId === '')
    throw s3Error('InvalidArgument', 'Upload id must be specified', { argumentName: 'uploadId' });
  return uploadId;
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPart.html */
export async function uploadPart(
  x: S3Exchange,
  uploads: MultipartUploads,
  bucket: BucketRecord,
): Promise<void> {
  const customerKey = readCustomerKey(x.req, CUSTOMER_KEY_PREFIX);
  const part = await uploads.uploadPart({
    bucket: bucket.name,
    key: x.route.key!,
    uploadId: uploadIdOf(x),
    partNumber: partNumberOf(x),
    body: x.body,
    declaredBytes: x.declaredBytes,
    contentMd5: readContentMd5(x.req.headers),
    checksum: x.checksumClaim,
    customerKey: customerKey?.key ?? null,
    keyUse: x.keyUse,
  });
  const headers: OutgoingHttpHeaders = {
    etag: quotedEtag(part.etag),
    ...encryptionHeaders(part.encryption, customerKey),
  };
  if (part.checksum !== null)
    headers[`x-amz-checksum-${part.checksum.algorithm.toLowerCase()}`] = part.checksum.value;
  sendEmpty(x.res, 200, headers);
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPartCopy.html */
export async function uploadPartCopy(
  x: S3Exchange,
  uploads: MultipartUploads,
  objects: ObjectStore,
  authorizer: Authorizer,
  bucket: BucketRecord,
): Promise<void> {
  const source = readCopySource(header(x.req.headers, 'x-amz-copy-source')!);
  const admitSource = await authorizeCopySource(x, objects, authorizer, source, bucket);
  const sourceVersion = await objects.getObjectVersion(source.bucket, source.key, source.versionId);
  // Before the range is checked against the source's size: nothing about a source above the
  // caller's clearance, nor its data, may reach a bucket below its label.
  await admitSource(sourceVersion);
  const rangeHeader = header(x.req.headers, 'x-amz-copy-source-range');
  const range = readRange(rangeHeader);
  if (rangeHeader !== undefined && (range === null || range.kind !== 'bounded')) {
    throw s3Error(
      'InvalidArgument',
      'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
      {
        argumentName: 'x-amz-copy-source-range',
      },
    );
  }
  if (range !== null && range.kind === 'bounded' && range.last >= sourceVersion.sizeBytes) {
    throw s3Error(
      'InvalidArgument',
      `Range specified is not valid for source object of size: ${sourceVersion.sizeBytes}`,
      {
        argumentName: 'x-amz-copy-source-range',
      },
    );
  }
  const customerKey = readCustomerKey(x.req, CUSTOMER_KEY_PREFIX);
  const part = await uploads.uploadPartCopy({
    bucket: bucket.name,
    key: x.route.key!,
    uploadId: uploadIdOf(x),
    partNumber: partNumberOf(x),
    source: sourceVersion,
    sourceConditions: readReadConditions(x.req.headers, 'x-amz-copy-source-'),
    range,
    customerKey: customerKey?.key ?? null,
    sourceCustomerKey: readCustomerKey(x.req, COPY_SOURCE_CUSTOMER_KEY_PREFIX)?.key ?? null,
    keyUse: x.keyUse,
  });
  const headers: OutgoingHttpHeaders = encryptionHeaders(part.encryption, customerKey);
  if (sourceVersion.versionId !== 'null') headers['x-amz-copy-source-version-id'] = sourceVersion.versionId;
  const result: XmlNode[] = [
    ['ETag', quotedEtag(part.etag)],
    ['LastModified', part.lastModified.toISOString()],
  ];
  if (part.checksum !== null) result.push([`Checksum${part.checksum.algorithm}`, part.checksum.value]);
  sendXml(x.res, 200, renderXmlDocument('CopyPartResult', result), headers);
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html */
export async function completeMultipartUpload(
  x: S3Exchange,
  uploads: MultipartUploads,
  bucket: BucketRecord,
  labels: S3ObjectLabels,
): Promise<void> {
  const doc = parseXmlBody(await readBodyText(x.body, LIMITS.xmlBodyMaxBytes), 'CompleteMultipartUpload');
  const claims: CompletedPartClaim[] = [];
  const entries = xmlList(doc.Part);
  if (entries.length > LIMITS.multipartMaxParts) throw s3Error('MalformedXML', 'Too many parts listed.');
  for (const entry of entries) {
    const part = xmlObject(entry);
    const number = part === undefined ? undefined : xmlText(part.PartNumber);
    const etag = part === undefined ? undefined : xmlText(part.ETag);
    if (part === undefined || number === undefined || etag === undefined || !/^\d+$/.test(number.trim())) {
      throw s3Error('MalformedXML', 'Each Part must have a PartNumber and an ETag.');
    }
    const checksum = [
      'ChecksumCRC32',
      'ChecksumCRC32C',
      'ChecksumCRC64NVME',
      'ChecksumSHA1',
      'ChecksumSHA256',
    ]
      .map((name) => xmlText(part[name]))
      .find((v) => v !== undefined);
    claims.push({ partNumber: Number(number.trim()), etag, checksum });
  }
  const version = await uploads.complete({
    caller: x.caller,
    bucket: bucket.name,
    key: x.route.key!,
    uploadId: uploadIdOf(x),
    parts: claims,
    conditions: readWriteConditions(x.req.headers),
  });
  x.outcome.classification = labels.textOf(bucket.classification, version.classification);
  // SSE-C: S3 answers CompleteMultipartUpload with the algorithm only (no key is sent with it).
  const headers: OutgoingHttpHeaders = encryptionHeaders(version.encryption, null);
  // An object with a label of its own: the answer confirms it, as CreateMultipartUpload's did.
  if (version.classification !== null) Object.assign(headers, labels.responseHeaders(bucket, version));
  if (showsVersionIds(bucket)) headers['x-amz-version-id'] = version.versionId;
  const result: XmlNode[] = [
    ['Location', `/${bucket.name}/${encodeURIComponent(version.key)}`],
    ['Bucket', bucket.name],
    ['Key', version.key],
    ['ETag', quotedEtag(version.etag)],
  ];
  if (version.checksum !== null) {
    result.push(
      [`Checksum${version.checksum.algorithm}`, version.checksum.value],
      ['ChecksumType', version.checksum.type],
    );
  }
  sendXml(x.res, 200, renderXmlDocument('CompleteMultipartUploadResult', result), headers);
}

export async function abortMultipartUpload(
  x: S3Exchange,
  uploads: MultipartUploads,
  bucket: BucketRecord,
): Promise<void> {
  await uploads.abort(bucket.name, x.route.key!, uploadIdOf(x));
  sendEmpty(x.res, 204);
}
