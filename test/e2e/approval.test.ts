/**
 * The approval workflow end to end on the embedded runtime: the synthesized state machine, the real Lambda
 * bundles, SDK clients, plain HTTP on the approval links read from the outbox.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxEntry } from '../../local/kernel';
import { startRuntime, type Harness } from './harness';

let h: Harness;
beforeAll(async () => {
  h = await startRuntime();
});
afterAll(() => h?.stop());

let n = 0;
/** A unique title per test, so each test finds its own emails in the shared outbox. */
const title = (what: string) => `${what} #${++n} ${Date.now()}`;
const linkOf = (mail: OutboxEntry) => mail.links.find((l) => l.includes('/approvals/'))!.split('?')[0];
const mailsFor = (t: string, count: number) => h.mail((e) => e.subject.includes(t), count);
const decide = (link: string, decision: string, comment = '') =>
  fetch(link, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ decision, comment }).toString(),
  });
const status = async (arn: string) => (await h.sfn.send(new (await import('@aws-sdk/client-sfn')).DescribeExecutionCommand({ executionArn: arn }))).status;

describe('Approval workflow', () => {
  it('emails a personal link to every approver; opening it decides nothing; Approve completes the execution', async () => {
    const t = title('Deploy payments-api');
    const arn = await h.start('Approval', {
      title: t,
      details: { change: 'CHG-1' },
      approvers: ['lead@example.com', 'sre@example.com'],
      requestedBy: 'pipeline',
    });
    const mails = await mailsFor(t, 2);
    expect(mails.map((m) => m.to[0]).sort()).toEqual(['lead@example.com', 'sre@example.com']);
    expect(linkOf(mails[0])).not.toEqual(linkOf(mails[1]));

    const lead = linkOf(mails.find((m) => m.to[0] === 'lead@example.com')!);
    // A mail scanner prefetching both links must not decide anything.
    for (const url of mails[0].links.filter((l) => l.includes('/approvals/'))) {
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain(t);
    }
    expect(await status(arn)).toBe('RUNNING');

    const res = await decide(lead, 'approve', 'ship it');
    expect(res.status).toBe(200);
    const done = await h.finished(arn);
    expect(done.status).toBe('SUCCEEDED');
    // README: the task token never appears in the execution history (tokens are AQ + 128 base64url characters).
    const history = JSON.stringify(h.rt.sfn.history(arn));
    expect(history).toContain('ActivityStarted');
    expect(history).not.toMatch(/AQ[A-Za-z0-9_-]{128}/);
    expect(JSON.parse(done.output!)).toEqual({
      decision: 'approved',
      approver: 'lead@example.com',
      approvers: ['lead@example.com'],
      comment: 'ship it',
      decidedAt: expect.any(String),
    });
  });

  it('fails with Approval.Rejected naming the approver and comment; a replayed POST changes nothing', async () => {
    const t = title('Drop table');
    const arn = await h.start('Approval', { title: t, approvers: ['dba@example.com'] });
    const [mail] = await mailsFor(t, 1);
    expect((await decide(linkOf(mail), 'reject', 'not today')).status).toBe(200);
    const done = await h.finished(arn);
    expect(done.status).toBe('FAILED');
    expect(done.error).toBe('Approval.Rejected');
    expect(JSON.parse(done.cause!)).toMatchObject({ approver: 'dba@example.com', comment: 'not today' });

    const replay = await decide(linkOf(mail), 'approve');
    expect(replay.status).toBe(409);
    expect(await replay.text()).toContain('rejected');
  });

  it('needs a quorum of distinct approvers', async () => {
    const t = title('Rotate root keys');
    const arn = await h.start('Approval', { title: t, approvers: ['a@example.com', 'b@example.com', 'c@example.com'], quorum: 2 });
    const mails = await mailsFor(t, 3);
    const link = (who: string) => linkOf(mails.find((m) => m.to[0] === who)!);

    const first = await decide(link('a@example.com'), 'approve');
    expect(first.status).toBe(200);
    expect(await first.text()).toMatch(/Approvals so far: <strong>1 of 2<\/strong>/);
    // The same approver twice is still one vote: the page answering the second POST says so, and the page is
    // written after the vote was counted, so nothing was delivered to Step Functions.
    const again = await decide(link('a@example.com'), 'approve');
    expect(await again.text()).toMatch(/Approvals so far: <strong>1 of 2<\/strong>/);
    expect(h.rt.sfn.history(arn).map((e) => e.type)).not.toContain('ActivitySucceeded');
    expect(await status(arn)).toBe('RUNNING');

    await decide(link('c@example.com'), 'approve', 'ok');
    const done = await h.finished(arn);
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!)).toMatchObject({ decision: 'approved', approver: 'c@example.com', approvers: ['a@example.com', 'c@example.com'] });
  });

  it('answers forged and tampered links with 404 and leaves the request pending', async () => {
    const t = title('Open firewall');
    const arn = await h.start('Approval', { title: t, approvers: ['sec@example.com'] });
    const [mail] = await mailsFor(t, 1);
    const link = linkOf(mail);
    const [base, ref] = [link.slice(0, link.lastIndexOf('/') + 1), link.slice(link.lastIndexOf('/') + 1)];
    const [id, secret] = ref.split('.');
    const flipped = secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A');
    for (const forged of [`${base}${id}.${flipped}`, `${base}${'x'.repeat(22)}.${secret}`, `${base}garbage`]) {
      const res = await decide(forged, 'approve');
      expect(res.status).toBe(404);
      expect(await res.text()).not.toMatch(/at .*\.js:\d+/);
    }
    expect(await status(arn)).toBe('RUNNING');
    const bad = await decide(link, 'maybe');
    expect(bad.status).toBe(400);
    expect(await status(arn)).toBe('RUNNING');
    await decide(link, 'reject', 'cleanup');
    await h.finished(arn);
  });

  it('fails invalid input with Input.Invalid listing every problem, before any email', async () => {
    const before = (await h.outbox()).length;
    const arn = await h.start('Approval', { title: '', approvers: ['nope'], quorum: 0, colour: 'red' });
    const done = await h.finished(arn);
    expect(done.status).toBe('FAILED');
    expect(done.error).toBe('Input.Invalid');
    for (const field of ['title', 'approvers[0]', 'quorum', 'colour']) expect(done.cause).toContain(field);
    const sent = (await h.outbox()).slice(before).filter((e) => e.service === 'ses');
    expect(sent).toEqual([]);
  });

  it('publishes a failure notification for a failed execution', async () => {
    const arn = await h.start('Approval', { approvers: [] });
    await h.finished(arn);
    const [alert] = await h.mail((e) => e.service === 'sns' && e.text.includes(arn.split(':').pop()!));
    expect(alert.to).toEqual(['ops-alerts@example.com']);
    // Readable alerts (subject, cause, console link): test/e2e/failure-alerts.test.ts.
    expect(alert.subject).toBe('Opsflow-Approval failed: Input.Invalid');
  });
});

describe('Approval deadline', () => {
  let fast: Harness;
  // The app with its approval reminder every 20 minutes instead of 4 hours (the sweep and worker setting
  // REMINDER_INTERVAL_SECONDS, as a configuration with approval.reminderIntervalSeconds: 1200 deploys it), so a
  // 35-minute deadline holds exactly one reminder at 120x: 17.5 s of real time. At 120x the 15-minute heartbeat
  // window is 7.5 real seconds, with sweeps (which heartbeat) 2.5 s apart; at 600x, as before, it was 1.5 s, at
  // 3600x 250 ms, which a busy machine overran. Escalation and later reminders are unit-tested (sweep.test.ts).
  beforeAll(async () => {
    const cdkOut = join(mkdtempSync(join(tmpdir(), 'opsflow-reminder-')), 'cdk.out');
    cpSync(process.env.OPSFLOW_CDK_OUT ?? 'cdk.out', cdkOut, { recursive: true });
    const file = join(cdkOut, 'Opsflow.template.json');
    const template = readFileSync(file, 'utf8');
    const edited = template.replaceAll('"REMINDER_INTERVAL_SECONDS": "14400"', '"REMINDER_INTERVAL_SECONDS": "1200"');
    expect(edited.split('"REMINDER_INTERVAL_SECONDS": "1200"')).toHaveLength(3); // the worker's and the sweep's
    writeFileSync(file, edited);
    fast = await startRuntime({ cdkOut, seedFleet: false, timeScale: 120 });
  });
  afterAll(() => fast?.stop());

  it('reminds, then fails with Approval.TimedOut; the link then shows the request expired', async () => {
    const t = title('Quarterly access review');
    const arn = await fast.start('Approval', { title: t, approvers: ['owner@example.com'], timeoutSeconds: 35 * 60 });
    const done = await fast.finished(arn, 90_000);
    expect(done.status).toBe('FAILED');
    expect(done.error).toBe('Approval.TimedOut');

    const mails = (await fast.outbox()).filter((e) => e.service === 'ses' && e.subject.includes(t));
    // Exactly one of each: whoever emails an approver first claims it, so a sweep never sends it twice.
    expect(mails.map((m) => `${m.to[0]}: ${m.subject.split(':')[0]}`)).toEqual(['owner@example.com: Approval needed', 'owner@example.com: Reminder']);
    const started = new Date(fast.rt.sfn.history(arn)[0].timestamp as never).getTime();
    const minutesAfterStart = (m: OutboxEntry) => (Date.parse(m.sentAt) - started) / 60_000;
    // Due at 20 minutes; the sweep that sends it runs every 5.
    expect(minutesAfterStart(mails[1])).toBeGreaterThanOrEqual(20);
    expect(minutesAfterStart(mails[1])).toBeLessThan(26);

    const page = await fetch(linkOf(mails[0]));
    expect(page.status).toBe(410);
  }, 120_000);

  it('waits for an approval of a minute without a heartbeat (it must be shorter than the deadline) and times it out as Approval.TimedOut', async () => {
    const t = title('One-minute approval');
    const arn = await fast.start('Approval', { title: t, approvers: ['owner@example.com'], timeoutSeconds: 60 });
    const done = await fast.finished(arn, 60_000);
    expect(done).toMatchObject({ status: 'FAILED', error: 'Approval.TimedOut' });
    const history = fast.rt.sfn.history(arn);
    expect(history.filter((e) => e.type === 'TaskStateEntered').map((e) => (e.stateEnteredEventDetails as { name: string }).name)).toContain(
      'WaitForShortDecision',
    );
    const scheduled = history.find((e) => e.type === 'ActivityScheduled')!.activityScheduledEventDetails as {
      timeoutInSeconds: number;
      heartbeatInSeconds?: number;
    };
    expect(scheduled.timeoutInSeconds).toBe(60);
    expect(scheduled.heartbeatInSeconds).toBeUndefined();
  });
});
