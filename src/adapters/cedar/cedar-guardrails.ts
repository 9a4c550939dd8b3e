import { readFileSync } from 'node:fs';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { guardrailError } from '../../domain/guardrails/errors.ts';
import {
  GUARDRAIL_DECISION_CACHE_ENTRIES,
  MAX_GUARDRAIL_POLICIES,
  MAX_GUARDRAIL_POLICY_ID_CHARS,
  MAX_GUARDRAIL_TEXT_BYTES,
  MAX_REPORTED_VALIDATION_ERRORS,
} from '../../domain/guardrails/limits.ts';
import type { CompiledGuardrails, GuardrailCompiler } from '../../domain/guardrails/ports.ts';
import { checkGuardrailRequest } from '../../domain/guardrails/request.ts';
import type {
  GuardrailDecision,
  GuardrailEvaluationError,
  GuardrailRequest,
} from '../../domain/guardrails/types.ts';
import { randomHexId } from '../../platform/ids.ts';
import { ACTION_TYPE, cedarRequestOf, NAMESPACE, principalType, resourceType } from './cedar-request.ts';
import { DecisionCache, decisionCacheKey, keyProjectionOf, type KeyProjection } from './decision-cache.ts';

/**
 * Platform guardrails in Cedar (https://docs.cedarpolicy.com/), evaluated in-process by the
 * official WebAssembly build. A set is compiled once: split into policies, each named by its
 * @id annotation, validated against sovra.cedarschema in strict mode, and pre-parsed into the
 * WASM module, where evaluation reuses it. Reference:
 * docs/reference/cedar-guardrails.md.
 */

/** Pre-parsed sets kept in the WASM module per compiler; an older set falls back to stateless calls. */
export const PREPARSED_SET_SLOTS = 4;

/** The platform schema shipped beside this file. */
export function readSovraSchema(): string {
  return readFileSync(new URL('./sovra.cedarschema', import.meta.url), 'utf8');
}

/** The default guardrails shipped beside this file. */
export function readDefaultGuardrails(): string {
  return readFileSync(new URL('./default-guardrails.cedar', import.meta.url), 'utf8');
}

interface ActionSignature {
  principalTypes: ReadonlySet<string>;
  resourceTypes: ReadonlySet<string>;
  /** The action as a Cedar entity whose parents are all the groups it belongs to, transitively. */
  entity: cedar.EntityJson;
}

export class CedarGuardrailCompiler implements GuardrailCompiler {
  readonly actions: readonly string[];
  readonly #schemaText: string;
  readonly #signatures: ReadonlyMap<string, ActionSignature>;
  readonly #slotPrefix: string;
  readonly #slotOwners: (CedarGuardrailSet | null)[] = new Array<CedarGuardrailSet | null>(
    PREPARSED_SET_SLOTS,
  ).fill(null);
  #nextSlot = 0;

  /** `schemaText` defaults to the shipped sovra.cedarschema; a schema that does not parse is a startup error. */
  constructor(options: { schemaText?: string } = {}) {
    this.#schemaText = options.schemaText ?? readSovraSchema();
    // Pre-parsed names live in the WASM module's global table: a random prefix keeps two
    // compilers (tests, a future second platform in one process) apart.
    this.#slotPrefix = `sovra-guardrails-${randomHexId(8)}`;
    this.#signatures = actionSignatures(this.#schemaText);
    this.actions = Object.freeze([...this.#signatures.keys()]);
  }

  compile(text: string): CedarGuardrailSet {
    const policies = splitPolicies(text);
    validate(this.#schemaText, policies);
    const projection = keyProjectionOf([...policies.values()].map((policy) => policy.json));
    const staticPolicies = Object.fromEntries([...policies].map(([id, policy]) => [id, policy.text]));
    const slot = `${this.#slotPrefix}-set-${this.#nextSlot}`;
    const preparsed = cedar.preparsePolicySet(slot, { staticPolicies });
    if (preparsed.type === 'failure')
      throw refused('the policies do not parse', messagesOf(preparsed.errors));
    // The slot's previous set (if still referenced somewhere) now evaluates without pre-parsing.
    this.#slotOwners[this.#nextSlot]?.evictPreparsed();
    const set = new CedarGuardrailSet({
      text,
      policies: new Map([...policies].map(([id, policy]) => [id, policy.text])),
      staticPolicies,
      projection,
      preparsedId: slot,
      signatures: this.#signatures,
    });
    this.#slotOwners[this.#nextSlot] = set;
    this.#nextSlot = (this.#nextSlot + 1) % PREPARSED_SET_SLOTS;
    return set;
  }
}

export class CedarGuardrailSet implements CompiledGuardrails {
  readonly text: string;
  readonly policies: ReadonlyMap<string, string>;
  readonly readsEntityIdentity: boolean;
  readonly #staticPolicies: Record<string, string>;
  readonly #projection: KeyProjection;
  readonly #signatures: ReadonlyMap<string, ActionSignature>;
  readonly #cache = new DecisionCache(GUARDRAIL_DECISION_CACHE_ENTRIES);
  #preparsedId: string | null;

  constructor(parts: {
    text: string;
    policies: ReadonlyMap<string, string>;
    staticPolicies: Record<string, string>;
    projection: KeyProjection;
    preparsedId: string;
    signatures: ReadonlyMap<string, ActionSignature>;
  }) {
    this.text = parts.text;
    this.policies = parts.policies;
    this.#staticPolicies = parts.staticPolicies;
    this.#projection = parts.projection;
    this.readsEntityIdentity =
      parts.projection.entityIds || parts.projection.parents || parts.projection.tags;
    this.#preparsedId = parts.preparsedId;
    this.#signatures = parts.signatures;
  }

  evaluate(request: GuardrailRequest): GuardrailDecision {
    checkGuardrailRequest(request);
    const signature = this.#signatureOf(request);
    const call = cedarRequestOf(request);
    const key = decisionCacheKey(this.#projection, call);
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached;
    // The entities carry their types explicitly (__entity, __extn) and were built from checked
    // domain values, so Cedar is called without the schema, which makes a call several times
    // cheaper; the action's groups come from the schema as an action entity instead.
    // test/unit/guardrails-cedar.test.ts proves that the requests conform to the schema.
    const entities = [...call.entities, signature.entity];
    const answer =
      this.#preparsedId === null
        ? cedar.isAuthorized({ ...call, entities, policies: { staticPolicies: this.#staticPolicies } })
        : cedar.statefulIsAuthorized({ ...call, entities, preparsedPolicySetId: this.#preparsedId });
    const decision = decisionOf(answer);
    this.#cache.set(key, decision);
    return decision;
  }

  /** Called by the compiler when this set's pre-parsed slot is taken by a newer set. */
  evictPreparsed(): void {
    this.#preparsedId = null;
  }

  #signatureOf(request: GuardrailRequest): ActionSignature {
    const signature = this.#signatures.get(request.action);
    if (signature === undefined) {
      throw guardrailError(
        'InvalidGuardrailRequest',
        `${request.action.slice(0, 128)} is not a Sovra action`,
      );
    }
    const principal = principalType(request.principal);
    const resource = resourceType(request.resource);
    if (!signature.principalTypes.has(principal) || !signature.resourceTypes.has(resource)) {
      throw guardrailError(
        'InvalidGuardrailRequest',
        `${request.action} does not apply to a ${principal} acting on a ${resource}`,
      );
    }
    return signature;
  }
}

interface SplitPolicy {
  text: string;
  json: cedar.PolicyJson;
}

/** Splits the text into policies keyed by their @id, refusing what guardrails cannot be. */
function splitPolicies(text: string): Map<string, SplitPolicy> {
  if (typeof text !== 'string' || Buffer.byteLength(text, 'utf8') > MAX_GUARDRAIL_TEXT_BYTES) {
    throw refused(`a guardrail set is at most ${MAX_GUARDRAIL_TEXT_BYTES} bytes of text`);
  }
  const parts = cedar.policySetTextToParts(text);
  if (parts.type === 'failure') throw refused('the policies do not parse', messagesOf(parts.errors));
  if (parts.policy_templates.length > 0) {
    throw refused('guardrails are static policies: templates (?principal, ?resource) are not allowed');
  }
  if (parts.policies.length > MAX_GUARDRAIL_POLICIES) {
    throw refused(`a guardrail set has at most ${MAX_GUARDRAIL_POLICIES} policies`);
  }
  // Cedar returns the policies sorted by its generated ids (policy0, policy1, policy10, …); each
  // is a verbatim slice of the text, so its offset restores the order of the file.
  const located = parts.policies
    .map((policyText) => ({ policyText, offset: text.indexOf(policyText) }))
    .sort((a, b) => (a.offset === -1 || b.offset === -1 ? 0 : a.offset - b.offset));
  const policies = new Map<string, SplitPolicy>();
  for (const { policyText, offset } of located) {
    const parsed = cedar.policyToJson(policyText);
    if (parsed.type === 'failure') throw refused('the policies do not parse', messagesOf(parsed.errors));
    const id = parsed.json.annotations?.id;
    if (typeof id !== 'string' || id.trim() === '' || id.length > MAX_GUARDRAIL_POLICY_ID_CHARS) {
      const where =
        offset === -1 ? 'a policy' : `the policy at line ${text.slice(0, offset).split('\n').length}`;
      throw refused(
        `${where} needs an @id("…") annotation of 1 to ${MAX_GUARDRAIL_POLICY_ID_CHARS} characters: explain and audit records name policies by it`,
      );
    }
    if (policies.has(id)) throw refused(`the @id ${JSON.stringify(id)} is used by two policies`);
    policies.set(id, { text: policyText, json: parsed.json });
  }
  if (![...policies.values()].some((policy) => policy.json.effect === 'permit')) {
    // Cedar denies by default: a set without a permit would forbid every request on the platform.
    throw refused(
      'a guardrail set needs at least one permit; guardrails bound IAM with one broad permit and forbids',
    );
  }
  return policies;
}

function validate(schemaText: string, policies: ReadonlyMap<string, SplitPolicy>): void {
  const staticPolicies = Object.fromEntries([...policies].map(([id, policy]) => [id, policy.text]));
  const answer = cedar.validate({
    schema: schemaText,
    policies: { staticPolicies },
    validationSettings: { mode: 'strict' },
  });
  if (answer.type === 'failure') throw refused('the policies do not validate', messagesOf(answer.errors));
  if (answer.validationErrors.length > 0) {
    throw refused(
      'the policies do not validate against the Sovra schema',
      answer.validationErrors.map((error) => `${error.policyId}: ${detailedMessage(error.error)}`),
    );
  }
}

/** Cedar's answer as a guardrail decision. Any error denies: a forbid that failed to evaluate must not let a request through. */
function decisionOf(answer: cedar.AuthorizationAnswer): GuardrailDecision {
  if (answer.type === 'failure') {
    return Object.freeze({
      decision: 'deny',
      determiningPolicies: Object.freeze([]),
      errors: Object.freeze(
        answer.errors.map((error) => ({ policyId: null, message: detailedMessage(error) })),
      ),
    });
  }
  const diagnostics = answer.response.diagnostics;
  const errors: GuardrailEvaluationError[] = diagnostics.errors.map((error) => ({
    policyId: error.policyId,
    message: detailedMessage(error.error),
  }));
  return Object.freeze({
    decision: answer.response.decision === 'allow' && errors.length === 0 ? 'allow' : 'deny',
    determiningPolicies: Object.freeze([...diagnostics.reason]),
    errors: Object.freeze(errors),
  });
}

function actionSignatures(schemaText: string): Map<string, ActionSignature> {
  const answer = cedar.schemaToJson(schemaText);
  if (answer.type === 'failure') throw refused('the schema does not parse', messagesOf(answer.errors));
  const namespace = answer.json[NAMESPACE];
  if (namespace === undefined) throw refused(`the schema has no ${NAMESPACE} namespace`);
  const actions = namespace.actions;
  const qualify = (type: string) => (type.includes('::') ? type : `${NAMESPACE}::${type}`);
  const groupsOf = (name: string, seen = new Set<string>()): Set<string> => {
    for (const parent of actions[name]?.memberOf ?? []) {
      if (seen.has(parent.id)) continue;
      seen.add(parent.id);
      groupsOf(parent.id, seen);
    }
    return seen;
  };
  const signatures = new Map<string, ActionSignature>();
  for (const [name, action] of Object.entries(actions)) {
    // Actions that apply to nothing are groups (ReadData, KeyUse, …): policies name them, requests do not.
    const appliesTo = action.appliesTo;
    if (
      appliesTo === undefined ||
      appliesTo.principalTypes.length === 0 ||
      appliesTo.resourceTypes.length === 0
    ) {
      continue;
    }
    signatures.set(name, {
      principalTypes: new Set(appliesTo.principalTypes.map(qualify)),
      resourceTypes: new Set(appliesTo.resourceTypes.map(qualify)),
      entity: {
        uid: { type: ACTION_TYPE, id: name },
        attrs: {},
        parents: [...groupsOf(name)].map((group) => ({ type: ACTION_TYPE, id: group })),
      },
    });
  }
  return signatures;
}

function detailedMessage(error: cedar.DetailedError): string {
  return error.help === null ? error.message : `${error.message} (${error.help})`;
}

function messagesOf(errors: readonly cedar.DetailedError[]): string[] {
  return errors.map(detailedMessage);
}

function refused(summary: string, messages: readonly string[] = []) {
  const reported = messages.slice(0, MAX_REPORTED_VALIDATION_ERRORS);
  const more = messages.length - reported.length;
  const listed =
    reported.length === 0 ? '' : `: ${reported.join('; ')}${more > 0 ? `; and ${more} more` : ''}`;
  return guardrailError('InvalidGuardrails', `Guardrails refused: ${summary}${listed}`, {
    messages: reported,
  });
}
