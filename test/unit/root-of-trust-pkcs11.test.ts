import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  attribute,
  CKA,
  CKK_AES,
  CKM_AES_KEY_GEN,
  CKO_SECRET_KEY,
  Pkcs11Module,
} from '../../src/adapters/root-of-trust/pkcs11.ts';
import { openPkcs11Root, Pkcs11Root, readPinFile } from '../../src/adapters/root-of-trust/pkcs11-root.ts';
import { KmsError, type KmsErrorCode } from '../../src/domain/kms/errors.ts';
import { loadServerConfig } from '../../src/platform/config.ts';
import { rootOfTrustContract } from '../contract/root-of-trust.contract.ts';
import { createSoftHsmToken, type SoftHsmToken } from '../helpers/softhsm.ts';

rootOfTrustContract('PKCS#11 root (SoftHSM2)', async () => {
  const token = await createSoftHsmToken({ label: 'sovra-contract' });
  const opened: Pkcs11Root[] = [];
  let roots = 0;
  const rootOn = (keyLabel: string) =>
    new Pkcs11Root({
      modulePath: token.modulePath,
      tokenLabel: token.label,
      pin: token.pin,
      keyLabel,
      createIfMissing: true,
    });
  return {
    openRoot: async () => {
      roots += 1;
      const root = rootOn(`contract-root-${roots}`);
      opened.push(root);
      await root.open();
      return root;
    },
    sealedRoot: () => Promise.resolve(rootOn('never-opened')),
    dispose: async () => {
      for (const root of opened) await root.close();
      await token.cleanup();
    },
  };
});

describe('PKCS#11 root of trust on SoftHSM2', () => {
  let token: SoftHsmToken;
  before(async () => {
    token = await createSoftHsmToken({ label: 'sovra-root' });
  });
  after(async () => {
    await token.cleanup();
  });

  const rootOptions = (
    keyLabel: string,
    overrides: Partial<ConstructorParameters<typeof Pkcs11Root>[0]> = {},
  ) => ({
    modulePath: token.modulePath,
    tokenLabel: token.label,
    pin: token.pin,
    keyLabel,
    ...overrides,
  });

  async function openRoot(keyLabel: string, createIfMissing = true): Promise<Pkcs11Root> {
    const root = new Pkcs11Root(rootOptions(keyLabel, { createIfMissing }));
    await root.open();
    return root;
  }

  test('the root key is made inside the token non-extractable: reading CKA_VALUE fails with CKR_ATTRIBUTE_SENSITIVE', async () => {
    const root = await openRoot('non-extractable');
    const module = await Pkcs11Module.acquire(token.modulePath);
    try {
      const found = await module.findTokenSlot(token.label);
      assert.ok(found !== null);
      // Shares the root's login: every session of this process on the token is logged in.
      const session = await module.openSession(found.slot);
      try {
        const keys = await module.findObjects(
          session,
          [
            attribute.ulong(CKA.CLASS, CKO_SECRET_KEY),
            attribute.bytes(CKA.LABEL, Buffer.from('non-extractable')),
          ],
          2,
        );
        assert.equal(keys.length, 1);
        const key = keys[0]!;
        await assert.rejects(module.getAttributeValue(session, key, CKA.VALUE, 64), {
          code: 'Pkcs11CallFailed',
          ckr: 'CKR_ATTRIBUTE_SENSITIVE',
          function: 'C_GetAttributeValue',
        });
        const flag = async (type: number) => (await module.getAttributeValue(session, key, type, 1))[0];
        assert.equal(await flag(CKA.EXTRACTABLE), 0, 'CKA_EXTRACTABLE');
        assert.equal(await flag(CKA.NEVER_EXTRACTABLE), 1, 'CKA_NEVER_EXTRACTABLE');
        assert.equal(await flag(CKA.SENSITIVE), 1, 'CKA_SENSITIVE');
        assert.equal(await flag(CKA.ALWAYS_SENSITIVE), 1, 'CKA_ALWAYS_SENSITIVE');
        assert.equal(await flag(CKA.LOCAL), 1, 'CKA_LOCAL: generated on the token');
        assert.equal(await flag(CKA.TOKEN), 1, 'CKA_TOKEN: persistent');
        assert.equal(await flag(CKA.WRAP), 0, 'CKA_WRAP');
        const length = await module.getAttributeValue(session, key, CKA.VALUE_LEN, 8);
        assert.equal(length.readBigUInt64LE(0), 32n);
        await module.closeSession(session);
      } finally {
        module.release();
      }
    } finally {
      await root.close();
    }
  });

  test('a root opened again later finds the same key in the token and unwraps what was wrapped before', async () => {
    const aad = Buffer.from('tenant-1/key-1/v1');
    const key = randomBytes(32);
    const first = await openRoot('persistent');
    const wrapped = await first.wrap(key, aad);
    await first.close();
    const again = await openRoot('persistent', false);
    try {
      assert.deepEqual(await again.unwrap(wrapped, aad), key);
    } finally {
      await again.close();
    }
  });

  test('two roots on one token share its login: closing one leaves the other unsealed and working', async () => {
    const first = await openRoot('shared-a');
    const second = await openRoot('shared-b');
    try {
      await first.close();
      assert.equal(second.state(), 'unsealed');
      const wrapped = await second.wrap(randomBytes(32), Buffer.from('x'));
      assert.equal((await second.unwrap(wrapped, Buffer.from('x'))).length, 32);
    } finally {
      await first.close();
      await second.close();
    }
  });

  test('without createIfMissing, a token without the root key fails with NotInitialized', async () => {
    const root = new Pkcs11Root(rootOptions('absent-key'));
    await rejectsWith(root.open(), 'NotInitialized', /no root key labelled "absent-key"/);
    assert.equal(root.state(), 'sealed');
    await rejectsWith(root.wrap(randomBytes(32), Buffer.alloc(0)), 'Sealed');
  });

  test('a wrong PIN fails with UnsealFailed and leaves the root sealed', async () => {
    const root = new Pkcs11Root(rootOptions('wrong-pin', { pin: 'not-the-pin', createIfMissing: true }));
    await rejectsWith(root.open(), 'UnsealFailed', /CKR_PIN_INCORRECT/);
    assert.equal(root.state(), 'sealed');
  });

  test('an unknown token label fails with RootUnavailable naming the tokens present', async () => {
    const root = new Pkcs11Root(rootOptions('any', { tokenLabel: 'no-such-token' }));
    await rejectsWith(root.open(), 'RootUnavailable', /no token labelled "no-such-token".*"sovra-root"/);
  });

  test('a module that cannot be loaded fails with RootUnavailable', async () => {
    const root = new Pkcs11Root(rootOptions('any', { modulePath: '/nonexistent/libpkcs11.so' }));
    await rejectsWith(root.open(), 'RootUnavailable', /cannot load the PKCS#11 module/);
  });

  test('a key with the root label that could leave the token is refused with RootUnavailable', async () => {
    const holder = await openRoot('login-holder');
    const module = await Pkcs11Module.acquire(token.modulePath);
    try {
      const found = await module.findTokenSlot(token.label);
      const session = await module.openSession(found!.slot);
      await module.generateKey(session, CKM_AES_KEY_GEN, [
        attribute.ulong(CKA.CLASS, CKO_SECRET_KEY),
        attribute.ulong(CKA.KEY_TYPE, CKK_AES),
        attribute.ulong(CKA.VALUE_LEN, 32),
        attribute.bool(CKA.TOKEN, true),
        attribute.bool(CKA.SENSITIVE, false),
        attribute.bool(CKA.EXTRACTABLE, true),
        attribute.bool(CKA.ENCRYPT, true),
        attribute.bool(CKA.DECRYPT, true),
        attribute.bytes(CKA.LABEL, Buffer.from('weak-key')),
      ]);
      await module.closeSession(session);
      const root = new Pkcs11Root(rootOptions('weak-key'));
      await rejectsWith(root.open(), 'RootUnavailable', /CKA_SENSITIVE is false; CKA_EXTRACTABLE is true/);
    } finally {
      module.release();
      await holder.close();
    }
  });

  test('a root opens once: opening it again fails with Validation', async () => {
    const root = await openRoot('open-once');
    try {
      await rejectsWith(root.open(), 'Validation');
      assert.equal(root.state(), 'unsealed');
    } finally {
      await root.close();
    }
    await rejectsWith(root.open(), 'Validation');
  });

  test('key material above the wrap limit and oversized AAD fail with Validation', async () => {
    const root = await openRoot('limits');
    try {
      await rejectsWith(root.wrap(Buffer.alloc(16 * 1024 + 1), Buffer.alloc(0)), 'Validation');
      await rejectsWith(root.wrap(Buffer.alloc(32), Buffer.alloc(4 * 1024 + 1)), 'Validation');
      await rejectsWith(root.wrap('not bytes' as unknown as Uint8Array, Buffer.alloc(0)), 'Validation');
      await rejectsWith(
        root.unwrap(Buffer.alloc(1 + 12 + 16 * 1024 + 16 + 1, 2), Buffer.alloc(0)),
        'InvalidCiphertext',
      );
      const largest = randomBytes(16 * 1024);
      assert.deepEqual(
        await root.unwrap(await root.wrap(largest, Buffer.alloc(0)), Buffer.alloc(0)),
        largest,
      );
    } finally {
      await root.close();
    }
  });

  test('a session pool of one serialises 64 concurrent operations correctly', async () => {
    const root = new Pkcs11Root(rootOptions('pool-of-one', { createIfMissing: true, sessionPoolSize: 1 }));
    await root.open();
    try {
      const keys = Array.from({ length: 64 }, () => randomBytes(32));
      const wrapped = await Promise.all(keys.map((key) => root.wrap(key, Buffer.alloc(0))));
      const results = await Promise.all(wrapped.map((value) => root.unwrap(value, Buffer.alloc(0))));
      assert.deepEqual(results, keys);
    } finally {
      await root.close();
    }
  });

  test('tampered values do not use up sessions: 100 rejected unwraps, then wraps still work', async () => {
    const root = await openRoot('tamper-sessions');
    try {
      const wrapped = await root.wrap(randomBytes(32), Buffer.alloc(0));
      wrapped[wrapped.length - 1]! ^= 1;
      const outcomes = await Promise.allSettled(
        Array.from({ length: 100 }, () => root.unwrap(wrapped, Buffer.alloc(0))),
      );
      assert.ok(
        outcomes.every((o) => o.status === 'rejected' && (o.reason as KmsError).code === 'InvalidCiphertext'),
      );
      const key = randomBytes(32);
      assert.deepEqual(await root.unwrap(await root.wrap(key, Buffer.alloc(0)), Buffer.alloc(0)), key);
    } finally {
      await root.close();
    }
  });

  test('operations keep working under constant garbage collection (the module stays loaded)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const root = await openRoot('under-gc');
    const collector = setInterval(gc, 1);
    try {
      for (let round = 0; round < 20; round += 1) {
        const keys = Array.from({ length: 8 }, () => randomBytes(32));
        const wrapped = await Promise.all(keys.map((key) => root.wrap(key, Buffer.from('gc'))));
        assert.deepEqual(
          await Promise.all(wrapped.map((value) => root.unwrap(value, Buffer.from('gc')))),
          keys,
        );
      }
    } finally {
      clearInterval(collector);
      await root.close();
    }
  });

  describe('PIN file and configuration', () => {
    let directory: string;
    before(async () => {
      directory = await mkdtemp(join(tmpdir(), 'sovra-pkcs11-config-'));
    });
    after(async () => {
      await rm(directory, { recursive: true, force: true });
    });

    async function pinFile(name: string, content: string, mode: number): Promise<string> {
      const path = join(directory, name);
      await writeFile(path, content);
      await chmod(path, mode);
      return path;
    }

    test('openPkcs11Root reads the PIN from a 0600 file, without its trailing newline', async () => {
      const path = await pinFile('pin-ok', `${token.pin}\n`, 0o600);
      assert.deepEqual(readPinFile(path), Buffer.from(token.pin));
      const root = await openPkcs11Root(
        { modulePath: token.modulePath, tokenLabel: token.label, pinFile: path, keyLabel: 'from-pin-file' },
        { createIfMissing: true },
      );
      try {
        assert.equal(root.state(), 'unsealed');
      } finally {
        await root.close();
      }
    });

    test('a PIN file readable by group or others is refused, naming pkcs11PinFile', async () => {
      const path = await pinFile('pin-loose', token.pin, 0o640);
      assert.throws(
        () => readPinFile(path),
        (error: unknown) => {
          assert.ok(error instanceof KmsError);
          assert.match(error.message, /^pkcs11PinFile: .* chmod 600/);
          return true;
        },
      );
    });

    test('config: rootOfTrust pkcs11 takes the module, token label, 0600 PIN file and key label', async () => {
      const path = await pinFile('pin-config', token.pin, 0o600);
      const config = loadServerConfig(
        { rootOfTrust: 'pkcs11', pkcs11TokenLabel: 'sovra-root', pkcs11PinFile: path },
        {},
      );
      assert.deepEqual(config.rootOfTrust, {
        kind: 'pkcs11',
        modulePath: '/usr/lib/softhsm/libsofthsm2.so',
        tokenLabel: 'sovra-root',
        pinFile: path,
        keyLabel: 'sovra-root-key',
      });
    });

    test('config: invalid pkcs11 settings fail with messages naming the setting', async () => {
      const good = await pinFile('pin-good', token.pin, 0o600);
      const loose = await pinFile('pin-loose-config', token.pin, 0o644);
      const cases: [Record<string, string>, RegExp][] = [
        [{ pkcs11PinFile: good }, /pkcs11TokenLabel: must be set/],
        [{ pkcs11TokenLabel: 'x' }, /pkcs11PinFile: must be set/],
        [{ pkcs11TokenLabel: 'x', pkcs11PinFile: loose }, /pkcs11PinFile: .*readable by group or others/],
        [
          { pkcs11TokenLabel: 'x'.repeat(33), pkcs11PinFile: good },
          /pkcs11TokenLabel: must be at most 32 bytes/,
        ],
        [
          { pkcs11TokenLabel: 'x', pkcs11PinFile: good, pkcs11Module: 'libsofthsm2.so' },
          /pkcs11Module: must be an absolute path/,
        ],
        [
          { pkcs11TokenLabel: 'x', pkcs11PinFile: good, pkcs11Module: '/nonexistent.so' },
          /pkcs11Module: cannot read/,
        ],
        [
          { pkcs11TokenLabel: 'x', pkcs11PinFile: good, pkcs11KeyLabel: 'k'.repeat(129) },
          /pkcs11KeyLabel: must be at most 128/,
        ],
      ];
      for (const [flags, message] of cases) {
        assert.throws(() => loadServerConfig({ rootOfTrust: 'pkcs11', ...flags }, {}), message);
      }
      assert.throws(
        () => loadServerConfig({ rootOfTrust: 'sealed-shamir', pkcs11TokenLabel: 'x' }, {}),
        /pkcs11TokenLabel: is set but rootOfTrust is sealed-shamir/,
      );
    });
  });
});

async function rejectsWith(promise: Promise<unknown>, code: KmsErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof KmsError, `expected a KmsError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message !== undefined) assert.match(error.message, message);
    return true;
  });
}
