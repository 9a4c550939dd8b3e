import type { Caller } from './caller.ts';
import { IamError } from './errors.ts';

/** The resource an action targets; bucket-less actions (ListBuckets) name only the tenant. */
export interface ActionTarget {
  bucket: { name: string; tenantId: string } | null;
  key: string | null;
}

/** Decides whether a caller may perform an action (named as the S3/IAM action, e.g. `s3:GetObject`). */
export interface Authorizer {
  authorize(caller: Caller, action: string, target: ActionTarget): Promise<void>;
}

/**
 * Deny by default: until identity policies exist, only a tenant's administrators act, and only
 * on their own tenant's resources. Cross-tenant access is never granted here.
 */
export class TenantAdminAuthorizer implements Authorizer {
  authorize(caller: Caller, action: string, target: ActionTarget): Promise<void> {
    if (!caller.isTenantAdmin) return Promise.reject(denied(action));
    if (target.bucket !== null && target.bucket.tenantId !== caller.tenantId)
      return Promise.reject(denied(action));
    return Promise.resolve();
  }
}

function denied(action: string): IamError {
  return new IamError('AccessDenied', 'Access Denied', { action });
}
