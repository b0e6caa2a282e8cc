/**
 * Requests of the wrong shape are refused at the protocol layer, against the services' AWS models (local/validate),
 * with each protocol's AWS error, never a 500 and never stored. Typed garbage goes through the real SDK clients:
 * a build-step middleware swaps the serialized body for the garbage before the request is signed.
 */
import { LookupEventsCommand, CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeInstancesCommand, StartInstancesCommand } from '@aws-sdk/client-ec2';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketAnalyticsConfigurationCommand,
  DeleteObjectCommand,
  GetBucketPolicyCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  RenameObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { ListStateMachinesCommand, ListExecutionsCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, startRuntime, type Harness } from '../e2e/harness';

interface Refusal {
  name: string;
  message: string;
  status?: number;
}

type Middlewared = { middlewareStack: { add: (mw: unknown, opts: object) => void } };

/** The command, sent with `body` as its serialized request body (signed as usual). */
function withBody<C>(command: C, body: string): C {
  (command as Middlewared).middlewareStack.add(
    (next: (args: { request: { body: unknown; headers: Record<string, string> } }) => Promise<unknown>) =>
      async (args: { request: { body: unknown; headers: Record<string, string> } }) => {
        args.request.body = body;
        args.request.headers['content-length'] = String(Buffer.byteLength(body));
        return next(args);
      },
    { step: 'build', priority: 'low' },
  );
  return command;
}

async function refusal(p: Promise<unknown>): Promise<Refusal> {
  const err = (await p.then(
    () => undefined,
    (e: Error & { $metadata?: { httpStatusCode?: number } }) => e,
  )) as (Error & { $metadata?: { httpStatusCode?: number } }) | undefined;
  if (!err) throw new Error('the request was accepted');
  return { name: err.name, message: err.message, status: err.$metadata?.httpStatusCode };
}

let h: Harness;
let smArn: string;
const client = () => ({ endpoint: h.endpoint, region: 'us-east-1', credentials });
beforeAll(async () => {
  h = await startRuntime({ seedFleet: false });
  smArn = h.arnOf('Approval');
});
afterAll(async () => {
  await h?.stop();
});

describe('Step Functions (AWS JSON 1.0)', () => {
  const start = (body: string) => refusal(h.sfn.send(withBody(new StartExecutionCommand({ stateMachineArn: 'x' }), body)));

  it.each([
    ['123', 'class java.lang.Short can not be converted to an String'],
    ['70000', 'class java.lang.Integer can not be converted to an String'],
    ['true', 'class java.lang.Boolean can not be converted to an String'],
    ['["x"]', 'Start of list found where not expected'],
    ['{"a":1}', 'Start of structure or map found where not expected.'],
  ])('refuses name %s with SerializationException and stores nothing', async (name, message) => {
    // Act
    const err = await start(`{"stateMachineArn":"${smArn}","name":${name}}`);
    const listed = await h.sfn.send(new ListExecutionsCommand({ stateMachineArn: smArn }));

    // Assess
    expect(err).toEqual({ name: 'SerializationException', message, status: 400 });
    expect(listed.executions).toEqual([]);
  });

  it('refuses an input that is a number', async () => {
    expect(await start(`{"stateMachineArn":"${smArn}","input":5}`)).toEqual({
      name: 'SerializationException',
      message: 'class java.lang.Short can not be converted to an String',
      status: 400,
    });
  });

  it('answers a body of null with ValidationException naming the missing member, not a 500', async () => {
    expect(await start('null')).toEqual({
      name: 'ValidationException',
      message: "1 validation error detected: Value null at 'stateMachineArn' failed to satisfy constraint: Member must not be null",
      status: 400,
    });
  });

  it('reads a body of null as no input where nothing is required', async () => {
    const out = await h.sfn.send(withBody(new ListStateMachinesCommand({}), 'null'));
    expect(out.stateMachines?.length).toBeGreaterThan(0);
  });

  it('refuses a body that is not an object', async () => {
    expect(await start('[1]')).toMatchObject({ name: 'SerializationException', message: 'Start of list found where not expected' });
    expect(await start('7')).toMatchObject({ name: 'SerializationException', message: 'Expected null' });
  });
});

describe('DynamoDB (AWS JSON 1.0)', () => {
  it('refuses a wrong type, then lists every missing member', async () => {
    const ddb = new DynamoDBClient(client());
    const put = (body: string) => refusal(ddb.send(withBody(new PutItemCommand({ TableName: 't', Item: {} }), body)));

    expect(await put('{"TableName":5,"Item":{}}')).toEqual({
      name: 'SerializationException',
      message: 'class java.lang.Short can not be converted to an String',
      status: 400,
    });
    expect(await put('{"TableName":"t","Item":"x"}')).toMatchObject({ name: 'SerializationException', message: 'Expected map or null' });
    expect(await put('{"TableName":"t","Item":{"k":{"S":1.5}}}')).toMatchObject({
      name: 'SerializationException',
      message: 'class java.lang.Double can not be converted to an String',
    });
    expect(await put('{}')).toEqual({
      name: 'ValidationException',
      message:
        "2 validation errors detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null; " +
        "Value null at 'item' failed to satisfy constraint: Member must not be null",
      status: 400,
    });
    ddb.destroy();
  });
});

describe('EventBridge and CloudTrail (AWS JSON 1.1)', () => {
  it('refuses a list that is not a list and a number sent as a string', async () => {
    const events = new EventBridgeClient(client());
    const trail = new CloudTrailClient(client());

    expect(await refusal(events.send(withBody(new PutEventsCommand({ Entries: [] }), '{"Entries":"x"}')))).toMatchObject({
      name: 'SerializationException',
      message: 'Expected list or null',
    });
    expect(await refusal(events.send(withBody(new PutEventsCommand({ Entries: [] }), '{"Entries":[{"Resources":{}}]}')))).toMatchObject({
      name: 'SerializationException',
      message: 'Start of structure or map found where not expected.',
    });
    expect(await refusal(trail.send(withBody(new LookupEventsCommand({}), '{"MaxResults":"5"}')))).toMatchObject({
      name: 'SerializationException',
      message: 'class java.lang.String can not be converted to an Integer',
    });
    events.destroy();
    trail.destroy();
  });
});

describe('SES v2 (REST-JSON)', () => {
  it('refuses a wrong type and a missing required member', async () => {
    const ses = new SESv2Client(client());
    const send = (body: string) => refusal(ses.send(withBody(new SendEmailCommand({ Content: {} }), body)));

    expect(await send('{"Content":[]}')).toMatchObject({ name: 'SerializationException', message: 'Start of list found where not expected', status: 400 });
    expect(await send('{"Content":{"Simple":{"Subject":{}}}}')).toMatchObject({
      name: 'BadRequestException',
      message:
        "2 validation errors detected: Value null at 'content.simple.subject.data' failed to satisfy constraint: Member must not be null; " +
        "Value null at 'content.simple.body' failed to satisfy constraint: Member must not be null",
    });
    ses.destroy();
  });
});

describe('SNS (AWS query)', () => {
  it('refuses a Publish without Message with ValidationError', async () => {
    const sns = new SNSClient(client());
    const err = await refusal(
      sns.send(withBody(new PublishCommand({ Message: 'x' }), 'Action=Publish&Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A000000000000%3Ax')),
    );
    expect(err).toEqual({
      name: 'ValidationError',
      message: "1 validation error detected: Value null at 'message' failed to satisfy constraint: Member must not be null",
      status: 400,
    });
    sns.destroy();
  });
});

describe('EC2 (EC2 query)', () => {
  const describe_ = (body: string) => refusal(h.ec2.send(withBody(new DescribeInstancesCommand({}), `Action=DescribeInstances&Version=2016-11-15&${body}`)));

  it('refuses a missing required parameter, a value of the wrong type and an unknown parameter', async () => {
    expect(await refusal(h.ec2.send(withBody(new StartInstancesCommand({ InstanceIds: [] }), 'Action=StartInstances&Version=2016-11-15')))).toEqual({
      name: 'MissingParameter',
      message: 'The request must contain the parameter InstanceId',
      status: 400,
    });
    expect(await describe_('MaxResults=abc')).toMatchObject({
      name: 'InvalidParameterValue',
      message: "Value (abc) for parameter MaxResults is invalid. Expected: 'Number'.",
    });
    expect(await describe_('DryRun=maybe')).toMatchObject({ name: 'InvalidParameterValue' });
    expect(await describe_('Bogus=1')).toMatchObject({ name: 'UnknownParameter', message: 'The parameter Bogus is not recognized' });
  });

  it('accepts what the SDK sends: filters, lists and booleans', async () => {
    const out = await h.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Schedule', Values: ['a', 'b'] }], MaxResults: 5 }));
    expect(out.Reservations).toEqual([]);
  });
});

describe('S3 (REST-XML, path-style)', () => {
  const Bucket = 'validate-s3';
  let s3: S3Client;
  beforeAll(() => {
    s3 = new S3Client({ ...client(), forcePathStyle: true });
  });
  afterAll(() => s3?.destroy());

  /** The command, sent with `value` in place of the query parameter `key` (signed as usual). */
  function withQuery<C>(command: C, key: string, value: string): C {
    (command as Middlewared).middlewareStack.add(
      (next: (args: { request: { query: Record<string, string> } }) => Promise<unknown>) => async (args: { request: { query: Record<string, string> } }) => {
        args.request.query[key] = value;
        return next(args);
      },
      { step: 'build', priority: 'low' },
    );
    return command;
  }

  it('finds each operation the real S3 client sends, by method, path and query, and serves it', async () => {
    await s3.send(new CreateBucketCommand({ Bucket }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'a/1.json', Body: '{"n":1}', ContentType: 'application/json' }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'a/2.json', Body: '{"n":2}' }));
    const first = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'a/', MaxKeys: 1 }));
    expect([first.Contents?.map((o) => o.Key), first.IsTruncated]).toEqual([['a/1.json'], true]);
    const second = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'a/', ContinuationToken: first.NextContinuationToken }));
    expect([second.Contents?.map((o) => o.Key), second.IsTruncated]).toEqual([['a/2.json'], false]);
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'a/1.json' }));
    expect([await got.Body?.transformToString(), got.ContentType]).toEqual(['{"n":1}', 'application/json']);
    expect((await s3.send(new HeadObjectCommand({ Bucket, Key: 'a/2.json' }))).ContentLength).toBe(7);
    expect((await s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toContain(Bucket);
    await s3.send(new DeleteObjectCommand({ Bucket, Key: 'a/1.json' }));
    expect((await s3.send(new ListObjectsV2Command({ Bucket }))).Contents?.map((o) => o.Key)).toEqual(['a/2.json']);
  });

  it("answers NotImplemented (501) for an S3 operation the runtime does not serve, never another operation's answer", async () => {
    // Each of these shares a method and path with a served operation: GET /bucket was read as a listing before.
    for (const [command, name] of [
      [new GetBucketPolicyCommand({ Bucket }), 'GetBucketPolicy'],
      [new ListObjectsCommand({ Bucket }), 'ListObjects'],
      [new GetObjectTaggingCommand({ Bucket, Key: 'a/2.json' }), 'GetObjectTagging'],
      [new CopyObjectCommand({ Bucket, Key: 'a/3.json', CopySource: `${Bucket}/a/2.json` }), 'CopyObject'],
    ] as const) {
      const err = await refusal(s3.send(command as never));
      expect(err).toMatchObject({ name: 'NotImplemented', status: 501 });
      expect(err.message).toContain(`does not implement ${name}:`);
    }
    expect(await refusal(s3.send(new HeadObjectCommand({ Bucket, Key: 'a/3.json' })))).toMatchObject({ status: 404 });
  });

  it('refuses a max-keys that is not an integer, or is negative, with InvalidArgument', async () => {
    expect(await refusal(s3.send(withQuery(new ListObjectsV2Command({ Bucket }), 'max-keys', 'ten')))).toEqual({
      name: 'InvalidArgument',
      message: 'Provided max-keys not an integer or within integer range',
      status: 400,
    });
    expect(await refusal(s3.send(withQuery(new ListObjectsV2Command({ Bucket }), 'max-keys', '99999999999')))).toMatchObject({ name: 'InvalidArgument' });
    expect(await refusal(s3.send(new ListObjectsV2Command({ Bucket, MaxKeys: -1 })))).toEqual({
      name: 'InvalidArgument',
      message: 'Argument maxKeys must be an integer between 0 and 2147483647',
      status: 400,
    });
    const none = await s3.send(new ListObjectsV2Command({ Bucket, MaxKeys: 0 }));
    expect([none.KeyCount, none.Contents, none.IsTruncated]).toEqual([0, undefined, false]);
  });
});

describe('S3 operations that share a method and path with a served one', () => {
  const Bucket = 'validate-s3-routes';
  let s3: S3Client;
  beforeAll(async () => {
    s3 = new S3Client({ ...client(), forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket }));
  });
  afterAll(() => s3?.destroy());

  it('are told apart by their query literal even when a required member is missing: nothing is deleted or overwritten', async () => {
    // The SDK sends DELETE /bucket?analytics and PUT /bucket/key?renameObject (no id, no rename source) as asked.
    expect(await refusal(s3.send(new DeleteBucketAnalyticsConfigurationCommand({ Bucket } as never)))).toMatchObject({ name: 'NotImplemented', status: 501 });
    expect((await s3.send(new HeadBucketCommand({ Bucket }))).$metadata.httpStatusCode).toBe(200);
    await s3.send(new PutObjectCommand({ Bucket, Key: 'kept', Body: 'original' }));
    expect(await refusal(s3.send(new RenameObjectCommand({ Bucket, Key: 'kept' } as never)))).toMatchObject({ name: 'NotImplemented', status: 501 });
    expect(await (await s3.send(new GetObjectCommand({ Bucket, Key: 'kept' }))).Body?.transformToString()).toBe('original');
  });
});
