/** Bounds of guardrail policy sets and of the requests evaluated against them. */

/** A guardrail set as policy text. */
export const MAX_GUARDRAIL_TEXT_BYTES = 256 * 1024;
/** Policies in one guardrail set. */
export const MAX_GUARDRAIL_POLICIES = 500;
/** A policy's @id annotation. */
export const MAX_GUARDRAIL_POLICY_ID_CHARS = 128;
/** Validator messages kept on a refused set (the rest are counted, not listed). */
export const MAX_REPORTED_VALIDATION_ERRORS = 50;
/** Tags of one principal. */
export const MAX_PRINCIPAL_TAGS = 50;
/** A tag key or value, an entity id (principal, bucket, object key, KMS key), an approval id. */
export const MAX_GUARDRAIL_STRING_CHARS = 2048;
/** Decisions remembered per active set (the cache is emptied when full). */
export const GUARDRAIL_DECISION_CACHE_ENTRIES = 10_000;
/**
 * How often a gateway reads the newest stored guardrail set's version (a one-row query): a set
 * replaced through the admin API on another gateway applies here within this time.
 */
export const GUARDRAIL_REFRESH_INTERVAL_MS = 5_000;
