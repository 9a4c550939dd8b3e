import { LABEL_ID_PATTERN, type ClassificationScheme } from '../classification/scheme.ts';
import { MAX_COMPARTMENTS } from '../classification/limits.ts';
import { identityError } from './identity-errors.ts';
import {
  ACCESS_KEY_MAX_LIFETIME_MS,
  DESCRIPTION_MAX_CHARS,
  GROUP_NAME_MAX_CHARS,
  PAGE_SIZE_MAX,
  POLICY_NAME_MAX_CHARS,
  PRINCIPAL_TAGS_MAX,
  ROLE_NAME_MAX_CHARS,
  TAG_KEY_MAX_CHARS,
  TAG_VALUE_MAX_CHARS,
  TENANT_ID_MAX_CHARS,
  TENANT_ID_MIN_CHARS,
  TENANT_NAME_MAX_CHARS,
  USER_NAME_MAX_CHARS,
} from './limits.ts';

/**
 * Checks of the values administrators send, each failing with ValidationError and a message that
 * names the field. Every value comes from the network and is treated as hostile.
 */

/** Lower-case letters, digits and inner hyphens: safe in ARNs, paths, log lines and DNS labels. */
const TENANT_ID = /^[a-z][a-z0-9-]*[a-z0-9]$/;
/**
 * Tenant ids that would be mistaken for something else in an ARN's account field: `aws` names
 * AWS managed policies (arn:aws:iam::aws:policy/…), `sovra` is kept for Sovra's own.
 */
const RESERVED_TENANT_IDS = new Set(['aws', 'sovra']);

/** "Names of users, groups, roles, policies … can contain alphanumeric characters and + = , . @ _ -". */
const ENTITY_NAME = /^[A-Za-z0-9+=,.@_-]+$/;
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** IAM tag keys and values: letters, spaces, numbers and _ . : / = + - @ (IAM "Tagging IAM resources"). */
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

export type EntityKind = 'user' | 'role' | 'group' | 'policy';

const NAME_LIMITS: Record<EntityKind, number> = {
  user: USER_NAME_MAX_CHARS,
  role: ROLE_NAME_MAX_CHARS,
  group: GROUP_NAME_MAX_CHARS,
  policy: POLICY_NAME_MAX_CHARS,
};

export function checkTenantId(id: string): string {
  if (
    id.length < TENANT_ID_MIN_CHARS ||
    id.length > TENANT_ID_MAX_CHARS ||
    !TENANT_ID.test(id) ||
    id.includes('--')
  ) {
    throw invalid(
      'id',
      `a tenant id is ${TENANT_ID_MIN_CHARS} to ${TENANT_ID_MAX_CHARS} characters of a-z, 0-9 and single inner hyphens, starting with a letter`,
    );
  }
  if (RESERVED_TENANT_IDS.has(id)) throw invalid('id', `the tenant id "${id}" is reserved`);
  return id;
}

export function checkTenantName(name: string): string {
  if (name.length === 0 || name.length > TENANT_NAME_MAX_CHARS || CONTROL.test(name)) {
    throw invalid(
      'name',
      `a tenant name is 1 to ${TENANT_NAME_MAX_CHARS} characters without control characters`,
    );
  }
  return name;
}

export function checkEntityName(kind: EntityKind, name: string, field = 'name'): string {
  const max = NAME_LIMITS[kind];
  if (name.length === 0 || name.length > max || !ENTITY_NAME.test(name)) {
    throw invalid(field, `a ${kind} name is 1 to ${max} characters of letters, digits and + = , . @ _ -`);
  }
  return name;
}

export function checkDescription(description: string): string {
  if (description.length > DESCRIPTION_MAX_CHARS || CONTROL.test(description.replace(/[\n\t]/g, ' '))) {
    throw invalid(
      'description',
      `a description is at most ${DESCRIPTION_MAX_CHARS} characters without control characters`,
    );
  }
  return description;
}

/**
 * A principal's tags after adding `added` to `current`. Keys compare without regard to case, as
 * IAM's do ("IAM tag keys are case insensitive"), so a key differing only in case replaces the old
 * one; `aws:` keys are reserved for AWS.
 */
export function mergeTags(
  current: Readonly<Record<string, string>>,
  added: Readonly<Record<string, string>>,
): Record<string, string> {
  const merged = new Map<string, [string, string]>();
  for (const [key, value] of Object.entries(current)) merged.set(key.toLowerCase(), [key, value]);
  const seen = new Set<string>();
  for (const [key, value] of Object.entries(added)) {
    checkTag(key, value);
    const folded = key.toLowerCase();
    if (seen.has(folded)) throw invalid('tags', `the tag key "${key}" is given twice (keys ignore case)`);
    seen.add(folded);
    merged.set(folded, [key, value]);
  }
  if (merged.size > PRINCIPAL_TAGS_MAX) {
    throw identityError('LimitExceeded', `a principal has at most ${PRINCIPAL_TAGS_MAX} tags`, {
      limit: PRINCIPAL_TAGS_MAX,
    });
  }
  return Object.fromEntries([...merged.values()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The tags without `key` (compared without regard to case); removing an absent key is no error. */
export function withoutTag(current: Readonly<Record<string, string>>, key: string): Record<string, string> {
  const folded = key.toLowerCase();
  return Object.fromEntries(Object.entries(current).filter(([k]) => k.toLowerCase() !== folded));
}

function checkTag(key: string, value: string): void {
  if (key.length === 0 || key.length > TAG_KEY_MAX_CHARS || !TAG_TEXT.test(key)) {
    throw invalid(
      'tags',
      `a tag key is 1 to ${TAG_KEY_MAX_CHARS} characters of letters, digits, spaces and _ . : / = + - @`,
    );
  }
  if (key.toLowerCase().startsWith('aws:'))
    throw invalid('tags', `tag keys starting with "aws:" are reserved`);
  if (value.length > TAG_VALUE_MAX_CHARS || !TAG_TEXT.test(value)) {
    throw invalid(
      'tags',
      `the value of tag "${key}" must be at most ${TAG_VALUE_MAX_CHARS} characters of letters, digits, spaces and _ . : / = + - @`,
    );
  }
}

/**
 * A clearance level id: the syntax of classification level ids, and, when the installation has a
 * classification scheme, one of its levels.
 */
export function checkClearance(levelId: string | null, scheme: ClassificationScheme | null): string | null {
  if (levelId === null) return null;
  if (!LABEL_ID_PATTERN.test(levelId)) {
    throw invalid('clearance', 'a clearance is a classification level id such as CONFIDENTIAL');
  }
  if (scheme !== null && scheme.findLevel(levelId) === null) {
    throw invalid('clearance', `"${levelId}" is not a level of the ${scheme.profile} classification scheme`);
  }
  return levelId;
}

/** Compartment ids: sorted, without duplicates, each known to the scheme when there is one. */
export function checkCompartments(ids: readonly string[], scheme: ClassificationScheme | null): string[] {
  if (ids.length > MAX_COMPARTMENTS) {
    throw invalid('compartments', `a principal holds at most ${MAX_COMPARTMENTS} compartments`);
  }
  for (const id of ids) {
    if (!LABEL_ID_PATTERN.test(id)) {
      throw invalid('compartments', `"${id.slice(0, 64)}" is not a compartment id (A-Z, 0-9 and _)`);
    }
    if (scheme !== null && scheme.findCompartment(id) === null) {
      throw invalid(
        'compartments',
        `"${id}" is not a compartment of the ${scheme.profile} classification scheme`,
      );
    }
  }
  return [...new Set(ids)].sort();
}

/** An access key's expiry: in the future and within ACCESS_KEY_MAX_LIFETIME_MS. */
export function checkExpiry(expiresAt: Date | null, nowMs: number): Date | null {
  if (expiresAt === null) return null;
  const atMs = expiresAt.getTime();
  if (!Number.isFinite(atMs) || atMs <= nowMs) throw invalid('expiresAt', 'the expiry must be in the future');
  if (atMs - nowMs > ACCESS_KEY_MAX_LIFETIME_MS) {
    throw invalid('expiresAt', 'an access key may be given at most ten years');
  }
  return expiresAt;
}

export function checkPageSize(maxItems: number): number {
  if (!Number.isSafeInteger(maxItems) || maxItems < 1 || maxItems > PAGE_SIZE_MAX) {
    throw invalid('maxItems', `maxItems is 1 to ${PAGE_SIZE_MAX}`);
  }
  return maxItems;
}

function invalid(field: string, message: string) {
  return identityError('ValidationError', `${field}: ${message}`, { field });
}
