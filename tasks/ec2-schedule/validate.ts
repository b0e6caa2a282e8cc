/**
 * Ec2Schedule, first state: validates the execution input before any side effect.
 * Event `{ input, runId }` → `{ request: Ec2Request, runId }`; throws Input.Invalid listing every problem.
 */
import type { Env } from '../shared/env';
import { lambdaHandler } from '../shared/handler';
import { validateRequest } from './core/validate';
import type { Ec2Request } from './core/types';
import { requireKinds, requireSchedules } from './env';

export function loadEnv(env: Env = process.env) {
  return { schedules: requireSchedules(env), kinds: requireKinds(env) };
}

const env = loadEnv();

export const handler = lambdaHandler(
  async (event: { input?: unknown; runId?: string }): Promise<{ request: Ec2Request; runId: string }> => ({
    request: validateRequest(event?.input, env.schedules, env.kinds),
    runId: String(event?.runId ?? ''),
  }),
);
