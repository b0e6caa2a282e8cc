/** Ec2Schedule: Start/StopInstances for one stored batch, bisecting failures. See core/act.ts. */
import { EC2Client } from '@aws-sdk/client-ec2';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { requireInt, requireString } from '../shared/env';
import { createLogger } from '../shared/logger';
import { act, type ActInput, type ActResult } from './core/act';
import { Ec2Store } from './core/store';

const deps = {
  ec2: new EC2Client({}),
  store: new Ec2Store(DynamoDBDocumentClient.from(new DynamoDBClient({})), requireString(process.env, 'TABLE_NAME')),
  verifyTimeoutSeconds: requireInt(process.env, 'VERIFY_TIMEOUT_SECONDS', { min: 60 }),
  now: () => new Date(),
  log: createLogger(),
};

export async function handler(event: ActInput): Promise<ActResult> {
  return act(event, deps);
}
