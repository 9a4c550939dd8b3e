import { assertNever } from '../../../platform/errors.ts';

/**
 * Wildcard patterns of the policy language, compiled once when a policy is read: `*` matches any
 * run of characters and `?` exactly one (Action, Resource, StringLike, ArnLike), and `${key}`
 * policy variables are replaced by request values when the policy is evaluated
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html).
 *
 * Matching walks the pattern's tokens against the text with the classic single-backtrack
 * algorithm, so it is linear in practice and O(pattern × text) at worst whatever a policy's author
 * writes (no regular expression to blow up), and allocates nothing.
 */

export type PatternToken =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'anyRun' }
  | { readonly kind: 'anyChar' }
  | { readonly kind: 'variable'; readonly key: string; readonly fallback: string | null };

/**
 * How a pattern is matched: most policy patterns are plain text (`s3:GetObject`), a prefix
 * (`s3:Get*`, `photos/*`), a suffix or `*` alone, which need no token walk.
 */
export type PatternShape = 'literal' | 'prefix' | 'suffix' | 'any' | 'tokens';

export interface Pattern {
  readonly source: string;
  readonly shape: PatternShape;
  /** The text of a literal pattern, or the fixed part of a prefix or suffix one. */
  readonly text: string;
  readonly tokens: readonly PatternToken[];
  /** The literal text before the first wildcard or variable. */
  readonly literalPrefix: string;
  /** The text to compare with `===` when the pattern has neither wildcards nor variables. */
  readonly literal: string | null;
  readonly hasWildcards: boolean;
  readonly hasVariables: boolean;
  /** Literal text was lower-cased when compiled; resolved variables are lower-cased when matched. */
  readonly lowerCase: boolean;
}

export interface PatternSyntax {
  wildcards: boolean;
  variables: boolean;
  lowerCase: boolean;
}

/** Where policy variables take their values from: the request context, keyed by lower-case name. */
export interface VariableSource {
  variableValue(key: string): string | undefined;
}

const ANY_RUN: PatternToken = { kind: 'anyRun' };
const ANY_CHAR: PatternToken = { kind: 'anyChar' };

/**
 * `${aws:username}`, `${aws:PrincipalTag/team, 'default'}` (a default for a missing key, "Specifying
 * default values"), and `${*}`, `${?}`, `${$}` for the literal characters ("Special characters").
 */
const VARIABLE = /^([^\s,'${}]+)(?:\s*,\s*'([^']*)')?$/;

export function compilePattern(source: string, syntax: PatternSyntax): Pattern {
  const tokens: PatternToken[] = [];
  let literal = '';
  let hasWildcards = false;
  let hasVariables = false;
  const flush = (): void => {
    if (literal !== '')
      tokens.push({ kind: 'literal', text: syntax.lowerCase ? literal.toLowerCase() : literal });
    literal = '';
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (syntax.wildcards && (c === '*' || c === '?')) {
      flush();
      hasWildcards = true;
      // Consecutive stars match what one star matches; keeping one keeps backtracking short.
      if (c === '?') tokens.push(ANY_CHAR);
      else if (tokens.at(-1) !== ANY_RUN) tokens.push(ANY_RUN);
      continue;
    }
    if (syntax.variables && c === '$' && source[i + 1] === '{') {
      const end = source.indexOf('}', i + 2);
      const inner = end === -1 ? null : source.slice(i + 2, end);
      if (inner === '*' || inner === '?' || inner === '$') {
        literal += inner;
        i = end;
        continue;
      }
      const variable = inner === null ? null : VARIABLE.exec(inner);
      if (variable !== null) {
        flush();
        hasVariables = true;
        tokens.push({ kind: 'variable', key: variable[1]!.toLowerCase(), fallback: variable[2] ?? null });
        i = end;
        continue;
      }
    }
    literal += c;
  }
  flush();
  const onlyLiteral = !hasWildcards && !hasVariables;
  const first = tokens[0];
  const literalPrefix = first !== undefined && first.kind === 'literal' ? first.text : '';
  const [shape, text] = shapeOf(tokens, onlyLiteral, literalPrefix);
  return {
    source,
    shape,
    text,
    tokens,
    literalPrefix,
    literal: onlyLiteral ? literalPrefix : null,
    hasWildcards,
    hasVariables,
    lowerCase: syntax.lowerCase,
  };
}

function shapeOf(
  tokens: readonly PatternToken[],
  onlyLiteral: boolean,
  literalPrefix: string,
): [PatternShape, string] {
  if (onlyLiteral) return ['literal', literalPrefix];
  const [first, second] = tokens;
  if (tokens.length === 1 && first === ANY_RUN) return ['any', ''];
  if (tokens.length === 2 && first?.kind === 'literal' && second === ANY_RUN) return ['prefix', first.text];
  if (tokens.length === 2 && first === ANY_RUN && second?.kind === 'literal') return ['suffix', second.text];
  return ['tokens', ''];
}

/**
 * Whether `text` matches the pattern. A variable whose key the request lacks (and that has no
 * default) makes the pattern match nothing: AWS says such a value "is not present" and "any
 * attempt to match it fails" (reference_policies_variables, "Principal key values").
 */
export function matchPattern(pattern: Pattern, text: string, variables: VariableSource | null): boolean {
  switch (pattern.shape) {
    case 'literal':
      return pattern.text === text;
    case 'prefix':
      return text.startsWith(pattern.text);
    case 'suffix':
      return text.endsWith(pattern.text);
    case 'any':
      return true;
    case 'tokens':
      return matchTokens(pattern, text, variables);
    default:
      return assertNever(pattern.shape, 'pattern shape');
  }
}

function matchTokens(pattern: Pattern, text: string, variables: VariableSource | null): boolean {
  const tokens = pattern.tokens;
  const count = tokens.length;
  let ti = 0;
  let offset = 0;
  let tp = 0;
  let starTi = -1;
  let starTp = 0;
  while (tp < text.length) {
    if (ti < count) {
      const token = tokens[ti]!;
      if (token.kind === 'anyRun') {
        ti++;
        starTi = ti;
        starTp = tp;
        continue;
      }
      if (token.kind === 'anyChar') {
        ti++;
        tp++;
        continue;
      }
      const part = token.kind === 'literal' ? token.text : variableText(token, variables, pattern.lowerCase);
      if (part === undefined) return false;
      if (offset >= part.length) {
        ti++;
        offset = 0;
        continue;
      }
      if (part.charCodeAt(offset) === text.charCodeAt(tp)) {
        offset++;
        tp++;
        if (offset === part.length) {
          ti++;
          offset = 0;
        }
        continue;
      }
    }
    if (starTi < 0) return false;
    ti = starTi;
    offset = 0;
    starTp++;
    tp = starTp;
  }
  for (; ti < count; ti++) {
    const token = tokens[ti]!;
    if (token.kind === 'anyRun') continue;
    if (token.kind === 'anyChar') return false;
    const part = token.kind === 'literal' ? token.text : variableText(token, variables, pattern.lowerCase);
    if (part === undefined || offset < part.length) return false;
    offset = 0;
  }
  return true;
}

function variableText(
  token: PatternToken & { kind: 'variable' },
  variables: VariableSource | null,
  lowerCase: boolean,
): string | undefined {
  const value = variables?.variableValue(token.key) ?? token.fallback ?? undefined;
  return value !== undefined && lowerCase ? value.toLowerCase() : value;
}
