/**
 * Plans one Ec2Schedule run: finds the targets page by page, settles the ones to leave alone with a reason,
 * orders the rest into waves (ordering groups: start in the schedule's order, stop in reverse) and cuts each
 * wave into batches. Batches go to the table; the state machine gets only their keys and sizes, so the
 * payload stays a few KiB whatever the fleet size.
 */
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { Log } from '../../shared/logger';
import { describe, describeIds } from './instances';
import type { Ec2Store } from './store';
import { ASG_TAG, GROUP_TAG, OVERRIDE_TAG, SCHEDULE_TAG } from './tags';
import type { BatchEntry, Ec2Action, Ec2Request, InstanceFacts, Plan, ReportEntry, ScheduleRuntime, Schedules, Wave } from './types';
import { validUntil } from '../../shared/valid-until';

/** Report entries per stored item: well under DynamoDB's 400 KB item limit. */
const ENTRIES_PER_ITEM = 200;

export interface PlanDeps {
  ec2: EC2Client;
  store: Ec2Store;
  schedules: Schedules;
  batchSize: number;
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
  if (asg !== undefined) return { kind: 'skip', reason: `member of Auto Scaling group ${asg}: the group would replace it; schedule the group's capacity instead` };
  const override = i.tags[OVERRIDE_TAG];
  if (override !== undefined) {
    const until = overrideUntil(override);
    if (Number.isNaN(until)) return { kind: 'skip', reason: `${OVERRIDE_TAG} '${override}' is not an ISO date (YYYY-MM-DD, or a timestamp with Z or an offset); left alone until the tag is fixed or removed` };
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

export function batches<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export async function plan(req: Ec2Request, runId: string, deps: PlanDeps): Promise<Plan> {
  const now = deps.now();
  const schedule = req.schedule ? deps.schedules[req.schedule] : undefined;
  const holiday = holidayOf(req, schedule, now);
  if (holiday) {
    deps.log.info('skip date: nothing to do', { runId, schedule: req.schedule, holiday });
    return { holiday, targets: 0, settled: 0, waves: [] };
  }

  const found = req.schedule
    ? describe(deps.ec2, [{ Name: `tag:${SCHEDULE_TAG}`, Values: [req.schedule] }])
    : describeIds(deps.ec2, req.instanceIds ?? []);
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
      settled.push({ instanceId: i.instanceId, name: i.name, from: i.state, to: i.state, outcome: v.kind === 'skip' ? 'skipped' : 'failed', reason: v.reason });
    }
  }
  for (const id of req.instanceIds ?? []) {
    if (!seen.has(id)) settled.push({ instanceId: id, name: '', from: 'unknown', to: 'unknown', outcome: 'failed', reason: 'instance not found' });
  }

  for (const [n, chunk] of batches(settled, ENTRIES_PER_ITEM).entries()) await deps.store.putEntries(runId, n, chunk);
  const waves: Wave[] = [];
  let targets = 0;
  for (const [group, entries] of byGroup) {
    if (entries.length === 0) continue;
    const wave: Wave = { group, batches: [] };
    for (const [n, chunk] of batches(entries, deps.batchSize).entries()) {
      const key = `${waves.length}-${n}`;
      await deps.store.putBatch(runId, key, { action: req.action, dryRun: req.dryRun, group, entries: chunk });
      wave.batches.push({ key, size: chunk.length });
    }
    targets += entries.length;
    waves.push(wave);
  }
  deps.log.info('planned', { runId, action: req.action, schedule: req.schedule, targets, settled: settled.length, waves: waves.length });
  return { holiday: null, targets, settled: settled.length, waves };
}
