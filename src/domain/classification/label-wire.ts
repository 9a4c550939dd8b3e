import { ClassificationError, classificationError } from './errors.ts';
import {
  checkCompartmentIds,
  highestLabel,
  joinLabels,
  lowestLabel,
  sameLabel,
  type RequestedLabel,
  type SecurityLabel,
} from './label.ts';
import { MAX_LABEL_TEXT_CHARS } from './limits.ts';
import { displayName, LABEL_ID_PATTERN, type ClassificationScheme } from './scheme.ts';

/**
 * The forms a label takes outside the process (docs/reference/classification.md "Wire forms"):
 *
 * - Request and response headers: `x-sovra-classification: SECRET` (a level id) and
 *   `x-sovra-compartments: CRYPTO, NUCLEAR` (a comma-separated list, RFC 9110 §5.6.1). Either
 *   may be sent alone; the missing part is the bucket's.
 * - The compact form, one string for the metadata column, the S3 tag and logs:
 *   `SECRET` or `SECRET//CRYPTO/NUCLEAR` — the level, then `//` and the compartments separated
 *   by `/`, after the banner markings of classified documents. Every character of it is allowed
 *   in an S3 tag value (letters, digits, and `+ - = . _ : / @`), which a comma is not.
 * - The reserved, read-only tags `sovra:classification` (the level id) and `sovra:compartments`
 *   (the compartments header's text), which GetObjectTagging and GetBucketTagging answer. Tags
 *   never set a label, so a level and its compartments cannot be split by a tag update.
 *
 * Ids are ASCII upper-case; parsing accepts any ASCII case. Display names (any language) never
 * travel on the wire: they are for consoles and reports (displayLabel).
 */

export const CLASSIFICATION_HEADER = 'x-sovra-classification';
export const COMPARTMENTS_HEADER = 'x-sovra-compartments';
export const CLASSIFICATION_TAG_KEY = 'sovra:classification';
export const COMPARTMENTS_TAG_KEY = 'sovra:compartments';

const COMPACT_SEPARATOR = '//';
const COMPACT_COMPARTMENT_SEPARATOR = '/';

/**
 * Reads the two label headers of a request; null when neither is present. An empty
 * compartments header asks for no compartments; an empty classification header is malformed.
 */
export function parseLabelHeaders(
  scheme: ClassificationScheme,
  classificationHeader: string | undefined,
  compartmentsHeader: string | undefined,
): RequestedLabel | null {
  if (classificationHeader === undefined && compartmentsHeader === undefined) return null;
  const level =
    classificationHeader === undefined
      ? null
      : scheme.level(
          parseId(boundedText(classificationHeader, CLASSIFICATION_HEADER).trim(), CLASSIFICATION_HEADER),
        );
  const compartments =
    compartmentsHeader === undefined
      ? null
      : checkCompartmentIds(
          scheme,
          boundedText(compartmentsHeader, COMPARTMENTS_HEADER)
            .split(',')
            .map((element) => element.trim())
            // RFC 9110 §5.6.1.2: recipients ignore empty list elements.
            .filter((element) => element !== '')
            .map((element) => parseId(element, COMPARTMENTS_HEADER)),
        );
  return Object.freeze({ level, compartments });
}

/** The response headers of a label; the compartments header only when there are compartments. */
export function renderLabelHeaders(label: SecurityLabel): Record<string, string> {
  return label.compartments.length === 0
    ? { [CLASSIFICATION_HEADER]: label.level.id }
    : { [CLASSIFICATION_HEADER]: label.level.id, [COMPARTMENTS_HEADER]: label.compartments.join(',') };
}

/** `SECRET` or `SECRET//CRYPTO/NUCLEAR`. */
export function renderCompactLabel(label: SecurityLabel): string {
  return label.compartments.length === 0
    ? label.level.id
    : `${label.level.id}${COMPACT_SEPARATOR}${label.compartments.join(COMPACT_COMPARTMENT_SEPARATOR)}`;
}

/** Parses the compact form into a full label (the level is required). */
export function parseCompactLabel(scheme: ClassificationScheme, text: string): SecurityLabel {
  const bounded = boundedText(text, 'label').trim();
  const separator = bounded.indexOf(COMPACT_SEPARATOR);
  const levelText = separator === -1 ? bounded : bounded.slice(0, separator);
  const compartmentText = separator === -1 ? null : bounded.slice(separator + COMPACT_SEPARATOR.length);
  const level = scheme.level(parseId(levelText, 'label'));
  const compartments =
    compartmentText === null
      ? []
      : compartmentText.split(COMPACT_COMPARTMENT_SEPARATOR).map((element) => parseId(element, 'label'));
  return Object.freeze({
    level,
    compartments: Object.freeze(checkCompartmentIds(scheme, compartments)),
  });
}

/**
 * A label as a record keeps it (a bucket's `classification` column, an object version's): null
 * is the lowest level; text the active scheme cannot read (a level or compartment since removed)
 * is the highest label, so that such data fails closed.
 */
export function storedLabel(scheme: ClassificationScheme, text: string | null): SecurityLabel {
  if (text === null) return lowestLabel(scheme);
  try {
    return parseCompactLabel(scheme, text);
  } catch (error) {
    if (!(error instanceof ClassificationError)) throw error;
    return highestLabel(scheme);
  }
}

/**
 * The label an object version's data carries: its bucket's label joined with the version's own
 * (null: the version inherits its bucket's label).
 */
export function storedObjectLabel(
  scheme: ClassificationScheme,
  bucketText: string | null,
  objectText: string | null,
): SecurityLabel {
  const bucketLabel = storedLabel(scheme, bucketText);
  return objectText === null ? bucketLabel : joinLabels(bucketLabel, storedLabel(scheme, objectText));
}

/**
 * The compact label of an object version's (or upload's) data as audit records show it: its
 * bucket's stored text (the lowest level when the bucket has none) when the version has no label
 * of its own, else its bucket's label joined with the version's. The S3 request record and the
 * key-use records of the same data use this one form.
 */
export function dataLabelText(
  scheme: ClassificationScheme,
  bucketText: string | null,
  objectText: string | null,
): string {
  if (objectText === null) return bucketText ?? scheme.lowestLevel.id;
  return renderCompactLabel(storedObjectLabel(scheme, bucketText, objectText));
}

/**
 * What an object version records of its label: null when it is its bucket's (the version
 * inherits it, and reads of it cost no parsing), otherwise the compact form.
 */
export function objectLabelToStore(bucketLabel: SecurityLabel, objectLabel: SecurityLabel): string | null {
  return sameLabel(bucketLabel, objectLabel) ? null : renderCompactLabel(objectLabel);
}

/**
 * A label's response headers as the reserved tags that carry the same texts: `sovra:classification`
 * always, `sovra:compartments` when the headers have compartments (renderLabelHeaders).
 */
export function labelTagsOfHeaders(
  headers: Readonly<Record<string, string>>,
): { key: string; value: string }[] {
  const tags = [{ key: CLASSIFICATION_TAG_KEY, value: headers[CLASSIFICATION_HEADER] ?? '' }];
  const compartments = headers[COMPARTMENTS_HEADER];
  if (compartments !== undefined) tags.push({ key: COMPARTMENTS_TAG_KEY, value: compartments });
  return tags;
}

/**
 * A label for people, in a language of the scheme's names: `Tối mật // Crypto, Nuclear`.
 * Falls back to English, then to any name, then to the id.
 */
export function displayLabel(scheme: ClassificationScheme, label: SecurityLabel, language = 'en'): string {
  const level = displayName(label.level, language);
  if (label.compartments.length === 0) return level;
  const compartments = label.compartments.map((id) => {
    const compartment = scheme.findCompartment(id);
    return compartment === null ? id : displayName(compartment, language);
  });
  return `${level} // ${compartments.join(', ')}`;
}

function parseId(text: string, where: string): string {
  const id = text.toUpperCase();
  // toUpperCase maps a few non-ASCII letters to ASCII ("ı" → "I"); the original must be ASCII too.
  // eslint-disable-next-line no-control-regex -- the range is the ASCII set, not control characters
  if (!/^[\x00-\x7f]*$/.test(text) || !LABEL_ID_PATTERN.test(id)) {
    throw classificationError(
      'MalformedLabel',
      `${where}: ${JSON.stringify(text.slice(0, 64))} is not a label id`,
    );
  }
  return id;
}

function boundedText(text: string, where: string): string {
  if (text.length > MAX_LABEL_TEXT_CHARS) {
    throw classificationError('MalformedLabel', `${where}: longer than ${MAX_LABEL_TEXT_CHARS} characters`);
  }
  return text;
}
