import { isIP } from 'node:net';
import type { TargetBucket } from './authorizer.ts';
import type { Caller } from './caller.ts';
import { identityError } from './identity-errors.ts';
import type { IdentityReads } from './ports.ts';
import {
  explainDecision,
  type AuthorizationExplanation,
  type RequestAuthorizer,
} from './request-authorizer.ts';
import type { PrincipalNamespace, PrincipalRecord } from './types.ts';

/** An action as policies name it: `service:Action` (no wildcards: a request performs one action). */
const POLICY_ACTION = /^[a-z0-9-]{1,32}:[A-Za-z0-9]{1,128}$/;
/** S3 object keys are at most 1,024 bytes (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html). */
export const EXPLAIN_OBJECT_KEY_MAX_BYTES = 1_024;
/** Bucket names are at most 63 characters (bucket naming rules). */
const BUCKET_NAME_MAX_CHARS = 63;
/** A principal's ARN: `arn:aws:iam::<tenant>:user/<name>` or `…:role/<name>`. */
const PRINCIPAL_ARN = /^arn:aws:iam::([^:]*):(user|role)\/([^/]+)$/;

/** What `sovra policy explain` asks: would this principal's request be allowed, and why. */
export interface ExplainRequest {
  /** A user, service account or role of the caller's tenant: its name (users first) or its ARN. */
  principal: string;
  /** The policy action, e.g. `s3:GetObject`. */
  action: string;
  /** The bucket the action targets; absent for tenant-wide actions such as s3:ListAllMyBuckets. */
  bucket?: string;
  /** The object key within the bucket. */
  key?: string;
  /** aws:SourceIp of the imagined request; defaults to the unspecified address 0.0.0.0. */
  sourceIp?: string;
  /** aws:SecureTransport of the imagined request; defaults to true. */
  secureTransport?: boolean;
}

/** The explanation with the principal it was made for. */
export interface DecisionExplanation extends AuthorizationExplanation {
  principal: {
    name: string;
    kind: PrincipalRecord['kind'];
    clearance: string | null;
    compartments: readonly string[];
  };
}

export interface DecisionExplainerOptions {
  identities: IdentityReads;
  authorizer: RequestAuthorizer;
  /** Buckets by name (ObjectStore fits). */
  buckets: { findBucket(name: string): Promise<TargetBucket | null> };
  /**
   * The own label of an object's current version (ObjectStore fits), so that an explanation
   * naming a key shows that object's label; without it, objects are explained with their
   * bucket's label.
   */
  objectLabels?: { currentObjectLabel(bucket: string, key: string): Promise<string | null> };
}

/**
 * `sovra policy explain`, after IAM's policy simulator (SimulatePrincipalPolicy): runs the S3
 * request path's authorizer for a principal of the caller's tenant and shows every statement,
 * guardrail and label rule that contributed. Only a tenant's administrators ask, and only about
 * their own tenant's principals and buckets: another tenant's principal is NoSuchEntity like a
 * missing one, and another tenant's bucket is NoSuchEntity like a missing one, so that an
 * explanation never shows another tenant's bucket policy or labels, nor whether they exist.
 */
export class DecisionExplainer {
  readonly #identities: IdentityReads;
  readonly #authorizer: RequestAuthorizer;
  readonly #buckets: DecisionExplainerOptions['buckets'];
  readonly #objectLabels: NonNullable<DecisionExplainerOptions['objectLabels']> | null;

  constructor(options: DecisionExplainerOptions) {
    this.#identities = options.identities;
    this.#authorizer = options.authorizer;
    this.#buckets = options.buckets;
    this.#objectLabels = options.objectLabels ?? null;
  }

  async explain(caller: Caller, request: ExplainRequest): Promise<DecisionExplanation> {
    requireTenantAdministrator(caller);
    const action = checkAction(request.action);
    const sourceIp = checkSourceIp(request.sourceIp);
    const key = checkKey(request.key, request.bucket);
    const principal = await this.#principalOf(caller.tenantId, request.principal);
    const bucket =
      request.bucket === undefined ? null : await this.#bucketOf(caller.tenantId, request.bucket);
    const subject: Caller = {
      principalId: principal.id,
      tenantId: principal.tenantId,
      isTenantAdmin: principal.isTenantAdmin,
      requestId: caller.requestId,
      sourceIp,
      secureTransport: request.secureTransport ?? true,
    };
    const objectLabel =
      bucket === null || key === null || this.#objectLabels === null
        ? null
        : await this.#objectLabels.currentObjectLabel(bucket.name, key);
    const explanation = await explainDecision(this.#authorizer, subject, action, {
      bucket,
      key,
      objectLabel,
    });
    return {
      ...explanation,
      principal: {
        name: principal.name,
        kind: principal.kind,
        clearance: principal.clearance,
        compartments: principal.compartments,
      },
    };
  }

  /** A name is a user or service account first, then a role; an ARN says which. */
  async #principalOf(tenantId: string, text: string): Promise<PrincipalRecord> {
    if (text.length === 0 || text.length > 512) {
      throw identityError('ValidationError', 'principal: a user or role name, or its ARN', {
        field: 'principal',
      });
    }
    const arn = PRINCIPAL_ARN.exec(text);
    let found: PrincipalRecord | null = null;
    if (arn !== null) {
      const namespace: PrincipalNamespace = arn[2] === 'role' ? 'role' : 'user';
      if (arn[1] === tenantId) found = await this.#identities.findPrincipal(tenantId, namespace, arn[3]!);
    } else if (text.startsWith('arn:')) {
      throw identityError(
        'ValidationError',
        'principal: an ARN of a user or role, arn:aws:iam::TENANT:user/NAME',
        {
          field: 'principal',
        },
      );
    } else {
      found =
        (await this.#identities.findPrincipal(tenantId, 'user', text)) ??
        (await this.#identities.findPrincipal(tenantId, 'role', text));
    }
    if (found === null) {
      throw identityError('NoSuchEntity', `The principal ${text.slice(0, 256)} cannot be found.`);
    }
    return found;
  }

  async #bucketOf(tenantId: string, name: string): Promise<TargetBucket> {
    if (name.length === 0 || name.length > BUCKET_NAME_MAX_CHARS) {
      throw identityError('ValidationError', 'bucket: a bucket name of 1 to 63 characters', {
        field: 'bucket',
      });
    }
    const bucket = await this.#buckets.findBucket(name);
    if (bucket === null || bucket.tenantId !== tenantId) {
      throw identityError('NoSuchEntity', `The bucket ${name} cannot be found in tenant ${tenantId}.`);
    }
    return bucket;
  }
}

function requireTenantAdministrator(caller: Caller): void {
  if (!caller.isTenantAdmin) {
    throw identityError(
      'AccessDenied',
      `principal ${caller.principalId} is not authorized to perform: sovra:ExplainDecision because only tenant administrators explain decisions`,
      { action: 'sovra:ExplainDecision' },
    );
  }
}

function checkAction(action: string): string {
  if (!POLICY_ACTION.test(action)) {
    throw identityError('ValidationError', 'action: a policy action such as s3:GetObject', {
      field: 'action',
    });
  }
  return action;
}

function checkSourceIp(sourceIp: string | undefined): string {
  if (sourceIp === undefined) return '0.0.0.0';
  if (isIP(sourceIp) === 0) {
    throw identityError('ValidationError', 'sourceIp: an IPv4 or IPv6 address', { field: 'sourceIp' });
  }
  return sourceIp;
}

function checkKey(key: string | undefined, bucket: string | undefined): string | null {
  if (key === undefined) return null;
  if (bucket === undefined) {
    throw identityError('ValidationError', 'key: an object key needs a bucket', { field: 'key' });
  }
  if (key.length === 0 || Buffer.byteLength(key, 'utf8') > EXPLAIN_OBJECT_KEY_MAX_BYTES) {
    throw identityError('ValidationError', `key: 1 to ${EXPLAIN_OBJECT_KEY_MAX_BYTES} bytes`, {
      field: 'key',
    });
  }
  return key;
}
