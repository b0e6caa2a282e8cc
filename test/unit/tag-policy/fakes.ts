/** Test doubles for the tag-policy cores: the run table in memory, a recording logger, and policy/instance builders. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, BatchWriteCommand, DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { CreatorIndex, CreatorRecord } from '../../../tasks/tag-policy/core/creator';
import type { GraceRecord } from '../../../tasks/tag-policy/core/grace';
import { parsePolicy } from '../../../tasks/tag-policy/core/policy';
import { DynamoRunStore, type StoredFinding } from '../../../tasks/tag-policy/core/store';
import type { InstanceFacts, Policy, Run } from '../../../tasks/tag-policy/core/types';
import type { Log } from '../../../tasks/shared/logger';
import deployed from '../../../tag-policy.json';

/**
 * The workflow's table in memory, behind the real `DynamoRunStore` (as test/unit/ec2 and test/unit/approval fake
 * their tables): a mocked DynamoDBDocumentClient answers BatchGetItem, BatchWriteItem and Query (in pages of
 * `Limit`, so callers must follow the cursor) from `items`, so the store's own keys, batching and paging are
 * what the cores' tests run. The getters are read-only views of the items for assertions.
 */
export class MemoryStore extends DynamoRunStore {
  /** Items by `pk|sk`. */
  readonly items = new Map<string, Record<string, any>>();
  /** Index writes, in order (the walk's saved progress). */
  readonly indexWrites: CreatorIndex[] = [];

  constructor(now: () => Date = () => new Date('2025-03-01T00:00:00Z')) {
    const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
    super(doc, TABLE, now);
    const items = this.items;
    const key = (k: Record<string, unknown>) => `${k.pk}|${k.sk}`;
    const mock = mockClient(doc);
    mock.on(BatchGetCommand).callsFake((input) => {
      const keys = input.RequestItems[TABLE].Keys as Record<string, unknown>[];
      if (keys.length > 100) throw new Error('BatchGetItem takes at most 100 keys');
      return {
        Responses: {
          [TABLE]: keys
            .map((k) => items.get(key(k)))
            .filter(Boolean)
            .map((i) => structuredClone(i)),
        },
      };
    });
    mock.on(BatchWriteCommand).callsFake((input) => {
      const requests = input.RequestItems[TABLE] as Array<{ PutRequest?: { Item: Record<string, any> }; DeleteRequest?: { Key: Record<string, unknown> } }>;
      if (requests.length > 25) throw new Error('BatchWriteItem takes at most 25 requests');
      for (const r of requests) {
        if (r.PutRequest) {
          items.set(key(r.PutRequest.Item), structuredClone(r.PutRequest.Item));
          if (r.PutRequest.Item.pk === 'creators') this.indexWrites.push(structuredClone(r.PutRequest.Item.index));
        } else if (r.DeleteRequest) items.delete(key(r.DeleteRequest.Key));
      }
      return {};
    });
    mock.on(QueryCommand).callsFake((input) => {
      const pk = input.ExpressionAttributeValues[':pk'];
      const all = [...items.values()].filter((i) => i.pk === pk).sort((a, b) => String(a.sk).localeCompare(String(b.sk)));
      const start = input.ExclusiveStartKey ? all.findIndex((i) => i.sk === input.ExclusiveStartKey.sk) + 1 : 0;
      const page = all.slice(start, start + (input.Limit ?? all.length));
      return { Items: structuredClone(page), LastEvaluatedKey: start + page.length < all.length ? { pk, sk: page.at(-1)!.sk } : undefined };
    });
  }

  private of(prefix: string): Array<Record<string, any>> {
    return [...this.items.values()].filter((i) => String(i.pk).startsWith(prefix));
  }

  /** Findings by run and instance. */
  get runs(): ReadonlyMap<string, ReadonlyMap<string, StoredFinding>> {
    const runs = new Map<string, Map<string, StoredFinding>>();
    for (const i of this.of('run#')) {
      const runId = String(i.pk).slice('run#'.length);
      runs.set(runId, (runs.get(runId) ?? new Map()).set(i.sk, i.finding));
    }
    return runs;
  }

  get grace(): ReadonlyMap<string, GraceRecord> {
    return new Map(this.of('grace#').map((i) => [i.record.instanceId, i.record as GraceRecord]));
  }

  get creators(): ReadonlyMap<string, CreatorRecord> {
    return new Map(this.of('creator#').map((i) => [i.instanceId, { instanceId: i.instanceId, creator: i.creator, launchedAt: i.launchedAt } as CreatorRecord]));
  }

  get index(): CreatorIndex {
    return (this.items.get('creators|index')?.index as CreatorIndex | undefined) ?? {};
  }

  finding(runId: string, id: string): StoredFinding | undefined {
    return this.items.get(`run#${runId}|${id}`)?.finding;
  }
}

const TABLE = 'tag-policy';

export const silentLog = (): Log & { lines: unknown[] } => {
  const lines: unknown[] = [];
  return { lines, info: (m, a) => lines.push([m, a]), warn: (m, a) => lines.push([m, a]), error: (m, a) => lines.push([m, a]) };
};

/** The repository's policy, optionally changed. */
export function policyWith(changes: Record<string, unknown> = {}): Policy {
  return parsePolicy({ ...deployed, ...changes });
}

export function run(changes: Partial<Run> = {}): Run {
  return { id: 'run-1', mode: 'scan', dryRun: false, settleSeconds: 0, policy: policyWith(), startedAt: '2025-03-01T00:00:00.000Z', ...changes };
}

export const GOOD_TAGS = { Owner: 'alice@example.com', CostCenter: 'CC-1001', Environment: 'prod' };

export function instance(id: string, tags: Record<string, string>, state = 'running'): InstanceFacts {
  return { instanceId: id, state, launchTime: '2025-02-01T10:00:00.000Z', tags };
}
