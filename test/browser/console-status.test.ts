/**
 * Issue 19 item 4 in Chromium: every status the console shows is true.
 * - An approval whose execution was stopped shows closed, and why; reminders are counted per email.
 * - Stopping an execution asks first.
 * - "Waiting" lists what waits on whom (approver, since, deadline), from the app's record panel metadata.
 * - A crashed function's error reads as a message, not as JSON.
 * - A Distributed Map's inner states show how they ran; child executions are folded groups below the graph.
 * - No glyph renders as a box, with the fonts Debian's chromium has.
 * Screenshots (1280×800 and 390×844) go to test-artifacts/.
 */
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT, REGION } from '../../local/kernel';
import { requestId } from '../../tasks/approval/core/links';
import { credentials, startRuntime, type Harness } from '../e2e/harness';
import { launchChromium } from './chromium';
import { boxGlyphs } from './glyphs';

let h: Harness;
let browser: Browser;
let ddb: DynamoDBClient;
const ARTIFACTS = 'test-artifacts';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  [h, browser] = await Promise.all([startRuntime(), launchChromium()]);
  ddb = new DynamoDBClient({ endpoint: h.endpoint, region: REGION, credentials });
}, 120_000);
afterAll(async () => {
  ddb?.destroy();
  await browser?.close();
  await h?.stop();
});

async function open(viewport = DESKTOP): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  return { context, page, errors };
}

const approvalTable = () => h.rt.deployed.tables.find((t) => t.includes('ApprovalTable'))!;

/** The label → text pairs of a `<dl class="facts">`. */
async function facts(page: Page, scope: string): Promise<Record<string, string>> {
  return page
    .locator(scope)
    .first()
    .evaluate((root) => {
      const out: Record<string, string> = {};
      for (const dt of Array.from(root.querySelectorAll('dl.facts > dt'))) out[dt.textContent!.trim()] = (dt.nextElementSibling?.textContent ?? '').trim();
      return out;
    });
}

/** The page fits the phone's width: nothing but the scrollable graph and tables is wider. */
async function fitsWidth(page: Page, width: number): Promise<void> {
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
}

describe('the approval panel and stopping', () => {
  it('asks before stopping; after the stop the request shows closed and why; reminders are counted per email', async () => {
    const { context, page, errors } = await open();
    const arn = await h.start('Approval', { title: 'Status truth', approvers: ['lead@example.com', 'ops@example.com'] });
    await page.goto(`${h.endpoint}/#/execution/${encodeURIComponent(arn)}`);
    const panel = page.locator('section[aria-label="Approval: Status truth"]');
    await expect.poll(() => panel.textContent(), { timeout: 20_000 }).toContain('ops@example.com');

    // The sweep reminded lead twice (4 and 8 hours in): the record counts each reminder email.
    await ddb.send(
      new UpdateItemCommand({
        TableName: approvalTable(),
        Key: { id: { S: requestId(arn) } },
        UpdateExpression: 'SET approvers[0].reminders = :n, approvers[0].remindedAt = :at',
        ExpressionAttributeValues: { ':n': { N: '2' }, ':at': { S: '2030-01-01T08:00:00.000Z' } },
      }),
    );
    await expect.poll(async () => (await facts(page, 'section[aria-label="Approval: Status truth"]'))['Reminders sent'], { timeout: 10_000 }).toBe('2');
    const open1 = await facts(page, 'section[aria-label="Approval: Status truth"]');
    expect(open1.Status).toMatch(/pending/);
    expect(open1['Waiting on']).toBe('lead@example.com, ops@example.com');
    expect(await panel.locator('tbody tr').first().textContent()).toContain('lead@example.com');
    await page.screenshot({ path: `${ARTIFACTS}/console-approval-pending.png`, fullPage: true });

    // Stop asks first; "Keep it running" changes nothing.
    await page.getByRole('button', { name: 'Stop execution' }).click();
    const dialog = page.getByRole('dialog', { name: 'Stop this execution?' });
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await dialog.textContent()).toContain('cannot be resumed');
    await page.screenshot({ path: `${ARTIFACTS}/console-stop-confirm.png` });
    await dialog.getByRole('button', { name: 'Keep it running' }).click();
    await expect.poll(() => dialog.count()).toBe(0);
    expect((await h.rt.console.api.execution(arn)).status).toBe('RUNNING');

    await page.getByRole('button', { name: 'Stop execution' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Stop execution' }).click();
    await expect.poll(() => page.locator('.execution-meta .badge').textContent(), { timeout: 15_000 }).toContain('ABORTED');
    // The record still says "pending" (nobody opened a link since); the panel believes the execution.
    await expect
      .poll(async () => (await facts(page, 'section[aria-label="Approval: Status truth"]')).Status, { timeout: 10_000 })
      .toBe('closed its execution was stopped (ABORTED): Stopped from the opsflow console');
    const closed = await facts(page, 'section[aria-label="Approval: Status truth"]');
    expect(closed).not.toHaveProperty('Next reminder');
    expect(closed).not.toHaveProperty('Waiting on');
    expect(closed['Reminders sent']).toBe('2');
    expect(await boxGlyphs(page)).toEqual([]);
    await page.screenshot({ path: `${ARTIFACTS}/console-approval-closed.png`, fullPage: true });

    await page.setViewportSize(PHONE);
    await fitsWidth(page, PHONE.width);
    await page.screenshot({ path: `${ARTIFACTS}/console-approval-closed-390.png`, fullPage: true });
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);
});

describe('the waiting view', () => {
  it('lists what waits on whom, since when and until when; a stopped request waits on nobody', async () => {
    const { context, page, errors } = await open();
    const first = await h.start('Approval', { title: 'Open the firewall', approvers: ['net@example.com', 'sec@example.com'], quorum: 2 });
    const second = await h.start('Approval', { title: 'Rotate the keys', approvers: ['sec@example.com'] });
    await h.mail((m) => m.subject.includes('Rotate the keys'));
    await h.mail((m) => m.subject.includes('Open the firewall'), 2);

    await page.goto(`${h.endpoint}/#/waiting`);
    const table = page.locator('section[aria-label^="Pending approvals"] table');
    await expect.poll(() => table.textContent(), { timeout: 15_000 }).toContain('Rotate the keys');
    const row = (title: string) => table.locator('tbody tr', { hasText: title });
    const cells = async (title: string) => (await row(title).locator('td').allTextContents()).map((t) => t.trim());
    const [request, who, since, deadline] = await cells('Open the firewall');
    expect(request).toContain('Approval');
    expect(who).toBe('net@example.comsec@example.com');
    expect(await row('Open the firewall').locator('td').nth(2).locator('time').count()).toBe(2); // each approver: emailed at
    expect(since).not.toContain('not emailed yet');
    expect(deadline).toMatch(/\d/);
    expect(await row('Open the firewall').locator('a').getAttribute('href')).toBe(`#/execution/${encodeURIComponent(first)}`);
    expect(await boxGlyphs(page)).toEqual([]);
    await page.screenshot({ path: `${ARTIFACTS}/console-waiting.png`, fullPage: true });
    await page.setViewportSize(PHONE);
    await fitsWidth(page, PHONE.width);
    await page.screenshot({ path: `${ARTIFACTS}/console-waiting-390.png`, fullPage: true });

    await h.rt.console.api.stop(second, { cause: 'no longer needed' });
    await expect.poll(() => row('Rotate the keys').count(), { timeout: 10_000 }).toBe(0);
    expect(await row('Open the firewall').count()).toBe(1);
    await h.rt.console.api.stop(first);
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);
});

describe('a crashed function', () => {
  it('shows its error as a message with a hint, not as raw JSON', async () => {
    const { context, page, errors } = await open();
    await h.rt.console.api.setFaults({ crashLambdas: ['ApprovalValidateFn'] });
    let arn: string;
    try {
      arn = await h.start('Approval', { title: 'Crash me', approvers: ['lead@example.com'] });
      await h.finished(arn, 60_000);
    } finally {
      await h.rt.console.api.setFaults({ crashLambdas: [] });
    }
    const done = await h.rt.console.api.execution(arn);
    expect(done.cause).toContain('"errorType"'); // what Step Functions records: Lambda's error JSON

    await page.goto(`${h.endpoint}/#/execution/${encodeURIComponent(arn)}`);
    const banner = page.locator('.banner.error');
    await expect.poll(() => banner.textContent(), { timeout: 10_000 }).toContain(done.error!);
    const text = (await banner.textContent())!;
    expect(text).toContain('Runtime exited with error');
    expect(text).toContain('exited before it returned');
    expect(text).not.toMatch(/[{}"]|errorType|errorMessage/);

    await page.locator('g.node[data-state="ValidateInput"]').click();
    const state = page.locator('.state-details .failure');
    await expect.poll(() => state.textContent()).toContain('Runtime exited with error');
    expect(await state.textContent()).not.toContain('errorType');
    expect(await boxGlyphs(page)).toEqual([]);
    await page.screenshot({ path: `${ARTIFACTS}/console-crash.png`, fullPage: true });
    await page.setViewportSize(PHONE);
    await fitsWidth(page, PHONE.width);
    await page.screenshot({ path: `${ARTIFACTS}/console-crash-390.png`, fullPage: true });
    expect(errors).toEqual([]);
    await context.close();
  }, 90_000);
});

describe('child executions', () => {
  const ROLE = `arn:aws:iam::${ACCOUNT}:role/console-status-test`;

  it('a Distributed Map over 180 items: its inner states show as run, its children one folded group below the graph', async () => {
    const smArn = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:FanOut`;
    h.rt.sfn.deployStateMachine({
      arn: smArn,
      name: 'FanOut',
      roleArn: ROLE,
      definition: {
        StartAt: 'Fan',
        States: {
          Fan: {
            Type: 'Map',
            ItemsPath: '$.items',
            MaxConcurrency: 20,
            End: true,
            ItemProcessor: {
              ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
              StartAt: 'Shape',
              States: { Shape: { Type: 'Pass', Next: 'Done' }, Done: { Type: 'Succeed' } },
            },
          },
        },
      },
    });
    const { executionArn } = await h.rt.sfn.startExecution(smArn, JSON.stringify({ items: Array.from({ length: 180 }, (_, n) => ({ n })) }));
    await h.until('the fan-out to finish', () => (h.rt.sfn.describeExecution(executionArn).status === 'RUNNING' ? undefined : true), 60_000);

    const { context, page, errors } = await open();
    await page.goto(`${h.endpoint}/#/execution/${encodeURIComponent(executionArn)}`);
    const shape = page.locator('g.node[data-state="Shape"]');
    await expect.poll(() => shape.getAttribute('class'), { timeout: 10_000 }).toContain('status-succeeded');
    expect(await shape.getAttribute('aria-label')).toBe('Shape, Pass state: Succeeded ×180');

    // No link to a child execution comes before the graph; the children are one folded group after it.
    const linksBeforeGraph = await page.evaluate(() => {
      const graph = document.querySelector('.graph-panel')!;
      return Array.from(document.querySelectorAll('a[href^="#/execution/"]')).filter((a) => a.compareDocumentPosition(graph) & Node.DOCUMENT_POSITION_FOLLOWING)
        .length;
    });
    expect(linksBeforeGraph).toBe(0);
    const group = page.locator('.children details.child-group');
    expect(await group.count()).toBe(1);
    expect(await group.evaluate((d) => (d as HTMLDetailsElement).open)).toBe(false);
    expect(await group.locator('summary').textContent()).toMatch(/Map Run of Fan · 180 executions\s+SUCCEEDED 180/);
    expect(await boxGlyphs(page)).toEqual([]);
    await page.screenshot({ path: `${ARTIFACTS}/console-distributed-map.png`, fullPage: true });
    await group.locator('summary').click();
    expect(await group.locator('tbody tr').count()).toBe(100);
    await page.locator('g.node[data-state="Shape"]').click();
    expect(await facts(page, '.state-details')).toMatchObject({ 'Child executions': '180 succeeded', Runs: '180' });
    await page.screenshot({ path: `${ARTIFACTS}/console-distributed-map-open.png`, fullPage: true });
    await page.setViewportSize(PHONE);
    await fitsWidth(page, PHONE.width);
    await page.screenshot({ path: `${ARTIFACTS}/console-distributed-map-390.png`, fullPage: true });
    expect(errors).toEqual([]);
    await context.close();
  }, 90_000);

  it("executions started by a task (Ec2Schedule's ordering groups) are a folded group below the graph too", async () => {
    const arn = await h.start('Ec2Schedule', { action: 'stop', schedule: 'office-hours', dryRun: true, requestedBy: 'console-test' });
    await h.finished(arn, 60_000);
    const { context, page } = await open();
    await page.goto(`${h.endpoint}/#/execution/${encodeURIComponent(arn)}`);
    const group = page.locator('.children details.child-group');
    await expect.poll(() => group.count(), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await group.first().locator('summary').textContent()).toMatch(/Ec2ScheduleWave · \d+ executions?/);
    expect(await group.first().evaluate((d) => (d as HTMLDetailsElement).open)).toBe(false);
    expect(await page.locator('.graph-panel ~ * a[href^="#/execution/"], .execution-header ~ section a[href^="#/execution/"]').count()).toBe(0);
    await context.close();
  }, 90_000);
});

describe('glyphs', () => {
  it('no status renders as a box: timed-out executions, every view, desktop and phone', async () => {
    // An execution that times out: TIMED_OUT is the status whose glyph (⌛) these fonts lacked.
    const smArn = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:TimesOut`;
    h.rt.sfn.deployStateMachine({
      arn: smArn,
      name: 'TimesOut',
      roleArn: `arn:aws:iam::${ACCOUNT}:role/console-status-test`,
      definition: { StartAt: 'Hold', TimeoutSeconds: 1, States: { Hold: { Type: 'Wait', Seconds: 30, End: true } } },
    });
    const { executionArn } = await h.rt.sfn.startExecution(smArn, '{}');
    await h.until('the execution to time out', () => (h.rt.sfn.describeExecution(executionArn).status === 'TIMED_OUT' ? true : undefined), 20_000);

    for (const viewport of [DESKTOP, PHONE]) {
      const { context, page, errors } = await open(viewport);
      for (const view of ['workflows', 'executions', 'waiting', 'outbox', 'fleet', 'schedules', 'faults', `execution/${encodeURIComponent(executionArn)}`]) {
        const rendered = () => page.evaluate((v) => performance.getEntriesByName(`opsflow:${v}-rendered`).length, view.split('/')[0]);
        const before = await rendered().catch(() => 0);
        await page.goto(`${h.endpoint}/#/${view}`);
        await expect.poll(rendered, { timeout: 10_000 }).toBeGreaterThan(before);
        expect({ view, boxes: await boxGlyphs(page) }).toEqual({ view, boxes: [] });
      }
      await page.goto(`${h.endpoint}/#/executions?status=TIMED_OUT`);
      await expect.poll(() => page.locator('table.executions tbody').textContent(), { timeout: 10_000 }).toContain('TIMED_OUT');
      expect(await boxGlyphs(page)).toEqual([]);
      await page.screenshot({ path: `${ARTIFACTS}/console-timed-out-${viewport.width}.png`, fullPage: true });
      expect(errors).toEqual([]);
      await context.close();
    }
  }, 120_000);
});
