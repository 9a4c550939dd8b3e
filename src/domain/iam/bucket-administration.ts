import { LIMITS } from '../../platform/limits.ts';
import { storedLabel } from '../classification/label-wire.ts';
import type { ClassificationScheme } from '../classification/scheme.ts';
import type { BucketRecord } from '../storage/types.ts';
import type { Caller } from './caller.ts';
import { identityError, type IdentityError } from './identity-errors.ts';
import { checkPageSize } from './identity-input.ts';
import type { Page, PageRequest } from './identity-admin.ts';

/** The bucket reads of the storage side (ObjectStore fits: the records S3 ListBuckets and HeadBucket use). */
export interface BucketDirectory {
  /** A tenant's buckets (not paged: a tenant's buckets are read whole, as S3 ListBuckets does). */
  listBuckets(tenantId: string): Promise<BucketRecord[]>;
  findBucket(name: string): Promise<BucketRecord | null>;
}

/** A bucket with its label read in the active scheme, as the admin API shows it. */
export interface LabelledBucket {
  bucket: BucketRecord;
  /**
   * The label as the bucket record keeps it, in the compact form (`SECRET//CRYPTO`); the lowest
   * level's id when none is recorded. Audit records carry this text, as S3 records do.
   */
  label: string;
  /** The level id and the compartment ids the request path applies to the bucket's data. */
  level: string;
  compartments: readonly string[];
}

export type BucketAdminAction = 'ListBuckets' | 'GetBucket';

export interface BucketAdministrationOptions {
  buckets: BucketDirectory;
  scheme: ClassificationScheme;
}

/**
 * Read-only bucket administration (docs/reference/admin-api.md "Buckets"): a tenant's
 * administrators read their own tenant's buckets with their labels, beside the principals'
 * clearances. Only administrators read, and only their own tenant: another tenant's bucket is
 * NoSuchEntity exactly like a missing one, so that the answer never tells whether it exists.
 * The S3 API stays where buckets are made and changed.
 */
export class BucketAdministration {
  readonly #buckets: BucketDirectory;
  readonly #scheme: ClassificationScheme;

  constructor(options: BucketAdministrationOptions) {
    this.#buckets = options.buckets;
    this.#scheme = options.scheme;
  }

  async listBuckets(caller: Caller, page: PageRequest): Promise<Page<LabelledBucket>> {
    requireTenantAdministrator(caller, 'ListBuckets');
    const maxItems = checkPageSize(page.maxItems);
    const marker = checkBucketName(page.marker, 'marker', 0);
    // Ordered here by code unit rather than by the database's collation, so that the marker
    // comparison below agrees with the order on every metadata store.
    const buckets = (await this.#buckets.listBuckets(caller.tenantId))
      .filter((bucket) => bucket.name > marker)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const items = buckets.slice(0, maxItems).map((bucket) => this.#labelled(bucket));
    const isTruncated = buckets.length > maxItems;
    return { items, isTruncated, marker: isTruncated ? (items.at(-1)?.bucket.name ?? null) : null };
  }

  async getBucket(caller: Caller, name: string): Promise<LabelledBucket> {
    requireTenantAdministrator(caller, 'GetBucket');
    checkBucketName(name, 'bucketName', 1);
    const bucket = await this.#buckets.findBucket(name);
    if (bucket === null || bucket.tenantId !== caller.tenantId) {
      throw identityError('NoSuchEntity', `The bucket ${name} cannot be found.`);
    }
    return this.#labelled(bucket);
  }

  /**
   * A recorded label the scheme can no longer read (a level or compartment since removed) is
   * shown as the highest label, which is what authorization applies to it; `label` keeps the text.
   */
  #labelled(bucket: BucketRecord): LabelledBucket {
    const label = storedLabel(this.#scheme, bucket.classification);
    return {
      bucket,
      label: bucket.classification ?? this.#scheme.lowestLevel.id,
      level: label.level.id,
      compartments: label.compartments,
    };
  }
}

function requireTenantAdministrator(caller: Caller, action: BucketAdminAction): void {
  if (!caller.isTenantAdmin) {
    throw identityError(
      'AccessDenied',
      `principal ${caller.principalId} is not authorized to perform: sovra:${action} because only tenant administrators read buckets through the admin API`,
      { action: `sovra:${action}` },
    );
  }
}

/** Bucket names are at most 63 characters (bucket naming rules): longer text is never one. */
function checkBucketName(name: string, field: string, minChars: number): string {
  if (name.length < minChars || name.length > LIMITS.bucketNameMaxLength) {
    throw invalid(field, `a bucket name of at most ${LIMITS.bucketNameMaxLength} characters`);
  }
  return name;
}

function invalid(field: string, message: string): IdentityError {
  return identityError('ValidationError', `${field}: ${message}`, { field });
}
