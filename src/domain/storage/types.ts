/**
 * Records of the storage domain. These shapes are persisted (through the metadata store) and so
 * carry a `format` version; see docs/architecture.md "Persisted formats".
 */

export type VersioningState = 'Unversioned' | 'Enabled' | 'Suspended';

export interface BucketRecord {
  name: string;
  tenantId: string;
  /** LocationConstraint given at creation; the region the bucket reports. */
  region: string;
  createdAt: Date;
  versioning: VersioningState;
  objectLockEnabled: boolean;
  /** Labels that the classification and residency work fill in; null until then. */
  classification: string | null;
  jurisdiction: string | null;
  tier: string | null;
}

export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256';
export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = [
  'CRC32',
  'CRC32C',
  'CRC64NVME',
  'SHA1',
  'SHA256',
];

export interface ObjectChecksum {
  algorithm: ChecksumAlgorithm;
  /** Base64 of the digest, as S3 transmits it; composite values end in `-N`. */
  value: string;
  type: 'FULL_OBJECT' | 'COMPOSITE';
}

/** The HTTP representation headers S3 stores and returns unchanged. */
export interface SystemMetadata {
  contentType?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  contentDisposition?: string;
  cacheControl?: string;
  expires?: string;
}

/** One stored piece of an object's data: a blob holding a frame stream (see FrameCodec). */
export interface BlobSegment {
  blobId: string;
  /** Plaintext bytes in this segment. */
  sizeBytes: number;
  /** For multipart objects: the part this segment came from, with its own ETag and checksum. */
  partNumber?: number;
  partEtag?: string;
  partChecksum?: string;
}

/**
 * Where an object's bytes live. Small objects are inline (the frame stream is stored in the
 * metadata row); larger ones are a list of blob segments, one per multipart part.
 */
export type DataLayout =
  | { kind: 'inline'; frameSizeLog2: number }
  | { kind: 'segments'; frameSizeLog2: number; segments: BlobSegment[] }
  | { kind: 'none' };

/** Encryption of the object's frames; null means plaintext CRC frames (pre-KMS installs). */
export interface ObjectEncryption {
  /** 'SOVRA_GCM_V1' per docs/architecture.md. */
  scheme: string;
  kmsKeyId: string | null;
  wrappedDataKey: string | null;
  context: Record<string, string> | null;
  sse: 'aws:kms' | 'AES256' | 'SSE-C' | null;
  ssecKeyHmac: string | null;
}

export type RetentionMode = 'GOVERNANCE' | 'COMPLIANCE';

/** Object Lock retention of one version (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html). */
export interface ObjectRetention {
  mode: RetentionMode;
  retainUntil: Date;
}

/**
 * Object Lock settings a write asks for with x-amz-object-lock-* headers; a null field was not
 * asked for (the bucket's default retention, or no legal hold, applies).
 */
export interface RequestedObjectLock {
  retention: ObjectRetention | null;
  legalHold: boolean | null;
}

export const OBJECT_RECORD_FORMAT = 1;

export interface ObjectVersion {
  format: number;
  bucket: string;
  key: string;
  /** Internal unique id of this version; bound into the frames' AAD. */
  versionUid: string;
  /** S3-visible version id: 'null' or the versionUid. */
  versionId: string;
  isLatest: boolean;
  isDeleteMarker: boolean;
  sizeBytes: number;
  /** Hex MD5, or `md5-of-part-md5s-N` for multipart; without quotes. */
  etag: string;
  lastModified: Date;
  system: SystemMetadata;
  userMetadata: Record<string, string>;
  checksum: ObjectChecksum | null;
  layout: DataLayout;
  /** Frame stream bytes for inline layout; not loaded by listings. */
  inlineData: Uint8Array | null;
  encryption: ObjectEncryption | null;
  tags: Record<string, string>;
  /** Object Lock: retention period and legal hold of this version. */
  retention: ObjectRetention | null;
  legalHold: boolean;
  /**
   * The version's own security label in its compact form (`SECRET//CRYPTO`), above its bucket's;
   * null when it carries its bucket's label. The data's label is the two joined
   * (docs/reference/classification.md "Object labels"). Delete markers carry none.
   */
  classification: string | null;
  ownerTenantId: string;
  /** Monotonic row sequence: orders versions newest first. */
  seq: number;
}

/** A new version about to be committed (no seq or isLatest yet). */
export type NewObjectVersion = Omit<ObjectVersion, 'seq' | 'isLatest'>;

export interface MultipartUpload {
  uploadId: string;
  bucket: string;
  key: string;
  /** Version uid reserved for the object this upload will become. */
  versionUid: string;
  initiatedAt: Date;
  system: SystemMetadata;
  userMetadata: Record<string, string>;
  checksumAlgorithm: ChecksumAlgorithm | null;
  checksumType: 'FULL_OBJECT' | 'COMPOSITE' | null;
  encryption: ObjectEncryption | null;
  tags: Record<string, string>;
  ownerTenantId: string;
  initiatorPrincipalId: string;
  /** Object Lock settings asked for at CreateMultipartUpload, applied on completion; absent when none were. */
  objectLock?: RequestedObjectLock;
  /** The label CreateMultipartUpload gave the object (as ObjectVersion.classification), applied on completion. */
  classification: string | null;
}

export interface UploadPart {
  uploadId: string;
  partNumber: number;
  blobId: string;
  sizeBytes: number;
  etag: string;
  checksum: ObjectChecksum | null;
  lastModified: Date;
}

export interface ListObjectsQuery {
  prefix: string;
  delimiter: string;
  /** Exclusive lower bound on keys (start-after, marker or continuation). */
  after: string;
  maxKeys: number;
}

export interface ListObjectsPage {
  objects: ObjectVersion[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last key or common prefix returned: continuation point for the next page. */
  lastReturned: string | null;
}
