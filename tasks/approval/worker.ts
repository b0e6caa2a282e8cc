/**
 * Approval workflow, worker: invoked by the state machine while the approval's activity task is pending
 * (the event is ignored). Takes the task, records it, emails the approvers. Returns
 * `{ requestId, notified }`; throws Approval.NoTask when no task arrived (the state machine retries).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { requireEmailList, requireInt, requireString, requireUrl, type Env } from '../shared/env';
import { documentClient, lambdaHandler, logger } from '../shared/handler';
import { chatDeps, loadChatEnv } from './chat-deps';
import { ApprovalStore } from './core/store';
import { deliverNext, type WorkerEvent, type WorkerResult } from './core/worker';

export function loadEnv(env: Env = process.env) {
  return {
    activityArn: requireString(env, 'ACTIVITY_ARN'),
    tableName: requireString(env, 'TABLE_NAME'),
    sender: requireString(env, 'SENDER'),
    linkBaseUrl: requireUrl(env, 'LINK_BASE_URL'),
    reminderIntervalSeconds: requireInt(env, 'REMINDER_INTERVAL_SECONDS', { min: 1 }),
    escalateAfterSeconds: requireInt(env, 'ESCALATE_AFTER_SECONDS', { min: 0 }),
    escalationApprovers: requireEmailList(env, 'ESCALATION_APPROVERS'),
    workerName: env.AWS_LAMBDA_FUNCTION_NAME || 'opsflow-worker',
    ...loadChatEnv(env),
  };
}

const env = loadEnv();
const deps = {
  ...env,
  // GetActivityTask long-polls for up to 60 s: the socket must outlast it.
  sfn: new SFNClient({ requestHandler: { requestTimeout: 70_000 } }),
  ses: new SESv2Client({}),
  store: new ApprovalStore(documentClient(), env.tableName),
  log: logger,
  chat: chatDeps(env).chat,
};

export const handler = lambdaHandler(
  async (event: WorkerEvent, context): Promise<WorkerResult> =>
    deliverNext({ ...deps, now: () => new Date(), sleep, remainingMs: context && (() => context.getRemainingTimeInMillis()) }, event ?? {}),
);
