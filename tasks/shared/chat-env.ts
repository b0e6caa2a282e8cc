/**
 * What a handler that posts notifications to chat reads at cold start (handler side: it builds the SDK client and
 * the chat client; cores receive the result): `CHAT_TARGETS` (and `MATTERMOST_URL`) say where, `CHAT_SECRET_ARN` which
 * secret holds the credentials (read when posting, so a rotation or a first setting takes effect without a
 * redeploy), `EXECUTION_ARN_PREFIX` and the region/endpoint where the execution's console page is.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ChatErrorNames, chatClient } from './chat-post';
import type { ChatNotifier } from './chat-notify';
import { chatSecretSource } from './chat-secrets';
import { chatDestinationFromEnv } from './chat-target';
import { consoleOrigin, executionConsoleUrl } from './console-link';
import { requireString, type Env } from './env';

/** The notifier for this function's chat channels, or undefined when it has none. */
export function chatNotifierFromEnv(env: Env = process.env): ChatNotifier | undefined {
  const destination = chatDestinationFromEnv(env);
  if (!destination) return undefined;
  const secrets = chatSecretSource(new SecretsManagerClient({}), requireString(env, 'CHAT_SECRET_ARN'), () => Date.now());
  const post = async (fresh: boolean, ...[target, rendered]: Parameters<ChatNotifier['post']>) =>
    chatClient({ secrets: await secrets.get(fresh), fetch, mattermostUrl: destination.mattermostUrl }).postRendered(target, rendered);
  return {
    targets: destination.targets,
    // A credential missing from the cached secret may have just been set: read it once more before giving up.
    post: (target, rendered) =>
      post(false, target, rendered).catch((err: unknown) => {
        if (err instanceof Error && err.name === ChatErrorNames.NotConfigured) return post(true, target, rendered);
        throw err;
      }),
  };
}

/** The console page of this function's workflow's execution `name` (EXECUTION_ARN_PREFIX is `arn:...:execution:<state machine>`). */
export function executionUrlFromEnv(env: Env = process.env): (name: string) => string {
  const prefix = requireString(env, 'EXECUTION_ARN_PREFIX');
  const region = requireString(env, 'AWS_REGION');
  const origin = consoleOrigin(region, env.AWS_ENDPOINT_URL);
  return (name) => executionConsoleUrl(origin, region, `${prefix}:${name}`);
}
