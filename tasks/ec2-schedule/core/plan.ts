/**
 * Plans one Ec2Schedule run: finds the targets of every kind page by page (kinds/*.ts), settles the ones to leave
 * alone with a reason, orders the rest into waves, one per ordering group and kind (groups: start in the schedule's
 * order, stop in reverse; within a group, databases start first and stop last: kinds/kind.ts `KINDS`) and cuts each
 * wave into batches: at most `batchSize` resources (one Start/StopInstances call each for EC2, one call a resource for
 * the other kinds), and never more than fits a DynamoDB item once every entry carries the longest reason a run may
 * give it. Batches go to the table; the state machine gets one summary per wave (its number of batches), so the
 * payload stays the same few hundred bytes whatever the fleet size.
 */
import type { Log } from '../../shared/logger';
import { boundReason, MAX_REASON_BYTES } from '../../shared/reasons';
import { pagesByBytes, valueSize } from '../../shared/item-size';
import { mapLimit } from '../../shared/limit';
import { kindOf } from './kinds';
import type { Clients, PlanContext, Resource } from './kinds/kind';
import { KINDS, type Kind } from './types';
import { rdsRestarts } from './kinds/rds';
import { LIST_ITEM_BYTES, STORE_CONCURRENCY, type Ec2Store } from './store';
import { GROUP_TAG, SCHEDULE_TAG } from './tags';
import type { BatchEntry, Ec2Action, Ec2Request, Plan, ReportEntry, ResourceRef, ScheduleRuntime, Schedules, StoredBatch, Wave } from './types';

/** The most an entry can grow to during a run: the longest reason, a verification deadline, capacity retries. */
export function worstCaseSize(e: BatchEntry): number {
  const iso = '2000-01-01T00:00:00.000Z';
  return valueSize({
    ...e,
    status: 'capacity',
    to: 'shutting-down',
    reason: 'x'.repeat(MAX_REASON_BYTES),
    verifyBy: iso,
    tries: 99,
    retryAt: iso,
    sizes: { min: 99999, desired: 99999, max: 99999 },
    note: e.note ?? 'x'.repeat(120),
  });
}

export interface PlanDeps {
  clients: Clients;
  /** The kinds this deployment schedules (`ec2Schedule.kinds`); IAM allows no others. */
  kinds: readonly Kind[];
  store: Ec2Store;
  schedules: Schedules;
  batchSize: number;
  /** How long after planning the run may still start or stop resources (the rest of its time is for verifying and reporting). */
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

/** Wave order: the schedule's groups, then resources in no (known) group; reversed for stop. */
export function waveOrder(groups: string[], action: Ec2Action): string[] {
  const order = [...groups, ''];
  return action === 'start' ? order : order.reverse();
}

/** Kind order within a group: databases start first and stop last, services on capacity start last and stop first. */
export function kindOrder(action: Ec2Action): Kind[] {
  return action === 'start' ? [...KINDS] : [...KINDS].reverse();
}

/** Every resource of every kind tagged for the schedule, or the ones the request names. */
async function* targets(req: Ec2Request, clients: Clients, kinds: readonly Kind[]): AsyncGenerator<Resource> {
  if (req.schedule) {
    for (const kind of KINDS) if (kinds.includes(kind)) yield* kindOf(kind).list(clients, { key: SCHEDULE_TAG, value: req.schedule });
    return;
  }
  for (const kind of KINDS) {
    const ids = refsOf(req)
      .filter((r) => r.kind === kind)
      .map((r) => r.id);
    if (ids.length > 0) yield* await kindOf(kind).find(clients, ids);
  }
}

/** The resources a request names: `instanceIds` are EC2's. */
export function refsOf(req: Ec2Request): ResourceRef[] {
  return [...(req.instanceIds ?? []).map((id) => ({ kind: 'ec2' as const, id })), ...(req.resources ?? [])];
}

export async function plan(req: Ec2Request, runId: string, deps: PlanDeps): Promise<Plan> {
  const now = deps.now();
  const schedule = req.schedule ? deps.schedules[req.schedule] : undefined;
  const holiday = holidayOf(req, schedule, now);
  if (holiday) {
    deps.log.info('skip date: nothing to do', { runId, schedule: req.schedule, holiday });
    return { holiday, targets: 0, settled: 0, waves: [], actUntil: now.toISOString() };
  }

  const groups = schedule?.groups ?? [];
  const key = (group: string, kind: Kind) => `${group}|${kind}`;
  const byWave = new Map<string, BatchEntry[]>();
  for (const g of waveOrder(groups, req.action)) for (const k of kindOrder(req.action)) byWave.set(key(g, k), []);
  const settled: ReportEntry[] = [];
  const seen = new Set<string>();
  const ctx: PlanContext = { action: req.action, now, hibernate: schedule?.hibernate === true, restartedByRds: new Set() };
  let restarts: Promise<Set<string>> | undefined;
  for await (const r of targets(req, deps.clients, deps.kinds)) {
    seen.add(`${r.kind}:${r.id}`);
    const tagged = r.tags[GROUP_TAG];
    const group = tagged !== undefined && groups.includes(tagged) ? tagged : '';
    if (req.groups && !req.groups.includes(group)) continue; // this period moves other groups only
    if (req.action === 'stop' && r.kind.startsWith('rds-')) {
      restarts ??= rdsRestarts(deps.clients, now).catch((err: Error) => {
        // The restart is only the report's note: a stop goes on without it.
        deps.log.warn('RDS events unreadable: restarts after seven days are not noted', { error: err.name, message: err.message });
        return new Set<string>();
      });
      ctx.restartedByRds = await restarts;
    }
    const v = kindOf(r.kind).plan(r, ctx);
    if (v.kind === 'act') {
      byWave.get(key(group, r.kind))!.push({ instanceId: r.id, name: r.name, from: r.state, status: 'planned', ...v.entry });
    } else {
      settled.push({
        kind: r.kind,
        instanceId: r.id,
        name: r.name,
        from: r.state,
        to: r.state,
        outcome: v.kind === 'skip' ? 'skipped' : 'failed',
        reason: boundReason(v.reason),
      });
    }
  }
  for (const ref of refsOf(req)) {
    if (!seen.has(`${ref.kind}:${ref.id}`))
      settled.push({
        kind: ref.kind,
        instanceId: ref.id,
        name: '',
        from: 'unknown',
        to: 'unknown',
        outcome: 'failed',
        reason: `${kindOf(ref.kind).noun} not found`,
      });
  }

  const settledPages = pagesByBytes(settled, LIST_ITEM_BYTES);
  const stored: Array<{ wave: number; n: number; batch: StoredBatch }> = [];
  const waves: Wave[] = [];
  let count = 0;
  for (const [k, entries] of byWave) {
    if (entries.length === 0) continue;
    const [group, kind] = k.split('|') as [string, Kind];
    const index = waves.length;
    const oneACall = kindOf(kind).idsPerCall === 1;
    // `Hibernate` is one option for a whole StopInstances call: hibernating instances get batches of their own.
    const parts = [entries.filter((e) => !e.hibernate), entries.filter((e) => e.hibernate)];
    let n = 0;
    for (const part of parts) {
      for (const chunk of pagesByBytes(part, LIST_ITEM_BYTES, deps.batchSize, worstCaseSize)) {
        const batch: StoredBatch = {
          kind,
          action: req.action,
          dryRun: req.dryRun,
          group,
          entries: chunk,
          ...(chunk[0]?.hibernate && { hibernate: true }),
          ...(oneACall && { callSize: 1 }),
        };
        stored.push({ wave: index, n: n++, batch });
      }
    }
    count += entries.length;
    waves.push({ index, group, kind, action: req.action, dryRun: req.dryRun, batches: n, instances: entries.length });
  }
  await deps.store.putBatches(runId, stored);
  await mapLimit(settledPages, STORE_CONCURRENCY, (page, n) => deps.store.putEntries(runId, n, page));
  const actUntil = new Date(now.getTime() + deps.actBudgetSeconds * 1000).toISOString();
  deps.log.info('planned', { runId, action: req.action, schedule: req.schedule, targets: count, settled: settled.length, waves: waves.length, actUntil });
  return { holiday: null, targets: count, settled: settled.length, waves, actUntil };
}
