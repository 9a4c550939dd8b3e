import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebhookSink, webhookSignature } from '../../src/adapters/notifications/webhook-sink.ts';
import { openPostgresMetadataStore } from '../../src/adapters/postgres/postgres-metadata-store.ts';
import { openSqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store.ts';
import { EVENT_RECORD_FORMAT } from '../../src/domain/storage/event-records.ts';
import type { ObjectEvent } from '../../src/domain/storage/events.ts';
import { NotificationDispatcher } from '../../src/domain/storage/notification-dispatcher.ts';
import { BucketNotifications, destinationArn } from '../../src/domain/storage/notifications.ts';
import type { MetadataStore, NewOutboxEvent } from '../../src/domain/storage/ports.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { createTestSchema } from '../helpers/postgres.ts';

/**
 * The event outbox on both metadata backends: rows exist exactly when their transaction
 * committed, each destination's queue is claimed in order by one claimant at a time, and the
 * dispatcher deletes only what a destination acknowledged.
 */

interface Fixture {
  store: MetadataStore;
  /** A second store on the same database, as another gateway would open it. */
  sibling: () => Promise<MetadataStore>;
  dispose: () => Promise<void>;
}

const REGION = 'eu-central-1';

async function sqliteFixture(): Promise<Fixture> {
  const directory = await mkdtemp(join(tmpdir(), 'sovra-outbox-'));
  const path = join(directory, 'metadata.db');
  const opened: MetadataStore[] = [openSqliteMetadataStore({ path, clock: systemClock })];
  await opened[0]!.migrate();
  return {
    store: opened[0]!,
    sibling: () => {
      const store = openSqliteMetadataStore({ path, clock: systemClock });
      opened.push(store);
      return Promise.resolve(store);
    },
    dispose: async () => {
      for (const store of opened) await store.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

async function postgresFixture(): Promise<Fixture> {
  const schema = await createTestSchema();
  const open = () =>
    openPostgresMetadataStore({
      connectionString: schema.connectionString,
      schema: schema.schema,
      clock: systemClock,
    });
  const opened: MetadataStore[] = [open()];
  await opened[0]!.migrate();
  return {
    store: opened[0]!,
    sibling: () => {
      const store = open();
      opened.push(store);
      return Promise.resolve(store);
    },
    dispose: async () => {
      for (const store of opened) await store.close();
      await schema.drop();
    },
  };
}

function outboxEvent(destinationId: string, n: number, createdAtMs = Date.now()): NewOutboxEvent {
  return {
    destinationId,
    bucket: 'photos',
    deliveryId: `delivery-${destinationId}-${n}`,
    format: EVENT_RECORD_FORMAT,
    payload: JSON.stringify({ s3: { object: { key: `k${n}` } }, n }),
    createdAtMs,
  };
}

async function insert(store: MetadataStore, events: NewOutboxEvent[]): Promise<void> {
  await store.transaction((tx) => tx.insertOutboxEvents(events));
}

function putEvent(key: string): ObjectEvent {
  return {
    name: 'ObjectCreated:Put',
    bucket: 'photos',
    key,
    versionId: null,
    sizeBytes: 3,
    etag: 'e',
    sequencer: 1,
    time: new Date(),
    caller: null,
  };
}

async function createBucket(store: MetadataStore, name: string): Promise<void> {
  await store.transaction((tx) =>
    tx.insertBucket({
      name,
      tenantId: 't-1',
      region: REGION,
      createdAt: new Date(),
      versioning: 'Unversioned',
      objectLockEnabled: false,
      classification: null,
      jurisdiction: null,
      tier: null,
    }),
  );
}

function outboxSuite(backend: string, openFixture: () => Promise<Fixture>): void {
  async function withFixture(body: (fixture: Fixture) => Promise<void>): Promise<void> {
    const fixture = await openFixture();
    try {
      await body(fixture);
    } finally {
      await fixture.dispose();
    }
  }

  describe(`event outbox (${backend})`, () => {
    test('events written in a transaction that rolls back do not exist; committed ones do', () =>
      withFixture(async ({ store }) => {
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.insertOutboxEvents([outboxEvent('hooks', 1)]);
            throw new Error('the change failed');
          }),
          /the change failed/,
        );
        assert.equal(await store.countOutboxEvents(null), 0);
        await insert(store, [outboxEvent('hooks', 1), outboxEvent('bus', 1)]);
        assert.equal(await store.countOutboxEvents(null), 2);
        assert.equal(await store.countOutboxEvents('hooks'), 1);
      }));

    test('a claim takes the due head of one destination in order, up to the limit, and leases it', () =>
      withFixture(async ({ store }) => {
        const nowMs = Date.now();
        await insert(
          store,
          [1, 2, 3, 4, 5].map((n) => outboxEvent('hooks', n, nowMs)),
        );
        await insert(store, [outboxEvent('bus', 1, nowMs)]);
        const head = await store.peekOutboxHead('hooks');
        assert.ok(head !== null && head.nextAttemptAtMs <= nowMs);
        const claimed = await store.claimOutboxEvents('hooks', nowMs, nowMs + 30_000, 3);
        assert.deepEqual(
          claimed.map((event) => event.deliveryId),
          ['delivery-hooks-1', 'delivery-hooks-2', 'delivery-hooks-3'],
        );
        assert.ok(claimed.every((event) => event.nextAttemptAtMs === nowMs + 30_000 && event.attempts === 0));
        // The leased head blocks the rest of its queue, not other destinations.
        assert.deepEqual(await store.claimOutboxEvents('hooks', nowMs, nowMs + 30_000, 10), []);
        assert.equal((await store.claimOutboxEvents('bus', nowMs, nowMs + 30_000, 10)).length, 1);
        // Once the lease has run out (a gateway died mid-send) the events are claimed again.
        const later = nowMs + 30_001;
        assert.equal((await store.claimOutboxEvents('hooks', later, later + 30_000, 10)).length, 5);
      }));

    test('a released batch waits until its next attempt; only the failed event counts an attempt', () =>
      withFixture(async ({ store }) => {
        const nowMs = Date.now();
        await insert(
          store,
          [1, 2, 3].map((n) => outboxEvent('hooks', n, nowMs)),
        );
        const claimed = await store.claimOutboxEvents('hooks', nowMs, nowMs + 30_000, 10);
        await store.deleteOutboxEvents([claimed[0]!.seq]);
        await store.releaseOutboxEvents([claimed[1]!.seq, claimed[2]!.seq], nowMs + 1_000, claimed[1]!.seq);
        assert.deepEqual(await store.claimOutboxEvents('hooks', nowMs + 999, nowMs + 30_000, 10), []);
        const retried = await store.claimOutboxEvents('hooks', nowMs + 1_000, nowMs + 30_000, 10);
        assert.deepEqual(
          retried.map((event) => [event.deliveryId, event.attempts]),
          [
            ['delivery-hooks-2', 1],
            ['delivery-hooks-3', 0],
          ],
        );
        await store.deleteOutboxEvents(retried.map((event) => event.seq));
        assert.equal(await store.peekOutboxHead('hooks'), null);
        assert.equal(await store.countOutboxEvents('hooks'), 0);
      }));

    test('two gateways claiming one destination at once never both get events', () =>
      withFixture(async ({ store, sibling }) => {
        const other = await sibling();
        const nowMs = Date.now();
        await insert(
          store,
          Array.from({ length: 40 }, (_, n) => outboxEvent('hooks', n, nowMs)),
        );
        for (let round = 0; round < 5; round++) {
          const claims = await Promise.all(
            [store, other, store, other].map((claimant) =>
              claimant.claimOutboxEvents('hooks', nowMs, nowMs + 30_000, 8),
            ),
          );
          const winners = claims.filter((claim) => claim.length > 0);
          assert.equal(winners.length, 1, 'exactly one claimant holds the head');
          const seqs = winners[0]!.map((event) => event.seq);
          assert.deepEqual(
            seqs,
            [...seqs].sort((a, b) => a - b),
          );
          await store.deleteOutboxEvents(seqs);
        }
        assert.equal(await store.countOutboxEvents('hooks'), 0);
      }));

    test('the recorder writes one row per matching configuration, only for buckets that have one', () =>
      withFixture(async ({ store }) => {
        await createBucket(store, 'photos');
        await createBucket(store, 'plain');
        const notifications = new BucketNotifications({
          metadata: store,
          clock: systemClock,
          region: REGION,
          destinations: [
            { id: 'hooks', type: 'webhook' },
            { id: 'bus', type: 'nats' },
          ],
        });
        const record = (event: ObjectEvent) => store.transaction((tx) => notifications.record(tx, event));
        await record(putEvent('images/a.jpg'));
        assert.equal(await store.countOutboxEvents(null), 0, 'no configuration, no rows');
        await notifications.putConfiguration('photos', [
          {
            id: 'jpg',
            kind: 'queue',
            arn: destinationArn(REGION, { id: 'hooks', type: 'webhook' }),
            events: ['s3:ObjectCreated:*'],
            filterRules: [{ name: 'suffix', value: '.jpg' }],
          },
          {
            id: 'png',
            kind: 'topic',
            arn: destinationArn(REGION, { id: 'bus', type: 'nats' }),
            events: ['s3:ObjectCreated:Put'],
            filterRules: [{ name: 'suffix', value: '.png' }],
          },
        ]);
        await record(putEvent('images/a.jpg'));
        await record(putEvent('images/b.png'));
        await record(putEvent('images/c.gif'));
        await record({ ...putEvent('plain-key.jpg'), bucket: 'plain' });
        assert.equal(await store.countOutboxEvents('hooks'), 1);
        assert.equal(await store.countOutboxEvents('bus'), 1);
        const [row] = await store.claimOutboxEvents('hooks', Date.now(), Date.now() + 1_000, 10);
        const payload = JSON.parse(row!.payload) as {
          s3: { configurationId: string; object: { key: string } };
        };
        assert.equal(payload.s3.configurationId, 'jpg');
        assert.equal(payload.s3.object.key, 'images/a.jpg');
        // An empty configuration turns notifications off at once on this gateway.
        await notifications.putConfiguration('photos', []);
        await record(putEvent('images/d.jpg'));
        assert.equal(await store.countOutboxEvents(null), 2);
      }));

    test('the dispatcher deletes what the webhook acknowledged and retries the rest, in order', () =>
      withFixture(async ({ store }) => {
        const secret = Buffer.from('a shared webhook secret');
        const received: string[] = [];
        let requests = 0;
        const server = createServer((req, res) => {
          const chunks: Buffer[] = [];
          req.on('data', (chunk: Buffer) => chunks.push(chunk));
          req.on('end', () => {
            requests += 1;
            const body = Buffer.concat(chunks);
            assert.equal(req.headers['x-sovra-signature'], webhookSignature(secret, body));
            // The third request fails once: the first two stay delivered, the rest wait.
            if (requests === 3) {
              res.writeHead(500).end();
              return;
            }
            received.push(String(req.headers['x-sovra-delivery-id']));
            res.writeHead(200).end('ok');
          });
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        const address = server.address();
        assert.ok(typeof address === 'object' && address !== null);
        const sink = new WebhookSink({
          destinationId: 'hooks',
          url: `http://127.0.0.1:${address.port}/`,
          secret,
        });
        const warnings: Record<string, unknown>[] = [];
        const dispatcher = new NotificationDispatcher({
          metadata: store,
          clock: systemClock,
          sinks: [sink],
          log: { warn: (fields) => void warnings.push(fields) },
        });
        try {
          await insert(
            store,
            [1, 2, 3, 4, 5].map((n) => outboxEvent('hooks', n, Date.now() - 1)),
          );
          assert.equal(await dispatcher.dispatchOnce(sink), 2);
          assert.equal(await store.countOutboxEvents('hooks'), 3);
          assert.equal(warnings[0]?.attempts, 1);
          assert.equal(await dispatcher.dispatchOnce(sink), 0, 'nothing is due during the backoff');
          dispatcher.start();
          const deadline = Date.now() + 5_000;
          while ((await store.countOutboxEvents('hooks')) > 0 && Date.now() < deadline) await sleep(20);
          assert.deepEqual(
            received,
            [1, 2, 3, 4, 5].map((n) => `delivery-hooks-${n}`),
          );
        } finally {
          await dispatcher.stop();
          server.closeAllConnections();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        }
      }));
  });
}

outboxSuite('sqlite', sqliteFixture);
outboxSuite('postgres', postgresFixture);
