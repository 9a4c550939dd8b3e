import type { OcsfEvent } from './ocsf.ts';

/**
 * A destination of the SIEM export (adapters/siem/): a JSON-lines file or stdout, a syslog
 * collector, an HTTP endpoint. `send` resolves only once the destination has the events as far as
 * its transport can tell (a 2xx answer, an fsync, the bytes handed to the connection); the exporter
 * advances the sink's cursor only then, so a rejection or a crash means the events are sent again,
 * never lost.
 */
export interface SiemSink {
  /** The configured name; the sink's export cursor is stored under it. */
  readonly name: string;
  /** Delivers the events in order; `signal` aborts a send cut short by shutdown. */
  send(events: readonly OcsfEvent[], signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}
