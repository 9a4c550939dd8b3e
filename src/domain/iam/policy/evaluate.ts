import {
  actionMatches,
  principalMatch,
  resourceMatches,
  type CompiledPolicy,
  type CompiledStatement,
  type PrincipalMatch,
} from './compile.ts';
import { conditionHolds } from './conditions.ts';
import type { RequestContext } from './context.ts';
import type { PolicyEffect, PolicyKind } from './document.ts';
import { PolicyError } from './errors.ts';
import { visitCandidates } from './statement-index.ts';

/** One statement that applies to a request: its Action, Resource, Principal and every Condition match. */
export interface StatementMatch {
  readonly statementIndex: number;
  readonly sid: string | null;
  readonly effect: PolicyEffect;
  readonly principalMatch: PrincipalMatch;
}

/** The statements of one policy that apply to a request, in the policy's order. */
export function evaluatePolicy(policy: CompiledPolicy, request: RequestContext): StatementMatch[] {
  const matches: StatementMatch[] = [];
  for (const statement of policy.statements) {
    if (!actionMatches(statement, request.actionKey)) continue;
    const match = resourceMatches(statement, request) ? statementMatch(statement, request, true) : null;
    if (match === null) continue;
    matches.push({
      statementIndex: statement.source.index,
      sid: statement.source.sid,
      effect: statement.source.effect,
      principalMatch: match,
    });
  }
  return matches;
}

/** A policy with the name `sovra policy explain` shows for it ("bucket policy", "user policy readers"). */
export interface LabeledPolicy {
  readonly label: string;
  readonly policy: CompiledPolicy;
}

export interface PolicySet {
  /** The requester's identity policies (user, group and role policies); ignored for anonymous requests. */
  readonly identityPolicies: readonly LabeledPolicy[];
  /** The resource's policies (the bucket policy, a key policy). */
  readonly resourcePolicies: readonly LabeledPolicy[];
  /**
   * The resource policy must allow even within the tenant, as for KMS key policies and role trust
   * policies, which "must explicitly allow access for principals": identity policies then count
   * only where the resource policy names the tenant as a whole (the default key policy's
   * `arn:aws:iam::TENANT:root` statement) (reference_policies_evaluation-logic, resource-based policies).
   */
  readonly resourcePolicyRequired?: boolean;
}

export type DecisionEffect = 'Allow' | 'ExplicitDeny' | 'ImplicitDeny';

export interface Contribution {
  readonly source: string;
  readonly policyKind: PolicyKind;
  readonly statementIndex: number;
  readonly sid: string | null;
  readonly effect: PolicyEffect;
  readonly matched: boolean;
  /** How the Principal matched, for matched statements of resource policies. */
  readonly principalMatch: PrincipalMatch | null;
  /** For statements that did not match (explain mode): the first element that did not, such as `Resource`. */
  readonly mismatch: string | null;
}

export interface Decision {
  readonly effect: DecisionEffect;
  /** Matched statements; in explain mode every statement of every policy, matched or not. */
  readonly contributions: readonly Contribution[];
  readonly reason: string;
}

export interface AuthorizeOptions {
  /** Record every statement with the reason it did not match, and do not stop at the first Deny. */
  explain?: boolean;
}

/**
 * Decides a request as AWS does (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
 * and reference_policies_evaluation-logic-cross-account):
 * 1. an explicit Deny in any applicable policy wins;
 * 2. within the resource's tenant, an Allow in an identity policy or in a resource policy that
 *    names the requester (or everyone) allows; a resource policy naming only the tenant delegates
 *    to the identity policies and does not allow by itself;
 *    (with `resourcePolicyRequired`, as for key policies, the resource policy must allow, by
 *    naming the requester, or by naming the tenant and an identity policy allowing);
 * 3. across tenants, both the requester's identity policies and the resource policy must allow;
 * 4. an anonymous requester (or a service principal) is allowed only by a resource policy
 *    statement that covers it (`"Principal": "*"`, `{"AWS": "*"}`, a NotPrincipal, or the service);
 * 5. otherwise the request is implicitly denied.
 * A tenant's root principal (`arn:aws:iam::TENANT:root`) has every permission its identity
 * policies could grant ("the AWS account root user, which has full access"); explicit denies
 * still apply to it.
 */
export function authorize(
  request: RequestContext,
  policies: PolicySet,
  options: AuthorizeOptions = {},
): Decision {
  const explain = options.explain === true;
  const state: DecisionState = {
    contributions: [],
    deny: null,
    identityAllow: null,
    resourceDirectAllow: null,
    resourceAccountAllow: null,
  };
  const facts = request.facts;
  if (facts.kind === 'iam') {
    for (const labeled of policies.identityPolicies) {
      requireKind(labeled, 'identity');
      if (scanPolicy(labeled, request, state, explain)) return decided(state, request, policies);
    }
  }
  for (const labeled of policies.resourcePolicies) {
    requireKind(labeled, 'resource');
    if (scanPolicy(labeled, request, state, explain)) return decided(state, request, policies);
  }
  return decided(state, request, policies);
}

interface DecisionState {
  contributions: Contribution[];
  deny: Contribution | null;
  identityAllow: Contribution | null;
  resourceDirectAllow: Contribution | null;
  resourceAccountAllow: Contribution | null;
}

/** Records the statements of one policy that match; true when a Deny ends the evaluation early. */
function scanPolicy(
  labeled: LabeledPolicy,
  request: RequestContext,
  state: DecisionState,
  explain: boolean,
): boolean {
  const policy = labeled.policy;
  if (explain) {
    for (const statement of policy.statements) {
      const mismatch = statementMismatch(statement, request);
      const match = mismatch === null ? principalMatch(statement.principal, request.facts) : null;
      record(state, labeled, statement, match, mismatch);
    }
    return false;
  }
  // Only the statements whose action matches and that the request can reach (StatementIndex).
  const first = state.contributions.length;
  const stopped = visitCandidates(policy.candidatesFor(request.actionKey), request, (statements) =>
    scanStatements(statements, labeled, request, state),
  );
  if (state.contributions.length - first > 1) sortFrom(state.contributions, first);
  return stopped;
}

function scanStatements(
  statements: readonly CompiledStatement[],
  labeled: LabeledPolicy,
  request: RequestContext,
  state: DecisionState,
): boolean {
  for (const statement of statements) {
    const match = statementMatch(statement, request, statement.resourceImpliedByIndex);
    if (match === null) continue;
    if (statement.source.effect === 'Deny') {
      record(state, labeled, statement, match, null);
      return true;
    }
    // On the request path only the first Allow of each kind decides (and names the reason); a
    // later one changes nothing, so it is not recorded. Explaining records every statement.
    if (allowSlotTaken(state, match)) continue;
    record(state, labeled, statement, match, null);
  }
  return false;
}

function allowSlotTaken(state: DecisionState, match: PrincipalMatch): boolean {
  if (match === 'identity') return state.identityAllow !== null;
  if (match === 'direct') return state.resourceDirectAllow !== null;
  return state.resourceAccountAllow !== null;
}

function record(
  state: DecisionState,
  labeled: LabeledPolicy,
  statement: CompiledStatement,
  match: PrincipalMatch | null,
  mismatch: string | null,
): void {
  const contribution: Contribution = {
    source: labeled.label,
    policyKind: labeled.policy.kind,
    statementIndex: statement.source.index,
    sid: statement.source.sid,
    effect: statement.source.effect,
    matched: match !== null,
    principalMatch: match,
    mismatch,
  };
  state.contributions.push(contribution);
  if (match === null) return;
  if (statement.source.effect === 'Deny') state.deny ??= contribution;
  else if (match === 'identity') state.identityAllow ??= contribution;
  else if (match === 'direct') state.resourceDirectAllow ??= contribution;
  else state.resourceAccountAllow ??= contribution;
}

function decided(state: DecisionState, request: RequestContext, policies: PolicySet): Decision {
  const contributions = state.contributions;
  const subject = `${request.action} on ${request.resource}`;
  if (state.deny !== null) {
    return {
      effect: 'ExplicitDeny',
      contributions,
      reason: `${subject} is explicitly denied by ${describe(state.deny)}`,
    };
  }
  const facts = request.facts;
  if (facts.kind !== 'iam') {
    const who = facts.kind === 'anonymous' ? 'an anonymous requester' : `the service ${facts.service}`;
    if (state.resourceDirectAllow !== null) {
      return {
        effect: 'Allow',
        contributions,
        reason: `${subject} is allowed by ${describe(state.resourceDirectAllow)}`,
      };
    }
    return implicit(contributions, `no resource policy statement allows ${subject} to ${who}`);
  }
  const identityAllowed = state.identityAllow !== null || facts.arnType === 'root';
  const identityWhy =
    state.identityAllow !== null ? describe(state.identityAllow) : `the tenant root principal's full access`;
  if (facts.account === request.resourceTenantId) {
    if (state.resourceDirectAllow !== null) {
      return {
        effect: 'Allow',
        contributions,
        reason: `${subject} is allowed by ${describe(state.resourceDirectAllow)}`,
      };
    }
    if (policies.resourcePolicyRequired === true) {
      if (identityAllowed && state.resourceAccountAllow !== null) {
        return {
          effect: 'Allow',
          contributions,
          reason: `${subject} is allowed by ${identityWhy}, as ${describe(state.resourceAccountAllow)} lets the tenant's identity policies decide`,
        };
      }
      return implicit(
        contributions,
        state.resourceAccountAllow === null
          ? `the resource policy must allow ${subject}, and none of its statements does`
          : `${describe(state.resourceAccountAllow)} lets the tenant's identity policies decide, and none of them allows ${subject}`,
      );
    }
    if (identityAllowed)
      return { effect: 'Allow', contributions, reason: `${subject} is allowed by ${identityWhy}` };
    if (state.resourceAccountAllow !== null) {
      return implicit(
        contributions,
        `${describe(state.resourceAccountAllow)} allows ${subject} to the tenant as a whole, which delegates to its identity policies, and none of them allows it`,
      );
    }
    return implicit(contributions, `no identity or resource policy statement allows ${subject}`);
  }
  const resourceAllow = state.resourceDirectAllow ?? state.resourceAccountAllow;
  if (identityAllowed && resourceAllow !== null) {
    return {
      effect: 'Allow',
      contributions,
      reason: `cross-tenant ${subject} is allowed by ${identityWhy} and by ${describe(resourceAllow)}`,
    };
  }
  const missing =
    resourceAllow === null && !identityAllowed
      ? 'neither the requester’s identity policies nor the resource policy allow it'
      : resourceAllow === null
        ? 'the resource policy does not allow it'
        : 'the requester’s identity policies do not allow it';
  return implicit(contributions, `cross-tenant ${subject} needs an allow on both sides, and ${missing}`);
}

function implicit(contributions: Contribution[], reason: string): Decision {
  return { effect: 'ImplicitDeny', contributions, reason: `implicitly denied: ${reason}` };
}

function describe(contribution: Contribution): string {
  const sid =
    contribution.sid === null || contribution.sid === '' ? '' : ` ${JSON.stringify(contribution.sid)}`;
  return `statement ${contribution.statementIndex}${sid} of ${contribution.source}`;
}

function requireKind(labeled: LabeledPolicy, kind: PolicyKind): void {
  if (labeled.policy.kind !== kind) {
    throw new PolicyError(
      'InvalidRequestContext',
      `${labeled.label} is a ${labeled.policy.kind} policy, passed as a ${kind} policy`,
    );
  }
}

/**
 * The statement's principal match when Resource, Principal and Condition all match; Action was
 * matched before. `resourceKnown`: Resource was too — by the caller, or by the StatementIndex
 * that led to a statement whose one resource is a literal start (`resourceImpliedByIndex`).
 */
function statementMatch(
  statement: CompiledStatement,
  request: RequestContext,
  resourceKnown: boolean,
): PrincipalMatch | null {
  if (!resourceKnown && !resourceMatches(statement, request)) return null;
  const match = principalMatch(statement.principal, request.facts);
  if (match === null) return null;
  for (const condition of statement.conditions) if (!conditionHolds(condition, request)) return null;
  return match;
}

/** The first element of a statement that does not match the request, or null when all do. */
function statementMismatch(statement: CompiledStatement, request: RequestContext): string | null {
  const source = statement.source;
  if (!actionMatches(statement, request.actionKey)) return source.action.negated ? 'NotAction' : 'Action';
  if (!resourceMatches(statement, request)) return source.resource.negated ? 'NotResource' : 'Resource';
  if (principalMatch(statement.principal, request.facts) === null) {
    return source.principal?.negated === true ? 'NotPrincipal' : 'Principal';
  }
  for (const condition of statement.conditions) {
    if (!conditionHolds(condition, request)) return condition.path.slice(source.path.length + 1);
  }
  return null;
}

function sortFrom(contributions: Contribution[], first: number): void {
  const tail = contributions.splice(first).sort((a, b) => a.statementIndex - b.statementIndex);
  contributions.push(...tail);
}
