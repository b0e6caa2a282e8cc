/**
 * TagPolicy, evaluation loop: reads a few pages of instances, evaluates them, stores the findings.
 * Event `{ run, scan }` → the next `scan` state `{ cursor?, done, counts }`; throws TagPolicy.ReadFailed when
 * EC2 cannot be read (the state machine retries; instances are never judged on a failed read).
 */
import { requireInt, requireString, type Env } from '../shared/env';
import { lambdaHandler, logger } from '../shared/handler';
import { cloudtrail, ec2, runStore } from './clients';
import { evaluateStep, type ScanState } from './core/scan';
import type { Run } from './core/types';

export function loadEnv(env: Env = process.env) {
  return {
    tableName: requireString(env, 'TABLE_NAME'),
    pageSize: requireInt(env, 'PAGE_SIZE', { min: 5, max: 1000 }),
    pagesPerInvocation: requireInt(env, 'PAGES_PER_INVOCATION', { min: 1, max: 100 }),
  };
}

const env = loadEnv();
const deps = { ec2: ec2(), cloudtrail: cloudtrail(), store: runStore(env.tableName), log: logger, pageSize: env.pageSize, pagesPerInvocation: env.pagesPerInvocation };

export const handler = lambdaHandler(async (event: { run: Run; scan?: ScanState }): Promise<ScanState> =>
  evaluateStep(event.run, event.scan, { ...deps, now: () => new Date() }),
);
