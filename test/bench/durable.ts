/**
 * Storage figures for `npm run bench` (issue 13), printed, never asserted:
 *  - StartExecution latency p50/p99 through the SDK, and the state directory's size on disk, after 10,000 and
 *    100,000 executions (each answer waits for its fsync);
 *  - executions per second through the API (StartExecution, completion by the runtime's own signal, not by
 *    polling) next to the raw aws-local-stepfunctions library on the same definition, in the same run,
 *    each repeated with the spread.
 */
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { StateMachine } from 'aws-local-stepfunctions';
import { readdirSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { arn } from '../../local/kernel';
import { credentials, startRuntime } from '../e2e/harness';

const DEFINITION = {
  StartAt: 'Prepare',
  States: {
    Prepare: { Type: 'Pass', Parameters: { 'n.$': '$.n', tag: 'bench' }, Next: 'Check' },
    Check: { Type: 'Choice', Choices: [{ Variable: '$.n', NumericGreaterThanEquals: 0, Next: 'Done' }], Default: 'Done' },
    Done: { Type: 'Succeed' },
  },
};
const REPEATS = 3;

function dirBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir)) {
    const st = statSync(join(dir, f));
    n += st.isDirectory() ? dirBytes(join(dir, f)) : st.size;
  }
  return n;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const load = () => `load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} cores`;
const spread = (xs: number[]) => `${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(0)} (runs: ${xs.map((x) => x.toFixed(0)).join(', ')})`;

export async function benchDurable(print: (line: string) => void, sizes = [10_000, 100_000]): Promise<void> {
  const h = await startRuntime({ seedFleet: false });
  const machine = arn.stateMachine('BenchDurable');
  h.rt.sfn.deployStateMachine({ arn: machine, name: 'BenchDurable', definition: DEFINITION, roleArn: '' });
  const sfn = new SFNClient({ endpoint: h.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
  let started = 0;
  const start = async () => {
    const out = await sfn.send(new StartExecutionCommand({ stateMachineArn: machine, input: JSON.stringify({ n: started++ }) }));
    return out.executionArn!;
  };
  try {
    // Throughput: start and await completion through the runtime's signal (waitForExecution), N at a time. The raw
    // library runs in-process with no API, no fsync and no history: its rate does not depend on N.
    for (const inFlight of [8, 64]) {
      const runtimeRates: number[] = [];
      const rawRates: number[] = [];
      for (let r = 0; r < REPEATS; r++) {
        const count = 500;
        let next = 0;
        const t0 = performance.now();
        await Promise.all(Array.from({ length: inFlight }, async () => {
          while (next++ < count) await h.rt.sfn.waitForExecution(await start());
        }));
        runtimeRates.push(count / ((performance.now() - t0) / 1000));
        const raw = new StateMachine(DEFINITION as never);
        const t1 = performance.now();
        let rawNext = 0;
        await Promise.all(Array.from({ length: inFlight }, async () => {
          while (rawNext++ < count) await raw.run({ n: rawNext }).result;
        }));
        rawRates.push(count / ((performance.now() - t1) / 1000));
      }
      const ratio = (runtimeRates.reduce((a, b) => a + b, 0) / rawRates.reduce((a, b) => a + b, 0)) * 100;
      print(`executions/s, Pass+Choice+Succeed, ${inFlight} at a time, ${REPEATS} runs of 500: runtime through the API ${spread(runtimeRates)}; raw aws-local-stepfunctions ${spread(rawRates)}; runtime = ${ratio.toFixed(0)}% of raw (${load()})`);
    }

    for (const size of sizes) {
      // Fill to `size` executions, 32 requests in flight (their fsyncs are shared).
      while (started < size) {
        const batch = Math.min(32, size - started);
        await Promise.all(Array.from({ length: batch }, start));
      }
      await h.rt.state.commit();
      // 1,000 sequential calls, REPEATS times: p50 and p99 of each run, with the spread across runs.
      const p50s: number[] = [];
      const p99s: number[] = [];
      for (let r = 0; r < REPEATS; r++) {
        const latencies: number[] = [];
        for (let i = 0; i < 1000; i++) {
          const t = performance.now();
          await start();
          latencies.push(performance.now() - t);
        }
        latencies.sort((a, b) => a - b);
        p50s.push(pct(latencies, 50));
        p99s.push(pct(latencies, 99));
      }
      const ms = (xs: number[]) => `${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(1)} ms (runs: ${xs.map((x) => x.toFixed(1)).join(', ')})`;
      const mb = dirBytes(h.stateDir) / 1024 / 1024;
      print(`after ${size.toLocaleString('en-US')} executions: StartExecution p50 ${ms(p50s)}, p99 ${ms(p99s)} (${REPEATS} runs of 1,000 sequential calls, each answered after its fsync); state on disk ${mb.toFixed(1)} MB (${load()})`);
    }
  } finally {
    sfn.destroy();
    await h.stop();
  }
}

if (require.main === module) {
  const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
  benchDurable((line) => console.log(line), sizes.length ? sizes : undefined).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
