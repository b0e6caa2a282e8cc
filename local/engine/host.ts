/**
 * What the interpreter asks of the execution that runs it (interpreter.ts): the clock, the history, Task work
 * (Lambda, SDK integrations, activities, tokens, child executions, in dispatch.ts) and Distributed Map (distributed.ts).
 */
import type { Clock } from '../kernel';

type Obj = Record<string, any>;

export const TOKEN_SENTINEL = '@@opsflow:task-token@@';

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
  /** MaxItems, batch limits and tolerated failures as read, with the field each came from (distributed.ts checks them). */
  numbers?: Partial<
    Record<
      'maxItems' | 'maxItemsPerBatch' | 'maxInputBytesPerBatch' | 'toleratedFailureCount' | 'toleratedFailurePercentage',
      { value: unknown; field: string }
    >
  >;
  /** With an ItemReader: ItemsPath applied to what the reader read. */
  selectItems?: (read: unknown) => unknown;
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
