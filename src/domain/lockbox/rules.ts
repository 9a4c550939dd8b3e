import { classificationProfile } from '../classification/profiles.ts';
import type { ClassificationLevel, ClassificationScheme } from '../classification/scheme.ts';
import { ClassificationError } from '../classification/errors.ts';
import type { OperatorAttestation } from './attestation.ts';
import { lockboxError } from './errors.ts';
import {
  DURATION_CEILING_SECONDS,
  DURATION_MIN_SECONDS,
  RULE_COUNTRIES_MAX,
  RULES_DOCUMENT_MAX_BYTES,
} from './limits.ts';

/**
 * The platform's rules for who may file and use an operator access request, e.g. "citizens of the
 * hosting country, living in it, cleared SECRET, connecting from inside it" — the operator
 * eligibility conditions of Azure Customer Lockbox and Google Access Approval made explicit. The
 * platform operator configures them as a JSON file (`operatorAccessRules`):
 *
 *     { "formatVersion": 1,                       (optional)
 *       "profile": "generic",                     classification profile of minClearance (default: the platform's)
 *       "minClearance": "SECRET",
 *       "nationalities": ["VN"], "residencies": ["VN"], "networkJurisdictions": ["VN"],
 *       "maxDurationSeconds": 28800,
 *       "breakGlass": { "enabled": true, "maxDurationSeconds": 3600 } }   (its duration defaults to maxDurationSeconds)
 *
 * Every list must be non-empty: an unset rule never means "anyone". They are judged at filing and
 * again at every use, so the operator's attestation and network location are current each time.
 */
export interface OperatorAccessRules {
  readonly scheme: ClassificationScheme;
  readonly minClearance: ClassificationLevel;
  readonly nationalities: ReadonlySet<string>;
  readonly residencies: ReadonlySet<string>;
  readonly networkJurisdictions: ReadonlySet<string>;
  readonly maxDurationSeconds: number;
  readonly breakGlass: { readonly enabled: boolean; readonly maxDurationSeconds: number };
}

const RULE_KEYS = [
  'formatVersion',
  'profile',
  'minClearance',
  'nationalities',
  'residencies',
  'networkJurisdictions',
  'maxDurationSeconds',
  'breakGlass',
];
const COUNTRY = /^[A-Z]{2}$/;

/**
 * Parses and validates the rules document; InvalidOperatorAccessRules names what is wrong. With
 * the platform's scheme (the server's classificationProfile), `profile` defaults to it and any
 * other profile is refused: operators' clearances are compared in the scheme the platform labels
 * its data in. Without one, `profile` names a shipped profile (default generic).
 */
export function parseOperatorAccessRules(
  text: string,
  platformScheme: ClassificationScheme | null = null,
): OperatorAccessRules {
  if (Buffer.byteLength(text, 'utf8') > RULES_DOCUMENT_MAX_BYTES) {
    throw invalid(`the document is larger than ${RULES_DOCUMENT_MAX_BYTES} bytes`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid('the document is not valid JSON');
  }
  const document = objectOf(parsed, 'the document');
  for (const key of Object.keys(document)) {
    if (!RULE_KEYS.includes(key))
      throw invalid(`unknown key "${key.slice(0, 64)}" (known: ${RULE_KEYS.join(', ')})`);
  }
  if (document.formatVersion !== undefined && document.formatVersion !== 1) {
    throw invalid('formatVersion must be 1');
  }
  const profile = document.profile ?? platformScheme?.profile ?? 'generic';
  if (typeof profile !== 'string') throw invalid('profile must be a classification profile name');
  if (platformScheme !== null && profile !== platformScheme.profile) {
    throw invalid(
      `profile "${profile.slice(0, 64)}" is not the platform's classification profile "${platformScheme.profile}" (classificationProfile); leave profile out to use the platform's`,
    );
  }
  let scheme: ClassificationScheme;
  let minClearance: ClassificationLevel;
  try {
    scheme = platformScheme ?? classificationProfile(profile);
    if (typeof document.minClearance !== 'string') throw invalid('minClearance must be a level id');
    minClearance = scheme.level(document.minClearance);
  } catch (error) {
    if (error instanceof ClassificationError) throw invalid(error.message);
    throw error;
  }
  const maxDurationSeconds = durationOf(document.maxDurationSeconds, 'maxDurationSeconds');
  const breakGlassDocument = objectOf(document.breakGlass ?? { enabled: false }, 'breakGlass');
  for (const key of Object.keys(breakGlassDocument)) {
    if (key !== 'enabled' && key !== 'maxDurationSeconds')
      throw invalid(`breakGlass: unknown key "${key.slice(0, 64)}"`);
  }
  if (typeof breakGlassDocument.enabled !== 'boolean')
    throw invalid('breakGlass.enabled must be true or false');
  const breakGlassDuration =
    breakGlassDocument.maxDurationSeconds === undefined
      ? maxDurationSeconds
      : durationOf(breakGlassDocument.maxDurationSeconds, 'breakGlass.maxDurationSeconds');
  return Object.freeze({
    scheme,
    minClearance,
    nationalities: countriesOf(document.nationalities, 'nationalities'),
    residencies: countriesOf(document.residencies, 'residencies'),
    networkJurisdictions: countriesOf(document.networkJurisdictions, 'networkJurisdictions'),
    maxDurationSeconds,
    breakGlass: Object.freeze({
      enabled: breakGlassDocument.enabled,
      maxDurationSeconds: breakGlassDuration,
    }),
  });
}

/**
 * Why an attested operator, connecting from `networkJurisdiction`, fails the rules; null when the
 * operator satisfies all of them. The clearance must be a level of the rules' scheme ranked at
 * least minClearance (a clearance dominates a level as in Bell–LaPadula, domain/classification).
 */
export function ruleViolation(
  rules: OperatorAccessRules,
  attestation: OperatorAttestation,
  networkJurisdiction: string,
): string | null {
  const clearance = rules.scheme.findLevel(attestation.clearance);
  if (clearance === null) {
    return `the clearance ${attestation.clearance} is not a level of the ${rules.scheme.profile} scheme`;
  }
  if (clearance.rank < rules.minClearance.rank) {
    return `the clearance ${clearance.id} is below the required ${rules.minClearance.id}`;
  }
  if (!rules.nationalities.has(attestation.nationality)) {
    return `nationality ${attestation.nationality} is not among those allowed (${[...rules.nationalities].join(', ')})`;
  }
  if (!rules.residencies.has(attestation.residency)) {
    return `residency ${attestation.residency} is not among those allowed (${[...rules.residencies].join(', ')})`;
  }
  if (!rules.networkJurisdictions.has(networkJurisdiction)) {
    return `the connection comes from ${networkJurisdiction}, outside the allowed networks (${[...rules.networkJurisdictions].join(', ')})`;
  }
  return null;
}

function objectOf(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(`${where} must be a JSON object`);
  return { ...value };
}

function countriesOf(value: unknown, name: string): ReadonlySet<string> {
  if (!Array.isArray(value) || value.length === 0 || value.length > RULE_COUNTRIES_MAX) {
    throw invalid(`${name} must be a list of 1 to ${RULE_COUNTRIES_MAX} country codes`);
  }
  const countries = new Set<string>();
  for (const country of value as unknown[]) {
    if (typeof country !== 'string' || !COUNTRY.test(country)) {
      throw invalid(`${name}: every entry is an ISO 3166-1 alpha-2 code such as VN`);
    }
    countries.add(country);
  }
  return countries;
}

function durationOf(value: unknown, name: string): number {
  if (
    typeof value !== 'number' ||
    !Number.isSafeInteger(value) ||
    value < DURATION_MIN_SECONDS ||
    value > DURATION_CEILING_SECONDS
  ) {
    throw invalid(
      `${name} must be an integer from ${DURATION_MIN_SECONDS} to ${DURATION_CEILING_SECONDS} seconds`,
    );
  }
  return value;
}

function invalid(message: string) {
  return lockboxError('InvalidOperatorAccessRules', `operator access rules: ${message}`);
}
