/**
 * Every limit Sovra enforces, in one place. Values that S3 dictates cite the AWS page that
 * defines them; the others are Sovra's own bounds so that no input can grow without limit.
 */
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export const LIMITS = {
  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html
  objectKeyMaxBytes: 1024,
  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
  bucketNameMinLength: 3,
  bucketNameMaxLength: 63,
  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/upload-objects.html (single PUT)
  singlePutMaxBytes: 5 * GiB,
  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html
  multipartPartMinBytes: 5 * MiB,
  multipartPartMaxBytes: 5 * GiB,
  multipartMaxParts: 10_000,
  objectMaxBytes: 5 * 1024 * GiB,
  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html (user metadata)
  userMetadataMaxBytes: 2 * KiB,
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
  listMaxKeys: 1000,
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
  deleteObjectsMaxKeys: 1000,
  // SigV4 presigned URLs: X-Amz-Expires at most 7 days.
  presignMaxExpiresSeconds: 7 * 24 * 3600,
  // S3 rejects requests whose X-Amz-Date is more than 15 minutes off (RequestTimeTooSkewed).
  clockSkewMaxMs: 15 * 60 * 1000,

  // Sovra's own bounds.
  httpHeadersMaxBytes: 16 * KiB,
  httpHeadersTimeoutMs: 30_000,
  httpRequestIdleTimeoutMs: 120_000,
  httpKeepAliveTimeoutMs: 65_000,
  xmlBodyMaxBytes: 2 * MiB,
  awsChunkHeaderMaxBytes: 4 * KiB,
  awsChunkTrailerMaxBytes: 16 * KiB,
  /** Objects up to this size live inline in the metadata row: one commit, no file. */
  inlineObjectMaxBytes: 16 * KiB,
  /** Plaintext bytes per authenticated frame (2^18 = 256 KiB). */
  frameSizeLog2: 18,
  /** Read-ahead of a blob range stream: above one frame plus tag, so most frames arrive whole. */
  blobReadChunkBytes: 512 * KiB,
  /** Small blob writes are gathered up to this size before one write to the file. */
  blobWriteBatchBytes: 256 * KiB,
  copySourceMaxBytes: 5 * GiB,
  /** Blob writes queued behind the disk while the next chunks are hashed (each ≤ one frame). */
  blobWritesInFlight: 4,
  /** A blob being written is flushed in the background every this many bytes, so the fsync at commit has little left to do. */
  blobEarlyFlushBytes: 8 * MiB,
  shutdownDrainMs: 25_000,
  blobGcBatch: 256,
  orphanBlobGraceMs: 60 * 60 * 1000,
  signingKeyCacheEntries: 1024,
  credentialCacheTtlMs: 30_000,
  /** Bucket records are re-read at most this often; writes through this gateway invalidate at once. */
  bucketCacheTtlMs: 1_000,
  bucketCacheEntries: 10_000,
  /** How long a SQLite connection waits for another process's write lock before failing. */
  sqliteBusyTimeoutMs: 5_000,
  /** Prepared statements kept per metadata connection (the store's own SQL is a fixed, smaller set). */
  sqlStatementCacheEntries: 256,
  /** Runs of a PostgreSQL transaction aborted by a serialization failure or deadlock, in all. */
  metadataTransactionMaxAttempts: 5,
  postgresPoolMaxConnections: 10,
  /** A PostgreSQL transaction idle this long (its caller stuck) is ended by the server. */
  metadataIdleTransactionTimeoutMs: 60_000,
} as const;
