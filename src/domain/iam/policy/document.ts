import { assertNever } from '../../../platform/errors.ts';
import { isAccountId, parseIamPrincipalArn, splitArn } from './arn.ts';
import {
  conditionValueProblem,
  familyTakesVariables,
  operatorFamily,
  parseConditionOperator,
  type ParsedOperator,
} from './conditions.ts';
import { malformedPolicy, PolicyError } from './errors.ts';
import { isJsonNumber, isJsonObject, readJson, type JsonObject, type JsonValue } from './json.ts';
import { POLICY_JSON_MAX_DEPTH, POLICY_TEXT_MAX_CHARS, type PolicySizeLimit } from './limits.ts';

/**
 * The typed, closed form of a policy document
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html and the
 * grammar at reference_policies_grammar). Every list element is normalized to an array; every
 * value was checked when the document was read.
 */
export type PolicyVersion = '2012-10-17' | '2008-10-17';

/**
 * Identity policies are attached to a user, group or role and name no Principal; resource
 * policies (bucket policies, key policies) are attached to a resource and must name one.
 */
export type PolicyKind = 'identity' | 'resource';

export type PolicyEffect = 'Allow' | 'Deny';

export interface PrincipalMap {
  readonly AWS: readonly string[];
  readonly Federated: readonly string[];
  readonly Service: readonly string[];
  readonly CanonicalUser: readonly string[];
}

export type PrincipalValue =
  { readonly kind: 'everyone' } | { readonly kind: 'listed'; readonly map: PrincipalMap };

/** Principal, or NotPrincipal when `negated`. */
export interface PrincipalElement {
  readonly negated: boolean;
  readonly value: PrincipalValue;
}

/** Action/NotAction or Resource/NotResource. */
export interface ListElement {
  readonly negated: boolean;
  readonly values: readonly string[];
}

export interface PolicyCondition {
  /** `Statement[1].Condition.StringEquals.aws:username`. */
  readonly path: string;
  /** The operator as written, such as `ForAllValues:StringLikeIfExists`. */
  readonly operatorName: string;
  readonly operator: ParsedOperator;
  /** The key as written; keys compare without regard to case. */
  readonly key: string;
  /** Values as strings (JSON numbers and booleans as written), never empty. */
  readonly values: readonly string[];
}

export interface PolicyStatement {
  readonly index: number;
  /** `Statement[1]`, or `Statement` when the policy holds a single statement object. */
  readonly path: string;
  readonly sid: string | null;
  readonly effect: PolicyEffect;
  /** Null in identity policies. */
  readonly principal: PrincipalElement | null;
  readonly action: ListElement;
  readonly resource: ListElement;
  readonly conditions: readonly PolicyCondition[];
}

export interface PolicyDocument {
  readonly kind: PolicyKind;
  /** "If you do not include a Version element, the value defaults to 2008-10-17" (reference_policies_elements_version). */
  readonly version: PolicyVersion;
  readonly id: string | null;
  readonly statements: readonly PolicyStatement[];
}

export interface ParsePolicyOptions {
  kind: PolicyKind;
  sizeLimit: PolicySizeLimit;
}

/**
 * Reads a policy document. Fails with PolicyError `PolicyTooLarge` when the document, measured
 * as AWS does, is over the limit, and `MalformedPolicy` — its message starting with the path of
 * the offending element — for anything else that AWS would refuse.
 */
export function parsePolicyDocument(text: string, options: ParsePolicyOptions): PolicyDocument {
  if (text.length > POLICY_TEXT_MAX_CHARS) throw tooLarge(options.sizeLimit);
  const json = readJson(text, POLICY_JSON_MAX_DEPTH);
  const size = options.sizeLimit.unit === 'utf8Bytes' ? json.utf8Bytes : json.characters;
  if (size > options.sizeLimit.maxSize) throw tooLarge(options.sizeLimit);
  if (!isJsonObject(json.value)) throw malformedPolicy('', 'the policy must be a JSON object');
  return readDocument(json.value, options.kind);
}

function tooLarge(limit: PolicySizeLimit): PolicyError {
  const unit = limit.unit === 'utf8Bytes' ? 'bytes' : 'characters';
  return new PolicyError(
    'PolicyTooLarge',
    `the policy is larger than ${limit.maxSize} ${unit} (whitespace between JSON tokens is not counted)`,
    { maxSize: limit.maxSize, unit },
  );
}

const DOCUMENT_KEYS = new Set(['Version', 'Id', 'Statement']);
const STATEMENT_KEYS = new Set([
  'Sid',
  'Effect',
  'Principal',
  'NotPrincipal',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Condition',
]);
const PRINCIPAL_TYPES = ['AWS', 'Federated', 'Service', 'CanonicalUser'] as const;

function readDocument(object: JsonObject, kind: PolicyKind): PolicyDocument {
  for (const key of object.keys()) {
    if (!DOCUMENT_KEYS.has(key)) throw malformedPolicy(key, `unknown policy element ${JSON.stringify(key)}`);
  }
  const versionValue = object.get('Version');
  let version: PolicyVersion = '2008-10-17';
  if (versionValue !== undefined) {
    if (versionValue !== '2012-10-17' && versionValue !== '2008-10-17') {
      throw malformedPolicy('Version', 'the policy language version must be "2012-10-17" or "2008-10-17"');
    }
    version = versionValue;
  }
  const idValue = object.get('Id');
  if (idValue !== undefined && typeof idValue !== 'string') throw malformedPolicy('Id', 'must be a string');
  const statementValue = object.get('Statement');
  if (statementValue === undefined) throw malformedPolicy('Statement', 'the policy has no Statement');
  const single = !Array.isArray(statementValue);
  const list = Array.isArray(statementValue) ? statementValue : [statementValue];
  if (list.length === 0) throw malformedPolicy('Statement', 'must hold at least one statement');
  const statements = list.map((value, index) =>
    readStatement(value, index, single ? 'Statement' : `Statement[${index}]`, kind, version),
  );
  checkSidsUnique(statements);
  return { kind, version, id: idValue ?? null, statements };
}

function readStatement(
  value: JsonValue,
  index: number,
  path: string,
  kind: PolicyKind,
  version: PolicyVersion,
): PolicyStatement {
  if (!isJsonObject(value)) throw malformedPolicy(path, 'a statement must be a JSON object');
  for (const key of value.keys()) {
    if (!STATEMENT_KEYS.has(key))
      throw malformedPolicy(`${path}.${key}`, `unknown statement element ${JSON.stringify(key)}`);
  }
  return {
    index,
    path,
    sid: readSid(value, path, kind),
    effect: readEffect(value, path),
    principal: readPrincipalElement(value, path, kind),
    action: readListElement(value, path, 'Action', 'NotAction', checkAction),
    resource: readListElement(value, path, 'Resource', 'NotResource', checkResource),
    conditions: readConditions(value.get('Condition'), `${path}.Condition`, version),
  };
}

function readSid(statement: JsonObject, path: string, kind: PolicyKind): string | null {
  const sid = statement.get('Sid');
  if (sid === undefined) return null;
  if (typeof sid !== 'string') throw malformedPolicy(`${path}.Sid`, 'must be a string');
  // "For IAM policies, basic alphanumeric characters (A-Z,a-z,0-9) are the only allowed characters
  // in the Sid value"; resource policies (S3, KMS) also allow spaces and more (grammar notes).
  if (kind === 'identity' && !/^[A-Za-z0-9]*$/.test(sid)) {
    throw malformedPolicy(`${path}.Sid`, 'in an identity policy the Sid may hold only letters and digits');
  }
  return sid;
}

function readEffect(statement: JsonObject, path: string): PolicyEffect {
  const effect = statement.get('Effect');
  if (effect === undefined) throw malformedPolicy(`${path}.Effect`, 'the statement has no Effect');
  if (effect !== 'Allow' && effect !== 'Deny')
    throw malformedPolicy(`${path}.Effect`, 'must be "Allow" or "Deny"');
  return effect;
}

function readPrincipalElement(
  statement: JsonObject,
  path: string,
  kind: PolicyKind,
): PrincipalElement | null {
  const principal = statement.get('Principal');
  const notPrincipal = statement.get('NotPrincipal');
  if (kind === 'identity') {
    // "You cannot use the Principal element in an identity-based policy" (reference_policies_elements_principal).
    if (principal !== undefined) {
      throw malformedPolicy(`${path}.Principal`, 'an identity policy must not name a Principal');
    }
    if (notPrincipal !== undefined) {
      throw malformedPolicy(`${path}.NotPrincipal`, 'an identity policy must not name a NotPrincipal');
    }
    return null;
  }
  if (principal !== undefined && notPrincipal !== undefined) {
    throw malformedPolicy(`${path}.NotPrincipal`, 'a statement may have Principal or NotPrincipal, not both');
  }
  if (principal === undefined && notPrincipal === undefined) {
    throw malformedPolicy(
      `${path}.Principal`,
      'a resource policy statement must name a Principal or NotPrincipal',
    );
  }
  const negated = principal === undefined;
  const elementPath = `${path}.${negated ? 'NotPrincipal' : 'Principal'}`;
  return { negated, value: readPrincipalValue((principal ?? notPrincipal)!, elementPath) };
}

function readPrincipalValue(value: JsonValue, path: string): PrincipalValue {
  if (value === '*') return { kind: 'everyone' };
  if (!isJsonObject(value))
    throw malformedPolicy(path, 'must be "*" or an object such as {"AWS": "arn:aws:iam::…"}');
  if (value.size === 0) throw malformedPolicy(path, 'must name at least one principal');
  const map = {
    AWS: [] as string[],
    Federated: [] as string[],
    Service: [] as string[],
    CanonicalUser: [] as string[],
  };
  for (const [type, ids] of value) {
    const principalType = PRINCIPAL_TYPES.find((candidate) => candidate === type);
    if (principalType === undefined) {
      throw malformedPolicy(
        `${path}.${type}`,
        `unknown principal type ${JSON.stringify(type)} (AWS, Federated, Service or CanonicalUser)`,
      );
    }
    const list = stringList(ids, `${path}.${type}`);
    list.forEach((id, index) =>
      checkPrincipalId(
        principalType,
        id,
        Array.isArray(ids) ? `${path}.${type}[${index}]` : `${path}.${type}`,
      ),
    );
    map[principalType] = list;
  }
  return { kind: 'listed', map };
}

function checkPrincipalId(type: (typeof PRINCIPAL_TYPES)[number], id: string, path: string): void {
  switch (type) {
    case 'AWS':
      // "You can use * only to specify everyone/anonymous. You cannot use it to specify part of a
      // name or ARN" (grammar notes, principal_id_string).
      if (id === '*' || isAccountId(id) || (!/[*?]/.test(id) && parseIamPrincipalArn(id) !== null)) return;
      throw malformedPolicy(
        path,
        `${JSON.stringify(id)} is not "*", an account id, or the ARN of an account root, user, role, assumed-role session or federated user`,
      );
    case 'Service':
      if (/^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(id)) return;
      throw malformedPolicy(
        path,
        `${JSON.stringify(id)} is not a service principal such as "logging.s3.amazonaws.com"`,
      );
    case 'Federated':
    case 'CanonicalUser':
      if (/^[^\s*?]+$/.test(id)) return;
      throw malformedPolicy(path, `${JSON.stringify(id)} is not a valid ${type} principal`);
    default:
      assertNever(type, 'principal type');
  }
}

function readListElement(
  statement: JsonObject,
  path: string,
  name: 'Action' | 'Resource',
  notName: 'NotAction' | 'NotResource',
  check: (value: string, path: string) => void,
): ListElement {
  const positive = statement.get(name);
  const negative = statement.get(notName);
  if (positive !== undefined && negative !== undefined) {
    throw malformedPolicy(`${path}.${notName}`, `a statement may have ${name} or ${notName}, not both`);
  }
  if (positive === undefined && negative === undefined) {
    throw malformedPolicy(`${path}.${name}`, `the statement has no ${name} or ${notName}`);
  }
  const negated = positive === undefined;
  const elementPath = `${path}.${negated ? notName : name}`;
  const raw = (positive ?? negative)!;
  const values = stringList(raw, elementPath);
  values.forEach((value, index) =>
    check(value, Array.isArray(raw) ? `${elementPath}[${index}]` : elementPath),
  );
  return { negated, values };
}

/** "A service namespace, a colon, and the name of an action. Action names can include wildcards." */
function checkAction(action: string, path: string): void {
  if (action === '*' || /^[A-Za-z0-9-]+:[A-Za-z0-9*?_.-]+$/.test(action)) return;
  throw malformedPolicy(
    path,
    `${JSON.stringify(action)} is not an action such as "s3:GetObject", "s3:Get*" or "*"`,
  );
}

function checkResource(resource: string, path: string): void {
  if (resource === '*') return;
  const parts = splitArn(resource);
  if (parts !== null && parts[1] !== '' && parts[2] !== '' && parts[5] !== '') return;
  throw malformedPolicy(
    path,
    `${JSON.stringify(resource)} is not "*" or an ARN (arn:partition:service:region:account:resource)`,
  );
}

function readConditions(
  value: JsonValue | undefined,
  path: string,
  version: PolicyVersion,
): PolicyCondition[] {
  if (value === undefined) return [];
  if (!isJsonObject(value)) throw malformedPolicy(path, 'must be an object of condition operators');
  const conditions: PolicyCondition[] = [];
  for (const [operatorName, block] of value) {
    const operatorPath = `${path}.${operatorName}`;
    const operator = parseConditionOperator(operatorName);
    if (operator === null)
      throw malformedPolicy(operatorPath, `unknown condition operator ${JSON.stringify(operatorName)}`);
    if (!isJsonObject(block))
      throw malformedPolicy(operatorPath, 'must be an object of condition keys and values');
    if (block.size === 0) throw malformedPolicy(operatorPath, 'names no condition key');
    const family = operatorFamily(operator.base);
    const variables = version === '2012-10-17' && familyTakesVariables(family);
    for (const [key, raw] of block) {
      const keyPath = `${operatorPath}.${key}`;
      // Web identity keys are prefixed with the provider's host: "idp.example.gov:aud" (AWS IAM
      // "Available keys for AWS web identity federation").
      if (!/^[A-Za-z0-9.-]+:\S/.test(key)) {
        throw malformedPolicy(
          keyPath,
          `${JSON.stringify(key)} is not a condition key such as "aws:SourceIp"`,
        );
      }
      const values = conditionValues(raw, keyPath);
      values.forEach((text, index) => {
        const problem = conditionValueProblem(family, text, variables);
        if (problem !== null)
          throw malformedPolicy(Array.isArray(raw) ? `${keyPath}[${index}]` : keyPath, problem);
      });
      conditions.push({ path: keyPath, operatorName, operator, key, values });
    }
  }
  return conditions;
}

/** A condition value is a string, number or Boolean, or a non-empty list of them (grammar: condition_value). */
function conditionValues(raw: JsonValue, path: string): string[] {
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw malformedPolicy(path, 'must hold at least one value');
  return list.map((item, index) => {
    if (typeof item === 'string') return item;
    if (typeof item === 'boolean') return item ? 'true' : 'false';
    if (item !== null && isJsonNumber(item)) return item.numberText;
    throw malformedPolicy(
      Array.isArray(raw) ? `${path}[${index}]` : path,
      'a condition value must be a string, number or Boolean',
    );
  });
}

/** A string, or a non-empty list of non-empty strings. */
function stringList(raw: JsonValue, path: string): string[] {
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw malformedPolicy(path, 'must not be an empty list');
  return list.map((item, index) => {
    const itemPath = Array.isArray(raw) ? `${path}[${index}]` : path;
    if (typeof item !== 'string') throw malformedPolicy(itemPath, 'must be a string or a list of strings');
    if (item === '') throw malformedPolicy(itemPath, 'must not be empty');
    return item;
  });
}

function checkSidsUnique(statements: readonly PolicyStatement[]): void {
  const seen = new Map<string, string>();
  for (const statement of statements) {
    if (statement.sid === null || statement.sid === '') continue;
    const earlier = seen.get(statement.sid);
    if (earlier !== undefined) {
      throw malformedPolicy(
        `${statement.path}.Sid`,
        `duplicate Sid ${JSON.stringify(statement.sid)} (also ${earlier})`,
      );
    }
    seen.set(statement.sid, statement.path);
  }
}
