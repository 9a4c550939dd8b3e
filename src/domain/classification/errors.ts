import { SovraError } from '../../platform/errors.ts';

/**
 * Stable codes of the classification domain (mandatory access control labels). Protocols map
 * them to wire errors in their own tables: a malformed or unknown label in a request is a client
 * error, a label below the bucket's is refused, a bad scheme file stops the server at start.
 */
export type ClassificationErrorCode =
  | 'InvalidClassificationScheme'
  | 'UnsupportedSchemeFormat'
  | 'UnknownProfile'
  | 'UnknownLevel'
  | 'UnknownCompartment'
  | 'MalformedLabel'
  | 'LabelBelowBucket';

export class ClassificationError extends SovraError<ClassificationErrorCode> {}

export function classificationError(
  code: ClassificationErrorCode,
  message: string,
  details: Record<string, unknown> = {},
): ClassificationError {
  return new ClassificationError(code, message, details);
}
