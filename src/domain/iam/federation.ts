import { SovraError } from '../../platform/errors.ts';
import { identityError } from './identity-errors.ts';

/**
 * Per-tenant OpenID Connect identity providers and the rules that map an ID token's claims to the
 * roles it may assume, a clearance and compartments. AWS keeps the provider (issuer URL and client
 * ids, https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc.html) and
 * lets the role's trust policy decide; Sovra adds mapping rules, as Keycloak's identity provider
 * mappers do, so that an agency's groups become roles and its clearance attributes become labels.
 */

export interface ClaimRule {
  /** The claim's name; a dotted name reads a nested claim (`realm_access.roles`). */
  claim: string;
  /** Matches a string claim equal to this, or an array claim that contains it. */
  equals: string;
  /** Role names (in the provider's tenant) a matching token may assume. */
  roles: readonly string[];
}

export interface ClaimMapping {
  rules: readonly ClaimRule[];
  /** The claim carrying the clearance (a classification level id), or null for none. */
  clearanceClaim: string | null;
  /** The claim carrying the compartments (an array of ids, or a space-separated string), or null. */
  compartmentsClaim: string | null;
}

export interface IdentityProviderRecord {
  id: string;
  tenantId: string;
  /** The issuer exactly as ID tokens carry it in `iss` (https, or http on a loopback host). */
  issuer: string;
  /** Client ids: a token's `aud` must contain one of them. */
  audiences: readonly string[];
  mapping: ClaimMapping;
  createdAt: Date;
}

/** What a token's claims grant once mapped. */
export interface MappedClaims {
  roles: ReadonlySet<string>;
  clearance: string | null;
  compartments: readonly string[];
}

export type FederationErrorCode =
  'InvalidIdentityToken' | 'ExpiredTokenException' | 'IDPRejectedClaim' | 'IDPCommunicationError';

/** Failures of the identity provider or its token, with AWS STS's codes. */
export class FederationError extends SovraError<FederationErrorCode> {}

export function federationError(code: FederationErrorCode, message: string): FederationError {
  return new FederationError(code, message);
}

/** IAM: "You can add up to 100 OIDC identity providers per account" — Sovra uses a tenth of that. */
export const IDENTITY_PROVIDERS_PER_TENANT = 10;
/** IAM: "client IDs (audiences) per OIDC provider: 100". */
export const AUDIENCES_PER_PROVIDER = 100;
export const AUDIENCE_MAX_CHARS = 255;
export const ISSUER_MAX_CHARS = 255;
export const CLAIM_RULES_PER_PROVIDER = 100;
export const ROLES_PER_RULE = 10;
export const CLAIM_NAME_MAX_CHARS = 128;
export const CLAIM_VALUE_MAX_CHARS = 256;
/** Compartments taken from a token, as for a principal (limits.ts). */
export const TOKEN_COMPARTMENTS_MAX = 64;
const CLAIM_NAME = /^[A-Za-z0-9_:\-/]+(\.[A-Za-z0-9_:\-/]+)*$/;
const ROLE_NAME = /^[A-Za-z0-9+=,.@_-]{1,64}$/;
const LABEL_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Checks an issuer URL. https is required, as IAM requires it, except on loopback hosts, so a
 * provider started inside a test (or a development IdP on the same machine) can be used.
 */
export function checkIssuer(value: unknown): string {
  if (typeof value !== 'string' || value === '' || value.length > ISSUER_MAX_CHARS) {
    throw invalid('issuer', `an issuer URL of at most ${ISSUER_MAX_CHARS} characters is required`);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid('issuer', 'not a URL');
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw invalid('issuer', 'an issuer has no query, fragment or credentials (OpenID Connect Discovery §4)');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw invalid('issuer', 'an issuer must use https (http only on a loopback host)');
  }
  return value;
}

export function isLoopbackHost(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname === '[::1]' ||
    hostname === '::1' ||
    /^127(\.\d{1,3}){3}$/.test(hostname)
  );
}

/**
 * The provider's name in trust policies and condition keys, as AWS forms it: the issuer without
 * its scheme and trailing slash (`accounts.example.gov/realms/agency`), so that a statement says
 * `"Federated": "accounts.example.gov/realms/agency"` and conditions use
 * `accounts.example.gov/realms/agency:aud` and `…:sub`
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif).
 */
export function providerName(issuer: string): string {
  return issuer.replace(/^https?:\/\//, '').replace(/\/+$/, '');
}

/** The provider's ARN: `arn:aws:iam::<tenant>:oidc-provider/<provider name>`. */
export function providerArn(tenantId: string, issuer: string): string {
  return `arn:aws:iam::${tenantId}:oidc-provider/${providerName(issuer)}`;
}

export function checkAudiences(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > AUDIENCES_PER_PROVIDER) {
    throw invalid('audiences', `1 to ${AUDIENCES_PER_PROVIDER} client ids are required`);
  }
  const audiences = value.map((item: unknown, index) => {
    if (typeof item !== 'string' || item === '' || item.length > AUDIENCE_MAX_CHARS || /\s/.test(item)) {
      throw invalid(
        `audiences[${index}]`,
        `a client id is 1 to ${AUDIENCE_MAX_CHARS} characters without spaces`,
      );
    }
    return item;
  });
  return [...new Set(audiences)];
}

/** Validates mapping rules given as JSON (the admin API's `rules`, `clearanceClaim`, `compartmentsClaim`). */
export function checkClaimMapping(input: {
  rules: unknown;
  clearanceClaim: unknown;
  compartmentsClaim: unknown;
}): ClaimMapping {
  const rules = input.rules ?? [];
  if (!Array.isArray(rules) || rules.length > CLAIM_RULES_PER_PROVIDER) {
    throw invalid('rules', `an array of at most ${CLAIM_RULES_PER_PROVIDER} rules is required`);
  }
  return {
    rules: rules.map((rule: unknown, index) => checkRule(rule, `rules[${index}]`)),
    clearanceClaim: optionalClaimName(input.clearanceClaim, 'clearanceClaim'),
    compartmentsClaim: optionalClaimName(input.compartmentsClaim, 'compartmentsClaim'),
  };
}

function checkRule(value: unknown, path: string): ClaimRule {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(path, 'a rule is an object {"claim", "equals", "roles"}');
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key !== 'claim' && key !== 'equals' && key !== 'roles')
      throw invalid(`${path}.${key}`, 'unknown member');
  }
  const claim = claimName(record.claim, `${path}.claim`);
  const equals = record.equals;
  if (typeof equals !== 'string' || equals === '' || equals.length > CLAIM_VALUE_MAX_CHARS) {
    throw invalid(`${path}.equals`, `a value of 1 to ${CLAIM_VALUE_MAX_CHARS} characters is required`);
  }
  const roles = record.roles;
  if (!Array.isArray(roles) || roles.length === 0 || roles.length > ROLES_PER_RULE) {
    throw invalid(`${path}.roles`, `1 to ${ROLES_PER_RULE} role names are required`);
  }
  const names = roles.map((role: unknown, index) => {
    if (typeof role !== 'string' || !ROLE_NAME.test(role)) {
      throw invalid(
        `${path}.roles[${index}]`,
        'a role name is 1 to 64 characters of A-Z a-z 0-9 + = , . @ _ -',
      );
    }
    return role;
  });
  return { claim, equals, roles: [...new Set(names)] };
}

function optionalClaimName(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  return claimName(value, field);
}

function claimName(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length > CLAIM_NAME_MAX_CHARS || !CLAIM_NAME.test(value)) {
    throw invalid(
      field,
      `a claim name of at most ${CLAIM_NAME_MAX_CHARS} characters (dots for nested claims)`,
    );
  }
  if (value.split('.').some((part) => FORBIDDEN_PROPERTY.has(part))) throw invalid(field, 'not a claim name');
  return value;
}

/** Names that would reach an object's prototype rather than a claim. */
const FORBIDDEN_PROPERTY = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Applies the provider's mapping to verified claims: the roles of every matching rule, the
 * clearance and the compartments. A clearance or compartment claim of the wrong shape is
 * IDPRejectedClaim rather than being ignored, because ignoring it would silently change what the
 * session may read.
 */
export function mapClaims(mapping: ClaimMapping, claims: Readonly<Record<string, unknown>>): MappedClaims {
  const roles = new Set<string>();
  for (const rule of mapping.rules) {
    const value = claimValue(claims, rule.claim);
    const matches =
      typeof value === 'string' ? value === rule.equals : Array.isArray(value) && value.includes(rule.equals);
    if (matches) for (const role of rule.roles) roles.add(role);
  }
  return {
    roles,
    clearance: mapping.clearanceClaim === null ? null : clearanceOf(claims, mapping.clearanceClaim),
    compartments: mapping.compartmentsClaim === null ? [] : compartmentsOf(claims, mapping.compartmentsClaim),
  };
}

/** A claim by (dotted) name; undefined when absent. Only own properties of plain objects are read. */
export function claimValue(claims: Readonly<Record<string, unknown>>, name: string): unknown {
  let current: unknown = claims;
  for (const part of name.split('.')) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    if (!Object.hasOwn(current, part)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function clearanceOf(claims: Readonly<Record<string, unknown>>, name: string): string | null {
  const value = claimValue(claims, name);
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || !LABEL_ID.test(value)) {
    throw federationError('IDPRejectedClaim', `The claim ${name} is not a clearance level id.`);
  }
  return value;
}

function compartmentsOf(claims: Readonly<Record<string, unknown>>, name: string): string[] {
  const value = claimValue(claims, name);
  if (value === undefined || value === null) return [];
  const items = typeof value === 'string' ? value.split(' ').filter((item) => item !== '') : value;
  if (
    !Array.isArray(items) ||
    items.length > TOKEN_COMPARTMENTS_MAX ||
    !items.every((item): item is string => typeof item === 'string' && LABEL_ID.test(item))
  ) {
    throw federationError(
      'IDPRejectedClaim',
      `The claim ${name} is not a list of at most ${TOKEN_COMPARTMENTS_MAX} compartment ids.`,
    );
  }
  return [...new Set(items)].sort();
}

function invalid(field: string, message: string): SovraError {
  return identityError('ValidationError', `${field}: ${message}`, { field });
}
