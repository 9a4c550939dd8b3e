import type { AliasRecord, KeyVersionRecord, KmsKeyRecord } from './types.ts';

/**
 * Where the key ring keeps its records: one implementation over the SQL metadata database
 * (adapters/sql/kms-store.ts), on SQLite and PostgreSQL, passing one test suite. Every read is
 * scoped by what the caller already proved (tenant, key id); the store itself decides nothing.
 */
export interface KeyStore {
  /** Runs `work` in one transaction; it may run again after a conflict, so it must be re-runnable. */
  transaction<T>(work: (tx: KeyStoreTx) => Promise<T>): Promise<T>;

  getKey(keyId: string): Promise<KmsKeyRecord | null>;
  /** A tenant's keys ordered by key id, after `afterKeyId` (exclusive; '' for the first page). */
  listKeys(tenantId: string, afterKeyId: string, limit: number): Promise<KmsKeyRecord[]>;
  /** Tenants that have keys, ordered, after `afterTenantId` (exclusive); for `sovra keys export`. */
  listKeyTenants(afterTenantId: string, limit: number): Promise<string[]>;
  getKeyVersion(keyId: string, version: number): Promise<KeyVersionRecord | null>;
  /** Versions of a key ordered by version, after `afterVersion` (exclusive). */
  listKeyVersions(keyId: string, afterVersion: number, limit: number): Promise<KeyVersionRecord[]>;
  getAlias(tenantId: string, aliasName: string): Promise<AliasRecord | null>;
  /** A tenant's aliases (of one key when `keyId` is given) ordered by name, after `afterAliasName`. */
  listAliases(
    tenantId: string,
    keyId: string | null,
    afterAliasName: string,
    limit: number,
  ): Promise<AliasRecord[]>;
  /** Keys in PendingDeletion whose deletion date is at or before `nowMs`, oldest first. */
  listKeysDueForDeletion(nowMs: number, limit: number): Promise<KmsKeyRecord[]>;
  /** Enabled keys with automatic rotation whose next rotation is at or before `nowMs`. */
  listKeysDueForRotation(nowMs: number, limit: number): Promise<KmsKeyRecord[]>;
  /**
   * After keys were deleted: leaves no older copy of their rows in the store's files where the
   * store can (SQLite: a TRUNCATE checkpoint of the write-ahead log), so that crypto-shredding
   * does not wait for the next checkpoint. Fails when it could not; deleting again is not needed.
   */
  discardDeletedCopies(): Promise<void>;
}

export interface KeyStoreTx {
  /**
   * Reads a key and holds it until the transaction ends, so that read-modify-write of one key
   * never loses a concurrent change (an advisory lock on PostgreSQL; SQLite runs writers one at
   * a time).
   */
  lockKey(keyId: string): Promise<KmsKeyRecord | null>;
  insertKey(key: KmsKeyRecord): Promise<void>;
  /** Replaces every mutable column of the key's row. */
  updateKey(key: KmsKeyRecord): Promise<void>;
  /** Deletes the key row, its versions (the wrapped material) and its aliases. */
  deleteKey(keyId: string): Promise<{ versionsDeleted: number; aliasesDeleted: number }>;
  countKeys(tenantId: string): Promise<number>;
  insertKeyVersion(version: KeyVersionRecord): Promise<void>;
  getAlias(tenantId: string, aliasName: string): Promise<AliasRecord | null>;
  countAliases(tenantId: string): Promise<number>;
  /** Fails with KmsError('AliasExists') when the tenant already has an alias of that name. */
  insertAlias(alias: AliasRecord): Promise<void>;
  /** Points an existing alias at another key; false when the alias does not exist. */
  updateAlias(alias: AliasRecord): Promise<boolean>;
  /** False when the alias did not exist. */
  deleteAlias(tenantId: string, aliasName: string): Promise<boolean>;
}

/**
 * ECDSA over a digest the caller computed (AWS KMS `MessageType: DIGEST`): the digest is signed
 * as it is, never hashed again. node:crypto cannot do this — `sign()` always hashes its input —
 * so an adapter provides it (adapters/openssl/digest-signer.ts, OpenSSL's EVP_PKEY_sign).
 */
export interface DigestSigner {
  /** The DER ECDSA signature of a 32-byte SHA-256 digest under a PKCS#8 DER private key. */
  signSha256Digest(privateKeyPkcs8: Uint8Array, digest: Uint8Array): Buffer;
  /** False for any signature that does not verify, malformed ones included. */
  verifySha256Digest(publicKeySpki: Uint8Array, digest: Uint8Array, signature: Uint8Array): boolean;
}
