import { classificationError } from './errors.ts';
import generic from './profiles/generic.json' with { type: 'json' };
import japan from './profiles/japan.json' with { type: 'json' };
import malaysia from './profiles/malaysia.json' with { type: 'json' };
import vietnam from './profiles/vietnam.json' with { type: 'json' };
import { ClassificationScheme } from './scheme.ts';

/**
 * The schemes Sovra ships, as editable JSON documents in ./profiles/ (the same format an
 * operator's own scheme file uses, docs/reference/classification.md). Each goes through the
 * same validation as an operator's file when it is loaded.
 */
export const CLASSIFICATION_PROFILES = ['generic', 'malaysia', 'vietnam', 'japan'] as const;
export type ClassificationProfileName = (typeof CLASSIFICATION_PROFILES)[number];

const DOCUMENTS: Record<ClassificationProfileName, unknown> = { generic, malaysia, vietnam, japan };

/** The shipped scheme of a profile name; UnknownProfile for any other name. */
export function classificationProfile(name: string): ClassificationScheme {
  const profile = CLASSIFICATION_PROFILES.find((candidate) => candidate === name);
  if (profile === undefined) {
    throw classificationError(
      'UnknownProfile',
      `Unknown classification profile ${JSON.stringify(name.slice(0, 64))}; the shipped profiles are ${CLASSIFICATION_PROFILES.join(', ')}`,
    );
  }
  return ClassificationScheme.fromDocument(DOCUMENTS[profile]);
}
