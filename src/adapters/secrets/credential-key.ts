import { randomBytes } from 'node:crypto';
import type { CredentialKeyStore } from '../../domain/iam/ports.ts';
import { kmsError } from '../../domain/kms/errors.ts';
import type { RootOfTrust } from '../../domain/kms/root-of-trust.ts';
import { isSovraError } from '../../platform/errors.ts';

const KEY_BYTES = 32;
/** Names what the wrapped key is for: the root refuses to unwrap it as anything else, or vice versa. */
const CREDENTIAL_KEY_AAD = Buffer.from('sovra-credential-sealing-key/v1', 'utf8');

/**
 * The credential-sealing key K of RootWrappedSealer, unwrapped by the root of trust from the
 * metadata database (CredentialKeyStore, format 1); null when the installation has none yet.
 * K never reaches the database unwrapped. A stored key that does not unwrap (another root,
 * tampering) stops here with RootUnavailable rather than starting a second key beside the
 * secrets sealed under the first.
 */
export async function readCredentialKey(
  store: CredentialKeyStore,
  root: RootOfTrust,
): Promise<Buffer | null> {
  const stored = await store.read();
  return stored === null ? null : unwrapCredentialKey(stored, root, 'the metadata database');
}

/**
 * Generates K, wraps it and stores the wrapping unless another gateway stored one first; then K
 * is that gateway's, unwrapped, and this one's is zeroed. `created` is true when K is this call's.
 */
export async function createCredentialKey(
  store: CredentialKeyStore,
  root: RootOfTrust,
): Promise<{ key: Buffer; created: boolean }> {
  const key = randomBytes(KEY_BYTES);
  let wrapped: Buffer;
  let stored: Buffer;
  try {
    wrapped = await wrapCredentialKey(key, root);
    stored = await store.createIfAbsent(wrapped);
  } catch (error) {
    key.fill(0);
    throw error;
  }
  if (stored.equals(wrapped)) return { key, created: true };
  key.fill(0);
  return { key: await unwrapCredentialKey(stored, root, 'the metadata database'), created: false };
}

/** The root of trust's wrapping of K under CREDENTIAL_KEY_AAD (the stored value of format 1). */
export function wrapCredentialKey(key: Buffer, root: RootOfTrust): Promise<Buffer> {
  return root.wrap(key, CREDENTIAL_KEY_AAD);
}

/**
 * K from its wrapping; `source` names where the wrapping was read, for the operator. A wrapping
 * this root does not open is RootUnavailable: the root was changed or the value damaged.
 */
export async function unwrapCredentialKey(
  wrapped: Buffer,
  root: RootOfTrust,
  source: string,
): Promise<Buffer> {
  let key: Buffer;
  try {
    key = await root.unwrap(wrapped, CREDENTIAL_KEY_AAD);
  } catch (error) {
    if (isSovraError(error) && error.code === 'InvalidCiphertext') {
      throw kmsError(
        'RootUnavailable',
        `the credential-sealing key in ${source} does not unwrap under this root of trust: the root was changed or the key damaged`,
      );
    }
    throw error;
  }
  if (key.length !== KEY_BYTES) {
    key.fill(0);
    throw kmsError(
      'RootUnavailable',
      `the credential-sealing key in ${source} is not a ${KEY_BYTES}-byte key`,
    );
  }
  return key;
}
