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
import { TagPolicyReadFailedError } from '../../shared/errors';
import type { Log } from '../../shared/logger';
import { type Target, targetName, targetReason } from '../../shared/targets';
import { resolveCreators, type Pacer } from './creator';
import { checkInstance, needsCreator, planInstance } from './evaluate';
import type { GraceRecord } from './grace';
import { describeByIds, describeFleetPage, ID_CHUNK, InstancesNotVisible } from './instances';
import type { RunStore, StoredFinding } from './store';
import { addCounts, zeroCounts, type Counts, type InstanceFacts, type Run } from './types';

/** One target's clients: EC2 and CloudTrail in its account and region, and the pace of its CloudTrail lookups. */
export interface TargetClients {
  ec2: EC2Client;
  cloudtrail: CloudTrailClient;
  /** CloudTrail's 2 calls a second are per account and Region: one pacer per target. */
  pacer: Pacer;
}

/** With config `targets`: the policy's targets and each one's clients (tasks/shared/targets.ts, `Reach`). */
export interface ScanTargets {
  /** The policy's targets (`tagPolicy.targets` over the top level's), OUs resolved now. */
  list(): Promise<Target[]>;
  clients(target: Target): TargetClients;
}

export interface ScanDeps extends TargetClients {
  store: RunStore;
  now: () => Date;
  log: Log;
  /** DescribeInstances MaxResults (5..1000). */
  pageSize: number;
  pagesPerInvocation: number;
  /** Waits on the same clock as `now` (CloudTrail pacing and back-off). */
  sleep: (ms: number) => Promise<void>;
  /**
   * Milliseconds left before the step must have returned (Lambda's `context.getRemainingTimeInMillis()` less a
   * margin). @default no limit
   */
  remainingMs?: () => number;
  /** With config `targets`: where the policy applies. @default none: `ec2`, `cloudtrail`, `pacer` of this account and region */
  targets?: ScanTargets;
}

/**
 * Time kept back for evaluating and storing a page of up to 1,000 instances (DescribeInstances, BatchGetItem,
 * BatchWriteItem) once its creators are known: no new page is started, and no CloudTrail call, closer than this
 * to the deadline.
 */
export const PAGE_RESERVE_MS = 30_000;

/** A target whose instances could not be read: `<account>/<region>`, and why (`targetReason`, naming it too). */
export interface Unreachable {
  target: string;
  reason: string;
}

export interface ScanState {
  /** EC2 NextToken (fleet scan) or the offset into `run.instanceIds`, in the target `at`. */
  cursor?: string;
  done: boolean;
  counts: Counts;
  /** With targets: the run's targets (`<account>/<region>`), resolved at its first step, so a run walks one list. */
  targets?: string[];
  /** The index in `targets` of the target being read. */
  at?: number;
  /** Targets that could not be read (or not to the end), each with its reason: reported, and the run ends failed. */
  unreachable?: Unreachable[];
  /** Why nothing was evaluated: the run names an account and region this deployment does not act in. */
  ignored?: string;
}

/**
 * One step: a few pages of the current target, then of the next ones, while pages and time last. Without targets,
 * the function's own account and region, as always: a read failure is thrown for the workflow to retry, then fails the
 * run. With targets, a target whose instances cannot be read (its role cannot be assumed, EC2 refused or throttled
 * past the SDK's retries) is recorded with its reason and the walk goes on with the next: one account must not keep
 * the policy from the others. Instances EC2 does not show yet (right after a launch) still go to the workflow's retry.
 */
export async function evaluateStep(run: Run, state: ScanState | undefined, deps: ScanDeps): Promise<ScanState> {
  let s = state?.targets || !deps.targets ? { counts: zeroCounts(), ...state, done: false } : await start(run, state, deps.targets);
  if (s.done) return s;
  if (!deps.targets && run.account) {
    const ignored = `${run.account}/${run.region}: this deployment acts in its own account and region only (no config targets)`;
    return { done: true, counts: s.counts, ignored };
  }
  const remaining = deps.remainingMs ?? (() => Infinity);
  for (let page = 0; page < deps.pagesPerInvocation; page++) {
    // Always one page at least, so every invocation moves on.
    if (page > 0 && remaining() < PAGE_RESERVE_MS) break;
    const target = s.targets ? parseTarget(s.targets[s.at ?? 0]) : undefined;
    const d: ScanDeps = target ? { ...deps, ...deps.targets!.clients(target), store: deps.store.at(target) } : deps;
    let read: { instances: InstanceFacts[]; next?: string };
    try {
      read = await readPage(run, s.cursor, d);
    } catch (e) {
      if (!target || e instanceof InstancesNotVisible) throw e;
      const reason = targetReason(target, e instanceof TagPolicyReadFailedError && e.cause ? e.cause : e);
      deps.log.warn('target unreachable', { target: targetName(target), reason });
      s = next({ ...s, unreachable: [...(s.unreachable ?? []), { target: targetName(target), reason }] });
      if (s.done) return s;
      continue;
    }
    const evaluated = await evaluateInstances(run, read.instances, d, target);
    // Out of time looking up creators: this page again in the next invocation (the lookups' progress is saved).
    if (!evaluated) break;
    s = { ...s, counts: addCounts(s.counts, evaluated), cursor: read.next };
    if (s.cursor === undefined) {
      s = next(s);
      if (s.done) return s;
    }
  }
  const { cursor, ...rest } = s;
  return { ...rest, ...(cursor !== undefined && { cursor }), done: false };
}

/**
 * The first step with targets: the run's targets. A launch (or given instances) is in one account and region, which
 * must be one of the policy's: the member stacks forward every launch of every target account of the deployment,
 * and `tagPolicy.targets` may name fewer.
 */
async function start(run: Run, state: ScanState | undefined, targets: ScanTargets): Promise<ScanState> {
  const counts = state?.counts ?? zeroCounts();
  const all = (await targets.list()).map(targetName);
  if (!run.account) return { done: all.length === 0, counts, targets: all, at: 0 };
  const where = `${run.account}/${run.region}`;
  if (all.includes(where)) return { done: false, counts, targets: [where], at: 0 };
  return { done: true, counts, targets: [], ignored: `${where}: not one of the tag policy's targets (config targets, tagPolicy.targets); nothing evaluated` };
}

/** The walk moves to the next target (without targets: the one is done). */
function next(s: ScanState): ScanState {
  const rest: ScanState = { ...s };
  delete rest.cursor;
  if (!s.targets) return { ...rest, done: true };
  const at = (s.at ?? 0) + 1;
  return { ...rest, at, done: at >= s.targets.length };
}

const parseTarget = (name: string): Target => {
  const [account, region] = name.split('/');
  return { account, region };
};

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
export async function evaluateInstances(run: Run, instances: InstanceFacts[], deps: ScanDeps, target?: Target): Promise<Counts | undefined> {
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
    findings.push({ ...plan.finding, ...target, tags: plan.tags, ...(plan.destructive && { destructive: plan.destructive }) });
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
