/** Ec2Schedule: find the targets, settle the ones to leave alone, store waves of batches. See core/plan.ts. */
import { EC2Client } from '@aws-sdk/client-ec2';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { requireInt, requireString } from '../shared/env';
import { createLogger } from '../shared/logger';
import { plan } from './core/plan';
import { Ec2Store } from './core/store';
import type { Ec2Request, Plan } from './core/types';
import { requireSchedules } from './env';

const env = {
  schedules: requireSchedules(process.env),
  tableName: requireString(process.env, 'TABLE_NAME'),
  batchSize: requireInt(process.env, 'BATCH_SIZE', { min: 1, max: 1000 }),
};
const deps = {
  ec2: new EC2Client({}),
  store: new Ec2Store(DynamoDBDocumentClient.from(new DynamoDBClient({})), env.tableName),
  schedules: env.schedules,
  batchSize: env.batchSize,
  now: () => new Date(),
  log: createLogger(),
};

export async function handler(event: { request: Ec2Request; runId: string }): Promise<Plan> {
  return plan(event.request, event.runId, deps);
}
