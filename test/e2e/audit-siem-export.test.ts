import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, isIP, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { createServer as createTlsServer } from 'node:tls';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { OcsfEvent } from '../../src/domain/audit/ocsf.ts';
import { ocsfEventProblems } from '../../src/domain/audit/siem-ocsf-schema.ts';
import { AuditClient } from '../../src/cli/audit-client.ts';
import { removeDir, startSovra, TEST_REGION, type SovraProcess } from '../helpers/sovra-process.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The attributes each OCSF 1.5.0 class requires beside the base event's (schema.ocsf.io/1.5.0). */
const REQUIRED_BY_CLASS: Record<number, readonly string[]> = {
  6003: ['actor', 'api', 'src_endpoint'],
  3002: ['user'],
  3003: ['user'],
  3001: ['user'],
  3004: ['entity'],
};
const BASE_REQUIRED = [
  'activity_id',
  'category_uid',
  'class_uid',
  'metadata',
  'severity_id',
  'time',
  'type_uid',
];

function assertValidOcsf(event: OcsfEvent, where: string): void {
  assert.deepEqual(ocsfEventProblems(event), [], `${where}: ${JSON.stringify(event)}`);
  const fields = event as unknown as Record<string, unknown>;
  for (const name of [...BASE_REQUIRED, ...(REQUIRED_BY_CLASS[event.class_uid] ?? ['unknown class'])]) {
    assert.notEqual(fields[name], undefined, `${where}: ${name} of class ${event.class_uid}`);
  }
  assert.equal(event.type_uid, event.class_uid * 100 + event.activity_id);
  assert.equal(event.metadata.product.name, 'Sovra');
  assert.match(event.metadata.uid, /^\d+$/);
  if (event.src_endpoint?.ip !== undefined) assert.notEqual(isIP(event.src_endpoint.ip), 0);
}

interface SyslogMessage {
  facility: number;
  severity: number;
  timestamp: string;
  appName: string;
  msgId: string;
  structuredData: string | null;
  event: OcsfEvent;
}

/**
 * A syslog collector: TCP (or TLS) with RFC 6587 §3.4.1 octet-counted frames, each an RFC 5424
 * message whose MSG is a BOM and a JSON OCSF event. It can stop (dropping its connections) and
 * listen again on the same port, keeping what it received.
 */
class SyslogCollector {
  readonly messages: SyslogMessage[] = [];
  readonly errors: string[] = [];
  readonly #sockets = new Set<Socket>();
  #server: TcpServer | null = null;
  #port = 0;
  readonly #tls: { cert: Buffer; key: Buffer } | null;

  constructor(tls: { cert: Buffer; key: Buffer } | null = null) {
    this.#tls = tls;
  }

  get port(): number {
    return this.#port;
  }

  async listen(): Promise<void> {
    const onConnection = (socket: Socket) => this.#accept(socket);
    const server =
      this.#tls === null ? createTcpServer(onConnection) : createTlsServer(this.#tls, onConnection);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (typeof address === 'object' && address !== null) this.#port = address.port;
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (server === null) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const space = buffer.indexOf(0x20);
        if (space === -1) return;
        const length = buffer.subarray(0, space).toString('ascii');
        if (!/^[1-9]\d{0,8}$/.test(length)) {
          this.errors.push(`not an octet count: ${JSON.stringify(length)}`);
          socket.destroy();
          return;
        }
        const end = space + 1 + Number(length);
        if (buffer.length < end) return;
        try {
          this.messages.push(parseRfc5424(buffer.subarray(space + 1, end)));
        } catch (error) {
          this.errors.push((error as Error).message);
        }
        buffer = buffer.subarray(end);
      }
    });
  }
}

/** RFC 5424 §6: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [SP MSG]`. */
function parseRfc5424(frame: Buffer): SyslogMessage {
  const text = frame.toString('utf8');
  const header = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) /.exec(text);
  if (header === null) throw new Error(`not an RFC 5424 message: ${text.slice(0, 80)}`);
  let rest = text.slice(header[0].length);
  let structuredData: string | null = null;
  if (rest.startsWith('-')) rest = rest.slice(1);
  else {
    // SD-ELEMENTs: `[` … `]`, where `\]` inside a PARAM-VALUE does not close the element.
    let at = 0;
    while (rest[at] === '[') {
      at += 1;
      while (at < rest.length && rest[at] !== ']') at += rest[at] === '\\' ? 2 : 1;
      at += 1;
    }
    structuredData = rest.slice(0, at);
    rest = rest.slice(at);
  }
  if (!rest.startsWith(' \uFEFF')) throw new Error('MSG is not BOM-prefixed UTF-8');
  const pri = Number(header[1]);
  return {
    facility: Math.floor(pri / 8),
    severity: pri % 8,
    timestamp: header[2]!,
    appName: header[4]!,
    msgId: header[6]!,
    structuredData,
    event: JSON.parse(rest.slice(2)) as OcsfEvent,
  };
}

/** A SIEM's HTTP intake: answers the first batch 503 (to exercise retries), then 200. */
class WebhookCollector {
  readonly events: OcsfEvent[] = [];
  readonly deliveryIds: string[] = [];
  posts = 0;
  #server: HttpServer | null = null;
  port = 0;

  async listen(): Promise<void> {
    const server = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        this.posts += 1;
        if (this.posts === 1) {
          res.writeHead(503).end();
          return;
        }
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
        assert.ok(Array.isArray(body), 'a batch is a JSON array');
        assert.equal(req.headers['content-type'], 'application/json');
        this.deliveryIds.push(String(req.headers['x-sovra-delivery-id']));
        this.events.push(...(body as OcsfEvent[]));
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const address = server.address();
    if (typeof address === 'object' && address !== null) this.port = address.port;
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (server === null) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function fileEvents(path: string): OcsfEvent[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  // Only whole lines count: a batch is appended, then fsynced, as one write.
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as OcsfEvent);
}

/** Every leaf index the log holds (read beside the running server: SQLite WAL allows readers). */
function leafIndexes(dataDir: string): number[] {
  const db = new DatabaseSync(join(dataDir, 'metadata.sqlite'), { readOnly: true });
  try {
    const rows = db.prepare('SELECT leaf_index FROM audit_records ORDER BY leaf_index').all();
    return rows.map((row) => Number(row.leaf_index));
  } finally {
    db.close();
  }
}

function indexesOf(events: readonly OcsfEvent[]): Set<number> {
  return new Set(events.map((event) => Number(event.metadata.uid)));
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** A self-signed certificate for 127.0.0.1, by the system's openssl (EC P-256). */
function selfSignedCertificate(dir: string): { cert: Buffer; key: Buffer; certFile: string } {
  const certFile = join(dir, 'collector.pem');
  const keyFile = join(dir, 'collector.key');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '1',
      '-subj',
      '/CN=syslog collector',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { cert: readFileSync(certFile), key: readFileSync(keyFile), certFile };
}

describe('SIEM export of the audit log as OCSF events (syslog over TCP and TLS, file, webhook)', () => {
  const work = mkdtempSync(join(tmpdir(), 'sovra-siem-e2e-'));
  const dataDir = join(work, 'data');
  const eventsFile = join(work, 'audit.ocsf.jsonl');
  const exportFile = join(work, 'audit-export.json');
  const certificate = selfSignedCertificate(work);
  const syslog = new SyslogCollector();
  const syslogTls = new SyslogCollector(certificate);
  const webhook = new WebhookCollector();
  let sovra: SovraProcess;
  let s3: S3Client;

  const start = async () => {
    sovra = await startSovra({ dataDir, extraArgs: ['--audit-export', exportFile] });
    s3 = sovra.client();
  };
  const sinks = () => ({
    syslog: syslog.messages.map((message) => message.event),
    'syslog over TLS': syslogTls.messages.map((message) => message.event),
    file: fileEvents(eventsFile),
    webhook: webhook.events,
  });
  /** Waits until every sink has an event for every record the log holds. */
  const allDelivered = async (): Promise<number[]> => {
    // A record reaches the database moments after its response (the response waits only for the
    // gateway's journal); a records query through the server first waits for this gateway's.
    await new AuditClient(sovra.endpoint, sovra.credentials, TEST_REGION).records({ limit: '1' });
    const indexes = leafIndexes(dataDir);
    await waitFor(`every sink to have all ${indexes.length} records`, () =>
      Object.values(sinks()).every((events) => {
        const have = indexesOf(events);
        return indexes.every((index) => have.has(index));
      }),
    );
    return indexes;
  };

  before(async () => {
    await syslog.listen();
    await syslogTls.listen();
    await webhook.listen();
    writeFileSync(
      exportFile,
      JSON.stringify({
        sinks: [
          {
            name: 'soc-syslog',
            type: 'syslog',
            host: '127.0.0.1',
            port: syslog.port,
            structuredDataId: 'ocsf@32473',
          },
          {
            name: 'soc-syslog-tls',
            type: 'syslog',
            host: '127.0.0.1',
            port: syslogTls.port,
            tls: true,
            caFile: certificate.certFile,
          },
          { name: 'file', type: 'file', path: eventsFile },
          { name: 'siem', type: 'webhook', url: `http://127.0.0.1:${webhook.port}/ingest` },
        ],
      }),
    );
    await start();
  });

  after(async () => {
    s3.destroy();
    await sovra.stop();
    await syslog.stop();
    await syslogTls.stop();
    await webhook.stop();
    removeDir(work);
  });

  it('every record reaches syslog, syslog over TLS, the file and the webhook as a valid OCSF event of its class', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'siem-e2e' }));
    const put = await s3.send(
      new PutObjectCommand({ Bucket: 'siem-e2e', Key: 'report.pdf', Body: 'quarterly' }),
    );
    const get = await s3.send(new GetObjectCommand({ Bucket: 'siem-e2e', Key: 'report.pdf' }));
    await get.Body?.transformToString();
    await s3.send(new ListObjectsV2Command({ Bucket: 'siem-e2e' }));
    const forged = sovra.client({
      credentials: {
        accessKeyId: sovra.credentials.accessKeyId,
        secretAccessKey: 'not-the-secret-key-0000000000',
      },
      maxAttempts: 1,
    });
    await assert.rejects(forged.send(new GetObjectCommand({ Bucket: 'siem-e2e', Key: 'report.pdf' })));
    forged.destroy();

    const indexes = await allDelivered();
    assert.ok(indexes.length >= 6, `at least the six requests are logged, got ${indexes.length}`);
    const all = sinks();
    for (const [sink, events] of Object.entries(all)) {
      for (const event of events) assertValidOcsf(event, sink);
    }
    // The same record is the same event on every sink.
    const byIndex = new Map(all.webhook.map((event) => [event.metadata.uid, event]));
    for (const events of [all.syslog, all['syslog over TLS'], all.file]) {
      for (const event of events) assert.deepEqual(event, byIndex.get(event.metadata.uid));
    }

    const putEvent = all.file.find(
      (event) => event.api?.request?.uid === put.$metadata.requestId && event.api?.service?.name === 's3',
    );
    assert.ok(putEvent !== undefined, 'the PutObject request has its event');
    assert.equal(putEvent.class_uid, 6003);
    assert.equal(putEvent.activity_name, 'Create');
    assert.equal(putEvent.api?.operation, 'PutObject');
    assert.equal(putEvent.api?.response?.code, 200);
    assert.equal(putEvent.src_endpoint?.ip, '127.0.0.1');
    assert.deepEqual(putEvent.resources, [
      {
        uid: 'arn:aws:s3:::siem-e2e/report.pdf',
        type: 'AWS::S3::Object',
        name: 'report.pdf',
        labels: ['PUBLIC'],
      },
    ]);
    assert.equal(putEvent.actor.user.account?.uid, putEvent.metadata.tenant_uid);
    // The request's own event; its key use (kms:Decrypt) carries the same request id.
    const getEvent = all.file.find(
      (event) => event.api?.request?.uid === get.$metadata.requestId && event.api?.service?.name === 's3',
    );
    assert.equal(getEvent?.activity_name, 'Read');
    const refused = all.file.filter((event) => event.class_uid === 3002);
    assert.equal(refused.length, 1, 'the forged signature is one failed Authentication');
    assert.equal(refused[0]!.status_id, 2);
    assert.equal(refused[0]!.status_code, 'SignatureDoesNotMatch');
    assert.ok(
      all.file.some((event) => event.class_uid === 3004 && event.entity?.type === 'Audit Log Key'),
      "the log's own keys are Entity Management events",
    );

    // RFC 5424 framing: facility 13 (log audit), severity from the OCSF severity, the event time.
    for (const message of syslog.messages) {
      assert.equal(message.facility, 13);
      assert.equal(message.appName, 'sovra');
      assert.equal(message.msgId, `ocsf-${message.event.class_uid}`);
      assert.equal(message.timestamp, new Date(message.event.time).toISOString());
      assert.equal(
        message.severity,
        message.event.severity_id === 1 ? 6 : message.event.severity_id === 3 ? 4 : 5,
      );
      assert.match(
        message.structuredData ?? '',
        new RegExp(`^\\[ocsf@32473 leaf_index="${message.event.metadata.uid}" `),
      );
    }
    assert.ok(syslogTls.messages.every((message) => message.structuredData === null));
    assert.deepEqual([...syslog.errors, ...syslogTls.errors], []);
    assert.deepEqual(
      sovra.logs.filter((line) => /does not conform|cannot be mapped|records missing/.test(line)),
      [],
      'the exporter found nothing wrong with the records or their events',
    );
    assert.ok(webhook.posts >= 2, 'the first POST was answered 503 and retried');
    assert.ok(webhook.deliveryIds.every((id) => /^siem-\d+-\d+$/.test(id)));
  });

  it('at least once across a crash: records made while syslog is down arrive after kill -9 and restart', async () => {
    await syslog.stop();
    const requestIds: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const put = await s3.send(
        new PutObjectCommand({ Bucket: 'siem-e2e', Key: `while-down-${i}`, Body: `${i}` }),
      );
      requestIds.push(put.$metadata.requestId ?? '');
    }
    await waitFor('the other sinks to get the new records', () =>
      requestIds.every((id) => webhook.events.some((event) => event.metadata.correlation_uid === id)),
    );
    const heardBeforeCrash = syslog.messages.length;
    assert.ok(
      requestIds.every(
        (id) => !syslog.messages.some((message) => message.event.metadata.correlation_uid === id),
      ),
      'nothing reached the stopped collector',
    );

    s3.destroy();
    await sovra.kill();
    await syslog.listen();
    await start();
    const after = await s3.send(
      new PutObjectCommand({ Bucket: 'siem-e2e', Key: 'after-restart', Body: 'x' }),
    );

    const indexes = await allDelivered();
    assert.ok(syslog.messages.length > heardBeforeCrash);
    for (const id of [...requestIds, after.$metadata.requestId ?? '']) {
      for (const [sink, events] of Object.entries(sinks())) {
        assert.ok(
          events.some((event) => event.metadata.correlation_uid === id),
          `${sink} has the event of request ${id}`,
        );
      }
    }

    // A clean stop sends what the log holds; then every record's event is on every sink (duplicates allowed).
    s3.destroy();
    await sovra.stop();
    const final = leafIndexes(dataDir);
    assert.ok(final.length >= indexes.length);
    for (const [sink, events] of Object.entries(sinks())) {
      const have = indexesOf(events);
      const missing = final.filter((index) => !have.has(index));
      assert.deepEqual(missing, [], `${sink} lost no record`);
      for (const event of events) assertValidOcsf(event, sink);
    }
    await start();
  });
});
