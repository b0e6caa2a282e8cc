/**
 * Plans one Ec2Schedule run: finds the targets page by page, settles the ones to leave alone with a reason,
 * orders the rest into waves (ordering groups: start in the schedule's order, stop in reverse) and cuts each
 * wave into batches: at most `batchSize` instances (one Start/StopInstances call each), and never more than fits
 * a DynamoDB item once every instance carries the longest reason a run may give it. Batches go to the table; the
 * state machine gets one summary per wave (its number of batches), so the payload stays the same few hundred
 * bytes whatever the fleet size.
 */
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { Log } from '../../shared/logger';
import { describe, describeIds } from './instances';
import { ASG_TAG, GROUP_TAG, OVERRIDE_TAG, SCHEDULE_TAG } from './tags';
import type { BatchEntry, Ec2Action, Ec2Request, InstanceFacts, Plan, ReportEntry, ScheduleRuntime, Schedules, StoredBatch, Wave } from './types';
import { validUntil } from '../../shared/valid-until';
import { pagesByBytes, valueSize } from '../../shared/item-size';
import { boundReason, MAX_REASON_BYTES } from '../../shared/reasons';
import { mapLimit } from '../../shared/limit';
import { LIST_ITEM_BYTES, STORE_CONCURRENCY, type Ec2Store } from './store';

/** The most an entry can grow to during a run: the longest reason, a verification deadline, capacity retries. */
export function worstCaseSize(e: BatchEntry): number {
  const iso = '2000-01-01T00:00:00.000Z';
  return valueSize({ ...e, status: 'capacity', to: 'shutting-down', reason: 'x'.repeat(MAX_REASON_BYTES), verifyBy: iso, tries: 99, retryAt: iso });
}

export interface PlanDeps {
  ec2: EC2Client;
  store: Ec2Store;
  schedules: Schedules;
  batchSize: number;
  /** How long after planning the run may still start or stop instances (the rest of its time is for verifying and reporting). */
  actBudgetSeconds: number;
  now: () => Date;
  log: Log;
}

/** `YYYY-MM-DD` of an instant in a time zone. */
export function localDate(at: Date, timezone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

/**
 * Skip dates stop scheduled *starts* only: on a holiday the instances should stay down, and a stop that
 * runs anyway (say someone started one by hand) only saves money.
 */
export function holidayOf(req: Ec2Request, schedule: ScheduleRuntime | undefined, now: Date): string | null {
  if (req.action !== 'start' || !schedule) return null;
  const today = localDate(now, schedule.timezone);
  return schedule.skipDates.includes(today) ? today : null;
}

/** The override deadline of `opsflow:override`, by the project's one "valid until" rule (tasks/shared/valid-until.ts). */
export function overrideUntil(value: string): number {
  return validUntil(value) ?? NaN;
}

export type Verdict = { kind: 'act' } | { kind: 'skip' | 'fail'; reason: string };

/** Why an instance is left alone, or `act`. Checked in this order so the most fundamental reason wins. */
export function verdict(i: InstanceFacts, action: Ec2Action, now: Date): Verdict {
  if (i.state === 'terminated' || i.state === 'shutting-down') return { kind: 'skip', reason: `instance is ${i.state}` };
  const asg = i.tags[ASG_TAG];
  if (asg !== undefined)
    return { kind: 'skip', reason: `member of Auto Scaling group ${asg}: the group would replace it; schedule the group's capacity instead` };
  const override = i.tags[OVERRIDE_TAG];
  if (override !== undefined) {
    const until = overrideUntil(override);
    if (Number.isNaN(until))
      return {
        kind: 'skip',
        reason: `${OVERRIDE_TAG} '${override}' is not an ISO date (YYYY-MM-DD, or a timestamp with Z or an offset); left alone until the tag is fixed or removed`,
      };
    if (until > now.getTime()) return { kind: 'skip', reason: `${OVERRIDE_TAG} until ${override}` };
  }
  if (i.rootDeviceType === 'instance-store') return { kind: 'skip', reason: 'instance-store root device: it cannot be stopped, so it is not scheduled' };
  if (action === 'start') {
    if (i.state === 'running' || i.state === 'pending') return { kind: 'skip', reason: `already ${i.state}` };
    if (i.state === 'stopping') return { kind: 'fail', reason: 'still stopping: it can only be started once stopped' };
  } else {
    if (i.state === 'stopped' || i.state === 'stopping') return { kind: 'skip', reason: `already ${i.state}` };
    if (i.state === 'pending') return { kind: 'fail', reason: 'still starting: it can only be stopped once running' };
  }
  return { kind: 'act' };
}

/** Wave order: the schedule's groups, then instances in no (known) group; reversed for stop. */
export function waveOrder(groups: string[], action: Ec2Action): string[] {
  const order = [...groups, ''];
  return action === 'start' ? order : order.reverse();
}

export async function plan(req: Ec2Request, runId: string, deps: PlanDeps): Promise<Plan> {
  const now = deps.now();
  const schedule = req.schedule ? deps.schedules[req.schedule] : undefined;
  const holiday = holidayOf(req, schedule, now);
  if (holiday) {
    deps.log.info('skip date: nothing to do', { runId, schedule: req.schedule, holiday });
    return { holiday, targets: 0, settled: 0, waves: [], actUntil: now.toISOString() };
  }

  const found = req.schedule ? describe(deps.ec2, [{ Name: `tag:${SCHEDULE_TAG}`, Values: [req.schedule] }]) : describeIds(deps.ec2, req.instanceIds ?? []);
  const groups = schedule?.groups ?? [];
  const byGroup = new Map<string, BatchEntry[]>(waveOrder(groups, req.action).map((g) => [g, []]));
  const settled: ReportEntry[] = [];
  const seen = new Set<string>();
  for await (const i of found) {
    seen.add(i.instanceId);
    const tagged = i.tags[GROUP_TAG];
    const group = tagged !== undefined && groups.includes(tagged) ? tagged : '';
    if (req.groups && !req.groups.includes(group)) continue; // this period moves other groups only
    const v = verdict(i, req.action, now);
    if (v.kind === 'act') {
      byGroup.get(group)!.push({ instanceId: i.instanceId, name: i.name, from: i.state, status: 'planned' });
    } else {
      settled.push({
        instanceId: i.instanceId,
        name: i.name,
        from: i.state,
        to: i.state,
        outcome: v.kind === 'skip' ? 'skipped' : 'failed',
        reason: boundReason(v.reason),
      });
    }
  }
  for (const id of req.instanceIds ?? []) {
    if (!seen.has(id)) settled.push({ instanceId: id, name: '', from: 'unknown', to: 'unknown', outcome: 'failed', reason: 'instance not found' });
  }

  const settledPages = pagesByBytes(settled, LIST_ITEM_BYTES);
  const stored: Array<{ wave: number; n: number; batch: StoredBatch }> = [];
  const waves: Wave[] = [];
  let targets = 0;
  for (const [group, entries] of byGroup) {
    if (entries.length === 0) continue;
    const index = waves.length;
    const cut = pagesByBytes(entries, LIST_ITEM_BYTES, deps.batchSize, worstCaseSize);
    for (const [n, chunk] of cut.entries()) stored.push({ wave: index, n, batch: { action: req.action, dryRun: req.dryRun, group, entries: chunk } });
    targets += entries.length;
    waves.push({ index, group, action: req.action, dryRun: req.dryRun, batches: cut.length, instances: entries.length });
  }
  await deps.store.putBatches(runId, stored);
  await mapLimit(settledPages, STORE_CONCURRENCY, (page, n) => deps.store.putEntries(runId, n, page));
  const actUntil = new Date(now.getTime() + deps.actBudgetSeconds * 1000).toISOString();
  deps.log.info('planned', { runId, action: req.action, schedule: req.schedule, targets, settled: settled.length, waves: waves.length, actUntil });
  return { holiday: null, targets, settled: settled.length, waves, actUntil };
}
