/**
 * Inbound chat requests are verified as each platform specifies: Slack's v0 signature over the raw body with a
 * timestamp at most five minutes from now, Mattermost's slash-command token; everything else refused.
 */
import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { slackSignature, verifyChatRequest, type ChatSecrets } from '../../../tasks/shared/chat-auth';
import { CACHE_MS, chatSecretSource } from '../../../tasks/shared/chat-secrets';

/** Slack's own worked example (https://api.slack.com/authentication/verifying-requests-from-slack). */
const SLACK_EXAMPLE = {
  secret: '8f742231b10e8888abcd99yyyzzz85a5',
  timestamp: '1531420618',
  body: 'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c',
  signature: 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
};
const secrets: ChatSecrets = { slackSigningSecret: SLACK_EXAMPLE.secret, mattermostToken: 'mm-token-0123456789' };
const at = (timestamp: string, skewSeconds = 0) => (Number(timestamp) + skewSeconds) * 1000;
const slack = (body: string, signature: string, timestamp = SLACK_EXAMPLE.timestamp) => ({
  headers: { 'x-slack-signature': signature, 'x-slack-request-timestamp': timestamp },
  body,
});

describe('Slack request signatures', () => {
  it("accepts Slack's worked example, and computes its signature", () => {
    expect(slackSignature(SLACK_EXAMPLE.secret, SLACK_EXAMPLE.timestamp, SLACK_EXAMPLE.body)).toBe(SLACK_EXAMPLE.signature);
    expect(verifyChatRequest(slack(SLACK_EXAMPLE.body, SLACK_EXAMPLE.signature), secrets, at(SLACK_EXAMPLE.timestamp))).toEqual({
      ok: true,
      platform: 'slack',
    });
  });

  it('refuses a forged signature, one made with another secret, and a replay with a modified body', () => {
    const now = at(SLACK_EXAMPLE.timestamp, 10);
    const forged = `v0=${'0'.repeat(64)}`;
    const otherSecret = slackSignature('not-the-signing-secret', SLACK_EXAMPLE.timestamp, SLACK_EXAMPLE.body);
    const modified = SLACK_EXAMPLE.body.replace('text=', 'text=stop%20i-0feed000000000001');
    for (const request of [
      slack(SLACK_EXAMPLE.body, forged),
      slack(SLACK_EXAMPLE.body, otherSecret),
      slack(modified, SLACK_EXAMPLE.signature),
      slack(SLACK_EXAMPLE.body, 'v0=a2114d57'),
    ]) {
      expect(verifyChatRequest(request, secrets, now)).toEqual({ ok: false, platform: 'slack', reason: 'X-Slack-Signature does not match the request' });
    }
    // The timestamp is signed too: the same signature under a fresher timestamp does not verify.
    const fresher = String(Number(SLACK_EXAMPLE.timestamp) + 60);
    expect(verifyChatRequest(slack(SLACK_EXAMPLE.body, SLACK_EXAMPLE.signature, fresher), secrets, now).ok).toBe(false);
  });

  it('refuses a timestamp more than five minutes from now, either way, and accepts one at five minutes', () => {
    const stale = { ok: false, platform: 'slack', reason: 'X-Slack-Request-Timestamp is more than 5 minutes from now (a replay?)' };
    const request = slack(SLACK_EXAMPLE.body, SLACK_EXAMPLE.signature);
    expect(verifyChatRequest(request, secrets, at(SLACK_EXAMPLE.timestamp, 301))).toEqual(stale);
    expect(verifyChatRequest(request, secrets, at(SLACK_EXAMPLE.timestamp, -301))).toEqual(stale);
    expect(verifyChatRequest(request, secrets, at(SLACK_EXAMPLE.timestamp, 300)).ok).toBe(true);
    expect(verifyChatRequest(request, secrets, at(SLACK_EXAMPLE.timestamp, -300)).ok).toBe(true);
  });

  it('refuses missing or malformed headers, and an unset signing secret', () => {
    const now = at(SLACK_EXAMPLE.timestamp);
    const body = SLACK_EXAMPLE.body;
    expect(verifyChatRequest({ headers: { 'x-slack-signature': SLACK_EXAMPLE.signature }, body }, secrets, now)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('needs both'),
    });
    expect(verifyChatRequest({ headers: { 'x-slack-request-timestamp': SLACK_EXAMPLE.timestamp }, body }, secrets, now)).toMatchObject({
      ok: false,
      platform: 'slack',
    });
    expect(verifyChatRequest(slack(body, SLACK_EXAMPLE.signature, '1531420618.5'), secrets, now)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('not a Unix time'),
    });
    expect(verifyChatRequest(slack(body, SLACK_EXAMPLE.signature), { mattermostToken: 'x' }, now)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('no Slack signing secret'),
    });
  });

  it("no longer accepts Slack's verification token, with or without the signature headers", () => {
    const now = at(SLACK_EXAMPLE.timestamp);
    // The example body carries Slack's token; configured as the Mattermost token it still does not make a Slack request pass.
    const withToken = { ...secrets, mattermostToken: 'xyzz0WbapA4vBCDEFasx0q6G' };
    expect(verifyChatRequest(slack(SLACK_EXAMPLE.body, `v0=${'1'.repeat(64)}`), withToken, now).ok).toBe(false);
    expect(verifyChatRequest({ headers: {}, body: SLACK_EXAMPLE.body }, secrets, now)).toEqual({
      ok: false,
      platform: 'mattermost',
      reason: 'wrong Mattermost token',
    });
  });
});

describe('Mattermost slash-command token', () => {
  const form = (fields: Record<string, string>) => ({ headers: {}, body: new URLSearchParams(fields).toString() });

  it('accepts the configured token and refuses another, a missing one, and any when none is configured', () => {
    expect(verifyChatRequest(form({ token: 'mm-token-0123456789', text: 'ls' }), secrets, 0)).toEqual({ ok: true, platform: 'mattermost' });
    expect(verifyChatRequest(form({ token: 'mm-token-0123456789x', text: 'ls' }), secrets, 0)).toEqual({
      ok: false,
      platform: 'mattermost',
      reason: 'wrong Mattermost token',
    });
    expect(verifyChatRequest(form({ token: 'mm-token-012345678', text: 'ls' }), secrets, 0).ok).toBe(false);
    expect(verifyChatRequest(form({ text: 'ls' }), secrets, 0)).toEqual({
      ok: false,
      platform: 'mattermost',
      reason: 'neither a Slack signature nor a Mattermost token',
    });
    expect(verifyChatRequest(form({ token: 'anything' }), {}, 0)).toMatchObject({ ok: false, reason: 'no Mattermost token is configured for this deployment' });
  });
});

describe('chat secrets from Secrets Manager', () => {
  const value = (s: ChatSecrets) => ({ SecretString: JSON.stringify(s) });

  it('reads once per five minutes, again on demand, and reads an unset secret as no secrets', async () => {
    const sm = mockClient(SecretsManagerClient);
    sm.on(GetSecretValueCommand)
      .resolvesOnce(value({ slackSigningSecret: 'one' }))
      .resolvesOnce(value({ slackSigningSecret: 'two' }))
      .resolves(value({ mattermostToken: 'three' }));
    let now = 0;
    const source = chatSecretSource(new SecretsManagerClient({ region: 'us-east-1' }), 'arn:secret', () => now);
    expect((await source.get()).slackSigningSecret).toBe('one');
    now = CACHE_MS - 1;
    expect((await source.get()).slackSigningSecret).toBe('one');
    expect((await source.get(true)).slackSigningSecret).toBe('two');
    now += CACHE_MS;
    expect(await source.get()).toEqual({ slackSigningSecret: undefined, mattermostToken: 'three' });
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(3);

    sm.reset();
    sm.on(GetSecretValueCommand).rejects(
      new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT", $metadata: {} }),
    );
    expect(await chatSecretSource(new SecretsManagerClient({ region: 'us-east-1' }), 'arn:secret', () => 0).get()).toEqual({});
    sm.restore();
  });

  it('counts only non-empty string fields of a JSON value', async () => {
    const sm = mockClient(SecretsManagerClient);
    sm.on(GetSecretValueCommand).resolves({ SecretString: '{"slackSigningSecret": "", "mattermostToken": 42}' });
    expect(await chatSecretSource(new SecretsManagerClient({ region: 'us-east-1' }), 'arn:secret', () => 0).get()).toEqual({});
    sm.restore();
  });
});

// Keep the example honest: it is Slack's HMAC-SHA256 over `v0:timestamp:body`, not a value copied blindly.
it('the worked example is HMAC-SHA256 over v0:timestamp:body', () => {
  const hex = createHmac('sha256', SLACK_EXAMPLE.secret).update(`v0:${SLACK_EXAMPLE.timestamp}:${SLACK_EXAMPLE.body}`).digest('hex');
  expect(`v0=${hex}`).toBe(SLACK_EXAMPLE.signature);
});
