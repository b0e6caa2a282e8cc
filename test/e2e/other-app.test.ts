/**
 * The runtime runs another app's cdk.out and shows it only what that app's template says (README "Local runtime
 * metadata"): the Bars fixture (test/fixtures/other-app) has one workflow `Bars` (state machine
 * `bars-nightly-tally`), one example, one record panel and the tag column `Counter`. Its CLI (help, `up`, `executions`,
 * `fleet`), its API and its console in Chromium name Bars and nothing of opsflow: no Approval, Ec2Schedule or
 * TagPolicy, no workflows/examples, no Schedule or Owner column (Bars' instances carry those tags on purpose).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../local/console/api';
import { launchChromium } from '../browser/chromium';
import { BARS_EXAMPLE, synthBars } from '../fixtures/other-app/app';
import { startRuntime, type Harness } from './harness';

const exec = promisify(execFile);
/** What must not show anywhere for another app: opsflow's workflows, its examples folder, its fleet columns. */
const OPSFLOW = /Approval|Ec2Schedule|TagPolicy|workflows\/examples|approval\.json|ec2-|tag-policy|\bSchedule\b|\bOwner\b/;

let dir: string;
let cdkOut: string;
let h: Harness;
let api: ApiClient;

const cli = async (...args: string[]) =>
  (
    await exec(process.execPath, [require.resolve('tsx/cli'), 'local/cli.ts', ...args], {
      env: { ...process.env, OPSFLOW_CDK_OUT: cdkOut, OPSFLOW_ENDPOINT: h.endpoint, OPSFLOW_STATE_DIR: h.stateDir },
    })
  ).stdout;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'opsflow-other-app-'));
  cdkOut = join(dir, 'cdk.out');
  synthBars(cdkOut);
  h = await startRuntime({ cdkOut, stateDir: join(dir, 'state') });
  api = new ApiClient(h.endpoint);
});
afterAll(async () => {
  await h?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('another app on the runtime', () => {
  it('lists its workflow by the declared name, with exactly its example, and runs it', async () => {
    const workflows = await api.workflows();
    expect(workflows.map((w) => ({ name: w.name, examples: w.examples, description: w.description }))).toEqual([
      { name: 'Bars', examples: [BARS_EXAMPLE], description: 'Counts the bars of a tally.' },
    ]);
    expect((await api.health()).workflows).toEqual(['Bars']);
    expect((await api.deployed()).interestingTags).toEqual(['Counter']);

    const { executionArn } = await api.start({ workflow: 'Bars', input: BARS_EXAMPLE.input, name: 'tally-1' });
    expect(executionArn).toMatch(/:execution:bars-nightly-tally:tally-1$/);
    await h.finished(executionArn);
    const detail = await api.execution('tally-1');
    expect(detail).toMatchObject({ workflow: 'Bars', status: 'SUCCEEDED' });
    // The record panel the fixture's table declares shows the execution's record.
    expect(detail.records).toEqual([expect.objectContaining({ panel: 'Tally', title: 'Tally of 3', facts: [{ label: 'Bars', type: 'text', value: '|||' }] })]);
    expect(JSON.stringify(await api.waiting())).not.toMatch(OPSFLOW);
  });

  it('names its workflow, example and hints in the CLI, and no opsflow workflow or tag', async () => {
    const help = await cli('--help');
    const startHelp = await cli('start', '--help');
    expect(startHelp).toContain('\n  npx opsflow start Bars tally.json\n');
    expect(await cli('executions', '--help')).toContain('npx opsflow executions Bars --status RUNNING');
    expect(await cli('executions', 'bars')).toMatch(/Bars\s+tally-1\s+SUCCEEDED/);
    const fleet = await cli('fleet');
    expect(fleet.split('\n')[0].split(/\s+/)).toEqual(['id', 'type', 'state', 'Counter']);
    expect(fleet).toMatch(/i-0ba50000000000001\s+t3\.nano\s+running\s+front/);
    for (const out of [help, startHelp, fleet]) expect(out).not.toMatch(OPSFLOW);
  });

  it('prints its workflow and its hints when `up` starts', async () => {
    const port = await new Promise<number>((done) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = s.address() as AddressInfo;
        s.close(() => done(free));
      });
    });
    const up = spawn(process.execPath, [require.resolve('tsx/cli'), 'local/cli.ts', 'up', '--cdk-out', cdkOut, '--port', String(port)], {
      env: { ...process.env, OPSFLOW_ENDPOINT: '', OPSFLOW_STATE_DIR: join(dir, 'up-state') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    up.stdout.on('data', (chunk) => (out += chunk));
    up.stderr.on('data', (chunk) => (out += chunk));
    const exited = new Promise((done) => up.once('exit', done));
    try {
      await h.until(
        '`up` to print its hints',
        () => (out.includes('Ctrl-C stops it') ? true : up.exitCode !== null ? Promise.reject(new Error(out)) : undefined),
        60_000,
      );
    } finally {
      up.kill('SIGINT');
      await exited;
    }
    const hints = out.slice(out.indexOf('Console:'));
    expect(hints).toMatch(/^Bars\s+arn:aws:states:us-east-1:000000000000:stateMachine:bars-nightly-tally$/m);
    expect(hints).toContain('\n  npx opsflow start Bars tally.json   # count three bars\n');
    expect(hints).not.toMatch(OPSFLOW);
  });

  it('shows its workflow, example and tag column in the console, in Chromium', async () => {
    let browser: Browser | undefined;
    try {
      browser = await launchChromium();
      const page = await browser.newPage();
      await page.goto(`${h.endpoint}/#/workflows`);
      const card = page.locator('#wf-Bars');
      await expect.poll(() => card.getByLabel('Input (JSON)').inputValue()).toBe(BARS_EXAMPLE.input);
      expect(await card.locator('select option').allTextContents()).toEqual(['three-bars.json']);
      expect(await page.locator('main').innerText()).not.toMatch(OPSFLOW);

      await page.goto(`${h.endpoint}/#/fleet`);
      const headers = page.locator('table th');
      await expect.poll(() => headers.allTextContents()).toEqual(['Instance', 'Type', 'State', 'Counter', 'Tags', 'Last transition']);
      expect(await page.locator('main').innerText()).toContain('Schedule=office-hours'); // a tag like any other, not a column
    } finally {
      await browser?.close();
    }
  });
});
