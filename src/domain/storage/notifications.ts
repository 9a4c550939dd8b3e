import type { Clock } from '../../platform/clock.ts';
import { randomHexId } from '../../platform/ids.ts';
import { LIMITS } from '../../platform/limits.ts';
import { storageError } from './errors.ts';
import { encodeEventKey, EVENT_RECORD_FORMAT, eventRecord } from './event-records.ts';
import type { ObjectEvent, ObjectEventName, ObjectEventRecorder } from './events.ts';
import type { MetadataStore, MetadataTx, NewOutboxEvent } from './ports.ts';

/**
 * Bucket event notifications (https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventNotifications.html):
 * the per-bucket configuration (which events, which keys, which destination) and the recorder
 * that turns each committed change into outbox rows, inside the change's own transaction.
 *
 * Destinations are registered by the operator, never invented by tenants: each has an ARN
 * `arn:sovra:sqs:<region>:<id>:<type>`, and a configuration may name only those ARNs.
 */

export type NotificationDestinationType = 'webhook' | 'nats';

export interface NotificationDestination {
  id: string;
  type: NotificationDestinationType;
}

export function destinationArn(region: string, destination: NotificationDestination): string {
  return `arn:sovra:sqs:${region}:${destination.id}:${destination.type}`;
}

/** The XML element a configuration came in; queue and topic configurations behave alike here. */
export type NotificationRuleKind = 'queue' | 'topic' | 'function';

/** One Queue/Topic/CloudFunction configuration as the client sent it. */
export interface NotificationRuleInput {
  id: string | null;
  kind: NotificationRuleKind;
  arn: string;
  events: string[];
  filterRules: { name: string; value: string }[];
}

/** One validated configuration, as stored and returned by GetBucketNotificationConfiguration. */
export interface NotificationRule {
  id: string;
  kind: Exclude<NotificationRuleKind, 'function'>;
  arn: string;
  /** As configured, with the `s3:` prefix, e.g. `s3:ObjectCreated:*`. */
  events: string[];
  prefix: string | null;
  suffix: string | null;
}

export interface NotificationConfiguration {
  rules: NotificationRule[];
}

/** Version of the stored document (bucket_configs kind 'notification'). */
export const NOTIFICATION_CONFIG_FORMAT = 1;

/** Event names a configuration may ask for: the types Sovra emits and their `*` groups. */
const EMITTED_EVENTS: readonly ObjectEventName[] = [
  'ObjectCreated:Put',
  'ObjectCreated:Post',
  'ObjectCreated:Copy',
  'ObjectCreated:CompleteMultipartUpload',
  'ObjectRemoved:Delete',
  'ObjectRemoved:DeleteMarkerCreated',
  'LifecycleExpiration:Delete',
  'LifecycleExpiration:DeleteMarkerCreated',
];
export const NOTIFICATION_EVENT_TYPES: readonly string[] = [
  's3:ObjectCreated:*',
  's3:ObjectRemoved:*',
  's3:LifecycleExpiration:*',
  ...EMITTED_EVENTS.map((name) => `s3:${name}`),
];

/** True when a configured event type (`s3:ObjectCreated:*`, `s3:ObjectRemoved:Delete`) covers `name`. */
export function eventTypeMatches(eventType: string, name: ObjectEventName): boolean {
  if (eventType.endsWith(':*')) return name.startsWith(eventType.slice('s3:'.length, -1));
  return eventType === `s3:${name}`;
}

/** Key filters compare against the URL-encoded key, as S3 does (see encodeEventKey). */
export function keyFilterMatches(
  rule: { prefix: string | null; suffix: string | null },
  encodedKey: string,
): boolean {
  return (
    (rule.prefix === null || encodedKey.startsWith(rule.prefix)) &&
    (rule.suffix === null || encodedKey.endsWith(rule.suffix))
  );
}

/**
 * Checks a configuration the way PutBucketNotificationConfiguration does
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketNotificationConfiguration.html)
 * and returns it normalised (ids generated where missing, filter rule names canonical).
 */
export function validateNotificationConfiguration(
  inputs: readonly NotificationRuleInput[],
  knownArns: ReadonlySet<string>,
): NotificationConfiguration {
  if (inputs.length > LIMITS.notificationConfigurationsMax) {
    throw invalid(
      `A notification configuration can hold at most ${LIMITS.notificationConfigurationsMax} destination configurations.`,
    );
  }
  const rules = inputs.map(validateRule);
  const ids = new Set<string>();
  for (const rule of rules) {
    if (ids.has(rule.id)) throw invalid('Two notification configurations have the same Id.', 'Id', rule.id);
    ids.add(rule.id);
  }
  const unknown = inputs.find((input) => input.kind === 'function' || !knownArns.has(input.arn));
  if (unknown !== undefined) {
    // S3's answer for a destination it cannot publish to; the ARN goes in ArgumentName.
    throw invalid('Unable to validate the following destination configurations', unknown.arn);
  }
  checkNoOverlap(rules);
  return { rules };
}

function validateRule(input: NotificationRuleInput): NotificationRule {
  const id = input.id ?? randomHexId();
  if (id.length === 0 || id.length > LIMITS.notificationConfigurationIdMaxLength) {
    throw invalid(
      `A notification configuration Id must be 1 to ${LIMITS.notificationConfigurationIdMaxLength} characters long.`,
      'Id',
    );
  }
  if (input.events.length === 0)
    throw invalid('A notification configuration needs at least one Event.', 'Event');
  for (const event of input.events) {
    if (!NOTIFICATION_EVENT_TYPES.includes(event)) {
      throw invalid('The event is not supported for notifications', event);
    }
  }
  let prefix: string | null = null;
  let suffix: string | null = null;
  for (const filterRule of input.filterRules) {
    const name = filterRule.name.toLowerCase();
    if (filterRule.value.length > LIMITS.notificationFilterValueMaxLength) {
      throw invalid(
        `The filter rule value must be at most ${LIMITS.notificationFilterValueMaxLength} characters long.`,
        'FilterRule',
      );
    }
    if (name === 'prefix') {
      if (prefix !== null)
        throw invalid('Cannot specify more than one prefix rule in a filter.', 'FilterRule');
      prefix = filterRule.value;
    } else if (name === 'suffix') {
      if (suffix !== null)
        throw invalid('Cannot specify more than one suffix rule in a filter.', 'FilterRule');
      suffix = filterRule.value;
    } else {
      throw invalid('filter rule name must be either prefix or suffix', 'FilterRule');
    }
  }
  return {
    id,
    kind: input.kind === 'topic' ? 'topic' : 'queue',
    arn: input.arn,
    events: [...new Set(input.events)],
    prefix,
    suffix,
  };
}

/**
 * S3 refuses configurations that could both fire for one event: the same event type with key
 * filters that some key satisfies at once. Two filters can match one key exactly when one
 * prefix extends the other and one suffix extends the other (keys may be long enough to hold
 * both); a missing filter is the empty string.
 */
function checkNoOverlap(rules: readonly NotificationRule[]): void {
  for (let i = 0; i < rules.length; i++) {
    for (let j = i + 1; j < rules.length; j++) {
      const a = rules[i]!;
      const b = rules[j]!;
      const sharedEvent = EMITTED_EVENTS.some(
        (name) =>
          a.events.some((e) => eventTypeMatches(e, name)) && b.events.some((e) => eventTypeMatches(e, name)),
      );
      if (!sharedEvent) continue;
      const [pa, pb] = [a.prefix ?? '', b.prefix ?? ''];
      const [sa, sb] = [a.suffix ?? '', b.suffix ?? ''];
      const prefixesOverlap = pa.startsWith(pb) || pb.startsWith(pa);
      const suffixesOverlap = sa.endsWith(sb) || sb.endsWith(sa);
      if (prefixesOverlap && suffixesOverlap) {
        throw invalid(
          'Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules if the prefixes are overlapping for the same event type.',
          b.id,
        );
      }
    }
  }
}

function invalid(message: string, argumentName?: string, argumentValue?: string) {
  const details: Record<string, unknown> = {};
  if (argumentName !== undefined) details.argumentName = argumentName;
  if (argumentValue !== undefined) details.argumentValue = argumentValue;
  return storageError('InvalidArgument', message, details);
}

interface CachedConfiguration {
  /** Empty when the bucket has no configuration: the common case costs one map lookup. */
  rules: readonly { rule: NotificationRule; destinationId: string }[];
  bucketOwnerId: string;
  expiresAtMs: number;
}

/**
 * The notification service: Put/Get of bucket configurations, and the ObjectEventRecorder that
 * ObjectStore calls inside each change's transaction. A matching event becomes one outbox row
 * per matching configuration, committed with the change or not at all; the dispatcher delivers
 * the rows later (at least once).
 */
export class BucketNotifications implements ObjectEventRecorder {
  readonly #metadata: MetadataStore;
  readonly #clock: Clock;
  readonly #region: string;
  /** Destination id by ARN. */
  readonly #destinations: ReadonlyMap<string, string>;
  /**
   * Configurations are read on every change of a bucket and change rarely. A Put through this
   * gateway invalidates at once; other gateways' Puts are seen within
   * LIMITS.notificationConfigCacheTtlMs.
   */
  readonly #cache = new Map<string, CachedConfiguration>();

  constructor(options: {
    metadata: MetadataStore;
    clock: Clock;
    region: string;
    destinations: readonly NotificationDestination[];
  }) {
    this.#metadata = options.metadata;
    this.#clock = options.clock;
    this.#region = options.region;
    this.#destinations = new Map(
      options.destinations.map((destination) => [
        destinationArn(options.region, destination),
        destination.id,
      ]),
    );
  }

  /** ARNs configurations may name. */
  get destinationArns(): string[] {
    return [...this.#destinations.keys()];
  }

  async getConfiguration(bucket: string): Promise<NotificationConfiguration> {
    const stored = await this.#metadata.getBucketConfig(bucket, 'notification');
    return stored === null ? { rules: [] } : decodeConfiguration(stored.document);
  }

  /** Replaces the bucket's configuration; an empty one turns notifications off. */
  async putConfiguration(
    bucket: string,
    inputs: readonly NotificationRuleInput[],
  ): Promise<NotificationConfiguration> {
    const configuration = validateNotificationConfiguration(inputs, new Set(this.#destinations.keys()));
    await this.#metadata.transaction(async (tx) => {
      if ((await tx.getBucket(bucket)) === null) {
        throw storageError('BucketNotFound', 'The specified bucket does not exist', { name: bucket });
      }
      if (configuration.rules.length === 0) await tx.deleteBucketConfig(bucket, 'notification');
      else {
        await tx.putBucketConfig({
          bucket,
          kind: 'notification',
          document: JSON.stringify({ format: NOTIFICATION_CONFIG_FORMAT, rules: configuration.rules }),
          updatedAt: this.#clock.now(),
        });
      }
    });
    this.#cache.delete(bucket);
    return configuration;
  }

  async record(tx: MetadataTx, event: ObjectEvent): Promise<void> {
    if (this.#destinations.size === 0) return;
    const configuration = await this.#configurationFor(tx, event.bucket);
    if (configuration.rules.length === 0) return;
    let encodedKey: string | null = null;
    const rows: NewOutboxEvent[] = [];
    for (const { rule, destinationId } of configuration.rules) {
      if (!rule.events.some((eventType) => eventTypeMatches(eventType, event.name))) continue;
      encodedKey ??= encodeEventKey(event.key);
      if (!keyFilterMatches(rule, encodedKey)) continue;
      const record = eventRecord(event, {
        region: this.#region,
        configurationId: rule.id,
        bucketOwnerId: configuration.bucketOwnerId,
      });
      rows.push({
        destinationId,
        bucket: event.bucket,
        deliveryId: randomHexId(),
        format: EVENT_RECORD_FORMAT,
        payload: JSON.stringify(record),
        createdAtMs: this.#clock.nowMs(),
      });
    }
    if (rows.length > 0) await tx.insertOutboxEvents(rows);
  }

  /** Read inside the change's transaction on a miss, so a fresh entry is the committed state. */
  async #configurationFor(tx: MetadataTx, bucket: string): Promise<CachedConfiguration> {
    const nowMs = this.#clock.nowMs();
    const cached = this.#cache.get(bucket);
    if (cached !== undefined && cached.expiresAtMs > nowMs) return cached;
    const stored = await tx.getBucketConfig(bucket, 'notification');
    let entry: CachedConfiguration = {
      rules: [],
      bucketOwnerId: '',
      expiresAtMs: nowMs + LIMITS.notificationConfigCacheTtlMs,
    };
    if (stored !== null) {
      const rules = [];
      // A configuration naming a destination the operator has since removed cannot be delivered.
      for (const rule of decodeConfiguration(stored.document).rules) {
        const destinationId = this.#destinations.get(rule.arn);
        if (destinationId !== undefined) rules.push({ rule, destinationId });
      }
      const bucketOwnerId = (await tx.getBucket(bucket))?.tenantId ?? '';
      entry = { ...entry, rules, bucketOwnerId };
    }
    if (this.#cache.size >= LIMITS.notificationConfigCacheEntries) this.#cache.clear();
    this.#cache.set(bucket, entry);
    return entry;
  }
}

/** Stored documents are written by putConfiguration only; the format number is their contract. */
function decodeConfiguration(document: string): NotificationConfiguration {
  const parsed = JSON.parse(document) as { format: number; rules: NotificationRule[] };
  if (parsed.format !== NOTIFICATION_CONFIG_FORMAT) {
    throw new Error(`notification configuration has unknown format ${parsed.format}`);
  }
  return { rules: parsed.rules };
}
