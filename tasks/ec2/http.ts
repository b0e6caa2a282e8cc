/** What the two HTTP handlers (control links, chat) share: clients, store, allow rules, trigger settings. */
import { EC2Client } from '@aws-sdk/client-ec2';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireString, type Env } from '../shared/env';
import { createLogger } from '../shared/logger';
import { Ec2Store } from './core/store';
import { requireAllow } from './env';

export function httpDeps(env: Env = process.env) {
  return {
    store: new Ec2Store(DynamoDBDocumentClient.from(new DynamoDBClient({})), requireString(env, 'TABLE_NAME')),
    ec2: new EC2Client({}),
    allow: requireAllow(env),
    trigger: { sfn: new SFNClient({}), stateMachineArn: requireString(env, 'STATE_MACHINE_ARN'), sleep: (ms: number) => sleep(ms) },
    nowMs: () => Date.now(),
    log: createLogger(),
  };
}

export function bodyText(event: APIGatewayProxyEventV2): string {
  if (!event.body) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}
