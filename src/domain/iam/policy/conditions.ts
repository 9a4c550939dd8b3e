import { BlockList, isIP } from 'node:net';
import { assertNever } from '../../../platform/errors.ts';
import { compileArnPattern, matchArnPattern, type ArnPattern } from './arn.ts';
import { malformedPolicy } from './errors.ts';
import { compilePattern, matchPattern, type Pattern, type VariableSource } from './wildcard.ts';

/**
 * The condition operators of the IAM policy language
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html),
 * each with the family that decides how values compare, the positive comparison it makes, and
 * whether it is a negated matching operator (whose values are combined with NOR, not OR).
 */
const OPERATORS = {
  StringEquals: { family: 'string', comparison: 'equals', negated: false },
  StringNotEquals: { family: 'string', comparison: 'equals', negated: true },
  StringEqualsIgnoreCase: { family: 'string', comparison: 'equalsIgnoreCase', negated: false },
  StringNotEqualsIgnoreCase: { family: 'string', comparison: 'equalsIgnoreCase', negated: true },
  StringLike: { family: 'string', comparison: 'like', negated: false },
  StringNotLike: { family: 'string', comparison: 'like', negated: true },
  NumericEquals: { family: 'numeric', comparison: 'eq', negated: false },
  NumericNotEquals: { family: 'numeric', comparison: 'eq', negated: true },
  NumericLessThan: { family: 'numeric', comparison: 'lt', negated: false },
  NumericLessThanEquals: { family: 'numeric', comparison: 'le', negated: false },
  NumericGreaterThan: { family: 'numeric', comparison: 'gt', negated: false },
  NumericGreaterThanEquals: { family: 'numeric', comparison: 'ge', negated: false },
  DateEquals: { family: 'date', comparison: 'eq', negated: false },
  DateNotEquals: { family: 'date', comparison: 'eq', negated: true },
  DateLessThan: { family: 'date', comparison: 'lt', negated: false },
  DateLessThanEquals: { family: 'date', comparison: 'le', negated: false },
  DateGreaterThan: { family: 'date', comparison: 'gt', negated: false },
  DateGreaterThanEquals: { family: 'date', comparison: 'ge', negated: false },
  Bool: { family: 'bool', comparison: 'equals', negated: false },
  BinaryEquals: { family: 'binary', comparison: 'equals', negated: false },
  IpAddress: { family: 'ip', comparison: 'within', negated: false },
  NotIpAddress: { family: 'ip', comparison: 'within', negated: true },
  // "The ArnEquals and ArnLike condition operators behave identically" (Conditions_ARN).
  ArnEquals: { family: 'arn', comparison: 'like', negated: false },
  ArnLike: { family: 'arn', comparison: 'like', negated: false },
  ArnNotEquals: { family: 'arn', comparison: 'like', negated: true },
  ArnNotLike: { family: 'arn', comparison: 'like', negated: true },
  Null: { family: 'null', comparison: 'absent', negated: false },
} as const;

export type ConditionOperator = keyof typeof OPERATORS;
export type ConditionFamily = (typeof OPERATORS)[ConditionOperator]['family'];
export type SetQualifier = 'ForAnyValue' | 'ForAllValues';

export const CONDITION_OPERATORS = Object.keys(OPERATORS) as readonly ConditionOperator[];

export interface ParsedOperator {
  base: ConditionOperator;
  qualifier: SetQualifier | null;
  ifExists: boolean;
}

/**
 * `ForAllValues:StringLikeIfExists` → StringLike with a set qualifier and the IfExists suffix,
 * which may be added "to the end of any condition operator name except the Null condition".
 * Operator names are matched exactly, as the grammar writes them.
 */
export function parseConditionOperator(name: string): ParsedOperator | null {
  let rest = name;
  let qualifier: SetQualifier | null = null;
  for (const candidate of ['ForAnyValue', 'ForAllValues'] as const) {
    if (rest.startsWith(`${candidate}:`)) {
      qualifier = candidate;
      rest = rest.slice(candidate.length + 1);
    }
  }
  const ifExists = rest.endsWith('IfExists');
  if (ifExists) rest = rest.slice(0, -'IfExists'.length);
  if (!Object.hasOwn(OPERATORS, rest)) return null;
  const base = rest as ConditionOperator;
  if (ifExists && base === 'Null') return null;
  return { base, qualifier, ifExists };
}

export function operatorFamily(operator: ConditionOperator): ConditionFamily {
  return OPERATORS[operator].family;
}

export function isNegatedOperator(operator: ConditionOperator): boolean {
  return OPERATORS[operator].negated;
}

/**
 * Whether a family's values may hold policy variables: "You can use a policy variable" with the
 * String, ARN and Boolean operators, and "can not" with Numeric, Date, Binary, IP address or Null.
 */
export function familyTakesVariables(family: ConditionFamily): boolean {
  return family === 'string' || family === 'arn' || family === 'bool';
}

/** Checks one policy value for its operator's family; returns what is wrong, or null. */
export function conditionValueProblem(
  family: ConditionFamily,
  value: string,
  variables: boolean,
): string | null {
  switch (family) {
    case 'string':
    case 'arn':
      return null;
    case 'numeric':
      return parseNumber(value) === null ? `${JSON.stringify(value)} is not a number` : null;
    case 'date':
      return parseDateMs(value) === null
        ? `${JSON.stringify(value)} is not an ISO 8601 date (W3C profile) or epoch seconds`
        : null;
    case 'bool':
      return /^(true|false)$/i.test(value) || (variables && value.includes('${'))
        ? null
        : `${JSON.stringify(value)} is not true or false`;
    case 'null':
      return /^(true|false)$/i.test(value) ? null : `${JSON.stringify(value)} is not true or false`;
    case 'binary':
      return BASE64.test(value) ? null : `${JSON.stringify(value)} is not base64`;
    case 'ip':
      return parseCidr(value) === null
        ? `${JSON.stringify(value)} is not an IPv4 or IPv6 address or CIDR block`
        : null;
    default:
      return assertNever(family, 'condition family');
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

// ---- compiled conditions ------------------------------------------------------------------------

type Comparison = 'eq' | 'lt' | 'le' | 'gt' | 'ge';

type CompiledTest =
  | { family: 'string'; patterns: readonly Pattern[]; ignoreCase: boolean }
  | { family: 'numeric'; comparison: Comparison; numbers: readonly number[] }
  | { family: 'date'; comparison: Comparison; times: readonly number[] }
  | { family: 'bool'; patterns: readonly Pattern[] }
  | { family: 'binary'; bytes: readonly Buffer[] }
  | { family: 'ip'; blocks: BlockList }
  | { family: 'arn'; patterns: readonly ArnPattern[] }
  | { family: 'null'; whenAbsent: boolean; whenPresent: boolean };

export interface CompiledCondition {
  /** `Statement[0].Condition.StringEquals.aws:username`, for explanations. */
  readonly path: string;
  /** The condition key in lower case: key names are not case-sensitive (reference_policies_elements_condition). */
  readonly key: string;
  readonly negated: boolean;
  readonly qualifier: SetQualifier | null;
  readonly ifExists: boolean;
  readonly test: CompiledTest;
  /**
   * For a condition that can hold only when the request's value is one of these fixed strings
   * (StringEquals or ForAnyValue:StringEquals, no IfExists, no variables), the strings: a policy
   * indexes its statements by them.
   */
  readonly exactValues: readonly string[] | null;
}

/** What a condition reads from the request: values by lower-case key, and split ARNs (cached). */
export interface ConditionSource extends VariableSource {
  conditionValues(key: string): readonly string[] | undefined;
  arnParts(value: string): readonly string[] | null;
}

export interface ConditionToCompile {
  path: string;
  operator: ParsedOperator;
  key: string;
  values: readonly string[];
}

/** Compiles a parsed condition; a value its operator cannot read is MalformedPolicy. */
export function compileCondition(condition: ConditionToCompile, variables: boolean): CompiledCondition {
  const { base, qualifier, ifExists } = condition.operator;
  const info = OPERATORS[base];
  for (const value of condition.values) {
    const problem = conditionValueProblem(info.family, value, variables);
    if (problem !== null) throw malformedPolicy(condition.path, problem);
  }
  const test = compileTest(base, condition.values, variables);
  const exact =
    base === 'StringEquals' &&
    !ifExists &&
    qualifier !== 'ForAllValues' &&
    test.family === 'string' &&
    test.patterns.every((pattern) => pattern.literal !== null);
  return {
    path: condition.path,
    key: condition.key.toLowerCase(),
    negated: info.negated,
    qualifier,
    ifExists,
    test,
    exactValues: exact ? condition.values : null,
  };
}

function compileTest(
  operator: ConditionOperator,
  values: readonly string[],
  variables: boolean,
): CompiledTest {
  const info = OPERATORS[operator];
  switch (info.family) {
    case 'string': {
      const ignoreCase = info.comparison === 'equalsIgnoreCase';
      const syntax = { wildcards: info.comparison === 'like', variables, lowerCase: ignoreCase };
      return { family: 'string', ignoreCase, patterns: values.map((value) => compilePattern(value, syntax)) };
    }
    case 'numeric':
      return {
        family: 'numeric',
        comparison: info.comparison,
        numbers: values.map((value) => parseNumber(value)!),
      };
    case 'date':
      return {
        family: 'date',
        comparison: info.comparison,
        times: values.map((value) => parseDateMs(value)!),
      };
    case 'bool': {
      const syntax = { wildcards: false, variables, lowerCase: true };
      return { family: 'bool', patterns: values.map((value) => compilePattern(value, syntax)) };
    }
    case 'binary':
      return { family: 'binary', bytes: values.map((value) => Buffer.from(value, 'base64')) };
    case 'ip': {
      const blocks = new BlockList();
      for (const value of values) {
        const cidr = parseCidr(value)!;
        blocks.addSubnet(cidr.address, cidr.prefix, cidr.family === 4 ? 'ipv4' : 'ipv6');
      }
      return { family: 'ip', blocks };
    }
    case 'arn':
      return { family: 'arn', patterns: values.map((value) => compileArnPattern(value, variables)) };
    case 'null': {
      // Null: "true" (the key doesn't exist) or "false" (the key exists); several values are ORed.
      const wanted = values.map((value) => value.toLowerCase() === 'true');
      return { family: 'null', whenAbsent: wanted.includes(true), whenPresent: wanted.includes(false) };
    }
    default:
      return assertNever(info, 'condition operator');
  }
}

/**
 * Evaluates one condition key of one operator
 * (reference_policies_condition-logic-multiple-context-keys-or-values):
 * - a key absent from the request makes the condition false, or true for a negated operator, except
 *   that `...IfExists` is then true, `Null` tests exactly that, `ForAllValues` is true and
 *   `ForAnyValue` false ("If the key values in the request resolve to an empty data set ...");
 * - several policy values are ORed, and NORed for a negated operator;
 * - ForAnyValue: some request value satisfies the operator; ForAllValues: every request value does.
 */
export function conditionHolds(condition: CompiledCondition, source: ConditionSource): boolean {
  const values = source.conditionValues(condition.key);
  const present = values !== undefined && values.length > 0;
  const test = condition.test;
  if (test.family === 'null') return present ? test.whenPresent : test.whenAbsent;
  if (!present) {
    if (condition.ifExists || condition.qualifier === 'ForAllValues') return true;
    if (condition.qualifier === 'ForAnyValue') return false;
    return condition.negated;
  }
  switch (condition.qualifier) {
    case null: {
      let any = false;
      for (let i = 0; i < values.length && !any; i++) any = matchesSomeValue(test, values[i]!, source);
      return any !== condition.negated;
    }
    case 'ForAnyValue':
      for (let i = 0; i < values.length; i++) {
        if (matchesSomeValue(test, values[i]!, source) !== condition.negated) return true;
      }
      return false;
    case 'ForAllValues':
      for (let i = 0; i < values.length; i++) {
        if (matchesSomeValue(test, values[i]!, source) === condition.negated) return false;
      }
      return true;
    default:
      return assertNever(condition.qualifier, 'set qualifier');
  }
}

/** Whether one request value matches at least one of the policy's values (the positive comparison). */
function matchesSomeValue(test: CompiledTest, value: string, source: ConditionSource): boolean {
  switch (test.family) {
    case 'string': {
      const text = test.ignoreCase ? value.toLowerCase() : value;
      for (const pattern of test.patterns) if (matchPattern(pattern, text, source)) return true;
      return false;
    }
    case 'bool': {
      const text = value === 'true' || value === 'false' ? value : value.toLowerCase();
      for (const pattern of test.patterns) if (matchPattern(pattern, text, source)) return true;
      return false;
    }
    case 'numeric': {
      const number = parseNumber(value);
      if (number === null) return false;
      for (const expected of test.numbers) if (compare(test.comparison, number, expected)) return true;
      return false;
    }
    case 'date': {
      const time = parseDateMs(value);
      if (time === null) return false;
      for (const expected of test.times) if (compare(test.comparison, time, expected)) return true;
      return false;
    }
    case 'binary': {
      if (!BASE64.test(value)) return false;
      const bytes = Buffer.from(value, 'base64');
      for (const expected of test.bytes) if (expected.equals(bytes)) return true;
      return false;
    }
    case 'ip': {
      const family = isIP(value);
      return family !== 0 && test.blocks.check(value, family === 4 ? 'ipv4' : 'ipv6');
    }
    case 'arn': {
      const parts = source.arnParts(value);
      for (const pattern of test.patterns) if (matchArnPattern(pattern, value, parts, source)) return true;
      return false;
    }
    case 'null':
      return false;
    default:
      return assertNever(test, 'condition test');
  }
}

function compare(comparison: Comparison, actual: number, expected: number): boolean {
  switch (comparison) {
    case 'eq':
      return actual === expected;
    case 'lt':
      return actual < expected;
    case 'le':
      return actual <= expected;
    case 'gt':
      return actual > expected;
    case 'ge':
      return actual >= expected;
    default:
      return assertNever(comparison, 'comparison');
  }
}

// ---- typed values -------------------------------------------------------------------------------

const NUMBER = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

/** An integer or decimal value (Conditions_Numeric). */
export function parseNumber(text: string): number | null {
  if (!NUMBER.test(text)) return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

const W3C_DATE =
  /^([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2})(?:T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?)?)?$/;

/**
 * A date of a Date operator: "one of the W3C implementations of the ISO 8601 date formats" (YYYY,
 * YYYY-MM, YYYY-MM-DD, YYYY-MM-DDThh:mm[:ss[.s]]TZD) "or in epoch (UNIX) time". A text of digits
 * only is read as epoch seconds (aws:EpochTime), so a bare year is not accepted as a date.
 * A time without a zone designator is taken as UTC.
 */
export function parseDateMs(text: string): number | null {
  // A request compares one value (aws:CurrentTime) with many statements' dates: remember the last.
  if (text === lastDate.text) return lastDate.ms;
  const ms = parseDateText(text);
  lastDate = { text, ms };
  return ms;
}

let lastDate: { text: string; ms: number | null } = { text: '', ms: null };

function parseDateText(text: string): number | null {
  if (/^[0-9]{1,15}$/.test(text)) return Number(text) * 1000;
  const match = W3C_DATE.exec(text);
  if (match === null) return null;
  const [, y, mo = '01', d = '01', h = '00', mi = '00', s = '00', fraction = '', zone = 'Z'] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  let offsetMinutes = 0;
  if (zone !== 'Z') {
    const zoneHours = Number(zone.slice(1, 3));
    const zoneMinutes = Number(zone.slice(4, 6));
    if (zoneHours > 23 || zoneMinutes > 59) return null;
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (zoneHours * 60 + zoneMinutes);
  }
  const ms = Number(fraction.padEnd(3, '0').slice(0, 3));
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  return date.getTime() - offsetMinutes * 60_000;
}

function daysInMonth(year: number, month: number): number {
  // Day 0 of the next month is the last day of this one; setUTCFullYear keeps years below 100.
  const date = new Date(0);
  date.setUTCFullYear(year, month, 0);
  return date.getUTCDate();
}

export interface Cidr {
  address: string;
  prefix: number;
  family: 4 | 6;
}

/**
 * An address or CIDR block of IpAddress/NotIpAddress: "203.0.113.0/24 or 2001:DB8:1234:5678::/64";
 * "If you specify an IP address without the associated routing prefix, IAM uses the default
 * prefix value of /32" (and /128 for IPv6, a single address).
 */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const family = isIP(address);
  if (family !== 4 && family !== 6) return null;
  const bits = family === 4 ? 32 : 128;
  if (slash === -1) return { address, prefix: bits, family };
  const prefixText = text.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  return prefix <= bits ? { address, prefix, family } : null;
}
