/**
 * What apps create at run time (issue 21, class 9), through the whole runtime with the real SDK v3 clients and the
 * AWS CLI v2: SQS queues made with CreateQueue, reached by state machines through the optimized
 * `sqs:sendMessage` and `sqs:sendMessage.waitForTaskToken` integrations under their roles' IAM policies (the
 * Queues fixture, test/fixtures/runtime-created/app.ts); Lambda functions made with CreateFunction from a Node.js zip
 * package, invoked through the Lambda API, with IAM on the caller (lambda:*, iam:PassRole) and on the function's role.
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient, CreateQueueCommand } from '@aws-sdk/client-sqs';
import { CreateFunctionCommand, DeleteFunctionCommand, GetFunctionCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DescribeExecutionCommand, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { strToU8, zipSync } from 'fflate';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthQueues } from '../fixtures/runtime-created/app';
import { awsCliEnv, findAwsCliV2, toolAvailable } from '../tools';
import { credentials, fullHistory, startRuntime, type Harness } from './harness';

const run = promisify(execFile);
let dir: string;
let h: Harness;
let sqs: SQSClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'opsflow-runtime-created-'));
  synthQueues(join(dir, 'cdk.out'));
  h = await startRuntime({ cdkOut: join(dir, 'cdk.out'), stateDir: join(dir, 'state'), timeScale: 60 });
  sqs = new SQSClient({ endpoint: h.endpoint, region: 'us-east-1', credentials });
}, 120_000);
afterAll(async () => {
  sqs?.destroy();
  await h?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const queue = async (name: string) => (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl!;
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

describe('SQS queues created at run time, reached from state machines', () => {
  it('sqs:sendMessage sends the JSON body as text and answers with the fields AWS records', async () => {
    // Prepare
    const jobs = await queue('jobs');

    // Act
    const done = await h.finished(await h.start('queues-send', { queueUrl: jobs, body: { hello: 'world' } }));
    const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: jobs, WaitTimeSeconds: 1 }));
    await sqs.send(new DeleteMessageCommand({ QueueUrl: jobs, ReceiptHandle: received.Messages![0].ReceiptHandle! }));

    // Assess: the output of localstack/localstack tests/aws/services/stepfunctions/v2/services/test_sqs_task_service.snapshot.json
    expect(done.status).toBe('SUCCEEDED');
    const output = JSON.parse(done.output!);
    expect(Object.keys(output).sort()).toEqual(['MD5OfMessageBody', 'MessageId', 'SdkHttpMetadata', 'SdkResponseMetadata']);
    expect(output.MD5OfMessageBody).toBe(md5('{"hello":"world"}'));
    expect(output.SdkHttpMetadata).toMatchObject({
      HttpStatusCode: 200,
      HttpHeaders: { 'Content-Type': 'application/x-amz-json-1.0', 'x-amzn-RequestId': output.SdkResponseMetadata.RequestId },
      AllHttpHeaders: { 'Content-Type': ['application/x-amz-json-1.0'] },
    });
    expect(received.Messages!.map((m) => [m.MessageId, m.Body])).toEqual([[output.MessageId, '{"hello":"world"}']]);
  });

  it('a missing MessageBody fails as SQS.AmazonSQSException with the Java SDK cause AWS records', async () => {
    // Act
    const done = await h.finished(await h.start('queues-send', { queueUrl: await queue('jobs'), body: null }));

    // Assess: localstack/localstack tests/aws/services/stepfunctions/v2/error_handling/test_task_service_sqs.snapshot.json
    expect(done).toMatchObject({ status: 'FAILED', error: 'SQS.AmazonSQSException' });
    expect(done.cause).toMatch(
      /^The request must contain the parameter MessageBody\. \(Service: AmazonSQS; Status Code: 400; Error Code: MissingParameter; Request ID: [0-9a-f-]{36}; Proxy: null\)$/,
    );
  });

  it("refuses a send the role's policy does not allow, as SQS refuses it (AccessDenied, sqs:sendmessage)", async () => {
    // Prepare
    const other = await queue('other');

    // Act
    const done = await h.finished(await h.start('queues-send', { queueUrl: other, body: 'x' }));
    const left = await sqs.send(new ReceiveMessageCommand({ QueueUrl: other }));

    // Assess
    expect(done).toMatchObject({ status: 'FAILED', error: 'SQS.AmazonSQSException' });
    expect(done.cause).toMatch(
      /is not authorized to perform: sqs:sendmessage on resource: arn:aws:sqs:us-east-1:000000000000:other because no identity-based policy allows the sqs:sendmessage action \(Service: AmazonSQS; Status Code: 403; Error Code: AccessDenied;/,
    );
    expect(left.Messages).toBeUndefined();
  });

  it('a queue that does not exist fails the task as SQS.QueueDoesNotExistException', async () => {
    // Act
    const done = await h.finished(await h.start('queues-send', { queueUrl: `${h.endpoint}/000000000000/ghost`, body: 'x' }));

    // Assess
    expect(done).toMatchObject({ status: 'FAILED', error: 'SQS.QueueDoesNotExistException' });
    expect(done.cause).toMatch(
      /^The specified queue does not exist\. \(Service: AmazonSQS; Status Code: 400; Error Code: AWS\.SimpleQueueService\.NonExistentQueue;/,
    );
  });

  it('sqs:sendMessage.waitForTaskToken waits for the worker that took the token from the queue', async () => {
    // Prepare
    const jobs = await queue('jobs');

    // Act
    const executionArn = await h.start('queues-worker', { queueUrl: jobs, job: 'resize' });
    const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: jobs, WaitTimeSeconds: 20 }));
    const message = JSON.parse(received.Messages![0].Body!);
    const waiting = (await h.sfn.send(new DescribeExecutionCommand({ executionArn }))).status;
    await h.sfn.send(new SendTaskSuccessCommand({ taskToken: message.token, output: JSON.stringify({ resized: message.job }) }));
    await sqs.send(new DeleteMessageCommand({ QueueUrl: jobs, ReceiptHandle: received.Messages![0].ReceiptHandle! }));
    const done = await h.finished(executionArn);
    const history = await fullHistory(h.sfn, executionArn);

    // Assess
    expect(message.job).toBe('resize');
    expect(waiting).toBe('RUNNING');
    expect(done).toMatchObject({ status: 'SUCCEEDED', output: '{"resized":"resize"}' });
    const submitted = history.find((e) => e.type === 'TaskSubmitted')!;
    expect(submitted.taskSubmittedEventDetails).toMatchObject({ resource: 'sendMessage.waitForTaskToken', resourceType: 'sqs' });
    expect(Object.keys(JSON.parse(submitted.taskSubmittedEventDetails!.output!)).sort()).toEqual([
      'MD5OfMessageBody',
      'MessageId',
      'SdkHttpMetadata',
      'SdkResponseMetadata',
    ]);
  });
});

const cli = findAwsCliV2();
const cliEnabled = toolAvailable('AWS CLI v2', cli !== undefined, '`apt-get install awscli` (Debian 12+), or set OPSFLOW_AWS_CLI to an AWS CLI v2 executable');

describe.skipIf(!cliEnabled)('SQS through the AWS CLI v2 (the query protocol)', () => {
  const aws = async (...args: string[]) => {
    const { stdout } = await run(cli!, ['--endpoint-url', h.endpoint, '--output', 'json', 'sqs', ...args], {
      env: awsCliEnv(dir, credentials),
    });
    return stdout.trim() ? JSON.parse(stdout) : {};
  };

  it('creates a queue, sends, receives with attributes, deletes and lists', async () => {
    // Act
    const { QueueUrl } = await aws('create-queue', '--queue-name', 'cli-queue', '--attributes', 'VisibilityTimeout=45');
    const sent = await aws('send-message', '--queue-url', QueueUrl, '--message-body', 'line one\r\nline <two> & "three"');
    const received = await aws('receive-message', '--queue-url', QueueUrl, '--attribute-names', 'All', '--max-number-of-messages', '10');
    await aws('delete-message', '--queue-url', QueueUrl, '--receipt-handle', received.Messages[0].ReceiptHandle);
    const attributes = await aws('get-queue-attributes', '--queue-url', QueueUrl, '--attribute-names', 'All');
    const listed = await aws('list-queues', '--queue-name-prefix', 'cli-');
    const missing = await aws('get-queue-url', '--queue-name', 'no-such-queue').catch((e: { stderr: string }) => e.stderr);

    // Assess
    expect(QueueUrl).toBe(`${h.endpoint}/000000000000/cli-queue`);
    expect(sent.MD5OfMessageBody).toBe(md5('line one\r\nline <two> & "three"'));
    expect(received.Messages).toHaveLength(1);
    expect(received.Messages[0]).toMatchObject({
      MessageId: sent.MessageId,
      Body: 'line one\r\nline <two> & "three"',
      Attributes: { ApproximateReceiveCount: '1' },
    });
    expect(attributes.Attributes).toMatchObject({ VisibilityTimeout: '45', ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' });
    expect(listed.QueueUrls).toEqual([QueueUrl]);
    expect(missing).toMatch(/AWS\.SimpleQueueService\.NonExistentQueue.*The specified queue does not exist/);
    // Eight AWS CLI processes, each a Python start of seconds on a loaded 2-core machine: more than the default minute.
  }, 240_000);
});

/** A Node.js zip package: `index.js` with the given source. */
const zipOf = (source: string) => zipSync({ 'index.js': strToU8(source) });
const FN_ROLE = 'arn:aws:iam::000000000000:role/queues-fn-role';
const STATES_ONLY_ROLE = 'arn:aws:iam::000000000000:role/queues-states-only';

/**
 * The function sends to two queues with its role's credentials: `jobs`, which the role allows, and `other`,
 * which it does not; it answers what each send gave, and echoes its event and environment.
 */
const SENDER = `
const { SQSClient, SendMessageCommand } = require('@aws-sdk/client-sqs');
const sqs = new SQSClient({});
const send = (url) => sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'from lambda' })).then(() => 'sent', (e) => e.name);
exports.handler = async (event) => {
  if (event.fail) throw new Error('asked to fail');
  return { event, greeting: process.env.GREETING, jobs: await send(event.jobs), other: await send(event.other) };
};`;

describe('Lambda functions created at run time (CreateFunction, Invoke)', () => {
  const lambdaAs = (creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) =>
    new LambdaClient({ endpoint: h.endpoint, region: 'us-east-1', credentials: creds, maxAttempts: 1 });
  const roleSession = (role: string) => h.rt.gate.iam!.model.credentialsFor(`arn:aws:iam::000000000000:role/${role}`, 'caller');
  const create = (client: LambdaClient, name: string, role = FN_ROLE) =>
    client.send(
      new CreateFunctionCommand({
        FunctionName: name,
        Runtime: 'nodejs22.x',
        Handler: 'index.handler',
        Role: role,
        Code: { ZipFile: zipOf(SENDER) },
        Environment: { Variables: { GREETING: 'hello' } },
        Timeout: 30,
      }),
    );
  const active = (client: LambdaClient, name: string) =>
    h.until(`${name} to be Active`, async () =>
      (await client.send(new GetFunctionCommand({ FunctionName: name }))).Configuration?.State === 'Active' ? true : undefined,
    );
  const payloadOf = (out: { Payload?: Uint8Array }) => JSON.parse(Buffer.from(out.Payload!).toString('utf8'));

  it('creates a Node.js function from a zip and invokes it with its role, environment and errors', async () => {
    // Prepare
    const lambda = lambdaAs(credentials);
    const jobs = await queue('jobs');
    const other = await queue('other');

    // Act
    const created = await create(lambda, 'echo');
    await active(lambda, 'echo');
    const ok = await lambda.send(new InvokeCommand({ FunctionName: 'echo', Payload: strToU8(JSON.stringify({ jobs, other })) }));
    const failed = await lambda.send(new InvokeCommand({ FunctionName: created.FunctionArn, Payload: strToU8('{"fail":true}') }));
    const queued = await lambda.send(new InvokeCommand({ FunctionName: 'echo', InvocationType: 'Event', Payload: strToU8('{"fail":true}') }));
    const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: jobs, MaxNumberOfMessages: 10 }));
    for (const m of received.Messages ?? []) await sqs.send(new DeleteMessageCommand({ QueueUrl: jobs, ReceiptHandle: m.ReceiptHandle! }));

    // Assess
    expect(created).toMatchObject({ FunctionName: 'echo', Runtime: 'nodejs22.x', Role: FN_ROLE, State: 'Pending', Timeout: 30 });
    expect(ok.StatusCode).toBe(200);
    expect(ok.FunctionError).toBeUndefined();
    // The function runs with its role: allowed to send to jobs, refused on other.
    expect(payloadOf(ok)).toEqual({ event: { jobs, other }, greeting: 'hello', jobs: 'sent', other: 'AccessDenied' });
    expect(received.Messages?.map((m) => m.Body)).toEqual(['from lambda']);
    expect(failed.FunctionError).toBe('Unhandled');
    expect(payloadOf(failed)).toMatchObject({ errorType: 'Error', errorMessage: 'asked to fail' });
    expect(queued.StatusCode).toBe(202);
    lambda.destroy();
  });

  it('refuses a role Lambda may not assume, a taken name and an unsupported runtime', async () => {
    // Prepare
    const lambda = lambdaAs(credentials);

    // Act
    const wrongRole = await create(lambda, 'states-role', STATES_ONLY_ROLE).catch((e: Error) => e);
    const taken = await create(lambda, 'echo').catch((e: Error) => e);
    const python = await lambda
      .send(new CreateFunctionCommand({ FunctionName: 'py', Runtime: 'python3.13', Handler: 'index.handler', Role: FN_ROLE, Code: { ZipFile: zipOf('') } }))
      .catch((e: Error) => e);

    // Assess
    expect(wrongRole).toMatchObject({
      name: 'InvalidParameterValueException',
      message: expect.stringMatching(/^The role defined for the function cannot be assumed by Lambda\./),
    });
    expect(taken).toMatchObject({ name: 'ResourceConflictException', message: 'Function already exist: echo' });
    expect(python).toMatchObject({ name: 'InvalidParameterValueException' });
    lambda.destroy();
  });

  it("authorizes the caller's identity: lambda:CreateFunction, iam:PassRole on the role, lambda:InvokeFunction", async () => {
    // Prepare
    const deployer = lambdaAs(roleSession('queues-deployer'));
    const reader = lambdaAs(roleSession('queues-reader'));

    // Act
    const made = await create(deployer, 'made-by-deployer');
    const passOther = await create(deployer, 'made-with-other-role', STATES_ONLY_ROLE).catch((e: Error) => e);
    const outsideName = await create(deployer, 'not-made').catch((e: Error) => e);
    const readerCreate = await create(reader, 'made-by-reader').catch((e: Error) => e);
    await active(deployer, 'made-by-deployer');
    const invoked = await deployer.send(new InvokeCommand({ FunctionName: 'made-by-deployer', InvocationType: 'DryRun' }));
    const readerInvoke = await reader.send(new InvokeCommand({ FunctionName: 'made-by-deployer', Payload: strToU8('{}') })).catch((e: Error) => e);

    // Assess
    expect(made.FunctionArn).toBe('arn:aws:lambda:us-east-1:000000000000:function:made-by-deployer');
    expect(passOther).toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringMatching(/not authorized to perform: iam:PassRole on resource: arn:aws:iam::000000000000:role\/queues-states-only/),
    });
    expect(outsideName).toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringMatching(/lambda:CreateFunction on resource: arn:aws:lambda:us-east-1:000000000000:function:not-made/),
    });
    expect(readerCreate).toMatchObject({ name: 'AccessDeniedException' });
    expect(invoked.StatusCode).toBe(204);
    expect(readerInvoke).toMatchObject({ name: 'AccessDeniedException', message: expect.stringMatching(/lambda:InvokeFunction/) });
    deployer.destroy();
    reader.destroy();
  });

  it('deletes a created function; a template function cannot be deleted through the API', async () => {
    // Prepare
    const lambda = lambdaAs(credentials);
    await create(lambda, 'short-lived');

    // Act
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'short-lived' }));
    const invoke = await lambda.send(new InvokeCommand({ FunctionName: 'short-lived' })).catch((e: Error) => e);
    const again = await lambda.send(new DeleteFunctionCommand({ FunctionName: 'short-lived' })).catch((e: Error) => e);

    // Assess
    expect(invoke).toMatchObject({
      name: 'ResourceNotFoundException',
      message: 'Function not found: arn:aws:lambda:us-east-1:000000000000:function:short-lived',
    });
    expect(again).toMatchObject({ name: 'ResourceNotFoundException' });
    lambda.destroy();
  });
});

describe('IAM on what a role session creates at run time', () => {
  it("allows the tables, topics and queues its policy names, and refuses others in each service's words", async () => {
    // Prepare
    const creds = h.rt.gate.iam!.model.credentialsFor('arn:aws:iam::000000000000:role/queues-deployer', 'caller');
    const client = { endpoint: h.endpoint, region: 'us-east-1', credentials: creds, maxAttempts: 1 };
    const ddb = new DynamoDBClient(client);
    const sns = new SNSClient(client);
    const queues = new SQSClient(client);
    const table = (name: string) =>
      ddb.send(
        new CreateTableCommand({
          TableName: name,
          KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );

    // Act
    const madeTable = await table('made-table');
    const otherTable = await table('other-table').catch((e: Error) => e);
    const madeTopic = await sns.send(new CreateTopicCommand({ Name: 'made-topic.fifo', Attributes: { FifoTopic: 'true' } }));
    const otherTopic = await sns.send(new CreateTopicCommand({ Name: 'other-topic' })).catch((e: Error) => e);
    const madeQueue = await queues.send(new CreateQueueCommand({ QueueName: 'made-queue' }));
    const otherQueue = await queues.send(new CreateQueueCommand({ QueueName: 'other-queue' })).catch((e: Error) => e);

    // Assess
    expect(madeTable.TableDescription?.TableStatus).toBe('CREATING');
    expect(otherTable).toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringMatching(/dynamodb:CreateTable on resource: arn:aws:dynamodb:us-east-1:000000000000:table\/other-table/),
    });
    expect(madeTopic.TopicArn).toBe('arn:aws:sns:us-east-1:000000000000:made-topic.fifo');
    expect(otherTopic).toMatchObject({
      name: 'AuthorizationErrorException',
      message: expect.stringMatching(/SNS:CreateTopic on resource: arn:aws:sns:us-east-1:000000000000:other-topic/),
    });
    expect(madeQueue.QueueUrl).toBe(`${h.endpoint}/000000000000/made-queue`);
    expect(otherQueue).toMatchObject({
      name: 'AccessDenied',
      message: expect.stringMatching(/sqs:createqueue on resource: arn:aws:sqs:us-east-1:000000000000:other-queue/),
    });
    ddb.destroy();
    sns.destroy();
    queues.destroy();
  });
});
