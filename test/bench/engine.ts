/**
 * The Step Functions engine in-process (StepFunctionsService: deploy, StartExecution, wait for the end, with its
 * history and its state directory) next to the raw `aws-local-stepfunctions` library (StateMachine.run, in memory) on
 * the same definitions, and JSONata next to JSONPath on the same workflow. Figures only: each runs for a fixed wall
 * time and prints executions per second; nothing is asserted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateMachine } from 'aws-local-stepfunctions';
import { StepFunctionsService } from '../../local/engine';
import { arn, Clock, StateDir } from '../../local/kernel';

/** How long each figure runs. */
const BUDGET_MS = 400;

const pass = (next?: string) => (next ? { Type: 'Pass', Next: next } : { Type: 'Pass', End: true });

/** The same counting loop in both query languages: ten turns of a Pass (or Assign) and a Choice. */
const LOOP_JSONPATH = {
  StartAt: 'Init',
  States: {
    Init: { Type: 'Pass', Parameters: { i: 0 }, Next: 'Step' },
    Step: { Type: 'Pass', Parameters: { 'i.$': 'States.MathAdd($.i, 1)' }, Next: 'More?' },
    'More?': { Type: 'Choice', Choices: [{ Variable: '$.i', NumericLessThan: 10, Next: 'Step' }], Default: 'Done' },
    Done: { Type: 'Succeed' },
  },
};
const LOOP_JSONATA = {
  QueryLanguage: 'JSONata',
  StartAt: 'Init',
  States: {
    Init: { Type: 'Pass', Assign: { i: 0 }, Next: 'Step' },
    Step: { Type: 'Pass', Assign: { i: '{% $i + 1 %}' }, Next: 'More?' },
    'More?': { Type: 'Choice', Choices: [{ Condition: '{% $i < 10 %}', Next: 'Step' }], Default: 'Done' },
    Done: { Type: 'Succeed', Output: '{% {"i": $i} %}' },
  },
};

const DEFINITIONS: Record<string, object> = {
  'Pass chain (10 Pass)': {
    StartAt: 'P0',
    States: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`P${i}`, pass(i < 9 ? `P${i + 1}` : undefined)])),
  },
  'Choice loop (10 turns)': LOOP_JSONPATH,
  'Map (10 items, Pass each)': {
    StartAt: 'Each',
    States: {
      Each: { Type: 'Map', ItemsPath: '$.items', ItemProcessor: { StartAt: 'Item', States: { Item: pass() } }, End: true },
    },
  },
  'Parallel (3 branches)': {
    StartAt: 'Fork',
    States: {
      Fork: { Type: 'Parallel', Branches: [0, 1, 2].map((b) => ({ StartAt: `B${b}`, States: { [`B${b}`]: pass() } })), End: true },
    },
  },
};

const INPUT = { items: Array.from({ length: 10 }, (_, i) => i) };

/** Runs `once` back to back for BUDGET_MS; executions per second. */
async function rate(once: () => Promise<unknown>): Promise<number> {
  await once(); // warm-up: module loading and first-call compilation are not the figure
  let count = 0;
  const started = performance.now();
  while (performance.now() - started < BUDGET_MS) {
    await once();
    count++;
  }
  return count / ((performance.now() - started) / 1000);
}

export async function benchEngine(print: (line: string) => void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'opsflow-bench-engine-'));
  const state = new StateDir(dir);
  state.lock();
  const engine = new StepFunctionsService({
    clock: new Clock(),
    state,
    bus: { put: async () => undefined },
    invokeLambda: async () => undefined,
    endpoint: () => 'http://127.0.0.1:1',
  });
  let n = 0;
  const viaEngine = (definition: object) => {
    const name = `bench-${n++}`;
    const smArn = arn.stateMachine(name);
    engine.deployStateMachine({ arn: smArn, name, definition, roleArn: '' });
    return async () => {
      const { executionArn } = await engine.startExecution(smArn, JSON.stringify(INPUT));
      const done = await engine.waitForExecution(executionArn);
      if (done.status !== 'SUCCEEDED') throw new Error(`${name} ended ${done.status}: ${done.error} ${done.cause}`);
    };
  };
  const viaLibrary = (definition: object) => {
    const machine = new StateMachine(definition as never, { validationOptions: { checkPaths: false } });
    return () => machine.run(INPUT).result;
  };
  try {
    print(`engine vs aws-local-stepfunctions, executions/s in-process (each figure ${BUDGET_MS} ms of back-to-back runs):`);
    for (const [label, definition] of Object.entries(DEFINITIONS)) {
      const ours = await rate(viaEngine(definition));
      const theirs = await rate(viaLibrary(definition));
      print(`  ${label.padEnd(28)} engine ${ours.toFixed(0).padStart(6)}   aws-local-stepfunctions ${theirs.toFixed(0).padStart(6)}`);
    }
    const jsonPath = await rate(viaEngine(LOOP_JSONPATH));
    const jsonata = await rate(viaEngine(LOOP_JSONATA));
    print(`  same Choice loop in the engine: JSONPath ${jsonPath.toFixed(0)}/s, JSONata ${jsonata.toFixed(0)}/s`);
  } finally {
    engine.close();
    state.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
