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
  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-tagging.html
  objectTagsMax: 10,
  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/tagging-managing.html (bucket tags)
  bucketTagsMax: 50,
  tagKeyMaxChars: 128,
  tagValueMaxChars: 256,
  // Object Lock default retention (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DefaultRetention.html):
  // S3 caps it at 100 years.
  objectLockMaxRetentionDays: 36_500,
  objectLockMaxRetentionYears: 100,
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

  // Event notifications (https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventNotifications.html).
  /** Queue and topic configurations in one bucket's notification configuration. */
  notificationConfigurationsMax: 100,
  notificationConfigurationIdMaxLength: 255,
  /** https://docs.aws.amazon.com/AmazonS3/latest/API/API_FilterRule.html: at most 1,024 characters. */
  notificationFilterValueMaxLength: 1024,
  /** Operator-registered destinations (webhook, NATS) in the notificationTargets file. */
  notificationTargetsMax: 64,
  notificationTargetsFileMaxBytes: 256 * KiB,
  /** Notification configurations are re-read at most this often; a Put through this gateway invalidates at once. */
  notificationConfigCacheTtlMs: 1_000,
  notificationConfigCacheEntries: 10_000,
  /** Outbox events one dispatcher pass claims and sends to one destination, in order. */
  notificationBatchEvents: 512,
  /** How often an idle destination's outbox head is checked for due events. */
  notificationPollIntervalMs: 100,
  /** A claimed batch is hidden from other gateways this long; a gateway that dies mid-send is retried after it. */
  notificationLeaseMs: 30_000,
  /** One send (a webhook POST, a JetStream publish awaiting its PubAck) fails after this long. */
  notificationSendTimeoutMs: 10_000,
  /** Retry delay after the n-th failed attempt: base × 2^(n-1), capped. Events are never dropped. */
  notificationRetryBaseDelayMs: 200,
  notificationRetryMaxDelayMs: 30_000,
  /** What is read of a webhook's response body before it is discarded. */
  webhookResponseMaxBytes: 64 * KiB,

  // Lifecycle (https://docs.aws.amazon.com/AmazonS3/latest/userguide/intro-lifecycle-rules.html).
  /** A lifecycle configuration holds at most 1,000 rules; a rule ID at most 255 characters. */
  lifecycleRulesMax: 1000,
  lifecycleRuleIdMaxChars: 255,
  /** NoncurrentVersionExpiration retains at most 100 newer noncurrent versions. */
  lifecycleNewerNoncurrentVersionsMax: 100,
  /** Object size filters go up to 50 TB (intro-lifecycle-filters). */
  lifecycleObjectSizeFilterMaxBytes: 50 * 1024 * GiB,
  /** Versions or uploads a lifecycle pass reads per listing page, and so acts on per batch. */
  lifecycleBatchSize: 1000,
  /** Bucket configurations read per page (lifecycle passes, other sweeps). */
  bucketConfigPageMax: 100,
  /** Lifecycle record rows returned per read. */
  lifecycleRecordPageMax: 1000,
  /** Default time between background lifecycle passes; S3 itself evaluates rules once a day. */
  lifecycleIntervalMsDefault: 60 * 60 * 1000,
  /** The first background pass comes this soon after start (or after one interval, if shorter). */
  lifecycleFirstPassDelayMs: 60 * 1000,
  lifecycleIntervalMsMax: 24 * 60 * 60 * 1000,

  // CORS (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketCors.html).
  /** A CORS configuration holds at most 100 rules, in a document of at most 64 KB. */
  corsRulesMax: 100,
  corsConfigMaxBytes: 64 * KiB,
  corsRuleIdMaxChars: 255,
  /** MaxAgeSeconds is a 32-bit signed integer in S3's schema. */
  corsMaxAgeSecondsMax: 2_147_483_647,
  /** Parsed CORS configurations are re-read at most this often; Put/Delete through this gateway invalidate at once. */
  corsConfigCacheTtlMs: 1_000,
  corsConfigCacheEntries: 10_000,

  // Browser-based uploads, POST Object (https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html).
  /** "The form data and boundaries (excluding the contents of the file) cannot exceed 20KB." */
  postFormPreFileMaxBytes: 20 * KiB,
  /** Form fields before the file; 20 KB of fields cannot need more. */
  postFormFieldsMax: 200,
  /** Parts after the file are ignored, but only this many are parsed before the form is refused. */
  postFormPartsMax: 1_000,
  /** The base64 policy is a form field, so it is bounded by the 20 KB too; conditions in it: */
  postPolicyConditionsMax: 256,
  /**
   * A refused upload's remaining body is read (and dropped) up to this much, for this long, so
   * that a browser still sending gets the error instead of a reset connection.
   */
  postErrorDiscardMaxBytes: 8 * MiB,
  postErrorDiscardMaxMs: 10_000,
} as const;
