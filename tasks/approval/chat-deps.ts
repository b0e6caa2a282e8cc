/**
 * What every approval function that talks to chat builds once per execution environment: the deployment's chat secret
 * (read through a short cache: tasks/shared/chat-secrets.ts), a chat client over it, and where buttons call back.
 * Environment: CHAT_SECRET_ARN (the secret's ARN, never its value), CHAT_CALLBACK_URL (ApprovalChatCallbackUrl),
 * MATTERMOST_URL (optional: `approval.chat.mattermostUrl`).
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { ChatSecrets } from '../shared/chat-auth';
import { chatClient, type ChatClient } from '../shared/chat-post';
import { chatSecretSource, type ChatSecretSource } from '../shared/chat-secrets';
import { requireString, requireUrl, type Env } from '../shared/env';
import type { ApprovalChatDeps } from './core/chat-messages';

export function loadChatEnv(env: Env = process.env) {
  return {
    chatSecretArn: requireString(env, 'CHAT_SECRET_ARN'),
    callbackUrl: requireUrl(env, 'CHAT_CALLBACK_URL'),
    mattermostUrl: env.MATTERMOST_URL ? requireUrl(env, 'MATTERMOST_URL') : undefined,
  };
}

export function chatDeps(env: ReturnType<typeof loadChatEnv>): {
  chat: ApprovalChatDeps;
  secrets: ChatSecretSource;
  chatClient: (secrets: ChatSecrets) => ChatClient;
} {
  const secrets = chatSecretSource(new SecretsManagerClient({}), env.chatSecretArn, () => Date.now());
  // The global fetch: outbound HTTPS leaves the function as any other call (in the local runtime, through its network model).
  const clientFor = (s: ChatSecrets) => chatClient({ secrets: s, fetch: (...args) => fetch(...args), mattermostUrl: env.mattermostUrl });
  return { chat: { client: async () => clientFor(await secrets.get()), callbackUrl: env.callbackUrl }, secrets, chatClient: clientFor };
}
