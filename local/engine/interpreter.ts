/**
 * The narrow surface of aws-local-stepfunctions the engine uses, loaded after the Node 20 polyfills.
 * The package is an ES module with a CommonJS build; it is required (not imported) so TypeScript in this
 * CommonJS project does not resolve its ESM typings, and the few shapes we rely on are declared here.
 */
import './polyfills';

/** One entry of the library's `eventLogs` (see its docs/execution-event-logs.md). */
export interface LibEvent {
  type: string;
  timestamp: number;
  state?: { name: string; type: string; input?: unknown; output?: unknown };
  index?: number;
  parentState?: { type: string; name: string; input?: unknown };
  Error?: string;
  Cause?: unknown;
}

export interface LibRun {
  result: Promise<unknown>;
  abort: () => void;
  eventLogs: AsyncGenerator<LibEvent>;
}

export type TaskHandler = (input: unknown) => Promise<unknown>;

interface LibStateMachine {
  run(
    input: unknown,
    options: { overrides?: { taskResourceLocalHandlers?: Record<string, TaskHandler> }; context?: Record<string, unknown>; noThrowOnAbort?: boolean },
  ): LibRun;
}

interface Lib {
  StateMachine: new (definition: object, options?: { validationOptions?: { noValidate?: boolean } }) => LibStateMachine;
  ExecutionError: new (...args: never[]) => Error;
  ExecutionAbortedError: new (...args: never[]) => Error;
}

const lib = require('aws-local-stepfunctions') as Lib;

export const ExecutionError = lib.ExecutionError;
export const ExecutionAbortedError = lib.ExecutionAbortedError;

/** Runs an already prepared and validated definition. */
export function runDefinition(definition: object, input: unknown, handlers: Record<string, TaskHandler>, context: Record<string, unknown>): LibRun {
  const machine = new lib.StateMachine(definition, { validationOptions: { noValidate: true } });
  return machine.run(input, { overrides: { taskResourceLocalHandlers: handlers }, context });
}

/**
 * The library's States.Timeout error class is not exported, yet only its instances escape `States.TaskFailed`
 * matching (as AWS timeouts must). We capture the class once from a tiny machine whose task never finishes.
 */
let timeoutErrorClass: Promise<new () => Error> | undefined;

export function statesTimeoutErrorClass(): Promise<new () => Error> {
  timeoutErrorClass ??= (async () => {
    const probe = { StartAt: 'Probe', States: { Probe: { Type: 'Task', Resource: 'probe', TimeoutSeconds: 0.001, End: true } } };
    const run = runDefinition(probe, {}, { Probe: () => new Promise(() => undefined) }, {});
    void drain(run.eventLogs);
    try {
      await run.result;
    } catch (err) {
      const cause = (err as Error).cause as Error | undefined;
      if (cause?.name === 'States.Timeout') return cause.constructor as new () => Error;
    }
    throw new Error('aws-local-stepfunctions did not raise States.Timeout as expected; its version may have changed');
  })();
  return timeoutErrorClass;
}

async function drain(events: AsyncGenerator<LibEvent>): Promise<void> {
  for await (const _ of events);
}
