/**
 * TagPolicy, evaluation loop: reads a few pages of instances, evaluates them, stores the findings; with config
 * `targets` (env TARGETS, POLICY_TARGETS), in every target account and region in turn.
 * Event `{ run, scan }` → the next `scan` state `{ cursor?, done, counts }`; throws TagPolicy.ReadFailed when
 * EC2 cannot be read (the state machine retries; instances are never judged on a failed read).
 * The step returns before the function's timeout (`context.getRemainingTimeInMillis()`), leaving what it could not
 * finish to the next invocation (core/scan.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { requireInt, requireString, type Env } from '../shared/env';
import { lambdaHandler, logger } from '../shared/handler';
import type { Target } from '../shared/targets';
import { reach, readPolicyTargets, runStore } from './clients';
import { evaluateStep, type ScanState } from './core/scan';
import type { Run } from './core/types';

export function loadEnv(env: Env = process.env) {
  return {
    tableName: requireString(env, 'TABLE_NAME'),
    pageSize: requireInt(env, 'PAGE_SIZE', { min: 5, max: 1000 }),
    pagesPerInvocation: requireInt(env, 'PAGES_PER_INVOCATION', { min: 1, max: 100 }),
    policyTargets: readPolicyTargets(env),
  };
}

/** Kept back from the remaining time: returning the result. */
const RETURN_MARGIN_MS = 10_000;
/** Without a Lambda context (a direct call): the function's 5-minute timeout. */
const DEFAULT_BUDGET_MS = 5 * 60_000;

const env = loadEnv();
// Clients (and one CloudTrail pacer) per target, kept for the execution environment: successive invocations keep
// CloudTrail's pace between them, and member credentials while they last.
const targets = reach(process.env, 'opsflow-tag-policy-evaluate');
const deps = {
  ...targets.for(undefined),
  ...(targets.settings && {
    targets: {
      list: async () => (await targets.targets(env.policyTargets)).filter((t) => t !== undefined),
      clients: (t: Target) => targets.for(t),
    },
  }),
  store: runStore(env.tableName),
  log: logger,
  pageSize: env.pageSize,
  pagesPerInvocation: env.pagesPerInvocation,
  sleep: (ms: number) => sleep(ms).then(() => undefined),
};

export const handler = lambdaHandler(async (event: { run: Run; scan?: ScanState }, context): Promise<ScanState> => {
  // Lambda's own count of the time left.
  const started = performance.now();
  const left = context ? () => context.getRemainingTimeInMillis() : () => DEFAULT_BUDGET_MS - (performance.now() - started);
  return evaluateStep(event.run, event.scan, { ...deps, now: () => new Date(), remainingMs: () => left() - RETURN_MARGIN_MS });
});
