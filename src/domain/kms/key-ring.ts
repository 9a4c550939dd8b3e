import { randomBytes, type KeyObject } from 'node:crypto';
import type { Clock } from '../../platform/clock.ts';
import { assertNever, isSovraError } from '../../platform/errors.ts';
import { newUuid } from '../../platform/ids.ts';
import { LIMITS } from '../../platform/limits.ts';
import {
  checkEncryptionContext,
  invalidCiphertext,
  openCiphertext,
  readCiphertextHeader,
  sealCiphertext,
  type EncryptionContext,
} from './ciphertext-blob.ts';
import { kmsError, type KmsError } from './errors.ts';
import { KeyMaterialCache } from './key-material-cache.ts';
import {
  generateKeyMaterial,
  importKeyMaterial,
  signDigest,
  signMessage,
  verifySignature,
} from './key-material.ts';
import type { KeyUseDecisionRecorder } from './decision-records.ts';
import type { KeyUseJustification } from './justification.ts';
import {
  checkKeyPolicy,
  checkPolicyName,
  defaultKeyPolicy,
  evaluateKeyUse,
  type KeyUseDecision,
} from './key-policy.ts';
import {
  aliasArn,
  checkAliasName,
  keyArn,
  parseKeyReference,
  tenantOfKeyArn,
  type KeyReference,
  type KeyScope,
} from './key-references.ts';
import type { DigestSigner, KeyStore, KeyStoreTx } from './ports.ts';
import type { RootOfTrust } from './root-of-trust.ts';
import {
  KMS_KEY_RECORD_FORMAT,
  SIGNING_ALGORITHM_OF_SPEC,
  USAGE_OF_SPEC,
  type AliasRecord,
  type KeySpec,
  type KeyUsage,
  type KmsKeyRecord,
  type KmsTag,
  type MessageType,
  type RotationType,
  type SigningAlgorithm,
} from './types.ts';

export interface KeyRingOptions {
  store: KeyStore;
  /** Null when the server runs without a root of trust: every operation needing key material is refused. */
  root: RootOfTrust | null;
  clock: Clock;
  /** The region in ARNs. */
  region: string;
  /** Overrides of the material cache bounds (tests). */
  materialCache?: { maxEntries: number; ttlMs: number };
  /** Where every key-use decision (granted or denied) is recorded; none in tools and some tests. */
  decisions?: KeyUseDecisionRecorder | null;
  /** Signs and verifies caller-computed digests (MessageType DIGEST); without it DIGEST is unsupported. */
  digestSigner?: DigestSigner | null;
}

/** A key as DescribeKey shows it. */
export interface KeyDescription extends KmsKeyRecord {
  arn: string;
}

export interface CreateKeyInput {
  keySpec: KeySpec;
  keyUsage: KeyUsage | null;
  description: string;
  policy: string | null;
  tags: readonly KmsTag[];
}

export interface Page<T> {
  items: T[];
  /** Opaque; pass back as `marker` for the next page. Null on the last page. */
  nextMarker: string | null;
}

export interface PageRequest {
  limit: number;
  marker: string | null;
}

export interface AliasDescription extends AliasRecord {
  arn: string;
}

export interface RotationStatus {
  keyArn: string;
  enabled: boolean;
  rotationPeriodDays: number | null;
  nextRotationAt: Date | null;
}

export interface RotationEntry {
  keyId: string;
  rotatedAt: Date;
  rotationType: RotationType;
}

/**
 * A key as a request names it, found before the request is authorized (KeyRing.namedKey), with
 * the error the request gets if there is no such key.
 */
export interface NamedKey {
  key: KmsKeyRecord;
  arn: string;
  /** The version the request uses: the current one, or the one a ciphertext names. */
  version: number;
  /**
   * What the request is answered when the key does not exist (NotFound, or for a ciphertext
   * InvalidCiphertext) — also when another tenant's key is refused, so that nobody learns from a
   * refusal that a foreign key exists.
   */
  ifMissing: KmsError;
}

/** How a key's use was decided before the key ring sees it. */
export interface KeyUseInput {
  justification?: KeyUseJustification;
  /**
   * The KMS API's request authorizer has decided this use with the key policy as the resource
   * policy (kms-endpoint.ts): the ring records the grant and does not evaluate the key policy a
   * second time. Absent or false (S3 data path, XKS, lifecycle, an operator's approved use): the
   * ring evaluates the key policy's denies (evaluateKeyUse).
   */
  keyPolicyEvaluated?: boolean;
}

export interface MaintenanceReport {
  keysDeleted: number;
  versionsDeleted: number;
  keysRotated: number;
}

/** How a key's state gates an operation (https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html). */
type StateRule =
  /** Cryptographic use and rotation: Enabled only. */
  | 'use'
  /** Changes to the key: anything but PendingDeletion. */
  | 'manage'
  /** Reading metadata: any state. */
  | 'view';

/**
 * The key ring: tenants' KMS keys, wrapped by the root of trust, and the AWS KMS operations on
 * them. Every operation is scoped to the caller's tenant; a key of another tenant is NotFound,
 * indistinguishable from a key that does not exist. Key material exists in the clear only in the
 * material cache (bounded, time-limited, dropped at seal) and during one operation.
 */
export class KeyRing {
  readonly #store: KeyStore;
  readonly #root: RootOfTrust | null;
  readonly #clock: Clock;
  readonly #region: string;
  readonly #materials: KeyMaterialCache;
  readonly #decisions: KeyUseDecisionRecorder | null;
  readonly #digestSigner: DigestSigner | null;
  /** Key records for the cryptographic hot path; re-read after LIMITS.kmsKeyRecordCacheTtlMs. */
  readonly #keyRecords = new Map<string, { key: KmsKeyRecord | null; expiresAtMs: number }>();
  readonly #aliasTargets = new Map<string, { keyId: string | null; expiresAtMs: number }>();
  /** Keys were deleted but the store has not yet discarded older copies of their rows. */
  #copiesToDiscard = false;

  constructor(options: KeyRingOptions) {
    this.#store = options.store;
    this.#root = options.root;
    this.#clock = options.clock;
    this.#region = options.region;
    this.#decisions = options.decisions ?? null;
    this.#digestSigner = options.digestSigner ?? null;
    this.#materials = new KeyMaterialCache({
      maxEntries: options.materialCache?.maxEntries ?? LIMITS.kmsKeyMaterialCacheEntries,
      ttlMs: options.materialCache?.ttlMs ?? LIMITS.kmsKeyMaterialCacheTtlMs,
      clock: options.clock,
    });
  }

  // ---- authorization ----------------------------------------------------------------------------

  /**
   * The key a request names, looked up so that the request can be authorized on it before it
   * runs (protocols/kms/kms-endpoint.ts). Key ids and alias names are the caller's tenant's; with
   * `acrossTenants` a key ARN or alias ARN may name another tenant's key (AWS: "To specify a KMS
   * key in a different AWS account, you must use the key ARN or alias ARN",
   * https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html).
   * Records come from the hot path's caches; a key that is not there fails as the operation
   * itself would (KeyNotFound, AliasNotFound).
   */
  async namedKey(
    callerTenantId: string,
    reference: string,
    options: { allowAlias: boolean; acrossTenants: boolean },
  ): Promise<NamedKey> {
    const named = options.acrossTenants ? tenantOfKeyArn(reference, this.#region) : null;
    const tenantId = named ?? callerTenantId;
    const parsed = parseKeyReference(reference, this.#scope(tenantId), options.allowAlias);
    const ifMissing =
      parsed.kind === 'alias'
        ? this.#aliasNotFound(tenantId, parsed.aliasName)
        : this.#keyNotFound(tenantId, parsed.keyId);
    const keyId = await this.#cachedKeyId(tenantId, parsed);
    const key = await this.#cachedKey(keyId);
    if (key?.tenantId !== tenantId || key === null) throw ifMissing;
    return { key, arn: this.#arn(key), version: key.currentVersion, ifMissing };
  }

  /**
   * The key a ciphertext blob names (Decrypt, ReEncrypt's source), looked up as namedKey does;
   * another tenant's only with `acrossTenants`. A malformed blob, or one naming no such key, fails
   * with the one InvalidCiphertext error.
   */
  async ciphertextKey(callerTenantId: string, blob: Uint8Array, acrossTenants: boolean): Promise<NamedKey> {
    if (blob.length > LIMITS.kmsCiphertextBlobMaxBytes) throw invalidCiphertext();
    const header = readCiphertextHeader(blob);
    const key = await this.#cachedKey(header.keyId);
    if (key?.keyUsage !== 'ENCRYPT_DECRYPT' || (!acrossTenants && key.tenantId !== callerTenantId)) {
      throw invalidCiphertext();
    }
    return { key, arn: this.#arn(key), version: header.version, ifMissing: invalidCiphertext() };
  }

  /**
   * Records a key use that the KMS API's request authorizer refused, as the ring records the
   * decisions it takes itself (#authorizeUse): in the key owner's decision log, with the
   * requester's justification.
   */
  recordRefusedUse(named: NamedKey, justification: KeyUseJustification, denialReason: string): void {
    this.#decisions?.record({
      decidedAt: this.#clock.now(),
      tenantId: named.key.tenantId,
      keyId: named.key.keyId,
      keyVersion: named.version,
      decision: 'denied',
      denialReason,
      justification,
    });
  }

  // ---- keys -------------------------------------------------------------------------------------

  async createKey(tenantId: string, input: CreateKeyInput): Promise<KeyDescription> {
    const usage = checkUsage(input.keySpec, input.keyUsage);
    checkDescription(input.description);
    const policy = input.policy === null ? defaultKeyPolicy(tenantId) : checkKeyPolicy(input.policy);
    const tags = mergeTags([], input.tags);
    const root = this.#unsealedRoot();
    const now = this.#clock.now();
    const key: KmsKeyRecord = {
      format: KMS_KEY_RECORD_FORMAT,
      keyId: newUuid(),
      tenantId,
      keySpec: input.keySpec,
      keyUsage: usage,
      keyState: 'Enabled',
      description: input.description,
      createdAt: now,
      deletionDate: null,
      pendingWindowDays: null,
      rotationEnabled: false,
      rotationPeriodDays: null,
      nextRotationAt: null,
      currentVersion: 1,
      onDemandRotations: 0,
      policy,
      tags,
    };
    const generated = generateKeyMaterial(key.keySpec);
    try {
      const wrapped = await root.wrap(generated.material, wrappingAad(key, 1));
      await this.#store.transaction(async (tx) => {
        if ((await tx.countKeys(tenantId)) >= LIMITS.kmsKeysPerTenantMax) {
          throw kmsError('LimitExceeded', `A tenant may have at most ${LIMITS.kmsKeysPerTenantMax} KMS keys`);
        }
        await tx.insertKey(key);
        await tx.insertKeyVersion({
          keyId: key.keyId,
          version: 1,
          wrappedMaterial: wrapped,
          publicKey: generated.publicKey,
          createdAt: now,
          rotationType: null,
        });
      });
    } finally {
      generated.material.fill(0);
    }
    return this.#described(key);
  }

  async describeKey(tenantId: string, keyReference: string): Promise<KeyDescription> {
    return this.#described(await this.#findKey(tenantId, keyReference, true, 'view'));
  }

  async listKeys(tenantId: string, page: PageRequest): Promise<Page<{ keyId: string; arn: string }>> {
    const limit = pageLimit(page.limit, LIMITS.kmsListKeysMax);
    const after = readMarker(page.marker, 'key');
    const keys = await this.#store.listKeys(tenantId, after, limit + 1);
    const items = keys.slice(0, limit).map((key) => ({ keyId: key.keyId, arn: this.#arn(key) }));
    return { items, nextMarker: keys.length > limit ? writeMarker('key', items.at(-1)!.keyId) : null };
  }

  async enableKey(tenantId: string, keyReference: string): Promise<void> {
    await this.#changeKey(tenantId, keyReference, 'manage', (key) => ({ ...key, keyState: 'Enabled' }));
  }

  async disableKey(tenantId: string, keyReference: string): Promise<void> {
    await this.#changeKey(tenantId, keyReference, 'manage', (key) => ({ ...key, keyState: 'Disabled' }));
  }

  async updateKeyDescription(tenantId: string, keyReference: string, description: string): Promise<void> {
    checkDescription(description);
    await this.#changeKey(tenantId, keyReference, 'manage', (key) => ({ ...key, description }));
  }

  // ---- deletion ---------------------------------------------------------------------------------

  /** Puts a key in PendingDeletion for `pendingWindowDays` (7–30, default 30). */
  async scheduleKeyDeletion(
    tenantId: string,
    keyReference: string,
    pendingWindowDays: number | null,
  ): Promise<KeyDescription> {
    const days = pendingWindowDays ?? LIMITS.kmsPendingWindowDaysDefault;
    checkIntegerRange(
      days,
      LIMITS.kmsPendingWindowDaysMin,
      LIMITS.kmsPendingWindowDaysMax,
      'PendingWindowInDays',
    );
    const now = this.#clock.nowMs();
    return this.#described(
      await this.#changeKey(tenantId, keyReference, 'manage', (key) => ({
        ...key,
        keyState: 'PendingDeletion',
        deletionDate: new Date(now + days * DAY_MS),
        pendingWindowDays: days,
      })),
    );
  }

  /** Leaves PendingDeletion; the key is Disabled afterwards, as in AWS KMS. */
  async cancelKeyDeletion(tenantId: string, keyReference: string): Promise<KeyDescription> {
    return this.#described(
      await this.#changeKey(tenantId, keyReference, 'view', (key) => {
        if (key.keyState !== 'PendingDeletion') {
          throw kmsError('KeyInvalidState', `${this.#arn(key)} is not pending deletion.`);
        }
        return { ...key, keyState: 'Disabled', deletionDate: null, pendingWindowDays: null };
      }),
    );
  }

  /**
   * Destroys keys whose deletion date has passed: their versions' wrapped material (the only
   * copy of the key material: crypto-shredding), their aliases and their row, each key in its own
   * transaction, after re-checking that it is still due. Then the store discards older copies of
   * the deleted rows from its files (SQLite's write-ahead log); should that fail, the next pass
   * tries again. Ciphertexts under the keys can never be decrypted again.
   */
  async completeDueDeletions(now: Date): Promise<{ keysDeleted: number; versionsDeleted: number }> {
    let keysDeleted = 0;
    let versionsDeleted = 0;
    for (;;) {
      const due = await this.#store.listKeysDueForDeletion(now.getTime(), LIMITS.kmsMaintenanceBatch);
      let progressed = false;
      for (const candidate of due) {
        const deleted = await this.#store.transaction(async (tx) => {
          const key = await tx.lockKey(candidate.keyId);
          if (key?.keyState !== 'PendingDeletion' || key.deletionDate === null) return null;
          if (key.deletionDate.getTime() > now.getTime()) return null;
          return tx.deleteKey(key.keyId);
        });
        this.#forgetKey(candidate.keyId);
        if (deleted === null) continue;
        progressed = true;
        keysDeleted += 1;
        versionsDeleted += deleted.versionsDeleted;
      }
      if (due.length < LIMITS.kmsMaintenanceBatch || !progressed) break;
    }
    this.#aliasTargets.clear();
    if (keysDeleted > 0) this.#copiesToDiscard = true;
    if (this.#copiesToDiscard) {
      await this.#store.discardDeletedCopies();
      this.#copiesToDiscard = false;
    }
    return { keysDeleted, versionsDeleted };
  }

  /** One maintenance pass: due deletions, then due automatic rotations. */
  async runMaintenance(now: Date): Promise<MaintenanceReport> {
    const deletions = await this.completeDueDeletions(now);
    const keysRotated =
      this.#root === null || this.#root.state() !== 'unsealed' ? 0 : await this.rotateDueKeys(now);
    return { ...deletions, keysRotated };
  }

  // ---- rotation ---------------------------------------------------------------------------------

  async enableKeyRotation(tenantId: string, keyReference: string, periodDays: number | null): Promise<void> {
    const days = periodDays ?? LIMITS.kmsRotationPeriodDaysDefault;
    checkIntegerRange(
      days,
      LIMITS.kmsRotationPeriodDaysMin,
      LIMITS.kmsRotationPeriodDaysMax,
      'RotationPeriodInDays',
    );
    const now = this.#clock.nowMs();
    await this.#changeKey(tenantId, keyReference, 'use', (key) => {
      this.#checkRotatable(key);
      return {
        ...key,
        rotationEnabled: true,
        rotationPeriodDays: days,
        nextRotationAt: new Date(now + days * DAY_MS),
      };
    });
  }

  async disableKeyRotation(tenantId: string, keyReference: string): Promise<void> {
    await this.#changeKey(tenantId, keyReference, 'use', (key) => {
      this.#checkRotatable(key);
      return { ...key, rotationEnabled: false, rotationPeriodDays: null, nextRotationAt: null };
    });
  }

  /** While a key is pending deletion its rotation reads as off (AWS does the same) and resumes on cancel. */
  async getKeyRotationStatus(tenantId: string, keyReference: string): Promise<RotationStatus> {
    const key = await this.#findKey(tenantId, keyReference, false, 'view');
    const enabled = key.rotationEnabled && key.keyState !== 'PendingDeletion';
    return {
      keyArn: this.#arn(key),
      enabled,
      rotationPeriodDays: enabled ? key.rotationPeriodDays : null,
      nextRotationAt: enabled ? key.nextRotationAt : null,
    };
  }

  /** Adds a version; new ciphertexts use it, older versions keep decrypting what they encrypted. */
  async rotateKeyOnDemand(tenantId: string, keyReference: string): Promise<string> {
    const key = await this.#rotate(tenantId, keyReference);
    return this.#arn(key);
  }

  async listKeyRotations(
    tenantId: string,
    keyReference: string,
    page: PageRequest,
  ): Promise<Page<RotationEntry>> {
    const key = await this.#findKey(tenantId, keyReference, false, 'view');
    this.#checkRotatable(key);
    const limit = pageLimit(page.limit, LIMITS.kmsListKeysMax);
    const after = Math.max(1, Number(readMarker(page.marker, 'version') || '1'));
    const versions = await this.#store.listKeyVersions(key.keyId, after, limit + 1);
    const items = versions.slice(0, limit).map((version) => ({
      keyId: key.keyId,
      rotatedAt: version.createdAt,
      rotationType: version.rotationType ?? 'ON_DEMAND',
    }));
    const last = versions[limit - 1];
    return {
      items,
      nextMarker:
        versions.length > limit && last !== undefined ? writeMarker('version', String(last.version)) : null,
    };
  }

  /** Rotates every Enabled key whose automatic rotation is due; returns how many were rotated. */
  async rotateDueKeys(now: Date): Promise<number> {
    let rotated = 0;
    for (;;) {
      const due = await this.#store.listKeysDueForRotation(now.getTime(), LIMITS.kmsMaintenanceBatch);
      for (const key of due) {
        const done = await this.#rotateLocked(key.keyId, 'AUTOMATIC', now, (current) => {
          // Changed since it was listed: no longer due, or no longer rotating.
          const next = current.nextRotationAt?.getTime() ?? Infinity;
          return current.keyState === 'Enabled' && current.rotationEnabled && next <= now.getTime();
        });
        if (done !== null) rotated += 1;
      }
      if (due.length < LIMITS.kmsMaintenanceBatch) return rotated;
    }
  }

  // ---- aliases ----------------------------------------------------------------------------------

  async createAlias(tenantId: string, aliasName: string, targetKeyReference: string): Promise<void> {
    checkAliasName(aliasName, true);
    const target = this.#keyIdOf(parseKeyReference(targetKeyReference, this.#scope(tenantId), false));
    const now = this.#clock.now();
    await this.#store.transaction(async (tx) => {
      const key = await this.#lockOwnKey(tx, tenantId, target);
      this.#checkState(key, 'manage');
      if ((await tx.countAliases(tenantId)) >= LIMITS.kmsAliasesPerTenantMax) {
        throw kmsError('LimitExceeded', `A tenant may have at most ${LIMITS.kmsAliasesPerTenantMax} aliases`);
      }
      await tx.insertAlias({ tenantId, aliasName, keyId: key.keyId, createdAt: now, updatedAt: now });
    });
    this.#aliasTargets.delete(aliasCacheName(tenantId, aliasName));
  }

  /**
   * Points an alias at another key of the same type and usage
   * (https://docs.aws.amazon.com/kms/latest/APIReference/API_UpdateAlias.html).
   */
  async updateAlias(tenantId: string, aliasName: string, targetKeyReference: string): Promise<void> {
    checkAliasName(aliasName, true);
    const target = this.#keyIdOf(parseKeyReference(targetKeyReference, this.#scope(tenantId), false));
    await this.#store.transaction(async (tx) => {
      const alias = await tx.getAlias(tenantId, aliasName);
      if (alias === null) throw this.#aliasNotFound(tenantId, aliasName);
      const key = await this.#lockOwnKey(tx, tenantId, target);
      this.#checkState(key, 'manage');
      const current = await tx.lockKey(alias.keyId);
      if (current !== null && (current.keySpec !== key.keySpec || current.keyUsage !== key.keyUsage)) {
        throw kmsError(
          'Validation',
          `${this.#arn(key)} is not the same type of key as the alias's current key (${current.keySpec}, ${current.keyUsage})`,
        );
      }
      await tx.updateAlias({ ...alias, keyId: key.keyId, updatedAt: this.#clock.now() });
    });
    this.#aliasTargets.delete(aliasCacheName(tenantId, aliasName));
  }

  async deleteAlias(tenantId: string, aliasName: string): Promise<void> {
    checkAliasName(aliasName, false);
    const deleted = await this.#store.transaction((tx) => tx.deleteAlias(tenantId, aliasName));
    this.#aliasTargets.delete(aliasCacheName(tenantId, aliasName));
    if (!deleted) throw this.#aliasNotFound(tenantId, aliasName);
  }

  /** The tenant's aliases, or those of one key (named by key id or key ARN). */
  async listAliases(
    tenantId: string,
    keyReference: string | null,
    page: PageRequest,
  ): Promise<Page<AliasDescription>> {
    const limit = pageLimit(page.limit, LIMITS.kmsListAliasesMax);
    const after = readMarker(page.marker, 'alias');
    let keyId: string | null = null;
    if (keyReference !== null) keyId = (await this.#findKey(tenantId, keyReference, false, 'view')).keyId;
    const aliases = await this.#store.listAliases(tenantId, keyId, after, limit + 1);
    const items = aliases.slice(0, limit).map((alias) => ({
      ...alias,
      arn: aliasArn(this.#scope(tenantId), alias.aliasName),
    }));
    return {
      items,
      nextMarker: aliases.length > limit ? writeMarker('alias', items.at(-1)!.aliasName) : null,
    };
  }

  // ---- tags and policy --------------------------------------------------------------------------

  async tagResource(tenantId: string, keyReference: string, tags: readonly KmsTag[]): Promise<void> {
    await this.#changeKey(tenantId, keyReference, 'manage', (key) => ({
      ...key,
      tags: mergeTags(key.tags, tags),
    }));
  }

  async untagResource(tenantId: string, keyReference: string, tagKeys: readonly string[]): Promise<void> {
    const removed = new Set(tagKeys);
    await this.#changeKey(tenantId, keyReference, 'manage', (key) => ({
      ...key,
      tags: key.tags.filter((tag) => !removed.has(tag.key)),
    }));
  }

  async listResourceTags(tenantId: string, keyReference: string, page: PageRequest): Promise<Page<KmsTag>> {
    const key = await this.#findKey(tenantId, keyReference, false, 'view');
    const limit = pageLimit(page.limit, LIMITS.kmsListTagsMax);
    const start = Number(readMarker(page.marker, 'tag') || '0');
    const items = key.tags.slice(start, start + limit);
    return {
      items,
      nextMarker: start + limit < key.tags.length ? writeMarker('tag', String(start + limit)) : null,
    };
  }

  async getKeyPolicy(tenantId: string, keyReference: string, policyName: string): Promise<string> {
    checkPolicyName(policyName);
    return (await this.#findKey(tenantId, keyReference, false, 'view')).policy;
  }

  async putKeyPolicy(
    tenantId: string,
    keyReference: string,
    policyName: string,
    policy: string,
  ): Promise<void> {
    checkPolicyName(policyName);
    checkKeyPolicy(policy);
    await this.#changeKey(tenantId, keyReference, 'manage', (key) => ({ ...key, policy }));
  }

  // ---- cryptographic operations -----------------------------------------------------------------

  async encrypt(
    tenantId: string,
    input: KeyUseInput & {
      keyReference: string;
      plaintext: Uint8Array;
      context: EncryptionContext;
      dryRun: boolean;
    },
  ): Promise<{ ciphertextBlob: Buffer; keyArn: string }> {
    checkByteLength(input.plaintext, 1, LIMITS.kmsKeyRingPlaintextMaxBytes, 'Plaintext');
    checkEncryptionContext(input.context, 'EncryptionContext');
    const key = await this.#usableKey(tenantId, input.keyReference, 'ENCRYPT_DECRYPT');
    this.#authorizeUse(key, key.currentVersion, tenantId, 'Encrypt', input);
    if (input.dryRun) throw dryRunSucceeded();
    const ciphertextBlob = await this.#withMaterial(key, key.currentVersion, (material) =>
      sealCiphertext(
        material,
        { keyId: key.keyId, version: key.currentVersion },
        input.plaintext,
        input.context,
      ),
    );
    return { ciphertextBlob, keyArn: this.#arn(key) };
  }

  /**
   * Decrypts a blob of this ring. The blob names its key and version; a KeyId in the request
   * must name that same key (IncorrectKey otherwise). A blob that is malformed, tampered with,
   * under another context, or under a key this tenant does not have fails with the one
   * InvalidCiphertext error, so failures reveal nothing about other tenants' keys.
   */
  async decrypt(
    tenantId: string,
    input: KeyUseInput & {
      ciphertextBlob: Uint8Array;
      context: EncryptionContext;
      keyReference: string | null;
      dryRun: boolean;
    },
  ): Promise<{ plaintext: Buffer; keyArn: string }> {
    checkEncryptionContext(input.context, 'EncryptionContext');
    const { key, version } = await this.#keyOfCiphertext(tenantId, input.ciphertextBlob, input.keyReference);
    this.#authorizeUse(key, version, tenantId, 'Decrypt', input);
    if (input.dryRun) throw dryRunSucceeded();
    const plaintext = await this.#withMaterial(key, version, (material) =>
      openCiphertext(material, input.ciphertextBlob, input.context),
    );
    return { plaintext, keyArn: this.#arn(key) };
  }

  /** A fresh data key, in the clear and wrapped by the KMS key. */
  async generateDataKey(
    tenantId: string,
    input: KeyUseInput & {
      keyReference: string;
      numberOfBytes: number;
      context: EncryptionContext;
      dryRun: boolean;
    },
  ): Promise<{ plaintext: Buffer; ciphertextBlob: Buffer; keyArn: string }> {
    checkIntegerRange(input.numberOfBytes, 1, LIMITS.kmsDataKeyMaxBytes, 'NumberOfBytes');
    checkEncryptionContext(input.context, 'EncryptionContext');
    const key = await this.#usableKey(tenantId, input.keyReference, 'ENCRYPT_DECRYPT');
    const operation =
      input.justification?.operation === 'GenerateDataKeyWithoutPlaintext'
        ? 'GenerateDataKeyWithoutPlaintext'
        : 'GenerateDataKey';
    this.#authorizeUse(key, key.currentVersion, tenantId, operation, input);
    if (input.dryRun) throw dryRunSucceeded();
    const plaintext = randomBytes(input.numberOfBytes);
    const ciphertextBlob = await this.#withMaterial(key, key.currentVersion, (material) =>
      sealCiphertext(material, { keyId: key.keyId, version: key.currentVersion }, plaintext, input.context),
    );
    return { plaintext, ciphertextBlob, keyArn: this.#arn(key) };
  }

  /**
   * Decrypts under the source key and context and encrypts under the destination's; the plaintext
   * never leaves. `tenantId` owns the source key; `destinationTenantId`, when given, the
   * destination key (a cross-tenant ReEncrypt the KMS API authorized on both keys).
   */
  async reEncrypt(
    tenantId: string,
    input: KeyUseInput & {
      ciphertextBlob: Uint8Array;
      sourceContext: EncryptionContext;
      sourceKeyReference: string | null;
      destinationKeyReference: string;
      destinationContext: EncryptionContext;
      dryRun: boolean;
      destinationTenantId?: string;
    },
  ): Promise<{ ciphertextBlob: Buffer; sourceKeyArn: string; keyArn: string }> {
    checkEncryptionContext(input.sourceContext, 'SourceEncryptionContext');
    checkEncryptionContext(input.destinationContext, 'DestinationEncryptionContext');
    const destinationTenantId = input.destinationTenantId ?? tenantId;
    const source = await this.#keyOfCiphertext(tenantId, input.ciphertextBlob, input.sourceKeyReference);
    const destination = await this.#usableKey(
      destinationTenantId,
      input.destinationKeyReference,
      'ENCRYPT_DECRYPT',
    );
    this.#authorizeUse(source.key, source.version, tenantId, 'ReEncryptFrom', input);
    this.#authorizeUse(destination, destination.currentVersion, destinationTenantId, 'ReEncryptTo', input);
    if (input.dryRun) throw dryRunSucceeded();
    const plaintext = await this.#withMaterial(source.key, source.version, (material) =>
      openCiphertext(material, input.ciphertextBlob, input.sourceContext),
    );
    try {
      const ciphertextBlob = await this.#withMaterial(destination, destination.currentVersion, (material) =>
        sealCiphertext(
          material,
          { keyId: destination.keyId, version: destination.currentVersion },
          plaintext,
          input.destinationContext,
        ),
      );
      return { ciphertextBlob, sourceKeyArn: this.#arn(source.key), keyArn: this.#arn(destination) };
    } finally {
      plaintext.fill(0);
    }
  }

  generateRandom(numberOfBytes: number): Buffer {
    checkIntegerRange(numberOfBytes, 1, LIMITS.kmsRandomMaxBytes, 'NumberOfBytes');
    return randomBytes(numberOfBytes);
  }

  /**
   * Signs a message, or with MessageType DIGEST the SHA-256 digest the caller computed, signed as
   * it is: the signature is the one of the message the digest came from, so either verifies it.
   */
  async sign(
    tenantId: string,
    input: KeyUseInput & {
      keyReference: string;
      message: Uint8Array;
      /** RAW when absent, as in AWS KMS. */
      messageType?: MessageType;
      algorithm: string;
      dryRun: boolean;
    },
  ): Promise<{ signature: Buffer; keyArn: string; algorithm: SigningAlgorithm }> {
    checkByteLength(input.message, 1, LIMITS.kmsSignMessageMaxBytes, 'Message');
    const key = await this.#usableKey(tenantId, input.keyReference, 'SIGN_VERIFY');
    const algorithm = this.#signingAlgorithm(key, input.algorithm);
    const digestSigner = this.#checkMessageType(algorithm, input.messageType ?? 'RAW', input.message);
    this.#authorizeUse(key, key.currentVersion, tenantId, 'Sign', input);
    if (input.dryRun) throw dryRunSucceeded();
    const signature = await this.#withMaterial(key, key.currentVersion, (material) =>
      digestSigner === null
        ? signMessage(key.keySpec, material, input.message)
        : signDigest(digestSigner, material, input.message),
    );
    return { signature, keyArn: this.#arn(key), algorithm };
  }

  /** Resolves when the signature is valid; an invalid one fails with InvalidSignature, as AWS KMS does. */
  async verify(
    tenantId: string,
    input: KeyUseInput & {
      keyReference: string;
      message: Uint8Array;
      /** RAW when absent, as in AWS KMS. */
      messageType?: MessageType;
      signature: Uint8Array;
      algorithm: string;
      dryRun: boolean;
    },
  ): Promise<{ keyArn: string; algorithm: SigningAlgorithm }> {
    checkByteLength(input.message, 1, LIMITS.kmsSignMessageMaxBytes, 'Message');
    checkByteLength(input.signature, 1, LIMITS.kmsSignatureMaxBytes, 'Signature');
    const key = await this.#usableKey(tenantId, input.keyReference, 'SIGN_VERIFY');
    const algorithm = this.#signingAlgorithm(key, input.algorithm);
    const digestSigner = this.#checkMessageType(algorithm, input.messageType ?? 'RAW', input.message);
    this.#authorizeUse(key, key.currentVersion, tenantId, 'Verify', input);
    if (input.dryRun) throw dryRunSucceeded();
    // Asymmetric keys never rotate, so the first version's public key is the key's.
    const version = await this.#store.getKeyVersion(key.keyId, key.currentVersion);
    if (version?.publicKey === null || version === null)
      throw new Error(`key ${key.keyId} has no public key`);
    const valid =
      digestSigner === null
        ? verifySignature(key.keySpec, version.publicKey, input.message, input.signature)
        : digestSigner.verifySha256Digest(version.publicKey, input.message, input.signature);
    if (!valid) {
      throw kmsError('InvalidSignature', 'The signature is not valid for this key, message and algorithm.');
    }
    return { keyArn: this.#arn(key), algorithm };
  }

  async getPublicKey(
    tenantId: string,
    keyReference: string,
  ): Promise<{ key: KeyDescription; publicKey: Buffer; signingAlgorithms: SigningAlgorithm[] }> {
    const key = await this.#findKey(tenantId, keyReference, true, 'use');
    const algorithm = SIGNING_ALGORITHM_OF_SPEC[key.keySpec];
    if (algorithm === null) {
      throw kmsError('UnsupportedOperation', `${this.#arn(key)} is a symmetric key; it has no public key.`);
    }
    const version = await this.#store.getKeyVersion(key.keyId, key.currentVersion);
    if (version?.publicKey === null || version === null)
      throw new Error(`key ${key.keyId} has no public key`);
    return { key: this.#described(key), publicKey: version.publicKey, signingAlgorithms: [algorithm] };
  }

  /** Drops all unwrapped key material held in memory (seal, shutdown). */
  forgetMaterial(): void {
    this.#materials.clear();
    this.#keyRecords.clear();
    this.#aliasTargets.clear();
  }

  /** How many key versions are unwrapped in memory (tests, metrics). */
  get cachedMaterialCount(): number {
    return this.#materials.size;
  }

  // ---- internals: finding keys ------------------------------------------------------------------

  /** Reads a key of this tenant from the store (admin paths: always fresh) and checks its state. */
  async #findKey(
    tenantId: string,
    reference: string,
    allowAlias: boolean,
    rule: StateRule,
  ): Promise<KmsKeyRecord> {
    const parsed = parseKeyReference(reference, this.#scope(tenantId), allowAlias);
    let keyId: string;
    if (parsed.kind === 'alias') {
      const alias = await this.#store.getAlias(tenantId, parsed.aliasName);
      if (alias === null) throw this.#aliasNotFound(tenantId, parsed.aliasName);
      keyId = alias.keyId;
    } else {
      keyId = parsed.keyId;
    }
    const key = await this.#store.getKey(keyId);
    if (key?.tenantId !== tenantId || key === null) throw this.#keyNotFound(tenantId, keyId);
    this.#checkState(key, rule);
    return key;
  }

  /** The hot path's key lookup: cached records, Enabled only, of the given usage. */
  async #usableKey(tenantId: string, reference: string, usage: KeyUsage): Promise<KmsKeyRecord> {
    const keyId = await this.#cachedKeyId(
      tenantId,
      parseKeyReference(reference, this.#scope(tenantId), true),
    );
    const key = await this.#cachedKey(keyId);
    if (key?.tenantId !== tenantId || key === null) throw this.#keyNotFound(tenantId, keyId);
    this.#checkState(key, 'use');
    if (key.keyUsage !== usage) {
      throw kmsError('InvalidKeyUsage', `${this.#arn(key)} key usage is ${key.keyUsage}, not ${usage}.`);
    }
    return key;
  }

  async #keyOfCiphertext(
    tenantId: string,
    blob: Uint8Array,
    reference: string | null,
  ): Promise<{ key: KmsKeyRecord; version: number }> {
    if (blob.length > LIMITS.kmsCiphertextBlobMaxBytes) throw invalidCiphertext();
    const header = readCiphertextHeader(blob);
    if (reference !== null) {
      const named = await this.#cachedKeyId(
        tenantId,
        parseKeyReference(reference, this.#scope(tenantId), true),
      );
      const namedKey = await this.#cachedKey(named);
      if (namedKey?.tenantId !== tenantId || namedKey === null) throw this.#keyNotFound(tenantId, named);
      if (named !== header.keyId) {
        throw kmsError(
          'IncorrectKey',
          'The key ID in the request does not identify the key that encrypted the ciphertext.',
        );
      }
    }
    const key = await this.#cachedKey(header.keyId);
    if (key?.tenantId !== tenantId || key === null || key.keyUsage !== 'ENCRYPT_DECRYPT')
      throw invalidCiphertext();
    if (header.version > key.currentVersion) throw invalidCiphertext();
    this.#checkState(key, 'use');
    return { key, version: header.version };
  }

  async #cachedKeyId(tenantId: string, reference: KeyReference): Promise<string> {
    if (reference.kind === 'key') return reference.keyId;
    const name = aliasCacheName(tenantId, reference.aliasName);
    const now = this.#clock.nowMs();
    const cached = this.#aliasTargets.get(name);
    let keyId: string | null;
    if (cached !== undefined && cached.expiresAtMs > now) {
      keyId = cached.keyId;
    } else {
      keyId = (await this.#store.getAlias(tenantId, reference.aliasName))?.keyId ?? null;
      boundedSet(this.#aliasTargets, name, { keyId, expiresAtMs: now + LIMITS.kmsKeyRecordCacheTtlMs });
    }
    if (keyId === null) throw this.#aliasNotFound(tenantId, reference.aliasName);
    return keyId;
  }

  async #cachedKey(keyId: string): Promise<KmsKeyRecord | null> {
    const now = this.#clock.nowMs();
    const cached = this.#keyRecords.get(keyId);
    if (cached !== undefined && cached.expiresAtMs > now) return cached.key;
    const key = await this.#store.getKey(keyId);
    boundedSet(this.#keyRecords, keyId, { key, expiresAtMs: now + LIMITS.kmsKeyRecordCacheTtlMs });
    return key;
  }

  #keyIdOf(reference: KeyReference): string {
    if (reference.kind !== 'key') throw new Error('expected a key id reference');
    return reference.keyId;
  }

  async #lockOwnKey(tx: KeyStoreTx, tenantId: string, keyId: string): Promise<KmsKeyRecord> {
    const key = await tx.lockKey(keyId);
    if (key?.tenantId !== tenantId || key === null) throw this.#keyNotFound(tenantId, keyId);
    return key;
  }

  /** Read-modify-write of one key in a transaction, holding the key; the caches forget it after. */
  async #changeKey(
    tenantId: string,
    reference: string,
    rule: StateRule,
    change: (key: KmsKeyRecord) => KmsKeyRecord,
  ): Promise<KmsKeyRecord> {
    const keyId = this.#keyIdOf(parseKeyReference(reference, this.#scope(tenantId), false));
    const changed = await this.#store.transaction(async (tx) => {
      const key = await this.#lockOwnKey(tx, tenantId, keyId);
      this.#checkState(key, rule);
      const next = change(key);
      await tx.updateKey(next);
      return next;
    });
    this.#forgetKey(keyId);
    return changed;
  }

  async #rotate(tenantId: string, reference: string): Promise<KmsKeyRecord> {
    const keyId = this.#keyIdOf(parseKeyReference(reference, this.#scope(tenantId), false));
    const existing = await this.#store.getKey(keyId);
    if (existing?.tenantId !== tenantId || existing === null) throw this.#keyNotFound(tenantId, keyId);
    const rotated = await this.#rotateLocked(keyId, 'ON_DEMAND', this.#clock.now(), (current) => {
      this.#checkState(current, 'use');
      this.#checkRotatable(current);
      if (current.onDemandRotations >= LIMITS.kmsOnDemandRotationsMax) {
        throw kmsError(
          'LimitExceeded',
          `${this.#arn(current)} has been rotated on demand ${LIMITS.kmsOnDemandRotationsMax} times, the most allowed.`,
        );
      }
      return true;
    });
    if (rotated === null) throw new Error(`key ${keyId} was not rotated`);
    return rotated;
  }

  /**
   * Adds version n+1 under the key's lock; null when `stillWanted` says the key changed since. The material is wrapped inside the transaction
   * because the version number is part of the wrapping AAD.
   */
  async #rotateLocked(
    keyId: string,
    rotationType: RotationType,
    now: Date,
    stillWanted: (key: KmsKeyRecord) => boolean,
  ): Promise<KmsKeyRecord | null> {
    const root = this.#unsealedRoot();
    const rotated = await this.#store.transaction(async (tx) => {
      const key = await tx.lockKey(keyId);
      if (key === null) throw new Error(`key ${keyId} vanished while rotating`);
      if (!stillWanted(key)) return null;
      const version = key.currentVersion + 1;
      const generated = generateKeyMaterial(key.keySpec);
      try {
        const wrapped = await root.wrap(generated.material, wrappingAad(key, version));
        await tx.insertKeyVersion({
          keyId,
          version,
          wrappedMaterial: wrapped,
          publicKey: generated.publicKey,
          createdAt: now,
          rotationType,
        });
      } finally {
        generated.material.fill(0);
      }
      const next: KmsKeyRecord = { ...key, currentVersion: version };
      if (rotationType === 'ON_DEMAND') next.onDemandRotations = key.onDemandRotations + 1;
      if (rotationType === 'AUTOMATIC' && key.rotationPeriodDays !== null) {
        next.nextRotationAt = new Date(now.getTime() + key.rotationPeriodDays * DAY_MS);
      }
      await tx.updateKey(next);
      return next;
    });
    this.#forgetKeyRecord(keyId);
    return rotated;
  }

  // ---- internals: material ----------------------------------------------------------------------

  /**
   * Runs `use` on one key version's material, unwrapping it through the root of trust on a cache
   * miss. The unwrapped bytes are zeroed as soon as Node has imported them into a KeyObject.
   */
  async #withMaterial<T>(key: KmsKeyRecord, version: number, use: (material: KeyObject) => T): Promise<T> {
    const root = this.#unsealedRoot();
    const cached = this.#materials.get(key.keyId, version);
    if (cached !== undefined) return use(cached);
    const row = await this.#store.getKeyVersion(key.keyId, version);
    if (row === null) throw invalidCiphertext();
    let unwrapped: Buffer;
    try {
      unwrapped = await root.unwrap(row.wrappedMaterial, wrappingAad(key, version));
    } catch (error) {
      if (isSovraError(error) && error.code === 'InvalidCiphertext') {
        // Not the caller's ciphertext: the stored material did not unwrap (another root?).
        throw new Error(`the wrapped material of key ${key.keyId} version ${version} failed to unwrap`, {
          cause: error,
        });
      }
      throw error;
    }
    let material: KeyObject;
    try {
      material = importKeyMaterial(key.keySpec, unwrapped);
    } finally {
      unwrapped.fill(0);
    }
    // Sealed while unwrapping: nothing may be cached after the seal.
    if (root.state() !== 'unsealed') throw sealed();
    this.#materials.set(key.keyId, version, material);
    return use(material);
  }

  #unsealedRoot(): RootOfTrust {
    if (this.#root === null) {
      throw kmsError(
        'RootUnavailable',
        'Sovra runs without a root of trust (--root-of-trust none); KMS keys are unavailable.',
      );
    }
    if (this.#root.state() !== 'unsealed') {
      // Sealed since the material was cached: it must not outlive the seal.
      this.#materials.clear();
      throw sealed();
    }
    return this.#root;
  }

  // ---- internals: rules -------------------------------------------------------------------------

  /**
   * Decides one key use under the key's policy and records the decision, granted or denied,
   * before anything is done with the key; a denial is KeyUseDenied (AccessDeniedException on the
   * KMS API, AccessDenied on S3) whose message says why. A use the KMS API's request authorizer
   * has decided with the key policy is recorded as granted without evaluating the policy again.
   * A use without a justification is the tenant's own (CUSTOMER_INITIATED_ACCESS) from an
   * unknown requester.
   */
  #authorizeUse(
    key: KmsKeyRecord,
    version: number,
    tenantId: string,
    operation: string,
    use: KeyUseInput,
  ): void {
    const given = use.justification;
    const justification: KeyUseJustification =
      given === undefined
        ? { ...UNEXPLAINED_USE, tenantId, operation }
        : given.operation === operation
          ? given
          : { ...given, operation };
    const decision =
      use.keyPolicyEvaluated === true
        ? GRANTED_BY_REQUEST_AUTHORIZER
        : evaluateKeyUse(key.policy, `kms:${operation}`, justification, {
            arn: this.#arn(key),
            tenantId: key.tenantId,
          });
    this.#decisions?.record({
      decidedAt: this.#clock.now(),
      tenantId,
      keyId: key.keyId,
      keyVersion: version,
      decision: decision.granted ? 'granted' : 'denied',
      denialReason: decision.granted ? null : decision.denialReason,
      justification,
    });
    if (!decision.granted) {
      throw kmsError('KeyUseDenied', `${this.#arn(key)}: ${decision.denialReason}.`, {
        reason: justification.reason,
      });
    }
  }

  #checkState(key: KmsKeyRecord, rule: StateRule): void {
    switch (rule) {
      case 'view':
        return;
      case 'manage':
        if (key.keyState === 'PendingDeletion') throw this.#pendingDeletion(key);
        return;
      case 'use':
        if (key.keyState === 'PendingDeletion') throw this.#pendingDeletion(key);
        if (key.keyState === 'Disabled') throw kmsError('KeyDisabled', `${this.#arn(key)} is disabled.`);
        return;
      default:
        assertNever(rule, 'state rule');
    }
  }

  /** Only symmetric encryption keys rotate (https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html). */
  #checkRotatable(key: KmsKeyRecord): void {
    if (key.keySpec !== 'SYMMETRIC_DEFAULT') {
      throw kmsError(
        'UnsupportedOperation',
        `${this.#arn(key)} is an asymmetric key; only symmetric keys rotate.`,
      );
    }
  }

  #signingAlgorithm(key: KmsKeyRecord, requested: string): SigningAlgorithm {
    const algorithm = SIGNING_ALGORITHM_OF_SPEC[key.keySpec];
    if (algorithm === null || requested !== algorithm) {
      throw kmsError(
        'InvalidKeyUsage',
        `${this.#arn(key)} (${key.keySpec}) does not support the signing algorithm ${requested}.`,
      );
    }
    return algorithm;
  }

  /**
   * Whether the Message can be what MessageType says for this algorithm
   * (https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html#KMS-Sign-request-MessageType):
   * a DIGEST must be as long as the algorithm's hash output (32 bytes for SHA-256) and is refused
   * with ML-DSA, which AWS offers only RAW and EXTERNAL_MU
   * (https://docs.aws.amazon.com/kms/latest/developerguide/mldsa.html); an EXTERNAL_MU is ML-DSA's
   * 64-byte μ. Returns the signer a DIGEST needs, null for a RAW message.
   */
  #checkMessageType(
    algorithm: SigningAlgorithm,
    messageType: MessageType,
    message: Uint8Array,
  ): DigestSigner | null {
    switch (messageType) {
      case 'RAW':
        return null;
      case 'DIGEST':
        if (algorithm === 'ML_DSA_SHAKE_256') {
          throw kmsError(
            'Validation',
            'MessageType DIGEST is not valid with ML_DSA_SHAKE_256: ML-DSA signs a RAW message, or with ' +
              'EXTERNAL_MU the 64-byte message representative mu of FIPS 204 section 6.2.',
          );
        }
        if (message.length !== SHA256_DIGEST_BYTES) {
          throw kmsError(
            'Validation',
            `Digest is invalid length for algorithm ${algorithm}: a DIGEST message is its ${SHA256_DIGEST_BYTES}-byte SHA-256 digest.`,
          );
        }
        if (this.#digestSigner === null) {
          throw kmsError('UnsupportedOperation', 'MessageType DIGEST is not available on this Sovra.');
        }
        return this.#digestSigner;
      case 'EXTERNAL_MU':
        if (algorithm !== 'ML_DSA_SHAKE_256') {
          throw kmsError(
            'Validation',
            `MessageType EXTERNAL_MU is only valid with ML-DSA, not ${algorithm}.`,
          );
        }
        if (message.length !== ML_DSA_MU_BYTES) {
          throw kmsError('Validation', `An EXTERNAL_MU message must be ${ML_DSA_MU_BYTES} bytes long.`);
        }
        // node:crypto signs and verifies ML-DSA only over whole messages; it cannot take a
        // precomputed mu, so Sovra does not offer it rather than reimplement ML-DSA.
        throw kmsError(
          'UnsupportedOperation',
          `MessageType EXTERNAL_MU is not supported by Sovra; sign the message itself (RAW, up to ${LIMITS.kmsSignMessageMaxBytes} bytes).`,
        );
      default:
        return assertNever(messageType, 'message type');
    }
  }

  #pendingDeletion(key: KmsKeyRecord): KmsError {
    return kmsError('KeyInvalidState', `${this.#arn(key)} is pending deletion.`);
  }

  #keyNotFound(tenantId: string, keyId: string): KmsError {
    return kmsError('KeyNotFound', `Key '${keyArn(this.#scope(tenantId), keyId)}' does not exist`);
  }

  #aliasNotFound(tenantId: string, aliasName: string): KmsError {
    return kmsError('AliasNotFound', `Alias ${aliasArn(this.#scope(tenantId), aliasName)} is not found.`);
  }

  #forgetKey(keyId: string): void {
    this.#forgetKeyRecord(keyId);
    this.#materials.forgetKey(keyId);
  }

  #forgetKeyRecord(keyId: string): void {
    this.#keyRecords.delete(keyId);
  }

  #scope(tenantId: string): KeyScope {
    return { tenantId, region: this.#region };
  }

  #arn(key: KmsKeyRecord): string {
    return keyArn(this.#scope(key.tenantId), key.keyId);
  }

  #described(key: KmsKeyRecord): KeyDescription {
    return { ...key, arn: this.#arn(key) };
  }
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** A DIGEST message of ECDSA_SHA_256 is a SHA-256 output. */
const SHA256_DIGEST_BYTES = 32;
/** ML-DSA's message representative mu is 64 bytes (FIPS 204 §6.2, Algorithm 7). */
const ML_DSA_MU_BYTES = 64;

const GRANTED_BY_REQUEST_AUTHORIZER: KeyUseDecision = { granted: true };

const UNEXPLAINED_USE: Omit<KeyUseJustification, 'tenantId' | 'operation'> = {
  principalId: 'unknown',
  service: 'kms',
  reason: 'CUSTOMER_INITIATED_ACCESS',
  approvalReference: null,
  sourceIp: '',
  jurisdiction: 'unknown',
  requestId: '',
};

/** AAD of a wrapped key version: the tenant, key and version it belongs to, so rows cannot be swapped. */
export function wrappingAad(key: Pick<KmsKeyRecord, 'tenantId' | 'keyId'>, version: number): Buffer {
  return Buffer.from(
    `sovra/kms-key-version/1\u0000${key.tenantId}\u0000${key.keyId}\u0000${version}`,
    'utf8',
  );
}

function sealed(): KmsError {
  return kmsError(
    'Sealed',
    'Sovra is sealed: a quorum of key custodians must unseal it before keys can be used.',
  );
}

function dryRunSucceeded(): KmsError {
  return kmsError('DryRunSucceeded', 'The request would have succeeded, but the DryRun parameter was set.');
}

function checkUsage(spec: KeySpec, requested: KeyUsage | null): KeyUsage {
  const usage = USAGE_OF_SPEC[spec];
  if (requested !== null && requested !== usage) {
    throw kmsError(
      'Validation',
      `KeyUsage ${requested} is not compatible with KeySpec ${spec}; use ${usage}.`,
    );
  }
  return usage;
}

function checkDescription(description: string): void {
  if (description.length > LIMITS.kmsDescriptionMaxChars) {
    throw kmsError('Validation', `Description must be at most ${LIMITS.kmsDescriptionMaxChars} characters`);
  }
}

function checkIntegerRange(value: number, min: number, max: number, field: string): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw kmsError('Validation', `${field} must be an integer from ${min} to ${max}`);
  }
}

function checkByteLength(bytes: Uint8Array, min: number, max: number, field: string): void {
  if (bytes.length < min || bytes.length > max) {
    throw kmsError('Validation', `${field} must be from ${min} to ${max} bytes long`);
  }
}

function pageLimit(limit: number, max: number): number {
  checkIntegerRange(limit, 1, max, 'Limit');
  return limit;
}

/**
 * Tag rules of https://docs.aws.amazon.com/kms/latest/APIReference/API_Tag.html: keys of 1–128
 * and values of 0–256 characters from letters, digits, spaces and `_ . : / = + - @`; keys
 * beginning with `aws:` are reserved; at most 50 tags. A tag key given again replaces the value.
 */
function mergeTags(existing: readonly KmsTag[], added: readonly KmsTag[]): KmsTag[] {
  const merged = new Map(existing.map((tag) => [tag.key, tag.value]));
  for (const tag of added) {
    if (tag.key.length < 1 || tag.key.length > LIMITS.kmsTagKeyMaxChars || !TAG_TEXT.test(tag.key)) {
      throw kmsError('InvalidTag', `Tag key ${JSON.stringify(tag.key)} is not valid`);
    }
    if (tag.key.toLowerCase().startsWith('aws:')) {
      throw kmsError('InvalidTag', 'Tag keys beginning with aws: are reserved');
    }
    if (tag.value.length > LIMITS.kmsTagValueMaxChars || !TAG_TEXT.test(tag.value)) {
      throw kmsError('InvalidTag', `Tag value ${JSON.stringify(tag.value)} is not valid`);
    }
    merged.set(tag.key, tag.value);
  }
  if (merged.size > LIMITS.kmsTagsPerKeyMax) {
    throw kmsError('InvalidTag', `A KMS key may have at most ${LIMITS.kmsTagsPerKeyMax} tags`);
  }
  return [...merged].map(([key, value]) => ({ key, value }));
}

const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** Page markers are opaque to clients: base64url of `<kind>:<position>`. */
function writeMarker(kind: string, position: string): string {
  return Buffer.from(`${kind}:${position}`, 'utf8').toString('base64url');
}

/** The position in a marker of this kind; '' without a marker. A foreign or forged marker is InvalidMarker. */
function readMarker(marker: string | null, kind: string): string {
  if (marker === null) return '';
  const text = /^[A-Za-z0-9_-]{1,1400}$/.test(marker)
    ? Buffer.from(marker, 'base64url').toString('utf8')
    : '';
  const position = text.startsWith(`${kind}:`) ? text.slice(kind.length + 1) : '';
  const valid = kind === 'version' || kind === 'tag' ? /^\d{1,9}$/.test(position) : position.length > 0;
  if (!valid) throw kmsError('InvalidMarker', 'The marker is not valid for this request.');
  return position;
}

function aliasCacheName(tenantId: string, aliasName: string): string {
  return `${tenantId}\u0000${aliasName}`;
}

function boundedSet<V>(map: Map<string, V>, name: string, value: V): void {
  if (map.size >= LIMITS.kmsKeyRecordCacheEntries && !map.has(name)) map.clear();
  map.set(name, value);
}
