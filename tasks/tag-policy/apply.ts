/**
 * TagPolicy, remediation loop: applies one page of the run's findings for the current phase (tags,
 * destructive, or all), re-checking each instance first.
 * Event `{ run, step }` → the next `step` `{ phase, cursor?, done, tally, approvedBy? }`.
 */
import { requireInt, requireString, type Env } from '../shared/env';
import { lambdaHandler, logger } from '../shared/handler';
import type { Target } from '../shared/targets';
import { reach, runStore } from './clients';
import { applyStep, type ApplyState } from './core/apply';
import type { Run } from './core/types';

export function loadEnv(env: Env = process.env) {
  return { tableName: requireString(env, 'TABLE_NAME'), batchSize: requireInt(env, 'BATCH_SIZE', { min: 1, max: 100 }) };
}

const env = loadEnv();
// With config `targets`: each finding is re-checked and acted on in its own account and region.
const targets = reach(process.env, 'opsflow-tag-policy-apply');
const deps = {
  ec2: targets.for(undefined).ec2,
  ...(targets.settings && { ec2In: (t: Target) => targets.for(t).ec2 }),
  store: runStore(env.tableName),
  log: logger,
  batchSize: env.batchSize,
};

export const handler = lambdaHandler(
  async (event: { run: Run; step: ApplyState }): Promise<ApplyState> => applyStep(event.run, event.step, { ...deps, now: () => new Date() }),
);
