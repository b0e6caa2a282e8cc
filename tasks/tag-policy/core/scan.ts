/**
 * One step of the evaluation loop: read a few pages of instances, evaluate them, store the findings and the
 * grace bookkeeping, and hand back a cursor and running counts. The state machine loops on this task, so the
 * payload stays the same size whatever the fleet size, and the cost per instance stays flat: a fixed number
 * of state transitions per `pageSize * pagesPerInvocation` instances.
 *
 * A step ends before its deadline: it stops reading pages when too little time is left, and the creator lookups
 * (CloudTrail, 2 calls a second) stop and save their progress in the table (core/creator.ts). The page being
 * evaluated is then left for the next invocation (same cursor, `done: false`), which the state machine starts at
 * once. Everything a step writes is a put of what the same input yields again, so a step retried after a Lambda
 * timeout (the workflow retries `Lambda.Unknown`) resumes where the table says and counts nothing twice: the
 * counts travel in the state, never in the table.
 */
import type { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { Log } from '../../shared/logger';
import { resolveCreators, type Pacer } from './creator';
import { checkInstance, needsCreator, planInstance } from './evaluate';
import type { GraceRecord } from './grace';
import { describeByIds, describeFleetPage, ID_CHUNK } from './instances';
import type { RunStore, StoredFinding } from './store';
import { addCounts, zeroCounts, type Counts, type InstanceFacts, type Run } from './types';

export interface ScanDeps {
  ec2: EC2Client;
  cloudtrail: CloudTrailClient;
  store: RunStore;
  now: () => Date;
  log: Log;
  /** DescribeInstances MaxResults (5..1000). */
  pageSize: number;
  pagesPerInvocation: number;
  /** Waits on the same clock as `now` (CloudTrail pacing and back-off). */
  sleep: (ms: number) => Promise<void>;
  pacer: Pacer;
  /**
   * Milliseconds left before the step must have returned (Lambda's `context.getRemainingTimeInMillis()` less a
   * margin). @default no limit
   */
  remainingMs?: () => number;
}

/**
 * Time kept back for evaluating and storing a page of up to 1,000 instances (DescribeInstances, BatchGetItem,
 * BatchWriteItem) once its creators are known: no new page is started, and no CloudTrail call, closer than this
 * to the deadline.
 */
export const PAGE_RESERVE_MS = 30_000;

export interface ScanState {
  /** EC2 NextToken (fleet scan) or the offset into `run.instanceIds`. */
  cursor?: string;
  done: boolean;
  counts: Counts;
}

export async function evaluateStep(run: Run, state: ScanState | undefined, deps: ScanDeps): Promise<ScanState> {
  let cursor = state?.cursor;
  let counts = state?.counts ?? zeroCounts();
  const remaining = deps.remainingMs ?? (() => Infinity);
  for (let page = 0; page < deps.pagesPerInvocation; page++) {
    // Always one page at least, so every invocation moves on.
    if (page > 0 && remaining() < PAGE_RESERVE_MS) break;
    const { instances, next } = await readPage(run, cursor, deps);
    const evaluated = await evaluateInstances(run, instances, deps);
    // Out of time looking up creators: this page again in the next invocation (the lookups' progress is saved).
    if (!evaluated) break;
    counts = addCounts(counts, evaluated);
    cursor = next;
    if (cursor === undefined) return { done: true, counts };
  }
  return { ...(cursor !== undefined && { cursor }), done: false, counts };
}

async function readPage(run: Run, cursor: string | undefined, deps: ScanDeps): Promise<{ instances: InstanceFacts[]; next?: string }> {
  if (run.instanceIds) {
    const offset = cursor === undefined ? 0 : Number(cursor);
    const ids = run.instanceIds.slice(offset, offset + ID_CHUNK);
    const instances = await describeByIds(deps.ec2, ids, { tagsFromDescribeTags: true });
    const end = offset + ids.length;
    return { instances, next: end < run.instanceIds.length ? String(end) : undefined };
  }
  const page = await describeFleetPage(deps.ec2, cursor, deps.pageSize, run.launchFilter);
  return { instances: page.instances, next: page.nextToken };
}

/**
 * Evaluates a page of instances; stores findings (and, unless dry run, grace records). Undefined (nothing stored):
 * the deadline came before the creators of the page were known.
 */
export async function evaluateInstances(run: Run, instances: InstanceFacts[], deps: ScanDeps): Promise<Counts | undefined> {
  const counts = zeroCounts();
  const now = deps.now();
  const live = instances.filter((i) => i.state !== 'shutting-down' && i.state !== 'terminated');
  const checked = live.map((instance) => ({ instance, violations: checkInstance(instance, run.policy) }));
  const creators = await creatorsOf(
    run,
    checked.filter((c) => needsCreator(c.violations)).map((c) => c.instance),
    deps,
  );
  if (!creators) return undefined;
  counts.scanned = live.length;
  const grace = live.length > 0 ? await deps.store.getGrace(live.map((i) => i.instanceId)) : new Map<string, GraceRecord>();
  const findings: StoredFinding[] = [];
  const startGrace: GraceRecord[] = [];
  const clearGrace: string[] = [];

  for (const { instance, violations } of checked) {
    const plan = planInstance(instance, run.policy, violations, { now, creator: creators.get(instance.instanceId), grace: grace.get(instance.instanceId) });
    if (plan.exempt) counts.exempt++;
    else counts.inScope++;
    if (plan.grace.state === 'started') {
      startGrace.push({ instanceId: instance.instanceId, action: plan.grace.action, firstSeenAt: plan.grace.firstSeenAt, reason: plan.grace.reason });
    } else if (plan.grace.state === 'none' && grace.has(instance.instanceId)) {
      clearGrace.push(instance.instanceId);
    }
    if (!plan.finding) {
      counts.compliant++;
      continue;
    }
    counts.violating++;
    const tagging = Object.keys(plan.tags).length > 0;
    if (tagging) counts.toTag++;
    if (tagging || plan.destructive) counts.toChange++;
    if (plan.destructive === 'stop') counts.toStop++;
    if (plan.destructive === 'terminate') counts.toTerminate++;
    if (plan.finding.actions.some((a) => a.outcome === 'deferred')) counts.deferred++;
    if (plan.finding.actions.some((a) => a.action === 'notify' || (a.outcome === 'skipped' && !plan.exempt))) counts.notify++;
    findings.push({ ...plan.finding, tags: plan.tags, ...(plan.destructive && { destructive: plan.destructive }) });
  }

  await deps.store.putFindings(run.id, findings);
  // A dry run changes nothing, not even the grace clock: switching to an applied run starts the grace period.
  if (!run.dryRun) {
    if (startGrace.length > 0) await deps.store.putGrace(startGrace);
    if (clearGrace.length > 0) await deps.store.deleteGrace(clearGrace);
  }
  return counts;
}

/**
 * Launch mode knows the creator from the RunInstances event (and caches it for later scans); otherwise the cache
 * and, for what it lacks, CloudTrail's RunInstances events. Undefined: out of time, try again.
 */
async function creatorsOf(run: Run, wanted: InstanceFacts[], deps: ScanDeps): Promise<Map<string, string> | undefined> {
  if (wanted.length === 0) return new Map();
  if (run.launchedBy) {
    const launchedBy = run.launchedBy;
    await deps.store.putCreators(wanted.map((i) => ({ instanceId: i.instanceId, creator: launchedBy, launchedAt: i.launchTime ?? deps.now().toISOString() })));
    return new Map(wanted.map((i) => [i.instanceId, launchedBy]));
  }
  const resolved = await resolveCreators(wanted, {
    cloudtrail: deps.cloudtrail,
    store: deps.store,
    now: deps.now,
    sleep: deps.sleep,
    pacer: deps.pacer,
    remainingMs: () => (deps.remainingMs?.() ?? Infinity) - PAGE_RESERVE_MS,
    log: deps.log,
  });
  if (resolved.lookups > 0)
    deps.log.info('creator lookups', { instances: wanted.length, found: resolved.creators.size, lookups: resolved.lookups, complete: resolved.complete });
  return resolved.complete ? resolved.creators : undefined;
}
