import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateKeyCommand, DisableKeyCommand, EnableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { EXAMPLE_METADATA, XksClient } from '../helpers/xks-client.ts';
import { freePort, removeDir, startSovra, TEST_REGION, type SovraProcess } from '../helpers/sovra-process.ts';
import { initSealedRoot, sovraCli, unseal } from '../helpers/unsealed-sovra.ts';

/**
 * The XKS proxy of the real server (`--root-of-trust sealed-shamir`, unsealed by the operator
 * flow), driven as AWS KMS drives a proxy: SigV4 for kms-xks-proxy, and — on the own listener —
 * mutual TLS with a client certificate of a CA and subject CN the operator configured, made here
 * with the system's openssl.
 */
const ACCESS_KEY_ID = 'HGIE2BUAFNDMBCMSQVWLGCEXAMPLE';
const SECRET = 'VU6W2byoiBrhDqNGbx703oL0syCAmhlQgwNUT123456';
const PREFIX = '/xks/root';
const CLIENT_CN = `cks.kms.${TEST_REGION}.amazonaws.com`;
const HEALTH = {
  requestMetadata: { kmsRequestId: '1124f4d6-db54-4af4-ae30-c55a22a8abcd', kmsOperation: 'KmsHealthCheck' },
};

/** A CA, and certificates it signs, by the system's openssl (EC P-256). */
function makePki(
  dir: string,
  name: string,
): { caCert: string; issue(cn: string, serverName?: string): { cert: string; key: string } } {
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  const caKey = join(dir, `${name}-ca.key`);
  const caCert = join(dir, `${name}-ca.pem`);
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    caKey,
    '-out',
    caCert,
    '-days',
    '2',
    '-subj',
    `/CN=${name} test CA`,
  ]);
  let serial = 0;
  return {
    caCert,
    issue(cn, serverName) {
      serial += 1;
      const key = join(dir, `${name}-${serial}.key`);
      const csr = join(dir, `${name}-${serial}.csr`);
      const cert = join(dir, `${name}-${serial}.pem`);
      const ext = join(dir, `${name}-${serial}.ext`);
      writeFileSync(
        ext,
        serverName === undefined
          ? 'extendedKeyUsage=clientAuth\n'
          : `extendedKeyUsage=serverAuth\nsubjectAltName=DNS:${serverName},IP:127.0.0.1\n`,
      );
      openssl([
        'req',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        key,
        '-out',
        csr,
        '-subj',
        `/CN=${cn}`,
      ]);
      openssl([
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        caCert,
        '-CAkey',
        caKey,
        '-set_serial',
        String(serial + 100),
        '-days',
        '2',
        '-out',
        cert,
        '-extfile',
        ext,
      ]);
      chmodSync(key, 0o600);
      return { cert, key };
    },
  };
}

describe('XKS proxy of the real server', () => {
  let work: string;
  let sovra: SovraProcess & { shares: string[] };
  let kms: KMSClient;
  let keyId: string;
  let xksPort: number;
  let pki: ReturnType<typeof makePki>;
  let rogue: ReturnType<typeof makePki>;
  let clientCert: { cert: string; key: string };

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'sovra-xks-e2e-'));
    pki = makePki(work, 'trusted');
    rogue = makePki(work, 'rogue');
    const serverCert = pki.issue('localhost', 'localhost');
    clientCert = pki.issue(CLIENT_CN);
    const credentialsFile = join(work, 'xks-credentials.json');
    writeFileSync(
      credentialsFile,
      JSON.stringify({
        accessKeyId: ACCESS_KEY_ID,
        secretAccessKey: SECRET,
        uriPrefix: PREFIX,
        tenantId: 'root',
      }),
      { mode: 0o600 },
    );
    const dataDir = join(work, 'data');
    const shares = await initSealedRoot(dataDir);
    xksPort = await freePort();
    const started = await startSovra({
      dataDir,
      extraArgs: [
        '--root-of-trust',
        'sealed-shamir',
        '--xks-credentials-file',
        credentialsFile,
        '--xks-listen',
        `127.0.0.1:${xksPort}`,
        '--xks-tls-cert',
        serverCert.cert,
        '--xks-tls-key',
        serverCert.key,
        '--xks-client-ca',
        pki.caCert,
        '--xks-client-cn',
        CLIENT_CN,
      ],
    });
    sovra = Object.assign(started, { shares });
    for (const share of shares.slice(0, 2)) await unseal(sovra, share);
    kms = new KMSClient({ endpoint: sovra.endpoint, region: TEST_REGION, credentials: sovra.credentials });
    keyId = (await kms.send(new CreateKeyCommand({ Tags: [{ TagKey: 'sovra:xks', TagValue: 'enabled' }] })))
      .KeyMetadata!.KeyId!;
  });

  after(async () => {
    kms?.destroy();
    await sovra?.stop();
    if (work !== undefined) removeDir(work);
  });

  function xksClient(tls: { cert?: string; key?: string } | null): XksClient {
    return new XksClient({
      endpoint: `https://localhost:${xksPort}`,
      uriPrefix: PREFIX,
      accessKeyId: ACCESS_KEY_ID,
      secretAccessKey: SECRET,
      region: TEST_REGION,
      tls: {
        ca: readFileSync(pki.caCert),
        ...(tls?.cert === undefined ? {} : { cert: readFileSync(tls.cert), key: readFileSync(tls.key!) }),
      },
    });
  }

  it('with the configured client certificate, GetHealthStatus is ACTIVE and Encrypt/Decrypt round-trip', async () => {
    const client = xksClient(clientCert);
    const health = await client.post('/health', HEALTH);
    assert.equal(health.status, 200);
    assert.equal((health.body.ekmFleetDetails as { healthStatus: string }[])[0]!.healthStatus, 'ACTIVE');
    const metadata = await client.post(`/keys/${keyId}/metadata`, { requestMetadata: EXAMPLE_METADATA });
    assert.deepEqual(metadata.body, {
      keySpec: 'AES_256',
      keyUsage: ['ENCRYPT', 'DECRYPT'],
      keyStatus: 'ENABLED',
    });
    const encrypted = await client.post(`/keys/${keyId}/encrypt`, {
      requestMetadata: EXAMPLE_METADATA,
      plaintext: 'SGVsbG8gV29ybGQh',
      encryptionAlgorithm: 'AES_GCM',
    });
    assert.equal(encrypted.status, 200);
    const decrypted = await client.post(`/keys/${keyId}/decrypt`, {
      requestMetadata: { ...EXAMPLE_METADATA, kmsOperation: 'Decrypt' },
      encryptionAlgorithm: 'AES_GCM',
      ...encrypted.body,
    });
    assert.deepEqual(decrypted.body, { plaintext: 'SGVsbG8gV29ybGQh' });
    const logged = sovra.logs.find(
      (line) => line.includes('xks key use') && line.includes(EXAMPLE_METADATA.kmsRequestId),
    );
    assert.ok(logged !== undefined, 'the justification record is logged with the kmsRequestId');
  });

  it('without a client certificate, with one of another CA, or of another subject, no request is served', async () => {
    const refused = async (tls: { cert?: string; key?: string } | null) => {
      await assert.rejects(xksClient(tls).post('/health', HEALTH));
    };
    await refused(null);
    await refused(rogue.issue(CLIENT_CN));
    await refused(pki.issue('cks.kms.eu-west-1.amazonaws.com'));
  });

  it('the main listener does not serve XKS paths when XKS has its own listener', async () => {
    const response = await fetch(`${sovra.endpoint}${PREFIX}/kms/xks/v1/health`, {
      method: 'POST',
      body: '{}',
    });
    assert.notEqual(response.headers.get('content-type'), 'application/json');
  });

  it('a disabled key is InvalidStateException; enabled again, it works', async () => {
    const client = xksClient(clientCert);
    const encrypt = () =>
      client.post(`/keys/${keyId}/encrypt`, {
        requestMetadata: EXAMPLE_METADATA,
        plaintext: 'AAAA',
        encryptionAlgorithm: 'AES_GCM',
      });
    await kms.send(new DisableKeyCommand({ KeyId: keyId }));
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const disabled = await encrypt();
    assert.deepEqual([disabled.status, disabled.body.errorName], [400, 'InvalidStateException']);
    await kms.send(new EnableKeyCommand({ KeyId: keyId }));
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    assert.equal((await encrypt()).status, 200);
  });

  it('sealed, key use is InvalidStateException and health UNAVAILABLE; unsealed again, it works', async () => {
    const client = xksClient(clientCert);
    await sovraCli([
      'operator',
      'seal',
      '--endpoint',
      sovra.endpoint,
      '--credentials',
      join(sovra.dataDir, 'admin-credentials.json'),
    ]);
    const body = { requestMetadata: EXAMPLE_METADATA, plaintext: 'AAAA', encryptionAlgorithm: 'AES_GCM' };
    const sealed = await client.post(`/keys/${keyId}/encrypt`, body);
    assert.deepEqual([sealed.status, sealed.body.errorName], [400, 'InvalidStateException']);
    const health = await client.post('/health', HEALTH);
    assert.equal((health.body.ekmFleetDetails as { healthStatus: string }[])[0]!.healthStatus, 'UNAVAILABLE');
    for (const share of sovra.shares.slice(1)) await unseal(sovra, share);
    assert.equal((await client.post(`/keys/${keyId}/encrypt`, body)).status, 200);
  });
});

describe('XKS proxy on the main listener (no client certificate asked)', () => {
  let work: string;
  let sovra: SovraProcess;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'sovra-xks-main-e2e-'));
    const credentialsFile = join(work, 'xks-credentials.json');
    writeFileSync(
      credentialsFile,
      JSON.stringify({
        accessKeyId: ACCESS_KEY_ID,
        secretAccessKey: SECRET,
        uriPrefix: PREFIX,
        tenantId: 'root',
      }),
      { mode: 0o600 },
    );
    const dataDir = join(work, 'data');
    const shares = (await initSealedRoot(dataDir)).slice(0, 2);
    sovra = await startSovra({
      dataDir,
      extraArgs: ['--root-of-trust', 'sealed-shamir', '--xks-credentials-file', credentialsFile],
    });
    for (const share of shares) await unseal(sovra, share);
  });

  after(async () => {
    await sovra?.stop();
    if (work !== undefined) removeDir(work);
  });

  it('serves XKS under its URI prefix and S3 everywhere else', async () => {
    const client = new XksClient({
      endpoint: sovra.endpoint,
      uriPrefix: PREFIX,
      accessKeyId: ACCESS_KEY_ID,
      secretAccessKey: SECRET,
      region: TEST_REGION,
    });
    const health = await client.post('/health', HEALTH);
    assert.equal(health.status, 200);
    assert.equal((health.body.ekmFleetDetails as { healthStatus: string }[])[0]!.healthStatus, 'ACTIVE');
    const wrongSecret = new XksClient({
      endpoint: sovra.endpoint,
      uriPrefix: PREFIX,
      accessKeyId: ACCESS_KEY_ID,
      secretAccessKey: `${SECRET.slice(0, -1)}0`,
      region: TEST_REGION,
    });
    const refused = await wrongSecret.post('/health', HEALTH);
    assert.deepEqual([refused.status, refused.body.errorName], [401, 'AuthenticationFailedException']);
    // An unsigned S3 request is still S3: an S3 XML error (S3 answers a missing bucket NoSuchBucket even anonymously).
    const s3 = await fetch(`${sovra.endpoint}/some-bucket`);
    assert.equal(s3.status, 404);
    assert.match(await s3.text(), /<Code>NoSuchBucket<\/Code>/);
  });
});
