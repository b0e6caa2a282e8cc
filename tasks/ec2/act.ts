/** Ec2Schedule: Start/StopInstances for one stored batch, bisecting failures. See core/act.ts. */
import { EC2Client } from '@aws-sdk/client-ec2';
import { requireInt, requireString, type Env } from '../shared/env';
import { documentClient, lambdaHandler, logger } from '../shared/handler';
import { act, type ActInput, type ActResult } from './core/act';
import { Ec2Store } from './core/store';

export function loadEnv(env: Env = process.env) {
  return { tableName: requireString(env, 'TABLE_NAME'), verifyTimeoutSeconds: requireInt(env, 'VERIFY_TIMEOUT_SECONDS', { min: 60 }) };
}

const env = loadEnv();
const deps = { ec2: new EC2Client({}), store: new Ec2Store(documentClient(), env.tableName), verifyTimeoutSeconds: env.verifyTimeoutSeconds, log: logger };

export const handler = lambdaHandler(async (event: ActInput): Promise<ActResult> => act(event, { ...deps, now: () => new Date() }));
