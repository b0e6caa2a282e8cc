/**
 * Where a notification goes in chat, in the shape `approval.chat` has: `{ "slack": "<channel id>", "mattermost":
 * "<channel id>", "teams": "<webhook name>", "mattermostUrl": "https://..." }`, each platform optional, one channel
 * each. Parsed at synth (config `alerts.chat`, `tagPolicy.reportChat`, `ec2Schedule.reportChat`, each problem naming
 * the field) and at a function's cold start (its `CHAT_TARGETS`, `MATTERMOST_URL`), with the same rules, so what
 * synth accepts runs.
 *
 * - Slack: a conversation id; chat.postMessage's `channel` is "An encoded ID or channel name that represents a
 *   channel, private group, or IM channel" (https://api.slack.com/methods/chat.postMessage). Ids only: a channel
 *   can be renamed, its id stays.
 * - Mattermost: a channel id, as `POST /api/v4/posts` takes it (`channel_id`, https://developers.mattermost.com/api-documentation/);
 *   Mattermost ids are 26 lower-case letters and digits. Posting needs the server's URL (`mattermostUrl`).
 * - Teams: the *name* of an incoming webhook whose URL is in the deployment's chat secret (`teamsWebhooks`): the URL
 *   is a credential (whoever has it can post), so it is never in config, the template or the environment.
 */
import type { ChatTarget } from './chat-post';

export interface ChatDestination {
  targets: ChatTarget[];
  /** The Mattermost server, when a target is a Mattermost channel. */
  mattermostUrl?: string;
}

const CHANNEL: Record<ChatTarget['platform'], { shape: RegExp; what: string }> = {
  slack: { shape: /^[CGD][A-Z0-9]{2,20}$/, what: 'a Slack channel id (C…, G…, D…)' },
  mattermost: { shape: /^[a-z0-9]{26}$/, what: 'a Mattermost channel id (26 lower-case letters and digits)' },
  teams: {
    shape: /^[A-Za-z0-9_.-]{1,64}$/,
    what: "the name of a Teams incoming webhook in the chat secret's teamsWebhooks (letters, digits, _ . -; at most 64; not its URL)",
  },
};
const PLATFORMS = Object.keys(CHANNEL) as ChatTarget['platform'][];
const URL_SHAPE = /^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/;

/** The destination `raw` describes; one problem per bad field, each starting with `field` (its config path). */
export function parseChatDestination(raw: unknown, field: string, problems: string[]): ChatDestination {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push(
      `${field} must be an object such as {"slack": "C0123ABCD"}, {"mattermost": "<channel id>", "mattermostUrl": "https://..."} or {"teams": "<webhook name>"}, got ${JSON.stringify(raw)}`,
    );
    return { targets: [] };
  }
  const o = raw as Record<string, unknown>;
  const targets: ChatTarget[] = [];
  for (const [key, channel] of Object.entries(o)) {
    if (key === 'mattermostUrl') continue;
    const rule = CHANNEL[key as ChatTarget['platform']];
    if (!PLATFORMS.includes(key as ChatTarget['platform']))
      problems.push(`${field}.${key} is not a known setting (${[...PLATFORMS, 'mattermostUrl'].join(', ')})`);
    else if (typeof channel !== 'string' || !rule.shape.test(channel)) problems.push(`${field}.${key} must be ${rule.what}, got ${JSON.stringify(channel)}`);
    else targets.push({ platform: key as ChatTarget['platform'], channel });
  }
  const url = o.mattermostUrl;
  if (url !== undefined && (typeof url !== 'string' || !URL_SHAPE.test(url)))
    problems.push(`${field}.mattermostUrl must be an http(s) URL without query or fragment, got ${JSON.stringify(url)}`);
  const mattermostUrl = typeof url === 'string' && URL_SHAPE.test(url) ? url.replace(/\/+$/, '') : undefined;
  if (o.mattermost !== undefined && url === undefined)
    problems.push(`${field}.mattermostUrl is required with ${field}.mattermost: the Mattermost server to post to`);
  if (targets.length === 0 && !problems.length) problems.push(`${field} names no channel: set slack, mattermost or teams, or leave ${field} out`);
  return { targets, ...(mattermostUrl && { mattermostUrl }) };
}

/** The environment a posting function gets (workflows/shared/chat-notify.ts). */
export function chatDestinationEnv(d: ChatDestination): { CHAT_TARGETS: string; MATTERMOST_URL?: string } {
  return {
    CHAT_TARGETS: JSON.stringify(Object.fromEntries(d.targets.map((t) => [t.platform, t.channel]))),
    ...(d.mattermostUrl && { MATTERMOST_URL: d.mattermostUrl }),
  };
}

/** A function's `CHAT_TARGETS` and `MATTERMOST_URL`, checked by the synth's rule; undefined when unset; throws naming the variable. */
export function chatDestinationFromEnv(env: Readonly<Record<string, string | undefined>>): ChatDestination | undefined {
  const text = env.CHAT_TARGETS;
  if (text === undefined || text === '') return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error('environment variable CHAT_TARGETS is not JSON');
  }
  const problems: string[] = [];
  const withUrl = raw !== null && typeof raw === 'object' && !Array.isArray(raw) && env.MATTERMOST_URL ? { ...raw, mattermostUrl: env.MATTERMOST_URL } : raw;
  const d = parseChatDestination(withUrl, 'CHAT_TARGETS', problems);
  if (problems.length) throw new Error(`environment variable ${problems.join('; ')}`);
  return d;
}
