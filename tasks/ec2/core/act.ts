/**
 * Acts on one stored batch: one Start/StopInstances call for the whole batch, and when that call fails, the
 * batch is split in halves until the failure is pinned to single instances, so one bad instance does not
 * block the rest (EC2 rejects a whole call for one instance in the wrong state, a one-time Spot instance or
 * a type without capacity).
 *
 * Retried by the state machine, so it is idempotent: only entries still `planned` (or waiting for capacity)
 * are sent, and progress is saved before any error leaves. Throttling that outlives the SDK's own retries
 * raises Ec2.Throttled; instances without capacity raise Ec2.InsufficientCapacity once the rest of the
 * batch is done, so the workflow retries just them later with back-off. On the final attempt (`finalAttempt`,
 * from the state machine's Catch) capacity failures become report entries instead.
 */
import { StartInstancesCommand, StopInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { Ec2InsufficientCapacityError, Ec2ThrottledError } from '../../shared/errors';
import type { Log } from '../../shared/logger';
import { isThrottling } from '../../shared/aws-errors';
import type { Ec2Store } from './store';
import type { BatchEntry, Ec2Action } from './types';

export interface ActInput {
  runId: string;
  key: string;
  finalAttempt?: boolean;
}

export interface ActResult {
  /** Instances whose call succeeded and whose state must now be verified. */
  pending: number;
  /** ISO time after which verification gives up on the instances still in transition. */
  deadline: string;
}

export interface ActDeps {
  ec2: EC2Client;
  store: Ec2Store;
  verifyTimeoutSeconds: number;
  now: () => Date;
  log: Log;
}

type Call = (ids: string[]) => Promise<void>;

export async function act(input: ActInput, deps: ActDeps): Promise<ActResult> {
  const batch = await deps.store.getBatch(input.runId, input.key);
  const byId = new Map(batch.entries.map((e) => [e.instanceId, e]));
  const todo = batch.entries.filter((e) => e.status === 'planned' || e.status === 'capacity').map((e) => e.instanceId);
  const send = sender(deps.ec2, batch.action, batch.dryRun);
  let throttledError: Ec2ThrottledError | undefined;

  const attempt: Call = async (ids) => {
    try {
      await send(ids);
      for (const id of ids) Object.assign(byId.get(id)!, { status: 'acted', reason: undefined });
    } catch (err) {
      const e = err as Error;
      if (isThrottling(e)) throw new Ec2ThrottledError(`EC2 throttled ${batch.action} of batch ${input.key} (${e.name})`);
      if (batch.dryRun && e.name === 'DryRunOperation') {
        for (const id of ids) Object.assign(byId.get(id)!, { status: 'dry-run', to: byId.get(id)!.from, reason: `would ${batch.action} (DryRun permitted)` });
        return;
      }
      if (ids.length > 1) {
        const half = Math.ceil(ids.length / 2);
        await attempt(ids.slice(0, half));
        await attempt(ids.slice(half));
        return;
      }
      Object.assign(byId.get(ids[0])!, classifyCallError(e, batch.action));
    }
  };

  try {
    if (todo.length > 0) await attempt(todo);
  } catch (err) {
    if (!(err instanceof Ec2ThrottledError)) throw err;
    throttledError = err;
  }

  const short = batch.entries.filter((e) => e.status === 'capacity');
  if (input.finalAttempt) {
    for (const e of short) Object.assign(e, { status: 'failed', to: e.from, reason: `insufficient capacity, still after retries: ${e.reason}` });
  }
  // Save before any error leaves: a retry must not act twice or lose what was learned.
  await deps.store.putBatch(input.runId, input.key, batch);
  if (throttledError) throw throttledError;
  if (short.length > 0 && !input.finalAttempt) {
    deps.log.warn('insufficient capacity', { runId: input.runId, batch: input.key, instances: short.map((e) => e.instanceId) });
    throw new Ec2InsufficientCapacityError(`${short.length} instance(s) of batch ${input.key} lack capacity: ${short.map((e) => e.instanceId).join(', ')}`);
  }
  const pending = batch.entries.filter((e) => e.status === 'acted').length;
  deps.log.info('acted', { runId: input.runId, batch: input.key, action: batch.action, pending });
  return { pending, deadline: new Date(deps.now().getTime() + deps.verifyTimeoutSeconds * 1000).toISOString() };
}

function sender(ec2: EC2Client, action: Ec2Action, dryRun: boolean): Call {
  return async (ids) => {
    const input = { InstanceIds: ids, DryRun: dryRun };
    if (action === 'start') await ec2.send(new StartInstancesCommand(input));
    else await ec2.send(new StopInstancesCommand(input));
  };
}

/** What one instance's failed call means for the report. */
export function classifyCallError(e: Error, action: Ec2Action): Partial<BatchEntry> {
  const message = e.message || e.name;
  switch (e.name) {
    case 'InsufficientInstanceCapacity':
      return { status: 'capacity', reason: message };
    case 'UnsupportedOperation':
      // One-time Spot requests, instance-store roots: EC2 will never stop these, so they are not failures of the run.
      return { status: 'skipped', reason: `cannot be ${action === 'start' ? 'started' : 'stopped'}: ${message}` };
    case 'IncorrectInstanceState':
      return { status: 'failed', reason: `wrong state for ${action}: ${message}` };
    case 'UnauthorizedOperation':
      return { status: 'failed', reason: `not permitted (only instances tagged Schedule, or allowed by ec2Schedule.control, may be started or stopped; encrypted volumes need a configured KMS key): ${message}` };
    case 'InvalidInstanceID.NotFound':
      return { status: 'failed', reason: 'instance not found' };
    default:
      return { status: 'failed', reason: `${e.name}: ${message}` };
  }
}
