/**
 * The start or stop calls for the entries of one stored batch, whatever their kind (kinds/*.ts make the call): EC2's
 * Start/StopInstances takes the whole batch in one call, the other kinds one resource a call. When a call fails,
 * the entries are split in halves until the failure is pinned to single instances, so one bad instance does not
 * block the rest (EC2 rejects a whole call for one instance in the wrong state, a one-time Spot instance, an
 * instance IAM does not allow, or a type without capacity).
 *
 * Entries are updated in place, so progress is kept whatever happens next. A call never waits: throttling
 * (`RequestLimitExceeded`), an exhausted call budget and transient EC2 errors end the pass with `Pause`, and the
 * wave's loop tries again after a Wait on Step Functions' clock (core/pace.ts). Instances without capacity are
 * tried again later with back-off, up to CAPACITY_TRIES calls.
 */
import { isThrottling } from '../../shared/aws-errors';
import type { Log } from '../../shared/logger';
import { boundReason, omitEncodedAuthorization } from '../../shared/reasons';
import type { CallContext, KindModule } from './kinds/kind';
import type { PassEnd } from './pace';
import type { BatchEntry, Ec2Action } from './types';

/** Calls that may meet InsufficientInstanceCapacity for one instance before it is reported failed. */
export const CAPACITY_TRIES = 5;
/** First capacity retry after this many seconds, doubling: 1, 2, 4, 8 minutes. */
const CAPACITY_BACKOFF_SECONDS = 60;

/** The pass must end: EC2 throttled, the pass used its calls, or EC2 had a transient error. */
export class Pause extends Error {
  constructor(
    readonly end: Exclude<PassEnd, 'done'>,
    cause?: Error,
  ) {
    super(`pass paused: ${end}${cause ? ` (${cause.name})` : ''}`);
  }
}

export interface ActContext {
  action: Ec2Action;
  dryRun: boolean;
  /** Sends one start or stop call; throws `Pause('budget')` when the pass may make no more calls. */
  call: (entries: BatchEntry[]) => Promise<void>;
  /** The kind's reading of its service's refusals, before the generic one. */
  refusal?: KindModule['refusal'];
  now: Date;
  verifyTimeoutSeconds: number;
  log: Log;
}

/**
 * A call counter over one kind's start or stop call for one pass: at most `budget` calls. A kind whose API has no
 * DryRun (RDS, Auto Scaling, ECS) is not called in a dry run: its entries say what would be done, unchecked.
 */
export function caller(
  kind: KindModule,
  ctx: Omit<CallContext, 'hibernate'>,
  budget: number,
): { call: (entries: BatchEntry[], batch?: { hibernate?: boolean }) => Promise<void>; calls: () => number } {
  let calls = 0;
  return {
    calls: () => calls,
    call: async (entries, batch) => {
      if (ctx.dryRun && !kind.dryRun) throw new NoDryRun(kind.noun);
      if (calls >= budget) throw new Pause('budget');
      calls++;
      await kind.call(entries, { ...ctx, hibernate: batch?.hibernate === true });
    },
  };
}

/** A dry run of a kind whose API cannot check permissions without acting. */
class NoDryRun extends Error {
  name = 'NoDryRun';
  constructor(noun: string) {
    super(`the ${noun} API has no DryRun, so permissions were not checked`);
  }
}

/**
 * Acts on `entries` (planned, or waiting for capacity), bisecting failures; throws `Pause` to end the pass.
 * `batch.callSize` is the call size to use: when a pass ends in the middle of a bisection, the next one starts
 * from the halves it had reached instead of from the whole batch again, so every pass gets on.
 */
export async function actOn(entries: BatchEntry[], ctx: ActContext, batch: { callSize?: number } = {}): Promise<void> {
  const verifyBy = new Date(ctx.now.getTime() + ctx.verifyTimeoutSeconds * 1000).toISOString();
  const attempt = async (group: BatchEntry[]): Promise<void> => {
    try {
      await ctx.call(group);
      for (const e of group) Object.assign(e, { status: 'acted', reason: undefined, verifyBy, tries: undefined, retryAt: undefined });
    } catch (err) {
      if (err instanceof Pause) throw err;
      const e = err as Error;
      if (isThrottling(e)) throw new Pause('throttled', e);
      if (isTransient(e)) throw new Pause('transient', e);
      if (ctx.dryRun && e.name === 'DryRunOperation') {
        for (const x of group) Object.assign(x, { status: 'dry-run', to: x.from, reason: `would ${ctx.action} (DryRun permitted)` });
        return;
      }
      if (e instanceof NoDryRun) {
        for (const x of group) Object.assign(x, { status: 'dry-run', to: x.from, reason: `would ${ctx.action} (${e.message})` });
        return;
      }
      if (group.length > 1) {
        const half = Math.ceil(group.length / 2);
        batch.callSize = Math.min(batch.callSize ?? Infinity, half);
        await attempt(group.slice(0, half));
        await attempt(group.slice(half));
        return;
      }
      const [one] = group;
      if (e.name === 'UnauthorizedOperation') ctx.log.warn('not authorized', { instanceId: one.instanceId, action: ctx.action, message: e.message });
      Object.assign(one, callOutcome(one, e, ctx.action, ctx.now, ctx.refusal));
    }
  };
  const size = batch.callSize ?? entries.length;
  for (let i = 0; i < entries.length; i += size) await attempt(entries.slice(i, i + size));
}

/** What one instance's failed call means: a final outcome with its reason, or a later capacity retry. */
export function callOutcome(entry: BatchEntry, e: Error, action: Ec2Action, now: Date, refusal?: KindModule['refusal']): Partial<BatchEntry> {
  const c = refusal?.(e, action) ?? classifyCallError(e, action);
  if (c.status !== 'capacity') return { ...c, to: entry.from };
  const tries = (entry.tries ?? 0) + 1;
  if (tries >= CAPACITY_TRIES)
    return {
      status: 'failed',
      to: entry.from,
      reason: boundReason(`insufficient capacity, still after ${tries} attempts: ${c.reason}`),
      tries: undefined,
      retryAt: undefined,
    };
  return { status: 'capacity', reason: c.reason, tries, retryAt: new Date(now.getTime() + CAPACITY_BACKOFF_SECONDS * 2 ** (tries - 1) * 1000).toISOString() };
}

/** What one instance's failed call means for the report; the reason is bounded to MAX_REASON_BYTES. */
export function classifyCallError(e: Error, action: Ec2Action): { status: BatchEntry['status']; reason: string } {
  const message = readableMessage(e);
  const bounded = (status: BatchEntry['status'], reason: string) => ({ status, reason: boundReason(reason) });
  switch (e.name) {
    case 'InsufficientInstanceCapacity':
      return bounded('capacity', message);
    case 'UnsupportedOperation':
      // One-time Spot requests, instance-store roots: EC2 will never stop these, so they are not failures of the run.
      return bounded('skipped', `cannot be ${action === 'start' ? 'started' : 'stopped'}: ${message}`);
    case 'IncorrectInstanceState':
      return bounded('failed', `wrong state for ${action}: ${message}`);
    case 'UnauthorizedOperation':
      return bounded(
        'failed',
        `not permitted (only instances tagged Schedule, or allowed by ec2Schedule.control, may be started or stopped; encrypted volumes need a configured KMS key): ${message}`,
      );
    case 'InvalidInstanceID.NotFound':
      return bounded('failed', 'instance not found');
    default:
      return bounded('failed', `${e.name}: ${message}`);
  }
}

/**
 * EC2's message without the encoded authorization message it appends to UnauthorizedOperation: the Advance
 * function's log keeps the whole message (actOn logs it), the report says where it is.
 */
export function readableMessage(e: Error): string {
  const requestId = (e as { $metadata?: { requestId?: string } }).$metadata?.requestId;
  return omitEncodedAuthorization(e.message || e.name, `the Advance function's log${requestId ? ` (request ${requestId})` : ''}`);
}

const NETWORK = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'TimeoutError']);

/** A server-side or network error worth trying again later, as opposed to EC2's verdict on the instances. */
export function isTransient(e: Error): boolean {
  const fault = (e as { $fault?: string }).$fault;
  const code = (e as { code?: string }).code;
  return fault === 'server' || NETWORK.has(e.name) || (code !== undefined && NETWORK.has(code));
}
