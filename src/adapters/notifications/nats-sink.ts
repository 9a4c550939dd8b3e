import { jetstream, type JetStreamClient, type PubAck } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { EventDelivery, NotificationSink } from '../../domain/storage/ports.ts';
import { LIMITS } from '../../platform/limits.ts';

/**
 * An operator-registered NATS JetStream subject. Each event is published to `subject` and counts
 * as delivered only once JetStream's PubAck confirms the stream `stream` stored it. The message
 * id (`Nats-Msg-Id`) is the event's delivery id, stable across retries, so JetStream drops a
 * re-send within the stream's duplicate window
 * (https://docs.nats.io/using-nats/developer/develop_jetstream/model_deep_dive#message-deduplication).
 *
 * A batch is published pipelined (all publishes in flight at once, in order on one connection),
 * which is what makes thousands of events per second possible; the PubAcks are then checked in
 * order and the first failure ends the acknowledged prefix.
 */
export class NatsJetStreamSink implements NotificationSink {
  readonly destinationId: string;
  readonly #servers: string[];
  readonly #subject: string;
  readonly #stream: string;
  #connection: Promise<{ nc: NatsConnection; js: JetStreamClient }> | null = null;

  constructor(options: { destinationId: string; servers: string[]; subject: string; stream: string }) {
    this.destinationId = options.destinationId;
    this.#servers = options.servers;
    this.#subject = options.subject;
    this.#stream = options.stream;
  }

  async deliver(
    deliveries: readonly EventDelivery[],
    signal: AbortSignal,
  ): Promise<{ acknowledged: number; error: unknown }> {
    // Publishes in flight cannot be recalled; each is bounded by its timeout instead.
    if (signal.aborted) return { acknowledged: 0, error: signal.reason };
    let js: JetStreamClient;
    try {
      js = (await this.#connect()).js;
    } catch (error) {
      return { acknowledged: 0, error };
    }
    const acks: Promise<PubAck>[] = deliveries.map((delivery) =>
      js.publish(this.#subject, delivery.body, {
        msgID: delivery.deliveryId,
        expect: { streamName: this.#stream },
        timeout: LIMITS.notificationSendTimeoutMs,
      }),
    );
    const settled = await Promise.allSettled(acks);
    const failed = settled.findIndex((result) => result.status === 'rejected');
    if (failed === -1) return { acknowledged: deliveries.length, error: null };
    const failure = settled[failed];
    return { acknowledged: failed, error: failure?.status === 'rejected' ? failure.reason : null };
  }

  async close(): Promise<void> {
    const connection = this.#connection;
    this.#connection = null;
    if (connection === null) return;
    try {
      await (await connection).nc.close();
    } catch {
      // Never connected: nothing to close.
    }
  }

  /**
   * Connects on first use and keeps reconnecting for as long as the process runs; a failed first
   * connection is forgotten so that the next batch tries again (the events wait meanwhile).
   */
  #connect(): Promise<{ nc: NatsConnection; js: JetStreamClient }> {
    if (this.#connection !== null) return this.#connection;
    const connection = connect({
      servers: this.#servers,
      name: `sovra-notifications-${this.destinationId}`,
      timeout: LIMITS.notificationSendTimeoutMs,
      maxReconnectAttempts: -1,
    }).then((nc) => {
      void nc.closed().then(() => {
        if (this.#connection === connection) this.#connection = null;
      });
      return { nc, js: jetstream(nc, { timeout: LIMITS.notificationSendTimeoutMs }) };
    });
    this.#connection = connection;
    connection.catch(() => {
      if (this.#connection === connection) this.#connection = null;
    });
    return connection;
  }
}
