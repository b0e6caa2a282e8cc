/**
 * Approval workflow, first state: validates the execution input before any side effect.
 * Event `{ input: <raw execution input> }` → `{ request: ApprovalRequest }`; throws Input.Invalid listing
 * every problem.
 */
import { EnvError, requireEmailList, requireInt, type Env } from '../shared/env';
import { lambdaHandler } from '../shared/handler';
import { checkChatTargets, validateRequest, LIMITS, type RequestDefaults } from './core/validate';
import type { ApprovalRequest } from './core/types';

export function loadEnv(env: Env = process.env): RequestDefaults {
  const maxTimeoutSeconds = requireInt(env, 'MAX_TIMEOUT_SECONDS', { min: LIMITS.minTimeoutSeconds });
  const timeoutSeconds = requireInt(env, 'DEFAULT_TIMEOUT_SECONDS', { min: LIMITS.minTimeoutSeconds, max: maxTimeoutSeconds });
  const approvers = requireEmailList(env, 'DEFAULT_APPROVERS');
  if (approvers.length > LIMITS.approvers) {
    throw new EnvError('DEFAULT_APPROVERS', `must list at most ${LIMITS.approvers} addresses, got ${approvers.length}`);
  }
  const domains = env.ALLOWED_RECIPIENT_DOMAINS;
  let allowedRecipientDomains: string[] = [];
  if (domains !== undefined && domains !== '') {
    const parsed: unknown = JSON.parse(domains);
    if (!Array.isArray(parsed) || !parsed.every((d) => typeof d === 'string' && /^[a-z0-9.-]+\.[a-z]{2,}$/.test(d))) {
      throw new EnvError('ALLOWED_RECIPIENT_DOMAINS', 'must be a JSON array of lower-case domain names');
    }
    allowedRecipientDomains = parsed as string[];
  }
  const mattermostConfigured = (env.MATTERMOST_URL ?? '') !== '';
  const problems: string[] = [];
  const chat = checkChatTargets(JSON.parse(env.CHAT_TARGETS || '{}'), 'CHAT_TARGETS', mattermostConfigured, problems);
  if (problems.length) throw new EnvError('CHAT_TARGETS', problems.join('; '));
  return { approvers, timeoutSeconds, maxTimeoutSeconds, allowedRecipientDomains, chat, mattermostConfigured };
}

const defaults = loadEnv();

export const handler = lambdaHandler(
  async (event: { input?: unknown }): Promise<{ request: ApprovalRequest }> => ({ request: validateRequest(event?.input, defaults) }),
);
