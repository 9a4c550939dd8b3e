import { kmsError } from '../../domain/kms/errors.ts';
import type { KmsTag } from '../../domain/kms/types.ts';
import { kmsProtocolError } from './errors.ts';

/**
 * The members of one AWS JSON 1.1 request body, read with their types checked: a member of the
 * wrong JSON type is a SerializationException (the body does not match the operation's shape), a
 * missing or out-of-range one a ValidationException worded as AWS words it
 * (https://docs.aws.amazon.com/kms/latest/APIReference/CommonErrors.html). Blobs are base64, as
 * the protocol encodes them. Unknown members are ignored, so newer SDKs keep working.
 */
export class RequestFields {
  readonly #members: Record<string, unknown>;

  constructor(body: Buffer) {
    let parsed: unknown;
    try {
      parsed = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch {
      throw kmsProtocolError('Serialization', 'The request body is not valid JSON.');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw kmsProtocolError('Serialization', 'The request body must be a JSON object.');
    }
    this.#members = Object.fromEntries(Object.entries(parsed));
  }

  has(name: string): boolean {
    return this.#value(name) !== undefined;
  }

  requiredString(name: string, minLength: number, maxLength: number): string {
    const value = this.optionalString(name, minLength, maxLength);
    if (value === null) throw missing(name);
    return value;
  }

  optionalString(name: string, minLength: number, maxLength: number): string | null {
    const value = this.#value(name);
    if (value === undefined) return null;
    if (typeof value !== 'string') throw wrongType(name, 'a string');
    if (value.length < minLength || value.length > maxLength) {
      throw invalid(name, value, `Member must have length between ${minLength} and ${maxLength}`);
    }
    return value;
  }

  optionalInteger(name: string, min: number, max: number): number | null {
    const value = this.#value(name);
    if (value === undefined) return null;
    if (typeof value !== 'number' || !Number.isInteger(value)) throw wrongType(name, 'an integer');
    if (value < min) throw invalid(name, value, `Member must have value greater than or equal to ${min}`);
    if (value > max) throw invalid(name, value, `Member must have value less than or equal to ${max}`);
    return value;
  }

  boolean(name: string): boolean {
    const value = this.#value(name);
    if (value === undefined) return false;
    if (typeof value !== 'boolean') throw wrongType(name, 'a boolean');
    return value;
  }

  requiredBlob(name: string, maxBytes: number): Buffer {
    const value = this.#value(name);
    if (value === undefined) throw missing(name);
    if (typeof value !== 'string' || !BASE64.test(value) || value.length % 4 !== 0) {
      throw wrongType(name, 'a base64-encoded blob');
    }
    const bytes = Buffer.from(value, 'base64');
    if (bytes.length < 1 || bytes.length > maxBytes) {
      throw invalid(name, '(blob)', `Member must have length between 1 and ${maxBytes}`);
    }
    return bytes;
  }

  /** A string-to-string map (EncryptionContext); absent is empty. */
  stringMap(name: string): Record<string, string> {
    const value = this.#value(name);
    if (value === undefined) return {};
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw wrongType(name, 'a map');
    const map: Record<string, string> = {};
    for (const [key, entry] of Object.entries(value)) {
      if (typeof entry !== 'string') throw wrongType(name, 'a map of strings');
      map[key] = entry;
    }
    return map;
  }

  stringList(name: string, maxItems: number, maxLength: number): string[] {
    const value = this.#value(name);
    if (value === undefined) return [];
    if (!Array.isArray(value)) throw wrongType(name, 'a list');
    if (value.length > maxItems)
      throw invalid(name, '(list)', `Member must have length less than or equal to ${maxItems}`);
    return value.map((entry: unknown) => {
      if (typeof entry !== 'string') throw wrongType(name, 'a list of strings');
      if (entry.length > maxLength)
        throw invalid(name, entry, `Member must have length less than or equal to ${maxLength}`);
      return entry;
    });
  }

  /** `[{TagKey, TagValue}]`; the key ring checks the tags themselves. */
  tags(name: string, maxItems: number): KmsTag[] {
    const value = this.#value(name);
    if (value === undefined) return [];
    if (!Array.isArray(value)) throw wrongType(name, 'a list of tags');
    if (value.length > maxItems) throw kmsError('InvalidTag', `At most ${maxItems} tags are allowed`);
    return value.map((entry: unknown) => {
      if (typeof entry !== 'object' || entry === null) throw wrongType(name, 'a list of tags');
      const key: unknown = 'TagKey' in entry ? entry.TagKey : undefined;
      const tagValue: unknown = 'TagValue' in entry ? entry.TagValue : undefined;
      if (typeof key !== 'string' || typeof tagValue !== 'string') {
        throw kmsError('InvalidTag', 'Every tag needs a TagKey and a TagValue string');
      }
      return { key, value: tagValue };
    });
  }

  /**
   * One of `supported`; a value AWS defines but Sovra does not offer is UnsupportedOperation, and
   * anything else a ValidationException listing AWS's values.
   */
  enumValue<T extends string>(
    name: string,
    supported: readonly T[],
    definedByAws: readonly string[],
  ): T | null {
    const value = this.optionalString(name, 1, 256);
    if (value === null) return null;
    const match = supported.find((candidate) => candidate === value);
    if (match !== undefined) return match;
    if (definedByAws.includes(value)) {
      throw kmsError(
        'UnsupportedOperation',
        `${name} ${value} is not supported by Sovra; supported: ${supported.join(', ')}.`,
      );
    }
    throw invalid(name, value, `Member must satisfy enum value set: [${definedByAws.join(', ')}]`);
  }

  #value(name: string): unknown {
    const value = this.#members[name];
    // JSON null is how some clients say "absent".
    return value === null ? undefined : value;
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** AWS names members in validation messages with a lower-case first letter (`keyId`). */
function memberName(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function missing(name: string): Error {
  return kmsError(
    'Validation',
    `1 validation error detected: Value null at '${memberName(name)}' failed to satisfy constraint: Member must not be null`,
  );
}

function invalid(name: string, value: unknown, constraint: string): Error {
  const shown = typeof value === 'string' ? value.slice(0, 64) : String(value);
  return kmsError(
    'Validation',
    `1 validation error detected: Value '${shown}' at '${memberName(name)}' failed to satisfy constraint: ${constraint}`,
  );
}

function wrongType(name: string, expected: string): Error {
  return kmsProtocolError('Serialization', `${name} must be ${expected}.`);
}
