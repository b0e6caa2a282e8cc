/**
 * AWS's quotas and API rates, each shown with AWS's error on a small CDK app deployed as `opsflow up --cdk-out`
 * does (Runtime.start over the synthesized assembly, synthesized once for the file).
 */
import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { BatchWriteItemCommand, DynamoDBClient, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { DescribeExecutionCommand, GetExecutionHistoryCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { Duration, type Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rules } from '../../local/rules/settings';
import { Runtime } from '../../local/runtime';
import { credentials } from '../e2e/harness';
import { echoFunction, synthApp } from './apps/synth';

const ACCOUNT = '000000000000';

function app(stack: Stack) {
  new dynamodb.Table(stack, 'Table', { tableName: 'quota-table', partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } });
  new sns.Topic(stack, 'Topic', { topicName: 'quota-topic' });
  echoFunction(stack, 'Echo', { functionName: 'quota-echo', timeout: Duration.seconds(10) });
  // Each branch passes the input on: the Parallel's output is twice the input.
  const twice = new sfn.Parallel(stack, 'Twice').branch(new sfn.Pass(stack, 'A')).branch(new sfn.Pass(stack, 'B'));
  new sfn.StateMachine(stack, 'Doubler', {
    stateMachineName: 'quota-doubler',
    definitionBody: sfn.DefinitionBody.fromChainable(twice),
    timeout: Duration.minutes(5),
  });
  // Counts to $.n: 4 events a round (Pass and Choice, entered and exited) after ExecutionStarted, then the Succeed
  // state's two and ExecutionSucceeded: 4n + 4 events in all.
  const count = new sfn.Pass(stack, 'Count', { parameters: { 'n.$': '$.n', 'i.$': 'States.MathAdd($.i, 1)' } });
  const loop = count.next(
    new sfn.Choice(stack, 'Check').when(sfn.Condition.numberEqualsJsonPath('$.i', '$.n'), new sfn.Succeed(stack, 'Done')).otherwise(count),
  );
  new sfn.StateMachine(stack, 'Counter', {
    stateMachineName: 'quota-counter',
    definitionBody: sfn.DefinitionBody.fromChainable(loop),
    timeout: Duration.minutes(5),
  });
}

const expectError = async (p: Promise<unknown>, name: string, message?: RegExp) => {
  const err = (await p.then(
    () => undefined,
    (e: Error) => e,
  )) as Error & { $metadata?: { httpStatusCode?: number } };
  expect(err, `expected ${name}`).toBeDefined();
  expect(err.name).toBe(name);
  if (message) expect(err.message).toMatch(message);
  return err;
};

describe('quotas and API rates', () => {
  let cdkOut: string;
  let rt: Runtime;
  const client = () => ({ endpoint: rt.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
  // The account's SES has the senders' domain verified (it is in the sandbox, the runtime's default).
  const start = async (rules: Partial<Rules> = {}) => {
    const started = await Runtime.start({
      cdkOut,
      port: 0,
      stateDir: mkdtempSync(join(tmpdir(), 'opsflow-quota-')),
      seedFleet: false,
      rules,
      credentials: [credentials],
    });
    started.ses.verify('example.com');
    return started;
  };

  beforeAll(async () => {
    cdkOut = synthApp({ Quotas: app });
    rt = await start({ lambdaConcurrency: 1 });
  });
  afterAll(() => rt?.stop());

  describe('quotas', () => {
    it('StartExecution input over 262,144 bytes is refused by the API (ValidationException)', async () => {
      const sfnClient = new SFNClient(client());
      const input = JSON.stringify({ pad: 'x'.repeat(262_144) });
      await expectError(
        sfnClient.send(new StartExecutionCommand({ stateMachineArn: `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:quota-doubler`, input })),
        'ValidationException',
        /Member must have length less than or equal to 262144/,
      );
    });

    it('a state output over 256 KiB fails the execution with States.DataLimitExceeded', async () => {
      const sfnClient = new SFNClient(client());
      const { executionArn } = await sfnClient.send(
        new StartExecutionCommand({
          stateMachineArn: `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:quota-doubler`,
          input: JSON.stringify({ pad: 'x'.repeat(150_000) }),
        }),
      );
      let d = await sfnClient.send(new DescribeExecutionCommand({ executionArn }));
      while (d.status === 'RUNNING') {
        await new Promise((r) => setTimeout(r, 20));
        d = await sfnClient.send(new DescribeExecutionCommand({ executionArn }));
      }
      expect(d).toMatchObject({ status: 'FAILED', error: 'States.DataLimitExceeded' });
      expect(d.cause).toMatch(/The state\/task 'Twice' returned a result with a size exceeding the maximum number of bytes service limit/);
    });

    it('history: event 25,000 may be ExecutionSucceeded; any other event 25,000 fails the execution', async () => {
      const sfnClient = new SFNClient(client());
      const run = async (n: number) => {
        const { executionArn } = await sfnClient.send(
          new StartExecutionCommand({ stateMachineArn: `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:quota-counter`, input: JSON.stringify({ n, i: 0 }) }),
        );
        let d = await sfnClient.send(new DescribeExecutionCommand({ executionArn }));
        while (d.status === 'RUNNING') {
          await new Promise((r) => setTimeout(r, 20));
          d = await sfnClient.send(new DescribeExecutionCommand({ executionArn }));
        }
        const last = (await sfnClient.send(new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 1 }))).events![0];
        return { d, last };
      };
      // 4 * 6,249 + 4 = 25,000 events: the last is ExecutionSucceeded.
      const fits = await run(6_249);
      expect(fits.d.status).toBe('SUCCEEDED');
      expect(fits.last).toMatchObject({ id: 25_000, type: 'ExecutionSucceeded' });
      // One round more: event 25,000 would be a PassStateEntered, so ExecutionFailed is event 25,000.
      const over = await run(6_250);
      expect(over.d).toMatchObject({ status: 'FAILED', error: 'States.Runtime' });
      expect(over.last).toMatchObject({ id: 25_000, type: 'ExecutionFailed' });
    });

    it('SNS messages over 256 KB (InvalidParameter)', async () => {
      await expectError(
        new SNSClient(client()).send(new PublishCommand({ TopicArn: `arn:aws:sns:us-east-1:${ACCOUNT}:quota-topic`, Message: 'x'.repeat(262_145) })),
        'InvalidParameterException',
        /Message too long/,
      );
    });

    it('SES v2: more than 50 recipients (MessageRejected)', async () => {
      const to = Array.from({ length: 51 }, (_, i) => `r${i}@example.com`);
      await expectError(
        new SESv2Client(client()).send(
          new SendEmailCommand({
            FromEmailAddress: 'ops@example.com',
            Destination: { ToAddresses: to },
            Content: { Simple: { Subject: { Data: 's' }, Body: { Text: { Data: 'b' } } } },
          }),
        ),
        'MessageRejected',
        /Recipient count exceeds 50/,
      );
    });

    it('DynamoDB: items over 400 KB and BatchWriteItem over 25 requests (ValidationException)', async () => {
      const ddb = new DynamoDBClient(client());
      await expectError(
        ddb.send(new PutItemCommand({ TableName: 'quota-table', Item: { pk: { S: 'big' }, data: { S: 'x'.repeat(410 * 1024) } } })),
        'ValidationException',
        /Item size has exceeded the maximum allowed size/,
      );
      const writes = Array.from({ length: 26 }, (_, i) => ({ PutRequest: { Item: { pk: { S: `k${i}` } } } }));
      await expectError(
        ddb.send(new BatchWriteItemCommand({ RequestItems: { 'quota-table': writes } })),
        'ValidationException',
        /Member must have length less than or equal to 25/,
      );
      // Any item of the batch, not only the first.
      const second: Array<{ PutRequest: { Item: Record<string, { S: string }> } }> = [
        { PutRequest: { Item: { pk: { S: 'small' } } } },
        { PutRequest: { Item: { pk: { S: 'big' }, data: { S: 'x'.repeat(410 * 1024) } } } },
      ];
      await expectError(
        ddb.send(new BatchWriteItemCommand({ RequestItems: { 'quota-table': second } })),
        'ValidationException',
        /Item size has exceeded the maximum allowed size/,
      );
    });

    it('DynamoDB: item size as DynamoDB counts it, list and map overhead included (CapacityUnitCalculations.html)', async () => {
      const ddb = new DynamoDBClient(client());
      // 400 entries {r: <1,020 bytes>}: 1 + 3 + 1 + 1 + 1,020 = 1,026 bytes each as list elements, 410,400 + 3 for the list:
      // over 409,600 although the strings alone (408,000 bytes) are not.
      const entries = { L: Array.from({ length: 400 }, () => ({ M: { r: { S: 'x'.repeat(1020) } } })) };
      await expectError(
        ddb.send(new PutItemCommand({ TableName: 'quota-table', Item: { pk: { S: 'page' }, entries } })),
        'ValidationException',
        /Item size has exceeded the maximum allowed size/,
      );
      await ddb.send(new PutItemCommand({ TableName: 'quota-table', Item: { pk: { S: 'page' }, entries: { L: entries.L.slice(0, 390) } } }));
    });

    it('DynamoDB: a Scan reads at most 1 MB per page and answers LastEvaluatedKey', async () => {
      const ddb = new DynamoDBClient(client());
      // Five items of 300 KB: 1.5 MB.
      for (let i = 0; i < 5; i++)
        await ddb.send(new PutItemCommand({ TableName: 'quota-table', Item: { pk: { S: `page-${i}` }, data: { S: 'x'.repeat(300 * 1024) } } }));
      const page = await ddb.send(
        new ScanCommand({ TableName: 'quota-table', FilterExpression: 'begins_with(pk, :p)', ExpressionAttributeValues: { ':p': { S: 'page-' } } }),
      );
      expect(page.ScannedCount).toBeLessThan(5);
      expect(page.LastEvaluatedKey).toBeDefined();
    });

    it('EventBridge: entries over 256 KB (ValidationException)', async () => {
      await expectError(
        new EventBridgeClient(client()).send(
          new PutEventsCommand({ Entries: [{ Source: 'quota.test', DetailType: 'big', Detail: JSON.stringify({ pad: 'x'.repeat(262_144) }) }] }),
        ),
        'ValidationException',
        /^Total size of the entries in the request is over the limit\.$/,
      );
    });

    it('Lambda: a synchronous request over 6 MB (RequestTooLargeException)', async () => {
      await expect(rt.lambdas.invoke('quota-echo', { pad: 'x'.repeat(6 * 1024 * 1024) })).rejects.toMatchObject({
        name: 'RequestTooLargeException',
        status: 413,
      });
    });
  });

  describe('rates', () => {
    it('CloudTrail LookupEvents: 2 per second (ThrottlingException)', async () => {
      const ct = new CloudTrailClient(client());
      const results = await Promise.allSettled([1, 2, 3, 4].map(() => ct.send(new LookupEventsCommand({}))));
      expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.name)).toContain('ThrottlingException');
    });

    it('EC2: unfiltered DescribeInstances has a bucket of 50 (RequestLimitExceeded)', async () => {
      const ec2 = new EC2Client(client());
      // 150 calls: the bucket (50, +10/s) lets them all through only if they take over 10 s, however loaded the machine.
      const results = await Promise.allSettled(Array.from({ length: 150 }, () => ec2.send(new DescribeInstancesCommand({}))));
      const throttled = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.name);
      expect(throttled.length).toBeGreaterThanOrEqual(1);
      expect(new Set(throttled)).toEqual(new Set(['RequestLimitExceeded']));
    });

    it('SES: the sandbox sends 1 email per second (TooManyRequestsException)', async () => {
      const ses = new SESv2Client(client());
      const send = () =>
        ses.send(
          new SendEmailCommand({
            FromEmailAddress: 'ops@example.com',
            Destination: { ToAddresses: ['a@example.com'] },
            Content: { Simple: { Subject: { Data: 's' }, Body: { Text: { Data: 'b' } } } },
          }),
        );
      const results = await Promise.allSettled([send(), send(), send()]);
      expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.name)).toContain('TooManyRequestsException');
    });

    it('Lambda concurrency (OPSFLOW_LAMBDA_CONCURRENCY=1 here): a second concurrent invocation gets TooManyRequestsException', async () => {
      const results = await Promise.allSettled([rt.lambdas.invoke('quota-echo', { a: 1 }), rt.lambdas.invoke('quota-echo', { a: 2 })]);
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toMatchObject({ name: 'TooManyRequestsException', status: 429 });
    });
  });

  it('OPSFLOW_QUOTAS=off and OPSFLOW_RATES=off relax them', async () => {
    const relaxed = await start({ quotas: false, rates: false });
    try {
      const c = { endpoint: relaxed.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 };
      const to = Array.from({ length: 51 }, (_, i) => `r${i}@example.com`);
      await new SESv2Client(c).send(
        new SendEmailCommand({
          FromEmailAddress: 'ops@example.com',
          Destination: { ToAddresses: to },
          Content: { Simple: { Subject: { Data: 's' }, Body: { Text: { Data: 'b' } } } },
        }),
      );
      const ct = new CloudTrailClient(c);
      await Promise.all([1, 2, 3, 4].map(() => ct.send(new LookupEventsCommand({}))));
    } finally {
      await relaxed.stop();
    }
  });
});
