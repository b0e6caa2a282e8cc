/**
 * JSONPath as Step Functions evaluates it (https://docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-paths.html):
 * - `$` is the state's data, `$$` the context object, `$name` a workflow variable
 *   (https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html);
 * - a definite path (only `.name`, `['name']` and `[n]` steps) yields one value and fails when a name is
 *   missing; an index past the end of an array yields null, as on AWS;
 * - an indefinite path (`*`, `..`, filters, slices, unions) yields the array of its matches, `[]` when none;
 * - reference paths (ResultPath) must be definite and create the objects they walk through.
 * Indefinite paths are evaluated by jsonpath-plus; definite ones by the small walker below, which keeps
 * null values and array bounds exactly as AWS does.
 */
import { JSONPath } from 'jsonpath-plus';
import { runtimeError, StatesError } from './errors';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

type Step = { key: string } | { index: number };

/** The data a path may address. */
export interface PathScope {
  input: unknown;
  context: unknown;
  variables: (name: string) => { found: boolean; value?: unknown };
}

export type PathResult = { found: true; value: unknown } | { found: false; missing: string };

/** Parses `$`-rooted definite steps; undefined when the path is indefinite. */
export function definiteSteps(path: string): Step[] | undefined {
  const steps: Step[] = [];
  let i = 0;
  while (i < path.length) {
    const rest = path.slice(i);
    let m = /^\.([A-Za-z_$@][\w$@-]*|[^.[\]*'"()?,:\s]+)/.exec(rest);
    if (m && !m[1].startsWith('.')) {
      if (rest.startsWith('..')) return undefined;
      steps.push({ key: m[1] });
      i += m[0].length;
      continue;
    }
    m = /^\[\s*(\d+)\s*\]/.exec(rest);
    if (m) {
      steps.push({ index: Number(m[1]) });
      i += m[0].length;
      continue;
    }
    m = /^\[\s*'((?:[^'\\]|\\.)*)'\s*\]/.exec(rest) ?? /^\[\s*"((?:[^"\\]|\\.)*)"\s*\]/.exec(rest);
    if (m) {
      steps.push({ key: m[1].replace(/\\(.)/g, '$1') });
      i += m[0].length;
      continue;
    }
    return undefined;
  }
  return steps;
}

/** `$['a'][0]`: the bracket form AWS prints in "No results for path" causes. */
function bracketForm(steps: Step[], upTo: number): string {
  return `$${steps
    .slice(0, upTo)
    .map((s) => ('key' in s ? `['${s.key}']` : `[${s.index}]`))
    .join('')}`;
}

function walk(root: unknown, steps: Step[]): PathResult {
  let current: unknown = root;
  for (let n = 0; n < steps.length; n++) {
    const step = steps[n];
    if ('index' in step) {
      if (!Array.isArray(current)) return { found: false, missing: bracketForm(steps, n + 1) };
      current = step.index < current.length ? current[step.index] : null;
    } else {
      if (typeof current !== 'object' || current === null || Array.isArray(current) || !Object.hasOwn(current, step.key)) {
        return { found: false, missing: bracketForm(steps, n + 1) };
      }
      current = (current as Record<string, unknown>)[step.key];
    }
  }
  return { found: true, value: current };
}

/** Splits `$$.a`, `$.a`, `$var.a` into the root's value and the `$`-rooted remainder. */
function root(path: string, scope: PathScope): { data: unknown; rest: string } | { variable: string } {
  if (path.startsWith('$$')) return { data: scope.context, rest: `$${path.slice(2)}` };
  const v = /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(path);
  if (v) {
    const found = scope.variables(v[1]);
    if (!found.found) return { variable: v[1] };
    return { data: found.value, rest: `$${path.slice(v[0].length)}` };
  }
  return { data: scope.input, rest: path };
}

/**
 * A function call such as `.length()`. "Functions such as length() aren't supported" in reference paths
 * (https://docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-paths.html#amazon-states-language-reference-paths);
 * for other paths AWS documents no functions at all, so the engine supports none (see DIVERGENCES.md). That
 * includes calls inside filter expressions: jsonpath-plus would run `@.a.match(/(a+)+$/)` on JavaScript's
 * backtracking RegExp, and one such path froze the runtime for a minute.
 */
export function hasFunctionCall(path: string): boolean {
  const unquoted = path.replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, "''");
  return /[\w$)\]]\s*\(/.test(unquoted);
}

/** Evaluates a path; a definite path that finds nothing reports what was missing. */
export function evaluatePath(path: string, scope: PathScope): PathResult {
  if (!path.startsWith('$')) throw runtimeError(`Invalid path '${path}': paths must begin with '$'`);
  if (hasFunctionCall(path)) throw runtimeError(`Invalid path '${path}': functions such as length() aren't supported`);
  const r = root(path, scope);
  if ('variable' in r) return { found: false, missing: `$${r.variable}` };
  const body = r.rest.slice(1);
  const steps = definiteSteps(body);
  if (steps) return walk(r.data, steps);
  let matches: unknown[];
  try {
    matches = JSONPath({ path: r.rest, json: r.data as object, wrap: true, eval: 'safe' }) ?? [];
  } catch (err) {
    throw runtimeError(`Invalid path '${path}': ${(err as Error).message}`);
  }
  return { found: true, value: matches };
}

/** A path that must find something (InputPath, OutputPath, ItemsPath, *SecondsPath, ...). */
export function selectPath(path: string, scope: PathScope): unknown {
  const r = evaluatePath(path, scope);
  if (!r.found) throw runtimeError(`Invalid path '${path}' : No results for path: ${r.missing}`);
  return r.value;
}

/** ResultPath: `$` replaces, `null` discards (handled by the caller), anything else writes into a copy. */
export function applyResultPath(path: string, rawInput: unknown, result: unknown): unknown {
  if (path === '$') return result;
  const steps = definiteSteps(path.slice(1));
  if (!path.startsWith('$') || path.startsWith('$$') || !steps)
    throw new StatesError('States.ResultPathMatchFailure', `Unable to apply ReferencePath ${path} to input ${JSON.stringify(rawInput)}`);
  const fail = () => new StatesError('States.ResultPathMatchFailure', `Unable to apply ReferencePath ${path} to input ${JSON.stringify(rawInput)}`);
  if (typeof rawInput !== 'object' || rawInput === null) throw fail();
  const copy = structuredClone(rawInput) as Record<string, unknown> | unknown[];
  let current: any = copy;
  steps.forEach((step, n) => {
    const last = n === steps.length - 1;
    if ('index' in step) {
      if (!Array.isArray(current) || step.index >= current.length) throw fail();
      if (last) current[step.index] = result;
      else current = current[step.index];
      return;
    }
    if (typeof current !== 'object' || current === null || Array.isArray(current)) throw fail();
    if (last) current[step.key] = result;
    else {
      if (current[step.key] === undefined || current[step.key] === null) current[step.key] = {};
      else if (typeof current[step.key] !== 'object') throw fail();
      current = current[step.key];
    }
  });
  return copy;
}
