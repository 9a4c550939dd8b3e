import type { KeyRing } from '../domain/kms/key-ring.ts';
import type { KeyStore } from '../domain/kms/ports.ts';
import { storageError } from '../domain/storage/errors.ts';
import {
  DATA_KEY_BYTES,
  MANAGED_S3_KEY_ALIAS,
  type DataKeySource,
} from '../domain/storage/object-encryption.ts';
import type { Clock } from '../platform/clock.ts';
import { isSovraError } from '../platform/errors.ts';

/** What S3 answers for a read of data whose KMS key's deletion completed: the data is gone for good. */
export const CRYPTO_SHREDDED_MESSAGE =
  'The KMS key protecting this object has been deleted; the data is unrecoverable.';

/**
 * Object encryption's view of the key ring (the DataKeySource port): data keys are generated and
 * unwrapped under the object owner's tenant, as the request's principal with its justification
 * (the key policy decides on them and the decision record names them), and KMS failures become
 * storage errors that the S3 table maps as S3 reports them (sealed → 503, disabled →
 * KMS.DisabledException, denied by the key policy → AccessDenied, …).
 */
export function keyRingDataKeys(keyRing: KeyRing, keys: KeyStore, clock: Clock): DataKeySource {
  const managed = new Map<string, Promise<string>>();
  return {
    async generateDataKey(tenantId, keyReference, context, keyUse) {
      try {
        const generated = await keyRing.generateDataKey(tenantId, {
          keyReference,
          numberOfBytes: DATA_KEY_BYTES,
          context,
          dryRun: false,
          justification: { ...keyUse, operation: 'GenerateDataKey' },
        });
        return generated;
      } catch (error) {
        throw asStorageError(error);
      }
    },
    async decryptDataKey(tenantId, kmsKeyId, ciphertextBlob, context, keyUse) {
      try {
        const { plaintext } = await keyRing.decrypt(tenantId, {
          ciphertextBlob,
          context,
          keyReference: null,
          dryRun: false,
          justification: { ...keyUse, operation: 'Decrypt' },
        });
        return plaintext;
      } catch (error) {
        if (isSovraError(error) && (error.code === 'InvalidCiphertext' || error.code === 'KeyNotFound')) {
          if (!(await keyExists(keyRing, tenantId, kmsKeyId))) {
            throw storageError('EncryptionKeyDeleted', CRYPTO_SHREDDED_MESSAGE, { kmsKeyId });
          }
          // The key exists but does not open the wrapped key: stored metadata was altered.
          throw storageError('DataCorrupted', 'stored object data failed verification');
        }
        throw asStorageError(error);
      }
    },
    managedKeyId(tenantId) {
      // One creation in flight per tenant in this process; across processes the alias insert
      // decides (see ensureManagedKey).
      let pending = managed.get(tenantId);
      if (pending === undefined) {
        pending = ensureManagedKey(keyRing, keys, clock, tenantId).catch((error: unknown) => {
          managed.delete(tenantId);
          throw asStorageError(error);
        });
        managed.set(tenantId, pending);
      }
      return pending;
    },
  };
}

/**
 * The tenant's managed S3 key, as AWS creates aws/s3 on first use
 * (https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#aws-managed-key). The alias
 * is reserved (CreateAlias refuses alias/aws/), so it is inserted directly. Two gateways racing
 * both create a key; the alias insert of one fails, and the loser schedules its unused key for
 * deletion and uses the winner's.
 */
async function ensureManagedKey(
  keyRing: KeyRing,
  keys: KeyStore,
  clock: Clock,
  tenantId: string,
): Promise<string> {
  const existing = await findManagedKey(keyRing, tenantId);
  if (existing !== null) return existing;
  const created = await keyRing.createKey(tenantId, {
    keySpec: 'SYMMETRIC_DEFAULT',
    keyUsage: 'ENCRYPT_DECRYPT',
    description: 'Default key that protects my S3 objects when no other KMS key is defined',
    policy: null,
    tags: [],
  });
  const now = clock.now();
  try {
    await keys.transaction((tx) =>
      tx.insertAlias({
        tenantId,
        aliasName: MANAGED_S3_KEY_ALIAS,
        keyId: created.keyId,
        createdAt: now,
        updatedAt: now,
      }),
    );
    return created.keyId;
  } catch (error) {
    const winner = await findManagedKey(keyRing, tenantId);
    if (winner === null) throw error;
    await keyRing.scheduleKeyDeletion(tenantId, created.keyId, null);
    return winner;
  }
}

async function findManagedKey(keyRing: KeyRing, tenantId: string): Promise<string | null> {
  try {
    return (await keyRing.describeKey(tenantId, MANAGED_S3_KEY_ALIAS)).keyId;
  } catch (error) {
    if (isSovraError(error) && (error.code === 'AliasNotFound' || error.code === 'KeyNotFound')) return null;
    throw error;
  }
}

async function keyExists(keyRing: KeyRing, tenantId: string, kmsKeyId: string): Promise<boolean> {
  if (kmsKeyId === '') return false;
  try {
    await keyRing.describeKey(tenantId, kmsKeyId);
    return true;
  } catch (error) {
    if (isSovraError(error) && error.code === 'KeyNotFound') return false;
    throw asStorageError(error);
  }
}

function asStorageError(error: unknown): unknown {
  if (!isSovraError(error)) return error;
  switch (error.code) {
    case 'Sealed':
    case 'RootUnavailable':
      return storageError('EncryptionUnavailable', error.message);
    case 'KeyNotFound':
    case 'AliasNotFound':
      return storageError('EncryptionKeyNotFound', error.message);
    case 'KeyDisabled':
      return storageError('EncryptionKeyDisabled', error.message);
    case 'KeyUseDenied':
      return storageError('EncryptionKeyUseDenied', error.message);
    case 'KeyInvalidState':
    case 'InvalidKeyUsage':
      return storageError('EncryptionKeyInvalidState', error.message);
    case 'Validation':
      return storageError('InvalidArgument', error.message);
    default:
      return error;
  }
}
