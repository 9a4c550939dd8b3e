import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatSyslogMessage, octetCountedFrame } from '../../src/adapters/siem/syslog-sink.ts';
import { SqlAuditLogStore } from '../../src/adapters/sql/audit-log-store.ts';
import { SqlMetadataStore } from '../../src/adapters/sql/metadata-store.ts';
import { SQLITE_MIGRATIONS } from '../../src/adapters/sqlite/migrations.ts';
import { SqliteDatabase } from '../../src/adapters/sqlite/sqlite-database.ts';
import { OCSF_SCHEMA_VERSION, toOcsfEvent, type OcsfEvent } from '../../src/domain/audit/ocsf.ts';
import {
  AUDIT_RECORD_KINDS,
  parseCanonicalRecord,
  sealRecord,
  type AuditRecord,
  type AuditRecordKind,
} from '../../src/domain/audit/records.ts';
import { SiemExportError } from '../../src/domain/audit/siem-errors.ts';
import {
  exportRetryDelayMs,
  SIEM_EXPORT_RETRY_MAX_DELAY_MS,
  SiemExporter,
} from '../../src/domain/audit/siem-exporter.ts';
import { ocsfEventProblems } from '../../src/domain/audit/siem-ocsf-schema.ts';
import type { SiemSink } from '../../src/domain/audit/siem-sink.ts';
import { systemClock } from '../../src/platform/clock.ts';

function record(overrides: Partial<AuditRecord> = {}): AuditRecord {
  return {
    kind: 'request',
    timeMs: 1_760_000_000_123,
    tenantId: 'tenant-a',
    principalId: 'alice',
    principalTenantId: null,
    action: 's3:GetObject',
    resource: 'arn:aws:s3:::photos/cat.jpg',
    classification: null,
    sourceIp: '203.0.113.7',
    sourceJurisdiction: 'VN',
    result: 'success',
    status: 200,
    errorCode: null,
    justification: null,
    approvalId: null,
    requestId: 'req-1',
    details: { method: 'GET' },
    ...overrides,
  };
}

/** What the export does: parse the stored canonical bytes, then map. */
function eventOf(input: AuditRecord, leafIndex = 7): OcsfEvent {
  return toOcsfEvent(parseCanonicalRecord(sealRecord(input).canonical), {
    leafIndex,
    recordedAtMs: input.timeMs + 3,
  });
}

/** One record of every kind, as the server writes them. */
const RECORD_OF_KIND: Record<AuditRecordKind, AuditRecord> = {
  request: record(),
  'authorization-denied': record({
    kind: 'authorization-denied',
    action: 's3:PutObject',
    result: 'denied',
    status: 403,
    errorCode: 'AccessDenied',
  }),
  'key-use': record({
    kind: 'key-use',
    action: 'kms:Decrypt',
    resource: 'sovra:kms-key/1234abcd',
    status: null,
    justification: 'CUSTOMER_INITIATED_ACCESS',
    details: { keyVersion: 2, service: 's3' },
  }),
  'admin-change': record({
    kind: 'admin-change',
    action: 'sovra:CreateUser',
    resource: 'arn:aws:iam::tenant-a:user/bob',
    status: 200,
  }),
  'operator-access': record({
    kind: 'operator-access',
    principalId: 'operator-7',
    principalTenantId: 'platform',
    action: 's3:GetObject',
    justification: 'TICKET-42: restore a deleted report',
    approvalId: 'apr-9',
  }),
  'access-approval': record({
    kind: 'access-approval',
    principalId: 'approver-1',
    action: 'sovra:ApproveAccess',
    resource: 'arn:aws:s3:::photos/2024/*',
    approvalId: 'apr-9',
    status: null,
    details: { operatorId: 'operator-7', scope: 's3:GetObject arn:aws:s3:::photos/2024/*' },
  }),
  'residency-decision': record({
    kind: 'residency-decision',
    action: 's3:CreateBucket',
    resource: 'arn:aws:s3:::exports',
    result: 'denied',
    status: 403,
    errorCode: 'AccessDenied',
  }),
  seal: record({
    kind: 'seal',
    tenantId: null,
    principalId: 'operator-1',
    action: 'sovra:Unseal',
    resource: 'sovra:root-of-trust',
  }),
  'log-key': record({
    kind: 'log-key',
    tenantId: null,
    principalId: null,
    action: 'sovra:CreateLogKey',
    resource: 'sovra:audit-log-key/sovra.localhost/audit',
    sourceIp: null,
    sourceJurisdiction: null,
    status: null,
    requestId: null,
    details: { algorithm: 'ed25519', verifierKey: 'sovra.localhost/audit+1a2b3c4d+AQID' },
  }),
};

/**
 * The attributes OCSF 1.5.0 requires of each class (https://schema.ocsf.io/1.5.0/classes/…), as
 * dotted paths, beside the base event's; an independent second reading of the schema.
 */
const REQUIRED_BY_CLASS: Record<number, readonly string[]> = {
  6003: ['actor', 'api', 'api.operation', 'src_endpoint'],
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
  'metadata.product',
  'metadata.version',
  'severity_id',
  'time',
  'type_uid',
];

function valueAt(event: unknown, path: string): unknown {
  let value: unknown = event;
  for (const part of path.split('.')) {
    value =
      typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[part] : undefined;
  }
  return value;
}

function assertValidEvent(event: OcsfEvent): void {
  assert.deepEqual(ocsfEventProblems(event), [], `class ${event.class_uid} event: ${JSON.stringify(event)}`);
  for (const path of [...BASE_REQUIRED, ...REQUIRED_BY_CLASS[event.class_uid]!]) {
    assert.notEqual(valueAt(event, path), undefined, `${path} of class ${event.class_uid}`);
  }
  assert.equal(event.type_uid, event.class_uid * 100 + event.activity_id);
  assert.equal(event.category_uid, Math.floor(event.class_uid / 1000));
  if (event.src_endpoint?.ip !== undefined) assert.notEqual(isIP(event.src_endpoint.ip), 0);
  // A round trip through JSON loses nothing: no undefined, functions or non-finite numbers.
  assert.deepEqual(JSON.parse(JSON.stringify(event)), event);
}

describe('OCSF mapping of audit records', () => {
  it('every record kind maps to an event that has every attribute its OCSF class requires', () => {
    const expectedClass: Record<AuditRecordKind, number> = {
      request: 6003,
      'authorization-denied': 6003,
      'key-use': 6003,
      'admin-change': 3001,
      'operator-access': 6003,
      'access-approval': 3003,
      'residency-decision': 6003,
      seal: 3004,
      'log-key': 3004,
    };
    for (const kind of AUDIT_RECORD_KINDS) {
      const event = eventOf(RECORD_OF_KIND[kind]);
      assertValidEvent(event);
      assert.equal(event.class_uid, expectedClass[kind], kind);
      assert.equal(event.unmapped.audit_kind, kind);
    }
  });

  it('the leaf index is metadata.uid and metadata.sequence, so an event is matched with the verifiable log', () => {
    const event = eventOf(record(), 123_456);
    assert.equal(event.metadata.uid, '123456');
    assert.equal(event.metadata.sequence, 123_456);
    assert.equal(event.metadata.version, OCSF_SCHEMA_VERSION);
    assert.deepEqual(event.metadata.product, { name: 'Sovra', vendor_name: 'Sovra' });
    assert.equal(event.metadata.tenant_uid, 'tenant-a');
    assert.equal(event.metadata.correlation_uid, 'req-1');
    assert.equal(event.metadata.logged_time, 1_760_000_000_126);
    assert.equal(event.time, 1_760_000_000_123);
  });

  it('an S3 request is API Activity with actor, tenant account, source, operation, request id, response and resource', () => {
    const event = eventOf(record());
    assert.equal(event.class_uid, 6003);
    assert.equal(event.activity_name, 'Read');
    assert.equal(event.type_uid, 600302);
    assert.deepEqual(event.actor.user, {
      uid: 'alice',
      account: { uid: 'tenant-a', type: 'Sovra Tenant', type_id: 99 },
    });
    assert.deepEqual(event.src_endpoint, { ip: '203.0.113.7', location: { country: 'VN' } });
    assert.deepEqual(event.api, {
      operation: 'GetObject',
      service: { name: 's3' },
      request: { uid: 'req-1' },
      response: { code: 200 },
    });
    assert.deepEqual(event.resources, [
      { uid: 'arn:aws:s3:::photos/cat.jpg', type: 'AWS::S3::Object', name: 'cat.jpg' },
    ]);
    assert.equal(event.status_id, 1);
    assert.equal(event.severity_id, 1);
  });

  it('API activities follow the operation verb, and cryptographic operations are Other named by the operation', () => {
    const activity = (action: string) => {
      const event = eventOf(record({ action }));
      return [event.activity_id, event.activity_name];
    };
    assert.deepEqual(activity('s3:PutObject'), [1, 'Create']);
    assert.deepEqual(activity('s3:CreateBucket'), [1, 'Create']);
    assert.deepEqual(activity('s3:ListObjectsV2'), [2, 'Read']);
    assert.deepEqual(activity('s3:HeadObject'), [2, 'Read']);
    assert.deepEqual(activity('s3:PutBucketPolicy'), [3, 'Update']);
    assert.deepEqual(activity('s3:DeleteObject'), [4, 'Delete']);
    assert.deepEqual(activity('kms:ScheduleKeyDeletion'), [4, 'Delete']);
    assert.deepEqual(activity('kms:Decrypt'), [99, 'Decrypt']);
    assert.deepEqual(activity('kms:GenerateDataKey'), [99, 'GenerateDataKey']);
  });

  it('a refused signature or credential is a failed Authentication logon, with no principal when none was resolved', () => {
    for (const errorCode of ['SignatureDoesNotMatch', 'InvalidAccessKeyId', 'RequestTimeTooSkewed']) {
      const event = eventOf(
        record({
          kind: 'authorization-denied',
          principalId: null,
          tenantId: null,
          result: 'denied',
          status: 403,
          errorCode,
        }),
      );
      assertValidEvent(event);
      assert.equal(event.class_uid, 3002);
      assert.equal(event.activity_name, 'Logon');
      assert.equal(event.status_id, 2);
      assert.equal(event.status_code, errorCode);
      assert.deepEqual(event.user, { name: 'anonymous', type: 'Anonymous', type_id: 99 });
      assert.deepEqual(event.service, { name: 's3' });
      assert.equal(event.auth_protocol, 'AWS Signature Version 4');
    }
  });

  it('a refused permission is failed API Activity whose actor carries the Denied authorization', () => {
    const event = eventOf(RECORD_OF_KIND['authorization-denied']);
    assert.equal(event.class_uid, 6003);
    assert.equal(event.status_id, 2);
    assert.equal(event.severity_id, 3);
    assert.deepEqual(event.actor.authorizations, [{ decision: 'Denied' }]);
    assert.deepEqual(event.api?.response, { code: 403, error: 'AccessDenied' });
  });

  it('admin changes of principals, their access keys and policies are Account Change; other admin changes Entity Management', () => {
    const change = (action: string, resource = 'arn:aws:iam::tenant-a:user/bob') =>
      eventOf(record({ kind: 'admin-change', action, resource }));
    const created = change('sovra:CreateUser');
    assert.equal(created.class_uid, 3001);
    assert.equal(created.activity_name, 'Create');
    assert.deepEqual(created.user, {
      uid: 'arn:aws:iam::tenant-a:user/bob',
      name: 'bob',
      type: 'User',
      account: { uid: 'tenant-a', type: 'Sovra Tenant', type_id: 99 },
    });
    assert.equal(change('sovra:DeleteRole', 'arn:aws:iam::tenant-a:role/etl').activity_name, 'Delete');
    assert.equal(change('sovra:AttachUserPolicy').activity_id, 7);
    assert.equal(change('sovra:DetachRolePolicy', 'arn:aws:iam::tenant-a:role/etl').activity_id, 8);
    assert.deepEqual(
      [change('sovra:CreateAccessKey').activity_id, change('sovra:CreateAccessKey').activity_name],
      [99, 'CreateAccessKey'],
    );
    const policy = change('sovra:CreatePolicy', 'arn:aws:iam::tenant-a:policy/readers');
    assert.equal(policy.class_uid, 3004);
    assert.deepEqual(policy.entity, {
      uid: 'arn:aws:iam::tenant-a:policy/readers',
      name: 'readers',
      type: 'AWS::IAM::Policy',
    });
    const tenant = change('sovra:CreateTenant', 'arn:aws:iam::tenant-b:root');
    assert.equal(tenant.class_uid, 3004);
    assert.equal(tenant.activity_name, 'Create');
    for (const event of [created, policy, tenant]) assertValidEvent(event);
  });

  it("a lockbox approval assigns the operator's privileges (Authorize Session); a denial is its failure; break-glass is High", () => {
    const approved = eventOf(RECORD_OF_KIND['access-approval']);
    assert.equal(approved.class_uid, 3003);
    assert.equal(approved.activity_name, 'Assign Privileges');
    assert.deepEqual(approved.user, { uid: 'operator-7', type: 'Operator', type_id: 2 });
    assert.equal(approved.actor.user.uid, 'approver-1');
    assert.deepEqual(approved.privileges, ['s3:GetObject arn:aws:s3:::photos/2024/*']);
    const denied = eventOf({ ...RECORD_OF_KIND['access-approval'], action: 'sovra:DenyAccess' });
    assert.equal(denied.class_uid, 3003);
    assert.equal(denied.status_id, 2);
    const breakGlass = eventOf({ ...RECORD_OF_KIND['access-approval'], action: 'sovra:BreakGlassAccess' });
    assert.equal(breakGlass.class_uid, 3003);
    assert.equal(breakGlass.severity_id, 4);
    const requested = eventOf({ ...RECORD_OF_KIND['access-approval'], action: 'sovra:RequestAccess' });
    assert.equal(requested.class_uid, 3004);
    assert.equal(requested.activity_name, 'Create');
    assert.deepEqual(requested.entity, {
      uid: 'apr-9',
      name: 'arn:aws:s3:::photos/2024/*',
      type: 'Access Approval',
    });
    const revoked = eventOf({ ...RECORD_OF_KIND['access-approval'], action: 'sovra:RevokeAccess' });
    assert.equal(revoked.activity_name, 'Deactivate');
    for (const event of [approved, denied, breakGlass, requested, revoked]) assertValidEvent(event);
  });

  it("an operator's access names the operator, the justification and the approval it used, at Medium severity", () => {
    const event = eventOf(RECORD_OF_KIND['operator-access']);
    assert.equal(event.class_uid, 6003);
    assert.equal(event.severity_id, 3);
    assert.deepEqual(event.actor.user, {
      uid: 'operator-7',
      type: 'Operator',
      type_id: 2,
      account: { uid: 'platform', type: 'Sovra Tenant', type_id: 99 },
    });
    assert.deepEqual(event.actor.authorizations, [
      { decision: 'Allowed', policy: { name: 'Access approval', uid: 'apr-9' } },
    ]);
    assert.equal(event.unmapped.justification, 'TICKET-42: restore a deleted report');
    assert.equal(event.unmapped.approval_id, 'apr-9');
    assert.equal(event.metadata.tenant_uid, 'tenant-a');
  });

  it('unsealing activates the root of trust, sealing deactivates it; a new log key is created by the platform', () => {
    const unseal = eventOf(RECORD_OF_KIND.seal);
    assert.equal(unseal.class_uid, 3004);
    assert.equal(unseal.activity_name, 'Activate');
    assert.deepEqual(unseal.entity, {
      uid: 'sovra:root-of-trust',
      name: 'root-of-trust',
      type: 'Root of Trust',
    });
    assert.equal(eventOf({ ...RECORD_OF_KIND.seal, action: 'sovra:Seal' }).activity_name, 'Deactivate');
    const logKey = eventOf(RECORD_OF_KIND['log-key']);
    assert.equal(logKey.activity_name, 'Create');
    assert.equal(logKey.actor.user.type, 'System');
    assert.equal(logKey.entity?.type, 'Audit Log Key');
    assert.deepEqual(logKey.entity?.data, {
      algorithm: 'ed25519',
      verifierKey: 'sovra.localhost/audit+1a2b3c4d+AQID',
    });
    assert.equal(logKey.metadata.tenant_uid, undefined);
  });

  it('only ISO 3166-1 alpha-2 jurisdictions become location.country; others stay in unmapped', () => {
    const unknown = eventOf(record({ sourceJurisdiction: 'unknown' }));
    assert.deepEqual(unknown.src_endpoint, { ip: '203.0.113.7' });
    assert.equal(unknown.unmapped.source_jurisdiction, 'unknown');
    const internal = eventOf(
      record({ kind: 'key-use', action: 'kms:GenerateDataKey', sourceIp: null, details: { service: 's3' } }),
    );
    assert.deepEqual(internal.src_endpoint, { svc_name: 's3' });
    assertValidEvent(internal);
  });

  it('a record with a field of the wrong type is refused with MalformedRecord, never a TypeError', () => {
    const malformed: unknown[] = [
      { ...record(), kind: 'gossip' },
      { ...record(), status: 'ok' },
      { ...record(), timeMs: -1 },
      { ...record(), principalId: 42 },
      { ...record(), details: { nested: { no: true } } },
      { ...record(), details: null },
      { ...record(), action: '' },
    ];
    for (const input of malformed) {
      assert.throws(
        () => toOcsfEvent(input as AuditRecord, { leafIndex: 1 }),
        (error: unknown) => error instanceof SiemExportError && error.code === 'MalformedRecord',
      );
    }
    assert.throws(
      () => toOcsfEvent(record(), { leafIndex: -1 }),
      (error: unknown) => error instanceof SiemExportError && error.code === 'MalformedRecord',
    );
  });

  it('the schema check finds a missing required attribute, a wrong type_uid and an attribute the class does not define', () => {
    const event = eventOf(record()) as unknown as Record<string, unknown>;
    assert.deepEqual(ocsfEventProblems({ ...event, src_endpoint: undefined }), ['src_endpoint is required']);
    assert.deepEqual(ocsfEventProblems({ ...event, type_uid: 600301 }), [
      'type_uid is class_uid * 100 + activity_id',
    ]);
    assert.deepEqual(ocsfEventProblems({ ...event, entity: { uid: 'x' } }), [
      'entity is not an attribute of API Activity',
    ]);
    assert.deepEqual(ocsfEventProblems({ ...event, actor: { user: {} } }), [
      'actor.user needs at least one of account, name, uid',
    ]);
  });
});

describe('OCSF events as RFC 5424 syslog messages', () => {
  const format = {
    facility: 13,
    hostname: 'gw-1',
    appName: 'sovra',
    procId: '4242',
    structuredDataId: 'ocsf@32473',
  };

  it('a message is PRI, version 1, the event time in UTC, host, app, pid, ocsf-<class>, structured data and BOM + JSON', () => {
    const event = eventOf(RECORD_OF_KIND['authorization-denied'], 12);
    const message = formatSyslogMessage(event, format);
    const text = message.toString('utf8');
    // Facility 13 (log audit) × 8 + severity 4 (Warning, for OCSF Medium) = 108.
    assert.ok(
      text.startsWith(
        '<108>1 2025-10-09T08:53:20.123Z gw-1 sovra 4242 ocsf-6003 [ocsf@32473 leaf_index="12" ',
      ),
      text,
    );
    const bom = message.indexOf(Buffer.from([0xef, 0xbb, 0xbf]));
    assert.deepEqual(JSON.parse(message.subarray(bom + 3).toString('utf8')), event);
    const frame = octetCountedFrame(message);
    assert.equal(frame.toString('ascii', 0, frame.indexOf(0x20)), String(message.length));
  });

  it('structured-data values escape quote, backslash and closing bracket (RFC 5424 §6.3.3)', () => {
    const event = eventOf(record({ principalId: 'a"b\\c]d' }));
    const text = formatSyslogMessage(event, format).toString('utf8');
    assert.ok(text.includes('user_uid="a\\"b\\\\c\\]d"'), text);
    const bare = formatSyslogMessage(event, { ...format, structuredDataId: null }).toString('utf8');
    assert.match(bare, /^<110>1 \S+ gw-1 sovra 4242 ocsf-6003 - \uFEFF\{/);
  });
});

/** A sink that keeps what it is sent, and fails while told to (a SIEM that is down). */
class CollectingSink implements SiemSink {
  readonly name: string;
  readonly batches: OcsfEvent[][] = [];
  failing = false;
  constructor(name: string) {
    this.name = name;
  }
  send(events: readonly OcsfEvent[]): Promise<void> {
    if (this.failing) return Promise.reject(new Error('collector down'));
    this.batches.push([...events]);
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  get indexes(): number[] {
    return this.batches.flat().map((event) => event.metadata.sequence);
  }
}

describe('SIEM exporter on a real SQLite audit store', () => {
  let directory: string;
  let metadata: SqlMetadataStore;
  let store: SqlAuditLogStore;
  const notes: string[] = [];
  const log = {
    info: (_fields: Record<string, unknown>, message: string) => notes.push(message),
    warn: (_fields: Record<string, unknown>, message: string) => notes.push(message),
    error: (_fields: Record<string, unknown>, message: string) => notes.push(message),
  };

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'sovra-siem-'));
    const db = new SqliteDatabase(join(directory, 'metadata.sqlite'));
    metadata = new SqlMetadataStore(db, { migrations: SQLITE_MIGRATIONS, clock: systemClock });
    await metadata.migrate();
    store = new SqlAuditLogStore(db);
    const now = Date.now();
    // Record 1's retention has ended, so it may be archived (its leaf stays).
    await store.append(
      [record({ requestId: 'r0' }), record({ requestId: 'r1' }), record({ requestId: 'r2' })].map((r) =>
        sealRecord(r),
      ),
      [now + 86_400_000, now - 1, now + 86_400_000],
    );
    assert.equal(await store.archiveRecords([1]), 1);
  });
  after(async () => {
    await metadata.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('sends the records after the cursor, skips archived ones with a note, and saves the cursor after the send', async () => {
    const sink = new CollectingSink('siem-a');
    const exporter = new SiemExporter({ store, sinks: [sink], clock: systemClock, log });
    assert.equal(await exporter.exportOnce(sink), 3);
    assert.deepEqual(sink.indexes, [0, 2]);
    assert.ok(notes.some((note) => note.includes('archived')));
    assert.equal(await store.exportCursor('siem-a'), 2);
    assert.equal(await exporter.exportOnce(sink), 0);
  });

  it('a failed send leaves the cursor where it was, so the same records are sent once the sink is back', async () => {
    const sink = new CollectingSink('siem-b');
    const exporter = new SiemExporter({ store, sinks: [sink], clock: systemClock, log });
    sink.failing = true;
    await assert.rejects(exporter.exportOnce(sink), /collector down/);
    assert.equal(await store.exportCursor('siem-b'), -1);
    sink.failing = false;
    assert.equal(await exporter.exportOnce(sink), 3);
    assert.deepEqual(sink.indexes, [0, 2]);
  });

  it('a started exporter catches up with new records, and stop() sends what the log holds before it returns', async () => {
    const sink = new CollectingSink('siem-c');
    const exporter = new SiemExporter({ store, sinks: [sink], clock: systemClock, log });
    exporter.start();
    const head = await store.append([sealRecord(record({ requestId: 'r3' }))], [Date.now() + 86_400_000]);
    await exporter.stop();
    assert.deepEqual(sink.indexes, [0, 2, 3]);
    assert.equal(await store.exportCursor('siem-c'), head.treeSize - 1);
  });

  it('a failing sink waits twice as long after each failure, up to the cap', () => {
    assert.deepEqual([1, 2, 3].map(exportRetryDelayMs), [1_000, 2_000, 4_000]);
    assert.equal(exportRetryDelayMs(50), SIEM_EXPORT_RETRY_MAX_DELAY_MS);
  });
});
