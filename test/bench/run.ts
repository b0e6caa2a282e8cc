/**
 * `npm run bench`: figures, printed, never asserted.
 *  - ready time of `opsflow up` after synth (process start → /_opsflow/health answers "ready");
 *  - the highest time scale at which the walkthrough of the three workflows ends as at scale 1 (test/bench/time-scale.ts);
 *  - executions per second through the runtime: a small Pass/Choice/Map workflow, and the Approval
 *    workflow's validation path (one real Lambda bundle per execution);
 *  - state transitions of TagPolicy dry-run scans from 10 to 10,000 instances (cost per instance must stay flat);
 *  - AWS's rules (IAM, quotas, rates) on vs off: authorized API calls and executions per second (test/bench/rules.ts);
 *  - the console: executions view first paint with 10,000 executions, graph layout of the largest state machine;
 *  - the longest event-loop stall while pathological patterns are served (test/bench/redos.ts; target under 100 ms);
 *  - Ec2Schedule's scheduled start and stop of 10,000 instances next to EC2's floor (test/bench/scale.ts);
 *  - the Step Functions engine in-process next to the raw aws-local-stepfunctions library on the same definitions,
 *    and JSONata next to JSONPath on the same workflow (test/bench/engine.ts);
 *  - approvals in chat: start to Slack message, click to decision (test/bench/chat.ts);
 *  - Ec2Schedule's scheduled stop and start of every resource kind at 1,000 each (test/bench/kinds.ts).
 *
 * Only alone, for its size: `npm run bench -- org`, one hub stopping 50 accounts × 4 regions × 500 instances (test/bench/org.ts).
 *
 * `npm run bench -- ec2-floor` (or BENCH_ONLY=ec2-floor) runs only Ec2Schedule's figure; `npm run bench -- engine` only the engine's;
 * `npm run bench -- chat` and `npm run bench -- kinds` only those.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { arn } from '../../local/kernel';
import { startRuntime, type Harness } from '../e2e/harness';
import { benchChat } from './chat';
import { benchConsole } from './console';
import { benchEngine } from './engine';
import { benchKinds } from './kinds';
import { benchOrg } from './org';
import { benchRedos } from './redos';
import { benchEc2Floor, benchScale } from './scale';
import { benchTimeScale } from './time-scale';
import { benchDurable } from './durable';
import { benchRules } from './rules';
import { benchTagPolicy } from './tag-policy';

// On Node 20 the SDK's notice about Node 22 is noise in the figures (README, "Requirements").
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const SMALL = {
  StartAt: 'Prepare',
  States: {
    Prepare: { Type: 'Pass', Parameters: { 'items.$': 'States.ArrayRange(1, 3, 1)', 'n.$': '$.n' }, Next: 'Even?' },
    'Even?': { Type: 'Choice', Choices: [{ Variable: '$.n', NumericGreaterThan: 0, Next: 'Each' }], Default: 'Done' },
    Each: {
      Type: 'Map',
      ItemsPath: '$.items',
      Iterator: { StartAt: 'Double', States: { Double: { Type: 'Pass', End: true } } },
      ResultPath: '$.doubled',
      Next: 'Done',
    },
    Done: { Type: 'Succeed' },
  },
};

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function readyTime(): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), 'local/cli.ts', 'up', '--port', String(port), '--json'], {
    env: { ...process.env, OPSFLOW_STATE_DIR: mkdtempSync(join(tmpdir(), 'opsflow-bench-')) },
    stdio: 'ignore',
  });
  try {
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/_opsflow/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return performance.now() - started;
      if (performance.now() - started > 60_000) throw new Error('opsflow up was not ready within 60 s');
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    child.kill('SIGTERM');
  }
}

async function throughput(h: Harness, stateMachine: string, input: (i: number) => unknown, count: number, concurrency: number): Promise<number> {
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      // The runtime's completion signal, not DescribeExecution every 50 ms: the figure is the runtime's, not the poll's.
      await h.rt.sfn.waitForExecution(await h.start(stateMachine, input(i)));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return count / ((performance.now() - started) / 1000);
}

async function main() {
  const print = (line: string) => console.log(line);
  print(`opsflow bench on Node ${process.version}`);
  const only = process.argv[2] ?? process.env.BENCH_ONLY;
  if (only === 'ec2-floor') {
    await benchEc2Floor(print);
    return;
  }
  if (only === 'engine') {
    await benchEngine(print);
    return;
  }
  if (only === 'chat') {
    await benchChat(print);
    return;
  }
  if (only === 'kinds') {
    await benchKinds(print);
    return;
  }
  if (only === 'org') {
    await benchOrg(print);
    return;
  }
  if (only) throw new Error(`unknown bench part '${only}' (known: ec2-floor, engine, chat, kinds, org)`);
  print(`opsflow up ready after synth: ${(await readyTime()).toFixed(0)} ms (process start to health "ready")`);
  await benchTimeScale(print);

  const h = await startRuntime({ seedFleet: false });
  try {
    h.rt.sfn.deployStateMachine({ arn: arn.stateMachine('BenchSmall'), name: 'BenchSmall', definition: SMALL, roleArn: '' });
    h.rt.deployed.stateMachines.push({ name: 'BenchSmall', arn: arn.stateMachine('BenchSmall') });
    const small = await throughput(h, 'BenchSmall', (i) => ({ n: i }), 300, 10);
    print(`small workflow (Pass, Choice, Map of 3): ${small.toFixed(1)} executions/s (300 executions, 10 at a time)`);
    const approval = await throughput(h, 'Approval', () => ({ title: 'bench', approvers: ['not-an-email'] }), 60, 4);
    print(`Approval input validation path (1 Lambda invoke, fails Input.Invalid): ${approval.toFixed(1)} executions/s (60 executions, 4 at a time)`);
  } finally {
    await h.stop();
  }
  await benchRedos(print);
  await benchRules(print);
  for (const line of await benchTagPolicy()) print(line);
  await benchScale(print);
  await benchConsole(print);
  await benchDurable(print);
  await benchEc2Floor(print);
  await benchEngine(print);
  await benchChat(print);
  await benchKinds(print);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
