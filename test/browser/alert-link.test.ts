/**
 * The console link in a failure alert, followed in Chromium: the alert function builds the AWS console's address of
 * the execution with its SDK endpoint in place of AWS's console (`<endpoint>/states/home?region=…#/v2/executions/details/<arn>`),
 * and the local console opens that execution, with its error and cause.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRuntime, type Harness } from '../e2e/harness';
import { launchChromium } from './chromium';

let h: Harness;
let browser: Browser;

beforeAll(async () => {
  [h, browser] = await Promise.all([startRuntime({ seedFleet: false }), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await h?.stop();
});

describe("a failure alert's console link", () => {
  it('opens the failed execution in the local console', async () => {
    // Prepare: a failed execution and its alert.
    const arn = await h.start('Approval', { title: '', approvers: ['lead@example.com'] });
    const [alert] = await h.mail((e) => e.service === 'sns' && e.text.includes(arn));
    const link = /^Console: (\S+)$/m.exec(alert.text)![1];
    expect(link).toBe(`${h.endpoint}/states/home?region=us-east-1#/v2/executions/details/${arn}`);

    // Act
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(link);

    // Assess: the execution's view, its status and its error.
    await expect.poll(() => page.locator('.execution-meta .badge').textContent(), { timeout: 15_000 }).toContain('FAILED');
    await expect.poll(() => page.locator('.banner.error').textContent()).toContain('Input.Invalid');
    expect(await page.locator('main').textContent()).toContain(arn.split(':').pop()!);
    expect(await page.title()).toBe('Execution · opsflow local console');
    expect(errors).toEqual([]);
    await page.close();
  });
});
