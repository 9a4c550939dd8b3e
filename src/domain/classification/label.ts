import { classificationError } from './errors.ts';
import { MAX_COMPARTMENTS } from './limits.ts';
import type { ClassificationLevel, ClassificationScheme } from './scheme.ts';

/**
 * Security labels and the mandatory access control rules over them, after Bell and LaPadula
 * ("Secure Computer System: Unified Exposition and Multics Interpretation", MTR-2997, 1976):
 * labels form a lattice of (level, set of compartments); a subject reads an object only if its
 * clearance dominates the object's label (simple security property, "no read up"), and data may
 * flow into a container only if the container's label dominates the data's (*-property, "no
 * write down"). These checks run beside the tenant's IAM decision and the platform guardrails,
 * and no policy can lift them.
 */

export interface SecurityLabel {
  readonly level: ClassificationLevel;
  /** Compartment ids, sorted by code unit, without duplicates. */
  readonly compartments: readonly string[];
}

/** A principal's clearance has the shape of a label: the highest level and the compartments it may read. */
export type Clearance = SecurityLabel;

/**
 * What a request asks for (headers or tags): either part may be absent, and an absent part is
 * taken from the bucket's label (effectiveObjectLabel).
 */
export interface RequestedLabel {
  readonly level: ClassificationLevel | null;
  readonly compartments: readonly string[] | null;
}

/** Builds a label from ids, checking each against the scheme (UnknownLevel, UnknownCompartment). */
export function securityLabel(
  scheme: ClassificationScheme,
  levelId: string,
  compartmentIds: readonly string[] = [],
): SecurityLabel {
  return freezeLabel(scheme.level(levelId), checkCompartmentIds(scheme, compartmentIds));
}

/** The lowest level with no compartments: the label of public data and of an uncleared principal. */
export function lowestLabel(scheme: ClassificationScheme): SecurityLabel {
  return freezeLabel(scheme.lowestLevel, []);
}

/**
 * The highest label of a scheme: its top level with every compartment. What a stored label the
 * scheme cannot read counts as (fail closed: nobody reads it, nothing is written below it).
 */
export function highestLabel(scheme: ClassificationScheme): SecurityLabel {
  return freezeLabel(
    scheme.levels.at(-1) ?? scheme.lowestLevel,
    normalizeIds(scheme.compartments.map((compartment) => compartment.id)),
  );
}

/**
 * The least upper bound of two labels: the higher level and the compartments of both. An
 * object's effective label is the join of its own label and its bucket's, so a bucket's label
 * stays a floor for everything in it even if one of the two changes later.
 */
export function joinLabels(a: SecurityLabel, b: SecurityLabel): SecurityLabel {
  if (dominates(a, b)) return a;
  if (dominates(b, a)) return b;
  return freezeLabel(
    a.level.rank >= b.level.rank ? a.level : b.level,
    normalizeIds([...a.compartments, ...b.compartments]),
  );
}

/** `a` dominates `b`: a's level is at least b's and a holds every compartment of b. */
export function dominates(a: SecurityLabel, b: SecurityLabel): boolean {
  if (a.level.rank < b.level.rank) return false;
  if (b.compartments.length === 0) return true;
  if (b.compartments.length > a.compartments.length) return false;
  const held = new Set(a.compartments);
  return b.compartments.every((compartment) => held.has(compartment));
}

/** No read up: a principal reads data only when its clearance dominates the data's label. */
export function canRead(clearance: Clearance, label: SecurityLabel): boolean {
  return dominates(clearance, label);
}

/**
 * No write down: data labelled `source` may be written into a container labelled `destination`
 * (a copy, a relabelling, an upload into a bucket) only when the destination dominates the
 * source, so data never reaches readers cleared below it.
 */
export function canWriteInto(source: SecurityLabel, destination: SecurityLabel): boolean {
  return dominates(destination, source);
}

/** Two labels are the same when each dominates the other. */
export function sameLabel(a: SecurityLabel, b: SecurityLabel): boolean {
  return dominates(a, b) && dominates(b, a);
}

/**
 * The label an object gets: the bucket's, unless the request asks for another one, which must
 * dominate the bucket's. An object may be labelled higher than its bucket, never lower
 * (LabelBelowBucket), so a bucket's label is a floor every reader of its contents must clear.
 */
export function effectiveObjectLabel(
  bucketLabel: SecurityLabel,
  requested?: RequestedLabel | null,
): SecurityLabel {
  if (requested === undefined || requested === null) return bucketLabel;
  const label = requestedObjectLabel(bucketLabel, requested);
  if (!dominates(label, bucketLabel)) {
    throw classificationError(
      'LabelBelowBucket',
      'An object cannot be labelled below its bucket: its level must be at least the bucket level and its compartments must include the bucket compartments.',
      { bucketLevel: bucketLabel.level.id, requestedLevel: label.level.id },
    );
  }
  return label;
}

/**
 * The label a request asks an object to have, its missing parts taken from the bucket's label,
 * before the check that it does not fall below the bucket's (effectiveObjectLabel).
 */
export function requestedObjectLabel(bucketLabel: SecurityLabel, requested: RequestedLabel): SecurityLabel {
  return freezeLabel(
    requested.level ?? bucketLabel.level,
    requested.compartments === null ? bucketLabel.compartments : normalizeIds(requested.compartments),
  );
}

/** Checks compartment ids against the scheme; sorted and without duplicates. */
export function checkCompartmentIds(scheme: ClassificationScheme, ids: readonly string[]): string[] {
  if (ids.length > MAX_COMPARTMENTS) {
    throw classificationError('MalformedLabel', `A label has at most ${MAX_COMPARTMENTS} compartments.`);
  }
  for (const id of ids) scheme.compartment(id);
  return normalizeIds(ids);
}

function normalizeIds(ids: readonly string[]): string[] {
  return [...new Set(ids)].sort();
}

function freezeLabel(level: ClassificationLevel, compartments: readonly string[]): SecurityLabel {
  return Object.freeze({ level, compartments: Object.freeze([...compartments]) });
}
