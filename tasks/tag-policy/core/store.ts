/**
 * The workflow's table: the findings of each run (so the fleet never travels through the state payload, whose
 * limit is 256 KiB) and the grace records. One table, two kinds of items:
 * - `pk = run#<runId>`, `sk = <instanceId>`: a finding with the tags to write and the destructive action due;
 *   expires 30 days after the run (TTL).
 * - `pk = grace#<instanceId>`, `sk = grace`: when a destructive violation was first seen.
 * - `pk = creator#<instanceId>`, `sk = creator`: who launched the instance (its RunInstances event); an instance's
 *   creator never changes, so the entry is kept for a year (TTL), past CloudTrail's 90 days of history.
 * - `pk = creators`, `sk = index`: how far CloudTrail's RunInstances history has been read into those entries, and
 *   the walk in progress (core/creator.ts).
 * Reads are BatchGetItem and writes BatchWriteItem only, so the Evaluate role needs no other table action.
 *
 * With config `targets` (issue 23) an instance is named by its account and region too: a finding's `sk`, and the
 * grace and creator keys, are `<account>/<region>/<instanceId>` (`at(target)` gives the store of one target), and each
 * target has its own creator index (`sk = index#<account>/<region>`): CloudTrail's history is per account and region.
 * Without `targets` the keys are the instance id alone, as they always were.
 */
import { BatchGetCommand, BatchWriteCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { boundReason } from '../../shared/reasons';
import type { CreatorIndex, CreatorRecord, CreatorStore } from './creator';
import type { GraceRecord } from './grace';
import { type Target, targetName } from '../../shared/targets';
import type { Finding, Where } from './types';

export interface StoredFinding extends Finding {
  /** Tags to write (tag phase). */
  tags: Record<string, string>;
  /** Destructive action due (destructive phase). */
  destructive?: 'stop' | 'terminate';
}

export interface FindingsPage {
  items: StoredFinding[];
  /** Opaque; undefined on the last page. */
  cursor?: string;
}

/** What the tasks need from storage; tests use an in-memory implementation. */
export interface RunStore extends CreatorStore {
  putFindings(runId: string, findings: StoredFinding[]): Promise<void>;
  findings(runId: string, cursor: string | undefined, limit: number): Promise<FindingsPage>;
  getGrace(instanceIds: string[]): Promise<Map<string, GraceRecord>>;
  putGrace(records: GraceRecord[]): Promise<void>;
  deleteGrace(instanceIds: string[]): Promise<void>;
  /** The store of one target's instances (grace and creator keys, creator index); `undefined`: this one. */
  at(target: Target | undefined): RunStore;
}

/** A finding's sort key: its instance id, prefixed with `<account>/<region>/` when it is in a target. */
export const findingKey = (f: Where & { instanceId: string }) => (f.account && f.region ? `${f.account}/${f.region}/${f.instanceId}` : f.instanceId);

const FINDING_TTL_SECONDS = 30 * 86_400;
const CREATOR_TTL_SECONDS = 365 * 86_400;
const INDEX_KEY = { pk: 'creators', sk: 'index' };
const WRITE_BATCH = 25;
const READ_BATCH = 100;

export class DynamoRunStore implements RunStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly now: () => Date,
    /** `<account>/<region>/` of the target this store is for; '' without targets. */
    private readonly prefix = '',
  ) {}

  at(target: Target | undefined): RunStore {
    return target ? new DynamoRunStore(this.db, this.table, this.now, `${targetName(target)}/`) : this;
  }

  private get indexKey() {
    return this.prefix ? { pk: INDEX_KEY.pk, sk: `${INDEX_KEY.sk}#${this.prefix.slice(0, -1)}` } : INDEX_KEY;
  }

  /**
   * One item per finding. Reasons and messages carry AWS's error text (an UnauthorizedOperation appends an encoded
   * message of up to 10,240 characters): each is stored bounded (tasks/shared/reasons.ts), so a finding, at most one
   * action per policy rule, stays far below DynamoDB's 400 KB item size.
   */
  async putFindings(runId: string, findings: StoredFinding[]): Promise<void> {
    const expiresAt = Math.floor(this.now().getTime() / 1000) + FINDING_TTL_SECONDS;
    await this.write(findings.map((f) => ({ PutRequest: { Item: { pk: `run#${runId}`, sk: findingKey(f), finding: bounded(f), expiresAt } } })));
  }

  async findings(runId: string, cursor: string | undefined, limit: number): Promise<FindingsPage> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `run#${runId}` },
        Limit: limit,
        ExclusiveStartKey: cursor === undefined ? undefined : JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')),
      }),
    );
    const next = out.LastEvaluatedKey ? Buffer.from(JSON.stringify(out.LastEvaluatedKey)).toString('base64url') : undefined;
    return { items: (out.Items ?? []).map((i) => i.finding as StoredFinding), cursor: next };
  }

  async getGrace(instanceIds: string[]): Promise<Map<string, GraceRecord>> {
    const found = new Map<string, GraceRecord>();
    for (const item of await this.batchGet(instanceIds.map((id) => ({ pk: `grace#${this.prefix}${id}`, sk: 'grace' }))))
      found.set(item.record.instanceId, item.record as GraceRecord);
    return found;
  }

  async getCreators(instanceIds: string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for (const item of await this.batchGet([...new Set(instanceIds)].map((id) => ({ pk: `creator#${this.prefix}${id}`, sk: 'creator' }))))
      found.set(item.instanceId, item.creator);
    return found;
  }

  async putCreators(records: CreatorRecord[]): Promise<void> {
    const expiresAt = Math.floor(this.now().getTime() / 1000) + CREATOR_TTL_SECONDS;
    const unique = new Map(records.map((r) => [r.instanceId, r]));
    await this.write(
      [...unique.values()].map((r) => ({
        PutRequest: {
          Item: {
            pk: `creator#${this.prefix}${r.instanceId}`,
            sk: 'creator',
            instanceId: r.instanceId,
            creator: r.creator,
            launchedAt: r.launchedAt,
            expiresAt,
          },
        },
      })),
    );
  }

  async getCreatorIndex(): Promise<CreatorIndex> {
    const [item] = await this.batchGet([this.indexKey]);
    return (item?.index as CreatorIndex | undefined) ?? {};
  }

  async putCreatorIndex(index: CreatorIndex): Promise<void> {
    await this.write([{ PutRequest: { Item: { ...this.indexKey, index } } }]);
  }

  /** BatchGetItem in chunks of 100, asking again for UnprocessedKeys (how DynamoDB sheds load). */
  private async batchGet(allKeys: Record<string, unknown>[]): Promise<Record<string, any>[]> {
    const items: Record<string, any>[] = [];
    for (let i = 0; i < allKeys.length; i += READ_BATCH) {
      let keys: Record<string, unknown>[] | undefined = allKeys.slice(i, i + READ_BATCH);
      for (let attempt = 0; keys && keys.length > 0; attempt++) {
        if (attempt > 0) await backoff(attempt);
        const out: { Responses?: Record<string, Record<string, any>[]>; UnprocessedKeys?: Record<string, { Keys?: Record<string, unknown>[] }> } =
          await this.db.send(new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys } } }));
        items.push(...(out.Responses?.[this.table] ?? []));
        keys = out.UnprocessedKeys?.[this.table]?.Keys;
      }
    }
    return items;
  }

  async putGrace(records: GraceRecord[]): Promise<void> {
    await this.write(records.map((r) => ({ PutRequest: { Item: { pk: `grace#${this.prefix}${r.instanceId}`, sk: 'grace', record: r } } })));
  }

  async deleteGrace(instanceIds: string[]): Promise<void> {
    await this.write(instanceIds.map((id) => ({ DeleteRequest: { Key: { pk: `grace#${this.prefix}${id}`, sk: 'grace' } } })));
  }

  private async write(requests: Record<string, unknown>[]): Promise<void> {
    for (let i = 0; i < requests.length; i += WRITE_BATCH) {
      let batch: Record<string, unknown>[] | undefined = requests.slice(i, i + WRITE_BATCH);
      for (let attempt = 0; batch && batch.length > 0; attempt++) {
        if (attempt > 0) await backoff(attempt);
        const out: { UnprocessedItems?: Record<string, unknown[]> } = await this.db.send(
          new BatchWriteCommand({ RequestItems: { [this.table]: batch as never } }),
        );
        batch = out.UnprocessedItems?.[this.table] as Record<string, unknown>[] | undefined;
      }
    }
  }
}

/** The finding with every reason and violation message bounded. */
function bounded(f: StoredFinding): StoredFinding {
  return {
    ...f,
    violations: f.violations.map((v) => ({ ...v, message: boundReason(v.message) })),
    actions: f.actions.map((a) => ({ ...a, reason: boundReason(a.reason) })),
  };
}

/** DynamoDB sheds load by returning unprocessed items; after this many rounds the task fails and is retried. */
const MAX_ROUNDS = 8;

function backoff(attempt: number): Promise<void> {
  if (attempt >= MAX_ROUNDS) throw new Error(`DynamoDB left items unprocessed after ${MAX_ROUNDS} attempts`);
  return new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
}
