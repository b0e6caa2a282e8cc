/**
 * TagPolicy, evaluation loop: reads a few pages of instances, evaluates them, stores the findings.
 * Event `{ run, scan }` → the next `scan` state `{ cursor?, done, counts }`; throws TagPolicy.ReadFailed when
 * EC2 cannot be read (the state machine retries; instances are never judged on a failed read).
 * The step returns before the function's timeout (`context.getRemainingTimeInMillis()`), leaving what it could not
 * finish to the next invocation (core/scan.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { requireInt, requireString, type Env } from '../shared/env';
import { lambdaHandler, logger } from '../shared/handler';
import { cloudtrail, ec2, runStore } from './clients';
import { Pacer } from './core/creator';
import { evaluateStep, type ScanState } from './core/scan';
import type { Run } from './core/types';

export function loadEnv(env: Env = process.env) {
  return {
    tableName: requireString(env, 'TABLE_NAME'),
    pageSize: requireInt(env, 'PAGE_SIZE', { min: 5, max: 1000 }),
    pagesPerInvocation: requireInt(env, 'PAGES_PER_INVOCATION', { min: 1, max: 100 }),
  };
}

/** Kept back from the remaining time: returning the result. */
const RETURN_MARGIN_MS = 10_000;
/** Without a Lambda context (a direct call): the function's 5-minute timeout. */
const DEFAULT_BUDGET_MS = 5 * 60_000;

const env = loadEnv();
// One pacer per execution environment: successive invocations keep CloudTrail's pace between them.
const deps = {
  ec2: ec2(),
  cloudtrail: cloudtrail(),
  store: runStore(env.tableName),
  log: logger,
  pageSize: env.pageSize,
  pagesPerInvocation: env.pagesPerInvocation,
  sleep: (ms: number) => sleep(ms).then(() => undefined),
  pacer: new Pacer(),
};

export const handler = lambdaHandler(async (event: { run: Run; scan?: ScanState }, context): Promise<ScanState> => {
  // Lambda's own count of the time left.
  const started = performance.now();
  const left = context ? () => context.getRemainingTimeInMillis() : () => DEFAULT_BUDGET_MS - (performance.now() - started);
  return evaluateStep(event.run, event.scan, { ...deps, now: () => new Date(), remainingMs: () => left() - RETURN_MARGIN_MS });
});
