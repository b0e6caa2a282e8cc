/**
 * FailureAlerts: the target of the rule on Step Functions status changes (failed, timed out, aborted). Publishes a
 * readable alert to the failure topic, with a subject, which an EventBridge SNS target cannot set; then, with
 * `alerts.chat` configured, posts it to those chat channels (CHAT_TARGETS). See core/alert.ts.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { requireString, type Env } from '../shared/env';
import { lambdaHandler, logger } from '../shared/handler';
import { chatNotifierFromEnv } from '../shared/chat-env';
import { consoleOrigin } from '../shared/console-link';
import { notify, type Alert, type ExecutionStatusChange } from './core/alert';

export function loadEnv(env: Env = process.env) {
  const region = requireString(env, 'AWS_REGION');
  return { topicArn: requireString(env, 'TOPIC_ARN'), consoleOrigin: consoleOrigin(region, env.AWS_ENDPOINT_URL) };
}

const env = loadEnv();
const chat = chatNotifierFromEnv();
const deps = { sfn: new SFNClient({}), sns: new SNSClient({}), topicArn: env.topicArn, consoleOrigin: env.consoleOrigin, ...(chat && { chat }), log: logger };

export const handler = lambdaHandler(async (event: ExecutionStatusChange): Promise<Alert> => notify(event, deps));
