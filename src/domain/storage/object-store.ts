import type { Readable } from 'node:stream';
import type { Clock } from '../../platform/clock.ts';
import { randomHexId } from '../../platform/ids.ts';
import { LIMITS } from '../../platform/limits.ts';
import { dataLabelText } from '../classification/label-wire.ts';
import type { ClassificationScheme } from '../classification/scheme.ts';
import type { Caller } from '../iam/caller.ts';
import type { RequestJustification } from '../kms/justification.ts';
import {
  etagMatches,
  evaluateReadConditions,
  resolveRange,
  type ByteRangeRequest,
  type ReadConditions,
} from './conditions.ts';
import { CHECKSUM_DIGEST_BYTES } from './digests.ts';
import { storageError } from './errors.ts';
import type { ObjectEventName, ObjectEventRecorder } from './events.ts';
import type { FrameSuite } from './frame-codec.ts';
import {
  checkCustomerKey,
  encryptionNotApplicable,
  NO_ENCRYPTION_REQUEST,
  parseBucketEncryptionDocument,
  wipeSuite,
  type EncryptionRequest,
  type ObjectEncryptor,
  type SealedDataKey,
} from './object-encryption.ts';
import { validateBucketName, validateObjectKey } from './names.ts';
import {
  assertRemovable,
  objectLockConfigurationIn,
  retentionAtCommit,
  validateRequestedObjectLock,
} from './object-lock.ts';
import type { ObjectData } from './object-data.ts';
import { type IngestedData } from './object-data.ts';
import type { BucketConfig, BucketConfigKind, ListVersionsPage, MetadataStore, MetadataTx } from './ports.ts';
import type {
  BucketRecord,
  ChecksumAlgorithm,
  DataLayout,
  ListObjectsPage,
  ObjectEncryption,
  NewObjectVersion,
  ObjectChecksum,
  ObjectVersion,
  RequestedObjectLock,
  SystemMetadata,
  VersioningState,
} from './types.ts';
import { OBJECT_RECORD_FORMAT } from './types.ts';

/** What the client asserted about the body, verified after it has been read. */
export interface ChecksumClaim {
  algorithm: ChecksumAlgorithm;
  /** Base64 value; a function because trailing checksums arrive after the body. */
  expected: () => string | undefined;
}

export interface WriteConditions {
  /** `If-None-Match: *`: create only. */
  ifNoneMatch?: string | undefined;
  /** `If-Match: "etag"`: replace only that version. */
  ifMatch?: string | undefined;
}

export interface PutObjectInput {
  caller: Caller;
  bucket: string;
  key: string;
  body: AsyncIterable<Uint8Array>;
  declaredBytes: number | null;
  system: SystemMetadata;
  userMetadata: Record<string, string>;
  tags: Record<string, string>;
  checksum: ChecksumClaim | null;
  /** Decoded Content-MD5, when sent. */
  contentMd5: Buffer | null;
  conditions: WriteConditions;
  /** x-amz-object-lock-* headers; absent or null when none were sent. */
  objectLock?: RequestedObjectLock | null;
  /** x-amz-server-side-encryption* headers; absent: the bucket's or tenant's default. */
  encryption?: EncryptionRequest;
  /** Who asks for the new version's data key and why (the KMS key policy decides on it). */
  keyUse: RequestJustification;
  /** The version's own label (ObjectVersion.classification), checked by the caller; absent: the bucket's. */
  classification?: string | null;
}

/**
 * Runs as soon as a version's record has been read and before anything about it is answered or
 * copied (conditions, ranges, data): it may throw to refuse (an object's own label, checked by the
 * protocol with the authorizer: no read up).
 */
export type VersionAdmission = (version: ObjectVersion) => Promise<void>;

export interface CopyObjectInput {
  caller: Caller;
  source: { bucket: string; key: string; versionId: string | null };
  sourceConditions: ReadConditions;
  bucket: string;
  key: string;
  metadataDirective: 'COPY' | 'REPLACE';
  system: SystemMetadata;
  userMetadata: Record<string, string>;
  tags: Record<string, string> | null;
  checksumAlgorithm: ChecksumAlgorithm | null;
  conditions: WriteConditions;
  /** x-amz-object-lock-* headers for the new copy (the source's lock is not copied). */
  objectLock?: RequestedObjectLock | null;
  /** Encryption of the copy: a copy is re-encrypted under the destination's settings. */
  encryption?: EncryptionRequest;
  /** x-amz-copy-source-server-side-encryption-customer-key of an SSE-C source. */
  sourceCustomerKey?: Buffer | null;
  /** Who asks for the source's and the copy's data keys and why. */
  keyUse: RequestJustification;
  /** The copy's own label (ObjectVersion.classification), checked by the caller; absent: the destination bucket's. */
  classification?: string | null;
  /** Checks the source version before its conditions or data are looked at. */
  admitSource?: VersionAdmission;
}

/**
 * Runs inside a delete's transaction, under the key lock, before anything changes: it may throw to
 * leave everything as it was, and whatever it writes commits only together with the delete
 * (lifecycle re-checks what it examined and records the action this way).
 */
export type DeleteGuard = (tx: MetadataTx) => Promise<void>;

export interface DeleteObjectResult {
  versionId: string | null;
  deleteMarker: boolean;
}

/** How a read opens a version's data. */
export interface ReadObjectOptions {
  /** False for HEAD: the version's record only, and no KMS key use (see readObject). */
  withBody: boolean;
  /** x-amz-server-side-encryption-customer-key of an SSE-C object. */
  customerKey: Buffer | null;
  /** Who asks for the version's data key and why. */
  keyUse: RequestJustification;
  /** Sees the version before its conditions, range or data are looked at. */
  admit?: VersionAdmission;
}

export interface ObjectRead {
  version: ObjectVersion;
  /** Present when a Range was requested and satisfied. */
  range: { start: number; endExclusive: number } | null;
  /** Small (inline) objects come back decoded in memory; larger ones as a verifying stream. */
  body: Readable | Buffer | null;
}

/**
 * Buckets and object versions with S3's semantics: versioning (null versions, delete markers),
 * conditional reads and writes, atomic replacement. Bytes go through ObjectData; rows through the
 * MetadataStore in one transaction per change.
 */
export class ObjectStore {
  readonly #metadata: MetadataStore;
  readonly #data: ObjectData;
  readonly #clock: Clock;
  readonly #region: string;
  readonly #events: ObjectEventRecorder | null;
  /** Null: no root of trust, so new data is stored in plaintext CRC frames. */
  readonly #encryptor: ObjectEncryptor | null;
  /** Names the label of the data each key use protects; null: key uses carry no label. */
  readonly #scheme: ClassificationScheme | null;
  /**
   * Bucket records change rarely and are read on every request. Writes made here invalidate at
   * once; other gateways' changes are seen within LIMITS.bucketCacheTtlMs. Decisions that must
   * be exact (versioning on commit, emptiness on delete) re-read the bucket inside their
   * transaction.
   */
  readonly #bucketCache = new Map<string, { bucket: BucketRecord; expiresAtMs: number }>();

  constructor(options: {
    metadata: MetadataStore;
    data: ObjectData;
    clock: Clock;
    region: string;
    events?: ObjectEventRecorder;
    encryptor?: ObjectEncryptor | null;
    /** The server's classification scheme, for the label each key use carries. */
    scheme?: ClassificationScheme | null;
  }) {
    this.#events = options.events ?? null;
    this.#encryptor = options.encryptor ?? null;
    this.#scheme = options.scheme ?? null;
    this.#metadata = options.metadata;
    this.#data = options.data;
    this.#clock = options.clock;
    this.#region = options.region;
  }

  get region(): string {
    return this.#region;
  }

  /** True when new data is encrypted (the server has a root of trust). */
  get encryptsAtRest(): boolean {
    return this.#encryptor !== null;
  }

  /**
   * The frame suite that opens a version's (or an upload's) data: for encrypted data the data
   * key, unwrapped through the KMS (or the SSE-C customer key). The caller wipes it when done.
   */
  async frameSuiteFor(
    version: {
      bucket: string;
      encryption: ObjectEncryption | null;
      ownerTenantId: string;
      classification: string | null;
    },
    customerKey: Buffer | null,
    keyUse: RequestJustification,
  ): Promise<FrameSuite> {
    if (version.encryption === null || this.#encryptor === null) {
      if (version.encryption !== null) {
        throw storageError(
          'EncryptionUnavailable',
          'The object is encrypted and this server has no root of trust.',
        );
      }
      if (customerKey !== null) throw encryptionNotApplicable();
      return { kind: 'crc32' };
    }
    return this.#encryptor.suiteFor(
      version.ownerTenantId,
      version.encryption,
      customerKey,
      await this.#labelledKeyUse(keyUse, version.bucket, version.classification),
    );
  }

  /**
   * A fresh data key for a new version or upload of bucket/key, or null when this server stores
   * plaintext (no root of trust): then an explicit SSE request is refused rather than ignored.
   */
  async newDataKey(
    tenantId: string,
    bucket: string,
    key: string,
    request: EncryptionRequest,
    keyUse: RequestJustification,
    classification: string | null,
  ): Promise<SealedDataKey | null> {
    if (this.#encryptor === null) {
      if (request.sse !== null || request.customerKey !== null) {
        throw storageError(
          'EncryptionUnavailable',
          'Server-side encryption needs a root of trust; this server runs without one.',
        );
      }
      return null;
    }
    const config = await this.getBucketConfig(bucket, 'encryption');
    const bucketDefault = config === null ? null : parseBucketEncryptionDocument(config.document);
    return this.#encryptor.newDataKey(
      tenantId,
      bucket,
      key,
      request,
      bucketDefault,
      await this.#labelledKeyUse(keyUse, bucket, classification),
    );
  }

  /**
   * A key use carrying the label of the data it protects (issue 5: labels in every audit record),
   * in the form the request's own record shows: the data's own label (ObjectVersion or upload
   * classification) joined with its bucket's. The bucket record comes from the cache.
   */
  async #labelledKeyUse(
    keyUse: RequestJustification,
    bucket: string,
    classification: string | null,
  ): Promise<RequestJustification> {
    if (this.#scheme === null) return keyUse;
    const { classification: bucketClassification } = await this.getBucket(bucket);
    return { ...keyUse, classification: dataLabelText(this.#scheme, bucketClassification, classification) };
  }

  // ---- buckets ------------------------------------------------------------------------------

  /**
   * With `objectLockEnabled` (x-amz-bucket-object-lock-enabled) the bucket starts with Object Lock
   * and versioning Enabled, as S3 creates it
   * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html).
   */
  async createBucket(
    caller: Caller,
    name: string,
    region: string | null,
    options: {
      objectLockEnabled?: boolean;
      /** The bucket's label in its compact form (`SECRET//CRYPTO`), checked by the caller; null: the lowest level. */
      classification?: string | null;
    } = {},
  ): Promise<BucketRecord> {
    validateBucketName(name);
    const location = region === null || region === '' ? this.#region : region;
    if (location !== this.#region) {
      throw storageError(
        'InvalidLocation',
        `The specified location-constraint is not valid; this endpoint serves ${this.#region}`,
        {
          region: this.#region,
        },
      );
    }
    const bucket: BucketRecord = {
      name,
      tenantId: caller.tenantId,
      region: location,
      createdAt: this.#clock.now(),
      versioning: options.objectLockEnabled === true ? 'Enabled' : 'Unversioned',
      objectLockEnabled: options.objectLockEnabled === true,
      classification: options.classification ?? null,
      jurisdiction: null,
      tier: null,
    };
    await this.#metadata.transaction(async (tx) => {
      const existing = await tx.getBucket(name);
      if (existing !== null) {
        throw existing.tenantId === caller.tenantId
          ? storageError(
              'BucketAlreadyOwnedByYou',
              'Your previous request to create the named bucket succeeded and you already own it.',
              { name },
            )
          : storageError(
              'BucketAlreadyExists',
              'The requested bucket name is not available. Please select a different name and try again.',
              { name },
            );
      }
      await tx.insertBucket(bucket);
    });
    this.forgetBucket(name);
    return bucket;
  }

  async getBucket(name: string): Promise<BucketRecord> {
    const bucket = await this.findBucket(name);
    if (bucket === null)
      throw storageError('BucketNotFound', 'The specified bucket does not exist', { name });
    return bucket;
  }

  async findBucket(name: string): Promise<BucketRecord | null> {
    const nowMs = this.#clock.nowMs();
    const cached = this.#bucketCache.get(name);
    if (cached !== undefined && cached.expiresAtMs > nowMs) return cached.bucket;
    const bucket = await this.#metadata.getBucket(name);
    if (bucket === null) {
      this.#bucketCache.delete(name);
      return null;
    }
    if (this.#bucketCache.size >= LIMITS.bucketCacheEntries) this.#bucketCache.clear();
    this.#bucketCache.set(name, { bucket, expiresAtMs: nowMs + LIMITS.bucketCacheTtlMs });
    return bucket;
  }

  /** Forgets a cached bucket record after a change made through this gateway. */
  forgetBucket(name: string): void {
    this.#bucketCache.delete(name);
  }

  // ---- bucket configuration documents (CORS, lifecycle, …) ----------------------------------

  /** The bucket's configuration document of one kind, or null when none is set. */
  async getBucketConfig(bucket: string, kind: BucketConfigKind): Promise<BucketConfig | null> {
    await this.getBucket(bucket);
    return this.#metadata.getBucketConfig(bucket, kind);
  }

  /** Sets (or replaces) the bucket's configuration document of one kind. */
  async putBucketConfig(bucket: string, kind: BucketConfigKind, document: string): Promise<void> {
    await this.#metadata.transaction(async (tx) => {
      if ((await tx.getBucket(bucket)) === null)
        throw storageError('BucketNotFound', 'The specified bucket does not exist', { name: bucket });
      await tx.putBucketConfig({ bucket, kind, document, updatedAt: this.#clock.now() });
    });
  }

  /** Removes the bucket's configuration document of one kind; removing none is not an error. */
  async deleteBucketConfig(bucket: string, kind: BucketConfigKind): Promise<void> {
    await this.#metadata.transaction(async (tx) => {
      if ((await tx.getBucket(bucket)) === null)
        throw storageError('BucketNotFound', 'The specified bucket does not exist', { name: bucket });
      await tx.deleteBucketConfig(bucket, kind);
    });
  }

  listBuckets(tenantId: string): Promise<BucketRecord[]> {
    return this.#metadata.listBuckets(tenantId);
  }

  async deleteBucket(name: string): Promise<void> {
    await this.#metadata.transaction(async (tx) => {
      const bucket = await tx.getBucket(name);
      if (bucket === null)
        throw storageError('BucketNotFound', 'The specified bucket does not exist', { name });
      if (await tx.bucketHasContent(name)) {
        throw storageError('BucketNotEmpty', 'The bucket you tried to delete is not empty', { name });
      }
      await tx.deleteBucket(name);
    });
    this.forgetBucket(name);
  }

  async setVersioning(name: string, state: Exclude<VersioningState, 'Unversioned'>): Promise<void> {
    await this.#metadata.transaction(async (tx) => {
      const bucket = await tx.getBucket(name);
      if (bucket === null)
        throw storageError('BucketNotFound', 'The specified bucket does not exist', { name });
      if (bucket.objectLockEnabled && state !== 'Enabled') {
        // https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html
        throw storageError(
          'InvalidBucketState',
          'An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.',
        );
      }
      await tx.setBucketVersioning(name, state);
    });
    this.forgetBucket(name);
  }

  // ---- objects: write -----------------------------------------------------------------------

  async putObject(input: PutObjectInput): Promise<ObjectVersion> {
    validateObjectKey(input.key);
    const bucket = await this.getBucket(input.bucket);
    const objectLock = input.objectLock ?? null;
    validateRequestedObjectLock(bucket, objectLock, this.#clock.nowMs());
    await this.#checkWriteConditions(bucket.name, input.key, input.conditions);
    const versionUid = randomHexId();
    const algorithms = input.checksum === null ? [] : [input.checksum.algorithm];
    const sealed = await this.newDataKey(
      input.caller.tenantId,
      bucket.name,
      input.key,
      input.encryption ?? NO_ENCRYPTION_REQUEST,
      input.keyUse,
      input.classification ?? null,
    );
    const suite: FrameSuite = sealed?.suite ?? { kind: 'crc32' };
    const ingested = await this.#data
      .ingest({
        body: input.body,
        binding: { bucket: bucket.name, objectKey: input.key, versionUid, partNumber: 0 },
        suite,
        declaredBytes: input.declaredBytes,
        maxBytes: LIMITS.singlePutMaxBytes,
        checksumAlgorithms: algorithms,
        allowInline: true,
      })
      .finally(() => wipeSuite(suite));
    try {
      verifyIngestedDigests(ingested, input.contentMd5, input.checksum);
      const version = this.#newVersion(bucket, input.key, versionUid, input.caller, ingested, {
        system: input.system,
        userMetadata: input.userMetadata,
        tags: input.tags,
        objectLock,
        encryption: sealed?.encryption ?? null,
        classification: input.classification ?? null,
        checksum:
          input.checksum === null
            ? null
            : {
                algorithm: input.checksum.algorithm,
                value: ingested.checksums.get(input.checksum.algorithm)!.toString('base64'),
                type: 'FULL_OBJECT',
              },
      });
      return await this.commitVersion(bucket.name, version, input.conditions, {
        eventName: 'ObjectCreated:Put',
        caller: input.caller,
      });
    } catch (error) {
      if (ingested.blobId !== null) await this.#data.discard(ingested.blobId);
      throw error;
    }
  }

  async copyObject(input: CopyObjectInput): Promise<{ version: ObjectVersion; source: ObjectVersion }> {
    validateObjectKey(input.key);
    const source = await this.getObjectVersion(input.source.bucket, input.source.key, input.source.versionId);
    if (input.admitSource !== undefined) await input.admitSource(source);
    evaluateReadConditions(input.sourceConditions, source.etag, source.lastModified, true);
    if (source.sizeBytes > LIMITS.copySourceMaxBytes) {
      throw storageError(
        'InvalidArgument',
        'The specified copy source is larger than the maximum allowable size for a copy source: 5368709120',
      );
    }
    const sameObject = input.source.bucket === input.bucket && input.source.key === input.key;
    if (
      sameObject &&
      input.metadataDirective === 'COPY' &&
      input.source.versionId === null &&
      input.tags === null &&
      (input.encryption ?? NO_ENCRYPTION_REQUEST).sse === null &&
      (input.encryption ?? NO_ENCRYPTION_REQUEST).customerKey === null
    ) {
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
      throw storageError(
        'InvalidCopyRequest',
        "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
      );
    }
    const bucket = await this.getBucket(input.bucket);
    const objectLock = input.objectLock ?? null;
    validateRequestedObjectLock(bucket, objectLock, this.#clock.nowMs());
    await this.#checkWriteConditions(bucket.name, input.key, input.conditions);
    const versionUid = randomHexId();
    const checksumAlgorithm = input.checksumAlgorithm ?? source.checksum?.algorithm ?? null;
    const body = await this.openVersion(
      source,
      0,
      source.sizeBytes,
      input.sourceCustomerKey ?? null,
      input.keyUse,
    );
    let sealed: SealedDataKey | null;
    try {
      sealed = await this.newDataKey(
        input.caller.tenantId,
        bucket.name,
        input.key,
        input.encryption ?? NO_ENCRYPTION_REQUEST,
        input.keyUse,
        input.classification ?? null,
      );
    } catch (error) {
      body.destroy();
      throw error;
    }
    const suite: FrameSuite = sealed?.suite ?? { kind: 'crc32' };
    const ingested = await this.#data
      .ingest({
        body,
        binding: { bucket: bucket.name, objectKey: input.key, versionUid, partNumber: 0 },
        suite,
        declaredBytes: source.sizeBytes,
        maxBytes: LIMITS.copySourceMaxBytes,
        checksumAlgorithms: checksumAlgorithm === null ? [] : [checksumAlgorithm],
        allowInline: true,
      })
      .finally(() => wipeSuite(suite));
    try {
      const replace = input.metadataDirective === 'REPLACE';
      const version = this.#newVersion(bucket, input.key, versionUid, input.caller, ingested, {
        system: replace ? input.system : source.system,
        userMetadata: replace ? input.userMetadata : source.userMetadata,
        tags: input.tags ?? source.tags,
        objectLock,
        encryption: sealed?.encryption ?? null,
        classification: input.classification ?? null,
        checksum:
          checksumAlgorithm === null
            ? null
            : {
                algorithm: checksumAlgorithm,
                value: ingested.checksums.get(checksumAlgorithm)!.toString('base64'),
                type: 'FULL_OBJECT',
              },
      });
      const committed = await this.commitVersion(bucket.name, version, input.conditions, {
        eventName: 'ObjectCreated:Copy',
        caller: input.caller,
      });
      return { version: committed, source };
    } catch (error) {
      if (ingested.blobId !== null) await this.#data.discard(ingested.blobId);
      throw error;
    }
  }

  #newVersion(
    bucket: BucketRecord,
    key: string,
    versionUid: string,
    caller: Caller,
    ingested: IngestedData,
    fields: {
      system: SystemMetadata;
      userMetadata: Record<string, string>;
      tags: Record<string, string>;
      objectLock: RequestedObjectLock | null;
      checksum: ObjectChecksum | null;
      encryption: ObjectEncryption | null;
      classification: string | null;
    },
  ): NewObjectVersion {
    const layout: DataLayout =
      ingested.blobId === null
        ? { kind: 'inline', frameSizeLog2: ingested.frameSizeLog2 }
        : {
            kind: 'segments',
            frameSizeLog2: ingested.frameSizeLog2,
            segments: [{ blobId: ingested.blobId, sizeBytes: ingested.sizeBytes }],
          };
    return {
      format: OBJECT_RECORD_FORMAT,
      bucket: bucket.name,
      key,
      versionUid,
      versionId: versionUid,
      isDeleteMarker: false,
      sizeBytes: ingested.sizeBytes,
      etag: ingested.md5.toString('hex'),
      lastModified: this.#clock.now(),
      system: fields.system,
      userMetadata: fields.userMetadata,
      checksum: fields.checksum,
      layout,
      inlineData: ingested.inlineData,
      encryption: fields.encryption,
      tags: fields.tags,
      retention: fields.objectLock?.retention ?? null,
      legalHold: fields.objectLock?.legalHold ?? false,
      classification: fields.classification,
      ownerTenantId: caller.tenantId,
    };
  }

  /** Fails fast, before the body is read, when a conditional write cannot succeed. */
  async #checkWriteConditions(bucket: string, key: string, conditions: WriteConditions): Promise<void> {
    if (conditions.ifMatch === undefined && conditions.ifNoneMatch === undefined) return;
    const latest = await this.#metadata.getLatestVersion(bucket, key);
    checkWriteConditions(latest, conditions);
  }

  /**
   * Makes a fully written version visible: in one transaction, re-check the write conditions,
   * apply the bucket's versioning rule and queue the bytes it replaces for deletion. A version
   * without a requested retention gets the bucket's default retention (Object Lock); a locked
   * `null` version is never replaced.
   * https://docs.aws.amazon.com/AmazonS3/latest/userguide/AddingObjectstoVersionSuspendedBuckets.html
   */
  async commitVersion(
    bucketName: string,
    version: NewObjectVersion,
    conditions: WriteConditions,
    origin: { eventName: ObjectEventName; caller: Caller | null },
    extra?: (tx: MetadataTx) => Promise<void>,
  ): Promise<ObjectVersion> {
    return this.#metadata.transaction(async (tx) => {
      const bucket = await tx.getBucket(bucketName);
      if (bucket === null)
        throw storageError('BucketNotFound', 'The specified bucket does not exist', { name: bucketName });
      await tx.lockObjectKey(bucketName, version.key);
      const latest = await tx.getLatestVersion(bucketName, version.key);
      checkWriteConditions(latest, conditions);
      const row: NewObjectVersion = {
        ...version,
        versionId: bucket.versioning === 'Enabled' ? version.versionUid : 'null',
        retention: retentionAtCommit(
          version.retention,
          bucket,
          await objectLockConfigurationIn(tx, bucket),
          version.lastModified,
        ),
      };
      if (row.versionId === 'null') await this.#removeNullVersion(tx, bucketName, version.key);
      if (extra !== undefined) await extra(tx);
      const seq = await tx.insertVersion(row);
      await this.#events?.record(tx, {
        name: origin.eventName,
        bucket: bucketName,
        key: row.key,
        versionId: bucket.versioning === 'Unversioned' ? null : row.versionId,
        sizeBytes: row.sizeBytes,
        etag: row.etag,
        sequencer: seq,
        time: row.lastModified,
        caller: origin.caller,
      });
      return { ...row, seq, isLatest: true };
    });
  }

  /** Removes the key's `null` version, if any and if Object Lock allows, and returns it. */
  async #removeNullVersion(
    tx: MetadataTx,
    bucket: string,
    key: string,
    governanceBypass = false,
  ): Promise<ObjectVersion | null> {
    const existing = await tx.getVersion(bucket, key, 'null');
    if (existing === null) return null;
    assertRemovable(existing, this.#clock.nowMs(), governanceBypass);
    await tx.deleteVersion(bucket, key, 'null');
    await tx.enqueueGarbage(blobIdsOf(existing));
    return existing;
  }

  async #recordRemoval(
    tx: MetadataTx,
    name: ObjectEventName,
    version: ObjectVersion,
    versionId: string | null,
    caller: Caller | null,
  ): Promise<void> {
    await this.#events?.record(tx, {
      name,
      bucket: version.bucket,
      key: version.key,
      versionId,
      sizeBytes: version.sizeBytes,
      etag: version.etag,
      sequencer: version.seq,
      time: this.#clock.now(),
      caller,
    });
  }

  // ---- objects: read ------------------------------------------------------------------------

  /** The requested version (latest when versionId is null); delete markers are not objects. */
  async getObjectVersion(bucket: string, key: string, versionId: string | null): Promise<ObjectVersion> {
    const version = await this.findVersion(bucket, key, versionId);
    if (version.isDeleteMarker) {
      if (versionId === null) {
        throw storageError('ObjectNotFound', 'The specified key does not exist.', {
          key,
          deleteMarker: true,
          versionId: version.versionId,
        });
      }
      throw storageError(
        'DeleteMarkerNotReadable',
        'The specified method is not allowed against this resource.',
        {
          deleteMarker: true,
          versionId: version.versionId,
        },
      );
    }
    return version;
  }

  /**
   * The own label of a key's current version (ObjectVersion.classification), or null when it
   * carries its bucket's label or there is no current version (`sovra policy explain`).
   */
  async currentObjectLabel(bucket: string, key: string): Promise<string | null> {
    await this.getBucket(bucket);
    return (await this.#metadata.getLatestVersion(bucket, key))?.classification ?? null;
  }

  /** Like getObjectVersion but returns delete markers too. */
  async findVersion(bucket: string, key: string, versionId: string | null): Promise<ObjectVersion> {
    await this.getBucket(bucket);
    if (versionId === null) {
      const latest = await this.#metadata.getLatestVersion(bucket, key);
      if (latest === null) throw storageError('ObjectNotFound', 'The specified key does not exist.', { key });
      return latest;
    }
    const version = await this.#metadata.getVersion(bucket, key, versionId);
    if (version === null) {
      throw storageError('VersionNotFound', 'The specified version does not exist.', { key, versionId });
    }
    return version;
  }

  /**
   * A version's record and, unless `withBody` is false (HEAD), its data. HEAD unwraps no data key,
   * so it uses no KMS key: S3 asks only s3:GetObject of a HEAD, where downloading an SSE-KMS
   * object also needs kms:Decrypt
   * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html, "Permissions";
   * https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html).
   */
  async readObject(
    bucket: string,
    key: string,
    versionId: string | null,
    conditions: ReadConditions,
    range: ByteRangeRequest | null,
    options: ReadObjectOptions,
  ): Promise<ObjectRead> {
    const { customerKey, keyUse, admit } = options;
    const version = await this.getObjectVersion(bucket, key, versionId);
    if (admit !== undefined) await admit(version);
    evaluateReadConditions(conditions, version.etag, version.lastModified);
    const resolved = range === null ? null : resolveRange(range, version.sizeBytes);
    if (!options.withBody) {
      // HEAD of an SSE-C object needs the right key too (S3 answers 400 without it, 403 with another).
      if (version.encryption !== null) checkCustomerKey(version.encryption, customerKey);
      else if (customerKey !== null) await this.frameSuiteFor(version, customerKey, keyUse);
      return { version, range: resolved, body: null };
    }
    const start = resolved?.start ?? 0;
    const endExclusive = resolved?.endExclusive ?? version.sizeBytes;
    const suite = await this.frameSuiteFor(version, customerKey, keyUse);
    let inline: Buffer | null;
    try {
      inline = this.#data.readInline(version, suite, start, endExclusive);
    } catch (error) {
      wipeSuite(suite);
      throw error;
    }
    if (inline !== null) {
      wipeSuite(suite);
      return { version, range: resolved, body: inline };
    }
    return { version, range: resolved, body: this.#streamWithSuite(version, suite, start, endExclusive) };
  }

  /** Plaintext stream of a byte range of a version (UploadPartCopy, CopyObject). */
  async openVersion(
    version: ObjectVersion,
    start: number,
    endExclusive: number,
    customerKey: Buffer | null,
    keyUse: RequestJustification,
  ): Promise<Readable> {
    const suite = await this.frameSuiteFor(version, customerKey, keyUse);
    return this.#streamWithSuite(version, suite, start, endExclusive);
  }

  /** The data key is zeroed once the stream is done with it, however it ends. */
  #streamWithSuite(version: ObjectVersion, suite: FrameSuite, start: number, endExclusive: number): Readable {
    let stream: Readable;
    try {
      stream = this.#data.read(version, suite, start, endExclusive);
    } catch (error) {
      wipeSuite(suite);
      throw error;
    }
    if (suite.kind !== 'crc32') stream.once('close', () => wipeSuite(suite));
    return stream;
  }

  // ---- objects: delete ----------------------------------------------------------------------

  /**
   * DeleteObject semantics per versioning state
   * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeletingObjectVersions.html):
   * a versionId removes that version permanently; otherwise unversioned buckets remove the null
   * version, enabled buckets add a delete marker, suspended buckets replace the null version
   * with a null delete marker. Removing a version is refused while Object Lock protects it
   * (assertRemovable), whoever asks: API, lifecycle or maintenance; `governanceBypass` is true
   * only when the caller asked for it and was allowed s3:BypassGovernanceRetention.
   */
  async deleteObject(
    caller: Caller | null,
    bucketName: string,
    key: string,
    versionId: string | null,
    initiator: 'api' | 'lifecycle' = 'api',
    guard?: DeleteGuard,
    governanceBypass = false,
  ): Promise<DeleteObjectResult> {
    const prefix = initiator === 'api' ? 'ObjectRemoved' : 'LifecycleExpiration';
    return this.#metadata.transaction(async (tx) => {
      const bucket = await tx.getBucket(bucketName);
      if (bucket === null)
        throw storageError('BucketNotFound', 'The specified bucket does not exist', { name: bucketName });
      await tx.lockObjectKey(bucketName, key);
      if (guard !== undefined) await guard(tx);
      if (versionId !== null) {
        const version = await tx.getVersion(bucketName, key, versionId);
        if (version === null) {
          if (!isPlausibleVersionId(versionId)) {
            throw storageError('InvalidVersionId', 'Invalid version id specified');
          }
          return { versionId, deleteMarker: false };
        }
        assertRemovable(version, this.#clock.nowMs(), governanceBypass);
        await tx.deleteVersion(bucketName, key, versionId);
        await tx.enqueueGarbage(blobIdsOf(version));
        await this.#recordRemoval(tx, `${prefix}:Delete`, version, versionId, caller);
        return { versionId, deleteMarker: version.isDeleteMarker };
      }
      if (bucket.versioning === 'Unversioned') {
        const removed = await this.#removeNullVersion(tx, bucketName, key, governanceBypass);
        if (removed !== null) await this.#recordRemoval(tx, `${prefix}:Delete`, removed, null, caller);
        return { versionId: null, deleteMarker: false };
      }
      const markerUid = randomHexId();
      const markerVersionId = bucket.versioning === 'Enabled' ? markerUid : 'null';
      if (markerVersionId === 'null') await this.#removeNullVersion(tx, bucketName, key, governanceBypass);
      const markerTime = this.#clock.now();
      const markerSeq = await tx.insertVersion({
        format: OBJECT_RECORD_FORMAT,
        bucket: bucketName,
        key,
        versionUid: markerUid,
        versionId: markerVersionId,
        isDeleteMarker: true,
        sizeBytes: 0,
        etag: '',
        lastModified: markerTime,
        system: {},
        userMetadata: {},
        checksum: null,
        layout: { kind: 'none' },
        inlineData: null,
        encryption: null,
        tags: {},
        retention: null,
        legalHold: false,
        classification: null,
        ownerTenantId: caller?.tenantId ?? bucket.tenantId,
      });
      await this.#events?.record(tx, {
        name: `${prefix}:DeleteMarkerCreated`,
        bucket: bucketName,
        key,
        versionId: markerVersionId,
        sizeBytes: 0,
        etag: '',
        sequencer: markerSeq,
        time: markerTime,
        caller,
      });
      return { versionId: markerVersionId, deleteMarker: true };
    });
  }

  // ---- listings -----------------------------------------------------------------------------

  async listObjects(
    bucket: string,
    query: { prefix: string; delimiter: string; after: string; maxKeys: number },
  ): Promise<ListObjectsPage> {
    await this.getBucket(bucket);
    if (query.maxKeys === 0)
      return { objects: [], commonPrefixes: [], isTruncated: false, lastReturned: null };
    return this.#metadata.listObjects(bucket, query);
  }

  async listVersions(
    bucket: string,
    query: { prefix: string; delimiter: string; keyMarker: string; versionIdMarker: string; maxKeys: number },
  ): Promise<ListVersionsPage> {
    await this.getBucket(bucket);
    let versionSeqMarker: number | null = null;
    if (query.versionIdMarker !== '') {
      if (query.keyMarker === '') {
        throw storageError(
          'InvalidArgument',
          'A version-id marker cannot be specified without a key marker.',
        );
      }
      const marker = await this.#metadata.getVersion(bucket, query.keyMarker, query.versionIdMarker);
      if (marker === null) throw storageError('InvalidVersionId', 'Invalid version id specified');
      versionSeqMarker = marker.seq;
    }
    if (query.maxKeys === 0) return { versions: [], commonPrefixes: [], isTruncated: false };
    return this.#metadata.listVersions(bucket, { ...query, versionSeqMarker });
  }
}

export function blobIdsOf(version: { layout: DataLayout }): string[] {
  return version.layout.kind === 'segments' ? version.layout.segments.map((s) => s.blobId) : [];
}

function isPlausibleVersionId(versionId: string): boolean {
  return versionId === 'null' || /^[0-9a-f]{32}$/.test(versionId);
}

/**
 * Conditional writes (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html):
 * If-None-Match: * fails when a current object exists; If-Match fails when none exists (404) or
 * its ETag differs (412).
 */
export function checkWriteConditions(latest: ObjectVersion | null, conditions: WriteConditions): void {
  const current = latest !== null && !latest.isDeleteMarker ? latest : null;
  if (conditions.ifNoneMatch !== undefined) {
    if (conditions.ifNoneMatch.trim() !== '*') {
      throw storageError('UnsupportedCondition', 'If-None-Match on writes accepts only *');
    }
    if (current !== null) {
      throw storageError(
        'PreconditionFailed',
        'At least one of the pre-conditions you specified did not hold',
        {
          condition: 'If-None-Match',
        },
      );
    }
  }
  if (conditions.ifMatch !== undefined) {
    if (current === null) throw storageError('ObjectNotFound', 'The specified key does not exist.', {});
    if (!etagMatches(conditions.ifMatch, current.etag)) {
      throw storageError(
        'PreconditionFailed',
        'At least one of the pre-conditions you specified did not hold',
        {
          condition: 'If-Match',
        },
      );
    }
  }
}

/** Content-MD5 and x-amz-checksum-* verification after the body has been read. */
export function verifyIngestedDigests(
  ingested: IngestedData,
  contentMd5: Buffer | null,
  claim: ChecksumClaim | null,
): void {
  if (contentMd5 !== null && !contentMd5.equals(ingested.md5)) {
    throw storageError('DigestMismatch', 'The Content-MD5 you specified did not match what we received.');
  }
  if (claim === null) return;
  const expected = claim.expected();
  if (expected === undefined) return;
  const actual = ingested.checksums.get(claim.algorithm);
  const expectedBytes = Buffer.from(expected, 'base64');
  if (
    expectedBytes.length !== CHECKSUM_DIGEST_BYTES[claim.algorithm] ||
    expectedBytes.toString('base64') !== expected
  ) {
    throw storageError(
      'InvalidChecksum',
      `Value for x-amz-checksum-${claim.algorithm.toLowerCase()} header is invalid.`,
    );
  }
  if (actual === undefined || !actual.equals(expectedBytes)) {
    throw storageError(
      'ChecksumMismatch',
      `The ${claim.algorithm} you specified did not match the calculated checksum.`,
      {
        algorithm: claim.algorithm,
      },
    );
  }
}
