import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { KmsError } from '../../src/domain/kms/errors.ts';
import {
  combine,
  decodeShare,
  encodeShare,
  gfInverse,
  gfMultiply,
  interpolateAt,
  split,
  type Share,
} from '../../src/domain/kms/shamir.ts';

/** Every k-element subset of `items`, in order. */
function subsets<T>(items: readonly T[], k: number): T[][] {
  if (k === 0) return [[]];
  const out: T[][] = [];
  for (let i = 0; i <= items.length - k; i++) {
    for (const rest of subsets(items.slice(i + 1), k - 1)) out.push([items[i]!, ...rest]);
  }
  return out;
}

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomBytes(1)[0]! % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function copy(share: Share): Share {
  return { index: share.index, value: Buffer.from(share.value) };
}

const isValidation = (error: unknown) => error instanceof KmsError && error.code === 'Validation';

describe('GF(2^8) with the AES polynomial 0x11B', () => {
  it('multiplies as FIPS 197 §4.2 shows: {57} • {83} = {c1}, {57} • {13} = {fe}', () => {
    assert.equal(gfMultiply(0x57, 0x83), 0xc1);
    assert.equal(gfMultiply(0x57, 0x13), 0xfe);
  });

  it('every non-zero element times its inverse is 1, and multiplication commutes', () => {
    for (let a = 1; a < 256; a++) {
      assert.equal(gfMultiply(a, gfInverse(a)), 1, `a = ${a}`);
      assert.equal(gfMultiply(a, 0), 0);
      assert.equal(gfMultiply(a, 0x1d), gfMultiply(0x1d, a));
    }
  });
});

describe('Shamir secret sharing', () => {
  it('round-trips for many (n, k), from the minimum (2, 2) to the maximum (255, 255)', () => {
    const cases: [number, number][] = [
      [2, 2],
      [3, 2],
      [3, 3],
      [5, 3],
      [7, 4],
      [10, 10],
      [16, 9],
      [64, 33],
      [255, 2],
      [255, 255],
    ];
    for (const [n, k] of cases) {
      const secret = randomBytes(32);
      const shares = split(secret, n, k);
      assert.equal(shares.length, n);
      assert.deepEqual(
        shares.map((s) => s.index),
        Array.from({ length: n }, (_, i) => i + 1),
      );
      assert.ok(shares.every((s) => s.value.length === secret.length));
      const quorum = shuffled(shares).slice(0, k);
      assert.deepEqual(combine(quorum), secret, `n=${n} k=${k}`);
      assert.deepEqual(combine(shares), secret, `all ${n} shares also recombine`);
    }
  });

  it('any k of n shares recombine the secret, in any order', () => {
    const secret = randomBytes(32);
    const shares = split(secret, 6, 3);
    const quorums = subsets(shares, 3);
    assert.equal(quorums.length, 20);
    for (const quorum of quorums) {
      assert.deepEqual(combine(quorum), secret);
      assert.deepEqual(combine([...quorum].reverse()), secret);
    }
    for (const larger of subsets(shares, 4)) assert.deepEqual(combine(larger), secret);
  });

  it('secrets of any length up to the limit split byte by byte', () => {
    for (const length of [1, 2, 31, 64]) {
      const secret = randomBytes(length);
      assert.deepEqual(combine(split(secret, 4, 2).slice(2)), secret);
    }
  });

  it('k-1 shares give a value unrelated to the secret', () => {
    for (const [n, k] of [
      [3, 2],
      [5, 3],
      [9, 5],
    ] as const) {
      const secret = randomBytes(32);
      const shares = split(secret, n, k);
      for (const tooFew of subsets(shares, k - 1)) {
        const guess = combine(tooFew);
        assert.notDeepEqual(guess, secret);
        // Not even a byte in common more often than chance (32 bytes: expected 1/8 of a match).
        let same = 0;
        for (let i = 0; i < 32; i++) if (guess[i] === secret[i]) same += 1;
        assert.ok(same <= 4, `${same} bytes in common`);
      }
    }
  });

  it('k-1 shares fit every possible secret: for any candidate there is a k-th share that yields it', () => {
    const secret = randomBytes(32);
    const shares = split(secret, 5, 3);
    const known = shares.slice(0, 2);
    for (const candidate of [secret, randomBytes(32), Buffer.alloc(32), Buffer.alloc(32, 0xff)]) {
      // The polynomial through (0, candidate) and the two known shares, evaluated at x = 5.
      const forged: Share = { index: 5, value: interpolateAt([{ index: 0, value: candidate }, ...known], 5) };
      assert.deepEqual(combine([...known.map(copy), forged]), candidate);
    }
  });

  it('draws one coefficient per byte and degree from the random source, and zeroes it afterwards', () => {
    const secret = randomBytes(32);
    let drawn: Buffer | null = null;
    const shares = split(secret, 5, 4, (size) => {
      drawn = randomBytes(size);
      return drawn;
    });
    assert.equal((drawn as Buffer | null)?.length, 3 * 32);
    assert.ok(
      (drawn as Buffer | null)?.every((b) => b === 0),
      'coefficients are zeroed',
    );
    assert.deepEqual(combine(shares.slice(1)), secret);
  });

  it('is deterministic for a given random source (no hidden randomness)', () => {
    const secret = randomBytes(16);
    const fixed = randomBytes(2 * 16);
    const a = split(secret, 4, 3, () => Buffer.from(fixed));
    const b = split(secret, 4, 3, () => Buffer.from(fixed));
    assert.deepEqual(a, b);
  });

  it('refuses duplicate indexes, mixed lengths and empty sets with Validation', () => {
    const shares = split(randomBytes(32), 5, 3);
    assert.throws(() => combine([shares[0]!, shares[1]!, copy(shares[1]!)]), isValidation);
    assert.throws(
      () => combine([shares[0]!, { index: 2, value: randomBytes(32) }, shares[1]!]),
      (error: unknown) => isValidation(error) && (error as KmsError).details.reason === 'duplicate-share',
    );
    assert.throws(() => combine([shares[0]!, { index: 9, value: randomBytes(31) }]), isValidation);
    assert.throws(() => combine([]), isValidation);
    assert.throws(() => combine([{ index: 0, value: randomBytes(32) }, shares[0]!]), isValidation);
    assert.throws(() => combine([{ index: 256, value: randomBytes(32) }, shares[0]!]), isValidation);
  });

  it('refuses impossible parameters: k < 2, k > n, n > 255, an empty or oversized secret', () => {
    const secret = randomBytes(32);
    assert.throws(() => split(secret, 5, 1), isValidation);
    assert.throws(() => split(secret, 3, 4), isValidation);
    assert.throws(() => split(secret, 256, 3), isValidation);
    assert.throws(() => split(secret, 2.5, 2), isValidation);
    assert.throws(() => split(Buffer.alloc(0), 3, 2), isValidation);
    assert.throws(() => split(randomBytes(65), 3, 2), isValidation);
  });
});

describe('printed shares (sovra-share-v1)', () => {
  it('encode as sovra-share-v1:<index>:<base64url>:<checksum> and decode back', () => {
    const shares = split(randomBytes(32), 5, 3);
    for (const share of shares) {
      const text = encodeShare(share);
      assert.match(text, /^sovra-share-v1:[1-5]:[A-Za-z0-9_-]{43}:[0-9a-f]{8}$/);
      assert.deepEqual(decodeShare(text), share);
      assert.deepEqual(decodeShare(`  ${text}\n`), share, 'surrounding whitespace is ignored');
      const [body, checksum] = [text.slice(0, -9), text.slice(-8)];
      assert.deepEqual(decodeShare(`${body}:${checksum.toUpperCase()}`), share);
    }
  });

  it('a mistyped character, a swapped index or a truncation is caught by the checksum', () => {
    const share = split(randomBytes(32), 5, 3)[1]!;
    const text = encodeShare(share);
    const valueAt = text.indexOf(':', 'sovra-share-v1:'.length) + 5;
    const typo = `${text.slice(0, valueAt)}${text[valueAt] === 'A' ? 'B' : 'A'}${text.slice(valueAt + 1)}`;
    const otherIndex = text.replace('sovra-share-v1:2:', 'sovra-share-v1:3:');
    const truncated = `${text.slice(0, valueAt)}${text.slice(valueAt + 2)}`;
    for (const bad of [typo, otherIndex, truncated]) {
      assert.throws(
        () => decodeShare(bad),
        (error: unknown) =>
          isValidation(error) &&
          /checksum/.test((error as Error).message) &&
          !(error as Error).message.includes(bad.split(':')[2]!),
      );
    }
  });

  it('refuses other shapes without echoing the input', () => {
    const good = encodeShare(split(randomBytes(32), 3, 2)[0]!);
    const secretPart = good.split(':')[2]!;
    for (const bad of [
      '',
      'hello',
      good.replace('sovra-share-v1', 'sovra-share-v2'),
      good.replace(':1:', ':0:'),
      good.replace(':1:', ':256:'),
      good.replace(':1:', ':01:'),
      `${good}:extra`,
      good.slice(0, -1),
      'x'.repeat(300),
    ]) {
      assert.throws(
        () => decodeShare(bad),
        (error: unknown) => isValidation(error) && !(error as Error).message.includes(secretPart),
        JSON.stringify(bad.slice(0, 40)),
      );
    }
  });
});
