/**
 * The state machine interpreter: runs an Amazon States Language definition
 * (https://states-language.net/spec.html and https://docs.aws.amazon.com/step-functions/latest/dg/concepts-amazon-states-language.html)
 * in JSONPath or JSONata, with variables, Retry/Catch, inline and distributed Map, Parallel, and the
 * history AWS records (types, order, ids and the previousEventId chain of each branch and iteration).
 *
 * Not aws-local-stepfunctions' interpreter: that library exports only a closed `StateMachine` whose
 * internals cannot be corrected from outside (local/engine/DIVERGENCES.md lists each difference it has
 * from AWS and the test that covers it). Task work (Lambda, SDK integrations, activities,
 * tokens, child executions) stays in dispatch.ts behind `Host.task`.
 *
 * History chain (event types from https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html;
 * the chain inside branches is not documented and was taken from recorded histories, see DIVERGENCES.md):
 * the first state event points at 0; every event of a branch or iteration
 * points at the previous event of the same branch; Map/Parallel *Succeeded, MapIterationFailed and
 * *StateAborted events are "passed by" (the next event points where they point); States.Runtime fails the
 * execution at once without Failed events in enclosing states.
 */
import type { Clock } from '../kernel';
import { evaluateRule, isTimestamp } from './choice';
import { ABORTED, asStatesError, errorMatches, runtimeError, StatesError } from './errors';
import { evaluateIntrinsic, isIntrinsic } from './intrinsics';
import { evaluateTemplate, expressionText, isExpression, type JsonataScope } from './jsonata';
import { applyResultPath, evaluatePath, selectPath, type PathScope } from './jsonpath';

type Obj = Record<string, any>;

export const TOKEN_SENTINEL = '@@opsflow:task-token@@';

/** Limits of https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html#variable-size-limits */
export const VARIABLE_MAX_BYTES = 256 * 1024;
export const ASSIGN_MAX_BYTES = 256 * 1024;
export const EXECUTION_VARIABLES_MAX_BYTES = 10 * 1024 * 1024;
/** Inline Map runs at most 40 iterations at a time (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html). */
const INLINE_MAP_CONCURRENCY = 40;

/** Emits the events of one Task (TaskScheduled, LambdaFunctionSucceeded, ...) on its state's chain. */
export interface TaskPort {
  arn: string;
  signal: AbortSignal;
  emit(type: string, details?: Record<string, unknown>): void;
}

export interface TaskRequest {
  stateName: string;
  resource: string;
  input: unknown;
  timeoutSeconds?: number;
  heartbeatSeconds?: number;
}

/** The fields of a distributed Map, evaluated against the state's input. */
export interface DistributedFields {
  readerParameters?: Obj;
  writerParameters?: Obj;
  batchInput?: unknown;
  toleratedFailureCount?: number;
  toleratedFailurePercentage?: number;
}

export interface DistributedMapRequest {
  stateName: string;
  state: Obj;
  input: unknown;
  /** Items from the input (ItemsPath/Items); undefined when an ItemReader supplies them. */
  items: unknown[] | undefined;
  itemSelector: (item: unknown, index: number) => Promise<unknown>;
  fields: DistributedFields;
  maxConcurrency?: number;
  /** MapRunStarted and friends; `passedBy` events leave the chain where it was. */
  port: TaskPort & { note(type: string, details?: Record<string, unknown>): void };
  /** The definition's top-level query language, which the child executions inherit. */
  language: 'JSONPath' | 'JSONata';
  /** A redrive: the child executions (by input index) that succeeded before; only the others run again. */
  succeeded?: Record<string, unknown>;
  /** Told about each child execution that succeeds (what a later redrive keeps). */
  onSucceeded?: (index: number, child: unknown) => void;
}

export interface Host {
  clock: Clock;
  /** Aborted when the execution stops, times out or the runtime closes. */
  signal: AbortSignal;
  executionArn: string;
  /** Adds a history event; returns its id. */
  record(type: string, details: Record<string, unknown> | undefined, previousEventId: number): number;
  task(port: TaskPort, request: TaskRequest): Promise<unknown>;
  /** Context object entries that do not change during the run (Execution, StateMachine). */
  context: { Execution: Obj; StateMachine: Obj };
  /** Distributed Map: runs the child executions and returns the Map's result. */
  distributedMap?(request: DistributedMapRequest): Promise<unknown>;
  /** TestState's inspectionLevel: data at each step of the one state under test. */
  inspect?(key: string, value: unknown): void;
  /** AWS's 256 KiB state output quota (States.DataLimitExceeded); unset: not enforced. */
  payloadLimitBytes?: number;
  /** TestState's `mock`: the result (or error) of a Task, Map or Parallel state, which then does no work. */
  mock?: { result: unknown } | { error: string; cause?: string };
}

interface Chain {
  last: number;
  /** The state entered and not exited on this chain (aborted if an enclosing Map/Parallel fails). */
  active?: { type: string; name: string };
}

/** A chain that is running now: the execution's own, a Parallel branch or a Map iteration (for StopExecution). */
interface LiveChain {
  chain: Chain;
  depth: number;
  iteration?: { name: string; index: number };
}

/** States that run long enough to be stopped; HistoryEvent has a `*StateAborted` type for each. */
const ABORTABLE = ['Task', 'Wait', 'Map', 'Parallel'];

/** Workflow variables: a Map iteration or Parallel branch reads its parents' and assigns its own. */
export class Variables {
  private readonly own = new Map<string, unknown>();
  constructor(
    private readonly parent?: Variables,
    private readonly budget: { bytes: number } = parent?.budget ?? { bytes: 0 },
  ) {}

  get(name: string): { found: boolean; value?: unknown } {
    if (this.own.has(name)) return { found: true, value: this.own.get(name) };
    return this.parent ? this.parent.get(name) : { found: false };
  }

  all(): Record<string, unknown> {
    return { ...(this.parent?.all() ?? {}), ...Object.fromEntries(this.own) };
  }

  /** Puts back variables saved from an earlier attempt (RedriveExecution); they passed the limits when assigned. */
  restore(values: Record<string, unknown>): void {
    for (const [name, value] of Object.entries(values)) {
      this.own.set(name, value);
      this.budget.bytes += Buffer.byteLength(JSON.stringify(value ?? null));
    }
  }

  assign(values: Record<string, unknown>): void {
    let total = 0;
    for (const [name, value] of Object.entries(values)) {
      const bytes = Buffer.byteLength(JSON.stringify(value ?? null));
      if (bytes > VARIABLE_MAX_BYTES)
        throw new StatesError(
          'States.DataLimitExceeded',
          `The variable '${name}' has a size of ${bytes} bytes, which exceeds the maximum of ${VARIABLE_MAX_BYTES} bytes.`,
        );
      total += bytes;
    }
    if (total > ASSIGN_MAX_BYTES)
      throw new StatesError(
        'States.DataLimitExceeded',
        `The assigned variables have a combined size of ${total} bytes, which exceeds the maximum of ${ASSIGN_MAX_BYTES} bytes.`,
      );
    for (const [name, value] of Object.entries(values)) {
      const before = this.own.has(name) ? Buffer.byteLength(JSON.stringify(this.own.get(name) ?? null)) : 0;
      this.budget.bytes += Buffer.byteLength(JSON.stringify(value ?? null)) - before;
      this.own.set(name, value);
    }
    if (this.budget.bytes > EXECUTION_VARIABLES_MAX_BYTES) {
      throw new StatesError(
        'States.DataLimitExceeded',
        `The variables of this execution have a combined size of ${this.budget.bytes} bytes, which exceeds the maximum of ${EXECUTION_VARIABLES_MAX_BYTES} bytes.`,
      );
    }
  }
}

interface Env {
  chain: Chain;
  vars: Variables;
  /** The query language of the enclosing definition. */
  language: 'JSONPath' | 'JSONata';
  /** Extra context entries for the states of this scope. */
  extraContext?: Obj;
  /** Id of the StateEntered event of the state running in this scope (named in causes). */
  enteredId?: number;
  /** Aborted when the execution stops or an enclosing Map/Parallel gives this branch up. */
  signal: AbortSignal;
  /** The execution's own scope (not a branch or iteration). */
  top?: boolean;
  /** Nesting depth: 0 for the execution's own scope, +1 per Parallel branch or Map iteration. */
  depth?: number;
}

interface StateOutcome {
  output: unknown;
  next?: string;
}

const json = (v: unknown) => JSON.stringify(v ?? null);

export class Interpreter {
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

  constructor(private readonly host: Host) {}

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
    const scope = startAt ? { ...definition, StartAt: startAt } : definition;
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

  private track(chain: Chain, depth: number, iteration?: { name: string; index: number }): () => void {
    const live: LiveChain = { chain, depth, ...(iteration ? { iteration } : {}) };
    this.live.add(live);
    return () => this.live.delete(live);
  }

  /** Runs a single state (TestState); resolves with its output and next state. */
  async runOne(state: Obj, name: string, input: unknown, vars: Variables, language: 'JSONPath' | 'JSONata'): Promise<StateOutcome> {
    return this.runState(name, state, input, { chain: { last: 0 }, vars, language, signal: this.host.signal });
  }

  private async runScope(scope: Obj, input: unknown, env: Env): Promise<unknown> {
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

  private languageOf(state: Obj, env: Env): 'JSONPath' | 'JSONata' {
    return (state.QueryLanguage ?? env.language) === 'JSONata' ? 'JSONata' : 'JSONPath';
  }

  private async runState(name: string, state: Obj, rawInput: unknown, env: Env): Promise<StateOutcome> {
    const { chain } = env;
    const type: string = state.Type;
    const language = this.languageOf(state, env);
    const enteredAt = this.host.clock.now().toISOString();
    const enteredId = this.host.record(`${type}StateEntered`, { name, input: json(rawInput), inputDetails: { truncated: false } }, chain.last);
    chain.last = enteredId;
    chain.active = { type, name };
    env.enteredId = enteredId;
    this.host.inspect?.('input', rawInput);
    const retries: number[] = (state.Retry ?? []).map(() => 0);
    let retryCount = 0;
    for (;;) {
      const context = this.contextFor(name, enteredAt, retryCount, env, type === 'Task');
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
        const retrier = (state.Retry ?? []).findIndex((r: Obj) => errorMatches(r.ErrorEquals, err, type));
        if (retrier >= 0) {
          const r = state.Retry[retrier];
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
        const catcherIndex = (state.Catch ?? []).findIndex((c: Obj) => errorMatches(c.ErrorEquals, err, type));
        if (catcherIndex < 0) {
          err.lastEventId ??= chain.last;
          throw err;
        }
        const catcher = state.Catch[catcherIndex];
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
    if (assigned) {
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
      'States.ParameterPathFailure',
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

  private contextFor(name: string, enteredAt: string, retryCount: number, env: Env, task: boolean): Obj {
    const context: Obj = {
      Execution: this.host.context.Execution,
      State: { EnteredTime: enteredAt, Name: name, RetryCount: retryCount },
      StateMachine: this.host.context.StateMachine,
      ...(env.extraContext ?? {}),
    };
    if (task) context.Task = { Token: TOKEN_SENTINEL };
    return context;
  }

  private pathScope(input: unknown, context: Obj, env: Env): PathScope {
    return { input, context: withoutSentinel(context), variables: (n) => env.vars.get(n) };
  }

  /**
   * A payload template (Parameters, ItemSelector, ResultSelector, Assign): `.$` keys hold paths or intrinsics.
   * `parameters`: the template is a state's Parameters (or a Map's ItemSelector, which replaces them), where a
   * path that finds nothing is `States.ParameterPathFailure` ("An attempt to replace a field, within a state's
   * Parameters field, whose name ends in .$ using a path fails":
   * https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html#error-handling-error-representation,
   * and https://states-language.net/spec.html#appendix-a); elsewhere AWS names no error, and it stays States.Runtime.
   */
  private template(template: unknown, scope: PathScope, parameters = false): unknown {
    if (Array.isArray(template)) return template.map((v) => this.template(v, scope, parameters));
    if (typeof template !== 'object' || template === null) return template;
    const out: Obj = {};
    for (const [key, value] of Object.entries(template)) {
      if (key.endsWith('.$') && typeof value === 'string') {
        out[key.slice(0, -2)] = this.dynamicValue(value, key, scope, parameters);
      } else {
        out[key] = this.template(value, scope, parameters);
      }
    }
    return out;
  }

  /** The value of a `.$` field: a path (of the input, `$$` context or a `$variable`) or an intrinsic function. */
  private dynamicValue(value: string, field: string, scope: PathScope, parameters = false): unknown {
    if (isIntrinsic(value)) return evaluateIntrinsic(value, scope);
    const r = evaluatePath(value, scope);
    if (!r.found) {
      const data = value.startsWith('$$') ? scope.context : scope.input;
      const cause = `The JSONPath '${value}' specified for the field '${field}' could not be found in the input '${json(data)}'`;
      throw parameters ? new StatesError('States.ParameterPathFailure', cause) : runtimeError(cause);
    }
    return r.value;
  }

  // ---- JSONPath states ----------------------------------------------------------------------------------

  private async jsonPathState(name: string, state: Obj, rawInput: unknown, context: Obj, env: Env): Promise<StateOutcome & { assigned?: Obj }> {
    const type = state.Type;
    const scopeOf = (input: unknown) => this.pathScope(input, context, env);
    let effective = rawInput;
    if (type !== 'Fail') {
      if (state.InputPath === null) effective = {};
      else if (typeof state.InputPath === 'string') effective = selectPath(state.InputPath, scopeOf(rawInput));
      this.host.inspect?.('afterInputPath', effective);
    }
    const finish = (output: unknown, next: string | undefined, assignFrom: unknown, assignSpec = state.Assign): StateOutcome & { assigned?: Obj } => {
      const assigned = assignSpec !== undefined ? (this.template(assignSpec, scopeOf(assignFrom)) as Obj) : undefined;
      let out = output;
      if (state.OutputPath === null) out = {};
      else if (typeof state.OutputPath === 'string') out = selectPath(state.OutputPath, scopeOf(output));
      if (assigned) env.vars.assign(assigned);
      return { output: out, next, assigned };
    };
    const withResult = (result: unknown) => {
      let selected = result;
      if (state.ResultSelector !== undefined) {
        selected = this.template(state.ResultSelector, scopeOf(result));
        this.host.inspect?.('afterResultSelector', selected);
      }
      const merged = state.ResultPath === null ? rawInput : applyResultPath(state.ResultPath ?? '$', rawInput, selected);
      this.host.inspect?.('afterResultPath', merged);
      return { merged, selected };
    };
    const next = (): string | undefined => (state.End ? undefined : state.Next);

    switch (type) {
      case 'Pass': {
        let result = effective;
        if (state.Parameters !== undefined) {
          result = this.template(state.Parameters, scopeOf(effective), true);
          this.host.inspect?.('afterParameters', result);
        }
        if ('Result' in state) result = state.Result;
        const { merged } = withResult(result);
        return finish(merged, next(), result);
      }
      case 'Task': {
        // Only a Task's Parameters see $$.Task.Token (a placeholder the dispatcher replaces with the issued token).
        const params =
          state.Parameters !== undefined ? this.template(state.Parameters, { input: effective, context, variables: (n) => env.vars.get(n) }, true) : effective;
        if (state.Parameters !== undefined) this.host.inspect?.('afterParameters', params);
        const timeoutSeconds = state.TimeoutSecondsPath !== undefined ? selectPath(state.TimeoutSecondsPath, scopeOf(effective)) : state.TimeoutSeconds;
        const heartbeatSeconds = state.HeartbeatSecondsPath !== undefined ? selectPath(state.HeartbeatSecondsPath, scopeOf(effective)) : state.HeartbeatSeconds;
        const result = await this.task(name, state, params, timeoutSeconds, heartbeatSeconds, env);
        this.host.inspect?.('result', result);
        const { merged, selected } = withResult(result);
        return finish(merged, next(), selected);
      }
      case 'Wait': {
        await this.wait(state, scopeOf(effective), env);
        return finish(effective, next(), effective);
      }
      case 'Choice': {
        const scope = scopeOf(effective);
        const rule = (state.Choices as Obj[]).find((r) => evaluateRule(r, scope));
        const target = rule?.Next ?? state.Default;
        if (target === undefined) throw noChoice();
        return finish(effective, target, effective, rule ? rule.Assign : state.Assign);
      }
      case 'Succeed':
        return finish(effective, undefined, effective);
      case 'Fail': {
        const scope = scopeOf(rawInput);
        const error = state.ErrorPath !== undefined ? this.dynamicValue(state.ErrorPath, 'ErrorPath', scope) : state.Error;
        const cause = state.CausePath !== undefined ? this.dynamicValue(state.CausePath, 'CausePath', scope) : state.Cause;
        throw failState(error, cause);
      }
      case 'Parallel': {
        const branchInput = state.Parameters !== undefined ? this.template(state.Parameters, scopeOf(effective), true) : effective;
        const result = await this.parallel(name, state, branchInput, env);
        const { merged, selected } = withResult(result);
        return finish(merged, next(), selected);
      }
      case 'Map': {
        const items = state.ItemsPath !== undefined ? selectPath(state.ItemsPath, scopeOf(effective)) : effective;
        this.host.inspect?.('afterItemsPath', items);
        const selector = state.ItemSelector ?? state.Parameters;
        const itemInput = async (item: unknown, index: number) =>
          selector === undefined
            ? item
            : this.template(selector, this.pathScope(effective, { ...context, Map: { Item: { Index: index, Value: item } } }, env), true);
        const maxConcurrency = state.MaxConcurrencyPath !== undefined ? selectPath(state.MaxConcurrencyPath, scopeOf(effective)) : state.MaxConcurrency;
        const fields: DistributedFields = {};
        if (isDistributed(state)) {
          const scope = scopeOf(effective);
          if (state.ItemReader?.Parameters !== undefined) fields.readerParameters = this.template(state.ItemReader.Parameters, scope) as Obj;
          if (state.ResultWriter?.Parameters !== undefined) fields.writerParameters = this.template(state.ResultWriter.Parameters, scope) as Obj;
          if (state.ItemBatcher?.BatchInput !== undefined) fields.batchInput = this.template(state.ItemBatcher.BatchInput, scope);
          fields.toleratedFailureCount =
            state.ToleratedFailureCountPath !== undefined ? (selectPath(state.ToleratedFailureCountPath, scope) as number) : state.ToleratedFailureCount;
          fields.toleratedFailurePercentage =
            state.ToleratedFailurePercentagePath !== undefined
              ? (selectPath(state.ToleratedFailurePercentagePath, scope) as number)
              : state.ToleratedFailurePercentage;
        }
        const result = await this.map(
          name,
          state,
          effective,
          state.ItemReader !== undefined && state.ItemsPath === undefined ? undefined : items,
          itemInput,
          maxConcurrency,
          env,
          fields,
        );
        const { merged, selected } = withResult(result);
        return finish(merged, next(), selected);
      }
      default:
        throw runtimeError(`Unknown state type '${type}'`);
    }
  }

  // ---- JSONata states -----------------------------------------------------------------------------------

  private async jsonataState(name: string, state: Obj, rawInput: unknown, context: Obj, env: Env): Promise<StateOutcome & { assigned?: Obj }> {
    const type = state.Type;
    const states: Obj = { input: rawInput, context: withoutSentinel(context) };
    const scope = (): JsonataScope => ({ states, variables: env.vars.all() });
    const evaluate = async (value: unknown, field: string) => {
      try {
        return await evaluateTemplate(value, field, scope());
      } catch (err) {
        throw this.evaluationFailed(err, name, field, env);
      }
    };
    const finish = async (defaultOutput: unknown, next: string | undefined, assignSpec = state.Assign, outputSpec = state.Output, prefix = '') => {
      // Assign and Output see the variables as they were before this state: both are evaluated first.
      const assigned = assignSpec !== undefined ? ((await evaluate(assignSpec, `${prefix}Assign`)) as Obj) : undefined;
      const output = outputSpec !== undefined ? await evaluate(outputSpec, `${prefix}Output`) : defaultOutput;
      if (assigned) env.vars.assign(assigned);
      return { output, next, assigned };
    };
    const next = (): string | undefined => (state.End ? undefined : state.Next);

    switch (type) {
      case 'Pass':
        return finish(rawInput, next());
      case 'Task': {
        const taskScope = { states: { ...states, context }, variables: env.vars.all() };
        let args = rawInput;
        if (state.Arguments !== undefined) {
          try {
            args = await evaluateTemplate(state.Arguments, 'Arguments', taskScope);
          } catch (err) {
            throw this.evaluationFailed(err, name, 'Arguments', env);
          }
          this.host.inspect?.('afterArguments', args);
        }
        const timeoutSeconds = isExpression(state.TimeoutSeconds) ? await evaluate(state.TimeoutSeconds, 'TimeoutSeconds') : state.TimeoutSeconds;
        const heartbeatSeconds = isExpression(state.HeartbeatSeconds) ? await evaluate(state.HeartbeatSeconds, 'HeartbeatSeconds') : state.HeartbeatSeconds;
        const result = await this.task(name, state, args, timeoutSeconds, heartbeatSeconds, env);
        this.host.inspect?.('result', result);
        states.result = result;
        return finish(result, next());
      }
      case 'Wait': {
        const spec: Obj = { ...state };
        if (isExpression(state.Seconds)) spec.Seconds = await evaluate(state.Seconds, 'Seconds');
        if (isExpression(state.Timestamp)) spec.Timestamp = await evaluate(state.Timestamp, 'Timestamp');
        await this.wait(spec, this.pathScope(rawInput, context, env), env);
        return finish(rawInput, next());
      }
      case 'Choice': {
        for (const [n, rule] of (state.Choices as Obj[]).entries()) {
          const field = `Choices[${n}]/Condition`;
          const value = typeof rule.Condition === 'boolean' ? rule.Condition : await evaluate(rule.Condition, field);
          if (typeof value !== 'boolean')
            throw this.evaluationFailed(
              new StatesError(
                'States.QueryEvaluationError',
                `The JSONata expression '${isExpression(rule.Condition) ? expressionText(rule.Condition) : rule.Condition}' specified for the field '${field}' returned a non-boolean value.`,
              ),
              name,
              field,
              env,
            );
          if (value) return finish(rawInput, rule.Next, rule.Assign, rule.Output, `Choices[${n}]/`);
        }
        if (state.Default === undefined) throw noChoice();
        return finish(rawInput, state.Default);
      }
      case 'Succeed':
        return finish(rawInput, undefined);
      case 'Fail': {
        const error = isExpression(state.Error) ? await evaluate(state.Error, 'Error') : state.Error;
        const cause = isExpression(state.Cause) ? await evaluate(state.Cause, 'Cause') : state.Cause;
        throw failState(error, cause);
      }
      case 'Parallel': {
        const branchInput = state.Arguments !== undefined ? await evaluate(state.Arguments, 'Arguments') : rawInput;
        const result = await this.parallel(name, state, branchInput, env);
        states.result = result;
        return finish(result, next());
      }
      case 'Map': {
        let items: unknown = rawInput;
        if (state.Items !== undefined) items = isExpression(state.Items) ? await evaluate(state.Items, 'Items') : state.Items;
        const itemInput = async (item: unknown, index: number) => {
          if (state.ItemSelector === undefined) return item;
          const itemStates = { ...states, context: { ...states.context, Map: { Item: { Index: index, Value: item } } } };
          try {
            return await evaluateTemplate(state.ItemSelector, 'ItemSelector', { states: itemStates, variables: env.vars.all() });
          } catch (err) {
            throw this.evaluationFailed(err, name, 'ItemSelector', env);
          }
        };
        const maxConcurrency = isExpression(state.MaxConcurrency) ? await evaluate(state.MaxConcurrency, 'MaxConcurrency') : state.MaxConcurrency;
        const fields: DistributedFields = {};
        if (isDistributed(state)) {
          if (state.ItemReader?.Arguments !== undefined) fields.readerParameters = (await evaluate(state.ItemReader.Arguments, 'ItemReader/Arguments')) as Obj;
          if (state.ResultWriter?.Arguments !== undefined)
            fields.writerParameters = (await evaluate(state.ResultWriter.Arguments, 'ResultWriter/Arguments')) as Obj;
          if (state.ItemBatcher?.BatchInput !== undefined) fields.batchInput = await evaluate(state.ItemBatcher.BatchInput, 'ItemBatcher/BatchInput');
          fields.toleratedFailureCount = isExpression(state.ToleratedFailureCount)
            ? ((await evaluate(state.ToleratedFailureCount, 'ToleratedFailureCount')) as number)
            : state.ToleratedFailureCount;
          fields.toleratedFailurePercentage = isExpression(state.ToleratedFailurePercentage)
            ? ((await evaluate(state.ToleratedFailurePercentage, 'ToleratedFailurePercentage')) as number)
            : state.ToleratedFailurePercentage;
        }
        const result = await this.map(
          name,
          state,
          rawInput,
          state.ItemReader !== undefined && state.Items === undefined ? undefined : items,
          itemInput,
          maxConcurrency,
          env,
          fields,
        );
        states.result = result;
        return finish(result, next());
      }
      default:
        throw runtimeError(`Unknown state type '${type}'`);
    }
  }

  /** A JSONata failure leaves an EvaluationFailed event (error, cause, location, state) on the chain. */
  private evaluationFailed(err: unknown, name: string, field: string, env: Env): StatesError {
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
    catcher: Obj,
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
  private mocked(): unknown {
    const mock = this.host.mock!;
    if ('result' in mock) return structuredClone(mock.result);
    throw new StatesError(mock.error, mock.cause, { fatal: false, terminal: false });
  }

  private async task(name: string, state: Obj, input: unknown, timeoutSeconds: unknown, heartbeatSeconds: unknown, env: Env): Promise<unknown> {
    if (this.host.mock) return this.mocked();
    const chain = env.chain;
    const port: TaskPort = {
      arn: this.host.executionArn,
      signal: env.signal,
      emit: (type, details) => {
        if (env.signal.aborted) return;
        chain.last = this.host.record(type, details, chain.last);
      },
    };
    const timeout = seconds(timeoutSeconds, 'TimeoutSeconds');
    const heartbeat = seconds(heartbeatSeconds, 'HeartbeatSeconds');
    // "If provided, the "HeartbeatSeconds" interval MUST be smaller than the "TimeoutSeconds" value."
    // (https://states-language.net/spec.html#task-state). Values from a path or an expression are only known here;
    // AWS documents no outcome for breaking the rule at run time, so the runtime fails the execution (States.Runtime)
    // before the task is scheduled, the stricter reading (README "Unconfirmed").
    if (timeout !== undefined && heartbeat !== undefined && heartbeat >= timeout) {
      throw runtimeError(`The HeartbeatSeconds value (${heartbeat}) must be smaller than the TimeoutSeconds value (${timeout})`);
    }
    return this.host.task(port, { stateName: name, resource: state.Resource, input, timeoutSeconds: timeout, heartbeatSeconds: heartbeat });
  }

  private async wait(state: Obj, scope: PathScope, env: Env): Promise<void> {
    let delayMs: number;
    if (state.Seconds !== undefined || state.SecondsPath !== undefined) {
      const value = state.SecondsPath !== undefined ? selectPath(state.SecondsPath, scope) : state.Seconds;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
        throw runtimeError(
          state.SecondsPath !== undefined
            ? `The SecondsPath parameter does not reference a valid integer value: ${json(value)}`
            : `The Seconds parameter is not a valid non-negative integer: ${json(value)}`,
        );
      }
      delayMs = value * 1000;
    } else {
      const value = state.TimestampPath !== undefined ? selectPath(state.TimestampPath, scope) : state.Timestamp;
      if (!isTimestamp(value)) {
        throw runtimeError(
          state.TimestampPath !== undefined
            ? `The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: ${json(value)}`
            : `The Timestamp parameter is not a valid ISO-8601 extended offset date-time format string: ${json(value)}`,
        );
      }
      delayMs = Date.parse(value) - this.host.clock.nowMs();
    }
    try {
      await this.host.clock.sleep(Math.max(0, delayMs), env.signal);
    } catch {
      throw runtimeError('The execution stopped');
    }
  }

  // ---- Parallel and Map ---------------------------------------------------------------------------------

  private async parallel(name: string, state: Obj, input: unknown, env: Env): Promise<unknown[]> {
    if (this.host.mock) return this.mocked() as unknown[];
    const startedId = this.host.record('ParallelStateStarted', undefined, env.chain.last);
    env.chain.last = startedId;
    const giveUp = new AbortController();
    const signal = AbortSignal.any([env.signal, giveUp.signal]);
    const branches = (state.Branches as Obj[]).map(() => ({ chain: { last: startedId } as Chain }));
    const depth = (env.depth ?? 0) + 1;
    const done = this.resumed(name, env) ?? {};
    const runs = (state.Branches as Obj[]).map((branch, n) => {
      if (n in done) {
        this.onBranchSucceeded?.(name, n, done[n]);
        return Promise.resolve(done[n]);
      }
      const untrack = this.track(branches[n].chain, depth);
      return this.runScope(branch, structuredClone(input), {
        chain: branches[n].chain,
        vars: new Variables(env.vars),
        language: env.language,
        signal,
        depth,
      }).then(
        (result) => {
          untrack();
          if (env.top) this.onBranchSucceeded?.(name, n, result);
          return result;
        },
        (err: unknown) => {
          untrack();
          throw err;
        },
      );
    });
    const settled = await settleFirstFailure(runs);
    // AWS stops the other branches once one fails.
    if (settled.failed) giveUp.abort(ABORTED);
    if (settled.failed) {
      const { error, index } = settled;
      if (error.fatal || env.signal.aborted) throw error;
      const failingLast = branches[index].chain.last;
      this.abortBranches(
        branches.map((b) => b.chain),
        index,
        'Parallel',
        name,
      );
      env.chain.last = this.host.record('ParallelStateFailed', undefined, failingLast);
      error.lastEventId = env.chain.last;
      throw error;
    }
    const last = Math.max(...branches.map((b) => b.chain.last));
    this.host.record('ParallelStateSucceeded', undefined, last);
    env.chain.last = last;
    return settled.values;
  }

  /** A redrive's earlier successes for this top-level Map or Parallel (used once: a retry of the state runs it whole). */
  private resumed(name: string, env: Env): Record<string, unknown> | undefined {
    if (!env.top || this.resume?.state !== name) return undefined;
    const { succeeded } = this.resume;
    this.resume = undefined;
    return succeeded;
  }

  /** Aborts the states still active on each chain (the failing one included: a TaskStateAborted there, an undocumented detail; see DIVERGENCES.md). */
  private abortBranches(chains: Chain[], _failing: number, _kind: string, _name: string): void {
    for (const chain of chains) {
      const active = chain.active;
      if (!active || !['Task', 'Wait', 'Map', 'Parallel'].includes(active.type)) continue;
      this.host.record(`${active.type}StateAborted`, undefined, chain.last);
      chain.active = undefined;
    }
  }

  private async map(
    name: string,
    state: Obj,
    input: unknown,
    items: unknown,
    itemInput: (item: unknown, index: number) => Promise<unknown>,
    maxConcurrency: unknown,
    env: Env,
    fields: DistributedFields = {},
  ): Promise<unknown> {
    if (this.host.mock) return this.mocked();
    if (!Array.isArray(items) && !(isDistributed(state) && items === undefined))
      throw runtimeError(`Items of the Map state must be an array, got ${json(items)}`);
    if (maxConcurrency !== undefined && (typeof maxConcurrency !== 'number' || !Number.isInteger(maxConcurrency) || maxConcurrency < 0)) {
      throw runtimeError(`The MaxConcurrency of the Map state must be a non-negative integer, got ${json(maxConcurrency)}`);
    }
    const processor = state.ItemProcessor ?? state.Iterator;
    const startedId = this.host.record('MapStateStarted', { length: Array.isArray(items) ? items.length : 0 }, env.chain.last);
    env.chain.last = startedId;

    if (processor.ProcessorConfig?.Mode === 'DISTRIBUTED') {
      if (!this.host.distributedMap) throw runtimeError('Distributed Map is not available here');
      const chain = env.chain;
      const port = {
        arn: this.host.executionArn,
        signal: env.signal,
        emit: (type: string, details?: Record<string, unknown>) => {
          if (env.signal.aborted) return;
          chain.last = this.host.record(type, details, chain.last);
        },
        note: (type: string, details?: Record<string, unknown>) => {
          if (!env.signal.aborted) noted = this.host.record(type, details, chain.last);
        },
      };
      let noted = chain.last;
      try {
        const result = await this.host.distributedMap({
          stateName: name,
          state,
          input,
          items: items as unknown[] | undefined,
          itemSelector: itemInput,
          fields,
          maxConcurrency: maxConcurrency as number | undefined,
          port,
          language: env.language,
          succeeded: this.resumed(name, env),
          onSucceeded: env.top ? (index, child) => this.onBranchSucceeded?.(name, index, child) : undefined,
        });
        // MapRunSucceeded and MapStateSucceeded are passed by: MapStateExited follows MapRunStarted.
        this.host.record('MapStateSucceeded', undefined, noted);
        return result;
      } catch (thrown) {
        const err = asStatesError(thrown);
        if (err.fatal || env.signal.aborted) throw err;
        chain.last = this.host.record('MapStateFailed', undefined, chain.last);
        throw err;
      }
    }

    const list = items as unknown[];
    const limit = maxConcurrency ? Math.min(maxConcurrency as number, INLINE_MAP_CONCURRENCY) : INLINE_MAP_CONCURRENCY;
    const chains: Chain[] = list.map(() => ({ last: startedId }));
    const results: unknown[] = new Array(list.length);
    const started = new Set<number>();
    const finished = new Set<number>();
    const done = this.resumed(name, env) ?? {};
    const pending: number[] = [];
    list.forEach((_, index) => {
      if (!(index in done)) return void pending.push(index);
      results[index] = done[index];
      this.onBranchSucceeded?.(name, index, done[index]);
    });
    let failure: { error: StatesError; index: number } | undefined;
    const language = env.language;
    const giveUp = new AbortController();
    const signal = AbortSignal.any([env.signal, giveUp.signal]);
    const depth = (env.depth ?? 0) + 1;
    let nextIndex = 0;
    const worker = async () => {
      while (!failure && nextIndex < pending.length) {
        const index = pending[nextIndex++];
        const chain = chains[index];
        const iterationInput = await itemInput(list[index], index);
        if (failure) return;
        started.add(index);
        chain.last = this.host.record('MapIterationStarted', { name, index }, chain.last);
        const untrack = this.track(chain, depth, { name, index });
        try {
          results[index] = await this.runScope(processor, iterationInput, { chain, vars: new Variables(env.vars), language, signal, depth });
          untrack();
          if (env.top) this.onBranchSucceeded?.(name, index, results[index]);
          finished.add(index);
          chain.last = this.host.record('MapIterationSucceeded', { name, index }, chain.last);
        } catch (thrown) {
          untrack();
          finished.add(index);
          const error = asStatesError(thrown);
          if (!failure) {
            failure = { error, index };
            // AWS stops the other iterations once one fails.
            giveUp.abort(ABORTED);
          }
          return;
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(limit, pending.length) }, worker));
    } catch (thrown) {
      // An ItemSelector failure before any iteration started.
      failure ??= { error: asStatesError(thrown), index: -1 };
    }
    if (failure) {
      giveUp.abort(ABORTED);
      const { error, index } = failure;
      if (error.fatal || env.signal.aborted) throw error;
      const failingLast = index >= 0 ? chains[index].last : env.chain.last;
      if (index >= 0) {
        this.host.record('MapIterationFailed', { name, index }, failingLast);
        for (const other of started) {
          if (other === index || finished.has(other)) continue;
          this.abortBranches([chains[other]], -1, 'Map', name);
          this.host.record('MapIterationAborted', { name, index: other }, chains[other].last);
        }
      }
      env.chain.last = this.host.record('MapStateFailed', undefined, failingLast);
      error.lastEventId = env.chain.last;
      throw error;
    }
    const last = pending.length ? Math.max(...pending.map((i) => chains[i].last)) : startedId;
    this.host.record('MapStateSucceeded', undefined, last);
    env.chain.last = last;
    return results;
  }
}

/** Resolves with every value, or with the first failure (the others keep running until aborted). */
async function settleFirstFailure(
  runs: Promise<unknown>[],
): Promise<{ failed: false; values: unknown[] } | { failed: true; error: StatesError; index: number }> {
  return new Promise((resolve) => {
    const values: unknown[] = new Array(runs.length);
    let pending = runs.length;
    let done = false;
    if (pending === 0) resolve({ failed: false, values });
    runs.forEach((run, index) =>
      run.then(
        (value) => {
          values[index] = value;
          if (--pending === 0 && !done) {
            done = true;
            resolve({ failed: false, values });
          }
        },
        (err) => {
          if (done) return;
          done = true;
          resolve({ failed: true, error: asStatesError(err), index });
        },
      ),
    );
  });
}

function isDistributed(state: Obj): boolean {
  return (state.ItemProcessor ?? state.Iterator)?.ProcessorConfig?.Mode === 'DISTRIBUTED';
}

/**
 * A Choice state with no matching rule and no Default: `States.NoChoiceMatched`, "A Choice state failed to match
 * the input to the conditions defined in the Choice Rule and a Default transition was not specified"
 * (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html#error-handling-error-representation;
 * https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html: "the state machine will throw an error due
 * to a failure to transition out of the state"). Not a States.Runtime error, so an enclosing Parallel or Map can
 * catch it. AWS documents no cause text; this one paraphrases the Choice page.
 */
function noChoice(): StatesError {
  return new StatesError('States.NoChoiceMatched', 'Failed to transition out of the state: no Choice Rule matched the input and the state has no Default.');
}

function failState(error: unknown, cause: unknown): StatesError {
  const err = new StatesError(error === undefined ? '' : String(error), cause === undefined ? undefined : String(cause), { fatal: false, terminal: false });
  (err as { fromFail?: boolean }).fromFail = true;
  return err;
}

function seconds(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    throw runtimeError(`The ${field} value must be a positive integer, got ${json(value)}`);
  return value;
}

/** The task token is only ever read from a Task's Parameters/Arguments; elsewhere `$$.Task` does not exist. */
function withoutSentinel(context: Obj): Obj {
  if (!context.Task) return context;
  const { Task: _task, ...rest } = context;
  return rest;
}
