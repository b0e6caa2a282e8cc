/**
 * The local console in Chromium: an approval from start to finish in the browser (start it from the
 * console, see the activity state running, open the email in the outbox, follow its link, approve, see the
 * graph succeeded), a TagPolicy start with a bad input showing Input.Invalid and its cause, and a page
 * on another origin that cannot change anything. Screenshots go to test-artifacts/.
 */
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AslDefinition } from '../../local/console/api';
import { startRuntime, type Harness } from '../e2e/harness';
import { launchChromium } from './chromium';

let h: Harness;
let browser: Browser;
const ARTIFACTS = 'test-artifacts';

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  [h, browser] = await Promise.all([startRuntime(), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await h?.stop();
});

/** The Approval definition's activity state: the one that waits for the decision. */
async function activityStateName(): Promise<string> {
  const def: AslDefinition = (await h.rt.console.api.workflows()).find((w) => w.name === 'Approval')!.definition;
  for (const branch of def.States.AwaitDecision.Branches ?? []) {
    for (const [name, state] of Object.entries(branch.States)) if (String(state.Resource).includes(':activity:')) return name;
  }
  throw new Error('the Approval definition has no activity state');
}

async function startFromConsole(page: Page, workflow: string, input: string): Promise<string> {
  // From another view, going to #/workflows is a hash change: the page renders the cards anew after goto returns.
  // Fill only once that render is in the DOM (the app marks it), or the input goes into a card about to be replaced.
  const rendered = () => page.evaluate(() => performance.getEntriesByName('opsflow:workflows-rendered').length);
  const before = await rendered();
  await page.goto(`${h.endpoint}/#/workflows`);
  await expect.poll(rendered).toBeGreaterThan(before);
  const card = page.locator(`#wf-${workflow}`);
  await card.getByLabel('Input (JSON)').fill(input);
  await card.getByRole('button', { name: 'Start execution' }).click();
  await page.waitForURL(/#\/execution\//);
  return decodeURIComponent(new URL(page.url()).hash.replace('#/execution/', ''));
}

describe('the local console in Chromium', () => {
  it('runs an approval end to end: start, running activity, email link, approve, succeeded graph', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));

    // Invalid JSON is refused in the page: nothing is started.
    await page.goto(`${h.endpoint}/`);
    const card = page.locator('#wf-Approval');
    await expect.poll(() => card.getByLabel('Input (JSON)').inputValue()).toContain('"title"'); // prefilled from the examples the app declares
    await card.getByLabel('Input (JSON)').fill('{ "title": ');
    await expect.poll(() => card.locator('.field-status').textContent()).toMatch(/Not valid JSON/);
    await card.getByRole('button', { name: 'Start execution' }).click();
    await expect.poll(() => card.getByRole('alert').textContent()).toMatch(/not valid JSON/);
    expect((await h.rt.console.api.executions()).total).toBe(0);

    // 1. Start an Approval from the console; the page opens the new execution.
    const arn = await startFromConsole(
      page,
      'Approval',
      JSON.stringify({ title: 'Console approval', approvers: ['lead@example.com'], requestedBy: 'console-test' }),
    );
    expect(arn).toMatch(/:execution:([\w]+-)?Approval:/);

    // 2. Running, with the activity state marked running (by class and by word).
    const activity = page.locator(`g.node[data-state="${await activityStateName()}"]`);
    await expect.poll(() => activity.getAttribute('class'), { timeout: 15_000 }).toContain('status-running');
    expect(await activity.getAttribute('aria-label')).toContain('Running');
    await expect.poll(() => page.locator('.execution-meta .badge').textContent()).toContain('RUNNING');
    await expect.poll(() => page.locator('section[aria-label^="Approval:"]').textContent(), { timeout: 15_000 }).toContain('lead@example.com');
    await page.screenshot({ path: `${ARTIFACTS}/console-approval-running.png`, fullPage: true });

    // Keyboard: Tab to a state and press Enter to see its details.
    await page.locator('g.node[data-state="ValidateInput"]').focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('.state-details h2').textContent()).toBe('ValidateInput');
    expect(await page.locator('.state-details').textContent()).toContain('console-test');

    // 3. The email in the outbox view; its Approve link opens the approval page in a new tab.
    await page.getByRole('link', { name: 'Outbox' }).click();
    await page
      .getByRole('link', { name: /Approval needed: Console approval/ })
      .first()
      .click();
    const email = page.frameLocator('iframe.email');
    await expect.poll(() => email.locator('body').textContent()).toContain('Console approval');
    await page.screenshot({ path: `${ARTIFACTS}/console-outbox.png` });
    const [approvalPage] = await Promise.all([
      context.waitForEvent('page'),
      email
        .getByRole('link', { name: /approve/i })
        .first()
        .click(),
    ]);
    await approvalPage.waitForLoadState();
    expect(await approvalPage.textContent('h1')).toBe('Console approval');
    await approvalPage.fill('textarea[name=comment]', 'approved in the console test');
    await approvalPage.click('button[value=approve]');
    await approvalPage.waitForLoadState();
    expect(await approvalPage.textContent('body')).toMatch(/approved/i);
    await approvalPage.close();

    // 4. Succeeded, and the graph shows it.
    await page.goto(`${h.endpoint}/#/execution/${encodeURIComponent(arn)}`);
    await expect.poll(() => page.locator('.execution-meta .badge').textContent(), { timeout: 15_000 }).toContain('SUCCEEDED');
    await expect.poll(() => activity.getAttribute('class')).toContain('status-succeeded');
    expect(await page.locator('g.node.status-running').count()).toBe(0);
    expect(await page.locator('table').last().textContent()).toContain('ExecutionSucceeded');
    await page.locator('.graph-panel').screenshot({ path: `${ARTIFACTS}/console-execution-graph.png` });
    await page.screenshot({ path: `${ARTIFACTS}/console-approval-succeeded.png`, fullPage: true });
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('shows Input.Invalid and its cause for a TagPolicy start with a bad input, also at 390×844', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    await startFromConsole(page, 'TagPolicy', JSON.stringify({ mode: 'scan', rules: ['Owner', 'NoSuchRule'] }));
    const banner = page.locator('.banner.error');
    await expect.poll(() => banner.textContent(), { timeout: 15_000 }).toContain('Input.Invalid');
    expect(await banner.textContent()).toMatch(/"NoSuchRule" not in the deployed policy/);
    // Nothing wider than the phone's screen but the scrollable graph and tables.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: `${ARTIFACTS}/console-input-invalid-390.png`, fullPage: true });
    await context.close();
  });

  it('edits the faults, stops an execution and fires a schedule from the console itself', async () => {
    const page = await browser.newPage();
    await page.goto(`${h.endpoint}/#/faults`);
    await page.getByLabel('SES failure rate').fill('0.5');
    await page.getByLabel('Crashing Lambda functions').fill('NoSuchFn, OtherFn');
    await page.getByRole('button', { name: 'Save faults' }).click();
    await expect.poll(() => h.rt.faults.sesFailRate).toBe(0.5);
    expect(h.rt.faults.crashLambdas).toEqual(['NoSuchFn', 'OtherFn']);
    // Out of range: the browser's own validation keeps the form from being sent.
    await page.getByLabel('SES failure rate').fill('2');
    await page.getByRole('button', { name: 'Save faults' }).click();
    expect(await page.getByLabel('SES failure rate').evaluate((el) => (el as HTMLInputElement).validity.rangeOverflow)).toBe(true);
    expect(h.rt.faults.sesFailRate).toBe(0.5);
    await h.rt.console.api.setFaults({ sesFailRate: 0, crashLambdas: [] });

    // Stop execution.
    const running = await h.start('Approval', { title: 'To be stopped', approvers: ['lead@example.com'] });
    await page.goto(`${h.endpoint}/#/execution/${encodeURIComponent(running)}`);
    await page.getByRole('button', { name: 'Stop execution' }).click();
    await page.getByRole('dialog', { name: 'Stop this execution?' }).getByRole('button', { name: 'Stop execution' }).click();
    await expect.poll(() => page.locator('.execution-meta .badge').textContent(), { timeout: 15_000 }).toContain('ABORTED');
    expect((await h.rt.console.api.execution(running)).status).toBe('ABORTED');

    await page.goto(`${h.endpoint}/#/schedules`);
    const sweep = h.rt.scheduler.list().find((s) => s.name.includes('ApprovalSweep'))!;
    await page.getByRole('button', { name: `Fire ${sweep.name} now` }).click();
    await expect.poll(() => page.locator('#toast').textContent()).toBe(`Fired ${sweep.name}.`);
    await expect.poll(() => h.rt.scheduler.list().find((s) => s.name === sweep.name)!.lastFiredAt).not.toBeNull();
    await page.close();
  });

  it('lets no page on another origin change anything', async () => {
    const before = JSON.stringify(h.rt.faults);
    // Record what reaches the console/API handler and what it answered, to know the writes arrived and were refused.
    const seen: string[] = [];
    const handle = h.rt.console.handle.bind(h.rt.console);
    h.rt.console.handle = async (req) => {
      const res = await handle(req);
      if (req.path === '/_opsflow/faults') seen.push(`${req.method} ${req.headers['content-type'] ?? ''} → ${res?.status}`);
      return res;
    };
    const evil: Server = createServer((_req, res) => res.end('<!doctype html><title>another site</title>'));
    await new Promise<void>((done) => evil.listen(0, '127.0.0.1', done));
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
      const outcome = await page.evaluate(async (endpoint) => {
        const results: string[] = [];
        // The "simple" request a page can send without a preflight: it arrives, and must be refused.
        // (Its answer is unreadable here either way: opaque, and withheld by Cross-Origin-Resource-Policy.)
        await fetch(`${endpoint}/_opsflow/faults`, {
          method: 'POST',
          mode: 'no-cors',
          headers: { 'content-type': 'text/plain' },
          body: '{"sesFailRate":1}',
        }).then(
          () => results.push('no-cors read'),
          () => results.push('no-cors unreadable'),
        );
        // A JSON write needs a preflight that the runtime never grants.
        await fetch(`${endpoint}/_opsflow/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"sesFailRate":1}' }).then(
          () => results.push('json read'),
          () => results.push('json blocked'),
        );
        // Reading the outbox from another origin is blocked by the browser (no CORS headers).
        await fetch(`${endpoint}/_opsflow/outbox`).then(
          () => results.push('outbox read'),
          () => results.push('outbox blocked'),
        );
        return results;
      }, h.endpoint);
      expect(outcome).toEqual(['no-cors unreadable', 'json blocked', 'outbox blocked']);
      // The simple POST arrived and was refused; the JSON one stopped at its refused preflight and never came.
      expect(seen).toEqual(['POST text/plain → 403', 'OPTIONS  → 403']);
      expect(JSON.stringify(h.rt.faults)).toBe(before);
      await page.close();
    } finally {
      h.rt.console.handle = handle;
      evil.close();
    }
  });
});
