import type { EncryptionContext } from '../../domain/kms/ciphertext-blob.ts';
import { kmsError } from '../../domain/kms/errors.ts';
import type { KeyUseJustification } from '../../domain/kms/justification.ts';
import { DEFAULT_POLICY_NAME } from '../../domain/kms/key-policy.ts';
import type { KeyDescription, KeyRing, Page, PageRequest } from '../../domain/kms/key-ring.ts';
import {
  KEY_SPECS,
  KEY_USAGES,
  MESSAGE_TYPES,
  SIGNING_ALGORITHM_OF_SPEC,
  type KmsTag,
  type MessageType,
} from '../../domain/kms/types.ts';
import { assertNever } from '../../platform/errors.ts';
import { LIMITS } from '../../platform/limits.ts';
import type { RequestFields } from './request-fields.ts';

/**
 * The AWS KMS operations Sovra answers, named as in `X-Amz-Target: TrentService.<Operation>`;
 * the same names, prefixed `kms:`, are the IAM actions.
 */
export const KMS_OPERATIONS = [
  'CreateKey',
  'DescribeKey',
  'ListKeys',
  'EnableKey',
  'DisableKey',
  'UpdateKeyDescription',
  'CreateAlias',
  'ListAliases',
  'UpdateAlias',
  'DeleteAlias',
  'Encrypt',
  'Decrypt',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'ReEncrypt',
  'GenerateRandom',
  'EnableKeyRotation',
  'DisableKeyRotation',
  'GetKeyRotationStatus',
  'RotateKeyOnDemand',
  'ListKeyRotations',
  'ScheduleKeyDeletion',
  'CancelKeyDeletion',
  'TagResource',
  'UntagResource',
  'ListResourceTags',
  'GetKeyPolicy',
  'PutKeyPolicy',
  'ListKeyPolicies',
  'Sign',
  'Verify',
  'GetPublicKey',
] as const;

export type KmsOperation = (typeof KMS_OPERATIONS)[number];

export const KMS_TARGET_PREFIX = 'TrentService.';

/** The operation an `X-Amz-Target` header names, or null when Sovra does not know it. */
export function operationOfTarget(target: string): KmsOperation | null {
  if (!target.startsWith(KMS_TARGET_PREFIX)) return null;
  const name = target.slice(KMS_TARGET_PREFIX.length);
  return KMS_OPERATIONS.find((operation) => operation === name) ?? null;
}

/** A JSON response body. */
export type KmsResponse = Record<string, unknown>;

// Enumerations as AWS defines them (https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html),
// so that values Sovra lacks are told apart from values that do not exist.
const AWS_KEY_SPECS = [
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
  'ECC_NIST_P256',
  'ECC_NIST_P384',
  'ECC_NIST_P521',
  'ECC_SECG_P256K1',
  'ECC_NIST_EDWARDS25519',
  'SYMMETRIC_DEFAULT',
  'HMAC_224',
  'HMAC_256',
  'HMAC_384',
  'HMAC_512',
  'SM2',
  'ML_DSA_44',
  'ML_DSA_65',
  'ML_DSA_87',
];
const AWS_KEY_USAGES = ['SIGN_VERIFY', 'ENCRYPT_DECRYPT', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT'];
const AWS_ORIGINS = ['AWS_KMS', 'EXTERNAL', 'AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE'];
const AWS_ENCRYPTION_ALGORITHMS = ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE'];
const AWS_DATA_KEY_SPECS = ['AES_256', 'AES_128'];
const AWS_SIGNING_ALGORITHMS = [
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
  'ECDSA_SHA_256',
  'ECDSA_SHA_384',
  'ECDSA_SHA_512',
  'SM2DSA',
  'ML_DSA_SHAKE_256',
  'ED25519_SHA_512',
  'ED25519_PH_SHA_512',
];

const KEY_ID_MAX = LIMITS.kmsKeyReferenceMaxChars;

/**
 * Runs one operation: reads its members, calls the key ring as the caller's tenant, and shapes
 * the response as the AWS API reference does for that operation.
 */
export async function runOperation(
  operation: KmsOperation,
  ring: KeyRing,
  tenantId: string,
  fields: RequestFields,
  justification?: KeyUseJustification,
): Promise<KmsResponse> {
  switch (operation) {
    case 'CreateKey': {
      refuseUnsupported(fields, ['CustomKeyStoreId', 'XksKeyId']);
      if (fields.boolean('MultiRegion')) {
        throw kmsError('UnsupportedOperation', 'Multi-Region keys are not supported by Sovra.');
      }
      fields.enumValue('Origin', ['AWS_KMS'], AWS_ORIGINS);
      const keySpec =
        fields.enumValue('KeySpec', KEY_SPECS, AWS_KEY_SPECS) ??
        fields.enumValue('CustomerMasterKeySpec', KEY_SPECS, AWS_KEY_SPECS) ??
        'SYMMETRIC_DEFAULT';
      const key = await ring.createKey(tenantId, {
        keySpec,
        keyUsage: fields.enumValue('KeyUsage', KEY_USAGES, AWS_KEY_USAGES),
        description: fields.optionalString('Description', 0, LIMITS.kmsDescriptionMaxChars) ?? '',
        policy: fields.optionalString('Policy', 1, LIMITS.kmsKeyPolicyMaxBytes),
        tags: fields.tags('Tags', LIMITS.kmsTagsPerKeyMax),
      });
      return { KeyMetadata: keyMetadata(key) };
    }
    case 'DescribeKey':
      return { KeyMetadata: keyMetadata(await ring.describeKey(tenantId, keyId(fields))) };
    case 'ListKeys': {
      const page = await ring.listKeys(
        tenantId,
        pageRequest(fields, LIMITS.kmsListKeysMax, LIMITS.kmsListKeysDefault),
      );
      return paged(page, 'Keys', (key) => ({ KeyId: key.keyId, KeyArn: key.arn }));
    }
    case 'EnableKey':
      await ring.enableKey(tenantId, keyId(fields));
      return {};
    case 'DisableKey':
      await ring.disableKey(tenantId, keyId(fields));
      return {};
    case 'UpdateKeyDescription':
      await ring.updateKeyDescription(
        tenantId,
        keyId(fields),
        fields.requiredString('Description', 0, LIMITS.kmsDescriptionMaxChars),
      );
      return {};
    case 'CreateAlias':
      await ring.createAlias(
        tenantId,
        aliasName(fields),
        fields.requiredString('TargetKeyId', 1, KEY_ID_MAX),
      );
      return {};
    case 'UpdateAlias':
      await ring.updateAlias(
        tenantId,
        aliasName(fields),
        fields.requiredString('TargetKeyId', 1, KEY_ID_MAX),
      );
      return {};
    case 'DeleteAlias':
      await ring.deleteAlias(tenantId, aliasName(fields));
      return {};
    case 'ListAliases': {
      const page = await ring.listAliases(
        tenantId,
        fields.optionalString('KeyId', 1, KEY_ID_MAX),
        pageRequest(fields, LIMITS.kmsListAliasesMax, LIMITS.kmsListAliasesDefault),
      );
      return paged(page, 'Aliases', (alias) => ({
        AliasName: alias.aliasName,
        AliasArn: alias.arn,
        TargetKeyId: alias.keyId,
        CreationDate: epochSeconds(alias.createdAt),
        LastUpdatedDate: epochSeconds(alias.updatedAt),
      }));
    }
    case 'Encrypt': {
      checkEncryptionAlgorithm(fields, 'EncryptionAlgorithm');
      const result = await ring.encrypt(tenantId, {
        keyReference: keyId(fields),
        plaintext: fields.requiredBlob('Plaintext', LIMITS.kmsPlaintextMaxBytes),
        context: encryptionContext(fields, 'EncryptionContext'),
        dryRun: fields.boolean('DryRun'),
        justification,
      });
      return {
        CiphertextBlob: base64(result.ciphertextBlob),
        KeyId: result.keyArn,
        EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      };
    }
    case 'Decrypt': {
      refuseUnsupported(fields, ['Recipient']);
      checkEncryptionAlgorithm(fields, 'EncryptionAlgorithm');
      const result = await ring.decrypt(tenantId, {
        ciphertextBlob: fields.requiredBlob('CiphertextBlob', LIMITS.kmsCiphertextBlobMaxBytes),
        context: encryptionContext(fields, 'EncryptionContext'),
        keyReference: fields.optionalString('KeyId', 1, KEY_ID_MAX),
        dryRun: fields.boolean('DryRun'),
        justification,
      });
      try {
        return {
          KeyId: result.keyArn,
          Plaintext: base64(result.plaintext),
          EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        };
      } finally {
        result.plaintext.fill(0);
      }
    }
    case 'GenerateDataKey':
    case 'GenerateDataKeyWithoutPlaintext': {
      refuseUnsupported(fields, ['Recipient']);
      const result = await ring.generateDataKey(tenantId, {
        keyReference: keyId(fields),
        numberOfBytes: dataKeyBytes(fields),
        context: encryptionContext(fields, 'EncryptionContext'),
        dryRun: fields.boolean('DryRun'),
        justification,
      });
      try {
        const response: KmsResponse = { CiphertextBlob: base64(result.ciphertextBlob), KeyId: result.keyArn };
        if (operation === 'GenerateDataKey') response.Plaintext = base64(result.plaintext);
        return response;
      } finally {
        result.plaintext.fill(0);
      }
    }
    case 'ReEncrypt': {
      checkEncryptionAlgorithm(fields, 'SourceEncryptionAlgorithm');
      checkEncryptionAlgorithm(fields, 'DestinationEncryptionAlgorithm');
      const result = await ring.reEncrypt(tenantId, {
        ciphertextBlob: fields.requiredBlob('CiphertextBlob', LIMITS.kmsCiphertextBlobMaxBytes),
        sourceContext: encryptionContext(fields, 'SourceEncryptionContext'),
        sourceKeyReference: fields.optionalString('SourceKeyId', 1, KEY_ID_MAX),
        destinationKeyReference: fields.requiredString('DestinationKeyId', 1, KEY_ID_MAX),
        destinationContext: encryptionContext(fields, 'DestinationEncryptionContext'),
        dryRun: fields.boolean('DryRun'),
        justification,
      });
      return {
        CiphertextBlob: base64(result.ciphertextBlob),
        SourceKeyId: result.sourceKeyArn,
        KeyId: result.keyArn,
        SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      };
    }
    case 'GenerateRandom': {
      refuseUnsupported(fields, ['CustomKeyStoreId', 'Recipient']);
      const count = fields.optionalInteger('NumberOfBytes', 1, LIMITS.kmsRandomMaxBytes);
      if (count === null) throw missingMember('NumberOfBytes');
      return { Plaintext: base64(ring.generateRandom(count)) };
    }
    case 'EnableKeyRotation':
      await ring.enableKeyRotation(
        tenantId,
        keyId(fields),
        fields.optionalInteger(
          'RotationPeriodInDays',
          LIMITS.kmsRotationPeriodDaysMin,
          LIMITS.kmsRotationPeriodDaysMax,
        ),
      );
      return {};
    case 'DisableKeyRotation':
      await ring.disableKeyRotation(tenantId, keyId(fields));
      return {};
    case 'GetKeyRotationStatus': {
      const status = await ring.getKeyRotationStatus(tenantId, keyId(fields));
      const response: KmsResponse = { KeyId: status.keyArn, KeyRotationEnabled: status.enabled };
      if (status.rotationPeriodDays !== null) response.RotationPeriodInDays = status.rotationPeriodDays;
      if (status.nextRotationAt !== null) response.NextRotationDate = epochSeconds(status.nextRotationAt);
      return response;
    }
    case 'RotateKeyOnDemand':
      return { KeyId: await ring.rotateKeyOnDemand(tenantId, keyId(fields)) };
    case 'ListKeyRotations': {
      const page = await ring.listKeyRotations(
        tenantId,
        keyId(fields),
        pageRequest(fields, LIMITS.kmsListKeysMax, LIMITS.kmsListKeysDefault),
      );
      return paged(page, 'Rotations', (rotation) => ({
        KeyId: rotation.keyId,
        RotationDate: epochSeconds(rotation.rotatedAt),
        RotationType: rotation.rotationType,
      }));
    }
    case 'ScheduleKeyDeletion': {
      const key = await ring.scheduleKeyDeletion(
        tenantId,
        keyId(fields),
        fields.optionalInteger(
          'PendingWindowInDays',
          LIMITS.kmsPendingWindowDaysMin,
          LIMITS.kmsPendingWindowDaysMax,
        ),
      );
      return {
        KeyId: key.arn,
        DeletionDate: key.deletionDate === null ? undefined : epochSeconds(key.deletionDate),
        KeyState: key.keyState,
        PendingWindowInDays: key.pendingWindowDays,
      };
    }
    case 'CancelKeyDeletion':
      return { KeyId: (await ring.cancelKeyDeletion(tenantId, keyId(fields))).arn };
    case 'TagResource':
      await ring.tagResource(tenantId, keyId(fields), requiredTags(fields));
      return {};
    case 'UntagResource':
      await ring.untagResource(
        tenantId,
        keyId(fields),
        fields.stringList('TagKeys', LIMITS.kmsTagsPerKeyMax, LIMITS.kmsTagKeyMaxChars),
      );
      return {};
    case 'ListResourceTags': {
      const page = await ring.listResourceTags(
        tenantId,
        keyId(fields),
        pageRequest(fields, LIMITS.kmsListTagsMax, LIMITS.kmsListTagsMax),
      );
      return paged(page, 'Tags', (tag) => ({ TagKey: tag.key, TagValue: tag.value }));
    }
    case 'GetKeyPolicy': {
      const name = policyName(fields);
      return { Policy: await ring.getKeyPolicy(tenantId, keyId(fields), name), PolicyName: name };
    }
    case 'PutKeyPolicy':
      await ring.putKeyPolicy(
        tenantId,
        keyId(fields),
        policyName(fields),
        fields.requiredString('Policy', 1, LIMITS.kmsKeyPolicyMaxBytes),
      );
      return {};
    case 'ListKeyPolicies':
      await ring.describeKey(tenantId, keyIdOnly(fields));
      return { PolicyNames: [DEFAULT_POLICY_NAME], Truncated: false };
    case 'Sign': {
      const result = await ring.sign(tenantId, {
        keyReference: keyId(fields),
        message: fields.requiredBlob('Message', LIMITS.kmsSignMessageMaxBytes),
        messageType: messageType(fields),
        algorithm: signingAlgorithm(fields),
        dryRun: fields.boolean('DryRun'),
        justification,
      });
      return {
        KeyId: result.keyArn,
        Signature: base64(result.signature),
        SigningAlgorithm: result.algorithm,
      };
    }
    case 'Verify': {
      const result = await ring.verify(tenantId, {
        keyReference: keyId(fields),
        message: fields.requiredBlob('Message', LIMITS.kmsSignMessageMaxBytes),
        messageType: messageType(fields),
        signature: fields.requiredBlob('Signature', LIMITS.kmsSignatureMaxBytes),
        algorithm: signingAlgorithm(fields),
        dryRun: fields.boolean('DryRun'),
        justification,
      });
      return { KeyId: result.keyArn, SignatureValid: true, SigningAlgorithm: result.algorithm };
    }
    case 'GetPublicKey': {
      const result = await ring.getPublicKey(tenantId, keyId(fields));
      return {
        KeyId: result.key.arn,
        PublicKey: base64(result.publicKey),
        CustomerMasterKeySpec: result.key.keySpec,
        KeySpec: result.key.keySpec,
        KeyUsage: result.key.keyUsage,
        SigningAlgorithms: result.signingAlgorithms,
      };
    }
    default:
      return assertNever(operation, 'KMS operation');
  }
}

/** https://docs.aws.amazon.com/kms/latest/APIReference/API_KeyMetadata.html */
export function keyMetadata(key: KeyDescription): KmsResponse {
  const signing = SIGNING_ALGORITHM_OF_SPEC[key.keySpec];
  const metadata: KmsResponse = {
    AWSAccountId: key.tenantId,
    KeyId: key.keyId,
    Arn: key.arn,
    CreationDate: epochSeconds(key.createdAt),
    Enabled: key.keyState === 'Enabled',
    Description: key.description,
    KeyUsage: key.keyUsage,
    KeyState: key.keyState,
    Origin: 'AWS_KMS',
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: key.keySpec,
    KeySpec: key.keySpec,
    MultiRegion: false,
  };
  if (key.deletionDate !== null) metadata.DeletionDate = epochSeconds(key.deletionDate);
  if (signing === null) metadata.EncryptionAlgorithms = ['SYMMETRIC_DEFAULT'];
  else metadata.SigningAlgorithms = [signing];
  return metadata;
}

// ---- members --------------------------------------------------------------------------------------

function keyId(fields: RequestFields): string {
  return fields.requiredString('KeyId', 1, KEY_ID_MAX);
}

/** ListKeyPolicies takes a key id or ARN only. */
function keyIdOnly(fields: RequestFields): string {
  const reference = keyId(fields);
  if (reference.startsWith('alias/') || reference.includes(':alias/')) {
    throw kmsError('KeyNotFound', `Invalid keyId ${reference}`);
  }
  return reference;
}

function aliasName(fields: RequestFields): string {
  return fields.requiredString('AliasName', 1, LIMITS.kmsAliasNameMaxChars);
}

function policyName(fields: RequestFields): string {
  return fields.optionalString('PolicyName', 1, 128) ?? DEFAULT_POLICY_NAME;
}

function requiredTags(fields: RequestFields): KmsTag[] {
  if (!fields.has('Tags')) throw missingMember('Tags');
  return fields.tags('Tags', LIMITS.kmsTagsPerKeyMax);
}

function encryptionContext(fields: RequestFields, name: string): EncryptionContext {
  return fields.stringMap(name);
}

function pageRequest(fields: RequestFields, max: number, fallback: number): PageRequest {
  return {
    limit: fields.optionalInteger('Limit', 1, max) ?? fallback,
    marker: fields.optionalString('Marker', 1, 1024),
  };
}

function paged<T>(page: Page<T>, name: string, render: (item: T) => KmsResponse): KmsResponse {
  const response: KmsResponse = { [name]: page.items.map(render), Truncated: page.nextMarker !== null };
  if (page.nextMarker !== null) response.NextMarker = page.nextMarker;
  return response;
}

/** Exactly one of NumberOfBytes and KeySpec (AES_256 = 32 bytes, AES_128 = 16). */
function dataKeyBytes(fields: RequestFields): number {
  const count = fields.optionalInteger('NumberOfBytes', 1, LIMITS.kmsDataKeyMaxBytes);
  const spec = fields.enumValue('KeySpec', ['AES_256', 'AES_128'] as const, AWS_DATA_KEY_SPECS);
  if (count !== null && spec !== null) {
    throw kmsError('Validation', 'Specify either NumberOfBytes or KeySpec, not both.');
  }
  if (count !== null) return count;
  if (spec !== null) return spec === 'AES_256' ? 32 : 16;
  throw kmsError('Validation', 'Please specify either number of bytes or key spec.');
}

/** Sovra's encryption keys are symmetric: SYMMETRIC_DEFAULT is the only algorithm. */
function checkEncryptionAlgorithm(fields: RequestFields, name: string): void {
  const value = fields.enumValue(name, AWS_ENCRYPTION_ALGORITHMS, AWS_ENCRYPTION_ALGORITHMS);
  if (value !== null && value !== 'SYMMETRIC_DEFAULT') {
    throw kmsError('InvalidKeyUsage', `${name} ${value} is not valid for symmetric encryption keys.`);
  }
}

function signingAlgorithm(fields: RequestFields): string {
  const value = fields.enumValue('SigningAlgorithm', AWS_SIGNING_ALGORITHMS, AWS_SIGNING_ALGORITHMS);
  if (value === null) throw missingMember('SigningAlgorithm');
  return value;
}

/** RAW when absent; the key ring decides which types suit the key's signing algorithm. */
function messageType(fields: RequestFields): MessageType {
  return fields.enumValue('MessageType', MESSAGE_TYPES, MESSAGE_TYPES) ?? 'RAW';
}

function refuseUnsupported(fields: RequestFields, names: readonly string[]): void {
  for (const name of names) {
    if (fields.has(name)) throw kmsError('UnsupportedOperation', `${name} is not supported by Sovra.`);
  }
}

function missingMember(name: string): Error {
  const member = name.charAt(0).toLowerCase() + name.slice(1);
  return kmsError(
    'Validation',
    `1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`,
  );
}

function base64(bytes: Buffer): string {
  return bytes.toString('base64');
}

/** The JSON protocol's timestamps are epoch seconds, with a fraction. */
function epochSeconds(date: Date): number {
  return date.getTime() / 1000;
}
