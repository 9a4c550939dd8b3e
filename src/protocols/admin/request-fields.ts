import { PAGE_SIZE_DEFAULT } from '../../domain/iam/limits.ts';
import type { PageRequest } from '../../domain/iam/identity-admin.ts';
import { AdminProtocolError } from './errors.ts';

/**
 * The members of a JSON request body, read by name with their JSON type checked: a missing
 * required member, a member of the wrong type and a member the operation does not know are all
 * ValidationError naming the member. Values are then checked by the domain.
 */
export class RequestFields {
  readonly #fields: Readonly<Record<string, unknown>>;
  readonly #read = new Set<string>();

  private constructor(fields: Readonly<Record<string, unknown>>) {
    this.#fields = fields;
  }

  /** An empty body counts as `{}`; anything else must be a JSON object. */
  static parse(body: Buffer): RequestFields {
    if (body.length === 0) return new RequestFields({});
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw invalid('the request body must be JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw invalid('the request body must be a JSON object');
    }
    return new RequestFields(parsed as Record<string, unknown>);
  }

  string(name: string): string {
    const value = this.#take(name);
    if (typeof value !== 'string') throw invalid(`${name}: a string is required`);
    return value;
  }

  optionalString(name: string): string | undefined {
    const value = this.#take(name);
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw invalid(`${name}: must be a string`);
    return value;
  }

  /** A string or null (null clears the value); undefined when absent. */
  nullableString(name: string): string | null | undefined {
    const value = this.#take(name);
    if (value === undefined || value === null) return value;
    if (typeof value !== 'string') throw invalid(`${name}: must be a string or null`);
    return value;
  }

  optionalBoolean(name: string): boolean | undefined {
    const value = this.#take(name);
    if (value === undefined) return undefined;
    if (typeof value !== 'boolean') throw invalid(`${name}: must be true or false`);
    return value;
  }

  optionalStringArray(name: string): string[] | undefined {
    const value = this.#take(name);
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || !value.every((item): item is string => typeof item === 'string')) {
      throw invalid(`${name}: must be an array of strings`);
    }
    return value;
  }

  /** A JSON object of string values (tags). */
  optionalStringMap(name: string): Record<string, string> | undefined {
    const value = this.#take(name);
    if (value === undefined) return undefined;
    if (
      typeof value !== 'object' ||
      value === null ||
      Array.isArray(value) ||
      !Object.values(value).every((item) => typeof item === 'string')
    ) {
      throw invalid(`${name}: must be an object of string values`);
    }
    return { ...(value as Record<string, string>) };
  }

  /**
   * A policy document, given either as a JSON object (the natural form) or as its JSON text (the
   * form AWS APIs take, which keeps duplicate keys visible to the policy parser).
   */
  policyDocument(name: string): string {
    const value = this.#take(name);
    if (typeof value === 'string') return value;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return JSON.stringify(value);
    throw invalid(`${name}: a policy document (a JSON object, or its text) is required`);
  }

  optionalPolicyDocument(name: string): string | undefined {
    return this.#fields[name] === undefined ? this.#skip(name) : this.policyDocument(name);
  }

  /** An ISO 8601 time with a date and a time of day (RFC 3339), or null. */
  optionalTime(name: string): Date | null {
    const value = this.#take(name);
    if (value === undefined || value === null) return null;
    const ms =
      typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
    if (!Number.isFinite(ms)) throw invalid(`${name}: must be an ISO 8601 time such as 2030-01-31T12:00:00Z`);
    return new Date(ms);
  }

  /** Refuses members the operation did not read. */
  done(): void {
    for (const name of Object.keys(this.#fields)) {
      if (!this.#read.has(name)) throw invalid(`unknown member "${name.slice(0, 64)}"`);
    }
  }

  #take(name: string): unknown {
    this.#read.add(name);
    return Object.hasOwn(this.#fields, name) ? this.#fields[name] : undefined;
  }

  #skip(name: string): undefined {
    this.#read.add(name);
    return undefined;
  }
}

/** `marker` and `maxItems` of a list request (IAM's Marker and MaxItems). */
export function pageRequestOf(query: URLSearchParams): PageRequest {
  const text = query.get('maxItems');
  let maxItems = PAGE_SIZE_DEFAULT;
  if (text !== null) {
    if (!/^[0-9]{1,7}$/.test(text)) throw invalid('maxItems: must be a positive integer');
    maxItems = Number(text);
  }
  return { marker: query.get('marker') ?? '', maxItems };
}

function invalid(message: string): AdminProtocolError {
  return new AdminProtocolError('ValidationError', message);
}
