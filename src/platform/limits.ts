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
  /** One positioned blob read on the GET path: the whole frames that fit (4 of 256 KiB). */
  blobReadBytes: 1 * MiB + 64,
  /** Small blob writes are gathered up to this size before one write to the file. */
  blobWriteBatchBytes: 256 * KiB,
  copySourceMaxBytes: 5 * GiB,
  /** Blob writes queued behind the disk while the next chunks are hashed (each ≤ one frame). */
  blobWritesInFlight: 4,
  /** A blob being written is flushed in the background every this many bytes, so the fsync at commit has little left to do. */
  blobEarlyFlushBytes: 8 * MiB,
  shutdownDrainMs: 25_000,
  blobGcBatch: 256,
  /** The C library's free heap pages go back to the system this often (adapters/native/heap-trimmer.ts). */
  heapTrimIntervalMs: 1_000,
  /** Upload bytes between two young-generation collections (adapters/native/scavenge-pacer.ts). */
  scavengeEveryIngestBytes: 4 * MiB,
  orphanBlobGraceMs: 60 * 60 * 1000,
  signingKeyCacheEntries: 1024,
  credentialCacheTtlMs: 30_000,
  /** Bucket records are re-read at most this often; writes through this gateway invalidate at once. */
  bucketCacheTtlMs: 1_000,
  bucketCacheEntries: 10_000,
  /** How long a SQLite connection waits for another process's write lock before failing. */
  sqliteBusyTimeoutMs: 5_000,
  /** Transactions committed together by one SQLite group commit (one fsync), at most. */
  sqliteGroupCommitMaxTransactions: 128,
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

  // Sealed software root of trust (Shamir shares over GF(2^8); see domain/kms/shamir.ts).
  /** GF(2^8) has 255 non-zero x coordinates, so at most 255 shares. */
  shamirSharesMax: 255,
  /** A threshold of 1 would make every share the root key itself. */
  shamirThresholdMin: 2,
  /** Longest secret split (the root key is 32 bytes). */
  shamirSecretMaxBytes: 64,
  /** A printed share (`sovra-share-v1:<index>:<base64url>:<checksum>`) is about 70 characters. */
  shamirShareTextMaxChars: 256,
  /** The seal record (keys/seal.json) is a few hundred bytes. */
  sealRecordMaxBytes: 4 * KiB,
  /** keys/credential-key.wrapped (read once, before migration 16): a format byte and a wrapped 32-byte key. */
  credentialKeyFileMaxBytes: 4 * KiB,
  /** Shares submitted but not yet a quorum are forgotten this long after the first one. */
  unsealProgressTimeoutMs: 10 * 60 * 1000,
  /** Unseal submissions accepted per source address per minute (token bucket, this many burst). */
  unsealSubmissionsPerMinute: 20,
  /** Source addresses the unseal rate limit tracks at once; the oldest is forgotten first. */
  unsealRateLimitSourcesMax: 1024,
  /** Bodies of /_sovra/operator/ requests (`{"share": "…"}`; seal has none). */
  operatorRequestBodyMaxBytes: 4 * KiB,
  /** The operator CLI's HTTP calls fail after this long. */
  operatorClientTimeoutMs: 30_000,

  // KMS (https://docs.aws.amazon.com/kms/latest/APIReference/ and .../developerguide/resource-limits.html).
  /** Encrypt's Plaintext and Sign/Verify's Message: 1 to 4,096 bytes. */
  kmsPlaintextMaxBytes: 4096,
  /**
   * The largest plaintext any protocol hands KeyRing.encrypt: the XKS proxy's 4,300 bytes
   * (xksPlaintextMaxBytes). Each protocol bounds its own requests first, the KMS API at 4,096.
   */
  kmsKeyRingPlaintextMaxBytes: 4300,
  kmsSignMessageMaxBytes: 4096,
  /** GenerateDataKey's NumberOfBytes and GenerateRandom's: 1 to 1,024. */
  kmsDataKeyMaxBytes: 1024,
  kmsRandomMaxBytes: 1024,
  /** CiphertextBlob and Signature: at most 6,144 bytes. */
  kmsCiphertextBlobMaxBytes: 6144,
  kmsSignatureMaxBytes: 6144,
  /** KeyId parameters (key id, ARN, alias name or alias ARN): at most 2,048 characters. */
  kmsKeyReferenceMaxChars: 2048,
  kmsAliasNameMaxChars: 256,
  kmsDescriptionMaxChars: 8192,
  /** Sum of the UTF-8 bytes of an encryption context's keys and values (Sovra's bound). */
  kmsEncryptionContextMaxBytes: 8 * KiB,
  /** A key policy document: at most 32 KB. */
  kmsKeyPolicyMaxBytes: 32 * KiB,
  /** Tags per KMS key (TagResource): 50; keys up to 128 characters, values up to 256. */
  kmsTagsPerKeyMax: 50,
  kmsTagKeyMaxChars: 128,
  kmsTagValueMaxChars: 256,
  /** Page sizes: ListKeys and ListKeyRotations 1–1,000 (default 100), ListAliases 1–100 (50), ListResourceTags 1–50 (50). */
  kmsListKeysMax: 1000,
  kmsListKeysDefault: 100,
  kmsListAliasesMax: 100,
  kmsListAliasesDefault: 50,
  kmsListTagsMax: 50,
  /** ScheduleKeyDeletion's PendingWindowInDays: 7 to 30, default 30. */
  kmsPendingWindowDaysMin: 7,
  kmsPendingWindowDaysMax: 30,
  kmsPendingWindowDaysDefault: 30,
  /** EnableKeyRotation's RotationPeriodInDays: 90 to 2,560, default 365. */
  kmsRotationPeriodDaysMin: 90,
  kmsRotationPeriodDaysMax: 2560,
  kmsRotationPeriodDaysDefault: 365,
  /** RotateKeyOnDemand may run at most 25 times per key. */
  kmsOnDemandRotationsMax: 25,
  /** Customer managed keys per account and Region (AWS quota), here per tenant. */
  kmsKeysPerTenantMax: 100_000,
  /** Aliases per tenant (Sovra's bound). */
  kmsAliasesPerTenantMax: 100_000,
  /** A KMS JSON request body; the largest legitimate one is a 32 KB policy, JSON-escaped. */
  kmsRequestBodyMaxBytes: 256 * KiB,
  // AWS KMS External Key Store proxy (github.com/aws/aws-kms-xksproxy-api-spec, xks_proxy_api_spec.md).
  /** An XKS body: 8192 bytes of AAD and 4300 of plaintext, base64, plus requestMetadata ARNs. */
  xksRequestBodyMaxBytes: 64 * KiB,
  /** Spec "Appendix A", Task 4: requests more than 5 minutes in the past or future fail. */
  xksRequestSkewMaxMs: 5 * 60 * 1000,
  /** Spec "API operations": ARNs up to 2048 characters; Sovra bounds every metadata string so. */
  xksMetadataFieldMaxChars: 2048,
  /** Spec "Encrypt"/"Decrypt": AAD up to 8192 bytes must be handled. */
  xksAadMaxBytes: 8192,
  /** Spec "Encrypt": plaintexts up to 4300 bytes must be handled. */
  xksPlaintextMaxBytes: 4300,
  /** Spec "Decrypt": at least 4300 bytes of ciphertext must be handled. */
  xksCiphertextMaxBytes: 4300,
  /** Spec "API operations": externalKeyId is at most 128 characters; the whole URI 256. */
  xksExternalKeyIdMaxChars: 128,
  /** Spec "Error codes": errorMessage is under 512 printable ASCII characters. */
  xksErrorMessageMaxChars: 511,
  /** Unwrapped key versions kept in memory (zeroed on eviction), and for how long. */
  kmsKeyMaterialCacheEntries: 10_000,
  kmsKeyMaterialCacheTtlMs: 5 * 60 * 1000,
  /** Key records the cryptographic operations re-read at most this often; changes through this gateway apply at once. */
  kmsKeyRecordCacheTtlMs: 1_000,
  kmsKeyRecordCacheEntries: 10_000,
  /** Keys one maintenance step deletes or rotates per batch. */
  kmsMaintenanceBatch: 100,
  /** Time between background KMS maintenance passes (due deletions, automatic rotations). */
  kmsMaintenanceIntervalMs: 60 * 60 * 1000,
  /** The first background KMS pass comes this soon after start. */
  kmsMaintenanceFirstPassDelayMs: 60 * 1000,
  /** How often the server checks for a seal to drop unwrapped key material without waiting for a request. */
  kmsSealCheckIntervalMs: 1_000,
  /** Length of an x-sovra-approval-reference (a ticket or change id). */
  kmsApprovalReferenceMaxChars: 128,
  /** Key-use decision records queued in memory before a flush is forced (decision-records.ts). */
  kmsDecisionQueueFlushRecords: 4096,
  /** Longest a key-use decision waits in memory before it is written. */
  kmsDecisionQueueFlushMs: 25,
  /** Decisions queued beyond this fail the key use instead of growing memory without bound. */
  kmsDecisionQueueMaxRecords: 100_000,
  /** Decisions one page of the tenant read returns. */
  kmsDecisionPageMax: 1000,
  /** Entries of a network jurisdiction map (CIDR → country). */
  jurisdictionMapMaxEntries: 100_000,

  // PKCS#11 root of trust (adapters/root-of-trust/pkcs11-root.ts).
  /** Key material one root wrap accepts; the largest KMS key (RSA-4096 as PKCS#8) is about 2.4 KB. */
  rootOfTrustPlaintextMaxBytes: 16 * KiB,
  /** Additional authenticated data of one root wrap (key ids, versions, context). */
  rootOfTrustAadMaxBytes: 4 * KiB,
  /** CK_TOKEN_INFO.label is 32 bytes (pkcs11t.h). */
  pkcs11TokenLabelMaxBytes: 32,
  pkcs11KeyLabelMaxBytes: 128,
  /** The user PIN file; tokens accept far shorter PINs (SoftHSM2: at most 255 bytes). */
  pkcs11PinFileMaxBytes: 1 * KiB,
  /**
   * Sessions a PKCS#11 root keeps open, hence its HSM calls in flight. koffi's async calls run on
   * libuv's thread pool (4 threads by default), which file I/O shares: two leave it room.
   */
  pkcs11SessionPoolSize: 2,
  /** Operations waiting for a PKCS#11 session before further ones fail with LimitExceeded. */
  pkcs11SessionWaitersMax: 10_000,
} as const;
