/**
 * Slack, as an app sees it from outside: the Web API on slack.com, response URLs and incoming webhooks on
 * hooks.slack.com, and the interaction payloads Slack sends to the app's Request URL when someone clicks.
 *
 * Web API (https://api.slack.com/web): "Tokens should be passed as an HTTP Authorization header or alternatively,
 * as a POST parameter"; form-encoded or JSON bodies ("JSON-encoded bodies" need the token in the header, "you
 * can't pass the token as a body parameter"); every answer is HTTP 200 with `{"ok": false, "error": "<code>"}` on
 * failure. Methods served, with the errors of their reference pages:
 * - chat.postMessage (https://api.slack.com/methods/chat.postMessage): `channel` a channel id or name, or a user id
 *   for the app's DM; one of `text`, `blocks`, `attachments` ("no_text"); "channel_not_found"; answers
 *   `{ok, channel, ts, message}`.
 * - chat.update (https://api.slack.com/methods/chat.update): `channel` + `ts` identify the message;
 *   "message_not_found"; "cant_update_message" for a message the token's app did not post; ephemeral messages
 *   "can't be updated".
 * - chat.postEphemeral (https://api.slack.com/methods/chat.postEphemeral): "user_not_in_channel" for an unknown
 *   user; answers `{ok, message_ts}`.
 * - views.open (https://api.slack.com/methods/views.open): a `trigger_id` from an interaction, usable once
 *   ("exchanged_trigger_id"), else "invalid_trigger_id"; answers `{ok, view}`.
 * - users.info (https://api.slack.com/methods/users.info): "user_not_found"; the profile's `email` (scope
 *   users:read.email).
 * - auth.test (https://api.slack.com/methods/auth.test).
 *
 * Interactions (https://api.slack.com/interactivity/handling): "the payload will be sent as an HTTP POST ... with
 * a body of application/x-www-form-urlencoded ... a single `payload` parameter" holding the JSON of a
 * `block_actions` (https://api.slack.com/reference/interaction-payloads/block-actions) or `view_submission`
 * (https://api.slack.com/reference/interaction-payloads/views) payload, signed with the app's signing secret
 * (https://api.slack.com/authentication/verifying-requests-from-slack: `v0=` + hex HMAC-SHA256 of
 * `v0:{timestamp}:{body}`). "You can use response_url ... up to 5 times within 30 minutes"; `replace_original`,
 * `delete_original`, `response_type: "in_channel"`, otherwise an ephemeral message to the clicker.
 *
 * Incoming webhooks (https://api.slack.com/messaging/webhooks): a JSON POST; "ok" on success; errors as text:
 * 400 "invalid_payload", 400 "no_text", 404 "no_service" (a URL that is no webhook).
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { OutboundRequest, OutboundResponse } from '../../network/internet';
import { isObject, json, jsonField, params, parseJson, text } from './wire';
import type { Button, ChatMessage, ChatUser, Workspace } from './workspace';

export const SLACK_TEAM = { id: 'T0LOCAL001', domain: 'opsflow-local' };
export const SLACK_APP = { id: 'A0LOCAL001', botId: 'B0LOCAL001', botUserId: 'U0LOCALBOT', name: 'opsflow' };
/** "up to 5 times within 30 minutes" (https://api.slack.com/interactivity/handling#message_responses). */
export const RESPONSE_URL_USES = 5;
export const RESPONSE_URL_MS = 30 * 60_000;

/** slack.com and hooks.slack.com. */
export function servesSlack(host: string): boolean {
  return host === 'slack.com' || host === 'hooks.slack.com';
}

export function handleSlack(ws: Workspace, req: OutboundRequest): OutboundResponse {
  if (req.url.hostname === 'hooks.slack.com') return hooks(ws, req);
  const method = /^\/api\/([\w.]+)$/.exec(req.url.pathname)?.[1];
  if (!method) return text(404, 'Not Found');
  const p = params(req);
  const fail = (error: string) => json(200, { ok: false, error });
  if (p.malformed) return fail('invalid_json');
  const install = ws.install();
  const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? (p.isJson ? undefined : (p.fields.token as string | undefined));
  if (!token) return fail('not_authed');
  if (token !== install.slackBotToken) return fail('invalid_auth');
  const f = p.fields;
  switch (method) {
    case 'auth.test':
      return json(200, {
        ok: true,
        url: `https://${SLACK_TEAM.domain}.slack.com/`,
        team: SLACK_TEAM.domain,
        user: SLACK_APP.name,
        team_id: SLACK_TEAM.id,
        user_id: SLACK_APP.botUserId,
        bot_id: SLACK_APP.botId,
      });
    case 'chat.postMessage': {
      const target = resolveChannel(ws, f.channel);
      if (!target) return fail('channel_not_found');
      const payload = content(f);
      if (!payload) return fail('no_text');
      const m = ws.add({ platform: 'slack', via: 'api', channel: target, author: SLACK_APP.name, payload, platformId: nextTs(ws), from: fromOf(req) });
      return json(200, { ok: true, channel: target.slackId, ts: m.platformId, message: messageJson(m) });
    }
    case 'chat.update': {
      const m = typeof f.ts === 'string' ? ws.find('slack', f.ts) : undefined;
      const target = m && f.channel === m.channel.slackId ? m.channel : resolveChannel(ws, f.channel);
      if (!target) return fail('channel_not_found');
      if (!m || m.visibleTo || m.channel.slackId !== target.slackId) return fail('message_not_found');
      if (m.via !== 'api') return fail('cant_update_message');
      const payload = content(f);
      if (!payload) return fail('no_text');
      const updated = ws.update(m, payload);
      return json(200, { ok: true, channel: target.slackId, ts: m.platformId, text: payload.text ?? '', message: messageJson(updated) });
    }
    case 'chat.postEphemeral': {
      const target = resolveChannel(ws, f.channel);
      if (!target) return fail('channel_not_found');
      const user = typeof f.user === 'string' ? ws.user(f.user) : undefined;
      if (!user) return fail('user_not_in_channel');
      const payload = content(f);
      if (!payload) return fail('no_text');
      const m = ws.add({
        platform: 'slack',
        via: 'api',
        channel: target,
        author: SLACK_APP.name,
        payload,
        platformId: nextTs(ws),
        visibleTo: user.slackId,
        from: fromOf(req),
      });
      return json(200, { ok: true, message_ts: m.platformId });
    }
    case 'views.open': {
      const trigger = typeof f.trigger_id === 'string' ? ws.handles.get(f.trigger_id) : undefined;
      if (trigger?.kind !== 'trigger' || trigger.platform !== 'slack') return fail('invalid_trigger_id');
      if (trigger.uses > 0) return fail('exchanged_trigger_id');
      const view = jsonField(f.view);
      if (!isObject(view) || view.type !== 'modal' || !Array.isArray(view.blocks)) return fail('invalid_arguments');
      ws.handles.put(f.trigger_id as string, { ...trigger, uses: 1 });
      const id = `V${randomBytes(5).toString('hex').toUpperCase()}`;
      ws.views.put(id, { id, platform: 'slack', user: trigger.user, messageId: trigger.messageId, definition: view, openedAt: ws.clock.now().toISOString() });
      return json(200, { ok: true, view: { id, team_id: SLACK_TEAM.id, ...view, state: { values: {} }, app_id: SLACK_APP.id, bot_id: SLACK_APP.botId } });
    }
    case 'users.info': {
      const user = typeof f.user === 'string' ? ws.user(f.user) : undefined;
      if (!user || user.slackId !== f.user) return fail('user_not_found');
      return json(200, { ok: true, user: userJson(user) });
    }
    default:
      return json(404, { ok: false, error: 'unknown_method', req_method: method });
  }
}

/** Response URLs (`/actions/...`) and incoming webhooks (`/services/T/B/X`). */
function hooks(ws: Workspace, req: OutboundRequest): OutboundResponse {
  if (req.method !== 'POST') return text(405, 'invalid_method');
  const body = parseJson(req.body.toString('utf8'));
  const action = /^\/actions\/[A-Z0-9]+\/\d+\/([a-f0-9]+)$/.exec(req.url.pathname);
  if (action) {
    const handle = ws.handles.get(action[1]);
    if (handle?.kind !== 'response_url' || handle.platform !== 'slack') return json(404, { ok: false, error: 'no_service' });
    if (handle.uses >= RESPONSE_URL_USES || ws.clock.nowMs() - handle.issuedAt > RESPONSE_URL_MS) return json(404, { ok: false, error: 'expired_url' });
    if (!isObject(body)) return json(400, { ok: false, error: 'invalid_payload' });
    ws.handles.put(action[1], { ...handle, uses: handle.uses + 1 });
    const original = ws.messages.get(handle.messageId);
    if (!original) return json(404, { ok: false, error: 'message_not_found' });
    if (body.delete_original === true || body.delete_original === 'true') {
      ws.messages.put(original.id, { ...original, deleted: true });
      return json(200, { ok: true });
    }
    const payload = content(body);
    if (!payload) return json(400, { ok: false, error: 'no_text' });
    if (body.replace_original === true || body.replace_original === 'true') ws.update(original, payload);
    else
      ws.add({
        platform: 'slack',
        via: 'response_url',
        channel: original.channel,
        author: SLACK_APP.name,
        payload,
        platformId: nextTs(ws),
        visibleTo: body.response_type === 'in_channel' ? undefined : handle.user,
        from: fromOf(req),
      });
    return json(200, { ok: true });
  }
  const hook = /^\/services\/(T[A-Z0-9]+)\/(B[A-Z0-9]+)\/([A-Za-z0-9]+)$/.exec(req.url.pathname);
  if (!hook) return text(404, 'no_service');
  if (!isObject(body)) return text(400, 'invalid_payload');
  const payload = content(body);
  if (!payload) return text(400, 'no_text');
  // A webhook posts to the channel it was created for; locally that is the channel its URL names (README).
  const name = `webhook-${hook[2]}`;
  ws.add({
    platform: 'slack',
    via: 'webhook',
    channel: ws.channel(name) ?? { name, slackId: `C${hook[2].slice(1)}`, mattermostId: '' },
    author: 'incoming-webhook',
    payload,
    platformId: nextTs(ws),
    from: fromOf(req),
  });
  return text(200, 'ok', 'text/html');
}

/** A channel id or name, or a user id (the app's DM with that user). */
function resolveChannel(ws: Workspace, ref: unknown) {
  if (typeof ref !== 'string' || !ref) return undefined;
  const channel = ws.channel(ref);
  if (channel) return channel;
  const user = ws.user(ref);
  if (user && user.slackId === ref) return { name: `@${user.name}`, slackId: `D${user.slackId.slice(1)}`, mattermostId: '' };
  return undefined;
}

/** The message content of a request: text, blocks, attachments (form fields carry JSON text). */
function content(f: Record<string, unknown>): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  if (typeof f.text === 'string' && f.text !== '') out.text = f.text;
  const blocks = jsonField(f.blocks);
  if (Array.isArray(blocks) && blocks.length) out.blocks = blocks;
  const attachments = jsonField(f.attachments);
  if (Array.isArray(attachments) && attachments.length) out.attachments = attachments;
  return Object.keys(out).length ? out : undefined;
}

/** `ts`: Unix seconds and a six-digit sequence, unique in the workspace (https://api.slack.com/messaging/retrieving#individual_messages). */
function nextTs(ws: Workspace): string {
  const seconds = Math.floor(ws.clock.nowMs() / 1000);
  let seq = 1;
  while (ws.find('slack', `${seconds}.${String(seq).padStart(6, '0')}`)) seq++;
  return `${seconds}.${String(seq).padStart(6, '0')}`;
}

function fromOf(req: OutboundRequest) {
  return { functionName: req.from.functionName, sourceIp: req.from.sourceIp };
}

export function messageJson(m: ChatMessage): Record<string, unknown> {
  const bot = m.via === 'webhook' ? {} : { user: SLACK_APP.botUserId, bot_id: SLACK_APP.botId, app_id: SLACK_APP.id };
  return {
    type: 'message',
    ...bot,
    text: '',
    ...m.payload,
    ts: m.platformId,
    team: SLACK_TEAM.id,
    ...(m.edits ? { edited: { user: SLACK_APP.botUserId, ts: m.platformId } } : {}),
  };
}

function userJson(u: ChatUser): Record<string, unknown> {
  return {
    id: u.slackId,
    team_id: SLACK_TEAM.id,
    name: u.email.split('@')[0],
    real_name: u.name,
    deleted: false,
    is_bot: false,
    profile: { real_name: u.name, display_name: u.name, email: u.email },
  };
}

/** The buttons of a Slack message: `button` elements of `actions` blocks and section accessories. */
export function slackButtons(payload: Record<string, unknown>): Array<Button & { blockId?: string; value?: string }> {
  const out: Array<Button & { blockId?: string; value?: string }> = [];
  for (const block of Array.isArray(payload.blocks) ? payload.blocks : []) {
    if (!isObject(block)) continue;
    const elements = block.type === 'actions' && Array.isArray(block.elements) ? block.elements : isObject(block.accessory) ? [block.accessory] : [];
    for (const e of elements) {
      if (!isObject(e) || e.type !== 'button') continue;
      out.push({
        id: String(e.action_id ?? ''),
        label: isObject(e.text) ? String(e.text.text ?? '') : '',
        ...(typeof e.style === 'string' && { style: e.style }),
        ...(typeof e.url === 'string' && { url: e.url }),
        ...(typeof block.block_id === 'string' && { blockId: block.block_id }),
        ...(typeof e.value === 'string' && { value: e.value }),
      });
    }
  }
  return out;
}

/** The text of a Slack message, line by line: `text`, then the text of each block, as Slack shows them (raw mrkdwn). */
export function slackLines(payload: Record<string, unknown>): string[] {
  const lines: string[] = [];
  const textOf = (t: unknown) => (isObject(t) && typeof t.text === 'string' ? t.text : undefined);
  const blocks = Array.isArray(payload.blocks) ? payload.blocks.filter(isObject) : [];
  // With blocks, `text` is the notification fallback only ("will be used as fallback text for notifications").
  if (!blocks.length && typeof payload.text === 'string') lines.push(payload.text);
  for (const b of blocks) {
    const own = textOf(b.text);
    if (own) lines.push(own);
    for (const field of Array.isArray(b.fields) ? b.fields : []) {
      const t = textOf(field);
      if (t) lines.push(t);
    }
    if (b.type === 'context') for (const e of Array.isArray(b.elements) ? b.elements : []) textOf(e) && lines.push(textOf(e)!);
  }
  for (const a of Array.isArray(payload.attachments) ? payload.attachments.filter(isObject) : []) {
    for (const k of ['pretext', 'title', 'text', 'fallback'] as const) if (typeof a[k] === 'string') lines.push(a[k] as string);
  }
  return lines;
}

/** The `block_actions` payload Slack sends when `user` clicks `button` on `m`, with a fresh trigger id and response URL. */
export function blockActions(ws: Workspace, m: ChatMessage, button: Button & { blockId?: string; value?: string }, user: ChatUser): Record<string, unknown> {
  const trigger = ws.issue('trigger', 'slack', user.slackId, m.id, (t) => `${Math.floor(ws.clock.nowMs() / 1000)}.${digits(10)}.${t}`);
  const response = ws.issue('response_url', 'slack', user.slackId, m.id);
  return {
    type: 'block_actions',
    user: { id: user.slackId, username: user.email.split('@')[0], name: user.email.split('@')[0], team_id: SLACK_TEAM.id },
    api_app_id: SLACK_APP.id,
    token: 'local-verification-token-unused',
    container: { type: 'message', message_ts: m.platformId, channel_id: m.channel.slackId, is_ephemeral: Boolean(m.visibleTo) },
    trigger_id: trigger,
    team: SLACK_TEAM,
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: m.channel.slackId, name: m.channel.name },
    message: messageJson(m),
    state: { values: {} },
    response_url: `https://hooks.slack.com/actions/${SLACK_TEAM.id}/${digits(13)}/${response}`,
    actions: [
      {
        type: 'button',
        action_id: button.id,
        block_id: button.blockId ?? '',
        text: { type: 'plain_text', text: button.label, emoji: true },
        ...(button.value !== undefined && { value: button.value }),
        ...(button.style && { style: button.style }),
        action_ts: `${(ws.clock.nowMs() / 1000).toFixed(6)}`,
      },
    ],
  };
}

/**
 * The `view_submission` payload for a modal the app opened: each `input` block's element gets `values[block_id]`
 * (its `action_id`), the first plain-text input the comment (https://api.slack.com/reference/interaction-payloads/views).
 */
export function viewSubmission(
  ws: Workspace,
  view: { id: string; definition: Record<string, unknown> },
  user: ChatUser,
  values: string[],
): Record<string, unknown> {
  const state: Record<string, Record<string, unknown>> = {};
  let next = 0;
  for (const b of Array.isArray(view.definition.blocks) ? view.definition.blocks.filter(isObject) : []) {
    if (b.type !== 'input' || !isObject(b.element)) continue;
    const blockId = String(b.block_id ?? '');
    const actionId = String(b.element.action_id ?? '');
    state[blockId] = { [actionId]: { type: b.element.type, value: values[next++] ?? null } };
  }
  return {
    type: 'view_submission',
    team: SLACK_TEAM,
    user: { id: user.slackId, username: user.email.split('@')[0], name: user.email.split('@')[0], team_id: SLACK_TEAM.id },
    api_app_id: SLACK_APP.id,
    token: 'local-verification-token-unused',
    trigger_id: ws.issue('trigger', 'slack', user.slackId, '', (t) => `${Math.floor(ws.clock.nowMs() / 1000)}.${digits(10)}.${t}`),
    view: { ...view.definition, id: view.id, team_id: SLACK_TEAM.id, state: { values: state }, app_id: SLACK_APP.id, bot_id: SLACK_APP.botId },
    response_urls: [],
    is_enterprise_install: false,
  };
}

/** The inputs a modal asks for, in order (the labels the console and the CLI show). */
export function viewInputs(definition: Record<string, unknown>): Array<{ label: string; multiline: boolean; optional: boolean }> {
  return (Array.isArray(definition.blocks) ? definition.blocks.filter(isObject) : [])
    .filter((b) => b.type === 'input' && isObject(b.element))
    .map((b) => ({
      label: isObject(b.label) ? String(b.label.text ?? '') : '',
      multiline: (b.element as Record<string, unknown>).multiline === true,
      optional: b.optional === true,
    }));
}

/** How Slack signs a request to the app: the headers to send with `body`. */
export function slackSignedHeaders(signingSecret: string, nowMs: number, body: string): Record<string, string> {
  const timestamp = String(Math.floor(nowMs / 1000));
  const signature = `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`, 'utf8').digest('hex')}`;
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
    'x-slack-request-timestamp': timestamp,
    'x-slack-signature': signature,
  };
}

function digits(n: number): string {
  return Array.from(randomBytes(n), (b) => String(b % 10)).join('');
}
