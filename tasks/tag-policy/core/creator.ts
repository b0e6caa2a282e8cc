/**
 * Who launched an instance, as a tag value: from a CloudTrail `userIdentity`, the person rather than the
 * mechanism. An IAM user is its user name; an assumed role (CI, IAM Identity Center/SSO) is its role session
 * name, which for SSO is the person's email; a federated user is the federated name; root is `root`.
 *
 * Creators are looked up per launch, not per instance: one RunInstances event names every instance it launched
 * (`responseElements.instancesSet.items`), so `resolveCreators` reads CloudTrail's RunInstances events newest
 * first, 50 a page, over the window not read yet, and caches the creator of every instance they name in the
 * workflow's table (`CreatorStore`). A fleet of N instances costs about (launches in 90 days) / 50 LookupEvents
 * calls once, then only the launches since the last walk; a lookup per untagged instance would cost up to 5 calls
 * per instance on every scan. CloudTrail's facts, from the LookupEvents API reference
 * (https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html):
 *   - events of the last 90 days only;
 *   - one lookup attribute per request ("Currently the list can contain only one item"), here EventName;
 *   - MaxResults 1 to 50, newest first, NextToken for the next page; StartTime/EndTime inclusive;
 *   - "The rate of lookup requests is limited to two per second, per account, per Region. If this limit is
 *     exceeded, a throttling error occurs." (ThrottlingException; also
 *     https://docs.aws.amazon.com/awscloudtrail/latest/userguide/WhatIsCloudTrail-Limits.html).
 * Calls are paced at that rate (`Pacer`), a ThrottlingException (another caller in the account) is retried with
 * back-off, and the walk stops before the caller's deadline, its progress saved in the table, so the next
 * invocation (or a retry of a timed-out one) resumes it. Every write is a put of the same value: idempotent.
 */
import { LookupEventsCommand, type CloudTrailClient, type Event, type LookupEventsCommandOutput } from '@aws-sdk/client-cloudtrail';
import { errorName, type Log } from '../../shared/logger';

export interface UserIdentityLike {
  type?: string;
  arn?: string;
  userName?: string;
  principalId?: string;
  invokedBy?: string;
  sessionContext?: { sessionIssuer?: { userName?: string } };
}

export function creatorFromIdentity(id: UserIdentityLike | undefined): string | undefined {
  if (!id) return undefined;
  const lastArnPart = id.arn?.split('/').pop();
  switch (id.type) {
    case 'IAMUser':
      return id.userName ?? lastArnPart;
    case 'AssumedRole':
      // arn:aws:sts::<account>:assumed-role/<role>/<session>; the principal id ends with :<session> too.
      return (id.arn?.includes(':assumed-role/') ? lastArnPart : undefined) ?? id.principalId?.split(':').pop();
    case 'FederatedUser':
      return (id.arn?.includes(':federated-user/') ? lastArnPart : undefined) ?? id.principalId?.split(':').pop();
    case 'Root':
      return 'root';
    case 'AWSService':
      return id.invokedBy;
    default:
      return id.userName ?? lastArnPart;
  }
}

// ---- CloudTrail's numbers (API reference above) -------------------------------------------------------------
/** LookupEvents keeps 90 days of management events. */
export const HISTORY_DAYS = 90;
/** At most 50 events a page. */
export const MAX_RESULTS = 50;
/** Two LookupEvents per second per account and Region: one call every 500 ms. */
export const LOOKUP_INTERVAL_MS = 1000 / 2;
/**
 * Events reach the event history a few minutes after the call ("typically ... within an average of about
 * 5 minutes", not guaranteed: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/how-cloudtrail-works.html),
 * so a walk that ends at T counts as complete only up to T minus this margin; the next walk starts there.
 */
export const DELIVERY_MARGIN_MS = 15 * 60_000;

/** Throttled calls are retried this many times (back-off 1 s, 2 s, 4 s, ... capped at 16 s), while time allows. */
const THROTTLE_RETRIES = 6;
const BACKOFF_BASE_MS = 1000;
const BACKOFF_CAP_MS = 16_000;
/** A call (with its retries' first back-off) must be able to finish before the deadline to be started. */
const CALL_RESERVE_MS = 5_000;

export interface CreatorRecord {
  instanceId: string;
  creator: string;
  /** The RunInstances event's time (ISO). */
  launchedAt: string;
}

/** How far the RunInstances history has been read into the cache. */
export interface CreatorIndex {
  /** Every RunInstances event up to this instant (ISO) that CloudTrail still had when it was read is cached. */
  coveredTo?: string;
  /** A walk in progress, newest first over [start, end]; `nextToken` / `oldestSeen` say where it stands. */
  walk?: { start: string; end: string; nextToken?: string; oldestSeen?: string };
}

/** The cache in the workflow's table (tasks/tag-policy/core/store.ts). */
export interface CreatorStore {
  getCreators(instanceIds: string[]): Promise<Map<string, string>>;
  putCreators(records: CreatorRecord[]): Promise<void>;
  getCreatorIndex(): Promise<CreatorIndex>;
  putCreatorIndex(index: CreatorIndex): Promise<void>;
}

/**
 * Spaces LookupEvents calls `intervalMs` apart on the caller's clock. One per execution environment (built at cold
 * start), so successive invocations share it; concurrent environments share the account's rate, which is what
 * the throttling retry is for.
 */
export class Pacer {
  private nextMs = -Infinity;

  constructor(readonly intervalMs: number = LOOKUP_INTERVAL_MS) {}

  /** When the next call may go (epoch ms). */
  get next(): number {
    return this.nextMs;
  }

  /** Waits for the next call's turn and takes it. */
  async turn(now: () => number, sleep: (ms: number) => Promise<void>): Promise<void> {
    const wait = this.nextMs - now();
    if (wait > 0) await sleep(wait);
    this.nextMs = Math.max(now(), this.nextMs) + this.intervalMs;
  }

  /** No call before `ms` from now (after a throttling error). */
  holdOff(nowMs: number, ms: number): void {
    this.nextMs = Math.max(this.nextMs, nowMs + ms);
  }
}

export interface CreatorDeps {
  cloudtrail: CloudTrailClient;
  store: CreatorStore;
  now: () => Date;
  /** Waits `ms` on the same clock as `now`. */
  sleep: (ms: number) => Promise<void>;
  pacer: Pacer;
  /**
   * Milliseconds left for lookups (the Lambda's remaining time less what the caller keeps back to use the answer).
   * No CloudTrail call starts with less than a few seconds left.
   */
  remainingMs: () => number;
  log: Log;
}

export interface LaunchFacts {
  instanceId: string;
  /**
   * DescribeInstances LaunchTime: "The time that the instance was last launched" (a stop/start moves it), so never
   * before the RunInstances event (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Instance.html).
   * Unknown: taken as now.
   */
  launchTime?: string;
}

export interface Resolved {
  /** instance id → creator, for the instances found (cache or CloudTrail). */
  creators: Map<string, string>;
  /** false: the deadline came before the walk ended; its progress is saved, call again in a fresh invocation. */
  complete: boolean;
  /** LookupEvents calls made. */
  lookups: number;
}

/**
 * The creators of `wanted`: from the cache, else by reading the RunInstances events CloudTrail holds and the
 * cache does not (every instance those events name is cached, wanted or not: an instance that loses its Owner tag
 * later is answered without another call). An instance still unknown afterwards is not in CloudTrail's 90 days (or
 * was not launched by RunInstances): its tag action becomes a notification.
 */
export async function resolveCreators(wanted: LaunchFacts[], deps: CreatorDeps): Promise<Resolved> {
  const creators = wanted.length > 0 ? await deps.store.getCreators(wanted.map((w) => w.instanceId)) : new Map<string, string>();
  const missing = () => wanted.filter((w) => !creators.has(w.instanceId));
  const result = { creators, complete: true, lookups: 0 };
  if (missing().length === 0) return result;

  let index = await deps.store.getCreatorIndex();
  let walkedTo = -Infinity;
  // At most two walks: one resumed from an earlier invocation, then one over what it did not cover.
  for (let round = 0; round < 2; round++) {
    const newest = Math.max(...missing().map((w) => (w.launchTime ? Date.parse(w.launchTime) : deps.now().getTime())));
    if (!index.walk) {
      // Nothing was launched after what the cache covers (or what this call just read): the missing instances are
      // not in CloudTrail.
      if (newest <= walkedTo || (index.coveredTo !== undefined && newest <= Date.parse(index.coveredTo))) break;
      const nowMs = deps.now().getTime();
      // CloudTrail keeps 90 days; a minute's margin keeps StartTime inside what LookupEvents accepts.
      const oldest = new Date(nowMs - HISTORY_DAYS * 86_400_000 + 60_000).toISOString();
      const start = index.coveredTo !== undefined && index.coveredTo > oldest ? index.coveredTo : oldest;
      index = { ...index, walk: { start, end: new Date(nowMs).toISOString() } };
    }
    const end = Date.parse(index.walk!.end);
    const walked = await walk(index, new Set(missing().map((w) => w.instanceId)), creators, deps);
    result.lookups += walked.lookups;
    walkedTo = Math.max(walkedTo, end);
    index = walked.index;
    if (!walked.done) {
      result.complete = false;
      break;
    }
    if (missing().length === 0) break;
  }
  return result;
}

/** Reads the walk's pages until it ends or time runs out; caches and saves progress after every page. */
async function walk(
  start: CreatorIndex,
  wanted: Set<string>,
  found: Map<string, string>,
  deps: CreatorDeps,
): Promise<{ index: CreatorIndex; done: boolean; lookups: number }> {
  let index = start;
  let lookups = 0;
  for (;;) {
    const w = index.walk!;
    const page = await lookupPage(w, deps);
    lookups += page.calls;
    if (page.kind === 'stopped') {
      await deps.store.putCreatorIndex(index);
      return { index, done: false, lookups };
    }
    if (page.kind === 'failed') {
      // Not knowing creators only downgrades tag actions to notifications; it must not fail the scan. The walk is
      // dropped (not marked covered), so a later run reads this window again.
      deps.log.warn('creator lookup failed', { error: page.error });
      index = { coveredTo: index.coveredTo };
      await deps.store.putCreatorIndex(index);
      return { index, done: true, lookups };
    }
    if (page.kind === 'invalid-token') {
      // Resume from the oldest event read instead (inclusive: re-reading a few events is harmless).
      index = { ...index, walk: { start: w.start, end: w.oldestSeen ?? w.end } };
      continue;
    }
    const records = (page.out.Events ?? []).flatMap(recordsOf);
    await deps.store.putCreators(records);
    for (const r of records) if (wanted.has(r.instanceId)) found.set(r.instanceId, r.creator);
    const times = (page.out.Events ?? [])
      .map((e) => e.EventTime)
      .filter((t): t is Date => t instanceof Date)
      .map((t) => t.toISOString());
    // biome-ignore lint/complexity/useMathMinMax: ISO timestamps compare as strings; Math.min would make them NaN.
    const oldestSeen = times.reduce((min, t) => (t < min ? t : min), w.oldestSeen ?? w.end);
    if (page.out.NextToken) {
      index = { ...index, walk: { ...w, nextToken: page.out.NextToken, oldestSeen } };
      await deps.store.putCreatorIndex(index);
      continue;
    }
    const covered = new Date(Date.parse(w.end) - DELIVERY_MARGIN_MS).toISOString();
    index = { coveredTo: index.coveredTo !== undefined && index.coveredTo > covered ? index.coveredTo : covered };
    await deps.store.putCreatorIndex(index);
    return { index, done: true, lookups };
  }
}

type Page =
  | { kind: 'ok'; out: LookupEventsCommandOutput; calls: number }
  | { kind: 'stopped'; calls: number }
  | { kind: 'invalid-token'; calls: number }
  | { kind: 'failed'; error: string; calls: number };

/** One page at CloudTrail's pace; throttling is retried with back-off while the deadline allows. */
async function lookupPage(w: NonNullable<CreatorIndex['walk']>, deps: CreatorDeps): Promise<Page> {
  const nowMs = () => deps.now().getTime();
  for (let attempt = 0, calls = 0; ; attempt++) {
    if (deps.remainingMs() - Math.max(0, deps.pacer.next - nowMs()) < CALL_RESERVE_MS) return { kind: 'stopped', calls };
    await deps.pacer.turn(nowMs, deps.sleep);
    try {
      calls++;
      const out = await deps.cloudtrail.send(
        new LookupEventsCommand({
          LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'RunInstances' }],
          StartTime: new Date(w.start),
          EndTime: new Date(w.end),
          MaxResults: MAX_RESULTS,
          NextToken: w.nextToken,
        }),
      );
      return { kind: 'ok', out, calls };
    } catch (error) {
      const name = errorName(error);
      if (name === 'InvalidNextTokenException' && w.nextToken !== undefined) return { kind: 'invalid-token', calls };
      if (name !== 'ThrottlingException' || attempt >= THROTTLE_RETRIES) return { kind: 'failed', error: name, calls };
      deps.pacer.holdOff(nowMs(), Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt));
    }
  }
}

interface RunInstancesRecord {
  userIdentity?: UserIdentityLike;
  errorCode?: string;
  eventTime?: string;
  responseElements?: { instancesSet?: { items?: { instanceId?: string }[] } } | null;
}

/** The instances one RunInstances event launched, each with the event's creator. A failed call launched nothing. */
export function recordsOf(event: Event): CreatorRecord[] {
  if (event.EventName !== 'RunInstances') return [];
  let rec: RunInstancesRecord;
  try {
    rec = JSON.parse(event.CloudTrailEvent ?? '{}') as RunInstancesRecord;
  } catch {
    return [];
  }
  if (rec.errorCode) return [];
  const creator = creatorFromIdentity(rec.userIdentity) ?? event.Username;
  if (!creator) return [];
  const launchedAt = event.EventTime instanceof Date ? event.EventTime.toISOString() : (rec.eventTime ?? '');
  const ids = (rec.responseElements?.instancesSet?.items ?? []).map((i) => i.instanceId).filter((id): id is string => typeof id === 'string');
  return [...new Set(ids)].map((instanceId) => ({ instanceId, creator, launchedAt }));
}
