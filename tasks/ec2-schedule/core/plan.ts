/**
 * Plans one Ec2Schedule run: finds the targets of every kind page by page (kinds/*.ts), settles the ones to leave
 * alone with a reason, orders the rest into waves, one per ordering group and kind (groups: start in the schedule's
 * order, stop in reverse; within a group, databases start first and stop last: kinds/kind.ts `KINDS`) and cuts each
 * wave into batches: at most `batchSize` resources (one Start/StopInstances call each for EC2, one call a resource for
 * the other kinds), and never more than fits a DynamoDB item once every entry carries the longest reason a run may
 * give it. Batches go to the table; the state machine gets one summary per wave (its number of batches), so the
 * payload stays the same few hundred bytes whatever the fleet size.
 *
 * With `TARGETS` (config `targets`, issue 23) the same is done for every account × region of the run, each listed on
 * its own with that target's clients (`Reach`): its waves carry its `account`/`region` and form its lane; a target that
 * cannot be listed is stored as `unreachable#<n>` with its reason, and the others are planned.
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
import type {
  BatchEntry,
  Ec2Action,
  Ec2Request,
  Lane,
  Plan,
  ReportEntry,
  ResourceRef,
  ScheduleRuntime,
  Schedules,
  StoredBatch,
  UnreachableTarget,
  Wave,
  Where,
} from './types';
import { forEachTarget, type Target, type TargetsChoice } from '../../shared/targets';

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
  /** The function's own account and region. */
  clients: Clients;
  /**
   * With `TARGETS` (config `targets`): the accounts and regions of the run and their clients; the plan answers
   * `lanes`, one per target. Absent: the run acts with `clients` alone and the plan answers `waves`, as it always has.
   */
  reach?: TargetReach;
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

/** Every resource of every kind tagged for the schedule, or the ones the request names (`refs`, of this target). */
async function* resources(req: Ec2Request, refs: readonly ResourceRef[], clients: Clients, kinds: readonly Kind[]): AsyncGenerator<Resource> {
  if (req.schedule) {
    for (const kind of KINDS) if (kinds.includes(kind)) yield* kindOf(kind).list(clients, { key: SCHEDULE_TAG, value: req.schedule });
    return;
  }
  for (const kind of KINDS) {
    const ids = refs.filter((r) => r.kind === kind).map((r) => r.id);
    if (ids.length > 0) yield* await kindOf(kind).find(clients, ids);
  }
}

/** The resources a request names: `instanceIds` are EC2's, in the function's own account and region. */
export function refsOf(req: Ec2Request): ResourceRef[] {
  return [...(req.instanceIds ?? []).map((id) => ({ kind: 'ec2' as const, id })), ...(req.resources ?? [])];
}

/** The run's reach over an organisation's accounts and regions (tasks/shared/targets.ts `Reach`). */
export interface TargetReach {
  targets(choice?: TargetsChoice): Promise<Array<Target | undefined>>;
  for(target: Target | undefined): Clients;
}

/**
 * Targets listed at once. Each lists its kinds page by page with its own credentials and its own API buckets (the
 * member account's), so ten at a time keep a 200-target run's plan well inside its five minutes without a burst of
 * AssumeRole calls (issue 23: "AssumeRole is paced").
 */
export const TARGET_CONCURRENCY = 10;

/** `{account, region}` of a target, nothing for the function's own account and region. */
export const whereOf = (t: Target | undefined): Where => (t ? { account: t.account, region: t.region } : {});
const keyOf = (w: Where) => (w.account ? `${w.account}/${w.region}` : '');

/** One target's plan: the entries to act on per `<group>|<kind>` (in wave order), and the ones settled now. */
interface TargetPlan {
  byWave: Map<string, BatchEntry[]>;
  settled: ReportEntry[];
}

const waveKey = (group: string, kind: Kind) => `${group}|${kind}`;

async function planTarget(
  req: Ec2Request,
  refs: readonly ResourceRef[],
  target: Target | undefined,
  clients: Clients,
  schedule: ScheduleRuntime | undefined,
  now: Date,
  deps: PlanDeps,
): Promise<TargetPlan> {
  const where = whereOf(target);
  const groups = schedule?.groups ?? [];
  const byWave = new Map<string, BatchEntry[]>();
  for (const g of waveOrder(groups, req.action)) for (const k of kindOrder(req.action)) byWave.set(waveKey(g, k), []);
  const settled: ReportEntry[] = [];
  const seen = new Set<string>();
  const ctx: PlanContext = { action: req.action, now, hibernate: schedule?.hibernate === true, restartedByRds: new Set() };
  let restarts: Promise<Set<string>> | undefined;
  for await (const r of resources(req, refs, clients, deps.kinds)) {
    seen.add(`${r.kind}:${r.id}`);
    const tagged = r.tags[GROUP_TAG];
    const group = tagged !== undefined && groups.includes(tagged) ? tagged : '';
    if (req.groups && !req.groups.includes(group)) continue; // this period moves other groups only
    if (req.action === 'stop' && r.kind.startsWith('rds-')) {
      restarts ??= rdsRestarts(clients, now).catch((err: Error) => {
        // The restart is only the report's note: a stop goes on without it.
        deps.log.warn('RDS events unreadable: restarts after seven days are not noted', { error: err.name, message: err.message, ...where });
        return new Set<string>();
      });
      ctx.restartedByRds = await restarts;
    }
    const v = kindOf(r.kind).plan(r, ctx);
    if (v.kind === 'act') {
      byWave.get(waveKey(group, r.kind))!.push({ instanceId: r.id, name: r.name, from: r.state, status: 'planned', ...v.entry });
    } else {
      settled.push({
        ...where,
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
  for (const ref of refs) {
    if (!seen.has(`${ref.kind}:${ref.id}`)) settled.push(notFound(ref, `${kindOf(ref.kind).noun} not found`));
  }
  return { byWave, settled };
}

const notFound = (ref: ResourceRef, reason: string): ReportEntry => ({
  ...whereOf(ref.account ? { account: ref.account, region: ref.region! } : undefined),
  kind: ref.kind,
  instanceId: ref.id,
  name: '',
  from: 'unknown',
  to: 'unknown',
  outcome: 'failed',
  reason: boundReason(reason),
});

const NO_TARGETS = 'not reachable: this deployment acts in its own account and region only (no config targets)';

type Listed = { target: Target | undefined; refs: ResourceRef[] } & ({ ok: true; value: TargetPlan } | { ok: false; reason: string });

/**
 * Lists every target, each on its own: a target that cannot be listed (its role refused, throttled, any error) is
 * its result, never the run's, so the others are planned. The function's own account and region (no `TARGETS`, or a
 * request naming resources without an account) fails the plan as it always has.
 */
async function listTargets(req: Ec2Request, schedule: ScheduleRuntime | undefined, now: Date, deps: PlanDeps): Promise<Listed[]> {
  const reach = deps.reach;
  if (!reach) {
    // Without TARGETS the run reaches its own account and region only: a resource named elsewhere is not looked for.
    const [here, elsewhere] = [refsOf(req).filter((r) => !r.account), refsOf(req).filter((r) => r.account)];
    const listed: Listed[] = [{ target: undefined, refs: here, ok: true, value: await planTarget(req, here, undefined, deps.clients, schedule, now, deps) }];
    for (const ref of elsewhere) listed[0].ok && listed[0].value.settled.push(notFound(ref, NO_TARGETS));
    return listed;
  }
  const wanted = new Map<string, { target: Target | undefined; refs: ResourceRef[] }>();
  if (req.schedule) {
    for (const t of await reach.targets(schedule?.targets)) wanted.set(keyOf(whereOf(t)), { target: t, refs: [] });
  } else {
    for (const ref of refsOf(req)) {
      const target = ref.account && ref.region ? { account: ref.account, region: ref.region } : undefined;
      const k = keyOf(whereOf(target));
      if (!wanted.has(k)) wanted.set(k, { target, refs: [] });
      wanted.get(k)!.refs.push(ref);
    }
  }
  const all = [...wanted.values()];
  const own = all.find((w) => w.target === undefined);
  const others = all.filter((w): w is { target: Target; refs: ResourceRef[] } => w.target !== undefined);
  const results = await forEachTarget(
    others.map((w) => w.target),
    TARGET_CONCURRENCY,
    (t) => planTarget(req, wanted.get(keyOf(t))!.refs, t, reach.for(t), schedule, now, deps),
  );
  const listed: Listed[] = results.map((r, i) => ({ ...r, refs: others[i].refs }));
  if (own) listed.unshift({ ...own, ok: true, value: await planTarget(req, own.refs, undefined, reach.for(undefined), schedule, now, deps) });
  return listed;
}

export async function plan(req: Ec2Request, runId: string, deps: PlanDeps): Promise<Plan> {
  const now = deps.now();
  const schedule = req.schedule ? deps.schedules[req.schedule] : undefined;
  const holiday = holidayOf(req, schedule, now);
  if (holiday) {
    deps.log.info('skip date: nothing to do', { runId, schedule: req.schedule, holiday });
    return { holiday, targets: 0, settled: 0, waves: [], actUntil: now.toISOString() };
  }

  const listed = await listTargets(req, schedule, now, deps);
  const settled: ReportEntry[] = [];
  const unreachable: UnreachableTarget[] = [];
  const stored: Array<{ wave: number; n: number; batch: StoredBatch }> = [];
  const lanes: Lane[] = [];
  let index = 0;
  let count = 0;
  for (const l of listed) {
    if (!l.ok) {
      // Unreachable: the target is reported with its reason, and each resource the request named there fails with it.
      unreachable.push({ ...(l.target as Target), reason: boundReason(l.reason) });
      for (const ref of l.refs) settled.push(notFound(ref, l.reason));
      continue;
    }
    const where = whereOf(l.target);
    settled.push(...l.value.settled);
    const waves: Wave[] = [];
    for (const [k, entries] of l.value.byWave) {
      if (entries.length === 0) continue;
      const [group, kind] = k.split('|') as [string, Kind];
      const oneACall = kindOf(kind).idsPerCall === 1;
      // `Hibernate` is one option for a whole StopInstances call: hibernating instances get batches of their own.
      const parts = [entries.filter((e) => !e.hibernate), entries.filter((e) => e.hibernate)];
      let n = 0;
      for (const part of parts) {
        for (const chunk of pagesByBytes(part, LIST_ITEM_BYTES, deps.batchSize, worstCaseSize)) {
          const batch: StoredBatch = {
            ...where,
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
      waves.push({ index: index++, group, kind, action: req.action, dryRun: req.dryRun, batches: n, instances: entries.length, ...where });
    }
    if (waves.length > 0) lanes.push({ ...where, waves });
  }
  await deps.store.putBatches(runId, stored);
  await mapLimit(pagesByBytes(settled, LIST_ITEM_BYTES), STORE_CONCURRENCY, (page, n) => deps.store.putEntries(runId, n, page));
  await mapLimit(pagesByBytes(unreachable, LIST_ITEM_BYTES), STORE_CONCURRENCY, (page, n) => deps.store.putUnreachable(runId, n, page));
  const actUntil = new Date(now.getTime() + deps.actBudgetSeconds * 1000).toISOString();
  const waveCount = lanes.reduce((sum, l) => sum + l.waves.length, 0);
  deps.log.info('planned', {
    runId,
    action: req.action,
    schedule: req.schedule,
    targets: count,
    settled: settled.length,
    waves: waveCount,
    ...(deps.reach && { lanes: lanes.length, unreachable: unreachable.length }),
    actUntil,
  });
  // Without TARGETS the state machine runs one flat list of waves, as it always has.
  if (!deps.reach) return { holiday: null, targets: count, settled: settled.length, waves: lanes[0]?.waves ?? [], actUntil };
  return { holiday: null, targets: count, settled: settled.length, waves: [], lanes, unreachable: unreachable.length, actUntil };
}
