import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { hostname as systemHostname } from 'node:os';
import { connect as connectTls } from 'node:tls';
import type { OcsfEvent, OcsfSeverityId } from '../../domain/audit/ocsf.ts';
import { siemError } from '../../domain/audit/siem-errors.ts';
import type { SiemSink } from '../../domain/audit/siem-sink.ts';

export const SYSLOG_CONNECT_TIMEOUT_MS = 10_000;
/** A batch the collector does not take within this time fails (and is sent again later). */
export const SYSLOG_WRITE_TIMEOUT_MS = 30_000;
/** RFC 5424 §6.2.5: APP-NAME is at most 48 printable characters. */
export const SYSLOG_APP_NAME = 'sovra';

/** RFC 5424 §6.4: MSG-UTF8 starts with the byte order mark. */
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
/** The largest time RFC 5424 §6.2.3 can express (a four-digit year). */
const LATEST_TIMESTAMP_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export interface SyslogFormat {
  /** RFC 5424 §6.2.1 facility code (0–23). */
  facility: number;
  hostname: string;
  appName: string;
  procId: string;
  /** SD-ID of the structured-data element (`name@PEN`), or null for none. */
  structuredDataId: string | null;
}

/**
 * One RFC 5424 message for an event:
 * `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] BOM{json}`. PRI combines the facility with
 * the event's severity (table 2); TIMESTAMP is the event time in UTC; MSGID names the OCSF class
 * (`ocsf-6003`); the optional structured-data element repeats the fields collectors index most
 * (§6.3); MSG is the whole OCSF event as UTF-8 JSON.
 */
export function formatSyslogMessage(event: OcsfEvent, format: SyslogFormat): Buffer {
  const pri = format.facility * 8 + syslogSeverity(event.severity_id);
  const timestamp =
    event.time >= 0 && event.time <= LATEST_TIMESTAMP_MS ? new Date(event.time).toISOString() : '-';
  const header = [
    `<${pri}>1`,
    timestamp,
    headerField(format.hostname, 255),
    headerField(format.appName, 48),
    headerField(format.procId, 128),
    `ocsf-${event.class_uid}`,
    format.structuredDataId === null ? '-' : structuredData(format.structuredDataId, event),
  ].join(' ');
  return Buffer.concat([Buffer.from(`${header} `, 'utf8'), BOM, Buffer.from(JSON.stringify(event), 'utf8')]);
}

/** RFC 6587 §3.4.1 octet counting: `MSG-LEN SP SYSLOG-MSG`, MSG-LEN the message's length in octets. */
export function octetCountedFrame(message: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${message.length} `, 'ascii'), message]);
}

/** OCSF severity_id → RFC 5424 §6.2.1 table 2 severity (0 Emergency … 7 Debug). */
export function syslogSeverity(severityId: OcsfSeverityId): number {
  switch (severityId) {
    case 1:
      return 6; // Informational
    case 2:
      return 5; // Low → Notice
    case 3:
      return 4; // Medium → Warning
    case 4:
      return 3; // High → Error
    case 5:
      return 2; // Critical
    case 6:
      return 1; // Fatal → Alert
    case 0:
    case 99:
      return 5; // Unknown, Other → Notice
  }
}

/** RFC 5424 §6: header fields are 1..n printable US-ASCII characters, or `-` (NILVALUE). */
function headerField(value: string, maxLength: number): string {
  return /^[\x21-\x7e]+$/.test(value) && value.length <= maxLength ? value : '-';
}

/**
 * `[SD-ID name="value" …]` (RFC 5424 §6.3.3: in values, `"`, `\` and `]` are escaped with `\`).
 * The parameters: leaf index, class, type, severity, status, tenant, acting user, source address,
 * operation, request id and resource, whichever the event has.
 */
function structuredData(id: string, event: OcsfEvent): string {
  const params: [string, string | number | undefined][] = [
    ['leaf_index', event.metadata.sequence],
    ['class_uid', event.class_uid],
    ['type_uid', event.type_uid],
    ['severity_id', event.severity_id],
    ['status_id', event.status_id],
    ['tenant_uid', event.metadata.tenant_uid],
    ['user_uid', event.actor.user.uid ?? event.actor.user.name],
    ['src_ip', event.src_endpoint?.ip],
    ['operation', event.api?.operation],
    ['request_uid', event.metadata.correlation_uid],
    ['resource_uid', event.resources?.[0]?.uid ?? event.entity?.uid],
  ];
  const text = params
    .filter((param): param is [string, string | number] => param[1] !== undefined)
    .map(([name, value]) => `${name}="${String(value).replace(/["\\\]]/g, '\\$&')}"`)
    .join(' ');
  return `[${id} ${text}]`;
}

export interface SyslogSinkOptions {
  name: string;
  host: string;
  port: number;
  /** Null: plain TCP. Otherwise TLS (RFC 5425) with these PEM credentials; ca null: Node's CA list. */
  tls: { ca: Buffer | null; cert: Buffer | null; key: Buffer | null } | null;
  facility: number;
  structuredDataId: string | null;
  hostname?: string;
  procId?: string;
}

/**
 * A syslog collector over TCP (or TLS), RFC 5424 messages framed by octet counting. One
 * connection, opened on first use and again after any failure. A batch counts as delivered once
 * its bytes are handed to the connection: syslog over TCP has no acknowledgement (RFC 6587 §3.4),
 * so frames still in flight when the collector drops the connection can be lost; the sink drops a
 * connection as soon as the collector closes it, and reconnects before the next batch.
 */
export class SyslogSink implements SiemSink {
  readonly name: string;
  readonly #o: SyslogSinkOptions;
  readonly #format: SyslogFormat;
  #socket: Socket | null = null;

  constructor(options: SyslogSinkOptions) {
    this.name = options.name;
    this.#o = options;
    this.#format = {
      facility: options.facility,
      hostname: options.hostname ?? systemHostname(),
      appName: SYSLOG_APP_NAME,
      procId: options.procId ?? String(process.pid),
      structuredDataId: options.structuredDataId,
    };
  }

  async send(events: readonly OcsfEvent[], signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const frames = Buffer.concat(
      events.map((event) => octetCountedFrame(formatSyslogMessage(event, this.#format))),
    );
    const socket = await this.#connection(signal);
    try {
      await writeWithin(socket, frames, signal);
    } catch (error) {
      this.#drop(socket);
      throw siemError(
        'SinkUnavailable',
        `syslog ${this.#o.host}:${this.#o.port} did not take the events`,
        { sink: this.name },
        error,
      );
    }
  }

  close(): Promise<void> {
    const socket = this.#socket;
    this.#socket = null;
    if (socket === null || socket.destroyed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.end();
      setTimeout(() => socket.destroy(), SYSLOG_CONNECT_TIMEOUT_MS).unref();
    });
  }

  async #connection(signal: AbortSignal): Promise<Socket> {
    const current = this.#socket;
    if (current !== null && !current.destroyed && current.writable) return current;
    this.#socket = null;
    const socket = await this.#connect(signal);
    // The collector sends nothing (RFC 6587); when it closes or fails, this connection is done.
    socket.resume();
    socket.setKeepAlive(true);
    socket.on('error', () => this.#drop(socket));
    socket.once('end', () => this.#drop(socket));
    socket.once('close', () => this.#drop(socket));
    this.#socket = socket;
    return socket;
  }

  #drop(socket: Socket): void {
    if (this.#socket === socket) this.#socket = null;
    socket.destroy();
  }

  #connect(signal: AbortSignal): Promise<Socket> {
    const { host, port, tls } = this.#o;
    return new Promise<Socket>((resolve, reject) => {
      const socket =
        tls === null
          ? connectTcp({ host, port })
          : connectTls({
              host,
              port,
              // SNI carries host names only (RFC 6066 §3); certificates are checked against either.
              ...(isIP(host) === 0 ? { servername: host } : {}),
              ...(tls.ca === null ? {} : { ca: tls.ca }),
              ...(tls.cert === null || tls.key === null ? {} : { cert: tls.cert, key: tls.key }),
              minVersion: 'TLSv1.2',
              rejectUnauthorized: true,
            });
      const ready = tls === null ? 'connect' : 'secureConnect';
      const timer = setTimeout(() => fail(new Error('connection timed out')), SYSLOG_CONNECT_TIMEOUT_MS);
      const onAbort = () => fail(signal.reason);
      const cleanup = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        socket.removeListener('error', fail);
      };
      function fail(error: unknown): void {
        cleanup();
        socket.destroy();
        reject(siemError('SinkUnavailable', `cannot connect to syslog ${host}:${port}`, {}, error));
      }
      socket.once(ready, () => {
        cleanup();
        resolve(socket);
      });
      socket.once('error', fail);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** Resolves once the bytes are handed to the connection; rejects on error, timeout or abort. */
function writeWithin(socket: Socket, bytes: Buffer, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error('write timed out')), SYSLOG_WRITE_TIMEOUT_MS);
    const onAbort = () => finish(signal.reason);
    const onClose = () => finish(new Error('the collector closed the connection'));
    let done = false;
    function finish(error: unknown): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.removeListener('close', onClose);
      if (error === null || error === undefined) resolve();
      else reject(error instanceof Error ? error : new Error('the write failed'));
    }
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('close', onClose);
    socket.write(bytes, (error) => finish(error));
  });
}
