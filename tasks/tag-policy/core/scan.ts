/**
 * One step of the evaluation loop: read a few pages of instances, evaluate them, store the findings and the
 * grace bookkeeping, and hand back a cursor and running counts. The state machine loops on this task, so the
 * payload stays the same size whatever the fleet size, and the cost per instance stays flat: a fixed number
 * of state transitions per `pageSize * pagesPerInvocation` instances.
 */
import type { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { errorName, type Log } from '../../shared/logger';
import { lookupCreator } from './creator';
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
}

export interface ScanState {
  /** EC2 NextToken (fleet scan) or the offset into `run.instanceIds`. */
  cursor?: string;
  done: boolean;
  counts: Counts;
}

export async function evaluateStep(run: Run, state: ScanState | undefined, deps: ScanDeps): Promise<ScanState> {
  let cursor = state?.cursor;
  let counts = state?.counts ?? zeroCounts();
  for (let page = 0; page < deps.pagesPerInvocation; page++) {
    const { instances, next } = await readPage(run, cursor, deps);
    counts = addCounts(counts, await evaluateInstances(run, instances, deps));
    cursor = next;
    if (cursor === undefined) return { done: true, counts };
  }
  return { cursor, done: false, counts };
}

async function readPage(run: Run, cursor: string | undefined, deps: ScanDeps): Promise<{ instances: InstanceFacts[]; next?: string }> {
  if (run.instanceIds) {
    const offset = cursor === undefined ? 0 : Number(cursor);
    const ids = run.instanceIds.slice(offset, offset + ID_CHUNK);
    const instances = await describeByIds(deps.ec2, ids, { tagsFromDescribeTags: true });
    const end = offset + ids.length;
    return { instances, next: end < run.instanceIds.length ? String(end) : undefined };
  }
  const page = await describeFleetPage(deps.ec2, cursor, deps.pageSize);
  return { instances: page.instances, next: page.nextToken };
}

/** Evaluates a page of instances; stores findings (and, unless dry run, grace records). */
export async function evaluateInstances(run: Run, instances: InstanceFacts[], deps: ScanDeps): Promise<Counts> {
  const counts = zeroCounts();
  const now = deps.now();
  const live = instances.filter((i) => i.state !== 'shutting-down' && i.state !== 'terminated');
  counts.scanned = live.length;
  const grace = live.length > 0 ? await deps.store.getGrace(live.map((i) => i.instanceId)) : new Map<string, GraceRecord>();
  const findings: StoredFinding[] = [];
  const startGrace: GraceRecord[] = [];
  const clearGrace: string[] = [];

  for (const instance of live) {
    const violations = checkInstance(instance, run.policy);
    const creator = needsCreator(violations) ? await creatorOf(run, instance.instanceId, deps) : undefined;
    const plan = planInstance(instance, run.policy, violations, { now, creator, grace: grace.get(instance.instanceId) });
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

/** Launch mode knows the creator from the RunInstances event; otherwise CloudTrail is asked. */
async function creatorOf(run: Run, instanceId: string, deps: ScanDeps): Promise<string | undefined> {
  if (run.launchedBy) return run.launchedBy;
  try {
    return await lookupCreator(deps.cloudtrail, instanceId);
  } catch (error) {
    // Not knowing the creator only downgrades a tag action to a notification; it must not fail the scan.
    deps.log.warn('creator lookup failed', { instanceId, error: errorName(error) });
    return undefined;
  }
}
