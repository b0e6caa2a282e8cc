/** Ec2Schedule: one pass of a wave: verify what is in transition, act on what EC2's tokens allow. See core/advance.ts. */
import { requireInt, requireString, type Env } from '../shared/env';
import { documentClient, lambdaHandler, logger } from '../shared/handler';
import { readTargets } from '../shared/targets';
import { kindClients, kindReach } from './clients';
import { waveTarget } from './core/advance';
import { advance, type AdvanceInput, type AdvanceResult } from './core/advance';
import { Ec2Store } from './core/store';

export function loadEnv(env: Env = process.env) {
  return {
    tableName: requireString(env, 'TABLE_NAME'),
    verifyTimeoutSeconds: requireInt(env, 'VERIFY_TIMEOUT_SECONDS', { min: 60 }),
    batchSize: requireInt(env, 'BATCH_SIZE', { min: 1, max: 1000 }),
  };
}

const env = loadEnv();
// One attempt per call: the SDK would sleep through throttling here; the wave's Wait state waits instead.
const own = kindClients({ maxAttempts: 1 });
// With TARGETS, a wave acts in its target's account and region (Wave.account/region), with that account's buckets.
const reach = kindReach('advance', readTargets(process.env), 1);
const deps = {
  store: new Ec2Store(documentClient(), env.tableName),
  verifyTimeoutSeconds: env.verifyTimeoutSeconds,
  batchSize: env.batchSize,
  log: logger,
};

export const handler = lambdaHandler(
  async (event: AdvanceInput): Promise<AdvanceResult> =>
    advance(event, { ...deps, clients: reach ? reach.for(waveTarget(event.wave)) : own, now: () => new Date() }),
);
