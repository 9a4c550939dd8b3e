import { NatsJetStreamSink } from '../adapters/notifications/nats-sink.ts';
import { WebhookSink } from '../adapters/notifications/webhook-sink.ts';
import type { NotificationSink } from '../domain/storage/ports.ts';
import { readWebhookSecret, type NotificationTarget } from '../platform/notification-targets.ts';

/** One sink per operator-registered notification target (connections open on first use). */
export function openNotificationSinks(targets: readonly NotificationTarget[]): NotificationSink[] {
  return targets.map((target): NotificationSink => {
    switch (target.type) {
      case 'webhook':
        return new WebhookSink({
          destinationId: target.id,
          url: target.url,
          secret: readWebhookSecret(target.secretFile),
        });
      case 'nats':
        return new NatsJetStreamSink({
          destinationId: target.id,
          servers: target.servers,
          subject: target.subject,
          stream: target.stream,
        });
    }
  });
}
