import type { Clock } from '../../platform/clock.ts';
import { principalArn } from './identity-arns.ts';
import {
  COMPILED_POLICY_CACHE_MAX_ENTRIES,
  IDENTITY_CACHE_MAX_ENTRIES,
  IDENTITY_CACHE_TTL_MS,
} from './limits.ts';
import {
  IDENTITY_POLICY_SIZE_LIMIT,
  parsePolicy,
  type CompiledPolicy,
  type LabeledPolicy,
  type RequestPrincipal,
} from './policy/index.ts';
import type { IdentityReads } from './ports.ts';
import type { ManagedPolicyRecord, PrincipalKind } from './types.ts';

/**
 * The identity policies of a principal (AWS "identity-based policies": the managed policies
 * attached to it and to its groups), compiled for the request path. A principal without any, or
 * unknown, has none: with deny by default it may then do nothing a policy would have to allow.
 */
export interface IdentityPolicySource {
  policiesFor(principalId: string): Promise<CompiledPolicy[]>;
  /** The same policies with the names `sovra policy explain` shows ("managed policy X", "group G: managed policy X"). */
  labeledPoliciesFor(principalId: string): Promise<LabeledPolicy[]>;
}

/** What authorization needs to know about a principal beyond its identity. */
export interface PrincipalAttributes {
  principalId: string;
  tenantId: string;
  kind: PrincipalKind;
  name: string;
  /** aws:PrincipalArn, e.g. arn:aws:iam::TENANT:user/alice. */
  arn: string;
  isTenantAdmin: boolean;
  tags: Readonly<Record<string, string>>;
  clearance: string | null;
  compartments: readonly string[];
}

/** The policy language's view of a known IAM principal: its ARN, tenant, unique id and tags. */
export function requestPrincipalOf(attributes: PrincipalAttributes): RequestPrincipal {
  return {
    kind: 'iam',
    arn: attributes.arn,
    tenantId: attributes.tenantId,
    tags: attributes.tags,
    userId: attributes.principalId,
  };
}

export interface PrincipalAttributeSource {
  /** Null for an unknown (or deleted) principal. */
  attributesOf(principalId: string): Promise<PrincipalAttributes | null>;
}

/**
 * Both sources over the identity store, cached per principal for IDENTITY_CACHE_TTL_MS. The
 * administration invalidates what it changes, so changes through this gateway apply to the next
 * request; another gateway's changes apply within the TTL. A stored policy that no longer parses
 * (a stricter parser after an upgrade) fails the lookup rather than being skipped: skipping it
 * could drop a Deny and widen access.
 */
export class CachedIdentitySource implements IdentityPolicySource, PrincipalAttributeSource {
  readonly #store: IdentityReads;
  readonly #clock: Clock;
  readonly #policies = new Map<string, { expiresAtMs: number; value: Promise<LabeledPolicy[]> }>();
  readonly #attributes = new Map<
    string,
    { expiresAtMs: number; value: Promise<PrincipalAttributes | null> }
  >();
  /** Compiled documents by policy id and update time, shared by every principal they apply to. */
  readonly #compiled = new Map<string, CompiledPolicy>();

  constructor(options: { store: IdentityReads; clock: Clock }) {
    this.#store = options.store;
    this.#clock = options.clock;
  }

  async policiesFor(principalId: string): Promise<CompiledPolicy[]> {
    return (await this.labeledPoliciesFor(principalId)).map((labeled) => labeled.policy);
  }

  labeledPoliciesFor(principalId: string): Promise<LabeledPolicy[]> {
    return cached(this.#policies, principalId, this.#clock.nowMs(), async () =>
      (await this.#store.policiesInEffect(principalId)).map(({ policy, viaGroup }) => ({
        label:
          viaGroup === null
            ? `managed policy ${policy.name}`
            : `group ${viaGroup}: managed policy ${policy.name}`,
        policy: this.#compile(policy),
      })),
    );
  }

  attributesOf(principalId: string): Promise<PrincipalAttributes | null> {
    return cached(this.#attributes, principalId, this.#clock.nowMs(), async () => {
      const record = await this.#store.getPrincipal(principalId);
      if (record === null) return null;
      return {
        principalId: record.id,
        tenantId: record.tenantId,
        kind: record.kind,
        name: record.name,
        arn: principalArn(record),
        isTenantAdmin: record.isTenantAdmin,
        tags: record.tags,
        clearance: record.clearance,
        compartments: record.compartments,
      };
    });
  }

  /** Forget one principal (its policies, groups or attributes changed). */
  invalidate(principalId: string): void {
    this.#policies.delete(principalId);
    this.#attributes.delete(principalId);
  }

  /** Forget every principal (a policy document or a group's attachments changed). */
  invalidateAll(): void {
    this.#policies.clear();
    this.#attributes.clear();
  }

  #compile(policy: ManagedPolicyRecord): CompiledPolicy {
    const key = `${policy.id}@${policy.updatedAt.getTime()}`;
    let compiled = this.#compiled.get(key);
    if (compiled === undefined) {
      compiled = parsePolicy(policy.document, { kind: 'identity', sizeLimit: IDENTITY_POLICY_SIZE_LIMIT });
      if (this.#compiled.size >= COMPILED_POLICY_CACHE_MAX_ENTRIES) this.#compiled.clear();
      this.#compiled.set(key, compiled);
    }
    return compiled;
  }
}

/**
 * The cached value, or a fresh load. The pending promise is cached at once so that concurrent
 * requests share one load; a failed load is forgotten so the next request tries again.
 */
function cached<T>(
  cache: Map<string, { expiresAtMs: number; value: Promise<T> }>,
  key: string,
  nowMs: number,
  load: () => Promise<T>,
): Promise<T> {
  const entry = cache.get(key);
  if (entry !== undefined && entry.expiresAtMs > nowMs) return entry.value;
  if (cache.size >= IDENTITY_CACHE_MAX_ENTRIES) cache.clear();
  const value = load();
  const fresh = { expiresAtMs: nowMs + IDENTITY_CACHE_TTL_MS, value };
  cache.set(key, fresh);
  value.catch(() => {
    if (cache.get(key) === fresh) cache.delete(key);
  });
  return value;
}
