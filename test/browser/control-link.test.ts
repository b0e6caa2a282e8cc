/**
 * A delegated control link in a real browser: the page shows the instance and one button; pressing
 * it stops exactly that instance. The screenshot is kept in test-artifacts/.
 */
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as controlLink } from '../../infra/control-link';
import { DEMO } from '../demo-fleet';
import { startRuntime, type Harness } from '../e2e/harness';
import { launchChromium } from './chromium';

let h: Harness;
let browser: Browser;

beforeAll(async () => {
  // Real-time speed, so the transition the page reports (30 s to boot, 60 s to stop) is still under way when the
  // control link polls for it, however slow the machine; a fixed midday start keeps the demo schedules' 07:00 and
  // 19:00 (Berlin) runs from acting on the instance mid-test.
  h = await startRuntime({ timeScale: 1, virtualStart: Date.parse('2025-03-05T11:00:00Z') });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await h?.stop();
});

const stateOf = async (id: string) => (await h.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0].Instances![0].State!.Name;

describe('control link in a browser', () => {
  it('shows the instance and stops it with one button, without JavaScript', async () => {
    const target = DEMO.batchWindow.find((id) => id !== DEMO.batchWindow[0])!;
    const before = await stateOf(target);
    const link = (await controlLink([target, before === 'running' ? 'stop' : 'start'], { endpoint: h.endpoint })).split('\n')[0];

    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(link);
    expect(await page.textContent('body')).toContain(target);
    mkdirSync('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/control-link-page.png', fullPage: true });

    await page.click('button[type=submit]');
    await page.waitForLoadState();
    expect(await page.textContent('body')).toMatch(before === 'running' ? /running\s*->\s*stopping/ : /stopped\s*->\s*pending/);
    await context.close();
    expect(await stateOf(target)).not.toBe(before);
  });
});
