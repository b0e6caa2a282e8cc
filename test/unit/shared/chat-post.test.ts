/**
 * The chat client against a fetch stub: what each platform's API is sent (URL, token, body), how a message renders
 * literally, and which named error each failure becomes.
 */
import { describe, expect, it } from 'vitest';
import { teamsSignature, verifyTeamsRequest } from '../../../tasks/shared/chat-auth';
import { renderNotice } from '../../../tasks/shared/chat-notice';
import {
  ChatApiError,
  ChatErrorNames,
  chatClient,
  literalMarkdown,
  literalSlack,
  mattermostPost,
  slackBlocks,
  teamsCard,
  type ChatMessage,
} from '../../../tasks/shared/chat-post';

interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

/** A fetch that records each call and answers from `answers` in turn (status, JSON body, headers). */
function stub(...answers: Array<{ status?: number; body?: unknown; headers?: Record<string, string> } | Error>) {
  const calls: Call[] = [];
  const fetch = (async (url: string, init: RequestInit) => {
    calls.push({ url, method: init.method!, headers: init.headers as Record<string, string>, body: init.body ? JSON.parse(init.body as string) : undefined });
    const a = answers.shift() ?? {};
    if (a instanceof Error) throw a;
    return new Response(a.body === undefined ? '' : typeof a.body === 'string' ? a.body : JSON.stringify(a.body), {
      status: a.status ?? 200,
      headers: a.headers,
    });
  }) as unknown as typeof globalThis.fetch;
  return { fetch, calls };
}

const MM_CHANNEL = 'qmd5oqtwoibz8cuzxzg5ekshgr';
const MM_POST = 'k3jbw5ihfpfzbbhwqaydkw1y6c';
const secrets = {
  slackBotToken: 'xoxb-test',
  mattermostBotToken: 'mm-bot',
  teamsWebhooks: { ops: 'https://example.webhook.office.com/webhookb2/abc' },
};
const message: ChatMessage = {
  title: 'Deploy <!channel> *now*',
  lines: ['Requested by @here & <http://evil|click>'],
  fields: [{ label: 'Deadline', value: '2026-12-07T10:00:00Z' }],
  buttons: [
    { id: 'approve', label: 'Approve', style: 'primary', value: 'r1', callback: { url: 'https://api.example/chat', context: { ref: 'r1' } } },
    { id: 'reject', label: 'Reject', style: 'danger', value: 'r1', callback: { url: 'https://api.example/chat', context: { ref: 'r1' } } },
  ],
};

describe('Slack Web API', () => {
  it('posts with the bot token as a Bearer header and a JSON body, and returns the channel and ts', async () => {
    const { fetch, calls } = stub({ body: { ok: true, channel: 'D024BE91L', ts: '1503435956.000247' } });
    const posted = await chatClient({ secrets, fetch }).post({ platform: 'slack', channel: 'U0123ABCD' }, message);
    expect(posted).toEqual({ platform: 'slack', channel: 'D024BE91L', id: '1503435956.000247' });
    expect(calls[0]).toMatchObject({ url: 'https://slack.com/api/chat.postMessage', method: 'POST', headers: { authorization: 'Bearer xoxb-test' } });
    expect(calls[0].body).toMatchObject({ channel: 'U0123ABCD', unfurl_links: false });
  });

  it('updates by channel and ts, answers privately, opens a modal, and answers through response_url', async () => {
    const { fetch, calls } = stub({ body: { ok: true } }, { body: { ok: true } }, { body: { ok: true } }, { body: '' });
    const chat = chatClient({ secrets, fetch });
    await chat.update({ platform: 'slack', channel: 'C1', id: '1.2' }, { title: 'done' });
    await chat.ephemeral({ platform: 'slack', channel: 'C1' }, 'U1', 'not <you>');
    await chat.openModal('trigger-1', { type: 'modal' });
    await chat.respond('https://hooks.slack.com/actions/T1/1/abc', 'refused');
    expect(calls.map((c) => c.url)).toEqual([
      'https://slack.com/api/chat.update',
      'https://slack.com/api/chat.postEphemeral',
      'https://slack.com/api/views.open',
      'https://hooks.slack.com/actions/T1/1/abc',
    ]);
    expect(calls[0].body).toMatchObject({ channel: 'C1', ts: '1.2' });
    expect(calls[1].body).toEqual({ channel: 'C1', user: 'U1', text: 'not &lt;you&gt;' });
    expect(calls[3].body).toEqual({ response_type: 'ephemeral', replace_original: false, text: 'refused' });
    expect(calls[3].headers.authorization).toBeUndefined();
  });

  it("refuses a response_url that is not Slack's, without calling it", async () => {
    const { fetch, calls } = stub();
    await expect(chatClient({ secrets, fetch }).respond('https://evil.example/x', 'hi')).rejects.toThrow('not a Slack response URL (evil.example)');
    await expect(chatClient({ secrets, fetch }).respond('http://hooks.slack.com/x', 'hi')).rejects.toThrow(ChatApiError);
    expect(calls).toEqual([]);
  });

  it('turns ok:false, 429 and a network failure into named errors that hold no token', async () => {
    const { fetch } = stub(
      { body: { ok: false, error: 'channel_not_found' } },
      { status: 429, headers: { 'retry-after': '30' } },
      new TypeError('fetch failed'),
    );
    const chat = chatClient({ secrets, fetch });
    const target = { platform: 'slack', channel: 'C404' } as const;
    await expect(chat.post(target, message)).rejects.toMatchObject({
      name: ChatErrorNames.ApiError,
      code: 'channel_not_found',
      message: 'slack chat.postMessage failed: channel_not_found (HTTP 200)',
    });
    await expect(chat.post(target, message)).rejects.toMatchObject({ name: ChatErrorNames.RateLimited, retryAfterSeconds: 30 });
    const unreachable = await chat.post(target, message).catch((e: Error) => e);
    expect(unreachable).toMatchObject({ name: ChatErrorNames.Unreachable, message: 'slack chat.postMessage: no answer (TypeError)' });
    expect(JSON.stringify(unreachable)).not.toContain('xoxb');
  });

  it('says Chat.NotConfigured when the bot token is not set', async () => {
    const { fetch, calls } = stub();
    await expect(chatClient({ secrets: {}, fetch }).post({ platform: 'slack', channel: 'C1' }, message)).rejects.toMatchObject({
      name: ChatErrorNames.NotConfigured,
      message: 'slack: the bot token (chat secret slackBotToken) is not configured',
    });
    expect(calls).toEqual([]);
  });

  it("reads a user's address with users.info, and whether Slack confirmed it", async () => {
    const { fetch, calls } = stub(
      { body: { ok: true, user: { id: 'U1', is_email_confirmed: true, profile: { email: 'Lead@Example.com' } } } },
      { body: { ok: true, user: { id: 'U2', is_email_confirmed: false, profile: { email: 'x@example.com' } } } },
      { body: { ok: true, user: { id: 'U3', is_bot: true, profile: { email: 'bot@example.com' } } } },
    );
    const chat = chatClient({ secrets, fetch });
    expect(await chat.userEmail('slack', 'U1')).toEqual({ email: 'Lead@Example.com', verified: true });
    expect(await chat.userEmail('slack', 'U2')).toEqual({ email: 'x@example.com', verified: false });
    expect(await chat.userEmail('slack', 'U3')).toEqual({ email: undefined, verified: false });
    expect(calls[0]).toMatchObject({ url: 'https://slack.com/api/users.info?user=U1', method: 'GET', headers: { authorization: 'Bearer xoxb-test' } });
  });

  it('renders every text literally: plain_text blocks, and &, <, > escaped in the fallback text', () => {
    const { text, blocks } = slackBlocks(message);
    expect(text).toContain('Deploy &lt;!channel&gt; *now*');
    expect(text).not.toMatch(/<[!h]/);
    expect(blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'Deploy <!channel> *now*', emoji: false } });
    expect(blocks.at(-1)).toMatchObject({
      type: 'actions',
      elements: [
        { action_id: 'approve', value: 'r1', style: 'primary' },
        { action_id: 'reject', style: 'danger' },
      ],
    });
    expect(literalSlack('a & <b>')).toBe('a &amp; &lt;b&gt;');
  });
});

describe('Mattermost REST API v4', () => {
  it('posts attachments with buttons that call back, updates the whole post, answers privately and opens a dialog', async () => {
    const { fetch, calls } = stub({ status: 201, body: { id: MM_POST } }, { body: { id: MM_POST } }, { status: 201, body: {} }, { body: {} });
    const chat = chatClient({ secrets, fetch, mattermostUrl: 'https://mm.example.com/' });
    const posted = await chat.post({ platform: 'mattermost', channel: MM_CHANNEL }, message);
    expect(posted).toEqual({ platform: 'mattermost', channel: MM_CHANNEL, id: MM_POST });
    await chat.update(posted, { title: 'done' });
    await chat.ephemeral({ platform: 'mattermost', channel: MM_CHANNEL }, 'u5z7h1nwmfgzdpw1p1n5ckzbxc', 'no');
    await chat.openDialog('trig', 'https://api.example/chat', { callback_id: 'x' });
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      'POST https://mm.example.com/api/v4/posts',
      `PUT https://mm.example.com/api/v4/posts/${MM_POST}/patch`,
      'POST https://mm.example.com/api/v4/posts/ephemeral',
      'POST https://mm.example.com/api/v4/actions/dialogs/open',
    ]);
    expect(calls[0].headers.authorization).toBe('Bearer mm-bot');
    const attachment = (calls[0].body as { props: { attachments: any[] } }).props.attachments[0];
    expect(attachment.actions).toEqual([
      { id: 'approve', name: 'Approve', type: 'button', style: 'primary', integration: { url: 'https://api.example/chat', context: { ref: 'r1' } } },
      { id: 'reject', name: 'Reject', type: 'button', style: 'danger', integration: { url: 'https://api.example/chat', context: { ref: 'r1' } } },
    ]);
    expect(calls[1].body).toMatchObject({ message: '', props: { attachments: [{ title: 'done' }] } });
    expect(calls[2].body).toEqual({ user_id: 'u5z7h1nwmfgzdpw1p1n5ckzbxc', post: { channel_id: MM_CHANNEL, message: 'no' } });
    expect(calls[3].body).toEqual({ trigger_id: 'trig', url: 'https://api.example/chat', dialog: { callback_id: 'x' } });
  });

  it('names the error id Mattermost answers, and refuses ids that are not Mattermost ids before calling', async () => {
    const { fetch, calls } = stub({ status: 403, body: { id: 'api.context.permissions.app_error', message: 'no', status_code: 403 } });
    const chat = chatClient({ secrets, fetch, mattermostUrl: 'https://mm.example.com' });
    await expect(chat.post({ platform: 'mattermost', channel: MM_CHANNEL }, { title: 't' })).rejects.toMatchObject({
      name: ChatErrorNames.ApiError,
      status: 403,
      code: 'api.context.permissions.app_error',
    });
    await expect(chat.post({ platform: 'mattermost', channel: '../users/me' }, { title: 't' })).rejects.toThrow('not a Mattermost id');
    expect(calls).toHaveLength(1);
    await expect(chatClient({ secrets, fetch }).post({ platform: 'mattermost', channel: MM_CHANNEL }, { title: 't' })).rejects.toMatchObject({
      name: ChatErrorNames.NotConfigured,
    });
  });

  it("reads a user's address and whether Mattermost verified it", async () => {
    const { fetch } = stub({ body: { id: 'u1', email: 'lead@example.com', email_verified: true } }, { body: { id: 'u2', email: 'x@example.com' } });
    const chat = chatClient({ secrets, fetch, mattermostUrl: 'https://mm.example.com' });
    expect(await chat.userEmail('mattermost', 'u5z7h1nwmfgzdpw1p1n5ckzbxc')).toEqual({ email: 'lead@example.com', verified: true });
    // email_verified is left out of the JSON when false (omitempty): not verified.
    expect(await chat.userEmail('mattermost', 'u5z7h1nwmfgzdpw1p1n5ckzbxc')).toEqual({ email: 'x@example.com', verified: false });
  });

  it('renders markdown literally: punctuation backslash-escaped, @ kept from mentioning', () => {
    const { props } = mattermostPost({ title: '*bold* @channel', lines: ['[x](http://evil) | `code`'] });
    expect(props.attachments[0]).toMatchObject({ title: '\\*bold\\* @\u2060channel', text: '\\[x\\]\\(http\\:\\/\\/evil\\) \\| \\`code\\`' });
    expect(literalMarkdown('a_b')).toBe('a\\_b');
  });
});

describe('Teams incoming webhooks and outgoing-webhook HMAC', () => {
  it('posts an Adaptive Card to the channel webhook, and an update as a follow-up', async () => {
    const { fetch, calls } = stub({ body: '1' }, { status: 202 });
    const chat = chatClient({ secrets, fetch });
    const posted = await chat.post({ platform: 'teams', channel: 'ops' }, { title: 'Deploy?', fields: [{ label: 'By', value: 'ci' }] });
    await chat.update(posted, { title: 'Approved' });
    expect(calls.map((c) => c.url)).toEqual([secrets.teamsWebhooks.ops, secrets.teamsWebhooks.ops]);
    expect(calls[0].body).toMatchObject({ type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive' }] });
  });

  it('cannot carry buttons or private answers, and names a channel without a webhook', async () => {
    const { fetch } = stub();
    const chat = chatClient({ secrets, fetch });
    expect(() => teamsCard(message)).toThrow(expect.objectContaining({ name: ChatErrorNames.Unsupported }));
    await expect(chat.ephemeral({ platform: 'teams', channel: 'ops' }, 'x', 'y')).rejects.toMatchObject({ name: ChatErrorNames.Unsupported });
    await expect(chat.post({ platform: 'teams', channel: 'dev' }, { title: 't' })).rejects.toThrow(
      'the incoming webhook of channel dev (chat secret teamsWebhooks.dev)',
    );
  });

  it('a webhook URL never appears in an error', async () => {
    const { fetch } = stub(new TypeError(`fetch failed: ${secrets.teamsWebhooks.ops}`));
    const error = await chatClient({ secrets, fetch })
      .post({ platform: 'teams', channel: 'ops' }, { title: 't' })
      .catch((e: Error) => e);
    expect(String(error)).not.toContain('webhookb2');
  });

  it('verifies HMAC-SHA256 of the body under the base64-decoded security token, and refuses forged or unsigned requests', () => {
    const key = Buffer.from('a-32-byte-teams-security-token!!').toString('base64');
    const body = '{"type":"message","text":"<at>opsflow</at> approve abc"}';
    const signed = { headers: { authorization: `HMAC ${teamsSignature(key, body)}` }, body };
    expect(verifyTeamsRequest(signed, key)).toEqual({ ok: true, platform: 'teams' });
    // Keyed with the token's text rather than its decoded bytes: a common mistake, refused.
    const wrongKey = { headers: { authorization: `HMAC ${teamsSignature(Buffer.from(key).toString('base64'), body)}` }, body };
    expect(verifyTeamsRequest(wrongKey, key)).toMatchObject({ ok: false, reason: 'the Teams HMAC does not match the request' });
    expect(verifyTeamsRequest({ ...signed, body: body.replace('approve', 'reject') }, key)).toMatchObject({ ok: false });
    expect(verifyTeamsRequest({ headers: {}, body }, key)).toMatchObject({ ok: false, reason: 'a Teams request needs Authorization: HMAC <base64 signature>' });
    expect(verifyTeamsRequest(signed, undefined)).toMatchObject({ ok: false, reason: 'no Teams HMAC key is configured for this deployment' });
  });
});

describe('postRendered (notifications: tasks/shared/chat-notice.ts)', () => {
  const notice = {
    tone: 'failure' as const,
    title: 'TagPolicy failed',
    facts: [{ label: 'Error', value: [{ literal: '<!here>' }] }],
    lines: [],
    link: { url: 'https://eu-west-1.console.aws.amazon.com/states/home', label: 'Open the execution' },
  };

  it('sends the rendered body to each platform as post does, with the channel and the credential', async () => {
    const s = stub({ body: { ok: true, channel: 'C0123ABCD', ts: '1.2' } }, { status: 201, body: { id: MM_POST } }, { body: '1' });
    const chat = chatClient({ secrets, fetch: s.fetch, mattermostUrl: 'https://chat.example.com' });
    expect(await chat.postRendered({ platform: 'slack', channel: 'C0123ABCD' }, renderNotice('slack', notice))).toEqual({
      platform: 'slack',
      channel: 'C0123ABCD',
      id: '1.2',
    });
    await chat.postRendered({ platform: 'mattermost', channel: MM_CHANNEL }, renderNotice('mattermost', notice));
    await chat.postRendered({ platform: 'teams', channel: 'ops' }, renderNotice('teams', notice));
    expect(s.calls.map((c) => [c.url, c.headers.authorization])).toEqual([
      ['https://slack.com/api/chat.postMessage', 'Bearer xoxb-test'],
      ['https://chat.example.com/api/v4/posts', 'Bearer mm-bot'],
      ['https://example.webhook.office.com/webhookb2/abc', undefined],
    ]);
    expect(s.calls[0].body).toEqual({ channel: 'C0123ABCD', ...renderNotice('slack', notice).body, unfurl_links: false });
    expect(s.calls[1].body).toEqual({ channel_id: MM_CHANNEL, ...renderNotice('mattermost', notice).body });
    expect(s.calls[2].body).toEqual(renderNotice('teams', notice).body);
  });

  it('refuses a body rendered for another platform', async () => {
    const chat = chatClient({ secrets, fetch: stub().fetch });
    await expect(chat.postRendered({ platform: 'teams', channel: 'ops' }, renderNotice('slack', notice))).rejects.toMatchObject({
      name: ChatErrorNames.Unsupported,
      message: 'teams: a message rendered for slack is not possible',
    });
  });
});
