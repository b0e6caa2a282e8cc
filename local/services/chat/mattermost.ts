/**
 * Mattermost, as an app sees it: the REST API v4 (https://api.mattermost.com/) and incoming webhooks on the
 * Mattermost host(s) the app's config names, and the requests Mattermost sends when someone clicks a message button
 * or submits an interactive dialog.
 *
 * REST API v4, authenticated with "a personal access token or bot access token ... `Authorization: Bearer <token>`"
 * (https://api.mattermost.com/#tag/authentication); a bad one is 401 with Mattermost's AppError body
 * `{id, message, detailed_error, request_id, status_code}`:
 * - `POST /api/v4/posts` (createPost): `channel_id`, `message`, `props` (`attachments` with `actions`), 201 and the Post;
 * - `PUT /api/v4/posts/{post_id}` (updatePost: the whole post, `id` the path's) and `PUT /api/v4/posts/{post_id}/patch`
 *   (patchPost: `message`, `props`), 200 and the Post;
 * - `POST /api/v4/posts/ephemeral` (createPostEphemeral): `{user_id, post: {channel_id, message}}`, 201;
 * - `POST /api/v4/actions/dialogs/open` (openInteractiveDialog): `{trigger_id, url, dialog}`, 200 `{"status": "OK"}`;
 * - `GET /api/v4/users/{user_id}` (getUser): the User, with `email`.
 * Incoming webhooks (https://developers.mattermost.com/integrate/webhooks/incoming/): `POST /hooks/{key}` with
 * `text` (or `attachments`), optional `channel`; answers "ok".
 *
 * Message buttons (https://developers.mattermost.com/integrate/plugins/interactive-messages/): an attachment action
 * `{id, name, integration: {url, context}}`; a click makes Mattermost POST JSON `{user_id, user_name, channel_id,
 * channel_name, team_id, team_domain, post_id, trigger_id, type, data_source, context}` to `url`, and the answer's
 * `update` (`message`, `props`) replaces the post and `ephemeral_text` is shown to the clicker alone. Mattermost
 * signs none of it: "the context ... can include a secret token" the integration checks, which is how the app
 * authenticates a click. Interactive dialogs (https://developers.mattermost.com/integrate/plugins/interactive-dialogs/):
 * opened with the click's `trigger_id`, submitted as `{type: "dialog_submission", callback_id, state, user_id,
 * channel_id, team_id, submission: {<element name>: value}, cancelled}` to the dialog's `url`.
 */
import { randomBytes } from 'node:crypto';
import type { OutboundRequest, OutboundResponse } from '../../network/internet';
import { bearer, isObject, json, parseJson, text } from './wire';
import { mattermostId, type Button, type ChatMessage, type ChatUser, type Workspace } from './workspace';

export const MATTERMOST_TEAM = { id: mattermostId('team:opsflow'), name: 'opsflow-local' };
export const MATTERMOST_BOT = { id: mattermostId('user:opsflow-bot'), username: 'opsflow' };

/** Mattermost's error body (model.AppError). */
function appError(status: number, id: string, message: string): OutboundResponse {
  return json(status, { id, message, detailed_error: '', request_id: randomBytes(13).toString('hex'), status_code: status });
}

export function handleMattermost(ws: Workspace, req: OutboundRequest): OutboundResponse {
  const path = req.url.pathname;
  const body = parseJson(req.body.toString('utf8'));
  const hook = /^\/hooks\/([a-z0-9]+)$/.exec(path);
  if (hook) {
    if (req.method !== 'POST') return text(405, 'Method Not Allowed');
    if (!isObject(body)) return appError(400, 'api.webhook.incoming.parse.app_error', 'Unable to parse incoming data');
    const message = typeof body.text === 'string' ? body.text : '';
    const props = Array.isArray(body.attachments) ? { attachments: body.attachments } : {};
    if (!message && !props.attachments) return appError(400, 'web.incoming_webhook.text.app_error', 'No text specified');
    const name = typeof body.channel === 'string' && ws.channel(body.channel) ? body.channel : `webhook-${hook[1].slice(0, 8)}`;
    const channel = ws.channel(name) ?? { name, slackId: '', mattermostId: mattermostId(`channel:${name}`) };
    ws.add({
      platform: 'mattermost',
      via: 'webhook',
      channel,
      author: typeof body.username === 'string' ? body.username : 'webhook',
      payload: { message, props },
      platformId: mattermostId(randomBytes(8).toString('hex')),
      from: fromOf(req),
    });
    return text(200, 'ok');
  }
  if (!path.startsWith('/api/v4/')) return appError(404, 'api.context.404.app_error', 'Sorry, we could not find the page.');
  const install = ws.install();
  if (bearer(req) !== install.mattermostBotToken)
    return appError(401, 'api.context.session_expired.app_error', 'Invalid or expired session, please login again.');
  const route = `${req.method} ${path.replace(/^\/api\/v4/, '').replace(/^\/(posts|users)\/(?!ephemeral$)[a-z0-9]{26}/, '/$1/:id')}`;
  const id = /^\/api\/v4\/(?:posts|users)\/([a-z0-9]{26})/.exec(path)?.[1] ?? '';
  const b = isObject(body) ? body : undefined;
  switch (route) {
    case 'POST /posts': {
      if (!b) return appError(400, 'api.context.invalid_body_param.app_error', 'Invalid or missing post in request body.');
      const channel = typeof b.channel_id === 'string' ? ws.channel(b.channel_id) : undefined;
      // createPost checks the channel permission before anything else: an unknown channel is 403 (README "Unconfirmed").
      if (!channel || channel.mattermostId !== b.channel_id)
        return appError(403, 'api.context.permissions.app_error', 'You do not have the appropriate permissions.');
      const m = ws.add({
        platform: 'mattermost',
        via: 'api',
        channel,
        author: MATTERMOST_BOT.username,
        payload: postContent(b),
        platformId: mattermostId(randomBytes(8).toString('hex')),
        from: fromOf(req),
      });
      return json(201, postJson(m));
    }
    case 'PUT /posts/:id': {
      // updatePost replaces the post's message and props; the body's id must be the path's.
      const m = ws.find('mattermost', id);
      if (!m || m.visibleTo) return appError(404, 'app.post.get.app_error', 'Unable to get the post.');
      if (m.via !== 'api') return appError(403, 'api.context.permissions.app_error', 'You do not have the appropriate permissions.');
      if (!b || b.id !== id) return appError(400, 'api.context.invalid_body_param.app_error', 'Invalid or missing post in request body.');
      return json(200, postJson(ws.update(m, postContent(b))));
    }
    case 'PUT /posts/:id/patch': {
      const m = ws.find('mattermost', id);
      if (!m || m.visibleTo) return appError(404, 'app.post.get.app_error', 'Unable to get the post.');
      if (m.via !== 'api') return appError(403, 'api.context.permissions.app_error', 'You do not have the appropriate permissions.');
      if (!b) return appError(400, 'api.context.invalid_body_param.app_error', 'Invalid or missing patch in request body.');
      const payload = { ...m.payload, ...(typeof b.message === 'string' && { message: b.message }), ...(isObject(b.props) && { props: b.props }) };
      return json(200, postJson(ws.update(m, payload)));
    }
    case 'POST /posts/ephemeral': {
      const post = b && isObject(b.post) ? b.post : undefined;
      const user = b && typeof b.user_id === 'string' ? ws.user(b.user_id) : undefined;
      const channel = post && typeof post.channel_id === 'string' ? ws.channel(post.channel_id) : undefined;
      if (!post || !user || !channel) return appError(400, 'api.context.invalid_body_param.app_error', 'Invalid or missing user_id or post in request body.');
      const m = ws.add({
        platform: 'mattermost',
        via: 'api',
        channel,
        author: MATTERMOST_BOT.username,
        payload: postContent(post),
        platformId: mattermostId(randomBytes(8).toString('hex')),
        visibleTo: user.mattermostId,
        from: fromOf(req),
      });
      return json(201, postJson(m));
    }
    case 'POST /actions/dialogs/open': {
      const trigger = b && typeof b.trigger_id === 'string' ? ws.handles.get(b.trigger_id) : undefined;
      if (!b || !isObject(b.dialog) || typeof b.url !== 'string')
        return appError(400, 'api.context.invalid_body_param.app_error', 'Invalid or missing dialog in request body.');
      if (trigger?.kind !== 'trigger' || trigger.platform !== 'mattermost' || trigger.uses > 0)
        return appError(400, 'interactive_message.decode_trigger_id.signature_failed', 'Failed to decode trigger ID for interactive dialog.');
      ws.handles.put(b.trigger_id as string, { ...trigger, uses: 1 });
      const viewId = mattermostId(randomBytes(8).toString('hex'));
      ws.views.put(viewId, {
        id: viewId,
        platform: 'mattermost',
        user: trigger.user,
        messageId: trigger.messageId,
        definition: { ...b.dialog, url: b.url },
        openedAt: ws.clock.now().toISOString(),
      });
      return json(200, { status: 'OK' });
    }
    case 'GET /users/:id': {
      const user = ws.user(id);
      if (!user || user.mattermostId !== id) return appError(404, 'app.user.missing_account.const', 'Unable to find the user.');
      return json(200, userJson(user));
    }
    case 'GET /users/me':
      return json(200, { id: MATTERMOST_BOT.id, username: MATTERMOST_BOT.username, is_bot: true, roles: 'system_user' });
    default:
      return appError(404, 'api.context.404.app_error', 'Sorry, we could not find the page.');
  }
}

function postContent(b: Record<string, unknown>): Record<string, unknown> {
  return { message: typeof b.message === 'string' ? b.message : '', props: isObject(b.props) ? b.props : {} };
}

function fromOf(req: OutboundRequest) {
  return { functionName: req.from.functionName, sourceIp: req.from.sourceIp };
}

export function postJson(m: ChatMessage): Record<string, unknown> {
  const at = Date.parse(m.postedAt);
  const changed = m.updatedAt ? Date.parse(m.updatedAt) : at;
  return {
    id: m.platformId,
    create_at: at,
    update_at: changed,
    edit_at: m.edits ? changed : 0,
    delete_at: 0,
    is_pinned: false,
    user_id: MATTERMOST_BOT.id,
    channel_id: m.channel.mattermostId,
    root_id: '',
    original_id: '',
    message: '',
    type: m.visibleTo ? 'system_ephemeral' : '',
    props: {},
    hashtags: '',
    pending_post_id: '',
    reply_count: 0,
    metadata: {},
    ...m.payload,
  };
}

function userJson(u: ChatUser): Record<string, unknown> {
  const [first, ...rest] = u.name.split(' ');
  return {
    id: u.mattermostId,
    username: u.email.split('@')[0],
    email: u.email,
    // The local workspace's people have verified their addresses (model.User's `email_verified`, left out when false).
    email_verified: true,
    first_name: first,
    last_name: rest.join(' '),
    nickname: '',
    roles: 'system_user',
    is_bot: false,
    delete_at: 0,
  };
}

type MattermostButton = Button & { integration?: { url?: string; context?: unknown } };

/** The buttons of a post: `props.attachments[].actions` of type button (or no type, which is a button). */
export function mattermostButtons(payload: Record<string, unknown>): MattermostButton[] {
  const props = isObject(payload.props) ? payload.props : {};
  const out: MattermostButton[] = [];
  for (const a of Array.isArray(props.attachments) ? props.attachments.filter(isObject) : []) {
    for (const action of Array.isArray(a.actions) ? a.actions.filter(isObject) : []) {
      if (action.type !== undefined && action.type !== 'button') continue;
      out.push({
        id: String(action.id ?? ''),
        label: String(action.name ?? ''),
        ...(typeof action.style === 'string' && { style: action.style }),
        ...(isObject(action.integration) && { integration: action.integration as MattermostButton['integration'] }),
      });
    }
  }
  return out;
}

export function mattermostLines(payload: Record<string, unknown>): string[] {
  const lines = typeof payload.message === 'string' && payload.message ? [payload.message] : [];
  const props = isObject(payload.props) ? payload.props : {};
  for (const a of Array.isArray(props.attachments) ? props.attachments.filter(isObject) : []) {
    for (const k of ['pretext', 'title', 'text'] as const) if (typeof a[k] === 'string' && a[k]) lines.push(a[k] as string);
    for (const f of Array.isArray(a.fields) ? a.fields.filter(isObject) : []) lines.push(`${f.title ?? ''}: ${f.value ?? ''}`);
  }
  return lines;
}

/** The integration request a click on `button` sends (interactive-messages, "Message buttons"). */
export function actionRequest(ws: Workspace, m: ChatMessage, button: MattermostButton, user: ChatUser): Record<string, unknown> {
  return {
    user_id: user.mattermostId,
    user_name: user.email.split('@')[0],
    channel_id: m.channel.mattermostId,
    channel_name: m.channel.name,
    team_id: MATTERMOST_TEAM.id,
    team_domain: MATTERMOST_TEAM.name,
    post_id: m.platformId,
    trigger_id: ws.issue('trigger', 'mattermost', user.mattermostId, m.id, (t) => Buffer.from(`${user.mattermostId}:${t}`).toString('base64url')),
    type: '',
    data_source: '',
    context: button.integration?.context ?? {},
  };
}

/** Applies an integration's answer to a click: `update` replaces the post, `ephemeral_text` goes to the clicker alone. */
export function applyActionResponse(ws: Workspace, m: ChatMessage, user: ChatUser, answer: unknown): string | undefined {
  if (!isObject(answer)) return undefined;
  if (isObject(answer.update)) {
    const u = answer.update;
    ws.update(m, { ...m.payload, ...(typeof u.message === 'string' && { message: u.message }), ...(isObject(u.props) && { props: u.props }) });
  }
  if (typeof answer.ephemeral_text === 'string' && answer.ephemeral_text) {
    ws.add({
      platform: 'mattermost',
      via: 'action_response',
      channel: m.channel,
      author: MATTERMOST_BOT.username,
      payload: { message: answer.ephemeral_text, props: {} },
      platformId: mattermostId(randomBytes(8).toString('hex')),
      visibleTo: user.mattermostId,
    });
    return answer.ephemeral_text;
  }
  return undefined;
}

/** The dialog's elements, in order. */
export function dialogInputs(definition: Record<string, unknown>): Array<{ name: string; label: string; multiline: boolean; optional: boolean }> {
  return (Array.isArray(definition.elements) ? definition.elements.filter(isObject) : []).map((e) => ({
    name: String(e.name ?? ''),
    label: String(e.display_name ?? e.name ?? ''),
    multiline: e.type === 'textarea',
    optional: e.optional === true,
  }));
}

export function dialogSubmission(m: ChatMessage | undefined, definition: Record<string, unknown>, user: ChatUser, values: string[]): Record<string, unknown> {
  const submission = Object.fromEntries(dialogInputs(definition).map((e, i) => [e.name, values[i] ?? '']));
  return {
    type: 'dialog_submission',
    callback_id: definition.callback_id ?? '',
    state: definition.state ?? '',
    user_id: user.mattermostId,
    channel_id: m?.channel.mattermostId ?? '',
    team_id: MATTERMOST_TEAM.id,
    submission,
    cancelled: false,
  };
}
