import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  EncryptCommand,
  KMSClient,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { SealRecordFile, sealRecordPath } from '../../src/adapters/root-of-trust/seal-record-file.ts';
import { readKeyExport } from '../../src/domain/kms/key-export.ts';
import { SoftwareRoot } from '../../src/domain/kms/root-of-trust.ts';
import { ShamirSeal } from '../../src/domain/kms/seal.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { filesUnder, readIfPresent } from '../helpers/data-dir.ts';
import {
  CLI,
  NODE,
  removeDir,
  startSovra,
  TEST_REGION,
  type SovraProcess,
} from '../helpers/sovra-process.ts';

/**
 * `sovra keys export` / `import` between two installations initialised from the same root key,
 * and crypto-shredding: after a key's deletion completes, no copy of its wrapped material is left
 * in the export, the SQLite database (file and WAL) or anywhere in the data directory.
 */

function sovraCli(
  args: string[],
  stdin = '',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

async function ok(args: string[], stdin = ''): Promise<string> {
  const result = await sovraCli(args, stdin);
  assert.equal(result.code, 0, `sovra ${args.slice(0, 2).join(' ')}: ${result.stderr}`);
  return result.stdout;
}

async function unseal(sovra: SovraProcess, shares: readonly string[]): Promise<void> {
  for (const share of shares) {
    const response = await fetch(`${sovra.endpoint}/_sovra/operator/unseal`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ share }),
    });
    assert.equal(response.status, 200, await response.text());
  }
}

function wrappedMaterialOf(dataDir: string, keyId: string): Buffer[] {
  const db = new DatabaseSync(join(dataDir, 'metadata.sqlite'), { readOnly: true });
  try {
    return db
      .prepare('SELECT wrapped_material FROM kms_key_versions WHERE key_id = ? ORDER BY version')
      .all(keyId)
      .map((row) => Buffer.from(row.wrapped_material as Uint8Array));
  } finally {
    db.close();
  }
}

describe('sovra keys export / import and crypto-shredding', () => {
  const dirA = mkdtempSync(join(tmpdir(), 'sovra-dr-a-'));
  const dirB = mkdtempSync(join(tmpdir(), 'sovra-dr-b-'));
  const work = mkdtempSync(join(tmpdir(), 'sovra-dr-work-'));
  let shares: string[] = [];
  let sovra: SovraProcess | null = null;

  before(async () => {
    const init = await ok(['operator', 'init', '--data-dir', dirA, '--shares', '2', '--threshold', '2']);
    shares = [...init.matchAll(/^Share \d: (sovra-share-v1:\S+)$/gm)].map((match) => match[1]!);
    assert.equal(shares.length, 2);
    // The second installation shares the root: the same seal record, unsealed by the same shares.
    mkdirSync(join(dirB, 'keys'), { recursive: true });
    copyFileSync(sealRecordPath(dirA), sealRecordPath(dirB));
  });

  after(async () => {
    await sovra?.stop();
    for (const dir of [dirA, dirB, work]) removeDir(dir);
  });

  it('keys exported from one installation decrypt in another sharing the root; a shredded key is nowhere', async () => {
    sovra = await startSovra({
      dataDir: dirA,
      metadata: 'sqlite',
      extraArgs: ['--root-of-trust', 'sealed-shamir'],
    });
    await unseal(sovra, shares);
    let kms = new KMSClient({
      endpoint: sovra.endpoint,
      region: TEST_REGION,
      credentials: sovra.credentials,
    });
    const kept = (await kms.send(new CreateKeyCommand({ Description: 'kept' }))).KeyMetadata!.KeyId!;
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/kept', TargetKeyId: kept }));
    const before = await kms.send(
      new EncryptCommand({ KeyId: kept, Plaintext: Buffer.from('before rotation') }),
    );
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: kept }));
    const afterRotation = await kms.send(
      new EncryptCommand({ KeyId: 'alias/kept', Plaintext: Buffer.from('after') }),
    );
    const shredded = (await kms.send(new CreateKeyCommand({ Description: 'shredded' }))).KeyMetadata!.KeyId!;
    const lost = await kms.send(new EncryptCommand({ KeyId: shredded, Plaintext: Buffer.from('gone') }));
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: shredded, PendingWindowInDays: 7 }));
    // An ML-DSA private key (about 4 KB wrapped) spills into overflow pages, which a delete frees.
    const shreddedSigner = (
      await kms.send(new CreateKeyCommand({ KeySpec: 'ML_DSA_65', KeyUsage: 'SIGN_VERIFY' }))
    ).KeyMetadata!.KeyId!;
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: shreddedSigner, PendingWindowInDays: 7 }));

    // While the server runs, the material is on disk (the database or its write-ahead log)...
    const shreddedMaterial = [
      ...wrappedMaterialOf(dirA, shredded),
      ...wrappedMaterialOf(dirA, shreddedSigner),
    ];
    assert.equal(shreddedMaterial.length, 2);
    // Material longer than a page is split over overflow pages, so it is sought in 32-byte pieces.
    const holders = (material: Buffer) =>
      filesUnder(dirA).filter((path) => {
        // The running server removes applied audit journal segments: a file gone holds nothing.
        const bytes = readIfPresent(path);
        if (bytes === null) return false;
        for (let at = 0; at + 32 <= material.length; at += 32) {
          if (bytes.indexOf(material.subarray(at, at + 32)) !== -1) return true;
        }
        return false;
      });
    for (const material of shreddedMaterial) {
      assert.notDeepEqual(holders(material), [], 'the scan must see the material before deletion');
    }
    // ...and once the deletion completes beside the running server, no file holds it: not the
    // database, not the WAL (checkpointed and truncated at once), not freed pages (secure_delete).
    const soon = new Date(Date.now() + 8 * 24 * 60 * 60 * 1000).toISOString();
    const report = JSON.parse(await ok(['admin', 'kms-maintenance', '--data-dir', dirA, '--now', soon])) as {
      keysDeleted: number;
    };
    assert.equal(report.keysDeleted, 2);
    // The server keeps writing (key-use decisions, audit records), so its WAL is in use.
    await kms.send(new EncryptCommand({ KeyId: kept, Plaintext: Buffer.from('still served') }));
    const wal = join(dirA, 'metadata.sqlite-wal');
    assert.ok(filesUnder(dirA).includes(wal), 'the running server has a write-ahead log to scan');
    for (const material of shreddedMaterial) assert.deepEqual(holders(material), []);
    kms.destroy();
    await sovra.stop();
    sovra = null;

    const exportFile = join(work, 'keys.export');
    const exported: unknown = JSON.parse(
      await ok(['keys', 'export', '--data-dir', dirA, '--out', exportFile], shares.join('\n')),
    );
    assert.deepEqual(exported, { keys: 1, versions: 2, aliases: 1 });

    // The export opens only under the root; inside, the deleted key is absent.
    const root = new SoftwareRoot();
    const seal = new ShamirSeal({
      root,
      records: new SealRecordFile(sealRecordPath(dirA)),
      clock: systemClock,
      events: () => {},
    });
    for (const share of shares) await seal.submit(share, 'test');
    const contents = await readKeyExport(root, readFileSync(exportFile));
    await root.close();
    assert.deepEqual(
      contents.map((entry) => entry.key.keyId),
      [kept],
    );
    const payloadText = JSON.stringify(
      contents.map((entry) => entry.versions.map((v) => v.wrappedMaterial.toString('base64'))),
    );
    for (const material of shreddedMaterial) {
      assert.ok(!payloadText.includes(material.toString('base64')), 'the export holds the shredded key');
      for (const path of [...filesUnder(dirA), exportFile]) {
        assert.equal(
          readIfPresent(path)?.indexOf(material) ?? -1,
          -1,
          `${path} still holds the shredded key's material`,
        );
      }
    }

    // The second installation imports, refuses a second import, and decrypts A's ciphertexts.
    const imported: unknown = JSON.parse(
      await ok(['keys', 'import', '--data-dir', dirB, '--in', exportFile], shares.join('\n')),
    );
    assert.deepEqual(imported, { keys: 1, versions: 2, aliases: 1 });
    const again = await sovraCli(
      ['keys', 'import', '--data-dir', dirB, '--in', exportFile],
      shares.join('\n'),
    );
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /already exists/);
    sovra = await startSovra({
      dataDir: dirB,
      metadata: 'sqlite',
      extraArgs: ['--root-of-trust', 'sealed-shamir'],
    });
    await unseal(sovra, shares);
    kms = new KMSClient({ endpoint: sovra.endpoint, region: TEST_REGION, credentials: sovra.credentials });
    for (const [blob, text] of [
      [before.CiphertextBlob, 'before rotation'],
      [afterRotation.CiphertextBlob, 'after'],
    ] as const) {
      const plain = await kms.send(new DecryptCommand({ CiphertextBlob: blob }));
      assert.equal(Buffer.from(plain.Plaintext!).toString(), text);
    }
    await assert.rejects(
      kms.send(new DecryptCommand({ CiphertextBlob: lost.CiphertextBlob })),
      /ciphertext/i,
    );
    kms.destroy();
  });

  it('an export does not open under another root of trust', async () => {
    const other = mkdtempSync(join(tmpdir(), 'sovra-dr-c-'));
    try {
      const init = await ok(['operator', 'init', '--data-dir', other, '--shares', '2', '--threshold', '2']);
      const otherShares = [...init.matchAll(/^Share \d: (sovra-share-v1:\S+)$/gm)].map((match) => match[1]!);
      const refused = await sovraCli(
        ['keys', 'import', '--data-dir', other, '--in', join(work, 'keys.export')],
        otherShares.join('\n'),
      );
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /another root of trust/);
    } finally {
      removeDir(other);
    }
  });
});
