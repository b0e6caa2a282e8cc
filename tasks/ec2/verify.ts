/** Ec2Schedule: checks one batch's instances reached the target state, explaining failures. See core/verify.ts. */
import { EC2Client } from '@aws-sdk/client-ec2';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { requireString } from '../shared/env';
import { createLogger } from '../shared/logger';
import { Ec2Store } from './core/store';
import { verify, type VerifyInput } from './core/verify';

const deps = {
  ec2: new EC2Client({}),
  store: new Ec2Store(DynamoDBDocumentClient.from(new DynamoDBClient({})), requireString(process.env, 'TABLE_NAME')),
  now: () => new Date(),
  log: createLogger(),
};

export async function handler(event: VerifyInput): Promise<{ done: boolean }> {
  return verify(event, deps);
}
