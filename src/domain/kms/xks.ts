import { createHash } from 'node:crypto';
import type { Clock } from '../../platform/clock.ts';
import { SovraError } from '../../platform/errors.ts';
import { LIMITS } from '../../platform/limits.ts';
import { CIPHERTEXT_FORMAT_AES_GCM, type EncryptionContext } from './ciphertext-blob.ts';
import { kmsError } from './errors.ts';
import type { KeyUseJustification } from './justification.ts';
import type { KeyRing } from './key-ring.ts';

/**
 * AWS KMS External Key Store (XKS) operations on Sovra's key ring, per the "AWS KMS External Key
 * Store Proxy API Specification" (github.com/aws/aws-kms-xksproxy-api-spec, xks_proxy_api_spec.md,
 * version of Nov 10, 2022). A commercial cloud's KMS keeps only a "shell" key; every unwrap it
 * needs comes here and passes the key ring's own checks (tenant scope, key state, usage).
 *
 * Which key backs an external key id: the `externalKeyId` is a key id, or the name after `alias/`
 * of an alias, of a SYMMETRIC_DEFAULT key of the tenant the XKS proxy credentials belong to, and
 * the key must carry the tag `sovra:xks` = `enabled` (set by the tenant with TagResource). A key
 * without the tag does not exist for XKS (KeyNotFoundException), so no key is exported to a cloud
 * by accident.
 *
 * Cutting access off, at once:
 * - per key: DisableKey, ScheduleKeyDeletion, or removing the `sovra:xks` tag (the tag is read
 *   fresh on every request);
 * - per tenant: `revoke()` — every XKS request of the tenant then fails with
 *   InvalidStateException ("key store … blocked", spec "Error codes") until `restore()`. The
 *   switch is held in memory by the composition root; the durable equivalent is removing the
 *   XKS credentials file from the configuration.
 * - for everyone: sealing Sovra (the root of trust refuses every unwrap).
 */
export const XKS_ENABLED_TAG_KEY = 'sovra:xks';
export const XKS_ENABLED_TAG_VALUE = 'enabled';

/**
 * ciphertextMetadata format 1 is exactly 20 bytes: the 16-byte key id ‖ u32 BE key version, which
 * is the header of Sovra's ciphertext blob format 1 without its format byte (the spec caps
 * ciphertextMetadata at 20 bytes, section "Encrypt"). A later format will use another length.
 */
export const XKS_CIPHERTEXT_METADATA_BYTES = 20;
/** AES-GCM IV and tag as Sovra produces them (spec "Encrypt": 12 or 16-byte IV, 16-byte tag). */
export const XKS_IV_BYTES = 12;
export const XKS_TAG_BYTES = 16;
/**
 * The encryption-context entry that binds the caller's AAD. The spec (section "Encrypt",
 * ciphertextMetadata) asks that the tag cover the AAD and the ciphertextMetadata with explicit
 * lengths. Here the GCM AAD is Sovra's blob header (format ‖ key id ‖ version — the
 * ciphertextMetadata, fixed length) followed by the canonical context, whose one entry is the
 * SHA-256 of (u16 BE length of AAD ‖ AAD): both are bound, unambiguously, and an AAD of up to
 * 8192 bytes fits the key ring's context bound.
 */
export const XKS_AAD_CONTEXT_KEY = 'sovra:xks-aad-sha256';

/** What the spec's requestMetadata says about the caller (spec "Appendix B"). */
export interface XksRequestMetadata {
  awsPrincipalArn: string;
  kmsOperation: string;
  kmsRequestId: string;
  kmsKeyArn: string | null;
  awsSourceVpc: string | null;
  awsSourceVpce: string | null;
  kmsViaService: string | null;
}

/**
 * A key-use justification as Sovra records it. The cloud's KMS acts for its customer, so every
 * XKS request is CUSTOMER_INITIATED_ACCESS, attributed to the AWS principal behind it.
 */
export interface XksJustification {
  tenantId: string;
  keyReference: string;
  principal: string;
  service: string;
  reason: 'CUSTOMER_INITIATED_ACCESS';
  operation: string;
  requestId: string;
  xksOperation: XksOperation;
  keyArn: string | null;
  sourceVpc: string | null;
  sourceVpce: string | null;
}

/** Where the request came from: the cloud's proxy fleet, as the listener saw it. */
export interface XksRequester {
  sourceIp: string;
  /** ISO 3166-1 alpha-2, or 'unknown' (domain/residency/jurisdiction.ts). */
  jurisdiction: string;
}

export type XksOperation = 'GetKeyMetadata' | 'Encrypt' | 'Decrypt' | 'GetHealthStatus';

/** Receives one justification per XKS key operation, before the key is used. */
export type XksJustificationSink = (justification: XksJustification) => void;

export type XksErrorCode = 'AccessRevoked' | 'NotEnabledForXks';
export class XksError extends SovraError<XksErrorCode> {}

export interface XksKeyMetadata {
  keySpec: 'AES_256';
  keyUsage: ['ENCRYPT', 'DECRYPT'];
  keyStatus: 'ENABLED' | 'DISABLED';
}

export interface XksEncryptOutput {
  ciphertext: Buffer;
  ciphertextMetadata: Buffer;
  initializationVector: Buffer;
  authenticationTag: Buffer;
  /** Spec "Appendix C"; only when the request asked for it. */
  ciphertextDataIntegrityValue?: Buffer;
}

export interface XksDecryptInput {
  ciphertext: Uint8Array;
  ciphertextMetadata: Uint8Array | null;
  initializationVector: Uint8Array;
  authenticationTag: Uint8Array;
  additionalAuthenticatedData: Uint8Array | null;
}

export interface XksKeyStoreOptions {
  keyRing: KeyRing;
  /** The tenant whose keys the XKS proxy credentials reach. */
  tenantId: string;
  justifications: XksJustificationSink;
  clock: Clock;
}

/** What the hot path needs to know of a backing key. */
interface BackingKey {
  keyId: string;
}

/** One tenant's external key store: the four operations of the spec's "API operations". */
export class XksKeyStore {
  readonly #keyRing: KeyRing;
  readonly #tenantId: string;
  readonly #justify: XksJustificationSink;
  readonly #clock: Clock;
  /**
   * Encrypt/Decrypt's view of backing keys, re-read after LIMITS.kmsKeyRecordCacheTtlMs — the
   * key ring's own hot-path bound, so removing the tag cuts a key off as fast as disabling it.
   */
  readonly #backingKeys = new Map<string, { key: BackingKey; expiresAtMs: number }>();
  #revoked = false;

  constructor(options: XksKeyStoreOptions) {
    this.#keyRing = options.keyRing;
    this.#tenantId = options.tenantId;
    this.#justify = options.justifications;
    this.#clock = options.clock;
  }

  get tenantId(): string {
    return this.#tenantId;
  }

  get revoked(): boolean {
    return this.#revoked;
  }

  /** Cuts the tenant's XKS use off at once; requests already past the check finish. */
  revoke(): void {
    this.#revoked = true;
  }

  restore(): void {
    this.#revoked = false;
  }

  /** Spec "GetKeyMetadata": any key state answers; Disabled and PendingDeletion say DISABLED. */
  async getKeyMetadata(externalKeyId: string, metadata: XksRequestMetadata): Promise<XksKeyMetadata> {
    this.#checkAccess();
    const key = await this.#backingKey(externalKeyId);
    this.#record('GetKeyMetadata', externalKeyId, metadata);
    return {
      keySpec: 'AES_256',
      keyUsage: ['ENCRYPT', 'DECRYPT'],
      keyStatus: key.keyState === 'Enabled' ? 'ENABLED' : 'DISABLED',
    };
  }

  /** Spec "Encrypt": AES-256-GCM under the key's current version. */
  async encrypt(
    externalKeyId: string,
    metadata: XksRequestMetadata,
    input: { plaintext: Uint8Array; additionalAuthenticatedData: Uint8Array | null; cdivRequested: boolean },
    requester: XksRequester,
  ): Promise<XksEncryptOutput> {
    this.#checkAccess();
    const key = await this.#cachedBackingKey(externalKeyId);
    this.#record('Encrypt', externalKeyId, metadata);
    const context = aadContext(input.additionalAuthenticatedData);
    const justification = this.#justification('Encrypt', metadata, requester);
    const { ciphertextBlob } = await this.#keyRing.encrypt(this.#tenantId, {
      keyReference: key.keyId,
      plaintext: input.plaintext,
      context,
      dryRun: false,
      justification,
    });
    const output = splitBlob(ciphertextBlob);
    if (!input.cdivRequested) return output;
    // Spec "Appendix C": hash the output first, then prove it decrypts, so that a corruption
    // after encryption is caught here rather than when the data key is needed.
    const cdiv = createHash('sha256')
      .update(input.additionalAuthenticatedData ?? new Uint8Array(0))
      .update(output.ciphertextMetadata)
      .update(output.initializationVector)
      .update(output.ciphertext)
      .update(output.authenticationTag)
      .digest();
    const { plaintext } = await this.#keyRing.decrypt(this.#tenantId, {
      ciphertextBlob: joinBlob(output),
      context,
      keyReference: key.keyId,
      dryRun: false,
      justification: { ...justification, operation: 'Decrypt' },
    });
    if (!plaintext.equals(input.plaintext))
      throw new Error('XKS encrypt round trip returned other plaintext');
    return { ...output, ciphertextDataIntegrityValue: cdiv };
  }

  /**
   * Spec "Decrypt": the ciphertextMetadata names the key version; a ciphertext of another key,
   * a modified ciphertextMetadata, IV, tag or AAD all fail with the one InvalidCiphertext error.
   */
  async decrypt(
    externalKeyId: string,
    metadata: XksRequestMetadata,
    input: XksDecryptInput,
    requester: XksRequester,
  ): Promise<Buffer> {
    this.#checkAccess();
    const key = await this.#cachedBackingKey(externalKeyId);
    this.#record('Decrypt', externalKeyId, metadata);
    const blob = joinBlob(input);
    try {
      const { plaintext } = await this.#keyRing.decrypt(this.#tenantId, {
        ciphertextBlob: blob,
        context: aadContext(input.additionalAuthenticatedData),
        keyReference: key.keyId,
        dryRun: false,
        justification: this.#justification('Decrypt', metadata, requester),
      });
      return plaintext;
    } catch (error) {
      // One message for every way a ciphertext fails (docs/architecture.md principle 4).
      if (
        error instanceof SovraError &&
        (error.code === 'IncorrectKey' || error.code === 'InvalidCiphertext')
      ) {
        throw invalidCiphertext();
      }
      throw error;
    }
  }

  /**
   * Spec "GetHealthStatus": deep enough to promise that a key operation right after would not
   * fail for want of the root of trust. Sovra keeps no test keys in tenants' rings, so the probe
   * is the root's state rather than a cryptographic call on a customer key (which the spec asks
   * to avoid).
   */
  health(rootUsable: () => boolean): 'ACTIVE' | 'UNAVAILABLE' {
    return !this.#revoked && rootUsable() ? 'ACTIVE' : 'UNAVAILABLE';
  }

  #checkAccess(): void {
    if (this.#revoked) {
      throw new XksError(
        'AccessRevoked',
        'The agency has revoked external key store access for this tenant.',
      );
    }
  }

  async #cachedBackingKey(externalKeyId: string): Promise<BackingKey> {
    const now = this.#clock.nowMs();
    const cached = this.#backingKeys.get(externalKeyId);
    if (cached !== undefined && cached.expiresAtMs > now) return cached.key;
    const key = { keyId: (await this.#backingKey(externalKeyId)).keyId };
    if (this.#backingKeys.size >= LIMITS.kmsKeyRecordCacheEntries) this.#backingKeys.clear();
    this.#backingKeys.set(externalKeyId, { key, expiresAtMs: now + LIMITS.kmsKeyRecordCacheTtlMs });
    return key;
  }

  /** Read fresh: the key ring's DescribeKey, then the XKS tag and the key spec. */
  async #backingKey(externalKeyId: string) {
    const key = await this.#keyRing.describeKey(this.#tenantId, keyReferenceOf(externalKeyId));
    const enabled = key.tags.some((t) => t.key === XKS_ENABLED_TAG_KEY && t.value === XKS_ENABLED_TAG_VALUE);
    if (!enabled) {
      throw new XksError('NotEnabledForXks', `External key ${externalKeyId} is not enabled for XKS.`);
    }
    if (key.keySpec !== 'SYMMETRIC_DEFAULT') {
      throw kmsError('InvalidKeyUsage', `External key ${externalKeyId} is not an AES-256 key.`);
    }
    return key;
  }

  /**
   * The key ring's justification of this use: the key policy decides on it and the decision log
   * records it (justification.ts, decision-records.ts). The AWS principal is the requester; the
   * network address and its jurisdiction are those of the cloud's proxy fleet.
   */
  #justification(
    operation: 'Encrypt' | 'Decrypt',
    metadata: XksRequestMetadata,
    requester: XksRequester,
  ): KeyUseJustification {
    return {
      principalId: metadata.awsPrincipalArn,
      tenantId: this.#tenantId,
      service: 'xks',
      reason: 'CUSTOMER_INITIATED_ACCESS',
      approvalReference: null,
      sourceIp: requester.sourceIp,
      jurisdiction: requester.jurisdiction,
      requestId: metadata.kmsRequestId,
      operation,
    };
  }

  #record(operation: XksOperation, keyReference: string, metadata: XksRequestMetadata): void {
    this.#justify({
      tenantId: this.#tenantId,
      keyReference,
      principal: metadata.awsPrincipalArn,
      service: metadata.kmsViaService ?? 'kms',
      reason: 'CUSTOMER_INITIATED_ACCESS',
      operation: metadata.kmsOperation,
      requestId: metadata.kmsRequestId,
      xksOperation: operation,
      keyArn: metadata.kmsKeyArn,
      sourceVpc: metadata.awsSourceVpc,
      sourceVpce: metadata.awsSourceVpce,
    });
  }
}

const KEY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * An externalKeyId may only hold letters, digits, '-', '.' and '_' (spec "API operations"), so an
 * alias cannot be written with its slash: a key id is a key id, anything else names
 * `alias/<externalKeyId>`. Re-pointing such an alias makes earlier XKS ciphertexts fail with
 * InvalidCiphertextException, as their metadata names the key they were made under.
 */
function keyReferenceOf(externalKeyId: string): string {
  return KEY_ID.test(externalKeyId) ? externalKeyId.toLowerCase() : `alias/${externalKeyId}`;
}

function aadContext(aad: Uint8Array | null): EncryptionContext {
  const bytes = aad ?? new Uint8Array(0);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return {
    [XKS_AAD_CONTEXT_KEY]: createHash('sha256').update(length).update(bytes).digest('base64'),
  };
}

/** Sovra blob format 1: u8 format ‖ 16-byte key id ‖ u32 version ‖ 12-byte IV ‖ ciphertext ‖ tag. */
function splitBlob(blob: Buffer): XksEncryptOutput {
  const headerEnd = 1 + XKS_CIPHERTEXT_METADATA_BYTES;
  const ivEnd = headerEnd + XKS_IV_BYTES;
  return {
    ciphertextMetadata: Buffer.from(blob.subarray(1, headerEnd)),
    initializationVector: Buffer.from(blob.subarray(headerEnd, ivEnd)),
    ciphertext: Buffer.from(blob.subarray(ivEnd, blob.length - XKS_TAG_BYTES)),
    authenticationTag: Buffer.from(blob.subarray(blob.length - XKS_TAG_BYTES)),
  };
}

function joinBlob(input: Omit<XksDecryptInput, 'additionalAuthenticatedData'>): Buffer {
  if (
    input.ciphertextMetadata?.length !== XKS_CIPHERTEXT_METADATA_BYTES ||
    input.initializationVector.length !== XKS_IV_BYTES ||
    input.authenticationTag.length !== XKS_TAG_BYTES
  ) {
    throw invalidCiphertext();
  }
  return Buffer.concat([
    Buffer.of(CIPHERTEXT_FORMAT_AES_GCM),
    input.ciphertextMetadata,
    input.initializationVector,
    input.ciphertext,
    input.authenticationTag,
  ]);
}

function invalidCiphertext(): SovraError {
  return kmsError('InvalidCiphertext', 'The ciphertext, its metadata, IV, tag or AAD is invalid.');
}
