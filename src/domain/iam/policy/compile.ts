import { compileArnPattern, matchArnPattern, parseIamPrincipalArn, type ArnPattern } from './arn.ts';
import { compileCondition, type CompiledCondition } from './conditions.ts';
import type { PrincipalFacts, RequestContext } from './context.ts';
import {
  parsePolicyDocument,
  type ParsePolicyOptions,
  type PolicyDocument,
  type PolicyKind,
  type PolicyStatement,
  type PrincipalElement,
} from './document.ts';
import { ACTION_INDEX_MAX_ENTRIES } from './limits.ts';
import { buildStatementIndex, type StatementIndex } from './statement-index.ts';
import { compilePattern, matchPattern, type Pattern } from './wildcard.ts';

/**
 * How a statement's Principal matched the requester:
 * - `identity`: the statement belongs to an identity policy, whose principal is implicitly the
 *   identity it is attached to;
 * - `direct`: the statement names this very user, role, session or service, or everyone (`*`,
 *   or a NotPrincipal that leaves the requester in);
 * - `account`: the statement names only the requester's account (tenant), which "delegates
 *   authority to the account": an identity policy there must also allow
 *   (reference_policies_elements_principal, "AWS account principals").
 */
export type PrincipalMatch = 'identity' | 'direct' | 'account';

export interface CompiledPrincipal {
  readonly negated: boolean;
  readonly everyone: boolean;
  readonly accounts: ReadonlySet<string>;
  /** Exact ARNs of users, role sessions, federated users and roles. */
  readonly arns: ReadonlySet<string>;
  /** Roles as `account/name`: a role matches its sessions whatever the role's path. */
  readonly roles: ReadonlySet<string>;
  readonly services: ReadonlySet<string>;
  /** Kept as written; no Sovra requester is a web identity or a canonical user yet, so these match nobody. */
  readonly federated: ReadonlySet<string>;
  readonly canonicalUsers: ReadonlySet<string>;
}

export interface CompiledStatement {
  readonly source: PolicyStatement;
  readonly actions: readonly Pattern[];
  readonly resources: readonly ArnPattern[];
  readonly principal: CompiledPrincipal | null;
  readonly conditions: readonly CompiledCondition[];
  /**
   * The statement names one resource, `<fixed head>:<literal>*`: the StatementIndex files it
   * under that head and literal, so any request the index leads to it matches its Resource.
   */
  readonly resourceImpliedByIndex: boolean;
}

/**
 * A policy ready for evaluation on the request path: wildcards compiled to matchers, principals to
 * sets, condition values to typed values, and, per action seen, the statements that can apply
 * indexed by resource and condition values (StatementIndex), so that a request looks at a handful
 * of statements among thousands.
 */
export class CompiledPolicy {
  readonly document: PolicyDocument;
  readonly kind: PolicyKind;
  readonly statements: readonly CompiledStatement[];
  readonly #byAction = new Map<string, StatementIndex>();

  constructor(document: PolicyDocument) {
    this.document = document;
    this.kind = document.kind;
    const variables = document.version === '2012-10-17';
    this.statements = document.statements.map((statement) => compileStatement(statement, variables));
  }

  /**
   * The statements whose Action/NotAction admits `actionKey` (lower case), indexed (see
   * StatementIndex); built when an action is first seen, as Sovra's actions are a few dozen.
   */
  candidatesFor(actionKey: string): StatementIndex {
    let candidates = this.#byAction.get(actionKey);
    if (candidates === undefined) {
      candidates = buildStatementIndex(
        this.statements.filter((statement) => actionMatches(statement, actionKey)),
      );
      if (this.#byAction.size >= ACTION_INDEX_MAX_ENTRIES) this.#byAction.clear();
      this.#byAction.set(actionKey, candidates);
    }
    return candidates;
  }
}

/** Reads and compiles a policy document (see parsePolicyDocument for the errors). */
export function parsePolicy(text: string, options: ParsePolicyOptions): CompiledPolicy {
  return new CompiledPolicy(parsePolicyDocument(text, options));
}

/** Compiles a document from parsePolicyDocument (a hand-built one is checked again). */
export function compilePolicy(document: PolicyDocument): CompiledPolicy {
  return new CompiledPolicy(document);
}

function compileStatement(statement: PolicyStatement, variables: boolean): CompiledStatement {
  const resources = statement.resource.values.map((resource) => compileArnPattern(resource, variables));
  return {
    source: statement,
    // Actions compare without regard to case (reference_policies_elements_action).
    actions: statement.action.values.map((action) =>
      compilePattern(action, { wildcards: true, variables: false, lowerCase: true }),
    ),
    resources,
    resourceImpliedByIndex:
      !statement.resource.negated &&
      resources.length === 1 &&
      resources[0]!.headKey !== null &&
      (resources[0]!.tail?.shape === 'prefix' || resources[0]!.tail?.shape === 'any'),
    principal: statement.principal === null ? null : compilePrincipal(statement.principal),
    conditions: statement.conditions.map((condition) => compileCondition(condition, variables)),
  };
}

function compilePrincipal(element: PrincipalElement): CompiledPrincipal {
  const accounts = new Set<string>();
  const arns = new Set<string>();
  const roles = new Set<string>();
  const value = element.value;
  if (value.kind === 'everyone') {
    return {
      negated: element.negated,
      everyone: true,
      accounts,
      arns,
      roles,
      services: new Set(),
      federated: new Set(),
      canonicalUsers: new Set(),
    };
  }
  let everyone = false;
  for (const id of value.map.AWS) {
    if (id === '*') {
      everyone = true;
      continue;
    }
    const arn = parseIamPrincipalArn(id);
    if (arn === null) accounts.add(id);
    else if (arn.type === 'root') accounts.add(arn.account);
    else {
      arns.add(id);
      if (arn.type === 'role') roles.add(`${arn.account}/${arn.name}`);
    }
  }
  return {
    negated: element.negated,
    everyone,
    accounts,
    arns,
    roles,
    services: new Set(value.map.Service),
    federated: new Set(value.map.Federated),
    canonicalUsers: new Set(value.map.CanonicalUser),
  };
}

export function actionMatches(statement: CompiledStatement, actionKey: string): boolean {
  let any = false;
  for (const pattern of statement.actions) {
    if (matchPattern(pattern, actionKey, null)) {
      any = true;
      break;
    }
  }
  return any !== statement.source.action.negated;
}

export function resourceMatches(statement: CompiledStatement, request: RequestContext): boolean {
  let any = false;
  for (const pattern of statement.resources) {
    if (matchArnPattern(pattern, request.resource, request.resourceParts, request)) {
      any = true;
      break;
    }
  }
  return any !== statement.source.resource.negated;
}

/**
 * Whether a statement's Principal or NotPrincipal covers the requester, and how.
 *
 * NotPrincipal leaves a requester out only when every identity AWS may check for the request is
 * listed: the account, the role of a role session, and the user or session itself. AWS "might
 * validate the account first, then the role, and then the assumed-role user", which is why its
 * guide says to list the account ARN too (reference_policies_elements_notprincipal).
 */
export function principalMatch(
  principal: CompiledPrincipal | null,
  facts: PrincipalFacts,
): PrincipalMatch | null {
  if (principal === null) return 'identity';
  if (principal.negated) return isListedWhole(principal, facts) ? null : 'direct';
  if (principal.everyone) return 'direct';
  switch (facts.kind) {
    case 'anonymous':
      return null;
    case 'service':
      return principal.services.has(facts.service!) ? 'direct' : null;
    case 'iam': {
      if (facts.arnType === 'root') return principal.accounts.has(facts.account!) ? 'direct' : null;
      if (principal.arns.has(facts.arn!)) return 'direct';
      if (facts.roleName !== null && principal.roles.has(`${facts.account!}/${facts.roleName}`))
        return 'direct';
      return principal.accounts.has(facts.account!) ? 'account' : null;
    }
    default:
      return null;
  }
}

function isListedWhole(principal: CompiledPrincipal, facts: PrincipalFacts): boolean {
  if (principal.everyone) return true;
  switch (facts.kind) {
    case 'anonymous':
      return false;
    case 'service':
      return principal.services.has(facts.service!);
    case 'iam': {
      if (!principal.accounts.has(facts.account!)) return false;
      if (facts.arnType === 'root') return true;
      const roleListed =
        facts.roleName !== null && principal.roles.has(`${facts.account!}/${facts.roleName}`);
      if (facts.arnType === 'role') return roleListed || principal.arns.has(facts.arn!);
      if (facts.arnType === 'assumed-role') return roleListed && principal.arns.has(facts.arn!);
      return principal.arns.has(facts.arn!);
    }
    default:
      return false;
  }
}
