import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * The AES-256-GCM envelope Sovra keeps small secrets in — key material wrapped by the software
 * root, credential secrets sealed under the credential key or the local key file:
 * u8 format ‖ 12-byte random IV ‖ ciphertext ‖ 16-byte tag, with an AAD binding the value to what
 * it belongs to. Each user has its own format byte, so one user's value is never taken for
 * another's layout.
 */
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function sealEnvelope(
  key: Uint8Array,
  format: number,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([format]), iv, body, cipher.getAuthTag()]);
}

/**
 * The plaintext of an envelope of `format`; 'format' when the bytes are not in that layout,
 * 'authentication' when the tag does not verify (tampering, another key or another AAD). Callers
 * answer each with their own error.
 */
export function openEnvelope(
  key: Uint8Array,
  format: number,
  sealed: Uint8Array,
  aad: Uint8Array,
): Buffer | 'format' | 'authentication' {
  const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (bytes.length < 1 + IV_BYTES + TAG_BYTES || bytes[0] !== format) return 'format';
  const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(1, 1 + IV_BYTES));
  decipher.setAAD(aad);
  decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
  try {
    return Buffer.concat([
      decipher.update(bytes.subarray(1 + IV_BYTES, bytes.length - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    return 'authentication';
  }
}
