/**
 * Service integrations through the real runtime (Runtime.start over a small synthesized app) and the real SFN
 * client: which `aws-sdk:<service>:<action>` resources reach the runtime's services, how their errors are named,
 * and what the optimized integrations return. The expected names and causes are those of executions recorded against
 * AWS (localstack/localstack tests/aws/services/stepfunctions/v2/error_handling/test_aws_sdk.snapshot.json,
 * test_task_service_dynamodb.snapshot.json; services/test_sns_task_service.snapshot.json) and of
 * https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  SFNClient,
  StartExecutionCommand,
  type DescribeExecutionCommandOutput,
} from '@aws-sdk/client-sfn';
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as sns from 'aws-cdk-lib/aws-sns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isOfferedIntegration, sdkTarget } from '../../local/engine/sdk';
import { ACCOUNT } from '../../local/kernel';
import { Runtime } from '../../local/runtime';
import { poll } from '../e2e/harness';
import { synthApp } from '../rules/apps/synth';

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const TABLE = 'sdk-items';
const TOPIC_ARN = `arn:aws:sns:us-east-1:${ACCOUNT}:sdk-topic`;

let rt: Runtime;
let sfn: SFNClient;
let stateDir: string;
let count = 0;

beforeAll(async () => {
  const cdkOut = synthApp({
    EngineSdk: (stack) => {
      new dynamodb.Table(stack, 'Items', {
        tableName: TABLE,
        partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
        removalPolicy: RemovalPolicy.DESTROY,
      });
      new sns.Topic(stack, 'Topic', { topicName: 'sdk-topic' });
    },
  });
  stateDir = mkdtempSync(join(tmpdir(), 'opsflow-engine-sdk-'));
  rt = await Runtime.start({ cdkOut, port: 0, stateDir, seedFleet: false, credentials: [credentials] });
  sfn = new SFNClient({ endpoint: rt.endpoint, region: 'us-east-1', credentials });
}, 60_000);

afterAll(async () => {
  sfn?.destroy();
  await rt?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

/** Creates a machine of these states through CreateStateMachine, runs it with `input` and waits for the end. */
async function run(states: Record<string, unknown>, input: unknown = {}): Promise<DescribeExecutionCommandOutput> {
  const name = `sdk-${++count}`;
  const definition = JSON.stringify({ StartAt: Object.keys(states)[0], States: states });
  const { stateMachineArn } = await sfn.send(new CreateStateMachineCommand({ name, definition, roleArn: `arn:aws:iam::${ACCOUNT}:role/sdk` }));
  const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(input) }));
  return poll(`execution ${name}`, 20_000, async () => {
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    return d.status === 'RUNNING' ? undefined : d;
  });
}

const task = (resource: string, parameters: unknown, extra: Record<string, unknown> = { End: true }) => ({
  Type: 'Task',
  Resource: `arn:aws:states:::${resource}`,
  Parameters: parameters,
  ...extra,
});

describe('aws-sdk integrations reach every service the runtime serves, as the SDK models them', () => {
  it('S3 (served, refused before): createBucket, putObject, getObject', async () => {
    const d = await run({
      Create: task('aws-sdk:s3:createBucket', { Bucket: 'sdk-bucket' }, { ResultPath: null, Next: 'Put' }),
      Put: task('aws-sdk:s3:putObject', { Bucket: 'sdk-bucket', Key: 'a.txt', Body: 'hello' }, { ResultPath: null, Next: 'Get' }),
      Get: task('aws-sdk:s3:getObject', { Bucket: 'sdk-bucket', Key: 'a.txt' }, { ResultSelector: { 'Body.$': '$.Body' }, End: true }),
    });
    expect(d.status).toBe('SUCCEEDED');
    expect(JSON.parse(d.output!)).toEqual({ Body: 'hello' });
  });

  it('names a modelled error <Service>.<Error>Exception with the SDK v2 cause (S3.NoSuchBucketException)', async () => {
    const d = await run({ List: task('aws-sdk:s3:listObjectsV2', { Bucket: 'no-such-bucket' }) });
    expect(d).toMatchObject({ status: 'FAILED', error: 'S3.NoSuchBucketException' });
    expect(d.cause).toMatch(/^The specified bucket does not exist \(Service: S3, Status Code: 404, Request ID: [^,)]+(, Extended Request ID: [^)]+)?\)$/);
  });

  it("names an error the service does not model with the service's generic exception (DynamoDb.DynamoDbException)", async () => {
    const d = await run({ Put: task('aws-sdk:dynamodb:putItem', { TableName: TABLE, Item: null }) });
    expect(d).toMatchObject({ status: 'FAILED', error: 'DynamoDb.DynamoDbException' });
    expect(d.cause).toMatch(/ \(Service: DynamoDb, Status Code: 400, Request ID: [^)]+\)$/);
    expect(d.cause).not.toContain('Error Code');
  });

  it('keeps the modelled name of a DynamoDB error (DynamoDb.ResourceNotFoundException)', async () => {
    const d = await run({ Put: task('aws-sdk:dynamodb:putItem', { TableName: 'no-such-table', Item: { id: { S: '1' } } }) });
    expect(d).toMatchObject({ status: 'FAILED', error: 'DynamoDb.ResourceNotFoundException' });
    expect(d.cause).toMatch(/ \(Service: DynamoDb, Status Code: 400, Request ID: [^)]+\)$/);
  });

  it('Sfn.InvalidTokenException for a task token that names no task (aws-sdk:sfn:sendTaskSuccess)', async () => {
    const d = await run({ Send: task('aws-sdk:sfn:sendTaskSuccess', { TaskToken: 'not-a-token', Output: '{}' }) });
    expect(d).toMatchObject({ status: 'FAILED', error: 'Sfn.InvalidTokenException' });
  });

  it('takes PascalCase parameters and returns PascalCase fields for a camelCase API (sfn:listStateMachines)', async () => {
    const d = await run({ List: task('aws-sdk:sfn:listStateMachines', { MaxResults: 1000 }) });
    expect(d.status).toBe('SUCCEEDED');
    const out = JSON.parse(d.output!);
    expect(out.StateMachines.length).toBeGreaterThan(0);
    expect(Object.keys(out.StateMachines[0]).sort()).toEqual(['CreationDate', 'Name', 'StateMachineArn', 'Type']);
  });

  it('an action the SDK models but the local service does not implement fails as the service answers, at run time', async () => {
    const d = await run({ Acl: task('aws-sdk:s3:getBucketAcl', { Bucket: 'sdk-bucket' }) });
    expect(d.status).toBe('FAILED');
    expect(d.error).toMatch(/^S3\.\w+Exception$/);
    expect(d.cause).toMatch(/\(Service: S3, Status Code: \d+, Request ID: /);
  });

  it('a modelled service the runtime does not serve has no call target, so the task fails with States.Runtime', () => {
    // Every installed client's service is served by this runtime, so the rule is checked on the function itself.
    expect(sdkTarget('aws-sdk:sqs:listQueues', ['ec2', 'sns'])).toBeUndefined();
    expect(sdkTarget('aws-sdk:sqs:listQueues', ['sqs'])).toMatchObject({ service: 'sqs', action: 'listQueues' });
  });

  it('finds the SDK client of a service whose package name spells its words apart (autoscaling: client-auto-scaling)', () => {
    expect(sdkTarget('aws-sdk:autoscaling:updateAutoScalingGroup', ['autoscaling'])).toMatchObject({
      service: 'autoscaling',
      action: 'updateAutoScalingGroup',
    });
    expect(sdkTarget('aws-sdk:secretsmanager:getSecretValue', ['secretsmanager'])).toMatchObject({ service: 'secretsmanager', action: 'getSecretValue' });
    expect(sdkTarget('aws-sdk:ecs:updateService', ['ecs'])).toMatchObject({ service: 'ecs', action: 'updateService' });
    expect(isOfferedIntegration('arn:aws:states:::aws-sdk:autoscaling:noSuchAction')).toBe(false);
  });
});

describe('optimized integrations answer as AWS records them', () => {
  it('sns:publish returns MessageId with SdkHttpMetadata and SdkResponseMetadata', async () => {
    const d = await run({ Publish: task('sns:publish', { TopicArn: TOPIC_ARN, Message: { hello: 'world' } }) });
    expect(d.status).toBe('SUCCEEDED');
    const out = JSON.parse(d.output!);
    expect(Object.keys(out)).toEqual(['MessageId', 'SdkHttpMetadata', 'SdkResponseMetadata']);
    const requestId = out.SdkResponseMetadata.RequestId;
    expect(requestId).toEqual(expect.any(String));
    expect(out.SdkHttpMetadata).toMatchObject({
      HttpStatusCode: 200,
      HttpHeaders: { 'Content-Type': expect.stringContaining('xml'), 'x-amzn-RequestId': requestId },
      AllHttpHeaders: { 'Content-Type': [expect.stringContaining('xml')], 'x-amzn-RequestId': [requestId] },
    });
  });

  it('dynamodb:putItem and getItem carry the SDK metadata too', async () => {
    const d = await run({
      Put: task('dynamodb:putItem', { TableName: TABLE, Item: { id: { S: 'k' }, v: { S: 'x' } } }, { ResultPath: '$.put', Next: 'Get' }),
      Get: task('dynamodb:getItem', { TableName: TABLE, Key: { id: { S: 'k' } } }, { ResultPath: '$.get', End: true }),
    });
    const out = JSON.parse(d.output!);
    expect(Object.keys(out.put)).toEqual(['SdkHttpMetadata', 'SdkResponseMetadata']);
    expect(out.get).toMatchObject({ Item: { id: { S: 'k' }, v: { S: 'x' } }, SdkHttpMetadata: { HttpStatusCode: 200 } });
  });

  it('events:putEvents returns Entries and FailedEntryCount only (no SDK metadata, as recorded)', async () => {
    const d = await run({ Put: task('events:putEvents', { Entries: [{ Source: 'sdk.test', DetailType: 't', Detail: { a: 1 } }] }) });
    expect(d.status).toBe('SUCCEEDED');
    const out = JSON.parse(d.output!);
    expect(Object.keys(out).sort()).toEqual(['Entries', 'FailedEntryCount']);
    expect(out).toMatchObject({ FailedEntryCount: 0, Entries: [{ EventId: expect.any(String) }] });
  });

  it('DynamoDB.AmazonDynamoDBException for an unmodelled DynamoDB error, with the older SDK cause', async () => {
    const d = await run({ Put: task('dynamodb:putItem', { TableName: TABLE, Item: null }) });
    expect(d).toMatchObject({ status: 'FAILED', error: 'DynamoDB.AmazonDynamoDBException' });
    expect(d.cause).toMatch(/ \(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ValidationException; Request ID: [^;]+; Proxy: null\)$/);
  });

  it('DynamoDB.ResourceNotFoundException for a missing table', async () => {
    const d = await run({ Put: task('dynamodb:putItem', { TableName: 'no-such-table', Item: { id: { S: '1' } } }) });
    expect(d).toMatchObject({ status: 'FAILED', error: 'DynamoDB.ResourceNotFoundException' });
    expect(d.cause).toMatch(/\(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ResourceNotFoundException; Request ID: [^;]+; Proxy: null\)$/);
  });
});

describe('isOfferedIntegration: the integrations AWS offers, for create-time checks', () => {
  it.each([
    ['arn:aws:states:::aws-sdk:s3:listBuckets', true],
    ['arn:aws:states:::aws-sdk:sfn:startSyncExecution', true],
    ['arn:aws:states:::aws-sdk:eventbridge:putEvents.waitForTaskToken', true],
    ['arn:aws:states:::dynamodb:putItem', true],
    ['arn:aws:states:::sns:publish.waitForTaskToken', true],
    ['arn:aws:states:::sqs:sendMessage.waitForTaskToken', true],
    ['arn:aws:states:::states:startExecution.sync:2', true],
    ['arn:aws:states:::lambda:invoke.waitForTaskToken', true],
    // "Only GetItem, PutItem, UpdateItem, and DeleteItem API actions are available through optimized integration."
    ['arn:aws:states:::dynamodb:query', false],
    ['arn:aws:states:::dynamodb:getItem.waitForTaskToken', false],
    ['arn:aws:states:::sns:publish.sync', false],
    ['arn:aws:states:::aws-sdk:s3:listBuckets.sync', false],
    ['arn:aws:states:::aws-sdk:s3:noSuchAction', false],
    ['arn:aws:states:::aws-sdk:s3:ListBuckets', false],
    ['arn:aws:states:::aws-sdk:S3:listBuckets', false],
    // AWS's optimized list covers services the runtime does not serve (connect-ecs.html: RunTask, .sync).
    ['arn:aws:states:::ecs:runTask.sync', true],
    ['arn:aws:states:::ecs:describeTasks', false],
    // What the runtime cannot judge is not refused.
    ['arn:aws:states:::aws-sdk:athena:startQueryExecution', undefined],
    ['arn:aws:lambda:us-east-1:000000000000:function:f', undefined],
  ])('%s → %s', (resource, offered) => {
    expect(isOfferedIntegration(resource)).toBe(offered);
  });
});
