import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../infra/config';

const withApproval = (approval: Record<string, unknown>) => ({ approval });

describe('config: approval.chat', () => {
  it('reads channels per platform, the Mattermost server and the approver map', () => {
    const c = parseConfig(
      withApproval({
        chat: {
          slack: 'C0123ABCD',
          mattermost: 'qmd5oqtwoibz8cuzxzg5ekshgr',
          mattermostUrl: 'https://mm.example.com/',
          teams: 'ops',
          approverMap: { 'slack:U0123ABCD': 'Lead@Example.com' },
        },
      }),
    );
    expect(c.approval.chat).toEqual({
      targets: [
        { platform: 'slack', channel: 'C0123ABCD' },
        { platform: 'mattermost', channel: 'qmd5oqtwoibz8cuzxzg5ekshgr' },
        { platform: 'teams', channel: 'ops' },
      ],
      mattermostUrl: 'https://mm.example.com',
      approverMap: { 'slack:U0123ABCD': 'lead@example.com' },
    });
  });

  it('fails naming every bad field', () => {
    expect(() =>
      parseConfig(withApproval({ chat: { slack: '#general', mattermost: 'qmd5oqtwoibz8cuzxzg5ekshgr', discord: 'x', approverMap: { 'slack:bob': 'x' } } })),
    ).toThrow(
      'opsflow config: approval.chat.discord is not a known setting; approval.chat.slack: must be a Slack channel id (C…, G…, D…) or user id (U…, W…), got string "#general"; approval.chat.mattermost: this deployment has no Mattermost server (approval.chat.mattermostUrl); approval.chat.approverMap: \'slack:bob\' is not slack:<user id>, mattermost:<user id> or teams:<AAD object id>',
    );
  });
});

describe('config', () => {
  it('synthesizes out of the box with the defaults the README documents', () => {
    const c = parseConfig({});
    expect(c.stackName).toBe('Opsflow');
    expect(c.approval).toEqual({
      sender: 'opsflow@example.com',
      sesIdentity: 'example.com',
      approvers: [],
      linkBaseUrl: undefined,
      timeoutSeconds: 86400,
      maxTimeoutSeconds: 604800,
      reminderIntervalSeconds: 14400,
      escalationApprovers: [],
      escalateAfterSeconds: 43200,
      chat: { targets: [], approverMap: {} },
    });
    expect(c.alerts).toEqual({ emails: [] });
    expect(c.tagPolicy).toMatchObject({
      policyFile: 'tag-policy.json',
      scanSchedule: 'cron(0 6 * * ? *)',
      scanTimezone: 'UTC',
      scanEnabled: true,
      launchEnabled: true,
      settleSeconds: 120,
    });
  });

  it('loads the shipped opsflow.config.json', () => {
    const c = loadConfig('opsflow.config.json');
    expect(c.approval).toMatchObject({ sender: 'opsflow@example.com', approvers: ['approver@example.com'], escalationApprovers: ['duty-manager@example.com'] });
    expect(c.alerts.emails).toEqual(['ops-alerts@example.com']);
  });

  it('derives the SES identity from the sender and lower-cases approvers', () => {
    const c = parseConfig(withApproval({ sender: 'ops@acme.io', approvers: ['Lead@Acme.io'] }));
    expect(c.approval.sesIdentity).toBe('acme.io');
    expect(c.approval.approvers).toEqual(['lead@acme.io']);
  });

  it.each([
    ['the sender is not an email', { sender: 'not-an-email' }, 'approval.sender must be an email address'],
    ['an approver is not an email', { approvers: ['ok@acme.io', 'nope'] }, 'approval.approvers[1] must be an email address, got "nope"'],
    ['an escalation approver is not an email', { escalationApprovers: [42] }, 'approval.escalationApprovers[0] must be an email address'],
    ['the timeout is below a minute', { timeoutSeconds: 30 }, 'approval.timeoutSeconds must be a whole number of seconds from 60 to'],
    ['the timeout exceeds maxTimeoutSeconds', { timeoutSeconds: 700_000 }, 'approval.timeoutSeconds must be a whole number of seconds from 60 to 604800'],
    ['the timeout is not a whole number', { timeoutSeconds: 90.5 }, 'approval.timeoutSeconds must be a whole number'],
    [
      'the reminder is not shorter than the timeout',
      { timeoutSeconds: 3600, reminderIntervalSeconds: 3600 },
      'approval.reminderIntervalSeconds (3600) must be shorter than approval.timeoutSeconds (3600)',
    ],
    [
      'escalation comes after the timeout',
      { timeoutSeconds: 3600, reminderIntervalSeconds: 600, escalationApprovers: ['boss@acme.io'], escalateAfterSeconds: 7200 },
      'approval.escalateAfterSeconds (7200) must be shorter than approval.timeoutSeconds (3600)',
    ],
    [
      'the sender is outside the SES identity',
      { sender: 'ops@acme.io', sesIdentity: 'other.io' },
      "approval.sender 'ops@acme.io' does not belong to approval.sesIdentity 'other.io'",
    ],
    ['the link base URL is not a URL', { linkBaseUrl: 'ftp://x' }, 'approval.linkBaseUrl must be an http(s) URL'],
    ['a setting is unknown', { timeout: 5 }, 'approval.timeout is not a known setting'],
  ])('fails when %s', (_case, approval, message) => {
    expect(() => parseConfig(withApproval(approval))).toThrow(message);
  });

  it('tells the local runtime which SES identities its account has verified: approval.sesIdentity unless local.sesIdentities says', () => {
    expect(parseConfig(withApproval({ sender: 'ops@acme.io' })).local.sesIdentities).toEqual(['acme.io']);
    expect(parseConfig({ local: { sesIdentities: ['acme.io', 'lead@partner.example.net'] } }).local.sesIdentities).toEqual([
      'acme.io',
      'lead@partner.example.net',
    ]);
    expect(loadConfig('opsflow.config.json').local.sesIdentities).toEqual(['example.com']);
    expect(() => parseConfig({ local: { sesIdentities: ['acme.io', 'not an identity', 7] } })).toThrow(
      /local\.sesIdentities\[1\] must be a domain or an email address, got "not an identity".*local\.sesIdentities\[2\] must be a domain or an email address, got 7/,
    );
    expect(() => parseConfig({ local: { sesIdentities: 'acme.io' } })).toThrow('local.sesIdentities must be a list of domains or email addresses');
  });

  it('fails when the stack name does not start with Opsflow', () => {
    expect(() => parseConfig({ stackName: 'Prod' })).toThrow("stackName must start with 'Opsflow'");
  });

  it('fails when an alert address is not an email', () => {
    expect(() => parseConfig({ alerts: { emails: ['x'] } })).toThrow('alerts.emails[0] must be an email address');
  });

  it('takes chat channels for alerts and for each report, in the shape of approval.chat', () => {
    const c = parseConfig({
      alerts: { chat: { slack: 'C0123ABCDE', teams: 'ops-alerts' } },
      tagPolicy: { reportChat: { mattermost: 'abcdefghijklmnopqrstuvwxyz', mattermostUrl: 'https://chat.example.com/' } },
      ec2Schedule: { reportChat: { teams: 'ops-reports' } },
    });
    expect(c.alerts.chat).toEqual({
      targets: [
        { platform: 'slack', channel: 'C0123ABCDE' },
        { platform: 'teams', channel: 'ops-alerts' },
      ],
    });
    expect(c.tagPolicy.reportChat).toEqual({
      targets: [{ platform: 'mattermost', channel: 'abcdefghijklmnopqrstuvwxyz' }],
      mattermostUrl: 'https://chat.example.com',
    });
    expect(c.ec2Schedule.reportChat).toEqual({ targets: [{ platform: 'teams', channel: 'ops-reports' }] });
    expect(parseConfig({}).tagPolicy.reportChat).toBeUndefined();
    expect(parseConfig({}).alerts.chat).toBeUndefined();
  });

  it.each([
    ['a chat destination is not an object', { alerts: { chat: 'C0123ABCDE' } }, 'alerts.chat must be an object such as {"slack": "C0123ABCD"}'],
    ['the platform is unknown', { alerts: { chat: { discord: 'x' } } }, 'alerts.chat.discord is not a known setting (slack, mattermost, teams, mattermostUrl)'],
    ['it names no channel', { alerts: { chat: {} } }, 'alerts.chat names no channel: set slack, mattermost or teams, or leave alerts.chat out'],
    [
      'a Slack channel is a name, not an id',
      { alerts: { chat: { slack: '#ops-alerts' } } },
      'alerts.chat.slack must be a Slack channel id (C…, G…, D…), got "#ops-alerts"',
    ],
    [
      'a Mattermost channel is not an id',
      { tagPolicy: { reportChat: { mattermost: 'town-square', mattermostUrl: 'https://chat.example.com' } } },
      'tagPolicy.reportChat.mattermost must be a Mattermost channel id (26 lower-case letters and digits), got "town-square"',
    ],
    [
      'a Mattermost channel comes without its server',
      { tagPolicy: { reportChat: { mattermost: 'abcdefghijklmnopqrstuvwxyz' } } },
      'tagPolicy.reportChat.mattermostUrl is required with tagPolicy.reportChat.mattermost',
    ],
    [
      'the Mattermost server is not an http(s) URL',
      { tagPolicy: { reportChat: { mattermost: 'abcdefghijklmnopqrstuvwxyz', mattermostUrl: 'chat.example.com' } } },
      'tagPolicy.reportChat.mattermostUrl must be an http(s) URL without query or fragment, got "chat.example.com"',
    ],
    [
      'a Teams webhook is given as its URL (a credential: it belongs in the chat secret)',
      { ec2Schedule: { reportChat: { teams: 'https://example.webhook.office.com/webhookb2/x' } } },
      "ec2Schedule.reportChat.teams must be the name of a Teams incoming webhook in the chat secret's teamsWebhooks",
    ],
  ])('fails when %s', (_case, raw, message) => {
    expect(() => parseConfig(raw)).toThrow(message);
  });

  it('lists every problem at once', () => {
    expect(() => parseConfig(withApproval({ sender: 'x', timeoutSeconds: 1 }))).toThrow(/approval\.sender.*; .*approval\.timeoutSeconds/);
  });

  it('fails when the named config file is missing or not JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsflow-config-'));
    writeFileSync(join(dir, 'bad.json'), '{ nope');
    expect(() => loadConfig(join(dir, 'missing.json'))).toThrow('does not exist');
    expect(() => loadConfig(join(dir, 'bad.json'))).toThrow('is not valid JSON');
  });

  it('makes the CDK app exit non-zero naming the field, without a stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsflow-config-'));
    const file = join(dir, 'opsflow.config.json');
    writeFileSync(file, JSON.stringify(withApproval({ timeoutSeconds: 10 })));
    let stderr = '';
    try {
      execFileSync('npx', ['tsx', 'infra/app.ts'], {
        env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ config: file }), CDK_OUTDIR: join(dir, 'out') },
        stdio: 'pipe',
      });
    } catch (err) {
      stderr = String((err as { stderr: Buffer }).stderr);
    }
    expect(stderr).toContain('opsflow config: approval.timeoutSeconds must be a whole number of seconds');
    expect(stderr).not.toContain('    at ');
  });
});
