import type { Clock } from '../../platform/clock.ts';
import { assertNever, isSovraError } from '../../platform/errors.ts';
import { LIMITS } from '../../platform/limits.ts';
import { storageError } from './errors.ts';
import {
  abortingRule,
  decodeLifecycleDocument,
  uploadScanPrefixes,
  VersionPlanner,
  versionScanPrefixes,
  type LifecycleConfiguration,
  type PlannedVersionAction,
  type VersionDecisions,
} from './lifecycle.ts';
import type { MultipartUploads } from './multipart-uploads.ts';
import type { ObjectStore } from './object-store.ts';
import type {
  LifecycleActionKind,
  ListUploadsPage,
  MetadataStore,
  MetadataTx,
  NewLifecycleAction,
} from './ports.ts';
import { mayRemove } from './retention.ts';
import type { BucketRecord, MultipartUpload, VersioningState } from './types.ts';

export interface LifecycleLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

/** What one pass did; also logged at its end. */
export interface LifecyclePassReport {
  startedAt: Date;
  durationMs: number;
  buckets: number;
  versionsExamined: number;
  uploadsExamined: number;
  actions: Record<LifecycleActionKind, number>;
  /** Versions a rule selected that Object Lock protects: left alone. */
  skippedLocked: number;
  /** Versions or uploads that changed between the listing and the action: left for the next pass. */
  skippedChanged: number;
  /** Buckets whose stored configuration could not be read: skipped, logged. */
  bucketsFailed: number;
}

/**
 * Carries out lifecycle rules in the background: every interval, one pass over the buckets that
 * have a lifecycle configuration, reading versions and uploads in pages of LIMITS.lifecycleBatchSize
 * (only under the rules' prefixes), deciding with lifecycle.ts and acting through the same
 * ObjectStore and MultipartUploads paths as the API, with the initiator 'lifecycle'.
 *
 * Every action re-checks, under the key's lock and in its own transaction, that what was listed is
 * still so (same version, still current or noncurrent, not locked) and writes a lifecycle_actions
 * row in that transaction: the record exists if and only if the deletion committed. A structured
 * log line follows each action. Object Lock is checked before acting (mayRemove) and again by the
 * delete path itself, so a locked version is never removed.
 */
export class LifecycleRunner {
  readonly #metadata: MetadataStore;
  readonly #objects: ObjectStore;
  readonly #uploads: MultipartUploads;
  readonly #clock: Clock;
  readonly #log: LifecycleLog;
  readonly #batchSize: number;
  #firstPass: NodeJS.Timeout | null = null;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<LifecyclePassReport> | null = null;
  #stopping = false;

  constructor(options: {
    metadata: MetadataStore;
    objects: ObjectStore;
    uploads: MultipartUploads;
    clock: Clock;
    log: LifecycleLog;
    batchSize?: number;
  }) {
    this.#metadata = options.metadata;
    this.#objects = options.objects;
    this.#uploads = options.uploads;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#batchSize = Math.max(
      1,
      Math.min(options.batchSize ?? LIMITS.lifecycleBatchSize, LIMITS.listMaxKeys),
    );
  }

  /**
   * Runs a pass every `intervalMs`, the first one soon after start so that a server restarted more
   * often than the interval still runs its rules; a pass still running when the next is due is not
   * doubled.
   */
  start(intervalMs: number): void {
    this.#stopping = false;
    const tick = () => {
      if (this.#running !== null) return;
      void this.runPass().catch((error: unknown) => this.#log.warn({ err: error }, 'lifecycle pass failed'));
    };
    this.#firstPass = setTimeout(tick, Math.min(intervalMs, LIMITS.lifecycleFirstPassDelayMs));
    this.#firstPass.unref();
    this.#timer = setInterval(tick, intervalMs);
    this.#timer.unref();
  }

  /** Stops the schedule; a running pass ends after its current action. */
  async stop(): Promise<void> {
    if (this.#firstPass !== null) clearTimeout(this.#firstPass);
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#firstPass = null;
    this.#timer = null;
    this.#stopping = true;
    await this.#running?.catch(() => undefined);
  }

  /** One pass over every bucket with a lifecycle configuration, at the clock's current time. */
  runPass(): Promise<LifecyclePassReport> {
    if (this.#running !== null) return this.#running;
    this.#running = this.#pass().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #pass(): Promise<LifecyclePassReport> {
    const started = this.#clock.now();
    const startedMs = performance.now();
    const report: LifecyclePassReport = {
      startedAt: started,
      durationMs: 0,
      buckets: 0,
      versionsExamined: 0,
      uploadsExamined: 0,
      actions: {
        DeleteCurrentVersion: 0,
        AddDeleteMarker: 0,
        DeleteNoncurrentVersion: 0,
        DeleteExpiredDeleteMarker: 0,
        AbortMultipartUpload: 0,
      },
      skippedLocked: 0,
      skippedChanged: 0,
      bucketsFailed: 0,
    };
    let after = '';
    while (!this.#stopping) {
      const configs = await this.#metadata.listBucketConfigs('lifecycle', after, LIMITS.bucketConfigPageMax);
      for (const stored of configs) {
        if (this.#stopping) break;
        const bucket = await this.#metadata.getBucket(stored.bucket);
        if (bucket === null) continue;
        let config: LifecycleConfiguration;
        try {
          config = decodeLifecycleDocument(stored.document);
        } catch (error) {
          report.bucketsFailed += 1;
          this.#log.warn(
            { err: error, bucket: bucket.name },
            'lifecycle configuration unreadable; bucket skipped',
          );
          continue;
        }
        report.buckets += 1;
        await this.#runBucket(bucket, config, started.getTime(), report);
      }
      if (configs.length < LIMITS.bucketConfigPageMax) break;
      after = configs.at(-1)!.bucket;
    }
    report.durationMs = Math.round(performance.now() - startedMs);
    this.#log.info(
      { lifecycle: 'pass', ...report, startedAt: started.toISOString() },
      'lifecycle pass finished',
    );
    return report;
  }

  async #runBucket(
    bucket: BucketRecord,
    config: LifecycleConfiguration,
    nowMs: number,
    report: LifecyclePassReport,
  ): Promise<void> {
    for (const prefix of versionScanPrefixes(config)) {
      await this.#scanVersions(bucket, config, prefix, nowMs, report);
    }
    for (const prefix of uploadScanPrefixes(config)) {
      await this.#scanUploads(bucket, config, prefix, nowMs, report);
    }
  }

  async #scanVersions(
    bucket: BucketRecord,
    config: LifecycleConfiguration,
    prefix: string,
    nowMs: number,
    report: LifecyclePassReport,
  ): Promise<void> {
    const planner = new VersionPlanner(config, bucket.versioning, nowMs);
    let keyMarker = '';
    let versionSeqMarker: number | null = null;
    while (!this.#stopping) {
      const page = await this.#metadata.listVersions(bucket.name, {
        prefix,
        delimiter: '',
        keyMarker,
        versionSeqMarker,
        maxKeys: this.#batchSize,
      });
      for (const version of page.versions) {
        if (this.#stopping) return;
        report.versionsExamined += 1;
        await this.#carryOut(bucket, planner, planner.add(version), nowMs, report);
      }
      const last = page.versions.at(-1);
      if (!page.isTruncated || last === undefined) break;
      // The listing continues after (key, seq), values that stay valid whatever this pass removed.
      keyMarker = last.key;
      versionSeqMarker = last.seq;
    }
    if (!this.#stopping) await this.#carryOut(bucket, planner, planner.finish(), nowMs, report);
  }

  async #carryOut(
    bucket: BucketRecord,
    planner: VersionPlanner,
    decisions: VersionDecisions,
    nowMs: number,
    report: LifecyclePassReport,
  ): Promise<void> {
    for (const { ruleId, version } of decisions.locked) {
      report.skippedLocked += 1;
      this.#log.info(
        {
          lifecycle: 'skipped',
          reason: 'locked',
          bucket: bucket.name,
          key: version.key,
          versionId: version.versionId,
          ruleId,
        },
        'lifecycle left a locked version in place',
      );
    }
    for (const plan of decisions.actions) {
      const outcome = await this.#act(bucket.name, bucket.versioning, plan, nowMs);
      if (Array.isArray(outcome)) {
        for (const row of outcome) report.actions[row.action] += 1;
        continue;
      }
      planner.kept(plan.version);
      if (outcome === 'locked') report.skippedLocked += 1;
      else report.skippedChanged += 1;
      this.#log.info(
        {
          lifecycle: 'skipped',
          reason: outcome,
          bucket: bucket.name,
          key: plan.version.key,
          versionId: plan.version.versionId,
          ruleId: plan.ruleId,
        },
        outcome === 'locked'
          ? 'lifecycle left a locked version in place'
          : 'lifecycle skipped a changed version',
      );
    }
  }

  /** Carries out one decision and returns what it recorded; 'locked' and 'changed' mean nothing was done. */
  async #act(
    bucket: string,
    versioning: VersioningState,
    plan: PlannedVersionAction,
    nowMs: number,
  ): Promise<NewLifecycleAction[] | 'locked' | 'changed'> {
    const { version } = plan;
    const recorded: NewLifecycleAction[] = [];
    const guard = async (tx: MetadataTx) => {
      const current = await tx.getBucket(bucket);
      if (current === null || current.versioning !== versioning) throw changed();
      recorded.length = 0;
      recorded.push(...(await this.#verify(tx, bucket, versioning, plan, nowMs)));
      for (const row of recorded) await tx.recordLifecycleAction(row);
    };
    // A versionId names the version to remove; null asks for the current version's expiration.
    const versionId =
      plan.action === 'DeleteNoncurrentVersion' || plan.action === 'DeleteExpiredDeleteMarker'
        ? version.versionId
        : null;
    try {
      await this.#objects.deleteObject(null, bucket, version.key, versionId, 'lifecycle', guard);
    } catch (error) {
      return skipReason(error);
    }
    for (const row of recorded) this.#logAction(row);
    return recorded;
  }

  /**
   * Re-checks a decision against the state under the key lock and returns the record rows of what
   * the delete is about to do; throws (leaving everything unchanged) when it no longer holds.
   */
  async #verify(
    tx: MetadataTx,
    bucket: string,
    versioning: VersioningState,
    plan: PlannedVersionAction,
    nowMs: number,
  ): Promise<NewLifecycleAction[]> {
    const listed = plan.version;
    const row = (action: LifecycleActionKind, versionId: string, sizeBytes: number): NewLifecycleAction => ({
      occurredAt: this.#clock.now(),
      bucket,
      key: listed.key,
      action,
      ruleId: plan.ruleId,
      versionId,
      uploadId: null,
      sizeBytes,
    });
    switch (plan.action) {
      case 'DeleteCurrentVersion':
      case 'AddDeleteMarker': {
        const latest = await tx.getLatestVersion(bucket, listed.key);
        if (latest === null || latest.versionUid !== listed.versionUid || latest.isDeleteMarker)
          throw changed();
        if (plan.action === 'DeleteCurrentVersion') {
          if (!mayRemove(latest, nowMs, false)) throw locked();
          return [row('DeleteCurrentVersion', latest.versionId, latest.sizeBytes)];
        }
        const rows = [row('AddDeleteMarker', latest.versionId, 0)];
        // In a versioning-suspended bucket the new marker is the null version and replaces any
        // existing null version (https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeletingObjectsfromVersioningSuspendedBuckets.html):
        // that is a removal, so it must be allowed and is recorded too.
        if (versioning === 'Suspended') {
          const nullVersion = await tx.getVersion(bucket, listed.key, 'null');
          if (nullVersion !== null) {
            if (!mayRemove(nullVersion, nowMs, false)) throw locked();
            rows.push(
              row(
                nullVersion.isLatest ? 'DeleteCurrentVersion' : 'DeleteNoncurrentVersion',
                'null',
                nullVersion.sizeBytes,
              ),
            );
          }
        }
        return rows;
      }
      case 'DeleteNoncurrentVersion':
      case 'DeleteExpiredDeleteMarker': {
        const current = await tx.getVersion(bucket, listed.key, listed.versionId);
        if (current === null || current.versionUid !== listed.versionUid) throw changed();
        const wantLatest = plan.action === 'DeleteExpiredDeleteMarker';
        if (current.isLatest !== wantLatest || (wantLatest && !current.isDeleteMarker)) throw changed();
        if (!mayRemove(current, nowMs, false)) throw locked();
        return [row(plan.action, current.versionId, current.sizeBytes)];
      }
      default:
        return assertNever(plan.action, 'lifecycle action');
    }
  }

  async #scanUploads(
    bucket: BucketRecord,
    config: LifecycleConfiguration,
    prefix: string,
    nowMs: number,
    report: LifecyclePassReport,
  ): Promise<void> {
    const list = (keyMarker: string, uploadIdMarker: string) =>
      this.#metadata.listUploads(bucket.name, {
        prefix,
        delimiter: '',
        keyMarker,
        uploadIdMarker,
        maxUploads: this.#batchSize,
      });
    // The next page is read before this one is acted on: the listing resumes after its last
    // upload, which must still exist when the next page is asked for.
    let page: ListUploadsPage | null = await list('', '');
    while (page !== null && !this.#stopping) {
      const last = page.uploads.at(-1);
      const next: ListUploadsPage | null =
        page.isTruncated && last !== undefined ? await list(last.key, last.uploadId) : null;
      for (const upload of page.uploads) {
        if (this.#stopping) return;
        report.uploadsExamined += 1;
        const rule = abortingRule(config, upload, nowMs);
        if (rule === null) continue;
        if (await this.#abort(bucket.name, upload, rule.id)) report.actions.AbortMultipartUpload += 1;
        else report.skippedChanged += 1;
      }
      page = next;
    }
  }

  async #abort(bucket: string, upload: MultipartUpload, ruleId: string): Promise<boolean> {
    const row: NewLifecycleAction = {
      occurredAt: this.#clock.now(),
      bucket,
      key: upload.key,
      action: 'AbortMultipartUpload',
      ruleId,
      versionId: null,
      uploadId: upload.uploadId,
      sizeBytes: 0,
    };
    try {
      await this.#uploads.abort(bucket, upload.key, upload.uploadId, (tx) => tx.recordLifecycleAction(row));
    } catch (error) {
      if (skipReason(error) !== 'changed') throw error;
      return false;
    }
    this.#logAction(row);
    return true;
  }

  #logAction(row: NewLifecycleAction): void {
    this.#log.info(
      {
        lifecycle: 'action',
        action: row.action,
        bucket: row.bucket,
        key: row.key,
        versionId: row.versionId,
        uploadId: row.uploadId,
        ruleId: row.ruleId,
        sizeBytes: row.sizeBytes,
      },
      'lifecycle action',
    );
  }
}

const CHANGED = 'changed';
const LOCKED = 'locked';

function changed() {
  return storageError('PreconditionFailed', 'The version changed since lifecycle listed it.', {
    lifecycle: CHANGED,
  });
}

function locked() {
  return storageError('PreconditionFailed', 'Object Lock protects this version.', { lifecycle: LOCKED });
}

/**
 * Why an action did not happen, for the errors that mean "not now": a re-check that failed, a
 * version or upload gone, the delete path's own Object Lock refusal. Anything else is a real
 * failure and ends the pass.
 */
function skipReason(error: unknown): 'locked' | 'changed' {
  if (isSovraError(error)) {
    if (error.code === 'PreconditionFailed' && error.details.lifecycle === LOCKED) return 'locked';
    if (error.code === 'ObjectLocked') return 'locked';
    if (
      error.code === 'PreconditionFailed' ||
      error.code === 'VersionNotFound' ||
      error.code === 'UploadNotFound' ||
      error.code === 'BucketNotFound'
    ) {
      return 'changed';
    }
  }
  throw error;
}
