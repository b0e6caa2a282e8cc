/** `POST /ec2/chat`: Mattermost / Slack slash command (HTTP API payload v2). See core/chat.ts. */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { lambdaHandler } from '../shared/handler';
import { bodyText } from '../shared/http';
import { handleChat } from './core/chat';
import { httpDeps } from './http';

const deps = httpDeps();

export const handler = lambdaHandler(async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> =>
  handleChat(new URLSearchParams(bodyText(event) ?? ''), deps),
);
