import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Clock } from '../../platform/clock.ts';
import { randomHexId } from '../../platform/ids.ts';
import { LIMITS } from '../../platform/limits.ts';
import type { Caller } from '../iam/caller.ts';
import type { RequestJustification } from '../kms/justification.ts';
import {
  evaluateReadConditions,
  resolveRange,
  type ByteRangeRequest,
  type ReadConditions,
} from './conditions.ts';
import { checksumOf } from './digests.ts';
import { storageError } from './errors.ts';
import { validateObjectKey } from './names.ts';
import { NO_ENCRYPTION_REQUEST, wipeSuite, type EncryptionRequest } from './object-encryption.ts';
import { validateRequestedObjectLock } from './object-lock.ts';
import type { ObjectData } from './object-data.ts';
import {
  verifyIngestedDigests,
  type ChecksumClaim,
  type DeleteGuard,
  type ObjectStore,
  type WriteConditions,
} from './object-store.ts';
import type { ListUploadsPage, MetadataStore } from './ports.ts';
import type {
  BlobSegment,
  ChecksumAlgorithm,
  MultipartUpload,
  ObjectEncryption,
  ObjectVersion,
  RequestedObjectLock,
  SystemMetadata,
  UploadPart,
} from './types.ts';
import { OBJECT_RECORD_FORMAT } from './types.ts';

export interface CompletedPartClaim {
  partNumber: number;
  etag: string;
  /** Per-part checksum the client lists in CompleteMultipartUpload, if any. */
  checksum?: string | undefined;
}

/**
 * S3 multipart uploads (https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html).
 * Each part is its own blob; completion writes one metadata row that lists the parts as segments,
 * so no bytes are copied and completion is one atomic commit.
 */
/** A stored part and the encryption of its upload (UploadPart answers with it). */
export type StoredPart = UploadPart & { encryption: ObjectEncryption | null };

export class MultipartUploads {
  readonly #metadata: MetadataStore;
  readonly #data: ObjectData;
  readonly #objects: ObjectStore;
  readonly #clock: Clock;

  constructor(options: { metadata: MetadataStore; data: ObjectData; objects: ObjectStore; clock: Clock }) {
    this.#metadata = options.metadata;
    this.#data = options.data;
    this.#objects = options.objects;
    this.#clock = options.clock;
  }

  async create(input: {
    caller: Caller;
    bucket: string;
    key: string;
    system: SystemMetadata;
    userMetadata: Record<string, string>;
    tags: Record<string, string>;
    checksumAlgorithm: ChecksumAlgorithm | null;
    checksumType: 'FULL_OBJECT' | 'COMPOSITE' | null;
    /** x-amz-object-lock-* headers: checked now, applied when the upload completes. */
    objectLock?: RequestedObjectLock | null;
    /** x-amz-server-side-encryption* headers: the upload's data key is made now, used by every part. */
    encryption?: EncryptionRequest;
    /** Who asks for the upload's data key and why. */
    keyUse: RequestJustification;
    /** The object's own label (ObjectVersion.classification), checked by the caller; absent: the bucket's. */
    classification?: string | null;
  }): Promise<MultipartUpload> {
    validateObjectKey(input.key);
    const bucket = await this.#objects.getBucket(input.bucket);
    const objectLock = input.objectLock ?? null;
    validateRequestedObjectLock(bucket, objectLock, this.#clock.nowMs());
    if (
      input.checksumType === 'FULL_OBJECT' &&
      input.checksumAlgorithm !== null &&
      !['CRC32', 'CRC32C', 'CRC64NVME'].includes(input.checksumAlgorithm)
    ) {
      throw storageError(
        'InvalidArgument',
        `The FULL_OBJECT checksum type is not supported with ${input.checksumAlgorithm}`,
      );
    }
    const sealed = await this.#objects.newDataKey(
      input.caller.tenantId,
      bucket.name,
      input.key,
      input.encryption ?? NO_ENCRYPTION_REQUEST,
      input.keyUse,
      input.classification ?? null,
    );
    if (sealed !== null) wipeSuite(sealed.suite);
    const upload: MultipartUpload = {
      uploadId: randomHexId(24),
      bucket: bucket.name,
      key: input.key,
      versionUid: randomHexId(),
      initiatedAt: this.#clock.now(),
      system: input.system,
      userMetadata: input.userMetadata,
      checksumAlgorithm: input.checksumAlgorithm,
      checksumType: input.checksumAlgorithm === null ? null : (input.checksumType ?? 'COMPOSITE'),
      encryption: sealed?.encryption ?? null,
      tags: input.tags,
      ownerTenantId: input.caller.tenantId,
      initiatorPrincipalId: input.caller.principalId,
      ...(objectLock === null ? {} : { objectLock }),
      classification: input.classification ?? null,
    };
    await this.#metadata.transaction((tx) => tx.insertUpload(upload));
    return upload;
  }

  async get(bucket: string, key: string, uploadId: string): Promise<MultipartUpload> {
    await this.#objects.getBucket(bucket);
    const upload = await this.#metadata.getUploadById(uploadId);
    if (upload === null || upload.bucket !== bucket || upload.key !== key) {
      throw storageError(
        'UploadNotFound',
        'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
        { uploadId },
      );
    }
    return upload;
  }

  async uploadPart(input: {
    bucket: string;
    key: string;
    uploadId: string;
    partNumber: number;
    body: AsyncIterable<Uint8Array>;
    declaredBytes: number | null;
    contentMd5: Buffer | null;
    checksum: ChecksumClaim | null;
    /** SSE-C uploads: the customer key, sent again with every part. */
    customerKey?: Buffer | null;
    /** Who asks for the upload's data key and why. */
    keyUse: RequestJustification;
  }): Promise<StoredPart> {
    validatePartNumber(input.partNumber);
    const upload = await this.get(input.bucket, input.key, input.uploadId);
    if (
      input.checksum !== null &&
      upload.checksumAlgorithm !== null &&
      input.checksum.algorithm !== upload.checksumAlgorithm
    ) {
      throw storageError(
        'InvalidArgument',
        `Checksum Type mismatch occurred, expected checksum Type: ${upload.checksumAlgorithm.toLowerCase()}, actual checksum Type: ${input.checksum.algorithm.toLowerCase()}`,
      );
    }
    const algorithm = upload.checksumAlgorithm ?? input.checksum?.algorithm ?? null;
    return this.#storePart(
      upload,
      input.partNumber,
      input.body,
      input.declaredBytes,
      algorithm,
      (ingested) => verifyIngestedDigests(ingested, input.contentMd5, input.checksum),
      input.customerKey ?? null,
      input.keyUse,
    );
  }

  async uploadPartCopy(input: {
    bucket: string;
    key: string;
    uploadId: string;
    partNumber: number;
    source: ObjectVersion;
    sourceConditions: ReadConditions;
    range: ByteRangeRequest | null;
    customerKey?: Buffer | null;
    sourceCustomerKey?: Buffer | null;
    /** Who asks for the source's and the upload's data keys and why. */
    keyUse: RequestJustification;
  }): Promise<StoredPart> {
    validatePartNumber(input.partNumber);
    const upload = await this.get(input.bucket, input.key, input.uploadId);
    evaluateReadConditions(input.sourceConditions, input.source.etag, input.source.lastModified, true);
    const { start, endExclusive } =
      input.range === null
        ? { start: 0, endExclusive: input.source.sizeBytes }
        : resolveRange(input.range, input.source.sizeBytes);
    if (input.range !== null && input.range.kind !== 'bounded') {
      throw storageError(
        'InvalidArgument',
        'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
      );
    }
    const body: Readable = await this.#objects.openVersion(
      input.source,
      start,
      endExclusive,
      input.sourceCustomerKey ?? null,
      input.keyUse,
    );
    return this.#storePart(
      upload,
      input.partNumber,
      body,
      endExclusive - start,
      upload.checksumAlgorithm,
      () => undefined,
      input.customerKey ?? null,
      input.keyUse,
    ).finally(() => body.destroy());
  }

  async #storePart(
    upload: MultipartUpload,
    partNumber: number,
    body: AsyncIterable<Uint8Array>,
    declaredBytes: number | null,
    algorithm: ChecksumAlgorithm | null,
    verify: (ingested: Awaited<ReturnType<ObjectData['ingest']>>) => void,
    customerKey: Buffer | null,
    keyUse: RequestJustification,
  ): Promise<StoredPart> {
    const suite = await this.#objects.frameSuiteFor(upload, customerKey, keyUse);
    const ingested = await this.#data
      .ingest({
        body,
        binding: { bucket: upload.bucket, objectKey: upload.key, versionUid: upload.versionUid, partNumber },
        suite,
        declaredBytes,
        maxBytes: LIMITS.multipartPartMaxBytes,
        checksumAlgorithms: algorithm === null ? [] : [algorithm],
        allowInline: false,
      })
      .finally(() => wipeSuite(suite));
    const blobId = ingested.blobId!;
    try {
      verify(ingested);
      const part: UploadPart = {
        uploadId: upload.uploadId,
        partNumber,
        blobId,
        sizeBytes: ingested.sizeBytes,
        etag: ingested.md5.toString('hex'),
        checksum:
          algorithm === null
            ? null
            : {
                algorithm,
                value: ingested.checksums.get(algorithm)!.toString('base64'),
                type: 'FULL_OBJECT',
              },
        lastModified: this.#clock.now(),
      };
      await this.#metadata.transaction(async (tx) => {
        // The upload may have been completed or aborted while the part streamed in.
        const current = await tx.getUpload(upload.bucket, upload.key, upload.uploadId);
        if (current === null) {
          throw storageError(
            'UploadNotFound',
            'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
          );
        }
        const replaced = await tx.upsertPart(part);
        if (replaced !== null) await tx.enqueueGarbage([replaced]);
      });
      return { ...part, encryption: upload.encryption };
    } catch (error) {
      await this.#data.discard(blobId);
      throw error;
    }
  }

  /**
   * Validates the part list against the stored parts
   * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html), computes
   * the ETag `md5(concat(part md5s))-N` and the composite or full-object checksum, and commits.
   */
  async complete(input: {
    caller: Caller;
    bucket: string;
    key: string;
    uploadId: string;
    parts: CompletedPartClaim[];
    conditions: WriteConditions;
  }): Promise<ObjectVersion> {
    const upload = await this.get(input.bucket, input.key, input.uploadId);
    if (input.parts.length === 0) {
      throw storageError('EmptyPartList', 'You must specify at least one part');
    }
    const stored = new Map(
      (await this.#metadata.listParts(upload.uploadId, 0, LIMITS.multipartMaxParts)).map((p) => [
        p.partNumber,
        p,
      ]),
    );
    const chosen: UploadPart[] = [];
    let previous = 0;
    for (const claim of input.parts) {
      if (claim.partNumber <= previous) {
        throw storageError(
          'InvalidPartOrder',
          'The list of parts was not in ascending order. The parts list must be specified in order by part number.',
        );
      }
      previous = claim.partNumber;
      const part = stored.get(claim.partNumber);
      const claimedEtag = claim.etag.trim().replace(/^"(.*)"$/, '$1');
      if (part === undefined || part.etag !== claimedEtag) {
        throw storageError(
          'InvalidPart',
          "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag.",
          { partNumber: claim.partNumber },
        );
      }
      if (claim.checksum !== undefined && part.checksum !== null && claim.checksum !== part.checksum.value) {
        throw storageError('InvalidPart', 'The checksum of a listed part does not match the uploaded part.', {
          partNumber: claim.partNumber,
        });
      }
      chosen.push(part);
    }
    for (let i = 0; i < chosen.length - 1; i++) {
      if (chosen[i]!.sizeBytes < LIMITS.multipartPartMinBytes) {
        throw storageError(
          'PartTooSmall',
          'Your proposed upload is smaller than the minimum allowed object size.',
          {
            partNumber: chosen[i]!.partNumber,
          },
        );
      }
    }
    const md5s = createHash('md5');
    for (const part of chosen) md5s.update(Buffer.from(part.etag, 'hex'));
    const segments: BlobSegment[] = chosen.map((part) => ({
      blobId: part.blobId,
      sizeBytes: part.sizeBytes,
      partNumber: part.partNumber,
      partEtag: part.etag,
      ...(part.checksum === null ? {} : { partChecksum: part.checksum.value }),
    }));
    const sizeBytes = chosen.reduce((sum, part) => sum + part.sizeBytes, 0);
    const checksum = await this.#completedChecksum(upload, chosen);
    const version = await this.#objects.commitVersion(
      upload.bucket,
      {
        format: OBJECT_RECORD_FORMAT,
        bucket: upload.bucket,
        key: upload.key,
        versionUid: upload.versionUid,
        versionId: upload.versionUid,
        isDeleteMarker: false,
        sizeBytes,
        etag: `${md5s.digest('hex')}-${chosen.length}`,
        lastModified: this.#clock.now(),
        system: upload.system,
        userMetadata: upload.userMetadata,
        checksum,
        layout: { kind: 'segments', frameSizeLog2: LIMITS.frameSizeLog2, segments },
        inlineData: null,
        encryption: upload.encryption,
        tags: upload.tags,
        // No requested retention: commitVersion applies the bucket's default, as of completion.
        retention: upload.objectLock?.retention ?? null,
        legalHold: upload.objectLock?.legalHold ?? false,
        classification: upload.classification,
        ownerTenantId: upload.ownerTenantId,
      },
      input.conditions,
      { eventName: 'ObjectCreated:CompleteMultipartUpload', caller: input.caller },
      async (tx) => {
        const current = await tx.getUpload(upload.bucket, upload.key, upload.uploadId);
        if (current === null) {
          throw storageError(
            'UploadNotFound',
            'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
          );
        }
        const used = new Set(chosen.map((p) => p.blobId));
        const unused = (await tx.listAllParts(upload.uploadId))
          .map((p) => p.blobId)
          .filter((id) => !used.has(id));
        await tx.deleteUpload(upload.uploadId);
        await tx.enqueueGarbage(unused);
      },
    );
    return version;
  }

  /**
   * Composite checksum = checksum of the concatenated binary part checksums, suffixed `-N`
   * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html#large-object-checksums).
   * Full-object CRCs are combined by re-reading the parts (kept simple; CRC combination is a later optimisation).
   */
  async #completedChecksum(upload: MultipartUpload, parts: UploadPart[]) {
    const algorithm = upload.checksumAlgorithm;
    if (algorithm === null) return null;
    if (parts.some((p) => p.checksum === null)) return null;
    if (upload.checksumType === 'FULL_OBJECT') return null;
    const concatenated = Buffer.concat(parts.map((p) => Buffer.from(p.checksum!.value, 'base64')));
    const digest = await checksumOf(algorithm, concatenated);
    return { algorithm, value: `${digest.toString('base64')}-${parts.length}`, type: 'COMPOSITE' as const };
  }

  /** `guard` runs in the abort's transaction before it changes anything (see DeleteGuard). */
  async abort(bucket: string, key: string, uploadId: string, guard?: DeleteGuard): Promise<void> {
    await this.get(bucket, key, uploadId);
    await this.#metadata.transaction(async (tx) => {
      const current = await tx.getUpload(bucket, key, uploadId);
      if (current === null) {
        throw storageError(
          'UploadNotFound',
          'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
        );
      }
      if (guard !== undefined) await guard(tx);
      const parts = await tx.listAllParts(uploadId);
      await tx.deleteUpload(uploadId);
      await tx.enqueueGarbage(parts.map((p) => p.blobId));
    });
  }

  async listParts(bucket: string, key: string, uploadId: string, afterPartNumber: number, maxParts: number) {
    const upload = await this.get(bucket, key, uploadId);
    const parts = await this.#metadata.listParts(uploadId, afterPartNumber, maxParts + 1);
    return { upload, parts: parts.slice(0, maxParts), isTruncated: parts.length > maxParts };
  }

  async listUploads(
    bucket: string,
    query: {
      prefix: string;
      delimiter: string;
      keyMarker: string;
      uploadIdMarker: string;
      maxUploads: number;
    },
  ): Promise<ListUploadsPage> {
    await this.#objects.getBucket(bucket);
    return this.#metadata.listUploads(bucket, query);
  }
}

function validatePartNumber(partNumber: number): void {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > LIMITS.multipartMaxParts) {
    throw storageError(
      'InvalidArgument',
      `Part number must be an integer between 1 and ${LIMITS.multipartMaxParts}, inclusive`,
      {
        argumentName: 'partNumber',
      },
    );
  }
}
