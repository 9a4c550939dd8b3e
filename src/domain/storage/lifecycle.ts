import { assertNever } from '../../platform/errors.ts';
import type { LifecycleActionKind } from './ports.ts';
import { mayRemove } from './retention.ts';
import type { MultipartUpload, ObjectVersion, VersioningState } from './types.ts';

/**
 * S3 lifecycle rules (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lifecycle-mgmt.html):
 * the model a bucket's configuration is stored as, and the pure evaluation that decides, for a
 * version or an upload at a given time, which rule acts on it and how. The lifecycle runner
 * (lifecycle-runner.ts) feeds listings through this and carries out the decisions.
 */

// ---- model ------------------------------------------------------------------------------------

export interface LifecycleTag {
  key: string;
  value: string;
}

/**
 * A rule's filter as it was written, so that GetBucketLifecycleConfiguration returns what was put
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_LifecycleRuleFilter.html): one of Prefix,
 * Tag, ObjectSizeGreaterThan, ObjectSizeLessThan or And; an empty Filter; or the deprecated
 * rule-level Prefix.
 */
export type LifecycleFilter =
  | { kind: 'rulePrefix'; prefix: string }
  | { kind: 'all' }
  | { kind: 'prefix'; prefix: string }
  | { kind: 'tag'; tag: LifecycleTag }
  | { kind: 'objectSizeGreaterThan'; bytes: number }
  | { kind: 'objectSizeLessThan'; bytes: number }
  | {
      kind: 'and';
      prefix: string | null;
      tags: LifecycleTag[];
      objectSizeGreaterThan: number | null;
      objectSizeLessThan: number | null;
    };

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_LifecycleExpiration.html: exactly one of the three. */
export type LifecycleExpiration =
  | { kind: 'days'; days: number }
  | { kind: 'date'; date: Date }
  | { kind: 'expiredObjectDeleteMarker'; enabled: boolean };

export interface NoncurrentVersionExpiration {
  noncurrentDays: number;
  /** Noncurrent versions kept whatever their age (the newest ones); null keeps none. */
  newerNoncurrentVersions: number | null;
}

/** Moves to another storage tier: stored and returned, carried out by the residency work later. */
export interface LifecycleTransition {
  when: { kind: 'days'; days: number } | { kind: 'date'; date: Date };
  storageClass: string;
}

export interface LifecycleNoncurrentTransition {
  noncurrentDays: number;
  newerNoncurrentVersions: number | null;
  storageClass: string;
}

export interface LifecycleRule {
  id: string;
  status: 'Enabled' | 'Disabled';
  filter: LifecycleFilter;
  expiration: LifecycleExpiration | null;
  noncurrentVersionExpiration: NoncurrentVersionExpiration | null;
  abortIncompleteMultipartUpload: { daysAfterInitiation: number } | null;
  transitions: LifecycleTransition[];
  noncurrentVersionTransitions: LifecycleNoncurrentTransition[];
}

export interface LifecycleConfiguration {
  rules: LifecycleRule[];
}

// ---- stored document --------------------------------------------------------------------------

/** Version of the JSON document in bucket_configs (kind 'lifecycle'); dates are ISO 8601 text. */
export const LIFECYCLE_DOCUMENT_FORMAT = 1;

export function encodeLifecycleDocument(config: LifecycleConfiguration): string {
  return JSON.stringify({ format: LIFECYCLE_DOCUMENT_FORMAT, rules: config.rules });
}

/**
 * Reads a stored configuration back. The document is written only by encodeLifecycleDocument from
 * a validated configuration, so beyond its format only the dates need reviving.
 */
export function decodeLifecycleDocument(document: string): LifecycleConfiguration {
  const parsed = JSON.parse(document) as { format?: unknown; rules?: unknown };
  if (parsed.format !== LIFECYCLE_DOCUMENT_FORMAT || !Array.isArray(parsed.rules)) {
    throw new Error(`lifecycle document has unknown format ${String(parsed.format)}`);
  }
  const rules = (parsed.rules as LifecycleRule[]).map((rule) => ({
    ...rule,
    expiration:
      rule.expiration?.kind === 'date'
        ? { kind: 'date' as const, date: new Date(rule.expiration.date) }
        : rule.expiration,
    transitions: rule.transitions.map((t) =>
      t.when.kind === 'date' ? { ...t, when: { kind: 'date' as const, date: new Date(t.when.date) } } : t,
    ),
  }));
  return { rules };
}

/** True when any rule asks for a transition, which Sovra records but does not carry out yet. */
export function hasTransitions(config: LifecycleConfiguration): boolean {
  return config.rules.some((r) => r.transitions.length > 0 || r.noncurrentVersionTransitions.length > 0);
}

// ---- time -------------------------------------------------------------------------------------

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * When an action given in days falls due: S3 "calculates the time by adding the number of days
 * specified in the rule to the object creation time and rounding the resulting time to the next
 * day midnight UTC" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/intro-lifecycle-rules.html);
 * for noncurrent versions the start is when the successor version was created. A sum that is
 * already midnight stays as it is.
 */
export function dueAfterDays(startMs: number, days: number): number {
  return Math.ceil((startMs + days * DAY_MS) / DAY_MS) * DAY_MS;
}

// ---- filters ----------------------------------------------------------------------------------

interface FilterConditions {
  prefix: string;
  tags: readonly LifecycleTag[];
  objectSizeGreaterThan: number | null;
  objectSizeLessThan: number | null;
}

function conditionsOf(filter: LifecycleFilter): FilterConditions {
  const none: FilterConditions = {
    prefix: '',
    tags: [],
    objectSizeGreaterThan: null,
    objectSizeLessThan: null,
  };
  switch (filter.kind) {
    case 'all':
      return none;
    case 'rulePrefix':
    case 'prefix':
      return { ...none, prefix: filter.prefix };
    case 'tag':
      return { ...none, tags: [filter.tag] };
    case 'objectSizeGreaterThan':
      return { ...none, objectSizeGreaterThan: filter.bytes };
    case 'objectSizeLessThan':
      return { ...none, objectSizeLessThan: filter.bytes };
    case 'and':
      return {
        prefix: filter.prefix ?? '',
        tags: filter.tags,
        objectSizeGreaterThan: filter.objectSizeGreaterThan,
        objectSizeLessThan: filter.objectSizeLessThan,
      };
    default:
      return assertNever(filter, 'lifecycle filter');
  }
}

/** The key prefix a filter selects ('' for every key). */
export function filterPrefix(filter: LifecycleFilter): string {
  return conditionsOf(filter).prefix;
}

/** True when the filter selects by more than the key (tags or size). */
export function filterNeedsObject(filter: LifecycleFilter): boolean {
  const c = conditionsOf(filter);
  return c.tags.length > 0 || c.objectSizeGreaterThan !== null || c.objectSizeLessThan !== null;
}

/**
 * Whether a filter selects a version (https://docs.aws.amazon.com/AmazonS3/latest/userguide/intro-lifecycle-filters.html):
 * the key starts with the prefix, every tag is on the object with exactly that value, and the size
 * is strictly between the bounds. Delete markers carry no tags and have no size, so a filter that
 * names tags or sizes never selects them: only the key decides for a marker.
 */
export function filterSelects(
  filter: LifecycleFilter,
  version: Pick<ObjectVersion, 'key' | 'tags' | 'sizeBytes' | 'isDeleteMarker'>,
): boolean {
  const c = conditionsOf(filter);
  if (!version.key.startsWith(c.prefix)) return false;
  if (version.isDeleteMarker) return !filterNeedsObject(filter);
  for (const tag of c.tags) {
    if (!Object.hasOwn(version.tags, tag.key) || version.tags[tag.key] !== tag.value) return false;
  }
  if (c.objectSizeGreaterThan !== null && !(version.sizeBytes > c.objectSizeGreaterThan)) return false;
  if (c.objectSizeLessThan !== null && !(version.sizeBytes < c.objectSizeLessThan)) return false;
  return true;
}

// ---- which listings a pass needs -------------------------------------------------------------

/** Enabled rules that act on versions (expiration of current or noncurrent versions, markers). */
function versionRules(config: LifecycleConfiguration): LifecycleRule[] {
  return config.rules.filter(
    (r) =>
      r.status === 'Enabled' &&
      ((r.expiration !== null &&
        !(r.expiration.kind === 'expiredObjectDeleteMarker' && !r.expiration.enabled)) ||
        r.noncurrentVersionExpiration !== null),
  );
}

function uploadRules(config: LifecycleConfiguration): LifecycleRule[] {
  return config.rules.filter((r) => r.status === 'Enabled' && r.abortIncompleteMultipartUpload !== null);
}

/**
 * The fewest key prefixes whose listings cover every key the rules can act on: no prefix when no
 * rule needs the listing, [''] when one rule covers the whole bucket, else the rules' prefixes
 * without those another one already covers.
 */
function coveringPrefixes(rules: readonly LifecycleRule[]): string[] {
  const prefixes = [...new Set(rules.map((r) => filterPrefix(r.filter)))].sort();
  const kept: string[] = [];
  for (const prefix of prefixes) {
    if (!kept.some((k) => prefix.startsWith(k))) kept.push(prefix);
  }
  return kept;
}

export function versionScanPrefixes(config: LifecycleConfiguration): string[] {
  return coveringPrefixes(versionRules(config));
}

export function uploadScanPrefixes(config: LifecycleConfiguration): string[] {
  return coveringPrefixes(uploadRules(config));
}

// ---- decisions --------------------------------------------------------------------------------

/** One thing lifecycle decided to do, with the rule that asks for it. */
export interface PlannedVersionAction {
  action: Exclude<LifecycleActionKind, 'AbortMultipartUpload'>;
  ruleId: string;
  version: ObjectVersion;
}

/** A version a rule would remove but Object Lock protects (reported, never acted on). */
export interface LockedVersion {
  ruleId: string;
  version: ObjectVersion;
}

export interface VersionDecisions {
  actions: PlannedVersionAction[];
  locked: LockedVersion[];
}

/**
 * Decides what the rules do to a bucket's versions, fed one version at a time in listing order
 * (keys ascending, each key's versions newest first), so that a pass holds one key's summary and
 * never a whole bucket or a whole key. Decisions for a version come back as soon as they are
 * known; the decision on an expired object delete marker waits for the end of its key, because
 * it depends on every other version of the key being gone.
 *
 * Rules, per the S3 user guide:
 * - Expiration (Days or Date) acts on the current version: an unversioned bucket deletes it, a
 *   versioning-enabled or -suspended bucket adds a delete marker, and nothing happens when the
 *   current version already is a marker
 *   (https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-expire-general-considerations.html).
 * - A delete marker that is the only version left (an expired object delete marker) is removed by
 *   ExpiredObjectDeleteMarker, and by Expiration Days/Date once the marker is old enough
 *   (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ManagingDelMarkers.html).
 * - NoncurrentVersionExpiration removes a noncurrent version (markers included) NoncurrentDays
 *   after its successor was created; with NewerNoncurrentVersions = N, the N newest noncurrent
 *   versions are kept whatever their age
 *   (https://docs.aws.amazon.com/AmazonS3/latest/API/API_NoncurrentVersionExpiration.html).
 * - Disabled rules do nothing; a version locked by Object Lock is never removed (retention.ts).
 * Decisions are made on the state as listed: a delete marker added by this pass makes nothing
 * noncurrent until the next pass.
 */
export class VersionPlanner {
  readonly #rules: LifecycleRule[];
  readonly #versioning: VersioningState;
  readonly #nowMs: number;
  #key: KeySummary | null = null;

  constructor(config: LifecycleConfiguration, versioning: VersioningState, nowMs: number) {
    this.#rules = versionRules(config);
    this.#versioning = versioning;
    this.#nowMs = nowMs;
  }

  /** The next listed version; returns what is decided so far. */
  add(version: ObjectVersion): VersionDecisions {
    const decided: VersionDecisions = { actions: [], locked: [] };
    if (this.#key !== null && this.#key.key !== version.key) this.#endKey(decided);
    if (this.#key === null) {
      this.#key = { key: version.key, latest: version, newer: null, noncurrentSeen: 0, othersLeft: 0 };
      this.#decideLatest(version, decided);
    } else {
      this.#decideNoncurrent(this.#key, version, decided);
    }
    this.#key.newer = version;
    return decided;
  }

  /** A planned removal did not happen (the version changed or became locked): it stays. */
  kept(version: ObjectVersion): void {
    if (this.#key !== null && this.#key.key === version.key && version !== this.#key.latest) {
      this.#key.othersLeft += 1;
    }
  }

  /** The listing ended: decisions that waited for the end of the last key. */
  finish(): VersionDecisions {
    const decided: VersionDecisions = { actions: [], locked: [] };
    this.#endKey(decided);
    return decided;
  }

  #decideLatest(version: ObjectVersion, decided: VersionDecisions): void {
    if (version.isDeleteMarker) return; // decided at the end of the key
    const rule = this.#rules.find((r) => filterSelects(r.filter, version) && this.#currentDue(r, version));
    if (rule === undefined) return;
    if (this.#versioning === 'Unversioned') {
      if (mayRemove(version, this.#nowMs, false)) {
        decided.actions.push({ action: 'DeleteCurrentVersion', ruleId: rule.id, version });
      } else decided.locked.push({ ruleId: rule.id, version });
    } else {
      decided.actions.push({ action: 'AddDeleteMarker', ruleId: rule.id, version });
    }
  }

  #currentDue(rule: LifecycleRule, version: ObjectVersion): boolean {
    const expiration = rule.expiration;
    if (expiration === null) return false;
    switch (expiration.kind) {
      case 'days':
        return dueAfterDays(version.lastModified.getTime(), expiration.days) <= this.#nowMs;
      case 'date':
        return expiration.date.getTime() <= this.#nowMs;
      case 'expiredObjectDeleteMarker':
        return false;
      default:
        return assertNever(expiration, 'lifecycle expiration');
    }
  }

  #decideNoncurrent(summary: KeySummary, version: ObjectVersion, decided: VersionDecisions): void {
    // The successor's creation is when this version stopped being current.
    const becameNoncurrentMs = summary.newer!.lastModified.getTime();
    const newerNoncurrent = summary.noncurrentSeen;
    summary.noncurrentSeen += 1;
    const rule = this.#rules.find((r) => {
      const nve = r.noncurrentVersionExpiration;
      return (
        nve !== null &&
        filterSelects(r.filter, version) &&
        dueAfterDays(becameNoncurrentMs, nve.noncurrentDays) <= this.#nowMs &&
        (nve.newerNoncurrentVersions === null || newerNoncurrent >= nve.newerNoncurrentVersions)
      );
    });
    if (rule === undefined) {
      summary.othersLeft += 1;
    } else if (!mayRemove(version, this.#nowMs, false)) {
      summary.othersLeft += 1;
      decided.locked.push({ ruleId: rule.id, version });
    } else {
      decided.actions.push({ action: 'DeleteNoncurrentVersion', ruleId: rule.id, version });
    }
  }

  #endKey(decided: VersionDecisions): void {
    const summary = this.#key;
    this.#key = null;
    if (summary === null || !summary.latest.isDeleteMarker || summary.othersLeft > 0) return;
    const marker = summary.latest;
    const rule = this.#rules.find((r) => filterSelects(r.filter, marker) && this.#markerDue(r, marker));
    if (rule !== undefined)
      decided.actions.push({ action: 'DeleteExpiredDeleteMarker', ruleId: rule.id, version: marker });
  }

  #markerDue(rule: LifecycleRule, marker: ObjectVersion): boolean {
    const expiration = rule.expiration;
    if (expiration === null) return false;
    switch (expiration.kind) {
      case 'expiredObjectDeleteMarker':
        return expiration.enabled;
      case 'days':
      case 'date':
        return this.#currentDue(rule, marker);
      default:
        return assertNever(expiration, 'lifecycle expiration');
    }
  }
}

interface KeySummary {
  key: string;
  latest: ObjectVersion;
  /** The version listed just before (newer than) the next one. */
  newer: ObjectVersion | null;
  /** Noncurrent versions of this key listed so far. */
  noncurrentSeen: number;
  /** Versions other than the latest that stay after this pass. */
  othersLeft: number;
}

/**
 * The rule that aborts an upload, if any: an enabled AbortIncompleteMultipartUpload rule whose
 * prefix the key has, DaysAfterInitiation after the upload was initiated
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpu-abort-incomplete-mpu-lifecycle-config.html).
 * Such rules cannot filter by tags or size (validation refuses them), so only the key decides.
 */
export function abortingRule(
  config: LifecycleConfiguration,
  upload: Pick<MultipartUpload, 'key' | 'initiatedAt'>,
  nowMs: number,
): LifecycleRule | null {
  return (
    uploadRules(config).find(
      (r) =>
        !filterNeedsObject(r.filter) &&
        upload.key.startsWith(filterPrefix(r.filter)) &&
        dueAfterDays(upload.initiatedAt.getTime(), r.abortIncompleteMultipartUpload!.daysAfterInitiation) <=
          nowMs,
    ) ?? null
  );
}
