/**
 * The local chat server inside the runtime: the local app is installed into the deployment's chat secret, a
 * message posted to slack.com shows in `opsflow chat list` and `opsflow outbox`, and `opsflow chat click` sends the
 * Slack callback signed so that a deployed function (the EC2 slash command, which checks Slack's v0 signature with
 * the secret from Secrets Manager) accepts it.
 *
 * The message is handed to the chat server in-process, as the runtime's network model does for a function's
 * outbound call (local/network/internet.ts); the Request URL is the slash command's route.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../local/console/api';
import { credentials, startRuntime, type Harness } from './harness';

const exec = promisify(execFile);
let h: Harness;
let secrets: SecretsManagerClient;
let secretArn: string;

const opsflow = async (...args: string[]) => {
  const { stdout } = await exec(process.execPath, [require.resolve('tsx/cli'), 'local/cli.ts', ...args], {
    env: { ...process.env, OPSFLOW_ENDPOINT: h.endpoint, OPSFLOW_STATE_DIR: h.stateDir },
  });
  return stdout;
};

beforeAll(async () => {
  // Real time: Slack's five minutes are judged by the function's clock, which is the runtime's.
  h = await startRuntime({ timeScale: 1 });
  secrets = new SecretsManagerClient({ endpoint: h.endpoint, region: 'us-east-1', credentials });
  secretArn = h.rt.deployed.secrets.find((arn) => arn.includes('ChatSecret'))!;
  h.rt.chatRequestUrls = [`${h.endpoint}/ec2/chat`];
}, 120_000);
afterAll(() => h?.stop());

async function postToSlack(body: unknown): Promise<{ ok: boolean; ts?: string; error?: string }> {
  const res = await h.rt.chat.handle({
    method: 'POST',
    url: new URL('https://slack.com/api/chat.postMessage'),
    headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${h.rt.chat.install().slackBotToken}` },
    body: Buffer.from(JSON.stringify(body)),
    from: { functionName: 'Opsflow-Test', sourceIp: 'a changing AWS address' },
  });
  return JSON.parse(res.body.toString());
}

const blocks = [
  { type: 'section', text: { type: 'mrkdwn', text: 'Stop i-0abc for the weekend?' } },
  {
    type: 'actions',
    elements: [
      { type: 'button', action_id: 'approve', text: { type: 'plain_text', text: 'Approve' }, style: 'primary', value: 'r1' },
      { type: 'button', action_id: 'reject', text: { type: 'plain_text', text: 'Reject' }, style: 'danger', value: 'r1' },
    ],
  },
];

describe('the local chat server in the runtime', () => {
  it("installs the local app's secrets into the deployment's chat secret", async () => {
    const value = JSON.parse((await secrets.send(new GetSecretValueCommand({ SecretId: secretArn }))).SecretString!);
    expect(value).toEqual(h.rt.chat.secretFields());
    expect(Object.keys(value).sort()).toEqual([
      'mattermostBotToken',
      'mattermostToken',
      'slackBotToken',
      'slackSigningSecret',
      'teamsHmacKey',
      'teamsWebhooks',
    ]);
    expect(value.teamsWebhooks.general).toMatch(/^https:\/\/opsflow-local\.webhook\.office\.com\/webhookb2\//);
  });

  it('lists a posted message in opsflow chat and opsflow outbox, and clicks it signed as Slack signs', async () => {
    expect(await postToSlack({ channel: '#general', text: 'Approval needed', blocks })).toMatchObject({ ok: true });
    const list = await opsflow('chat', 'list');
    expect(list).toMatch(/chat-000001\s+\S+\s+slack #general\s+opsflow\s+Stop i-0abc for the weekend\?\s+Approve \| Reject/);
    expect(list).toContain('People: Approver <approver@example.com>, Duty Manager <duty-manager@example.com>, Visitor <visitor@example.com>');
    const outbox = JSON.parse(await opsflow('outbox', '--json'));
    expect(outbox).toContainEqual(
      expect.objectContaining({ id: 'chat-000001', service: 'chat', to: ['slack #general'], subject: 'Stop i-0abc for the weekend?' }),
    );

    // The slash command verifies the v0 signature with the secret the install wrote: the callback is served.
    const clicked = await opsflow('chat', 'click', 'chat-000001', 'Approve', '--as', 'approver@example.com');
    expect(clicked).toBe(`Approver clicked approve on chat-000001: the app answered 200 (${h.endpoint}/ec2/chat)\n`);
  });

  it("keeps the console API's guards: a foreign origin or a form post cannot click", async () => {
    const click = (headers: Record<string, string>) =>
      fetch(`${h.endpoint}/_opsflow/chat/chat-000001/click`, { method: 'POST', headers, body: JSON.stringify({ button: 'approve', as: 'Approver' }) });
    expect((await click({ 'content-type': 'application/json', origin: 'http://evil.example' })).status).toBe(403);
    expect((await click({ 'content-type': 'text/plain' })).status).toBe(415);
    expect((await click({ 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'cross-site' })).status).toBe(403);
  });

  it('says what is wrong: no --as, an unknown action, button, person or message', async () => {
    const failure = (p: Promise<unknown>) =>
      p.then(
        () => '',
        (err: { stderr?: string; message: string }) => err.stderr ?? err.message,
      );
    // The CLI's own refusals (two processes: a loaded machine starts each in seconds).
    const [noAs, wave] = await Promise.all([failure(opsflow('chat', 'click', 'chat-000001', 'Approve')), failure(opsflow('chat', 'wave'))]);
    expect(noAs).toContain('chat click needs --as <person>');
    expect(wave).toContain("unknown chat action 'wave'");
    // The API's, which the CLI prints as they are.
    const api = new ApiClient(h.endpoint);
    expect(await failure(api.chatClick('chat-000001', { button: 'Maybe', as: 'Approver' }))).toBe(
      'chat-000001 has no button "Maybe"; its buttons: approve (Approve), reject (Reject)',
    );
    expect(await failure(api.chatClick('chat-000001', { button: 'Approve', as: 'mallory' }))).toContain('no chat user "mallory"');
    expect(await failure(api.chatClick('chat-999999', { button: 'Approve', as: 'Approver' }))).toContain('no chat message chat-999999');
  }, 180_000);
});
