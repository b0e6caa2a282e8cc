/**
 * The deployment's chat secrets, read from AWS Secrets Manager (one secret per deployment, workflows/shared/chat.ts;
 * JSON `{ "slackSigningSecret": "...", "slackBotToken": "...", "mattermostToken": "...", ... }`, the fields of
 * `ChatSecrets`) and kept for a short while, so that a rotation takes effect without a redeploy:
 *
 * - a value read less than CACHE_MS ago is used as is;
 * - a request the cached value refuses is judged once more against a fresh read, so the first request signed with
 *   a rotated secret succeeds at once. Forged requests thus cost one GetSecretValue each, bounded by the API's
 *   stage throttle (5 requests per second on the EC2 API).
 *
 * A secret without a current value (created by the stack, not set yet) reads as no secrets: every request is
 * refused until the operator sets one. GetSecretValue answers it with ResourceNotFoundException, "Secrets Manager
 * can't find the resource that you asked for" (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html).
 */
import { GetSecretValueCommand, ResourceNotFoundException, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { ChatSecrets } from './chat-auth';

/** How long a read value is trusted without asking again. */
export const CACHE_MS = 5 * 60_000;

export interface ChatSecretSource {
  /** The secrets; `fresh` reads them again whatever the cache holds. */
  get(fresh?: boolean): Promise<ChatSecrets>;
}

export function chatSecretSource(client: SecretsManagerClient, secretId: string, nowMs: () => number): ChatSecretSource {
  let cached: { value: ChatSecrets; readAt: number } | undefined;
  return {
    async get(fresh = false) {
      if (!fresh && cached && nowMs() - cached.readAt < CACHE_MS) return cached.value;
      cached = { value: await read(client, secretId), readAt: nowMs() };
      return cached.value;
    },
  };
}

async function read(client: SecretsManagerClient, secretId: string): Promise<ChatSecrets> {
  let text: string | undefined;
  try {
    text = (await client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString;
  } catch (err) {
    if (err instanceof ResourceNotFoundException) return {};
    throw err;
  }
  return parseChatSecrets(text);
}

/** The fields of the secret's JSON, as `control-link chat-secret <field> <value>` names them. */
export const CHAT_SECRET_FIELDS = [
  'slackSigningSecret',
  'slackBotToken',
  'mattermostToken',
  'mattermostBotToken',
  'teamsHmacKey',
  'teamsWebhooks',
] as const satisfies readonly (keyof ChatSecrets)[];

/** Fields whose value is an object of strings by name (`teamsWebhooks.<channel>`); the others are strings. */
export const CHAT_SECRET_MAPS: readonly (keyof ChatSecrets)[] = ['teamsWebhooks'];

/**
 * Only non-empty string fields (and, for maps, non-empty string entries) count; anything else (not JSON, other
 * shapes, unknown fields) configures nothing, so a typo in a hand-edited secret refuses rather than misleads.
 */
export function parseChatSecrets(text: string | undefined): ChatSecrets {
  let value: unknown;
  try {
    value = JSON.parse(text ?? '');
  } catch {
    return {};
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return {};
  const raw = value as Record<string, unknown>;
  const secrets: Record<string, unknown> = {};
  for (const field of CHAT_SECRET_FIELDS) {
    const v = raw[field];
    if (CHAT_SECRET_MAPS.includes(field)) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) continue;
      const entries = Object.entries(v as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== '');
      if (entries.length) secrets[field] = Object.fromEntries(entries);
    } else if (typeof v === 'string' && v !== '') secrets[field] = v;
  }
  return secrets as ChatSecrets;
}
