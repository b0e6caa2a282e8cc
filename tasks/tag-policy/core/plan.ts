/**
 * What a run does after evaluation, decided in one pure function: report only (dry run, or nothing to
 * change), apply the tags, or stop and ask a person first. Destructive actions always need an approval;
 * a run that would change more instances than the blast-radius cap asks before changing anything at all.
 */
import type { RunStore, StoredFinding } from './store';
import type { Counts, Policy, Run } from './types';

export type Phase = 'tags' | 'destructive' | 'all';

export interface RunPlan {
  /** report: nothing to apply; apply: apply `phase` now; approve: ask first, then apply `approvedPhase`. */
  next: 'report' | 'apply' | 'approve';
  phase: Phase;
  /** What an approval unlocks. */
  approvedPhase: Phase;
  /** After the `tags` phase: whether an approval for destructive actions follows. */
  thenApprove: boolean;
  blastRadius: BlastRadius;
}

export interface BlastRadius {
  over: boolean;
  changes: number;
  limit: string;
}

/**
 * The cap: `maxInstances` always; `maxPercent` of the instances in scope only for whole-fleet scans (a launch
 * of one instance is 100% of what was looked at, which says nothing about the fleet).
 */
export function blastRadius(counts: Counts, policy: Policy, wholeFleet: boolean): BlastRadius {
  const { maxInstances, maxPercent } = policy.blastRadius;
  const changes = counts.toChange;
  const percentCap = wholeFleet ? Math.floor((maxPercent / 100) * counts.inScope) : Infinity;
  const cap = Math.min(maxInstances, percentCap);
  const limit = wholeFleet ? `${maxInstances} instances or ${maxPercent}% of ${counts.inScope} in scope (${cap})` : `${maxInstances} instances`;
  return { over: changes > cap, changes, limit };
}

export function planRun(run: Run, counts: Counts): RunPlan {
  const radius = blastRadius(counts, run.policy, run.instanceIds === undefined && run.launchFilter === undefined);
  const destructive = counts.toStop + counts.toTerminate > 0;
  const base = { blastRadius: radius, thenApprove: false, approvedPhase: 'destructive' as Phase };
  if (run.dryRun || counts.toChange === 0) return { ...base, next: 'report', phase: 'tags' };
  if (radius.over) return { ...base, next: 'approve', phase: 'all', approvedPhase: 'all' };
  if (counts.toTag > 0) return { ...base, next: 'apply', phase: 'tags', thenApprove: destructive };
  return { ...base, next: 'approve', phase: 'destructive' };
}

export interface ApprovalRequest {
  title: string;
  details: Record<string, unknown>;
  approvers?: string[];
  /** The run until FindRequester replaces it with who started the execution (core/requester.ts). */
  requestedBy: string;
}

/** The Approval workflow accepts at most 8 KiB of details; the list is cut to fit and says how many it left out. */
const DETAILS_BYTES = 7_000;

export function approvalRequest(run: Run, counts: Counts, plan: RunPlan, findings: StoredFinding[]): ApprovalRequest {
  const over = plan.approvedPhase === 'all';
  const listed = findings.filter((f) => (over ? f.destructive || Object.keys(f.tags).length > 0 : f.destructive));
  const title = over
    ? `Tag policy: ${plan.blastRadius.changes} instances to change, over the blast-radius cap`
    : `Tag policy: ${counts.toStop} to stop, ${counts.toTerminate} to terminate`;
  const entry = (f: StoredFinding) => ({
    instanceId: f.instanceId,
    ...(f.account && { account: f.account, region: f.region }),
    action: [
      f.destructive,
      Object.keys(f.tags).length > 0
        ? `tag ${Object.entries(f.tags)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')}`
        : undefined,
    ]
      .filter(Boolean)
      .join(' + '),
    reasons: f.violations.map((v) => v.message),
    ...(f.managedBy && { managedBy: f.managedBy }),
  });
  const details: Record<string, unknown> = {
    run: run.id,
    mode: run.mode,
    dryRun: false,
    ...(over && { blastRadius: `${plan.blastRadius.changes} changes, cap ${plan.blastRadius.limit}` }),
    counts: { toTag: counts.toTag, toStop: counts.toStop, toTerminate: counts.toTerminate, inScope: counts.inScope },
    instances: [] as unknown[],
  };
  const instances = details.instances as unknown[];
  for (const f of listed) {
    instances.push(entry(f));
    if (Buffer.byteLength(JSON.stringify(details)) > DETAILS_BYTES) {
      instances.pop();
      details.more = listed.length - instances.length;
      break;
    }
  }
  return {
    title,
    details,
    ...(run.policy.approvers.length > 0 && { approvers: run.policy.approvers }),
    requestedBy: `opsflow TagPolicy ${run.mode} run ${run.id}`,
  };
}

/** Enough findings to fill the approval details (they are cut to 7 KB anyway). */
const LISTED = 200;

/** The Plan task: the plan, and when a person must decide, the approval request listing what would change. */
export async function planStep(run: Run, counts: Counts, store: RunStore): Promise<RunPlan & { approval?: ApprovalRequest }> {
  const plan = planRun(run, counts);
  if (plan.next === 'report' || (plan.next === 'apply' && !plan.thenApprove)) return plan;
  const wanted: StoredFinding[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.findings(run.id, cursor, 100);
    wanted.push(...page.items.filter((f) => f.destructive || (plan.approvedPhase === 'all' && Object.keys(f.tags).length > 0)));
    cursor = page.cursor;
  } while (cursor && wanted.length < LISTED);
  return { ...plan, approval: approvalRequest(run, counts, plan, wanted) };
}
