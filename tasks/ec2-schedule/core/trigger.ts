/**
 * Runs the Ec2Schedule workflow for one resource (an EC2 instance, or any scheduled kind's: core/kinds/) on behalf of a
 * link or a chat command, and reports what happened to it: the transition the caller asked about (`stopped -> pending`), or why there was none (already in
 * that state, no capacity, not permitted, a volume's KMS key, a failed run), from the workflow's own record of the
 * run, while the workflow still verifies, explains and reports as for any scheduled run. The workflow acts within
 * a second or two, so this polls until the resource's state changes, the run settles the instance, or the run ends,
 * bounded well inside API Gateway's 30 s integration timeout.
 */
import { DescribeExecutionCommand, StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { kindOf } from './kinds';
import type { Clients, Resource } from './kinds/kind';
import type { Ec2Store } from './store';
import type { BatchEntry, Ec2Action, ReportEntry, Where } from './types';

export interface TriggerDeps {
  /** The clients of the resource's own account and region (the hub's, or a spoke's: resolve.ts `clientsFor`). */
  clients: Clients;
  sfn: SFNClient;
  /** The run table, where the workflow records what it decided for the instance and why. */
  store: Pick<Ec2Store, 'singleInstanceEntry'>;
  stateMachineArn: string;
  /** Real time to wait between polls. */
  sleep: (ms: number) => Promise<void>;
  /** How long to observe at most, real ms. @default 20000 */
  observeMs?: number;
}

/**
 * - moved: the instance left its state (`from -> to`);
 * - not-done: the workflow left it as it was, for `reason` (already there, not permitted, fell back to stopped, ...);
 * - waiting: the workflow could not act yet and tries again (EC2 had no capacity), for `reason`;
 * - failed: the run ended without succeeding before acting (`failure`);
 * - no-change: nothing changed while observed; the run goes on and reports.
 */
export type Outcome = 'moved' | 'not-done' | 'waiting' | 'failed' | 'no-change';

export interface Triggered {
  from: string;
  to: string;
  executionArn: string;
  outcome: Outcome;
  /** Why the instance did not move (not-done, waiting), shortened. */
  reason?: string;
  /** Set when the run ended without succeeding (FAILED, TIMED_OUT, ABORTED) while observed: its error and cause, shortened. */
  failure?: { status: string; error: string; cause: string };
}

/** Longest cause a caller is shown: the workflow's causes list problems and can be long; the history keeps it whole. */
export const FAILURE_CAUSE_CHARS = 300;

/** `text` cut to `max` characters (code points, not UTF-16 units), marked with `…` when cut. */
export function shorten(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/** The resource's state now, by its kind's own `find`; `unknown` once it is gone. */
async function stateOf(clients: Clients, r: Pick<Resource, 'kind' | 'id'>): Promise<string> {
  return (await kindOf(r.kind).find(clients, [r.id])).find((x) => x.id === r.id)?.state ?? 'unknown';
}

/**
 * An EC2 instance of the hub's own account and region as `instanceIds` (the input links and chat always sent), any
 * other kind, and anything in another account or region, as `resources` (which alone carry `account` and `region`).
 */
const target = (r: Pick<Resource, 'kind' | 'id'> & Where) =>
  r.kind === 'ec2' && !r.account
    ? { instanceIds: [r.id] }
    : { resources: [{ kind: r.kind, id: r.id, ...(r.account && { account: r.account, region: r.region }) }] };

export async function trigger(deps: TriggerDeps, resource: Resource & Where, action: Ec2Action, requestedBy: string): Promise<Triggered> {
  const started = await deps.sfn.send(
    new StartExecutionCommand({ stateMachineArn: deps.stateMachineArn, input: JSON.stringify({ action, ...target(resource), requestedBy }) }),
  );
  const executionArn = started.executionArn!;
  const runId = executionArn.slice(executionArn.lastIndexOf(':') + 1); // the workflow keys its run by execution name
  const from = resource.state;
  const settled = async (): Promise<Triggered | undefined> => {
    const entry = await deps.store.singleInstanceEntry(runId, resource.id);
    const why = entry && explainEntry(entry, action);
    return why && { from, to: ('to' in entry && entry.to) || from, executionArn, ...why };
  };
  // performance.now(), not Date.now(): this bound is real time (API Gateway's), even where Date runs virtual.
  const deadline = performance.now() + (deps.observeMs ?? 20_000);
  while (performance.now() < deadline) {
    await deps.sleep(300);
    const early = await settled();
    if (early) return early;
    const to = await stateOf(deps.clients, resource);
    if (to !== from) return { from, to, executionArn, outcome: 'moved' };
    const execution = await deps.sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (execution.status !== 'RUNNING') {
      const final = await settled();
      if (final) return final;
      const now = await stateOf(deps.clients, resource);
      if (now !== from) return { from, to: now, executionArn, outcome: 'moved' };
      // A run that failed before planning (Input.Invalid, say) leaves the instance as it was: say why.
      if (execution.status !== 'SUCCEEDED') {
        const failure = {
          status: execution.status ?? 'UNKNOWN',
          error: shorten(execution.error ?? execution.status ?? 'unknown', 100),
          cause: shorten(execution.cause ?? '', FAILURE_CAUSE_CHARS),
        };
        return { from, to: now, executionArn, outcome: 'failed', failure };
      }
      return { from, to: now, executionArn, outcome: 'no-change' };
    }
  }
  return { from, to: from, executionArn, outcome: 'no-change' };
}

/**
 * What the workflow's entry for the instance says, when it says the instance will not move (now): the plan left it
 * alone, the call failed (permissions, wrong state), verification saw it fall back (a volume's KMS key), or EC2 had
 * no capacity (the workflow retries). Undefined while the instance is planned or acted on, or moved.
 */
export function explainEntry(entry: ReportEntry | BatchEntry, action: Ec2Action): Pick<Triggered, 'outcome' | 'reason'> | undefined {
  const status = 'outcome' in entry ? entry.outcome : entry.status;
  const reason = shorten(entry.reason || 'no reason recorded', FAILURE_CAUSE_CHARS);
  switch (status) {
    case 'skipped':
    case 'failed':
    case 'dry-run':
      return { outcome: 'not-done', reason };
    case 'capacity':
      return {
        outcome: 'waiting',
        reason: shorten(
          `EC2 has no capacity for this instance type now (InsufficientInstanceCapacity), so the ${action} is retried after 1, 2, 4 and 8 minutes: ${entry.reason ?? ''}`,
          FAILURE_CAUSE_CHARS,
        ),
      };
    default:
      return undefined; // planned, acted (verification pending), moved
  }
}

/**
 * One line on what happened to the instance: `stopped -> pending`, or why nothing did: a control link's plain-text
 * answer, and the end of a chat command's reply.
 */
export function describeOutcome(done: Triggered, action: Ec2Action): string {
  const verb = action === 'start' ? 'started' : 'stopped';
  switch (done.outcome) {
    case 'moved':
      return `${done.from} -> ${done.to}`;
    case 'not-done':
      return `not ${verb}: ${done.reason}${done.reason?.startsWith('already') ? '' : ` (still ${done.to})`}`;
    case 'waiting':
      return `not ${verb} yet: ${done.reason} (still ${done.to})`;
    case 'failed': {
      const f = done.failure!;
      return `failed, ${f.error}${f.cause ? `: ${f.cause}` : ''} (still ${done.to})`;
    }
    case 'no-change':
      return `no change yet (${done.to}): the workflow is still running and reports when it is done`;
  }
}
