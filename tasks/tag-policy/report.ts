/**
 * TagPolicy, last state: builds the report from the run's findings, publishes it to the report topic, and
 * returns it as the execution output; with `tagPolicy.reportChat` configured, posts it to those chat channels. Event: the whole execution state `{ run, scan, plan?, step?, approval? }`.
 */
import { SNSClient } from '@aws-sdk/client-sns';
import { requireString, type Env } from '../shared/env';
import { chatNotifierFromEnv, executionUrlFromEnv } from '../shared/chat-env';
import { lambdaHandler, logger } from '../shared/handler';
import { runStore } from './clients';
import { reportStep, type Report, type RunState } from './core/report';

export function loadEnv(env: Env = process.env) {
  return { tableName: requireString(env, 'TABLE_NAME'), topicArn: requireString(env, 'TOPIC_ARN') };
}

const env = loadEnv();
const chat = chatNotifierFromEnv();
const deps = {
  store: runStore(env.tableName),
  sns: new SNSClient({}),
  topicArn: env.topicArn,
  ...(chat && { chat: { ...chat, executionUrl: executionUrlFromEnv(), log: logger } }),
};

export const handler = lambdaHandler(async (state: RunState): Promise<Report> => reportStep(state, deps));
