/** `POST /ec2/chat`: Mattermost / Slack slash command (HTTP API payload v2). See core/chat.ts. */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { lambdaHandler } from '../shared/handler';
import { bodyText } from '../shared/http';
import { handleChat } from './core/chat';
import { FORM_BODY_BYTES, httpDeps, payloadTooLarge } from './http';

const deps = httpDeps();

export const handler = lambdaHandler(async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  const body = bodyText(event) ?? '';
  const bytes = Buffer.byteLength(body);
  if (bytes > FORM_BODY_BYTES) return payloadTooLarge(bytes);
  return handleChat(new URLSearchParams(body), deps);
});
