/**
 * Intrinsic functions of JSONPath states, as documented at
 * https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html :
 * the reserved characters `'`, `{`, `}` and `\` are escaped with a backslash (an open escape is an error),
 * up to 10 functions may be nested in one field, and a path argument that finds nothing fails the state with
 * "The function '<expr>' had the following error: The JsonPath argument for the field '<path>' could not be
 * found in the input '<input>'".
 *
 * `parseIntrinsic` is also what create-time validation uses, so a malformed call is refused before it runs.
 */
import { createHash, randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { runtimeError, StatesError } from './errors';
import { evaluatePath, type PathScope } from './jsonpath';

export type Arg =
  | { kind: 'literal'; value: null | boolean | number | string; raw?: string }
  | { kind: 'path'; path: string }
  | { kind: 'call'; name: string; args: Arg[] };

const MAX_NESTING = 10;
/** Limits the intrinsics page states: 10,000 characters for hash and Base64 input, 1,000 ArrayRange items. */
const MAX_STRING = 10_000;
export const MAX_RANGE_ITEMS = 1_000;
/** States.Hash / $hash algorithms and their node:crypto names. */
export const HASH_ALGORITHMS: Record<string, string> = { MD5: 'md5', 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };

/**
 * Each intrinsic and how many arguments it takes ([min, max]), from https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html
 * (e.g. States.Hash "takes two arguments", States.JsonMerge "takes three arguments", States.MathRandom "The seed
 * value is optional", States.UUID "takes no arguments"). The parser checks the count, so a call with the wrong number
 * of arguments is refused at create time, as CreateStateMachine refuses any other malformed call.
 */
const ARITY: Record<string, readonly [number, number]> = {
  'States.Format': [1, Number.POSITIVE_INFINITY],
  'States.StringToJson': [1, 1],
  'States.JsonToString': [1, 1],
  'States.Array': [0, Number.POSITIVE_INFINITY],
  'States.ArrayPartition': [2, 2],
  'States.ArrayContains': [2, 2],
  'States.ArrayRange': [3, 3],
  'States.ArrayGetItem': [2, 2],
  'States.ArrayLength': [1, 1],
  'States.ArrayUnique': [1, 1],
  'States.Base64Encode': [1, 1],
  'States.Base64Decode': [1, 1],
  'States.Hash': [2, 2],
  'States.JsonMerge': [3, 3],
  'States.MathRandom': [2, 3],
  'States.MathAdd': [2, 2],
  'States.StringSplit': [2, 2],
  'States.UUID': [0, 0],
};

export class IntrinsicSyntaxError extends Error {}

/** Parses `States.Name(arg, ...)`; throws IntrinsicSyntaxError with a message fit for a definition diagnostic. */
export function parseIntrinsic(text: string): Arg & { kind: 'call' } {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const fail = (what: string): never => {
    throw new IntrinsicSyntaxError(`The value for the field must be a valid intrinsic function: ${what} at position ${i} of "${text}"`);
  };
  const call = (depth: number): Arg & { kind: 'call' } => {
    const m = /^States\.[A-Za-z0-9]+/.exec(text.slice(i));
    if (!m) fail('expected a function name');
    const name = m![0];
    if (!Object.hasOwn(ARITY, name)) fail(`unknown function ${name}`);
    if (depth > MAX_NESTING) fail(`more than ${MAX_NESTING} nested functions`);
    i += name.length;
    ws();
    if (text[i] !== '(') fail("expected '('");
    i++;
    ws();
    const args: Arg[] = [];
    const done = (): Arg & { kind: 'call' } => {
      const [min, max] = ARITY[name];
      if (args.length < min || args.length > max) {
        const expected = min === max ? `${min}` : max === Number.POSITIVE_INFINITY ? `at least ${min}` : `${min} to ${max}`;
        fail(`${name} takes ${expected} argument(s), not ${args.length},`);
      }
      i++;
      return { kind: 'call', name, args };
    };
    if (text[i] === ')') return done();
    for (;;) {
      ws();
      args.push(arg(depth));
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === ')') return done();
      fail("expected ',' or ')'");
    }
  };
  const arg = (depth: number): Arg => {
    const ch = text[i];
    if (ch === "'") {
      i++;
      const rawStart = i;
      let value = '';
      for (;;) {
        if (i >= text.length) fail('unterminated string');
        const c = text[i];
        if (c === '\\') {
          const next = text[i + 1];
          if (next === undefined || !"'{}\\".includes(next)) fail('open escape character');
          value += next;
          i += 2;
          continue;
        }
        if (c === "'") {
          i++;
          return { kind: 'literal', value, raw: text.slice(rawStart, i - 1) };
        }
        value += c;
        i++;
      }
    }
    if (ch === '$') {
      const start = i;
      let depthBr = 0;
      let quote: string | undefined;
      while (i < text.length) {
        const c = text[i];
        if (quote) {
          if (c === '\\') i++;
          else if (c === quote) quote = undefined;
        } else if (c === "'" || c === '"') quote = c;
        else if (c === '[' || c === '(') depthBr++;
        else if (c === ']' || c === ')') {
          if (depthBr === 0) break;
          depthBr--;
        } else if (c === ',' && depthBr === 0) break;
        i++;
      }
      return { kind: 'path', path: text.slice(start, i).trim() };
    }
    if (text.startsWith('States.', i)) return call(depth + 1);
    const m = /^(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)(?![\w.])/.exec(text.slice(i));
    if (!m) fail('expected an argument');
    i += m![0].length;
    const token = m![0];
    return { kind: 'literal', value: token === 'true' ? true : token === 'false' ? false : token === 'null' ? null : Number(token) };
  };
  ws();
  const parsed = call(1);
  ws();
  if (i !== text.length) fail('unexpected text after the function');
  return parsed;
}

export function isIntrinsic(text: string): boolean {
  return /^\s*States\.[A-Za-z0-9]+\s*\(/.test(text);
}

/** Evaluates an intrinsic call against the state's data. */
export function evaluateIntrinsic(text: string, scope: PathScope): unknown {
  let parsed: Arg & { kind: 'call' };
  try {
    parsed = parseIntrinsic(text);
  } catch (err) {
    throw runtimeError((err as Error).message);
  }
  const fn = (message: string) => runtimeError(`The function '${text}' had the following error: ${message}`);
  const value = (a: Arg): unknown => {
    if (a.kind === 'literal') return a.value;
    if (a.kind === 'path') {
      const r = evaluatePath(a.path, scope);
      if (!r.found || (r.value === null && /\[\d+\]$/.test(a.path) && outOfRange(a.path, scope))) {
        const data = a.path.startsWith('$$') ? scope.context : scope.input;
        throw fn(`The JsonPath argument for the field '${a.path}' could not be found in the input '${JSON.stringify(data ?? null)}'`);
      }
      return r.value;
    }
    const args = a.args.map(value);
    try {
      // A literal template keeps its escapes: `\{\}` is text, only a bare `{}` is a placeholder.
      const first = a.args[0];
      if (a.name === 'States.Format' && first?.kind === 'literal' && typeof first.raw === 'string') return format(first.raw, args.slice(1), true);
      return FUNCTIONS[a.name](args);
    } catch (err) {
      if (err instanceof StatesError) throw err;
      throw fn((err as Error).message);
    }
  };
  return value(parsed);
}

/** `$.items[5]` on a two-item array: null in a payload template, a missing argument for an intrinsic. */
function outOfRange(path: string, scope: PathScope): boolean {
  const m = /^(.*)\[(\d+)\]$/.exec(path);
  if (!m) return false;
  const parent = evaluatePath(m[1], scope);
  return parent.found && Array.isArray(parent.value) && Number(m[2]) >= parent.value.length;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function expectType(name: string, position: number, v: unknown, type: string): void {
  if (typeName(v) !== type) throw new Error(`Invalid argument ${position} of ${name}: expected ${type}, got ${typeName(v)}`);
}

/** Numbers the math functions round to the nearest integer, as the intrinsics page says. */
function roundInt(name: string, position: number, v: unknown): number {
  expectType(name, position, v, 'number');
  return Math.round(v as number);
}

/**
 * An argument inside States.Format as AWS renders it: strings as they are, numbers, booleans and null as JSON, and
 * objects and arrays in Java's collection form, `{Arg1=1, Arg2=[]}` (no quotes, `=` and `, `). Recorded on AWS:
 * `States.Format('... fst={} ...', $.FunctionInput.fst)` with `{"Arg1": 1, "Arg2": []}` gave `fst={Arg1=1, Arg2=[]}`, and
 * `$$.StateMachine` gave `{Id=arn:aws:states:..., Name=...}` (localstack/localstack
 * tests/aws/services/stepfunctions/v2/intrinsic_functions/test_generic.snapshot.json, test_format_2 and
 * test_context_json_path). The intrinsics page documents only strings.
 */
function formatValue(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return `[${v.map(formatValue).join(', ')}]`;
  if (typeof v === 'object' && v !== null) {
    return `{${Object.entries(v)
      .map(([k, x]) => `${k}=${formatValue(x)}`)
      .join(', ')}}`;
  }
  return JSON.stringify(v);
}

/** States.Format: `escaped` templates are raw intrinsic text, where `\x` is the character x and never a placeholder. */
function format(template: string, values: unknown[], escaped: boolean): string {
  const pieces: string[] = [''];
  for (let i = 0; i < template.length; i++) {
    if (escaped && template[i] === '\\') {
      pieces[pieces.length - 1] += template[++i] ?? '';
    } else if (template[i] === '{' && template[i + 1] === '}') {
      pieces.push('');
      i++;
    } else pieces[pieces.length - 1] += template[i];
  }
  if (pieces.length - 1 !== values.length) {
    throw new Error(
      `Number of arguments in States.Format does not match the number of placeholders: ${pieces.length - 1} placeholders, ${values.length} arguments`,
    );
  }
  return pieces.reduce((out, piece, n) => out + (n === 0 ? '' : formatValue(values[n - 1])) + piece, '');
}

const FUNCTIONS: Record<string, (args: unknown[]) => unknown> = {
  'States.Format': (args) => {
    if (args.length < 1) throw new Error('The function States.Format expects at least 1 argument');
    expectType('States.Format', 1, args[0], 'string');
    return format(args[0] as string, args.slice(1), false);
  },
  'States.StringToJson': (args) => {
    expectType('States.StringToJson', 1, args[0], 'string');
    const s = (args[0] as string).trim();
    // An empty string parses to null on AWS.
    if (s === '') return null;
    try {
      return JSON.parse(s);
    } catch {
      throw new Error(`The input '${args[0]}' is not a valid JSON string`);
    }
  },
  'States.JsonToString': (args) => {
    return JSON.stringify(args[0]);
  },
  'States.Array': (args) => [...args],
  'States.ArrayPartition': (args) => {
    expectType('States.ArrayPartition', 1, args[0], 'array');
    const size = roundInt('States.ArrayPartition', 2, args[1]);
    if (size <= 0) throw new Error('The chunk size of States.ArrayPartition must be a positive integer');
    const array = args[0] as unknown[];
    const out: unknown[][] = [];
    for (let n = 0; n < array.length; n += size) out.push(array.slice(n, n + size));
    return out;
  },
  'States.ArrayContains': (args) => {
    expectType('States.ArrayContains', 1, args[0], 'array');
    return (args[0] as unknown[]).some((item) => isDeepStrictEqual(item, args[1]));
  },
  'States.ArrayRange': (args) => {
    const [start, end, step] = args.map((a, n) => roundInt('States.ArrayRange', n + 1, a));
    if (step === 0) throw new Error('The step of States.ArrayRange must not be 0');
    const out: number[] = [];
    for (let v = start; step > 0 ? v <= end : v >= end; v += step) {
      out.push(v);
      if (out.length > MAX_RANGE_ITEMS) throw new Error(`States.ArrayRange can generate at most ${MAX_RANGE_ITEMS} items`);
    }
    return out;
  },
  'States.ArrayGetItem': (args) => {
    expectType('States.ArrayGetItem', 1, args[0], 'array');
    const index = roundInt('States.ArrayGetItem', 2, args[1]);
    const array = args[0] as unknown[];
    if (index < 0 || index >= array.length) throw new Error(`The index ${index} is out of bounds for an array of length ${array.length}`);
    return array[index];
  },
  'States.ArrayLength': (args) => {
    expectType('States.ArrayLength', 1, args[0], 'array');
    return (args[0] as unknown[]).length;
  },
  'States.ArrayUnique': (args) => {
    expectType('States.ArrayUnique', 1, args[0], 'array');
    const out: unknown[] = [];
    for (const item of args[0] as unknown[]) if (!out.some((seen) => isDeepStrictEqual(seen, item))) out.push(item);
    return out;
  },
  'States.Base64Encode': (args) => {
    expectType('States.Base64Encode', 1, args[0], 'string');
    if ((args[0] as string).length > MAX_STRING) throw new Error(`The input of States.Base64Encode exceeds ${MAX_STRING} characters`);
    return Buffer.from(args[0] as string, 'utf8').toString('base64');
  },
  'States.Base64Decode': (args) => {
    expectType('States.Base64Decode', 1, args[0], 'string');
    const s = args[0] as string;
    if (s.length > MAX_STRING) throw new Error(`The input of States.Base64Decode exceeds ${MAX_STRING} characters`);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) throw new Error(`The input '${s}' is not valid Base64`);
    return Buffer.from(s, 'base64').toString('utf8');
  },
  'States.Hash': (args) => {
    expectType('States.Hash', 2, args[1], 'string');
    const data = formatValue(args[0]);
    if (data.length > MAX_STRING) throw new Error(`The input of States.Hash exceeds ${MAX_STRING} characters`);
    const algorithm = HASH_ALGORITHMS[args[1] as string];
    if (!algorithm) throw new Error(`The hash algorithm '${args[1]}' is not supported; use MD5, SHA-1, SHA-256, SHA-384 or SHA-512`);
    return createHash(algorithm).update(data, 'utf8').digest('hex');
  },
  'States.JsonMerge': (args) => {
    expectType('States.JsonMerge', 1, args[0], 'object');
    expectType('States.JsonMerge', 2, args[1], 'object');
    expectType('States.JsonMerge', 3, args[2], 'boolean');
    // Step Functions supports only the shallow mode: the third argument must be false.
    if (args[2] !== false) throw new Error('States.JsonMerge supports only shallow merging; the third argument must be false');
    return { ...(args[0] as object), ...(args[1] as object) };
  },
  'States.MathRandom': (args) => {
    const start = roundInt('States.MathRandom', 1, args[0]);
    const end = roundInt('States.MathRandom', 2, args[1]);
    if (end <= start) throw new Error('The end of States.MathRandom must be greater than its start');
    const r = args.length === 3 ? seeded(roundInt('States.MathRandom', 3, args[2])) : Math.random();
    return start + Math.floor(r * (end - start));
  },
  'States.MathAdd': (args) => {
    // Non-integer arguments are rounded to the nearest integer before adding.
    return roundInt('States.MathAdd', 1, args[0]) + roundInt('States.MathAdd', 2, args[1]);
  },
  'States.StringSplit': (args) => {
    expectType('States.StringSplit', 1, args[0], 'string');
    expectType('States.StringSplit', 2, args[1], 'string');
    // The delimiter is a set of characters; empty pieces are dropped.
    const delimiters = new Set(args[1] as string);
    const out: string[] = [];
    let piece = '';
    for (const ch of args[0] as string) {
      if (delimiters.has(ch)) {
        if (piece) out.push(piece);
        piece = '';
      } else piece += ch;
    }
    if (piece) out.push(piece);
    return out;
  },
  'States.UUID': () => {
    return randomUUID();
  },
};

/** A deterministic [0, 1) value for a seed (mulberry32). */
export function seeded(seed: number): number {
  let t = (seed + 0x6d2b79f5) | 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
