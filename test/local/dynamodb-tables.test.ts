/**
 * Tables an app creates at run time: CreateTable and DeleteTable through the real @aws-sdk/client-dynamodb, with
 * the CREATING → ACTIVE and DELETING statuses on a manual virtual clock, AWS's errors, and created tables kept
 * across a restart.
 */
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
  ResourceInUseException,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoDbService, TABLE_TRANSITION_MS } from '../../local/services/dynamodb/service';
import { serveOne } from './one-service';

const s = serveOne({
  prefix: 'ddb-tables',
  service: (state, clock) => ({ handler: new DynamoDbService({ state, clock }) }),
  client: (config) => new DynamoDBClient(config),
});
const clock = s.clock;

const create = (name: string) =>
  s.client.send(
    new CreateTableCommand({
      TableName: name,
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
const status = async (name: string) => (await s.client.send(new DescribeTableCommand({ TableName: name }))).Table!.TableStatus;
const put = (name: string) => s.client.send(new PutItemCommand({ TableName: name, Item: { id: { S: 'a' } } }));

describe('DynamoDB tables created at run time', () => {
  it('is CREATING, refuses items and deletion until ACTIVE, and refuses a second table of the same name', async () => {
    // Act
    const created = await create('jobs');
    const listed = await s.client.send(new ListTablesCommand({}));
    const describedEarly = await status('jobs');
    const earlyPut = await put('jobs').catch((e: Error) => e);
    const earlyDelete = await s.client.send(new DeleteTableCommand({ TableName: 'jobs' })).catch((e: Error) => e);
    const again = await create('jobs').catch((e: Error) => e);
    await clock.advance(TABLE_TRANSITION_MS);
    const describedLater = await status('jobs');
    await put('jobs');

    // Assess
    expect(created.TableDescription).toMatchObject({
      TableName: 'jobs',
      TableStatus: 'CREATING',
      TableArn: 'arn:aws:dynamodb:us-east-1:000000000000:table/jobs',
      BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' },
    });
    expect(listed.TableNames).toContain('jobs');
    expect(describedEarly).toBe('CREATING');
    expect(earlyPut).toBeInstanceOf(ResourceNotFoundException);
    expect(earlyDelete).toBeInstanceOf(ResourceInUseException);
    expect((earlyDelete as Error).message).toBe('Attempt to change a resource which is still in use: Table is being created: jobs');
    expect(again).toBeInstanceOf(ResourceInUseException);
    expect((again as Error).message).toBe('Table already exists: jobs');
    expect(describedLater).toBe('ACTIVE');
  });

  it('is DELETING after DeleteTable, then gone with its items; a new table of that name starts empty', async () => {
    // Prepare
    await create('scratch');
    await clock.advance(TABLE_TRANSITION_MS);
    await put('scratch');

    // Act
    const deleted = await s.client.send(new DeleteTableCommand({ TableName: 'scratch' }));
    const twice = await s.client.send(new DeleteTableCommand({ TableName: 'scratch' }));
    const whileDeleting = await status('scratch');
    await clock.advance(TABLE_TRANSITION_MS);
    const gone = await status('scratch').catch((e: Error) => e);
    const deleteGone = await s.client.send(new DeleteTableCommand({ TableName: 'scratch' })).catch((e: Error) => e);
    await create('scratch');
    await clock.advance(TABLE_TRANSITION_MS);
    const fresh = await s.client.send(new GetItemCommand({ TableName: 'scratch', Key: { id: { S: 'a' } } }));

    // Assess
    expect(deleted.TableDescription!.TableStatus).toBe('DELETING');
    expect(twice.TableDescription!.TableStatus).toBe('DELETING');
    expect(whileDeleting).toBe('DELETING');
    expect(gone).toBeInstanceOf(ResourceNotFoundException);
    expect(deleteGone).toBeInstanceOf(ResourceNotFoundException);
    expect(fresh.Item).toBeUndefined();
  });

  it('refuses unused attribute definitions and a provisioned table without throughput, naming the problem', async () => {
    // Act
    const unused = await s.client
      .send(
        new CreateTableCommand({
          TableName: 'bad',
          KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
          AttributeDefinitions: [
            { AttributeName: 'id', AttributeType: 'S' },
            { AttributeName: 'extra', AttributeType: 'S' },
          ],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      )
      .catch((e: Error) => e);
    const provisioned = await s.client
      .send(
        new CreateTableCommand({
          TableName: 'bad',
          KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        }),
      )
      .catch((e: Error) => e);

    // Assess
    expect(unused).toMatchObject({ name: 'ValidationException', message: expect.stringMatching(/Some AttributeDefinitions are not used/) });
    expect(provisioned).toMatchObject({
      name: 'ValidationException',
      message: expect.stringMatching(/ReadCapacityUnits and WriteCapacityUnits must both be specified/),
    });
  });

  it('keeps created tables and their items across a restart', async () => {
    // Prepare
    await create('kept');
    await clock.advance(TABLE_TRANSITION_MS);
    await put('kept');

    // Act
    await s.restart();
    const item = await s.client.send(new GetItemCommand({ TableName: 'kept', Key: { id: { S: 'a' } } }));

    // Assess
    expect(await status('kept')).toBe('ACTIVE');
    expect(item.Item).toEqual({ id: { S: 'a' } });
  });
});
