/**
 * Ec2Schedule, first state: validates the execution input before any side effect.
 * Event `{ input, runId }` → `{ request: Ec2Request, runId }`; throws Input.Invalid listing every problem.
 */
import { validateRequest } from './core/validate';
import type { Ec2Request } from './core/types';
import { requireSchedules } from './env';

const schedules = requireSchedules(process.env);

export async function handler(event: { input?: unknown; runId?: string }): Promise<{ request: Ec2Request; runId: string }> {
  return { request: validateRequest(event?.input, schedules), runId: String(event?.runId ?? '') };
}
