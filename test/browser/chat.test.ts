/**
 * The console's Chat view in a real browser: a message the app posted to Slack shows with its text (markup in it
 * stays text) and its buttons; clicking Approve as a chosen person sends the signed Slack callback to the app, which
 * accepts it (the EC2 slash command route checks the v0 signature with the installed secret), and the page says so.
 * The screenshot is kept in test-artifacts/.
 */
import { mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRuntime, type Harness } from '../e2e/harness';
import { launchChromium } from './chromium';

let h: Harness;
let browser: Browser;

beforeAll(async () => {
  // Real time: Slack's five minutes are judged by the function's clock, which is the runtime's.
  h = await startRuntime({ timeScale: 1 });
  h.rt.chatRequestUrls = [`${h.endpoint}/ec2/chat`];
  browser = await launchChromium();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await h?.stop();
});

describe('the Chat view in a browser', () => {
  it('shows a posted message as text and clicks its button as the chosen person', async () => {
    // Posted as the runtime's network model hands a function's call to slack.com to the chat server.
    const res = await h.rt.chat.handle({
      method: 'POST',
      url: new URL('https://slack.com/api/chat.postMessage'),
      headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${h.rt.chat.install().slackBotToken}` },
      body: Buffer.from(
        JSON.stringify({
          channel: 'general',
          text: 'Approval needed',
          blocks: [
            { type: 'section', text: { type: 'mrkdwn', text: 'Stop i-0abc <img src=x onerror="document.title=1"> for the weekend?' } },
            {
              type: 'actions',
              elements: [
                { type: 'button', action_id: 'approve', text: { type: 'plain_text', text: 'Approve' }, style: 'primary', value: 'r1' },
                { type: 'button', action_id: 'reject', text: { type: 'plain_text', text: 'Reject' }, style: 'danger', value: 'r1' },
              ],
            },
          ],
        }),
      ),
      from: { functionName: 'Opsflow-Test', sourceIp: 'a changing AWS address' },
    });
    expect(JSON.parse(res.body.toString()).ok).toBe(true);

    const page = await browser.newPage();
    await page.goto(`${h.endpoint}/#/chat`);
    const message = page.locator('[data-message-id="chat-000001"]');
    await message.waitFor();
    expect(await message.locator('.chat-line').textContent()).toBe('Stop i-0abc <img src=x onerror="document.title=1"> for the weekend?');
    expect(await message.locator('img').count()).toBe(0);

    await page.selectOption('#chat-as', 'duty-manager@example.com');
    await message.getByRole('button', { name: 'Approve' }).click();
    // The function's cold start takes seconds on a loaded machine.
    await expect.poll(() => page.locator('.chat-outcome').textContent(), { timeout: 60_000 }).toBe('Duty Manager clicked approve: the app answered 200.');
    mkdirSync('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/console-chat.png', fullPage: true });
    await page.close();
  });
});
