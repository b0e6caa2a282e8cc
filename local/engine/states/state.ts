/**
 * The contract between the interpreter core (../interpreter.ts) and the state modules beside this file: one
 * module per state type (https://states-language.net/spec.html#state-types), each holding both query languages.
 * The core runs the loop, Retry/Catch, the input and output processing each language shares and the history
 * chain; a state module does what its type does between the two.
 */
import type { QueryLanguage, Scope, State } from '../asl';
import type { StatesError } from '../errors';
import type { Host } from '../host';
import type { PathScope } from '../jsonpath';
import type { Variables } from '../variables';

export type Obj = Record<string, any>;

export interface Chain {
  last: number;
  /** The state entered and not exited on this chain (aborted if an enclosing Map/Parallel fails). */
  active?: { type: string; name: string };
}

export interface Env {
  chain: Chain;
  vars: Variables;
  /** The query language of the enclosing definition. */
  language: QueryLanguage;
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

export interface StateOutcome {
  output: unknown;
  next?: string;
}

/** A state's outcome and the variables it assigned (named in its StateExited event). */
export interface Processed extends StateOutcome {
  assigned?: Obj;
}

/** What the state modules use of the interpreter. */
export interface Engine {
  readonly host: Host;
  /** Told about each iteration or branch of a top-level inline Map or Parallel that succeeds, and its result. */
  onBranchSucceeded?: (state: string, index: number, result: unknown) => void;
  /** Runs a branch, an iteration or a whole definition from its StartAt; resolves with its output. */
  runScope(scope: Scope, input: unknown, env: Env): Promise<unknown>;
  /** Marks a branch or iteration chain as running (StopExecution aborts it); returns the function that unmarks it. */
  track(chain: Chain, depth: number, iteration?: { name: string; index: number }): () => void;
  /** A redrive's earlier successes for this top-level Map or Parallel. */
  resumed(name: string, env: Env): Record<string, unknown> | undefined;
  /** Aborts the states still active on each chain. */
  abortBranches(chains: Chain[]): void;
  /** TestState's mocked result or error, in place of a Task's, Map's or Parallel's work. */
  mocked(): unknown;
  /** A JSONPath payload template (Parameters, ItemSelector, ResultSelector, Assign). */
  template(template: unknown, scope: PathScope): unknown;
  /** The value of a JSONPath `.$` field. */
  dynamicValue(value: string, field: string, scope: PathScope): unknown;
  pathScope(input: unknown, context: Obj, env: Env): PathScope;
  /** A JSONata failure, with its EvaluationFailed event recorded. */
  evaluationFailed(err: unknown, name: string, field: string, env: Env): StatesError;
}

interface Step<S extends State> {
  engine: Engine;
  name: string;
  state: S;
  env: Env;
  /** The context object (`$$`, `$states.context`), with `Task.Token` as a placeholder. */
  context: Obj;
  /** The state's input as it entered. */
  rawInput: unknown;
  /** `Next`, or undefined for an `End` state. */
  next(): string | undefined;
}

/** A state in JSONPath: its input after InputPath, and the ResultSelector/ResultPath/OutputPath/Assign processing. */
export interface PathStep<S extends State = State> extends Step<S> {
  effective: unknown;
  scopeOf(input: unknown): PathScope;
  withResult(result: unknown): { merged: unknown; selected: unknown };
  finish(output: unknown, next: string | undefined, assignFrom: unknown, assignSpec?: unknown): Processed;
}

/** A state in JSONata: `$states`, expression evaluation and the Assign/Output processing. */
export interface JsonataStep<S extends State = State> extends Step<S> {
  states: Obj;
  evaluate(value: unknown, field: string): Promise<unknown>;
  finish(defaultOutput: unknown, next: string | undefined, assignSpec?: unknown, outputSpec?: unknown, prefix?: string): Promise<Processed>;
}

/** One state type, in both query languages. */
export interface StateType<S extends State = State> {
  jsonPath(step: PathStep<S>): Promise<Processed>;
  jsonata(step: JsonataStep<S>): Promise<Processed>;
}

export const json = (v: unknown) => JSON.stringify(v ?? null);
