import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { LIMITS } from '../../platform/limits.ts';
import { kmsError, type KmsError } from './errors.ts';

/**
 * Shamir's secret sharing (A. Shamir, "How to share a secret", CACM 22(11), 1979) byte-wise over
 * GF(2^8) with the AES reduction polynomial x^8 + x^4 + x^3 + x + 1 (0x11B, FIPS 197 §4.2).
 * Each byte of the secret is the constant term of its own random polynomial of degree k-1; share
 * i holds every polynomial evaluated at x = i (1…n, never 0, which is the secret itself). Any k
 * shares give the secret back by Lagrange interpolation at 0; any k-1 are consistent with every
 * possible secret, so they reveal nothing about it.
 *
 * Field arithmetic is done with shifts and masks rather than log/exp tables, so no table index
 * depends on a secret byte (JavaScript promises no timing, but nothing here branches on one).
 */

export interface Share {
  /** The x coordinate, 1…255. Public: it only tells which custodian holds the share. */
  index: number;
  /** The polynomials evaluated at `index`, as long as the secret. Secret: zero it after use. */
  value: Buffer;
}

/** Random bytes for coefficients; injectable so that tests can replay a split. */
export type RandomSource = (size: number) => Buffer;

/**
 * Splits `secret` into `shareCount` shares of which any `threshold` recombine it. Coefficients
 * are drawn from `random` (the CSPRNG by default) and zeroed before returning.
 */
export function split(
  secret: Uint8Array,
  shareCount: number,
  threshold: number,
  random: RandomSource = randomBytes,
): Share[] {
  checkSplitParameters(secret, shareCount, threshold);
  const coefficients = random((threshold - 1) * secret.length);
  try {
    if (coefficients.length !== (threshold - 1) * secret.length) {
      throw kmsError('Validation', 'the random source returned the wrong number of bytes');
    }
    const shares: Share[] = [];
    for (let index = 1; index <= shareCount; index++) {
      const value = Buffer.alloc(secret.length);
      for (let byte = 0; byte < secret.length; byte++) {
        // Horner's rule from the highest coefficient down to the secret byte (the constant term).
        let y = 0;
        for (let degree = threshold - 1; degree >= 1; degree--) {
          y = gfMultiply(y, index) ^ coefficients[(degree - 1) * secret.length + byte]!;
        }
        value[byte] = gfMultiply(y, index) ^ secret[byte]!;
      }
      shares.push({ index, value });
    }
    return shares;
  } finally {
    coefficients.fill(0);
  }
}

/**
 * Lagrange interpolation at x = 0 over the given shares. With fewer shares than the threshold
 * the result is a value unrelated to the secret: nothing here can tell, which is why the caller
 * checks the result (the seal record's key-check value). Distinct indexes and equal lengths are
 * required. The returned buffer belongs to the caller.
 */
export function combine(shares: readonly Share[]): Buffer {
  checkPoints(shares, 1);
  return interpolateAt(shares, 0);
}

/**
 * The polynomial through `points` (x from 0, so a secret can be one of them) evaluated at `x`.
 * `combine` is this at 0; exported so tests can show that k-1 shares fit every secret equally.
 */
export function interpolateAt(points: readonly Share[], x: number): Buffer {
  checkPoints(points, 0);
  if (!Number.isInteger(x) || x < 0 || x > 255) throw kmsError('Validation', 'x must be 0 to 255');
  const length = points[0]!.value.length;
  const out = Buffer.alloc(length);
  for (let i = 0; i < points.length; i++) {
    // Basis polynomial ℓ_i(x) = Π_{j≠i} (x - x_j) / (x_i - x_j); subtraction is XOR in GF(2^8).
    // It depends only on the public indexes.
    let basis = 1;
    const xi = points[i]!.index;
    for (let j = 0; j < points.length; j++) {
      if (j === i) continue;
      const xj = points[j]!.index;
      basis = gfMultiply(basis, gfMultiply(x ^ xj, gfInverse(xi ^ xj)));
    }
    const value = points[i]!.value;
    for (let byte = 0; byte < length; byte++) out[byte] = out[byte]! ^ gfMultiply(basis, value[byte]!);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The persisted (printed) form of a share:
//   sovra-share-v1:<index>:<base64url value>:<checksum>
// The checksum is the first 4 bytes of SHA-256 over everything before it, in hex, so that a
// share mistyped or truncated by a custodian is refused before it is combined with others
// (a wrong but well-formed share can only be caught after combining, by the key-check value).

const SHARE_PREFIX = 'sovra-share-v1';
const CHECKSUM_BYTES = 4;

export function encodeShare(share: Share): string {
  const body = `${SHARE_PREFIX}:${share.index}:${share.value.toString('base64url')}`;
  return `${body}:${shareChecksum(body).toString('hex')}`;
}

/**
 * Parses a printed share. Surrounding whitespace is ignored; anything else that is off (prefix,
 * index, encoding, checksum) fails with KmsError('Validation') whose message never repeats the
 * input, since the input is a secret.
 */
export function decodeShare(text: string): Share {
  if (text.length > LIMITS.shamirShareTextMaxChars) throw invalidShare('it is too long');
  const parts = text.trim().split(':');
  if (parts.length !== 4 || parts[0] !== SHARE_PREFIX) {
    throw invalidShare(`it does not have the form ${SHARE_PREFIX}:<index>:<value>:<checksum>`);
  }
  const [, indexText, valueText, checksumText] = parts as [string, string, string, string];
  if (!/^[1-9][0-9]{0,2}$/.test(indexText) || Number(indexText) > LIMITS.shamirSharesMax) {
    throw invalidShare(`its index must be 1 to ${LIMITS.shamirSharesMax}`);
  }
  if (!/^[0-9a-fA-F]{8}$/.test(checksumText)) throw invalidShare('its checksum must be 8 hex digits');
  const expected = shareChecksum(`${SHARE_PREFIX}:${indexText}:${valueText}`);
  if (!timingSafeEqual(expected, Buffer.from(checksumText, 'hex'))) {
    throw invalidShare('its checksum does not match (mistyped or truncated)');
  }
  if (!/^[A-Za-z0-9_-]+$/.test(valueText)) throw invalidShare('its value is not base64url');
  const value = Buffer.from(valueText, 'base64url');
  if (value.length === 0 || value.length > LIMITS.shamirSecretMaxBytes) {
    value.fill(0);
    throw invalidShare('its value has an impossible length');
  }
  return { index: Number(indexText), value };
}

function shareChecksum(body: string): Buffer {
  return createHash('sha256').update(body, 'utf8').digest().subarray(0, CHECKSUM_BYTES);
}

function invalidShare(reason: string): KmsError {
  return kmsError('Validation', `the share is not valid: ${reason}`, { reason: 'malformed-share' });
}

// ---------------------------------------------------------------------------------------------
// Checks

function checkSplitParameters(secret: Uint8Array, shareCount: number, threshold: number): void {
  if (secret.length === 0 || secret.length > LIMITS.shamirSecretMaxBytes) {
    throw kmsError('Validation', `the secret must be 1 to ${LIMITS.shamirSecretMaxBytes} bytes`);
  }
  if (!Number.isInteger(shareCount) || shareCount < 2 || shareCount > LIMITS.shamirSharesMax) {
    throw kmsError('Validation', `the number of shares must be 2 to ${LIMITS.shamirSharesMax}`, {
      shareCount,
    });
  }
  if (!Number.isInteger(threshold) || threshold < LIMITS.shamirThresholdMin || threshold > shareCount) {
    throw kmsError(
      'Validation',
      `the threshold must be ${LIMITS.shamirThresholdMin} to the number of shares (${shareCount})`,
      { threshold, shareCount },
    );
  }
}

function checkPoints(points: readonly Share[], minIndex: 0 | 1): void {
  if (points.length === 0) throw kmsError('Validation', 'at least one share is needed');
  if (points.length > LIMITS.shamirSharesMax + 1 - minIndex) {
    throw kmsError('Validation', `at most ${LIMITS.shamirSharesMax} shares can be combined`);
  }
  const length = points[0]!.value.length;
  const seen = new Set<number>();
  for (const point of points) {
    if (!Number.isInteger(point.index) || point.index < minIndex || point.index > LIMITS.shamirSharesMax) {
      throw kmsError('Validation', `share indexes must be ${minIndex} to ${LIMITS.shamirSharesMax}`);
    }
    if (seen.has(point.index)) {
      throw kmsError('Validation', `share ${point.index} was given twice`, {
        reason: 'duplicate-share',
        index: point.index,
      });
    }
    seen.add(point.index);
    if (point.value.length !== length) {
      throw kmsError('Validation', 'the shares have different lengths, so they come from different splits');
    }
  }
}

// ---------------------------------------------------------------------------------------------
// GF(2^8) arithmetic, reduction polynomial 0x11B.

/** Carry-less multiplication with reduction, eight fixed rounds, no data-dependent branch. */
export function gfMultiply(a: number, b: number): number {
  let product = 0;
  for (let round = 0; round < 8; round++) {
    product ^= -(b & 1) & a;
    const overflow = -((a >> 7) & 1) & 0x1b;
    a = ((a << 1) & 0xff) ^ overflow;
    b >>= 1;
  }
  return product & 0xff;
}

/** a^254 = a^-1 for a ≠ 0 (the multiplicative group has order 255); 0 maps to 0. */
export function gfInverse(a: number): number {
  // Square-and-multiply over the fixed exponent 254 = 0b11111110.
  let result = 1;
  let power = a;
  for (let bit = 0; bit < 8; bit++) {
    if (((254 >> bit) & 1) === 1) result = gfMultiply(result, power);
    power = gfMultiply(power, power);
  }
  return result;
}
