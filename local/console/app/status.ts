/**
 * Each state's status in one execution, derived from its GetExecutionHistory events: what the console
 * colours the graph with and what a click on a state shows. Pure (no DOM), so tests and the bench use it too.
 *
 * Event names and their details are GetExecutionHistory's
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html).
 */
import type { ExecutionStatus, HistoryEvent, StateRun, StateStatus } from '../api';

interface Tracking extends StateRun {
  open: number;
  /** A failure not yet followed by a retry, a catch or the end of the execution. */
  pending: { error: string | null; cause: string | null } | null;
  failedForGood: boolean;
  caught: boolean;
}

const FAILURE = /(Failed|TimedOut|StartFailed|SubmitFailed|ScheduleFailed)$/;
const SCHEDULED = /^(Task|Activity|LambdaFunction)Scheduled$/;

/** Status of every state that appears in the history, by state name; states absent from it were not reached. */
export function stateRuns(events: readonly HistoryEvent[], executionStatus: ExecutionStatus): Map<string, StateRun> {
  const runs = new Map<string, Tracking>();
  const open: Tracking[] = [];
  const get = (name: string): Tracking => {
    let run = runs.get(name);
    if (!run) {
      run = {
        name,
        status: 'not-reached',
        entered: 0,
        retries: 0,
        startedAt: null,
        endedAt: null,
        input: null,
        output: null,
        error: null,
        cause: null,
        open: 0,
        pending: null,
        failedForGood: false,
        caught: false,
      };
      runs.set(name, run);
    }
    return run;
  };
  // The innermost open state is the one task and failure events belong to (AWS emits them between its
  // StateEntered and StateExited).
  const current = (predicate: (t: Tracking) => boolean = () => true) => [...open].reverse().find(predicate);
  const settlePending = (except?: Tracking) => {
    for (const run of runs.values()) {
      if (run === except || !run.pending) continue;
      run.caught = true;
      run.pending = null;
    }
  };

  for (const event of events) {
    const details = detailsOf(event);
    const name = typeof details.name === 'string' ? details.name : undefined;
    if (event.type.endsWith('StateEntered') && name) {
      settlePending();
      const run = get(name);
      run.entered += 1;
      run.open += 1;
      run.startedAt ??= event.timestamp;
      run.input = str(details.input) ?? run.input;
      open.push(run);
    } else if (event.type.endsWith('StateExited') && name) {
      const run = get(name);
      settlePending(run);
      // A state that failed and still exits was caught (its Catch decided what came next).
      if (run.pending) {
        run.caught = true;
        run.pending = null;
      }
      run.open = Math.max(0, run.open - 1);
      run.endedAt = event.timestamp;
      run.output = str(details.output) ?? run.output;
      const i = open.lastIndexOf(run);
      if (i >= 0) open.splice(i, 1);
    } else if (SCHEDULED.test(event.type)) {
      const run = current();
      if (run?.pending) {
        run.retries += 1;
        run.pending = null;
      }
    } else if (FAILURE.test(event.type) && !event.type.startsWith('Execution') && !event.type.startsWith('MapIteration')) {
      const structural = /^(Map|Parallel)State/.test(event.type);
      const run = structural ? current((t) => t.open > 0 && isStructural(events, t.name)) : current();
      if (!run) continue;
      run.pending = { error: str(details.error), cause: str(details.cause) };
      run.error = run.pending.error ?? run.error;
      run.cause = run.pending.cause ?? run.cause;
      run.endedAt = event.timestamp;
    }
  }

  const ended = executionStatus !== 'RUNNING';
  for (const run of runs.values()) {
    if (run.pending) run.failedForGood = ended;
    if (run.open > 0) {
      run.status = !ended ? 'running' : executionStatus === 'ABORTED' ? 'aborted' : 'failed';
    } else if (run.failedForGood) {
      run.status = 'failed';
    } else if (run.caught) {
      run.status = 'caught';
    } else if (run.pending) {
      run.status = 'running'; // failed, waiting for a retry
    } else {
      run.status = 'succeeded';
    }
  }
  // The state a failed execution ended in (a Fail state, or a state whose error nobody caught).
  return new Map([...runs].map(([k, { open: _o, pending: _p, failedForGood: _f, caught: _c, ...run }]) => [k, run]));
}

/** Running while any run is, then the worst outcome: one status for a state over many executions. */
const PRECEDENCE: StateStatus[] = ['running', 'failed', 'aborted', 'caught', 'succeeded', 'not-reached'];

/**
 * The state runs of many executions of one item processor (a Distributed Map's child executions) as one run per
 * state: entered and retries summed, `counts` per status, the status by PRECEDENCE, and the input, output, error and
 * cause of the execution that decided that status.
 */
export function mergeRuns(all: Iterable<Map<string, StateRun>>): Map<string, StateRun> {
  const merged = new Map<string, StateRun>();
  for (const runs of all) {
    for (const [name, run] of runs) {
      const m = merged.get(name);
      if (!m) {
        merged.set(name, { ...run, counts: { [run.status]: 1 } });
        continue;
      }
      m.entered += run.entered;
      m.retries += run.retries;
      m.counts![run.status] = (m.counts![run.status] ?? 0) + 1;
      if (run.startedAt && (!m.startedAt || run.startedAt < m.startedAt)) m.startedAt = run.startedAt;
      if (run.endedAt && (!m.endedAt || run.endedAt > m.endedAt)) m.endedAt = run.endedAt;
      if (PRECEDENCE.indexOf(run.status) < PRECEDENCE.indexOf(m.status))
        Object.assign(m, { status: run.status, input: run.input, output: run.output, error: run.error, cause: run.cause });
    }
  }
  for (const m of merged.values()) if (m.status === 'running') m.endedAt = null;
  return merged;
}

function isStructural(events: readonly HistoryEvent[], name: string): boolean {
  return events.some((e) => /^(Map|Parallel)StateEntered$/.test(e.type) && detailsOf(e).name === name);
}

function detailsOf(event: HistoryEvent): Record<string, unknown> {
  for (const [key, value] of Object.entries(event))
    if (key.endsWith('EventDetails') && value && typeof value === 'object') return value as Record<string, unknown>;
  return {};
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** The event's name/error/resource, whichever it has: the short "step" column of the history table. */
export function eventSummary(event: HistoryEvent): string {
  const d = detailsOf(event);
  return [d.name, d.error, d.resource, d.resourceType && d.resource ? undefined : d.resourceType].filter((v) => typeof v === 'string' && v).join(' · ');
}

export function eventDetails(event: HistoryEvent): Record<string, unknown> {
  return detailsOf(event);
}

export const STATUS_WORD: Record<StateStatus, string> = {
  succeeded: 'Succeeded',
  failed: 'Failed',
  caught: 'Caught',
  running: 'Running',
  aborted: 'Aborted',
  'not-reached': 'Not reached',
};
