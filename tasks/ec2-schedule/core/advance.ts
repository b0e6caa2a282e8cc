/**
 * One pass of a wave's Advance loop (the Ec2ScheduleWave state machine: Advance → Done? → Wait → Advance). A pass
 * never sleeps and never waits for EC2 to refill its token buckets; it
 *
 * 1. verifies the instances in transition (DescribeInstances), settling each that reached its target state, fell
 *    back, or passed its verification deadline (core/verify.ts);
 * 2. sends Start/StopInstances calls, the instances waiting for capacity whose retry is due first, then the next
 *    batches in order, until EC2 throttles, the pass has made the calls EC2's request bucket holds, or EC2 has a
 *    transient error (core/act.ts);
 * 3. saves what changed and says how long the state machine should Wait before the next pass (core/pace.ts), or
 *    that the wave is done: every instance moved, skipped, failed (with its reason) or dry-run.
 *
 * After `actUntil` nothing more is sent: the instances not yet sent are reported "not started/stopped: the run's
 * time ran out", so the wave, and the run with its report, always end. MAX_PASSES bounds the loop's history.
 * Every pass is idempotent (entries carry their status), so a retried pass repeats nothing.
 */
import type { Log } from '../../shared/logger';
import { boundReason } from '../../shared/reasons';
import { actOn, caller, isTransient, Pause } from './act';
import { isThrottling } from '../../shared/aws-errors';
import type { Clients, KindModule, Resource } from './kinds/kind';
import { kindOf } from './kinds';
import { actWaitSeconds, batchesPerPass, type Buckets, callsPerPass, retryWaitSeconds, VERIFY_INTERVAL_SECONDS, type PassEnd } from './pace';
import type { Ec2Store } from './store';
import type { BatchEntry, StoredBatch, Wave, WaveProgress } from './types';
import type { Target } from '../../shared/targets';

/** Passes a wave may take (9 history events each): far below Step Functions' 25,000 events whatever the fleet size. */
export const MAX_PASSES = 2000;
/** Batches a pass closes after the run's time ran out; the rest go to the next pass, so each stays short. */
const EXPIRE_PER_PASS = 100;

export interface AdvanceInput {
  runId: string;
  wave: Wave;
  /** ISO: nothing is sent after this instant (the plan's `actUntil`). */
  actUntil: string;
}

export interface AdvanceResult {
  done: boolean;
  /** Seconds the state machine waits before the next pass. */
  waitSeconds: number;
}

export interface AdvanceDeps {
  /** Each makes one attempt per call: throttling is waited out by the state machine, not by the SDK sleeping here. */
  clients: Clients;
  store: Ec2Store;
  verifyTimeoutSeconds: number;
  /** Instances per Start/StopInstances call (the batch size), for the pacing arithmetic. */
  batchSize: number;
  now: () => Date;
  log: Log;
}

/** The wave's target (account and region), `undefined` for the function's own: whose clients the pass uses. */
export const waveTarget = (wave: Wave): Target | undefined => (wave.account && wave.region ? { account: wave.account, region: wave.region } : undefined);

const pending = (e: BatchEntry) => e.status === 'acted' || e.status === 'capacity';

export async function advance(input: AdvanceInput, deps: AdvanceDeps): Promise<AdvanceResult> {
  const { runId, wave } = input;
  const kind = kindOf(wave.kind);
  const buckets = kind.buckets[wave.action];
  const now = deps.now();
  const progress: WaveProgress = (await deps.store.getWave(runId, wave.index)) ?? { acted: 0, open: [], sent: 0, paced: false, passes: 0, errors: 0 };
  progress.passes++;
  const dirty = new Set<number>();
  // Everything this pass may touch, read at once: the open batches, and the next ones its calls may reach.
  const reach = Math.min(wave.batches, progress.acted + batchesPerPass(buckets, deps.batchSize));
  const cache = await deps.store.getBatches(runId, wave.index, [...progress.open, ...range(progress.acted, reach)]);
  const load = async (n: number): Promise<StoredBatch> => {
    if (!cache.has(n)) {
      // Past what was read up front (closing an expired wave): read the next stretch at once.
      for (const [k, v] of await deps.store.getBatches(runId, wave.index, range(n, Math.min(wave.batches, n + batchesPerPass(buckets, deps.batchSize))))) {
        if (!cache.has(k)) cache.set(k, v);
      }
    }
    return cache.get(n)!;
  };

  await verifyOpen(kind, progress.open, load, dirty, wave, now, deps);

  const outOfTime = now.getTime() >= Date.parse(input.actUntil) || progress.passes >= MAX_PASSES;
  let end: PassEnd = 'done';
  let calls = 0;
  if (outOfTime) {
    const why = progress.passes >= MAX_PASSES ? `the wave gave up after ${MAX_PASSES} passes` : `the run's time to act ran out at ${input.actUntil}`;
    await expire(progress, load, dirty, wave, why);
    end = progress.acted < wave.batches ? 'budget' : 'done';
  } else {
    const where = wave.account ? { account: wave.account, region: wave.region } : {};
    const budget = caller(kind, { action: wave.action, dryRun: wave.dryRun, clients: deps.clients, store: deps.store, runId, where }, callsPerPass(buckets));
    const verifyTimeoutSeconds = Math.max(deps.verifyTimeoutSeconds, kind.verifySeconds);
    const ctxOf = (b: StoredBatch) => ({
      action: wave.action,
      dryRun: wave.dryRun,
      call: (entries: BatchEntry[]) => budget.call(entries, b),
      refusal: kind.refusal,
      now,
      verifyTimeoutSeconds,
      log: deps.log,
    });
    try {
      // Capacity retries that are due, then the batches not yet sent, in order.
      for (const n of progress.open) {
        const b = await load(n);
        const due = b.entries.filter((e) => e.status === 'capacity' && Date.parse(e.retryAt ?? '') <= now.getTime());
        if (due.length === 0) continue;
        dirty.add(n);
        await actOn(due, ctxOf(b), b);
      }
      while (progress.acted < wave.batches) {
        const n = progress.acted;
        const b = await load(n);
        const todo = b.entries.filter((e) => e.status === 'planned');
        dirty.add(n);
        try {
          await actOn(todo, ctxOf(b), b);
        } finally {
          progress.sent += todo.length - b.entries.filter((e) => e.status === 'planned').length;
        }
        progress.acted++;
      }
      progress.errors = 0;
    } catch (err) {
      if (!(err instanceof Pause)) throw err;
      end = err.end;
      if (end === 'throttled') progress.paced = true;
      progress.errors = end === 'transient' ? progress.errors + 1 : 0;
    }
    calls = budget.calls();
  }

  // Batches acted on in this pass join the open ones; those with nothing in transition or waiting leave.
  const open = new Set(progress.open);
  for (const n of dirty) open.add(n);
  progress.open = [...open].sort((a, b) => a - b).filter((n) => cache.get(n)!.entries.some(pending));
  await deps.store.putBatches(
    runId,
    [...dirty].map((n) => ({ wave: wave.index, n, batch: cache.get(n)! })),
  );
  await deps.store.putWave(runId, wave.index, progress);

  const result = { done: progress.acted >= wave.batches && progress.open.length === 0, waitSeconds: 0 };
  if (!result.done) {
    // The wait counts from the start of this pass: tokens refilled while it ran.
    const elapsed = (deps.now().getTime() - now.getTime()) / 1000;
    // Resources per call: a batch for EC2, one for the kinds whose calls take one.
    const perCall = Math.min(deps.batchSize, kind.idsPerCall);
    result.waitSeconds = Math.max(0, Math.ceil(waitSeconds(buckets, progress, end, calls, cache, wave, now, perCall) - elapsed));
  }
  deps.log.info('pass', {
    runId,
    wave: wave.index,
    pass: progress.passes,
    end,
    calls,
    acted: progress.acted,
    open: progress.open.length,
    sent: progress.sent,
    ...result,
  });
  return result;
}

/** Checks every `acted` entry of the open batches against its service; a throttled or failing check is left to the next pass. */
async function verifyOpen(
  kind: KindModule,
  open: number[],
  load: (n: number) => Promise<StoredBatch>,
  dirty: Set<number>,
  wave: Wave,
  now: Date,
  deps: AdvanceDeps,
): Promise<void> {
  const acted: Array<[number, BatchEntry]> = [];
  for (const n of open) for (const e of (await load(n)).entries) if (e.status === 'acted') acted.push([n, e]);
  if (acted.length === 0) return;
  const seen = new Map<string, Resource>();
  try {
    for (const r of await kind.find(
      deps.clients,
      acted.map(([, e]) => e.instanceId),
    ))
      seen.set(r.id, r);
  } catch (err) {
    const e = err as Error;
    if (isThrottling(e) || isTransient(e) || e.name === 'Ec2.Throttled') {
      deps.log.warn('verification postponed', { wave: wave.index, error: e.name });
      return;
    }
    throw err;
  }
  for (const [n, e] of acted) {
    kind.settle(e, seen.get(e.instanceId), wave.action, now);
    if (e.status !== 'acted') dirty.add(n);
  }
}

/** Closes the wave after its time ran out: what was not sent, or still waits for capacity, fails with `why`. */
async function expire(progress: WaveProgress, load: (n: number) => Promise<StoredBatch>, dirty: Set<number>, wave: Wave, why: string): Promise<void> {
  const verb = wave.action === 'start' ? 'started' : 'stopped';
  const close = (e: BatchEntry, reason: string) =>
    Object.assign(e, { status: 'failed', to: e.from, reason: boundReason(reason), tries: undefined, retryAt: undefined });
  for (const n of progress.open) {
    const b = await load(n);
    for (const e of b.entries) {
      if (e.status !== 'capacity') continue;
      close(e, `not ${verb}: ${why}; it was waiting for capacity (${e.reason})`);
      dirty.add(n);
    }
  }
  for (let k = 0; k < EXPIRE_PER_PASS && progress.acted < wave.batches; k++, progress.acted++) {
    const b = await load(progress.acted);
    for (const e of b.entries) if (e.status === 'planned') close(e, `not ${verb}: ${why}`);
    dirty.add(progress.acted);
  }
}

/** How long to wait: for tokens while there is more to send, else for transitions, else for the next capacity retry. */
function waitSeconds(
  buckets: Buckets,
  progress: WaveProgress,
  end: PassEnd,
  calls: number,
  batches: Map<number, StoredBatch>,
  wave: Wave,
  now: Date,
  batchSize: number,
): number {
  if (progress.acted < wave.batches) {
    if (end === 'budget' && calls === 0) return 0; // closing an expired wave: go on at once
    return actWaitSeconds(buckets, end, progress.paced, wave.instances - progress.sent, batchSize, calls, progress.errors);
  }
  let retryAt = Infinity;
  let inTransition = false;
  // The calls the next pass would make for the retries already due, and the instances they carry.
  const next = { calls: 0, instances: 0 };
  for (const n of progress.open) {
    const b = batches.get(n)!;
    let due = 0;
    for (const e of b.entries) {
      if (e.status === 'acted') inTransition = true;
      if (e.status !== 'capacity') continue;
      const at = Date.parse(e.retryAt ?? '');
      retryAt = Math.min(retryAt, at);
      if (at <= now.getTime()) due++;
    }
    const size = b.callSize ?? due;
    for (let left = due; left > 0 && next.calls < callsPerPass(buckets); left -= size) {
      next.calls++;
      next.instances += Math.min(size, left);
    }
  }
  const forRetry = Number.isFinite(retryAt) ? Math.max(1, Math.ceil((retryAt - now.getTime()) / 1000)) : Infinity;
  const soonest = Math.min(inTransition ? VERIFY_INTERVAL_SECONDS : Infinity, forRetry);
  // Retries that this pass could not send (EC2 throttled, the pass used its calls, or a transient error) wait for
  // the tokens they need, as a pass sending batches would, instead of calling again every second.
  const held =
    end === 'done'
      ? 0
      : end === 'transient'
        ? actWaitSeconds(buckets, end, false, 0, batchSize, 0, progress.errors)
        : retryWaitSeconds(buckets, progress.paced, next.calls, next.instances);
  return Math.max(held, soonest);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}
