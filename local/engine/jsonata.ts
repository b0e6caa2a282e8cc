/**
 * JSONata in Step Functions (https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html):
 * a field value `"{% expression %}"` is evaluated with the maintained `jsonata` package; `$states`
 * (input, result, errorOutput, context) and the workflow's variables are bound, and AWS's own functions
 * `$partition`, `$range`, `$hash`, `$random`, `$uuid` and `$parse` are added.
 *
 * An expression that throws, returns nothing, returns a function or returns a value of the wrong type for its field
 * fails the state with States.QueryEvaluationError ("If a JSONata expression fails ... the state fails with the
 * States.QueryEvaluationError error": https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html),
 * worded as AWS words it in recorded executions (see DIVERGENCES.md for the recordings):
 * "The JSONata expression '<expr>' specified for the field '<field>' threw an error during evaluation. T1006: ...",
 * "... returned an unexpected result type. Expected 'array', but was 'number' for value: 1".
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
      // A one-number range is that number, as JSONata does with a sequence of one: `$range(1, 9, 9)` recorded on AWS
      // as `1` (localstack/localstack tests/aws/services/stepfunctions/v2/intrinsic_functions/test_array_jsonata.snapshot.json,
      // test_array_range), while `$partition([0], 1)` stays `[[0]]`.
      return out.length === 1 ? out[0] : out;
    },
    '<nnn:x>',
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

/** Plain JSON (JSONata sequences carry extra flags). */
function plain(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

/** The JSON type a field expects of its expression's result. */
type ExpectedType = 'array' | 'object' | 'string' | 'number' | 'boolean';

/**
 * The type each field takes when its value is one expression. `Items` must give an array (recorded: "Expected 'array',
 * but was 'number' for value: 1"); the others follow the state pages of https://docs.aws.amazon.com/step-functions/latest/dg/
 * (state-choice.html: a Condition "evaluates to true or false"; state-wait.html: Seconds a number of seconds, Timestamp
 * a timestamp string; state-task.html: TimeoutSeconds/HeartbeatSeconds positive integers; state-fail.html: Error and
 * Cause strings; state-map-distributed.html: MaxConcurrency and the tolerated-failure thresholds numbers, the reader's,
 * writer's and batcher's Arguments/BatchInput JSON objects).
 */
const FIELD_TYPES: Record<string, ExpectedType> = {
  Items: 'array',
  Condition: 'boolean',
  Seconds: 'number',
  Timestamp: 'string',
  TimeoutSeconds: 'number',
  HeartbeatSeconds: 'number',
  MaxConcurrency: 'number',
  ToleratedFailureCount: 'number',
  ToleratedFailurePercentage: 'number',
  Error: 'string',
  Cause: 'string',
  'ItemReader/Arguments': 'object',
  'ResultWriter/Arguments': 'object',
  'ItemBatcher/BatchInput': 'object',
};

/** The type a field (`Items`, `Choices[0]/Condition`, ...) takes, if it is one with a type. */
function expectedType(field: string): ExpectedType | undefined {
  return FIELD_TYPES[field.replace(/^Choices\[\d+\]\//, '')];
}

/** JSONata's name for a JSON value's type (`$type`). */
function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** A value as AWS prints it in "for value: ..." (strings quoted, objects as compact JSON). */
function shown(value: unknown): string {
  return JSON.stringify(value);
}

function queryError(text: string, field: string, what: string): StatesError {
  return Object.assign(new StatesError('States.QueryEvaluationError', `The JSONata expression '${text}' specified for the field '${field}' ${what}`), {
    location: field,
  });
}

/** Does a JSONata result contain a function (a lambda or built-in), which has no JSON form? */
function hasFunction(value: unknown): boolean {
  if (typeof value === 'function') return true;
  if (Array.isArray(value)) return value.some(hasFunction);
  if (typeof value === 'object' && value !== null) {
    const v = value as { _jsonata_lambda?: boolean; _jsonata_function?: boolean };
    if (v._jsonata_lambda || v._jsonata_function) return true;
    return Object.values(value).some(hasFunction);
  }
  return false;
}

/**
 * Evaluates one expression; `field` is where it sits (`Output/v`), named in the cause as AWS does; `expected` is
 * the type the field takes (Items an array, Condition a boolean, Seconds a number, a Fail state's Error a string).
 */
export async function evaluateExpression(text: string, field: string, scope: JsonataScope, expected?: ExpectedType): Promise<unknown> {
  let result: unknown;
  try {
    result = await compile(text).evaluate(scope.states.input ?? null, { ...scope.variables, states: scope.states });
  } catch (err) {
    const e = err as { message?: string; code?: string };
    const message = e.message ?? String(err);
    throw queryError(text, field, `threw an error during evaluation. ${e.code ? `${e.code}: ${message}` : message}`);
  }
  if (result === undefined) throw queryError(text, field, 'returned nothing (undefined).');
  if (hasFunction(result)) throw queryError(text, field, 'returned an unsupported result type.');
  const value = plain(result);
  if (expected !== undefined && typeOf(value) !== expected) {
    throw queryError(text, field, `returned an unexpected result type. Expected '${expected}', but was '${typeOf(value)}' for value: ${shown(value)}`);
  }
  return value;
}

/**
 * Evaluates every `{% %}` string inside a field's value (Arguments, Output, Assign, Items, ...), in arrays and nested
 * objects too: an `Output` of `[..., "{% $states.input %}", {"key": "{% true %}"}]` was recorded on AWS as
 * `[..., {"input_value": ...}, {"key": true}]` (localstack/localstack
 * tests/aws/services/stepfunctions/v2/outputdecl/test_output.snapshot.json, LIST_RICH). `expected` applies when the
 * whole field is one expression (by default the field's own type, `expectedType`); a literal's type is checked when
 * the definition is created.
 */
export async function evaluateTemplate(
  value: unknown,
  field: string,
  scope: JsonataScope,
  expected: ExpectedType | undefined = expectedType(field),
): Promise<unknown> {
  if (isExpression(value)) return evaluateExpression(expressionText(value), field, scope, expected);
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const [n, v] of value.entries()) out.push(await evaluateTemplate(v, `${field}[${n}]`, scope));
    return out;
  }
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) out[key] = await evaluateTemplate(v, `${field}/${key}`, scope);
    return out;
  }
  return value;
}
