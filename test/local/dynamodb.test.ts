import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
  CreateBackupCommand,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand as DocQuery,
  ScanCommand as DocScan,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock, StateDir } from '../../local/kernel';
import { createServer, listen } from '../../local/server';
import { DynamoDbService, type TableDefinition } from '../../local/services/dynamodb/service';

const APPROVALS: TableDefinition = {
  name: 'approvals',
  keySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
  attributeDefinitions: [
    { AttributeName: 'pk', AttributeType: 'S' },
    { AttributeName: 'status', AttributeType: 'S' },
    { AttributeName: 'pendingSince', AttributeType: 'S' },
  ],
  globalSecondaryIndexes: [
    {
      IndexName: 'pending',
      KeySchema: [
        { AttributeName: 'status', KeyType: 'HASH' },
        { AttributeName: 'pendingSince', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'KEYS_ONLY' },
    },
  ],
  timeToLiveAttribute: 'expiresAt',
};
const EVENTS: TableDefinition = {
  name: 'events',
  keySchema: [
    { AttributeName: 'id', KeyType: 'HASH' },
    { AttributeName: 'seq', KeyType: 'RANGE' },
  ],
  attributeDefinitions: [
    { AttributeName: 'id', AttributeType: 'S' },
    { AttributeName: 'seq', AttributeType: 'N' },
  ],
};

describe('DynamoDbService', () => {
  const state = new StateDir(mkdtempSync(join(tmpdir(), 'opsflow-ddb-')));
  const clock = new Clock({ start: Date.parse('2024-01-01T00:00:00Z') });
  const service = new DynamoDbService({ state, clock });
  service.addTable(APPROVALS);
  service.addTable(EVENTS);

  let server: Server;
  let raw: DynamoDBClient;
  let doc: DynamoDBDocumentClient;
  beforeAll(async () => {
    server = createServer([service], async () => ({ status: 404, body: '' }));
    const port = await listen(server, 0);
    raw = new DynamoDBClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    doc = DynamoDBDocumentClient.from(raw);
    // Prepare shared data: ten events in one partition, one in another
    for (let seq = 1; seq <= 10; seq++)
      await doc.send(new PutCommand({ TableName: 'events', Item: { id: 'run-1', seq, kind: seq % 2 ? 'odd' : 'even', tags: [`t${seq}`] } }));
    await doc.send(new PutCommand({ TableName: 'events', Item: { id: 'run-2', seq: 1, kind: 'odd' } }));
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  describe('tables', () => {
    it('lists and describes tables, including the index', async () => {
      const list = await raw.send(new ListTablesCommand({}));
      const described = await raw.send(new DescribeTableCommand({ TableName: 'approvals' }));
      expect(list.TableNames).toEqual(['approvals', 'events']);
      expect(described.Table).toMatchObject({
        TableName: 'approvals',
        TableStatus: 'ACTIVE',
        TableArn: 'arn:aws:dynamodb:us-east-1:000000000000:table/approvals',
        KeySchema: APPROVALS.keySchema,
      });
      expect(described.Table?.GlobalSecondaryIndexes?.[0]).toMatchObject({ IndexName: 'pending', IndexStatus: 'ACTIVE' });
    });

    it('answers ResourceNotFoundException for an unknown table', async () => {
      await expect(raw.send(new GetItemCommand({ TableName: 'nope', Key: { pk: { S: 'x' } } }))).rejects.toMatchObject({
        name: 'ResourceNotFoundException',
        $metadata: { httpStatusCode: 400 },
      });
    });

    it('answers UnknownOperationException for an operation it does not emulate', async () => {
      await expect(raw.send(new CreateBackupCommand({ TableName: 'events', BackupName: 'b' }))).rejects.toMatchObject({ name: 'UnknownOperationException' });
    });
  });

  describe('items with the raw client', () => {
    it('puts and gets an item, canonicalizing numbers and projecting nested paths', async () => {
      // Prepare
      await raw.send(
        new PutItemCommand({
          TableName: 'approvals',
          Item: {
            pk: { S: 'raw-1' },
            amount: { N: '01.50' },
            detail: { M: { reason: { S: 'cost' }, owners: { L: [{ S: 'a' }, { S: 'b' }] } } },
            extra: { BOOL: true },
          },
        }),
      );

      // Act
      const full = await raw.send(new GetItemCommand({ TableName: 'approvals', Key: { pk: { S: 'raw-1' } } }));
      const projected = await raw.send(
        new GetItemCommand({
          TableName: 'approvals',
          Key: { pk: { S: 'raw-1' } },
          ProjectionExpression: '#d.reason, #d.owners[1], amount',
          ExpressionAttributeNames: { '#d': 'detail' },
        }),
      );
      const missing = await raw.send(new GetItemCommand({ TableName: 'approvals', Key: { pk: { S: 'none' } } }));

      // Assess
      expect(full.Item?.amount).toEqual({ N: '1.5' });
      expect(projected.Item).toEqual({ amount: { N: '1.5' }, detail: { M: { reason: { S: 'cost' }, owners: { L: [{ S: 'b' }] } } } });
      expect(missing.Item).toBeUndefined();
    });

    it('deletes with ALL_OLD and a condition', async () => {
      await raw.send(new PutItemCommand({ TableName: 'approvals', Item: { pk: { S: 'del-1' }, n: { N: '1' } } }));
      await expect(
        raw.send(
          new DeleteItemCommand({
            TableName: 'approvals',
            Key: { pk: { S: 'del-1' } },
            ConditionExpression: 'n > :z',
            ExpressionAttributeValues: { ':z': { N: '5' } },
          }),
        ),
      ).rejects.toMatchObject({
        name: 'ConditionalCheckFailedException',
      });
      const out = await raw.send(new DeleteItemCommand({ TableName: 'approvals', Key: { pk: { S: 'del-1' } }, ReturnValues: 'ALL_OLD' }));
      expect(out.Attributes).toEqual({ pk: { S: 'del-1' }, n: { N: '1' } });
      expect((await raw.send(new GetItemCommand({ TableName: 'approvals', Key: { pk: { S: 'del-1' } } }))).Item).toBeUndefined();
    });

    it.each([
      ['a missing key attribute', () => new PutItemCommand({ TableName: 'events', Item: { id: { S: 'x' } } }), /Missing the key seq in the item/],
      ['a key of the wrong type', () => new PutItemCommand({ TableName: 'events', Item: { id: { S: 'x' }, seq: { S: '1' } } }), /Type mismatch for key seq/],
      [
        'an index key of the wrong type',
        () => new PutItemCommand({ TableName: 'approvals', Item: { pk: { S: 'x' }, status: { N: '1' } } }),
        /Index Key status .*IndexName: pending/,
      ],
      ['a Key that does not match the schema', () => new GetItemCommand({ TableName: 'events', Key: { id: { S: 'x' } } }), /does not match the schema/],
      [
        'an unused expression value',
        () =>
          new PutItemCommand({
            TableName: 'approvals',
            Item: { pk: { S: 'x' } },
            ConditionExpression: 'attribute_not_exists(pk)',
            ExpressionAttributeValues: { ':u': { S: 'u' } },
          }),
        /unused in expressions: keys: \{:u\}/,
      ],
      [
        'an undefined expression value',
        () => new PutItemCommand({ TableName: 'approvals', Item: { pk: { S: 'x' } }, ConditionExpression: 'pk = :nope' }),
        /attribute value: :nope/,
      ],
      [
        'an undefined attribute name',
        () => new PutItemCommand({ TableName: 'approvals', Item: { pk: { S: 'x' } }, ConditionExpression: 'attribute_exists(#n)' }),
        /attribute name: #n/,
      ],
      [
        'a syntax error',
        () => new PutItemCommand({ TableName: 'approvals', Item: { pk: { S: 'x' } }, ConditionExpression: 'pk = = pk' }),
        /Invalid ConditionExpression: Syntax error; token: "="/,
      ],
      [
        'an update of a key attribute',
        () =>
          new UpdateItemCommand({
            TableName: 'approvals',
            Key: { pk: { S: 'x' } },
            UpdateExpression: 'SET pk = :v',
            ExpressionAttributeValues: { ':v': { S: 'y' } },
          }),
        /Cannot update attribute pk/,
      ],
      ['an empty string key', () => new PutItemCommand({ TableName: 'approvals', Item: { pk: { S: '' } } }), /cannot contain an empty string value. Key: pk/],
    ])('rejects %s with ValidationException', async (_name, command, message) => {
      await expect(raw.send(command() as PutItemCommand)).rejects.toMatchObject({ name: 'ValidationException', message: expect.stringMatching(message) });
    });
  });

  describe('document client patterns', () => {
    it('optimistic locking: a conditional put/update with a version number rejects a stale writer', async () => {
      // Prepare
      await doc.send(
        new PutCommand({ TableName: 'approvals', Item: { pk: 'lock-1', version: 1, state: 'new' }, ConditionExpression: 'attribute_not_exists(pk)' }),
      );

      // Act
      const first = await doc.send(
        new UpdateCommand({
          TableName: 'approvals',
          Key: { pk: 'lock-1' },
          UpdateExpression: 'SET #s = :s, version = version + :one',
          ConditionExpression: 'version = :expected',
          ExpressionAttributeNames: { '#s': 'state' },
          ExpressionAttributeValues: { ':s': 'approved', ':one': 1, ':expected': 1 },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const stale = doc.send(
        new UpdateCommand({
          TableName: 'approvals',
          Key: { pk: 'lock-1' },
          UpdateExpression: 'SET #s = :s, version = version + :one',
          ConditionExpression: 'version = :expected',
          ExpressionAttributeNames: { '#s': 'state' },
          ExpressionAttributeValues: { ':s': 'rejected', ':one': 1, ':expected': 1 },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      const duplicate = doc.send(
        new PutCommand({ TableName: 'approvals', Item: { pk: 'lock-1', version: 1 }, ConditionExpression: 'attribute_not_exists(pk)' }),
      );

      // Assess
      expect(first.Attributes).toEqual({ pk: 'lock-1', version: 2, state: 'approved' });
      await expect(stale).rejects.toMatchObject({
        name: 'ConditionalCheckFailedException',
        message: 'The conditional request failed',
        Item: { version: { N: '2' } },
      });
      await expect(duplicate).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
      expect((await doc.send(new GetCommand({ TableName: 'approvals', Key: { pk: 'lock-1' } }))).Item).toEqual({ pk: 'lock-1', version: 2, state: 'approved' });
    });

    it('sparse GSI: only items with the index keys are listed, and leave when the attribute is removed', async () => {
      // Prepare
      for (const [pk, since] of [
        ['req-a', '2024-01-03'],
        ['req-b', '2024-01-01'],
        ['req-c', '2024-01-02'],
      ]) {
        await doc.send(new PutCommand({ TableName: 'approvals', Item: { pk, status: 'PENDING', pendingSince: since, payload: 'big' } }));
      }
      await doc.send(new PutCommand({ TableName: 'approvals', Item: { pk: 'req-d', status: 'PENDING', payload: 'no pendingSince' } }));
      await doc.send(
        new UpdateCommand({
          TableName: 'approvals',
          Key: { pk: 'req-c' },
          UpdateExpression: 'SET #s = :done REMOVE pendingSince',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':done': 'DONE' },
        }),
      );

      // Act
      const pending = await doc.send(
        new DocQuery({
          TableName: 'approvals',
          IndexName: 'pending',
          KeyConditionExpression: '#s = :p',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':p': 'PENDING' },
        }),
      );
      const newestFirst = await doc.send(
        new DocQuery({
          TableName: 'approvals',
          IndexName: 'pending',
          KeyConditionExpression: '#s = :p AND pendingSince < :t',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':p': 'PENDING', ':t': '2024-01-09' },
          ScanIndexForward: false,
        }),
      );

      // Assess: oldest first, keys only (KEYS_ONLY projection), req-d (no sort key) and req-c (removed) are absent
      expect(pending.Items).toEqual([
        { pk: 'req-b', status: 'PENDING', pendingSince: '2024-01-01' },
        { pk: 'req-a', status: 'PENDING', pendingSince: '2024-01-03' },
      ]);
      expect(newestFirst.Items?.map((i) => i.pk)).toEqual(['req-a', 'req-b']);
    });

    it('pages a GSI query with Limit and ExclusiveStartKey', async () => {
      const pages: string[][] = [];
      let start: Record<string, unknown> | undefined;
      do {
        const page = await doc.send(
          new DocQuery({
            TableName: 'approvals',
            IndexName: 'pending',
            KeyConditionExpression: '#s = :p',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: { ':p': 'PENDING' },
            Limit: 1,
            ExclusiveStartKey: start,
          }),
        );
        pages.push(page.Items!.map((i) => i.pk as string));
        start = page.LastEvaluatedKey;
        if (start) expect(Object.keys(start).sort()).toEqual(['pendingSince', 'pk', 'status']);
      } while (start);
      expect(pages).toEqual([['req-b'], ['req-a']]);
    });

    it('applies update expressions: if_not_exists, list_append, ADD, nested SET, list index, REMOVE', async () => {
      // Prepare
      await doc.send(
        new PutCommand({ TableName: 'approvals', Item: { pk: 'upd-1', counts: { sent: 1 }, log: ['created'], gone: 'x', items: ['a', 'b', 'c'] } }),
      );

      // Act
      const out = await doc.send(
        new UpdateCommand({
          TableName: 'approvals',
          Key: { pk: 'upd-1' },
          UpdateExpression:
            'SET firstSeen = if_not_exists(firstSeen, :now), log = list_append(log, :entry), counts.sent = counts.sent + :one, items[1] = :B REMOVE gone, items[0] ADD hits :one, labels :labels',
          ExpressionAttributeValues: { ':now': '2024-01-01', ':entry': ['approved'], ':one': 1, ':B': 'B', ':labels': new Set(['x', 'y']) },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const again = await doc.send(
        new UpdateCommand({
          TableName: 'approvals',
          Key: { pk: 'upd-1' },
          UpdateExpression: 'SET firstSeen = if_not_exists(firstSeen, :later) ADD hits :two DELETE labels :x',
          ExpressionAttributeValues: { ':later': '2099-01-01', ':two': 2, ':x': new Set(['x']) },
          ReturnValues: 'UPDATED_OLD',
        }),
      );

      // Assess: RHS values read the item as it was before the update (items[0] removed after items[1] set)
      expect(out.Attributes).toEqual({
        pk: 'upd-1',
        counts: { sent: 2 },
        log: ['created', 'approved'],
        items: ['B', 'c'],
        firstSeen: '2024-01-01',
        hits: 1,
        labels: new Set(['x', 'y']),
      });
      expect(again.Attributes).toEqual({ firstSeen: '2024-01-01', hits: 1, labels: new Set(['x', 'y']) });
      const after = (await doc.send(new GetCommand({ TableName: 'approvals', Key: { pk: 'upd-1' } }))).Item!;
      expect(after).toMatchObject({ hits: 3, labels: new Set(['y']), firstSeen: '2024-01-01' });
    });

    it('upserts with UpdateItem and adds decimals exactly', async () => {
      await doc.send(
        new UpdateCommand({ TableName: 'approvals', Key: { pk: 'money' }, UpdateExpression: 'ADD total :a', ExpressionAttributeValues: { ':a': 0.1 } }),
      );
      await doc.send(
        new UpdateCommand({ TableName: 'approvals', Key: { pk: 'money' }, UpdateExpression: 'ADD total :a', ExpressionAttributeValues: { ':a': 0.2 } }),
      );
      const item = await raw.send(new GetItemCommand({ TableName: 'approvals', Key: { pk: { S: 'money' } } }));
      expect(item.Item?.total).toEqual({ N: '0.3' });
    });

    it('rejects arithmetic on a missing attribute and nested SET under a missing parent', async () => {
      await expect(
        doc.send(
          new UpdateCommand({ TableName: 'approvals', Key: { pk: 'u-2' }, UpdateExpression: 'SET n = n + :one', ExpressionAttributeValues: { ':one': 1 } }),
        ),
      ).rejects.toMatchObject({
        name: 'ValidationException',
        message: expect.stringContaining('does not exist'),
      });
      await expect(doc.send(new UpdateCommand({ TableName: 'approvals', Key: { pk: 'u-2' }, UpdateExpression: 'SET copy = original' }))).rejects.toMatchObject({
        name: 'ValidationException',
        message: expect.stringContaining('does not exist'),
      });
      await expect(
        doc.send(
          new UpdateCommand({ TableName: 'approvals', Key: { pk: 'u-2' }, UpdateExpression: 'SET a.b = :one', ExpressionAttributeValues: { ':one': 1 } }),
        ),
      ).rejects.toMatchObject({
        name: 'ValidationException',
        message: expect.stringContaining('document path provided in the update expression is invalid'),
      });
    });
  });

  describe('queries and scans', () => {
    const q = (KeyConditionExpression: string, values: Record<string, unknown>, extra: object = {}) =>
      doc
        .send(new DocQuery({ TableName: 'events', KeyConditionExpression, ExpressionAttributeValues: values, ...extra }))
        .then((r) => r.Items!.map((i) => i.seq));

    it.each([
      ['partition only, ascending numerically', 'id = :id', {}, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]],
      ['sort key <', 'id = :id AND seq < :n', { ':n': 3 }, [1, 2]],
      ['sort key >=', 'id = :id AND seq >= :n', { ':n': 9 }, [9, 10]],
      ['sort key BETWEEN', 'id = :id AND seq BETWEEN :a AND :b', { ':a': 4, ':b': 6 }, [4, 5, 6]],
      ['sort key =, written first', 'seq = :n AND id = :id', { ':n': 7 }, [7]],
    ])('key condition: %s', async (_name, expr, values, expected) => {
      expect(await q(expr, { ':id': 'run-1', ...values })).toEqual(expected);
    });

    it('filters after the key condition with AND/OR/NOT, IN, size, contains and parentheses', async () => {
      const out = await doc.send(
        new DocQuery({
          TableName: 'events',
          KeyConditionExpression: 'id = :id',
          FilterExpression: '(kind = :odd AND NOT seq IN (:one, :three)) OR (contains(tags, :t10) AND size(tags) = :sz)',
          ExpressionAttributeValues: { ':id': 'run-1', ':odd': 'odd', ':one': 1, ':three': 3, ':t10': 't10', ':sz': 1 },
          ScanIndexForward: false,
        }),
      );
      expect(out.Items!.map((i) => i.seq)).toEqual([10, 9, 7, 5]);
      expect(out.ScannedCount).toBe(10);
      expect(out.Count).toBe(4);
    });

    it('Limit counts evaluated items, before the filter', async () => {
      const out = await doc.send(
        new DocQuery({
          TableName: 'events',
          KeyConditionExpression: 'id = :id',
          FilterExpression: 'kind = :e',
          ExpressionAttributeValues: { ':id': 'run-1', ':e': 'even' },
          Limit: 3,
        }),
      );
      expect(out.Items!.map((i) => i.seq)).toEqual([2]);
      expect(out.LastEvaluatedKey).toEqual({ id: 'run-1', seq: 3 });
    });

    it('begins_with on a string sort key and attribute functions in filters', async () => {
      // Prepare
      const out = await doc.send(
        new DocScan({
          TableName: 'events',
          FilterExpression: 'attribute_type(tags, :l) AND begins_with(id, :r) AND attribute_not_exists(nothing) AND kind <> :even',
          ExpressionAttributeValues: { ':l': 'L', ':r': 'run-', ':even': 'even' },
        }),
      );
      expect(out.Items!.map((i) => `${i.id}/${i.seq}`)).toEqual(['run-1/1', 'run-1/3', 'run-1/5', 'run-1/7', 'run-1/9']);
    });

    it('scans every item across pages', async () => {
      const seen: string[] = [];
      let start: Record<string, unknown> | undefined;
      do {
        const page = await doc.send(new DocScan({ TableName: 'events', Limit: 4, ExclusiveStartKey: start }));
        seen.push(...page.Items!.map((i) => `${i.id}/${i.seq}`));
        start = page.LastEvaluatedKey;
      } while (start);
      expect(seen).toHaveLength(11);
      expect(new Set(seen).size).toBe(11);
    });

    it('counts with Select COUNT', async () => {
      const out = await raw.send(
        new QueryCommand({ TableName: 'events', KeyConditionExpression: 'id = :id', ExpressionAttributeValues: { ':id': { S: 'run-2' } }, Select: 'COUNT' }),
      );
      expect(out).toMatchObject({ Count: 1, ScannedCount: 1 });
      expect(out.Items).toBeUndefined();
    });

    it.each([
      ['no partition key condition', 'seq = :n', { ':n': { N: '1' } }, /missed key schema element: id/],
      ['OR in a key condition', 'id = :id OR seq = :n', { ':id': { S: 'a' }, ':n': { N: '1' } }, /Invalid operator used in KeyConditionExpression: OR/],
      ['a non-key attribute', 'id = :id AND kind = :n', { ':id': { S: 'a' }, ':n': { S: 'odd' } }, /kind is not a key attribute/],
    ])('rejects a key condition with %s', async (_name, expr, values, message) => {
      await expect(raw.send(new QueryCommand({ TableName: 'events', KeyConditionExpression: expr, ExpressionAttributeValues: values }))).rejects.toMatchObject({
        name: 'ValidationException',
        message: expect.stringMatching(message),
      });
    });

    it('rejects an unknown index', async () => {
      await expect(raw.send(new ScanCommand({ TableName: 'events', IndexName: 'nope' }))).rejects.toMatchObject({
        name: 'ValidationException',
        message: expect.stringContaining('nope'),
      });
    });
  });

  describe('batches, TTL and persistence', () => {
    it('writes and reads in batches', async () => {
      await doc.send(
        new BatchWriteCommand({
          RequestItems: {
            approvals: [{ PutRequest: { Item: { pk: 'b-1' } } }, { PutRequest: { Item: { pk: 'b-2' } } }, { DeleteRequest: { Key: { pk: 'b-1' } } }],
          },
        }),
      );
      const out = await doc.send(new BatchGetCommand({ RequestItems: { approvals: { Keys: [{ pk: 'b-1' }, { pk: 'b-2' }] } } }));
      expect(out.Responses?.approvals).toEqual([{ pk: 'b-2' }]);
    });

    it('drops items whose TTL has passed on the virtual clock', async () => {
      const now = Math.floor(clock.nowMs() / 1000);
      await doc.send(new PutCommand({ TableName: 'approvals', Item: { pk: 'ttl-old', expiresAt: now - 10 } }));
      await doc.send(new PutCommand({ TableName: 'approvals', Item: { pk: 'ttl-new', expiresAt: now + 3600 } }));
      expect((await doc.send(new GetCommand({ TableName: 'approvals', Key: { pk: 'ttl-old' } }))).Item).toBeUndefined();
      expect((await doc.send(new GetCommand({ TableName: 'approvals', Key: { pk: 'ttl-new' } }))).Item).toBeDefined();
    });

    it('reloads tables from the state directory', async () => {
      // Act
      const restarted = new DynamoDbService({ state, clock });
      restarted.addTable(EVENTS);
      const response = await restarted.handle({
        method: 'POST',
        path: '/',
        query: new URLSearchParams(),
        headers: {},
        body: Buffer.from(JSON.stringify({ TableName: 'events', Key: { id: { S: 'run-1' }, seq: { N: '10' } } })),
        service: 'dynamodb',
        target: 'DynamoDB_20120810.GetItem',
        accessKeyId: 'AKIDLOCAL',
      });

      // Assess
      expect(JSON.parse(String(response.body)).Item).toMatchObject({ id: { S: 'run-1' }, seq: { N: '10' }, kind: { S: 'even' } });
    });
  });
});
