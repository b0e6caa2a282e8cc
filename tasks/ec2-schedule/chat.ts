/** `POST /ec2/chat`: Mattermost / Slack slash command (HTTP API payload v2). See core/chat.ts. */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { requireString } from '../shared/env';
import { chatSecretSource } from '../shared/chat-secrets';
import { httpHandler } from '../shared/handler';
import { handleChat } from './core/chat';
import { endpointDeps } from './endpoint-deps';

const deps = endpointDeps('chat');
/** The deployment's chat secret (workflows/ec2-schedule/construct.ts): its ARN, never its value, is in the environment. */
const secrets = chatSecretSource(new SecretsManagerClient({}), requireString(process.env, 'CHAT_SECRET_ARN'), deps.nowMs);

export const handler = httpHandler((request) => handleChat(request, { ...deps, secrets }));
