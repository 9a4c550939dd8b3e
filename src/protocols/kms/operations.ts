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
 * The operations that accept another tenant's key, named by its key ARN or alias ARN, as AWS KMS
 * accepts another account's for these (the "Cross-account use" column of
 * https://docs.aws.amazon.com/kms/latest/developerguide/kms-api-permissions-reference.html); every
 * other operation acts on the caller's own keys only.
 */
export const CROSS_TENANT_OPERATIONS: ReadonlySet<KmsOperation> = new Set<KmsOperation>([
  'DescribeKey',
  'GetPublicKey',
  'Encrypt',
  'Decrypt',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'ReEncrypt',
  'Sign',
  'Verify',
]);

/**
 * The IAM actions that are key uses (the `KeyUse` group of sovra.cedarschema): their decisions,
 * granted or refused, are recorded with the requester's justification.
 */
export const KEY_USE_ACTIONS: ReadonlySet<string> = new Set([
  'kms:Encrypt',
  'kms:Decrypt',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
  'kms:Sign',
  'kms:Verify',
]);

/**
 * A key an operation is authorized on, with the IAM action: a key named by KeyId (or
 * TargetKeyId, DestinationKeyId), the key a ciphertext names, or the key an alias points to.
 */
export type KeyTarget =
  | { kind: 'key'; action: string; reference: string; allowAlias: boolean }
  | { kind: 'ciphertext'; action: string; blob: Uint8Array }
  | { kind: 'alias'; action: string; aliasName: string };

/** Whose keys an operation runs on, and how its key uses were decided. */
export interface OperationScope {
  /** The caller's tenant, or the owner of the key a cross-tenant request names. */
  tenantId: string;
  /** The owner of ReEncrypt's destination key. */
  destinationTenantId: string;
  justification?: KeyUseJustification;
  /** The request authorizer decided the key uses with the key policy (KeyUseInput). */
  keyPolicyEvaluated: boolean;
}

/**
 * One request, its members read and checked: what it is authorized on, and how it runs. Every
 * member is read before anything is authorized or looked up, so a malformed request fails as
 * malformed whatever the caller may do.
 *
 * `targets` are the keys the operation acts on, each authorized as its own resource (the key's
 * ARN, with the key policy), as the "Resources" column of AWS's actions table says
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awskeymanagementservice.html):
 * ReEncrypt is kms:ReEncryptFrom on the source key and kms:ReEncryptTo on the destination;
 * UpdateAlias needs the alias's current key and its new one. Alias operations are authorized on
 * the keys alone (Sovra has no alias resources in policies). No targets: the operation is
 * tenant-wide (CreateKey, ListKeys, ListAliases, GenerateRandom) and its resource is `*`.
 */
export interface PreparedOperation {
  targets: KeyTarget[];
  /** Calls the key ring as the tenant of `scope` and shapes the response as the AWS API reference does. */
  run(ring: KeyRing, scope: OperationScope): Promise<KmsResponse>;
}

/** Reads and checks one operation's members (see PreparedOperation). */
export function prepareOperation(operation: KmsOperation, fields: RequestFields): PreparedOperation {
  const action = `kms:${operation}`;
  const on = (reference: string, allowAlias: boolean): KeyTarget[] => [
    { kind: 'key', action, reference, allowAlias },
  ];
  const use = (scope: OperationScope) => ({
    justification: scope.justification,
    keyPolicyEvaluated: scope.keyPolicyEvaluated,
  });
  switch (operation) {
    case 'CreateKey': {
      refuseUnsupported(fields, ['CustomKeyStoreId', 'XksKeyId']);
      if (fields.boolean('MultiRegion')) {
        throw kmsError('UnsupportedOperation', 'Multi-Region keys are not supported by Sovra.');
      }
      fields.enumValue('Origin', ['AWS_KMS'], AWS_ORIGINS);
      const input = {
        keySpec:
          fields.enumValue('KeySpec', KEY_SPECS, AWS_KEY_SPECS) ??
          fields.enumValue('CustomerMasterKeySpec', KEY_SPECS, AWS_KEY_SPECS) ??
          'SYMMETRIC_DEFAULT',
        keyUsage: fields.enumValue('KeyUsage', KEY_USAGES, AWS_KEY_USAGES),
        description: fields.optionalString('Description', 0, LIMITS.kmsDescriptionMaxChars) ?? '',
        policy: fields.optionalString('Policy', 1, LIMITS.kmsKeyPolicyMaxBytes),
        tags: fields.tags('Tags', LIMITS.kmsTagsPerKeyMax),
      };
      return {
        targets: [],
        run: async (ring, scope) => ({
          KeyMetadata: keyMetadata(await ring.createKey(scope.tenantId, input)),
        }),
      };
    }
    case 'DescribeKey': {
      const reference = keyId(fields);
      return {
        targets: on(reference, true),
        run: async (ring, scope) => ({
          KeyMetadata: keyMetadata(await ring.describeKey(scope.tenantId, reference)),
        }),
      };
    }
    case 'ListKeys': {
      const page = pageRequest(fields, LIMITS.kmsListKeysMax, LIMITS.kmsListKeysDefault);
      return {
        targets: [],
        run: async (ring, scope) =>
          paged(await ring.listKeys(scope.tenantId, page), 'Keys', (key) => ({
            KeyId: key.keyId,
            KeyArn: key.arn,
          })),
      };
    }
    case 'EnableKey':
    case 'DisableKey': {
      const reference = keyId(fields);
      return {
        targets: on(reference, false),
        run: async (ring, scope) => {
          if (operation === 'EnableKey') await ring.enableKey(scope.tenantId, reference);
          else await ring.disableKey(scope.tenantId, reference);
          return {};
        },
      };
    }
    case 'UpdateKeyDescription': {
      const reference = keyId(fields);
      const description = fields.requiredString('Description', 0, LIMITS.kmsDescriptionMaxChars);
      return {
        targets: on(reference, false),
        run: async (ring, scope) => {
          await ring.updateKeyDescription(scope.tenantId, reference, description);
          return {};
        },
      };
    }
    case 'CreateAlias':
    case 'UpdateAlias': {
      const alias = aliasName(fields);
      const target = fields.requiredString('TargetKeyId', 1, KEY_ID_MAX);
      return {
        targets:
          operation === 'CreateAlias'
            ? on(target, false)
            : [{ kind: 'alias', action, aliasName: alias }, ...on(target, false)],
        run: async (ring, scope) => {
          if (operation === 'CreateAlias') await ring.createAlias(scope.tenantId, alias, target);
          else await ring.updateAlias(scope.tenantId, alias, target);
          return {};
        },
      };
    }
    case 'DeleteAlias': {
      const alias = aliasName(fields);
      return {
        targets: [{ kind: 'alias', action, aliasName: alias }],
        run: async (ring, scope) => {
          await ring.deleteAlias(scope.tenantId, alias);
          return {};
        },
      };
    }
    case 'ListAliases': {
      const reference = fields.optionalString('KeyId', 1, KEY_ID_MAX);
      const page = pageRequest(fields, LIMITS.kmsListAliasesMax, LIMITS.kmsListAliasesDefault);
      return {
        targets: [],
        run: async (ring, scope) =>
          paged(await ring.listAliases(scope.tenantId, reference, page), 'Aliases', (alias) => ({
            AliasName: alias.aliasName,
            AliasArn: alias.arn,
            TargetKeyId: alias.keyId,
            CreationDate: epochSeconds(alias.createdAt),
            LastUpdatedDate: epochSeconds(alias.updatedAt),
          })),
      };
    }
    case 'Encrypt': {
      checkEncryptionAlgorithm(fields, 'EncryptionAlgorithm');
      const reference = keyId(fields);
      const plaintext = fields.requiredBlob('Plaintext', LIMITS.kmsPlaintextMaxBytes);
      const context = encryptionContext(fields, 'EncryptionContext');
      const dryRun = fields.boolean('DryRun');
      return {
        targets: on(reference, true),
        run: async (ring, scope) => {
          const result = await ring.encrypt(scope.tenantId, {
            keyReference: reference,
            plaintext,
            context,
            dryRun,
            ...use(scope),
          });
          return {
            CiphertextBlob: base64(result.ciphertextBlob),
            KeyId: result.keyArn,
            EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
          };
        },
      };
    }
    case 'Decrypt': {
      refuseUnsupported(fields, ['Recipient']);
      checkEncryptionAlgorithm(fields, 'EncryptionAlgorithm');
      const ciphertextBlob = fields.requiredBlob('CiphertextBlob', LIMITS.kmsCiphertextBlobMaxBytes);
      const context = encryptionContext(fields, 'EncryptionContext');
      const reference = fields.optionalString('KeyId', 1, KEY_ID_MAX);
      const dryRun = fields.boolean('DryRun');
      return {
        targets: [{ kind: 'ciphertext', action, blob: ciphertextBlob }],
        run: async (ring, scope) => {
          const result = await ring.decrypt(scope.tenantId, {
            ciphertextBlob,
            context,
            keyReference: reference,
            dryRun,
            ...use(scope),
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
        },
      };
    }
    case 'GenerateDataKey':
    case 'GenerateDataKeyWithoutPlaintext': {
      refuseUnsupported(fields, ['Recipient']);
      const reference = keyId(fields);
      const numberOfBytes = dataKeyBytes(fields);
      const context = encryptionContext(fields, 'EncryptionContext');
      const dryRun = fields.boolean('DryRun');
      return {
        targets: on(reference, true),
        run: async (ring, scope) => {
          const result = await ring.generateDataKey(scope.tenantId, {
            keyReference: reference,
            numberOfBytes,
            context,
            dryRun,
            ...use(scope),
          });
          try {
            const response: KmsResponse = {
              CiphertextBlob: base64(result.ciphertextBlob),
              KeyId: result.keyArn,
            };
            if (operation === 'GenerateDataKey') response.Plaintext = base64(result.plaintext);
            return response;
          } finally {
            result.plaintext.fill(0);
          }
        },
      };
    }
    case 'ReEncrypt': {
      checkEncryptionAlgorithm(fields, 'SourceEncryptionAlgorithm');
      checkEncryptionAlgorithm(fields, 'DestinationEncryptionAlgorithm');
      const ciphertextBlob = fields.requiredBlob('CiphertextBlob', LIMITS.kmsCiphertextBlobMaxBytes);
      const sourceContext = encryptionContext(fields, 'SourceEncryptionContext');
      const sourceKeyReference = fields.optionalString('SourceKeyId', 1, KEY_ID_MAX);
      const destinationKeyReference = fields.requiredString('DestinationKeyId', 1, KEY_ID_MAX);
      const destinationContext = encryptionContext(fields, 'DestinationEncryptionContext');
      const dryRun = fields.boolean('DryRun');
      return {
        targets: [
          { kind: 'ciphertext', action: 'kms:ReEncryptFrom', blob: ciphertextBlob },
          { kind: 'key', action: 'kms:ReEncryptTo', reference: destinationKeyReference, allowAlias: true },
        ],
        run: async (ring, scope) => {
          const result = await ring.reEncrypt(scope.tenantId, {
            ciphertextBlob,
            sourceContext,
            sourceKeyReference,
            destinationKeyReference,
            destinationContext,
            destinationTenantId: scope.destinationTenantId,
            dryRun,
            ...use(scope),
          });
          return {
            CiphertextBlob: base64(result.ciphertextBlob),
            SourceKeyId: result.sourceKeyArn,
            KeyId: result.keyArn,
            SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
            DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
          };
        },
      };
    }
    case 'GenerateRandom': {
      refuseUnsupported(fields, ['CustomKeyStoreId', 'Recipient']);
      const count = fields.optionalInteger('NumberOfBytes', 1, LIMITS.kmsRandomMaxBytes);
      if (count === null) throw missingMember('NumberOfBytes');
      return {
        targets: [],
        run: (ring) => Promise.resolve({ Plaintext: base64(ring.generateRandom(count)) }),
      };
    }
    case 'EnableKeyRotation': {
      const reference = keyId(fields);
      const periodDays = fields.optionalInteger(
        'RotationPeriodInDays',
        LIMITS.kmsRotationPeriodDaysMin,
        LIMITS.kmsRotationPeriodDaysMax,
      );
      return {
        targets: on(reference, false),
        run: async (ring, scope) => {
          await ring.enableKeyRotation(scope.tenantId, reference, periodDays);
          return {};
        },
      };
    }
    case 'DisableKeyRotation': {
      const reference = keyId(fields);
      return {
        targets: on(reference, false),
        run: async (ring, scope) => {
          await ring.disableKeyRotation(scope.tenantId, reference);
          return {};
        },
      };
    }
    case 'GetKeyRotationStatus': {
      const reference = keyId(fields);
      return {
        targets: on(reference, false),
        run: async (ring, scope) => {
          const status = await ring.getKeyRotationStatus(scope.tenantId, reference);
          const response: KmsResponse = { KeyId: status.keyArn, KeyRotationEnabled: status.enabled };
          if (status.rotationPeriodDays !== null) response.RotationPeriodInDays = status.rotationPeriodDays;
          if (status.nextRotationAt !== null) response.NextRotationDate = epochSeconds(status.nextRotationAt);
          return response;
        },
      };
    }
    case 'RotateKeyOnDemand': {
      const reference = keyId(fields);
      return {
        targets: on(reference, false),
        run: async (ring, scope) => ({ KeyId: await ring.rotateKeyOnDemand(scope.tenantId, reference) }),
      };
    }
    case 'ListKeyRotations': {
      const reference = keyId(fields);
      const page = pageRequest(fields, LIMITS.kmsListKeysMax, LIMITS.kmsListKeysDefault);
      return {
        targets: on(reference, false),
        run: async (ring, scope) =>
          paged(await ring.listKeyRotations(scope.tenantId, reference, page), 'Rotations', (rotation) => ({
            KeyId: rotation.keyId,
            RotationDate: epochSeconds(rotation.rotatedAt),
            RotationType: rotation.rotationType,
          })),
      };
    }
    case 'ScheduleKeyDeletion': {
      const reference = keyId(fields);
      const pendingWindowDays = fields.optionalInteger(
        'PendingWindowInDays',
        LIMITS.kmsPendingWindowDaysMin,
        LIMITS.kmsPendingWindowDaysMax,
      );
      return {
        targets: on(reference, false),
        run: async (ring, scope) => {
          const key = await ring.scheduleKeyDeletion(scope.tenantId, reference, pendingWindowDays);
          return {
            KeyId: key.arn,
            DeletionDate: key.deletionDate === null ? undefined : epochSeconds(key.deletionDate),
            KeyState: key.keyState,
            PendingWindowInDays: key.pendingWindowDays,
          };
        },
      };
    }
    case 'CancelKeyDeletion': {
      const reference = keyId(fields);
      return {
        targets: on(reference, false),
        run: async (ring, scope) => ({
          KeyId: (await ring.cancelKeyDeletion(scope.tenantId, reference)).arn,
        }),
      };
    }
    case 'TagResource': {
      const reference = keyId(fields);
      const tags = requiredTags(fields);
      return {
        targets: on(reference, false),
        run: async (ring, scope) => {
          await ring.tagResource(scope.tenantId, reference, tags);
          return {};
        },
      };
    }
    case 'UntagResource': {
      const reference = keyId(fields);
      const tagKeys = fields.stringList('TagKeys', LIMITS.kmsTagsPerKeyMax, LIMITS.kmsTagKeyMaxChars);
      return {
        targets: on(reference, false),
        run: async (ring, scope) => {
          await ring.untagResource(scope.tenantId, reference, tagKeys);
          return {};
        },
      };
    }
    case 'ListResourceTags': {
      const reference = keyId(fields);
      const page = pageRequest(fields, LIMITS.kmsListTagsMax, LIMITS.kmsListTagsMax);
      return {
        targets: on(reference, false),
        run: async (ring, scope) =>
          paged(await ring.listResourceTags(scope.tenantId, reference, page), 'Tags', (tag) => ({
            TagKey: tag.key,
            TagValue: tag.value,
          })),
      };
    }
    case 'GetKeyPolicy': {
      const reference = keyId(fields);
      const name = policyName(fields);
      return {
        targets: on(reference, false),
        run: async (ring, scope) => ({
          Policy: await ring.getKeyPolicy(scope.tenantId, reference, name),
          PolicyName: name,
        }),
      };
    }
    case 'PutKeyPolicy': {
      const reference = keyId(fields);
      const name = policyName(fields);
      const policy = fields.requiredString('Policy', 1, LIMITS.kmsKeyPolicyMaxBytes);
      return {
        targets: on(reference, false),
        run: async (ring, scope) => {
          await ring.putKeyPolicy(scope.tenantId, reference, name, policy);
          return {};
        },
      };
    }
    case 'ListKeyPolicies': {
      const reference = keyIdOnly(fields);
      return {
        targets: on(reference, false),
        run: async (ring, scope) => {
          await ring.describeKey(scope.tenantId, reference);
          return { PolicyNames: [DEFAULT_POLICY_NAME], Truncated: false };
        },
      };
    }
    case 'Sign':
    case 'Verify': {
      const reference = keyId(fields);
      const message = fields.requiredBlob('Message', LIMITS.kmsSignMessageMaxBytes);
      const type = messageType(fields);
      const signature =
        operation === 'Verify' ? fields.requiredBlob('Signature', LIMITS.kmsSignatureMaxBytes) : null;
      const algorithm = signingAlgorithm(fields);
      const dryRun = fields.boolean('DryRun');
      return {
        targets: on(reference, true),
        run: async (ring, scope) => {
          const input = {
            keyReference: reference,
            message,
            messageType: type,
            algorithm,
            dryRun,
            ...use(scope),
          };
          if (signature === null) {
            const result = await ring.sign(scope.tenantId, input);
            return {
              KeyId: result.keyArn,
              Signature: base64(result.signature),
              SigningAlgorithm: result.algorithm,
            };
          }
          const result = await ring.verify(scope.tenantId, { ...input, signature });
          return { KeyId: result.keyArn, SignatureValid: true, SigningAlgorithm: result.algorithm };
        },
      };
    }
    case 'GetPublicKey': {
      const reference = keyId(fields);
      return {
        targets: on(reference, true),
        run: async (ring, scope) => {
          const result = await ring.getPublicKey(scope.tenantId, reference);
          return {
            KeyId: result.key.arn,
            PublicKey: base64(result.publicKey),
            CustomerMasterKeySpec: result.key.keySpec,
            KeySpec: result.key.keySpec,
            KeyUsage: result.key.keyUsage,
            SigningAlgorithms: result.signingAlgorithms,
          };
        },
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
