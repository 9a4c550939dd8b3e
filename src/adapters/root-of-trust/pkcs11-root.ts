import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { kmsError, KmsError } from '../../domain/kms/errors.ts';
import type { RootOfTrust } from '../../domain/kms/root-of-trust.ts';
import { LIMITS } from '../../platform/limits.ts';
import {
  attribute,
  CKA,
  CKF_TOKEN,
  CKK_AES,
  CKM_AES_KEY_GEN,
  CKO_SECRET_KEY,
  Pkcs11Error,
  Pkcs11Module,
  type Pkcs11Attribute,
  type Pkcs11Handle,
} from './pkcs11.ts';

/** Debian's softhsm2 package installs the module here (a symlink into the multiarch directory). */
export const DEFAULT_PKCS11_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

/**
 * Format byte of values wrapped by the PKCS#11 root: u8 format ‖ 12-byte IV ‖ ciphertext ‖
 * 16-byte tag. It differs from the software root's format (1) so that a value given to the wrong
 * kind of root is recognised as such; it is also authenticated (prefixed to the AAD).
 */
export const WRAP_FORMAT_PKCS11_AES_GCM = 2;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const ROOT_KEY_BYTES = 32;
/** CKA_CHECK_VALUE is 3 bytes for AES; a token reporting more than a block is not believed. */
const KEY_CHECK_VALUE_MAX_BYTES = 16;

/**
 * What a failing C_Decrypt returns for a wrong tag: CKR_ENCRYPTED_DATA_INVALID per the spec
 * (PKCS#11 v2.40 Current Mechanisms, CKM_AES_GCM), CKR_ENCRYPTED_DATA_LEN_RANGE for a short input,
 * and CKR_GENERAL_ERROR from SoftHSM2, which does not distinguish a failed GCM check.
 */
const CIPHERTEXT_REJECTED = new Set([
  'CKR_ENCRYPTED_DATA_INVALID',
  'CKR_ENCRYPTED_DATA_LEN_RANGE',
  'CKR_GENERAL_ERROR',
]);
const LOGIN_REFUSED = new Set([
  'CKR_PIN_INCORRECT',
  'CKR_PIN_LOCKED',
  'CKR_PIN_EXPIRED',
  'CKR_PIN_LEN_RANGE',
]);

export interface Pkcs11RootOptions {
  /** Absolute path of the PKCS#11 module (default: SoftHSM2's). */
  modulePath?: string;
  /** The label of the token holding the root key (CK_TOKEN_INFO.label). */
  tokenLabel: string;
  /** The token's user PIN; copied, and the copy is zeroed as soon as the login is done. */
  pin: string | Uint8Array;
  /** CKA_LABEL of the root key. */
  keyLabel: string;
  /** Generate the root key inside the token when none carries `keyLabel` (first set-up only). */
  createIfMissing?: boolean;
  /**
   * Generate the root key and refuse (AlreadyInitialized) when the token already has a key
   * labelled `keyLabel`: `sovra operator init-hsm`, which must never adopt an unknown key.
   */
  createNew?: boolean;
  /** Sessions kept open for concurrent operations. */
  sessionPoolSize?: number;
}

/**
 * The HSM root of trust: an AES-256 key generated inside a PKCS#11 token as sensitive and
 * non-extractable, used there for AES-GCM wrap and unwrap; its value never reaches this process.
 * A session holds one active operation of a kind and is not meant for two threads at once
 * (PKCS#11 v2.40 base §5.6), so each operation takes a session from a small pool. Unsealed while
 * logged in: from `open()` until `close()`.
 */
export class Pkcs11Root implements RootOfTrust {
  readonly kind = 'pkcs11' as const;
  readonly #modulePath: string;
  readonly #tokenLabel: string;
  readonly #keyLabel: string;
  readonly #createIfMissing: boolean;
  readonly #createNew: boolean;
  readonly #sessionPoolSize: number;
  #pin: Buffer;
  #phase: 'new' | 'opening' | 'open' | 'closing' | 'closed' = 'new';
  #module: Pkcs11Module | null = null;
  #slot: Pkcs11Handle = 0;
  #rootKey: Pkcs11Handle = 0;
  #loggedIn = false;
  #sessions: SessionPool | null = null;
  #inFlight = 0;
  #drained: (() => void) | null = null;
  #opening: Promise<void> | null = null;
  #closing: Promise<void> | null = null;

  constructor(options: Pkcs11RootOptions) {
    this.#modulePath = options.modulePath ?? DEFAULT_PKCS11_MODULE;
    this.#tokenLabel = checkedLabel('tokenLabel', options.tokenLabel, LIMITS.pkcs11TokenLabelMaxBytes);
    this.#keyLabel = checkedLabel('keyLabel', options.keyLabel, LIMITS.pkcs11KeyLabelMaxBytes);
    this.#createIfMissing = options.createIfMissing ?? false;
    this.#createNew = options.createNew ?? false;
    this.#sessionPoolSize = options.sessionPoolSize ?? LIMITS.pkcs11SessionPoolSize;
    if (!Number.isInteger(this.#sessionPoolSize) || this.#sessionPoolSize < 1) {
      throw kmsError('Validation', 'sessionPoolSize must be a positive integer');
    }
    this.#pin = Buffer.from(typeof options.pin === 'string' ? Buffer.from(options.pin, 'utf8') : options.pin);
    if (this.#pin.length === 0) throw kmsError('Validation', 'the PKCS#11 user PIN is empty');
  }

  state(): 'sealed' | 'unsealed' {
    return this.#phase === 'open' ? 'unsealed' : 'sealed';
  }

  /**
   * Finds the token by label, logs in as the normal user, and finds the root key (or generates
   * it, when asked to). Every step that fails leaves nothing open.
   */
  open(): Promise<void> {
    if (this.#phase !== 'new') {
      return Promise.reject(
        kmsError('Validation', 'a PKCS#11 root opens once; make a new one to open again'),
      );
    }
    this.#phase = 'opening';
    this.#opening = this.#open();
    return this.#opening;
  }

  async #open(): Promise<void> {
    try {
      const module = await Pkcs11Module.acquire(this.#modulePath);
      this.#module = module;
      this.#slot = await this.#findTokenSlot(module);
      const session = await module.openSession(this.#slot);
      this.#sessions = new SessionPool(module, this.#slot, this.#sessionPoolSize, session);
      await this.#login(module, session);
      this.#rootKey = await this.#findOrCreateRootKey(module, session);
      await this.#checkRootKey(module, session);
      this.#phase = 'open';
    } catch (error) {
      await this.#teardown();
      this.#phase = 'closed';
      throw asKmsError(error, 'cannot open the PKCS#11 root of trust');
    } finally {
      this.#pin.fill(0);
    }
  }

  async wrap(plaintext: Uint8Array, aad: Uint8Array): Promise<Buffer> {
    this.#requireOpen();
    const data = bytesOf(plaintext, 'plaintext', LIMITS.rootOfTrustPlaintextMaxBytes);
    const context = bytesOf(aad, 'aad', LIMITS.rootOfTrustAadMaxBytes);
    // A random 96-bit IV per wrap: NIST SP 800-38D §8.3 allows 2^32 such invocations per key, far
    // more than the root ever wraps (it wraps tenant KMS key material, not data keys).
    const iv = randomBytes(IV_BYTES);
    let body: Buffer;
    try {
      body = await this.#withSession((module, session) =>
        module.encryptAesGcm(session, this.#rootKey, gcm(iv, context), data),
      );
    } catch (error) {
      throw asKmsError(error, 'the HSM refused to wrap');
    }
    if (body.length !== data.length + TAG_BYTES) {
      throw kmsError(
        'RootUnavailable',
        `the HSM returned ${body.length} bytes for a ${data.length}-byte wrap`,
      );
    }
    return Buffer.concat([FORMAT_PREFIX, iv, body]);
  }

  async unwrap(wrapped: Uint8Array, aad: Uint8Array): Promise<Buffer> {
    this.#requireOpen();
    const bytes = bytesOf(wrapped, 'wrapped value', Number.MAX_SAFE_INTEGER);
    const context = bytesOf(aad, 'aad', LIMITS.rootOfTrustAadMaxBytes);
    if (
      bytes.length < 1 + IV_BYTES + TAG_BYTES ||
      bytes.length > 1 + IV_BYTES + LIMITS.rootOfTrustPlaintextMaxBytes + TAG_BYTES ||
      bytes[0] !== WRAP_FORMAT_PKCS11_AES_GCM
    ) {
      throw kmsError('InvalidCiphertext', 'wrapped key material is not in a known format');
    }
    const iv = bytes.subarray(1, 1 + IV_BYTES);
    try {
      return await this.#withSession((module, session) =>
        module.decryptAesGcm(session, this.#rootKey, gcm(iv, context), bytes.subarray(1 + IV_BYTES)),
      );
    } catch (error) {
      if (isCiphertextRejection(error)) {
        throw kmsError('InvalidCiphertext', 'wrapped key material failed authentication');
      }
      throw asKmsError(error, 'the HSM refused to unwrap');
    }
  }

  /**
   * The root key's check value as the token reports it (CKA_CHECK_VALUE, PKCS#11 v2.40: for AES
   * the first three bytes of the ECB encryption of a zero block), so that custodians can tell
   * which key a token holds without its value; null when the token does not report one.
   */
  async keyCheckValue(): Promise<Buffer | null> {
    this.#requireOpen();
    try {
      return await this.#withSession((module, session) =>
        module.getAttributeValue(session, this.#rootKey, CKA.CHECK_VALUE, KEY_CHECK_VALUE_MAX_BYTES),
      );
    } catch (error) {
      if (error instanceof Pkcs11Error && error.ckr === 'CKR_ATTRIBUTE_TYPE_INVALID') return null;
      throw asKmsError(error, 'cannot read the root key check value');
    }
  }

  /**
   * Seals: new operations are refused at once, operations in flight finish, then the sessions
   * are closed, the user logged out and the module finalised (if this was its last user).
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#phase === 'opening') await this.#opening?.catch(() => undefined);
    if (this.#phase !== 'open') {
      this.#pin.fill(0);
      this.#phase = 'closed';
      return;
    }
    this.#phase = 'closing';
    this.#sessions?.refuseWaiters(sealedError());
    if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
    await this.#teardown();
    this.#phase = 'closed';
  }

  #requireOpen(): void {
    if (this.#phase !== 'open') throw sealedError();
  }

  /**
   * Runs one operation on a session of its own, counted so that `close` can wait for it. A
   * session that may be in a bad state afterwards is dropped rather than reused.
   */
  async #withSession<T>(operation: (module: Pkcs11Module, session: Pkcs11Handle) => Promise<T>): Promise<T> {
    const module = this.#module;
    const sessions = this.#sessions;
    if (module === null || sessions === null) throw sealedError();
    this.#inFlight += 1;
    try {
      const session = await sessions.acquire();
      try {
        const result = await operation(module, session);
        sessions.release(session);
        return result;
      } catch (error) {
        // A failed GCM check ends the operation (PKCS#11 v2.40 base §5.9, C_Decrypt), so the
        // session is fine; after anything else it may hold an active operation or be gone.
        if (isCiphertextRejection(error)) sessions.release(session);
        else sessions.discard(session);
        throw error;
      }
    } finally {
      this.#inFlight -= 1;
      if (this.#inFlight === 0 && this.#drained !== null) {
        this.#drained();
        this.#drained = null;
      }
    }
  }

  async #findTokenSlot(module: Pkcs11Module): Promise<Pkcs11Handle> {
    const found = await module.findTokenSlot(this.#tokenLabel);
    if (found === null) {
      const labels = await Promise.all(
        (await module.slotsWithTokens()).map((slot) => module.tokenInfo(slot)),
      );
      throw kmsError(
        'RootUnavailable',
        `no token labelled "${this.#tokenLabel}" in ${this.#modulePath} (tokens: ${labels.map((t) => `"${t.label}"`).join(', ') || 'none'})`,
      );
    }
    const flags = found.token.flags;
    if ((flags & CKF_TOKEN.TOKEN_INITIALIZED) === 0 || (flags & CKF_TOKEN.USER_PIN_INITIALIZED) === 0) {
      throw kmsError('RootUnavailable', `token "${this.#tokenLabel}" is not initialised or has no user PIN`);
    }
    if ((flags & CKF_TOKEN.USER_PIN_LOCKED) !== 0) {
      throw kmsError(
        'UnsealFailed',
        `the user PIN of token "${this.#tokenLabel}" is locked; its security officer must reset it`,
      );
    }
    return found.slot;
  }

  async #login(module: Pkcs11Module, session: Pkcs11Handle): Promise<void> {
    try {
      await module.loginUser(this.#slot, session, this.#pin);
      this.#loggedIn = true;
    } catch (error) {
      if (error instanceof Pkcs11Error && error.ckr !== null && LOGIN_REFUSED.has(error.ckr)) {
        throw kmsError(
          'UnsealFailed',
          `the HSM refused the login to token "${this.#tokenLabel}": ${error.message}`,
          {
            ckr: error.ckr,
          },
        );
      }
      throw error;
    }
  }

  async #findOrCreateRootKey(module: Pkcs11Module, session: Pkcs11Handle): Promise<Pkcs11Handle> {
    const label = Buffer.from(this.#keyLabel, 'utf8');
    const keys = await module.findObjects(
      session,
      [
        attribute.ulong(CKA.CLASS, CKO_SECRET_KEY),
        attribute.ulong(CKA.KEY_TYPE, CKK_AES),
        attribute.bytes(CKA.LABEL, label),
      ],
      2,
    );
    if (keys.length > 1) {
      throw kmsError(
        'RootUnavailable',
        `more than one AES key on token "${this.#tokenLabel}" is labelled "${this.#keyLabel}"; the root key must be unique`,
      );
    }
    if (keys[0] !== undefined) {
      if (this.#createNew) {
        throw kmsError(
          'AlreadyInitialized',
          `token "${this.#tokenLabel}" already has a root key labelled "${this.#keyLabel}"; it was not replaced`,
        );
      }
      return keys[0];
    }
    if (!this.#createIfMissing && !this.#createNew) {
      throw kmsError(
        'NotInitialized',
        `token "${this.#tokenLabel}" has no root key labelled "${this.#keyLabel}"; create it once with sovra operator init-hsm`,
      );
    }
    return module.generateKey(session, CKM_AES_KEY_GEN, rootKeyTemplate(label));
  }

  /** Refuses a root key that could leave the token or is not an AES-256 encryption key. */
  async #checkRootKey(module: Pkcs11Module, session: Pkcs11Handle): Promise<void> {
    const read = (type: number) => module.getAttributeValue(session, this.#rootKey, type, 8);
    const flag = async (type: number) => (await read(type))[0] !== 0;
    const ulong = async (type: number) => Number((await read(type)).readBigUInt64LE(0));
    const problems: string[] = [];
    if ((await ulong(CKA.VALUE_LEN)) !== ROOT_KEY_BYTES) problems.push('it is not 256 bits long');
    if (!(await flag(CKA.SENSITIVE))) problems.push('CKA_SENSITIVE is false');
    if (await flag(CKA.EXTRACTABLE)) problems.push('CKA_EXTRACTABLE is true');
    if (!(await flag(CKA.ENCRYPT)) || !(await flag(CKA.DECRYPT)))
      problems.push('it may not encrypt and decrypt');
    if (problems.length > 0) {
      throw kmsError(
        'RootUnavailable',
        `the key labelled "${this.#keyLabel}" on token "${this.#tokenLabel}" cannot be the root key: ${problems.join('; ')}`,
      );
    }
  }

  /** Closes every session, logs out and releases the module; errors are ignored (best effort). */
  async #teardown(): Promise<void> {
    const module = this.#module;
    if (module === null) return;
    const sessions = (await this.#sessions?.takeAll()) ?? [];
    if (this.#loggedIn && sessions[0] !== undefined) {
      await module.logoutUser(this.#slot, sessions[0]).catch(() => undefined);
    }
    this.#loggedIn = false;
    for (const session of sessions) await module.closeSession(session).catch(() => undefined);
    this.#sessions = null;
    this.#module = null;
    module.release();
  }
}

/**
 * Sessions of one token, at most `size` open at once; operations beyond that wait in a bounded
 * queue. New sessions share the login of the first (PKCS#11 v2.40 base §5.6, C_Login).
 */
class SessionPool {
  readonly #module: Pkcs11Module;
  readonly #slot: Pkcs11Handle;
  readonly #size: number;
  readonly #idle: Pkcs11Handle[];
  readonly #open: Set<Pkcs11Handle>;
  readonly #waiters: { resolve: (session: Pkcs11Handle) => void; reject: (error: Error) => void }[] = [];
  /** Closes of discarded sessions still running: the module must not be finalised under them. */
  readonly #discarding = new Set<Promise<void>>();
  #opening = 0;

  constructor(module: Pkcs11Module, slot: Pkcs11Handle, size: number, first: Pkcs11Handle) {
    this.#module = module;
    this.#slot = slot;
    this.#size = size;
    this.#idle = [first];
    this.#open = new Set([first]);
  }

  async acquire(): Promise<Pkcs11Handle> {
    const idle = this.#idle.pop();
    if (idle !== undefined) return idle;
    if (this.#open.size + this.#opening < this.#size) return this.#openOne();
    if (this.#waiters.length >= LIMITS.pkcs11SessionWaitersMax) {
      throw kmsError('LimitExceeded', 'too many operations are waiting for the HSM');
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  release(session: Pkcs11Handle): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter.resolve(session);
    else this.#idle.push(session);
  }

  /** Closes a session that may be unusable; a waiting operation gets a new one instead. */
  discard(session: Pkcs11Handle): void {
    this.#open.delete(session);
    const closing = this.#module.closeSession(session).catch(() => undefined);
    this.#discarding.add(closing);
    void closing.finally(() => this.#discarding.delete(closing));
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) this.#openOne().then(waiter.resolve, waiter.reject);
  }

  refuseWaiters(error: Error): void {
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }

  /** Every open session, for closing, once discarded ones are closed; leaves the pool empty. */
  async takeAll(): Promise<Pkcs11Handle[]> {
    await Promise.all(this.#discarding);
    const all = [...this.#open];
    this.#open.clear();
    this.#idle.length = 0;
    return all;
  }

  async #openOne(): Promise<Pkcs11Handle> {
    this.#opening += 1;
    try {
      const session = await this.#module.openSession(this.#slot);
      this.#open.add(session);
      return session;
    } finally {
      this.#opening -= 1;
    }
  }
}

/**
 * Opens the root configured by the pkcs11 settings: reads the PIN from its file (refused unless
 * 0600-like: no group or other access), opens the root, and zeroes the PIN bytes it read.
 */
export async function openPkcs11Root(
  settings: { modulePath: string; tokenLabel: string; pinFile: string; keyLabel: string },
  options: { createIfMissing?: boolean } = {},
): Promise<Pkcs11Root> {
  const pin = readPinFile(settings.pinFile);
  try {
    const root = new Pkcs11Root({
      modulePath: settings.modulePath,
      tokenLabel: settings.tokenLabel,
      keyLabel: settings.keyLabel,
      pin,
      createIfMissing: options.createIfMissing ?? false,
    });
    await root.open();
    return root;
  } finally {
    pin.fill(0);
  }
}

/**
 * Generates the root key inside the configured token (`sovra operator init-hsm`): logs in with the
 * PIN file, refuses when a key with the configured label exists, generates the AES-256 key as
 * sensitive and non-extractable (rootKeyTemplate), checks it like every start does, and returns
 * its check value. The key's value never leaves the token.
 */
export async function createPkcs11RootKey(settings: {
  modulePath: string;
  tokenLabel: string;
  pinFile: string;
  keyLabel: string;
}): Promise<{ keyCheckValue: Buffer | null }> {
  const pin = readPinFile(settings.pinFile);
  let root: Pkcs11Root;
  try {
    root = new Pkcs11Root({
      modulePath: settings.modulePath,
      tokenLabel: settings.tokenLabel,
      keyLabel: settings.keyLabel,
      pin,
      createNew: true,
      sessionPoolSize: 1,
    });
    await root.open();
  } finally {
    pin.fill(0);
  }
  try {
    return { keyCheckValue: await root.keyCheckValue() };
  } finally {
    await root.close();
  }
}

/** The PIN file's bytes without a trailing newline. */
export function readPinFile(path: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw kmsError('RootUnavailable', `pkcs11PinFile: cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    const stat = fstatSync(fd);
    if ((stat.mode & 0o077) !== 0) {
      throw kmsError(
        'RootUnavailable',
        `pkcs11PinFile: ${path} is readable by group or others (mode ${(stat.mode & 0o777).toString(8)}); chmod 600 it`,
      );
    }
    if (stat.size > LIMITS.pkcs11PinFileMaxBytes) {
      throw kmsError(
        'RootUnavailable',
        `pkcs11PinFile: ${path} is larger than ${LIMITS.pkcs11PinFileMaxBytes} bytes`,
      );
    }
    const buffer = Buffer.alloc(stat.size);
    const length = readSync(fd, buffer, 0, buffer.length, 0);
    let end = length;
    while (end > 0 && (buffer[end - 1] === 0x0a || buffer[end - 1] === 0x0d)) end -= 1;
    if (end === 0) throw kmsError('RootUnavailable', `pkcs11PinFile: ${path} is empty`);
    const pin = Buffer.from(buffer.subarray(0, end));
    buffer.fill(0);
    return pin;
  } finally {
    closeSync(fd);
  }
}

const FORMAT_PREFIX = Buffer.from([WRAP_FORMAT_PKCS11_AES_GCM]);

/** The GCM parameters of one wrap; the AAD is the format byte followed by the caller's AAD. */
function gcm(iv: Buffer, aad: Buffer): { iv: Buffer; aad: Buffer; tagBits: number } {
  return { iv, aad: Buffer.concat([FORMAT_PREFIX, aad]), tagBits: TAG_BYTES * 8 };
}

/**
 * The root key's template (PKCS#11 v2.40 base §4.10, secret key objects): a token object that
 * only the logged-in user can use, for encryption and decryption only, whose value can never be
 * read (CKA_SENSITIVE) nor wrapped out (CKA_EXTRACTABLE false), and whose attributes cannot
 * change.
 */
function rootKeyTemplate(label: Buffer): Pkcs11Attribute[] {
  return [
    attribute.ulong(CKA.CLASS, CKO_SECRET_KEY),
    attribute.ulong(CKA.KEY_TYPE, CKK_AES),
    attribute.ulong(CKA.VALUE_LEN, ROOT_KEY_BYTES),
    attribute.bool(CKA.TOKEN, true),
    attribute.bool(CKA.PRIVATE, true),
    attribute.bool(CKA.SENSITIVE, true),
    attribute.bool(CKA.EXTRACTABLE, false),
    attribute.bool(CKA.ENCRYPT, true),
    attribute.bool(CKA.DECRYPT, true),
    attribute.bool(CKA.WRAP, false),
    attribute.bool(CKA.UNWRAP, false),
    attribute.bool(CKA.SIGN, false),
    attribute.bool(CKA.VERIFY, false),
    attribute.bool(CKA.DERIVE, false),
    attribute.bool(CKA.MODIFIABLE, false),
    attribute.bool(CKA.COPYABLE, false),
    attribute.bytes(CKA.LABEL, label),
    attribute.bytes(CKA.ID, randomBytes(16)),
  ];
}

function isCiphertextRejection(error: unknown): boolean {
  return (
    error instanceof Pkcs11Error && error.function === 'C_Decrypt' && CIPHERTEXT_REJECTED.has(error.ckr ?? '')
  );
}

function sealedError(): KmsError {
  return kmsError('Sealed', 'the PKCS#11 root of trust is sealed: it is not logged in to its HSM');
}

/** KMS errors pass through; PKCS#11 failures become RootUnavailable, with the cause attached. */
function asKmsError(error: unknown, context: string): KmsError {
  if (error instanceof KmsError) return error;
  if (error instanceof Pkcs11Error) {
    return new KmsError(
      'RootUnavailable',
      `${context}: ${error.message}`,
      { ckr: error.ckr },
      { cause: error },
    );
  }
  return new KmsError(
    'RootUnavailable',
    `${context}: ${error instanceof Error ? error.message : String(error)}`,
    {},
    {
      cause: error,
    },
  );
}

function checkedLabel(name: string, label: string, maxBytes: number): string {
  const length = Buffer.byteLength(label, 'utf8');
  if (length === 0 || length > maxBytes) {
    throw kmsError('Validation', `the PKCS#11 ${name} must be 1 to ${maxBytes} bytes long`);
  }
  return label;
}

/** A Buffer view of caller input (no copy), refusing what is not bytes or is too large. */
function bytesOf(value: Uint8Array, name: string, maxBytes: number): Buffer {
  if (!(value instanceof Uint8Array)) throw kmsError('Validation', `${name} must be bytes`);
  if (value.byteLength > maxBytes) throw kmsError('Validation', `${name} is larger than ${maxBytes} bytes`);
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}
