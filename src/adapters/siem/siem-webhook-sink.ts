import { setTimeout as sleep } from 'node:timers/promises';
import type { OcsfEvent } from '../../domain/audit/ocsf.ts';
import { siemError } from '../../domain/audit/siem-errors.ts';
import type { SiemSink } from '../../domain/audit/siem-sink.ts';
import { DELIVERY_ID_HEADER, SIGNATURE_HEADER, webhookSignature } from '../notifications/webhook-sink.ts';

/** Attempts per batch inside one send; after that the exporter's own backoff takes over. */
export const SIEM_WEBHOOK_ATTEMPTS = 3;
/** Wait before the second attempt, doubled before each later one. */
export const SIEM_WEBHOOK_RETRY_DELAY_MS = 500;
export const SIEM_WEBHOOK_TIMEOUT_MS = 30_000;
/** Bytes of an answer read (then discarded) so the connection can be reused. */
export const SIEM_WEBHOOK_RESPONSE_MAX_BYTES = 64 * 1024;

export interface SiemWebhookSinkOptions {
  name: string;
  url: string;
  /** HMAC-SHA256 key of the `x-sovra-signature` header; null: unsigned. */
  secret: Buffer | null;
  /** The `Authorization` header value; null: none. */
  authorization: string | null;
}

/**
 * An HTTP(S) endpoint of a SIEM: each batch is one POST of a JSON array of OCSF events
 * (application/json). Only a 2xx answer acknowledges; redirects are not followed (they would move
 * where the audit log goes). Failed attempts are retried with doubling delays; an answer that no
 * retry can change (4xx other than 408 and 429) ends the send at once. Headers:
 *
 * - `x-sovra-delivery-id: <sink>-<first leaf>-<last leaf>`: the same for every retry of a batch;
 * - `x-sovra-signature: sha256=<hex>` (with a secret): HMAC-SHA256 of the exact body bytes, as
 *   event notification webhooks carry it;
 * - `authorization` when configured (e.g. Splunk HEC's `Splunk <token>`).
 */
export class SiemWebhookSink implements SiemSink {
  readonly name: string;
  readonly #o: SiemWebhookSinkOptions;

  constructor(options: SiemWebhookSinkOptions) {
    this.name = options.name;
    this.#o = options;
  }

  async send(events: readonly OcsfEvent[], signal: AbortSignal): Promise<void> {
    const body = Buffer.from(JSON.stringify(events), 'utf8');
    const deliveryId = `${this.name}-${events[0]?.metadata.uid ?? ''}-${events.at(-1)?.metadata.uid ?? ''}`;
    let lastError: unknown = null;
    for (let attempt = 1; attempt <= SIEM_WEBHOOK_ATTEMPTS; attempt += 1) {
      signal.throwIfAborted();
      if (attempt > 1) await sleep(SIEM_WEBHOOK_RETRY_DELAY_MS * 2 ** (attempt - 2), undefined, { signal });
      let status: number;
      try {
        status = await this.#post(body, deliveryId, signal);
      } catch (error) {
        lastError = error;
        continue;
      }
      if (status >= 200 && status <= 299) return;
      if (status >= 400 && status <= 499 && status !== 408 && status !== 429) {
        throw siemError('SinkRejected', `the SIEM webhook answered HTTP ${status}`, {
          sink: this.name,
          status,
        });
      }
      lastError = new Error(`the SIEM webhook answered HTTP ${status}`);
    }
    throw siemError(
      'SinkUnavailable',
      `the SIEM webhook did not acknowledge after ${SIEM_WEBHOOK_ATTEMPTS} attempts`,
      { sink: this.name },
      lastError,
    );
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  async #post(body: Buffer, deliveryId: string, stopping: AbortSignal): Promise<number> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'Sovra',
      [DELIVERY_ID_HEADER]: deliveryId,
    };
    if (this.#o.secret !== null) headers[SIGNATURE_HEADER] = webhookSignature(this.#o.secret, body);
    if (this.#o.authorization !== null) headers.authorization = this.#o.authorization;
    const response = await fetch(this.#o.url, {
      method: 'POST',
      body,
      redirect: 'manual',
      signal: AbortSignal.any([stopping, AbortSignal.timeout(SIEM_WEBHOOK_TIMEOUT_MS)]),
      headers,
    });
    await discardBody(response);
    return response.status;
  }
}

async function discardBody(response: Response): Promise<void> {
  if (response.body === null) return;
  let read = 0;
  const reader: ReadableStreamDefaultReader<Uint8Array> = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
      if (read > SIEM_WEBHOOK_RESPONSE_MAX_BYTES) {
        await reader.cancel();
        return;
      }
    }
  } finally {
    reader.releaseLock();
  }
}
