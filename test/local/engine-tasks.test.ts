/**
 * The Step Functions engine's waiting and calling tasks: activities through the real SFN client,
 * task tokens, heartbeats and timeouts, SDK integrations against a fake DynamoDB in the same server,
 * and child executions. Virtual time moves only when a test advances it (ManualClock), so heartbeat and timeout
 * windows do not depend on how fast the machine is.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import {
  CreateActivityCommand,
  DescribeActivityCommand,
  GetActivityTaskCommand,
  ListActivitiesCommand,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ACCOUNT, AwsError, ManualClock, StateDir, arn, type AwsRequest, type ServiceHandler } from '../../local/kernel';
import { createServer, listen } from '../../local/server';
import { jsonError } from '../../local/wire/errors';
import { StepFunctionsService } from '../../local/engine';

const ROLE = `arn:aws:iam::${ACCOUNT}:role/sfn`;
const ACTIVITY = arn.activity('approval');

/** Just enough DynamoDB (JSON 1.0) to see requests and answer or fail like the real service. */
class FakeDynamoDb implements ServiceHandler {
  readonly services = ['dynamodb'];
  readonly requests: { op: string; body: any }[] = [];
  readonly items = new Map<string, unknown>();

  async handle(req: AwsRequest) {
    const op = req.target!.split('.')[1];
    const body = JSON.parse(req.body.toString('utf8'));
    this.requests.push({ op, body });
    try {
      if (body.TableName !== 'known') throw new AwsError('com.amazonaws.dynamodb.v20120810#ResourceNotFoundException', 'Requested resource not found');
      const key = JSON.stringify(body.Key ?? { id: body.Item?.id });
      if (op === 'GetItem') return ok(this.items.has(key) ? { Item: this.items.get(key) } : {});
      if (op === 'PutItem') {
        if (body.ConditionExpression && this.items.has(key))
          throw new AwsError('com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException', 'The conditional request failed');
        this.items.set(key, body.Item);
        return ok({});
      }
      throw new AwsError('UnknownOperationException', op);
    } catch (err) {
      return jsonError(err as AwsError);
    }
  }
}

const ok = (body: unknown) => ({ status: 200, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: JSON.stringify(body) });

const state = new StateDir(mkdtempSync(join(tmpdir(), 'opsflow-engine-tasks-')));
const clock = new ManualClock(Date.parse('2030-01-01T00:00:00Z'));
const dynamo = new FakeDynamoDb();
const lambdaPayloads: any[] = [];
let port = 0;
let engine: StepFunctionsService;
let server: Server;
let sfn: SFNClient;

function deploy(name: string, definition: object) {
  const smArn = arn.stateMachine(name);
  engine.deployStateMachine({ arn: smArn, name, definition, roleArn: ROLE });
  return smArn;
}

async function start(smArn: string, input: unknown = {}) {
  return (await engine.startExecution(smArn, JSON.stringify(input))).executionArn;
}

/** Takes the activity's next task (GetActivityTask long-polls until it comes; the virtual clock stands still). */
async function takeTask(workerName = 'worker-1') {
  const task = await sfn.send(new GetActivityTaskCommand({ activityArn: ACTIVITY, workerName }));
  if (!task.taskToken) throw new Error('GetActivityTask returned no task');
  return task;
}

const types = (executionArn: string) => engine.history(executionArn).map((e) => e.type);

beforeAll(async () => {
  engine = new StepFunctionsService({
    clock,
    state,
    bus: { put: async () => undefined },
    invokeLambda: async (_functionArn, payload) => {
      lambdaPayloads.push(payload);
      return { accepted: true };
    },
    endpoint: () => `http://127.0.0.1:${port}`,
  });
  await engine.recover();
  engine.deployActivity({ arn: ACTIVITY, name: 'approval' });
  server = createServer([engine, dynamo], async () => ({ status: 404, body: '' }));
  engine.watchDisconnects(server);
  port = await listen(server, 0);
  sfn = new SFNClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'x' } });
});

afterAll(async () => {
  engine.close();
  sfn.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('activities', () => {
  const approval = (extra: object = {}) => ({
    StartAt: 'Approve',
    States: { Approve: { Type: 'Task', Resource: ACTIVITY, Parameters: { 'request.$': '$.request' }, ...extra, End: true } },
  });

  it('hands the task to a worker and continues with its output; the token is then dead', async () => {
    // Prepare
    const executionArn = await start(deploy('activity-success', approval()), { request: 'stop i-1' });

    // Act
    const task = await takeTask();
    await sfn.send(new SendTaskSuccessCommand({ taskToken: task.taskToken, output: '{"approved":true}' }));
    const result = await engine.waitForExecution(executionArn);
    const late = sfn.send(new SendTaskSuccessCommand({ taskToken: task.taskToken, output: '{}' }));

    // Assess
    expect(JSON.parse(task.input!)).toEqual({ request: 'stop i-1' });
    expect(result).toMatchObject({ status: 'SUCCEEDED', output: '{"approved":true}' });
    expect(types(executionArn)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'ActivityScheduled',
      'ActivityStarted',
      'ActivitySucceeded',
      'TaskStateExited',
      'ExecutionSucceeded',
    ]);
    expect(engine.history(executionArn)[3].activityStartedEventDetails).toEqual({ workerName: 'worker-1' });
    await expect(late).rejects.toMatchObject({ name: 'TaskTimedOut' });
  });

  it('fails the execution with the error and cause of SendTaskFailure', async () => {
    // Prepare
    const executionArn = await start(deploy('activity-failure', approval()), { request: 'terminate i-2' });

    // Act
    const task = await takeTask();
    await sfn.send(new SendTaskFailureCommand({ taskToken: task.taskToken, error: 'Approval.Rejected', cause: 'not today' }));
    const result = await engine.waitForExecution(executionArn);

    // Assess
    expect(result).toMatchObject({ status: 'FAILED', error: 'Approval.Rejected', cause: 'not today' });
    expect(types(executionArn)).toContain('ActivityFailed');
  });

  it('keeps a task alive while the worker sends heartbeats', async () => {
    // Prepare
    const executionArn = await start(deploy('activity-heartbeat', approval({ HeartbeatSeconds: 60 })), { request: 'r' });
    const task = await takeTask();

    // Act: heartbeats every 50 virtual seconds span 7.5 minutes, far beyond the 60-second heartbeat timeout
    for (let i = 0; i < 9; i++) {
      await clock.advance(50_000);
      await sfn.send(new SendTaskHeartbeatCommand({ taskToken: task.taskToken }));
    }
    expect(types(executionArn)).not.toContain('ActivityTimedOut');
    await sfn.send(new SendTaskSuccessCommand({ taskToken: task.taskToken, output: '"done"' }));

    // Assess
    expect(await engine.waitForExecution(executionArn)).toMatchObject({ status: 'SUCCEEDED', output: '"done"' });
  });

  describe('a heartbeat must be shorter than the timeout (https://states-language.net/spec.html#task-state)', () => {
    const paths = (extra: object) => approval({ TimeoutSecondsPath: '$.timeoutSeconds', ...extra, Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }] });
    const withCaught = (definition: ReturnType<typeof approval>) => ({ ...definition, States: { ...definition.States, Caught: { Type: 'Succeed' } } });

    it.each([
      [
        'a TimeoutSecondsPath shorter than HeartbeatSeconds',
        { HeartbeatSeconds: 900 },
        { timeoutSeconds: 60 },
        'The HeartbeatSeconds value (900) must be smaller than the TimeoutSeconds value (60)',
      ],
      [
        'a TimeoutSecondsPath equal to HeartbeatSeconds',
        { HeartbeatSeconds: 900 },
        { timeoutSeconds: 900 },
        'The HeartbeatSeconds value (900) must be smaller than the TimeoutSeconds value (900)',
      ],
      [
        'a HeartbeatSecondsPath longer than the timeout',
        { HeartbeatSecondsPath: '$.heartbeat' },
        { timeoutSeconds: 60, heartbeat: 61 },
        'The HeartbeatSeconds value (61) must be smaller than the TimeoutSeconds value (60)',
      ],
    ])('fails the execution with States.Runtime, which no Catch handles, before scheduling the task: %s', async (_what, fields, input, cause) => {
      // Prepare
      const executionArn = await start(deploy(`heartbeat-${Object.values(input).join('-')}-${Object.keys(fields)[0]}`, withCaught(paths(fields))), {
        request: 'r',
        ...input,
      });
      // Act
      const result = await engine.waitForExecution(executionArn);
      // Assess
      expect(result).toMatchObject({
        status: 'FAILED',
        error: 'States.Runtime',
        cause: `An error occurred while executing the state 'Approve' (entered at the event id #2). ${cause}`,
      });
      expect(types(executionArn)).toEqual(['ExecutionStarted', 'TaskStateEntered', 'ExecutionFailed']);
    });

    it('runs the task when the resolved timeout is longer than the heartbeat', async () => {
      const executionArn = await start(deploy('heartbeat-fits', withCaught(paths({ HeartbeatSeconds: 900 }))), { request: 'r', timeoutSeconds: 901 });
      const task = await takeTask();
      await sfn.send(new SendTaskSuccessCommand({ taskToken: task.taskToken, output: '"ok"' }));
      expect(await engine.waitForExecution(executionArn)).toMatchObject({ status: 'SUCCEEDED', output: '"ok"' });
      expect(engine.history(executionArn).find((e) => e.type === 'ActivityScheduled')!.activityScheduledEventDetails).toMatchObject({
        timeoutInSeconds: 901,
        heartbeatInSeconds: 900,
      });
    });
  });

  it('times out a silent worker with States.HeartbeatTimeout, which a Catch on States.Timeout handles', async () => {
    // Prepare
    const smArn = deploy('activity-silent', {
      StartAt: 'Approve',
      States: {
        Approve: {
          Type: 'Task',
          Resource: ACTIVITY,
          HeartbeatSeconds: 1,
          Catch: [{ ErrorEquals: ['States.Timeout'], ResultPath: '$.timeout', Next: 'Escalate' }],
          End: true,
        },
        Escalate: { Type: 'Pass', End: true },
      },
    });
    const executionArn = await start(smArn, { request: 'r' });

    // Act
    const task = await takeTask();
    await clock.advance(1_000);
    const result = await engine.waitForExecution(executionArn);
    const late = sfn.send(new SendTaskSuccessCommand({ taskToken: task.taskToken, output: '{}' }));

    // Assess
    expect(result.status).toBe('SUCCEEDED');
    expect(JSON.parse(result.output!).timeout.Error).toBe('States.HeartbeatTimeout');
    expect(types(executionArn)).toContain('ActivityTimedOut');
    await expect(late).rejects.toMatchObject({ name: 'TaskTimedOut' });
  });

  it('times out an unclaimed task with States.Timeout, which States.TaskFailed does not catch', async () => {
    // Prepare
    const smArn = deploy('activity-unclaimed', {
      StartAt: 'Approve',
      States: {
        Approve: { Type: 'Task', Resource: ACTIVITY, TimeoutSeconds: 5, Catch: [{ ErrorEquals: ['States.TaskFailed'], Next: 'Caught' }], End: true },
        Caught: { Type: 'Succeed' },
      },
    });

    // Act
    const executionArn = await start(smArn);
    await vi.waitFor(() => expect(types(executionArn)).toContain('ActivityScheduled'));
    await clock.advance(4_999);
    expect(engine.describeExecution(executionArn).status).toBe('RUNNING');
    await clock.advance(1);
    const result = await engine.waitForExecution(executionArn);

    // Assess
    expect(result).toMatchObject({ status: 'FAILED', error: 'States.Timeout' });
  });

  it('does not lose a task to a poller whose client went away', async () => {
    // Prepare
    const gone = new AbortController();
    const abandoned = sfn.send(new GetActivityTaskCommand({ activityArn: ACTIVITY, workerName: 'gone' }), { abortSignal: gone.signal }).catch((e) => e);
    await vi.waitFor(() => expect(engine.activityPollers(ACTIVITY)).toBe(1));
    gone.abort();
    await abandoned;
    // The service has seen the client go (its poll ended) before the task exists.
    await vi.waitFor(() => expect(engine.activityPollers(ACTIVITY)).toBe(0));

    // Act
    const executionArn = await start(deploy('activity-disconnect', approval()), { request: 'kept' });
    const task = await takeTask('present');
    await sfn.send(new SendTaskSuccessCommand({ taskToken: task.taskToken, output: '{}' }));

    // Assess
    expect(JSON.parse(task.input!)).toEqual({ request: 'kept' });
    expect(await engine.waitForExecution(executionArn)).toMatchObject({ status: 'SUCCEEDED' });
  });

  it('creates activities idempotently and describes them', async () => {
    // Act
    const created = await sfn.send(new CreateActivityCommand({ name: 'reminders' }));
    const again = await sfn.send(new CreateActivityCommand({ name: 'reminders' }));
    const described = await sfn.send(new DescribeActivityCommand({ activityArn: created.activityArn }));
    const listed = await sfn.send(new ListActivitiesCommand({}));
    const unknown = sfn.send(new GetActivityTaskCommand({ activityArn: arn.activity('missing') }));

    // Assess
    expect(again.activityArn).toBe(created.activityArn);
    expect(described).toMatchObject({ activityArn: arn.activity('reminders'), name: 'reminders' });
    expect(described.creationDate).toBeInstanceOf(Date);
    expect(listed.activities!.map((a) => a.name)).toEqual(expect.arrayContaining(['approval', 'reminders']));
    await expect(unknown).rejects.toMatchObject({ name: 'ActivityDoesNotExist' });
  });

  it('validates tokens', async () => {
    // Act
    const malformed = sfn.send(new SendTaskSuccessCommand({ taskToken: 'nope', output: '{}' }));
    const unknown = sfn.send(new SendTaskHeartbeatCommand({ taskToken: `AQ${'A'.repeat(128)}` }));

    // Assess
    await expect(malformed).rejects.toMatchObject({ name: 'InvalidToken' });
    await expect(unknown).rejects.toMatchObject({ name: 'TaskDoesNotExist' });
  });
});

describe('task tokens and integrations', () => {
  it('waits for the token passed to a Lambda with .waitForTaskToken', async () => {
    // Prepare
    const smArn = deploy('callback', {
      StartAt: 'Notify',
      States: {
        Notify: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
          Parameters: {
            FunctionName: 'notify',
            Payload: { 'token.$': '$$.Task.Token', 'link.$': "States.Format('https://approve.local/?t={}', $$.Task.Token)", 'state.$': '$$.State.Name' },
          },
          End: true,
        },
      },
    });
    const executionArn = await start(smArn);
    await vi.waitFor(() => expect(lambdaPayloads.some((p) => p.state === 'Notify')).toBe(true), { timeout: 10_000 });
    const payload = lambdaPayloads.find((p) => p.state === 'Notify');

    // Act
    await sfn.send(new SendTaskSuccessCommand({ taskToken: payload.token, output: '{"decision":"approve"}' }));
    const result = await engine.waitForExecution(executionArn);

    // Assess
    expect(payload.link).toBe(`https://approve.local/?t=${payload.token}`);
    expect(result).toMatchObject({ status: 'SUCCEEDED', output: '{"decision":"approve"}' });
    expect(types(executionArn)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSubmitted',
      'TaskSucceeded',
      'TaskStateExited',
      'ExecutionSucceeded',
    ]);
  });

  it('calls DynamoDB through the SDK and names its errors like Step Functions', async () => {
    // Prepare
    const smArn = deploy('dynamo', {
      StartAt: 'Put',
      States: {
        Put: {
          Type: 'Task',
          Resource: 'arn:aws:states:::dynamodb:putItem',
          Parameters: { TableName: 'known', Item: { id: { S: 'a' }, v: { N: '1' } } },
          ResultPath: null,
          Next: 'Get',
        },
        Get: {
          Type: 'Task',
          Resource: 'arn:aws:states:::aws-sdk:dynamodb:getItem',
          Parameters: { TableName: 'known', Key: { id: { S: 'a' } } },
          ResultPath: '$.got',
          Next: 'PutAgain',
        },
        PutAgain: {
          Type: 'Task',
          Resource: 'arn:aws:states:::dynamodb:putItem',
          Parameters: { TableName: 'known', Item: { id: { S: 'a' } }, ConditionExpression: 'attribute_not_exists(id)' },
          Catch: [{ ErrorEquals: ['DynamoDB.ConditionalCheckFailedException'], ResultPath: '$.conflict', Next: 'Missing' }],
          End: true,
        },
        Missing: {
          Type: 'Task',
          Resource: 'arn:aws:states:::aws-sdk:dynamodb:getItem',
          Parameters: { TableName: 'other', Key: { id: { S: 'a' } } },
          Catch: [{ ErrorEquals: ['DynamoDb.ResourceNotFoundException'], ResultPath: '$.missing', Next: 'Done' }],
          End: true,
        },
        Done: { Type: 'Succeed' },
      },
    });

    // Act
    const result = await engine.waitForExecution(await start(smArn));

    // Assess
    expect(result.status).toBe('SUCCEEDED');
    const output = JSON.parse(result.output!);
    expect(output.got).toEqual({ Item: { id: { S: 'a' }, v: { N: '1' } } });
    expect(output.conflict.Error).toBe('DynamoDB.ConditionalCheckFailedException');
    expect(output.missing.Error).toBe('DynamoDb.ResourceNotFoundException');
    expect(output.missing.Cause).toMatch(/^Requested resource not found \(Service: DynamoDb, Status Code: 400/);
    expect(dynamo.requests.map((r) => r.op)).toEqual(['PutItem', 'GetItem', 'PutItem', 'GetItem']);
  });

  it('runs a child with startExecution.sync:2 and fails the parent with the child failure', async () => {
    // Prepare
    const child = deploy('child', {
      StartAt: 'Decide',
      States: {
        Decide: { Type: 'Choice', Choices: [{ Variable: '$.ok', BooleanEquals: true, Next: 'Fine' }], Default: 'Broken' },
        Fine: { Type: 'Pass', Parameters: { 'answer.$': 'States.MathAdd($.n, 1)' }, End: true },
        Broken: { Type: 'Fail', Error: 'Child.Broken', Cause: 'as requested' },
      },
    });
    const parent = deploy('parent', {
      StartAt: 'Child',
      States: {
        Child: {
          Type: 'Task',
          Resource: 'arn:aws:states:::states:startExecution.sync:2',
          Parameters: { StateMachineArn: child, 'Input.$': '$' },
          ResultSelector: { 'output.$': '$.Output', 'status.$': '$.Status' },
          End: true,
        },
      },
    });

    // Act
    const succeeded = await engine.waitForExecution(await start(parent, { ok: true, n: 41 }));
    const failed = await engine.waitForExecution(await start(parent, { ok: false }));

    // Assess
    expect(JSON.parse(succeeded.output!)).toEqual({ output: { answer: 42 }, status: 'SUCCEEDED' });
    expect(failed).toMatchObject({ status: 'FAILED', error: 'States.TaskFailed' });
    expect(JSON.parse(failed.cause!)).toMatchObject({ Status: 'FAILED', Error: 'Child.Broken', Cause: 'as requested', StateMachineArn: child });
  });
});
