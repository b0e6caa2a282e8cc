/**
 * No pattern a request or a file brings can stall the runtime: every place one is matched, driven with an input
 * that makes a backtracking matcher take O(n^k) steps (with the RegExp these matchers replaced, a 64-character
 * value against a 6-star glob took 21 s; the inputs below would take longer than the universe has existed).
 * Each test asserts the answer and that the work is bounded by the input sizes, never a wall-clock time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, PutItemCommand, QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateTagsCommand, DescribeInstancesCommand, DescribeTagsCommand, EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as S from '@aws-sdk/client-sfn';
import { SendEmailCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT, Clock, StateDir } from '../../local/kernel';
import { createServer, listen } from '../../local/server';
import { StepFunctionsService } from '../../local/engine';
import { compileGlob, globMatches } from '../../local/glob';
import { evaluate } from '../../local/iam/policy';
import { DynamoDbService } from '../../local/services/dynamodb/service';
import { Ec2Service } from '../../local/services/ec2';
import { defaultFaults } from '../../local/faults';
import { matches } from '../../local/services/event-pattern';
import { S3Service } from '../../local/services/s3';
import { matchesPattern } from '../../tasks/tag-policy/core/pattern';
import { credentials as harnessCredentials, startRuntime, type Harness } from '../e2e/harness';

/** `*a*a…*a*b`: k stars, each of which a backtracking matcher tries at every position. */
const stars = (k: number, literal = 'a', tail = 'b') => `${`*${literal}`.repeat(k)}*${tail}`;
const credentials = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'x' };

describe('the glob matcher (local/glob.ts)', () => {
  const dialects = { star: '*', one: '?', escape: 'backslash' } as const;

  it.each([
    ['k stars, no match', stars(40), 'a'.repeat(100_000), false],
    ['k stars, a match at the very end', stars(40), `${'a'.repeat(100_000)}b`, true],
    ['a long literal segment restarted at every position', `*${'a'.repeat(200)}b*`, 'a'.repeat(20_000), false],
    ['? runs', `*${'?a'.repeat(100)}*b`, 'a'.repeat(20_000), false],
  ])('%s: at most (text + 1) × (pattern + 1) steps', (_, pattern, text, expected) => {
    const glob = compileGlob(pattern, dialects);
    const counter = { steps: 0 };
    expect(globMatches(glob, text, counter)).toBe(expected);
    expect(counter.steps).toBeLessThanOrEqual((text.length + 1) * (glob.units.length + 1));
  });

  it('refuses a pattern longer than the text before taking a step', () => {
    const counter = { steps: 0 };
    expect(globMatches(compileGlob('?'.repeat(1000), dialects), 'a'.repeat(999), counter)).toBe(false);
    expect(counter.steps).toBe(0);
  });

  it.each([
    ['a*c', 'abc', true],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['\\*amazon\\?\\\\', '*amazon?\\', true],
    ['\\*amazon\\?\\\\', 'Xamazon?\\', false],
    ['*', '', true],
    ['i-*', 'i-0abc', true],
  ])('EC2 filter %j against %j: %s', (pattern, text, expected) => {
    expect(globMatches(compileGlob(pattern, dialects), text)).toBe(expected);
  });
});

describe('EC2 filter values with * and ? (DescribeInstances, DescribeTags)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'opsflow-redos-ec2-'));
  const state = new StateDir(dir);
  const service = new Ec2Service({ clock: new Clock({ scale: 1000 }), state, faults: defaultFaults() });
  let server: Server;
  let ec2: EC2Client;
  const value = 'a'.repeat(256);

  beforeAll(async () => {
    server = createServer([service], async () => ({ status: 404, body: '' }));
    ec2 = new EC2Client({ endpoint: `http://127.0.0.1:${await listen(server, 0)}`, region: 'us-east-1', credentials, maxAttempts: 1 });
    const run = await ec2.send(new RunInstancesCommand({ ImageId: 'ami-0123456789abcdef0', InstanceType: 't3.micro', MinCount: 20, MaxCount: 20 }));
    const ids = run.Instances!.map((i) => i.InstanceId!);
    await ec2.send(new CreateTagsCommand({ Resources: ids, Tags: [{ Key: 'Name', Value: value }] }));
  });

  afterAll(async () => {
    ec2.destroy();
    await new Promise((resolve) => server.close(resolve));
    service.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a 12-star filter against 256-character tag values (the longest EC2 allows) answers', async () => {
    const none = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Name', Values: [stars(12)] }] }));
    expect(none.Reservations ?? []).toEqual([]);
    const all = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Name', Values: [stars(12, 'a', 'a')] }] }));
    expect(all.Reservations!.flatMap((r) => r.Instances!)).toHaveLength(20);
    const tags = await ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'value', Values: [stars(12, '?')] }] }));
    expect(tags.Tags ?? []).toEqual([]);
  });
});

describe('EventBridge wildcard patterns', () => {
  it('a 40-star wildcard against a 200 KB event field answers', () => {
    const event = { source: 'app', detail: { message: 'a'.repeat(200_000) } };
    expect(matches({ detail: { message: [{ wildcard: stars(40) }] } }, event)).toBe(false);
    expect(matches({ detail: { message: [{ wildcard: stars(40, 'a', '') }] } }, event)).toBe(true);
    // prefix, suffix and equals-ignore-case are single passes over the value.
    expect(matches({ detail: { message: [{ prefix: 'a'.repeat(100_000) }, { suffix: `${'a'.repeat(100_000)}b` }] } }, event)).toBe(true);
  });
});

describe('IAM wildcards in policies and conditions', () => {
  const principal = { type: 'AWS' as const, id: `arn:aws:iam::${ACCOUNT}:role/r` };
  it('StringLike, ArnLike, Action and Resource patterns against long request values answer', () => {
    const policy = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: `ec2:${stars(30, 'A', 'B')}`, Resource: '*' },
        { Effect: 'Allow', Action: 'ec2:StopInstances', Resource: `arn:aws:ec2:*:*:instance/${stars(30)}` },
        { Effect: 'Allow', Action: 'ec2:StartInstances', Resource: '*', Condition: { StringLike: { 'aws:ResourceTag/Name': stars(30) } } },
        { Effect: 'Allow', Action: 'ec2:RebootInstances', Resource: '*', Condition: { ArnLike: { 'aws:SourceArn': `arn:aws:sns:*:*:${stars(30)}` } } },
      ],
    };
    const long = 'a'.repeat(50_000);
    const ask = (action: string, resource: string, context: Record<string, string> = {}) =>
      evaluate({ principal, action, resource, context }, [policy as never]).decision;
    expect(ask(`ec2:${'A'.repeat(50_000)}`, '*')).toBe('ImplicitDeny');
    expect(ask('ec2:StopInstances', `arn:aws:ec2:us-east-1:${ACCOUNT}:instance/${long}`)).toBe('ImplicitDeny');
    expect(ask('ec2:StartInstances', '*', { 'aws:ResourceTag/Name': long })).toBe('ImplicitDeny');
    expect(ask('ec2:StartInstances', '*', { 'aws:ResourceTag/Name': `${long}b` })).toBe('Allow');
    expect(ask('ec2:RebootInstances', '*', { 'aws:SourceArn': `arn:aws:sns:us-east-1:${ACCOUNT}:${long}` })).toBe('ImplicitDeny');
  });
});

describe('Step Functions: StringMatches, JSONata regular expressions and JSONPath filters (TestState takes them from a request)', () => {
  const state = new StateDir(mkdtempSync(join(tmpdir(), 'opsflow-redos-sfn-')));
  const engine = new StepFunctionsService({
    clock: new Clock(),
    state,
    bus: { put: async () => undefined },
    invokeLambda: async () => ({}),
    endpoint: () => 'http://127.0.0.1:1',
  });
  let server: Server;
  let sfn: S.SFNClient;
  const roleArn = `arn:aws:iam::${ACCOUNT}:role/sfn`;
  const input = JSON.stringify({ s: 'a'.repeat(50_000), items: [{ a: `${'a'.repeat(40)}!` }] });

  beforeAll(async () => {
    server = createServer([engine], async () => ({ status: 404, body: '' }));
    sfn = new S.SFNClient({
      endpoint: `http://127.0.0.1:${await listen(server, 0)}`,
      region: 'us-east-1',
      credentials,
      maxAttempts: 1,
      disableHostPrefix: true,
    });
  });
  afterAll(async () => {
    engine.close();
    sfn.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('a Choice rule with a 40-star StringMatches against a 50,000-character value answers', async () => {
    const choice = (pattern: string) =>
      JSON.stringify({ Type: 'Choice', Choices: [{ Variable: '$.s', StringMatches: pattern, Next: 'Matched' }], Default: 'Other' });
    expect((await sfn.send(new S.TestStateCommand({ definition: choice(stars(40)), roleArn, input }))).nextState).toBe('Other');
    expect((await sfn.send(new S.TestStateCommand({ definition: choice(stars(40, 'a', 'a')), roleArn, input }))).nextState).toBe('Matched');
  });

  it('a JSONata $match with /(a+)+$/ runs on RE2', async () => {
    const definition = JSON.stringify({
      Type: 'Pass',
      QueryLanguage: 'JSONata',
      Output: '{% $count($match($states.input.items[0].a, /(a+)+$/)) %}',
      End: true,
    });
    const out = await sfn.send(new S.TestStateCommand({ definition, roleArn, input }));
    expect(out.status).toBe('SUCCEEDED');
    expect(JSON.parse(out.output!)).toBe(0);
  });

  it('a JSONPath filter that calls a function (a backtracking RegExp in jsonpath-plus) is refused', async () => {
    const definition = JSON.stringify({ Type: 'Pass', InputPath: '$.items[?(@.a.match(/(a+)+$/))]', End: true });
    const out = await sfn.send(new S.TestStateCommand({ definition, roleArn, input }));
    expect(out.status).toBe('FAILED');
    expect(out.error).toBe('States.Runtime');
    expect(out.cause).toMatch(/functions such as length\(\) aren't supported/);
  });
});

describe('DynamoDB expressions', () => {
  const state = new StateDir(mkdtempSync(join(tmpdir(), 'opsflow-redos-ddb-')));
  const service = new DynamoDbService({ state });
  service.addTable({ name: 't', keySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], attributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }] });
  let server: Server;
  let ddb: DynamoDBClient;
  beforeAll(async () => {
    server = createServer([service], async () => ({ status: 404, body: '' }));
    ddb = new DynamoDBClient({ endpoint: `http://127.0.0.1:${await listen(server, 0)}`, region: 'us-east-1', credentials, maxAttempts: 1 });
  });
  afterAll(async () => {
    ddb.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('a 1 MB expression is refused by its size, before it is tokenized (tokenizing was quadratic)', async () => {
    const huge = `${'attribute_exists(a) AND '.repeat(40_000)}attribute_exists(a)`;
    const err = await ddb
      .send(new QueryCommand({ TableName: 't', KeyConditionExpression: 'pk = :p', FilterExpression: huge, ExpressionAttributeValues: { ':p': { S: 'x' } } }))
      .catch((e: Error) => e);
    expect(err).toMatchObject({
      name: 'ValidationException',
      message: `Invalid FilterExpression: Expression size has exceeded the maximum allowed size; expression size: ${huge.length}`,
    });
  });

  it('the longest expression DynamoDB takes, nested as deep as it goes, parses and evaluates', async () => {
    await ddb.send(new PutItemCommand({ TableName: 't', Item: { pk: { S: 'x' }, a: { S: 'a'.repeat(100_000) } } }));
    const depth = 1000;
    const nested = `${'('.repeat(depth)}begins_with(a, :a) AND contains(a, :b)${')'.repeat(depth)}`;
    const negated = `${'NOT '.repeat(1001)}contains(a, :b)`;
    for (const FilterExpression of [nested, negated]) {
      expect(Buffer.byteLength(FilterExpression)).toBeLessThanOrEqual(4096);
      const out = await ddb.send(
        new QueryCommand({
          TableName: 't',
          KeyConditionExpression: 'pk = :p',
          FilterExpression,
          ExpressionAttributeValues: { ':p': { S: 'x' }, ':a': { S: 'a'.repeat(50_000) }, ':b': { S: `${'a'.repeat(50_000)}b` } },
          ...(FilterExpression === nested ? {} : { ExpressionAttributeValues: { ':p': { S: 'x' }, ':b': { S: `${'a'.repeat(50_000)}b` } } }),
        }),
      );
      expect(out.Count).toBe(FilterExpression === nested ? 0 : 1);
    }
  });

  it('ADD and DELETE of 20,000-element number sets are hash lookups, not a comparison of every pair', async () => {
    const numbers = (from: number) => Array.from({ length: 20_000 }, (_, i) => String(from + i));
    await ddb.send(new PutItemCommand({ TableName: 't', Item: { pk: { S: 'set' }, ns: { NS: numbers(0) } } }));
    await ddb.send(
      new UpdateItemCommand({
        TableName: 't',
        Key: { pk: { S: 'set' } },
        UpdateExpression: 'ADD ns :more',
        ExpressionAttributeValues: { ':more': { NS: numbers(10_000) } },
      }),
    );
    const out = await ddb.send(
      new UpdateItemCommand({
        TableName: 't',
        Key: { pk: { S: 'set' } },
        UpdateExpression: 'DELETE ns :some',
        ExpressionAttributeValues: { ':some': { NS: numbers(5_000) } },
        ReturnValues: 'ALL_NEW',
      }),
    );
    // {0..19,999} ∪ {10,000..29,999} without {5,000..24,999}
    expect(out.Attributes!.ns.NS).toHaveLength(10_000);
  });
});

describe('tag-policy patterns', () => {
  it('(a+)+$ against 40 a and a ! runs on RE2', () => {
    expect(matchesPattern(`${'a'.repeat(40)}!`, '(a+)+', false)).toBe(false);
    expect(matchesPattern('a'.repeat(100_000), '(a+)+', false)).toBe(true);
  });
});

describe('S3 prefixes and delimiters', () => {
  const dir = mkdtempSync(join(tmpdir(), 'opsflow-redos-s3-'));
  const state = new StateDir(dir);
  const service = new S3Service({ state, clock: new Clock() });
  let server: Server;
  let s3: S3Client;
  beforeAll(async () => {
    server = createServer([service], async () => ({ status: 404, body: '' }));
    s3 = new S3Client({ endpoint: `http://127.0.0.1:${await listen(server, 0)}`, region: 'us-east-1', credentials, forcePathStyle: true, maxAttempts: 1 });
    await s3.send(new CreateBucketCommand({ Bucket: 'redos-bucket' }));
    // Keys are at most 1,024 bytes on S3 (175 in the local S3; KeyTooLongError past that), which bounds every
    // prefix and delimiter scan.
    for (let i = 0; i < 50; i++)
      await s3.send(new PutObjectCommand({ Bucket: 'redos-bucket', Key: `${'a'.repeat(170)}${String(i).padStart(3, '0')}`, Body: 'x' }));
  });
  afterAll(async () => {
    s3.destroy();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('a near-miss prefix and an 8 KB delimiter (a URL holds no more) are single passes over each key', async () => {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: 'redos-bucket', Prefix: `${'a'.repeat(169)}b`, Delimiter: `${'a'.repeat(8_000)}b` }));
    expect(out.KeyCount).toBe(0);
    const all = await s3.send(new ListObjectsV2Command({ Bucket: 'redos-bucket', Prefix: 'a'.repeat(100), Delimiter: `${'a'.repeat(100)}b` }));
    expect(all.KeyCount).toBe(50);
    const rolled = await s3.send(new ListObjectsV2Command({ Bucket: 'redos-bucket', Delimiter: `${'a'.repeat(170)}0` }));
    expect(rolled.CommonPrefixes?.map((p) => p.Prefix)).toEqual([`${'a'.repeat(170)}0`]);
  });
});

describe('request parsing: regular expressions over request text that backtracked quadratically', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startRuntime({ seedFleet: false });
  });
  afterAll(() => h?.stop());

  it('an EC2 parameter with a 200,000-digit index before a newline is refused as unknown', async () => {
    // `/^(\d+)(.*)$/` on the index and `/\.\d+.*$/` on the unknown name took O(digits²) steps (20,000 digits: 5 s).
    const key = `Filter.${'1'.repeat(200_000)}\n`;
    const cmd = new DescribeInstancesCommand({});
    cmd.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { body: string }).body = `Action=DescribeInstances&Version=2016-11-15&${encodeURIComponent(key)}=x`;
        return next(args);
      },
      { step: 'build', priority: 'high' },
    );
    const err = await h.ec2.send(cmd).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toMatchObject({ name: 'UnknownParameter', message: 'The parameter Filter is not recognized' });
  });

  it('an SES recipient of 200,000 `<` is refused as an invalid address', async () => {
    const ses = new SESv2Client({ endpoint: h.endpoint, region: 'us-east-1', credentials: harnessCredentials, maxAttempts: 1 });
    const err = await ses
      .send(
        new SendEmailCommand({
          FromEmailAddress: 'a@example.com',
          Destination: { ToAddresses: ['<'.repeat(200_000)] },
          Content: { Simple: { Subject: { Data: 's' }, Body: { Text: { Data: 't' } } } },
        }),
      )
      .then(
        () => undefined,
        (e: Error) => e,
      );
    ses.destroy();
    expect(err).toMatchObject({ name: 'BadRequestException', message: expect.stringMatching(/^Destination contains an invalid email address/) });
  });
});
