import type koffiDefault from 'koffi';
import type { LibraryHandle, TypeObject } from 'koffi';
import { realpathSync } from 'node:fs';
import { SovraError } from '../../platform/errors.ts';

/**
 * The part of PKCS#11 v2.40 (OASIS "PKCS #11 Cryptographic Token Interface Base Specification
 * Version 2.40" and its pkcs11t.h / pkcs11f.h) that the HSM root of trust needs, called through
 * koffi (FFI with prebuilt binaries, so nothing is compiled or downloaded at install time).
 *
 * Layouts follow the Unix C ABI of pkcs11t.h: CK_ULONG is `unsigned long` (64 bits on Linux
 * x86_64 and arm64), structs use natural alignment. Windows packs Cryptoki structs to 1 byte and
 * is refused rather than supported untested.
 *
 * Functions are reached through C_GetFunctionList (PKCS#11 v2.40 base §5.4: the one entry point
 * every module must export), not by symbol name. Every call that can touch the token runs in
 * koffi's async mode, on a worker thread: a network HSM answers in milliseconds, and even SoftHSM2
 * re-reads token object files, so the event loop must not wait on it.
 */

// CK_RV values (pkcs11t.h v2.40). Names are the error identities; `describeCkr` adds advice.
const CKR_CODES = {
  CKR_OK: 0x0,
  CKR_CANCEL: 0x1,
  CKR_HOST_MEMORY: 0x2,
  CKR_SLOT_ID_INVALID: 0x3,
  CKR_GENERAL_ERROR: 0x5,
  CKR_FUNCTION_FAILED: 0x6,
  CKR_ARGUMENTS_BAD: 0x7,
  CKR_NO_EVENT: 0x8,
  CKR_NEED_TO_CREATE_THREADS: 0x9,
  CKR_CANT_LOCK: 0xa,
  CKR_ATTRIBUTE_READ_ONLY: 0x10,
  CKR_ATTRIBUTE_SENSITIVE: 0x11,
  CKR_ATTRIBUTE_TYPE_INVALID: 0x12,
  CKR_ATTRIBUTE_VALUE_INVALID: 0x13,
  CKR_ACTION_PROHIBITED: 0x1b,
  CKR_DATA_INVALID: 0x20,
  CKR_DATA_LEN_RANGE: 0x21,
  CKR_DEVICE_ERROR: 0x30,
  CKR_DEVICE_MEMORY: 0x31,
  CKR_DEVICE_REMOVED: 0x32,
  CKR_ENCRYPTED_DATA_INVALID: 0x40,
  CKR_ENCRYPTED_DATA_LEN_RANGE: 0x41,
  CKR_FUNCTION_CANCELED: 0x50,
  CKR_FUNCTION_NOT_PARALLEL: 0x51,
  CKR_FUNCTION_NOT_SUPPORTED: 0x54,
  CKR_KEY_HANDLE_INVALID: 0x60,
  CKR_KEY_SIZE_RANGE: 0x62,
  CKR_KEY_TYPE_INCONSISTENT: 0x63,
  CKR_KEY_NOT_NEEDED: 0x64,
  CKR_KEY_CHANGED: 0x65,
  CKR_KEY_NEEDED: 0x66,
  CKR_KEY_INDIGESTIBLE: 0x67,
  CKR_KEY_FUNCTION_NOT_PERMITTED: 0x68,
  CKR_KEY_NOT_WRAPPABLE: 0x69,
  CKR_KEY_UNEXTRACTABLE: 0x6a,
  CKR_MECHANISM_INVALID: 0x70,
  CKR_MECHANISM_PARAM_INVALID: 0x71,
  CKR_OBJECT_HANDLE_INVALID: 0x82,
  CKR_OPERATION_ACTIVE: 0x90,
  CKR_OPERATION_NOT_INITIALIZED: 0x91,
  CKR_PIN_INCORRECT: 0xa0,
  CKR_PIN_INVALID: 0xa1,
  CKR_PIN_LEN_RANGE: 0xa2,
  CKR_PIN_EXPIRED: 0xa3,
  CKR_PIN_LOCKED: 0xa4,
  CKR_SESSION_CLOSED: 0xb0,
  CKR_SESSION_COUNT: 0xb1,
  CKR_SESSION_HANDLE_INVALID: 0xb3,
  CKR_SESSION_PARALLEL_NOT_SUPPORTED: 0xb4,
  CKR_SESSION_READ_ONLY: 0xb5,
  CKR_SESSION_EXISTS: 0xb6,
  CKR_SESSION_READ_ONLY_EXISTS: 0xb7,
  CKR_SESSION_READ_WRITE_SO_EXISTS: 0xb8,
  CKR_SIGNATURE_INVALID: 0xc0,
  CKR_SIGNATURE_LEN_RANGE: 0xc1,
  CKR_TEMPLATE_INCOMPLETE: 0xd0,
  CKR_TEMPLATE_INCONSISTENT: 0xd1,
  CKR_TOKEN_NOT_PRESENT: 0xe0,
  CKR_TOKEN_NOT_RECOGNIZED: 0xe1,
  CKR_TOKEN_WRITE_PROTECTED: 0xe2,
  CKR_UNWRAPPING_KEY_HANDLE_INVALID: 0xf0,
  CKR_UNWRAPPING_KEY_SIZE_RANGE: 0xf1,
  CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT: 0xf2,
  CKR_USER_ALREADY_LOGGED_IN: 0x100,
  CKR_USER_NOT_LOGGED_IN: 0x101,
  CKR_USER_PIN_NOT_INITIALIZED: 0x102,
  CKR_USER_TYPE_INVALID: 0x103,
  CKR_USER_ANOTHER_ALREADY_LOGGED_IN: 0x104,
  CKR_USER_TOO_MANY_TYPES: 0x105,
  CKR_WRAPPED_KEY_INVALID: 0x110,
  CKR_WRAPPED_KEY_LEN_RANGE: 0x112,
  CKR_WRAPPING_KEY_HANDLE_INVALID: 0x113,
  CKR_WRAPPING_KEY_SIZE_RANGE: 0x114,
  CKR_WRAPPING_KEY_TYPE_INCONSISTENT: 0x115,
  CKR_RANDOM_SEED_NOT_SUPPORTED: 0x120,
  CKR_RANDOM_NO_RNG: 0x121,
  CKR_DOMAIN_PARAMS_INVALID: 0x130,
  CKR_CURVE_NOT_SUPPORTED: 0x140,
  CKR_BUFFER_TOO_SMALL: 0x150,
  CKR_SAVED_STATE_INVALID: 0x160,
  CKR_INFORMATION_SENSITIVE: 0x170,
  CKR_STATE_UNSAVEABLE: 0x180,
  CKR_CRYPTOKI_NOT_INITIALIZED: 0x190,
  CKR_CRYPTOKI_ALREADY_INITIALIZED: 0x191,
  CKR_MUTEX_BAD: 0x1a0,
  CKR_MUTEX_NOT_LOCKED: 0x1a1,
  CKR_NEW_PIN_MODE: 0x1b0,
  CKR_NEXT_OTP: 0x1b1,
  CKR_EXCEEDED_MAX_ITERATIONS: 0x1b5,
  CKR_FIPS_SELF_TEST_FAILED: 0x1b6,
  CKR_LIBRARY_LOAD_FAILED: 0x1b7,
  CKR_PIN_TOO_WEAK: 0x1b8,
  CKR_PUBLIC_KEY_INVALID: 0x1b9,
  CKR_FUNCTION_REJECTED: 0x200,
} as const;

export type CkrName = keyof typeof CKR_CODES;
export const CKR: { readonly [N in CkrName]: number } = CKR_CODES;
const CKR_VENDOR_DEFINED = 0x8000_0000;

const CKR_NAME_OF = new Map<number, CkrName>(
  Object.entries(CKR_CODES).map(([name, value]) => [value, name as CkrName]),
);

/** What an operator should do about the return values that mean a setup problem. */
const CKR_ADVICE: Partial<Record<CkrName, string>> = {
  CKR_PIN_INCORRECT: 'the PIN is wrong (repeated attempts may lock the token)',
  CKR_PIN_LOCKED:
    "the user PIN is locked after too many wrong attempts; the token's security officer must reset it",
  CKR_PIN_EXPIRED: 'the user PIN has expired and must be changed',
  CKR_PIN_LEN_RANGE: "the PIN's length is outside what the token accepts",
  CKR_USER_PIN_NOT_INITIALIZED:
    'the token has no user PIN yet; initialise it (softhsm2-util --init-token sets one)',
  CKR_TOKEN_NOT_PRESENT: 'the token is not present in its slot',
  CKR_TOKEN_NOT_RECOGNIZED: 'the module does not recognise the token',
  CKR_DEVICE_REMOVED: 'the token was removed',
  CKR_DEVICE_ERROR: 'the token reported a device error',
  CKR_DEVICE_MEMORY: 'the token is out of memory',
  CKR_HOST_MEMORY: 'the PKCS#11 module ran out of host memory',
  CKR_SESSION_COUNT: 'the token refuses more sessions',
  CKR_TOKEN_WRITE_PROTECTED: 'the token is write-protected, so the root key cannot be created on it',
  CKR_MECHANISM_INVALID: 'the token does not support this mechanism',
  CKR_MECHANISM_PARAM_INVALID: "the token rejected the mechanism's parameters",
  CKR_ATTRIBUTE_SENSITIVE: 'the attribute is sensitive and cannot be revealed',
  CKR_USER_NOT_LOGGED_IN: 'the session is not logged in',
  CKR_CRYPTOKI_NOT_INITIALIZED: 'the PKCS#11 module is not initialised',
  CKR_FUNCTION_NOT_SUPPORTED: 'the module does not implement this function',
};

export function ckrName(rv: number): string {
  const name = CKR_NAME_OF.get(rv);
  if (name !== undefined) return name;
  if (rv >= CKR_VENDOR_DEFINED) return `CKR_VENDOR_DEFINED+0x${(rv - CKR_VENDOR_DEFINED).toString(16)}`;
  return `CKR_0x${rv.toString(16)}`;
}

export function describeCkr(rv: number): string {
  const name = ckrName(rv);
  const advice = CKR_ADVICE[name as CkrName];
  return advice === undefined ? name : `${name}: ${advice}`;
}

// Attribute types, object classes, key types, mechanisms and flags (pkcs11t.h v2.40).
export const CKA = {
  CLASS: 0x0,
  TOKEN: 0x1,
  PRIVATE: 0x2,
  LABEL: 0x3,
  VALUE: 0x11,
  /** A key's check value: for AES, the first 3 bytes of the ECB encryption of a zero block. */
  CHECK_VALUE: 0x90,
  KEY_TYPE: 0x100,
  ID: 0x102,
  SENSITIVE: 0x103,
  ENCRYPT: 0x104,
  DECRYPT: 0x105,
  WRAP: 0x106,
  UNWRAP: 0x107,
  SIGN: 0x108,
  VERIFY: 0x10a,
  DERIVE: 0x10c,
  VALUE_LEN: 0x161,
  EXTRACTABLE: 0x162,
  LOCAL: 0x163,
  NEVER_EXTRACTABLE: 0x164,
  ALWAYS_SENSITIVE: 0x165,
  MODIFIABLE: 0x170,
  COPYABLE: 0x171,
} as const;
export const CKO_SECRET_KEY = 0x4;
export const CKK_AES = 0x1f;
export const CKM_AES_KEY_GEN = 0x1080;
export const CKM_AES_GCM = 0x1087;
const CKU_USER = 1;
const CKF_OS_LOCKING_OK = 0x2;
const CKF_RW_SESSION = 0x2;
const CKF_SERIAL_SESSION = 0x4;
export const CKF_TOKEN = {
  LOGIN_REQUIRED: 0x4,
  USER_PIN_INITIALIZED: 0x8,
  TOKEN_INITIALIZED: 0x400,
  USER_PIN_LOCKED: 0x40000,
} as const;
const CK_TRUE = 1;
const CK_FALSE = 0;

/** CK_SESSION_HANDLE / CK_OBJECT_HANDLE / CK_SLOT_ID: CK_ULONG values, opaque to Sovra. */
export type Pkcs11Handle = number | bigint;

export type Pkcs11ErrorCode = 'Pkcs11ModuleUnavailable' | 'Pkcs11CallFailed';

/**
 * A module that cannot be used, or a failed Cryptoki call; for the latter `ckr` names the return
 * value (e.g. CKR_PIN_INCORRECT) and `function` the call.
 */
export class Pkcs11Error extends SovraError<Pkcs11ErrorCode> {
  readonly ckr: string | null;
  readonly function: string | null;

  constructor(
    code: Pkcs11ErrorCode,
    message: string,
    call: { function: string; rv: number } | null,
    options?: { cause?: unknown },
  ) {
    super(code, message, call === null ? {} : { function: call.function, ckr: ckrName(call.rv) }, options);
    this.ckr = call === null ? null : ckrName(call.rv);
    this.function = call?.function ?? null;
  }
}

function callFailed(functionName: string, rv: number): Pkcs11Error {
  return new Pkcs11Error('Pkcs11CallFailed', `PKCS#11 ${functionName} failed with ${describeCkr(rv)}`, {
    function: functionName,
    rv,
  });
}

function moduleUnavailable(message: string, cause?: unknown): Pkcs11Error {
  return new Pkcs11Error('Pkcs11ModuleUnavailable', message, null, { cause });
}

/** sizeof(CK_ULONG) on the LP64 hosts this binding accepts (x64 and arm64, both little-endian). */
const ULONG_BYTES = 8;

/** A template entry: the attribute type and its value encoded as the token expects. */
export interface Pkcs11Attribute {
  type: number;
  value: Buffer;
}

export const attribute = {
  bool: (type: number, value: boolean): Pkcs11Attribute => ({
    type,
    value: Buffer.from([value ? CK_TRUE : CK_FALSE]),
  }),
  /** A CK_ULONG value: 8 bytes, little-endian, on the hosts this binding accepts. */
  ulong: (type: number, value: number): Pkcs11Attribute => {
    const bytes = Buffer.alloc(ULONG_BYTES);
    bytes.writeBigUInt64LE(BigInt(value));
    return { type, value: bytes };
  },
  bytes: (type: number, value: Uint8Array): Pkcs11Attribute => ({ type, value: Buffer.from(value) }),
};

export interface TokenInfo {
  label: string;
  manufacturer: string;
  model: string;
  serialNumber: string;
  flags: number;
  maxPinBytes: number;
  minPinBytes: number;
}

/** AES-GCM parameters (CK_GCM_PARAMS). */
export interface GcmParameters {
  iv: Buffer;
  aad: Buffer;
  tagBits: number;
}

/** One loaded and initialised PKCS#11 module; shared by every user of the same module path. */
export class Pkcs11Module {
  readonly modulePath: string;
  readonly #native: NativeFunctions;
  #users = 0;
  #finalizeOnRelease = true;
  /** Login state is per application and token (PKCS#11 v2.40 base §5.6, C_Login): counted per slot. */
  readonly #loginsBySlot = new Map<string, number>();

  private constructor(modulePath: string, native: NativeFunctions) {
    this.modulePath = modulePath;
    this.#native = native;
  }

  /**
   * Loads (once per process) and initialises the module at `modulePath`. C_Initialize and
   * C_Finalize are per process (PKCS#11 v2.40 base §5.4), so users of one module share it: the
   * first acquire initialises, the last `release` finalises. The module reads its configuration
   * at C_Initialize (SoftHSM2: the SOFTHSM2_CONF environment variable).
   */
  static async acquire(modulePath: string): Promise<Pkcs11Module> {
    const koffi = (await import('koffi')).default;
    // Synchronous from here on, so concurrent acquires cannot interleave. Two paths to one file
    // (Debian's /usr/lib/softhsm/ symlink) are one library for dlopen, so they share one entry.
    const libraryPath = realPathOf(modulePath);
    let module = LOADED_MODULES.get(libraryPath)?.module;
    if (module === undefined) {
      const { library, native } = bindModule(koffi, modulePath);
      module = new Pkcs11Module(modulePath, native);
      LOADED_MODULES.set(libraryPath, { module, library });
    }
    if (module.#users === 0) {
      const rv = module.#native.C_Initialize.sync({
        CreateMutex: null,
        DestroyMutex: null,
        LockMutex: null,
        UnlockMutex: null,
        // Calls come from koffi's worker threads: the module must lock with OS primitives.
        flags: CKF_OS_LOCKING_OK,
        pReserved: null,
      });
      // Already initialised means code outside this registry did it; that code finalises it too.
      if (rv !== CKR.CKR_OK && rv !== CKR.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        throw callFailed('C_Initialize', rv);
      }
      module.#finalizeOnRelease = rv === CKR.CKR_OK;
    }
    module.#users += 1;
    return module;
  }

  /** Finalises the module when its last user releases it; callers must have no call in flight. */
  release(): void {
    if (this.#users === 0) return;
    this.#users -= 1;
    if (this.#users === 0) {
      this.#loginsBySlot.clear();
      if (this.#finalizeOnRelease) this.#native.C_Finalize.sync(null);
    }
  }

  /** The slot whose token carries `label` (blank-padded to 32 bytes in CK_TOKEN_INFO). */
  async findTokenSlot(label: string): Promise<{ slot: Pkcs11Handle; token: TokenInfo } | null> {
    for (const slot of await this.slotsWithTokens()) {
      const token = await this.tokenInfo(slot);
      if (token.label === label) return { slot, token };
    }
    return null;
  }

  async slotsWithTokens(): Promise<Pkcs11Handle[]> {
    // The list can grow between the two calls (PKCS#11 v2.40 base §5.5, C_GetSlotList): retry.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const count: [Pkcs11Handle] = [0];
      await this.#call('C_GetSlotList', CK_TRUE, null, count);
      const length = Number(count[0]);
      if (length === 0) return [];
      const slots: Pkcs11Handle[] = new Array<Pkcs11Handle>(length).fill(0);
      const rv = await this.#native.C_GetSlotList.call(CK_TRUE, slots, count);
      if (rv === CKR.CKR_BUFFER_TOO_SMALL) continue;
      if (rv !== CKR.CKR_OK) throw callFailed('C_GetSlotList', rv);
      return slots.slice(0, Number(count[0]));
    }
    throw callFailed('C_GetSlotList', CKR.CKR_BUFFER_TOO_SMALL);
  }

  async tokenInfo(slot: Pkcs11Handle): Promise<TokenInfo> {
    const info: Record<string, unknown> = {};
    await this.#call('C_GetTokenInfo', slot, info);
    return {
      label: blankPadded(info.label),
      manufacturer: blankPadded(info.manufacturerID),
      model: blankPadded(info.model),
      serialNumber: blankPadded(info.serialNumber),
      flags: Number(info.flags),
      maxPinBytes: Number(info.ulMaxPinLen),
      minPinBytes: Number(info.ulMinPinLen),
    };
  }

  /** A read/write session (CKF_SERIAL_SESSION is mandatory: PKCS#11 v2.40 base §5.6). */
  async openSession(slot: Pkcs11Handle): Promise<Pkcs11Handle> {
    const session: [Pkcs11Handle] = [0];
    await this.#call('C_OpenSession', slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, null, null, session);
    return session[0];
  }

  async closeSession(session: Pkcs11Handle): Promise<void> {
    await this.#call('C_CloseSession', session);
  }

  /**
   * Logs the normal user in. Every session of this process on the token shares the login
   * (PKCS#11 v2.40 base §5.6, C_Login), so a second login of the same slot is counted rather than
   * repeated; note that the token then does not check the second PIN.
   */
  async loginUser(slot: Pkcs11Handle, session: Pkcs11Handle, pin: Buffer): Promise<void> {
    const key = String(slot);
    const rv = await this.#native.C_Login.call(session, CKU_USER, pin, pin.length);
    if (rv !== CKR.CKR_OK && rv !== CKR.CKR_USER_ALREADY_LOGGED_IN) throw callFailed('C_Login', rv);
    this.#loginsBySlot.set(key, (this.#loginsBySlot.get(key) ?? 0) + 1);
  }

  /** Undoes one `loginUser`; the token is logged out when the last one is undone. */
  async logoutUser(slot: Pkcs11Handle, session: Pkcs11Handle): Promise<void> {
    const key = String(slot);
    const remaining = (this.#loginsBySlot.get(key) ?? 1) - 1;
    if (remaining > 0) {
      this.#loginsBySlot.set(key, remaining);
      return;
    }
    this.#loginsBySlot.delete(key);
    const rv = await this.#native.C_Logout.call(session);
    if (rv !== CKR.CKR_OK && rv !== CKR.CKR_USER_NOT_LOGGED_IN) throw callFailed('C_Logout', rv);
  }

  /** Handles of the objects matching `template`, at most `maxCount`. */
  async findObjects(
    session: Pkcs11Handle,
    template: readonly Pkcs11Attribute[],
    maxCount: number,
  ): Promise<Pkcs11Handle[]> {
    await this.#call('C_FindObjectsInit', session, encodeTemplate(template), template.length);
    try {
      const found: Pkcs11Handle[] = new Array<Pkcs11Handle>(maxCount).fill(0);
      const count: [Pkcs11Handle] = [0];
      await this.#call('C_FindObjects', session, found, maxCount, count);
      return found.slice(0, Number(count[0]));
    } finally {
      await this.#call('C_FindObjectsFinal', session);
    }
  }

  async generateKey(
    session: Pkcs11Handle,
    mechanism: number,
    template: readonly Pkcs11Attribute[],
  ): Promise<Pkcs11Handle> {
    const key: [Pkcs11Handle] = [0];
    await this.#call(
      'C_GenerateKey',
      session,
      { mechanism, pParameter: null, ulParameterLen: 0 },
      encodeTemplate(template),
      template.length,
      key,
    );
    return key[0];
  }

  /**
   * One attribute's value (C_GetAttributeValue, asking for the length first). A sensitive
   * attribute fails with CKR_ATTRIBUTE_SENSITIVE, which is how a token proves a key never leaves.
   */
  async getAttributeValue(
    session: Pkcs11Handle,
    object: Pkcs11Handle,
    type: number,
    maxBytes: number,
  ): Promise<Buffer> {
    const probe = [{ type, pValue: null, ulValueLen: 0 }];
    await this.#call('C_GetAttributeValue', session, object, probe, 1);
    const length = Number(probe[0]!.ulValueLen);
    if (length > maxBytes) throw callFailed('C_GetAttributeValue', CKR.CKR_BUFFER_TOO_SMALL);
    const value = Buffer.alloc(length);
    await this.#call(
      'C_GetAttributeValue',
      session,
      object,
      [{ type, pValue: value, ulValueLen: length }],
      1,
    );
    return value;
  }

  /** AES-GCM encryption inside the token (CKM_AES_GCM): returns ciphertext ‖ tag. */
  async encryptAesGcm(
    session: Pkcs11Handle,
    key: Pkcs11Handle,
    params: GcmParameters,
    plaintext: Buffer,
  ): Promise<Buffer> {
    await this.#call('C_EncryptInit', session, gcmMechanism(params), key);
    const capacity = plaintext.length + params.tagBits / 8;
    const output = Buffer.alloc(capacity);
    const length: [Pkcs11Handle] = [capacity];
    await this.#call('C_Encrypt', session, plaintext, plaintext.length, output, length);
    return output.subarray(0, Number(length[0]));
  }

  /**
   * AES-GCM decryption inside the token. The output buffer has the ciphertext's full length:
   * SoftHSM2 asks for that much (tag included) before it checks the tag.
   */
  async decryptAesGcm(
    session: Pkcs11Handle,
    key: Pkcs11Handle,
    params: GcmParameters,
    ciphertextAndTag: Buffer,
  ): Promise<Buffer> {
    await this.#call('C_DecryptInit', session, gcmMechanism(params), key);
    const output = Buffer.alloc(ciphertextAndTag.length);
    const length: [Pkcs11Handle] = [output.length];
    try {
      await this.#call('C_Decrypt', session, ciphertextAndTag, ciphertextAndTag.length, output, length);
    } catch (error) {
      output.fill(0);
      throw error;
    }
    return output.subarray(0, Number(length[0]));
  }

  async #call(name: AsyncFunctionName, ...args: unknown[]): Promise<void> {
    const rv = await this.#native[name].call(...args);
    if (rv !== CKR.CKR_OK) throw callFailed(name, rv);
  }
}

/**
 * Modules already loaded in this process, by path: dlopen and C_Initialize are per process. The
 * dlopen handle is kept too: koffi unloads a library when its handle is garbage collected, and
 * the functions decoded from the function list do not hold it (a test runs calls under constant
 * GC to prove it).
 */
const LOADED_MODULES = new Map<string, { module: Pkcs11Module; library: LibraryHandle }>();

function realPathOf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path; // koffi.load reports the problem
  }
}

function blankPadded(value: unknown): string {
  if (!(value instanceof Uint8Array)) return '';
  return Buffer.from(value)
    .toString('utf8')
    .replace(/[ \0]+$/, '');
}

function encodeTemplate(template: readonly Pkcs11Attribute[]): object[] {
  return template.map((entry) => ({ type: entry.type, pValue: entry.value, ulValueLen: entry.value.length }));
}

/**
 * CK_MECHANISM with CK_GCM_PARAMS. The v2.40 header has `ulIvBits` after `ulIvLen` (the spec
 * text omits it; SoftHSM2 and most modules follow the header and check ulParameterLen against
 * sizeof(CK_GCM_PARAMS) = 48 on LP64). Modules copy the IV and AAD at *Init.
 */
function gcmMechanism(params: GcmParameters): object {
  return {
    mechanism: CKM_AES_GCM,
    pParameter: {
      pIv: params.iv,
      ulIvLen: params.iv.length,
      ulIvBits: params.iv.length * 8,
      pAAD: params.aad.length === 0 ? null : params.aad,
      ulAADLen: params.aad.length,
      ulTagBits: params.tagBits,
    },
    ulParameterLen: GCM_PARAMS_BYTES,
  };
}

/** sizeof(CK_GCM_PARAMS) on LP64: two pointers and four CK_ULONGs. */
const GCM_PARAMS_BYTES = 48;

// ---------------------------------------------------------------------------------------------
// The koffi binding.

type AsyncFunctionName =
  | 'C_GetSlotList'
  | 'C_GetTokenInfo'
  | 'C_OpenSession'
  | 'C_CloseSession'
  | 'C_Login'
  | 'C_Logout'
  | 'C_FindObjectsInit'
  | 'C_FindObjects'
  | 'C_FindObjectsFinal'
  | 'C_GetAttributeValue'
  | 'C_GenerateKey'
  | 'C_EncryptInit'
  | 'C_Encrypt'
  | 'C_DecryptInit'
  | 'C_Decrypt';

interface NativeFunction {
  /** On the calling thread: only C_Initialize and C_Finalize, once per process start and stop. */
  sync(...args: unknown[]): number;
  /** On a koffi worker thread; resolves with the CK_RV. */
  call(...args: unknown[]): Promise<number>;
}

type NativeFunctions = Record<AsyncFunctionName | 'C_Initialize' | 'C_Finalize', NativeFunction>;

/** Every CK_FUNCTION_LIST entry in pkcs11f.h v2.40 order, after the leading CK_VERSION. */
const FUNCTION_LIST_ORDER = [
  'C_Initialize',
  'C_Finalize',
  'C_GetInfo',
  'C_GetFunctionList',
  'C_GetSlotList',
  'C_GetSlotInfo',
  'C_GetTokenInfo',
  'C_GetMechanismList',
  'C_GetMechanismInfo',
  'C_InitToken',
  'C_InitPIN',
  'C_SetPIN',
  'C_OpenSession',
  'C_CloseSession',
  'C_CloseAllSessions',
  'C_GetSessionInfo',
  'C_GetOperationState',
  'C_SetOperationState',
  'C_Login',
  'C_Logout',
  'C_CreateObject',
  'C_CopyObject',
  'C_DestroyObject',
  'C_GetObjectSize',
  'C_GetAttributeValue',
  'C_SetAttributeValue',
  'C_FindObjectsInit',
  'C_FindObjects',
  'C_FindObjectsFinal',
  'C_EncryptInit',
  'C_Encrypt',
  'C_EncryptUpdate',
  'C_EncryptFinal',
  'C_DecryptInit',
  'C_Decrypt',
  'C_DecryptUpdate',
  'C_DecryptFinal',
  'C_DigestInit',
  'C_Digest',
  'C_DigestUpdate',
  'C_DigestKey',
  'C_DigestFinal',
  'C_SignInit',
  'C_Sign',
  'C_SignUpdate',
  'C_SignFinal',
  'C_SignRecoverInit',
  'C_SignRecover',
  'C_VerifyInit',
  'C_Verify',
  'C_VerifyUpdate',
  'C_VerifyFinal',
  'C_VerifyRecoverInit',
  'C_VerifyRecover',
  'C_DigestEncryptUpdate',
  'C_DecryptDigestUpdate',
  'C_SignEncryptUpdate',
  'C_DecryptVerifyUpdate',
  'C_GenerateKey',
  'C_GenerateKeyPair',
  'C_WrapKey',
  'C_UnwrapKey',
  'C_DeriveKey',
  'C_SeedRandom',
  'C_GenerateRandom',
  'C_GetFunctionStatus',
  'C_CancelFunction',
  'C_WaitForSlotEvent',
] as const;

/** C prototypes of the functions used; CK_RV and CK_ULONG are `unsigned long`. */
const PROTOTYPES: Record<keyof NativeFunctions, string> = {
  C_Initialize: 'unsigned long C_Initialize(CK_C_INITIALIZE_ARGS *pInitArgs)',
  C_Finalize: 'unsigned long C_Finalize(void *pReserved)',
  C_GetSlotList:
    'unsigned long C_GetSlotList(uint8_t tokenPresent, _Out_ unsigned long *pSlotList, _Inout_ unsigned long *pulCount)',
  C_GetTokenInfo: 'unsigned long C_GetTokenInfo(unsigned long slotID, _Out_ CK_TOKEN_INFO *pInfo)',
  C_OpenSession:
    'unsigned long C_OpenSession(unsigned long slotID, unsigned long flags, void *pApplication, void *Notify, _Out_ unsigned long *phSession)',
  C_CloseSession: 'unsigned long C_CloseSession(unsigned long hSession)',
  C_Login:
    'unsigned long C_Login(unsigned long hSession, unsigned long userType, const uint8_t *pPin, unsigned long ulPinLen)',
  C_Logout: 'unsigned long C_Logout(unsigned long hSession)',
  C_FindObjectsInit:
    'unsigned long C_FindObjectsInit(unsigned long hSession, CK_ATTRIBUTE *pTemplate, unsigned long ulCount)',
  C_FindObjects:
    'unsigned long C_FindObjects(unsigned long hSession, _Out_ unsigned long *phObject, unsigned long ulMaxObjectCount, _Out_ unsigned long *pulObjectCount)',
  C_FindObjectsFinal: 'unsigned long C_FindObjectsFinal(unsigned long hSession)',
  C_GetAttributeValue:
    'unsigned long C_GetAttributeValue(unsigned long hSession, unsigned long hObject, _Inout_ CK_ATTRIBUTE *pTemplate, unsigned long ulCount)',
  C_GenerateKey:
    'unsigned long C_GenerateKey(unsigned long hSession, CK_MECHANISM *pMechanism, CK_ATTRIBUTE *pTemplate, unsigned long ulCount, _Out_ unsigned long *phKey)',
  C_EncryptInit:
    'unsigned long C_EncryptInit(unsigned long hSession, CK_MECHANISM_GCM *pMechanism, unsigned long hKey)',
  C_Encrypt:
    'unsigned long C_Encrypt(unsigned long hSession, const uint8_t *pData, unsigned long ulDataLen, uint8_t *pEncryptedData, _Inout_ unsigned long *pulEncryptedDataLen)',
  C_DecryptInit:
    'unsigned long C_DecryptInit(unsigned long hSession, CK_MECHANISM_GCM *pMechanism, unsigned long hKey)',
  C_Decrypt:
    'unsigned long C_Decrypt(unsigned long hSession, const uint8_t *pEncryptedData, unsigned long ulEncryptedDataLen, uint8_t *pData, _Inout_ unsigned long *pulDataLen)',
};

type Koffi = typeof koffiDefault;

/** Cryptoki struct types, registered with koffi once per process (koffi names are global). */
let prototypesOnce: Map<keyof NativeFunctions, TypeObject> | null = null;

function prototypes(koffi: Koffi): Map<keyof NativeFunctions, TypeObject> {
  if (prototypesOnce !== null) return prototypesOnce;
  const ulong = 'unsigned long';
  koffi.struct('CK_C_INITIALIZE_ARGS', {
    CreateMutex: 'void *',
    DestroyMutex: 'void *',
    LockMutex: 'void *',
    UnlockMutex: 'void *',
    flags: ulong,
    pReserved: 'void *',
  });
  koffi.struct('CK_ATTRIBUTE', { type: ulong, pValue: 'void *', ulValueLen: ulong });
  koffi.struct('CK_MECHANISM', { mechanism: ulong, pParameter: 'void *', ulParameterLen: ulong });
  const gcmParams = koffi.struct('CK_GCM_PARAMS', {
    pIv: 'void *',
    ulIvLen: ulong,
    ulIvBits: ulong,
    pAAD: 'void *',
    ulAADLen: ulong,
    ulTagBits: ulong,
  });
  koffi.struct('CK_MECHANISM_GCM', {
    mechanism: ulong,
    pParameter: koffi.pointer(gcmParams),
    ulParameterLen: ulong,
  });
  const version = koffi.struct('CK_VERSION', { major: 'uint8_t', minor: 'uint8_t' });
  koffi.struct('CK_TOKEN_INFO', {
    label: koffi.array('uint8_t', 32),
    manufacturerID: koffi.array('uint8_t', 32),
    model: koffi.array('uint8_t', 16),
    serialNumber: koffi.array('uint8_t', 16),
    flags: ulong,
    ulMaxSessionCount: ulong,
    ulSessionCount: ulong,
    ulMaxRwSessionCount: ulong,
    ulRwSessionCount: ulong,
    ulMaxPinLen: ulong,
    ulMinPinLen: ulong,
    ulTotalPublicMemory: ulong,
    ulFreePublicMemory: ulong,
    ulTotalPrivateMemory: ulong,
    ulFreePrivateMemory: ulong,
    hardwareVersion: version,
    firmwareVersion: version,
    utcTime: koffi.array('uint8_t', 16),
  });
  if (gcmParams.size !== GCM_PARAMS_BYTES) {
    throw moduleUnavailable(`unexpected CK_GCM_PARAMS size ${gcmParams.size}`);
  }
  const protos = new Map<keyof NativeFunctions, TypeObject>();
  for (const [name, declaration] of Object.entries(PROTOTYPES)) {
    protos.set(name as keyof NativeFunctions, koffi.proto(declaration));
  }
  prototypesOnce = protos;
  return protos;
}

function bindModule(koffi: Koffi, modulePath: string): { library: LibraryHandle; native: NativeFunctions } {
  if (process.platform === 'win32' || (process.arch !== 'x64' && process.arch !== 'arm64')) {
    throw moduleUnavailable(
      `PKCS#11 through koffi is supported on 64-bit little-endian Unix only (not ${process.platform}/${process.arch})`,
    );
  }
  const protos = prototypes(koffi);
  let library: LibraryHandle;
  try {
    library = koffi.load(modulePath);
  } catch (error) {
    throw moduleUnavailable(
      `cannot load the PKCS#11 module ${modulePath}: ${(error as Error).message}`,
      error,
    );
  }
  const getFunctionList = library.func(
    'unsigned long C_GetFunctionList(_Out_ void **ppFunctionList)',
  ) as unknown as (out: unknown[]) => number;
  const listOut: unknown[] = [null];
  const rv = getFunctionList(listOut);
  if (rv !== CKR.CKR_OK || typeof listOut[0] !== 'bigint' || listOut[0] === 0n) {
    throw moduleUnavailable(`C_GetFunctionList of ${modulePath} failed with ${describeCkr(rv)}`);
  }
  // CK_FUNCTION_LIST: CK_VERSION (padded to pointer alignment), then one pointer per function.
  const table = new BigUint64Array(koffi.view(listOut[0], 8 * (FUNCTION_LIST_ORDER.length + 1)));
  const version = new Uint8Array(koffi.view(listOut[0], 2));
  // A 3.x module's list (CK_FUNCTION_LIST_3_0) starts with the same 2.40 entries in the same order.
  if ((version[0] ?? 0) < 2) {
    throw moduleUnavailable(
      `${modulePath} implements Cryptoki ${version[0]}.${version[1]}; Sovra needs version 2.x or later`,
    );
  }
  const bound: Partial<NativeFunctions> = {};
  for (const [name, proto] of protos) {
    const pointer = table[FUNCTION_LIST_ORDER.indexOf(name) + 1];
    if (pointer === undefined || pointer === 0n) {
      throw moduleUnavailable(`${modulePath} does not provide ${name}`);
    }
    bound[name] = nativeFunction(koffi.decode(pointer, proto) as KoffiCallable);
  }
  return { library, native: bound as NativeFunctions };
}

interface KoffiCallable {
  (...args: unknown[]): unknown;
  async(...args: unknown[]): void;
}

/**
 * Arguments of async calls in flight. koffi hands Buffers (also those inside structs, such as the
 * IV and AAD of CK_GCM_PARAMS) to the module as raw pointers; this reference keeps the GC from
 * freeing one that only the argument list still refers to while a worker thread reads it.
 */
const KEEP_ALIVE = new Set<unknown[]>();

function nativeFunction(fn: KoffiCallable): NativeFunction {
  return {
    sync: (...args) => Number(fn(...args)),
    call: (...args) =>
      new Promise<number>((resolve, reject) => {
        fn.async(...args, (error: unknown, rv: unknown) => {
          KEEP_ALIVE.delete(args);
          if (error !== null && error !== undefined)
            reject(
              error instanceof Error ? error : new Error('the koffi async call failed', { cause: error }),
            );
          else resolve(Number(rv));
        });
        KEEP_ALIVE.add(args);
      }),
  };
}
