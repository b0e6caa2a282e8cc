/**
 * Verifies one batch after the API calls: an instance counts as moved only when EC2 reports the target
 * state, not when the call returned (an instance whose encrypted volume cannot be decrypted goes
 * `pending` → `stopped`, and the call had "succeeded"). Failures are explained from the StateReason.
 * Called in a Wait loop by the state machine until nothing is in transition or the deadline has passed.
 */
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { Log } from '../../shared/logger';
import { describeIds, throttled } from './instances';
import type { Ec2Store } from './store';
import type { InstanceFacts } from './types';

export interface VerifyInput {
  runId: string;
  key: string;
  deadline: string;
}

export interface VerifyDeps {
  ec2: EC2Client;
  store: Ec2Store;
  now: () => Date;
  log: Log;
}

const REASONS: Array<[RegExp, string]> = [
  [/^Client\.InternalError$/, 'EC2 could not attach a volume at launch: typically an encrypted EBS volume whose KMS key EC2 cannot use (key disabled or pending deletion, or no kms:CreateGrant for the caller on that key)'],
  [/^Client\.VolumeLimitExceeded$/, 'the account hit its EBS volume limit'],
  [/^Client\.InvalidSnapshot\.NotFound$/, 'a snapshot the instance needs no longer exists'],
  [/InsufficientInstanceCapacity/, 'AWS had no capacity for this instance type in its Availability Zone'],
  [/^Client\.UserInitiatedHibernate$/, 'the instance was hibernated'],
  [/^Client\.InstanceInitiatedShutdown$/, 'the operating system shut itself down'],
  [/^Server\.SpotInstance(Termination|Shutdown)$/, 'Spot capacity was reclaimed by EC2'],
  [/^Server\.ScheduledStop$/, 'EC2 stopped it for a scheduled retirement'],
  [/^Server\.InternalError$/, 'an internal EC2 error'],
  [/^Client\.UserInitiatedShutdown$/, 'stopped by a user or API call'],
];

/** A person-readable explanation of an EC2 StateReason. */
export function explainStateReason(reason: InstanceFacts['stateReason']): string {
  if (!reason) return 'EC2 gave no state reason';
  const hit = REASONS.find(([re]) => re.test(reason.code));
  return hit ? `${hit[1]} (${reason.code})` : `${reason.code}: ${reason.message}`;
}

export async function verify(input: VerifyInput, deps: VerifyDeps): Promise<{ done: boolean }> {
  const batch = await deps.store.getBatch(input.runId, input.key);
  const open = batch.entries.filter((e) => e.status === 'acted');
  if (open.length === 0) return { done: true };
  const target = batch.action === 'start' ? 'running' : 'stopped';
  const seen = new Map<string, InstanceFacts>();
  try {
    for await (const f of describeIds(deps.ec2, open.map((e) => e.instanceId))) seen.set(f.instanceId, f);
  } catch (err) {
    throw throttled(err) ?? err;
  }
  const expired = deps.now().getTime() >= Date.parse(input.deadline);
  for (const e of open) {
    const f = seen.get(e.instanceId);
    if (!f) {
      Object.assign(e, { status: 'failed', to: 'unknown', reason: 'instance disappeared during the run' });
    } else if (f.state === target) {
      Object.assign(e, { status: 'moved', to: f.state, reason: f.stateReason?.code === 'Client.UserInitiatedHibernate' ? 'hibernated' : '' });
    } else if (f.state === 'terminated' || f.state === 'shutting-down') {
      Object.assign(e, { status: 'failed', to: f.state, reason: `${f.state} during the run: ${explainStateReason(f.stateReason)}` });
    } else if (batch.action === 'start' && f.state === 'stopped') {
      Object.assign(e, { status: 'failed', to: f.state, reason: `fell back to stopped: ${explainStateReason(f.stateReason)}` });
    } else if (batch.action === 'stop' && f.state === 'running') {
      Object.assign(e, { status: 'failed', to: f.state, reason: 'running again: started by someone else during the stop' });
    } else if (expired) {
      Object.assign(e, { status: 'failed', to: f.state, reason: `still ${f.state} when verification gave up (deadline ${input.deadline})` });
    }
  }
  await deps.store.putBatch(input.runId, input.key, batch);
  const done = batch.entries.every((e) => e.status !== 'acted');
  if (done) deps.log.info('verified', { runId: input.runId, batch: input.key, moved: batch.entries.filter((e) => e.status === 'moved').length });
  return { done };
}
