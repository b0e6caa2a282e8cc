/**
 * Choice rules of JSONPath states (https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html):
 * a comparison whose Variable has the wrong type is simply false, `Is*` operators test the type and match
 * `false` when the value is NOT of that type, `IsPresent` is the only operator a missing Variable does not
 * fail, and timestamps follow the RFC 3339 profile with an uppercase T and Z.
 */
import { isDeepStrictEqual } from 'node:util';
import { GlobCache } from '../glob';
import { runtimeError } from './errors';
import { evaluatePath, type PathScope } from './jsonpath';

type Rule = Record<string, any>;

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export function isTimestamp(v: unknown): v is string {
  return typeof v === 'string' && RFC3339.test(v) && !Number.isNaN(Date.parse(v));
}

/** Operator families: the type the Variable must have and how two such values compare. */
const FAMILIES: Record<string, { is: (v: unknown) => boolean; cmp: (a: any, b: any) => number }> = {
  String: { is: (v) => typeof v === 'string', cmp: (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0) },
  Numeric: { is: (v) => typeof v === 'number', cmp: (a: number, b: number) => a - b },
  Boolean: { is: (v) => typeof v === 'boolean', cmp: (a, b) => (a === b ? 0 : 1) },
  Timestamp: { is: isTimestamp, cmp: (a: string, b: string) => Date.parse(a) - Date.parse(b) },
};

const RELATIONS: Record<string, (c: number) => boolean> = {
  Equals: (c) => c === 0,
  LessThan: (c) => c < 0,
  GreaterThan: (c) => c > 0,
  LessThanEquals: (c) => c <= 0,
  GreaterThanEquals: (c) => c >= 0,
};

const TYPE_TESTS: Record<string, (v: unknown) => boolean> = {
  IsNull: (v) => v === null,
  IsBoolean: (v) => typeof v === 'boolean',
  IsNumeric: (v) => typeof v === 'number',
  IsString: (v) => typeof v === 'string',
  IsTimestamp: isTimestamp,
};

/**
 * `StringMatches`: `*` matches any run of characters; `\*` and `\\` are literal
 * (https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html). Linear time (local/glob.ts): the
 * pattern comes from a definition (CreateStateMachine, TestState), the value from execution input.
 */
const stringPatterns = new GlobCache({ star: '*', escape: 'backslash-star' });
export function stringMatches(value: string, pattern: string): boolean {
  return stringPatterns.matches(pattern, value);
}

/** Is this key a comparison operator (with or without the Path suffix)? */
export function comparisonOperator(key: string): { family: string; relation: string; path: boolean } | undefined {
  const m = /^(String|Numeric|Boolean|Timestamp)(Equals|LessThan|GreaterThan|LessThanEquals|GreaterThanEquals)(Path)?$/.exec(key);
  if (m) return { family: m[1], relation: m[2], path: !!m[3] };
  if (key === 'StringMatches') return { family: 'String', relation: 'Matches', path: false };
  return undefined;
}

export function evaluateRule(rule: Rule, scope: PathScope): boolean {
  if (Array.isArray(rule.And)) return rule.And.every((r: Rule) => evaluateRule(r, scope));
  if (Array.isArray(rule.Or)) return rule.Or.some((r: Rule) => evaluateRule(r, scope));
  if (rule.Not) return !evaluateRule(rule.Not, scope);
  const variable = String(rule.Variable);
  const found = evaluatePath(variable, scope);
  if ('IsPresent' in rule) return found.found === rule.IsPresent;
  if (!found.found) throw runtimeError(`Invalid path '${variable}': The choice state's condition path references an invalid value.`);
  const value = found.value;
  for (const [key, expected] of Object.entries(rule)) {
    if (key in TYPE_TESTS) return TYPE_TESTS[key](value) === expected;
    const op = comparisonOperator(key);
    if (!op) continue;
    const family = FAMILIES[op.family];
    let other: unknown = expected;
    if (op.path) {
      const r = evaluatePath(String(expected), scope);
      if (!r.found) throw runtimeError(`Invalid path '${expected}': The choice state's condition path references an invalid value.`);
      other = r.value;
    }
    if (!family.is(value) || !family.is(other)) return false;
    if (op.relation === 'Matches') return stringMatches(value as string, other as string);
    if (op.family === 'Boolean') return op.relation === 'Equals' && isDeepStrictEqual(value, other);
    return RELATIONS[op.relation](family.cmp(value, other));
  }
  throw runtimeError(`The choice rule on '${variable}' has no comparison operator`);
}
