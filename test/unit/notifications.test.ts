import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  encodeEventKey,
  eventMessage,
  eventRecord,
  EVENT_RECORD_FORMAT,
  formatSequencer,
} from '../../src/domain/storage/event-records.ts';
import type { ObjectEvent, ObjectEventName } from '../../src/domain/storage/events.ts';
import { retryDelayMs } from '../../src/domain/storage/notification-dispatcher.ts';
import {
  destinationArn,
  eventTypeMatches,
  keyFilterMatches,
  validateNotificationConfiguration,
  type NotificationRuleInput,
} from '../../src/domain/storage/notifications.ts';
import { loadServerConfig } from '../../src/platform/config.ts';
import { isSovraError, type SovraError } from '../../src/platform/errors.ts';
import { LIMITS } from '../../src/platform/limits.ts';

const HOOK = destinationArn('eu-central-1', { id: 'hooks', type: 'webhook' });
const BUS = destinationArn('eu-central-1', { id: 'bus', type: 'nats' });
const KNOWN = new Set([HOOK, BUS]);

function rule(overrides: Partial<NotificationRuleInput> = {}): NotificationRuleInput {
  return {
    id: null,
    kind: 'queue',
    arn: HOOK,
    events: ['s3:ObjectCreated:*'],
    filterRules: [],
    ...overrides,
  };
}

function refusal(
  rules: NotificationRuleInput[],
): { code: string; argumentName: unknown; message: string } | null {
  try {
    validateNotificationConfiguration(rules, KNOWN);
    return null;
  } catch (error) {
    assert.ok(isSovraError(error), String(error));
    return { code: error.code, argumentName: error.details.argumentName, message: error.message };
  }
}

const PUT_EVENT: ObjectEvent = {
  name: 'ObjectCreated:Put',
  bucket: 'photos',
  key: 'holiday/red flower.jpg',
  versionId: '0123456789abcdef0123456789abcdef',
  sizeBytes: 1234,
  etag: 'd41d8cd98f00b204e9800998ecf8427e',
  sequencer: 42,
  time: new Date('2026-03-01T12:34:56.789Z'),
  caller: {
    principalId: 'p-1',
    tenantId: 't-1',
    isTenantAdmin: true,
    requestId: 'ABCDEF0123456789',
    sourceIp: '192.0.2.7',
    secureTransport: true,
  },
};

describe('notification configuration rules', () => {
  it('ARNs of operator-registered destinations are arn:sovra:sqs:<region>:<id>:<type>', () => {
    assert.equal(HOOK, 'arn:sovra:sqs:eu-central-1:hooks:webhook');
    assert.equal(BUS, 'arn:sovra:sqs:eu-central-1:bus:nats');
  });

  it('an event type with * covers every event of its group and nothing else', () => {
    const cases: [string, ObjectEventName, boolean][] = [
      ['s3:ObjectCreated:*', 'ObjectCreated:Put', true],
      ['s3:ObjectCreated:*', 'ObjectCreated:Copy', true],
      ['s3:ObjectCreated:*', 'ObjectCreated:Post', true],
      ['s3:ObjectCreated:*', 'ObjectCreated:CompleteMultipartUpload', true],
      ['s3:ObjectCreated:*', 'ObjectRemoved:Delete', false],
      ['s3:ObjectRemoved:*', 'ObjectRemoved:DeleteMarkerCreated', true],
      ['s3:ObjectRemoved:*', 'LifecycleExpiration:Delete', false],
      ['s3:LifecycleExpiration:*', 'LifecycleExpiration:DeleteMarkerCreated', true],
      ['s3:ObjectCreated:Put', 'ObjectCreated:Put', true],
      ['s3:ObjectCreated:Put', 'ObjectCreated:Post', false],
      ['s3:ObjectRemoved:Delete', 'ObjectRemoved:DeleteMarkerCreated', false],
    ];
    for (const [type, name, expected] of cases)
      assert.equal(eventTypeMatches(type, name), expected, `${type} ${name}`);
  });

  it('prefix and suffix filters compare against the URL-encoded key', () => {
    const filter = { prefix: 'images/', suffix: '.jpg' };
    assert.equal(keyFilterMatches(filter, encodeEventKey('images/cat.jpg')), true);
    assert.equal(keyFilterMatches(filter, encodeEventKey('images/cat.png')), false);
    assert.equal(keyFilterMatches(filter, encodeEventKey('docs/cat.jpg')), false);
    assert.equal(keyFilterMatches({ prefix: null, suffix: null }, 'anything'), true);
    // S3: "If your prefix or suffix contains a space, you must replace it with the + character".
    assert.equal(keyFilterMatches({ prefix: 'red+', suffix: null }, encodeEventKey('red flower.jpg')), true);
    assert.equal(keyFilterMatches({ prefix: 'red ', suffix: null }, encodeEventKey('red flower.jpg')), false);
  });

  it('a valid configuration comes back normalised: ids generated, duplicate events merged', () => {
    const configuration = validateNotificationConfiguration(
      [
        rule({
          id: 'thumbs',
          events: ['s3:ObjectCreated:Put', 's3:ObjectCreated:Put'],
          filterRules: [{ name: 'Prefix', value: 'a/' }],
        }),
        rule({ kind: 'topic', arn: BUS, events: ['s3:ObjectRemoved:*'] }),
      ],
      KNOWN,
    );
    const [thumbs, removals] = configuration.rules;
    assert.deepEqual(thumbs, {
      id: 'thumbs',
      kind: 'queue',
      arn: HOOK,
      events: ['s3:ObjectCreated:Put'],
      prefix: 'a/',
      suffix: null,
    });
    assert.equal(removals?.kind, 'topic');
    assert.match(removals?.id ?? '', /^[0-9a-f]{32}$/);
  });

  it('a destination that is not registered fails with InvalidArgument naming the ARN', () => {
    const unknown = 'arn:sovra:sqs:eu-central-1:elsewhere:webhook';
    assert.deepEqual(refusal([rule({ arn: unknown })]), {
      code: 'InvalidArgument',
      argumentName: unknown,
      message: 'Unable to validate the following destination configurations',
    });
    assert.equal(refusal([rule({ arn: 'arn:aws:sqs:us-east-1:123456789012:q' })])?.code, 'InvalidArgument');
    assert.equal(
      refusal([rule({ kind: 'function', arn: HOOK })])?.code,
      'InvalidArgument',
      'no Lambda functions',
    );
  });

  it('event types Sovra never emits, and configurations without events, fail with InvalidArgument', () => {
    for (const events of [
      ['s3:ObjectRestore:*'],
      ['s3:ObjectTagging:Put'],
      ['ObjectCreated:*'],
      ['s3:ObjectCreated'],
      [],
    ]) {
      assert.equal(refusal([rule({ events })])?.code, 'InvalidArgument', JSON.stringify(events));
    }
  });

  it('filter rules: one prefix and one suffix at most, named prefix or suffix, values up to 1,024 characters', () => {
    const twoPrefixes = refusal([
      rule({
        filterRules: [
          { name: 'prefix', value: 'a' },
          { name: 'prefix', value: 'b' },
        ],
      }),
    ]);
    assert.equal(twoPrefixes?.message, 'Cannot specify more than one prefix rule in a filter.');
    const twoSuffixes = refusal([
      rule({
        filterRules: [
          { name: 'suffix', value: 'a' },
          { name: 'Suffix', value: 'b' },
        ],
      }),
    ]);
    assert.equal(twoSuffixes?.message, 'Cannot specify more than one suffix rule in a filter.');
    assert.equal(refusal([rule({ filterRules: [{ name: 'infix', value: 'a' }] })])?.code, 'InvalidArgument');
    const long = 'x'.repeat(LIMITS.notificationFilterValueMaxLength + 1);
    assert.equal(
      refusal([rule({ filterRules: [{ name: 'prefix', value: long }] })])?.code,
      'InvalidArgument',
    );
  });

  it('two configurations that one event could both match are ambiguous and refused', () => {
    const prefix = (value: string) => ({ name: 'prefix', value });
    const suffix = (value: string) => ({ name: 'suffix', value });
    const refused = (a: NotificationRuleInput, b: NotificationRuleInput) => refusal([a, b])?.code ?? null;
    // Same event type, nested prefixes.
    assert.equal(
      refused(
        rule({ filterRules: [prefix('images/')] }),
        rule({ arn: BUS, filterRules: [prefix('images/raw/')] }),
      ),
      'InvalidArgument',
    );
    // A group and one of its members, no filters at all.
    assert.equal(refused(rule(), rule({ arn: BUS, events: ['s3:ObjectCreated:Copy'] })), 'InvalidArgument');
    // Overlapping prefixes, suffixes that cannot both end one key: fine.
    assert.equal(
      refused(
        rule({ filterRules: [prefix('images/'), suffix('.jpg')] }),
        rule({ filterRules: [prefix('images/'), suffix('.png')] }),
      ),
      null,
    );
    // Different event types: fine even without filters.
    assert.equal(refused(rule(), rule({ arn: BUS, events: ['s3:ObjectRemoved:*'] })), null);
    // Disjoint prefixes: fine.
    assert.equal(refused(rule({ filterRules: [prefix('a/')] }), rule({ filterRules: [prefix('b/')] })), null);
  });

  it('duplicate ids and more than the configuration limit are refused', () => {
    const same = refusal([
      rule({ id: 'x', filterRules: [{ name: 'prefix', value: 'a/' }] }),
      rule({ id: 'x', filterRules: [{ name: 'prefix', value: 'b/' }] }),
    ]);
    assert.equal(same?.code, 'InvalidArgument');
    const many = Array.from({ length: LIMITS.notificationConfigurationsMax + 1 }, (_, i) =>
      rule({ filterRules: [{ name: 'prefix', value: `p${i}/` }] }),
    );
    assert.equal(refusal(many)?.code, 'InvalidArgument');
  });
});

describe('S3 event record format', () => {
  it('an object creation becomes an S3 event record version 2.1 with size, eTag and versionId', () => {
    const record = eventRecord(PUT_EVENT, {
      region: 'eu-central-1',
      configurationId: 'thumbs',
      bucketOwnerId: 't-1',
    });
    assert.deepEqual(record, {
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'eu-central-1',
      eventTime: '2026-03-01T12:34:56.789Z',
      eventName: 'ObjectCreated:Put',
      userIdentity: { principalId: 'p-1' },
      requestParameters: { sourceIPAddress: '192.0.2.7' },
      responseElements: { 'x-amz-request-id': 'ABCDEF0123456789', 'x-amz-id-2': 'ABCDEF0123456789' },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: 'thumbs',
        bucket: { name: 'photos', ownerIdentity: { principalId: 't-1' }, arn: 'arn:sovra:s3:::photos' },
        object: {
          key: 'holiday/red+flower.jpg',
          size: 1234,
          eTag: 'd41d8cd98f00b204e9800998ecf8427e',
          versionId: '0123456789abcdef0123456789abcdef',
        },
      },
    });
  });

  it('removals carry no size or eTag; unversioned buckets no versionId; lifecycle events are version 2.3 by the platform', () => {
    const context = { region: 'r', configurationId: 'c', bucketOwnerId: 't' };
    const removal = eventRecord({ ...PUT_EVENT, name: 'ObjectRemoved:Delete', versionId: null }, context);
    assert.deepEqual(removal.s3.object, { key: 'holiday/red+flower.jpg' });
    const expiry = eventRecord({ ...PUT_EVENT, name: 'LifecycleExpiration:Delete', caller: null }, context);
    assert.equal(expiry.eventVersion, '2.3');
    assert.equal(expiry.userIdentity.principalId, 'sovra');
  });

  it('the delivered message is {"Records":[record]} with the outbox position as a 16-digit hex sequencer', () => {
    const payload = JSON.stringify(
      eventRecord(PUT_EVENT, { region: 'r', configurationId: 'c', bucketOwnerId: 't' }),
    );
    const message = JSON.parse(eventMessage({ format: EVENT_RECORD_FORMAT, payload, seq: 255 })) as {
      Records: { s3: { object: { sequencer: string } } }[];
    };
    assert.equal(message.Records.length, 1);
    assert.equal(message.Records[0]?.s3.object.sequencer, '00000000000000FF');
    // Sequencers of one key order its events when compared as strings.
    assert.ok(formatSequencer(0x100) > formatSequencer(0xff));
    assert.ok(formatSequencer(2 ** 40) > formatSequencer(2 ** 39));
  });

  it('a payload of an unknown format is refused rather than sent', () => {
    assert.throws(() => eventMessage({ format: 99, payload: '{}', seq: 1 }), /unknown payload format/);
  });

  it('keys are form-encoded as S3 does: space as +, / kept, other bytes as %XX of UTF-8', () => {
    assert.equal(encodeEventKey('red flower.jpg'), 'red+flower.jpg');
    assert.equal(encodeEventKey('a/b/c_d-e.f*g'), 'a/b/c_d-e.f*g');
    assert.equal(encodeEventKey("été+(1)~!'"), '%C3%A9t%C3%A9%2B%281%29%7E%21%27');
    assert.equal(encodeEventKey('100%'), '100%25');
    assert.equal(encodeEventKey('日本'), '%E6%97%A5%E6%9C%AC');
  });
});

describe('notification delivery retries', () => {
  it('the retry delay doubles from the base after each failed attempt and stops growing at the cap', () => {
    assert.equal(retryDelayMs(1), LIMITS.notificationRetryBaseDelayMs);
    assert.equal(retryDelayMs(2), 2 * LIMITS.notificationRetryBaseDelayMs);
    assert.equal(retryDelayMs(3), 4 * LIMITS.notificationRetryBaseDelayMs);
    assert.equal(retryDelayMs(50), LIMITS.notificationRetryMaxDelayMs);
    assert.equal(retryDelayMs(1_000_000), LIMITS.notificationRetryMaxDelayMs);
  });
});

describe('notification targets configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sovra-targets-'));
  const secretFile = join(dir, 'hook.secret');
  writeFileSync(secretFile, 'a-webhook-secret\n', { mode: 0o600 });
  const shortSecret = join(dir, 'short.secret');
  writeFileSync(shortSecret, 'too-short\n', { mode: 0o600 });
  const looseSecret = join(dir, 'loose.secret');
  writeFileSync(looseSecret, 'a-webhook-secret\n', { mode: 0o644 });
  const load = (targets: unknown) => {
    const file = join(dir, `targets-${Math.random()}.json`);
    writeFileSync(file, JSON.stringify(targets));
    return loadServerConfig({ dataDir: dir, notificationTargets: file }, {});
  };
  const webhook = { id: 'hooks', type: 'webhook', url: 'https://hooks.example/sovra', secretFile };
  const nats = {
    id: 'bus',
    type: 'nats',
    servers: ['127.0.0.1:4222'],
    subject: 'sovra.events',
    stream: 'SOVRA',
  };

  it('webhook and NATS targets load from the file the setting names; without the setting there are none', () => {
    assert.deepEqual(load([webhook, { ...nats, servers: 'nats://10.0.0.1:4222' }]).notificationTargets, [
      webhook,
      { ...nats, servers: ['nats://10.0.0.1:4222'] },
    ]);
    assert.deepEqual(loadServerConfig({ dataDir: dir }, {}).notificationTargets, []);
  });

  it('a malformed target is refused with InvalidConfig naming notificationTargets', () => {
    const cases: [unknown, RegExp][] = [
      [{ targets: [] }, /JSON array/],
      [[{ ...webhook, extra: 1 }], /unknown key "extra"/],
      [[{ ...webhook, type: 'sqs' }], /type/],
      [[{ ...webhook, id: 'has space' }], /id/],
      [[{ ...webhook, url: 'ftp://x' }], /url/],
      [[{ ...webhook, url: 'https://user:pw@x/' }], /url/],
      [[{ ...webhook, secretFile: looseSecret }], /readable by group or others/],
      [[{ ...webhook, secretFile: join(dir, 'missing') }], /cannot read/],
      [[{ ...webhook, secretFile: shortSecret }], /at least 16 characters/],
      [[{ ...nats, subject: 'sovra.*' }], /subject/],
      [[{ ...nats, stream: 'a.b' }], /stream/],
      [[{ ...nats, servers: [] }], /servers/],
      [[webhook, { ...nats, id: 'hooks' }], /used twice/],
    ];
    for (const [targets, pattern] of cases) {
      assert.throws(
        () => load(targets),
        (error: SovraError) =>
          error.code === 'InvalidConfig' &&
          /notificationTargets/.test(error.message) &&
          pattern.test(error.message),
        JSON.stringify(targets),
      );
    }
  });
});
