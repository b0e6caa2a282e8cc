/**
 * The one chat client: post a message, update it, answer someone privately, open a form, and find out who clicked, on
 * Slack (Web API), Mattermost (REST API v4) and Microsoft Teams (incoming webhooks). Approvals (buttons) and
 * notifications (chatnotify) use it; cores receive it, so tests pass a `fetch` stub.
 *
 *   const chat = chatClient({ secrets: await source.get(), fetch, mattermostUrl });
 *   const posted = await chat.post({ platform: 'slack', channel: 'C0123ABCD' }, { title: 'Deploy?', lines: ['...'] });
 *   await chat.update(posted, { title: 'Deploy? Approved by lead@example.com' });
 *
 * A message is neutral (`ChatMessage`: a title, lines, fields, a link, buttons) and rendered here per platform, with
 * every text shown literally: nothing a message carries can mention `@channel`, link, or format (`literalSlack`,
 * `literalMarkdown`). Every failure is one of the named errors below (Chat.NotConfigured, Chat.ApiError,
 * Chat.RateLimited, Chat.Unreachable, Chat.Unsupported), whose message names the platform and the method and never
 * holds a token.
 *
 * - Slack: `POST https://slack.com/api/<method>` with `Authorization: Bearer <slackBotToken>` and a JSON body
 *   (https://api.slack.com/web: "JSON-encoded bodies" for write methods, the token "in the Authorization HTTP
 *   header"). Slack answers HTTP 200 with `{"ok": false, "error": "<code>"}` on failure, and HTTP 429 with
 *   `Retry-After` (seconds) when rate limited (https://api.slack.com/docs/rate-limits). Methods:
 *   chat.postMessage (answers `ts`, the message's id: https://api.slack.com/methods/chat.postMessage), chat.update
 *   (`channel` + `ts`: https://api.slack.com/methods/chat.update), chat.postEphemeral (`channel` + `user`:
 *   https://api.slack.com/methods/chat.postEphemeral), views.open (a modal, with the click's `trigger_id`:
 *   https://api.slack.com/methods/views.open), users.info (`user.profile.email` with the users:read.email scope:
 *   https://api.slack.com/methods/users.info). An interaction's `response_url` takes a JSON message,
 *   `response_type: "ephemeral"` shows it to the clicker alone (https://api.slack.com/interactivity/handling#message_responses).
 * - Mattermost: `<mattermostUrl>/api/v4/...` with `Authorization: Bearer <mattermostBotToken>`
 *   (https://developers.mattermost.com/api-documentation/): POST /posts (answers the post, `id`), PUT
 *   /posts/{post_id} (the whole post: `id`, `message`, `props`), POST /posts/ephemeral (`user_id`, `post`), POST
 *   /actions/dialogs/open (`trigger_id`, `url`, `dialog`:
 *   https://developers.mattermost.com/integrate/plugins/interactive-dialogs/), GET /users/{user_id} (`email`,
 *   `email_verified`). Errors are non-2xx with `{"id": "<error id>", "message": ...}`. Buttons are message
 *   attachments' `actions`, each with `integration: {url, context}` that Mattermost POSTs back on a click
 *   (https://developers.mattermost.com/integrate/plugins/interactive-messages/).
 * - Teams: an incoming webhook URL (from `teamsWebhooks`, by channel name) takes a message with an Adaptive Card
 *   (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#send-adaptive-cards-using-an-incoming-webhook).
 *   A webhook can neither edit a message nor answer one person privately, and a card's buttons can only open
 *   links (Action.Submit reaches a bot, and there is none), so `update` posts a follow-up message, and `ephemeral`
 *   and buttons are Chat.Unsupported. Teams approvals are answered by mentioning the outgoing webhook (README).
 */
import type { ChatPlatform, ChatSecrets } from './chat-auth';

export const SLACK_API = 'https://slack.com/api';
/** An interaction's response_url is Slack's: anything else would make a forged click a request forger. */
const SLACK_RESPONSE_HOST = 'hooks.slack.com';
/** A chat call that takes longer than this is given up (Chat.Unreachable); a click must be answered within 3 s. */
export const CHAT_CALL_TIMEOUT_MS = 10_000;

// Slack Block Kit limits (https://api.slack.com/reference/block-kit/blocks): a header's text at most 150 characters,
// a section's 3000, each of up to 10 fields 2000, a button's text 75 and value 2000.
const SLACK_HEADER_CHARS = 150;
const SLACK_SECTION_CHARS = 3000;
const SLACK_FIELD_CHARS = 2000;
const SLACK_FIELDS = 10;
const BUTTON_LABEL_CHARS = 75;

// ---- named errors -----------------------------------------------------------------------------------------------

export const ChatErrorNames = {
  /** The secret field (token, webhook URL) or the config (Mattermost URL) the call needs is not set. */
  NotConfigured: 'Chat.NotConfigured',
  /** The chat server refused the call; `code` is its error (`channel_not_found`, `api.context.invalid_param.app_error`). */
  ApiError: 'Chat.ApiError',
  /** The chat server said to slow down; `retryAfterSeconds` is when to try again. */
  RateLimited: 'Chat.RateLimited',
  /** No answer: DNS, connection, TLS, or no answer within CHAT_CALL_TIMEOUT_MS. */
  Unreachable: 'Chat.Unreachable',
  /** The platform cannot do this (Teams webhooks: private answers, buttons). */
  Unsupported: 'Chat.Unsupported',
} as const;

export class ChatNotConfiguredError extends Error {
  name = ChatErrorNames.NotConfigured;
  constructor(
    readonly platform: ChatPlatform,
    what: string,
  ) {
    super(`${platform}: ${what} is not configured`);
  }
}

export class ChatApiError extends Error {
  name: string = ChatErrorNames.ApiError;
  constructor(
    readonly platform: ChatPlatform,
    readonly method: string,
    readonly status: number,
    /** The chat server's error code, or `http_<status>`. */
    readonly code: string,
  ) {
    super(`${platform} ${method} failed: ${code} (HTTP ${status})`);
  }
}

export class ChatRateLimitedError extends ChatApiError {
  override name = ChatErrorNames.RateLimited;
  constructor(
    platform: ChatPlatform,
    method: string,
    readonly retryAfterSeconds: number,
  ) {
    super(platform, method, 429, 'rate_limited');
    this.message = `${platform} ${method} rate limited: retry after ${retryAfterSeconds} s`;
  }
}

export class ChatUnreachableError extends Error {
  name = ChatErrorNames.Unreachable;
  constructor(platform: ChatPlatform, method: string, cause: unknown) {
    // The cause's name only: a fetch error's message may repeat the URL, and a Teams webhook URL is a credential.
    super(`${platform} ${method}: no answer (${cause instanceof Error ? cause.name : 'error'})`);
  }
}

export class ChatUnsupportedError extends Error {
  name = ChatErrorNames.Unsupported;
  constructor(platform: ChatPlatform, what: string) {
    super(`${platform}: ${what} is not possible`);
  }
}

// ---- messages ---------------------------------------------------------------------------------------------------

/** Where a message goes: a Slack channel id or user id (a DM), a Mattermost channel id, a Teams channel's webhook name. */
export interface ChatTarget {
  platform: ChatPlatform;
  channel: string;
}

/** A posted message: enough to update it. `id` is Slack's `ts`, Mattermost's post id, '' for Teams (no id). */
export interface PostedMessage extends ChatTarget {
  id: string;
}

export interface ChatButton {
  /** Slack `action_id`, Mattermost action `id` (letters and digits). */
  id: string;
  label: string;
  style?: 'primary' | 'danger';
  /** Slack: the button's `value`, sent back with the click. */
  value: string;
  /** Mattermost: where a click is POSTed, and the `context` it carries back. */
  callback?: { url: string; context: Record<string, string> };
}

export interface ChatMessage {
  /** One line, shown bold / as a header; also the notification text. */
  title: string;
  /** Plain lines, each shown literally. */
  lines?: string[];
  fields?: { label: string; value: string }[];
  link?: { label: string; url: string };
  buttons?: ChatButton[];
}

/** Slack: the characters mrkdwn treats as control characters become entities (https://api.slack.com/reference/surfaces/formatting#escaping). */
export function literalSlack(text: string): string {
  return text.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

/**
 * Markdown (Mattermost, Teams' TextBlock): "Any ASCII punctuation character may be backslash-escaped" (CommonMark
 * https://spec.commonmark.org/0.31.2/#backslash-escapes), so every one is; and `@` is followed by a WORD JOINER
 * (U+2060), so `@channel` and `@here` stay text whatever the server's mention parser makes of a backslash.
 */
export function literalMarkdown(text: string): string {
  return text.replace(/[!-/:-@[-`{-~]/g, (c) => (c === '@' ? '@\u2060' : `\\${c}`));
}

const singleLine = (s: string) => s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
const cut = (s: string, n: number) => ([...s].length <= n ? s : `${[...s].slice(0, n - 1).join('')}…`);

/** The message's plain text: Slack's `text` (notifications, screen readers), Mattermost's `fallback`. */
export function plainText(m: ChatMessage): string {
  return [m.title, ...(m.lines ?? []), ...(m.fields ?? []).map((f) => `${f.label}: ${f.value}`), ...(m.link ? [`${m.link.label}: ${m.link.url}`] : [])].join(
    '\n',
  );
}

/** chat.postMessage / chat.update's `text` and `blocks`: plain_text where it can be, escaped mrkdwn where a link needs it. */
export function slackBlocks(m: ChatMessage): { text: string; blocks: unknown[] } {
  const plain = (text: string, n: number) => ({ type: 'plain_text', text: cut(text, n) || ' ', emoji: false });
  const blocks: unknown[] = [{ type: 'header', text: plain(singleLine(m.title), SLACK_HEADER_CHARS) }];
  if (m.lines?.length) blocks.push({ type: 'section', text: plain(m.lines.join('\n'), SLACK_SECTION_CHARS) });
  const fields = (m.fields ?? []).slice(0, SLACK_FIELDS);
  if (fields.length) blocks.push({ type: 'section', fields: fields.map((f) => plain(`${singleLine(f.label)}: ${f.value}`, SLACK_FIELD_CHARS)) });
  if (m.link) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `<${m.link.url}|${literalSlack(singleLine(m.link.label)).replace(/\|/g, '¦')}>` } });
  if (m.buttons?.length)
    blocks.push({
      type: 'actions',
      elements: m.buttons.map((b) => ({
        type: 'button',
        action_id: b.id,
        text: plain(singleLine(b.label), BUTTON_LABEL_CHARS),
        value: b.value,
        ...(b.style ? { style: b.style } : {}),
      })),
    });
  return { text: literalSlack(cut(plainText(m), SLACK_SECTION_CHARS)), blocks };
}

/** A Mattermost post's `message` and `props.attachments` (https://developers.mattermost.com/integrate/reference/message-attachments/). */
export function mattermostPost(m: ChatMessage): { message: string; props: { attachments: unknown[] } } {
  const text = [...(m.lines ?? []).map(literalMarkdown), ...(m.link ? [`[${literalMarkdown(singleLine(m.link.label))}](${m.link.url})`] : [])].join('\n');
  const attachment = {
    fallback: plainText(m),
    title: literalMarkdown(singleLine(m.title)),
    ...(text ? { text } : {}),
    ...(m.fields?.length ? { fields: m.fields.map((f) => ({ title: singleLine(f.label), value: literalMarkdown(f.value), short: false })) } : {}),
    ...(m.buttons?.length
      ? {
          actions: m.buttons.map((b) => {
            if (!b.callback) throw new ChatUnsupportedError('mattermost', `button ${b.id} without a callback URL`);
            return {
              id: b.id,
              name: cut(singleLine(b.label), BUTTON_LABEL_CHARS),
              type: 'button',
              ...(b.style ? { style: b.style } : {}),
              integration: b.callback,
            };
          }),
        }
      : {}),
  };
  return { message: '', props: { attachments: [attachment] } };
}

/** A Teams message with one Adaptive Card (version 1.4, which Teams renders). */
export function teamsCard(m: ChatMessage): unknown {
  if (m.buttons?.length) throw new ChatUnsupportedError('teams', 'buttons that call back through an incoming webhook');
  const block = (text: string, extra: Record<string, unknown> = {}) => ({ type: 'TextBlock', text, wrap: true, ...extra });
  const body: unknown[] = [block(literalMarkdown(singleLine(m.title)), { weight: 'Bolder', size: 'Medium' })];
  for (const line of m.lines ?? []) body.push(block(literalMarkdown(line)));
  if (m.fields?.length) body.push({ type: 'FactSet', facts: m.fields.map((f) => ({ title: singleLine(f.label), value: literalMarkdown(f.value) })) });
  const content = {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    body,
    ...(m.link ? { actions: [{ type: 'Action.OpenUrl', title: singleLine(m.link.label), url: m.link.url }] } : {}),
  };
  return { type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content }] };
}

// ---- the client -------------------------------------------------------------------------------------------------

export interface ChatClientOptions {
  /** The deployment's chat secrets (tasks/shared/chat-secrets.ts). */
  secrets: ChatSecrets;
  /** `globalThis.fetch` in a handler, a stub in tests. */
  fetch: typeof fetch;
  /** The Mattermost server's base URL (config, not a secret), e.g. `https://mattermost.example.com`. */
  mattermostUrl?: string;
  /** @default CHAT_CALL_TIMEOUT_MS */
  timeoutMs?: number;
}

/** A chat user's address, as the platform states it; `verified: false` when the platform says it was never confirmed. */
export interface ChatUserEmail {
  email: string | undefined;
  verified: boolean;
}

export interface ChatClient {
  post(target: ChatTarget, message: ChatMessage): Promise<PostedMessage>;
  /** Replaces the message (Teams: posts `message` as a follow-up, since a webhook cannot edit). */
  update(posted: PostedMessage, message: ChatMessage): Promise<void>;
  /** Shows `text` to `user` alone in the channel (Slack, Mattermost). */
  ephemeral(target: ChatTarget, user: string, text: string): Promise<void>;
  /** Slack: answers an interaction through its `response_url`, to the clicker alone. */
  respond(responseUrl: string, text: string): Promise<void>;
  /** Slack: opens a modal (`view`, Block Kit) for the click's `trigger_id`. */
  openModal(triggerId: string, view: unknown): Promise<void>;
  /** Mattermost: opens an interactive dialog for the click's `trigger_id`; its submission is POSTed to `url`. */
  openDialog(triggerId: string, url: string, dialog: unknown): Promise<void>;
  /** The user's email address as the platform knows it (Slack users.info, Mattermost GET /users/{id}). */
  userEmail(platform: 'slack' | 'mattermost', userId: string): Promise<ChatUserEmail>;
}

export function chatClient(options: ChatClientOptions): ChatClient {
  const { secrets } = options;
  const timeoutMs = options.timeoutMs ?? CHAT_CALL_TIMEOUT_MS;

  /** One HTTP call; the answer's JSON (or undefined), having turned every failure into a named error. */
  async function call(platform: ChatPlatform, method: string, url: string, init: { method: string; token?: string; body?: unknown }): Promise<unknown> {
    let res: Response;
    try {
      res = await options.fetch(url, {
        method: init.method,
        headers: {
          ...(init.body !== undefined ? { 'content-type': 'application/json; charset=utf-8' } : {}),
          ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
        },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'error',
      });
    } catch (error) {
      throw new ChatUnreachableError(platform, method, error);
    }
    const text = await res.text().catch(() => '');
    if (res.status === 429) {
      const after = Number(res.headers.get('retry-after'));
      throw new ChatRateLimitedError(platform, method, Number.isFinite(after) && after >= 0 ? after : 1);
    }
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined; // Teams webhooks answer "1" or nothing
    }
    const b = (body ?? {}) as { ok?: boolean; error?: string; id?: string };
    if (res.status < 200 || res.status > 299) {
      const code = platform === 'mattermost' && typeof b.id === 'string' ? b.id : typeof b.error === 'string' ? b.error : `http_${res.status}`;
      throw new ChatApiError(platform, method, res.status, code);
    }
    if (platform === 'slack' && b.ok !== true && method !== 'response_url') throw new ChatApiError(platform, method, res.status, b.error ?? 'not_ok');
    return body;
  }

  const slackToken = () => secrets.slackBotToken ?? fail(new ChatNotConfiguredError('slack', 'the bot token (chat secret slackBotToken)'));
  const slack = (method: string, body: unknown) => call('slack', method, `${SLACK_API}/${method}`, { method: 'POST', token: slackToken(), body });
  const mattermost = (method: string, path: string, body?: unknown) => {
    if (!options.mattermostUrl) throw new ChatNotConfiguredError('mattermost', 'the server URL');
    const token = secrets.mattermostBotToken ?? fail(new ChatNotConfiguredError('mattermost', 'the bot token (chat secret mattermostBotToken)'));
    return call('mattermost', `${method} ${path.replace(/\/[a-z0-9]{26}(?=\/|$)/g, '/{id}')}`, `${options.mattermostUrl.replace(/\/+$/, '')}/api/v4${path}`, {
      method,
      token,
      body,
    });
  };
  const teams = (channel: string, body: unknown) => {
    const url =
      secrets.teamsWebhooks?.[channel] ??
      fail(new ChatNotConfiguredError('teams', `the incoming webhook of channel ${channel} (chat secret teamsWebhooks.${channel})`));
    return call('teams', 'webhook', url, { method: 'POST', body });
  };
  const mmId = (id: string) => {
    if (!/^[a-z0-9]{26}$/.test(id)) throw new ChatApiError('mattermost', 'request', 0, `not a Mattermost id: ${id.slice(0, 40)}`);
    return id;
  };

  return {
    async post(target, message) {
      switch (target.platform) {
        case 'slack': {
          const out = (await slack('chat.postMessage', { channel: target.channel, ...slackBlocks(message), unfurl_links: false })) as {
            ts: string;
            channel: string;
          };
          // A user id as `channel` posts in the app's DM with that user; updates must name the DM's channel.
          return { platform: 'slack', channel: out.channel ?? target.channel, id: out.ts };
        }
        case 'mattermost': {
          const out = (await mattermost('POST', '/posts', { channel_id: mmId(target.channel), ...mattermostPost(message) })) as { id: string };
          return { ...target, id: out.id };
        }
        case 'teams':
          await teams(target.channel, teamsCard(message));
          return { ...target, id: '' };
      }
    },
    async update(posted, message) {
      switch (posted.platform) {
        case 'slack':
          await slack('chat.update', { channel: posted.channel, ts: posted.id, ...slackBlocks(message) });
          return;
        case 'mattermost':
          await mattermost('PUT', `/posts/${mmId(posted.id)}`, { id: posted.id, ...mattermostPost(message) });
          return;
        case 'teams':
          await teams(posted.channel, teamsCard(message));
          return;
      }
    },
    async ephemeral(target, user, text) {
      switch (target.platform) {
        case 'slack':
          await slack('chat.postEphemeral', { channel: target.channel, user, text: literalSlack(text) });
          return;
        case 'mattermost':
          await mattermost('POST', '/posts/ephemeral', { user_id: mmId(user), post: { channel_id: mmId(target.channel), message: literalMarkdown(text) } });
          return;
        case 'teams':
          throw new ChatUnsupportedError('teams', 'a private answer through a webhook');
      }
    },
    async respond(responseUrl, text) {
      let url: URL;
      try {
        url = new URL(responseUrl);
      } catch {
        throw new ChatApiError('slack', 'response_url', 0, 'not a URL');
      }
      if (url.protocol !== 'https:' || url.hostname !== SLACK_RESPONSE_HOST)
        throw new ChatApiError('slack', 'response_url', 0, `not a Slack response URL (${url.hostname})`);
      await call('slack', 'response_url', url.toString(), {
        method: 'POST',
        body: { response_type: 'ephemeral', replace_original: false, text: literalSlack(text) },
      });
    },
    async openModal(triggerId, view) {
      await slack('views.open', { trigger_id: triggerId, view });
    },
    async openDialog(triggerId, url, dialog) {
      await mattermost('POST', '/actions/dialogs/open', { trigger_id: triggerId, url, dialog });
    },
    async userEmail(platform, userId) {
      if (platform === 'slack') {
        if (!/^[UW][A-Z0-9]{1,20}$/.test(userId)) throw new ChatApiError('slack', 'users.info', 0, 'not a Slack user id');
        const out = (await call('slack', 'users.info', `${SLACK_API}/users.info?user=${encodeURIComponent(userId)}`, {
          method: 'GET',
          token: slackToken(),
        })) as {
          user?: { deleted?: boolean; is_bot?: boolean; is_email_confirmed?: boolean; profile?: { email?: string } };
        };
        const u = out.user;
        if (!u || u.deleted || u.is_bot) return { email: undefined, verified: false };
        return { email: u.profile?.email, verified: u.is_email_confirmed !== false };
      }
      const out = (await mattermost('GET', `/users/${mmId(userId)}`)) as { email?: string; email_verified?: boolean; delete_at?: number; is_bot?: boolean };
      if (out.is_bot || (out.delete_at ?? 0) > 0) return { email: undefined, verified: false };
      return { email: out.email || undefined, verified: out.email_verified === true };
    },
  };
}

function fail(error: Error): never {
  throw error;
}
