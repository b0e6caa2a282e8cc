/**
 * TagPolicy, after evaluation: decides whether to report, apply or ask for approval (blast radius, destructive
 * actions), and prepares the approval request listing the instances and reasons.
 * Event `{ run, counts }` → `RunPlan & { approval?: ApprovalRequest }`.
 */
import { requireString, type Env } from '../shared/env';
import { lambdaHandler } from '../shared/handler';
import { runStore } from './clients';
import { planStep, type ApprovalRequest, type RunPlan } from './core/plan';
import type { Counts, Run } from './core/types';

export function loadEnv(env: Env = process.env) {
  return { tableName: requireString(env, 'TABLE_NAME') };
}

const store = runStore(loadEnv().tableName);

export const handler = lambdaHandler(
  async (event: { run: Run; counts: Counts }): Promise<RunPlan & { approval?: ApprovalRequest }> => planStep(event.run, event.counts, store),
);
