/**
 * Console figures for `npm run bench` (printed, never asserted; targets from issue 10):
 *  - time to first paint of the executions view with 10,000 executions (target < 1 s): Chromium opens
 *    `/#/executions` cold, and the figure is navigation start → the first page of rows rendered (the view's
 *    `opsflow:executions-rendered` mark, then one animation frame);
 *  - the graph layout time of the largest deployed state machine (target < 300 ms): dagre, median of 5.
 */
import { arn } from '../../local/kernel';
import { countStates, layoutDefinition } from '../../local/console/app/graph';
import type { AslDefinition } from '../../local/console/api';
import { launchChromium } from '../browser/chromium';
import { startRuntime } from '../e2e/harness';

const TINY = { StartAt: 'Done', States: { Done: { Type: 'Succeed' } } };
const EXECUTIONS = 10_000;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Prints each figure as soon as it is measured. */
export async function benchConsole(print: (line: string) => void): Promise<void> {
  const h = await startRuntime({ seedFleet: false });
  try {
    // Graph layout of the largest state machine the app deploys.
    const workflows = await h.rt.console.api.workflows();
    const largest = workflows.map((w) => ({ name: w.name, def: w.definition as AslDefinition })).sort((a, b) => countStates(b.def) - countStates(a.def))[0];
    layoutDefinition(largest.def); // warm-up: module and JIT
    const layouts = Array.from({ length: 5 }, () => {
      const t = performance.now();
      layoutDefinition(largest.def);
      return performance.now() - t;
    });
    print(
      `console graph layout, largest state machine (${largest.name}, ${countStates(largest.def)} states): ${median(layouts).toFixed(1)} ms (median of 5; target < 300 ms)`,
    );

    // 10,000 executions of a one-state machine, started in-process (what they are does not matter to the list).
    const smArn = arn.stateMachine('BenchConsole');
    h.rt.sfn.deployStateMachine({ arn: smArn, name: 'BenchConsole', definition: TINY, roleArn: '' });
    h.rt.deployed.stateMachines.push({ name: 'BenchConsole', arn: smArn });
    const seeded = performance.now();
    for (let i = 0; i < EXECUTIONS; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, EXECUTIONS - i) }, (_, j) => h.rt.sfn.startExecution(smArn, '{}', `bench-${i + j}`)));
    }
    while (h.rt.sfn.activeCount() > 0) await new Promise((r) => setTimeout(r, 50));
    print(`console bench: ${EXECUTIONS.toLocaleString('en')} executions started and finished in ${((performance.now() - seeded) / 1000).toFixed(1)} s`);

    const apiTimes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await h.rt.console.api.executions({ limit: 50 });
      apiTimes.push(performance.now() - t);
    }
    print(`console API, first page of 50 of ${EXECUTIONS.toLocaleString('en')} executions: ${median(apiTimes).toFixed(1)} ms (median of 5, in-process)`);

    await h.rt.console.prepare(); // as `opsflow up` does at start
    const browser = await launchChromium();
    try {
      const paints: number[] = [];
      for (let i = 0; i < 3; i++) {
        const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
        const page = await context.newPage();
        await page.goto(`${h.endpoint}/#/executions`, { waitUntil: 'commit' });
        await page.waitForFunction(() => performance.getEntriesByName('opsflow:executions-rendered').length > 0, undefined, {
          polling: 'raf',
          timeout: 30_000,
        });
        const rows = await page.locator('table.executions tbody tr').count();
        if (rows !== 50) throw new Error(`expected 50 rows on the first page, saw ${rows}`);
        // The rows are painted in the frame after the mark: wait for it and take its time.
        paints.push(await page.evaluate(() => new Promise<number>((done) => requestAnimationFrame(() => done(performance.now())))));
        await context.close();
      }
      print(
        `console executions view, first paint with ${EXECUTIONS.toLocaleString('en')} executions: ${median(paints).toFixed(0)} ms (navigation to 50 rows painted, cold page, median of 3; target < 1 s)`,
      );
    } finally {
      await browser.close();
    }
  } finally {
    await h.stop();
  }
}
