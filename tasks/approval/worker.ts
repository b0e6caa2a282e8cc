/**
 * Approval workflow, worker: invoked by the state machine while the approval's activity task is pending
 * (the event is ignored). Takes the task, records it, emails the approvers. Returns
 * `{ requestId, notified }`; throws Approval.NoTask when no task arrived (the state machine retries).
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { requireEmailList, requireInt, requireString, requireUrl, type Env } from '../shared/env';
import { createLogger } from '../shared/logger';
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
  };
}

const env = loadEnv();
const logger = createLogger();
// GetActivityTask long-polls for up to 60 s: the socket must outlast it.
const sfn = new SFNClient({ requestHandler: { requestTimeout: 70_000 } });
const ses = new SESv2Client({});
const store = new ApprovalStore(DynamoDBDocumentClient.from(new DynamoDBClient({})), env.tableName);

export async function handler(event: WorkerEvent): Promise<WorkerResult> {
  return deliverNext({ ...env, sfn, ses, store, now: () => new Date(), log: logger }, event ?? {});
}
