/** Ec2Schedule: find the targets, settle the ones to leave alone, store waves of batches. See core/plan.ts. */
import { requireInt, requireString, type Env } from '../shared/env';
import { documentClient, lambdaHandler, logger } from '../shared/handler';
import { readTargets } from '../shared/targets';
import { kindClients, kindReach } from './clients';
import { plan } from './core/plan';
import { Ec2Store } from './core/store';
import type { Ec2Request, Plan } from './core/types';
import { requireKinds, requireSchedules } from './env';

export function loadEnv(env: Env = process.env) {
  return {
    schedules: requireSchedules(env),
    kinds: requireKinds(env),
    tableName: requireString(env, 'TABLE_NAME'),
    batchSize: requireInt(env, 'BATCH_SIZE', { min: 1, max: 1000 }),
    actBudgetSeconds: requireInt(env, 'ACT_BUDGET_SECONDS', { min: 60 }),
  };
}

const env = loadEnv();
const reach = kindReach('plan', readTargets(process.env));
const deps = {
  clients: kindClients(),
  ...(reach && { reach }),
  kinds: env.kinds,
  store: new Ec2Store(documentClient(), env.tableName),
  schedules: env.schedules,
  batchSize: env.batchSize,
  actBudgetSeconds: env.actBudgetSeconds,
  log: logger,
};

export const handler = lambdaHandler(
  async (event: { request: Ec2Request; runId: string }): Promise<Plan> => plan(event.request, event.runId, { ...deps, now: () => new Date() }),
);
