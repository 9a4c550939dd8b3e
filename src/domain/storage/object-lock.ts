import type { Clock } from '../../platform/clock.ts';
import { LIMITS } from '../../platform/limits.ts';
import { storageError } from './errors.ts';
import type { ObjectStore, VersionAdmission } from './object-store.ts';
import type { MetadataStore, MetadataTx } from './ports.ts';
import { lockReason, mayRemove } from './retention.ts';
import type {
  BucketRecord,
  ObjectRetention,
  ObjectVersion,
  RequestedObjectLock,
  RetentionMode,
} from './types.ts';
import { versionForSubresource } from './version-subresources.ts';

/**
 * S3 Object Lock (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html): the
 * bucket's configuration and default retention, the per-version retention and legal hold, and
 * the rules for changing them. Whether a version may be removed is decided by retention.ts
 * (`lockReason`, `mayRemove`); every removal path calls `assertRemovable` inside its transaction.
 */

export const RETENTION_MODES: readonly RetentionMode[] = ['GOVERNANCE', 'COMPLIANCE'];

/** A default retention period: S3 accepts Days or Years, never both. */
export interface DefaultRetention {
  mode: RetentionMode;
  unit: 'Days' | 'Years';
  count: number;
}

/** The bucket's Object Lock configuration beyond "enabled": an optional default retention. */
export interface ObjectLockConfiguration {
  defaultRetention: DefaultRetention | null;
}

/** Version of the JSON document stored in bucket_configs (kind 'object-lock'). */
export const OBJECT_LOCK_CONFIG_FORMAT = 1;

const DAY_MS = 24 * 60 * 60 * 1000;

// ---- rules ------------------------------------------------------------------------------------

/**
 * Refuses the removal (delete, or replacement of a `null` version) of a locked version: a legal
 * hold or COMPLIANCE retention always, GOVERNANCE retention unless the caller was granted a
 * bypass (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html#object-lock-managing-bypass).
 * S3 answers AccessDenied.
 */
export function assertRemovable(
  version: Pick<ObjectVersion, 'retention' | 'legalHold'>,
  nowMs: number,
  governanceBypass: boolean,
): void {
  if (mayRemove(version, nowMs, governanceBypass)) return;
  throw storageError('ObjectLocked', 'Access Denied because object protected by object lock.', {
    lockReason: lockReason(version, nowMs),
  });
}

/**
 * May a version's retention go from `current` to `next` (PutObjectRetention)? Extending the date
 * in the same mode is always allowed. Any other change of an unexpired GOVERNANCE retention
 * (shorter, removed, switched to COMPLIANCE) needs a governance bypass. A COMPLIANCE retention
 * can only be extended, by anyone, ever: S3 lets nobody shorten or remove it while it runs, and
 * Sovra keeps the rule after the date too, so that it needs no clock and the database trigger of
 * migration 2 can enforce the same rule below the domain.
 */
export function checkRetentionChange(
  current: ObjectRetention | null,
  next: ObjectRetention | null,
  nowMs: number,
  governanceBypass: boolean,
): void {
  if (current === null) return;
  const isExtension =
    next !== null &&
    next.mode === current.mode &&
    next.retainUntil.getTime() >= current.retainUntil.getTime();
  if (isExtension) return;
  if (current.mode === 'COMPLIANCE') {
    throw storageError(
      'ObjectLocked',
      'Access Denied because object protected by object lock: a COMPLIANCE retention can only be extended.',
      { lockReason: 'ComplianceRetention' },
    );
  }
  if (current.retainUntil.getTime() <= nowMs || governanceBypass) return;
  throw storageError(
    'ObjectLocked',
    'Access Denied because object protected by object lock: changing a GOVERNANCE retention requires x-amz-bypass-governance-retention.',
    { lockReason: 'GovernanceRetention' },
  );
}

/**
 * Reads the x-amz-object-lock-* header values of PutObject, CopyObject and CreateMultipartUpload
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html); null when none was sent.
 * Mode and date come together; dates are ISO 8601 with a time and zone.
 */
export function parseRequestedObjectLock(fields: {
  mode: string | undefined;
  retainUntilDate: string | undefined;
  legalHold: string | undefined;
}): RequestedObjectLock | null {
  const { mode, retainUntilDate, legalHold } = fields;
  if (mode === undefined && retainUntilDate === undefined && legalHold === undefined) return null;
  if ((mode === undefined) !== (retainUntilDate === undefined)) {
    throw storageError(
      'InvalidArgument',
      'x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied',
    );
  }
  let retention: ObjectRetention | null = null;
  if (mode !== undefined && retainUntilDate !== undefined) {
    retention = {
      mode: parseRetentionMode(mode, () =>
        storageError('InvalidArgument', 'Unknown wormMode directive.', {
          argumentName: 'x-amz-object-lock-mode',
        }),
      ),
      retainUntil: parseRetainUntilDate(retainUntilDate, () =>
        storageError('InvalidArgument', 'The retain until date must be provided in ISO 8601 format', {
          argumentName: 'x-amz-object-lock-retain-until-date',
        }),
      ),
    };
  }
  let hold: boolean | null = null;
  if (legalHold !== undefined) {
    if (legalHold !== 'ON' && legalHold !== 'OFF') {
      throw storageError('InvalidArgument', "Legal Hold must be either of 'ON' or 'OFF'", {
        argumentName: 'x-amz-object-lock-legal-hold',
      });
    }
    hold = legalHold === 'ON';
  }
  return { retention, legalHold: hold };
}

/** A write may ask for lock settings only in a bucket with Object Lock, and only for the future. */
export function validateRequestedObjectLock(
  bucket: BucketRecord,
  requested: RequestedObjectLock | null,
  nowMs: number,
): void {
  if (requested === null) return;
  if (!bucket.objectLockEnabled) {
    throw storageError('ObjectLockNotEnabled', 'Bucket is missing Object Lock Configuration');
  }
  if (requested.retention !== null) checkFutureDate(requested.retention.retainUntil, nowMs);
}

/**
 * The retention a new version starts with: what the write asked for, otherwise the bucket's
 * default retention counted from the commit time
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html#object-lock-retention-periods).
 */
export function retentionAtCommit(
  requested: ObjectRetention | null,
  bucket: BucketRecord,
  configuration: ObjectLockConfiguration | null,
  committedAt: Date,
): ObjectRetention | null {
  if (requested !== null || !bucket.objectLockEnabled) return requested;
  const rule = configuration?.defaultRetention ?? null;
  return rule === null ? null : { mode: rule.mode, retainUntil: defaultRetainUntil(rule, committedAt) };
}

/** Days are 24-hour days; years are calendar years in UTC. */
export function defaultRetainUntil(rule: DefaultRetention, from: Date): Date {
  if (rule.unit === 'Days') return new Date(from.getTime() + rule.count * DAY_MS);
  const until = new Date(from.getTime());
  until.setUTCFullYear(until.getUTCFullYear() + rule.count);
  return until;
}

/** A default retention period is a positive whole number of days or years, bounded. */
export function validateDefaultRetention(rule: DefaultRetention): void {
  const max = rule.unit === 'Days' ? LIMITS.objectLockMaxRetentionDays : LIMITS.objectLockMaxRetentionYears;
  if (!Number.isSafeInteger(rule.count) || rule.count < 1 || rule.count > max) {
    throw storageError(
      'InvalidRetentionPeriod',
      `Default retention period must be a positive integer value of at most ${max} ${rule.unit.toLowerCase()}`,
    );
  }
}

export function parseRetentionMode(text: string, invalid: () => Error): RetentionMode {
  const mode = RETENTION_MODES.find((m) => m === text);
  if (mode === undefined) throw invalid();
  return mode;
}

/** ISO 8601 date-time with a zone, as S3 sends and accepts it (e.g. 2030-01-01T00:00:00.000Z). */
export function parseRetainUntilDate(text: string, invalid: () => Error): Date {
  const trimmed = text.trim();
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$/.test(trimmed)) throw invalid();
  const ms = Date.parse(trimmed);
  if (Number.isNaN(ms)) throw invalid();
  return new Date(ms);
}

export function checkFutureDate(retainUntil: Date, nowMs: number): void {
  if (retainUntil.getTime() <= nowMs) {
    throw storageError('InvalidArgument', 'The retain until date must be in the future!');
  }
}

// ---- the stored configuration document ----------------------------------------------------

export function encodeObjectLockConfiguration(configuration: ObjectLockConfiguration): string {
  const rule = configuration.defaultRetention;
  return JSON.stringify({
    format: OBJECT_LOCK_CONFIG_FORMAT,
    defaultRetention: rule === null ? null : { mode: rule.mode, unit: rule.unit, count: rule.count },
  });
}

export function decodeObjectLockConfiguration(document: string): ObjectLockConfiguration {
  const parsed = JSON.parse(document) as unknown;
  if (typeof parsed !== 'object' || parsed === null || !('format' in parsed)) {
    throw new Error('object-lock configuration document is not an object with a format');
  }
  if (parsed.format !== OBJECT_LOCK_CONFIG_FORMAT) {
    throw new Error(`object-lock configuration document has unknown format ${String(parsed.format)}`);
  }
  const rule = 'defaultRetention' in parsed ? parsed.defaultRetention : null;
  if (rule === null) return { defaultRetention: null };
  if (
    typeof rule !== 'object' ||
    rule === undefined ||
    !('mode' in rule) ||
    !('unit' in rule) ||
    !('count' in rule) ||
    typeof rule.mode !== 'string' ||
    (rule.unit !== 'Days' && rule.unit !== 'Years') ||
    typeof rule.count !== 'number'
  ) {
    throw new Error('object-lock configuration document has a malformed default retention');
  }
  const mode = parseRetentionMode(rule.mode, () => new Error(`unknown retention mode ${String(rule.mode)}`));
  return { defaultRetention: { mode, unit: rule.unit, count: rule.count } };
}

// ---- operations ---------------------------------------------------------------------------

/**
 * The Object Lock operations: Put/GetObjectLockConfiguration, Put/GetObjectRetention and
 * Put/GetObjectLegalHold. Changes run in one metadata transaction with the object key locked.
 */
export class ObjectLock {
  readonly #metadata: MetadataStore;
  readonly #objects: ObjectStore;
  readonly #clock: Clock;

  constructor(options: { metadata: MetadataStore; objects: ObjectStore; clock: Clock }) {
    this.#metadata = options.metadata;
    this.#objects = options.objects;
    this.#clock = options.clock;
  }

  /** A bucket without Object Lock has no configuration (ObjectLockConfigurationNotFoundError). */
  async getConfiguration(bucket: BucketRecord): Promise<ObjectLockConfiguration> {
    if (!bucket.objectLockEnabled) {
      throw storageError(
        'ObjectLockConfigurationNotFound',
        'Object Lock configuration does not exist for this bucket',
      );
    }
    const stored = await this.#metadata.getBucketConfig(bucket.name, 'object-lock');
    return stored === null ? { defaultRetention: null } : decodeObjectLockConfiguration(stored.document);
  }

  /**
   * Sets the default retention (none removes it). A bucket created without Object Lock gets it
   * here if its versioning is Enabled, as S3 allows for existing buckets
   * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-configure.html#object-lock-configure-existing-bucket);
   * Object Lock is never turned off again.
   */
  async putConfiguration(bucketName: string, configuration: ObjectLockConfiguration): Promise<void> {
    if (configuration.defaultRetention !== null) validateDefaultRetention(configuration.defaultRetention);
    await this.#metadata.transaction(async (tx) => {
      const bucket = await tx.getBucket(bucketName);
      if (bucket === null)
        throw storageError('BucketNotFound', 'The specified bucket does not exist', { name: bucketName });
      if (!bucket.objectLockEnabled) {
        if (bucket.versioning !== 'Enabled') {
          throw storageError(
            'InvalidBucketState',
            "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
          );
        }
        await tx.enableBucketObjectLock(bucketName);
      }
      if (configuration.defaultRetention === null) {
        await tx.deleteBucketConfig(bucketName, 'object-lock');
      } else {
        await tx.putBucketConfig({
          bucket: bucketName,
          kind: 'object-lock',
          document: encodeObjectLockConfiguration(configuration),
          updatedAt: this.#clock.now(),
        });
      }
    });
    this.#objects.forgetBucket(bucketName);
  }

  /** `admit` sees the version before anything about its retention is answered. */
  async getRetention(
    bucket: BucketRecord,
    key: string,
    versionId: string | null,
    admit?: VersionAdmission,
  ): Promise<{ version: ObjectVersion; retention: ObjectRetention }> {
    requireObjectLock(bucket);
    const version = await this.#objects.getObjectVersion(bucket.name, key, versionId);
    if (admit !== undefined) await admit(version);
    if (version.retention === null) {
      throw storageError(
        'NoSuchObjectLockConfiguration',
        'The specified object does not have a ObjectLock configuration',
      );
    }
    return { version, retention: version.retention };
  }

  /** Sets or (with `retention` null) removes a version's retention under checkRetentionChange. */
  async putRetention(input: {
    bucket: BucketRecord;
    key: string;
    versionId: string | null;
    retention: ObjectRetention | null;
    governanceBypass: boolean;
  }): Promise<ObjectVersion> {
    requireObjectLock(input.bucket);
    const nowMs = this.#clock.nowMs();
    if (input.retention !== null) checkFutureDate(input.retention.retainUntil, nowMs);
    return this.#metadata.transaction(async (tx) => {
      const version = await versionForSubresource(tx, input.bucket.name, input.key, input.versionId);
      checkRetentionChange(version.retention, input.retention, nowMs, input.governanceBypass);
      await tx.setVersionRetention(input.bucket.name, input.key, version.versionId, input.retention);
      return { ...version, retention: input.retention };
    });
  }

  async getLegalHold(
    bucket: BucketRecord,
    key: string,
    versionId: string | null,
    admit?: VersionAdmission,
  ): Promise<{ version: ObjectVersion; on: boolean }> {
    requireObjectLock(bucket);
    const version = await this.#objects.getObjectVersion(bucket.name, key, versionId);
    if (admit !== undefined) await admit(version);
    return { version, on: version.legalHold };
  }

  /** Anyone allowed s3:PutObjectLegalHold may place or remove a legal hold at any time. */
  async putLegalHold(
    bucket: BucketRecord,
    key: string,
    versionId: string | null,
    on: boolean,
  ): Promise<ObjectVersion> {
    requireObjectLock(bucket);
    return this.#metadata.transaction(async (tx) => {
      const version = await versionForSubresource(tx, bucket.name, key, versionId);
      await tx.setVersionLegalHold(bucket.name, key, version.versionId, on);
      return { ...version, legalHold: on };
    });
  }
}

/** Reads the bucket's Object Lock configuration inside a transaction (for commits). */
export async function objectLockConfigurationIn(
  tx: MetadataTx,
  bucket: BucketRecord,
): Promise<ObjectLockConfiguration | null> {
  if (!bucket.objectLockEnabled) return null;
  const stored = await tx.getBucketConfig(bucket.name, 'object-lock');
  return stored === null ? null : decodeObjectLockConfiguration(stored.document);
}

function requireObjectLock(bucket: BucketRecord): void {
  if (!bucket.objectLockEnabled) {
    throw storageError('ObjectLockNotEnabled', 'Bucket is missing Object Lock Configuration');
  }
}
