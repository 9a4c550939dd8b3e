import type { Context, PolicyJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { GuardrailDecision } from '../../domain/guardrails/types.ts';
import { ACTION_TYPE, type CedarRequest } from './cedar-request.ts';

/**
 * Guardrail decisions remembered per compiled set. A call into Cedar's WebAssembly build costs
 * a few hundred microseconds (the request crosses the JS/WASM boundary as JSON), far above the
 * platform's budget per request, while the requests themselves repeat: the same kinds of
 * principals doing the same actions on data of the same labels. A Cedar decision is a pure
 * function of the policies and the request, so it may be reused for any request that agrees on
 * everything the policies can observe.
 *
 * What the policies can observe is found by walking their JSON form
 * (https://docs.cedarpolicy.com/policies/json-format.html) once, when the set is compiled:
 * - attributes are read only by name (`e.attr`, `e has attr`), so an attribute whose name no
 *   policy mentions cannot change a decision and is left out of the key;
 * - entity ids matter only when a policy names an entity literal, uses principal or resource as
 *   a value (`==`, `in`, a set member) — otherwise they are left out, so one decision serves
 *   every object of the same label;
 * - the entity hierarchy matters only when a policy uses `in`; tags only with getTag/hasTag;
 * - the whole context counts when a policy uses `context` as a value.
 * Types and the action are always in the key. The projection over-approximates (an attribute
 * name read on one entity type counts on all), which costs cache hits, never correctness.
 */
export interface KeyProjection {
  readonly entityIds: boolean;
  readonly parents: boolean;
  readonly tags: boolean;
  readonly wholeContext: boolean;
  readonly attributes: ReadonlySet<string>;
}

export function keyProjectionOf(policies: readonly PolicyJson[]): KeyProjection {
  const found = {
    entityIds: false,
    parents: false,
    tags: false,
    wholeContext: false,
    attributes: new Set<string>(),
  };
  for (const policy of policies) {
    for (const scope of [policy.principal, policy.resource]) {
      if (scope.op === '==' || scope.op === 'in') found.entityIds = true;
      if (scope.op === 'in' || (scope.op === 'is' && scope.in !== undefined)) {
        found.entityIds = true;
        found.parents = true;
      }
    }
    for (const condition of policy.conditions) visitExpression(condition.body, found);
  }
  return found;
}

/**
 * The cache key of a request: everything the projection keeps, as one string. Each value is
 * encoded so that it delimits itself (JSON strings, bracketed lists, `@"type""id"` for entity
 * references), so two different requests never share a key.
 */
export function decisionCacheKey(projection: KeyProjection, request: CedarRequest): string {
  let key = `${JSON.stringify(request.action.id)}${request.principal.type} ${request.resource.type}`;
  if (projection.entityIds) {
    key += `#${JSON.stringify(request.principal.id)}${JSON.stringify(request.resource.id)}`;
  }
  for (const entity of request.entities) {
    key += `|${encodeRecord(projection.attributes, entity.attrs)}`;
    if (projection.parents) key += `<${encodeValue(entity.parents.map((parent) => ({ __entity: parent })))}`;
    if (projection.tags) key += `^${JSON.stringify(entity.tags ?? {})}`;
  }
  key += '|';
  key += projection.wholeContext
    ? JSON.stringify(request.context)
    : encodeRecord(projection.attributes, request.context);
  return key;
}

/** A bounded map of decisions; emptied when full, so its size never exceeds `maxEntries`. */
export class DecisionCache {
  readonly #entries = new Map<string, GuardrailDecision>();
  readonly #maxEntries: number;

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  get(key: string): GuardrailDecision | undefined {
    return this.#entries.get(key);
  }

  set(key: string, decision: GuardrailDecision): void {
    if (this.#entries.size >= this.#maxEntries) this.#entries.clear();
    this.#entries.set(key, decision);
  }

  get size(): number {
    return this.#entries.size;
  }
}

interface Found {
  entityIds: boolean;
  parents: boolean;
  tags: boolean;
  wholeContext: boolean;
  attributes: Set<string>;
}

/**
 * Walks an expression of the JSON policy format. Variables are "used as a value" unless they
 * are the left side of an attribute access, `has`, `is` (without `in`) or a tag access.
 */
function visitExpression(node: unknown, found: Found): void {
  if (Array.isArray(node)) {
    for (const element of node) visitExpression(element, found);
    return;
  }
  if (!isRecord(node)) return;
  const record = node;
  if ('Var' in record) {
    useVariableAsValue(record.Var, found);
    return;
  }
  if ('Value' in record) {
    if (namesEntity(record.Value)) found.entityIds = true;
    return;
  }
  for (const [operator, operand] of Object.entries(record)) {
    const fields = isRecord(operand) ? operand : null;
    switch (operator) {
      case '.':
      case 'has':
        if (fields !== null) {
          const attribute = fields.attr;
          for (const name of Array.isArray(attribute) ? attribute : [attribute]) {
            if (typeof name === 'string') found.attributes.add(name);
          }
          visitAccessed(fields.left, found);
        }
        break;
      case 'is':
        if (fields !== null) {
          if (fields.in === undefined) {
            visitAccessed(fields.left, found);
          } else {
            found.parents = true;
            visitExpression(fields.left, found);
            visitExpression(fields.in, found);
          }
        }
        break;
      case 'Record':
        // A record literal's keys are attribute names, not operators.
        if (fields !== null) for (const value of Object.values(fields)) visitExpression(value, found);
        break;
      case 'in':
        // `action in …` reads the action hierarchy, which the schema fixes and the action's id
        // (always in the key) determines; any other `in` reads the entity hierarchy.
        if (fields !== null && isRecord(fields.left) && fields.left.Var === 'action') {
          visitExpression(fields.right, found);
        } else {
          found.parents = true;
          visitExpression(operand, found);
        }
        break;
      case 'getTag':
      case 'hasTag':
        found.tags = true;
        if (fields !== null) {
          visitAccessed(fields.left, found);
          visitExpression(fields.right, found);
        }
        break;
      default:
        visitExpression(operand, found);
    }
  }
}

/** The left side of an access: a bare variable there reads attributes (or the type), not the id. */
function visitAccessed(left: unknown, found: Found): void {
  if (isRecord(left) && 'Var' in left) return;
  visitExpression(left, found);
}

function useVariableAsValue(variable: unknown, found: Found): void {
  if (variable === 'context') found.wholeContext = true;
  else if (variable === 'principal' || variable === 'resource') found.entityIds = true;
  // The action's id is always part of the key.
}

/** Whether a JSON value contains an entity literal other than an action. */
function namesEntity(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(namesEntity);
  if (!isRecord(value)) return false;
  const entity = value.__entity;
  if (isRecord(entity)) return entity.type !== ACTION_TYPE;
  return Object.values(value).some(namesEntity);
}

function encodeRecord(attributes: ReadonlySet<string>, record: Context): string {
  let encoded = '';
  for (const name in record) {
    if (attributes.has(name)) encoded += `${name}=${encodeValue(record[name])};`;
  }
  return encoded;
}

/** A compact, self-delimiting encoding of a Cedar JSON value (cheaper than JSON.stringify on entity references). */
function encodeValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
    case 'boolean':
      return String(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let encoded = '[';
        for (const element of value) encoded += `${encodeValue(element)},`;
        return `${encoded}]`;
      }
      const entity = isRecord(value) ? value.__entity : undefined;
      if (isRecord(entity)) return `@${JSON.stringify(entity.type)}${JSON.stringify(entity.id)}`;
      return JSON.stringify(value);
    }
    case 'bigint':
      return `${value}n`;
    case 'undefined':
    case 'function':
    case 'symbol':
      // Not Cedar values: the entities are built from JSON-like data, so these never occur.
      return typeof value;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
