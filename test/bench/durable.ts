/**
 * Storage figures for `npm run bench` (issue 13), printed, never asserted:
 *  - StartExecution latency p50/p99 through the SDK, and the state directory's size on disk, after 10,000 and
 *    100,000 executions (each answer waits for its fsync);
 *  - executions per second through the API (StartExecution from an SDK client on its own thread, completion by
 *    the runtime's own signal, not by polling) next to the raw aws-local-stepfunctions library on the same
 *    definition, in the same run, and next to the API ceiling: the same client against a server that does
 *    nothing. Each figure is repeated, with the spread.
 */
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { StateMachine } from 'aws-local-stepfunctions';
import { readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { arn } from '../../local/kernel';
import { credentials, startRuntime } from '../e2e/harness';
import type { ClientData } from './start-client';

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
const load = () =>
  `load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} on ${cpus().length} cores`;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const spread = (xs: number[]) => `${mean(xs).toFixed(0)} (runs: ${xs.map((x) => x.toFixed(0)).join(', ')})`;

async function rate(count: number, run: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await run();
  return count / ((performance.now() - t0) / 1000);
}

/** start-client.ts on its own thread; `completed` (when given) is awaited before the client starts the next one. */
function clientThread(data: ClientData, completed?: (executionArn: string) => Promise<unknown>) {
  // A worker's entry module does not get the parent's tsx loader: register tsx's require hook first.
  const entry = JSON.stringify(join(__dirname, 'start-client.ts'));
  const worker = new Worker(`require('tsx/cjs/api').register(); require(${entry});`, { eval: true, workerData: data });
  let finished: () => void = () => undefined;
  worker.on('message', (m: { started?: string; finished?: boolean }) => {
    if (m.started) void completed!(m.started).then(() => worker.postMessage({ done: m.started }));
    if (m.finished) finished();
  });
  return {
    run: (count: number, inFlight: number) =>
      new Promise<void>((resolve, reject) => {
        finished = resolve;
        worker.once('error', reject);
        worker.postMessage({ count, inFlight });
      }),
    stop: () => worker.terminate(),
  };
}

/** A server answering every request with a canned StartExecution response: the cost of the API and client alone. */
async function cannedServer(): Promise<{ endpoint: string; close: () => Promise<void> }> {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify({ executionArn: `${arn.stateMachine('Canned').replace(':stateMachine:', ':execution:')}:${n++}`, startDate: Date.now() / 1000 }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

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
    // Throughput: the SDK client runs on a thread of its own (start-client.ts) and waits, per execution, for the
    // runtime's completion signal (waitForExecution). The raw library runs in-process with no API, no fsync and
    // no history. The API ceiling is the same client against a server that answers at once and does nothing:
    // no runtime through this API and this client can beat it on this machine.
    const client = clientThread({ endpoint: h.endpoint, credentials, stateMachineArn: machine }, (executionArn) => h.rt.sfn.waitForExecution(executionArn));
    const nullServer = await cannedServer();
    const ceilingClient = clientThread({ endpoint: nullServer.endpoint, credentials, stateMachineArn: machine, noWait: true });
    try {
      // Warm-up, not counted: the first thousand calls mostly measure the JIT compiling each side.
      await client.run(1000, 64);
      started += 1000;
      await ceilingClient.run(1000, 64);
      const warm = new StateMachine(DEFINITION as never);
      for (let i = 0; i < 1000; i++) await warm.run({ n: i }).result;
      for (const inFlight of [8, 64]) {
        const runtimeRates: number[] = [];
        const rawRates: number[] = [];
        const ceilingRates: number[] = [];
        for (let r = 0; r < REPEATS; r++) {
          const count = 1000;
          runtimeRates.push(await rate(count, () => client.run(count, inFlight)));
          started += count;
          const raw = new StateMachine(DEFINITION as never);
          let rawNext = 0;
          rawRates.push(
            await rate(count, () =>
              Promise.all(
                Array.from({ length: inFlight }, async () => {
                  while (rawNext++ < count) await raw.run({ n: rawNext }).result;
                }),
              ),
            ),
          );
          ceilingRates.push(await rate(count, () => ceilingClient.run(count, inFlight)));
        }
        const ratio = (mean(runtimeRates) / mean(rawRates)) * 100;
        print(
          `executions/s, Pass+Choice+Succeed, ${inFlight} at a time, ${REPEATS} runs of 1,000: runtime through the API ${spread(runtimeRates)}; ` +
            `raw aws-local-stepfunctions ${spread(rawRates)}; runtime = ${ratio.toFixed(0)}% of raw; ` +
            `API ceiling (the same SDK client, a server that does nothing) ${spread(ceilingRates)} = ${((mean(ceilingRates) / mean(rawRates)) * 100).toFixed(0)}% of raw (${load()})`,
        );
      }
    } finally {
      await client.stop();
      await ceilingClient.stop();
      await nullServer.close();
    }

    for (const size of sizes) {
      // Fill to `size` executions, 32 requests in flight (their fsyncs are shared).
      while (started < size) {
        const batch = Math.min(32, size - started);
        await Promise.all(Array.from({ length: batch }, start));
      }
      await h.rt.state.commit();
      const at = started;
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
      print(
        `after ${at.toLocaleString('en-US')} executions: StartExecution p50 ${ms(p50s)}, p99 ${ms(p99s)} (${REPEATS} runs of 1,000 sequential calls, each answered after its fsync); state on disk ${mb.toFixed(1)} MB (${load()})`,
      );
    }
  } finally {
    sfn.destroy();
    await h.stop();
  }
}

if (require.main === module) {
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  benchDurable((line) => console.log(line), sizes.length ? sizes : undefined).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
