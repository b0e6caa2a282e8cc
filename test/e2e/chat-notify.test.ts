/**
 * Chat notifications end to end on the local runtime (IAM, KMS and the network model on): a failure alert reaches a
 * Slack channel and a TagPolicy report a Mattermost channel of the local chat server, each with the execution's
 * console link, after their email; outside text (here an execution input) arrives escaped, unable to ping; a chat
 * that cannot be posted to (a Teams webhook the chat secret does not hold) costs only the chat message: the run
 * succeeds, its SNS report is sent, and its Report task says why the chat got nothing.
 */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageView } from '../../local/services/chat/server';
import { fullHistory, poll, startRuntime, type Harness } from './harness';
import { synthWithConfig } from './synth-config';

const ALERTS = 'C0ALERTS01';
const REPORTS = 'reportsreportsreportsrepor'; // a Mattermost channel id: 26 lower-case letters and digits

let h: Harness;
const consoleLink = (arn: string) => `${h.endpoint}/states/home?region=us-east-1#/v2/executions/details/${arn}`;
const messageAbout = (platform: string, name: string) =>
  poll(`a ${platform} message about ${name}`, 60_000, () =>
    h.rt.chat.list().find((m: MessageView) => m.platform === platform && JSON.stringify(m.payload).includes(name)),
  );

describe('chat notifications', () => {
  beforeAll(async () => {
    const { dir, cdkOut } = synthWithConfig('opsflow-chat-notify-', (c) => {
      c.alerts = { ...c.alerts, chat: { slack: ALERTS } };
      c.tagPolicy = { ...c.tagPolicy, reportChat: { mattermost: REPORTS, mattermostUrl: 'https://mattermost.example.com' } };
      c.ec2Schedule = { ...c.ec2Schedule, reportChat: { teams: 'not-in-the-secret' } };
      // The template names the fleet file relative to the app; this app's directory is a temporary one.
      c.local.fleet = resolve(c.local.fleet);
    });
    h = await startRuntime({ cdkOut, stateDir: `${dir}/state`, timeScale: 60 });
  });
  afterAll(() => h?.stop());

  it('a failure alert: email first, then the Slack channel, with the console link; the input cannot ping', async () => {
    const arn = await h.start('Approval', { title: '', approvers: ['<!channel>'] });
    expect((await h.finished(arn)).status).toBe('FAILED');
    const name = arn.split(':').pop()!;

    const [email] = await h.mail((e) => e.service === 'sns' && e.text.includes(arn));
    expect(email.subject).toBe('Opsflow-Approval failed: Input.Invalid');
    const m = await messageAbout('slack', name);
    expect(m.channel).toBe(ALERTS);
    expect(m.from?.functionName).toMatch(/FailureAlertsNotifyFn/);
    const payload = m.payload as { text: string; blocks: Array<{ type: string; text?: { text: string } }> };
    expect(payload.text).toBe('🔴 Opsflow-Approval failed');
    expect(payload.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: '🔴 Opsflow-Approval failed', emoji: true } });
    expect(JSON.stringify(payload.blocks)).toContain(`<${consoleLink(arn)}|Open the execution>`);
    // The cause quotes the input: escaped inside a code span, so Slack shows it and pings nobody.
    expect(JSON.stringify(payload)).toContain('&lt;!channel&gt;');
    expect(JSON.stringify(payload)).not.toContain('<!channel>');
    expect(Date.parse(m.postedAt)).toBeGreaterThanOrEqual(Date.parse(email.sentAt));
  });

  it('a TagPolicy report: the Mattermost channel gets the headline, counts and link; the output says it was delivered', async () => {
    const arn = await h.start('TagPolicy', { mode: 'scan' });
    const done = await h.finished(arn, 120_000);
    expect(done.status).toBe('SUCCEEDED');
    const output = JSON.parse(done.output!);
    expect(output.chat).toEqual([{ platform: 'mattermost', delivered: true }]);

    const m = await messageAbout('mattermost', arn.split(':').pop()!);
    expect(m.channel).toBe(REPORTS);
    const post = m.payload as { message: string; props: { attachments: Array<{ fallback: string; text: string; fields: Array<{ title: string }> }> } };
    expect(post.props.attachments[0].fallback).toBe(`🟠 Tag policy (dry run): ${output.counts.violating} violating of ${output.counts.scanned}`);
    expect(post.props.attachments[0].fields.map((f) => f.title)).toEqual(['Violating', 'Exempt', 'Would', 'In grace period']);
    expect(post.props.attachments[0].text).toContain(`[Open the execution](${consoleLink(arn)})`);
    expect((await h.mail((e) => e.service === 'sns' && e.subject.startsWith('opsflow tag policy [DRY RUN]'))).length).toBeGreaterThan(0);
  });

  it('a chat that cannot be posted to costs only its message: the Ec2Schedule run succeeds and its SNS report is sent', async () => {
    // The local chat app installs a webhook for every channel the config names: take this one out again, as an operator
    // who never set it would have it (the Report function has not read the secret yet, so nothing is cached).
    const secretArn = h.rt.deployed.secrets.find((a) => a.includes('ChatSecret'))!;
    const fields = JSON.parse(h.rt.secrets.currentString(secretArn)!);
    delete fields.teamsWebhooks['not-in-the-secret'];
    h.rt.secrets.putString(secretArn, JSON.stringify(fields));
    const arn = await h.start('Ec2Schedule', { action: 'stop', schedule: 'office-hours', dryRun: true });
    const done = await h.finished(arn, 120_000);
    expect(done.status).toBe('SUCCEEDED');
    const [report] = await h.mail((e) => e.service === 'sns' && e.text.includes(arn.split(':').pop()!));
    expect(report.subject).toMatch(/^opsflow: stop schedule office-hours \(dry run\)/);
    const history = await fullHistory(h.sfn, arn);
    // The Report task's result: `{report, message, chat}` (the state machine publishes `message`).
    const outputs = history.map((e) => (e.taskSucceededEventDetails ?? e.lambdaFunctionSucceededEventDetails)?.output ?? '');
    const result = outputs.find((o) => o.startsWith('{"report"'));
    expect(JSON.parse(result!).chat).toEqual([
      {
        platform: 'teams',
        delivered: false,
        reason: 'Chat.NotConfigured: teams: the incoming webhook of channel not-in-the-secret (chat secret teamsWebhooks.not-in-the-secret) is not configured',
      },
    ]);
    expect(h.rt.chat.list().filter((m) => m.platform === 'teams')).toEqual([]);
  });
});
