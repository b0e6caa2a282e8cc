/**
 * JSONata in Step Functions (https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html):
 * a field value `"{% expression %}"` is evaluated with the maintained `jsonata` package; `$states`
 * (input, result, errorOutput, context) and the workflow's variables are bound, and AWS's own functions
 * `$partition`, `$range`, `$hash`, `$random`, `$uuid` and `$parse` are added. An expression that returns
 * nothing, or throws, fails the state with States.QueryEvaluationError.
 *
 * Regular expressions (`$match`, `$contains`, `$replace`, `$split` with `/.../`) run on RE2 (re2js), not on
 * JavaScript's backtracking RegExp: a definition's pattern (TestState takes one in a request) such as `/(a+)+$/`
 * then takes time linear in the input instead of freezing the runtime. RE2 has no backreferences and no
 * lookaround; an expression using them fails with States.QueryEvaluationError (listed in the README).
 */
import { createHash, randomUUID } from 'node:crypto';
import jsonata from 'jsonata';
import { RE2JS } from 're2js';
import { StatesError } from './errors';
import { HASH_ALGORITHMS, MAX_RANGE_ITEMS, seeded } from './intrinsics';

const EXPRESSION = /^\{%([\s\S]*)%\}$/;
const compiled = new Map<string, ReturnType<typeof jsonata>>();
/** TestState compiles whatever a request sends: the cache is bounded. */
const MAX_COMPILED = 10_000;

/**
 * The `RegexEngine` jsonata accepts (a RegExp-like constructor: `lastIndex` and `exec`), backed by RE2. jsonata
 * parses `/pattern/flags` into a RegExp (never run) and hands it here; only its source and `i`/`m` flags are used.
 */
class Re2Engine {
  lastIndex = 0;
  private readonly re: RE2JS;
  constructor(pattern: RegExp) {
    this.re = RE2JS.compile(pattern.source, (pattern.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0) | (pattern.multiline ? RE2JS.MULTILINE : 0));
  }

  exec(text: string): RegExpExecArray | null {
    const m = this.re.matcher(text);
    if (this.lastIndex > text.length || !m.find(this.lastIndex)) {
      this.lastIndex = 0;
      return null;
    }
    const groups = Array.from({ length: m.groupCount() + 1 }, (_, g) => m.group(g) ?? undefined);
    this.lastIndex = m.end();
    return Object.assign(groups, { index: m.start(), input: text }) as unknown as RegExpExecArray;
  }
}

export function isExpression(value: unknown): value is string {
  return typeof value === 'string' && EXPRESSION.test(value);
}

export function expressionText(value: string): string {
  return EXPRESSION.exec(value)![1].trim();
}

/** Compiles once; a syntax error becomes the message of an Error (for validation) or QueryEvaluationError. */
export function compile(text: string): ReturnType<typeof jsonata> {
  let expr = compiled.get(text);
  if (!expr) {
    expr = jsonata(text, { RegexEngine: Re2Engine as unknown as RegExpConstructor });
    registerAwsFunctions(expr);
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    compiled.set(text, expr);
  }
  return expr;
}

function registerAwsFunctions(expr: ReturnType<typeof jsonata>): void {
  expr.registerFunction(
    'partition',
    (array: unknown[], size: number) => {
      if (!Array.isArray(array)) array = array === undefined ? [] : [array];
      if (!Number.isInteger(size) || size <= 0) throw new Error('$partition: the chunk size must be a positive integer');
      const out: unknown[][] = [];
      for (let n = 0; n < array.length; n += size) out.push(array.slice(n, n + size));
      return out;
    },
    '<an:a>',
  );
  expr.registerFunction(
    'range',
    (start: number, end: number, step: number) => {
      if (!step) throw new Error('$range: the step must not be 0');
      const out: number[] = [];
      for (let v = start; step > 0 ? v <= end : v >= end; v += step) {
        out.push(v);
        if (out.length > MAX_RANGE_ITEMS) throw new Error(`$range: at most ${MAX_RANGE_ITEMS} items`);
      }
      return out;
    },
    '<nnn:a>',
  );
  expr.registerFunction(
    'hash',
    (data: unknown, algorithm: string) => {
      const alg = HASH_ALGORITHMS[algorithm];
      if (!alg) throw new Error(`$hash: unsupported algorithm '${algorithm}'`);
      return createHash(alg)
        .update(typeof data === 'string' ? data : JSON.stringify(data), 'utf8')
        .digest('hex');
    },
    '<js:s>',
  );
  expr.registerFunction('random', (seed?: number) => (seed === undefined ? Math.random() : seeded(Math.trunc(seed))), '<n?:n>');
  expr.registerFunction('uuid', () => randomUUID(), '<:s>');
  expr.registerFunction(
    'parse',
    (text: string) => {
      try {
        return JSON.parse(text);
      } catch {
        throw new Error(`$parse: '${text}' is not valid JSON`);
      }
    },
    '<s:j>',
  );
}

export interface JsonataScope {
  states: Record<string, unknown>;
  variables: Record<string, unknown>;
}

/** Plain JSON (JSONata sequences carry extra flags; functions are not JSON). */
function plain(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

/** Evaluates one expression; `field` is where it sits (`Output/v`), named in the cause as AWS does. */
export async function evaluateExpression(text: string, field: string, scope: JsonataScope): Promise<unknown> {
  let result: unknown;
  try {
    result = await compile(text).evaluate(scope.states.input ?? null, { ...scope.variables, states: scope.states });
  } catch (err) {
    const e = err as { message?: string; code?: string };
    throw Object.assign(
      new StatesError(
        'States.QueryEvaluationError',
        `The JSONata expression '${text}' specified for the field '${field}' threw an error: ${e.message ?? String(err)}`,
      ),
      { location: field },
    );
  }
  if (result === undefined) {
    throw Object.assign(
      new StatesError('States.QueryEvaluationError', `The JSONata expression '${text}' specified for the field '${field}' returned nothing (undefined).`),
      { location: field },
    );
  }
  return plain(result);
}

/** Evaluates every `{% %}` string inside a field's value (Arguments, Output, Assign, ...). */
export async function evaluateTemplate(value: unknown, field: string, scope: JsonataScope): Promise<unknown> {
  if (isExpression(value)) return evaluateExpression(expressionText(value), field, scope);
  if (Array.isArray(value)) return Promise.all(value.map((v, n) => evaluateTemplate(v, `${field}[${n}]`, scope)));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) out[key] = await evaluateTemplate(v, `${field}/${key}`, scope);
    return out;
  }
  return value;
}
