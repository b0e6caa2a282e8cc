/**
 * DynamoDB cuts Query and Scan pages at 1 MB of data read, before any filter applies, and answers
 * LastEvaluatedKey (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Scan.html,
 * https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Query.html). The app's stores that read
 * run data page by page must therefore loop on LastEvaluatedKey even without a Limit: shown here with the
 * real store classes over more than 1 MB.
 */
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, QueryCommand, ScanCommand as DocScan } from '@aws-sdk/lib-dynamodb';
import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock, StateDir } from '../../local/kernel';
import { DYNAMODB_PAGE_BYTES, dynamoItemSize } from '../../local/rules/quotas';
import { createServer, listen } from '../../local/server';
import { DynamoDbService, type TableDefinition } from '../../local/services/dynamodb/service';
import { Ec2Store } from '../../tasks/ec2-schedule/core/store';
import { DynamoRunStore, type StoredFinding } from '../../tasks/tag-policy/core/store';

const TABLE: TableDefinition = {
  name: 'pages',
  keySchema: [
    { AttributeName: 'pk', KeyType: 'HASH' },
    { AttributeName: 'sk', KeyType: 'RANGE' },
  ],
  attributeDefinitions: [
    { AttributeName: 'pk', AttributeType: 'S' },
    { AttributeName: 'sk', AttributeType: 'S' },
  ],
};
// 30 items of about 50 KB: 1.5 MB in one partition.
const PAD = 'x'.repeat(50_000);
const ITEMS = 30;

describe('DynamoDB Query and Scan pages stop at 1 MB', () => {
  let server: Server;
  let offServer: Server;
  let doc: DynamoDBDocumentClient;
  let offDoc: DynamoDBDocumentClient;
  const clients: DynamoDBClient[] = [];

  async function serve(pageBytes: number | undefined): Promise<[Server, DynamoDBDocumentClient]> {
    const service = new DynamoDbService({ state: new StateDir(mkdtempSync(join(tmpdir(), 'opsflow-ddb-pages-'))), clock: new Clock({}), pageBytes });
    service.addTable(TABLE);
    const s = createServer([service], async () => ({ status: 404, body: '' }));
    const port = await listen(s, 0);
    const raw = new DynamoDBClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    clients.push(raw);
    const d = DynamoDBDocumentClient.from(raw);
    for (let i = 0; i < ITEMS; i += 25) {
      const items = Array.from({ length: Math.min(25, ITEMS - i) }, (_, j) => ({
        PutRequest: { Item: { pk: 'big', sk: String(i + j).padStart(3, '0'), pad: PAD } },
      }));
      await d.send(new BatchWriteCommand({ RequestItems: { pages: items } }));
    }
    return [s, d];
  }

  beforeAll(async () => {
    [server, doc] = await serve(DYNAMODB_PAGE_BYTES);
    [offServer, offDoc] = await serve(undefined);
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await Promise.all([server, offServer].map((s) => new Promise((done) => s?.close(done))));
  });

  const itemBytes = dynamoItemSize({ pk: { S: 'big' }, sk: { S: '000' }, pad: { S: PAD } });
  // The page ends with the item that takes it past 1 MB.
  const firstPage = Math.floor(DYNAMODB_PAGE_BYTES / itemBytes) + 1;

  it('a Scan over 1.5 MB answers several pages, each ending with LastEvaluatedKey, and every item once', async () => {
    const pages: number[] = [];
    const seen: string[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await doc.send(new DocScan({ TableName: 'pages', ExclusiveStartKey: start }));
      pages.push(page.Items!.length);
      seen.push(...page.Items!.map((i) => i.sk as string));
      start = page.LastEvaluatedKey;
    } while (start);
    expect(pages).toEqual([firstPage, ITEMS - firstPage]);
    expect(seen).toEqual(Array.from({ length: ITEMS }, (_, i) => String(i).padStart(3, '0')));
  });

  it('the cut counts data read, before the filter: a filter matching nothing still gets a LastEvaluatedKey', async () => {
    const page = await doc.send(new DocScan({ TableName: 'pages', FilterExpression: 'sk = :none', ExpressionAttributeValues: { ':none': 'none' } }));
    expect(page).toMatchObject({ Count: 0, ScannedCount: firstPage, Items: [] });
    expect(page.LastEvaluatedKey).toEqual({ pk: 'big', sk: String(firstPage - 1).padStart(3, '0') });
  });

  it('a projection does not change what is read: the page is cut at the same item', async () => {
    const page = await doc.send(new DocScan({ TableName: 'pages', ProjectionExpression: 'sk' }));
    expect(page.Items).toHaveLength(firstPage);
    expect(page.LastEvaluatedKey).toBeDefined();
  });

  it('a Query is cut the same way; a smaller Limit still wins', async () => {
    const q = (extra: object) =>
      doc.send(new QueryCommand({ TableName: 'pages', KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'big' }, ...extra }));
    expect((await q({})).Items).toHaveLength(firstPage);
    expect((await q({ ScanIndexForward: false })).Items![0].sk).toBe(String(ITEMS - 1).padStart(3, '0'));
    const limited = await q({ Limit: 3 });
    expect(limited.Items).toHaveLength(3);
    expect(limited.LastEvaluatedKey).toEqual({ pk: 'big', sk: '002' });
  });

  it('with quotas relaxed (OPSFLOW_QUOTAS=off) one page holds everything, unlike on AWS', async () => {
    const page = await offDoc.send(new DocScan({ TableName: 'pages' }));
    expect(page.Items).toHaveLength(ITEMS);
    expect(page.LastEvaluatedKey).toBeUndefined();
  });

  it('raw Scan with Select COUNT pages too', async () => {
    const raw = clients[0];
    const page = await raw.send(new ScanCommand({ TableName: 'pages', Select: 'COUNT' }));
    expect(page).toMatchObject({ Count: firstPage, ScannedCount: firstPage });
    expect(page.LastEvaluatedKey).toBeDefined();
  });

  describe("the app's stores read every page", () => {
    it('Ec2Schedule: loadRun returns every stored entry of a run larger than 1 MB', async () => {
      const store = new Ec2Store(doc, 'pages');
      const entry = (n: number) => ({
        instanceId: `i-${String(n).padStart(17, '0')}`,
        name: 'n'.repeat(200),
        from: 'running',
        to: 'stopped',
        outcome: 'skipped' as const,
        kind: 'ec2' as const,
        reason: 'r'.repeat(300),
      });
      // 24 items of 100 entries of about 600 bytes: about 1.4 MB in the run partition.
      for (let i = 0; i < 24; i++)
        await store.putEntries(
          'large',
          i,
          Array.from({ length: 100 }, (_, j) => entry(i * 100 + j)),
        );
      const { entries } = await store.loadRun('large');
      expect(entries).toHaveLength(2400);
      expect(new Set(entries.map((e) => e.instanceId)).size).toBe(2400);
    });

    it('TagPolicy: the findings cursor continues past a 1 MB page even when the page holds fewer than the Limit', async () => {
      const store = new DynamoRunStore(doc, 'pages', () => new Date('2026-01-01T00:00:00Z'));
      const findings: StoredFinding[] = Array.from(
        { length: 300 },
        (_, i) =>
          ({
            instanceId: `i-${String(i).padStart(17, '0')}`,
            tags: { Owner: 'o'.repeat(5_000) },
            violations: [],
            actions: [],
          }) as unknown as StoredFinding,
      );
      await store.putFindings('wide', findings);
      const pages: number[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.findings('wide', cursor, 500);
        pages.push(page.items.length);
        cursor = page.cursor;
      } while (cursor);
      expect(pages.length).toBeGreaterThan(1);
      expect(pages[0]).toBeLessThan(500);
      expect(pages.reduce((a, b) => a + b, 0)).toBe(300);
    });
  });
});
