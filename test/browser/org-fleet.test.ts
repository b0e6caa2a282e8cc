/**
 * The console's fleet view with a simulated organisation (test/fixtures/org-app), in Chromium: Account and Region
 * columns, and the Account and Region selects narrowing the list (the choice lands in the URL, `#/fleet?account=…`).
 */
import type { Browser } from 'playwright-core';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startRuntime, type Harness } from '../e2e/harness';
import { launchChromium } from './chromium';

let h: Harness;
let browser: Browser;

beforeAll(async () => {
  [h, browser] = await Promise.all([startRuntime({ cdkOut: join(__dirname, '../fixtures/org-app/assembly') }), launchChromium()]);
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await h?.stop();
});

it('shows every account and region, and filters by account and region', async () => {
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(`${h.endpoint}/#/fleet`);
  const table = page.getByRole('table', { name: 'EC2 instances' });
  await expect.poll(() => table.locator('th').allTextContents()).toEqual(expect.arrayContaining(['Account', 'Region', 'Instance']));
  const rows = () =>
    table.locator('tbody tr').evaluateAll((trs) =>
      trs.map((tr) =>
        Array.from(tr.querySelectorAll('td'))
          .slice(0, 3)
          .map((td) => td.textContent),
      ),
    );
  await expect.poll(rows).toHaveLength(6);

  await page.getByLabel('Account').selectOption('111111111111');
  await page.waitForURL(/#\/fleet\?account=111111111111$/);
  await expect.poll(rows).toEqual([
    ['111111111111', 'us-east-1', 'i-0111111111111e001'],
    ['111111111111', 'us-east-1', 'i-0111111111111e002'],
    ['111111111111', 'eu-west-1', 'i-0111111111111f001'],
  ]);
  await page.getByLabel('Region').selectOption('eu-west-1');
  await page.waitForURL(/#\/fleet\?account=111111111111&region=eu-west-1$/);
  await expect.poll(rows).toEqual([['111111111111', 'eu-west-1', 'i-0111111111111f001']]);
  expect(await page.getByLabel('Account').inputValue()).toBe('111111111111');
  expect(pageErrors).toEqual([]);
  await page.close();
}, 60_000);
