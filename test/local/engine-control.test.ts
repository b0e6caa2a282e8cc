/**
 * The Step Functions control plane through the real SFN client: state machines, versions and aliases,
 * ValidateStateMachineDefinition, TestState, executions (stop, redrive, filtered lists), tags, AWS's
 * validation errors, and persistence of API-created machines across a restart.
 */
import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as S from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT, Clock, StateDir } from '../../local/kernel';
import { createServer, listen } from '../../local/server';
import { StepFunctionsService } from '../../local/engine';

const ROLE = `arn:aws:iam::${ACCOUNT}:role/sfn`;
const state = new StateDir(mkdtempSync(join(tmpdir(), 'opsflow-control-')));
const clock = new Clock({ scale: 36000, start: Date.UTC(2030, 0, 1) });
let flakyFailures = 0;
/** Payloads the `per-item` function saw; it fails once for each payload with `fail: true` while failures are left. */
const perItem: unknown[] = [];
let perItemFailures = 0;
const build = () =>
  new StepFunctionsService({
    clock,
    state,
    bus: { put: async () => undefined },
    invokeLambda: async (functionArn, payload) => {
      if (functionArn.endsWith(':flaky') && flakyFailures-- > 0)
        throw Object.assign(new Error('flaky'), { errorType: 'Flaky.Failure', errorMessage: 'try again' });
      if (functionArn.endsWith(':per-item')) {
        perItem.push(payload);
        if ((payload as { fail?: boolean }).fail && perItemFailures-- > 0)
          throw Object.assign(new Error('once'), { errorType: 'Item.Failed', errorMessage: 'fails once' });
        return payload;
      }
      return { echoed: payload };
    },
    endpoint: () => 'http://127.0.0.1:1',
  });

let engine: StepFunctionsService;
let server: Server;
let sfn: S.SFNClient;

async function serve(): Promise<void> {
  engine = build();
  await engine.recover();
  server = createServer([engine], async () => ({ status: 404, body: '' }));
  const port = await listen(server, 0);
  sfn = new S.SFNClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'x' },
    maxAttempts: 1,
    disableHostPrefix: true,
  });
}

async function shutdown(): Promise<void> {
  engine.close();
  sfn.destroy();
  await new Promise((resolve) => server.close(resolve));
}

beforeAll(serve);
afterAll(shutdown);

const pass = (result: unknown) => JSON.stringify({ StartAt: 'P', States: { P: { Type: 'Pass', Result: result, End: true } } });

async function finished(executionArn: string): Promise<S.DescribeExecutionCommandOutput> {
  await engine.waitForExecution(executionArn);
  return sfn.send(new S.DescribeExecutionCommand({ executionArn }));
}

const awsError = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: Error & { message: string }) => `${e.name}: ${e.message}`,
  );

describe('state machines', () => {
  it('creates, describes, updates, lists and deletes', async () => {
    const created = await sfn.send(
      new S.CreateStateMachineCommand({ name: 'crud', definition: pass(1), roleArn: ROLE, tags: [{ key: 'team', value: 'ops' }] }),
    );
    expect(created.stateMachineArn).toBe(`arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:crud`);

    const described = await sfn.send(new S.DescribeStateMachineCommand({ stateMachineArn: created.stateMachineArn }));
    expect(described).toEqual(expect.objectContaining({ name: 'crud', status: 'ACTIVE', definition: pass(1), roleArn: ROLE, type: 'STANDARD' }));

    const updated = await sfn.send(new S.UpdateStateMachineCommand({ stateMachineArn: created.stateMachineArn, definition: pass(2) }));
    expect(updated.revisionId).not.toBe(described.revisionId);
    expect((await sfn.send(new S.DescribeStateMachineCommand({ stateMachineArn: created.stateMachineArn }))).definition).toBe(pass(2));

    const listed = await sfn.send(new S.ListStateMachinesCommand({}));
    expect(listed.stateMachines!.map((m) => m.name)).toContain('crud');
    expect((await sfn.send(new S.ListTagsForResourceCommand({ resourceArn: created.stateMachineArn }))).tags).toEqual([{ key: 'team', value: 'ops' }]);

    await sfn.send(new S.DeleteStateMachineCommand({ stateMachineArn: created.stateMachineArn }));
    expect(await awsError(sfn.send(new S.DescribeStateMachineCommand({ stateMachineArn: created.stateMachineArn })))).toBe(
      `StateMachineDoesNotExist: State Machine Does Not Exist: '${created.stateMachineArn}'`,
    );
  });

  it('answers with AWS validation errors', async () => {
    await sfn.send(new S.CreateStateMachineCommand({ name: 'taken', definition: pass(1), roleArn: ROLE }));
    // Same name and definition: idempotent. Other definition: the name is taken.
    await sfn.send(new S.CreateStateMachineCommand({ name: 'taken', definition: pass(1), roleArn: ROLE }));
    expect(await awsError(sfn.send(new S.CreateStateMachineCommand({ name: 'taken', definition: pass(2), roleArn: ROLE })))).toMatch(
      /^StateMachineAlreadyExists: State Machine Already Exists: 'arn:aws:states:us-east-1:\d+:stateMachine:taken'$/,
    );
    expect(await awsError(sfn.send(new S.CreateStateMachineCommand({ name: 'bad name', definition: pass(1), roleArn: ROLE })))).toBe(
      "InvalidName: Invalid Name: 'bad name'",
    );
    expect(await awsError(sfn.send(new S.CreateStateMachineCommand({ name: 'badrole', definition: pass(1), roleArn: 'nope' })))).toMatch(/^InvalidArn:/);
    expect(
      await awsError(
        sfn.send(
          new S.CreateStateMachineCommand({
            name: 'baddef',
            definition: '{"StartAt":"X","States":{"W":{"Type":"Wait","Timestamp":"soon","End":true}}}',
            roleArn: ROLE,
          }),
        ),
      ),
    ).toMatch(/^InvalidDefinition: Invalid State Machine Definition: '.*at \/States\/W\/Timestamp/);
    expect(await awsError(sfn.send(new S.UpdateStateMachineCommand({ stateMachineArn: `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:taken` })))).toMatch(
      /^MissingRequiredParameter:/,
    );
  });

  it('publishes versions, routes aliases and starts executions through them', async () => {
    const { stateMachineArn, stateMachineVersionArn: v1 } = await sfn.send(
      new S.CreateStateMachineCommand({ name: 'versioned', definition: pass('one'), roleArn: ROLE, publish: true }),
    );
    expect(v1).toBe(`${stateMachineArn}:1`);
    await sfn.send(new S.UpdateStateMachineCommand({ stateMachineArn, definition: pass('two') }));
    const { stateMachineVersionArn: v2 } = await sfn.send(new S.PublishStateMachineVersionCommand({ stateMachineArn, description: 'second' }));
    expect(v2).toBe(`${stateMachineArn}:2`);
    expect((await sfn.send(new S.ListStateMachineVersionsCommand({ stateMachineArn }))).stateMachineVersions!.map((v) => v.stateMachineVersionArn)).toEqual([
      v2,
      v1,
    ]);

    const { stateMachineAliasArn } = await sfn.send(
      new S.CreateStateMachineAliasCommand({ name: 'prod', routingConfiguration: [{ stateMachineVersionArn: v1, weight: 100 }] }),
    );
    expect(stateMachineAliasArn).toBe(`${stateMachineArn}:prod`);
    const viaAlias = await sfn.send(new S.StartExecutionCommand({ stateMachineArn: stateMachineAliasArn }));
    const done = await finished(viaAlias.executionArn!);
    expect(done.output).toBe('"one"');
    expect(done.stateMachineAliasArn).toBe(stateMachineAliasArn);
    expect(done.stateMachineVersionArn).toBe(v1);

    const viaVersion = await sfn.send(new S.StartExecutionCommand({ stateMachineArn: v2 }));
    expect((await finished(viaVersion.executionArn!)).output).toBe('"two"');
    const forExecution = await sfn.send(new S.DescribeStateMachineForExecutionCommand({ executionArn: viaAlias.executionArn }));
    expect(forExecution.definition).toBe(pass('one'));
    expect((await sfn.send(new S.ListExecutionsCommand({ stateMachineArn: v2 }))).executions!.map((e) => e.executionArn)).toEqual([viaVersion.executionArn]);

    expect(await awsError(sfn.send(new S.DeleteStateMachineVersionCommand({ stateMachineVersionArn: v1 })))).toMatch(/^ConflictException:/);
    await sfn.send(new S.UpdateStateMachineAliasCommand({ stateMachineAliasArn, routingConfiguration: [{ stateMachineVersionArn: v2, weight: 100 }] }));
    await sfn.send(new S.DeleteStateMachineVersionCommand({ stateMachineVersionArn: v1 }));
    expect((await sfn.send(new S.DescribeStateMachineAliasCommand({ stateMachineAliasArn }))).routingConfiguration).toEqual([
      { stateMachineVersionArn: v2, weight: 100 },
    ]);
    expect(
      await awsError(sfn.send(new S.CreateStateMachineAliasCommand({ name: 'split', routingConfiguration: [{ stateMachineVersionArn: v2, weight: 60 }] }))),
    ).toMatch(/^ValidationException:.*add up to 100/);
  });
});

describe('ValidateStateMachineDefinition', () => {
  it('answers OK for a valid definition and each problem with its location otherwise', async () => {
    expect(await sfn.send(new S.ValidateStateMachineDefinitionCommand({ definition: pass(1) }))).toEqual(
      expect.objectContaining({ result: 'OK', diagnostics: [] }),
    );
    const bad = await sfn.send(
      new S.ValidateStateMachineDefinitionCommand({
        definition: JSON.stringify({ StartAt: 'P', States: { P: { Type: 'Pass', Parameters: { 'v.$': "States.Format('\\x')" }, End: true } } }),
      }),
    );
    expect(bad.result).toBe('FAIL');
    expect(bad.diagnostics).toEqual([expect.objectContaining({ severity: 'ERROR', code: 'SCHEMA_VALIDATION_FAILED', location: '/States/P/Parameters/v.$' })]);
  });

  it('words missing top-level fields as AWS does, in both APIs', async () => {
    // Recorded: localstack/localstack tests/aws/services/stepfunctions/v2/test_sfn_api.snapshot.json (test_create_delete_invalid_sm)
    expect(await awsError(sfn.send(new S.CreateStateMachineCommand({ name: 'nostates', definition: '{"StartAt":"A"}', roleArn: ROLE })))).toBe(
      "InvalidDefinition: Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: These fields are required: [States] at /'",
    );
    // Recorded: test_sfn_api_validation.snapshot.json (EMPTY_DICT)
    expect((await sfn.send(new S.ValidateStateMachineDefinitionCommand({ definition: '{}' }))).diagnostics).toEqual([
      { severity: 'ERROR', code: 'SCHEMA_VALIDATION_FAILED', message: 'These fields are required: [States, StartAt]', location: '/' },
    ]);
  });
});

describe('TestState', () => {
  it('runs one state and shows the data after each step with inspectionLevel DEBUG', async () => {
    const definition = JSON.stringify({ Type: 'Pass', InputPath: '$.a', Parameters: { 'v.$': '$.b' }, ResultPath: '$.out', Next: 'Somewhere' });
    const out = await sfn.send(new S.TestStateCommand({ definition, roleArn: ROLE, input: '{"a":{"b":1}}', inspectionLevel: 'DEBUG' }));
    expect(out).toEqual(expect.objectContaining({ status: 'SUCCEEDED', nextState: 'Somewhere', output: '{"a":{"b":1},"out":{"v":1}}' }));
    expect(out.inspectionData).toEqual(
      expect.objectContaining({
        input: '{"a":{"b":1}}',
        afterInputPath: '{"b":1}',
        afterParameters: '{"v":1}',
        afterResultPath: '{"a":{"b":1},"out":{"v":1}}',
      }),
    );
  });

  it('answers RETRIABLE, CAUGHT_ERROR and FAILED as a Task would end', async () => {
    const task = (extra: object) =>
      JSON.stringify({
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: { FunctionName: 'nope', 'Payload.$': '$.missing' },
        End: true,
        ...extra,
      });
    const failed = await sfn.send(new S.TestStateCommand({ definition: task({}), roleArn: ROLE, input: '{}' }));
    expect(failed.status).toBe('FAILED');
    // A missing Parameters path is States.Runtime on AWS today (local/engine/DIVERGENCES.md).
    expect(failed.error).toBe('States.Runtime');
    const choice = await sfn.send(
      new S.TestStateCommand({
        definition: JSON.stringify({ Type: 'Choice', Choices: [{ Variable: '$.n', NumericGreaterThan: 1, Next: 'Big' }], Default: 'Small' }),
        roleArn: ROLE,
        input: '{"n":2}',
      }),
    );
    expect(choice.nextState).toBe('Big');
    const fail = JSON.stringify({ Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: 'f' }, End: true });
    const mock = { errorOutput: { error: 'E', cause: 'mocked' } };
    const retriable = await sfn.send(
      new S.TestStateCommand({ definition: fail.replace('"End":true', '"Retry":[{"ErrorEquals":["E"]}],"End":true'), roleArn: ROLE, mock }),
    );
    expect(retriable.status).toBe('RETRIABLE');
    const caught = await sfn.send(
      new S.TestStateCommand({ definition: fail.replace('"End":true', '"Catch":[{"ErrorEquals":["E"],"Next":"Handler"}],"End":true'), roleArn: ROLE, mock }),
    );
    expect(caught).toEqual(expect.objectContaining({ status: 'CAUGHT_ERROR', nextState: 'Handler', error: 'E', cause: 'mocked' }));
  });

  // https://docs.aws.amazon.com/step-functions/latest/apireference/API_TestState.html and API_MockInput.html
  it("a mock result stands for the Task's work; ResultSelector, ResultPath and OutputPath still apply", async () => {
    const definition = JSON.stringify({
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: 'never-called' },
      ResultSelector: { 'v.$': '$.Payload.v' },
      ResultPath: '$.r',
      End: true,
    });
    const out = await sfn.send(new S.TestStateCommand({ definition, input: '{"a":1}', mock: { result: '{"Payload":{"v":7},"StatusCode":200}' } }));
    expect(out).toEqual(expect.objectContaining({ status: 'SUCCEEDED', output: '{"a":1,"r":{"v":7}}' }));
  });

  it('with a mock, activities, .waitForTaskToken, Map and Parallel can be tested; without one they are refused', async () => {
    const activity = JSON.stringify({ Type: 'Task', Resource: `arn:aws:states:us-east-1:${ACCOUNT}:activity:a`, End: true });
    const token = JSON.stringify({
      Type: 'Task',
      Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
      Parameters: { 'MessageBody.$': '$$.Task.Token', QueueUrl: 'q' },
      End: true,
    });
    const map = JSON.stringify({ Type: 'Map', ItemProcessor: { StartAt: 'I', States: { I: { Type: 'Pass', End: true } } }, ResultPath: '$.items', End: true });
    const parallel = JSON.stringify({ Type: 'Parallel', Branches: [{ StartAt: 'B', States: { B: { Type: 'Pass', End: true } } }], End: true });
    for (const definition of [activity, token, map, parallel]) {
      expect(await awsError(sfn.send(new S.TestStateCommand({ definition, roleArn: ROLE, input: '[]' })))).toMatch(
        /^ValidationException: .*only when a mock is specified/,
      );
    }
    expect((await sfn.send(new S.TestStateCommand({ definition: activity, mock: { result: '"done"' } }))).output).toBe('"done"');
    expect((await sfn.send(new S.TestStateCommand({ definition: token, mock: { result: '{"ok":true}' } }))).output).toBe('{"ok":true}');
    expect((await sfn.send(new S.TestStateCommand({ definition: map, input: '{"n":1}', mock: { result: '[1,2]' } }))).output).toBe('{"n":1,"items":[1,2]}');
    expect(await sfn.send(new S.TestStateCommand({ definition: parallel, mock: { errorOutput: { error: 'Branch.Failed', cause: 'c' } } }))).toEqual(
      expect.objectContaining({ status: 'FAILED', error: 'Branch.Failed', cause: 'c' }),
    );
  });

  it('checks a mocked result against the API model: STRICT needs required fields, PRESENT only types, NONE nothing', async () => {
    // https://docs.aws.amazon.com/step-functions/latest/apireference/API_MockInput.html (fieldValidationMode)
    const describe = JSON.stringify({ Type: 'Task', Resource: 'arn:aws:states:::aws-sdk:ec2:describeInstances', End: true });
    const start = JSON.stringify({ Type: 'Task', Resource: 'arn:aws:states:::aws-sdk:sfn:startExecution', Parameters: { StateMachineArn: 'x' }, End: true });
    const send = (definition: string, result: unknown, fieldValidationMode?: 'STRICT' | 'PRESENT' | 'NONE') =>
      sfn.send(new S.TestStateCommand({ definition, mock: { result: JSON.stringify(result), ...(fieldValidationMode ? { fieldValidationMode } : {}) } }));

    expect((await send(describe, { Reservations: [{ Instances: [{ InstanceId: 'i-1', State: { Name: 'running' } }] }] })).status).toBe('SUCCEEDED');
    expect(await awsError(send(describe, { Reservations: 'none' }))).toMatch(/^ValidationException: .*Reservations must be an array/);
    expect(await awsError(send(describe, { Reservations: [{ Instances: [{ State: { Code: 'sixteen' } }] }] }, 'PRESENT'))).toMatch(
      /Reservations\[0\]\.Instances\[0\]\.State\.Code must be a number/,
    );
    expect((await send(describe, { Reservations: 'none' }, 'NONE')).output).toBe('{"Reservations":"none"}');
    expect(await awsError(send(start, { StartDate: 1 }))).toMatch(/ExecutionArn is required/);
    expect((await send(start, { StartDate: 1 }, 'PRESENT')).status).toBe('SUCCEEDED');
  });

  it('refuses a mock with both or neither of result and errorOutput, a result that is not JSON, and a mock on a Pass state', async () => {
    const task = JSON.stringify({ Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: 'f' }, End: true });
    for (const mock of [{}, { result: '1', errorOutput: { error: 'E' } }, { result: '{not json' }]) {
      expect(await awsError(sfn.send(new S.TestStateCommand({ definition: task, mock })))).toMatch(/^ValidationException:/);
    }
    expect(await awsError(sfn.send(new S.TestStateCommand({ definition: JSON.stringify({ Type: 'Pass', End: true }), mock: { result: '1' } })))).toMatch(
      /^ValidationException: .*Pass states/,
    );
  });
});

describe('executions', () => {
  it('stops, redrives from the failed state, and filters lists', async () => {
    const definition = JSON.stringify({
      StartAt: 'First',
      States: {
        First: { Type: 'Pass', Result: 'ok', ResultPath: '$.first', Next: 'Call' },
        Call: { Type: 'Task', Resource: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:flaky`, End: true },
      },
    });
    flakyFailures = 1;
    const { stateMachineArn } = await sfn.send(new S.CreateStateMachineCommand({ name: 'redrive', definition, roleArn: ROLE }));
    const { executionArn } = await sfn.send(new S.StartExecutionCommand({ stateMachineArn, input: '{"n":1}' }));
    const failed = await finished(executionArn!);
    expect(failed.status).toBe('FAILED');
    expect(failed.redriveStatus).toBe('REDRIVABLE');

    await sfn.send(new S.RedriveExecutionCommand({ executionArn }));
    const redriven = await finished(executionArn!);
    expect(redriven.status).toBe('SUCCEEDED');
    expect(redriven.redriveCount).toBe(1);
    const history = (await sfn.send(new S.GetExecutionHistoryCommand({ executionArn }))).events!;
    const redrivenAt = history.findIndex((e) => e.type === 'ExecutionRedriven');
    expect(history[redrivenAt + 1]).toEqual(expect.objectContaining({ type: 'TaskStateEntered', previousEventId: history[redrivenAt].id }));
    expect(JSON.parse(redriven.output!)).toEqual({ echoed: { n: 1, first: 'ok' } });
    expect(await awsError(sfn.send(new S.RedriveExecutionCommand({ executionArn })))).toMatch(/^ExecutionNotRedrivable:/);

    const slow = await sfn.send(
      new S.CreateStateMachineCommand({
        name: 'slow',
        definition: JSON.stringify({ StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 100000000, End: true } } }),
        roleArn: ROLE,
      }),
    );
    const running = await sfn.send(new S.StartExecutionCommand({ stateMachineArn: slow.stateMachineArn }));
    expect((await sfn.send(new S.ListExecutionsCommand({ stateMachineArn: slow.stateMachineArn, statusFilter: 'RUNNING' }))).executions).toHaveLength(1);
    await sfn.send(new S.StopExecutionCommand({ executionArn: running.executionArn, error: 'Why', cause: 'because' }));
    expect(await finished(running.executionArn!)).toEqual(expect.objectContaining({ status: 'ABORTED', error: 'Why', cause: 'because' }));
    const stopped = (await sfn.send(new S.GetExecutionHistoryCommand({ executionArn: running.executionArn }))).events!;
    expect(stopped.map((e) => `${e.type}<${e.previousEventId}`)).toEqual([
      'ExecutionStarted<0',
      'WaitStateEntered<0',
      'WaitStateAborted<2',
      'ExecutionAborted<3',
    ]);
    expect((await sfn.send(new S.ListExecutionsCommand({ stateMachineArn, redriveFilter: 'REDRIVEN' }))).executions!.map((e) => e.executionArn)).toEqual([
      executionArn,
    ]);
    expect(await awsError(sfn.send(new S.ListExecutionsCommand({ stateMachineArn, statusFilter: 'LOST' as never })))).toMatch(/^ValidationException:/);
  });
});

describe('RedriveExecution of an inline Map or Parallel', () => {
  // "RedriveExecution API action reschedules and redrives only the iterations and branches that failed or aborted"
  // (https://docs.aws.amazon.com/step-functions/latest/apireference/API_RedriveExecution.html); the variables are
  // those of the failed attempt.
  const call = (Parameters: object) => ({ Type: 'Task', Resource: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:per-item`, Parameters, End: true });

  it('runs again only the Map iterations that failed, with the variables assigned before', async () => {
    const definition = JSON.stringify({
      StartAt: 'Greet',
      States: {
        Greet: { Type: 'Pass', Assign: { greeting: 'hi' }, Next: 'Each' },
        Each: {
          Type: 'Map',
          ItemsPath: '$.items',
          ItemSelector: { 'n.$': '$$.Map.Item.Value.n', 'fail.$': '$$.Map.Item.Value.fail', 'g.$': '$greeting' },
          ItemProcessor: { StartAt: 'Call', States: { Call: call({ 'n.$': '$.n', 'fail.$': '$.fail', 'g.$': '$.g' }) } },
          End: true,
        },
      },
    });
    const { stateMachineArn } = await sfn.send(new S.CreateStateMachineCommand({ name: 'redrive-map', definition, roleArn: ROLE }));
    perItem.length = 0;
    perItemFailures = 1;
    const { executionArn } = await sfn.send(
      new S.StartExecutionCommand({
        stateMachineArn,
        input: JSON.stringify({
          items: [
            { n: 1, fail: false },
            { n: 2, fail: true },
            { n: 3, fail: false },
          ],
        }),
      }),
    );
    expect((await finished(executionArn!)).status).toBe('FAILED');
    const before = perItem.length;

    await sfn.send(new S.RedriveExecutionCommand({ executionArn }));
    const redriven = await finished(executionArn!);

    expect(redriven.status).toBe('SUCCEEDED');
    expect(perItem.slice(before)).toEqual([{ n: 2, fail: true, g: 'hi' }]);
    expect(JSON.parse(redriven.output!)).toEqual([1, 2, 3].map((n) => ({ n, fail: n === 2, g: 'hi' })));
    const history = (await sfn.send(new S.GetExecutionHistoryCommand({ executionArn }))).events!;
    const after = history.slice(history.findIndex((e) => e.type === 'ExecutionRedriven'));
    expect(after.filter((e) => e.type === 'MapIterationStarted').map((e) => e.mapIterationStartedEventDetails!.index)).toEqual([1]);
  });

  it('runs again only the Parallel branches that failed', async () => {
    const definition = JSON.stringify({
      StartAt: 'Both',
      States: {
        Both: {
          Type: 'Parallel',
          Branches: [
            { StartAt: 'A', States: { A: call({ n: 'a', fail: false }) } },
            { StartAt: 'B', States: { B: call({ n: 'b', fail: true }) } },
          ],
          End: true,
        },
      },
    });
    const { stateMachineArn } = await sfn.send(new S.CreateStateMachineCommand({ name: 'redrive-parallel', definition, roleArn: ROLE }));
    perItem.length = 0;
    perItemFailures = 1;
    const { executionArn } = await sfn.send(new S.StartExecutionCommand({ stateMachineArn, input: '{}' }));
    expect((await finished(executionArn!)).status).toBe('FAILED');
    const before = perItem.length;

    await sfn.send(new S.RedriveExecutionCommand({ executionArn }));
    const redriven = await finished(executionArn!);

    expect(redriven.status).toBe('SUCCEEDED');
    expect(perItem.slice(before)).toEqual([{ n: 'b', fail: true }]);
    expect(JSON.parse(redriven.output!)).toEqual([
      { n: 'a', fail: false },
      { n: 'b', fail: true },
    ]);
  });
});

describe('EXPRESS', () => {
  const express = async (name: string, definition: object) =>
    (await sfn.send(new S.CreateStateMachineCommand({ name, definition: JSON.stringify(definition), roleArn: ROLE, type: 'EXPRESS' }))).stateMachineArn!;

  it('StartSyncExecution answers the result, or the error and cause with status FAILED (still 200)', async () => {
    const ok = await express('sync-ok', { StartAt: 'P', States: { P: { Type: 'Pass', Parameters: { 'doubled.$': 'States.MathAdd($.n, $.n)' }, End: true } } });
    const bad = await express('sync-bad', { StartAt: 'F', States: { F: { Type: 'Fail', Error: 'Mine.Failed', Cause: 'on purpose' } } });

    const done = await sfn.send(new S.StartSyncExecutionCommand({ stateMachineArn: ok, input: '{"n":21}', name: 'one' }));
    const failed = await sfn.send(new S.StartSyncExecutionCommand({ stateMachineArn: bad }));

    expect(done).toEqual(expect.objectContaining({ status: 'SUCCEEDED', output: '{"doubled":42}', name: 'one', stateMachineArn: ok, input: '{"n":21}' }));
    expect(done.executionArn).toMatch(new RegExp(`^arn:aws:states:us-east-1:${ACCOUNT}:express:sync-ok:one:[0-9a-f-]{36}$`));
    expect(done.stopDate).toBeInstanceOf(Date);
    expect(failed).toEqual(expect.objectContaining({ status: 'FAILED', error: 'Mine.Failed', cause: 'on purpose' }));
    expect(failed.output).toBeUndefined();
  });

  it('StartSyncExecution refuses a STANDARD machine; history, describe, stop and list refuse EXPRESS', async () => {
    const standard = (await sfn.send(new S.CreateStateMachineCommand({ name: 'std-for-sync', definition: pass(1), roleArn: ROLE }))).stateMachineArn!;
    const machine = await express('no-history', { StartAt: 'P', States: { P: { Type: 'Pass', End: true } } });
    const { executionArn } = await sfn.send(new S.StartSyncExecutionCommand({ stateMachineArn: machine }));

    expect(await awsError(sfn.send(new S.StartSyncExecutionCommand({ stateMachineArn: standard })))).toMatch(/^StateMachineTypeNotSupported:/);
    expect(await awsError(sfn.send(new S.GetExecutionHistoryCommand({ executionArn })))).toMatch(/^InvalidArn:/);
    expect(await awsError(sfn.send(new S.DescribeExecutionCommand({ executionArn })))).toMatch(/^InvalidArn:/);
    expect(await awsError(sfn.send(new S.StopExecutionCommand({ executionArn })))).toMatch(/^InvalidArn:/);
    expect(await awsError(sfn.send(new S.RedriveExecutionCommand({ executionArn })))).toMatch(/^InvalidArn:/);
    expect(await awsError(sfn.send(new S.ListExecutionsCommand({ stateMachineArn: machine })))).toMatch(/^StateMachineTypeNotSupported:/);
  });

  it('the same name starts another, concurrent execution (at-least-once, no idempotency)', async () => {
    const machine = await express('twice', { StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 10, End: true } } });
    const first = await sfn.send(new S.StartExecutionCommand({ stateMachineArn: machine, name: 'same', input: '{}' }));
    const second = await sfn.send(new S.StartExecutionCommand({ stateMachineArn: machine, name: 'same', input: '{}' }));
    expect(first.executionArn).not.toBe(second.executionArn);
    expect((await engine.waitForExecution(second.executionArn!)).status).toBe('SUCCEEDED');
  });

  it('times out after five minutes with States.Timeout, whatever TimeoutSeconds says', async () => {
    // A Wait ten times as long as the limit, so the virtual clock's scale cannot blur which one ends first.
    const machine = await express('too-long', { TimeoutSeconds: 36000, StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 3000, End: true } } });
    const out = await sfn.send(new S.StartSyncExecutionCommand({ stateMachineArn: machine }));
    // (The scaled clock rounds its real timers to whole milliseconds, tens of virtual seconds at this scale: the
    // limit itself is read from the cause, and the stop from its being well before the Wait's end.)
    expect(out).toEqual(expect.objectContaining({ status: 'TIMED_OUT', error: 'States.Timeout' }));
    expect(out.cause).toMatch(/\(300\)/);
    expect((out.stopDate!.getTime() - out.startDate!.getTime()) / 1000).toBeLessThan(3000);
  });

  it('refuses activities, .sync and .waitForTaskToken at create time', async () => {
    const task = (Resource: string) => ({ StartAt: 'T', States: { T: { Type: 'Task', Resource, End: true } } });
    for (const resource of [
      `arn:aws:states:us-east-1:${ACCOUNT}:activity:a`,
      'arn:aws:states:::lambda:invoke.waitForTaskToken',
      'arn:aws:states:::states:startExecution.sync:2',
    ]) {
      expect(await awsError(express('refused', task(resource)))).toMatch(
        /^InvalidDefinition: .*Express state machine does not support.*at \/States\/T\/Resource/,
      );
    }
  });
});

describe('restart', () => {
  it('keeps API-created state machines, versions, aliases and tags', async () => {
    const { stateMachineArn } = await sfn.send(
      new S.CreateStateMachineCommand({ name: 'durable', definition: pass('kept'), roleArn: ROLE, publish: true, tags: [{ key: 'k', value: 'v' }] }),
    );
    await sfn.send(
      new S.CreateStateMachineAliasCommand({ name: 'live', routingConfiguration: [{ stateMachineVersionArn: `${stateMachineArn}:1`, weight: 100 }] }),
    );

    await shutdown();
    await serve();

    expect((await sfn.send(new S.DescribeStateMachineCommand({ stateMachineArn }))).definition).toBe(pass('kept'));
    expect((await sfn.send(new S.ListTagsForResourceCommand({ resourceArn: stateMachineArn }))).tags).toEqual([{ key: 'k', value: 'v' }]);
    const started = await sfn.send(new S.StartExecutionCommand({ stateMachineArn: `${stateMachineArn}:live` }));
    expect((await finished(started.executionArn!)).output).toBe('"kept"');
  });
});
