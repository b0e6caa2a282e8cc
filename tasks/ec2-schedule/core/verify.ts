/**
 * Verification: an instance counts as moved only when EC2 reports the target state, not when the call
 * returned (an instance whose encrypted volume cannot be decrypted goes `pending` → `stopped`, and the call had
 * "succeeded"). Failures are explained from the StateReason. The wave's Advance loop (core/advance.ts) checks its
 * instances in transition on every pass until each reached its target state or its `verifyBy` passed.
 */
import { boundReason } from '../../shared/reasons';
import type { BatchEntry, Ec2Action, InstanceFacts } from './types';

const REASONS: Array<[RegExp, string]> = [
  [
    /^Client\.InternalError$/,
    'EC2 could not attach a volume at launch: typically an encrypted EBS volume whose KMS key EC2 cannot use (key disabled or pending deletion, or no kms:CreateGrant for the caller on that key)',
  ],
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

/** Settles one `acted` entry from what EC2 reports now (`undefined`: EC2 no longer knows the instance). */
export function settle(e: BatchEntry, f: InstanceFacts | undefined, action: Ec2Action, now: Date): void {
  const target = action === 'start' ? 'running' : 'stopped';
  const expired = e.verifyBy !== undefined && now.getTime() >= Date.parse(e.verifyBy);
  const final = (status: BatchEntry['status'], to: string, reason: string) =>
    Object.assign(e, { status, to, reason: boundReason(reason), verifyBy: undefined });
  if (!f) final('failed', 'unknown', 'instance disappeared during the run');
  else if (f.state === target) final('moved', f.state, f.stateReason?.code === 'Client.UserInitiatedHibernate' ? 'hibernated' : '');
  else if (f.state === 'terminated' || f.state === 'shutting-down') final('failed', f.state, `${f.state} during the run: ${explainStateReason(f.stateReason)}`);
  else if (action === 'start' && f.state === 'stopped') final('failed', f.state, `fell back to stopped: ${explainStateReason(f.stateReason)}`);
  else if (action === 'stop' && f.state === 'running') final('failed', f.state, 'running again: started by someone else during the stop');
  else if (expired) final('failed', f.state, `still ${f.state} when verification gave up (deadline ${e.verifyBy})`);
}
