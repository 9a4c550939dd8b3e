import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SealRecordFile, sealRecordPath } from '../../src/adapters/root-of-trust/seal-record-file.ts';
import { KmsError, type KmsErrorCode } from '../../src/domain/kms/errors.ts';
import { SoftwareRoot } from '../../src/domain/kms/root-of-trust.ts';
import {
  decodeSealRecord,
  initializeSealedRoot,
  requireUnsealed,
  rootKeyCheck,
  ShamirSeal,
  type SealEvent,
} from '../../src/domain/kms/seal.ts';
import { combine, decodeShare, encodeShare } from '../../src/domain/kms/shamir.ts';
import { OffsetClock } from '../../src/platform/clock.ts';
import { LIMITS } from '../../src/platform/limits.ts';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sovra-seal-'));
  dirs.push(dir);
  return dir;
}

async function initialised(shareCount = 5, threshold = 3) {
  const dataDir = tempDataDir();
  const records = new SealRecordFile(sealRecordPath(dataDir));
  const clock = new OffsetClock();
  const { record, shares } = await initializeSealedRoot({ records, shareCount, threshold, clock });
  return { dataDir, records, record, shares };
}

function openSeal(records: SealRecordFile, clock = new OffsetClock()) {
  const root = new SoftwareRoot();
  const events: SealEvent[] = [];
  const seal = new ShamirSeal({ root, records, clock, events: (event) => events.push(event) });
  return { root, seal, events, clock };
}

const kmsCode = (code: KmsErrorCode) => (error: unknown) => error instanceof KmsError && error.code === code;
const AAD = Buffer.from('test-key');

describe('sovra operator init (initializeSealedRoot)', () => {
  it('writes a versioned 0600 seal record holding a key-check value and no share', async () => {
    const { dataDir, record, shares } = await initialised();
    const path = join(dataDir, 'keys', 'seal.json');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const text = readFileSync(path, 'utf8');
    const document = JSON.parse(text) as Record<string, unknown>;
    assert.deepEqual(Object.keys(document).sort(), [
      'createdAt',
      'format',
      'keyCheck',
      'shares',
      'threshold',
      'type',
    ]);
    assert.equal(document.format, 1);
    assert.equal(document.threshold, 3);
    assert.equal(document.shares, 5);
    assert.equal(shares.length, 5);
    for (const share of shares) assert.ok(!text.includes(share.split(':')[2]!), 'no share value on disk');
    // The key-check value is HMAC-SHA256(rootKey, "sovra-root-key-check-v1") of the rebuilt key.
    const rootKey = combine(shares.slice(2).map(decodeShare));
    assert.deepEqual(rootKeyCheck(rootKey), record.keyCheck);
    assert.ok(!text.includes(rootKey.toString('hex')) && !text.includes(rootKey.toString('base64')));
  });

  it('refuses a second init with AlreadyInitialized and leaves the record as it was', async () => {
    const { records } = await initialised();
    const before = readFileSync(records.location, 'utf8');
    await assert.rejects(
      initializeSealedRoot({ records, shareCount: 3, threshold: 2, clock: new OffsetClock() }),
      kmsCode('AlreadyInitialized'),
    );
    assert.equal(readFileSync(records.location, 'utf8'), before);
  });

  it('refuses impossible share counts and thresholds before writing anything', async () => {
    const dataDir = tempDataDir();
    const records = new SealRecordFile(sealRecordPath(dataDir));
    for (const [shareCount, threshold] of [
      [5, 1],
      [3, 4],
      [256, 3],
    ] as const) {
      await assert.rejects(
        initializeSealedRoot({ records, shareCount, threshold, clock: new OffsetClock() }),
        kmsCode('Validation'),
      );
    }
    assert.equal(await records.read(), null);
  });
});

describe('the seal record format', () => {
  // Golden record, format 1: kept verbatim so that a change of format is a deliberate migration.
  const GOLDEN = `{
  "format": 1,
  "type": "shamir",
  "threshold": 3,
  "shares": 5,
  "keyCheck": "a1f7474762937508ea41091648825d6ee787dbeea501ed1e585b96262c2ef3ff",
  "createdAt": "2026-11-22T21:06:51.379Z"
}
`;

  it('reads the golden format-1 record', () => {
    const record = decodeSealRecord(GOLDEN);
    assert.equal(record.format, 1);
    assert.equal(record.threshold, 3);
    assert.equal(record.shares, 5);
    assert.equal(
      record.keyCheck.toString('hex'),
      'a1f7474762937508ea41091648825d6ee787dbeea501ed1e585b96262c2ef3ff',
    );
    assert.equal(record.createdAt.toISOString(), '2026-11-22T21:06:51.379Z');
  });

  it('refuses damaged records with RootUnavailable', async () => {
    const golden = JSON.parse(GOLDEN) as Record<string, unknown>;
    for (const damaged of [
      'not json',
      '[]',
      JSON.stringify({ ...golden, format: 2 }),
      JSON.stringify({ ...golden, extra: true }),
      JSON.stringify({ ...golden, threshold: 1 }),
      JSON.stringify({ ...golden, threshold: 6 }),
      JSON.stringify({ ...golden, keyCheck: 'abc' }),
      JSON.stringify({ ...golden, createdAt: 'yesterday' }),
    ]) {
      assert.throws(() => decodeSealRecord(damaged), kmsCode('RootUnavailable'), damaged);
    }
    const dataDir = tempDataDir();
    mkdirSync(join(dataDir, 'keys'));
    writeFileSync(sealRecordPath(dataDir), 'x'.repeat(LIMITS.sealRecordMaxBytes + 1));
    await assert.rejects(new SealRecordFile(sealRecordPath(dataDir)).read(), kmsCode('RootUnavailable'));
  });
});

describe('unsealing with a quorum of shares (ShamirSeal)', () => {
  it('starts sealed; too few shares keep it sealed and key use fails with Sealed', async () => {
    const { records, shares } = await initialised();
    const { root, seal } = openSeal(records);
    assert.deepEqual(await seal.status(), {
      type: 'shamir',
      initialized: true,
      sealed: true,
      threshold: 3,
      shares: 5,
      progress: 0,
      nonce: '',
    });
    const first = await seal.submit(shares[0]!, 'test');
    assert.equal(first.progress, 1);
    assert.match(first.nonce, /^[0-9a-f]{32}$/);
    const second = await seal.submit(shares[3]!, 'test');
    assert.equal(second.progress, 2);
    assert.equal(second.nonce, first.nonce, 'one attempt, one nonce');
    assert.equal(second.sealed, true);
    await assert.rejects(root.wrap(randomBytes(32), AAD), kmsCode('Sealed'));
    assert.throws(() => requireUnsealed(root), kmsCode('Sealed'));
  });

  it('any 3 of 5 shares unseal; the key survives a restart and a different quorum', async () => {
    const { records, shares } = await initialised();
    const first = openSeal(records);
    for (const share of [shares[4]!, shares[0]!, shares[2]!]) await first.seal.submit(share, 'test');
    assert.equal((await first.seal.status()).sealed, false);
    requireUnsealed(first.root);
    const wrapped = await first.root.wrap(Buffer.from('tenant key'), AAD);

    // A restart: a new process state over the same seal record starts sealed.
    const restarted = openSeal(records);
    assert.equal((await restarted.seal.status()).sealed, true);
    await assert.rejects(restarted.root.unwrap(wrapped, AAD), kmsCode('Sealed'));
    for (const share of [shares[1]!, shares[3]!, shares[4]!]) await restarted.seal.submit(share, 'test');
    assert.deepEqual(await restarted.root.unwrap(wrapped, AAD), Buffer.from('tenant key'));
  });

  it('a wrong share in the quorum fails with UnsealFailed and resets the progress', async () => {
    const { records, shares } = await initialised();
    const other = await initialised();
    const { seal, root, events } = openSeal(records);
    await seal.submit(shares[0]!, 'custodian-1');
    await seal.submit(shares[1]!, 'custodian-2');
    // Well formed (its checksum is right) but from another seal: only the quorum can tell.
    await assert.rejects(seal.submit(other.shares[2]!, 'intruder'), kmsCode('UnsealFailed'));
    const status = await seal.status();
    assert.equal(status.sealed, true);
    assert.equal(status.progress, 0);
    assert.equal(status.nonce, '');
    assert.equal(root.state(), 'sealed');
    assert.deepEqual(
      events.map((e) => e.event),
      ['unseal-share-accepted', 'unseal-share-accepted', 'unseal-failed'],
    );
    // The custodians start again and succeed.
    for (const share of shares.slice(2)) await seal.submit(share, 'test');
    assert.equal(root.state(), 'unsealed');
  });

  it('a mistyped, duplicate or out-of-range share is refused without touching the progress', async () => {
    const { records, shares } = await initialised(3, 2);
    const { seal, events } = openSeal(records);
    await seal.submit(shares[0]!, 'test');
    const typo = shares[1]!.replace(/:(.)/, (_m, c: string) => `:${c === '2' ? '3' : '2'}`);
    await assert.rejects(seal.submit(typo, 'test'), kmsCode('Validation'));
    await assert.rejects(seal.submit(shares[0]!, 'test'), kmsCode('Validation'), 'the same share twice');
    const fromLargerSeal = (await initialised(9, 2)).shares[8]!;
    await assert.rejects(seal.submit(fromLargerSeal, 'test'), kmsCode('Validation'), 'index 9 of 3');
    const short = encodeShare({ index: 2, value: randomBytes(16) });
    await assert.rejects(seal.submit(short, 'test'), kmsCode('Validation'), 'wrong length');
    assert.equal((await seal.status()).progress, 1);
    assert.deepEqual(
      events.map((e) => (e.event === 'unseal-share-refused' ? e.reason : e.event)),
      ['unseal-share-accepted', 'malformed-share', 'duplicate-share', 'index-out-of-range', 'wrong-length'],
    );
    await seal.submit(shares[2]!, 'test');
    assert.equal((await seal.status()).sealed, false);
  });

  it('sealing forgets the key at once and discards unseal progress', async () => {
    const { records, shares } = await initialised(3, 2);
    const { seal, root, events } = openSeal(records);
    await seal.submit(shares[0]!, 'test');
    await seal.submit(shares[1]!, 'test');
    assert.equal(root.state(), 'unsealed');
    const sealed = await seal.seal('127.0.0.1', 'user-admin');
    assert.equal(sealed.sealed, true);
    await assert.rejects(root.wrap(randomBytes(8), AAD), kmsCode('Sealed'));
    await seal.submit(shares[2]!, 'test');
    const again = await seal.seal('127.0.0.1', 'user-admin');
    assert.equal(again.progress, 0, 'progress discarded by sealing');
    assert.deepEqual(
      events.filter((e) => e.event === 'sealed'),
      [
        { event: 'sealed', source: '127.0.0.1', principalId: 'user-admin', wasSealed: false },
        { event: 'sealed', source: '127.0.0.1', principalId: 'user-admin', wasSealed: true },
      ],
    );
  });

  it('work registered for the unseal finishes before the quorum is answered (a seal waits for it); work for the seal runs on seal and shutdown', async () => {
    const { records, shares } = await initialised(3, 2);
    const { seal, root } = openSeal(records);
    const steps: string[] = [];
    seal.whenUnsealed(async () => {
      steps.push(`unsealed work starts (root ${root.state()})`);
      await new Promise((resolve) => setTimeout(resolve, 20));
      steps.push('unsealed work ends');
    });
    seal.whenUnsealed(() => Promise.reject(new Error('reported by the work itself')));
    seal.whenSealed(() => steps.push('sealed work'));
    await seal.submit(shares[0]!, 'test');
    assert.equal(steps.length, 0, 'no work before the quorum');
    const submitted = seal.submit(shares[1]!, 'test').then((status) => {
      steps.push(`answered (sealed ${status.sealed})`);
    });
    const sealing = seal.seal('127.0.0.1', 'user-admin');
    await Promise.all([submitted, sealing]);
    assert.deepEqual(steps, [
      'unsealed work starts (root unsealed)',
      'unsealed work ends',
      'answered (sealed false)',
      'sealed work',
    ]);
    await seal.close();
    assert.equal(steps.at(-1), 'sealed work');
    assert.equal(steps.filter((step) => step === 'sealed work').length, 2);
  });

  it('shares submitted are forgotten when the attempt times out or is reset', async () => {
    const { records, shares } = await initialised();
    const { seal, events, clock } = openSeal(records);
    await seal.submit(shares[0]!, 'test');
    await seal.submit(shares[1]!, 'test');
    clock.advance(LIMITS.unsealProgressTimeoutMs);
    assert.equal((await seal.status()).progress, 0);
    await seal.submit(shares[2]!, 'test');
    assert.equal((await seal.reset('test')).progress, 0);
    assert.deepEqual(
      events
        .filter((e) => e.event === 'unseal-reset')
        .map((e) => (e.event === 'unseal-reset' ? e.reason : '')),
      ['timeout', 'requested'],
    );
    // After the timeout the old shares no longer count: a quorum is still needed.
    await seal.submit(shares[3]!, 'test');
    await seal.submit(shares[4]!, 'test');
    assert.equal((await seal.status()).sealed, true);
    await seal.submit(shares[0]!, 'test');
    assert.equal((await seal.status()).sealed, false);
    await seal.close();
  });

  it('an uninitialised seal reports initialized false and refuses shares with NotInitialized', async () => {
    const dataDir = tempDataDir();
    const records = new SealRecordFile(sealRecordPath(dataDir));
    const { seal } = openSeal(records);
    const status = await seal.status();
    assert.equal(status.initialized, false);
    assert.equal(status.sealed, true);
    const { shares } = await initialised();
    await assert.rejects(seal.submit(shares[0]!, 'test'), kmsCode('NotInitialized'));
    // `sovra operator init` while the server runs: the record is picked up without a restart.
    await initializeSealedRoot({ records, shareCount: 3, threshold: 2, clock: new OffsetClock() });
    assert.equal((await seal.status()).initialized, true);
  });

  it('concurrent submissions complete exactly one quorum', async () => {
    const { records, shares } = await initialised(5, 3);
    const { seal, events } = openSeal(records);
    const results = await Promise.allSettled(shares.map((share) => seal.submit(share, 'test')));
    assert.ok(results.every((r) => r.status === 'fulfilled'));
    assert.equal(events.filter((e) => e.event === 'unsealed').length, 1);
    assert.equal((await seal.status()).sealed, false);
  });

  it('no seal event carries a share or the key', async () => {
    const { records, shares } = await initialised();
    const { seal, events } = openSeal(records);
    await seal.submit(shares[0]!, 'test');
    await assert.rejects(seal.submit(shares[0]!.slice(0, -1), 'test'));
    for (const share of shares.slice(1, 3)) await seal.submit(share, 'test');
    await seal.seal('test', null);
    const text = JSON.stringify(events);
    const rootKey = combine(shares.slice(0, 3).map(decodeShare));
    for (const share of shares) assert.ok(!text.includes(share.split(':')[2]!.slice(0, 16)));
    assert.ok(!text.includes(rootKey.toString('hex')) && !text.includes(rootKey.toString('base64')));
  });

  it('requireUnsealed refuses without a root of trust (RootUnavailable)', () => {
    assert.throws(() => requireUnsealed(null), kmsCode('RootUnavailable'));
  });
});
