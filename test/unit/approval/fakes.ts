/**
 * Test doubles shared by the approval core tests: an in-memory approval table behind a mocked
 * DynamoDBDocumentClient (honouring the two condition expressions the store uses, paginating queries),
 * a recording logger, and a record builder with known link secrets.
 */
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { CustomMatcher } from 'aws-sdk-client-mock-vitest';
import { hashSecret, requestId } from '../../../tasks/approval/core/links';
import { ApprovalStore } from '../../../tasks/approval/core/store';
import type { ApprovalRecord } from '../../../tasks/approval/core/types';
import type { Log } from '../../../tasks/shared/logger';

type Item = Record<string, unknown>;

export class FakeTable {
  readonly items = new Map<string, Item>();
  readonly store: ApprovalStore;
  /** Runs before each conditional put is evaluated: lets a test slip in a concurrent write. */
  beforePut?: (item: Item) => void;

  /** The mocked DynamoDBDocumentClient, for asserting on the commands sent. */
  readonly mock = mockClient(DynamoDBDocumentClient);

  constructor(private readonly pageSize = 2) {
    const mock = this.mock;
    mock.on(GetCommand).callsFake((input) => {
      const item = this.items.get(input.Key.id);
      return { Item: item && structuredClone(item) };
    });
    mock.on(PutCommand).callsFake((input) => this.put(input));
    mock.on(QueryCommand).callsFake((input) => this.query(input));
    this.store = new ApprovalStore(DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })), 'approvals');
  }

  record(id: string): ApprovalRecord {
    const item = this.items.get(id);
    if (!item) throw new Error(`no record ${id}`);
    return structuredClone(item) as unknown as ApprovalRecord;
  }

  insert(record: ApprovalRecord): void {
    const { pending, ...rest } = record;
    this.items.set(record.id, structuredClone(pending ? { ...rest, pending } : rest) as Item);
  }

  private put(input: { Item: Item; ConditionExpression?: string; ExpressionAttributeValues?: Item }) {
    this.beforePut?.(input.Item);
    const current = this.items.get(input.Item.id as string);
    const condition = input.ConditionExpression;
    const failed =
      condition === 'attribute_not_exists(id)'
        ? current !== undefined
        : condition === '#version = :expected'
          ? current?.version !== input.ExpressionAttributeValues?.[':expected']
          : condition !== undefined;
    if (failed) throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
    this.items.set(input.Item.id as string, structuredClone(input.Item));
    return {};
  }

  private query(input: { IndexName?: string; ExclusiveStartKey?: Item }) {
    if (input.IndexName !== 'pending') throw new Error(`unexpected index ${input.IndexName}`);
    const ids = [...this.items.values()]
      .filter((i) => i.pending === 'yes')
      .map((i) => i.id as string)
      .sort();
    const start = input.ExclusiveStartKey ? ids.indexOf(input.ExclusiveStartKey.id as string) + 1 : 0;
    const page = ids.slice(start, start + this.pageSize);
    const more = start + this.pageSize < ids.length;
    return {
      Items: page.map((id) => ({ id, pending: 'yes' })),
      LastEvaluatedKey: more ? { id: page[page.length - 1], pending: 'yes' } : undefined,
    };
  }
}

export interface LogLine {
  level: string;
  message: string;
  attributes: Record<string, unknown>;
}

export function recordingLog(): Log & { lines: LogLine[]; text(): string } {
  const lines: LogLine[] = [];
  const at = (level: string) => (message: string, attributes: Record<string, unknown>) => {
    lines.push({ level, message, attributes });
  };
  return { lines, info: at('info'), warn: at('warn'), error: at('error'), text: () => JSON.stringify(lines) };
}

export const NOW = new Date('2030-01-01T10:00:00.000Z');
export const EXECUTION = 'arn:aws:states:us-east-1:000000000000:execution:Approval:run-1';
export const TOKEN = 'TASK-TOKEN-super-secret-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
export const LINK_BASE = 'https://approve.example.com';

/** Link secrets of the approvers `pendingRecord` creates, by email (43 base64url characters each). */
export const SECRETS: Record<string, string> = {
  'alice@example.com': `${'A'.repeat(42)}a`,
  'bob@example.com': `${'B'.repeat(42)}b`,
  'carol@example.com': `${'C'.repeat(42)}c`,
};

export function refFor(record: ApprovalRecord, email: string): string {
  return `${record.id}.${SECRETS[email]}`;
}

/** A pending request, created an hour before NOW, with a deadline a day after creation. */
export function pendingRecord(overrides: Partial<ApprovalRecord> = {}): ApprovalRecord {
  const approvers = ['alice@example.com', 'bob@example.com'];
  return {
    id: requestId(EXECUTION),
    executionArn: EXECUTION,
    token: TOKEN,
    tokenAt: '2030-01-01T09:00:00.000Z',
    title: 'Stop i-0123 in prod',
    details: { instance: 'i-0123', reason: 'cost' },
    requestedBy: 'ops@example.com',
    quorum: 1,
    createdAt: '2030-01-01T09:00:00.000Z',
    deadline: '2030-01-02T09:00:00.000Z',
    nextReminderAt: '2030-01-01T13:00:00.000Z',
    escalateAt: null,
    escalated: false,
    approvers: approvers.map((email) => ({
      email,
      secretHashes: [hashSecret(SECRETS[email])],
      role: 'approver' as const,
      notifiedAt: '2030-01-01T09:00:01.000Z',
      remindedAt: null,
    })),
    votes: [],
    status: 'pending',
    decision: null,
    delivered: false,
    pending: 'yes',
    version: 1,
    ...overrides,
  };
}

// test/setup.ts registers the aws-sdk-client-mock-vitest matchers at run time, but its type augmentation
// targets vitest's ESM typings; these CommonJS test files see vitest through its .d.cts entry, so the
// matchers are declared again here for the type checker.
declare module '@vitest/expect' {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any, @typescript-eslint/no-empty-object-type
  interface Assertion<T = any> extends CustomMatcher<T> {}
}
