import type { PolicySizeLimit } from './policy/index.ts';

/**
 * Limits of tenant and identity administration. Values AWS IAM dictates cite
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html ("IAM object
 * quotas", "IAM name requirements"); the others are Sovra's own bounds.
 */

/** Tenant ids stand where AWS has account ids (ARNs, bucket owners): short, lower-case, stable. */
export const TENANT_ID_MIN_CHARS = 3;
export const TENANT_ID_MAX_CHARS = 63;
export const TENANT_NAME_MAX_CHARS = 128;
/** Sovra's bound on the number of tenants one installation serves. */
export const TENANTS_MAX = 10_000;

/** "User name: 64 characters"; "Role name: 64 characters"; "Group name: 128"; "Policy name: 128". */
export const USER_NAME_MAX_CHARS = 64;
export const ROLE_NAME_MAX_CHARS = 64;
export const GROUP_NAME_MAX_CHARS = 128;
export const POLICY_NAME_MAX_CHARS = 128;
/** Role descriptions are limited to 1,000 characters; Sovra uses the same bound everywhere. */
export const DESCRIPTION_MAX_CHARS = 1000;

/** "Users in an AWS account: 5,000"; "Roles: 1,000"; "Groups: 300"; "Customer managed policies: 1,500". */
export const USERS_PER_TENANT = 5000;
export const ROLES_PER_TENANT = 1000;
export const GROUPS_PER_TENANT = 300;
export const POLICIES_PER_TENANT = 1500;

/** "Access keys assigned to an IAM user: 2" — enough to rotate without downtime. */
export const ACCESS_KEYS_PER_PRINCIPAL = 2;
/** Sovra's bound on an access key's lifetime when an expiry is given: ten years. */
export const ACCESS_KEY_MAX_LIFETIME_MS = 10 * 366 * 24 * 3600 * 1000;
/** "Managed policies attached to an IAM user, role or group: 10" (the default quota). */
export const MANAGED_POLICIES_PER_PRINCIPAL = 10;
/** "Groups an IAM user can be a member of: 10". */
export const GROUPS_PER_USER = 10;

/** "Tags per IAM resource: 50; tag key 128 characters; tag value 256 characters". */
export const PRINCIPAL_TAGS_MAX = 50;
export const TAG_KEY_MAX_CHARS = 128;
export const TAG_VALUE_MAX_CHARS = 256;

/** "Role trust policy length: 2,048 characters" (whitespace not counted, as for other IAM policies). */
export const TRUST_POLICY_SIZE_LIMIT: PolicySizeLimit = { maxSize: 2048, unit: 'characters' };

/** List pages: IAM's MaxItems is 1 to 1,000, default 100. */
export const PAGE_SIZE_DEFAULT = 100;
export const PAGE_SIZE_MAX = 1000;

/**
 * How long a gateway trusts what it cached about a principal (its policies, tags, clearance).
 * Changes made through this gateway apply at once; through another, within this time — the same
 * bound as the credential cache (LIMITS.credentialCacheTtlMs).
 */
export const IDENTITY_CACHE_TTL_MS = 30_000;
export const IDENTITY_CACHE_MAX_ENTRIES = 4096;
/** Compiled managed policies kept for reuse across principals. */
export const COMPILED_POLICY_CACHE_MAX_ENTRIES = 4096;

/**
 * Rows read per query while sealed secrets are re-sealed (one transaction per table, paged so that
 * an installation with many keys does not hold them all in memory at once).
 */
export const SECRET_RESEAL_PAGE_ROWS = 500;
