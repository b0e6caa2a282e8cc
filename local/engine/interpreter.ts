/**
 * The state machine interpreter: runs an Amazon States Language definition
 * (https://states-language.net/spec.html and https://docs.aws.amazon.com/step-functions/latest/dg/concepts-amazon-states-language.html)
 * in JSONPath or JSONata, with variables, Retry/Catch, inline and distributed Map, Parallel, and the
 * history AWS records (types, order, ids and the previousEventId chain of each branch and iteration).
 *
 * Not aws-local-stepfunctions' interpreter: that library exports only a closed `StateMachine` whose
 * internals cannot be corrected from outside (local/engine/DIVERGENCES.md lists each difference it has
 * from AWS and the test that covers it). Task work (Lambda, SDK integrations, activities,
 * tokens, child executions) stays in dispatch.ts behind `Host.task` (host.ts).
 *
 * This is the core: the run loop, Retry/Catch, the input and output processing each query language shares and the
 * history chain. What each state type does, in both query languages, is in states/<type>.ts (states/state.ts is
 * the contract between the two).
 *
 * History chain (event types from https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html;
 * the chain inside branches is not documented and was taken from recorded histories, see DIVERGENCES.md):
 * the first state event points at 0; every event of a branch or iteration
 * points at the previous event of the same branch; Map/Parallel *Succeeded, MapIterationFailed and
 * *StateAborted events are "passed by" (the next event points where they point); States.Runtime fails the
 * execution at once without Failed events in enclosing states.
 */
import type { Catcher, QueryLanguage, Scope, State, StateFields, StateTypeName } from './asl';
import { asStatesError, errorMatches, runtimeError, StatesError } from './errors';
import { stateEntry } from './field-checks';
import { type Host, TOKEN_SENTINEL } from './host';
import { evaluateIntrinsic, isIntrinsic } from './intrinsics';
import { evaluateTemplate, type JsonataScope } from './jsonata';
import { applyResultPath, evaluatePath, selectPath, type PathScope } from './jsonpath';
import { choice } from './states/choice';
import { fail } from './states/fail';
import { map } from './states/map';
import { parallel } from './states/parallel';
import { pass } from './states/pass';
import type { Chain, Engine, Env, JsonataStep, Obj, PathStep, Processed, StateOutcome, StateType } from './states/state';
import { json } from './states/state';
import { succeed } from './states/succeed';
import { task } from './states/task';
import { wait } from './states/wait';
import { Variables } from './variables';

const STATE_TYPES: { [T in StateTypeName]: StateType<Extract<State, { Type: T }>> } = {
  Pass: pass,
  Task: task,
  Choice: choice,
  Wait: wait,
  Succeed: succeed,
  Fail: fail,
  Parallel: parallel,
  Map: map,
};

/** A chain that is running now: the execution's own, a Parallel branch or a Map iteration (for StopExecution). */
interface LiveChain {
  chain: Chain;
  depth: number;
  iteration?: { name: string; index: number };
}

/** States that run long enough to be stopped; HistoryEvent has a `*StateAborted` type for each. */
const ABORTABLE = ['Task', 'Wait', 'Map', 'Parallel'];

export class Interpreter implements Engine {
  /** Told about each top-level state as it is entered (where RedriveExecution starts again). */
  onTopLevelState?: (name: string, input: unknown, variables: Record<string, unknown>) => void;
  /** Told about each iteration or branch of a top-level inline Map or Parallel that succeeds, and its result. */
  onBranchSucceeded?: (state: string, index: number, result: unknown) => void;
  /**
   * A redrive's top-level Map or Parallel: the iterations or branches that succeeded before, with their results.
   * "For workflows that include an Inline Map or Parallel state, RedriveExecution API action reschedules and
   * redrives only the iterations and branches that failed or aborted"
   * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_RedriveExecution.html).
   */
  private resume?: { state: string; succeeded: Record<string, unknown> };

  private readonly live = new Set<LiveChain>();

  constructor(readonly host: Host) {}

  /** Runs a whole definition from its StartAt (or `startAt`, for a redrive); resolves with its output. */
  async run(
    definition: Obj,
    input: unknown,
    vars = new Variables(),
    chain: Chain = { last: 0 },
    startAt?: string,
    succeeded?: Record<string, unknown>,
  ): Promise<unknown> {
    const language = definition.QueryLanguage === 'JSONata' ? 'JSONata' : 'JSONPath';
    if (startAt && succeeded) this.resume = { state: startAt, succeeded };
    const scope = (startAt ? { ...definition, StartAt: startAt } : definition) as Scope;
    const own: LiveChain = { chain, depth: 0 };
    this.live.add(own);
    try {
      return await this.runScope(scope, input, { chain, vars, language, signal: this.host.signal, top: true, depth: 0 });
    } finally {
      this.live.delete(own);
    }
  }

  /**
   * StopExecution: records `TaskStateAborted`, `WaitStateAborted`, `MapIterationAborted`, `MapStateAborted` and
   * `ParallelStateAborted` (event types of https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html)
   * for the states running now, innermost first, each on its own branch's chain; returns the id of the last one,
   * which ExecutionAborted follows. Call it before the execution's signal aborts.
   */
  abortRunning(): number | undefined {
    let last: number | undefined;
    const running = [...this.live].sort((a, b) => b.depth - a.depth);
    for (const live of running) {
      const { chain } = live;
      if (chain.active && ABORTABLE.includes(chain.active.type)) {
        chain.last = last = this.host.record(`${chain.active.type}StateAborted`, undefined, chain.last);
        chain.active = undefined;
      }
      if (live.iteration) chain.last = last = this.host.record('MapIterationAborted', live.iteration, chain.last);
      this.live.delete(live);
    }
    return last;
  }

  track(chain: Chain, depth: number, iteration?: { name: string; index: number }): () => void {
    const live: LiveChain = { chain, depth, ...(iteration ? { iteration } : {}) };
    this.live.add(live);
    return () => this.live.delete(live);
  }

  /** Runs a single state (TestState); resolves with its output and next state. */
  async runOne(state: Obj, name: string, input: unknown, vars: Variables, language: QueryLanguage): Promise<StateOutcome> {
    return this.runState(name, state as State, input, { chain: { last: 0 }, vars, language, signal: this.host.signal });
  }

  async runScope(scope: Scope, input: unknown, env: Env): Promise<unknown> {
    let name: string = scope.StartAt;
    let data = input;
    for (;;) {
      if (env.signal.aborted) throw runtimeError('The execution stopped');
      const state = scope.States[name];
      if (env.top) this.onTopLevelState?.(name, data, env.vars.all());
      let outcome: StateOutcome;
      try {
        outcome = await this.runState(name, state, data, env);
      } finally {
        // A redrive resumes only the state it starts at, once.
        if (env.top) this.resume = undefined;
      }
      data = outcome.output;
      if (outcome.next === undefined) return data;
      name = outcome.next;
    }
  }

  private languageOf(state: State, env: Env): QueryLanguage {
    return (state.QueryLanguage ?? env.language) === 'JSONata' ? 'JSONata' : 'JSONPath';
  }

  private async runState(name: string, state: State, rawInput: unknown, env: Env): Promise<StateOutcome> {
    const fields: StateFields = state;
    const { chain } = env;
    const type: string = state.Type;
    const language = this.languageOf(state, env);
    const enteredAt = this.host.clock.now().toISOString();
    const enteredId = this.host.record(`${type}StateEntered`, { name, input: json(rawInput), inputDetails: { truncated: false } }, chain.last);
    chain.last = enteredId;
    chain.active = { type, name };
    env.enteredId = enteredId;
    this.host.inspect?.('input', rawInput);
    const retries: number[] = (fields.Retry ?? []).map(() => 0);
    let retryCount = 0;
    for (;;) {
      const context = this.contextFor(name, type, enteredAt, retryCount, env);
      try {
        const outcome =
          language === 'JSONata' ? await this.jsonataState(name, state, rawInput, context, env) : await this.jsonPathState(name, state, rawInput, context, env);
        if (type !== 'Fail') {
          this.exited(type, name, outcome.output, env, outcome.assigned);
        }
        return { output: outcome.output, next: outcome.next };
      } catch (thrown) {
        const err = this.located(asStatesError(thrown), name, enteredId);
        if (err.fatal || env.signal.aborted) {
          err.lastEventId ??= chain.last;
          throw err;
        }
        const retrier = (fields.Retry ?? []).findIndex((r) => errorMatches(r.ErrorEquals, err, type));
        if (retrier >= 0) {
          const r = fields.Retry![retrier];
          const max = r.MaxAttempts ?? 3;
          if (retries[retrier] < max) {
            const interval = r.IntervalSeconds ?? 1;
            let delay = interval * (r.BackoffRate ?? 2) ** retries[retrier];
            if (r.MaxDelaySeconds !== undefined) delay = Math.min(delay, r.MaxDelaySeconds);
            if (r.JitterStrategy === 'FULL') delay = Math.random() * delay;
            retries[retrier]++;
            retryCount++;
            try {
              await this.host.clock.sleep(delay * 1000, env.signal);
            } catch {
              throw runtimeError('The execution stopped');
            }
            continue;
          }
        }
        const catcherIndex = (fields.Catch ?? []).findIndex((c) => errorMatches(c.ErrorEquals, err, type));
        if (catcherIndex < 0) {
          err.lastEventId ??= chain.last;
          throw err;
        }
        const catcher = fields.Catch![catcherIndex];
        const errorOutput: Obj = { Error: err.name, ...(err.cause !== undefined ? { Cause: err.cause } : {}) };
        this.host.inspect?.('caught', errorOutput);
        const caught = await this.caught(name, catcher, catcherIndex, rawInput, errorOutput, context, env, language, enteredId);
        this.exited(type, name, caught.output, env, caught.assigned);
        return { output: caught.output, next: catcher.Next };
      }
    }
  }

  private exited(type: string, name: string, output: unknown, env: Env, assigned?: Record<string, unknown>): void {
    const details: Obj = { name, output: json(output), outputDetails: { truncated: false } };
    // https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html#service-limits-task-executions
    const limit = this.host.payloadLimitBytes;
    if (limit !== undefined && Buffer.byteLength(details.output as string) > limit) {
      throw new StatesError(
        'States.DataLimitExceeded',
        `The state/task '${name}' returned a result with a size exceeding the maximum number of bytes service limit.`,
      );
    }
    // An empty Assign records nothing: AWS's PassStateExited for `"Assign": {}` has no assignedVariables and no
    // assignedVariablesDetails (recorded on AWS: localstack/localstack
    // tests/aws/services/stepfunctions/v2/assign/test_assign_base.snapshot.json, "BASE_EMPTY").
    if (assigned && Object.keys(assigned).length > 0) {
      details.assignedVariables = Object.fromEntries(Object.entries(assigned).map(([k, v]) => [k, json(v)]));
      details.assignedVariablesDetails = { truncated: false };
    }
    env.chain.last = this.host.record(`${type}StateExited`, details, env.chain.last);
    env.chain.active = undefined;
  }

  /** Errors the engine itself raises name the state and its entered event, as AWS's causes do. */
  private located(err: StatesError, name: string, enteredId: number): StatesError {
    const engineError = [
      'States.Runtime',
      'States.QueryEvaluationError',
      'States.ResultPathMatchFailure',
      'States.NoChoiceMatched',
      'States.IntrinsicFailure',
      'States.ItemReaderFailed',
    ].includes(err.name);
    if (!engineError || (err as { located?: boolean }).located) return err;
    const prefixed = new StatesError(
      err.name,
      `An error occurred while executing the state '${name}' (entered at the event id #${enteredId}). ${err.cause ?? ''}`,
      { fatal: err.fatal, terminal: err.terminal },
    );
    (prefixed as { located?: boolean }).located = true;
    prefixed.lastEventId = err.lastEventId;
    return prefixed;
  }

  private contextFor(name: string, type: string, enteredAt: string, retryCount: number, env: Env): Obj {
    const context: Obj = {
      Execution: this.host.context.Execution,
      State: stateEntry(type, name, enteredAt, retryCount),
      StateMachine: this.host.context.StateMachine,
      ...(env.extraContext ?? {}),
    };
    if (type === 'Task') context.Task = { Token: TOKEN_SENTINEL };
    return context;
  }

  pathScope(input: unknown, context: Obj, env: Env): PathScope {
    return { input, context: withoutSentinel(context), variables: (n) => env.vars.get(n) };
  }

  /**
   * A payload template (Parameters, ItemSelector, ResultSelector, Assign): `.$` keys hold paths or intrinsics. A path
   * that finds nothing fails with States.Runtime, which no Catch handles, in Parameters too: executions on AWS record
   * States.Runtime there (https://github.com/floci-io/floci/issues/2521), although the error-handling page names
   * States.ParameterPathFailure for it (local/engine/DIVERGENCES.md).
   */
  template(template: unknown, scope: PathScope): unknown {
    if (Array.isArray(template)) return template.map((v) => this.template(v, scope));
    if (typeof template !== 'object' || template === null) return template;
    const out: Obj = {};
    for (const [key, value] of Object.entries(template)) {
      if (key.endsWith('.$') && typeof value === 'string') {
        out[key.slice(0, -2)] = this.dynamicValue(value, key, scope);
      } else {
        out[key] = this.template(value, scope);
      }
    }
    return out;
  }

  /** The value of a `.$` field: a path (of the input, `$$` context or a `$variable`) or an intrinsic function. */
  dynamicValue(value: string, field: string, scope: PathScope): unknown {
    if (isIntrinsic(value)) return evaluateIntrinsic(value, scope);
    const r = evaluatePath(value, scope);
    if (!r.found) {
      const data = value.startsWith('$$') ? scope.context : scope.input;
      throw runtimeError(`The JSONPath '${value}' specified for the field '${field}' could not be found in the input '${json(data)}'`);
    }
    return r.value;
  }

  // ---- The input and output processing each query language shares -----------------------------------

  /** JSONPath: InputPath, then the state's type, then ResultSelector, ResultPath, Assign and OutputPath. */
  private jsonPathState(name: string, state: State, rawInput: unknown, context: Obj, env: Env): Promise<Processed> {
    const type = state.Type;
    const fields: StateFields = state;
    const scopeOf = (input: unknown) => this.pathScope(input, context, env);
    let effective = rawInput;
    if (type !== 'Fail') {
      if (fields.InputPath === null) effective = {};
      else if (typeof fields.InputPath === 'string') effective = selectPath(fields.InputPath, scopeOf(rawInput));
      this.host.inspect?.('afterInputPath', effective);
    }
    const finish = (output: unknown, next: string | undefined, assignFrom: unknown, assignSpec: unknown = fields.Assign): Processed => {
      const assigned = assignSpec !== undefined ? (this.template(assignSpec, scopeOf(assignFrom)) as Obj) : undefined;
      let out = output;
      if (fields.OutputPath === null) out = {};
      else if (typeof fields.OutputPath === 'string') out = selectPath(fields.OutputPath, scopeOf(output));
      if (assigned) env.vars.assign(assigned);
      return { output: out, next, assigned };
    };
    const withResult = (result: unknown) => {
      let selected = result;
      if (fields.ResultSelector !== undefined) {
        selected = this.template(fields.ResultSelector, scopeOf(result));
        this.host.inspect?.('afterResultSelector', selected);
      }
      const merged = fields.ResultPath === null ? rawInput : applyResultPath(fields.ResultPath ?? '$', rawInput, selected);
      this.host.inspect?.('afterResultPath', merged);
      return { merged, selected };
    };
    const next = (): string | undefined => (fields.End ? undefined : fields.Next);
    const step: PathStep = { engine: this, name, state, env, context, rawInput, next, effective, scopeOf, withResult, finish };
    return this.stateType(type).jsonPath(step);
  }

  /** JSONata: the state's type with `$states`, then Assign and Output (both see the variables as they were before). */
  private jsonataState(name: string, state: State, rawInput: unknown, context: Obj, env: Env): Promise<Processed> {
    const fields: StateFields = state;
    const states: Obj = { input: rawInput, context: withoutSentinel(context) };
    const scope = (): JsonataScope => ({ states, variables: env.vars.all() });
    const evaluate = async (value: unknown, field: string) => {
      try {
        return await evaluateTemplate(value, field, scope());
      } catch (err) {
        throw this.evaluationFailed(err, name, field, env);
      }
    };
    const finish = async (
      defaultOutput: unknown,
      next: string | undefined,
      assignSpec: unknown = fields.Assign,
      outputSpec: unknown = fields.Output,
      prefix = '',
    ) => {
      // Assign and Output see the variables as they were before this state: both are evaluated first.
      const assigned = assignSpec !== undefined ? ((await evaluate(assignSpec, `${prefix}Assign`)) as Obj) : undefined;
      const output = outputSpec !== undefined ? await evaluate(outputSpec, `${prefix}Output`) : defaultOutput;
      if (assigned) env.vars.assign(assigned);
      return { output, next, assigned };
    };
    const next = (): string | undefined => (fields.End ? undefined : fields.Next);
    const step: JsonataStep = { engine: this, name, state, env, context, rawInput, next, states, evaluate, finish };
    return this.stateType(state.Type).jsonata(step);
  }

  private stateType(type: string): StateType {
    const module = STATE_TYPES[type as StateTypeName] as StateType | undefined;
    if (!module) throw runtimeError(`Unknown state type '${type}'`);
    return module;
  }

  /** A JSONata failure leaves an EvaluationFailed event (error, cause, location, state) on the chain. */
  evaluationFailed(err: unknown, name: string, field: string, env: Env): StatesError {
    const e = asStatesError(err);
    if (e.name !== 'States.QueryEvaluationError') return e;
    const entered = this.enteredIdOf(env);
    const located = this.located(e, name, entered);
    const location = (e as { location?: string }).location ?? field;
    env.chain.last = this.host.record('EvaluationFailed', { error: located.name, cause: located.cause, location, state: name }, env.chain.last);
    return located;
  }

  private enteredIdOf(env: Env): number {
    return env.enteredId ?? env.chain.last;
  }

  private async caught(
    name: string,
    catcher: Catcher,
    index: number,
    rawInput: unknown,
    errorOutput: Obj,
    context: Obj,
    env: Env,
    language: string,
    enteredId: number,
  ): Promise<{ output: unknown; assigned?: Obj }> {
    if (language === 'JSONata') {
      const states = { input: rawInput, errorOutput, context: withoutSentinel(context) };
      const scope = { states, variables: env.vars.all() };
      const evaluate = async (value: unknown, field: string) => {
        try {
          return await evaluateTemplate(value, field, scope);
        } catch (err) {
          const e = this.located(asStatesError(err), name, enteredId);
          const location = (asStatesError(err) as { location?: string }).location ?? field;
          env.chain.last = this.host.record('EvaluationFailed', { error: e.name, cause: e.cause, location, state: name }, env.chain.last);
          throw e;
        }
      };
      const assigned = catcher.Assign !== undefined ? ((await evaluate(catcher.Assign, `Catch[${index}]/Assign`)) as Obj) : undefined;
      const output = catcher.Output !== undefined ? await evaluate(catcher.Output, `Catch[${index}]/Output`) : errorOutput;
      if (assigned) env.vars.assign(assigned);
      return { output, assigned };
    }
    const scope = this.pathScope(errorOutput, context, env);
    const assigned = catcher.Assign !== undefined ? (this.template(catcher.Assign, scope) as Obj) : undefined;
    const output = catcher.ResultPath === null ? rawInput : applyResultPath(catcher.ResultPath ?? '$', rawInput, errorOutput);
    if (assigned) env.vars.assign(assigned);
    return { output, assigned };
  }

  /** TestState's mocked result or error, in place of a Task's, Map's or Parallel's work. */
  mocked(): unknown {
    const mock = this.host.mock!;
    if ('result' in mock) return structuredClone(mock.result);
    throw new StatesError(mock.error, mock.cause, { fatal: false, terminal: false });
  }

  /** A redrive's earlier successes for this top-level Map or Parallel (used once: a retry of the state runs it whole). */
  resumed(name: string, env: Env): Record<string, unknown> | undefined {
    if (!env.top || this.resume?.state !== name) return undefined;
    const { succeeded } = this.resume;
    this.resume = undefined;
    return succeeded;
  }

  /** Aborts the states still active on each chain (the failing one included: a TaskStateAborted there, an undocumented detail; see DIVERGENCES.md). */
  abortBranches(chains: Chain[]): void {
    for (const chain of chains) {
      const active = chain.active;
      if (!active || !ABORTABLE.includes(active.type)) continue;
      this.host.record(`${active.type}StateAborted`, undefined, chain.last);
      chain.active = undefined;
    }
  }
}

/** The task token is only ever read from a Task's Parameters/Arguments; elsewhere `$$.Task` does not exist. */
function withoutSentinel(context: Obj): Obj {
  if (!context.Task) return context;
  const { Task: _task, ...rest } = context;
  return rest;
}
