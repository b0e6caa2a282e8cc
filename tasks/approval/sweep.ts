/**
 * Approval workflow, sweep: scheduled every 5 minutes (the event is ignored). Delivers undelivered
 * decisions, expires overdue requests, heartbeats, retries unsent emails, reminds and escalates.
 * Returns the counts of what it did.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { requireEmailList, requireInt, requireString, requireUrl, type Env } from '../shared/env';
import { documentClient, lambdaHandler, logger } from '../shared/handler';
import { chatDeps, loadChatEnv } from './chat-deps';
import { ApprovalStore } from './core/store';
import { sweep, type SweepCounts } from './core/sweep';

/** ESCALATE_AFTER_SECONDS is not read here: each record carries its own escalateAt, fixed by the worker. */
export function loadEnv(env: Env = process.env) {
  return {
    tableName: requireString(env, 'TABLE_NAME'),
    sender: requireString(env, 'SENDER'),
    linkBaseUrl: requireUrl(env, 'LINK_BASE_URL'),
    reminderIntervalSeconds: requireInt(env, 'REMINDER_INTERVAL_SECONDS', { min: 1 }),
    escalationApprovers: requireEmailList(env, 'ESCALATION_APPROVERS'),
    ...loadChatEnv(env),
  };
}

const env = loadEnv();
const deps = {
  ...env,
  sfn: new SFNClient({}),
  ses: new SESv2Client({}),
  store: new ApprovalStore(documentClient(), env.tableName),
  log: logger,
  chat: chatDeps(env).chat,
};

export const handler = lambdaHandler(
  async (_event: unknown, context): Promise<SweepCounts> =>
    sweep({ ...deps, now: () => new Date(), sleep, remainingMs: context && (() => context.getRemainingTimeInMillis()) }),
);
