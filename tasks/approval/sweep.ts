/**
 * Approval workflow, sweep: scheduled every 5 minutes (the event is ignored). Delivers undelivered
 * decisions, expires overdue requests, heartbeats, retries unsent emails, reminds and escalates.
 * Returns the counts of what it did.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { requireEmailList, requireInt, requireString, requireUrl, type Env } from '../shared/env';
import { createLogger } from '../shared/logger';
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
  };
}

const env = loadEnv();
const logger = createLogger();
const sfn = new SFNClient({});
const ses = new SESv2Client({});
const store = new ApprovalStore(DynamoDBDocumentClient.from(new DynamoDBClient({})), env.tableName);

export async function handler(): Promise<SweepCounts> {
  return sweep({ ...env, sfn, ses, store, now: () => new Date(), log: logger });
}
