/**
 * Turns a deployed ASL definition into the one handed to aws-local-stepfunctions.
 *
 * The library replaces a Task's work per state NAME and hands the replacement only the effective input,
 * sleeps in real time and knows no task tokens, so before running a definition we:
 * - refuse what it would run wrongly (JSONata, Assign, distributed Map, duplicate state names);
 * - turn every Wait into a Task handled by the dispatcher, so waits run on the virtual clock;
 * - wrap each Task's Parameters as `{ Input, TimeoutSeconds?, HeartbeatSeconds? }` so *SecondsPath values
 *   reach the dispatcher, which enforces timeouts itself (the library's own race is pushed out of reach);
 * - replace `$$.Task.Token`, `$$.State.EnteredTime` and `$$.State.Name` in Task parameters with values
 *   the dispatcher (or this file) fills in, and point `$$.Execution.*` at a context entry the library does
 *   not overwrite (it resets Execution.Input/StartTime in every Map iteration and Parallel branch);
 * - divide Retry intervals by the clock scale and let `States.Timeout` retriers/catchers also match
 *   `States.HeartbeatTimeout`, as AWS does.
 */

/** Context key that carries `$$.Execution` (see above). */
export const EXECUTION_CONTEXT_KEY = 'Opsflow_Execution';
export const TOKEN_SENTINEL = '@@opsflow:task-token@@';
export const ENTERED_TIME_SENTINEL = '@@opsflow:state-entered-time@@';
/** Resource of the Tasks that stand in for Wait states. */
export const WAIT_RESOURCE = 'opsflow:wait';
/**
 * The library races every Task with a real-time timer (60 s when TimeoutSeconds is absent). The dispatcher
 * enforces the definition's timeouts on the virtual clock, so the library's timer is set to the longest
 * delay Node's setTimeout accepts (~24.8 days).
 */
const LIBRARY_TASK_TIMEOUT_SECONDS = 2_000_000;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = Record<string, any>;

export interface TaskMeta {
  /** The state's Resource, or WAIT_RESOURCE for a converted Wait. */
  resource: string;
  timeoutSeconds?: number;
  heartbeatSeconds?: number;
}

export interface PreparedDefinition {
  /** The definition the library runs. */
  definition: Obj;
  /** Original state types by name (converted Waits are still 'Wait' here, as history shows them). */
  stateTypes: Map<string, string>;
  /** Every state the dispatcher runs, by name. */
  tasks: Map<string, TaskMeta>;
  /** The top-level TimeoutSeconds, enforced by the service on the virtual clock. */
  timeoutSeconds?: number;
}

/** Thrown for definitions the local runtime will not run. */
export class DefinitionRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DefinitionRefusedError';
  }
}

interface AslValidatorResult {
  isValid: boolean;
  errorsText: (separator?: string) => string;
}
// asl-validator ships no type declarations.
const aslValidator = require('asl-validator') as (definition: unknown, options?: Record<string, boolean>) => AslValidatorResult;

export function prepareDefinition(original: unknown, scale: number): PreparedDefinition {
  if (!isObj(original) || !isObj(original.States)) throw new DefinitionRefusedError('State machine definition must be an object with States');
  refuseUnsupported(original, new Set());
  // The validator writes a default QueryLanguage into every state, so it gets its own copy.
  const validation = aslValidator(structuredClone(original), { checkArn: true, checkPaths: true });
  if (!validation.isValid) throw new DefinitionRefusedError(`Invalid state machine definition: ${validation.errorsText('; ')}`);

  const definition = structuredClone(original) as Obj;
  const prepared: PreparedDefinition = { definition, stateTypes: new Map(), tasks: new Map(), timeoutSeconds: definition.TimeoutSeconds };
  delete definition.TimeoutSeconds;
  rewriteScope(definition, prepared, scale);
  return prepared;
}

function refuseUnsupported(scope: Obj, seen: Set<string>): void {
  if (scope.QueryLanguage === 'JSONata') throw new DefinitionRefusedError('QueryLanguage JSONata is not supported by the opsflow local runtime; use JSONPath');
  for (const [name, state] of Object.entries(scope.States as Obj)) {
    if (seen.has(name)) throw new DefinitionRefusedError(`State name '${name}' is used more than once; the local runtime needs unique state names`);
    seen.add(name);
    if (!isObj(state)) continue;
    const refuse = (what: string) => {
      throw new DefinitionRefusedError(`State '${name}' uses ${what}, which the opsflow local runtime does not support`);
    };
    if (state.QueryLanguage === 'JSONata') refuse('QueryLanguage JSONata');
    for (const field of ['Assign', 'Output', 'Arguments']) if (field in state) refuse(field);
    if (state.Type === 'Map') {
      for (const field of ['ItemReader', 'ItemWriter', 'ResultWriter', 'ItemBatcher']) if (field in state) refuse(`${field} (distributed Map)`);
      const processor = state.ItemProcessor ?? state.Iterator;
      if (processor?.ProcessorConfig?.Mode === 'DISTRIBUTED') refuse('a distributed Map');
      if (isObj(processor) && isObj(processor.States)) refuseUnsupported(processor, seen);
    }
    if (state.Type === 'Parallel' && Array.isArray(state.Branches)) for (const branch of state.Branches) if (isObj(branch) && isObj(branch.States)) refuseUnsupported(branch, seen);
  }
}

/**
 * `ResultPath: "$"` means "the result replaces the input", which is also what an absent ResultPath means;
 * the library would instead store the result under a key named "$", so drop it.
 */
function withoutRootResultPath(holder: Obj): Obj {
  if (holder.ResultPath === '$') delete holder.ResultPath;
  return holder;
}

function rewriteScope(scope: Obj, prepared: PreparedDefinition, scale: number): void {
  for (const [name, state] of Object.entries(scope.States as Record<string, Obj>)) {
    prepared.stateTypes.set(name, state.Type);
    for (const field of ['InputPath', 'OutputPath', 'ItemsPath', 'ErrorPath', 'CausePath', 'MaxConcurrencyPath']) {
      if (typeof state[field] === 'string') state[field] = rewritePath(state[field], name, false);
    }
    if (isObj(state.ResultSelector)) state.ResultSelector = rewriteTemplate(state.ResultSelector, name, false);
    if (state.Retry) state.Retry = state.Retry.map((r: Obj) => rewriteRetrier(r, scale));
    if (state.Catch) state.Catch = state.Catch.map((c: Obj) => withoutRootResultPath({ ...c, ErrorEquals: withHeartbeat(c.ErrorEquals) }));
    withoutRootResultPath(state);

    switch (state.Type) {
      case 'Task':
        prepareTask(name, state, prepared);
        break;
      case 'Wait':
        scope.States[name] = waitAsTask(state);
        prepared.tasks.set(name, { resource: WAIT_RESOURCE });
        break;
      case 'Pass':
        if ('Parameters' in state) state.Parameters = rewriteTemplate(state.Parameters, name, false);
        break;
      case 'Choice':
        state.Choices = state.Choices.map((rule: Obj) => rewriteChoiceRule(rule, name));
        break;
      case 'Map':
        for (const field of ['ItemSelector', 'Parameters']) if (field in state) state[field] = rewriteTemplate(state[field], name, false);
        rewriteScope(state.ItemProcessor ?? state.Iterator, prepared, scale);
        break;
      case 'Parallel':
        for (const branch of state.Branches) rewriteScope(branch, prepared, scale);
        break;
    }
  }
}

function prepareTask(name: string, state: Obj, prepared: PreparedDefinition): void {
  prepared.tasks.set(name, { resource: state.Resource, timeoutSeconds: state.TimeoutSeconds, heartbeatSeconds: state.HeartbeatSeconds });
  const wrapper: Obj = 'Parameters' in state ? { Input: rewriteTemplate(state.Parameters, name, true) } : { 'Input.$': '$' };
  if (typeof state.TimeoutSecondsPath === 'string') wrapper['TimeoutSeconds.$'] = rewritePath(state.TimeoutSecondsPath, name, false);
  if (typeof state.HeartbeatSecondsPath === 'string') wrapper['HeartbeatSeconds.$'] = rewritePath(state.HeartbeatSecondsPath, name, false);
  for (const field of ['TimeoutSecondsPath', 'HeartbeatSeconds', 'HeartbeatSecondsPath']) delete state[field];
  state.Parameters = wrapper;
  state.TimeoutSeconds = LIBRARY_TASK_TIMEOUT_SECONDS;
}

/** A Wait becomes a Task whose input carries the wait spec; its output is its (InputPath-filtered) input, as for a Wait. */
function waitAsTask(state: Obj): Obj {
  const params: Obj = { 'Input.$': '$' };
  if ('Seconds' in state) params.Seconds = state.Seconds;
  if ('Timestamp' in state) params.Timestamp = state.Timestamp;
  if (typeof state.SecondsPath === 'string') params['Seconds.$'] = state.SecondsPath;
  if (typeof state.TimestampPath === 'string') params['Timestamp.$'] = state.TimestampPath;
  const task: Obj = { Type: 'Task', Resource: WAIT_RESOURCE, Parameters: params, TimeoutSeconds: LIBRARY_TASK_TIMEOUT_SECONDS };
  for (const field of ['Comment', 'InputPath', 'OutputPath', 'Next', 'End']) if (field in state) task[field] = state[field];
  return task;
}

function rewriteRetrier(retrier: Obj, scale: number): Obj {
  const out: Obj = { ...retrier, ErrorEquals: withHeartbeat(retrier.ErrorEquals) };
  // The library sleeps IntervalSeconds * BackoffRate^n real seconds (default interval 1 s), clamped by MaxDelaySeconds.
  out.IntervalSeconds = (retrier.IntervalSeconds ?? 1) / scale;
  if (retrier.MaxDelaySeconds !== undefined) out.MaxDelaySeconds = retrier.MaxDelaySeconds / scale;
  return out;
}

/** In AWS a retrier or catcher on States.Timeout also matches heartbeat timeouts. */
function withHeartbeat(errors: string[]): string[] {
  return errors.includes('States.Timeout') && !errors.includes('States.HeartbeatTimeout') ? [...errors, 'States.HeartbeatTimeout'] : errors;
}

function rewriteChoiceRule(rule: Obj, stateName: string): Obj {
  const out: Obj = {};
  for (const [key, value] of Object.entries(rule)) {
    if ((key === 'And' || key === 'Or') && Array.isArray(value)) out[key] = value.map((r) => rewriteChoiceRule(r, stateName));
    else if (key === 'Not' && isObj(value)) out[key] = rewriteChoiceRule(value, stateName);
    else if ((key === 'Variable' || key.endsWith('Path')) && typeof value === 'string') out[key] = rewritePath(value, stateName, false);
    else out[key] = value;
  }
  return out;
}

/** A payload template (Parameters, ItemSelector, ResultSelector): only `.$` keys hold paths or intrinsic functions. */
function rewriteTemplate(template: Json, stateName: string, inTask: boolean): Json {
  if (Array.isArray(template)) return template.map((v) => rewriteTemplate(v, stateName, inTask));
  if (!isObj(template)) return template;
  const out: Obj = {};
  for (const [key, value] of Object.entries(template)) {
    if (key.endsWith('.$') && typeof value === 'string') {
      const rewritten = value.startsWith('$') ? rewritePath(value, stateName, inTask) : rewriteIntrinsic(value, stateName, inTask);
      if (typeof rewritten === 'string') out[key] = rewritten;
      else out[key.slice(0, -2)] = rewritten.literal;
    } else {
      out[key] = rewriteTemplate(value as Json, stateName, inTask);
    }
  }
  return out;
}

/** Per-state context values become literals; `$$.Execution` moves to the context key the library leaves alone. */
function rewritePath(path: string, stateName: string, inTask: boolean): string | { literal: string } {
  if (path === '$$.State.Name') return { literal: stateName };
  if (inTask && path === '$$.Task.Token') return { literal: TOKEN_SENTINEL };
  if (inTask && path === '$$.State.EnteredTime') return { literal: ENTERED_TIME_SENTINEL };
  return path.replace(/^\$\$\.Execution(?=$|[.[])/, `$$$$.${EXECUTION_CONTEXT_KEY}`);
}

/** Same rewrite inside an intrinsic function call, leaving quoted string arguments untouched. */
function rewriteIntrinsic(expr: string, stateName: string, inTask: boolean): string {
  const quote = (s: string) => `'${s.replace(/[\\'{}]/g, (c) => `\\${c}`)}'`;
  let out = '';
  let i = 0;
  while (i < expr.length) {
    const ch = expr[i];
    if (ch === "'") {
      let j = i + 1;
      while (j < expr.length && expr[j] !== "'") j += expr[j] === '\\' ? 2 : 1;
      out += expr.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const rest = expr.slice(i);
    const match = /^\$\$\.(Task\.Token|State\.Name|State\.EnteredTime|Execution)(?![\w])/.exec(rest);
    if (match) {
      const [whole, what] = match;
      if (what === 'State.Name') out += quote(stateName);
      else if (what === 'Task.Token' && inTask) out += quote(TOKEN_SENTINEL);
      else if (what === 'State.EnteredTime' && inTask) out += quote(ENTERED_TIME_SENTINEL);
      else if (what === 'Execution') out += `$$.${EXECUTION_CONTEXT_KEY}`;
      else out += whole;
      i += whole.length;
      continue;
    }
    out += ch;
    i += 1;
  }
  return out;
}

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
