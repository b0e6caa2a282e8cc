/**
 * Bad values are refused as AWS refuses them, and nothing stored can break a later read: EC2 tags (read back by
 * the AWS CLI v2), DynamoDB numbers, nesting, expressions and item sizes, Step Functions paging parameters, and the
 * console API's percent-encoding. Everything goes through the whole runtime (gate, IAM, the service) with the real
 * SDK clients, the AWS CLI or raw HTTP.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { CreateTagsCommand, DescribeInstancesCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import * as S from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, startRuntime, type Harness } from '../e2e/harness';
import { awsCliEnv, findAwsCliV2, toolAvailable } from '../tools';

const run = promisify(execFile);
const cli = findAwsCliV2();
const cliEnabled = toolAvailable('AWS CLI v2', cli !== undefined, '`apt-get install awscli` (Debian 12+), or set OPSFLOW_AWS_CLI to an AWS CLI v2 executable');

let h: Harness;
let ddb: DynamoDBClient;
beforeAll(async () => {
  h = await startRuntime({ seedFleet: false });
  ddb = new DynamoDBClient({ endpoint: h.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
});
afterAll(async () => {
  ddb?.destroy();
  await h?.stop();
});

async function refusal(p: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  const err = await p.then(
    () => undefined,
    (e: Error & { $metadata?: { httpStatusCode?: number } }) => e,
  );
  if (!err) throw new Error('the request was accepted');
  return { name: err.name, message: err.message, status: err.$metadata?.httpStatusCode };
}

describe('EC2 tags', () => {
  let id: string;
  beforeAll(async () => {
    const out = await h.ec2.send(new RunInstancesCommand({ ImageId: 'ami-0123456789abcdef0', InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
    id = out.Instances![0].InstanceId!;
  });
  const tag = (Key: string, Value: string) => h.ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key, Value }] }));

  it.each([
    ['a NUL in a value', 'Name', 'a\u0000b', /parameter value is invalid\. Tags may not contain U\+0000, which XML 1\.0 cannot carry/],
    ['a form feed in a key', 'Na\fme', 'x', /parameter key is invalid\. Tags may not contain U\+000C/],
    ['U+FFFF in a value', 'Name', '\uFFFF', /Tags may not contain U\+FFFF/],
    ['a 129-character key', 'k'.repeat(129), 'x', /parameter key is invalid\. Tag key exceeds the maximum length of 128 characters/],
    ['a 257-character value', 'Name', 'v'.repeat(257), /parameter value is invalid\. Tag value exceeds the maximum length of 256 characters/],
    ['the reserved aws: prefix, in any case', 'AwS:createdBy', 'x', /Tag keys starting with 'aws:' are reserved for internal use/],
  ])('%s is refused with InvalidParameterValue', async (_, key, value, message) => {
    const err = await refusal(tag(key, value));
    expect(err).toMatchObject({ name: 'InvalidParameterValue', status: 400 });
    expect(err.message).toMatch(message);
  });

  it('lengths are Unicode characters, as EC2 counts them: 128 emoji make a key, 256 a value', async () => {
    await tag('🔑'.repeat(128), '🙂'.repeat(256));
    const out = await h.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
    expect(out.Reservations![0].Instances![0].Tags).toContainEqual({ Key: '🔑'.repeat(128), Value: '🙂'.repeat(256) });
  });

  it.skipIf(!cliEnabled)('a character XML cannot carry, stored before tags were checked, still reads with the AWS CLI v2', async () => {
    // State an older runtime accepted (or a fleet file holds): the answer must stay well-formed XML.
    h.rt.ec2.fleet.get(id)!.tags.push({ Key: 'Legacy', Value: 'a\u0000b\u0001c' });
    const { stdout } = await run(cli!, ['--endpoint-url', h.endpoint, '--output', 'json', 'ec2', 'describe-instances'], {
      env: awsCliEnv(h.stateDir, credentials),
    });
    const tags = JSON.parse(stdout)
      .Reservations.flatMap((r: any) => r.Instances)
      .flatMap((i: any) => i.Tags ?? []);
    expect(tags).toContainEqual({ Key: 'Legacy', Value: 'a\uFFFDb\uFFFDc' });
  });
});

describe('DynamoDB values, nesting, expressions and item sizes', () => {
  let table: string;
  let hash: string;
  const key = (pk: string) => ({ [hash]: { S: pk } });
  beforeAll(async () => {
    table = h.rt.deployed.tables[0];
    const described = await ddb.send(new DescribeTableCommand({ TableName: table }));
    expect(described.Table!.KeySchema).toHaveLength(1);
    hash = described.Table!.KeySchema![0].AttributeName!;
  });
  const put = (pk: string, attrs: Record<string, AttributeValue>) => ddb.send(new PutItemCommand({ TableName: table, Item: { ...key(pk), ...attrs } }));
  const deep = (levels: number): AttributeValue => {
    let v: AttributeValue = { S: 'leaf' };
    for (let i = 0; i < levels; i++) v = { M: { n: v } };
    return v;
  };

  it.each([
    ['39 significant digits', '123456789012345678901234567890123456789', 'Attempting to store more than 38 significant digits in a Number'],
    ['a magnitude above 9.99…E+125', '1e126', 'Number overflow. Attempting to store a number with magnitude larger than supported range'],
    [
      '1e10000000 (27 bytes that became a 10 MB item)',
      '1e10000000',
      'Number overflow. Attempting to store a number with magnitude larger than supported range',
    ],
    ['a magnitude below 1E-130', '-1e-131', 'Number underflow. Attempting to store a number with magnitude smaller than supported range'],
  ])("a number with %s is refused with DynamoDB's message", async (_, n, message) => {
    expect(await refusal(put('n', { n: { N: n } }))).toMatchObject({ name: 'ValidationException', message, status: 400 });
    expect(await refusal(put('ns', { ns: { NS: ['1', n] } }))).toMatchObject({ name: 'ValidationException', message });
  });

  it('numbers at the limits are stored, and are small items', async () => {
    const limits = ['9.9999999999999999999999999999999999999E+125', '-1E-130', '12345678901234567890123456789012345678', '1e125'];
    await put('limits', Object.fromEntries(limits.map((n, i) => [`n${i}`, { N: n }])));
    const out = await ddb.send(new GetItemCommand({ TableName: table, Key: key('limits') }));
    expect(out.Item!.n3.N).toBe(`1${'0'.repeat(125)}`);
  });

  it('a sum past the range is refused, and the item is left as it was', async () => {
    await put('sum', { n: { N: '9e125' } });
    const err = await refusal(
      ddb.send(
        new UpdateItemCommand({ TableName: table, Key: key('sum'), UpdateExpression: 'SET n = n + :n', ExpressionAttributeValues: { ':n': { N: '9e125' } } }),
      ),
    );
    expect(err).toMatchObject({
      name: 'ValidationException',
      message: 'Number overflow. Attempting to store a number with magnitude larger than supported range',
    });
    expect((await ddb.send(new GetItemCommand({ TableName: table, Key: key('sum') }))).Item!.n.N).toBe(`9${'0'.repeat(125)}`);
  });

  it('nesting: 32 levels are stored, 33 are refused, 3,000 answer 400 (not 500)', async () => {
    const message = 'Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit';
    await put('deep-32', { d: deep(31) });
    expect(await refusal(put('deep-33', { d: deep(32) }))).toMatchObject({ name: 'ValidationException', message, status: 400 });
    // 3,000 levels overflow the SDK's own serializer, so the JSON is written here and put in the signed request.
    const lists = `${'{"L":['.repeat(3000)}${']}'.repeat(3000)}`;
    const putDeep = new PutItemCommand({ TableName: table, Item: key('deep-3000') });
    putDeep.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { body: string }).body = `{"TableName":${JSON.stringify(table)},"Item":{${JSON.stringify(hash)}:{"S":"deep-3000"},"d":${lists}}}`;
        return next(args);
      },
      { step: 'build', priority: 'high' },
    );
    expect(await refusal(ddb.send(putDeep))).toMatchObject({ name: 'ValidationException', message, status: 400 });
    expect(
      await refusal(
        ddb.send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: `${hash} = :p`,
            FilterExpression: 'd = :d',
            ExpressionAttributeValues: { ':p': { S: 'x' }, ':d': deep(100) },
          }),
        ),
      ),
    ).toMatchObject({ message, status: 400 });
  });

  it('expressions: 4 KB, 100 IN operands, 300 update operators', async () => {
    const filter = `${'attribute_exists(a) AND '.repeat(200)}attribute_exists(a)`;
    expect(
      await refusal(
        ddb.send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: `${hash} = :p`,
            FilterExpression: filter,
            ExpressionAttributeValues: { ':p': { S: 'x' } },
          }),
        ),
      ),
    ).toMatchObject({
      name: 'ValidationException',
      message: `Invalid FilterExpression: Expression size has exceeded the maximum allowed size; expression size: ${filter.length}`,
    });
    const values = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`:v${i}`, { S: String(i) }]));
    expect(
      await refusal(
        ddb.send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: `${hash} = :p`,
            FilterExpression: `a IN (${Object.keys(values).join(',')})`,
            ExpressionAttributeValues: { ...values, ':p': { S: 'x' } },
          }),
        ),
      ),
    ).toMatchObject({
      message: 'Invalid FilterExpression: The IN operator is provided with too many operands; number of operands: 101',
    });
    expect(
      await refusal(
        ddb.send(
          new UpdateItemCommand({
            TableName: table,
            Key: key('ops'),
            UpdateExpression: `SET ${Array.from({ length: 301 }, (_, i) => `a${i}=:o+:o`).join(',')}`,
            ExpressionAttributeValues: { ':o': { N: '1' } },
          }),
        ),
      ),
    ).toMatchObject({
      message: 'Invalid UpdateExpression: The expression contains too many operators; operator count: 301',
    });
  });

  it('the 400 KB item size holds after an update too, measured on the stored item', async () => {
    await put('grow', { a: { S: 'x'.repeat(300 * 1024) } });
    const err = await refusal(
      ddb.send(
        new UpdateItemCommand({
          TableName: table,
          Key: key('grow'),
          UpdateExpression: 'SET b = :b',
          ExpressionAttributeValues: { ':b': { S: 'y'.repeat(200 * 1024) } },
        }),
      ),
    );
    expect(err).toMatchObject({ name: 'ValidationException', message: 'Item size to update has exceeded the maximum allowed size' });
    expect((await ddb.send(new GetItemCommand({ TableName: table, Key: key('grow') }))).Item!.b).toBeUndefined();
  });
});

describe('Step Functions maxResults and nextToken', () => {
  const ops: Array<[string, (page: { maxResults?: number; nextToken?: string }) => Promise<unknown>]> = [
    ['ListStateMachines', (p) => h.sfn.send(new S.ListStateMachinesCommand(p))],
    ['ListActivities', (p) => h.sfn.send(new S.ListActivitiesCommand(p))],
    ['ListExecutions', (p) => h.sfn.send(new S.ListExecutionsCommand({ stateMachineArn: h.arnOf('Approval'), ...p }))],
    ['ListStateMachineVersions', (p) => h.sfn.send(new S.ListStateMachineVersionsCommand({ stateMachineArn: h.arnOf('Approval'), ...p }))],
    ['ListStateMachineAliases', (p) => h.sfn.send(new S.ListStateMachineAliasesCommand({ stateMachineArn: h.arnOf('Approval'), ...p }))],
  ];

  it.each(ops)('%s refuses maxResults -1 and 1001 with ValidationException', async (_, call) => {
    for (const maxResults of [-1, 1001]) {
      const err = await refusal(call({ maxResults }));
      expect(err).toMatchObject({ name: 'ValidationException', status: 400 });
      expect(err.message).toBe(
        `1 validation error detected: Value '${maxResults}' at 'maxResults' failed to satisfy constraint: Member must have value ${maxResults < 0 ? 'greater than or equal to 0' : 'less than or equal to 1000'}`,
      );
    }
  });

  it.each(ops)('%s refuses a garbage nextToken with InvalidToken', async (_, call) => {
    for (const nextToken of ['garbage', '!!!', Buffer.from('5').toString('base64url')]) {
      expect(await refusal(call({ nextToken }))).toMatchObject({ name: 'InvalidToken', status: 400 });
    }
  });

  it('GetExecutionHistory and ListMapRuns validate them too; a token from one list does not page another', async () => {
    const executionArn = await h.start('Approval', { title: 'x', approvers: ['not-an-email'] });
    await h.finished(executionArn);
    const first = await h.sfn.send(new S.GetExecutionHistoryCommand({ executionArn, maxResults: 1 }));
    expect(first.nextToken).toBeDefined();
    expect((await h.sfn.send(new S.GetExecutionHistoryCommand({ executionArn, maxResults: 1, nextToken: first.nextToken }))).events).toHaveLength(1);
    expect(await refusal(h.sfn.send(new S.GetExecutionHistoryCommand({ executionArn, maxResults: -1 })))).toMatchObject({ name: 'ValidationException' });
    expect(await refusal(h.sfn.send(new S.GetExecutionHistoryCommand({ executionArn, nextToken: 'garbage' })))).toMatchObject({ name: 'InvalidToken' });
    expect(await refusal(h.sfn.send(new S.ListMapRunsCommand({ executionArn, maxResults: 1001 })))).toMatchObject({ name: 'ValidationException' });
    expect(await refusal(h.sfn.send(new S.ListStateMachinesCommand({ nextToken: first.nextToken })))).toMatchObject({ name: 'InvalidToken' });
  });
});

describe('console API', () => {
  it.each(['/_opsflow/executions/%E0%A4%A', '/_opsflow/executions/%', '/_opsflow/outbox/%ZZ/html', '/_opsflow/%C0%80'])(
    'a malformed percent-encoding in %s answers 400',
    async (path) => {
      const res = await fetch(`${h.endpoint}${path}`);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'BadRequest', message: expect.stringMatching(/percent-encoding/) });
    },
  );
});
