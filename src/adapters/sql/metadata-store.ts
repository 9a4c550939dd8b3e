import type { AccessKeyRecord, Principal, Tenant } from '../../domain/iam/types.ts';
import { storageError } from '../../domain/storage/errors.ts';
import type {
  BucketConfig,
  BucketConfigKind,
  LifecycleActionRecord,
  NewLifecycleAction,
  ListUploadsPage,
  ListUploadsQuery,
  ListVersionsPage,
  ListVersionsQuery,
  MetadataStore,
  MetadataTx,
  NewOutboxEvent,
  OutboxEvent,
} from '../../domain/storage/ports.ts';
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
} from '../../domain/storage/types.ts';
import type { Clock } from '../../platform/clock.ts';
import { LIMITS } from '../../platform/limits.ts';
import {
  renderPlaceholders,
  type SqlDatabase,
  type SqlExecutor,
  type SqlRow,
  type SqlSession,
  type SqlValue,
} from './driver.ts';
import { decodeLifecycleAction, lifecycleActionParams } from './lifecycle-actions.ts';
import { boundedCount, listAllVersions, listLatestObjects, listUploadsInProgress } from './listings.ts';
import { lockNumberOf } from './locks.ts';
import { applyMigrations, type Migration } from './migrations.ts';
import { keyBytes } from './object-keys.ts';
import * as outbox from './outbox.ts';
import {
  accessKeyParams,
  blobIdsOfLayout,
  bucketParams,
  decodeAccessKey,
  decodeBucket,
  decodeBucketConfig,
  decodePart,
  decodePrincipal,
  decodeTenant,
  decodeUpload,
  decodeVersion,
  integer,
  partParams,
  principalParams,
  tenantParams,
  text,
  uploadParams,
  VERSION_INSERT_COLUMNS,
  versionParams,
} from './rows.ts';
import { renderStatements, valuesList, type Statements } from './statements.ts';

export interface SqlMetadataStoreOptions {
  /** The dialect's schema history (see sqlite/migrations.ts, postgres/migrations.ts). */
  migrations: readonly Migration[];
  clock: Clock;
}

/**
 * The MetadataStore over any SqlDatabase. Reads outside transactions go to the driver's
 * committed-state connection(s); each transaction gets a SqlMetadataTx bound to one session.
 */
export class SqlMetadataStore implements MetadataStore {
  readonly dialect: 'sqlite' | 'postgres';
  readonly #db: SqlDatabase;
  readonly #sql: Statements;
  readonly #rows: MetadataRows;
  readonly #migrations: readonly Migration[];
  readonly #clock: Clock;

  constructor(db: SqlDatabase, options: SqlMetadataStoreOptions) {
    this.dialect = db.dialect;
    this.#db = db;
    this.#sql = renderStatements(db.placeholderStyle);
    this.#rows = new MetadataRows(db, this.#sql);
    this.#migrations = options.migrations;
    this.#clock = options.clock;
  }

  migrate(): Promise<void> {
    return applyMigrations(this.#db, this.#sql, this.#migrations, this.#clock);
  }

  close(): Promise<void> {
    return this.#db.close();
  }

  async ping(): Promise<void> {
    await this.#db.query(this.#sql.ping, []);
  }

  transaction<T>(work: (tx: MetadataTx) => Promise<T>): Promise<T> {
    return this.#db.transaction((session) =>
      work(new SqlMetadataTx(this.#db, session, this.#sql, this.#clock)),
    );
  }

  getBucket(name: string): Promise<BucketRecord | null> {
    return this.#rows.getBucket(name);
  }

  async listBuckets(tenantId: string): Promise<BucketRecord[]> {
    return (await this.#db.query(this.#sql.selectTenantBuckets, [tenantId])).map(decodeBucket);
  }

  getBucketConfig(bucket: string, kind: BucketConfigKind): Promise<BucketConfig | null> {
    return this.#rows.getBucketConfig(bucket, kind);
  }

  /** At most LIMITS.bucketConfigPageMax configurations per call. */
  async listBucketConfigs(
    kind: BucketConfigKind,
    afterBucket: string,
    limit: number,
  ): Promise<BucketConfig[]> {
    return (
      await this.#db.query(this.#sql.selectBucketConfigsOfKind, [
        kind,
        afterBucket,
        boundedCount(limit, LIMITS.bucketConfigPageMax),
      ])
    ).map(decodeBucketConfig);
  }

  getLatestVersion(bucket: string, key: string): Promise<ObjectVersion | null> {
    return this.#rows.getLatestVersion(bucket, key);
  }

  getVersion(bucket: string, key: string, versionId: string): Promise<ObjectVersion | null> {
    return this.#rows.getVersion(bucket, key, versionId);
  }

  listObjects(bucket: string, query: ListObjectsQuery): Promise<ListObjectsPage> {
    return listLatestObjects(this.#db, this.#sql, bucket, query);
  }

  listVersions(bucket: string, query: ListVersionsQuery): Promise<ListVersionsPage> {
    return listAllVersions(this.#db, this.#sql, bucket, query);
  }

  getUploadById(uploadId: string): Promise<MultipartUpload | null> {
    return this.#rows.one(this.#sql.selectUploadById, [uploadId], decodeUpload);
  }

  listUploads(bucket: string, query: ListUploadsQuery): Promise<ListUploadsPage> {
    return listUploadsInProgress(this.#db, this.#sql, bucket, query);
  }

  async listParts(uploadId: string, afterPartNumber: number, maxParts: number): Promise<UploadPart[]> {
    return (
      await this.#db.query(this.#sql.selectParts, [
        uploadId,
        afterPartNumber,
        boundedCount(maxParts, LIMITS.multipartMaxParts),
      ])
    ).map(decodePart);
  }

  getAccessKey(accessKeyId: string): Promise<AccessKeyRecord | null> {
    return this.#rows.one(this.#sql.selectAccessKey, [accessKeyId], decodeAccessKey);
  }

  getPrincipal(id: string): Promise<Principal | null> {
    return this.#rows.one(this.#sql.selectPrincipal, [id], decodePrincipal);
  }

  async countTenants(): Promise<number> {
    return (await this.#rows.one(this.#sql.countTenants, [], (row) => integer(row, 'tenants'))) ?? 0;
  }

  /** At most LIMITS.lifecycleRecordPageMax records per call. */
  async listLifecycleActions(
    bucket: string,
    afterSeq: number,
    limit: number,
  ): Promise<LifecycleActionRecord[]> {
    return (
      await this.#db.query(this.#sql.selectLifecycleActions, [
        bucket,
        afterSeq,
        boundedCount(limit, LIMITS.lifecycleRecordPageMax),
      ])
    ).map(decodeLifecycleAction);
  }

  peekOutboxHead(destinationId: string): Promise<{ seq: number; nextAttemptAtMs: number } | null> {
    return outbox.peekOutboxHead(this.#db, destinationId);
  }

  /** At most LIMITS.notificationBatchEvents events per call. */
  claimOutboxEvents(
    destinationId: string,
    nowMs: number,
    leaseUntilMs: number,
    limit: number,
  ): Promise<OutboxEvent[]> {
    const bounded = boundedCount(limit, LIMITS.notificationBatchEvents);
    return outbox.claimOutboxEvents(this.#db, destinationId, nowMs, leaseUntilMs, bounded);
  }

  deleteOutboxEvents(seqs: readonly number[]): Promise<void> {
    return outbox.deleteOutboxEvents(this.#db, seqs);
  }

  releaseOutboxEvents(
    seqs: readonly number[],
    nextAttemptAtMs: number,
    failedSeq: number | null,
  ): Promise<void> {
    return outbox.releaseOutboxEvents(this.#db, seqs, nextAttemptAtMs, failedSeq);
  }

  countOutboxEvents(destinationId: string | null): Promise<number> {
    return outbox.countOutboxEvents(this.#db, destinationId);
  }

  /** At most LIMITS.blobGcBatch entries per call. */
  async peekGarbage(limit: number): Promise<string[]> {
    return (await this.#db.query(this.#sql.selectGarbage, [boundedCount(limit, LIMITS.blobGcBatch)])).map(
      (row) => text(row, 'blob_id'),
    );
  }

  async forgetGarbage(blobIds: readonly string[]): Promise<void> {
    if (blobIds.length === 0) return;
    await this.#db.transaction(async (session) => {
      for (const blobId of blobIds) await session.execute(this.#sql.deleteGarbage, [blobId]);
    });
  }

  async isBlobReferenced(blobId: string): Promise<boolean> {
    return (await this.#db.query(this.#sql.selectBlobReference, [blobId, blobId])).length > 0;
  }

  /**
   * Inserts versions of keys that have none yet, hundreds per statement, in one transaction (bulk
   * loads and listing benchmarks). A key that already has a latest version violates the
   * one-latest index and the whole load rolls back.
   */
  async importLatestVersions(versions: readonly NewObjectVersion[]): Promise<void> {
    await this.#db.transaction(async (session) => {
      for (let start = 0; start < versions.length; start += IMPORT_ROWS_PER_STATEMENT) {
        const chunk = versions.slice(start, start + IMPORT_ROWS_PER_STATEMENT);
        const statement = `INSERT INTO object_versions (${VERSION_INSERT_COLUMNS}) VALUES ${valuesList(VERSION_INSERT_COLUMNS, chunk.length)}`;
        await session.execute(
          renderPlaceholders(statement, this.#db.placeholderStyle),
          chunk.flatMap(versionParams),
        );
        for (const version of chunk) {
          if (blobIdsOfLayout(version.layout).length === 0) continue;
          const [row] = await session.query(this.#sql.selectVersionSeq, [
            version.bucket,
            keyBytes(version.key),
            version.versionId,
          ]);
          if (row !== undefined) await recordVersionBlobs(session, this.#sql, version, integer(row, 'seq'));
        }
      }
    });
  }
}

/** Rows per multi-row INSERT: 22 columns × 500 stays far below both dialects' parameter limits. */
const IMPORT_ROWS_PER_STATEMENT = 500;

/** Row operations in one transaction. Versioning rules live in the domain; this only stores. */
class SqlMetadataTx implements MetadataTx {
  readonly #db: SqlDatabase;
  readonly #session: SqlSession;
  readonly #sql: Statements;
  readonly #rows: MetadataRows;
  readonly #clock: Clock;
  /** Lock numbers this transaction holds; taking one twice would only cost a round trip. */
  readonly #held = new Set<string>();

  constructor(db: SqlDatabase, session: SqlSession, sql: Statements, clock: Clock) {
    this.#db = db;
    this.#session = session;
    this.#sql = sql;
    this.#rows = new MetadataRows(session, sql);
    this.#clock = clock;
  }

  lockObjectKey(bucket: string, key: string): Promise<void> {
    return this.#lock('object', bucket, key);
  }

  getBucket(name: string): Promise<BucketRecord | null> {
    return this.#rows.getBucket(name);
  }

  async insertBucket(bucket: BucketRecord): Promise<void> {
    try {
      await this.#session.execute(this.#sql.insertBucket, bucketParams(bucket));
    } catch (error) {
      // Two creations of one name raced past the domain's existence check; the loser learns here.
      if (this.#db.isUniqueViolation(error)) {
        throw storageError('BucketAlreadyExists', 'The requested bucket name is not available.', {
          name: bucket.name,
        });
      }
      throw error;
    }
  }

  async deleteBucket(name: string): Promise<void> {
    await this.#session.execute(this.#sql.deleteBucket, [name]);
  }

  async setBucketVersioning(name: string, state: VersioningState): Promise<void> {
    await this.#session.execute(this.#sql.updateBucketVersioning, [state, name]);
  }

  async enableBucketObjectLock(name: string): Promise<void> {
    await this.#session.execute(this.#sql.enableBucketObjectLock, [name]);
  }

  async bucketHasContent(name: string): Promise<boolean> {
    return (await this.#session.query(this.#sql.selectBucketContent, [name, name])).length > 0;
  }

  getBucketConfig(bucket: string, kind: BucketConfigKind): Promise<BucketConfig | null> {
    return this.#rows.getBucketConfig(bucket, kind);
  }

  async putBucketConfig(config: BucketConfig): Promise<void> {
    await this.#session.execute(this.#sql.upsertBucketConfig, [
      config.bucket,
      config.kind,
      config.document,
      config.updatedAt.getTime(),
    ]);
  }

  async deleteBucketConfig(bucket: string, kind: BucketConfigKind): Promise<void> {
    await this.#session.execute(this.#sql.deleteBucketConfig, [bucket, kind]);
  }

  getLatestVersion(bucket: string, key: string): Promise<ObjectVersion | null> {
    return this.#rows.getLatestVersion(bucket, key);
  }

  getVersion(bucket: string, key: string, versionId: string): Promise<ObjectVersion | null> {
    return this.#rows.getVersion(bucket, key, versionId);
  }

  /**
   * The key lock is taken here too (a no-op when the caller holds it): without it, two writers of
   * one key would both demote the old latest and the second insert would fail on the one-latest
   * index instead of queueing behind the first.
   */
  async insertVersion(version: NewObjectVersion): Promise<number> {
    await this.lockObjectKey(version.bucket, version.key);
    await this.#session.execute(this.#sql.clearLatest, [version.bucket, keyBytes(version.key)]);
    const [inserted] = await this.#session.query(this.#sql.insertVersion, versionParams(version));
    if (inserted === undefined) throw new Error('INSERT … RETURNING seq returned no row');
    const seq = integer(inserted, 'seq');
    await recordVersionBlobs(this.#session, this.#sql, version, seq);
    return seq;
  }

  async deleteVersion(bucket: string, key: string, versionId: string): Promise<void> {
    await this.lockObjectKey(bucket, key);
    const objectKey = keyBytes(key);
    const [deleted] = await this.#session.query(this.#sql.deleteVersion, [bucket, objectKey, versionId]);
    if (deleted !== undefined && integer(deleted, 'is_latest') === 1) {
      await this.#session.execute(this.#sql.electLatest, [bucket, objectKey]);
    }
  }

  async setVersionTags(
    bucket: string,
    key: string,
    versionId: string,
    tags: Record<string, string>,
  ): Promise<void> {
    await this.#session.execute(this.#sql.setVersionTags, [
      JSON.stringify(tags),
      bucket,
      keyBytes(key),
      versionId,
    ]);
  }

  async setVersionRetention(
    bucket: string,
    key: string,
    versionId: string,
    retention: ObjectRetention | null,
  ): Promise<void> {
    await this.#session.execute(this.#sql.setVersionRetention, [
      retention?.mode ?? null,
      retention?.retainUntil.getTime() ?? null,
      bucket,
      keyBytes(key),
      versionId,
    ]);
  }

  async setVersionLegalHold(bucket: string, key: string, versionId: string, on: boolean): Promise<void> {
    await this.#session.execute(this.#sql.setVersionLegalHold, [
      on ? 1 : 0,
      bucket,
      keyBytes(key),
      versionId,
    ]);
  }

  async insertUpload(upload: MultipartUpload): Promise<void> {
    await this.#session.execute(this.#sql.insertUpload, uploadParams(upload));
  }

  getUpload(bucket: string, key: string, uploadId: string): Promise<MultipartUpload | null> {
    return this.#rows.one(this.#sql.selectUpload, [uploadId, bucket, keyBytes(key)], decodeUpload);
  }

  /** Its parts go with it (ON DELETE CASCADE). */
  async deleteUpload(uploadId: string): Promise<void> {
    await this.#session.execute(this.#sql.deleteUpload, [uploadId]);
  }

  /**
   * Locks the part number first so that two uploads of one part serialise and each learns the
   * blob it replaced. Re-recording the same blob replaces nothing.
   */
  async upsertPart(part: UploadPart): Promise<string | null> {
    await this.#lock('part', part.uploadId, String(part.partNumber));
    const previous = await this.#rows.one(this.#sql.selectPartBlob, [part.uploadId, part.partNumber], (row) =>
      text(row, 'blob_id'),
    );
    await this.#session.execute(this.#sql.upsertPart, partParams(part));
    return previous === part.blobId ? null : previous;
  }

  async listAllParts(uploadId: string): Promise<UploadPart[]> {
    return (await this.#session.query(this.#sql.selectAllParts, [uploadId])).map(decodePart);
  }

  async enqueueGarbage(blobIds: readonly string[]): Promise<void> {
    const enqueuedAtMs = this.#clock.nowMs();
    for (const blobId of blobIds)
      await this.#session.execute(this.#sql.enqueueGarbage, [blobId, enqueuedAtMs]);
  }

  insertOutboxEvents(events: readonly NewOutboxEvent[]): Promise<void> {
    return outbox.insertOutboxEvents(this.#session, this.#db.placeholderStyle, events);
  }

  async recordLifecycleAction(action: NewLifecycleAction): Promise<void> {
    await this.#session.execute(this.#sql.insertLifecycleAction, lifecycleActionParams(action));
  }

  getTenant(id: string): Promise<Tenant | null> {
    return this.#rows.one(this.#sql.selectTenant, [id], decodeTenant);
  }

  async insertTenant(tenant: Tenant): Promise<void> {
    await this.#session.execute(this.#sql.insertTenant, tenantParams(tenant));
  }

  async insertPrincipal(principal: Principal): Promise<void> {
    await this.#session.execute(this.#sql.insertPrincipal, principalParams(principal));
  }

  async insertAccessKey(key: AccessKeyRecord): Promise<void> {
    await this.#session.execute(this.#sql.insertAccessKey, accessKeyParams(key));
  }

  async #lock(...resource: string[]): Promise<void> {
    if (this.#db.transactionLockSql === null) return;
    const lockNumber = lockNumberOf(...resource);
    if (this.#held.has(lockNumber)) return;
    await this.#session.query(this.#db.transactionLockSql, [lockNumber]);
    this.#held.add(lockNumber);
  }
}

/** Single-row reads shared by the store (committed state) and transactions (their session). */
class MetadataRows {
  readonly #exec: SqlExecutor;
  readonly #sql: Statements;

  constructor(exec: SqlExecutor, sql: Statements) {
    this.#exec = exec;
    this.#sql = sql;
  }

  async one<T>(sql: string, params: readonly SqlValue[], decode: (row: SqlRow) => T): Promise<T | null> {
    const [row] = await this.#exec.query(sql, params);
    return row === undefined ? null : decode(row);
  }

  getBucket(name: string): Promise<BucketRecord | null> {
    return this.one(this.#sql.selectBucket, [name], decodeBucket);
  }

  getBucketConfig(bucket: string, kind: BucketConfigKind): Promise<BucketConfig | null> {
    return this.one(this.#sql.selectBucketConfig, [bucket, kind], decodeBucketConfig);
  }

  getLatestVersion(bucket: string, key: string): Promise<ObjectVersion | null> {
    return this.one(this.#sql.selectLatestVersion, [bucket, keyBytes(key)], decodeVersion);
  }

  getVersion(bucket: string, key: string, versionId: string): Promise<ObjectVersion | null> {
    return this.one(this.#sql.selectVersion, [bucket, keyBytes(key), versionId], decodeVersion);
  }
}

/** Records which blobs a version's layout names, so that isBlobReferenced is an index lookup. */
async function recordVersionBlobs(
  session: SqlSession,
  sql: Statements,
  version: NewObjectVersion,
  seq: number,
): Promise<void> {
  for (const blobId of blobIdsOfLayout(version.layout))
    await session.execute(sql.insertVersionBlob, [blobId, seq]);
}
