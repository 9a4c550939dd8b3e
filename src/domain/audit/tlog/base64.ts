/**
 * Standard base64 (RFC 4648 §4, with padding), decoded strictly: Node's decoder skips unknown
 * characters and accepts the URL alphabet and missing padding, which would let two different
 * strings name the same key or signature. Only the canonical encoding is accepted.
 */
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The decoded bytes, or undefined unless `text` is canonical padded standard base64. */
export function decodeBase64Strict(text: string): Buffer | undefined {
  if (!BASE64_PATTERN.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  // Non-zero bits in the last character's unused low bits would decode the same; refuse them.
  return bytes.toString('base64') === text ? bytes : undefined;
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
