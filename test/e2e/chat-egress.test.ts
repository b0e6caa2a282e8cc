/**
 * A real function's chat calls, end to end: a Lambda function of the Egress fixture app (test/fixtures/egress) posts
 * to slack.com and hooks.slack.com with fetch and node:https; the calls leave through the runtime's network model
 * (local/network/) and the local chat server answers them as Slack does, recording the function and the address the
 * call left from on the message.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANGING_AWS_ADDRESS } from '../../local/network/model';
import { synthEgress } from '../fixtures/egress/app';
import { startRuntime, type Harness } from './harness';

let dir: string;
let h: Harness;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'opsflow-chat-egress-'));
  synthEgress(join(dir, 'cdk.out'));
  h = await startRuntime({ cdkOut: join(dir, 'cdk.out'), stateDir: join(dir, 'state'), timeScale: 1000 });
}, 120_000);
afterAll(async () => {
  await h?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const outside = () => h.rt.deployed.functions.find((f) => f.includes('Outside'))!;

describe("a function's calls to Slack", () => {
  it('post a message with the bot token through the network model, and Slack refuses a wrong token', async () => {
    const token = h.rt.chat.install().slackBotToken;
    const body = {
      channel: '#general',
      text: 'Approval needed',
      blocks: [{ type: 'actions', elements: [{ type: 'button', action_id: 'approve', text: { type: 'plain_text', text: 'Approve' } }] }],
    };
    const posted = (await h.rt.lambdas.invoke(outside(), {
      url: 'https://slack.com/api/chat.postMessage',
      headers: { authorization: `Bearer ${token}` },
      body,
    })) as {
      status: number;
      body: string;
    };
    expect(posted.status).toBe(200);
    expect(JSON.parse(posted.body)).toMatchObject({ ok: true, channel: expect.stringMatching(/^C/), ts: expect.any(String) });
    const [m] = h.rt.chat.list();
    expect(m).toMatchObject({
      platform: 'slack',
      channel: 'general',
      buttons: [{ id: 'approve', label: 'Approve' }],
      from: { functionName: outside(), sourceIp: CHANGING_AWS_ADDRESS },
    });

    const refused = (await h.rt.lambdas.invoke(outside(), {
      url: 'https://slack.com/api/chat.postMessage',
      headers: { authorization: 'Bearer xoxb-wrong' },
      body,
    })) as { body: string };
    expect(JSON.parse(refused.body)).toEqual({ ok: false, error: 'invalid_auth' });
  });

  it('post to an incoming webhook with node:https', async () => {
    const out = await h.rt.lambdas.invoke(outside(), {
      url: 'https://hooks.slack.com/services/T0001/B0002/abcdef',
      body: { text: 'TagPolicy report' },
      client: 'https',
    });
    expect(out).toEqual({ status: 200, body: 'ok' });
    expect(h.rt.chat.list().at(-1)).toMatchObject({ via: 'webhook', lines: ['TagPolicy report'], from: { functionName: outside() } });
  });
});
