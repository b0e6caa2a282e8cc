/** What the two HTTP endpoints (control links, chat) share: their environment, clients, store and trigger settings. */
import { SFNClient } from '@aws-sdk/client-sfn';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireString, type Env } from '../shared/env';
import { documentClient, logger } from '../shared/handler';
import { readTargets } from '../shared/targets';
import { Ec2Store } from './core/store';
import { kindClients, kindReach } from './clients';
import { requireAllow, requireKinds } from './env';

export function loadEnv(env: Env = process.env) {
  return {
    tableName: requireString(env, 'TABLE_NAME'),
    stateMachineArn: requireString(env, 'STATE_MACHINE_ARN'),
    allow: requireAllow(env),
    kinds: requireKinds(env),
    /** `TARGETS` (config `targets`): links and commands may name resources in these accounts and regions. */
    targets: readTargets(env),
  };
}

/** `task` (`control`, `chat`) names the AssumeRole session, which a member account's CloudTrail shows as who looked. */
export function endpointDeps(task: 'control' | 'chat', env = loadEnv()) {
  return {
    store: new Ec2Store(documentClient(), env.tableName),
    // The kinds' clients: links and chat find a resource of any scheduled kind (core/resolve.ts).
    clients: kindClients(),
    // A spoke's clients, built on first use per account and region; its credentials by AssumeRole, cached per account.
    ...(env.targets && { reach: kindReach(task, env.targets) }),
    kinds: env.kinds,
    allow: env.allow,
    trigger: { sfn: new SFNClient({}), stateMachineArn: env.stateMachineArn, sleep: (ms: number) => sleep(ms) },
    nowMs: () => Date.now(),
    log: logger,
  };
}
