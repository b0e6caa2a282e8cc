/** Ec2Schedule: per-instance report, counts and the SNS message; posted to chat with `ec2Schedule.reportChat`. See core/report.ts. */
import { requireString, type Env } from '../shared/env';
import { chatNotifierFromEnv, executionUrlFromEnv } from '../shared/chat-env';
import { documentClient, lambdaHandler, logger } from '../shared/handler';
import { report, type ReportInput } from './core/report';
import { Ec2Store } from './core/store';

export function loadEnv(env: Env = process.env) {
  return { tableName: requireString(env, 'TABLE_NAME') };
}

const store = new Ec2Store(documentClient(), loadEnv().tableName);
const notifier = chatNotifierFromEnv();
const chat = notifier && { ...notifier, executionUrl: executionUrlFromEnv(), log: logger };

export const handler = lambdaHandler(async (event: ReportInput): Promise<Awaited<ReturnType<typeof report>>> => report(event, store, chat));
