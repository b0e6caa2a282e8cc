/**
 * Where a notification goes in chat: a Slack channel, a Mattermost channel, or a Teams channel's incoming webhook.
 * Parsed with the same rule at synth (config `alerts.chat`, `tagPolicy.reportChat`, `ec2Schedule.reportChat`, each
 * problem naming the field) and at a function's cold start (its `CHAT_TARGET`), so what synth accepts runs.
 *
 * - Slack: a conversation ID (`C…`, `G…`, `D…`) or a `#name`; chat.postMessage's `channel` is "An encoded ID or
 *   channel name that represents a channel, private group, or IM channel" (https://api.slack.com/methods/chat.postMessage),
 *   and names "may only contain lowercase letters, numbers, hyphens, and underscores, and must be 80 characters or
 *   less" (https://api.slack.com/methods/conversations.create).
 * - Mattermost: a channel ID, as `POST /api/v4/posts` takes it (`channel_id`, https://api.mattermost.com/#tag/posts);
 *   Mattermost IDs are 26 lower-case letters and digits.
 * - Teams: the *name* of an incoming webhook whose URL is in the deployment's chat secret (`teamsWebhooks`): the URL
 *   is a credential (whoever has it can post), so it is never in config, the template or the environment.
 */
export type ChatPlatform = 'slack' | 'mattermost' | 'teams';

export type ChatTarget = { platform: 'slack'; channel: string } | { platform: 'mattermost'; channel: string } | { platform: 'teams'; webhook: string };

const SLACK_CHANNEL = /^([CGD][A-Z0-9]{8,20}|#[a-z0-9_-]{1,80})$/;
const MATTERMOST_CHANNEL = /^[a-z0-9]{26}$/;
const WEBHOOK_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** The target described by `raw`, or undefined with one problem per bad field pushed (`field` is its config path). */
export function parseChatTarget(raw: unknown, field: string, problems: string[]): ChatTarget | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push(
      `${field} must be an object: {"platform": "slack", "channel": "C0123456789"}, {"platform": "mattermost", "channel": "<channel id>"} or {"platform": "teams", "webhook": "<name>"}`,
    );
    return undefined;
  }
  const o = raw as Record<string, unknown>;
  const known = (keys: string[]) => {
    for (const k of Object.keys(o))
      if (!keys.includes(k)) problems.push(`${field}.${k} is not a known setting (for ${String(o.platform)}: ${keys.join(', ')})`);
  };
  const value = (key: string, rule: RegExp, what: string) => {
    const v = o[key];
    if (typeof v === 'string' && rule.test(v)) return v;
    problems.push(`${field}.${key} must be ${what}, got ${JSON.stringify(v)}`);
    return undefined;
  };
  switch (o.platform) {
    case 'slack': {
      known(['platform', 'channel']);
      const channel = value('channel', SLACK_CHANNEL, "a Slack channel ID (C0123456789) or a #name of lower-case letters, digits, '-' and '_'");
      return channel === undefined ? undefined : { platform: 'slack', channel };
    }
    case 'mattermost': {
      known(['platform', 'channel']);
      const channel = value('channel', MATTERMOST_CHANNEL, 'a Mattermost channel ID (26 lower-case letters and digits)');
      return channel === undefined ? undefined : { platform: 'mattermost', channel };
    }
    case 'teams': {
      known(['platform', 'webhook']);
      const webhook = value(
        'webhook',
        WEBHOOK_NAME,
        "the name of an incoming webhook in the chat secret's teamsWebhooks (letters, digits, '-', '_'; not the URL)",
      );
      return webhook === undefined ? undefined : { platform: 'teams', webhook };
    }
    default:
      problems.push(`${field}.platform must be "slack", "mattermost" or "teams", got ${JSON.stringify(o.platform)}`);
      return undefined;
  }
}

/** A function's `CHAT_TARGET` (JSON, written at synth from a validated target); throws naming the variable. */
export function chatTargetFromEnv(value: string | undefined, name = 'CHAT_TARGET'): ChatTarget | undefined {
  if (value === undefined || value === '') return undefined;
  const problems: string[] = [];
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    throw new Error(`${name} is not JSON`);
  }
  const target = parseChatTarget(raw, name, problems);
  if (!target) throw new Error(problems.join('; '));
  return target;
}
