import { malformedPolicy, type PolicyError } from './errors.ts';

/** A JSON number kept as written, so that `"10"` and `10` become the same condition value. */
export interface JsonNumber {
  readonly numberText: string;
}

export type JsonObject = Map<string, JsonValue>;
export type JsonValue = string | boolean | null | JsonNumber | JsonValue[] | JsonObject;

export interface JsonDocument {
  value: JsonValue;
  /** The size AWS measures: the text without whitespace between tokens. */
  characters: number;
  utf8Bytes: number;
}

export function isJsonObject(value: JsonValue): value is JsonObject {
  return value instanceof Map;
}

export function isJsonNumber(value: JsonValue): value is JsonNumber {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Map);
}

/**
 * Reads a JSON text (RFC 8259) strictly, for policies: objects become Maps (no prototype keys),
 * a key repeated within one object is an error because "individual elements must not contain
 * multiple instances of the same key" (IAM policy grammar notes), nesting is bounded, and every
 * error names its line and column. JSON.parse would silently keep the last duplicate `Effect`.
 */
export function readJson(text: string, maxDepth: number): JsonDocument {
  const reader = new JsonReader(text, maxDepth);
  reader.skipWhitespace();
  const value = reader.readValue(0);
  reader.skipWhitespace();
  if (reader.pos !== text.length) throw reader.error('unexpected text after the JSON value');
  const characters = codePointCount(text) - reader.whitespace;
  const utf8Bytes = Buffer.byteLength(text, 'utf8') - reader.whitespace;
  return { value, characters, utf8Bytes };
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

class JsonReader {
  readonly text: string;
  readonly maxDepth: number;
  pos = 0;
  /** Whitespace characters skipped between tokens (all ASCII, so also bytes). */
  whitespace = 0;
  /** Object keys and array indexes from the root to the value being read, for messages. */
  readonly path: (string | number)[] = [];

  constructor(text: string, maxDepth: number) {
    this.text = text;
    this.maxDepth = maxDepth;
  }

  readValue(depth: number): JsonValue {
    const c = this.text.charCodeAt(this.pos);
    switch (c) {
      case 0x7b /* { */:
        return this.readObject(depth + 1);
      case 0x5b /* [ */:
        return this.readArray(depth + 1);
      case 0x22 /* " */:
        return this.readString();
      case 0x74 /* t */:
        return this.readLiteral('true', true);
      case 0x66 /* f */:
        return this.readLiteral('false', false);
      case 0x6e /* n */:
        return this.readLiteral('null', null);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.readNumber();
        throw this.error(Number.isNaN(c) ? 'unexpected end of the JSON text' : 'expected a JSON value');
    }
  }

  readObject(depth: number): JsonObject {
    if (depth > this.maxDepth) throw this.error(`JSON nested deeper than ${this.maxDepth} levels`);
    const object: JsonObject = new Map();
    this.pos++;
    this.skipWhitespace();
    if (this.text.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      return object;
    }
    for (;;) {
      if (this.text.charCodeAt(this.pos) !== 0x22) throw this.error('expected a double-quoted key');
      const keyAt = this.pos;
      const key = this.readString();
      if (object.has(key)) {
        this.pos = keyAt;
        throw malformedPolicy(formatPath(this.path), `duplicate key ${JSON.stringify(key)}`);
      }
      this.skipWhitespace();
      if (this.text.charCodeAt(this.pos) !== 0x3a) throw this.error("expected ':' after the key");
      this.pos++;
      this.skipWhitespace();
      this.path.push(key);
      object.set(key, this.readValue(depth));
      this.path.pop();
      this.skipWhitespace();
      const c = this.text.charCodeAt(this.pos);
      this.pos++;
      if (c === 0x7d) return object;
      if (c !== 0x2c) {
        this.pos--;
        throw this.error("expected ',' or '}'");
      }
      this.skipWhitespace();
    }
  }

  readArray(depth: number): JsonValue[] {
    if (depth > this.maxDepth) throw this.error(`JSON nested deeper than ${this.maxDepth} levels`);
    const array: JsonValue[] = [];
    this.pos++;
    this.skipWhitespace();
    if (this.text.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
      return array;
    }
    for (;;) {
      this.path.push(array.length);
      array.push(this.readValue(depth));
      this.path.pop();
      this.skipWhitespace();
      const c = this.text.charCodeAt(this.pos);
      this.pos++;
      if (c === 0x5d) return array;
      if (c !== 0x2c) {
        this.pos--;
        throw this.error("expected ',' or ']'");
      }
      this.skipWhitespace();
    }
  }

  readString(): string {
    const text = this.text;
    let pos = this.pos + 1;
    let result = '';
    let runStart = pos;
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 0x22) break;
      if (Number.isNaN(c)) {
        this.pos = pos;
        throw this.error('unterminated string');
      }
      if (c < 0x20) {
        this.pos = pos;
        throw this.error('control character in a string');
      }
      if (c !== 0x5c) {
        pos++;
        continue;
      }
      result += text.slice(runStart, pos);
      const escape = text.charCodeAt(pos + 1);
      const simple = SIMPLE_ESCAPES.get(escape);
      if (simple !== undefined) {
        result += simple;
        pos += 2;
      } else if (escape === 0x75 /* u */ && /^[0-9a-fA-F]{4}$/.test(text.slice(pos + 2, pos + 6))) {
        result += String.fromCharCode(Number.parseInt(text.slice(pos + 2, pos + 6), 16));
        pos += 6;
      } else {
        this.pos = pos;
        throw this.error('invalid escape in a string');
      }
      runStart = pos;
    }
    result += text.slice(runStart, pos);
    if (!result.isWellFormed()) {
      this.pos = this.pos + 1;
      throw this.error('string contains an unpaired surrogate');
    }
    this.pos = pos + 1;
    return result;
  }

  readNumber(): JsonNumber {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (match === null) throw this.error('invalid number');
    this.pos += match[0].length;
    return { numberText: match[0] };
  }

  readLiteral<T extends boolean | null>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) throw this.error('expected a JSON value');
    this.pos += word.length;
    return value;
  }

  skipWhitespace(): void {
    const text = this.text;
    let pos = this.pos;
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      pos++;
    }
    this.whitespace += pos - this.pos;
    this.pos = pos;
  }

  error(problem: string): PolicyError {
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < this.pos && i < this.text.length; i++) {
      if (this.text.charCodeAt(i) === 0x0a) {
        line++;
        lineStart = i + 1;
      }
    }
    return malformedPolicy(
      '',
      `invalid JSON at line ${line}, column ${this.pos - lineStart + 1} (position ${this.pos}): ${problem}`,
    );
  }
}

const SIMPLE_ESCAPES = new Map<number, string>([
  [0x22, '"'],
  [0x5c, '\\'],
  [0x2f, '/'],
  [0x62, '\b'],
  [0x66, '\f'],
  [0x6e, '\n'],
  [0x72, '\r'],
  [0x74, '\t'],
]);

/** `Statement[2].Condition.StringEquals`, as the policy's authors would point at it. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

function codePointCount(text: string): number {
  let surrogatePairs = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff) surrogatePairs++;
  }
  return text.length - surrogatePairs;
}
