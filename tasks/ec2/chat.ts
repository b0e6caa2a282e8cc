/** `POST /ec2/chat`: Mattermost / Slack slash command (HTTP API payload v2). See core/chat.ts. */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { handleChat } from './core/chat';
import { bodyText, httpDeps } from './http';

const deps = httpDeps();

export async function handler(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  return handleChat(new URLSearchParams(bodyText(event)), deps);
}
