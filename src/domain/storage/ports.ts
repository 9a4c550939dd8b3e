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
  /** Turns Object Lock on for the bucket; it is never turned off again. */
  enableBucketObjectLock(name: string): Promise<void>;
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

  /** Appends events to the transactional outbox; they exist if and only if this transaction commits. */
  insertOutboxEvents(events: readonly NewOutboxEvent[]): Promise<void>;

  /** Appends one lifecycle action to the durable record (committed with the change it describes). */
  recordLifecycleAction(action: NewLifecycleAction): Promise<void>;

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

/** What a lifecycle rule did (see domain/storage/lifecycle.ts for when each applies). */
export const LIFECYCLE_ACTION_KINDS = [
  'DeleteCurrentVersion',
  'AddDeleteMarker',
  'DeleteNoncurrentVersion',
  'DeleteExpiredDeleteMarker',
  'AbortMultipartUpload',
] as const;
export type LifecycleActionKind = (typeof LIFECYCLE_ACTION_KINDS)[number];

/** One row of the durable lifecycle record (table lifecycle_actions). */
export interface LifecycleActionRecord {
  /** Monotonic position in the record. */
  seq: number;
  occurredAt: Date;
  bucket: string;
  key: string;
  action: LifecycleActionKind;
  ruleId: string;
  /** The version removed or made noncurrent; null for multipart uploads. */
  versionId: string | null;
  /** The upload aborted; null for versions. */
  uploadId: string | null;
  /** Bytes the action released (the version's size; 0 for markers and uploads). */
  sizeBytes: number;
}

export type NewLifecycleAction = Omit<LifecycleActionRecord, 'seq'>;

/** One event notification waiting in the transactional outbox for one destination. */
export interface NewOutboxEvent {
  /** The operator-registered destination (notification target id). */
  destinationId: string;
  bucket: string;
  /** Random and kept across retries: the destination's de-duplication key. */
  deliveryId: string;
  /** Version of the payload document (see domain/storage/event-records.ts). */
  format: number;
  /** The S3 event record as JSON; its sequencer is derived from `seq` at delivery. */
  payload: string;
  createdAtMs: number;
}

export interface OutboxEvent extends NewOutboxEvent {
  /** Position in the outbox: monotonic, and increasing per object key in commit order. */
  seq: number;
  /** Failed delivery attempts so far. */
  attempts: number;
  nextAttemptAtMs: number;
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
  /** Configurations of one kind across all buckets, in bucket-name order after `afterBucket`. */
  listBucketConfigs(kind: BucketConfigKind, afterBucket: string, limit: number): Promise<BucketConfig[]>;
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

  /** A bucket's lifecycle record, oldest first, after position `afterSeq`. */
  listLifecycleActions(bucket: string, afterSeq: number, limit: number): Promise<LifecycleActionRecord[]>;

  /** The destination's oldest outbox event (the head of its queue), or null when it has none. */
  peekOutboxHead(destinationId: string): Promise<{ seq: number; nextAttemptAtMs: number } | null>;
  /**
   * Claims the destination's next events, oldest first, until `leaseUntilMs`: nothing unless its
   * oldest event is due (attempt time reached) and no other claimant holds it; then up to `limit`
   * events, stopping before the first one not due. Claimed events are hidden from other claimants
   * until the lease ends, so gateways sharing a database never send one concurrently.
   */
  claimOutboxEvents(
    destinationId: string,
    nowMs: number,
    leaseUntilMs: number,
    limit: number,
  ): Promise<OutboxEvent[]>;
  /** Removes delivered events. */
  deleteOutboxEvents(seqs: readonly number[]): Promise<void>;
  /** Makes claimed events due again at `nextAttemptAtMs`; `failedSeq` (if any) counts an attempt. */
  releaseOutboxEvents(
    seqs: readonly number[],
    nextAttemptAtMs: number,
    failedSeq: number | null,
  ): Promise<void>;
  /** Events waiting for one destination (or for all when null). */
  countOutboxEvents(destinationId: string | null): Promise<number>;

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

/** A committed blob open for reading. */
export interface BlobFile {
  /**
   * Reads up to `target.length` bytes at `position` into `target`; fewer only at the end of the
   * blob (0 past it).
   */
  read(target: Buffer, position: number): Promise<number>;
  /** Safe to call more than once. */
  close(): Promise<void>;
}

/** Raw byte storage for frame streams; local disk now, a shared backend at scale. */
export interface BlobStore {
  /** Removes temporary files left by a previous process (called once at start). */
  cleanTemporary(): Promise<number>;
  createWriter(): Promise<BlobWriter>;
  /**
   * Opens a committed blob for positioned reads into the caller's buffers (the GET path reuses
   * them and decrypts frames in them). A missing blob is DataCorrupted: metadata said it exists.
   */
  openFile(blobId: string): Promise<BlobFile>;
  sizeOf(blobId: string): Promise<number | null>;
  delete(blobId: string): Promise<void>;
  /** Committed blobs with their modification time, for the orphan sweeper. */
  list(): AsyncIterable<{ blobId: string; modifiedAtMs: number }>;
}

/** One event message ready for its destination. */
export interface EventDelivery {
  /** Stable across retries (de-duplication key: webhook header, JetStream Nats-Msg-Id). */
  deliveryId: string;
  /** The message body: `{"Records":[…]}` in S3's event message structure. */
  body: string;
}

/** Sends event messages to one operator-registered destination (webhook, NATS JetStream). */
export interface NotificationSink {
  readonly destinationId: string;
  /**
   * Sends `deliveries` in order and resolves with how many of them, from the first, the
   * destination acknowledged; when that is not all of them, `error` says why the next one failed.
   * Stops early once `signal` aborts (shutdown). Never rejects.
   */
  deliver(
    deliveries: readonly EventDelivery[],
    signal: AbortSignal,
  ): Promise<{ acknowledged: number; error: unknown }>;
  close(): Promise<void>;
}

/**
 * AES-256-GCM (NIST SP 800-38D) for the frames of encrypted objects, with the output buffer
 * chosen by the caller. Output may be the input itself: frames are then sealed and opened in
 * place, so an upload or a read allocates no buffer per frame beyond what its I/O reads (fresh
 * ciphertext buffers per frame cost garbage collections: docs/decisions/0006).
 */
export interface FrameCipherFactory {
  /** A cipher under `key` (32 bytes, copied in: the caller wipes its own copy) that seals or opens. */
  create(key: Uint8Array, direction: 'seal' | 'open'): FrameCipher;
}

/** One AES-256-GCM context; messages (frames) go through it one after another. */
export interface FrameCipher {
  /** Starts a message under a 12-byte nonce, authenticating `aad`. */
  begin(nonce: Uint8Array, aad: Uint8Array): void;
  /**
   * Encrypts (seal) or decrypts (open) the next `input` bytes into `output`, of the same length;
   * `output` may be `input` itself, never a partly overlapping range.
   */
  update(input: Uint8Array, output: Uint8Array): void;
  /** Seal: ends the message and writes its 16-byte tag into `tag`. */
  finishSeal(tag: Uint8Array): void;
  /** Open: ends the message; true when `tag` authenticates everything since `begin`. */
  finishOpen(tag: Uint8Array): boolean;
  /** Frees the context and its key schedule; the cipher must not be used afterwards. */
  dispose(): void;
}

/**
 * MD5 of an upload's bytes (its ETag), which an adapter can compute beside the event loop:
 * MD5 runs at well under 1 GB/s on one core and was the largest single cost of a large PUT.
 */
export interface UploadDigests {
  createMd5(): IncrementalDigest;
}

export interface IncrementalDigest {
  /**
   * Takes the next bytes. When it returns a promise, the caller must wait for it before the next
   * update and must not change `chunk` until then; otherwise the bytes are taken already.
   */
  update(chunk: Uint8Array): Promise<void> | undefined;
  /** The digest of everything given. The digest is finished afterwards. */
  digest(): Promise<Buffer>;
  /** Abandons an unfinished digest (after an error), releasing what it holds. */
  discard(): void;
}

/**
 * Told how many body bytes each upload has taken, as it takes them. The server's implementation
 * (adapters/native/scavenge-pacer.ts, decision 0008) collects V8's young generation at a pace set
 * by those bytes, so the socket buffers an upload leaves behind are freed by cheap scavenges
 * instead of piling up until V8's external-memory heuristic starts full collections.
 */
export interface IngestPacer {
  took(bytes: number): void;
}
