/**
 * The deployed slash command (`POST /ec2/chat`) authenticates every request as its platform specifies, through the
 * local runtime: the HTTP API hands the chat function the form body base64-encoded, the function reads the
 * deployment's secret from Secrets Manager with its own role (IAM enforced), and:
 * - a request signed as Slack signs (v0 HMAC-SHA256 over `v0:timestamp:raw body`) is served; a forged, stale,
 *   replayed-with-another-body or token-only Slack request is refused 401 with the reason;
 * - Mattermost's token is accepted; nothing is accepted before the operator sets the secret;
 * - a rotation (PutSecretValue) takes effect on the very next request, without a redeploy.
 */
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as runControlLink } from '../../infra/control-link';
import { slackSignature } from '../../tasks/shared/chat-auth';
import { credentials, startRuntime, type Harness } from './harness';

let h: Harness;
let secrets: SecretsManagerClient;
let secretArn: string;
const SLACK_SECRET = 'slack-signing-secret-one-0123456789ab';
const ROTATED = 'slack-signing-secret-two-0123456789ab';
const MM_TOKEN = 'mattermost-token-0123456789';

beforeAll(async () => {
  // Real time (scale 1): Slack's five minutes are judged by the function's clock, which is the runtime's.
  // The local chat app is not installed: this file sets the secret as an operator would, from nothing.
  h = await startRuntime({ timeScale: 1, installChat: false });
  secrets = new SecretsManagerClient({ endpoint: h.endpoint, region: 'us-east-1', credentials });
  secretArn = h.rt.deployed.secrets.find((arn) => arn.includes('ChatSecret'))!;
}, 120_000);
afterAll(() => h?.stop());

const nowSeconds = () => String(Math.floor(h.rt.clock.nowMs() / 1000));
const post = async (body: string, headers: Record<string, string> = {}) => {
  const res = await fetch(`${h.endpoint}/ec2/chat`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });
  return { status: res.status, text: ((await res.json()) as { text: string }).text };
};
const form = (fields: Record<string, string>) => new URLSearchParams({ user_name: 'alice', command: '/ec2', ...fields }).toString();
/** Signed exactly as Slack signs a slash command request. */
const slack = (body: string, secret: string, timestamp = nowSeconds()) =>
  post(body, { 'x-slack-request-timestamp': timestamp, 'x-slack-signature': slackSignature(secret, timestamp, body) });

describe('chat request authenticity (deployed slash command)', () => {
  it('refuses everything while the stack-created secret has no value', async () => {
    await expect(secrets.send(new GetSecretValueCommand({ SecretId: secretArn }))).rejects.toThrow('staging label: AWSCURRENT');
    expect(await slack(form({ text: 'help' }), SLACK_SECRET)).toEqual({
      status: 401,
      text: 'Unauthorized: no Slack signing secret is configured for this deployment.',
    });
    expect(await post(form({ token: MM_TOKEN, text: 'help' }))).toEqual({
      status: 401,
      text: 'Unauthorized: no Mattermost token is configured for this deployment.',
    });
  });

  it('serves a Slack-signed request and refuses forged, stale, replayed-with-another-body and token-only ones', async () => {
    expect(await runControlLink(['chat-secret', 'slack', SLACK_SECRET], { endpoint: h.endpoint })).toMatch(/^Slack signing secret set/);
    const body = form({ text: 'help', token: 'slack-verification-token' });

    const ok = await slack(body, SLACK_SECRET);
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('start <id>');

    expect(await slack(body, 'not-the-signing-secret')).toEqual({ status: 401, text: 'Unauthorized: X-Slack-Signature does not match the request.' });
    const stale = String(Number(nowSeconds()) - 6 * 60);
    expect(await slack(body, SLACK_SECRET, stale)).toEqual({
      status: 401,
      text: 'Unauthorized: X-Slack-Request-Timestamp is more than 5 minutes from now (a replay?).',
    });
    const timestamp = nowSeconds();
    const signature = slackSignature(SLACK_SECRET, timestamp, body);
    const replayed = await post(form({ text: 'ls', token: 'slack-verification-token' }), {
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': signature,
    });
    expect(replayed.status).toBe(401);
    // Slack's deprecated verification token alone, without a signature, is not Slack's way any more.
    expect((await post(body)).status).toBe(401);
  });

  it('takes a rotated signing secret on the next request, without a redeploy, and keeps the Mattermost token beside it', async () => {
    // The API's stage throttle (burst 10, 5 requests/s: ec2-schedule construct) has taken the 8 requests above; 2 seconds
    // of the runtime's clock refill it, so the 7 below are not answered 429 however fast this machine sends them.
    await h.rt.clock.sleep(2_000);
    await runControlLink(['chat-secret', 'slack', SLACK_SECRET], { endpoint: h.endpoint });
    expect((await slack(form({ text: 'help' }), SLACK_SECRET)).status).toBe(200); // cached by the function now

    await secrets.send(new PutSecretValueCommand({ SecretId: secretArn, SecretString: JSON.stringify({ slackSigningSecret: ROTATED }) }));
    expect((await slack(form({ text: 'help' }), ROTATED)).status).toBe(200);
    expect((await slack(form({ text: 'help' }), SLACK_SECRET)).status).toBe(401);

    await runControlLink(['chat-secret', 'mattermost', MM_TOKEN], { endpoint: h.endpoint });
    expect((await post(form({ token: MM_TOKEN, text: 'help' }))).status).toBe(200);
    expect((await post(form({ token: `${MM_TOKEN}x`, text: 'help' }))).text).toBe('Unauthorized: wrong Mattermost token.');
    expect((await slack(form({ text: 'help' }), ROTATED)).status).toBe(200);
    const stored = JSON.parse((await secrets.send(new GetSecretValueCommand({ SecretId: secretArn }))).SecretString!);
    expect(stored).toEqual({ slackSigningSecret: ROTATED, mattermostToken: MM_TOKEN });
  });
});
