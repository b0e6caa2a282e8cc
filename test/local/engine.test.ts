/**
 * The Step Functions engine: ASL semantics (local/engine/interpreter.ts and states/), Lambda tasks, virtual time,
 * the JSON API seen through the real SFN client, refused definitions and restart recovery.
 * Scale 36000: one virtual hour is 100 real milliseconds.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT, Clock, StateDir, arn, type BusEvent } from '../../local/kernel';
import { createServer, listen } from '../../local/server';
import { StepFunctionsService, RESTART_CAUSE, RESTART_ERROR } from '../../local/engine';

const VIRTUAL_START = Date.UTC(2030, 0, 1, 8, 0, 0);
const ROLE = `arn:aws:iam::${ACCOUNT}:role/sfn`;

type LambdaFn = (payload: any) => unknown;

class LambdaError extends Error {
  constructor(
    readonly errorType: string,
    readonly errorMessage: string,
    readonly trace: string[] = [],
  ) {
    super(errorMessage);
  }
}

function setup() {
  const state = new StateDir(mkdtempSync(join(tmpdir(), 'opsflow-engine-')));
  const clock = new Clock({ scale: 36000, start: VIRTUAL_START });
  const busEvents: BusEvent[] = [];
  const lambdas: Record<string, LambdaFn> = {};
  const calls: { functionArn: string; payload: unknown }[] = [];
  const build = () =>
    new StepFunctionsService({
      clock,
      state,
      bus: { put: async (e) => void busEvents.push(e) },
      invokeLambda: async (functionArn, payload) => {
        calls.push({ functionArn, payload });
        const fn = lambdas[functionArn.split(':').pop()!];
        if (!fn) throw new LambdaError('ResourceNotFoundException', `no function ${functionArn}`);
        return fn(payload);
      },
      endpoint: () => 'http://127.0.0.1:1',
    });
  return { state, clock, busEvents, lambdas, calls, build };
}

const env = setup();
let engine: StepFunctionsService;
let server: Server;
let sfn: SFNClient;

function deploy(name: string, definition: object) {
  const smArn = arn.stateMachine(name);
  engine.deployStateMachine({ arn: smArn, name, definition, roleArn: ROLE });
  return smArn;
}

async function run(smArn: string, input: unknown = {}, name?: string) {
  const { executionArn } = await engine.startExecution(smArn, JSON.stringify(input), name);
  return { executionArn, result: await engine.waitForExecution(executionArn) };
}

const types = (executionArn: string) => engine.history(executionArn).map((e) => e.type);

beforeAll(async () => {
  engine = env.build();
  await engine.recover();
  server = createServer([engine], async () => ({ status: 404, body: '' }));
  const port = await listen(server, 0);
  sfn = new SFNClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'x' } });
});

afterAll(async () => {
  engine.close();
  sfn.destroy();
  await new Promise((resolve) => server.close(resolve));
});

describe('ASL semantics', () => {
  it('runs Pass, Choice, Map and Parallel with intrinsics and context paths', async () => {
    // Prepare
    env.lambdas.double = (item) => ({ ...item, doubled: item.value * 2 });
    const smArn = deploy('semantics', {
      StartAt: 'Prepare',
      States: {
        Prepare: {
          Type: 'Pass',
          Parameters: {
            'items.$': '$.items',
            'greeting.$': "States.Format('hello {}', $.who)",
            'n.$': 'States.ArrayLength($.items)',
            'execution.$': '$$.Execution.Name',
            'started.$': '$$.Execution.StartTime',
            'machine.$': '$$.StateMachine.Name',
            'state.$': '$$.State.Name',
          },
          Next: 'Check',
        },
        Check: { Type: 'Choice', Choices: [{ Variable: '$.n', NumericGreaterThan: 2, Next: 'Fan' }], Default: 'TooSmall' },
        TooSmall: { Type: 'Fail', Error: 'TooSmall' },
        Fan: {
          Type: 'Map',
          ItemsPath: '$.items',
          ItemSelector: { 'value.$': '$$.Map.Item.Value', 'index.$': '$$.Map.Item.Index', 'who.$': '$$.Execution.Input.who' },
          ItemProcessor: { StartAt: 'Double', States: { Double: { Type: 'Task', Resource: arn.lambda('double'), End: true } } },
          ResultPath: '$.doubled',
          Next: 'Both',
        },
        Both: {
          Type: 'Parallel',
          Branches: [
            { StartAt: 'Constant', States: { Constant: { Type: 'Pass', Result: 'a', End: true } } },
            { StartAt: 'Greeting', States: { Greeting: { Type: 'Pass', InputPath: '$.greeting', End: true } } },
          ],
          ResultPath: '$.branches',
          End: true,
        },
      },
    });

    // Act
    const { executionArn, result } = await run(smArn, { items: [1, 2, 3], who: 'ops' }, 'semantics-1');

    // Assess
    expect(result.status).toBe('SUCCEEDED');
    expect(JSON.parse(result.output!)).toEqual({
      items: [1, 2, 3],
      greeting: 'hello ops',
      n: 3,
      execution: 'semantics-1',
      started: new Date(result.startDate).toISOString(),
      machine: 'semantics',
      state: 'Prepare',
      doubled: [0, 1, 2].map((i) => ({ value: i + 1, index: i, who: 'ops', doubled: (i + 1) * 2 })),
      branches: ['a', 'hello ops'],
    });
    expect(new Date(result.startDate).toISOString()).toMatch(/^2030-01-/);
    const history = types(executionArn);
    expect(history[0]).toBe('ExecutionStarted');
    expect(history).toEqual(
      expect.arrayContaining([
        'PassStateEntered',
        'ChoiceStateExited',
        'MapStateStarted',
        'MapIterationStarted',
        'LambdaFunctionSucceeded',
        'ParallelStateStarted',
        'ParallelStateSucceeded',
      ]),
    );
    expect(history.at(-1)).toBe('ExecutionSucceeded');
  });

  it('replaces the state with the result when ResultPath is "$", in a state and in a catcher', async () => {
    // Prepare
    env.lambdas.boom = () => {
      throw new LambdaError('Boom', 'no');
    };
    const smArn = deploy('root-result-path', {
      StartAt: 'Swap',
      States: {
        Swap: { Type: 'Pass', Result: { swapped: true }, ResultPath: '$', Next: 'Call' },
        Call: { Type: 'Task', Resource: arn.lambda('boom'), Catch: [{ ErrorEquals: ['Boom'], ResultPath: '$', Next: 'Done' }], End: true },
        Done: { Type: 'Succeed' },
      },
    });

    // Act
    const { result } = await run(smArn, { original: 1 });

    // Assess
    expect(JSON.parse(result.output!)).toEqual({ Error: 'Boom', Cause: expect.stringContaining('"errorType":"Boom"') });
  });

  it('retries with back-off and then succeeds', async () => {
    // Prepare
    let attempts = 0;
    env.lambdas.flaky = () => {
      attempts += 1;
      if (attempts < 3) throw new LambdaError('Flaky.Busy', 'try again');
      return { ok: true };
    };
    const smArn = deploy('retry', {
      StartAt: 'Call',
      States: {
        Call: {
          Type: 'Task',
          Resource: arn.lambda('flaky'),
          Retry: [{ ErrorEquals: ['Flaky.Busy'], IntervalSeconds: 300, BackoffRate: 2, MaxAttempts: 3 }],
          End: true,
        },
      },
    });

    // Act
    const { executionArn, result } = await run(smArn);

    // Assess
    expect(result.status).toBe('SUCCEEDED');
    expect(JSON.parse(result.output!)).toEqual({ ok: true });
    const failures = engine.history(executionArn).filter((e) => e.type === 'LambdaFunctionFailed');
    expect(failures.map((e) => (e.lambdaFunctionFailedEventDetails as any).error)).toEqual(['Flaky.Busy', 'Flaky.Busy']);
    // The second retry waited IntervalSeconds * BackoffRate = 600 virtual seconds (less the up to one real
    // millisecond, 36 virtual seconds, that setTimeout truncates).
    const scheduled = engine.history(executionArn).filter((e) => e.type === 'LambdaFunctionScheduled');
    expect(scheduled[2].timestamp - scheduled[1].timestamp).toBeGreaterThanOrEqual(600_000 - env.clock.scale);
  });

  it('reports Lambda errors with AWS names and causes, to Catch and to the execution', async () => {
    // Prepare
    env.lambdas.echo = (payload) => ({ echoed: payload });
    env.lambdas.boom = () => {
      throw new LambdaError('Boom', 'it broke', ['at boom (index.js:1)']);
    };
    const catching = deploy('catching', {
      StartAt: 'Invoke',
      States: {
        Invoke: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: { FunctionName: 'echo', 'Payload.$': '$' },
          ResultSelector: { 'payload.$': '$.Payload', 'status.$': '$.StatusCode', 'version.$': '$.ExecutedVersion' },
          ResultPath: '$.invoked',
          Next: 'Explode',
        },
        Explode: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: { FunctionName: arn.lambda('boom'), Payload: {} },
          Catch: [{ ErrorEquals: ['Boom'], ResultPath: '$.error', Next: 'Handled' }],
          End: true,
        },
        Handled: { Type: 'Pass', End: true },
      },
    });
    const failing = deploy('failing', { StartAt: 'Explode', States: { Explode: { Type: 'Task', Resource: arn.lambda('boom'), End: true } } });
    const cause = JSON.stringify({ errorType: 'Boom', errorMessage: 'it broke', trace: ['at boom (index.js:1)'] });

    // Act
    const caught = await run(catching, { x: 1 });
    const failed = await run(failing);

    // Assess
    expect(JSON.parse(caught.result.output!)).toEqual({
      x: 1,
      invoked: { payload: { echoed: { x: 1 } }, status: 200, version: '$LATEST' },
      error: { Error: 'Boom', Cause: cause },
    });
    expect(env.calls.find((c) => c.functionArn === arn.lambda('echo'))).toBeDefined();
    expect(types(caught.executionArn)).toEqual(expect.arrayContaining(['TaskScheduled', 'TaskStarted', 'TaskSucceeded', 'TaskFailed']));
    expect(failed.result).toMatchObject({ status: 'FAILED', error: 'Boom', cause });
  });

  it('waits an hour of virtual time quickly and follows SecondsPath', async () => {
    // Prepare
    const smArn = deploy('waiting', {
      StartAt: 'Hour',
      States: {
        Hour: { Type: 'Wait', Seconds: 3600, Next: 'FromInput' },
        FromInput: { Type: 'Wait', SecondsPath: '$.delay', Next: 'Done' },
        Done: { Type: 'Succeed' },
      },
    });

    // Act
    const { executionArn, result } = await run(smArn, { delay: 1800 });

    // Assess
    expect(result.status).toBe('SUCCEEDED');
    expect(JSON.parse(result.output!)).toEqual({ delay: 1800 });
    expect(result.stopDate! - result.startDate).toBeGreaterThanOrEqual(5400_000);
    expect(types(executionArn)).toEqual([
      'ExecutionStarted',
      'WaitStateEntered',
      'WaitStateExited',
      'WaitStateEntered',
      'WaitStateExited',
      'SucceedStateEntered',
      'SucceedStateExited',
      'ExecutionSucceeded',
    ]);
  });

  it('times an execution out after its TimeoutSeconds', async () => {
    // Prepare
    const smArn = deploy('too-slow', { TimeoutSeconds: 600, StartAt: 'Long', States: { Long: { Type: 'Wait', Seconds: 7200, End: true } } });

    // Act
    const { executionArn, result } = await run(smArn);

    // Assess
    expect(result).toMatchObject({ status: 'TIMED_OUT', error: 'States.Timeout' });
    expect(types(executionArn).at(-1)).toBe('ExecutionTimedOut');
  });

  it('fails with States.Runtime for a resource it cannot run', async () => {
    // Prepare
    const smArn = deploy('unsupported', {
      StartAt: 'Glue',
      States: {
        Glue: { Type: 'Task', Resource: 'arn:aws:states:::glue:startJobRun.sync', Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }], End: true },
        Caught: { Type: 'Succeed' },
      },
    });

    // Act
    const { result } = await run(smArn);

    // Assess
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('States.Runtime');
    expect(result.cause).toContain('arn:aws:states:::glue:startJobRun.sync');
  });
});

describe('refused definitions', () => {
  it.each([
    [
      'a Wait with a malformed timestamp',
      { StartAt: 'W', States: { W: { Type: 'Wait', Timestamp: '2030-01-01 08:00', End: true } } },
      /SCHEMA_VALIDATION_FAILED: .*Timestamp.* at \/States\/W\/Timestamp/,
    ],
    [
      'an intrinsic with an open escape',
      { StartAt: 'P', States: { P: { Type: 'Pass', Parameters: { 'v.$': "States.Format('a\\b {}', $.x)" }, End: true } } },
      /open escape character.* at \/States\/P\/Parameters\/v\.\$/,
    ],
    [
      'a malformed JSONata expression',
      { QueryLanguage: 'JSONata', StartAt: 'A', States: { A: { Type: 'Pass', Output: '{% $states.input. %}', End: true } } },
      /JSONata expression .* at \/States\/A\/Output/,
    ],
    [
      'an invalid definition',
      { StartAt: 'Missing', States: { A: { Type: 'Pass', End: true } } },
      /Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET/,
    ],
    [
      'a Task whose heartbeat is not shorter than its timeout',
      {
        StartAt: 'T',
        States: { T: { Type: 'Task', Resource: 'arn:aws:states:us-east-1:000000000000:activity:a', TimeoutSeconds: 60, HeartbeatSeconds: 60, End: true } },
      },
      /SCHEMA_VALIDATION_FAILED: The value for the field 'HeartbeatSeconds' \(60\) must be smaller than the value for the field 'TimeoutSeconds' \(60\) at \/States\/T\/HeartbeatSeconds/,
    ],
  ])('refuses %s with a message naming the problem', (_what, definition, message) => {
    // Act + Assess
    expect(() => engine.deployStateMachine({ arn: arn.stateMachine('refused'), name: 'refused', definition, roleArn: ROLE })).toThrow(message);
  });
});

describe('API', () => {
  const slow = { StartAt: 'Sleep', States: { Sleep: { Type: 'Wait', Seconds: 1_000_000, End: true } } };

  it('starts, describes, lists and pages executions through the SFN client', async () => {
    // Prepare
    const smArn = deploy('api', { StartAt: 'Echo', States: { Echo: { Type: 'Pass', End: true } } });

    // Act
    const started = await sfn.send(new StartExecutionCommand({ stateMachineArn: smArn, name: 'first', input: '{"a":1}' }));
    await engine.waitForExecution(started.executionArn!);
    await run(smArn, { a: 2 }, 'second');
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    const page1 = await sfn.send(new ListExecutionsCommand({ stateMachineArn: smArn, maxResults: 1 }));
    const page2 = await sfn.send(new ListExecutionsCommand({ stateMachineArn: smArn, maxResults: 1, nextToken: page1.nextToken }));
    const running = await sfn.send(new ListExecutionsCommand({ stateMachineArn: smArn, statusFilter: 'RUNNING' }));

    // Assess
    expect(started.startDate).toBeInstanceOf(Date);
    expect(described).toMatchObject({
      executionArn: started.executionArn,
      stateMachineArn: smArn,
      name: 'first',
      status: 'SUCCEEDED',
      input: '{"a":1}',
      output: '{"a":1}',
    });
    expect(described.stopDate!.getTime()).toBeGreaterThanOrEqual(described.startDate!.getTime());
    expect(page1.executions!.map((e) => e.name)).toEqual(['second']);
    expect(page2.executions!.map((e) => e.name)).toEqual(['first']);
    expect(page2.nextToken).toBeUndefined();
    expect(running.executions).toEqual([]);
  });

  it('returns history pages, reversed and without data on request', async () => {
    // Prepare
    const smArn = deploy('history', {
      StartAt: 'One',
      States: { One: { Type: 'Pass', Result: { secret: 's' }, Next: 'Two' }, Two: { Type: 'Pass', End: true } },
    });
    const { executionArn } = await run(smArn, { in: 1 });

    // Act
    const first = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 2 }));
    const rest = await sfn.send(new GetExecutionHistoryCommand({ executionArn, nextToken: first.nextToken }));
    const reversed = await sfn.send(new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, includeExecutionData: false }));

    // Assess
    expect(first.events!.map((e) => e.type)).toEqual(['ExecutionStarted', 'PassStateEntered']);
    expect(first.events![0]).toMatchObject({ id: 1, previousEventId: 0, executionStartedEventDetails: { input: '{"in":1}', roleArn: ROLE } });
    expect(first.events![0].timestamp).toBeInstanceOf(Date);
    expect(rest.events!.map((e) => e.type)).toEqual(['PassStateExited', 'PassStateEntered', 'PassStateExited', 'ExecutionSucceeded']);
    expect(rest.events![0].stateExitedEventDetails).toMatchObject({ name: 'One', output: '{"secret":"s"}' });
    expect(reversed.events![0].type).toBe('ExecutionSucceeded');
    expect(reversed.events![0].executionSucceededEventDetails?.output).toBeUndefined();
    expect(reversed.events!.at(-1)!.executionStartedEventDetails?.input).toBeUndefined();
  });

  it('rejects a reused name with other input, and invalid input', async () => {
    // Prepare
    const smArn = deploy('names', slow);
    const first = await sfn.send(new StartExecutionCommand({ stateMachineArn: smArn, name: 'once', input: '{"v":1}' }));

    // Act
    const again = await sfn.send(new StartExecutionCommand({ stateMachineArn: smArn, name: 'once', input: '{"v":1}' }));
    const conflict = sfn.send(new StartExecutionCommand({ stateMachineArn: smArn, name: 'once', input: '{"v":2}' }));
    const invalid = sfn.send(new StartExecutionCommand({ stateMachineArn: smArn, input: '{not json' }));

    // Assess
    expect(again.executionArn).toBe(first.executionArn);
    await expect(conflict).rejects.toMatchObject({ name: 'ExecutionAlreadyExists' });
    await expect(invalid).rejects.toMatchObject({ name: 'InvalidExecutionInput' });
    await engine.stopExecution(first.executionArn!);
  });

  it('stops an execution with the given error and cause, and reports status changes on the bus', async () => {
    // Prepare
    const smArn = deploy('stoppable', slow);
    const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn: smArn, input: '{}' }));

    // Act
    const stopped = await sfn.send(new StopExecutionCommand({ executionArn, error: 'Operator.Stop', cause: 'changed my mind' }));
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));

    // Assess
    expect(stopped.stopDate).toBeInstanceOf(Date);
    expect(described).toMatchObject({ status: 'ABORTED', error: 'Operator.Stop', cause: 'changed my mind' });
    expect(types(executionArn!)).toEqual(['ExecutionStarted', 'WaitStateEntered', 'WaitStateAborted', 'ExecutionAborted']);
    const statuses = env.busEvents.filter((e) => e.resources?.[0] === executionArn).map((e) => e.detail.status);
    expect(statuses).toEqual(['RUNNING', 'ABORTED']);
    // The event has the fields AWS documents, and no error or cause (https://docs.aws.amazon.com/step-functions/latest/dg/eventbridge-integration.html).
    const event = env.busEvents.at(-1)!;
    expect(event).toMatchObject({ source: 'aws.states', 'detail-type': 'Step Functions Execution Status Change' });
    expect(Object.keys(event.detail).sort()).toEqual([
      'executionArn',
      'input',
      'inputDetails',
      'name',
      'output',
      'outputDetails',
      'startDate',
      'stateMachineArn',
      'status',
      'stopDate',
    ]);
    expect(event.detail).toMatchObject({ stateMachineArn: smArn, status: 'ABORTED', inputDetails: { included: true }, output: null, outputDetails: null });
    expect(engine.activeCount()).toBe(0);
  });

  it('reports no status change of an EXPRESS execution: "Only standard workflows emit events to EventBridge"', async () => {
    // Prepare
    const smArn = arn.stateMachine('express-quiet');
    engine.deployStateMachine({
      arn: smArn,
      name: 'express-quiet',
      definition: { StartAt: 'F', States: { F: { Type: 'Fail', Error: 'Mine.Failed' } } },
      roleArn: ROLE,
      type: 'EXPRESS',
    });
    const before = env.busEvents.length;

    // Act
    const { executionArn } = await engine.startExecution(smArn, '{}');
    await engine.waitForExecution(executionArn);

    // Assess
    expect(env.busEvents.slice(before)).toEqual([]);
  });

  it('answers unknown executions with ExecutionDoesNotExist', async () => {
    // Act
    const missing = sfn.send(new DescribeExecutionCommand({ executionArn: arn.execution('api', 'nope') }));

    // Assess
    await expect(missing).rejects.toMatchObject({ name: 'ExecutionDoesNotExist' });
  });
});

describe('restart', () => {
  it('fails executions a previous runtime left running, keeping their history', async () => {
    // Prepare
    const first = setup();
    const before = first.build();
    before.deployStateMachine({
      arn: arn.stateMachine('long'),
      name: 'long',
      definition: { StartAt: 'Sleep', States: { Sleep: { Type: 'Wait', Seconds: 1_000_000, End: true } } },
      roleArn: ROLE,
    });
    const { executionArn } = await before.startExecution(arn.stateMachine('long'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    before.close();

    // Act
    const after = first.build();
    await after.recover();

    // Assess
    expect(after.describeExecution(executionArn)).toMatchObject({ status: 'FAILED', error: RESTART_ERROR, cause: RESTART_CAUSE });
    expect(after.history(executionArn).map((e) => e.type)).toEqual(['ExecutionStarted', 'WaitStateEntered', 'ExecutionFailed']);
    // The status change goes on the bus (without the error: AWS's event has none).
    expect(first.busEvents.at(-1)?.detail).toMatchObject({ executionArn, status: 'FAILED' });
    after.close();
  });
});
