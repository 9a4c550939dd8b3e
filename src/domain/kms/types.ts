/**
 * Records of the key ring: KMS keys (key-encryption keys of a tenant), their versions (the key
 * material, stored only wrapped by the root of trust) and aliases. Names and values follow the
 * AWS KMS API (https://docs.aws.amazon.com/kms/latest/APIReference/API_KeyMetadata.html), so the
 * same words mean the same things in the domain, the database and on the wire.
 */

export const KEY_SPECS = ['SYMMETRIC_DEFAULT', 'ECC_NIST_P256', 'ML_DSA_65'] as const;
export type KeySpec = (typeof KEY_SPECS)[number];

export const KEY_USAGES = ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'] as const;
export type KeyUsage = (typeof KEY_USAGES)[number];

export const KEY_STATES = ['Enabled', 'Disabled', 'PendingDeletion'] as const;
export type KeyState = (typeof KEY_STATES)[number];

export const ROTATION_TYPES = ['AUTOMATIC', 'ON_DEMAND'] as const;
export type RotationType = (typeof ROTATION_TYPES)[number];

export type SigningAlgorithm = 'ECDSA_SHA_256' | 'ML_DSA_SHAKE_256';

/**
 * What Sign and Verify's Message is: the message itself (RAW), its digest under the signing
 * algorithm's hash (DIGEST), or ML-DSA's 64-byte message representative μ of FIPS 204 §6.2
 * (EXTERNAL_MU). https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html#KMS-Sign-request-MessageType
 */
export const MESSAGE_TYPES = ['RAW', 'DIGEST', 'EXTERNAL_MU'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];
export type EncryptionAlgorithm = 'SYMMETRIC_DEFAULT';

/** The key usage each key spec supports (Sovra offers one per spec). */
export const USAGE_OF_SPEC: Readonly<Record<KeySpec, KeyUsage>> = {
  SYMMETRIC_DEFAULT: 'ENCRYPT_DECRYPT',
  ECC_NIST_P256: 'SIGN_VERIFY',
  ML_DSA_65: 'SIGN_VERIFY',
};

/** https://docs.aws.amazon.com/kms/latest/developerguide/asymmetric-key-specs.html */
export const SIGNING_ALGORITHM_OF_SPEC: Readonly<Record<KeySpec, SigningAlgorithm | null>> = {
  SYMMETRIC_DEFAULT: null,
  ECC_NIST_P256: 'ECDSA_SHA_256',
  ML_DSA_65: 'ML_DSA_SHAKE_256',
};

/** Format of a key row's documents (tags); bump with a migration of the rows. */
export const KMS_KEY_RECORD_FORMAT = 1;

export interface KmsTag {
  key: string;
  value: string;
}

export interface KmsKeyRecord {
  format: number;
  /** A UUID, lower-case; unique across tenants. */
  keyId: string;
  tenantId: string;
  keySpec: KeySpec;
  keyUsage: KeyUsage;
  keyState: KeyState;
  description: string;
  createdAt: Date;
  /** When a key in PendingDeletion is destroyed; null in every other state. */
  deletionDate: Date | null;
  pendingWindowDays: number | null;
  /** Automatic rotation (symmetric keys only); kept while PendingDeletion, reported as off. */
  rotationEnabled: boolean;
  rotationPeriodDays: number | null;
  nextRotationAt: Date | null;
  /** The version new ciphertexts and signatures use; versions start at 1. */
  currentVersion: number;
  onDemandRotations: number;
  /** The key policy document (JSON text), stored and returned; not evaluated yet. */
  policy: string;
  tags: KmsTag[];
}

export interface KeyVersionRecord {
  keyId: string;
  version: number;
  /**
   * The key material wrapped by the root of trust, bound (AAD) to tenant, key id and version:
   * 32 random bytes for symmetric keys, a PKCS#8 DER private key for asymmetric ones.
   */
  wrappedMaterial: Buffer;
  /** DER SubjectPublicKeyInfo of asymmetric keys (public, so stored in the clear); else null. */
  publicKey: Buffer | null;
  createdAt: Date;
  /** How this version came to be; null for the key's first version. */
  rotationType: RotationType | null;
}

export interface AliasRecord {
  tenantId: string;
  /** `alias/…`, unique per tenant. */
  aliasName: string;
  keyId: string;
  createdAt: Date;
  updatedAt: Date;
}
