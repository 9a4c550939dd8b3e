import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AUDIT_EXPORT_SINKS_MAX } from '../../src/platform/audit-export.ts';
import { ConfigError, loadServerConfig } from '../../src/platform/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'sovra-audit-export-'));
const caFile = join(dir, 'ca.pem');
writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\n');
const keyFile = join(dir, 'client.key');
writeFileSync(keyFile, 'key', { mode: 0o600 });
const looseKeyFile = join(dir, 'loose.key');
writeFileSync(looseKeyFile, 'key', { mode: 0o644 });
const secretFile = join(dir, 'hmac.secret');
writeFileSync(secretFile, '0123456789abcdef0123456789abcdef\n', { mode: 0o600 });
const shortSecretFile = join(dir, 'short.secret');
writeFileSync(shortSecretFile, 'short', { mode: 0o600 });

let files = 0;
function exportFile(content: unknown): string {
  files += 1;
  const path = join(dir, `export-${files}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

function load(content: unknown) {
  return loadServerConfig({ dataDir: dir, auditExport: exportFile(content) }, {}).auditExport;
}

/** The start is refused with InvalidConfig naming the setting and, in the message, what is wrong. */
function assertRefused(content: unknown, pattern: RegExp): void {
  assert.throws(
    () => load(content),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.code === 'InvalidConfig' &&
      error.details.setting === 'auditExport' &&
      error.message.startsWith('config: auditExport: ') &&
      pattern.test(error.message),
    `expected a refusal matching ${pattern}`,
  );
}

const syslog = { name: 'soc-syslog', type: 'syslog', host: 'siem.example.org', port: 6514 };

describe('the auditExport setting', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is empty when absent', () => {
    assert.deepEqual(loadServerConfig({ dataDir: dir }, {}).auditExport, []);
  });

  it('reads every sink type, with defaults: TLS off unless asked, facility 13 (log audit), no structured data', () => {
    const sinks = load({
      sinks: [
        syslog,
        {
          ...syslog,
          name: 'soc-tls',
          tls: true,
          caFile,
          certFile: caFile,
          keyFile,
          facility: 10,
          structuredDataId: 'ocsf@32473',
        },
        { name: 'file', type: 'file', path: join(dir, 'audit.ocsf.jsonl') },
        { name: 'stdout', type: 'stdout' },
        {
          name: 'siem',
          type: 'webhook',
          url: 'https://siem.example.org/ingest',
          secretFile,
          authorizationFile: secretFile,
        },
        { name: 'local', type: 'webhook', url: 'http://127.0.0.1:8088/ingest' },
      ],
    });
    assert.deepEqual(sinks, [
      {
        name: 'soc-syslog',
        type: 'syslog',
        host: 'siem.example.org',
        port: 6514,
        tls: false,
        caFile: null,
        certFile: null,
        keyFile: null,
        facility: 13,
        structuredDataId: null,
      },
      {
        name: 'soc-tls',
        type: 'syslog',
        host: 'siem.example.org',
        port: 6514,
        tls: true,
        caFile,
        certFile: caFile,
        keyFile,
        facility: 10,
        structuredDataId: 'ocsf@32473',
      },
      { name: 'file', type: 'file', path: join(dir, 'audit.ocsf.jsonl') },
      { name: 'stdout', type: 'stdout' },
      {
        name: 'siem',
        type: 'webhook',
        url: 'https://siem.example.org/ingest',
        secretFile,
        authorizationFile: secretFile,
      },
      {
        name: 'local',
        type: 'webhook',
        url: 'http://127.0.0.1:8088/ingest',
        secretFile: null,
        authorizationFile: null,
      },
    ]);
  });

  it('is read from SOVRA_AUDIT_EXPORT too', () => {
    const path = exportFile({ sinks: [{ name: 'stdout', type: 'stdout' }] });
    assert.deepEqual(loadServerConfig({ dataDir: dir }, { SOVRA_AUDIT_EXPORT: path }).auditExport, [
      { name: 'stdout', type: 'stdout' },
    ]);
  });

  it('refuses unknown keys, at the top and in a sink, naming the key and the sink', () => {
    assertRefused({ sinks: [], extra: true }, /unknown key "extra"/);
    assertRefused(
      { sinks: [{ ...syslog, tlsVersion: '1.3' }] },
      /sink 1 \("soc-syslog"\): unknown key "tlsVersion"/,
    );
    assertRefused({ sinks: [{ name: 'stdout', type: 'stdout', path: '/tmp/x' }] }, /unknown key "path"/);
  });

  it('refuses what is not JSON, not an object, or not a list of sinks', () => {
    assertRefused('{"sinks": [', /is not valid JSON/);
    assertRefused([syslog], /must hold a JSON object/);
    assertRefused({ sinks: syslog }, /"sinks" must be an array/);
    assertRefused({ sinks: ['stdout'] }, /sink 1: must be a JSON object/);
    assertRefused(
      { sinks: [{ name: 'x', type: 'kafka' }] },
      /type must be "file", "stdout", "syslog" or "webhook"/,
    );
  });

  it('refuses bad names, duplicate names, two stdout sinks and too many sinks', () => {
    assertRefused({ sinks: [{ name: 'has space', type: 'stdout' }] }, /name must be 1 to 64 letters/);
    assertRefused({ sinks: [syslog, syslog] }, /sink name "soc-syslog" is used twice/);
    assertRefused(
      {
        sinks: [
          { name: 'a', type: 'stdout' },
          { name: 'b', type: 'stdout' },
        ],
      },
      /at most one stdout sink/,
    );
    const many = Array.from({ length: AUDIT_EXPORT_SINKS_MAX + 1 }, (_, i) => ({ ...syslog, name: `s${i}` }));
    assertRefused({ sinks: many }, new RegExp(`more than ${AUDIT_EXPORT_SINKS_MAX} sinks`));
  });

  it('refuses a syslog sink with a bad host, port, facility or SD-ID, or TLS files without TLS', () => {
    assertRefused({ sinks: [{ ...syslog, host: 'bad host' }] }, /host must be a host name or an IP address/);
    assertRefused({ sinks: [{ ...syslog, port: 70000 }] }, /port must be an integer from 1 to 65535/);
    assertRefused({ sinks: [{ ...syslog, port: '514' }] }, /port must be an integer/);
    assertRefused({ sinks: [{ ...syslog, facility: 24 }] }, /facility must be an RFC 5424 facility code/);
    assertRefused(
      { sinks: [{ ...syslog, structuredDataId: 'ocsf' }] },
      /structuredDataId must be an RFC 5424 SD-ID/,
    );
    assertRefused({ sinks: [{ ...syslog, structuredDataId: 'oc sf@32473' }] }, /structuredDataId/);
    assertRefused({ sinks: [{ ...syslog, caFile }] }, /caFile needs tls: true/);
    assertRefused({ sinks: [{ ...syslog, tls: 'yes' }] }, /tls must be true or false/);
    assertRefused(
      { sinks: [{ ...syslog, tls: true, caFile: 'ca.pem' }] },
      /caFile must be an absolute file path/,
    );
    assertRefused(
      { sinks: [{ ...syslog, tls: true, caFile: join(dir, 'missing.pem') }] },
      /cannot read caFile/,
    );
    assertRefused(
      { sinks: [{ ...syslog, tls: true, certFile: caFile }] },
      /certFile and keyFile must be given together/,
    );
  });

  it('refuses secret files that group or others may read', () => {
    assertRefused(
      { sinks: [{ ...syslog, tls: true, certFile: caFile, keyFile: looseKeyFile }] },
      /readable by group or others/,
    );
    assertRefused(
      {
        sinks: [
          { name: 'siem', type: 'webhook', url: 'https://siem.example.org/', secretFile: looseKeyFile },
        ],
      },
      /readable by group or others/,
    );
  });

  it('refuses a webhook URL that is not https (plain http only to loopback), carries credentials, or a short secret', () => {
    const webhook = { name: 'siem', type: 'webhook' };
    assertRefused({ sinks: [{ ...webhook, url: 'http://siem.example.org/' }] }, /must be https:\/\//);
    assertRefused({ sinks: [{ ...webhook, url: 'ftp://siem.example.org/' }] }, /must be an https:\/\/ URL/);
    assertRefused({ sinks: [{ ...webhook, url: 'not a url' }] }, /must be an https:\/\/ URL/);
    assertRefused(
      { sinks: [{ ...webhook, url: 'https://u:p@siem.example.org/' }] },
      /must not carry credentials/,
    );
    assertRefused(
      { sinks: [{ ...webhook, url: 'https://siem.example.org/', secretFile: shortSecretFile }] },
      /at least 16 characters/,
    );
  });

  it('refuses a file sink whose path is relative, a directory, or in a directory that does not exist', () => {
    assertRefused(
      { sinks: [{ name: 'f', type: 'file', path: 'audit.jsonl' }] },
      /path must be an absolute file path/,
    );
    assertRefused({ sinks: [{ name: 'f', type: 'file', path: dir }] }, /is not a regular file/);
    assertRefused(
      { sinks: [{ name: 'f', type: 'file', path: join(dir, 'missing', 'audit.jsonl') }] },
      /the directory of .* cannot be read/,
    );
  });

  it('refuses a file that cannot be read or is larger than the limit', () => {
    assert.throws(
      () => loadServerConfig({ dataDir: dir, auditExport: join(dir, 'absent.json') }, {}),
      (error: unknown) => error instanceof ConfigError && /auditExport: cannot read/.test(error.message),
    );
    assertRefused(`{"sinks": [], "pad": "${'x'.repeat(70_000)}"}`, /larger than/);
  });
});
