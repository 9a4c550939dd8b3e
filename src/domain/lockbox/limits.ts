/**
 * Bounds of operator access approval. Requests, decisions and attestations arrive from the
 * network and are hostile until checked; every field has a limit here.
 */

/** An attestation note (text and one or two signature lines) is far below this. */
export const ATTESTATION_NOTE_MAX_BYTES = 4096;
/** The attestation header carries base64 of the note. */
export const ATTESTATION_HEADER_MAX_CHARS = Math.ceil(ATTESTATION_NOTE_MAX_BYTES / 3) * 4;
/** Principal ids in attestations and requests. */
export const PRINCIPAL_ID_MAX_CHARS = 128;
/** An attestation may be valid for at most this long: the security office re-attests regularly. */
export const ATTESTATION_MAX_VALIDITY_MS = 366 * 86_400_000;

/** Free-text justification of a request (shown to the tenant, copied into audit records). */
export const JUSTIFICATION_MAX_CHARS = 1024;
/** A ticket reference of the operator's incident or change system. */
export const TICKET_MAX_CHARS = 128;
/** A decision's comment (approval, denial, revocation, acknowledgement). */
export const COMMENT_MAX_CHARS = 1024;
/** Distinct actions in one request. */
export const ACTIONS_MAX = 32;

/** The shortest access a request may ask for. */
export const DURATION_MIN_SECONDS = 60;
/** No platform rule may allow longer access than this in one approval. */
export const DURATION_CEILING_SECONDS = 7 * 86_400;
/** A pending request not decided within this time expires undecided. */
export const PENDING_REQUEST_TTL_MS = 7 * 86_400_000;
/** A break-glass request not confirmed by a second operator within this time expires. */
export const BREAK_GLASS_CONFIRMATION_TTL_MS = 60 * 60_000;

/** Requests per page of a listing, and the default. */
export const LIST_PAGE_MAX = 100;
export const LIST_PAGE_DEFAULT = 50;

/** Country lists in the platform rules. */
export const RULE_COUNTRIES_MAX = 64;
/** The rules document as JSON text. */
export const RULES_DOCUMENT_MAX_BYTES = 16 * 1024;
/** Security-office verifier keys the platform may trust. */
export const ATTESTATION_KEYS_MAX = 64;

/** A revocation note (text and one or two signature lines) is far below this. */
export const ATTESTATION_REVOCATION_NOTE_MAX_BYTES = 4096;
/** The security office's stated reason for a revocation (shown to operators, copied into records). */
export const REVOCATION_REASON_MAX_CHARS = 512;
/** Revocations per page of a listing, and the default. */
export const REVOCATION_LIST_PAGE_MAX = 100;
export const REVOCATION_LIST_PAGE_DEFAULT = 50;
/**
 * How old each gateway's in-memory copy of the attestation revocations may be when it judges an
 * operator. A judgement that finds the copy older reads the revocations stored since first, so a
 * revocation accepted by any gateway binds every gateway within this time of its commit; the
 * gateway that accepted it applies it before it answers.
 */
export const REVOCATION_REFRESH_INTERVAL_MS = 2_000;
/** Revocations one refresh reads per query (the refresh reads on until it has them all). */
export const REVOCATION_REFRESH_BATCH_MAX = 1_000;

/**
 * How often each gateway's expiry pass looks for requests and approvals whose time has passed.
 * Uses are refused from the first millisecond after the end regardless (effectiveStatus); the
 * pass makes the stored state and the tenant's records say so without waiting for a use.
 */
export const EXPIRY_PASS_INTERVAL_MS = 5_000;
/** Requests one query of the expiry pass reads, and how many such batches one pass may take. */
export const EXPIRY_PASS_BATCH_MAX = 100;
export const EXPIRY_PASS_BATCHES_MAX = 10;
