/**
 * TagPolicy, after evaluation: decides whether to report, apply or ask for approval (blast radius, destructive
 * actions), and prepares the approval request listing the instances and reasons.
 * Event `{ run, counts }` → `RunPlan & { approval?: ApprovalRequest }`.
 */
import { requireString, type Env } from '../shared/env';
import { runStore } from './core/clients';
import { approvalRequest, planRun, type ApprovalRequest, type RunPlan } from './core/plan';
import type { StoredFinding } from './core/store';
import type { Counts, Run } from './core/types';

export function loadEnv(env: Env = process.env) {
  return { tableName: requireString(env, 'TABLE_NAME') };
}

const store = runStore(loadEnv().tableName);
/** Enough findings to fill the approval details (they are cut to 7 KB anyway). */
const LISTED = 200;

export async function handler(event: { run: Run; counts: Counts }): Promise<RunPlan & { approval?: ApprovalRequest }> {
  const plan = planRun(event.run, event.counts);
  if (plan.next === 'report' || (plan.next === 'apply' && !plan.thenApprove)) return plan;
  const wanted: StoredFinding[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.findings(event.run.id, cursor, 100);
    wanted.push(...page.items.filter((f) => f.destructive || (plan.approvedPhase === 'all' && Object.keys(f.tags).length > 0)));
    cursor = page.cursor;
  } while (cursor && wanted.length < LISTED);
  return { ...plan, approval: approvalRequest(event.run, event.counts, plan, wanted) };
}
