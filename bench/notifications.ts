import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { NatsJetStreamSink } from '../src/adapters/notifications/nats-sink.ts';
import { openPostgresMetadataStore } from '../src/adapters/postgres/postgres-metadata-store.ts';
import { openSqliteMetadataStore } from '../src/adapters/sqlite/sqlite-metadata-store.ts';
import { eventRecord, EVENT_RECORD_FORMAT } from '../src/domain/storage/event-records.ts';
import { NotificationDispatcher } from '../src/domain/storage/notification-dispatcher.ts';
import type { MetadataStore, NewOutboxEvent } from '../src/domain/storage/ports.ts';
import { randomHexId } from '../src/platform/ids.ts';
import { LIMITS } from '../src/platform/limits.ts';
import { systemClock } from '../src/platform/clock.ts';
import { createTestSchema } from '../test/helpers/postgres.ts';
import { removeDir } from '../test/helpers/sovra-process.ts';
import { formatTable } from './harness.ts';

const NATS_SERVER = '127.0.0.1:4222';
const FILL_PER_TRANSACTION = 500;

/**
 * Event notification delivery to NATS JetStream: `events` outbox events (S3 event records of
 * ordinary size) are drained by the real dispatcher and sink, from SQLite and from PostgreSQL,
 * next to the ceiling measured in the same run: raw JetStream publishes of the same messages from
 * this process, pipelined in the dispatcher's batch size and awaiting every PubAck.
 */
export async function benchNotifications(events: number): Promise<string> {
  const nats = await connect({ servers: NATS_SERVER, timeout: 5_000 });
  const jsm = await jetstreamManager(nats);
  const rows: (string | number)[][] = [['notifications → NATS JetStream', 'events', 'seconds', 'events/s']];
  try {
    const messages = sampleMessages(events);
    const raw = await withStream(jsm, (subject, stream) => rawPublish(nats, subject, stream, messages));
    rows.push(['baseline: raw JetStream publish (same process)', events, raw.seconds, events / raw.seconds]);

    const directory = mkdtempSync(join(tmpdir(), 'sovra-bench-notify-'));
    try {
      const sqlite = openSqliteMetadataStore({ path: join(directory, 'metadata.db'), clock: systemClock });
      const seconds = await withStream(jsm, (subject, stream) => drain(sqlite, subject, stream, events));
      rows.push(['outbox dispatcher, SQLite metadata', events, seconds, events / seconds]);
    } finally {
      removeDir(directory);
    }

    const schema = await createTestSchema();
    try {
      const postgres = openPostgresMetadataStore({
        connectionString: schema.connectionString,
        schema: schema.schema,
        clock: systemClock,
      });
      const seconds = await withStream(jsm, (subject, stream) => drain(postgres, subject, stream, events));
      rows.push(['outbox dispatcher, PostgreSQL metadata', events, seconds, events / seconds]);
    } finally {
      await schema.drop();
    }
  } finally {
    await nats.close();
  }
  return `${formatTable(rows)}\n(target: ≥ 5,000 events/s; batch ${LIMITS.notificationBatchEvents} events)\n`;
}

/** A fresh stream per measurement, removed afterwards. */
async function withStream<T>(
  jsm: JetStreamManager,
  use: (subject: string, stream: string) => Promise<T>,
): Promise<T> {
  const id = randomHexId(4);
  const stream = `SOVRA_BENCH_${id}`;
  const subject = `sovra.bench.${id}`;
  await jsm.streams.add({ name: stream, subjects: [subject] });
  try {
    return await use(subject, stream);
  } finally {
    await jsm.streams.delete(stream);
  }
}

async function rawPublish(
  nats: NatsConnection,
  subject: string,
  stream: string,
  messages: readonly NewOutboxEvent[],
): Promise<{ seconds: number }> {
  const js = jetstream(nats);
  const started = process.hrtime.bigint();
  for (let start = 0; start < messages.length; start += LIMITS.notificationBatchEvents) {
    const batch = messages.slice(start, start + LIMITS.notificationBatchEvents);
    await Promise.all(
      batch.map((message) =>
        js.publish(subject, message.payload, { msgID: message.deliveryId, expect: { streamName: stream } }),
      ),
    );
  }
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

/** Fills the outbox, then times the dispatcher until it is empty. */
async function drain(store: MetadataStore, subject: string, stream: string, events: number): Promise<number> {
  await store.migrate();
  const messages = sampleMessages(events);
  for (let start = 0; start < messages.length; start += FILL_PER_TRANSACTION) {
    const batch = messages.slice(start, start + FILL_PER_TRANSACTION);
    await store.transaction((tx) => tx.insertOutboxEvents(batch));
  }
  const sink = new NatsJetStreamSink({ destinationId: 'bench', servers: [NATS_SERVER], subject, stream });
  const dispatcher = new NotificationDispatcher({
    metadata: store,
    clock: systemClock,
    sinks: [sink],
    log: { warn: (fields, message) => process.stderr.write(`${message} ${JSON.stringify(fields)}\n`) },
  });
  const started = process.hrtime.bigint();
  dispatcher.start();
  while ((await store.countOutboxEvents('bench')) > 0) await sleep(5);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await dispatcher.stop();
  await store.close();
  return seconds;
}

/** Outbox rows as the recorder writes them: one PUT event record each (about 700 bytes). */
function sampleMessages(events: number): NewOutboxEvent[] {
  const createdAtMs = Date.now() - 1;
  return Array.from({ length: events }, (_, n) => {
    const record = eventRecord(
      {
        name: 'ObjectCreated:Put',
        bucket: 'bench-bucket',
        key: `uploads/2026/03/01/object-${n}.jpg`,
        versionId: randomHexId(),
        sizeBytes: 1024 + n,
        etag: randomHexId(),
        sequencer: n + 1,
        time: new Date(createdAtMs),
        caller: {
          principalId: 'p-bench',
          tenantId: 't-bench',
          isTenantAdmin: true,
          requestId: '0123456789ABCDEF',
          sourceIp: '192.0.2.1',
          secureTransport: false,
        },
      },
      { region: 'eu-central-1', configurationId: 'bench', bucketOwnerId: 't-bench' },
    );
    return {
      destinationId: 'bench',
      bucket: 'bench-bucket',
      deliveryId: randomHexId(),
      format: EVENT_RECORD_FORMAT,
      payload: JSON.stringify(record),
      createdAtMs,
    };
  });
}
