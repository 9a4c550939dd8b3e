/**
 * Bounds of a classification scheme and of the labels built from it. A scheme is operator input
 * read at start, labels arrive in request headers and tags: both are hostile until checked.
 */

/** Levels in one scheme; national schemes have four to six. */
export const MAX_CLASSIFICATION_LEVELS = 16;
/** Compartments (need-to-know categories) in one scheme, and so in one label. */
export const MAX_COMPARTMENTS = 64;
/** Ranks are integers from 0 (the lowest, public level) to this. */
export const MAX_CLASSIFICATION_RANK = 1000;
/** Level and compartment ids: ASCII, so that they travel in HTTP headers and S3 tags unchanged. */
export const MAX_LABEL_ID_CHARS = 32;
/** Display names per level or compartment (one per language). */
export const MAX_NAMES_PER_ENTRY = 16;
/** One display name, in UTF-16 code units. */
export const MAX_DISPLAY_NAME_CHARS = 128;
/** The scheme's profile name. */
export const MAX_PROFILE_NAME_CHARS = 64;
/** A scheme document as JSON text. */
export const MAX_SCHEME_DOCUMENT_BYTES = 64 * 1024;
/** A label in its wire forms (headers, compact form): 64 compartments of 32 characters fit. */
export const MAX_LABEL_TEXT_CHARS = 4096;
