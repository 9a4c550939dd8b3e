import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  decapsulate,
  diffieHellman,
  encapsulate,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import type { Clock } from '../../platform/clock.ts';
import { isSovraError } from '../../platform/errors.ts';
import { kmsError, type KmsError } from './errors.ts';
import { wrappingAad } from './key-ring.ts';
import type { KeyStore } from './ports.ts';
import type { RootOfTrust } from './root-of-trust.ts';
import {
  KEY_SPECS,
  KEY_STATES,
  KEY_USAGES,
  ROTATION_TYPES,
  type AliasRecord,
  type KeyVersionRecord,
  type KmsKeyRecord,
} from './types.ts';

/**
 * Disaster-recovery export and import of KMS keys (`sovra keys export` / `import`).
 *
 * An export holds each key's record, aliases and versions, the versions' material still wrapped
 * by the root of trust, so it is useless without that root. The whole payload is additionally
 * sealed to the installation's recipient key pair with a hybrid KEM, so that a backup harvested
 * today stays closed even to an adversary who later breaks X25519 with a quantum computer:
 *
 *   (ct_M, ss_M) = ML-KEM-768.Encaps(pk_M)                     (FIPS 203)
 *   (ek_X, ss_X) = ephemeral X25519 key and X25519(ek_X, pk_X)  (RFC 7748)
 *   k = HKDF-SHA256(IKM = ss_M ‖ ss_X, salt = "",
 *                   info = LABEL ‖ ct_X ‖ pk_X ‖ SHA-256(ct_M))     (RFC 5869)
 *   payload = AES-256-GCM(k, 96-bit random IV, AAD = header text)
 *
 * This follows the X-Wing combiner (draft-connolly-cfrg-xwing-kem: both shared secrets, the
 * X25519 ciphertext and public key, and a domain label go into the KDF; ML-KEM is
 * ciphertext-binding, and hashing ct_M in as well costs nothing), with HKDF-SHA256 in place of
 * SHA3-256 as the hybrid design of draft-ietf-tls-hybrid-design allows. The result is secure if
 * either X25519 or ML-KEM-768 is.
 *
 * The recipient key pair is generated once per installation; its private halves are stored only
 * wrapped by the root of trust and travel in the export header, so any installation sharing the
 * root (same Shamir-split root key, same PKCS#11 token) can open the export, and nothing else can.
 */

export const KEY_EXPORT_FORMAT = 'sovra-keys-export';
export const KEY_EXPORT_VERSION = 1;
const KDF_LABEL = Buffer.from('sovra/keys-export/1 X25519+ML-KEM-768 HKDF-SHA256 AES-256-GCM', 'utf8');
const RECIPIENT_AAD_X25519 = Buffer.from('sovra/dr-recipient/1\u0000x25519', 'utf8');
const RECIPIENT_AAD_MLKEM = Buffer.from('sovra/dr-recipient/1\u0000ml-kem-768', 'utf8');
const IV_BYTES = 12;
const TAG_BYTES = 16;
const PAGE = 100;

/** The installation's recipient key pair as stored: public halves in the clear, private wrapped. */
export interface RecipientKeyRecord {
  format: 1;
  x25519PublicKey: string;
  mlkem768PublicKey: string;
  wrappedX25519PrivateKey: string;
  wrappedMlkem768PrivateKey: string;
}

/** Creates a recipient key pair whose private halves only the root of trust can unwrap. */
export async function createRecipientKey(root: RootOfTrust): Promise<RecipientKeyRecord> {
  const x = generateKeyPairSync('x25519');
  const m = generateKeyPairSync('ml-kem-768');
  const xPrivate = x.privateKey.export({ format: 'der', type: 'pkcs8' });
  const mPrivate = m.privateKey.export({ format: 'der', type: 'pkcs8' });
  try {
    return {
      format: 1,
      x25519PublicKey: x.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
      mlkem768PublicKey: m.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
      wrappedX25519PrivateKey: (await root.wrap(xPrivate, RECIPIENT_AAD_X25519)).toString('base64'),
      wrappedMlkem768PrivateKey: (await root.wrap(mPrivate, RECIPIENT_AAD_MLKEM)).toString('base64'),
    };
  } finally {
    xPrivate.fill(0);
    mPrivate.fill(0);
  }
}

/** One key in an export. */
export interface ExportedKey {
  key: KmsKeyRecord;
  versions: KeyVersionRecord[];
  aliases: AliasRecord[];
}

export interface ExportSummary {
  keys: number;
  versions: number;
  aliases: number;
}

/**
 * Writes the export of the given tenants' keys. Keys pending deletion are left out (they are on
 * their way to being shredded; an export must not resurrect them), as are deleted keys, which no
 * longer exist. Every version is checked to unwrap under the root before it is exported.
 */
export async function exportKeys(options: {
  store: KeyStore;
  root: RootOfTrust;
  recipient: RecipientKeyRecord;
  tenantIds: readonly string[];
  clock: Clock;
}): Promise<{ file: Buffer; summary: ExportSummary }> {
  const { store, root, recipient } = options;
  const exported: ExportedKey[] = [];
  const summary: ExportSummary = { keys: 0, versions: 0, aliases: 0 };
  for (const tenantId of options.tenantIds) {
    for (let after = ''; ;) {
      const keys = await store.listKeys(tenantId, after, PAGE);
      for (const key of keys) {
        if (key.keyState === 'PendingDeletion') continue;
        const versions = await allVersions(store, key.keyId);
        for (const version of versions) await checkUnwraps(root, key, version);
        const aliases = await store.listAliases(tenantId, key.keyId, '', 10_000);
        exported.push({ key, versions, aliases });
        summary.keys += 1;
        summary.versions += versions.length;
        summary.aliases += aliases.length;
      }
      if (keys.length < PAGE) break;
      after = keys.at(-1)?.keyId ?? '';
    }
  }
  const payload = Buffer.from(JSON.stringify({ keys: exported.map(encodeExportedKey) }), 'utf8');
  return { file: sealExport(recipient, payload, options.clock.now()), summary };
}

/**
 * Imports an export into this installation: opens it with the recipient key unwrapped by this
 * root (another root fails), checks every key record and that every version's material unwraps
 * under this root with its AAD, refuses the whole import when any key or alias already exists,
 * then writes everything in one transaction.
 */
export async function importKeys(options: {
  store: KeyStore;
  root: RootOfTrust;
  file: Buffer;
}): Promise<ExportSummary> {
  const { store, root } = options;
  const payload = await openExport(root, options.file);
  const keys = decodePayload(payload);
  const summary: ExportSummary = { keys: 0, versions: 0, aliases: 0 };
  for (const entry of keys) {
    for (const version of entry.versions) await checkUnwraps(root, entry.key, version);
  }
  await store.transaction(async (tx) => {
    for (const entry of keys) {
      if ((await tx.lockKey(entry.key.keyId)) !== null) {
        throw kmsError('AlreadyInitialized', `key ${entry.key.keyId} already exists; nothing was imported`);
      }
      for (const alias of entry.aliases) {
        if ((await tx.getAlias(alias.tenantId, alias.aliasName)) !== null) {
          throw kmsError(
            'AliasExists',
            `alias ${alias.aliasName} of tenant ${alias.tenantId} already exists; nothing was imported`,
          );
        }
      }
      await tx.insertKey(entry.key);
      for (const version of entry.versions) await tx.insertKeyVersion(version);
      for (const alias of entry.aliases) await tx.insertAlias(alias);
    }
  });
  for (const entry of keys) {
    summary.keys += 1;
    summary.versions += entry.versions.length;
    summary.aliases += entry.aliases.length;
  }
  return summary;
}

/** Opens and decodes an export without importing it (verification, tests). */
export async function readKeyExport(root: RootOfTrust, file: Buffer): Promise<ExportedKey[]> {
  return decodePayload(await openExport(root, file));
}

// ---- the sealed file ------------------------------------------------------------------------------

interface ExportHeader {
  format: typeof KEY_EXPORT_FORMAT;
  version: typeof KEY_EXPORT_VERSION;
  createdAt: string;
  recipient: RecipientKeyRecord;
  x25519EphemeralPublicKey: string;
  mlkem768Ciphertext: string;
}

function sealExport(recipient: RecipientKeyRecord, payload: Buffer, now: Date): Buffer {
  const pkX = createPublicKey({
    key: Buffer.from(recipient.x25519PublicKey, 'base64'),
    format: 'der',
    type: 'spki',
  });
  const pkM = createPublicKey({
    key: Buffer.from(recipient.mlkem768PublicKey, 'base64'),
    format: 'der',
    type: 'spki',
  });
  const ephemeral = generateKeyPairSync('x25519');
  const ssX = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: pkX });
  const { sharedKey: ssM, ciphertext: ctM } = encapsulate(pkM);
  const ctX = ephemeral.publicKey.export({ format: 'der', type: 'spki' });
  const header: ExportHeader = {
    format: KEY_EXPORT_FORMAT,
    version: KEY_EXPORT_VERSION,
    createdAt: now.toISOString(),
    recipient,
    x25519EphemeralPublicKey: ctX.toString('base64'),
    mlkem768Ciphertext: ctM.toString('base64'),
  };
  const headerText = JSON.stringify(header);
  const key = combine(ssM, ssX, ctX, pkX, ctM);
  const iv = randomBytes(IV_BYTES);
  try {
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(headerText, 'utf8'));
    const sealed = Buffer.concat([cipher.update(payload), cipher.final(), cipher.getAuthTag()]);
    return Buffer.from(
      `${JSON.stringify({ header: headerText, iv: iv.toString('base64'), sealed: sealed.toString('base64') })}\n`,
      'utf8',
    );
  } finally {
    key.fill(0);
    ssX.fill(0);
    ssM.fill(0);
    payload.fill(0);
  }
}

async function openExport(root: RootOfTrust, file: Buffer): Promise<Buffer> {
  const outer = parseObject(file.toString('utf8'), 'the export file');
  const headerText = stringField(outer, 'header');
  const iv = Buffer.from(stringField(outer, 'iv'), 'base64');
  const sealed = Buffer.from(stringField(outer, 'sealed'), 'base64');
  const header = parseObject(headerText, 'the export header');
  if (header.format !== KEY_EXPORT_FORMAT || header.version !== KEY_EXPORT_VERSION) {
    throw invalidExport(`not a ${KEY_EXPORT_FORMAT} version ${KEY_EXPORT_VERSION} file`);
  }
  const recipient = header.recipient;
  if (typeof recipient !== 'object' || recipient === null || Array.isArray(recipient)) {
    throw invalidExport('the header has no recipient');
  }
  const r = recipient as Record<string, unknown>;
  const skX = await unwrapPrivateKey(root, stringField(r, 'wrappedX25519PrivateKey'), RECIPIENT_AAD_X25519);
  const skM = await unwrapPrivateKey(root, stringField(r, 'wrappedMlkem768PrivateKey'), RECIPIENT_AAD_MLKEM);
  const pkX = createPublicKey(skX);
  const ctX = Buffer.from(stringField(header, 'x25519EphemeralPublicKey'), 'base64');
  const ctM = Buffer.from(stringField(header, 'mlkem768Ciphertext'), 'base64');
  if (iv.length !== IV_BYTES || sealed.length < TAG_BYTES)
    throw invalidExport('the sealed payload is truncated');
  let ssX: Buffer;
  let ssM: Buffer;
  try {
    ssX = diffieHellman({
      privateKey: skX,
      publicKey: createPublicKey({ key: ctX, format: 'der', type: 'spki' }),
    });
    ssM = decapsulate(skM, ctM);
  } catch {
    throw invalidExport('the key encapsulation does not open');
  }
  const key = combine(ssM, ssX, ctX, pkX, ctM);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(Buffer.from(headerText, 'utf8'));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw invalidExport('the export failed authentication (tampered, or sealed for another root)');
  } finally {
    key.fill(0);
    ssX.fill(0);
    ssM.fill(0);
  }
}

function combine(ssM: Buffer, ssX: Buffer, ctX: Buffer, pkX: KeyObject, ctM: Buffer): Buffer {
  const info = Buffer.concat([
    KDF_LABEL,
    ctX,
    pkX.export({ format: 'der', type: 'spki' }),
    createHash('sha256').update(ctM).digest(),
  ]);
  return Buffer.from(hkdfSync('sha256', Buffer.concat([ssM, ssX]), Buffer.alloc(0), info, 32));
}

async function unwrapPrivateKey(root: RootOfTrust, wrapped: string, aad: Buffer): Promise<KeyObject> {
  let der: Buffer;
  try {
    der = await root.unwrap(Buffer.from(wrapped, 'base64'), aad);
  } catch (error) {
    if (isSovraError(error) && error.code === 'InvalidCiphertext') {
      throw invalidExport('the export was made under another root of trust');
    }
    throw error;
  }
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}

async function checkUnwraps(root: RootOfTrust, key: KmsKeyRecord, version: KeyVersionRecord): Promise<void> {
  try {
    (await root.unwrap(version.wrappedMaterial, wrappingAad(key, version.version))).fill(0);
  } catch (error) {
    if (isSovraError(error) && error.code === 'InvalidCiphertext') {
      throw invalidExport(
        `key ${key.keyId} version ${version.version} does not unwrap under this root of trust`,
      );
    }
    throw error;
  }
}

async function allVersions(store: KeyStore, keyId: string): Promise<KeyVersionRecord[]> {
  const versions: KeyVersionRecord[] = [];
  for (let after = 0; ;) {
    const page = await store.listKeyVersions(keyId, after, PAGE);
    versions.push(...page);
    if (page.length < PAGE) return versions;
    after = page.at(-1)?.version ?? after;
  }
}

// ---- payload encoding (format 1) ------------------------------------------------------------------

function encodeExportedKey(entry: ExportedKey): Record<string, unknown> {
  return {
    key: {
      ...entry.key,
      createdAt: entry.key.createdAt.getTime(),
      deletionDate: entry.key.deletionDate?.getTime() ?? null,
      nextRotationAt: entry.key.nextRotationAt?.getTime() ?? null,
    },
    versions: entry.versions.map((version) => ({
      ...version,
      wrappedMaterial: version.wrappedMaterial.toString('base64'),
      publicKey: version.publicKey?.toString('base64') ?? null,
      createdAt: version.createdAt.getTime(),
    })),
    aliases: entry.aliases.map((alias) => ({
      ...alias,
      createdAt: alias.createdAt.getTime(),
      updatedAt: alias.updatedAt.getTime(),
    })),
  };
}

function decodePayload(payload: Buffer): ExportedKey[] {
  const parsed = parseObject(payload.toString('utf8'), 'the export payload');
  if (!Array.isArray(parsed.keys)) throw invalidExport('the payload has no keys');
  return parsed.keys.map((value: unknown) => {
    const entry = asObject(value, 'a key entry');
    const k = asObject(entry.key, 'a key record');
    const key: KmsKeyRecord = {
      format: numberField(k, 'format'),
      keyId: stringField(k, 'keyId'),
      tenantId: stringField(k, 'tenantId'),
      keySpec: oneOf(k.keySpec, KEY_SPECS, 'keySpec'),
      keyUsage: oneOf(k.keyUsage, KEY_USAGES, 'keyUsage'),
      keyState: oneOf(k.keyState, KEY_STATES, 'keyState'),
      description: stringField(k, 'description'),
      createdAt: new Date(numberField(k, 'createdAt')),
      deletionDate: nullableDate(k.deletionDate),
      pendingWindowDays: nullableNumber(k.pendingWindowDays),
      rotationEnabled: k.rotationEnabled === true,
      rotationPeriodDays: nullableNumber(k.rotationPeriodDays),
      nextRotationAt: nullableDate(k.nextRotationAt),
      currentVersion: numberField(k, 'currentVersion'),
      onDemandRotations: numberField(k, 'onDemandRotations'),
      policy: stringField(k, 'policy'),
      tags: Array.isArray(k.tags)
        ? k.tags.map((tag: unknown) => {
            const t = asObject(tag, 'a tag');
            return { key: stringField(t, 'key'), value: stringField(t, 'value') };
          })
        : [],
    };
    if (key.keyState === 'PendingDeletion') throw invalidExport(`key ${key.keyId} is pending deletion`);
    const versions = (Array.isArray(entry.versions) ? entry.versions : []).map((value: unknown) => {
      const v = asObject(value, 'a key version');
      const version: KeyVersionRecord = {
        keyId: stringField(v, 'keyId'),
        version: numberField(v, 'version'),
        wrappedMaterial: Buffer.from(stringField(v, 'wrappedMaterial'), 'base64'),
        publicKey: v.publicKey === null ? null : Buffer.from(stringField(v, 'publicKey'), 'base64'),
        createdAt: new Date(numberField(v, 'createdAt')),
        rotationType: v.rotationType === null ? null : oneOf(v.rotationType, ROTATION_TYPES, 'rotationType'),
      };
      if (version.keyId !== key.keyId) throw invalidExport(`a version of key ${key.keyId} names another key`);
      return version;
    });
    if (versions.length !== key.currentVersion || !versions.every((v, i) => v.version === i + 1)) {
      throw invalidExport(`key ${key.keyId} does not carry versions 1 to ${key.currentVersion}`);
    }
    const aliases = (Array.isArray(entry.aliases) ? entry.aliases : []).map((value: unknown) => {
      const a = asObject(value, 'an alias');
      const alias: AliasRecord = {
        tenantId: stringField(a, 'tenantId'),
        aliasName: stringField(a, 'aliasName'),
        keyId: stringField(a, 'keyId'),
        createdAt: new Date(numberField(a, 'createdAt')),
        updatedAt: new Date(numberField(a, 'updatedAt')),
      };
      if (alias.keyId !== key.keyId || alias.tenantId !== key.tenantId) {
        throw invalidExport(`an alias of key ${key.keyId} names another key or tenant`);
      }
      return alias;
    });
    return { key, versions, aliases };
  });
}

function parseObject(text: string, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalidExport(`${what} is not JSON`);
  }
  return asObject(parsed, what);
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidExport(`${what} is not an object`);
  return value as Record<string, unknown>;
}

function stringField(object: Record<string, unknown>, name: string): string {
  const value = object[name];
  if (typeof value !== 'string') throw invalidExport(`${name} is missing or not a string`);
  return value;
}

function numberField(object: Record<string, unknown>, name: string): number {
  const value = object[name];
  if (typeof value !== 'number' || !Number.isSafeInteger(value))
    throw invalidExport(`${name} is not an integer`);
  return value;
}

function nullableNumber(value: unknown): number | null {
  if (value === null) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value))
    throw invalidExport('a number field is invalid');
  return value;
}

function nullableDate(value: unknown): Date | null {
  const ms = nullableNumber(value);
  return ms === null ? null : new Date(ms);
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], name: string): T {
  const match = allowed.find((candidate) => candidate === value);
  if (match === undefined) throw invalidExport(`${name} holds an unexpected value`);
  return match;
}

function invalidExport(message: string): KmsError {
  return kmsError('InvalidCiphertext', `invalid key export: ${message}`);
}
