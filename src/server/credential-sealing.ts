import { unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  createCredentialKey,
  readCredentialKey,
  unwrapCredentialKey,
} from '../adapters/secrets/credential-key.ts';
import {
  credentialKeyPath,
  readCredentialKeyFile,
  removeCredentialKeyFile,
  syncDirectory,
} from '../adapters/secrets/credential-key-file.ts';
import { LocalKeySealer, localSealKeyPath } from '../adapters/secrets/local-key-sealer.ts';
import { RootWrappedSealer } from '../adapters/secrets/root-wrapped-sealer.ts';
import { keyAad } from '../domain/audit/checkpointer.ts';
import type { AuditLogStore } from '../domain/audit/ports.ts';
import type { SecretSealer } from '../domain/iam/credentials.ts';
import type { CredentialKeyStore } from '../domain/iam/ports.ts';
import { resealStoredSecrets, type SealedSecretStores } from '../domain/iam/secret-resealing.ts';
import { kmsError } from '../domain/kms/errors.ts';
import type { RootOfTrust } from '../domain/kms/root-of-trust.ts';
import type { ShamirSeal } from '../domain/kms/seal.ts';
import type { Logger } from '../platform/logger.ts';

export interface CredentialSealingOptions {
  dataDir: string;
  /** null with `--root-of-trust none`. */
  root: RootOfTrust | null;
  /** The sealed software root's seal; null for roots unsealed from start to stop. */
  seal: ShamirSeal | null;
  /** Where K is kept, wrapped by the root: the metadata database every gateway shares. */
  keyStore: CredentialKeyStore;
  /** Where sealed secrets are stored, to re-seal those of the local key file. */
  stores: SealedSecretStores;
  /** The audit log's keys: a local key file still wrapping one is kept (see retireLocalSealKey). */
  logKeys: Pick<AuditLogStore, 'logKeys'>;
  log: Logger;
  /**
   * Work that needs the sealer (the root tenant's bootstrap), run each time it becomes available:
   * at start, or after each unseal of the sealed software root.
   */
  whenAvailable: (sealer: SecretSealer) => Promise<void>;
}

/**
 * The sealer of credential secrets (access keys' and role sessions' secret keys), placed under the
 * KMS root of trust (docs/decisions/0005): its key K is stored only wrapped by the root, in the
 * metadata database (one K for every gateway sharing it), and held in memory only while the root
 * is unsealed. A root unsealed from start to stop (local-key, pkcs11) unwraps K here; the sealed
 * software root unwraps it when a quorum unseals it, before the unseal is answered, and the seal
 * forgets it.
 * Until then the sealer throws KmsError('Sealed'): every signed request answers 503.
 *
 * Without a root of trust the secrets stay under the local key file, as the embedded default of
 * tests and benchmarks. An installation that has that file and a root of trust re-seals its
 * secrets under K the first time K is available, then deletes the file.
 */
export async function openCredentialSealer(options: CredentialSealingOptions): Promise<SecretSealer> {
  const { root, seal, log } = options;
  if (root === null) {
    const path = localSealKeyPath(options.dataDir);
    const sealer = LocalKeySealer.openOrCreate(path);
    log.warn(
      { sealKeyFile: path },
      'no root of trust: credential secrets are sealed under a local key file beside the data (tests and benchmarks only)',
    );
    await options.whenAvailable(sealer);
    return sealer;
  }
  const sealer = new RootWrappedSealer();
  if (seal === null) {
    await loadCredentialKey(sealer, root, options);
    await options.whenAvailable(sealer);
    return sealer;
  }
  seal.whenUnsealed(async () => {
    try {
      await loadCredentialKey(sealer, root, options);
    } catch (error) {
      log.error(
        { err: error },
        'the credential-sealing key could not be loaded after unseal: signed requests answer 503 until the next unseal',
      );
      return;
    }
    await options
      .whenAvailable(sealer)
      .catch((error: unknown) => log.error({ err: error }, 'work waiting for the unseal failed'));
  });
  seal.whenSealed(() => sealer.forget());
  log.info(
    {},
    'credential secrets are sealed under the root of trust: signed requests answer 503 until it is unsealed',
  );
  return sealer;
}

/** Unwraps (or creates) K into the sealer; secrets still under the local key file move under it. */
async function loadCredentialKey(
  sealer: RootWrappedSealer,
  root: RootOfTrust,
  options: CredentialSealingOptions,
): Promise<void> {
  const { key, created } = await openCredentialKey(root, options);
  const legacyPath = localSealKeyPath(options.dataDir);
  const legacy = LocalKeySealer.openExisting(legacyPath);
  sealer.load(key, legacy);
  options.log.info(
    { created },
    'credential secrets are sealed under a key that only the root of trust unwraps',
  );
  if (legacy === null) return;
  await retireLocalSealKey(sealer, legacy, legacyPath, options).catch((error: unknown) =>
    options.log.error(
      { err: error, sealKeyFile: legacyPath },
      'secrets sealed under the local key file could not be re-sealed under the root of trust: they are ' +
        'still read with it, and the next start (or unseal) tries again',
    ),
  );
}

/**
 * The installation's K: a data directory's key file of before migration 16, moved into the
 * metadata database; else the one stored there; else a new one, which must be the installation's
 * first. The database holding format-2 secrets but no K means they were sealed under a key file
 * that no gateway has imported yet: creating a K then would leave them unreadable for good (the
 * stored K is never replaced), so start refuses instead.
 */
async function openCredentialKey(
  root: RootOfTrust,
  options: CredentialSealingOptions,
): Promise<{ key: Buffer; created: boolean }> {
  const imported = await importCredentialKeyFile(root, options);
  if (imported !== null) return { key: imported, created: false };
  const stored = await readCredentialKey(options.keyStore, root);
  if (stored !== null) return { key: stored, created: false };
  if (await holdsSecretsOfAnotherKey(options.stores)) {
    // Another gateway may have stored its K, and sealed a secret under it, since the read above.
    const since = await readCredentialKey(options.keyStore, root);
    if (since !== null) return { key: since, created: false };
    throw kmsError(
      'RootUnavailable',
      'the metadata database holds credential secrets sealed under a credential-sealing key but not the key ' +
        'itself: it is still in keys/credential-key.wrapped of a gateway that kept it there (before ' +
        'migration 16). Start that gateway first, with its data directory: it moves the key into the database',
    );
  }
  return createCredentialKey(options.keyStore, root);
}

/**
 * Moves `keys/credential-key.wrapped`, where gateways before migration 16 kept K, into the metadata
 * database: the file's K is unwrapped first (a file this root does not open is never stored), then
 * stored unless the database holds one, and the file is deleted once the database holds its K (a
 * crash in between imports it again, harmlessly). A database that already holds another K (two
 * gateways that each created their own) refuses to start: secrets sealed under the file's K cannot
 * be read under the database's. Null when there is no file.
 */
async function importCredentialKeyFile(
  root: RootOfTrust,
  options: CredentialSealingOptions,
): Promise<Buffer | null> {
  const path = credentialKeyPath(options.dataDir);
  const wrapped = await readCredentialKeyFile(path);
  if (wrapped === null) return null;
  const key = await unwrapCredentialKey(wrapped, root, path);
  try {
    const stored = await options.keyStore.createIfAbsent(wrapped);
    // Another gateway may have imported a copy of the file, wrapped alike or (wrapped again) not.
    if (!stored.equals(wrapped)) {
      const storedKey = await unwrapCredentialKey(stored, root, 'the metadata database');
      const same = storedKey.equals(key);
      storedKey.fill(0);
      if (!same) {
        throw kmsError(
          'RootUnavailable',
          `${path} holds a credential-sealing key other than the one in the metadata database, which every ` +
            "gateway sharing the database uses: secrets sealed under the file's key cannot be read under it. " +
            "Move the file out of the data directory (keep it) to start with the database's key; access keys " +
            "whose secrets were sealed under the file's key must then be issued again",
        );
      }
    }
    removeCredentialKeyFile(path);
  } catch (error) {
    key.fill(0);
    throw error;
  }
  options.log.info(
    { removed: path },
    'the credential-sealing key of the data directory is now kept in the metadata database; the key file is deleted',
  );
  return key;
}

/**
 * Re-seals every stored secret of the local key file under K (one transaction per table), then
 * deletes the file and makes its removal durable. Audit log keys wrapped under the file (an
 * installation that ran without a root of trust) are not the sealer's to move, and the root cannot
 * unwrap them: the file is then kept, with a warning, rather than losing them.
 */
async function retireLocalSealKey(
  sealer: RootWrappedSealer,
  legacy: LocalKeySealer,
  path: string,
  options: CredentialSealingOptions,
): Promise<void> {
  const resealed = await resealStoredSecrets(
    (sealed, context) => sealer.reseal(sealed, context),
    options.stores,
  );
  if (await wrapsLogKeys(legacy, options.logKeys)) {
    options.log.warn(
      { ...resealed, sealKeyFile: path },
      'credential secrets were re-sealed under the root of trust, but the local key file is kept: it wraps ' +
        'audit log keys written without a root of trust',
    );
    return;
  }
  sealer.retireLegacy();
  unlinkSync(path);
  syncDirectory(dirname(path));
  options.log.info(
    { ...resealed, removed: path },
    'secrets sealed under the local key file were re-sealed under the root of trust; the key file is deleted',
  );
}

/**
 * True when stored secrets are in K's format (sealed under some K). One pass over the rows,
 * changing none, made only while the database holds no K.
 */
async function holdsSecretsOfAnotherKey(stores: SealedSecretStores): Promise<boolean> {
  let found = false;
  await resealStoredSecrets((sealed) => {
    found ||= RootWrappedSealer.isSealedUnderCredentialKey(sealed);
    return null;
  }, stores);
  return found;
}

/** True when a stored audit log key unseals under the local key file (logKeyCustody without a root). */
async function wrapsLogKeys(legacy: LocalKeySealer, store: Pick<AuditLogStore, 'logKeys'>): Promise<boolean> {
  for (const key of await store.logKeys()) {
    try {
      legacy.unseal(key.wrappedPrivateKey, keyAad(key.name, key.algorithm).toString('utf8')).fill(0);
      return true;
    } catch {
      // Wrapped by the root of trust: not the file's.
    }
  }
  return false;
}
