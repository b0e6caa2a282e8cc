/**
 * A real browser (Debian's chromium, driven by playwright-core) opens an approval link from the outbox, reads
 * the page, clicks Approve, and the execution succeeds. The screenshot is kept in test-artifacts/.
 */
import { mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRuntime, type Harness } from '../e2e/harness';
import { launchChromium } from './chromium';

let h: Harness;
let browser: Browser;

beforeAll(async () => {
  h = await startRuntime();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await h?.stop();
});

describe('approval page in a browser', () => {
  it('shows the request and approves it with one click, without JavaScript', async () => {
    const arn = await h.start('Approval', {
      title: 'Scale down the staging cluster',
      details: { cluster: 'staging-eks', nodes: '12 → 4' },
      approvers: ['lead@example.com'],
      requestedBy: 'capacity-bot',
    });
    const [mail] = await h.mail((e) => e.subject.includes('Scale down the staging cluster'));
    const link = mail.links.find((l) => l.includes('intent=approve'))!;

    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(link);
    expect(await page.textContent('h1')).toBe('Scale down the staging cluster');
    const body = await page.textContent('body');
    expect(body).toContain('Scale down the staging cluster');
    expect(body).toContain('capacity-bot');
    expect(body).toContain('staging-eks');
    await page.fill('textarea[name=comment]', 'go ahead');
    mkdirSync('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/approval-page.png', fullPage: true });

    await page.click('button[value=approve]');
    await page.waitForLoadState();
    expect(await page.textContent('body')).toMatch(/approved/i);
    await page.screenshot({ path: 'test-artifacts/approval-decided.png', fullPage: true });
    await context.close();

    const done = await h.finished(arn);
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!)).toMatchObject({ approver: 'lead@example.com', comment: 'go ahead' });
  });
});
