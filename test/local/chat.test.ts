/**
 * The local chat server in-process: Slack's Web API, response URLs and webhooks, Mattermost's REST API and
 * integration requests, Teams webhooks and outgoing webhooks answer as the platforms do, and a click sends the
 * callback signed so that the app's own check (tasks/shared/chat-auth.ts) accepts it.
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, StateDir } from '../../local/kernel';
import type { OutboundRequest } from '../../local/network/internet';
import { ChatServer, chatCallbackUrls, type Delivery } from '../../local/services/chat/server';
import { verifyChatRequest } from '../../tasks/shared/chat-auth';

const CALLBACK = 'http://127.0.0.1:4566/approval/chat';
const PEOPLE = [
  { name: 'Approver', email: 'approver@example.com' },
  { name: 'Visitor', email: 'visitor@example.com' },
];

let clock: ManualClock;
let chat: ChatServer;
let delivered: Delivery[];
/** What the app answers to the next callback. */
let answer: (d: Delivery) => Promise<{ status: number; body: string }>;

const opened: Array<{ dir: string; state: StateDir }> = [];

function open(dir = mkdtempSync(join(tmpdir(), 'opsflow-chat-'))): ChatServer {
  const state = new StateDir(dir);
  opened.push({ dir, state });
  const server = new ChatServer(
    { state, clock },
    {
      callbackUrls: () => [CALLBACK],
      deliver: (d) => {
        delivered.push(d);
        return answer(d);
      },
    },
  );
  server.configure({ channels: ['ops-approvals'], people: PEOPLE, mattermostHosts: ['mattermost.example.com'] });
  return server;
}

afterEach(() => {
  for (const { dir, state } of opened.splice(0)) {
    state.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

beforeEach(() => {
  clock = new ManualClock(Date.UTC(2030, 0, 1, 9));
  delivered = [];
  answer = async () => ({ status: 200, body: '' });
  chat = open();
});

const from = { functionName: 'Opsflow-ApprovalChat', sourceIp: 'a changing AWS address' };
function request(method: string, url: string, body: unknown, headers: Record<string, string> = {}): OutboundRequest {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const type = typeof body === 'string' ? 'application/x-www-form-urlencoded' : 'application/json; charset=utf-8';
  return { method, url: new URL(url), headers: { 'content-type': type, ...headers }, body: Buffer.from(text), from };
}
async function call(method: string, url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await chat.handle(request(method, url, body, headers));
  const text = res.body.toString();
  return { status: res.status, body: /json/.test(res.headers['content-type'] ?? '') ? JSON.parse(text) : text };
}
const bot = () => ({ authorization: `Bearer ${chat.install().slackBotToken}` });
const approvalBlocks = [
  { type: 'section', text: { type: 'mrkdwn', text: '*Stop i-0abc* requested by alice' } },
  {
    type: 'actions',
    block_id: 'decision',
    elements: [
      { type: 'button', action_id: 'approve', text: { type: 'plain_text', text: 'Approve' }, style: 'primary', value: 'req-1' },
      { type: 'button', action_id: 'reject', text: { type: 'plain_text', text: 'Reject' }, style: 'danger', value: 'req-1' },
    ],
  },
];

describe('Slack Web API', () => {
  it('posts and updates a message with the bot token, answering as Slack does', async () => {
    const posted = await call(
      'POST',
      'https://slack.com/api/chat.postMessage',
      { channel: '#ops-approvals', text: 'Approval needed', blocks: approvalBlocks },
      bot(),
    );
    expect(posted.status).toBe(200);
    expect(posted.body).toMatchObject({ ok: true, channel: expect.stringMatching(/^C[A-Z2-7]{10}$/), ts: expect.stringMatching(/^\d{10}\.\d{6}$/) });
    expect(posted.body.message).toMatchObject({ type: 'message', text: 'Approval needed', blocks: approvalBlocks, bot_id: expect.any(String) });

    const updated = await call(
      'POST',
      'https://slack.com/api/chat.update',
      { channel: posted.body.channel, ts: posted.body.ts, text: 'Approved by Approver', blocks: [] },
      bot(),
    );
    expect(updated.body).toMatchObject({ ok: true, ts: posted.body.ts, text: 'Approved by Approver' });
    const [m] = chat.list();
    expect(m).toMatchObject({ platform: 'slack', channel: 'ops-approvals', lines: ['Approved by Approver'], buttons: [], edits: 1, from });
  });

  it('takes a form-encoded body with blocks as JSON text and the token as a parameter', async () => {
    const form = new URLSearchParams({
      token: chat.install().slackBotToken,
      channel: 'ops-approvals',
      text: 'hi',
      blocks: JSON.stringify(approvalBlocks),
    }).toString();
    const posted = await call('POST', 'https://slack.com/api/chat.postMessage', form);
    expect(posted.body.ok).toBe(true);
    expect(chat.list()[0].buttons.map((b) => b.label)).toEqual(['Approve', 'Reject']);
  });

  it("refuses as Slack refuses: no token, a wrong one, a channel that does not exist, no text, someone else's message", async () => {
    const post = (body: unknown, headers = bot()) => call('POST', 'https://slack.com/api/chat.postMessage', body, headers);
    expect((await post({ channel: 'ops-approvals', text: 'x' }, {} as never)).body).toEqual({ ok: false, error: 'not_authed' });
    expect((await post({ channel: 'ops-approvals', text: 'x' }, { authorization: 'Bearer xoxb-wrong' })).body).toEqual({ ok: false, error: 'invalid_auth' });
    // A JSON body cannot carry the token: "you can't pass the token as a body parameter".
    expect((await post({ token: chat.install().slackBotToken, channel: 'ops-approvals', text: 'x' }, {} as never)).body).toEqual({
      ok: false,
      error: 'not_authed',
    });
    expect((await post({ channel: '#nowhere', text: 'x' })).body).toEqual({ ok: false, error: 'channel_not_found' });
    expect((await post({ channel: 'ops-approvals' })).body).toEqual({ ok: false, error: 'no_text' });
    await call('POST', 'https://hooks.slack.com/services/T000/B000/XXXX', { text: 'from a webhook' });
    const hooked = chat.ws.list()[0];
    expect(
      (await call('POST', 'https://slack.com/api/chat.update', { channel: hooked.channel.slackId, ts: hooked.platformId, text: 'y' }, bot())).body,
    ).toEqual({ ok: false, error: 'cant_update_message' });
    expect((await call('POST', 'https://slack.com/api/chat.update', { channel: 'ops-approvals', ts: '1.000001', text: 'y' }, bot())).body).toEqual({
      ok: false,
      error: 'message_not_found',
    });
  });

  it("answers users.info with the profile's email, and user_not_found", async () => {
    const id = chat.users()[0].slackId;
    expect((await call('GET', `https://slack.com/api/users.info?user=${id}`, '', bot())).body).toMatchObject({
      ok: true,
      user: { id, profile: { email: 'approver@example.com' } },
    });
    expect((await call('GET', 'https://slack.com/api/users.info?user=U999', '', bot())).body).toEqual({ ok: false, error: 'user_not_found' });
  });
});

describe('a click on a Slack button', () => {
  async function postApproval() {
    await call('POST', 'https://slack.com/api/chat.postMessage', { channel: 'ops-approvals', text: 'Approval needed', blocks: approvalBlocks }, bot());
    return chat.list()[0];
  }

  it('sends a block_actions payload signed with the signing secret, which the app accepts', async () => {
    const m = await postApproval();
    const result = await chat.click(m.id, 'Approve', 'approver@example.com');
    expect(result).toMatchObject({ message: m.id, button: 'approve', user: 'Approver', callback: { url: CALLBACK, status: 200 } });
    const [d] = delivered;
    expect(d.url).toBe(CALLBACK);
    expect(d.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const auth = verifyChatRequest({ headers: d.headers, body: d.body }, { slackSigningSecret: chat.install().slackSigningSecret }, clock.nowMs());
    expect(auth).toEqual({ ok: true, platform: 'slack' });
    const payload = JSON.parse(new URLSearchParams(d.body).get('payload')!);
    expect(payload).toMatchObject({
      type: 'block_actions',
      user: { id: chat.users()[0].slackId },
      channel: { name: 'ops-approvals' },
      container: { type: 'message', message_ts: expect.any(String) },
      actions: [{ type: 'button', action_id: 'approve', block_id: 'decision', value: 'req-1' }],
      response_url: expect.stringMatching(/^https:\/\/hooks\.slack\.com\/actions\//),
    });
    // Signed with another secret, the same request is refused by the app's check.
    expect(verifyChatRequest({ headers: d.headers, body: d.body }, { slackSigningSecret: 'another' }, clock.nowMs()).ok).toBe(false);
  });

  it('lets the app replace the message through the response URL, five times at most', async () => {
    const m = await postApproval();
    await chat.click(m.id, 'approve', 'Approver');
    const url = JSON.parse(new URLSearchParams(delivered[0].body).get('payload')!).response_url;
    expect((await call('POST', url, { replace_original: true, text: 'Approved by Approver' })).body).toEqual({ ok: true });
    expect(chat.list()[0]).toMatchObject({ id: m.id, lines: ['Approved by Approver'], buttons: [] });
    for (let i = 0; i < 4; i++) await call('POST', url, { text: `note ${i}` });
    expect(
      chat
        .list()
        .slice(1)
        .every((x) => x.visibleTo === 'Approver'),
    ).toBe(true);
    expect(await call('POST', url, { text: 'sixth' })).toEqual({ status: 404, body: { ok: false, error: 'expired_url' } });
  });

  it('opens the modal the app asks for and submits the comment as view_submission, signed', async () => {
    const m = await postApproval();
    answer = async (d) => {
      const payload = JSON.parse(new URLSearchParams(d.body).get('payload')!);
      if (payload.type === 'block_actions') {
        const view = {
          type: 'modal',
          callback_id: 'reject',
          title: { type: 'plain_text', text: 'Reject' },
          blocks: [
            {
              type: 'input',
              block_id: 'comment',
              label: { type: 'plain_text', text: 'Why?' },
              element: { type: 'plain_text_input', action_id: 'text', multiline: true },
            },
          ],
        };
        const opened = await call('POST', 'https://slack.com/api/views.open', { trigger_id: payload.trigger_id, view }, bot());
        expect(opened.body.ok).toBe(true);
        // A trigger id is good for one view.
        expect((await call('POST', 'https://slack.com/api/views.open', { trigger_id: payload.trigger_id, view }, bot())).body).toEqual({
          ok: false,
          error: 'exchanged_trigger_id',
        });
      }
      return { status: 200, body: '' };
    };
    const result = await chat.click(m.id, 'reject', 'Approver', ['not during the freeze']);
    expect(result.view).toMatchObject({ platform: 'slack', title: 'Reject', user: 'Approver', inputs: [{ label: 'Why?', multiline: true, optional: false }] });
    expect(result.submitted).toMatchObject({ callback: { url: CALLBACK, status: 200 } });
    const submission = delivered[1];
    expect(
      verifyChatRequest({ headers: submission.headers, body: submission.body }, { slackSigningSecret: chat.install().slackSigningSecret }, clock.nowMs()).ok,
    ).toBe(true);
    expect(JSON.parse(new URLSearchParams(submission.body).get('payload')!)).toMatchObject({
      type: 'view_submission',
      view: { callback_id: 'reject', state: { values: { comment: { text: { type: 'plain_text_input', value: 'not during the freeze' } } } } },
    });
    expect(chat.openViews()).toEqual([]);
  });

  it('refuses with the reason: an unknown message, button or person', async () => {
    const m = await postApproval();
    await expect(chat.click('chat-999999', 'approve', 'Approver')).rejects.toThrow('no chat message chat-999999');
    await expect(chat.click(m.id, 'maybe', 'Approver')).rejects.toThrow('has no button "maybe"; its buttons: approve (Approve), reject (Reject)');
    await expect(chat.click(m.id, 'approve', 'mallory')).rejects.toThrow('no chat user "mallory"; the local workspace has: Approver <approver@example.com>');
    expect(delivered).toEqual([]);
  });

  it('keeps messages and secrets across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsflow-chat-'));
    const first = open(dir);
    const secret = first.install().slackSigningSecret;
    chat = first;
    await postApproval();
    await first.ws.state.commit();
    first.ws.state.close();
    const second = open(dir);
    expect(second.install().slackSigningSecret).toBe(secret);
    expect(second.list().map((m) => m.lines)).toEqual([['*Stop i-0abc* requested by alice']]);
  });
});

describe('Mattermost', () => {
  const mm = () => ({ authorization: `Bearer ${chat.install().mattermostBotToken}` });
  const channelId = () => chat.ws.channel('ops-approvals')!.mattermostId;
  const props = {
    attachments: [
      {
        text: 'Stop i-0abc?',
        actions: [
          { id: 'approve', name: 'Approve', integration: { url: CALLBACK, context: { secret: 's3cret', decision: 'approve' } } },
          { id: 'reject', name: 'Reject', integration: { url: CALLBACK, context: { secret: 's3cret', decision: 'reject' } } },
        ],
      },
    ],
  };

  it('creates and patches posts, 401 with a bad token, and sends the integration request on a click', async () => {
    expect(
      await call('POST', 'https://mattermost.example.com/api/v4/posts', { channel_id: channelId(), message: 'x' }, { authorization: 'Bearer nope' }),
    ).toMatchObject({
      status: 401,
      body: { id: 'api.context.session_expired.app_error', status_code: 401 },
    });
    const created = await call('POST', 'https://mattermost.example.com/api/v4/posts', { channel_id: channelId(), message: 'Approval needed', props }, mm());
    expect(created).toMatchObject({
      status: 201,
      body: { id: expect.stringMatching(/^[a-z0-9]{26}$/), channel_id: channelId(), message: 'Approval needed', props },
    });
    answer = async () => ({
      status: 200,
      body: JSON.stringify({ update: { message: 'Approved by Approver', props: {} }, ephemeral_text: 'Your vote is recorded.' }),
    });
    const result = await chat.click(chat.list()[0].id, 'Approve', 'Approver');
    expect(result).toMatchObject({ callback: { url: CALLBACK, status: 200 }, reply: 'Your vote is recorded.' });
    expect(JSON.parse(delivered[0].body)).toMatchObject({
      user_id: chat.users()[0].mattermostId,
      channel_id: channelId(),
      post_id: created.body.id,
      trigger_id: expect.any(String),
      context: { secret: 's3cret', decision: 'approve' },
    });
    expect(chat.list().map((m) => [m.lines, m.visibleTo])).toEqual([
      [['Approved by Approver'], undefined],
      [['Your vote is recorded.'], 'Approver'],
    ]);
    const patched = await call('PUT', `https://mattermost.example.com/api/v4/posts/${created.body.id}/patch`, { message: 'closed' }, mm());
    expect(patched).toMatchObject({ status: 200, body: { id: created.body.id, message: 'closed', edit_at: expect.any(Number) } });
    // updatePost replaces the whole post; the body's id must be the path's.
    const url = `https://mattermost.example.com/api/v4/posts/${created.body.id}`;
    expect(await call('PUT', url, { id: created.body.id, message: 'Approved', props: {} }, mm())).toMatchObject({
      status: 200,
      body: { message: 'Approved', props: {} },
    });
    expect((await call('PUT', url, { id: 'x', message: 'y' }, mm())).status).toBe(400);
  });

  it("gives a person's verified address (getUser), which approvals in chat require before a vote counts", async () => {
    const person = chat.users()[0];
    expect(await call('GET', `https://mattermost.example.com/api/v4/users/${person.mattermostId}`, '', mm())).toMatchObject({
      status: 200,
      body: { id: person.mattermostId, email: person.email, email_verified: true },
    });
  });

  it('answers incoming webhooks "ok" and serves only the configured host', async () => {
    expect(chat.serves('mattermost.example.com')).toBe(true);
    expect(chat.serves('chat.other.example')).toBe(false);
    expect(await call('POST', 'https://mattermost.example.com/hooks/abc123', { text: 'TagPolicy report' })).toEqual({ status: 200, body: 'ok' });
  });
});

describe('Teams', () => {
  it('takes a MessageCard on an incoming webhook ("1") and an Adaptive Card on a Workflows URL (202)', async () => {
    const hook = 'https://contoso.webhook.office.com/webhookb2/aaaa@bbbb/IncomingWebhook/cccc/dddd';
    expect(
      await call('POST', hook, {
        '@type': 'MessageCard',
        summary: 'Failure',
        title: 'Ec2Schedule failed',
        potentialAction: [{ '@type': 'OpenUri', name: 'Open', targets: [{ os: 'default', uri: 'http://127.0.0.1:4566/x' }] }],
      }),
    ).toEqual({ status: 200, body: '1' });
    const flow = 'https://prod-01.westus.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=xyz';
    const card = {
      type: 'message',
      attachments: [
        { contentType: 'application/vnd.microsoft.card.adaptive', content: { type: 'AdaptiveCard', body: [{ type: 'TextBlock', text: 'Report' }] } },
      ],
    };
    expect(await call('POST', flow, card)).toEqual({ status: 202, body: '' });
    expect((await call('POST', flow.replace('&sig=xyz', ''), card)).status).toBe(401);
    expect(chat.list().map((m) => [m.lines, m.buttons])).toEqual([
      [['Ec2Schedule failed'], [{ id: 'action-1', label: 'Open', url: 'http://127.0.0.1:4566/x' }]],
      [['Report'], []],
    ]);
    // A link button opens its URL; nothing goes to the app.
    expect(await chat.click(chat.list()[0].id, 'Open', 'Approver')).toMatchObject({ opened: 'http://127.0.0.1:4566/x' });
    expect(delivered).toEqual([]);
  });

  it('posts through the webhook the install hands out into its channel', async () => {
    const url = (chat.secretFields().teamsWebhooks as Record<string, string>)['ops-approvals'];
    expect(await call('POST', url, { '@type': 'MessageCard', text: 'Approval needed' })).toEqual({ status: 200, body: '1' });
    expect(chat.list()[0]).toMatchObject({ platform: 'teams', channel: 'ops-approvals', lines: ['Approval needed'] });
  });

  it("sends an @mention to the outgoing webhook signed with HMAC-SHA256 of the body, keyed with the token's bytes", async () => {
    answer = async () => ({ status: 200, body: JSON.stringify({ type: 'message', text: 'Approved.' }) });
    const out = await chat.mention('Approver', 'approve req-1');
    expect(out).toEqual({ callback: { url: CALLBACK, status: 200 }, reply: 'Approved.' });
    const d = delivered[0];
    const expected = createHmac('sha256', Buffer.from(chat.install().teamsHmacKey, 'base64')).update(d.body).digest('base64');
    expect(d.headers.authorization).toBe(`HMAC ${expected}`);
    expect(JSON.parse(d.body)).toMatchObject({
      type: 'message',
      text: '<at>opsflow</at> approve req-1',
      from: { name: 'Approver' },
      entities: [{ type: 'mention' }],
    });
  });
});

describe('chatCallbackUrls', () => {
  it('takes the stack outputs whose key ends in ChatCallbackUrl', () => {
    expect(chatCallbackUrls({ ApprovalChatCallbackUrl: 'http://a/chat', Ec2ControlApiUrl: 'http://b', OtherChatCallbackUrl: 'http://c' })).toEqual([
      'http://a/chat',
      'http://c',
    ]);
  });
});
