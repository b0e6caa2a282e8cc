/**
 * Runs definitions in-process through the engine's interpreter with a fake task host, so the conformance
 * tables run hundreds of definitions in a second. Time is virtual and moves only when the engine sleeps,
 * so retries and waits of hours take microseconds and timestamps are exact.
 */
import { Clock } from '../../../local/kernel';
import { StatesError } from '../../../local/engine/errors';
import type { TaskRequest } from '../../../local/engine/host';
import { Interpreter } from '../../../local/engine/interpreter';
import { History, type HistoryEvent } from '../../../local/engine/history';
import { prepareDefinition } from '../../../local/engine/preprocess';

export type TaskFn = (input: any, request: TaskRequest) => unknown;

export interface Outcome {
  status: 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  output?: unknown;
  error?: string;
  cause?: string;
  events: HistoryEvent[];
  calls: Record<string, number>;
}

export const START = Date.UTC(2030, 0, 1, 8, 0, 0);

/** Virtual time that moves only when the engine sleeps: a sleep wakes on the next macrotask at its instant. */
class ManualClock extends Clock {
  private t = START;
  override nowMs(): number {
    return this.t;
  }
  override now(): Date {
    return new Date(this.t);
  }
  override sleep(virtualMs: number, signal?: AbortSignal): Promise<void> {
    const wakeAt = this.t + Math.max(0, virtualMs);
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      setImmediate(() => {
        this.t = Math.max(this.t, wakeAt);
        resolve();
      });
    });
  }
}

/** A task that never ends (until the execution stops). */
export const hang: TaskFn = () => new Promise(() => undefined);

/**
 * `Resource: 'fn:<name>'` in a Task runs tasks[name]; a thrown `{ name, message }` is the task's error.
 * `stopWhen`: after a task call for which it answers true, the run is stopped as StopExecution stops it.
 */
export async function runDefinition(
  definition: object,
  input: unknown = {},
  tasks: Record<string, TaskFn> = {},
  opts: { stopWhen?: (calls: Record<string, number>) => boolean } = {},
): Promise<Outcome> {
  const prepared = prepareDefinition(definition, { schema: false });
  const clock = new ManualClock();
  const controller = new AbortController();
  let stop!: () => void;
  const stopped = new Promise<'stopped'>((resolve) => (stop = () => resolve('stopped')));
  const events: HistoryEvent[] = [];
  const history = new History(events, clock);
  const calls: Record<string, number> = {};
  // As the service records it (local/engine/executions.ts): the input text, inputDetails and the execution role.
  history.add('ExecutionStarted', { input: JSON.stringify(input), inputDetails: { truncated: false }, roleArn: 'arn:aws:iam::123456789012:role/r' });
  const interpreter = new Interpreter({
    clock,
    signal: controller.signal,
    executionArn: 'arn:aws:states:us-east-1:123456789012:execution:conformance:run',
    record: (type, details, previous) => history.add(type, details, previous),
    task: async (port, request) => {
      const name = request.resource.replace(/^fn:/, '');
      calls[name] = (calls[name] ?? 0) + 1;
      // On the next macrotask: every branch or iteration that starts in this one has reached its task.
      if (opts.stopWhen?.(calls)) setImmediate(stop);
      port.emit('TaskScheduled', { resource: request.resource, parameters: JSON.stringify(request.input ?? null) });
      port.emit('TaskStarted', { resource: request.resource });
      try {
        const fn = tasks[name];
        if (!fn) throw new StatesError('Test.NoSuchTask', name);
        const out = await fn(request.input, request);
        port.emit('TaskSucceeded', { resource: request.resource, output: JSON.stringify(out ?? null) });
        return out;
      } catch (err) {
        const e = err as Error;
        const failure = err instanceof StatesError ? err : new StatesError(e.name, e.message, { fatal: false, terminal: false });
        port.emit('TaskFailed', { resource: request.resource, error: failure.name, cause: failure.cause });
        throw failure;
      }
    },
    context: {
      Execution: {
        Id: 'arn:aws:states:us-east-1:123456789012:execution:conformance:run',
        Input: input,
        Name: 'run',
        RoleArn: 'arn:aws:iam::123456789012:role/r',
        StartTime: new Date(START).toISOString(),
        RedriveCount: 0,
      },
      StateMachine: { Id: 'arn:aws:states:us-east-1:123456789012:stateMachine:conformance', Name: 'conformance' },
    },
  });
  const run = interpreter.run(prepared.definition, input).then(
    (output) => ({ output }),
    (err: unknown) => ({ err: err as StatesError }),
  );
  const first = await Promise.race([run, stopped]);
  if (first === 'stopped') {
    const after = interpreter.abortRunning();
    history.add('ExecutionAborted', {}, after);
    controller.abort();
    return { status: 'ABORTED', events, calls };
  }
  if ('output' in first) {
    history.add('ExecutionSucceeded', { output: JSON.stringify(first.output) });
    return { status: 'SUCCEEDED', output: first.output, events, calls };
  }
  const e = first.err;
  history.add('ExecutionFailed', { error: e.name, cause: e.cause }, e.lastEventId);
  return { status: 'FAILED', error: e.name, cause: e.cause, events, calls };
}

/** A one-state machine: a Pass whose Parameters are `{ "v.$": expr }`; resolves with `v`. */
export function passWith(expr: string): object {
  return { StartAt: 'P', States: { P: { Type: 'Pass', Parameters: { 'v.$': expr }, OutputPath: '$.v', End: true } } };
}

export function failWith(error: string, message: string): Error {
  const e = new Error(message);
  e.name = error;
  return e;
}
