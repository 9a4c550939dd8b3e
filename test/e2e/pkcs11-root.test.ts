import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  EncryptCommand,
  KMSClient,
  RotateKeyOnDemandCommand,
} from '@aws-sdk/client-kms';
import {
  attribute,
  CKA,
  CKK_AES,
  CKO_SECRET_KEY,
  Pkcs11Error,
  Pkcs11Module,
} from '../../src/adapters/root-of-trust/pkcs11.ts';
import { createSoftHsmToken, type SoftHsmToken } from '../helpers/softhsm.ts';
import { CLI, NODE, removeDir, startSovra, TEST_REGION } from '../helpers/sovra-process.ts';

/**
 * The PKCS#11 root of trust end to end on SoftHSM2: `sovra operator init-hsm` creates the root
 * key inside the token, and `sovra keys export` / `import` carry KMS keys between two
 * installations on that token, while an export opens under no other token.
 */

const KEY_LABEL = 'sovra-root-key';

function sovraCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function ok(args: string[]): Promise<string> {
  const result = await sovraCli(args);
  assert.equal(result.code, 0, `sovra ${args.slice(0, 2).join(' ')}: ${result.stderr}`);
  return result.stdout;
}

describe('PKCS#11 root on SoftHSM2: sovra operator init-hsm, keys export and import', () => {
  const work = mkdtempSync(join(tmpdir(), 'sovra-hsm-work-'));
  const dirA = mkdtempSync(join(tmpdir(), 'sovra-hsm-a-'));
  const dirB = mkdtempSync(join(tmpdir(), 'sovra-hsm-b-'));
  const dirC = mkdtempSync(join(tmpdir(), 'sovra-hsm-c-'));
  const pinFile = join(work, 'pin');
  let token: SoftHsmToken;
  /** The server's and the CLI's PKCS#11 settings for a token; the key label is the default. */
  let hsm: (tokenLabel: string) => string[];

  before(async () => {
    // Both tokens exist before any process initialises the module (SoftHSM2 reads them then).
    token = await createSoftHsmToken({ label: 'sovra-hsm' });
    await token.addToken('other-hsm');
    writeFileSync(pinFile, `${token.pin}\n`, { mode: 0o600 });
    hsm = (tokenLabel) => [
      '--pkcs11-module',
      token.modulePath,
      '--pkcs11-token-label',
      tokenLabel,
      '--pkcs11-pin-file',
      pinFile,
    ];
  });

  after(async () => {
    for (const dir of [work, dirA, dirB, dirC]) removeDir(dir);
    await token?.cleanup();
  });

  it('init-hsm generates a sensitive, non-extractable AES-256 root key, prints its label and check value, and refuses a second time', async () => {
    const printed = await ok(['operator', 'init-hsm', ...hsm('sovra-hsm')]);
    assert.match(printed, new RegExp(`^Root key label: +${KEY_LABEL}$`, 'm'));
    const kcv = /^Key check value: +([0-9a-f]+)$/m.exec(printed)?.[1];
    assert.equal(kcv?.length, 6, printed);

    // Seen from the token itself: one key of that label, made there, whose value cannot be read.
    const module = await Pkcs11Module.acquire(token.modulePath);
    try {
      const slot = (await module.findTokenSlot('sovra-hsm'))!.slot;
      const session = await module.openSession(slot);
      await module.loginUser(slot, session, Buffer.from(token.pin));
      const keys = await module.findObjects(
        session,
        [
          attribute.ulong(CKA.CLASS, CKO_SECRET_KEY),
          attribute.ulong(CKA.KEY_TYPE, CKK_AES),
          attribute.bytes(CKA.LABEL, Buffer.from(KEY_LABEL)),
        ],
        2,
      );
      assert.equal(keys.length, 1);
      const read = (type: number) => module.getAttributeValue(session, keys[0]!, type, 16);
      assert.equal((await read(CKA.CHECK_VALUE)).toString('hex'), kcv);
      assert.equal((await read(CKA.VALUE_LEN)).readBigUInt64LE(0), 32n);
      for (const [name, type, expected] of [
        ['CKA_SENSITIVE', CKA.SENSITIVE, 1],
        ['CKA_ALWAYS_SENSITIVE', CKA.ALWAYS_SENSITIVE, 1],
        ['CKA_EXTRACTABLE', CKA.EXTRACTABLE, 0],
        ['CKA_NEVER_EXTRACTABLE', CKA.NEVER_EXTRACTABLE, 1],
        ['CKA_LOCAL', CKA.LOCAL, 1],
        ['CKA_ENCRYPT', CKA.ENCRYPT, 1],
        ['CKA_DECRYPT', CKA.DECRYPT, 1],
      ] as const) {
        assert.equal((await read(type))[0], expected, name);
      }
      await assert.rejects(
        read(CKA.VALUE),
        (error: unknown) => error instanceof Pkcs11Error && error.ckr === 'CKR_ATTRIBUTE_SENSITIVE',
      );
      await module.logoutUser(slot, session);
      await module.closeSession(session);
    } finally {
      module.release();
    }

    const again = await sovraCli(['operator', 'init-hsm', ...hsm('sovra-hsm')]);
    assert.notEqual(again.code, 0);
    assert.match(
      again.stderr,
      /AlreadyInitialized: token "sovra-hsm" already has a root key labelled "sovra-root-key"/,
    );
    const noToken = await sovraCli(['operator', 'init-hsm', ...hsm('no-such-token')]);
    assert.notEqual(noToken.code, 0);
    assert.match(noToken.stderr, /no token labelled "no-such-token"/);
  });

  it('keys exported from one installation decrypt in another on the same token; another token cannot open the export', async () => {
    const serverArgs = (tokenLabel: string) => ['--root-of-trust', 'pkcs11', ...hsm(tokenLabel)];
    let sovra = await startSovra({ dataDir: dirA, metadata: 'sqlite', extraArgs: serverArgs('sovra-hsm') });
    let kms = new KMSClient({
      endpoint: sovra.endpoint,
      region: TEST_REGION,
      credentials: sovra.credentials,
    });
    const keyId = (await kms.send(new CreateKeyCommand({ Description: 'hsm-protected' }))).KeyMetadata!
      .KeyId!;
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/hsm', TargetKeyId: keyId }));
    const before = await kms.send(
      new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('first version') }),
    );
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    const afterRotation = await kms.send(
      new EncryptCommand({ KeyId: 'alias/hsm', Plaintext: Buffer.from('second version') }),
    );
    kms.destroy();
    await sovra.stop();

    const exportFile = join(work, 'keys.export');
    const exported: unknown = JSON.parse(
      await ok(['keys', 'export', '--data-dir', dirA, '--out', exportFile, ...serverArgs('sovra-hsm')]),
    );
    assert.deepEqual(exported, { keys: 1, versions: 2, aliases: 1 });
    const imported: unknown = JSON.parse(
      await ok(['keys', 'import', '--data-dir', dirB, '--in', exportFile, ...serverArgs('sovra-hsm')]),
    );
    assert.deepEqual(imported, { keys: 1, versions: 2, aliases: 1 });

    sovra = await startSovra({ dataDir: dirB, metadata: 'sqlite', extraArgs: serverArgs('sovra-hsm') });
    kms = new KMSClient({ endpoint: sovra.endpoint, region: TEST_REGION, credentials: sovra.credentials });
    try {
      for (const [blob, text] of [
        [before.CiphertextBlob, 'first version'],
        [afterRotation.CiphertextBlob, 'second version'],
      ] as const) {
        const plain = await kms.send(new DecryptCommand({ CiphertextBlob: blob }));
        assert.equal(Buffer.from(plain.Plaintext!).toString(), text);
        assert.equal(plain.KeyId?.endsWith(keyId), true);
      }
    } finally {
      kms.destroy();
      await sovra.stop();
    }

    // Another token, with a root key of the same label: the export's recipient key and every key
    // version in it are wrapped by the first token's key, so nothing in it opens.
    await ok(['operator', 'init-hsm', ...hsm('other-hsm')]);
    const refused = await sovraCli([
      'keys',
      'import',
      '--data-dir',
      dirC,
      '--in',
      exportFile,
      ...serverArgs('other-hsm'),
    ]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /another root of trust/);
  });
});
