import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadServerConfig } from '../../src/platform/config.ts';
import {
  loadXksCredentials,
  parseXksCredentials,
  XksCredentialsError,
} from '../../src/protocols/xks/xks-credentials.ts';

/** The XKS proxy's settings and credentials file (spec "Appendix A" and "API operations" bounds). */
const VALID = {
  accessKeyId: 'HGIE2BUAFNDMBCMSQVWLGCEXAMPLE',
  secretAccessKey: 'VU6W2byoiBrhDqNGbx703oL0syCAmhlQgwNUT123456',
  uriPrefix: '/keystores/acme',
  tenantId: 'acme',
};

describe('XKS proxy credentials', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sovra-xks-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a valid file loads with every member', () => {
    const path = join(dir, 'ok.json');
    writeFileSync(path, JSON.stringify(VALID), { mode: 0o600 });
    assert.deepEqual(loadXksCredentials(path), VALID);
  });

  test('an absent uriPrefix means the API at /kms/xks/v1', () => {
    const { uriPrefix: _, ...rest } = VALID;
    assert.equal(parseXksCredentials(rest, 'test').uriPrefix, '');
  });

  test('access key ids, secrets, prefixes and members outside the spec are refused', () => {
    const bad: Record<string, unknown>[] = [
      { ...VALID, accessKeyId: 'lowercase-not-allowed-here' },
      { ...VALID, accessKeyId: 'AKIA1' },
      { ...VALID, secretAccessKey: 'short' },
      { ...VALID, secretAccessKey: `${'a'.repeat(42)}!` },
      { ...VALID, uriPrefix: 'no-leading-slash' },
      { ...VALID, uriPrefix: '/with space' },
      { ...VALID, uriPrefix: `/${'a'.repeat(120)}` },
      { ...VALID, tenantId: '' },
      { ...VALID, extra: true },
    ];
    for (const value of bad) assert.throws(() => parseXksCredentials(value, 'test'), XksCredentialsError);
    assert.throws(() => parseXksCredentials([], 'test'), XksCredentialsError);
  });

  test('the server refuses a credentials file readable by others', () => {
    const path = join(dir, 'loose.json');
    writeFileSync(path, JSON.stringify(VALID));
    chmodSync(path, 0o644);
    assert.throws(
      () => loadServerConfig({ dataDir: dir, xksCredentialsFile: path }, {}),
      /readable by group or others/,
    );
  });

  test('an own listener needs TLS; client CA and CN settings need the own listener', () => {
    const path = join(dir, 'strict.json');
    writeFileSync(path, JSON.stringify(VALID), { mode: 0o600 });
    const key = join(dir, 'key.pem');
    writeFileSync(key, 'x', { mode: 0o600 });
    const base = { dataDir: dir, xksCredentialsFile: path };
    assert.equal(loadServerConfig(base, {}).xks?.listener, null);
    assert.throws(() => loadServerConfig({ ...base, xksListen: '127.0.0.1:9443' }, {}), /xksTlsCert/);
    assert.throws(() => loadServerConfig({ ...base, xksClientCa: key }, {}), /xksListen/);
    assert.throws(
      () => loadServerConfig({ dataDir: dir, xksListen: '127.0.0.1:9443' }, {}),
      /xksCredentialsFile/,
    );
    const own = loadServerConfig(
      { ...base, xksListen: '127.0.0.1:9443', xksTlsCert: key, xksTlsKey: key, xksClientCa: key },
      {},
    ).xks?.listener;
    assert.deepEqual(own, {
      host: '127.0.0.1',
      port: 9443,
      certFile: key,
      keyFile: key,
      clientCaFile: key,
      clientCommonName: null,
    });
    assert.throws(
      () =>
        loadServerConfig(
          { ...base, xksListen: '127.0.0.1:9443', xksTlsCert: key, xksTlsKey: key, xksClientCn: 'x' },
          {},
        ),
      /xksClientCa/,
    );
  });
});
