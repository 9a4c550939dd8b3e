/**
 * Keys of c2sp.org/signed-note: verifier keys ("vkeys"), signer keys, key IDs, and the
 * signature algorithms behind them.
 *
 *     vkey       = <name>+<key ID, 8 lowercase hex digits>+base64(key material)
 *     signer key = PRIVATE+KEY+<name>+<key ID>+base64(signature type ‖ private seed)
 *     key ID     = SHA-256(<name> ‖ 0x0A ‖ key material)[:4], big-endian
 *
 * (the string forms of golang.org/x/mod/sumdb/note). Key material is the signature type
 * identifier followed by the public key. Sovra implements three types:
 *
 * - `ed25519` — type 0x01, 32-byte RFC 8032 public key, 64-byte signature over the note text
 *   (c2sp.org/signed-note "Ed25519 signatures"). Signer keys carry the 32-byte seed.
 * - `cosignature/v1` — type 0x04, a 32-byte Ed25519 public key; the signature is an 8-byte
 *   big-endian POSIX timestamp followed by the Ed25519 signature of
 *   "cosignature/v1\ntime <t>\n" ‖ note text (c2sp.org/tlog-cosignature). Signer keys carry the
 *   seed under type 0x04, by analogy with the Ed25519 signer key (no specification names one).
 * - `ml-dsa-65` — ML-DSA-65 (FIPS 204), Sovra's post-quantum log signature.
 *
 * ML-DSA-65 and the signature type byte. c2sp.org/signed-note (C2SP/C2SP at 1f701bb and after
 * PR #237, which added 0x06) assigns no type to ML-DSA signatures over note text: 0x06 is taken
 * by *ML-DSA-44 timestamped (sub)tree cosignatures* of c2sp.org/tlog-cosignature, which sign a
 * binary `subtree/v1` structure (not the note text) with a different parameter set; 0x03 and
 * 0xfa–0xfe are reserved; nothing is reserved for experiments. The specification keeps 0xff "for
 * signature types without an identifier byte assigned by this specification", RECOMMENDED to be
 * followed by a longer identifier unlikely to collide. Sovra therefore uses 0xff followed by the
 * DER encoding of the ML-DSA-65 object identifier id-ml-dsa-65 (2.16.840.1.101.3.4.3.18, NIST
 * CSOR; the identifier RFC 9881 uses for pure ML-DSA-65 in X.509):
 *
 *     key material = 0xff ‖ 06 09 60 86 48 01 65 03 04 03 12 ‖ 1952-byte FIPS 204 public key (pk)
 *     key ID       = SHA-256(<name> ‖ 0x0A ‖ key material)[:4]
 *     signature    = key ID ‖ 3309-byte ML-DSA-65 signature: ML-DSA.Sign (FIPS 204 Algorithm 2,
 *                    pure, empty context string, hedged) over the note text, final newline included
 *     signer key   = PRIVATE+KEY+<name>+<key ID>+base64(0xff ‖ the same 11 OID bytes ‖ 32-byte seed ξ)
 *
 * Verifiers that do not know this type ignore the signature, as c2sp.org/signed-note requires
 * of unknown keys. The ML-DSA-65 key is published under its own key name, distinct from the
 * Ed25519 key's. docs/reference/audit-log-formats.md describes the same encoding.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  hash,
  sign as signWithKey,
  verify as verifyWithKey,
  type KeyObject,
} from 'node:crypto';
import type { Clock } from '../../../platform/clock.ts';
import { decodeBase64Strict, encodeBase64 } from './base64.ts';
import { cosignedMessage, readCosignatureTimestamp, COSIGNATURE_TIMESTAMP_BYTES } from './cosignature.ts';
import { tlogError } from './errors.ts';

export type NoteKeyType = 'ed25519' | 'cosignature/v1' | 'ml-dsa-65';

/** DER of OBJECT IDENTIFIER 2.16.840.1.101.3.4.3.18 (id-ml-dsa-65). */
const ID_ML_DSA_65_DER = [0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x12];

interface KeyTypeSpec {
  /** The signature type identifier, and for 0xff the identifier that follows it. */
  readonly typePrefix: Buffer;
  readonly nodeKeyType: 'ed25519' | 'ml-dsa-65';
  readonly publicKeyBytes: number;
  /** Bytes after the 4-byte key ID in a signature line. */
  readonly signatureBytes: number;
}

const KEY_TYPES: Readonly<Record<NoteKeyType, KeyTypeSpec>> = {
  ed25519: {
    typePrefix: Buffer.from([0x01]),
    nodeKeyType: 'ed25519',
    publicKeyBytes: 32,
    signatureBytes: 64,
  },
  'cosignature/v1': {
    typePrefix: Buffer.from([0x04]),
    nodeKeyType: 'ed25519',
    publicKeyBytes: 32,
    signatureBytes: COSIGNATURE_TIMESTAMP_BYTES + 64,
  },
  'ml-dsa-65': {
    typePrefix: Buffer.from([0xff, ...ID_ML_DSA_65_DER]),
    nodeKeyType: 'ml-dsa-65',
    publicKeyBytes: 1952,
    signatureBytes: 3309,
  },
};

const NOTE_KEY_TYPES = Object.keys(KEY_TYPES) as NoteKeyType[];
const SEED_BYTES = 32;
const KEY_ID_HEX_PATTERN = /^[0-9a-fA-F]{8}$/;
const SIGNER_KEY_PREFIX = 'PRIVATE+KEY+';

/** Checks signatures by one key. */
export interface NoteVerifier {
  readonly name: string;
  /** The 32-bit key ID (key hash). */
  readonly keyId: number;
  readonly keyType: NoteKeyType;
  /** Whether `signature` (the bytes after the key ID) is this key's signature of `text`. */
  verify(text: Uint8Array, signature: Uint8Array): boolean;
}

/** Signs note text with one key. Async so that keys held by a KMS or an HSM can implement it. */
export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  readonly keyType: NoteKeyType;
  /** The signature of `text`: the bytes that follow the key ID in the signature line. */
  sign(text: Uint8Array): Promise<Uint8Array>;
}

/** A new key: its seed and public key (for storage under a root of trust) and both string forms. */
export interface GeneratedNoteKey {
  readonly keyType: NoteKeyType;
  readonly name: string;
  readonly seed: Buffer;
  readonly publicKey: Buffer;
  readonly signerKey: string;
  readonly verifierKey: string;
}

/** c2sp.org/signed-note: key names are non-empty, without Unicode spaces or `+`. */
export function isValidKeyName(name: unknown): name is string {
  return (
    typeof name === 'string' && name.length > 0 && name.isWellFormed() && !/[\p{White_Space}+]/u.test(name)
  );
}

/** SHA-256(name ‖ 0x0A ‖ key material)[:4] as a big-endian uint32. */
export function noteKeyId(name: string, keyMaterial: Uint8Array): number {
  return hash(
    'sha256',
    Buffer.concat([Buffer.from(`${name}\n`, 'utf8'), keyMaterial]),
    'buffer',
  ).readUInt32BE(0);
}

export function generateNoteKey(keyType: NoteKeyType, name: string): GeneratedNoteKey {
  assertKeyName(name);
  const spec = specOf(keyType);
  const { privateKey } =
    spec.nodeKeyType === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ml-dsa-65');
  const seed = privateKey.export({ format: spec.nodeKeyType === 'ed25519' ? 'raw-private' : 'raw-seed' });
  const publicKey = createPublicKey(privateKey).export({ format: 'raw-public' });
  return {
    keyType,
    name,
    seed,
    publicKey,
    signerKey: formatSignerKey(keyType, name, seed, publicKey),
    verifierKey: formatVerifierKey(keyType, name, publicKey),
  };
}

/** `<name>+<key ID>+base64(key material)` for a public key of `keyType`. */
export function formatVerifierKey(keyType: NoteKeyType, name: string, publicKey: Uint8Array): string {
  assertKeyName(name);
  const spec = specOf(keyType);
  if (publicKey.byteLength !== spec.publicKeyBytes) {
    throw tlogError('MalformedKey', `a ${keyType} public key has ${spec.publicKeyBytes} bytes`, {
      byteLength: publicKey.byteLength,
    });
  }
  const material = Buffer.concat([spec.typePrefix, publicKey]);
  return `${name}+${hex32(noteKeyId(name, material))}+${encodeBase64(material)}`;
}

/** Parses a vkey (golang.org/x/mod/sumdb/note NewVerifier, with strict base64 and lengths). */
export function parseVerifierKey(verifierKey: string): NoteVerifier {
  const { name, keyId, material } = splitKeyString(verifierKey, 'verifier');
  if (noteKeyId(name, material) !== keyId) {
    throw tlogError('KeyHashMismatch', `the key ID of verifier key ${name} does not match its key`, { name });
  }
  const keyType = keyTypeOf(material);
  const spec = KEY_TYPES[keyType];
  const rawPublicKey = material.subarray(spec.typePrefix.byteLength);
  if (rawPublicKey.byteLength !== spec.publicKeyBytes) {
    throw tlogError('MalformedKey', `a ${keyType} public key has ${spec.publicKeyBytes} bytes`, { name });
  }
  const publicKey = importPublicKey(spec, rawPublicKey);
  return {
    name,
    keyId,
    keyType,
    verify: (text, signature) => verifySignature(keyType, publicKey, text, signature),
  };
}

/**
 * Parses a signer key `PRIVATE+KEY+<name>+<key ID>+base64(type ‖ seed)` and checks the key ID
 * against the public key derived from the seed. `clock` dates cosignatures (cosignature/v1).
 */
export function parseSignerKey(
  signerKey: string,
  clock: Clock,
): NoteSigner & { readonly verifierKey: string } {
  if (typeof signerKey !== 'string' || !signerKey.startsWith(SIGNER_KEY_PREFIX)) {
    throw tlogError('MalformedKey', 'a signer key starts with PRIVATE+KEY+');
  }
  const { name, keyId, material } = splitKeyString(signerKey.slice(SIGNER_KEY_PREFIX.length), 'signer');
  const keyType = keyTypeOf(material);
  const seed = material.subarray(KEY_TYPES[keyType].typePrefix.byteLength);
  const signer = createNoteSigner({ keyType, name, seed, clock });
  if (signer.keyId !== keyId) {
    throw tlogError('KeyHashMismatch', `the key ID of signer key ${name} does not match its key`, { name });
  }
  return signer;
}

/** A signer from a 32-byte seed (Ed25519 private key, or ML-DSA-65 seed ξ) held elsewhere. */
export function createNoteSigner(options: {
  keyType: NoteKeyType;
  name: string;
  seed: Uint8Array;
  clock: Clock;
}): NoteSigner & { readonly verifierKey: string } {
  const { keyType, name, seed, clock } = options;
  assertKeyName(name);
  const spec = specOf(keyType);
  if (!(seed instanceof Uint8Array) || seed.byteLength !== SEED_BYTES) {
    throw tlogError('MalformedKey', `a ${keyType} seed has ${SEED_BYTES} bytes`, { name });
  }
  const privateKey = createPrivateKey({
    key: Buffer.from(seed),
    format: spec.nodeKeyType === 'ed25519' ? 'raw-private' : 'raw-seed',
    asymmetricKeyType: spec.nodeKeyType,
  });
  const publicKey = createPublicKey(privateKey).export({ format: 'raw-public' });
  const verifierKey = formatVerifierKey(keyType, name, publicKey);
  const keyId = noteKeyId(name, Buffer.concat([spec.typePrefix, publicKey]));
  const sign = (text: Uint8Array): Promise<Uint8Array> => {
    if (keyType !== 'cosignature/v1') return Promise.resolve(signWithKey(null, text, privateKey));
    const timestamp = Math.floor(clock.nowMs() / 1000);
    const signature = signWithKey(null, cosignedMessage(text, timestamp), privateKey);
    const timestamped = Buffer.alloc(COSIGNATURE_TIMESTAMP_BYTES + signature.byteLength);
    timestamped.writeBigUInt64BE(BigInt(timestamp), 0);
    timestamped.set(signature, COSIGNATURE_TIMESTAMP_BYTES);
    return Promise.resolve(timestamped);
  };
  return { name, keyId, keyType, verifierKey, sign };
}

function verifySignature(
  keyType: NoteKeyType,
  publicKey: KeyObject,
  text: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (signature.byteLength !== KEY_TYPES[keyType].signatureBytes) return false;
  try {
    if (keyType !== 'cosignature/v1') return verifyWithKey(null, text, publicKey, signature);
    const timestamp = readCosignatureTimestamp(signature);
    if (timestamp === undefined) return false;
    return verifyWithKey(
      null,
      cosignedMessage(text, timestamp),
      publicKey,
      signature.subarray(COSIGNATURE_TIMESTAMP_BYTES),
    );
  } catch {
    return false;
  }
}

function formatSignerKey(
  keyType: NoteKeyType,
  name: string,
  seed: Uint8Array,
  publicKey: Uint8Array,
): string {
  const spec = specOf(keyType);
  const keyId = noteKeyId(name, Buffer.concat([spec.typePrefix, publicKey]));
  return `${SIGNER_KEY_PREFIX}${name}+${hex32(keyId)}+${encodeBase64(Buffer.concat([spec.typePrefix, seed]))}`;
}

/** `<name>+<hex key ID>+<base64>`; base64 contains `+`, so only the first two `+` split. */
function splitKeyString(text: string, what: string): { name: string; keyId: number; material: Buffer } {
  if (typeof text !== 'string') throw tlogError('MalformedKey', `a ${what} key is a string`);
  const first = text.indexOf('+');
  const second = first < 0 ? -1 : text.indexOf('+', first + 1);
  const name = text.slice(0, Math.max(first, 0));
  const keyIdHex = second < 0 ? '' : text.slice(first + 1, second);
  const material = second < 0 ? undefined : decodeBase64Strict(text.slice(second + 1));
  if (
    !isValidKeyName(name) ||
    !KEY_ID_HEX_PATTERN.test(keyIdHex) ||
    material === undefined ||
    material.byteLength === 0
  ) {
    throw tlogError('MalformedKey', `not a ${what} key of the form <name>+<key ID>+<base64 key>`);
  }
  return { name, keyId: parseInt(keyIdHex, 16), material };
}

function keyTypeOf(material: Buffer): NoteKeyType {
  const keyType = NOTE_KEY_TYPES.find((type) => {
    const prefix = KEY_TYPES[type].typePrefix;
    return material.byteLength >= prefix.byteLength && prefix.equals(material.subarray(0, prefix.byteLength));
  });
  if (keyType === undefined) {
    throw tlogError(
      'UnsupportedKeyType',
      `signature type 0x${material[0]!.toString(16).padStart(2, '0')} is not supported`,
      {
        type: material[0],
      },
    );
  }
  return keyType;
}

function importPublicKey(spec: KeyTypeSpec, rawPublicKey: Buffer): KeyObject {
  try {
    return createPublicKey({ key: rawPublicKey, format: 'raw-public', asymmetricKeyType: spec.nodeKeyType });
  } catch (cause) {
    throw tlogError('MalformedKey', `not a valid ${spec.nodeKeyType} public key`, { cause: String(cause) });
  }
}

function specOf(keyType: NoteKeyType): KeyTypeSpec {
  const spec = (KEY_TYPES as Partial<Record<string, KeyTypeSpec>>)[keyType];
  if (spec === undefined) throw tlogError('UnsupportedKeyType', `unknown note key type ${String(keyType)}`);
  return spec;
}

function assertKeyName(name: string): void {
  if (!isValidKeyName(name)) {
    throw tlogError('MalformedKey', 'a key name is non-empty and has no Unicode spaces or +', {
      name: String(name),
    });
  }
}

function hex32(value: number): string {
  return value.toString(16).padStart(8, '0');
}
