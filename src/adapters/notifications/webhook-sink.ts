import { createHmac } from 'node:crypto';
import type { EventDelivery, NotificationSink } from '../../domain/storage/ports.ts';
import { LIMITS } from '../../platform/limits.ts';

export const SIGNATURE_HEADER = 'x-sovra-signature';
export const DELIVERY_ID_HEADER = 'x-sovra-delivery-id';

/**
 * An operator-registered HTTP(S) endpoint. Each event is one POST of its S3 event message
 * (`{"Records":[…]}`, application/json) with:
 *
 * - `x-sovra-signature: sha256=<hex>`: HMAC-SHA256 of the exact body bytes under the target's
 *   secret, so the receiver can check that Sovra sent it and nothing changed it;
 * - `x-sovra-delivery-id`: stable across retries, for the receiver to drop duplicates.
 *
 * Only a 2xx answer acknowledges; redirects are not followed (they would move where events go).
 */
export class WebhookSink implements NotificationSink {
  readonly destinationId: string;
  readonly #url: string;
  readonly #secret: Buffer;

  constructor(options: { destinationId: string; url: string; secret: Buffer }) {
    this.destinationId = options.destinationId;
    this.#url = options.url;
    this.#secret = options.secret;
  }

  async deliver(
    deliveries: readonly EventDelivery[],
    signal: AbortSignal,
  ): Promise<{ acknowledged: number; error: unknown }> {
    // One at a time: the destination sees its events in outbox order.
    for (const [index, delivery] of deliveries.entries()) {
      try {
        await this.#post(delivery, signal);
      } catch (error) {
        return { acknowledged: index, error };
      }
    }
    return { acknowledged: deliveries.length, error: null };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  async #post(delivery: EventDelivery, stopping: AbortSignal): Promise<void> {
    const body = Buffer.from(delivery.body, 'utf8');
    const response = await fetch(this.#url, {
      method: 'POST',
      body,
      redirect: 'manual',
      signal: AbortSignal.any([stopping, AbortSignal.timeout(LIMITS.notificationSendTimeoutMs)]),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Sovra',
        [SIGNATURE_HEADER]: webhookSignature(this.#secret, body),
        [DELIVERY_ID_HEADER]: delivery.deliveryId,
      },
    });
    await discardBody(response);
    if (response.status < 200 || response.status > 299) {
      throw new Error(`webhook answered HTTP ${response.status}`);
    }
  }
}

/** The `x-sovra-signature` value of a body: `sha256=` and the hex HMAC-SHA256 under the secret. */
export function webhookSignature(secret: Buffer, body: Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Reads at most LIMITS.webhookResponseMaxBytes of the answer so the connection can be reused. */
async function discardBody(response: Response): Promise<void> {
  if (response.body === null) return;
  let read = 0;
  const reader: ReadableStreamDefaultReader<Uint8Array> = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
      if (read > LIMITS.webhookResponseMaxBytes) {
        await reader.cancel();
        return;
      }
    }
  } finally {
    reader.releaseLock();
  }
}
