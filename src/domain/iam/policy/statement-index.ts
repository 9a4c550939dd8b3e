import type { ArnPattern } from './arn.ts';
import type { CompiledStatement } from './compile.ts';
import type { RequestContext } from './context.ts';

/**
 * The statements of one policy that may apply to one action, arranged so that a request looks at
 * a handful of them among thousands (evaluation is on the path of every request):
 *
 * - by resource: statements whose resources all have a fixed ARN head (`arn:aws:s3::`) sit in a
 *   radix tree over the literal start of their resource part (`photos/home/`, `logs-`); a request
 *   visits only the nodes along its own resource. NotResource, `*` and wildcards in the ARN head
 *   leave a statement unindexed, visited by every request.
 * - by condition value: within each list of a dozen statements or more, a statement with a
 *   `StringEquals` condition on fixed values (the `aws:PrincipalTag/team` of attribute-based
 *   policies) is filed under those values, and a request visits only those under its own.
 *
 * A statement is filed so that no request reaches it twice: under resource prefixes none of which
 * starts another (a request's resource starts with at most one of them), and under one condition
 * key. Only what the statement cannot possibly match is skipped; every statement reached is still
 * matched in full.
 */
export interface StatementIndex {
  readonly byHead: ReadonlyMap<string, RadixNode>;
  readonly unindexed: StatementGroup;
}

export interface RadixNode {
  /** The text from the parent node to this one. */
  label: string;
  group: StatementGroup;
  children: Map<number, RadixNode> | null;
}

export interface StatementGroup {
  /** Statements every request reaching the group must be matched against. */
  readonly always: readonly CompiledStatement[];
  /** Statements that need one of some fixed values of a condition key. */
  readonly byCondition: readonly ConditionValueIndex[];
}

export interface ConditionValueIndex {
  /** The condition key, lower case. */
  readonly key: string;
  readonly byValue: ReadonlyMap<string, readonly CompiledStatement[]>;
  /** All of them, once each, for a request with several values of the key. */
  readonly all: readonly CompiledStatement[];
}

const EMPTY_GROUP: StatementGroup = { always: [], byCondition: [] };

/** Below this many statements a list is scanned as it is: a condition index would not pay. */
const CONDITION_INDEX_MIN_STATEMENTS = 12;

export function buildStatementIndex(statements: readonly CompiledStatement[]): StatementIndex {
  const lists = new Map<RadixNode, CompiledStatement[]>();
  const byHead = new Map<string, RadixNode>();
  const unindexed: CompiledStatement[] = [];
  for (const statement of statements) {
    const placement = statement.source.resource.negated ? null : placementOf(statement.resources);
    if (placement === null) {
      unindexed.push(statement);
      continue;
    }
    let root = byHead.get(placement.head);
    if (root === undefined) {
      root = { label: '', group: EMPTY_GROUP, children: null };
      byHead.set(placement.head, root);
    }
    for (const prefix of placement.prefixes) {
      const node = insert(root, prefix, 0);
      const list = lists.get(node);
      if (list === undefined) lists.set(node, [statement]);
      else list.push(statement);
    }
  }
  for (const [node, list] of lists) node.group = groupOf(list);
  return { byHead, unindexed: groupOf(unindexed) };
}

/**
 * Calls `scan` with every group of statements the request may match, those along its resource
 * first; stops as soon as `scan` returns true.
 */
export function visitCandidates(
  index: StatementIndex,
  request: RequestContext,
  scan: (statements: readonly CompiledStatement[]) => boolean,
): boolean {
  const head = request.resourceHead;
  const tail = request.resourceTail;
  let node = head === null ? undefined : index.byHead.get(head);
  let position = 0;
  while (node !== undefined) {
    if (visitGroup(node.group, request, scan)) return true;
    if (node.children === null || tail === null || position >= tail.length) break;
    const child = node.children.get(tail.charCodeAt(position));
    if (child === undefined || !tail.startsWith(child.label, position)) break;
    position += child.label.length;
    node = child;
  }
  return visitGroup(index.unindexed, request, scan);
}

function visitGroup(
  group: StatementGroup,
  request: RequestContext,
  scan: (statements: readonly CompiledStatement[]) => boolean,
): boolean {
  if (group.always.length > 0 && scan(group.always)) return true;
  for (const index of group.byCondition) {
    const values = request.conditionValues(index.key);
    if (values === undefined || values.length === 0) continue;
    const statements = values.length === 1 ? index.byValue.get(values[0]!) : index.all;
    if (statements !== undefined && scan(statements)) return true;
  }
  return false;
}

interface Placement {
  head: string;
  /** Literal starts of the resource parts, none of which starts another. */
  prefixes: string[];
}

function placementOf(resources: readonly ArnPattern[]): Placement | null {
  let head: string | null = null;
  const starts: string[] = [];
  for (const resource of resources) {
    if (resource.headKey === null || resource.tail === null) return null;
    if (head !== null && head !== resource.headKey) return null;
    head = resource.headKey;
    starts.push(resource.tail.literalPrefix);
  }
  if (head === null) return null;
  // Keep only the shortest of starts that begin alike: a resource that starts with `photos/a`
  // also starts with `photos/`, so the statement is reached through `photos/` alone.
  starts.sort((a, b) => a.length - b.length);
  const prefixes: string[] = [];
  for (const start of starts) if (!prefixes.some((kept) => start.startsWith(kept))) prefixes.push(start);
  return { head, prefixes };
}

/** The node for `text` (from `position`) below `node`, splitting an edge where `text` branches off. */
function insert(node: RadixNode, text: string, position: number): RadixNode {
  if (position === text.length) return node;
  const code = text.charCodeAt(position);
  node.children ??= new Map();
  const child = node.children.get(code);
  if (child === undefined) {
    const leaf: RadixNode = { label: text.slice(position), group: EMPTY_GROUP, children: null };
    node.children.set(code, leaf);
    return leaf;
  }
  let common = 0;
  while (
    common < child.label.length &&
    position + common < text.length &&
    child.label.charCodeAt(common) === text.charCodeAt(position + common)
  ) {
    common++;
  }
  if (common === child.label.length) return insert(child, text, position + common);
  const middle: RadixNode = {
    label: child.label.slice(0, common),
    group: EMPTY_GROUP,
    children: new Map([[child.label.charCodeAt(common), child]]),
  };
  child.label = child.label.slice(common);
  node.children.set(code, middle);
  return insert(middle, text, position + common);
}

function groupOf(statements: CompiledStatement[]): StatementGroup {
  if (statements.length < CONDITION_INDEX_MIN_STATEMENTS) return { always: statements, byCondition: [] };
  const always: CompiledStatement[] = [];
  const byKey = new Map<string, { byValue: Map<string, CompiledStatement[]>; all: CompiledStatement[] }>();
  for (const statement of statements) {
    const condition = statement.conditions.find((candidate) => candidate.exactValues !== null);
    if (condition === undefined) {
      always.push(statement);
      continue;
    }
    let index = byKey.get(condition.key);
    if (index === undefined) {
      index = { byValue: new Map(), all: [] };
      byKey.set(condition.key, index);
    }
    index.all.push(statement);
    for (const value of new Set(condition.exactValues)) {
      const list = index.byValue.get(value);
      if (list === undefined) index.byValue.set(value, [statement]);
      else list.push(statement);
    }
  }
  return { always, byCondition: [...byKey].map(([key, index]) => ({ key, ...index })) };
}
