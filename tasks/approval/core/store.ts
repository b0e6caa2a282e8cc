/**
 * The approval table: one item per request, written whole (PutItem) under optimistic concurrency.
 * Creates are conditional on `attribute_not_exists(id)`, updates on the version that was read; a lost race
 * re-reads and re-applies the change (the mutation is a pure function of the current record).
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { ApprovalRecord } from './types';

export const PENDING_INDEX = 'pending';
const ATTEMPTS = 3;

export class ConcurrentUpdateError extends Error {
  name = 'ConcurrentUpdateError';
  constructor(id: string, attempts = ATTEMPTS) {
    super(`approval ${id} kept changing under ${attempts} attempts to update it`);
  }
}

export class RecordNotFoundError extends Error {
  name = 'RecordNotFoundError';
  constructor(id: string) {
    super(`approval ${id} does not exist`);
  }
}

/**
 * A mutation returns the changed record, or undefined when nothing needs writing (the record already has
 * the wanted state, or the change no longer applies).
 */
export type Mutation = (current: ApprovalRecord) => ApprovalRecord | undefined;

export class ApprovalStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(id: string): Promise<ApprovalRecord | undefined> {
    const { Item } = await this.ddb.send(new GetCommand({ TableName: this.tableName, Key: { id }, ConsistentRead: true }));
    return Item as ApprovalRecord | undefined;
  }

  /** Stores a new record; returns false when one with that id already exists. */
  async create(record: ApprovalRecord): Promise<boolean> {
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.tableName,
          Item: toItem({ ...record, version: 1 }),
          ConditionExpression: 'attribute_not_exists(id)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  /**
   * Applies `mutate` to the current record and writes it, re-reading and re-applying when another writer
   * got there first. Returns the record as stored afterwards.
   */
  async update(id: string, mutate: Mutation, options: { attempts?: number } = {}): Promise<ApprovalRecord> {
    const attempts = options.attempts ?? ATTEMPTS;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const current = await this.get(id);
      if (!current) throw new RecordNotFoundError(id);
      const next = mutate(structuredClone(current));
      if (!next) return current;
      const written = { ...next, version: current.version + 1 };
      try {
        await this.ddb.send(
          new PutCommand({
            TableName: this.tableName,
            Item: toItem(written),
            ConditionExpression: '#version = :expected',
            ExpressionAttributeNames: { '#version': 'version' },
            ExpressionAttributeValues: { ':expected': current.version },
          }),
        );
        return written;
      } catch (error) {
        if (!isConditionFailed(error)) throw error;
      }
    }
    throw new ConcurrentUpdateError(id, attempts);
  }

  /** Ids of the records that need the sweep's attention (the sparse `pending` index, every page). */
  async *pendingIds(): AsyncGenerator<string> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.ddb.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: PENDING_INDEX,
          KeyConditionExpression: '#pending = :yes',
          ExpressionAttributeNames: { '#pending': 'pending' },
          ExpressionAttributeValues: { ':yes': 'yes' },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) yield item.id as string;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }
}

/** The item as written: `pending` only when set (the index is sparse), TTL from the deadline. */
function toItem(record: ApprovalRecord): Record<string, unknown> {
  const { pending, ...rest } = record;
  const expiresAt = Math.floor(Date.parse(record.deadline) / 1000) + 30 * 24 * 3600;
  return pending === 'yes' ? { ...rest, expiresAt, pending } : { ...rest, expiresAt };
}

function isConditionFailed(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}
