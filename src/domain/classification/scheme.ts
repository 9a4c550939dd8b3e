import { classificationError } from './errors.ts';
import {
  MAX_CLASSIFICATION_LEVELS,
  MAX_CLASSIFICATION_RANK,
  MAX_COMPARTMENTS,
  MAX_DISPLAY_NAME_CHARS,
  MAX_LABEL_ID_CHARS,
  MAX_NAMES_PER_ENTRY,
  MAX_PROFILE_NAME_CHARS,
  MAX_SCHEME_DOCUMENT_BYTES,
} from './limits.ts';

/**
 * A classification scheme: the ordered levels of a national (or an operator's own) marking
 * system, and the compartments that restrict data to those with a need to know, as in the
 * Bell–LaPadula lattice (levels × sets of categories). The operator names levels in any
 * language; ids stay ASCII so that labels travel in HTTP headers and S3 tags unchanged.
 *
 * Persisted as a versioned JSON document (docs/reference/classification.md):
 * `{ "formatVersion": 1, "profile", "levels": [{ "id", "names", "rank", "residency"? }], "compartments": [{ "id", "names" }] }`.
 */

export const SCHEME_FORMAT_VERSION = 1;

/** The storage tier that residency requirements name for in-country, operator-controlled infrastructure. */
export const SOVEREIGN_TIER = 'sovereign';

/** Where data of a level must be stored: a storage tier in one jurisdiction (ISO 3166-1 alpha-2). */
export interface ResidencyRequirement {
  readonly tier: string;
  readonly jurisdiction: string;
}

/** Display names by BCP 47 language tag ("en", "vi", "ja", "ms", …). */
export type DisplayNames = Readonly<Record<string, string>>;

export interface ClassificationLevel {
  readonly id: string;
  readonly names: DisplayNames;
  /** Higher is more sensitive; the lowest level has rank 0 and is the public level. */
  readonly rank: number;
  readonly residency: ResidencyRequirement | null;
}

export interface Compartment {
  readonly id: string;
  readonly names: DisplayNames;
}

/** The JSON form of a scheme, as written by `toDocument` and read by `fromDocument`. */
export interface ClassificationSchemeDocument {
  formatVersion: typeof SCHEME_FORMAT_VERSION;
  profile: string;
  levels: {
    id: string;
    names: Record<string, string>;
    rank: number;
    residency?: { tier: string; jurisdiction: string };
  }[];
  compartments: { id: string; names: Record<string, string> }[];
}

export class ClassificationScheme {
  readonly profile: string;
  /** Lowest first, ranks strictly increasing. */
  readonly levels: readonly ClassificationLevel[];
  readonly compartments: readonly Compartment[];
  readonly #levelsById: ReadonlyMap<string, ClassificationLevel>;
  readonly #compartmentsById: ReadonlyMap<string, Compartment>;

  private constructor(profile: string, levels: ClassificationLevel[], compartments: Compartment[]) {
    this.profile = profile;
    this.levels = Object.freeze(levels);
    this.compartments = Object.freeze(compartments);
    this.#levelsById = new Map(levels.map((level) => [level.id, level]));
    this.#compartmentsById = new Map(compartments.map((compartment) => [compartment.id, compartment]));
  }

  /** Parses and validates a scheme from its JSON text. */
  static parse(text: string): ClassificationScheme {
    if (Buffer.byteLength(text, 'utf8') > MAX_SCHEME_DOCUMENT_BYTES) {
      throw invalid(`the scheme document is larger than ${MAX_SCHEME_DOCUMENT_BYTES} bytes`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw invalid('the scheme document is not valid JSON');
    }
    return ClassificationScheme.fromDocument(parsed);
  }

  /** Validates a parsed scheme document (any JSON value) and builds the scheme. */
  static fromDocument(document: unknown): ClassificationScheme {
    const current = upgradeToCurrentFormat(document);
    const profile = checkProfile(current.profile);
    const levels = checkLevels(current.levels);
    const compartments = checkCompartments(current.compartments);
    return new ClassificationScheme(profile, levels, compartments);
  }

  toDocument(): ClassificationSchemeDocument {
    return {
      formatVersion: SCHEME_FORMAT_VERSION,
      profile: this.profile,
      levels: this.levels.map((level) => ({
        id: level.id,
        names: { ...level.names },
        rank: level.rank,
        ...(level.residency === null ? {} : { residency: { ...level.residency } }),
      })),
      compartments: this.compartments.map((compartment) => ({
        id: compartment.id,
        names: { ...compartment.names },
      })),
    };
  }

  /** The lowest level (rank 0): public data. */
  get lowestLevel(): ClassificationLevel {
    // checkLevels guarantees at least one level.
    return this.levels[0]!;
  }

  /** The level with this id; ids are matched exactly (upper-case ASCII). */
  findLevel(id: string): ClassificationLevel | null {
    return this.#levelsById.get(id) ?? null;
  }

  /** The level with this id, or UnknownLevel. */
  level(id: string): ClassificationLevel {
    const level = this.findLevel(id);
    if (level === null) {
      throw classificationError('UnknownLevel', `${quote(id)} is not a level of the ${this.profile} scheme`, {
        level: id,
      });
    }
    return level;
  }

  findCompartment(id: string): Compartment | null {
    return this.#compartmentsById.get(id) ?? null;
  }

  /** The compartment with this id, or UnknownCompartment. */
  compartment(id: string): Compartment {
    const compartment = this.findCompartment(id);
    if (compartment === null) {
      throw classificationError(
        'UnknownCompartment',
        `${quote(id)} is not a compartment of the ${this.profile} scheme`,
        { compartment: id },
      );
    }
    return compartment;
  }
}

/** The display name of a level or compartment in a language, else English, else its first name, else its id. */
export function displayName(entry: { id: string; names: DisplayNames }, language = 'en'): string {
  return entry.names[language] ?? entry.names.en ?? Object.values(entry.names)[0] ?? entry.id;
}

/**
 * Brings an older document to the current format. Version 1 is the only format so far; each
 * later version adds one step here, so stored schemes keep loading.
 */
function upgradeToCurrentFormat(document: unknown): Record<string, unknown> {
  if (!isRecord(document)) throw invalid('the scheme document must be a JSON object');
  const version = document.formatVersion;
  if (version !== SCHEME_FORMAT_VERSION) {
    throw classificationError(
      'UnsupportedSchemeFormat',
      `formatVersion must be ${SCHEME_FORMAT_VERSION}, got ${JSON.stringify(version) ?? 'nothing'}`,
    );
  }
  checkKeys(document, ['formatVersion', 'profile', 'levels', 'compartments'], 'the scheme');
  return document;
}

const LEVEL_ID = new RegExp(`^[A-Z][A-Z0-9_]{0,${MAX_LABEL_ID_CHARS - 1}}$`);
const PROFILE = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._-]{0,${MAX_PROFILE_NAME_CHARS - 1}}$`);
/** A BCP 47 language tag in its common shape (RFC 5646 §2.1): language, then subtags. */
const LANGUAGE_TAG = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}$/;
const TIER = /^[a-z][a-z0-9-]{0,31}$/;
const COUNTRY = /^[A-Z]{2}$/;
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** The pattern of level and compartment ids (also used to parse labels). */
export const LABEL_ID_PATTERN = LEVEL_ID;

function checkProfile(value: unknown): string {
  if (typeof value !== 'string' || !PROFILE.test(value)) {
    throw invalid(
      `profile must be 1 to ${MAX_PROFILE_NAME_CHARS} characters of letters, digits and ._- starting with a letter or digit`,
    );
  }
  return value;
}

function checkLevels(value: unknown): ClassificationLevel[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_CLASSIFICATION_LEVELS) {
    throw invalid(`levels must be a list of 1 to ${MAX_CLASSIFICATION_LEVELS} levels`);
  }
  const entries: unknown[] = value;
  const levels: ClassificationLevel[] = [];
  const ids = new Set<string>();
  for (const [index, entry] of entries.entries()) {
    const where = `levels[${index}]`;
    if (!isRecord(entry)) throw invalid(`${where} must be an object`);
    checkKeys(entry, ['id', 'names', 'rank', 'residency'], where);
    const id = checkId(entry.id, where);
    if (ids.has(id)) throw invalid(`${where}: the level id ${id} is used twice`);
    ids.add(id);
    const rank = entry.rank;
    if (typeof rank !== 'number' || !Number.isInteger(rank) || rank < 0 || rank > MAX_CLASSIFICATION_RANK) {
      throw invalid(`${where}: rank must be an integer from 0 to ${MAX_CLASSIFICATION_RANK}`);
    }
    const previous = levels.at(-1);
    // Listing order is the order of sensitivity, so a reader of the file sees the lattice as it is.
    if (previous === undefined ? rank !== 0 : rank <= previous.rank) {
      throw invalid(
        previous === undefined
          ? `${where}: the lowest level must have rank 0 (the public level)`
          : `${where}: ranks must be strictly increasing (${id} has rank ${rank} after ${previous.id} with rank ${previous.rank})`,
      );
    }
    levels.push(
      Object.freeze({
        id,
        names: checkNames(entry.names, where),
        rank,
        residency: entry.residency === undefined ? null : checkResidency(entry.residency, where),
      }),
    );
  }
  return levels;
}

function checkCompartments(value: unknown): Compartment[] {
  if (!Array.isArray(value) || value.length > MAX_COMPARTMENTS) {
    throw invalid(`compartments must be a list of at most ${MAX_COMPARTMENTS} compartments`);
  }
  const entries: unknown[] = value;
  const compartments: Compartment[] = [];
  const ids = new Set<string>();
  for (const [index, entry] of entries.entries()) {
    const where = `compartments[${index}]`;
    if (!isRecord(entry)) throw invalid(`${where} must be an object`);
    checkKeys(entry, ['id', 'names'], where);
    const id = checkId(entry.id, where);
    if (ids.has(id)) throw invalid(`${where}: the compartment id ${id} is used twice`);
    ids.add(id);
    compartments.push(Object.freeze({ id, names: checkNames(entry.names, where) }));
  }
  return compartments;
}

function checkId(value: unknown, where: string): string {
  if (typeof value !== 'string' || !LEVEL_ID.test(value)) {
    throw invalid(
      `${where}: id must be 1 to ${MAX_LABEL_ID_CHARS} characters of A-Z, 0-9 and _ starting with a letter`,
    );
  }
  return value;
}

function checkNames(value: unknown, where: string): DisplayNames {
  if (!isRecord(value)) throw invalid(`${where}: names must be an object of language tag → name`);
  const entries = Object.entries(value);
  if (entries.length === 0 || entries.length > MAX_NAMES_PER_ENTRY) {
    throw invalid(`${where}: names must have 1 to ${MAX_NAMES_PER_ENTRY} entries`);
  }
  const names: Record<string, string> = {};
  for (const [language, name] of entries) {
    if (!LANGUAGE_TAG.test(language)) throw invalid(`${where}: ${quote(language)} is not a language tag`);
    if (typeof name !== 'string') throw invalid(`${where}: the ${language} name must be a string`);
    // Stored in NFC so that names typed on different systems compare equal (Unicode UAX #15).
    const normalized = name.normalize('NFC');
    if (
      normalized.trim() === '' ||
      normalized !== normalized.trim() ||
      normalized.length > MAX_DISPLAY_NAME_CHARS ||
      CONTROL.test(normalized)
    ) {
      throw invalid(
        `${where}: the ${language} name must be 1 to ${MAX_DISPLAY_NAME_CHARS} characters without control characters or surrounding spaces`,
      );
    }
    names[language] = normalized;
  }
  return Object.freeze(names);
}

function checkResidency(value: unknown, where: string): ResidencyRequirement {
  if (!isRecord(value)) throw invalid(`${where}: residency must be an object`);
  checkKeys(value, ['tier', 'jurisdiction'], `${where}.residency`);
  if (typeof value.tier !== 'string' || !TIER.test(value.tier)) {
    throw invalid(`${where}: residency.tier must be a tier name such as "${SOVEREIGN_TIER}"`);
  }
  if (typeof value.jurisdiction !== 'string' || !COUNTRY.test(value.jurisdiction)) {
    throw invalid(
      `${where}: residency.jurisdiction must be an ISO 3166-1 alpha-2 code (two capital letters)`,
    );
  }
  return Object.freeze({ tier: value.tier, jurisdiction: value.jurisdiction });
}

function checkKeys(record: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(record)) {
    if (!allowed.includes(key)) throw invalid(`${where}: unknown field ${quote(key)}`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function quote(text: string): string {
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}

function invalid(message: string) {
  return classificationError('InvalidClassificationScheme', message);
}
