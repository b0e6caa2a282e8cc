/**
 * Approvals in chat end to end on the embedded runtime: the worker posts the request to the local chat server's Slack
 * (through the runtime's network model), people click its buttons there, the chat server sends Slack's signed
 * `block_actions` to ApprovalChatCallbackUrl, and the chat function votes through the email page's rule. Covered: a
 * decision by two clicks (quorum 2), an email vote plus a chat vote, a non-approver refused, a replayed and a stale
 * signed callback refused, the message updated after the decision, a rejection with its comment from Slack's modal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Delivery } from '../../local/services/chat/server';
import { slackSignature } from '../../tasks/shared/chat-auth';
import { startRuntime, type Harness } from './harness';

let h: Harness;
/** Every callback the chat server sent to the app, as sent (to replay one byte for byte). */
const sent: Delivery[] = [];
let channel: string;

beforeAll(async () => {
  h = await startRuntime();
  const app = (h.rt.chat as any).app as { deliver: (d: Delivery) => Promise<{ status: number; body: string }> };
  const deliver = app.deliver;
  app.deliver = async (d) => {
    sent.push(d);
    return deliver(d);
  };
  channel = h.rt.chat.ws.channel('general')!.slackId;
}, 120_000);
afterAll(() => h?.stop());

const APPROVER = 'approver@example.com';
const DUTY = 'duty-manager@example.com';
const VISITOR = 'visitor@example.com';
let n = 0;
const title = (what: string) => `${what} #${++n} ${Date.now()}`;

/** The request's message in Slack (not the private answers). */
const requestMessage = (t: string) =>
  h.until(`the chat message of ${t}`, () => h.rt.chat.list().find((m) => m.platform === 'slack' && !m.visibleTo && m.lines.join('\n').includes(t)));
/** What `user` alone was shown about `t` (response_url answers), newest last. */
const privately = (user: string) =>
  h.rt.chat
    .list()
    .filter((m) => m.visibleTo === h.rt.chat.ws.user(user)!.name)
    .map((m) => m.lines.join(' '));
const resend = (d: Delivery, headers = d.headers) => fetch(d.url, { method: 'POST', headers, body: d.body });

describe('Approvals in Slack', () => {
  it('is decided by two clicks (quorum 2); a non-approver, a replayed and a stale callback change nothing; the message shows who decided', async () => {
    const t = title('Resize prod DB');
    const arn = await h.start('Approval', { title: t, approvers: [APPROVER, DUTY], quorum: 2, chat: { slack: channel } });
    const message = await requestMessage(t);
    expect(message.buttons.map((b) => b.id)).toEqual(['approve', 'reject']);
    expect(message.from?.functionName).toMatch(/ApprovalWorkerFn/);

    const first = await h.rt.chat.click(message.id, 'approve', APPROVER);
    expect(first.callback?.status).toBe(200);
    const click = sent.at(-1)!;
    expect(privately(APPROVER).at(-1)).toBe(`Your approval of "${t}" is recorded: 1 of 2 approvals.`);
    expect(
      h.rt.chat
        .list()
        .find((m) => m.id === message.id)!
        .lines.join(' '),
    ).toContain(`1 of 2: ${APPROVER} (slack)`);

    // The same signed request again, within Slack's five minutes: verified, and refused as a second vote.
    const replay = await resend(click);
    expect(replay.status).toBe(200);
    expect(privately(APPROVER).at(-1)).toMatch(/^You already voted on ".*" \(approved at .*\): nothing changed\.$/);
    // Signed with the app's secret, but more than five minutes old: refused before anything is read.
    const old = String(Math.floor(h.rt.clock.nowMs() / 1000) - 301);
    const stale = await resend(click, {
      ...click.headers,
      'x-slack-request-timestamp': old,
      'x-slack-signature': slackSignature(h.rt.chat.install().slackSigningSecret, old, click.body),
    });
    expect(stale.status).toBe(401);
    expect(((await stale.json()) as { text: string }).text).toBe('Unauthorized: X-Slack-Request-Timestamp is more than 5 minutes from now (a replay?).');
    // A forged signature: 401 as well.
    expect((await resend(click, { ...click.headers, 'x-slack-signature': `v0=${'0'.repeat(64)}` })).status).toBe(401);

    await h.rt.chat.click(message.id, 'approve', VISITOR);
    expect(privately(VISITOR).at(-1)).toBe(`You (${VISITOR}) are not an approver of "${t}": nothing was recorded.`);
    expect((await h.sfn.send(new (await import('@aws-sdk/client-sfn')).DescribeExecutionCommand({ executionArn: arn }))).status).toBe('RUNNING');

    await h.rt.chat.click(message.id, 'approve', DUTY);
    const done = await h.finished(arn);
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!)).toMatchObject({ decision: 'approved', approver: DUTY, approvers: [APPROVER, DUTY] });
    const updated = h.rt.chat.list().find((m) => m.id === message.id)!;
    expect(updated.lines.join(' ')).toContain(`Approved: ${t}`);
    expect(updated.lines.join(' ')).toContain(`Approved by ${APPROVER} (slack), ${DUTY} (slack)`);
    expect(updated.buttons).toEqual([]);

    // The buttons are gone; a click still in flight (signed now) is refused with the reason.
    const now = String(Math.floor(h.rt.clock.nowMs() / 1000));
    const late = await resend(click, {
      ...click.headers,
      'x-slack-request-timestamp': now,
      'x-slack-signature': slackSignature(h.rt.chat.install().slackSigningSecret, now, click.body),
    });
    expect(late.status).toBe(200);
    expect(privately(APPROVER).at(-1)).toMatch(new RegExp(`^"${t}" was already approved by ${DUTY} at .*: your vote was not counted\\.$`));
  });

  it('counts an email vote and a chat vote together', async () => {
    const t = title('Rotate keys');
    const seen = await h.unseenMail();
    const arn = await h.start('Approval', { title: t, approvers: [APPROVER, DUTY], quorum: 2, chat: { slack: channel } });
    const [mail] = await h.mail((e) => seen(e) && e.subject.includes(t) && e.to[0] === APPROVER, 1);
    const link = mail.links.find((l) => l.includes('/approvals/'))!.split('?')[0];
    const page = await fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'decision=approve' });
    expect(page.status).toBe(200);
    const message = await requestMessage(t);
    await h.until('the email vote in the message', () =>
      h.rt.chat
        .list()
        .find((m) => m.id === message.id)!
        .lines.join(' ')
        .includes(`1 of 2: ${APPROVER}`)
        ? true
        : undefined,
    );

    await h.rt.chat.click(message.id, 'approve', DUTY);
    const done = await h.finished(arn);
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!)).toMatchObject({ approvers: [APPROVER, DUTY] });
  });

  it('rejects with the comment typed into the modal', async () => {
    const t = title('Delete bucket');
    const arn = await h.start('Approval', { title: t, approvers: [APPROVER], chat: { slack: channel } });
    const message = await requestMessage(t);
    const result = await h.rt.chat.click(message.id, 'reject', APPROVER, ['not during the freeze']);
    expect(result.view?.title).toBe('Reject');
    expect(result.submitted).toMatchObject({ callback: { status: 200 } });
    expect(result.submitted?.errors).toBeUndefined();
    const done = await h.finished(arn);
    expect(done).toMatchObject({ status: 'FAILED', error: 'Approval.Rejected' });
    expect(JSON.parse(done.cause!)).toMatchObject({ approver: APPROVER, comment: 'not during the freeze' });
    expect(
      h.rt.chat
        .list()
        .find((m) => m.id === message.id)!
        .lines.join(' '),
    ).toContain(`Rejected: ${t}`);
  });
});
