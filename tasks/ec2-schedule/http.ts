/** What the two HTTP handlers (control links, chat) share: their environment, clients, store and trigger settings. */
import { EC2Client } from '@aws-sdk/client-ec2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireString, type Env } from '../shared/env';
import { documentClient, logger } from '../shared/handler';
import { Ec2Store } from './core/store';
import type { HttpResult } from './core/control';
import { requireAllow } from './env';

/**
 * The largest form body the two handlers read. A slash command sends a few fields and what was typed (a Mattermost
 * post is at most 16,383 characters, https://developers.mattermost.com/integrate/slash-commands/, at most 9 bytes
 * each once URL-encoded); a link's form sends its token. Anything larger is refused before it is parsed.
 */
export const FORM_BODY_BYTES = 256 * 1024;

/** 413 for a body over FORM_BODY_BYTES: the caller sent far more than either handler reads. */
export function payloadTooLarge(bytes: number): HttpResult {
  return {
    statusCode: 413,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify({ message: `Request body of ${bytes} bytes is larger than the ${FORM_BODY_BYTES} bytes a slash command or control link sends` }),
  };
}

export function loadEnv(env: Env = process.env) {
  return { tableName: requireString(env, 'TABLE_NAME'), stateMachineArn: requireString(env, 'STATE_MACHINE_ARN'), allow: requireAllow(env) };
}

export function httpDeps(env = loadEnv()) {
  return {
    store: new Ec2Store(documentClient(), env.tableName),
    ec2: new EC2Client({}),
    allow: env.allow,
    trigger: { sfn: new SFNClient({}), stateMachineArn: env.stateMachineArn, sleep: (ms: number) => sleep(ms) },
    nowMs: () => Date.now(),
    log: logger,
  };
}
