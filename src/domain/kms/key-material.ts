import {
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { assertNever } from '../../platform/errors.ts';
import type { DigestSigner } from './ports.ts';
import type { KeySpec } from './types.ts';

/**
 * Key material per key spec, and signing with it. Symmetric keys are 32 random bytes
 * (AES-256-GCM); asymmetric keys are a PKCS#8 DER private key, with the DER SubjectPublicKeyInfo
 * kept beside it for GetPublicKey and Verify. ECDSA signatures are DER-encoded and hash the
 * message with SHA-256 (ECDSA_SHA_256); ML-DSA-65 signs the message itself (FIPS 204 "pure"
 * ML-DSA with an empty context, AWS's ML_DSA_SHAKE_256 with MessageType RAW).
 * https://docs.aws.amazon.com/kms/latest/developerguide/asymmetric-key-specs.html
 */
export interface GeneratedMaterial {
  material: Buffer;
  publicKey: Buffer | null;
}

export const SYMMETRIC_KEY_BYTES = 32;

export function generateKeyMaterial(spec: KeySpec): GeneratedMaterial {
  switch (spec) {
    case 'SYMMETRIC_DEFAULT':
      return { material: randomBytes(SYMMETRIC_KEY_BYTES), publicKey: null };
    case 'ECC_NIST_P256': {
      const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      return exported(pair.privateKey, pair.publicKey);
    }
    case 'ML_DSA_65': {
      const pair = generateKeyPairSync('ml-dsa-65');
      return exported(pair.privateKey, pair.publicKey);
    }
    default:
      return assertNever(spec, 'key spec');
  }
}

/**
 * The KeyObject the cipher and signing calls use: a secret key for symmetric material, a private
 * key for PKCS#8. Node copies `material`; the caller zeroes its Buffer afterwards.
 */
export function importKeyMaterial(spec: KeySpec, material: Buffer): KeyObject {
  if (spec === 'SYMMETRIC_DEFAULT') return createSecretKey(material);
  return createPrivateKey({ key: material, format: 'der', type: 'pkcs8' });
}

export function signMessage(spec: KeySpec, privateKey: KeyObject, message: Uint8Array): Buffer {
  return sign(digestOf(spec), message, privateKey);
}

/**
 * Signs a SHA-256 digest as it is (ECDSA_SHA_256 with MessageType DIGEST). The signer needs the
 * PKCS#8 bytes, which exist only for this call and are zeroed after it.
 */
export function signDigest(signer: DigestSigner, privateKey: KeyObject, digest: Uint8Array): Buffer {
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  try {
    return signer.signSha256Digest(der, digest);
  } finally {
    der.fill(0);
  }
}

/** False for any signature that does not verify, malformed ones included. */
export function verifySignature(
  spec: KeySpec,
  publicKeyDer: Buffer,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  const key = createPublicKey({ key: publicKeyDer, format: 'der', type: 'spki' });
  try {
    return verify(digestOf(spec), message, key, signature);
  } catch {
    return false;
  }
}

function digestOf(spec: KeySpec): string | null {
  switch (spec) {
    case 'ECC_NIST_P256':
      return 'sha256';
    case 'ML_DSA_65':
      return null;
    case 'SYMMETRIC_DEFAULT':
      throw new Error('symmetric keys do not sign');
    default:
      return assertNever(spec, 'key spec');
  }
}

function exported(privateKey: KeyObject, publicKey: KeyObject): GeneratedMaterial {
  return {
    material: privateKey.export({ format: 'der', type: 'pkcs8' }),
    publicKey: publicKey.export({ format: 'der', type: 'spki' }),
  };
}
