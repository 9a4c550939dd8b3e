import { accessKeySecretContext, sessionSecretContext } from './credentials.ts';
import type { IdentityStore } from './ports.ts';
import type { FederationStore } from './sts-sessions.ts';

/**
 * Gives one stored secret, identified by its access key id, a new sealed value; null leaves the
 * row as it is (it is sealed under the current key already). Called row by row inside a store's
 * transaction, so it is synchronous, as SecretSealer is.
 */
export type ResealStoredSecret = (accessKeyId: string, sealed: Uint8Array) => Uint8Array | null;

/** Re-seals one sealed value under the current sealer; null when it already is. */
export type ResealSecret = (sealed: Uint8Array, context: string) => Uint8Array | null;

export interface SealedSecretStores {
  accessKeys: Pick<IdentityStore, 'resealAccessKeySecrets'>;
  sessions: Pick<FederationStore, 'resealSessionSecrets'>;
}

/**
 * Every stored secret sealed again through `reseal`: access keys' secrets, then role sessions'
 * (each table in one transaction, so a crash leaves either all of a table re-sealed or none).
 * Returns how many rows changed in each. The contexts are those the secrets were sealed under.
 */
export async function resealStoredSecrets(
  reseal: ResealSecret,
  stores: SealedSecretStores,
): Promise<{ accessKeys: number; sessions: number }> {
  const accessKeys = await stores.accessKeys.resealAccessKeySecrets((accessKeyId, sealed) =>
    reseal(sealed, accessKeySecretContext(accessKeyId)),
  );
  const sessions = await stores.sessions.resealSessionSecrets((accessKeyId, sealed) =>
    reseal(sealed, sessionSecretContext(accessKeyId)),
  );
  return { accessKeys, sessions };
}
