import { isIP } from 'node:net';
import type { Clock } from '../../platform/clock.ts';
import { isSovraError } from '../../platform/errors.ts';
import {
  canRead,
  canWriteInto,
  dominates,
  highestLabel,
  joinLabels,
  lowestLabel,
  type Clearance,
  type SecurityLabel,
} from '../classification/label.ts';
import { parseCompactLabel, renderCompactLabel } from '../classification/label-wire.ts';
import { classificationProfile } from '../classification/profiles.ts';
import type { ClassificationScheme } from '../classification/scheme.ts';
import { combineWithIam, type Guardrails } from '../guardrails/guardrails.ts';
import type { CompiledGuardrails } from '../guardrails/ports.ts';
import type {
  GuardrailDecision,
  GuardrailPrincipal,
  GuardrailRequest,
  GuardrailResource,
} from '../guardrails/types.ts';
import type { KeyUseJustification } from '../kms/justification.ts';
import {
  compiledKeyPolicy,
  describeStatement,
  keyUseConditionKeys,
  principalArnOf,
  type CompiledKeyPolicy,
} from '../kms/key-policy.ts';
import { UNKNOWN_JURISDICTION } from '../residency/jurisdiction.ts';
import {
  accessDenied,
  refusalMessage,
  type AccessDenial,
  type ActionTarget,
  type Authorizer,
  type RequestFacts,
} from './authorizer.ts';
import { BucketPolicyCache, type BucketPolicyEntry, type BucketPolicyStore } from './bucket-policy.ts';
import type { Caller } from './caller.ts';
import {
  requestPrincipalOf,
  type PrincipalAttributes,
  type PrincipalAttributeSource,
} from './identity-policies.ts';
import {
  authorize as evaluatePolicies,
  buildRequestContext,
  IDENTITY_POLICY_SIZE_LIMIT,
  parsePolicy,
  PolicyError,
  s3ResourceArn,
  type CompiledPolicy,
  type Contribution,
  type Decision,
  type DecisionEffect,
  type LabeledPolicy,
  type RequestPrincipal,
} from './policy/index.ts';

/**
 * The authorizer of the S3 data path and the KMS API. A request is allowed only when all three
 * layers allow it:
 *
 * 1. **IAM** — the caller's identity policies and the resource's policy (the bucket policy, or a
 *    KMS key's key policy), evaluated as AWS does
 *    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
 *    an explicit Deny wins; within a tenant either side may allow a bucket, while a key policy
 *    must allow, itself or by naming the tenant (`arn:aws:iam::<tenant>:root`) to let identity
 *    policies decide (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html);
 *    across tenants both sides must allow; an unsigned request only by a bucket policy statement
 *    for everyone.
 * 2. **Guardrails** — the platform operator's Cedar policies, which only bound what IAM allows
 *    (combineWithIam, like AWS SCPs).
 * 3. **Mandatory access control** — no read up: reads and listings need a clearance that
 *    dominates the data's label (the bucket's, joined with the object's own label when the
 *    target names one); no write down: a copy's data flows only into a bucket whose label
 *    dominates its source object's (Bell–LaPadula; domain/classification/label.ts); and nobody
 *    labels data above their own clearance (CreateBucket, and writes that send label headers).
 *    The clearance is the principal's own (clearanceOf), read with its tags and ARN from the
 *    principal attribute source.
 *
 * A denial raises IamError AccessDenied whose details.denial names the layer and the statements,
 * guardrails or rule that denied (the audit record's reason). explainDecision shows everything
 * that contributed.
 */

/**
 * The identity policies attached to a principal (its own, its groups', its role's). Implemented by
 * the identity work; until then NO_IDENTITY_POLICIES.
 */
export interface IdentityPolicySource {
  policiesFor(principalId: string, tenantId: string): Promise<CompiledPolicy[]>;
  /** The same policies with the names explain and denial records show; used when offered. */
  labeledPoliciesFor?(principalId: string, tenantId: string): Promise<LabeledPolicy[]>;
}

/** No principal has identity policies (tenant administrators still have TENANT_ADMINISTRATOR_POLICY_TEXT). */
export const NO_IDENTITY_POLICIES: IdentityPolicySource = { policiesFor: () => Promise.resolve([]) };

/** Reads an object version's tags for s3:ExistingObjectTag/<key> (ObjectStore fits). */
export interface ObjectTagReader {
  getObjectVersion(
    bucket: string,
    key: string,
    versionId: string | null,
  ): Promise<{ tags: Readonly<Record<string, string>> }>;
}

export interface RequestAuthorizerOptions {
  /** Where bucket policies are stored (ObjectStore). */
  bucketPolicies: BucketPolicyStore;
  guardrails: Guardrails;
  clock: Clock;
  /** Defaults to NO_IDENTITY_POLICIES. */
  identityPolicies?: IdentityPolicySource;
  /** For s3:ExistingObjectTag/<key>; without it those keys are absent. */
  objectTags?: ObjectTagReader;
  /** The active classification scheme; defaults to the generic profile. */
  scheme?: ClassificationScheme;
  /** Source address → ISO 3166-1 alpha-2 code for the guardrails (JurisdictionMap); else 'unknown'. */
  jurisdictions?: { jurisdictionOf(address: string): string };
  /**
   * Principals' clearances, compartments, tags and ARNs (CachedIdentitySource). Without it every
   * principal is uncleared (the lowest level, no compartments), untagged, and known to policies
   * as `arn:aws:iam::<tenant>:user/<principal id>`.
   */
  principalAttributes?: PrincipalAttributeSource;
}

/** No principal has attributes: every principal is uncleared and untagged. */
export const NO_PRINCIPAL_ATTRIBUTES: PrincipalAttributeSource = {
  attributesOf: () => Promise.resolve(null),
};

/** The principal id of an unsigned request's caller. */
export const ANONYMOUS_PRINCIPAL_ID = 'anonymous';

/** The caller of an unsigned request: no tenant (tenant ids are never empty), never an administrator. */
export function anonymousCaller(requestId: string, sourceIp: string, secureTransport: boolean): Caller {
  return {
    principalId: ANONYMOUS_PRINCIPAL_ID,
    tenantId: '',
    isTenantAdmin: false,
    requestId,
    sourceIp,
    secureTransport,
  };
}

export function isAnonymousCaller(caller: Caller): boolean {
  return caller.tenantId === '' && caller.principalId === ANONYMOUS_PRINCIPAL_ID;
}

/**
 * A principal's clearance: the level and compartments recorded on it (`PATCH /users/{name}`,
 * `sovra user update --clearance`). Being a tenant administrator clears nobody: administrators
 * manage their tenant, and read its data only as far as their own clearance goes. A principal
 * with no clearance recorded, the anonymous caller, and a principal the attribute source does not
 * know are cleared to the lowest level with no compartments (deny by default). A recorded level
 * the active scheme no longer has also counts as the lowest level, and a compartment it no longer
 * has is dropped: a changed scheme can only narrow a clearance (fail closed).
 */
export function clearanceOf(attributes: PrincipalAttributes | null, scheme: ClassificationScheme): Clearance {
  const lowest = schemeLabelsOf(scheme).lowest;
  if (attributes === null || attributes.clearance === null) return lowest;
  const level = scheme.findLevel(attributes.clearance);
  if (level === null) return lowest;
  return Object.freeze({
    level,
    compartments: Object.freeze(
      [...new Set(attributes.compartments)].filter((id) => scheme.findCompartment(id) !== null).sort(),
    ),
  });
}

/**
 * What a tenant administrator may do before identity policies are attached to principals: what
 * the tenant root principal may, everything in its own tenant (`aws:ResourceAccount` is the
 * tenant owning the resource). Explicit denies (a bucket policy Deny) still apply.
 */
export const TENANT_ADMINISTRATOR_POLICY_TEXT = JSON.stringify({
  Version: '2012-10-17',
  Id: 'tenant-administrator',
  Statement: [
    {
      Sid: 'TenantAdministratorFullAccessInOwnTenant',
      Effect: 'Allow',
      Action: '*',
      Resource: '*',
      Condition: { StringEquals: { 'aws:ResourceAccount': '${aws:PrincipalAccount}' } },
    },
  ],
});

/**
 * "The root user of the AWS account that owns a bucket can always use this operation, even if
 * the policy explicitly denies the root user" (API_PutBucketPolicy, API_GetBucketPolicy,
 * API_DeleteBucketPolicy): a tenant administrator of the bucket's tenant can always repair a
 * policy that locks everyone out. Sovra extends this to key policies: AWS needs its support to
 * recover a key whose policy allows nobody, a tenant's administrators read and replace it
 * themselves. Guardrails and classification still apply.
 */
export const OWNER_ALWAYS_ALLOWED_ACTIONS: ReadonlySet<string> = new Set([
  's3:GetBucketPolicy',
  's3:PutBucketPolicy',
  's3:DeleteBucketPolicy',
  'kms:GetKeyPolicy',
  'kms:PutKeyPolicy',
]);

/**
 * Actions that read data or list it, subject to no read up: the `ReadData` group of
 * sovra.cedarschema (bucket configuration reads are not: administrators manage a bucket's
 * configuration without a clearance for its contents).
 */
export const READ_DATA_ACTIONS: ReadonlySet<string> = new Set([
  's3:GetObject',
  's3:GetObjectAcl',
  's3:GetObjectTagging',
  's3:GetObjectRetention',
  's3:GetObjectLegalHold',
  's3:ListMultipartUploadParts',
  's3:ListBucket',
  's3:ListBucketVersions',
  's3:ListBucketMultipartUploads',
]);

/**
 * Actions that give a resource its label: nobody labels data above their own clearance, or they
 * could create a container they cannot read and others with less need to know could fill
 * (CreateBucket with x-sovra-classification; docs/reference/classification.md "S3").
 */
export const LABELLING_ACTIONS: ReadonlySet<string> = new Set(['s3:CreateBucket']);

/** The storage tier of a bucket whose tier is not recorded. */
export const DEFAULT_STORAGE_TIER = 'standard';
/** Guardrail decisions remembered per second (the cache is emptied each second and when full). */
export const GUARDRAIL_MEMO_ENTRIES = 4_096;
/** Principals whose request principal (ARN, tenant) is remembered. */
export const PRINCIPAL_MEMO_ENTRIES = 4_096;
/** Distinct label texts (and bucket and object label pairs) whose parsed label is remembered. */
export const LABEL_MEMO_ENTRIES = 1_024;

/** The mandatory access control result of one request. */
export interface ClassificationCheck {
  rule: 'no-read-up' | 'no-write-down' | 'no-label-above-clearance' | null;
  allowed: boolean;
  clearance: string;
  resourceLabel: string | null;
  sourceLabel: string | null;
  reason: string;
}

/** Every layer of one decision, as `sovra policy explain` shows it. */
export interface AuthorizationExplanation {
  decision: 'allow' | 'deny';
  denial: AccessDenial | null;
  action: string;
  principalArn: string | null;
  resourceArn: string;
  iam: {
    effect: DecisionEffect;
    /** Allowed by OWNER_ALWAYS_ALLOWED_ACTIONS although the policies did not allow. */
    ownerOverride: boolean;
    reason: string;
    /** Every statement of every policy, matched or not, with the element that did not match. */
    statements: readonly Contribution[];
  };
  guardrails: {
    decision: 'allow' | 'deny';
    determiningPolicies: readonly { id: string; text: string | null }[];
    errors: GuardrailDecision['errors'];
  };
  classification: ClassificationCheck;
}

/** Everything one request's decision was made from, built once per request. */
interface Evaluation {
  denial: AccessDenial | null;
  iam: Decision | null;
  ownerOverride: boolean;
  guardrails: GuardrailDecision | null;
  classification: ClassificationCheck | null;
  principalArn: string | null;
  resourceArn: string;
}

/**
 * The policies and principal attributes one decision was made from, looked up before it (and
 * compared by a remembered one).
 */
interface PolicyInputs {
  bucketPolicy: BucketPolicyEntry | null;
  /** The target KMS key's policy; null for other targets (or an unreadable one its owner repairs). */
  keyPolicy: CompiledKeyPolicy | null;
  identityPolicies: readonly LabeledPolicy[];
  /** The caller's clearance, tags and ARN; null for the anonymous caller or an unknown principal. */
  attributes: PrincipalAttributes | null;
}

/** A decision remembered for the rest of its second, valid while its inputs are the same objects. */
interface RememberedDecision {
  bucketPolicy: BucketPolicyEntry | null;
  keyPolicy: CompiledKeyPolicy | null;
  identityPolicies: readonly LabeledPolicy[];
  attributes: PrincipalAttributes | null;
  denial: AccessDenial | null;
}

/** Decisions remembered per second (the memo is emptied each second and when full). */
export const DECISION_MEMO_ENTRIES = 4_096;

export class RequestAuthorizer implements Authorizer {
  readonly #bucketPolicies: BucketPolicyCache;
  readonly #guardrails: Guardrails;
  readonly #clock: Clock;
  readonly #identity: IdentityPolicySource;
  readonly #objectTags: ObjectTagReader | null;
  readonly #scheme: ClassificationScheme;
  readonly #jurisdictions: { jurisdictionOf(address: string): string } | null;
  readonly #attributeSource: PrincipalAttributeSource;
  /** Clearances and request principals per attributes object (the source's cache hands out the same one). */
  readonly #clearances = new WeakMap<PrincipalAttributes, Clearance>();
  readonly #attributedPrincipals = new WeakMap<
    PrincipalAttributes,
    { principal: RequestPrincipal; arn: string }
  >();
  readonly #tenantAdministrator: LabeledPolicy;
  readonly #administratorOnly: readonly LabeledPolicy[];
  readonly #labeledPolicies = new WeakMap<readonly CompiledPolicy[], readonly LabeledPolicy[]>();
  readonly #withAdministrator = new WeakMap<readonly LabeledPolicy[], readonly LabeledPolicy[]>();
  readonly #principals = new Map<string, { principal: RequestPrincipal; arn: string }>();
  readonly #storedLabels = new Map<string, SecurityLabel>();
  /** Effective object labels per bucket label and object label text. */
  readonly #joinedLabels = new Map<string, SecurityLabel>();
  /** Decisions and guardrail decisions of the current second under the current guardrail set. */
  #decisions = new Map<string, RememberedDecision>();
  #guardrailDecisions = new Map<string, GuardrailDecision>();
  #memoSet: CompiledGuardrails | null = null;
  #memoSecond = -1;
  #timeKeys: readonly (readonly [string, string])[] = [];

  constructor(options: RequestAuthorizerOptions) {
    this.#bucketPolicies = new BucketPolicyCache({ store: options.bucketPolicies, clock: options.clock });
    this.#guardrails = options.guardrails;
    this.#clock = options.clock;
    this.#identity = options.identityPolicies ?? NO_IDENTITY_POLICIES;
    this.#objectTags = options.objectTags ?? null;
    this.#scheme = options.scheme ?? classificationProfile('generic');
    this.#jurisdictions = options.jurisdictions ?? null;
    this.#attributeSource = options.principalAttributes ?? NO_PRINCIPAL_ATTRIBUTES;
    this.#tenantAdministrator = {
      label: 'tenant administrator policy',
      policy: parsePolicy(TENANT_ADMINISTRATOR_POLICY_TEXT, {
        kind: 'identity',
        sizeLimit: IDENTITY_POLICY_SIZE_LIMIT,
      }),
    };
    this.#administratorOnly = Object.freeze([this.#tenantAdministrator]);
  }

  /** The active classification scheme (bucket labels are read in it). */
  get scheme(): ClassificationScheme {
    return this.#scheme;
  }

  /**
   * Decides a request. A request with no facts beyond caller and target (a GET, a HEAD, most
   * configuration calls) that repeats within the same second, against the same policy objects
   * and guardrail set, reuses the decision: every input of the decision is in the memo key or
   * compared on reuse, and the time keys have a resolution of one second, so it is exact.
   */
  async authorize(caller: Caller, action: string, target: ActionTarget, facts?: RequestFacts): Promise<void> {
    const inputs = await this.#policyInputs(caller, target, action);
    const memoKey =
      (facts === undefined || onlyKeyUse(facts)) && inputs.bucketPolicy?.readsExistingObjectTags !== true
        ? this.#decisionKey(caller, action, target, facts?.keyUse ?? null)
        : null;
    if (memoKey !== null) {
      const remembered = this.#decisions.get(memoKey);
      if (
        remembered !== undefined &&
        remembered.bucketPolicy === inputs.bucketPolicy &&
        remembered.keyPolicy === inputs.keyPolicy &&
        remembered.attributes === inputs.attributes &&
        samePolicies(remembered.identityPolicies, inputs.identityPolicies)
      ) {
        if (remembered.denial !== null) throw accessDenied(action, remembered.denial);
        return;
      }
    }
    const evaluation = await this.#evaluate(caller, action, target, facts, inputs, false);
    if (memoKey !== null) {
      if (this.#decisions.size >= DECISION_MEMO_ENTRIES) this.#decisions.clear();
      this.#decisions.set(memoKey, { ...inputs, denial: evaluation.denial });
    }
    if (evaluation.denial !== null) throw accessDenied(action, evaluation.denial);
  }

  forgetBucketPolicy(bucket: string): void {
    this.#bucketPolicies.forget(bucket);
  }

  /** Explains one decision: every statement, guardrail and label rule that contributed. */
  async explain(
    caller: Caller,
    action: string,
    target: ActionTarget,
    facts?: RequestFacts,
  ): Promise<AuthorizationExplanation> {
    const inputs = await this.#policyInputs(caller, target, action);
    const evaluation = await this.#evaluate(caller, action, target, facts, inputs, true);
    const guardrails = evaluation.guardrails!;
    const active = this.#guardrails.active;
    return {
      decision: evaluation.denial === null ? 'allow' : 'deny',
      denial: evaluation.denial,
      action,
      principalArn: evaluation.principalArn,
      resourceArn: evaluation.resourceArn,
      iam: {
        effect: evaluation.iam!.effect,
        ownerOverride: evaluation.ownerOverride,
        reason: evaluation.iam!.reason,
        statements: evaluation.iam!.contributions,
      },
      guardrails: {
        decision: guardrails.decision,
        determiningPolicies: guardrails.determiningPolicies.map((id) => ({
          id,
          text: active.policies.get(id) ?? null,
        })),
        errors: guardrails.errors,
      },
      classification: evaluation.classification!,
    };
  }

  /**
   * The decision in its steps. On the request path (`explain` false) it stops as soon as the
   * outcome is known and allocates little: the principal, the time keys, the labels and the
   * guardrail decisions come from caches.
   */
  async #evaluate(
    caller: Caller,
    action: string,
    target: ActionTarget,
    facts: RequestFacts | undefined,
    inputs: PolicyInputs,
    explain: boolean,
  ): Promise<Evaluation> {
    const anonymous = isAnonymousCaller(caller);
    const bucket = target.bucket;
    const kmsKey = target.kmsKey ?? null;
    const resourceArn =
      kmsKey !== null
        ? kmsKey.arn
        : action.startsWith('s3:')
          ? s3ResourceArn(bucket?.name ?? null, target.key)
          : '*';
    if (anonymous && bucket === null) {
      // Unsigned requests reach only a bucket's public data; nothing tenant-wide.
      return refusedEarly(resourceArn, 'an anonymous request names no bucket');
    }
    const resourceTenantId = ownerTenantOf(target) ?? caller.tenantId;
    const bucketPolicy = inputs.bucketPolicy;
    const keyUse = facts?.keyUse ?? null;
    const principal = anonymous ? null : this.#principalOf(caller, inputs.attributes);

    // 1. IAM: identity policies and the bucket policy or the key policy, which must allow.
    const context = buildRequestContext({
      principal: principal === null ? ANONYMOUS : principal.principal,
      action,
      resource: resourceArn,
      resourceTenantId,
      conditionKeys: await this.#conditionKeys(caller, resourceTenantId, target, facts, bucketPolicy),
    });
    const iam = evaluatePolicies(
      context,
      {
        identityPolicies: inputs.identityPolicies,
        resourcePolicies:
          bucketPolicy !== null
            ? bucketPolicy.resourcePolicies
            : inputs.keyPolicy !== null
              ? inputs.keyPolicy.resourcePolicies
              : [],
        resourcePolicyRequired: inputs.keyPolicy !== null,
      },
      { explain },
    );
    const ownerOverride =
      iam.effect !== 'Allow' &&
      isOwnerAdministrator(caller, ownerTenantOf(target)) &&
      OWNER_ALWAYS_ALLOWED_ACTIONS.has(action);
    const iamAllows = iam.effect === 'Allow' || ownerOverride;

    // 2. Guardrails bound IAM; a guardrail deny is named even when IAM also denied.
    const clearance = this.#clearanceOf(inputs.attributes);
    const bucketLabel = bucket === null ? null : this.#labelOf(bucket.classification ?? null);
    const resourceLabel =
      bucketLabel === null ? null : this.#objectLabelOf(bucketLabel, target.objectLabel ?? null);
    const sourceLabel =
      facts?.dataSource == null
        ? null
        : this.#objectLabelOf(
            this.#labelOf(facts.dataSource.classification ?? null),
            facts.dataSourceLabel ?? null,
          );
    const guardrails = this.#guardrailDecision(
      caller,
      anonymous,
      clearance,
      inputs.attributes?.tags ?? NO_TAGS,
      action,
      target,
      resourceLabel,
      sourceLabel,
      bucketPolicy?.isPublic === true,
      facts?.grantsPublicAccess === true,
      keyUse,
    );
    const combined = combineWithIam(iamAllows ? 'allow' : 'deny', guardrails);
    const evaluation: Evaluation = {
      denial: null,
      iam,
      ownerOverride,
      guardrails,
      classification: null,
      principalArn: principal?.arn ?? null,
      resourceArn,
    };
    // The KMS API answers a refusal worded as AWS KMS words it; S3 answers "Access Denied".
    const worded = action.startsWith('kms:');
    const who = principal?.arn ?? ANONYMOUS_PRINCIPAL_ID;
    if (combined.decision === 'deny') {
      const denial: AccessDenial =
        combined.deniedBy === 'guardrails'
          ? { source: 'guardrails', policies: guardrailDenials(guardrails) }
          : { source: 'iam', policies: denyingStatements(iam) };
      if (worded) {
        const crossTenant = caller.tenantId !== resourceTenantId;
        const why = denialReason(denial, action, iam, crossTenant, inputs.keyPolicy !== null, keyUse);
        denial.message = refusalMessage(who, action, resourceArn, why);
      }
      evaluation.denial = denial;
      if (!explain) return evaluation;
    }

    // 3. Mandatory access control: no read up, no write down.
    const labels = { resource: resourceLabel, bucket: bucketLabel, source: sourceLabel };
    const rule = classificationRule(action, clearance, labels, facts?.labelsData === true);
    if (rule !== null && evaluation.denial === null) {
      evaluation.denial = { source: 'classification', policies: [rule] };
      if (worded) {
        evaluation.denial.message = refusalMessage(
          who,
          action,
          resourceArn,
          `because mandatory access control forbids it (${rule})`,
        );
      }
    }
    if (explain) evaluation.classification = classificationCheck(rule, clearance, labels);
    return evaluation;
  }

  /** The bucket policy (from the cache when fresh) and the caller's identity policies. */
  async #policyInputs(caller: Caller, target: ActionTarget, action: string): Promise<PolicyInputs> {
    const bucket = target.bucket;
    let bucketPolicy: BucketPolicyEntry | null = null;
    if (bucket !== null) {
      const cached = this.#bucketPolicies.cached(bucket.name);
      bucketPolicy =
        cached !== undefined
          ? cached
          : await this.#loadBucketPolicy(bucket.name, isOwnerAdministrator(caller, bucket.tenantId), action);
    }
    const kmsKey = target.kmsKey ?? null;
    const keyPolicy =
      kmsKey === null
        ? null
        : keyPolicyOf(kmsKey.policy, isOwnerAdministrator(caller, kmsKey.tenantId), action);
    if (isAnonymousCaller(caller)) {
      return { bucketPolicy, keyPolicy, identityPolicies: NO_POLICIES, attributes: null };
    }
    const [identityPolicies, attributes] = await Promise.all([
      this.#identityPoliciesOf(caller),
      this.#attributesOf(caller),
    ]);
    return { bucketPolicy, keyPolicy, identityPolicies, attributes };
  }

  /** The caller's attributes; a record of another tenant (never expected) counts as none. */
  async #attributesOf(caller: Caller): Promise<PrincipalAttributes | null> {
    const attributes = await this.#attributeSource.attributesOf(caller.principalId);
    return attributes !== null && attributes.tenantId === caller.tenantId ? attributes : null;
  }

  #clearanceOf(attributes: PrincipalAttributes | null): Clearance {
    if (attributes === null) return schemeLabelsOf(this.#scheme).lowest;
    let clearance = this.#clearances.get(attributes);
    if (clearance === undefined) {
      clearance = clearanceOf(attributes, this.#scheme);
      this.#clearances.set(attributes, clearance);
    }
    return clearance;
  }

  async #loadBucketPolicy(
    bucket: string,
    ownerAdministrator: boolean,
    action: string,
  ): Promise<BucketPolicyEntry | null> {
    try {
      return await this.#bucketPolicies.load(bucket);
    } catch (error) {
      // A stored policy that cannot be read fails every request closed, except the owner's
      // repair of it (OWNER_ALWAYS_ALLOWED_ACTIONS), which proceeds as if there were none.
      if (ownerAdministrator && OWNER_ALWAYS_ALLOWED_ACTIONS.has(action) && !isSovraError(error)) return null;
      throw error;
    }
  }

  /**
   * The caller's identity policies, labelled, with the tenant administrator policy first for an
   * administrator. A source that returns the same array while nothing changed (a cache) gets the
   * same labelled array back, so a remembered decision is recognised as still valid at once.
   */
  async #identityPoliciesOf(caller: Caller): Promise<readonly LabeledPolicy[]> {
    const identity = this.#identity;
    let labeled: readonly LabeledPolicy[];
    if (identity.labeledPoliciesFor !== undefined) {
      labeled = await identity.labeledPoliciesFor(caller.principalId, caller.tenantId);
    } else {
      const attached = await identity.policiesFor(caller.principalId, caller.tenantId);
      labeled = attached.length === 0 ? NO_POLICIES : this.#labeled(attached);
    }
    if (!caller.isTenantAdmin) return labeled;
    if (labeled.length === 0) return this.#administratorOnly;
    let withAdministrator = this.#withAdministrator.get(labeled);
    if (withAdministrator === undefined) {
      withAdministrator = Object.freeze([this.#tenantAdministrator, ...labeled]);
      this.#withAdministrator.set(labeled, withAdministrator);
    }
    return withAdministrator;
  }

  #labeled(attached: readonly CompiledPolicy[]): readonly LabeledPolicy[] {
    let labeled = this.#labeledPolicies.get(attached);
    if (labeled === undefined) {
      labeled = Object.freeze(
        attached.map((policy, index) => ({ label: identityPolicyLabel(policy, index), policy })),
      );
      this.#labeledPolicies.set(attached, labeled);
    }
    return labeled;
  }

  /**
   * The principal as policies see it: its ARN (`arn:aws:iam::<tenant>:user/<name>` or
   * `…:role/<name>`) and its tags (aws:PrincipalTag/<key>) from its attributes; without them
   * `arn:aws:iam::<tenant>:user/<principal id>`, as key policies name principals, and no tags.
   */
  #principalOf(
    caller: Caller,
    attributes: PrincipalAttributes | null,
  ): { principal: RequestPrincipal; arn: string } {
    if (attributes !== null) {
      let attributed = this.#attributedPrincipals.get(attributes);
      if (attributed === undefined) {
        attributed = {
          arn: attributes.arn,
          principal: requestPrincipalOf(attributes),
        };
        this.#attributedPrincipals.set(attributes, attributed);
      }
      return attributed;
    }
    const memoKey = `${caller.tenantId}\u0000${caller.principalId}`;
    let known = this.#principals.get(memoKey);
    if (known === undefined) {
      const arn = principalArnOf(caller.tenantId, caller.principalId);
      known = {
        arn,
        principal: { kind: 'iam', arn, tenantId: caller.tenantId, userId: caller.principalId, tags: {} },
      };
      if (this.#principals.size >= PRINCIPAL_MEMO_ENTRIES) this.#principals.clear();
      this.#principals.set(memoKey, known);
    }
    return known;
  }

  /**
   * The request's condition keys (reference_policies_condition-keys and
   * https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html):
   * aws:SourceIp, aws:SecureTransport, aws:CurrentTime, aws:EpochTime, aws:ResourceAccount; the
   * protocol's (s3:prefix, s3:x-amz-server-side-encryption, s3:RequestObjectTag/…); s3:VersionId;
   * and s3:ExistingObjectTag/<key>, read only when a policy's condition asks for it.
   */
  async #conditionKeys(
    caller: Caller,
    resourceTenantId: string,
    target: ActionTarget,
    facts: RequestFacts | undefined,
    bucketPolicy: BucketPolicyEntry | null,
  ): Promise<(readonly [string, string | readonly string[]])[]> {
    this.#startSecond();
    const keys: (readonly [string, string | readonly string[]])[] = [
      ['aws:SourceIp', sourceAddress(caller.sourceIp)],
      caller.secureTransport ? SECURE_TRANSPORT : INSECURE_TRANSPORT,
      ['aws:ResourceAccount', resourceTenantId],
      ...this.#timeKeys,
    ];
    if (facts?.conditionKeys !== undefined) keys.push(...facts.conditionKeys);
    if (facts?.keyUse !== undefined) keys.push(...keyUseConditionKeys(facts.keyUse));
    // https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-caller-account
    if (target.kmsKey != null) keys.push(['kms:CallerAccount', caller.tenantId]);
    const versionId = facts?.versionId ?? null;
    if (versionId !== null) keys.push(['s3:VersionId', versionId]);
    if (
      bucketPolicy?.readsExistingObjectTags === true &&
      this.#objectTags !== null &&
      target.bucket !== null &&
      target.key !== null
    ) {
      const tags = await existingTags(this.#objectTags, target.bucket.name, target.key, versionId);
      for (const [tagKey, tagValue] of Object.entries(tags)) {
        keys.push([`s3:ExistingObjectTag/${tagKey}`, tagValue]);
      }
    }
    return keys;
  }

  /**
   * Starts a new second when the clock has moved on: aws:CurrentTime and aws:EpochTime (to the
   * second) are built once, and the decisions remembered in the previous second, or under a
   * guardrail set that has since been replaced, are forgotten.
   */
  #startSecond(): void {
    const second = Math.floor(this.#clock.nowMs() / 1000);
    const active = this.#guardrails.active;
    if (second === this.#memoSecond && active === this.#memoSet) return;
    if (second !== this.#memoSecond) {
      this.#timeKeys = [
        ['aws:CurrentTime', new Date(second * 1000).toISOString().replace('.000Z', 'Z')],
        ['aws:EpochTime', String(second)],
      ];
    }
    this.#memoSecond = second;
    this.#memoSet = active;
    this.#decisions = new Map();
    this.#guardrailDecisions = new Map();
  }

  /** Everything a decision without request facts depends on, besides the policy objects compared on reuse. */
  #decisionKey(
    caller: Caller,
    action: string,
    target: ActionTarget,
    keyUse: KeyUseJustification | null,
  ): string {
    this.#startSecond();
    const bucket = target.bucket;
    return (
      `${action}\u0000${caller.tenantId}\u0000${caller.principalId}\u0000${caller.isTenantAdmin ? 1 : 0}` +
      `${caller.secureTransport ? 1 : 0}\u0000${caller.sourceIp}` +
      (bucket === null
        ? ''
        : `\u0000${bucket.tenantId}\u0000${bucket.name}\u0000${bucket.classification ?? ''}` +
          `\u0000${target.objectLabel ?? ''}\u0000${bucket.jurisdiction ?? ''}\u0000${bucket.tier ?? ''}` +
          (target.key === null ? '' : `\u0000/${target.key}`)) +
      (target.kmsKey == null ? '' : `\u0000k${target.kmsKey.arn}`) +
      (keyUse === null ? '' : `\u0000j${keyUseKey(keyUse)}`)
    );
  }

  /**
   * A stored label (a bucket's classification column, an object version's) in the compact form,
   * or the scheme's lowest level when none is recorded. A label the active scheme does not know
   * (a level removed from the scheme) is taken as the highest level with every compartment:
   * fail closed.
   */
  #labelOf(text: string | null): SecurityLabel {
    if (text === null) return schemeLabelsOf(this.#scheme).lowest;
    let label = this.#storedLabels.get(text);
    if (label === undefined) {
      try {
        label = parseCompactLabel(this.#scheme, text);
      } catch (error) {
        if (!isSovraError(error)) throw error;
        label = schemeLabelsOf(this.#scheme).highest;
      }
      if (this.#storedLabels.size >= LABEL_MEMO_ENTRIES) this.#storedLabels.clear();
      this.#storedLabels.set(text, label);
    }
    return label;
  }

  /**
   * The label of an object's data: its bucket's, joined with the version's own label when it has
   * one, so that the bucket's label stays a floor even for a record written before the bucket's
   * label was raised.
   */
  #objectLabelOf(bucketLabel: SecurityLabel, objectText: string | null): SecurityLabel {
    if (objectText === null) return bucketLabel;
    const memoKey = `${labelKey(bucketLabel)}\u0000${objectText}`;
    let label = this.#joinedLabels.get(memoKey);
    if (label === undefined) {
      label = joinLabels(bucketLabel, this.#labelOf(objectText));
      if (this.#joinedLabels.size >= LABEL_MEMO_ENTRIES) this.#joinedLabels.clear();
      this.#joinedLabels.set(memoKey, label);
    }
    return label;
  }

  /**
   * The guardrail decision, remembered for the rest of the current second under a key made of
   * every value the guardrail request carries (`now` is seconds in the Cedar context, so a
   * decision is exact for its second). When the active set reads no entity identity (the
   * default set does not), the principal's id, the bucket's name and the object key are left
   * out, so one decision serves every object of the same label.
   */
  #guardrailDecision(
    caller: Caller,
    anonymous: boolean,
    clearance: Clearance,
    tags: Readonly<Record<string, string>>,
    action: string,
    target: ActionTarget,
    resourceLabel: SecurityLabel | null,
    sourceLabel: SecurityLabel | null,
    resourceIsPublic: boolean,
    grantsPublicAccess: boolean,
    keyUse: KeyUseJustification | null,
  ): GuardrailDecision {
    this.#startSecond();
    const identity = this.#memoSet?.readsEntityIdentity !== false;
    const bucket = target.bucket;
    const kmsKey = target.kmsKey ?? null;
    const memoKey =
      `${action}\u0000${anonymous ? '' : caller.tenantId}\u0000${identity ? caller.principalId : ''}` +
      `\u0000${tagsKey(tags)}\u0000${labelKey(clearance)}\u0000${caller.secureTransport ? 1 : 0}${resourceIsPublic ? 1 : 0}` +
      `${grantsPublicAccess ? 1 : 0}\u0000${caller.sourceIp}\u0000${labelKey(sourceLabel)}` +
      (bucket === null
        ? ''
        : `\u0000${bucket.tenantId}\u0000${labelKey(resourceLabel)}\u0000${bucket.jurisdiction ?? ''}` +
          `\u0000${bucket.tier ?? ''}\u0000${identity ? bucket.name : ''}` +
          (target.key === null ? '' : `\u0000/${identity ? target.key : ''}`)) +
      (kmsKey === null ? '' : `\u0000k${kmsKey.tenantId}\u0000${identity ? kmsKey.keyId : ''}`) +
      (keyUse === null ? '' : `\u0000j${keyUse.reason}\u0000${keyUse.approvalReference ?? ''}`);
    const remembered = this.#guardrailDecisions.get(memoKey);
    if (remembered !== undefined) return remembered;
    const decision = this.#guardrails.evaluate(
      this.#guardrailRequest(caller, anonymous, clearance, tags, action, target, resourceLabel, sourceLabel, {
        resourceIsPublic,
        grantsPublicAccess,
        nowMs: this.#memoSecond * 1000,
        keyUse,
      }),
    );
    if (this.#guardrailDecisions.size >= GUARDRAIL_MEMO_ENTRIES) this.#guardrailDecisions.clear();
    this.#guardrailDecisions.set(memoKey, decision);
    return decision;
  }

  #guardrailRequest(
    caller: Caller,
    anonymous: boolean,
    clearance: Clearance,
    tags: Readonly<Record<string, string>>,
    action: string,
    target: ActionTarget,
    resourceLabel: SecurityLabel | null,
    sourceLabel: SecurityLabel | null,
    flags: {
      resourceIsPublic: boolean;
      grantsPublicAccess: boolean;
      nowMs: number;
      keyUse: KeyUseJustification | null;
    },
  ): GuardrailRequest {
    const principal: GuardrailPrincipal = anonymous
      ? { kind: 'anonymous' }
      : {
          kind: 'user',
          id: caller.principalId,
          tenantId: caller.tenantId,
          clearance,
          nationality: UNKNOWN_JURISDICTION,
          networkJurisdiction: UNKNOWN_JURISDICTION,
          tags,
        };
    const bucket = target.bucket;
    const kmsKey = target.kmsKey ?? null;
    let resource: GuardrailResource;
    if (kmsKey !== null) {
      resource = { kind: 'kmsKey', tenantId: kmsKey.tenantId, keyId: kmsKey.keyId };
    } else if (bucket === null) {
      resource = { kind: 'tenant', tenantId: caller.tenantId };
    } else {
      const facts = {
        tenantId: bucket.tenantId,
        bucket: bucket.name,
        label: resourceLabel!,
        placement: {
          jurisdiction: countryOrUnknown(bucket.jurisdiction ?? null),
          tier: tierOrDefault(bucket.tier ?? null),
        },
        public: flags.resourceIsPublic,
      };
      resource =
        target.key === null ? { kind: 'bucket', ...facts } : { kind: 'object', ...facts, key: target.key };
    }
    const sourceIp = guardrailAddress(caller.sourceIp);
    return {
      principal,
      action,
      resource,
      context: {
        secureTransport: caller.secureTransport,
        sourceIp,
        sourceJurisdiction: this.#jurisdictions?.jurisdictionOf(sourceIp) ?? UNKNOWN_JURISDICTION,
        keyUseJustification: flags.keyUse?.reason ?? 'CUSTOMER_INITIATED_ACCESS',
        approvalId: flags.keyUse?.approvalReference ?? null,
        now: new Date(flags.nowMs),
        sourceLabel,
        grantsPublicAccess: flags.grantsPublicAccess,
      },
    };
  }
}

/**
 * Explains a decision for `sovra policy explain`: the decision, every statement of every IAM
 * policy (matched or not, and why not), the guardrails that determined the guardrail decision
 * (with their text), and the classification rule's result.
 */
export function explainDecision(
  authorizer: RequestAuthorizer,
  caller: Caller,
  action: string,
  target: ActionTarget,
  facts?: RequestFacts,
): Promise<AuthorizationExplanation> {
  return authorizer.explain(caller, action, target, facts);
}

const ANONYMOUS: RequestPrincipal = { kind: 'anonymous' };
const SECURE_TRANSPORT = ['aws:SecureTransport', 'true'] as const;
const INSECURE_TRANSPORT = ['aws:SecureTransport', 'false'] as const;

function refusedEarly(resourceArn: string, reason: string): Evaluation {
  return {
    denial: { source: 'iam', policies: [] },
    iam: { effect: 'ImplicitDeny', contributions: [], reason: `implicitly denied: ${reason}` },
    ownerOverride: false,
    guardrails: { decision: 'deny', determiningPolicies: [], errors: [] },
    classification: {
      rule: null,
      allowed: false,
      clearance: '',
      resourceLabel: null,
      sourceLabel: null,
      reason,
    },
    principalArn: null,
    resourceArn,
  };
}

/** The statements that explicitly denied, as `<policy label> Statement[<i>] "<sid>"`. */
function denyingStatements(decision: Decision): string[] {
  if (decision.effect !== 'ExplicitDeny') return [];
  const statements: string[] = [];
  for (const contribution of decision.contributions) {
    if (!contribution.matched || contribution.effect !== 'Deny') continue;
    const sid =
      contribution.sid === null || contribution.sid === '' ? '' : ` ${JSON.stringify(contribution.sid)}`;
    statements.push(`${contribution.source} Statement[${contribution.statementIndex}]${sid}`);
  }
  return statements;
}

/** The forbids that denied, or the policies that failed to evaluate (fail closed). */
function guardrailDenials(decision: GuardrailDecision): string[] {
  if (decision.determiningPolicies.length > 0) return [...decision.determiningPolicies];
  const failed: string[] = [];
  for (const error of decision.errors) if (error.policyId !== null) failed.push(error.policyId);
  return failed;
}

/**
 * The labels one decision compares: the target's data (the bucket's label joined with the
 * object's own), the target bucket's, and the data a copy brings (its source object's).
 */
interface DecisionLabels {
  resource: SecurityLabel | null;
  bucket: SecurityLabel | null;
  source: SecurityLabel | null;
}

/**
 * The label rule a request breaks, if any: no read up for reads; no label above one's own
 * clearance for whoever labels data; no write down for copies, into the destination *bucket*:
 * a copy never puts data into a bucket labelled below it, even as an object labelled higher
 * than its bucket (docs/reference/classification.md "Object labels").
 */
function classificationRule(
  action: string,
  clearance: Clearance,
  labels: DecisionLabels,
  labelsData: boolean,
): ClassificationCheck['rule'] {
  const resourceLabel = labels.resource;
  if (resourceLabel === null) return null;
  if (READ_DATA_ACTIONS.has(action) && !canRead(clearance, resourceLabel)) return 'no-read-up';
  if ((labelsData || LABELLING_ACTIONS.has(action)) && !dominates(clearance, resourceLabel))
    return 'no-label-above-clearance';
  if (labels.source !== null && !canWriteInto(labels.source, labels.bucket ?? resourceLabel))
    return 'no-write-down';
  return null;
}

function classificationCheck(
  rule: ClassificationCheck['rule'],
  clearance: Clearance,
  labels: DecisionLabels,
): ClassificationCheck {
  const clearanceText = renderCompactLabel(clearance);
  const resourceText = labels.resource === null ? null : renderCompactLabel(labels.resource);
  const bucketText = labels.bucket === null ? null : renderCompactLabel(labels.bucket);
  const sourceText = labels.source === null ? null : renderCompactLabel(labels.source);
  const reason =
    rule === 'no-read-up'
      ? `the clearance ${clearanceText} does not dominate the data's label ${resourceText}`
      : rule === 'no-write-down'
        ? `data labelled ${sourceText} cannot flow into a bucket labelled ${bucketText}`
        : rule === 'no-label-above-clearance'
          ? `the clearance ${clearanceText} does not dominate the label ${resourceText} the request would give`
          : 'no label rule refuses the request';
  return {
    rule,
    allowed: rule === null,
    clearance: clearanceText,
    resourceLabel: resourceText,
    sourceLabel: sourceText,
    reason,
  };
}

/** A caller administering the tenant that owns the resource (the AWS "account root" of a bucket or key). */
function isOwnerAdministrator(caller: Caller, ownerTenantId: string | null): boolean {
  return (
    caller.isTenantAdmin &&
    ownerTenantId !== null &&
    ownerTenantId === caller.tenantId &&
    !isAnonymousCaller(caller)
  );
}

/** The tenant owning a target's bucket or KMS key; null for tenant-wide actions. */
function ownerTenantOf(target: ActionTarget): string | null {
  return target.bucket?.tenantId ?? target.kmsKey?.tenantId ?? null;
}

/**
 * A target key's compiled policy. Stored policies were checked when written; one that no longer
 * compiles fails every request closed, except its owner's repair of it
 * (OWNER_ALWAYS_ALLOWED_ACTIONS), which proceeds as if the key had no policy.
 */
function keyPolicyOf(text: string, ownerAdministrator: boolean, action: string): CompiledKeyPolicy | null {
  try {
    return compiledKeyPolicy(text);
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error;
    if (ownerAdministrator && OWNER_ALWAYS_ALLOWED_ACTIONS.has(action)) return null;
    throw new Error('a stored key policy could not be evaluated', { cause: error });
  }
}

/** Facts that hold nothing but a key use, which the decision memo keys (#decisionKey) cover. */
function onlyKeyUse(facts: RequestFacts): boolean {
  return Object.entries(facts).every(([name, value]) => name === 'keyUse' || value === undefined);
}

/** Every field of a key use that policies or the guardrails can read, as one memo key part. */
function keyUseKey(keyUse: KeyUseJustification): string {
  return (
    `${keyUse.reason}\u0000${keyUse.approvalReference ?? ''}\u0000${keyUse.principalId}` +
    `\u0000${keyUse.jurisdiction}\u0000${keyUse.service}`
  );
}

/**
 * Why a request was refused, worded as AWS words it after "User: … is not authorized to perform:
 * … on resource: …": the layer (a guardrail, an identity-based or a resource-based policy) and, for
 * a key use, the justification the policies saw.
 */
function denialReason(
  denial: AccessDenial,
  action: string,
  iam: Decision,
  crossTenant: boolean,
  resourcePolicyRequired: boolean,
  keyUse: KeyUseJustification | null,
): string {
  let reason: string;
  if (denial.source === 'guardrails') {
    reason = `with an explicit deny in a platform guardrail (${denial.policies.join(', ')})`;
  } else if (iam.effect === 'ExplicitDeny') {
    const deny = iam.contributions.find((c) => c.matched && c.effect === 'Deny');
    const kind = deny?.policyKind === 'resource' ? 'a resource-based policy' : 'an identity-based policy';
    reason = `with an explicit deny in ${kind} (${deny?.source ?? 'a policy'} ${describeStatement(deny)})`;
  } else {
    const allows = (kind: 'identity' | 'resource') =>
      iam.contributions.some((c) => c.matched && c.effect === 'Allow' && c.policyKind === kind);
    // A key policy must allow; across tenants both sides must: name the side that did not.
    const resourceSide = !allows('resource') && (crossTenant ? allows('identity') : resourcePolicyRequired);
    reason = `because no ${resourceSide ? 'resource-based' : 'identity-based'} policy allows the ${action} action`;
  }
  return keyUse === null
    ? reason
    : `${reason} (justification ${keyUse.reason} from jurisdiction ${keyUse.jurisdiction})`;
}

function identityPolicyLabel(policy: CompiledPolicy, index: number): string {
  return `identity policy ${policy.document.id ?? `#${index + 1}`}`;
}

/** The same policies (the same objects with the same labels) in the same order. */
function samePolicies(a: readonly LabeledPolicy[], b: readonly LabeledPolicy[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i]!.policy !== b[i]!.policy || a[i]!.label !== b[i]!.label) return false;
  }
  return true;
}

const NO_POLICIES: readonly LabeledPolicy[] = Object.freeze([]);
const NO_TAGS: Readonly<Record<string, string>> = Object.freeze({});

const tagsKeys = new WeakMap<Readonly<Record<string, string>>, string>();

/** A principal's tags as one memo key part, remembered per tags object. */
function tagsKey(tags: Readonly<Record<string, string>>): string {
  if (tags === NO_TAGS) return '';
  let key = tagsKeys.get(tags);
  if (key === undefined) {
    key = JSON.stringify(Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    tagsKeys.set(tags, key);
  }
  return key;
}

async function existingTags(
  reader: ObjectTagReader,
  bucket: string,
  key: string,
  versionId: string | null,
): Promise<Readonly<Record<string, string>>> {
  try {
    return (await reader.getObjectVersion(bucket, key, versionId)).tags;
  } catch (error) {
    // No such object (or version, or a delete marker): the keys are absent, as for an untagged one.
    if (isSovraError(error) && MISSING_OBJECT_CODES.has(error.code)) return {};
    throw error;
  }
}

const MISSING_OBJECT_CODES: ReadonlySet<string> = new Set([
  'ObjectNotFound',
  'VersionNotFound',
  'DeleteMarkerNotReadable',
  'InvalidVersionId',
]);

/** aws:SourceIp of an IPv4 client reached through a dual-stack socket (`::ffff:192.0.2.1`) is the IPv4 address. */
function sourceAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** The guardrails need an IP address; a socket without one (already closed) counts as the unspecified address. */
function guardrailAddress(address: string): string {
  const plain = sourceAddress(address);
  return isIP(plain) === 0 ? '0.0.0.0' : plain;
}

function countryOrUnknown(value: string | null): string {
  return value !== null && /^[A-Z]{2}$/.test(value) ? value : UNKNOWN_JURISDICTION;
}

function tierOrDefault(value: string | null): string {
  return value !== null && /^[a-z][a-z0-9-]{0,31}$/.test(value) ? value : DEFAULT_STORAGE_TIER;
}

const labelKeys = new WeakMap<SecurityLabel, string>();

/** A label's compact form, remembered per label object (labels are frozen and shared). */
function labelKey(label: SecurityLabel | null): string {
  if (label === null) return '';
  let key = labelKeys.get(label);
  if (key === undefined) {
    key = renderCompactLabel(label);
    labelKeys.set(label, key);
  }
  return key;
}

const schemeLabels = new WeakMap<ClassificationScheme, { lowest: SecurityLabel; highest: SecurityLabel }>();

/** The lowest label (lowest level, no compartments) and the highest (top level, every compartment) of a scheme. */
function schemeLabelsOf(scheme: ClassificationScheme): { lowest: SecurityLabel; highest: SecurityLabel } {
  let labels = schemeLabels.get(scheme);
  if (labels === undefined) {
    labels = { lowest: lowestLabel(scheme), highest: highestLabel(scheme) };
    schemeLabels.set(scheme, labels);
  }
  return labels;
}
