import { createCipheriv, createDecipheriv, type KeyObject } from 'node:crypto';
import { fillPublicRandom } from '../../platform/random-pool.ts';
import { LIMITS } from '../../platform/limits.ts';
import { kmsError, type KmsError } from './errors.ts';

/**
 * The symmetric ciphertext blob, format 1 (docs/architecture.md, "KMS ciphertext blobs"):
 *
 *   u8 format (1) ‖ 16-byte key id (UUID bytes) ‖ u32 BE key version ‖ 12-byte IV ‖
 *   AES-256-GCM ciphertext ‖ 16-byte tag
 *
 * The AAD is the 21-byte header (format, key id, version) followed by the canonical encoding of
 * the encryption context, so a blob cannot be moved to another key or version, nor decrypted
 * under another context. Decrypt needs no key id: the blob names its key and version.
 */
export const CIPHERTEXT_FORMAT_AES_GCM = 1;
const KEY_ID_BYTES = 16;
const VERSION_BYTES = 4;
const HEADER_BYTES = 1 + KEY_ID_BYTES + VERSION_BYTES;
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const CIPHERTEXT_OVERHEAD_BYTES = HEADER_BYTES + IV_BYTES + TAG_BYTES;

export type EncryptionContext = Readonly<Record<string, string>>;

export interface CiphertextHeader {
  keyId: string;
  version: number;
}

/** Reads the key id and version; anything that is not a format-1 blob is InvalidCiphertext. */
export function readCiphertextHeader(blob: Uint8Array): CiphertextHeader {
  if (blob.length < CIPHERTEXT_OVERHEAD_BYTES || blob[0] !== CIPHERTEXT_FORMAT_AES_GCM) {
    throw invalidCiphertext();
  }
  const bytes = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const version = bytes.readUInt32BE(1 + KEY_ID_BYTES);
  if (version === 0) throw invalidCiphertext();
  return { keyId: uuidText(bytes.subarray(1, 1 + KEY_ID_BYTES)), version };
}

/** Encrypts under one key version's AES-256 key. */
export function sealCiphertext(
  material: KeyObject,
  header: CiphertextHeader,
  plaintext: Uint8Array,
  context: EncryptionContext,
): Buffer {
  const blob = Buffer.allocUnsafe(CIPHERTEXT_OVERHEAD_BYTES + plaintext.length);
  writeHeader(blob, header);
  const iv = fillPublicRandom(blob.subarray(HEADER_BYTES, HEADER_BYTES + IV_BYTES));
  const cipher = createCipheriv('aes-256-gcm', material, iv);
  cipher.setAAD(additionalData(blob.subarray(0, HEADER_BYTES), context));
  cipher.update(plaintext).copy(blob, HEADER_BYTES + IV_BYTES);
  cipher.final();
  cipher.getAuthTag().copy(blob, blob.length - TAG_BYTES);
  return blob;
}

/** Decrypts a blob whose header was read by readCiphertextHeader; any mismatch is InvalidCiphertext. */
export function openCiphertext(material: KeyObject, blob: Uint8Array, context: EncryptionContext): Buffer {
  const bytes = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const iv = bytes.subarray(HEADER_BYTES, HEADER_BYTES + IV_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', material, iv);
  decipher.setAAD(additionalData(bytes.subarray(0, HEADER_BYTES), context));
  decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
  try {
    const plaintext = decipher.update(bytes.subarray(HEADER_BYTES + IV_BYTES, bytes.length - TAG_BYTES));
    decipher.final();
    return plaintext;
  } catch {
    throw invalidCiphertext();
  }
}

/**
 * The canonical encoding of an encryption context: u16 pair count, then per pair, in ascending
 * order of key (UTF-16 code units, as JavaScript compares strings), u16 length ‖ UTF-8 key ‖ u16
 * length ‖ UTF-8 value. Length prefixes make it unambiguous; the order makes it independent of
 * the order the client sent the pairs in.
 */
export function encodeEncryptionContext(context: EncryptionContext): Buffer {
  const names = Object.keys(context).sort();
  const parts: Buffer[] = [u16(names.length)];
  for (const name of names) {
    const key = Buffer.from(name, 'utf8');
    const value = Buffer.from(context[name] ?? '', 'utf8');
    parts.push(u16(key.length), key, u16(value.length), value);
  }
  return Buffer.concat(parts);
}

/** Checks an encryption context against the limits AWS sets (UTF-8 bytes of all keys and values). */
export function checkEncryptionContext(context: EncryptionContext, field: string): void {
  let bytes = 0;
  for (const [key, value] of Object.entries(context)) {
    if (key.length === 0) throw kmsError('Validation', `${field} keys must not be empty`);
    bytes += Buffer.byteLength(key, 'utf8') + Buffer.byteLength(value, 'utf8');
  }
  if (bytes > LIMITS.kmsEncryptionContextMaxBytes) {
    throw kmsError(
      'Validation',
      `${field} is ${bytes} bytes; at most ${LIMITS.kmsEncryptionContextMaxBytes} are allowed`,
    );
  }
}

const EMPTY_CONTEXT_ENCODING = Buffer.from([0, 0]);

function additionalData(head: Buffer, context: EncryptionContext): Buffer {
  for (const _ in context) return Buffer.concat([head, encodeEncryptionContext(context)]);
  return Buffer.concat([head, EMPTY_CONTEXT_ENCODING]);
}

function writeHeader(blob: Buffer, header: CiphertextHeader): void {
  blob[0] = CIPHERTEXT_FORMAT_AES_GCM;
  uuidBytes(header.keyId).copy(blob, 1);
  blob.writeUInt32BE(header.version, 1 + KEY_ID_BYTES);
}

function u16(value: number): Buffer {
  const bytes = Buffer.allocUnsafe(2);
  bytes.writeUInt16BE(value, 0);
  return bytes;
}

/** A canonical (lower-case, hyphenated) UUID as its 16 bytes. */
export function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

function uuidText(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Every decryption failure looks the same from outside (docs/architecture.md, principle 4). */
export function invalidCiphertext(): KmsError {
  return kmsError('InvalidCiphertext', 'The ciphertext is invalid or was not encrypted under this context.');
}
