import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { denialOf, type Authorizer } from '../../../domain/iam/authorizer.ts';
import { ObjectReader } from '../../../domain/storage/object-reader.ts';
import type { ObjectStore } from '../../../domain/storage/object-store.ts';
import type { BucketRecord, ObjectVersion } from '../../../domain/storage/types.ts';
import { isSovraError } from '../../../platform/errors.ts';
import { LIMITS } from '../../../platform/limits.ts';
import {
  COPY_SOURCE_CUSTOMER_KEY_PREFIX,
  CUSTOMER_KEY_PREFIX,
  encryptionHeaders,
  readCustomerKey,
  readEncryptionRequest,
} from '../encryption-headers.ts';
import { s3Error, toS3WireError } from '../errors.ts';
import { readBodyText, sendEmpty, sendXml, type S3Exchange } from '../exchange.ts';
import {
  checksumHeaders,
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
  RESPONSE_OVERRIDES,
  versionHeaders,
} from '../object-headers.ts';
import type { ObjectLabelWrite, S3ObjectLabels } from '../object-labels.ts';
import { parseXmlBody, renderXmlDocument, xmlList, xmlObject, xmlText, type XmlNode } from '../xml.ts';
import { ALLOWED_CANNED_ACLS } from './buckets.ts';
import { governanceBypassOf, readObjectLockHeaders } from './object-lock.ts';

/** S3 reports version ids only for buckets that have ever had versioning configured. */
export function showsVersionIds(bucket: BucketRecord): boolean {
  return bucket.versioning !== 'Unversioned';
}

export function checkCannedAcl(x: S3Exchange): void {
  const acl = header(x.req.headers, 'x-amz-acl');
  if (acl !== undefined && !ALLOWED_CANNED_ACLS.has(acl)) {
    throw s3Error(
      'AccessControlListNotSupported',
      'The bucket does not allow ACLs; access is governed by policies.',
    );
  }
  for (const name of [
    'x-amz-grant-read',
    'x-amz-grant-write',
    'x-amz-grant-read-acp',
    'x-amz-grant-write-acp',
    'x-amz-grant-full-control',
  ]) {
    if (header(x.req.headers, name) !== undefined) {
      throw s3Error(
        'AccessControlListNotSupported',
        'The bucket does not allow ACLs; access is governed by policies.',
      );
    }
  }
  const storageClass = header(x.req.headers, 'x-amz-storage-class');
  if (storageClass !== undefined && storageClass !== 'STANDARD') {
    throw s3Error(
      'InvalidStorageClass',
      'The storage class you specified is not valid; Sovra serves STANDARD.',
    );
  }
}

/**
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html; `label` is what the
 * x-sovra-classification / x-sovra-compartments headers asked for (null: the bucket's label).
 */
export async function putObject(
  x: S3Exchange,
  objects: ObjectStore,
  bucket: BucketRecord,
  label: ObjectLabelWrite | null,
  labels: S3ObjectLabels,
): Promise<void> {
  checkCannedAcl(x);
  const encryption = readEncryptionRequest(x.req);
  const tags = await labels.requestTagSet(x, x.req.headers, bucket, x.route.key!, label);
  const version = await objects.putObject({
    caller: x.caller,
    bucket: bucket.name,
    key: x.route.key!,
    body: x.body,
    declaredBytes: x.declaredBytes,
    system: readSystemMetadata(x.req.headers),
    userMetadata: readUserMetadata(x.req.headers),
    tags: tags ?? {},
    checksum: x.checksumClaim,
    contentMd5: readContentMd5(x.req.headers),
    conditions: readWriteConditions(x.req.headers),
    objectLock: readObjectLockHeaders(x.req.headers),
    encryption: encryption.request,
    keyUse: x.keyUse,
    classification: label?.stored ?? null,
  });
  const headers: OutgoingHttpHeaders = {
    etag: quotedEtag(version.etag),
    ...checksumHeaders(version),
    ...encryptionHeaders(version.encryption, encryption.customerKey),
    ...label?.responseHeaders,
  };
  if (showsVersionIds(bucket)) headers['x-amz-version-id'] = version.versionId;
  sendEmpty(x.res, 200, headers);
}

/**
 * GET and HEAD Object, including ranges, partNumber, conditions and response overrides, with the
 * object's label headers. A version with a label of its own is admitted (no read up) before its
 * conditions, parts or data are looked at.
 */
export async function getObject(
  x: S3Exchange,
  objects: ObjectStore,
  bucket: BucketRecord,
  head: boolean,
  labels: S3ObjectLabels,
): Promise<void> {
  const query = x.route.query;
  const versionId = query.get('versionId');
  const partNumberText = query.get('partNumber');
  const facts = versionId === null ? undefined : { versionId };
  const admit = (version: ObjectVersion) => labels.admit(x, 's3:GetObject', bucket, version, facts);
  let range = readRange(header(x.req.headers, 'range'));
  let partsCount: number | null = null;
  if (partNumberText !== null) {
    const partNumber = parseNonNegativeInteger(partNumberText, 'partNumber', 1);
    if (range !== null)
      throw s3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
    const version = await objects.getObjectVersion(bucket.name, x.route.key!, versionId);
    await admit(version);
    const partRange = partRangeOf(version, partNumber);
    range = partRange.range;
    partsCount = partRange.partsCount;
  }
  const customerKey = readCustomerKey(x.req, CUSTOMER_KEY_PREFIX);
  const read = await objects.readObject(
    bucket.name,
    x.route.key!,
    versionId,
    readReadConditions(x.req.headers),
    range,
    { withBody: !head, customerKey: customerKey?.key ?? null, keyUse: x.keyUse, admit },
  );
  const version = read.version;
  const headers: OutgoingHttpHeaders = versionHeaders(version, showsVersionIds(bucket) || versionId !== null);
  if (version.encryption !== null) Object.assign(headers, encryptionHeaders(version.encryption, customerKey));
  if (partsCount !== null) headers['x-amz-mp-parts-count'] = String(partsCount);
  Object.assign(headers, labels.responseHeaders(bucket, version));
  if (header(x.req.headers, 'x-amz-checksum-mode') === 'ENABLED' && read.range === null) {
    Object.assign(headers, checksumHeaders(version));
  }
  for (const [param, name] of RESPONSE_OVERRIDES) {
    const value = query.get(param);
    if (value !== null) headers[name] = value;
  }
  let status = 200;
  let length = version.sizeBytes;
  if (read.range !== null) {
    status = 206;
    length = read.range.endExclusive - read.range.start;
    headers['content-range'] =
      `bytes ${read.range.start}-${read.range.endExclusive - 1}/${version.sizeBytes}`;
  }
  headers['content-length'] = length;
  if (read.body === null || Buffer.isBuffer(read.body)) {
    // HEAD and small objects: headers and body leave in one write (see endSoon).
    x.res.writeHead(status, headers);
    endSoon(x.res, read.body);
    return;
  }
  await streamBody(x, status, headers, read.body);
}

/**
 * Streams an object body. Errors before the first byte become S3 errors; a failure after the
 * headers are sent (corrupt frame, disk error) aborts the connection, so the client sees a
 * truncated response and never wrong bytes. The body is piped straight into the response (no
 * async iteration or generator per chunk: each hop costs time on every 256 KiB frame).
 */
async function streamBody(
  x: S3Exchange,
  status: number,
  headers: OutgoingHttpHeaders,
  body: Readable,
): Promise<void> {
  let first: Buffer | null;
  try {
    first = await firstChunk(body);
  } catch (error) {
    body.destroy();
    throw error;
  }
  x.res.writeHead(status, headers);
  if (first === null) {
    x.res.end();
    return;
  }
  try {
    if (body instanceof ObjectReader) {
      const sink = new FlushReportingResponse(x.res, body);
      sink.write(first);
      await pipeline(body, sink);
    } else {
      x.res.write(first);
      await pipeline(body, x.res);
    }
  } catch (error) {
    x.res.destroy(isSovraError(error) ? error : undefined);
    if (!x.res.writableEnded) throw error;
  }
}

/**
 * Writes an object body into the response and tells the reader which bytes the socket has taken,
 * so the reader can reuse its buffers: res.write's callback runs "when this chunk of data is
 * flushed" (https://nodejs.org/api/http.html#responsewritechunk-encoding-callback), and chunks
 * complete in order. Backpressure is the response's own; a response closed before it finished
 * (the client went away) fails the pipeline as a premature close would.
 */
class FlushReportingResponse extends Writable {
  readonly #res: ServerResponse;
  readonly #reader: ObjectReader;
  #handed = 0;

  constructor(res: ServerResponse, reader: ObjectReader) {
    super({ decodeStrings: false });
    this.#res = res;
    this.#reader = reader;
    res.once('close', () => {
      if (!res.writableFinished) this.destroy(closedEarly());
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const upTo = (this.#handed += chunk.length);
    const more = this.#res.write(chunk, (error) => {
      if (error === null || error === undefined) this.#reader.flushed(upTo);
    });
    if (more) callback();
    else this.#res.once('drain', () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#res.end(() => callback());
  }
}

function closedEarly(): Error {
  return Object.assign(new Error('the response closed before the body was sent'), {
    code: 'ERR_STREAM_PREMATURE_CLOSE',
  });
}

/**
 * Ends a response with a small (or no) body in a later check phase rather than at once: the
 * requests handled in this turn of the event loop all finish their work first, and their
 * responses then go out as one run of socket writes. Alternating handling and writing request
 * by request keeps neither warm in the CPU caches (see how server/sovra-server.ts schedules
 * requests); batched, a small GET costs about a third less. writeHead has already validated the
 * status and headers, so ending cannot throw.
 */
function endSoon(res: ServerResponse, body: Buffer | null): void {
  setImmediate(endResponse, res, body);
}

function endResponse(res: ServerResponse, body: Buffer | null): void {
  if (body === null) res.end();
  else res.end(body);
}

/** The first chunk of a stream (left paused after it), or null when it ends without data. */
function firstChunk(body: Readable): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const settle = () => {
      body.off('data', onData);
      body.off('end', onEnd);
    };
    const onData = (chunk: Buffer) => {
      body.pause();
      settle();
      resolve(chunk);
    };
    const onEnd = () => {
      settle();
      resolve(null);
    };
    body.on('data', onData);
    body.on('end', onEnd);
    // Stays attached: an error between this and the pipeline must not go unhandled; once the
    // promise has settled it is the pipeline that reports it.
    body.on('error', reject);
  });
}

function partRangeOf(version: ObjectVersion, partNumber: number) {
  if (version.layout.kind !== 'segments' || version.layout.segments[0]?.partNumber === undefined) {
    if (partNumber !== 1)
      throw s3Error('InvalidArgument', 'The requested partnumber is not satisfiable', {
        argumentName: 'partNumber',
      });
    return { range: null, partsCount: null };
  }
  const segments = version.layout.segments;
  if (partNumber < 1 || partNumber > segments.length) {
    throw toRangeError();
  }
  let start = 0;
  for (let i = 0; i < partNumber - 1; i++) start += segments[i]!.sizeBytes;
  const size = segments[partNumber - 1]!.sizeBytes;
  return {
    range: { kind: 'bounded' as const, first: start, last: start + size - 1 },
    partsCount: segments.length,
  };
}

function toRangeError() {
  return s3Error('InvalidArgument', 'The requested partnumber is not satisfiable', {
    argumentName: 'partNumber',
  });
}

export async function deleteObject(
  x: S3Exchange,
  objects: ObjectStore,
  bucket: BucketRecord,
  authorizer: Authorizer,
): Promise<void> {
  const governanceBypass = await governanceBypassOf(x, authorizer, bucket);
  const result = await objects.deleteObject(
    x.caller,
    bucket.name,
    x.route.key!,
    x.route.query.get('versionId'),
    'api',
    undefined,
    governanceBypass,
  );
  const headers: OutgoingHttpHeaders = {};
  if (result.deleteMarker) headers['x-amz-delete-marker'] = 'true';
  if (result.versionId !== null && showsVersionIds(bucket)) headers['x-amz-version-id'] = result.versionId;
  sendEmpty(x.res, 204, headers);
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html */
export async function deleteObjects(
  x: S3Exchange,
  objects: ObjectStore,
  bucket: BucketRecord,
  authorizer: Authorizer,
): Promise<void> {
  const doc = parseXmlBody(await readBodyText(x.body, LIMITS.xmlBodyMaxBytes), 'Delete');
  const quiet = xmlText(doc.Quiet)?.trim().toLowerCase() === 'true';
  const entries = xmlList(doc.Object);
  if (entries.length === 0 || entries.length > LIMITS.deleteObjectsMaxKeys) {
    throw s3Error(
      'MalformedXML',
      `The request must name between 1 and ${LIMITS.deleteObjectsMaxKeys} objects.`,
    );
  }
  const results: XmlNode[] = [];
  for (const entry of entries) {
    const object = xmlObject(entry);
    const key = object === undefined ? undefined : xmlText(object.Key);
    if (key === undefined) throw s3Error('MalformedXML', 'Each Object must have a Key.');
    const versionId = object === undefined ? null : (xmlText(object.VersionId) ?? null);
    try {
      // Each key is authorized on its own (a policy may deny some keys and allow others), and a
      // denied key is reported in the result like any other failure.
      await authorizer.authorize(
        x.caller,
        's3:DeleteObject',
        { bucket, key },
        versionId === null ? undefined : { versionId },
      );
      const governanceBypass = await governanceBypassOf(x, authorizer, bucket, key);
      const result = await objects.deleteObject(
        x.caller,
        bucket.name,
        key,
        versionId,
        'api',
        undefined,
        governanceBypass,
      );
      if (quiet) continue;
      const deleted: XmlNode[] = [['Key', key]];
      if (versionId !== null) deleted.push(['VersionId', versionId]);
      if (result.deleteMarker) {
        deleted.push(['DeleteMarker', 'true']);
        if (result.versionId !== null) deleted.push(['DeleteMarkerVersionId', result.versionId]);
      }
      results.push(['Deleted', deleted]);
    } catch (error) {
      const wire = toS3WireError(error);
      if (!wire.known) throw error;
      x.outcome.denial ??= denialOf(error);
      const failed: XmlNode[] = [['Key', key]];
      if (versionId !== null) failed.push(['VersionId', versionId]);
      failed.push(['Code', wire.code], ['Message', wire.message]);
      results.push(['Error', failed]);
    }
  }
  sendXml(x.res, 200, renderXmlDocument('DeleteResult', results));
}

/** Parses `x-amz-copy-source: [/]bucket/key[?versionId=id]` (URL-encoded). */
export function readCopySource(value: string): { bucket: string; key: string; versionId: string | null } {
  const queryAt = value.indexOf('?');
  const path = queryAt === -1 ? value : value.slice(0, queryAt);
  const params = new URLSearchParams(queryAt === -1 ? '' : value.slice(queryAt + 1));
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    throw s3Error('InvalidArgument', 'Invalid copy source encoding', { argumentName: 'x-amz-copy-source' });
  }
  if (decoded.startsWith('/')) decoded = decoded.slice(1);
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) {
    throw s3Error(
      'InvalidArgument',
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
      {
        argumentName: 'x-amz-copy-source',
      },
    );
  }
  return {
    bucket: decoded.slice(0, slash),
    key: decoded.slice(slash + 1),
    versionId: params.get('versionId'),
  };
}

/**
 * Authorizes a copy as the caller: reading the source (s3:GetObject on it, so no read up from
 * it), then writing its data into the destination with the source bucket as the data's origin,
 * so that no policy can copy data into a bucket of lower classification (no write down). Both
 * are decided with the buckets' labels; the returned admission decides both again with the
 * source version's own label once its record is read, before its conditions or data are.
 */
export async function authorizeCopySource(
  x: S3Exchange,
  objects: ObjectStore,
  authorizer: Authorizer,
  source: { bucket: string; key: string; versionId: string | null },
  destination: BucketRecord,
): Promise<(sourceVersion: ObjectVersion) => Promise<void>> {
  const sourceBucket = await objects.getBucket(source.bucket);
  const readFacts = source.versionId === null ? undefined : { versionId: source.versionId };
  await authorizer.authorize(x.caller, 's3:GetObject', { bucket: sourceBucket, key: source.key }, readFacts);
  await authorizer.authorize(
    x.caller,
    's3:PutObject',
    { bucket: destination, key: x.route.key },
    { dataSource: sourceBucket },
  );
  return async (sourceVersion) => {
    const sourceLabel = sourceVersion.classification;
    if (sourceLabel === null) return;
    await authorizer.authorize(
      x.caller,
      's3:GetObject',
      { bucket: sourceBucket, key: source.key, objectLabel: sourceLabel },
      readFacts,
    );
    await authorizer.authorize(
      x.caller,
      's3:PutObject',
      { bucket: destination, key: x.route.key },
      { dataSource: sourceBucket, dataSourceLabel: sourceLabel },
    );
  };
}

/**
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html. The copy's label is what
 * its label headers ask for, else the destination bucket's: labels are not metadata the
 * directive copies, and no write down keeps the destination bucket at or above the source's.
 */
export async function copyObject(
  x: S3Exchange,
  objects: ObjectStore,
  authorizer: Authorizer,
  bucket: BucketRecord,
  label: ObjectLabelWrite | null,
  labels: S3ObjectLabels,
): Promise<void> {
  checkCannedAcl(x);
  const source = readCopySource(header(x.req.headers, 'x-amz-copy-source')!);
  const admitSource = await authorizeCopySource(x, objects, authorizer, source, bucket);
  const directive = header(x.req.headers, 'x-amz-metadata-directive') ?? 'COPY';
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw s3Error('InvalidArgument', 'Unknown metadata directive.', {
      argumentName: 'x-amz-metadata-directive',
    });
  }
  const taggingDirective = header(x.req.headers, 'x-amz-tagging-directive') ?? 'COPY';
  if (taggingDirective !== 'COPY' && taggingDirective !== 'REPLACE') {
    throw s3Error('InvalidArgument', 'Unknown tagging directive.', {
      argumentName: 'x-amz-tagging-directive',
    });
  }
  const tags =
    taggingDirective === 'REPLACE'
      ? ((await labels.requestTagSet(x, x.req.headers, bucket, x.route.key!, label)) ?? {})
      : null;
  const encryption = readEncryptionRequest(x.req);
  const sourceCustomerKey = readCustomerKey(x.req, COPY_SOURCE_CUSTOMER_KEY_PREFIX);
  const { version, source: sourceVersion } = await objects.copyObject({
    caller: x.caller,
    source,
    sourceConditions: readReadConditions(x.req.headers, 'x-amz-copy-source-'),
    bucket: bucket.name,
    key: x.route.key!,
    metadataDirective: directive,
    system: readSystemMetadata(x.req.headers),
    userMetadata: readUserMetadata(x.req.headers),
    tags,
    checksumAlgorithm: readChecksumAlgorithmName(
      header(x.req.headers, 'x-amz-checksum-algorithm'),
      'x-amz-checksum-algorithm',
    ),
    conditions: readWriteConditions(x.req.headers),
    objectLock: readObjectLockHeaders(x.req.headers),
    encryption: encryption.request,
    sourceCustomerKey: sourceCustomerKey?.key ?? null,
    keyUse: x.keyUse,
    classification: label?.stored ?? null,
    admitSource,
  });
  const headers: OutgoingHttpHeaders = {
    ...encryptionHeaders(version.encryption, encryption.customerKey),
    ...label?.responseHeaders,
  };
  if (sourceVersion.versionId !== 'null' || source.versionId !== null)
    headers['x-amz-copy-source-version-id'] = sourceVersion.versionId;
  if (showsVersionIds(bucket)) headers['x-amz-version-id'] = version.versionId;
  const result: XmlNode[] = [
    ['ETag', quotedEtag(version.etag)],
    ['LastModified', version.lastModified.toISOString()],
  ];
  if (version.checksum !== null) {
    result.push(
      ['ChecksumType', version.checksum.type],
      [`Checksum${version.checksum.algorithm}`, version.checksum.value],
    );
  }
  sendXml(x.res, 200, renderXmlDocument('CopyObjectResult', result), headers);
}
