/** What the two HTTP endpoints (control links, chat) share: their environment, clients, store and trigger settings. */
import { EC2Client } from '@aws-sdk/client-ec2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireString, type Env } from '../shared/env';
import { documentClient, logger } from '../shared/handler';
import { Ec2Store } from './core/store';
import { requireAllow } from './env';

export function loadEnv(env: Env = process.env) {
  return { tableName: requireString(env, 'TABLE_NAME'), stateMachineArn: requireString(env, 'STATE_MACHINE_ARN'), allow: requireAllow(env) };
}

export function endpointDeps(env = loadEnv()) {
  return {
    store: new Ec2Store(documentClient(), env.tableName),
    ec2: new EC2Client({}),
    allow: env.allow,
    trigger: { sfn: new SFNClient({}), stateMachineArn: env.stateMachineArn, sleep: (ms: number) => sleep(ms) },
    nowMs: () => Date.now(),
    log: logger,
  };
}
