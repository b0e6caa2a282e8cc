/** Ec2Schedule: checks one batch's instances reached the target state, explaining failures. See core/verify.ts. */
import { EC2Client } from '@aws-sdk/client-ec2';
import { requireString, type Env } from '../shared/env';
import { documentClient, lambdaHandler, logger } from '../shared/handler';
import { Ec2Store } from './core/store';
import { verify, type VerifyInput } from './core/verify';

export function loadEnv(env: Env = process.env) {
  return { tableName: requireString(env, 'TABLE_NAME') };
}

const env = loadEnv();
const deps = { ec2: new EC2Client({}), store: new Ec2Store(documentClient(), env.tableName), log: logger };

export const handler = lambdaHandler(async (event: VerifyInput): Promise<{ done: boolean }> => verify(event, { ...deps, now: () => new Date() }));
