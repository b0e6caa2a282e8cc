/**
 * The Amazon States Language as TypeScript types: the definition the interpreter runs, after preprocess.ts has
 * checked it, in both query languages.
 *
 * Hand-written from the specification (https://states-language.net/spec.html) and AWS's additions to it: the
 * JSONata fields and `QueryLanguage` (https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html),
 * `Assign` (https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html), the Map state's
 * `ItemProcessor`/`ItemReader`/`ItemBatcher`/`ResultWriter` and tolerated failures
 * (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html), Retry's `MaxDelaySeconds` and
 * `JitterStrategy` (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html#error-handling-retrying-after-an-error)
 * and a Task's `Credentials` (https://docs.aws.amazon.com/step-functions/latest/dg/state-task.html).
 *
 * Not generated from asl-validator's JSON Schemas: those are validation schemas (a `oneOf` of a JSONPath and a
 * JSONata variant per state, `additionalProperties: false`) that leave out fields AWS accepts (Retry's
 * MaxDelaySeconds and JitterStrategy, a Catcher's ResultPath, Assign and Output), so types generated from them would
 * be both awkward and wrong; the maintained ASL type package on npm (asl-types) predates JSONata and variables.
 *
 * A field that JSONata lets hold an expression (`"{% ... %}"`) where JSONPath wants a number is `number | string`.
 * Payloads (Parameters, Arguments, Output, Result, ...) are any JSON: `unknown`.
 */

export type QueryLanguage = 'JSONPath' | 'JSONata';

/** A JSONPath payload template: keys ending in `.$` hold paths or intrinsic functions (spec: "Payload Template"). */
export type PayloadTemplate = Record<string, unknown>;

/** A number, or in JSONata a `{% %}` expression that evaluates to one. */
type NumberOrExpression = number | string;

/** spec "Retrying after an error". */
export interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: 'FULL' | 'NONE';
  Comment?: string;
}

/** spec "Fallback states"; Assign and Output from the variables and JSONata pages. */
export interface Catcher {
  ErrorEquals: string[];
  Next: string;
  /** JSONPath: where the error output goes in the input; null discards it. */
  ResultPath?: string | null;
  Assign?: Record<string, unknown>;
  /** JSONata: the state's output when this catcher matches. */
  Output?: unknown;
  Comment?: string;
}

/** A state machine, a Parallel branch or a Map's ItemProcessor (spec "Top-level fields"). */
export interface Scope {
  StartAt: string;
  States: Record<string, State>;
  Comment?: string;
  QueryLanguage?: QueryLanguage;
  TimeoutSeconds?: number;
  Version?: string;
}

/** Fields every state type may have (spec "Common State Fields"). */
interface Common<T extends string> {
  Type: T;
  Comment?: string;
  QueryLanguage?: QueryLanguage;
}

/** Next or End (spec "Transitions"). */
interface Transition {
  Next?: string;
  End?: boolean;
}

/** InputPath and OutputPath (JSONPath only; null: `{}`). */
interface Paths {
  InputPath?: string | null;
  OutputPath?: string | null;
}

/** What a state does with its result (JSONPath's ResultSelector/ResultPath, JSONata's Output) and its variables. */
interface Results {
  ResultSelector?: PayloadTemplate;
  ResultPath?: string | null;
  Output?: unknown;
  Assign?: Record<string, unknown>;
}

interface Recovery {
  Retry?: Retrier[];
  Catch?: Catcher[];
}

export interface PassState extends Common<'Pass'>, Transition, Paths, Results {
  Result?: unknown;
  Parameters?: PayloadTemplate;
}

export interface TaskState extends Common<'Task'>, Transition, Paths, Results, Recovery {
  Resource: string;
  Parameters?: PayloadTemplate;
  Arguments?: unknown;
  TimeoutSeconds?: NumberOrExpression;
  TimeoutSecondsPath?: string;
  HeartbeatSeconds?: NumberOrExpression;
  HeartbeatSecondsPath?: string;
  Credentials?: Record<string, unknown>;
}

/**
 * A Choice rule: JSONata's `Condition`, or JSONPath's `Variable` with one comparison operator (StringEquals,
 * NumericLessThanPath, IsPresent, ...: spec "Choice Rules"), or And/Or/Not of rules. Only the top-level rules
 * have Next, Assign and Output.
 */
export interface ChoiceRule {
  Next?: string;
  Condition?: boolean | string;
  Variable?: string;
  And?: ChoiceRule[];
  Or?: ChoiceRule[];
  Not?: ChoiceRule;
  Assign?: Record<string, unknown>;
  Output?: unknown;
  Comment?: string;
  /** The comparison operator and its operand. */
  [operator: string]: unknown;
}

export interface ChoiceState extends Common<'Choice'>, Paths {
  Choices: ChoiceRule[];
  Default?: string;
  Assign?: Record<string, unknown>;
  Output?: unknown;
}

export interface WaitState extends Common<'Wait'>, Transition, Paths {
  Seconds?: NumberOrExpression;
  SecondsPath?: string;
  Timestamp?: string;
  TimestampPath?: string;
  Assign?: Record<string, unknown>;
  Output?: unknown;
}

export interface SucceedState extends Common<'Succeed'>, Paths {
  Output?: unknown;
}

export interface FailState extends Common<'Fail'> {
  Error?: string;
  ErrorPath?: string;
  Cause?: string;
  CausePath?: string;
}

export interface ParallelState extends Common<'Parallel'>, Transition, Paths, Results, Recovery {
  Branches: Scope[];
  Parameters?: PayloadTemplate;
  Arguments?: unknown;
}

/** A Map's ItemProcessor: a Scope with its mode (INLINE by default; DISTRIBUTED runs child executions). */
export interface ItemProcessor extends Scope {
  ProcessorConfig?: { Mode?: 'INLINE' | 'DISTRIBUTED'; ExecutionType?: 'STANDARD' | 'EXPRESS' };
}

/** Reads a distributed Map's items from S3 (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html). */
export interface ItemReader {
  Resource: string;
  Parameters?: PayloadTemplate;
  Arguments?: unknown;
  ReaderConfig?: Record<string, unknown>;
}

export interface ItemBatcher {
  MaxItemsPerBatch?: NumberOrExpression;
  MaxItemsPerBatchPath?: string;
  MaxInputBytesPerBatch?: NumberOrExpression;
  MaxInputBytesPerBatchPath?: string;
  BatchInput?: unknown;
}

export interface ResultWriter {
  Resource?: string;
  Parameters?: PayloadTemplate;
  Arguments?: unknown;
  WriterConfig?: Record<string, unknown>;
}

export interface MapState extends Common<'Map'>, Transition, Paths, Results, Recovery {
  ItemProcessor?: ItemProcessor;
  /** The older name of ItemProcessor (inline only). */
  Iterator?: ItemProcessor;
  ItemsPath?: string;
  /** JSONata: the items, a JSON array or an expression. */
  Items?: unknown;
  ItemSelector?: unknown;
  /** The older name of ItemSelector (JSONPath). */
  Parameters?: PayloadTemplate;
  MaxConcurrency?: NumberOrExpression;
  MaxConcurrencyPath?: string;
  ItemReader?: ItemReader;
  ItemBatcher?: ItemBatcher;
  ResultWriter?: ResultWriter;
  ToleratedFailureCount?: NumberOrExpression;
  ToleratedFailureCountPath?: string;
  ToleratedFailurePercentage?: NumberOrExpression;
  ToleratedFailurePercentagePath?: string;
  Label?: string;
}

/** The fields the interpreter core reads on any state (each absent where the state type has none). */
export interface StateFields extends Common<StateTypeName>, Transition, Paths, Results, Recovery {}

export type State = PassState | TaskState | ChoiceState | WaitState | SucceedState | FailState | ParallelState | MapState;

export type StateTypeName = State['Type'];
