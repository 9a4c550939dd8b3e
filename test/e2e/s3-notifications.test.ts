import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetBucketNotificationConfigurationCommand,
  PutBucketNotificationConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3ServiceException,
  UploadPartCommand,
  type NotificationConfiguration,
  type S3Client,
} from '@aws-sdk/client-s3';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { LIMITS } from '../../src/platform/limits.ts';
import { createTestSchema } from '../helpers/postgres.ts';
import {
  freePort,
  removeDir,
  startSovra,
  TEST_REGION,
  type MetadataBackend,
  type SovraProcess,
} from '../helpers/sovra-process.ts';

/**
 * Event notifications end to end: the real server, configured through @aws-sdk/client-s3,
 * delivering to a webhook receiver started here and to the NATS JetStream server on
 * 127.0.0.1:4222 (scripts/system-deps.sh starts it; these tests fail when it is unreachable).
 */

const NATS_SERVER = '127.0.0.1:4222';
const WEBHOOK_ARN = `arn:sovra:sqs:${TEST_REGION}:hooks:webhook`;
const NATS_ARN = `arn:sovra:sqs:${TEST_REGION}:bus:nats`;
const DELIVERY_TIMEOUT_MS = 20_000;

interface ReceivedEvent {
  headers: IncomingHttpHeaders;
  body: string;
  record: EventRecord;
}

interface EventRecord {
  eventVersion: string;
  eventSource: string;
  awsRegion: string;
  eventTime: string;
  eventName: string;
  userIdentity: { principalId: string };
  responseElements: Record<string, string>;
  s3: {
    s3SchemaVersion: string;
    configurationId: string;
    bucket: { name: string; ownerIdentity: { principalId: string }; arn: string };
    object: { key: string; size?: number; eTag?: string; versionId?: string; sequencer: string };
  };
}

/** An HTTP receiver that can be stopped and started again on the same port. */
class WebhookReceiver {
  readonly port: number;
  readonly received: ReceivedEvent[] = [];
  /** Answer this many requests with 503 before accepting. */
  refuseNext = 0;
  #server: Server | null = null;

  constructor(port: number) {
    this.port = port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/sovra-events`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        if (this.refuseNext > 0) {
          this.refuseNext -= 1;
          res.writeHead(503).end();
          return;
        }
        const body = Buffer.concat(chunks).toString('utf8');
        const message = JSON.parse(body) as { Records: EventRecord[] };
        assert.equal(message.Records.length, 1, 'one record per message, as S3 sends');
        this.received.push({ headers: req.headers, body, record: message.Records[0]! });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (server === null) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * The events of a bucket by (decoded) key, once every key of `keys` has at least as many events
   * as it appears in `keys`.
   */
  async waitForKeys(
    bucket: string,
    keys: readonly string[],
    timeoutMs = DELIVERY_TIMEOUT_MS,
  ): Promise<Map<string, ReceivedEvent[]>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const byKey = new Map<string, ReceivedEvent[]>();
      for (const event of this.received) {
        if (event.record.s3.bucket.name !== bucket) continue;
        const key = decodeEventKey(event.record.s3.object.key);
        byKey.set(key, [...(byKey.get(key) ?? []), event]);
      }
      const missing = keys.filter(
        (key) => (byKey.get(key)?.length ?? 0) < keys.filter((each) => each === key).length,
      );
      if (missing.length === 0) return byKey;
      if (Date.now() > deadline) assert.fail(`events for ${missing.join(', ')} did not arrive in time`);
      await sleep(50);
    }
  }
}

/** The inverse of S3's form encoding of keys in event records. */
function decodeEventKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

async function s3Code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof S3ServiceException) return error.name;
    throw error;
  }
  assert.fail('expected the request to fail');
}

function queueConfiguration(
  arn: string,
  events: string[],
  filter: { prefix?: string; suffix?: string } = {},
  id?: string,
): NonNullable<NotificationConfiguration['QueueConfigurations']>[number] {
  const rules = [];
  if (filter.prefix !== undefined) rules.push({ Name: 'prefix' as const, Value: filter.prefix });
  if (filter.suffix !== undefined) rules.push({ Name: 'suffix' as const, Value: filter.suffix });
  return {
    ...(id === undefined ? {} : { Id: id }),
    QueueArn: arn,
    Events: events as NonNullable<NotificationConfiguration['QueueConfigurations']>[number]['Events'],
    ...(rules.length === 0 ? {} : { Filter: { Key: { FilterRules: rules } } }),
  };
}

function defineNotificationSuite(backend: MetadataBackend): void {
  describe(`S3 event notifications (${backend})`, () => {
    const secret = randomBytes(32).toString('hex');
    const runId = randomBytes(4).toString('hex');
    const stream = `SOVRA_TEST_${runId}`;
    const subject = `sovra.test.${runId}`;
    let workDir: string;
    let receiver: WebhookReceiver;
    let nats: NatsConnection;
    let jsm: JetStreamManager;
    let pgOptions: { postgresSchema?: string; postgresUrl?: string } = {};
    let dropSchema: (() => Promise<void>) | null = null;
    let sovra: SovraProcess;
    let s3: S3Client;
    let targetsFile: string;

    const start = async (dataDir?: string) => {
      sovra = await startSovra({
        metadata: backend,
        ...pgOptions,
        ...(dataDir === undefined ? {} : { dataDir }),
        extraArgs: ['--notification-targets', targetsFile],
      });
      s3 = sovra.client();
    };

    const configure = (bucket: string, configuration: NotificationConfiguration) =>
      s3.send(
        new PutBucketNotificationConfigurationCommand({
          Bucket: bucket,
          NotificationConfiguration: configuration,
        }),
      );

    before(async () => {
      // NATS must be up: connecting fails the suite rather than skipping it.
      nats = await connect({ servers: NATS_SERVER, timeout: 5_000 });
      jsm = await jetstreamManager(nats);
      await jsm.streams.add({ name: stream, subjects: [`${subject}.>`, subject] });
      workDir = mkdtempSync(join(tmpdir(), 'sovra-notify-'));
      const secretFile = join(workDir, 'webhook.secret');
      writeFileSync(secretFile, `${secret}\n`);
      chmodSync(secretFile, 0o600);
      receiver = new WebhookReceiver(await freePort());
      await receiver.start();
      targetsFile = join(workDir, 'targets.json');
      writeFileSync(
        targetsFile,
        JSON.stringify([
          { id: 'hooks', type: 'webhook', url: receiver.url, secretFile },
          { id: 'bus', type: 'nats', servers: [NATS_SERVER], subject, stream },
        ]),
      );
      if (backend === 'postgres') {
        const schema = await createTestSchema();
        pgOptions = { postgresSchema: schema.schema, postgresUrl: schema.connectionString };
        dropSchema = () => schema.drop();
      }
      await start();
    });

    after(async () => {
      s3?.destroy();
      if (sovra !== undefined) {
        await sovra.stop();
        removeDir(sovra.dataDir);
      }
      await receiver?.stop();
      if (jsm !== undefined) await jsm.streams.delete(stream).catch(() => undefined);
      await nats?.close();
      if (dropSchema !== null) await dropSchema();
      if (workDir !== undefined) removeDir(workDir);
    });

    it('a configuration round-trips through Put and Get; a bucket without one returns an empty configuration', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'config-trip' }));
      const empty = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: 'config-trip' }));
      assert.equal(empty.QueueConfigurations, undefined);
      assert.equal(empty.TopicConfigurations, undefined);

      await configure('config-trip', {
        QueueConfigurations: [
          queueConfiguration(
            WEBHOOK_ARN,
            ['s3:ObjectCreated:*'],
            { prefix: 'images/', suffix: '.jpg' },
            'thumbs',
          ),
        ],
        TopicConfigurations: [{ TopicArn: NATS_ARN, Events: ['s3:ObjectRemoved:Delete'] }],
      });
      const got = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: 'config-trip' }));
      assert.equal(got.QueueConfigurations?.length, 1);
      const [queue] = got.QueueConfigurations ?? [];
      assert.ok(queue !== undefined);
      assert.equal(queue.Id, 'thumbs');
      assert.equal(queue.QueueArn, WEBHOOK_ARN);
      assert.deepEqual(queue.Events, ['s3:ObjectCreated:*']);
      assert.deepEqual(queue.Filter?.Key?.FilterRules, [
        { Name: 'Prefix', Value: 'images/' },
        { Name: 'Suffix', Value: '.jpg' },
      ]);
      assert.equal(got.TopicConfigurations?.length, 1);
      const [topic] = got.TopicConfigurations ?? [];
      assert.ok(topic !== undefined);
      assert.equal(topic.TopicArn, NATS_ARN);
      assert.deepEqual(topic.Events, ['s3:ObjectRemoved:Delete']);
      assert.ok((topic.Id ?? '').length > 0, 'a missing Id is generated, as S3 does');

      await configure('config-trip', {});
      const cleared = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: 'config-trip' }));
      assert.equal(cleared.QueueConfigurations, undefined);
      assert.equal(cleared.TopicConfigurations, undefined);
    });

    it('invalid configurations fail with InvalidArgument, as S3 answers them', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'config-invalid' }));
      const cases: [string, NotificationConfiguration][] = [
        [
          'unknown destination ARN',
          {
            QueueConfigurations: [
              queueConfiguration(`arn:sovra:sqs:${TEST_REGION}:nobody:webhook`, ['s3:ObjectCreated:*']),
            ],
          },
        ],
        [
          'an AWS queue ARN',
          {
            QueueConfigurations: [
              queueConfiguration('arn:aws:sqs:us-east-1:123456789012:queue', ['s3:ObjectCreated:*']),
            ],
          },
        ],
        [
          'unsupported event type',
          { QueueConfigurations: [queueConfiguration(WEBHOOK_ARN, ['s3:ObjectRestore:Post'])] },
        ],
        [
          'two prefix rules',
          {
            QueueConfigurations: [
              {
                QueueArn: WEBHOOK_ARN,
                Events: ['s3:ObjectCreated:*'],
                Filter: {
                  Key: {
                    FilterRules: [
                      { Name: 'prefix', Value: 'a/' },
                      { Name: 'prefix', Value: 'b/' },
                    ],
                  },
                },
              },
            ],
          },
        ],
        [
          'overlapping rules for the same event type',
          {
            QueueConfigurations: [
              queueConfiguration(WEBHOOK_ARN, ['s3:ObjectCreated:*'], { prefix: 'images/' }),
              queueConfiguration(NATS_ARN, ['s3:ObjectCreated:Put'], { prefix: 'images/raw/' }),
            ],
          },
        ],
      ];
      for (const [why, configuration] of cases) {
        assert.equal(await s3Code(configure('config-invalid', configuration)), 'InvalidArgument', why);
      }
      const unchanged = await s3.send(
        new GetBucketNotificationConfigurationCommand({ Bucket: 'config-invalid' }),
      );
      assert.equal(unchanged.QueueConfigurations, undefined, 'a refused configuration changes nothing');
    });

    it('a webhook receives signed S3 event records for puts, copies, multipart completions and deletes', async () => {
      const bucket = 'hooked';
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      await s3.send(
        new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }),
      );
      await configure(bucket, {
        QueueConfigurations: [
          queueConfiguration(WEBHOOK_ARN, ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'], {}, 'all-events'),
        ],
      });
      const key = 'photos/red flower (1).jpg';
      const body = Buffer.from('a red flower');
      const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      await s3.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: 'copy.jpg',
          CopySource: `${bucket}/photos/red%20flower%20%281%29.jpg`,
        }),
      );
      const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'multi.bin' }));
      const part = await s3.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: 'multi.bin',
          UploadId: upload.UploadId,
          PartNumber: 1,
          Body: body,
        }),
      );
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: 'multi.bin',
          UploadId: upload.UploadId,
          MultipartUpload: { Parts: [{ ETag: part.ETag, PartNumber: 1 }] },
        }),
      );
      const removed = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));

      const byKey = await receiver.waitForKeys(bucket, [key, 'copy.jpg', 'multi.bin', key]);
      const [created, deleted] = byKey.get(key) ?? [];
      assert.ok(created !== undefined && deleted !== undefined, 'both events of the key arrived');

      const expectedSignature = `sha256=${createHmac('sha256', secret).update(created.body).digest('hex')}`;
      assert.equal(created.headers['x-sovra-signature'], expectedSignature, 'HMAC-SHA256 of the body');
      assert.match(String(created.headers['x-sovra-delivery-id']), /^[0-9a-f]{32}$/);
      assert.equal(created.headers['content-type'], 'application/json');

      const record = created.record;
      assert.equal(record.eventVersion, '2.1');
      assert.equal(record.eventSource, 'aws:s3');
      assert.equal(record.awsRegion, TEST_REGION);
      assert.equal(record.eventName, 'ObjectCreated:Put', 'without the s3: prefix, as S3 sends');
      assert.ok(!Number.isNaN(Date.parse(record.eventTime)));
      assert.equal(record.s3.s3SchemaVersion, '1.0');
      assert.equal(record.s3.configurationId, 'all-events');
      assert.equal(record.s3.bucket.name, bucket);
      assert.equal(record.s3.bucket.arn, `arn:sovra:s3:::${bucket}`);
      assert.equal(record.s3.object.key, 'photos/red+flower+%281%29.jpg', 'URL-encoded as S3 does');
      assert.equal(record.s3.object.size, body.length);
      assert.equal(record.s3.object.eTag, put.ETag!.replace(/"/g, ''));
      assert.equal(record.s3.object.versionId, put.VersionId);
      assert.match(record.s3.object.sequencer, /^[0-9A-F]{16}$/);
      assert.ok(record.userIdentity.principalId.length > 0);
      assert.ok(record.responseElements['x-amz-request-id']!.length > 0);

      assert.equal(deleted.record.eventName, 'ObjectRemoved:DeleteMarkerCreated');
      assert.equal(deleted.record.s3.object.versionId, removed.VersionId);
      assert.ok(
        deleted.record.s3.object.sequencer > record.s3.object.sequencer,
        'a later change of the key has a greater sequencer',
      );
      assert.equal(byKey.get('copy.jpg')![0]!.record.eventName, 'ObjectCreated:Copy');
      assert.equal(byKey.get('multi.bin')![0]!.record.eventName, 'ObjectCreated:CompleteMultipartUpload');
    });

    it('prefix and suffix filters select which keys notify', async () => {
      const bucket = 'filtered';
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      await configure(bucket, {
        QueueConfigurations: [
          queueConfiguration(WEBHOOK_ARN, ['s3:ObjectCreated:Put'], { prefix: 'images/', suffix: '.jpg' }),
        ],
      });
      for (const key of ['images/a.png', 'docs/a.jpg', 'images/a.jpg', 'images/last.jpg']) {
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
      }
      // Events of one destination arrive in order, so once the last one is here all others are.
      await receiver.waitForKeys(bucket, ['images/last.jpg']);
      const keys = receiver.received
        .filter((event) => event.record.s3.bucket.name === bucket)
        .map((event) => decodeEventKey(event.record.s3.object.key));
      assert.deepEqual([...new Set(keys)], ['images/a.jpg', 'images/last.jpg']);
    });

    it('events reach NATS JetStream with the delivery id as Nats-Msg-Id', async () => {
      const bucket = 'to-nats';
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      await configure(bucket, {
        TopicConfigurations: [{ TopicArn: NATS_ARN, Events: ['s3:ObjectCreated:*'] }],
      });
      const keys = Array.from({ length: 20 }, (_, i) => `object-${i}`);
      for (const key of keys) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));

      const deadline = Date.now() + DELIVERY_TIMEOUT_MS;
      const seen = new Map<string, { msgId: string; record: EventRecord }>();
      let nextSeq = 1;
      while (seen.size < keys.length) {
        const info = await jsm.streams.info(stream);
        for (; nextSeq <= info.state.last_seq; nextSeq += 1) {
          const message = await jsm.streams.getMessage(stream, { seq: nextSeq });
          if (message === null) continue;
          const record = message.json<{ Records: EventRecord[] }>().Records[0]!;
          if (record.s3.bucket.name !== bucket) continue;
          seen.set(record.s3.object.key, { msgId: message.header.get('Nats-Msg-Id'), record });
        }
        if (Date.now() > deadline)
          assert.fail(`only ${seen.size} of ${keys.length} events reached JetStream`);
        await sleep(50);
      }
      for (const key of keys) {
        const event = seen.get(key)!;
        assert.match(event.msgId, /^[0-9a-f]{32}$/);
        assert.equal(event.record.eventName, 'ObjectCreated:Put');
        assert.equal(event.record.s3.object.size, key.length);
      }
    });

    it('a webhook that is down gets a backlog, not lost events: after it comes back every event arrives in order', async () => {
      const bucket = 'backlog';
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      await configure(bucket, {
        QueueConfigurations: [queueConfiguration(WEBHOOK_ARN, ['s3:ObjectCreated:*'])],
      });
      await receiver.stop();
      const keys = Array.from({ length: 10 }, (_, i) => `pending-${i}`);
      for (const key of keys) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
      await sleep(1_000); // several refused attempts
      receiver.refuseNext = 1; // and a 503 answer once it is back
      await receiver.start();
      await receiver.waitForKeys(bucket, keys);
      const order = receiver.received
        .filter((event) => event.record.s3.bucket.name === bucket)
        .map((event) => decodeEventKey(event.record.s3.object.key));
      assert.deepEqual([...new Set(order)], keys, 'in the order the changes committed');
    });

    it('kill -9 with undelivered events: after a restart they are delivered', async () => {
      const bucket = 'crash-outbox';
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      await configure(bucket, {
        QueueConfigurations: [queueConfiguration(WEBHOOK_ARN, ['s3:ObjectCreated:*'])],
      });
      await receiver.stop();
      const keys = Array.from({ length: 5 }, (_, i) => `survivor-${i}`);
      for (const key of keys) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
      const dataDir = sovra.dataDir;
      s3.destroy();
      await sovra.kill();
      await receiver.start();
      await start(dataDir);
      // Killed while a send was under way, the gateway leaves its claimed batch leased: the
      // restarted one delivers it once the lease runs out (LIMITS.notificationLeaseMs), as any
      // other gateway would. Killed between sends, at once.
      await receiver.waitForKeys(bucket, keys, LIMITS.notificationLeaseMs + DELIVERY_TIMEOUT_MS);
    });
  });
}

defineNotificationSuite('sqlite');
defineNotificationSuite('postgres');
