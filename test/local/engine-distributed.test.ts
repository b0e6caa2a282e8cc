/**
 * Distributed Map through the engine and the local S3: child executions with their own history, ItemReader
 * (JSON, CSV, JSON Lines, manifest, ListObjectsV2), ItemBatcher, MaxConcurrency, tolerated failures,
 * ResultWriter, DescribeMapRun/ListMapRuns/ListExecutions by map run; and S3's REST API on the endpoint.
 */
import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT, Clock, StateDir, arn } from '../../local/kernel';
import { StepFunctionsService } from '../../local/engine';
import { createServer, listen } from '../../local/server';
import { S3Service } from '../../local/services/s3';

const ROLE = `arn:aws:iam::${ACCOUNT}:role/sfn`;
/** Every payload the item function saw; `failOnce: id` fails the first call for that id only. */
const calls: any[] = [];
const healed = new Set<unknown>();
const state = new StateDir(mkdtempSync(join(tmpdir(), 'opsflow-dmap-')));
const clock = new Clock({ scale: 36000, start: Date.UTC(2030, 0, 1) });
const s3 = new S3Service({ state, clock });
const engine = new StepFunctionsService({
  clock,
  state,
  s3,
  bus: { put: async () => undefined },
  invokeLambda: async (_fn, payload: any) => {
    calls.push(payload);
    if (payload?.failOnce !== undefined && !healed.has(payload.failOnce)) {
      healed.add(payload.failOnce);
      throw Object.assign(new Error('once'), { errorType: 'Item.Once', errorMessage: 'fails once' });
    }
    if (payload?.fail || payload?.Items?.some((i: any) => i.fail))
      throw Object.assign(new Error('bad item'), { errorType: 'Item.Bad', errorMessage: 'bad item' });
    return { seen: payload };
  },
  endpoint: () => 'http://127.0.0.1:1',
});
let server: Server;
let endpoint = '';

beforeAll(async () => {
  s3.createBucket('data');
  s3.putObject('data', 'items.json', Buffer.from(JSON.stringify([{ n: 1 }, { n: 2 }, { n: 3 }])));
  s3.putObject('data', 'items.csv', Buffer.from('id,name\n1,"Smith, J"\n2,Lee\n'));
  s3.putObject('data', 'items.jsonl', Buffer.from('{"n":1}\n{"n":2}\n'));
  s3.putObject('data', 'inventory/data.csv', Buffer.from('data,a.txt\ndata,b.txt\n'));
  s3.putObject('data', 'inventory/manifest.json', Buffer.from(JSON.stringify({ fileSchema: 'Bucket, Key', files: [{ key: 'inventory/data.csv' }] })));
  s3.createBucket('results');
  server = createServer([engine, s3], async () => ({ status: 404, body: '' }));
  endpoint = `http://127.0.0.1:${await listen(server, 0)}`;
});

afterAll(async () => {
  engine.close();
  await new Promise((resolve) => server.close(resolve));
});

const call = (params: any) => ({ Type: 'Task', Resource: arn.lambda('item'), Parameters: params ?? { 'item.$': '$' }, End: true });

function distributed(name: string, map: Record<string, unknown>, processorState: object = call(undefined)) {
  const smArn = arn.stateMachine(name);
  engine.deployStateMachine({
    arn: smArn,
    name,
    roleArn: ROLE,
    definition: {
      StartAt: 'Fan',
      States: {
        Fan: {
          Type: 'Map',
          ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, StartAt: 'Work', States: { Work: processorState } },
          End: true,
          ...map,
        },
      },
    },
  });
  return smArn;
}

async function run(smArn: string, input: unknown) {
  const { executionArn } = await engine.startExecution(smArn, JSON.stringify(input));
  return { executionArn, result: await engine.waitForExecution(executionArn) };
}

async function api(op: string, body: object): Promise<any> {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'x-amz-target': `AWSStepFunctions.${op}`,
      'content-type': 'application/x-amz-json-1.0',
      authorization: 'AWS4-HMAC-SHA256 Credential=AKID/20300101/us-east-1/states/aws4_request, SignedHeaders=host, Signature=x',
    },
    body: JSON.stringify(body),
  });
  return res.json();
}

describe('S3 REST API', () => {
  const headers = { authorization: 'AWS4-HMAC-SHA256 Credential=AKID/20300101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x' };
  it('creates a bucket, puts, gets, lists and deletes objects, with S3 error codes', async () => {
    expect((await fetch(`${endpoint}/app-bucket`, { method: 'PUT', headers })).status).toBe(200);
    expect(
      (await fetch(`${endpoint}/app-bucket/dir/a.txt`, { method: 'PUT', headers: { ...headers, 'content-type': 'text/plain' }, body: 'hello' })).status,
    ).toBe(200);
    const got = await fetch(`${endpoint}/app-bucket/dir/a.txt`, { headers });
    expect([got.status, got.headers.get('content-type'), await got.text()]).toEqual([200, 'text/plain', 'hello']);
    const list = await (await fetch(`${endpoint}/app-bucket?list-type=2&prefix=dir/`, { headers })).text();
    expect(list).toContain('<Key>dir/a.txt</Key>');
    const missing = await fetch(`${endpoint}/app-bucket/nope`, { headers });
    expect([missing.status, await missing.text()]).toEqual([404, expect.stringContaining('<Code>NoSuchKey</Code>')]);
    expect((await fetch(`${endpoint}/app-bucket`, { method: 'DELETE', headers })).status).toBe(409);
    expect((await fetch(`${endpoint}/app-bucket/dir/a.txt`, { method: 'DELETE', headers })).status).toBe(204);
    expect((await fetch(`${endpoint}/app-bucket`, { method: 'DELETE', headers })).status).toBe(204);
  });
});

describe('Distributed Map', () => {
  it('runs each item as a child execution with its own history; the parent records the Map Run', async () => {
    const smArn = distributed('dmap-items', { ItemsPath: '$.items', MaxConcurrency: 2 });
    const { executionArn, result } = await run(smArn, { items: [{ n: 1 }, { n: 2 }] });

    expect(result.status).toBe('SUCCEEDED');
    expect(JSON.parse(result.output!)).toEqual([{ seen: { item: { n: 1 } } }, { seen: { item: { n: 2 } } }]);
    const parent = engine.history(executionArn);
    expect(parent.map((e) => `${e.type}<${e.previousEventId}`)).toEqual([
      'ExecutionStarted<0',
      'MapStateEntered<0',
      'MapStateStarted<2',
      'MapRunStarted<3',
      'MapRunSucceeded<4',
      'MapStateSucceeded<5',
      'MapStateExited<4',
      'ExecutionSucceeded<7',
    ]);
    const mapRunArn = (parent[3].mapRunStartedEventDetails as any).mapRunArn as string;
    expect(mapRunArn).toMatch(new RegExp(`^arn:aws:states:us-east-1:${ACCOUNT}:mapRun:dmap-items/Fan:`));

    const described = await api('DescribeMapRun', { mapRunArn });
    expect(described).toEqual(expect.objectContaining({ status: 'SUCCEEDED', executionArn, maxConcurrency: 2 }));
    expect(described.itemCounts).toEqual(expect.objectContaining({ succeeded: 2, total: 2, failed: 0 }));
    expect((await api('ListMapRuns', { executionArn })).mapRuns.map((r: any) => r.mapRunArn)).toEqual([mapRunArn]);
    const children = (await api('ListExecutions', { mapRunArn })).executions;
    expect(children).toHaveLength(2);
    const childHistory = engine.history(children[0].executionArn).map((e) => e.type);
    expect(childHistory).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionSucceeded',
      'TaskStateExited',
      'ExecutionSucceeded',
    ]);
  });

  it.each([
    [
      'a JSON array',
      { Resource: 'arn:aws:states:::s3:getObject', ReaderConfig: { InputType: 'JSON' }, Parameters: { Bucket: 'data', Key: 'items.json' } },
      [{ n: 1 }, { n: 2 }, { n: 3 }],
    ],
    [
      'CSV with a header row',
      {
        Resource: 'arn:aws:states:::s3:getObject',
        ReaderConfig: { InputType: 'CSV', CSVHeaderLocation: 'FIRST_ROW' },
        Parameters: { Bucket: 'data', Key: 'items.csv' },
      },
      [
        { id: '1', name: 'Smith, J' },
        { id: '2', name: 'Lee' },
      ],
    ],
    [
      'JSON Lines',
      { Resource: 'arn:aws:states:::s3:getObject', ReaderConfig: { InputType: 'JSONL' }, Parameters: { Bucket: 'data', Key: 'items.jsonl' } },
      [{ n: 1 }, { n: 2 }],
    ],
    [
      'an S3 inventory manifest',
      { Resource: 'arn:aws:states:::s3:getObject', ReaderConfig: { InputType: 'MANIFEST' }, Parameters: { Bucket: 'data', Key: 'inventory/manifest.json' } },
      [
        { Bucket: 'data', Key: 'a.txt' },
        { Bucket: 'data', Key: 'b.txt' },
      ],
    ],
    [
      'MaxItems',
      {
        Resource: 'arn:aws:states:::s3:getObject',
        ReaderConfig: { InputType: 'JSON', MaxItems: 1 },
        Parameters: { 'Bucket.$': '$.bucket', Key: 'items.json' },
      },
      [{ n: 1 }],
    ],
  ])('reads items from S3: %s', async (_title, itemReader, items) => {
    const smArn = distributed(`dmap-reader-${_title.replace(/\W+/g, '-')}`, { ItemReader: itemReader }, { Type: 'Pass', End: true });
    const { result } = await run(smArn, { bucket: 'data' });
    expect(result.status, result.cause).toBe('SUCCEEDED');
    expect(JSON.parse(result.output!)).toEqual(items);
  });

  it('lists objects with s3:listObjectsV2', async () => {
    const smArn = distributed(
      'dmap-list',
      { ItemReader: { Resource: 'arn:aws:states:::s3:listObjectsV2', Parameters: { Bucket: 'data', Prefix: 'inventory/' } } },
      { Type: 'Pass', End: true },
    );
    const { result } = await run(smArn, {});
    expect(JSON.parse(result.output!).map((o: any) => o.Key)).toEqual(['inventory/data.csv', 'inventory/manifest.json']);
  });

  it('fails with States.ItemReaderFailed when the object is missing', async () => {
    const smArn = distributed('dmap-missing', {
      ItemReader: { Resource: 'arn:aws:states:::s3:getObject', ReaderConfig: { InputType: 'JSON' }, Parameters: { Bucket: 'data', Key: 'nope.json' } },
    });
    const { result } = await run(smArn, {});
    expect(result.error).toBe('States.ItemReaderFailed');
    expect(result.cause).toMatch(/NoSuchKey/);
  });

  it('batches items with ItemBatcher', async () => {
    const smArn = distributed(
      'dmap-batch',
      { ItemsPath: '$.items', ItemBatcher: { MaxItemsPerBatch: 2, BatchInput: { 'run.$': '$.run' } } },
      { Type: 'Pass', End: true },
    );
    const { result } = await run(smArn, { run: 'r1', items: [1, 2, 3] });
    expect(JSON.parse(result.output!)).toEqual([
      { BatchInput: { run: 'r1' }, Items: [1, 2] },
      { BatchInput: { run: 'r1' }, Items: [3] },
    ]);
  });

  it('tolerates failures up to ToleratedFailureCount, then fails with States.ExceedToleratedFailureThreshold', async () => {
    const items = { items: [{ fail: false }, { fail: true }, { fail: false }] };
    const tolerant = await run(distributed('dmap-tolerant', { ItemsPath: '$.items', ToleratedFailureCount: 1 }, call({ 'fail.$': '$.fail' })), items);
    expect(tolerant.result.status).toBe('SUCCEEDED');
    expect(JSON.parse(tolerant.result.output!)[1]).toEqual({ Error: 'Item.Bad', Cause: expect.stringContaining('bad item') });
    const percentage = await run(distributed('dmap-percentage', { ItemsPath: '$.items', ToleratedFailurePercentage: 30 }, call({ 'fail.$': '$.fail' })), items);
    expect(percentage.result.error).toBe('States.ExceedToleratedFailureThreshold');
    const strict = await run(distributed('dmap-strict', { ItemsPath: '$.items', MaxConcurrency: 1 }, call({ 'fail.$': '$.fail' })), {
      items: [{ fail: true }, { fail: false }],
    });
    expect(strict.result.error).toBe('States.ExceedToleratedFailureThreshold');
    expect(engine.history(strict.executionArn).map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'MapStateEntered',
      'MapStateStarted',
      'MapRunStarted',
      'MapRunFailed',
      'MapStateFailed',
      'ExecutionFailed',
    ]);
  });

  it('a redriven parent runs again only the child executions that did not succeed', async () => {
    // https://docs.aws.amazon.com/step-functions/latest/dg/redrive-map-run.html
    const smArn = distributed('dmap-redrive', { ItemsPath: '$.items' }, call({ 'n.$': '$.n', 'failOnce.$': '$.failOnce' }));
    const items = {
      items: [
        { n: 1, failOnce: 'a' },
        { n: 2, failOnce: 'b' },
        { n: 3, failOnce: 'c' },
      ],
    };
    healed.add('a');
    healed.add('c');
    const { executionArn, result } = await run(smArn, items);
    expect(result.status).toBe('FAILED');
    const before = calls.length;

    const redrive = await engine.handle({
      method: 'POST',
      path: '/',
      query: new URLSearchParams(),
      headers: {},
      body: Buffer.from(JSON.stringify({ executionArn })),
      service: 'states',
      target: 'AWSStepFunctions.RedriveExecution',
      accessKeyId: 'AKID',
    });
    expect(redrive.status).toBe(200);
    const redriven = await engine.waitForExecution(executionArn);

    expect(redriven.status).toBe('SUCCEEDED');
    // (Only this test's payloads carry failOnce: children of earlier tests may still be finishing.)
    expect(calls.slice(before).filter((c) => c?.failOnce !== undefined)).toEqual([{ n: 2, failOnce: 'b' }]);
    expect(JSON.parse(redriven.output!).map((r: any) => r.seen.n)).toEqual([1, 2, 3]);
    // The same Map Run is redriven: MapRunRedriven with its ARN, and DescribeMapRun's redriveCount.
    const events = engine.history(executionArn);
    const started = events.find((e) => e.type === 'MapRunStarted')!.mapRunStartedEventDetails as { mapRunArn: string };
    expect(events.find((e) => e.type === 'MapRunRedriven')!.mapRunRedrivenEventDetails).toEqual({ mapRunArn: started.mapRunArn, redriveCount: 1 });
    const described = await engine.handle({
      method: 'POST',
      path: '/',
      query: new URLSearchParams(),
      headers: {},
      body: Buffer.from(JSON.stringify({ mapRunArn: started.mapRunArn })),
      service: 'states',
      target: 'AWSStepFunctions.DescribeMapRun',
      accessKeyId: 'AKID',
    });
    expect(JSON.parse(String(described.body))).toEqual(expect.objectContaining({ status: 'SUCCEEDED', redriveCount: 1 }));
  });

  it('writes results to S3 with ResultWriter', async () => {
    const smArn = distributed(
      'dmap-writer',
      { ItemsPath: '$.items', ResultWriter: { Resource: 'arn:aws:states:::s3:putObject', Parameters: { Bucket: 'results', Prefix: 'runs' } } },
      { Type: 'Pass', End: true },
    );
    const { result } = await run(smArn, { items: ['a', 'b'] });
    const out = JSON.parse(result.output!);
    expect(out.ResultWriterDetails.Bucket).toBe('results');
    const manifest = JSON.parse(s3.getObject('results', out.ResultWriterDetails.Key).body.toString());
    expect(manifest.MapRunArn).toBe(out.MapRunArn);
    const succeeded = JSON.parse(s3.getObject('results', manifest.ResultFiles.SUCCEEDED[0].Key).body.toString());
    expect(succeeded.map((e: any) => e.Output).sort()).toEqual(['"a"', '"b"']);
  });
});

/** Issue 21, class 5: the fields of a distributed Map as AWS reads them. Each row names the AWS page or recording. */
describe('Distributed Map fields', () => {
  const processor = { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, StartAt: 'Work', States: { Work: { Type: 'Pass', End: true } } };
  const json = (key: string) => ({ Resource: 'arn:aws:states:::s3:getObject', ReaderConfig: { InputType: 'JSON' }, Parameters: { Bucket: 'data', Key: key } });
  /** Assign `vars` in a first Pass state, then the distributed Map with `fields`; `language` is the machine's. */
  function withVariables(name: string, vars: object, fields: object, language: 'JSONPath' | 'JSONata' = 'JSONPath') {
    const smArn = arn.stateMachine(name);
    engine.deployStateMachine({
      arn: smArn,
      name,
      roleArn: ROLE,
      definition: {
        QueryLanguage: language,
        StartAt: 'Vars',
        States: { Vars: { Type: 'Pass', Assign: vars, Next: 'Fan' }, Fan: { Type: 'Map', ItemProcessor: processor, End: true, ...fields } },
      },
    });
    return smArn;
  }

  beforeAll(() => {
    s3.putObject('data', 'blank-fields.csv', Buffer.from('a,b\n,\n1,2\n\n'));
    s3.putObject('data', 'duplicate-headers.csv', Buffer.from('a,a\n1,2\n'));
    s3.putObject('data', 'wrapped.json', Buffer.from(JSON.stringify({ rows: [{ n: 1 }, { n: 2 }], other: [0] })));
    s3.putObject('data', 'five.json', Buffer.from(JSON.stringify([1, 2, 3, 4, 5])));
  });

  it('reads a CSV row of empty fields as an item of empty strings', async () => {
    // "If the number of fields in a row is less than the number of fields in the header, Step Functions provides
    // empty strings for the missing values" (example-csv-parse-dist-map.html)
    const reader = { ...json('blank-fields.csv'), ReaderConfig: { InputType: 'CSV', CSVHeaderLocation: 'FIRST_ROW' } };
    const { result } = await run(distributed('dmap-csv-blank', { ItemReader: reader }, { Type: 'Pass', End: true }), {});
    expect(result.status, result.cause).toBe('SUCCEEDED');
    expect(JSON.parse(result.output!)).toEqual([
      { a: '', b: '' },
      { a: '1', b: '2' },
    ]);
  });

  it('fails the reader on duplicate CSV headers', async () => {
    const reader = { ...json('duplicate-headers.csv'), ReaderConfig: { InputType: 'CSV', CSVHeaderLocation: 'FIRST_ROW' } };
    const { result } = await run(distributed('dmap-csv-duplicate', { ItemReader: reader }), {});
    expect(result.error).toBe('States.ItemReaderFailed');
    expect(result.cause).toContain('CSV headers cannot contain duplicates.');
  });

  it('applies ItemsPath to what the ItemReader read', async () => {
    // "ItemReader ... ItemsPath ... ItemSelector ... in the order shown" (input-output-fields-dist-map.html)
    const { result } = await run(distributed('dmap-reader-itemspath', { ItemReader: json('wrapped.json'), ItemsPath: '$.rows' }, { Type: 'Pass', End: true }), {
      rows: ['from the input'],
    });
    expect(result.status, result.cause).toBe('SUCCEEDED');
    expect(JSON.parse(result.output!)).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it.each([
    [
      'MaxItemsPath from the input',
      distributed(
        'dmap-maxitems-input',
        { ItemReader: { ...json('five.json'), ReaderConfig: { InputType: 'JSON', MaxItemsPath: '$.max' } } },
        { Type: 'Pass', End: true },
      ),
      { max: 2 },
    ],
    // Recorded: assign/test_assign_reference_variables.snapshot.json (MAP_STATE_REFERENCE_IN_MAX_ITEMS_PATH: "2" from a variable)
    [
      'MaxItemsPath from a variable holding "2"',
      withVariables(
        'dmap-maxitems-var',
        { maxItems: '2' },
        { ItemReader: { ...json('five.json'), ReaderConfig: { InputType: 'JSON', MaxItemsPath: '$maxItems' } } },
      ),
      {},
    ],
    // Recorded template: scenarios/map_item_reader_base_json_max_items_jsonata.json5
    [
      'a JSONata MaxItems',
      withVariables(
        'dmap-maxitems-jsonata',
        { unused: 0 },
        {
          ItemReader: {
            Resource: 'arn:aws:states:::s3:getObject',
            ReaderConfig: { InputType: 'JSON', MaxItems: '{% $maxItems := 2 %}' },
            Arguments: { Bucket: 'data', Key: 'five.json' },
          },
        },
        'JSONata',
      ),
      {},
    ],
  ])('limits the items with %s', async (_what, smArn, input) => {
    const { result } = await run(smArn, input);
    expect(result.status, result.cause).toBe('SUCCEEDED');
    expect(JSON.parse(result.output!)).toEqual([1, 2]);
  });

  it.each([
    ['a negative MaxItemsPath value', { ItemReader: { ...json('five.json'), ReaderConfig: { InputType: 'JSON', MaxItemsPath: '$.v' } } }, -1, 'MaxItemsPath'],
    ['a ToleratedFailurePercentagePath over 100', { ItemsPath: '$.items', ToleratedFailurePercentagePath: '$.v' }, 101, 'ToleratedFailurePercentagePath'],
    [
      'a ToleratedFailurePercentagePath that is not a number',
      { ItemsPath: '$.items', ToleratedFailurePercentagePath: '$.v' },
      'many',
      'ToleratedFailurePercentagePath',
    ],
    ['a negative ToleratedFailureCountPath', { ItemsPath: '$.items', ToleratedFailureCountPath: '$.v' }, -1, 'ToleratedFailureCountPath'],
    ['a fractional ToleratedFailureCountPath', { ItemsPath: '$.items', ToleratedFailureCountPath: '$.v' }, 1.5, 'ToleratedFailureCountPath'],
    ['a MaxItemsPerBatchPath of 0', { ItemsPath: '$.items', ItemBatcher: { MaxItemsPerBatchPath: '$.v' } }, 0, 'MaxItemsPerBatchPath'],
    [
      'a MaxInputBytesPerBatchPath over 256 KiB',
      { ItemsPath: '$.items', ItemBatcher: { MaxInputBytesPerBatchPath: '$.v' } },
      262145,
      'MaxInputBytesPerBatchPath',
    ],
  ])('fails the Map state before the Map Run on %s', async (_what, fields, value, field) => {
    const smArn = distributed(`dmap-bad-${field}-${String(value)}`.replace(/[^\w-]/g, ''), fields);
    const { executionArn, result } = await run(smArn, { v: value, items: [1] });
    expect(result.error).toBe('States.Runtime');
    expect(result.cause).toContain(`'${field}'`);
    expect(engine.history(executionArn).map((e) => e.type)).not.toContain('MapRunStarted');
  });

  it('reads tolerated failure thresholds from variables holding numeric strings', async () => {
    // Recorded: assign/test_assign_reference_variables.snapshot.json (MAP_STATE_REFERENCE_IN_TOLERATED_FAILURE_PATH)
    const smArn = arn.stateMachine('dmap-tolerated-vars');
    engine.deployStateMachine({
      arn: smArn,
      name: 'dmap-tolerated-vars',
      roleArn: ROLE,
      definition: {
        StartAt: 'Vars',
        States: {
          Vars: { Type: 'Pass', Assign: { toleratedFailurePercentage: '50', toleratedFailureCount: '1' }, Next: 'Fan' },
          Fan: {
            Type: 'Map',
            ItemsPath: '$.items',
            ToleratedFailurePercentagePath: '$toleratedFailurePercentage',
            ToleratedFailureCountPath: '$toleratedFailureCount',
            ItemProcessor: {
              ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
              StartAt: 'Work',
              States: { Work: call({ 'fail.$': '$.fail' }) },
            },
            End: true,
          },
        },
      },
    });
    const { executionArn, result } = await run(smArn, { items: [{ fail: true }, { fail: false }, { fail: false }] });
    expect(result.status, result.cause).toBe('SUCCEEDED');
    const described = await api('DescribeMapRun', { mapRunArn: (await api('ListMapRuns', { executionArn })).mapRuns[0].mapRunArn });
    expect([described.toleratedFailurePercentage, described.toleratedFailureCount]).toEqual([50, 1]);
  });

  it.each([
    // Recorded: assign/test_assign_reference_variables.snapshot.json (MAP_STATE_REFERENCE_IN_MAX_PER_BATCH_PATH)
    [
      'MaxItemsPerBatchPath from a variable holding "2"',
      withVariables('dmap-batch-var', { n: '2' }, { ItemsPath: '$.items', ItemBatcher: { MaxItemsPerBatchPath: '$n' } }),
    ],
    [
      'MaxInputBytesPerBatchPath',
      distributed('dmap-batch-bytes', { ItemsPath: '$.items', ItemBatcher: { MaxInputBytesPerBatchPath: '$.bytes' } }, { Type: 'Pass', End: true }),
    ],
    // Recorded template: scenarios/map_item_batcher_base_max_per_batch_jsonata.json5
    [
      'a JSONata MaxItemsPerBatch and BatchInput',
      withVariables(
        'dmap-batch-jsonata',
        { n: 2 },
        { Items: '{% $states.input.items %}', ItemBatcher: { MaxItemsPerBatch: '{% $n %}', BatchInput: { run: '{% $states.input.run %}' } } },
        'JSONata',
      ),
    ],
  ])('batches with %s', async (_what, smArn) => {
    const { result } = await run(smArn, { items: [1, 2, 3], bytes: 2, run: 'r' });
    expect(result.status, result.cause).toBe('SUCCEEDED');
    expect(JSON.parse(result.output!).map((b: any) => b.Items)).toEqual([[1, 2], [3]]);
  });
});
