/**
 * Errors raised while a state runs. Every error the engine raises carries a Step Functions name
 * (`States.*` or the task's own), never a JavaScript one: anything else that escapes a state is turned into
 * `States.Runtime` by `asStatesError`.
 *
 * Which errors Retry/Catch may see follows https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html:
 * `States.Runtime` is neither retried nor caught (not even by an explicit name), `States.ALL` does not match
 * `States.DataLimitExceeded` (a terminal error that only an explicit name catches), and `States.TaskFailed`
 * matches any error of a Task except `States.Timeout`.
 */

/**
 * The reason the engine's AbortControllers abort with. `abort()` without one builds a new DOMException, stack
 * trace and all, on every call: once per closed execution and per Task, about 3% of the runtime's CPU in
 * `npm run bench`. Nothing reads it beyond `signal.aborted`; it is never mutated.
 */
export const ABORTED = new DOMException('This operation was aborted', 'AbortError');

export interface StatesErrorOptions {
  /** States.Runtime: the execution fails at once, enclosing Map/Parallel states record no failure events. */
  fatal?: boolean;
  /** Not matched by States.ALL (States.DataLimitExceeded). */
  terminal?: boolean;
}

export class StatesError extends Error {
  readonly fatal: boolean;
  readonly terminal: boolean;
  /** The history event the failure happened after; ExecutionFailed points at it. */
  lastEventId?: number;
  /** Cause as AWS words it, without the "An error occurred while executing the state" prefix. */
  readonly cause?: string;

  constructor(name: string, cause: string | undefined, opts: StatesErrorOptions = {}) {
    super(cause ?? '');
    this.name = name;
    this.cause = cause;
    this.fatal = opts.fatal ?? name === 'States.Runtime';
    this.terminal = opts.terminal ?? name === 'States.DataLimitExceeded';
  }
}

export function runtimeError(cause: string): StatesError {
  return new StatesError('States.Runtime', cause, { fatal: true });
}

/** Any error escaping a state, named the Step Functions way (a plain Error keeps its name if it has a dotted one). */
export function asStatesError(err: unknown): StatesError {
  if (err instanceof StatesError) return err;
  const e = err as Error & { isCatchable?: boolean };
  if (
    e &&
    typeof e.name === 'string' &&
    (e.name.includes('.') || e.isCatchable !== undefined) &&
    !/^(TypeError|SyntaxError|RangeError|ReferenceError|Error)$/.test(e.name)
  ) {
    const out = new StatesError(e.name, e.message, { fatal: e.isCatchable === false || e.name === 'States.Runtime' });
    return out;
  }
  return runtimeError(e?.message ?? String(err));
}

/** Does a retrier's or catcher's ErrorEquals match this error? */
export function errorMatches(errorEquals: string[], err: StatesError, stateType: string): boolean {
  if (err.fatal) return false;
  for (const name of errorEquals) {
    if (name === err.name) return true;
    if (name === 'States.ALL' && !err.terminal) return true;
    if (name === 'States.TaskFailed' && stateType === 'Task' && err.name !== 'States.Timeout' && !err.terminal) return true;
    // A retrier or catcher on States.Timeout also handles heartbeat timeouts.
    if (name === 'States.Timeout' && err.name === 'States.HeartbeatTimeout') return true;
  }
  return false;
}
