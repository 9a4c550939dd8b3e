import type { Readable } from 'node:stream';
import type { AccessKeyRecord, Principal, Tenant } from '../iam/types.ts';
import type {
  BucketRecord,
  ListObjectsPage,
  ListObjectsQuery,
  MultipartUpload,
  NewObjectVersion,
  ObjectRetention,
  ObjectVersion,
  UploadPart,
  VersioningState,
} from './types.ts';

/**
 * Row-level operations inside one metadata transaction. The rules (versioning, conditional
 * writes, garbage) live in the domain; adapters only store and fetch.
 */
export interface MetadataTx {
  /** Serialises writers of one object key until the transaction ends (no-op where writes are serial). */
  lockObjectKey(bucket: string, key: string): Promise<void>;

  getBucket(name: string): Promise<BucketRecord | null>;
  insertBucket(bucket: BucketRecord): Promise<void>;
  deleteBucket(name: string): Promise<void>;
  setBucketVersioning(name: string, state: VersioningState): Promise<void>;
  /** True when any version, delete marker or multipart upload exists in the bucket. */
  bucketHasContent(name: string): Promise<boolean>;
  getBucketConfig(bucket: string, kind: BucketConfigKind): Promise<BucketConfig | null>;
  /** Inserts or replaces the bucket's configuration of `config.kind`. */
  putBucketConfig(config: BucketConfig): Promise<void>;
  deleteBucketConfig(bucket: string, kind: BucketConfigKind): Promise<void>;

  /** Latest version of a key (delete markers included), or null. */
  getLatestVersion(bucket: string, key: string): Promise<ObjectVersion | null>;
  getVersion(bucket: string, key: string, versionId: string): Promise<ObjectVersion | null>;
  /** Inserts a version and makes it the latest; returns its sequence number. */
  insertVersion(version: NewObjectVersion): Promise<number>;
  /** Removes one version row (by bucket, key, versionId) and re-elects the latest. */
  deleteVersion(bucket: string, key: string, versionId: string): Promise<void>;
  /** Replaces the tag set of one version. */
  setVersionTags(bucket: string, key: string, versionId: string, tags: Record<string, string>): Promise<void>;
  /** Sets or clears the Object Lock retention of one version (the domain enforces the rules). */
  setVersionRetention(
    bucket: string,
    key: string,
    versionId: string,
    retention: ObjectRetention | null,
  ): Promise<void>;
  setVersionLegalHold(bucket: string, key: string, versionId: string, on: boolean): Promise<void>;

  insertUpload(upload: MultipartUpload): Promise<void>;
  getUpload(bucket: string, key: string, uploadId: string): Promise<MultipartUpload | null>;
  deleteUpload(uploadId: string): Promise<void>;
  /** Inserts or replaces a part; returns the replaced part's blob id, if any. */
  upsertPart(part: UploadPart): Promise<string | null>;
  listAllParts(uploadId: string): Promise<UploadPart[]>;

  /** Blobs no longer referenced; deleted later by the garbage collector. */
  enqueueGarbage(blobIds: readonly string[]): Promise<void>;

  getTenant(id: string): Promise<Tenant | null>;
  insertTenant(tenant: Tenant): Promise<void>;
  insertPrincipal(principal: Principal): Promise<void>;
  insertAccessKey(key: AccessKeyRecord): Promise<void>;
}

/** Bucket sub-resources stored as documents, one per kind. */
export const BUCKET_CONFIG_KINDS = [
  'policy',
  'cors',
  'lifecycle',
  'tagging',
  'encryption',
  'notification',
  'object-lock',
] as const;
export type BucketConfigKind = (typeof BUCKET_CONFIG_KINDS)[number];

export interface BucketConfig {
  bucket: string;
  kind: BucketConfigKind;
  /** The configuration as the domain serialised it (JSON carrying its own format version). */
  document: string;
  updatedAt: Date;
}

export interface ListVersionsQuery {
  prefix: string;
  delimiter: string;
  keyMarker: string;
  /** Seq of the version-id-marker within keyMarker; versions older (smaller seq) follow it. */
  versionSeqMarker: number | null;
  maxKeys: number;
}

export interface ListVersionsPage {
  versions: ObjectVersion[];
  commonPrefixes: string[];
  isTruncated: boolean;
}

export interface ListUploadsQuery {
  prefix: string;
  delimiter: string;
  keyMarker: string;
  uploadIdMarker: string;
  maxUploads: number;
}

export interface ListUploadsPage {
  uploads: MultipartUpload[];
  commonPrefixes: string[];
  isTruncated: boolean;
}

/** The metadata store: one interface, SQLite and PostgreSQL adapters, one contract suite. */
export interface MetadataStore {
  readonly dialect: 'sqlite' | 'postgres';
  /** Applies pending schema migrations; idempotent. */
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** Checks the store answers (readiness). */
  ping(): Promise<void>;

  /**
   * Runs `work` in one atomic, durable transaction. When the database aborts it for a conflict
   * (deadlock, serialization failure) the adapter runs `work` again a bounded number of times, so
   * `work` must be safe to re-run; other failures roll back and reach the caller.
   */
  transaction<T>(work: (tx: MetadataTx) => Promise<T>): Promise<T>;

  // Reads outside a transaction see the last committed state (read-after-write consistent).
  getBucket(name: string): Promise<BucketRecord | null>;
  listBuckets(tenantId: string): Promise<BucketRecord[]>;
  getBucketConfig(bucket: string, kind: BucketConfigKind): Promise<BucketConfig | null>;
  getLatestVersion(bucket: string, key: string): Promise<ObjectVersion | null>;
  getVersion(bucket: string, key: string, versionId: string): Promise<ObjectVersion | null>;
  /** Latest non-delete-marker versions in key order, grouped by delimiter. */
  listObjects(bucket: string, query: ListObjectsQuery): Promise<ListObjectsPage>;
  listVersions(bucket: string, query: ListVersionsQuery): Promise<ListVersionsPage>;
  getUploadById(uploadId: string): Promise<MultipartUpload | null>;
  listUploads(bucket: string, query: ListUploadsQuery): Promise<ListUploadsPage>;
  listParts(uploadId: string, afterPartNumber: number, maxParts: number): Promise<UploadPart[]>;

  getAccessKey(accessKeyId: string): Promise<AccessKeyRecord | null>;
  getPrincipal(id: string): Promise<Principal | null>;
  countTenants(): Promise<number>;

  /** Oldest garbage entries, up to `limit`. */
  peekGarbage(limit: number): Promise<string[]>;
  forgetGarbage(blobIds: readonly string[]): Promise<void>;
  /** True when any version or part still references the blob (for the orphan sweeper). */
  isBlobReferenced(blobId: string): Promise<boolean>;
}

/** Writes one blob: bytes go to a temporary file that becomes visible only on commit. */
export interface BlobWriter {
  readonly blobId: string;
  write(chunk: Uint8Array): Promise<void>;
  /** fsyncs data and directory, then renames into place. After this the blob is durable. */
  commit(): Promise<void>;
  /** Discards the temporary data; safe to call more than once and after a failure. */
  abort(): Promise<void>;
}

/** Raw byte storage for frame streams; local disk now, a shared backend at scale. */
export interface BlobStore {
  /** Removes temporary files left by a previous process (called once at start). */
  cleanTemporary(): Promise<number>;
  createWriter(): Promise<BlobWriter>;
  /** Streams bytes [start, endExclusive) of a committed blob. */
  openRange(blobId: string, start: number, endExclusive: number): Readable;
  sizeOf(blobId: string): Promise<number | null>;
  delete(blobId: string): Promise<void>;
  /** Committed blobs with their modification time, for the orphan sweeper. */
  list(): AsyncIterable<{ blobId: string; modifiedAtMs: number }>;
}
