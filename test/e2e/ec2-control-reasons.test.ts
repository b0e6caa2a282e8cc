/**
 * Control links and the slash command say why an action did not happen, from the workflow's own record of the run
 * (an instance already in that state, EC2 without capacity), never "running -> running"; and a body far larger than
 * either sends is answered 413, whether the handler refuses it or Lambda's payload quota does, never 500.
 */
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as runControlLink } from '../../infra/control-link';
import { DEMO } from '../demo-fleet';
import { startRuntime, type Harness } from './harness';

let h: Harness;
const TOKEN = 'reasons-chat-token';
const [, , etl01, etl02] = DEMO.batchWindow; // m5.xlarge, seeded stopped and running

const chat = async (fields: Record<string, string>) => {
  const res = await fetch(`${h.endpoint}/ec2/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: TOKEN, user_name: 'alice', ...fields }).toString(),
  });
  return { status: res.status, body: (await res.json()) as { response_type?: string; text?: string; message?: string } };
};
const executions = async () => (await h.sfn.send(new ListExecutionsCommand({ stateMachineArn: h.arnOf('Ec2Schedule') }))).executions?.length ?? 0;

beforeAll(async () => {
  h = await startRuntime({ stateDir: mkdtempSync(join(tmpdir(), 'opsflow-e2e-reasons-')), timeScale: 100 });
  await runControlLink(['chat-secret', 'mattermost', TOKEN], { endpoint: h.endpoint });
}, 120_000);
afterAll(() => h?.stop());

describe('why a start did not happen', () => {
  it('a control link and the chat say the instance is already running', async () => {
    const link = (await runControlLink([etl02, 'start'], { endpoint: h.endpoint })).split('\n')[0];
    const res = await fetch(link, { method: 'POST', headers: { accept: 'application/json' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ instanceId: etl02, from: 'running', to: 'running', outcome: 'not-done', reason: 'already running' });

    const { body } = await chat({ text: `start ${etl02}` });
    expect(body.text).toBe(`\`alice\`: start \`etl-02\` \`${etl02}\`: not started: already running`);
  });

  it('the chat says EC2 had no capacity and the workflow tries again', async () => {
    await h.rt.console.api.setFaults({ capacityErrorTypes: ['m5.xlarge'] });
    try {
      const { body } = await chat({ text: `start ${etl01}` });
      expect(body.response_type).toBe('in_channel');
      expect(body.text).toMatch(new RegExp(`^\`alice\`: start \`etl-01\` \`${etl01}\`: not started( yet)?: .*capacity.* \\(still stopped\\)$`, 'i'));
      expect(body.text).not.toContain('->');
    } finally {
      await h.rt.console.api.setFaults({ capacityErrorTypes: [] });
    }
  });
});

describe('an oversized body', () => {
  it("is answered 413 by the chat handler, by API Gateway past Lambda's payload quota, and by a control link; nothing runs", async () => {
    const before = await executions();
    const big = (bytes: number) => new URLSearchParams({ token: TOKEN, user_name: 'mallory', text: `start ${etl01} ${'x'.repeat(bytes)}` }).toString();
    const post = (path: string, body: string) =>
      fetch(`${h.endpoint}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });

    const handler = await post('/ec2/chat', big(300_000));
    expect(handler.status).toBe(413);
    expect(((await handler.json()) as { message: string }).message).toMatch(/larger than the 262144 bytes a slash command or control link sends/);

    // A form body reaches Lambda base64-encoded: 5 MB is over the 6 MB invocation payload quota.
    const gateway = await post('/ec2/chat', big(5_000_000));
    expect(gateway.status).toBe(413);
    expect(await gateway.json()).toEqual({ message: 'Request Entity Too Large' });

    const link = (await runControlLink([etl01, 'start'], { endpoint: h.endpoint })).split('\n')[0];
    const control = await post(new URL(link).pathname + new URL(link).search, `token=${'y'.repeat(300_000)}`);
    expect(control.status).toBe(413);

    expect(await executions()).toBe(before);
  });
});

describe('a link or command for another account and region (config targets)', () => {
  it('is refused by a deployment without targets, before anything runs; the same link moved to another account is 401', async () => {
    const before = await executions();
    const link = (await runControlLink([`${etl02}@111111111111/eu-west-1`, 'start'], { endpoint: h.endpoint })).split('\n')[0];
    expect(new URL(link).pathname).toBe(`/ec2/control/${etl02}@111111111111:eu-west-1/start`);
    const res = await fetch(link, { method: 'POST' });
    expect([res.status, await res.text()]).toEqual([403, 'This link is for 111111111111/eu-west-1, which this deployment does not reach.']);
    const moved = await fetch(link.replace('@111111111111:', '@222222222222:'), { method: 'POST' });
    expect(moved.status).toBe(401);

    const { body } = await chat({ text: `start ${etl02}@111111111111/eu-west-1` });
    expect(body.text).toBe('111111111111/eu-west-1 is not reached by this deployment: it acts in its own account and region only.');
    expect(await executions()).toBe(before);
  });
});
