/**
 * Votes from chat (core/chat.ts): authenticated as each platform specifies, counted by the email page's own rule
 * (castVote), and the request's messages updated. The chat client is a recording fake; SFN is mocked.
 */
import { mockClient } from 'aws-sdk-client-mock';
import { DescribeExecutionCommand, SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { handleChatCallback, type ChatCallbackDeps } from '../../../tasks/approval/core/chat';
import { hashSecret } from '../../../tasks/approval/core/links';
import type { ApprovalRecord } from '../../../tasks/approval/core/types';
import { slackSignature, teamsSignature, type ChatSecrets } from '../../../tasks/shared/chat-auth';
import type { ChatClient, ChatMessage, PostedMessage } from '../../../tasks/shared/chat-post';
import { httpRequest } from '../shared/http-request';
import { FakeTable, NOW, pendingRecord, recordingLog } from './fakes';

const sfn = mockClient(SFNClient);
const SIGNING = 'slack-signing-secret-0123456789abcdef';
const TEAMS_KEY = Buffer.from('teams-outgoing-webhook-key-32-b!').toString('base64');
const MM_SECRET = 'mattermost-per-request-secret-AAAAAAAAAAAAAAAA';
const MM_POST = 'k3jbw5ihfpfzbbhwqaydkw1y6c';
const secrets: ChatSecrets = { slackSigningSecret: SIGNING, slackBotToken: 'xoxb-1', mattermostBotToken: 'mm', teamsHmacKey: TEAMS_KEY };
/** Chat users and what their profiles say. */
const PROFILES: Record<string, { email?: string; verified: boolean }> = {
  UALICE: { email: 'Alice@Example.com', verified: true },
  UBOB: { email: 'bob@example.com', verified: true },
  UMALLORY: { email: 'mallory@example.com', verified: true },
  UUNVERIFIED: { email: 'bob@example.com', verified: false },
  alicemattermostuser0000000: { email: 'alice@example.com', verified: true },
};
const TEAMS_BOB = '6f1c3a4e-0b2d-4c5e-9f70-1a2b3c4d5e6f';

let table: FakeTable;
let now: Date;
let calls: Array<{ call: string; args: unknown[] }>;

function fakeClient(): ChatClient {
  const rec =
    (call: string) =>
    async (...args: unknown[]) => {
      calls.push({ call, args });
      return undefined as never;
    };
  return {
    post: rec('post'),
    update: rec('update'),
    ephemeral: rec('ephemeral'),
    respond: rec('respond'),
    postRendered: rec('postRendered'),
    openModal: rec('openModal'),
    openDialog: rec('openDialog'),
    userEmail: async (_platform, user) => PROFILES[user] ?? { email: undefined, verified: false },
  } as ChatClient;
}

function deps(): ChatCallbackDeps {
  return {
    store: table.store,
    sfn: new SFNClient({ region: 'us-east-1' }),
    now: () => now,
    log: recordingLog(),
    secrets: { get: async () => secrets },
    chatClient: () => fakeClient(),
    approverMap: { [`teams:${TEAMS_BOB}`]: 'bob@example.com' },
    callbackUrl: 'https://api.example.com/chat/approvals',
    chat: { client: async () => fakeClient(), callbackUrl: 'https://api.example.com/chat/approvals' },
  };
}

function seed(overrides: Partial<ApprovalRecord> = {}): ApprovalRecord {
  const record = pendingRecord({
    requestedBy: 'ops@example.com',
    chat: {
      secretHashes: [hashSecret(MM_SECRET)],
      posts: [
        { platform: 'slack', channel: 'C0123ABCD', id: '1700000000.000100', shows: 'pending:0' },
        { platform: 'mattermost', channel: 'qmd5oqtwoibz8cuzxzg5ekshgr', id: MM_POST, shows: 'pending:0' },
      ],
    },
    ...overrides,
  });
  table.insert(record);
  return record;
}

const seconds = () => String(Math.floor(now.getTime() / 1000));
/** A Slack interaction, signed as Slack signs it (or with `secret`, at `timestamp`). */
function slack(payload: unknown, opts: { secret?: string; timestamp?: string } = {}) {
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const timestamp = opts.timestamp ?? seconds();
  return httpRequest({
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': slackSignature(opts.secret ?? SIGNING, timestamp, body),
    },
    body,
  });
}
const click = (user: string, action: 'approve' | 'reject', id: string) => ({
  type: 'block_actions',
  user: { id: user },
  trigger_id: 'trigger-1',
  response_url: 'https://hooks.slack.com/actions/T1/1/x',
  actions: [{ action_id: action, value: id }],
});
const mattermost = (body: unknown) => httpRequest({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const mmClick = (user: string, action: string, ref: string, secret = MM_SECRET) => ({ user_id: user, trigger_id: 'tr', context: { action, ref, secret } });
function teams(text: string, user = TEAMS_BOB, key = TEAMS_KEY) {
  const body = JSON.stringify({ type: 'message', text: `<at>opsflow</at> ${text}`, from: { id: '29:1', aadObjectId: user } });
  return httpRequest({ method: 'POST', headers: { 'content-type': 'application/json', authorization: `HMAC ${teamsSignature(key, body)}` }, body });
}
const said = () => calls.filter((c) => c.call === 'respond').map((c) => c.args[1]);
const updates = () => calls.filter((c) => c.call === 'update').map((c) => [(c.args[0] as PostedMessage).platform, (c.args[1] as ChatMessage).title]);

beforeEach(() => {
  sfn.reset();
  sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
  table = new FakeTable();
  now = NOW;
  calls = [];
});

describe('Slack buttons', () => {
  it('records an approval under the clicker’s confirmed address, and the next approver’s click decides (quorum 2)', async () => {
    const record = seed({ quorum: 2 });
    expect((await handleChatCallback(slack(click('UALICE', 'approve', record.id)), deps())).statusCode).toBe(200);
    expect(said()).toEqual([`Your approval of "${record.title}" is recorded: 1 of 2 approvals.`]);
    expect(updates()).toEqual([
      ['slack', `Approval requested: ${record.title}`],
      ['mattermost', `Approval requested: ${record.title}`],
    ]);
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);

    calls = [];
    await handleChatCallback(slack(click('UBOB', 'approve', record.id)), deps());
    expect(said()).toEqual([`Approved: your vote decided "${record.title}".`]);
    const output = JSON.parse(sfn.commandCalls(SendTaskSuccessCommand)[0].args[0].input.output!);
    expect(output).toMatchObject({ decision: 'approved', approvers: ['alice@example.com', 'bob@example.com'] });
    expect(updates()).toEqual([
      ['slack', `Approved: ${record.title}`],
      ['mattermost', `Approved: ${record.title}`],
    ]);
    const stored = table.record(record.id);
    expect(stored.votes.map((v) => v.via)).toEqual([
      { platform: 'slack', user: 'UALICE' },
      { platform: 'slack', user: 'UBOB' },
    ]);
    expect(stored.chat!.posts.map((p) => p.shows)).toEqual(['approved', 'approved']);
  });

  it('counts an email vote and a chat vote together', async () => {
    const record = seed({ quorum: 2, votes: [{ approver: 'alice@example.com', decision: 'approved', comment: null, at: NOW.toISOString() }] });
    await handleChatCallback(slack(click('UBOB', 'approve', record.id)), deps());
    expect(sfn).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 1);
    expect(table.record(record.id).decision).toMatchObject({
      decision: 'approved',
      approver: 'bob@example.com',
      approvers: ['alice@example.com', 'bob@example.com'],
    });
  });

  it('refuses a replayed click (409 on the page): nothing changes', async () => {
    const record = seed({ quorum: 2 });
    const request = slack(click('UALICE', 'approve', record.id));
    await handleChatCallback(request, deps());
    const puts = table.mock.commandCalls(PutCommand).length;
    calls = [];
    await handleChatCallback(request, deps());
    expect(said()[0]).toMatch(/^You already voted on "Stop i-0123 in prod" \(approved at 2030-01-01 10:00 UTC\): nothing changed\.$/);
    expect(table.mock.commandCalls(PutCommand)).toHaveLength(puts);
  });

  it('refuses a later vote on a decided request with who decided', async () => {
    const record = seed();
    await handleChatCallback(slack(click('UALICE', 'approve', record.id)), deps());
    calls = [];
    await handleChatCallback(slack(click('UBOB', 'approve', record.id)), deps());
    expect(said()).toEqual([`"${record.title}" was already approved by alice@example.com at 2030-01-01 10:00 UTC: your vote was not counted.`]);
    expect(sfn).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 1);
  });

  it('tells a non-approver, an unconfirmed address and the requester privately, and records nothing', async () => {
    const record = seed({ requestedBy: 'bob@example.com' });
    await handleChatCallback(slack(click('UMALLORY', 'approve', record.id)), deps());
    await handleChatCallback(slack(click('UUNVERIFIED', 'approve', record.id)), deps());
    await handleChatCallback(slack(click('UBOB', 'approve', record.id)), deps());
    expect(said()).toEqual([
      `You (mallory@example.com) are not an approver of "${record.title}": nothing was recorded.`,
      'Your chat address bob@example.com is not verified, so you cannot vote here: nothing was recorded.',
      `You asked for "${record.title}": you cannot approve your own request. Nothing was recorded.`,
    ]);
    expect(table.mock).not.toHaveReceivedCommand(PutCommand);
  });

  it('refuses forged, stale and unsigned requests with 401 before reading anything', async () => {
    const record = seed();
    const forged = await handleChatCallback(slack(click('UALICE', 'approve', record.id), { secret: 'not-the-secret' }), deps());
    const stale = await handleChatCallback(slack(click('UALICE', 'approve', record.id), { timestamp: String(Math.floor(NOW.getTime() / 1000) - 301) }), deps());
    expect([forged.statusCode, stale.statusCode]).toEqual([401, 401]);
    expect(JSON.parse(stale.body).text).toBe('Unauthorized: X-Slack-Request-Timestamp is more than 5 minutes from now (a replay?).');
    expect(table.mock).not.toHaveReceivedCommand(PutCommand);
    expect(calls).toEqual([]);
  });

  it('asks for a comment in a modal on Reject, and rejects with it on submission', async () => {
    const record = seed();
    await handleChatCallback(slack(click('UALICE', 'reject', record.id)), deps());
    expect(calls.map((c) => c.call)).toEqual(['openModal']);
    expect(calls[0].args[1]).toMatchObject({ type: 'modal', callback_id: 'opsflow-reject', private_metadata: record.id });
    expect(table.mock).not.toHaveReceivedCommand(PutCommand);

    const submit = {
      type: 'view_submission',
      user: { id: 'UALICE' },
      view: { callback_id: 'opsflow-reject', private_metadata: record.id, state: { values: { comment: { comment: { value: ' not during the freeze ' } } } } },
    };
    const res = await handleChatCallback(slack(submit), deps());
    expect(res).toMatchObject({ statusCode: 200, body: '' });
    const failure = sfn.commandCalls(SendTaskFailureCommand)[0].args[0].input;
    expect(failure.error).toBe('Approval.Rejected');
    expect(JSON.parse(failure.cause!)).toMatchObject({ approver: 'alice@example.com', comment: 'not during the freeze' });
    // A second submission (a replay) keeps the modal open with the reason.
    const again = await handleChatCallback(slack(submit), deps());
    expect(JSON.parse(again.body)).toEqual({
      response_action: 'errors',
      errors: { comment: `"${record.title}" was already rejected by alice@example.com at 2030-01-01 10:00 UTC: your vote was not counted.` },
    });
  });

  it('answers an expired request as gone, and a closed one with why', async () => {
    const record = seed({ deadline: '2030-01-01T09:30:00.000Z' });
    await handleChatCallback(slack(click('UALICE', 'approve', record.id)), deps());
    expect(said()).toEqual([`"${record.title}" expired at 2030-01-01 09:30 UTC: your vote was not counted.`]);
    sfn.on(DescribeExecutionCommand).resolves({ status: 'ABORTED' });
    const other = seed({ id: 'BBBBBBBBBBBBBBBBBBBBBB' });
    calls = [];
    await handleChatCallback(slack(click('UALICE', 'approve', other.id)), deps());
    expect(said()).toEqual([`"${record.title}" is closed: it was stopped (aborted) before anyone decided. Your vote was not counted.`]);
  });
});

describe('Mattermost buttons and dialog', () => {
  it('records a click whose context carries the request’s secret', async () => {
    const record = seed({ quorum: 2 });
    const res = await handleChatCallback(mattermost(mmClick('alicemattermostuser0000000', 'approve', record.id)), deps());
    expect(JSON.parse(res.body)).toEqual({ ephemeral_text: `Your approval of "${record.title}" is recorded: 1 of 2 approvals.` });
    expect(table.record(record.id).votes[0]).toMatchObject({
      approver: 'alice@example.com',
      via: { platform: 'mattermost', user: 'alicemattermostuser0000000' },
    });
  });

  it('refuses a wrong secret and an unknown request alike, with 401', async () => {
    const record = seed();
    const wrong = await handleChatCallback(mattermost(mmClick('alicemattermostuser0000000', 'approve', record.id, 'guess')), deps());
    const unknown = await handleChatCallback(mattermost(mmClick('alicemattermostuser0000000', 'approve', 'CCCCCCCCCCCCCCCCCCCCCC')), deps());
    expect([wrong.statusCode, unknown.statusCode]).toEqual([401, 401]);
    expect(wrong.body).toBe(unknown.body);
    expect(table.mock).not.toHaveReceivedCommand(PutCommand);
  });

  it('opens a dialog on Reject whose submission carries the secret back, and rejects with the comment', async () => {
    const record = seed();
    await handleChatCallback(mattermost(mmClick('alicemattermostuser0000000', 'reject', record.id)), deps());
    const [url, dialog] = calls.find((c) => c.call === 'openDialog')!.args.slice(1) as [string, { state: string }];
    expect(url).toBe('https://api.example.com/chat/approvals');
    const submission = {
      type: 'dialog_submission',
      callback_id: 'opsflow-reject',
      state: dialog.state,
      user_id: 'alicemattermostuser0000000',
      submission: { comment: 'no' },
    };
    const res = await handleChatCallback(mattermost(submission), deps());
    expect(JSON.parse(res.body)).toEqual({});
    expect(sfn).toHaveReceivedCommandTimes(SendTaskFailureCommand, 1);
    const forged = await handleChatCallback(mattermost({ ...submission, state: JSON.stringify({ ref: record.id, secret: 'x' }) }), deps());
    expect(forged.statusCode).toBe(401);
  });
});

describe('Teams outgoing webhook', () => {
  it('records a mapped user’s vote from a signed mention, and refuses an unmapped one and a forged HMAC', async () => {
    const record = seed({ quorum: 2 });
    const ok = await handleChatCallback(teams(`approve ${record.id}`), deps());
    expect(JSON.parse(ok.body)).toEqual({ type: 'message', text: `Your approval of "${record.title}" is recorded: 1 of 2 approvals.` });
    const unmapped = await handleChatCallback(teams(`approve ${record.id}`, '00000000-0000-0000-0000-000000000000'), deps());
    expect(JSON.parse(unmapped.body).text).toMatch(/not mapped to an approver address/);
    const forged = await handleChatCallback(teams(`approve ${record.id}`, TEAMS_BOB, Buffer.from('another-key').toString('base64')), deps());
    expect(forged.statusCode).toBe(401);
    expect(table.record(record.id).votes).toHaveLength(1);
  });
});
