/**
 * Scaling to zero and back, for the kinds that have no "stopped" state (Auto Scaling groups, ECS services): a stop
 * stores the sizes in the workflow's table first, then scales to zero; a start restores what was stored. A start
 * with nothing stored fails with a reason rather than guess a size.
 */
import type { Ec2Store } from '../store';
import type { BatchEntry, Sizes, Kind, Where } from '../types';

/** The start of a group or service that opsflow never scaled to zero. */
export class NoStoredSizesError extends Error {
  name = 'NoStoredSizes';
}

/** `where`: the account and region of a group or service in a target (config `targets`), whose names are only theirs. */
export async function storeThenZero(store: Ec2Store, kind: Kind, e: BatchEntry, runId: string, zero: () => Promise<void>, where: Where = {}): Promise<void> {
  if (!e.sizes) throw new Error(`${kind} ${e.instanceId}: planned without its sizes`);
  await store.putSizes(kind, e.instanceId, e.sizes, runId, where);
  await zero();
}

export async function restoreStored(store: Ec2Store, kind: Kind, e: BatchEntry, restore: (s: Sizes) => Promise<void>, where: Where = {}): Promise<void> {
  const stored = await store.getSizes(kind, e.instanceId, where);
  if (!stored)
    throw new NoStoredSizesError('no sizes stored for it: opsflow did not scale it to zero, so it does not know what to restore; set its sizes by hand');
  await restore(stored.sizes);
  Object.assign(e, { sizes: stored.sizes, note: `restored the sizes stored at ${stored.storedAt}` });
}

export const noStoredSizes = (e: Error) =>
  e instanceof NoStoredSizesError || e.name === 'NoStoredSizes' ? { status: 'failed' as const, reason: e.message } : undefined;
