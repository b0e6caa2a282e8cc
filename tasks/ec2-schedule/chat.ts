/** `POST /ec2/chat`: Mattermost / Slack slash command (HTTP API payload v2). See core/chat.ts. */
import { httpHandler } from '../shared/handler';
import { handleChat } from './core/chat';
import { endpointDeps } from './endpoint-deps';

const deps = endpointDeps();

export const handler = httpHandler((request) => handleChat(request, deps));
