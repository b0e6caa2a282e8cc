/**
 * TagPolicy, first state: validates the execution input and the deployed policy (embedded in the state machine
 * definition; an input can only narrow it) before any side effect.
 * Event `{ input, policy, execution }` → `{ run, scan, step, requester }` (the run and the initial loop states);
 * throws Input.Invalid or Policy.Invalid listing every problem.
 */
import { EnvError, requireInt, requireString, type Env } from '../shared/env';
import { lambdaHandler } from '../shared/handler';
import { validateInput } from './core/input';
import type { ApplyState } from './core/apply';
import type { RequesterLookup } from './core/requester';
import type { ScanState } from './core/scan';
import { ACTIONS, DESTRUCTIVE, zeroCounts, type ActionName, type Run } from './core/types';

export function loadEnv(env: Env = process.env) {
  let destructiveActions: unknown;
  try {
    destructiveActions = JSON.parse(requireString(env, 'DESTRUCTIVE_ACTIONS'));
  } catch (err) {
    if (err instanceof EnvError) throw err;
    throw new EnvError('DESTRUCTIVE_ACTIONS', 'must be a JSON array');
  }
  if (!Array.isArray(destructiveActions) || !destructiveActions.every((a) => DESTRUCTIVE.includes(a) && ACTIONS.includes(a))) {
    throw new EnvError('DESTRUCTIVE_ACTIONS', `must be a JSON array of ${DESTRUCTIVE.join(', ')}`);
  }
  return { destructiveActions: destructiveActions as ActionName[], settleSeconds: requireInt(env, 'SETTLE_SECONDS', { min: 0, max: 86_400 }) };
}

const env = loadEnv();

export const handler = lambdaHandler(
  async (event: {
    input?: unknown;
    policy?: unknown;
    execution?: string;
  }): Promise<{ run: Run; scan: ScanState; step: ApplyState; requester: RequesterLookup }> => {
    const run = validateInput(event?.input, {
      deployedPolicy: event?.policy,
      destructiveActions: env.destructiveActions,
      settleSeconds: env.settleSeconds,
      executionArn: String(event?.execution ?? 'local'),
      now: new Date(),
    });
    return {
      run,
      scan: { done: false, counts: zeroCounts() },
      step: { phase: 'tags', done: false, tally: { applied: 0, skipped: 0, failed: 0 } },
      // Who started the run is looked up only when an approval is to be asked (FindRequester).
      requester: { done: false, attempts: 0 },
    };
  },
);
