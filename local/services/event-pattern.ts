/**
 * EventBridge event patterns and input transformation, as rules and targets apply them.
 *
 * A pattern is an object whose leaves are arrays of matchers; an event matches when every key of the
 * pattern matches (AND), any matcher in a leaf array matches (OR), and an array in the event matches when
 * any of its elements does. A missing field matches only `{"exists": false}` — `anything-but` does not
 * match a missing field, as in AWS (`matchLeaf`).
 */

import { GlobCache } from '../glob';

type Json = unknown;

export function matches(pattern: unknown, event: object): boolean {
  if (!isObject(pattern)) throw new Error('event pattern must be a JSON object');
  return matchObject(pattern, event as Record<string, unknown>);
}

/** Problems that make AWS reject a pattern (empty when valid), each naming the offending key. */
export function patternProblems(pattern: unknown, where = ''): string[] {
  if (!isObject(pattern)) return [`${where || 'pattern'}: must be a JSON object`];
  const problems: string[] = [];
  for (const [key, value] of Object.entries(pattern)) {
    const at = where ? `${where}.${key}` : key;
    if (key === '$or') {
      if (!Array.isArray(value) || value.length < 2) problems.push(`${at}: must be an array of at least two patterns`);
      else value.forEach((p, i) => problems.push(...patternProblems(p, `${at}[${i}]`)));
    } else if (Array.isArray(value)) {
      if (value.length === 0) problems.push(`${at}: matcher list must not be empty`);
      for (const m of value) if (isObject(m)) problems.push(...matcherProblems(m, at));
    } else if (isObject(value)) {
      problems.push(...patternProblems(value, at));
    } else {
      problems.push(`${at}: leaf values must be arrays, e.g. ${JSON.stringify({ [key]: [value] })}`);
    }
  }
  return problems;
}

const OPERATORS = new Set(['prefix', 'suffix', 'anything-but', 'numeric', 'exists', 'equals-ignore-case', 'wildcard', 'cidr']);

function matcherProblems(m: Record<string, unknown>, at: string): string[] {
  const keys = Object.keys(m);
  if (keys.length !== 1 || !OPERATORS.has(keys[0])) return [`${at}: unknown matcher ${JSON.stringify(m)}`];
  const [op] = keys;
  const arg = m[op];
  if (op === 'numeric') {
    if (!Array.isArray(arg) || arg.length === 0 || arg.length % 2 !== 0) return [`${at}: numeric needs operator/value pairs`];
    for (let i = 0; i < arg.length; i += 2) {
      if (!['=', '<', '<=', '>', '>='].includes(arg[i] as string) || typeof arg[i + 1] !== 'number') {
        return [`${at}: numeric has an invalid pair ${JSON.stringify(arg.slice(i, i + 2))}`];
      }
    }
  }
  if (op === 'exists' && typeof arg !== 'boolean') return [`${at}: exists takes true or false`];
  if (op === 'cidr') return [`${at}: cidr matching is not supported by the local runtime`];
  return [];
}

function matchObject(pattern: Record<string, unknown>, event: Record<string, unknown>): boolean {
  for (const [key, sub] of Object.entries(pattern)) {
    if (key === '$or') {
      if (!(sub as unknown[]).some((p) => matchObject(p as Record<string, unknown>, event))) return false;
      continue;
    }
    const value = isObject(event) ? event[key] : undefined;
    if (Array.isArray(sub)) {
      if (!matchLeaf(sub, value)) return false;
    } else if (isObject(sub)) {
      // An array of objects in the event matches when any element matches the nested pattern.
      const candidates = Array.isArray(value) ? value : [value];
      if (!candidates.some((c) => matchObject(sub, (isObject(c) ? c : {}) as Record<string, unknown>))) return false;
    } else {
      throw new Error(`event pattern: value of '${key}' must be an array or an object`);
    }
  }
  return true;
}

/**
 * "Comparison operators only work on leaf nodes, with the exception of $or and anything-but"
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html): a leaf pattern sees
 * the field's scalar values (an array's scalar elements); an object or an empty array has none, like a missing field.
 * So `{"exists": false}` matches a field that is missing or holds no value, `{"exists": true}` one that holds a value
 * (null included), and every other matcher, `anything-but` too, needs a value to match: an absent field never matches
 * `{"anything-but": ...}`.
 */
function matchLeaf(matchers: unknown[], value: Json): boolean {
  const values = (Array.isArray(value) ? value : value === undefined ? [] : [value]).filter((v) => !isObject(v) && !Array.isArray(v));
  return matchers.some((m) => {
    if (isObject(m) && 'exists' in m) return m.exists === values.length > 0;
    return values.some((v) => matchOne(m, v));
  });
}

function matchOne(m: unknown, v: Json): boolean {
  if (!isObject(m)) return equalScalar(m, v);
  const [op, arg] = Object.entries(m)[0] ?? [];
  switch (op) {
    case 'prefix':
      return typeof v === 'string' && affix(arg, v, (s, a) => s.startsWith(a));
    case 'suffix':
      return typeof v === 'string' && affix(arg, v, (s, a) => s.endsWith(a));
    case 'equals-ignore-case':
      return typeof v === 'string' && typeof arg === 'string' && v.toLowerCase() === arg.toLowerCase();
    case 'wildcard':
      return typeof v === 'string' && typeof arg === 'string' && wildcards.matches(arg, v);
    case 'numeric':
      return typeof v === 'number' && numeric(arg as unknown[], v);
    case 'anything-but':
      return !anythingBut(arg, v);
    default:
      throw new Error(`event pattern: unknown matcher ${JSON.stringify(m)}`);
  }
}

/** True when `v` is one of the excluded values (so anything-but does NOT match). */
function anythingBut(arg: unknown, v: Json): boolean {
  if (Array.isArray(arg)) return arg.some((a) => equalScalar(a, v));
  if (isObject(arg)) return matchOne(arg, v);
  return equalScalar(arg, v);
}

function affix(arg: unknown, v: string, test: (s: string, a: string) => boolean): boolean {
  if (typeof arg === 'string') return test(v, arg);
  if (isObject(arg) && typeof arg['equals-ignore-case'] === 'string') return test(v.toLowerCase(), arg['equals-ignore-case'].toLowerCase());
  return false;
}

function numeric(ops: unknown[], v: number): boolean {
  for (let i = 0; i < ops.length; i += 2) {
    const bound = ops[i + 1] as number;
    const ok = { '=': v === bound, '<': v < bound, '<=': v <= bound, '>': v > bound, '>=': v >= bound }[ops[i] as string];
    if (!ok) return false;
  }
  return true;
}

/** Scalars (strings, numbers, booleans, null) match by value and type: "5" does not match 5. */
function equalScalar(m: unknown, v: Json): boolean {
  return m === v;
}

/**
 * EventBridge `wildcard`: `*` matches any run of characters, `\*` is a literal star
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html#eb-filtering-wildcard-matching).
 * Matched in linear time (local/glob.ts): patterns come from templates and PutRule, values from PutEvents.
 */
const wildcards = new GlobCache({ star: '*', escape: 'backslash-star' });

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The subset of JSONPath EventBridge InputPath and InputPathsMap use: `$`, `$.a.b`, `$.a[0].b`, `$['a-b']`.
 * Returns undefined when the path does not resolve.
 */
export function selectPath(event: unknown, path: string): unknown {
  if (!path.startsWith('$')) throw new Error(`JSONPath must start with '$': ${path}`);
  let current: unknown = event;
  const step = /\.([^.[\]]+)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]/y;
  step.lastIndex = 1;
  while (step.lastIndex < path.length) {
    const start = step.lastIndex;
    const m = step.exec(path);
    if (!m || m.index !== start) throw new Error(`unsupported JSONPath '${path}' at offset ${start}`);
    if (m[2] !== undefined) current = Array.isArray(current) ? current[Number(m[2])] : undefined;
    else {
      const key = m[1] ?? m[3] ?? m[4];
      current = isObject(current) ? current[key] : undefined;
    }
    if (current === undefined) return undefined;
  }
  return current;
}

export interface InputTransformer {
  InputPathsMap?: Record<string, string>;
  InputTemplate: string;
}

/**
 * Renders an InputTemplate. EventBridge's quoting rule: a placeholder inside a JSON string ("<name>")
 * inserts the value's text without quotes; outside quotes it inserts the value as JSON. Inside quotes the
 * text is JSON-escaped so the result stays valid JSON (AWS leaves it unescaped, which breaks on quotes).
 * A path that does not resolve renders as null outside quotes and as an empty string inside them.
 */
export function transformInput(event: object, t: InputTransformer, context: { ruleName?: string; ruleArn?: string } = {}): string {
  const values = new Map<string, unknown>();
  for (const [name, path] of Object.entries(t.InputPathsMap ?? {})) values.set(name, selectPath(event, path));
  values.set('aws.events.event.json', event);
  values.set('aws.events.event', event);
  if (context.ruleName) values.set('aws.events.rule-name', context.ruleName);
  if (context.ruleArn) values.set('aws.events.rule-arn', context.ruleArn);
  const ingestion = (event as { time?: string }).time;
  if (ingestion) values.set('aws.events.event.ingestion-time', ingestion);

  let out = '';
  let inString = false;
  const tpl = t.InputTemplate;
  for (let i = 0; i < tpl.length; i++) {
    const ch = tpl[i];
    if (ch === '<') {
      const end = tpl.indexOf('>', i);
      const name = end > i ? tpl.slice(i + 1, end) : '';
      if (values.has(name)) {
        const value = values.get(name);
        out += inString ? rawText(value) : JSON.stringify(value ?? null);
        i = end;
        continue;
      }
    }
    if (ch === '\\' && inString) {
      out += ch + (tpl[i + 1] ?? '');
      i++;
      continue;
    }
    if (ch === '"') inString = !inString;
    out += ch;
  }
  return out;
}

function rawText(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return JSON.stringify(text).slice(1, -1);
}
