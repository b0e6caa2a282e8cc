/**
 * The Ec2Schedule table: run data that must stay out of the state payload (batches with their instances,
 * report entries settled at planning time) and the control settings (link signing secret, revoked links,
 * chat verification token). One table, partition `pk` + sort `sk`:
 *
 *   run#<execution name> / batch#<wave>-<n>   StoredBatch (one writer at a time: its wave's Advance loop)
 *   run#<execution name> / wave#<wave>        WaveProgress of that loop
 *   run#<execution name> / entries#<n>        ReportEntry[] settled by the plan (skipped, not found)
 *   report#<execution name> / page#<n>        the run's full report, failures first, in pages
 *
 * Items that hold lists (batches, entries, report pages) are cut by their size as DynamoDB counts it
 * (tasks/shared/item-size.ts), not by a count, so none reaches the 400 KB item limit whatever the reasons say.
 *   control / link-secret                     { secret, version, rotatedAt }
 *   control / chat-token                      { token, rotatedAt }
 *   control / revoked#<linkId>                { revokedAt }
 *   control / issued#<linkId>                 { issuedAt, expiresAt? } (so revoke can tell an unknown id)
 *
 * Run items expire after two weeks (TTL `expiresAt`).
 */
import { GetCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DYNAMODB_ITEM_LIMIT } from '../../shared/item-size';
import type { ReportEntry, StoredBatch, WaveProgress } from './types';

const RUN_TTL_SECONDS = 14 * 86_400;

/** Storage calls a task keeps in flight at once when they do not depend on each other. */
export const STORE_CONCURRENCY = 16;

/** The list in one batch, entries or report item takes at most this much of DynamoDB's 400 KB; the rest is keys and room. */
export const LIST_ITEM_BYTES = Math.floor(DYNAMODB_ITEM_LIMIT * 0.75);

export interface LinkSecret {
  secret: string;
  version: number;
  rotatedAt: string;
}

export class Ec2Store {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Batch `n` of wave `wave`. */
  static batchKey(wave: number, n: number): string {
    return `${wave}-${n}`;
  }

  async putBatch(runId: string, key: string, batch: StoredBatch): Promise<void> {
    await this.put(`run#${runId}`, `batch#${key}`, { ...batch, expiresAt: this.expiry() });
  }

  async getBatch(runId: string, key: string): Promise<StoredBatch> {
    const item = await this.get(`run#${runId}`, `batch#${key}`);
    if (!item) throw new Error(`batch ${key} of run ${runId} is missing from ${this.tableName}`);
    return { action: item.action, dryRun: item.dryRun, group: item.group, entries: item.entries, ...(item.callSize && { callSize: item.callSize }) } as StoredBatch;
  }

  async getWave(runId: string, wave: number): Promise<WaveProgress | undefined> {
    const item = await this.get(`run#${runId}`, `wave#${wave}`);
    return item && { acted: item.acted, open: item.open ?? [], sent: item.sent, paced: item.paced, passes: item.passes, errors: item.errors ?? 0 };
  }

  async putWave(runId: string, wave: number, progress: WaveProgress): Promise<void> {
    await this.put(`run#${runId}`, `wave#${wave}`, { ...progress, expiresAt: this.expiry() });
  }

  async putEntries(runId: string, index: number, entries: ReportEntry[]): Promise<void> {
    await this.put(`run#${runId}`, `entries#${String(index).padStart(5, '0')}`, { entries, expiresAt: this.expiry() });
  }

  async putReportPage(pk: string, page: number, entries: ReportEntry[]): Promise<void> {
    await this.put(pk, `page#${String(page).padStart(5, '0')}`, { entries, expiresAt: this.expiry() });
  }

  /** Everything stored for a run: batches and settled entries, page by page. */
  async loadRun(runId: string): Promise<{ batches: StoredBatch[]; entries: ReportEntry[] }> {
    const batches: StoredBatch[] = [];
    const entries: ReportEntry[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': `run#${runId}` },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        const sk = String(item.sk);
        if (sk.startsWith('batch#')) batches.push(item as unknown as StoredBatch);
        else if (sk.startsWith('entries#')) entries.push(...((item.entries as ReportEntry[]) ?? []));
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return { batches, entries };
  }

  async linkSecret(): Promise<LinkSecret | undefined> {
    const item = await this.get('control', 'link-secret');
    return item && typeof item.secret === 'string' ? { secret: item.secret, version: Number(item.version), rotatedAt: String(item.rotatedAt) } : undefined;
  }

  async putLinkSecret(value: LinkSecret): Promise<void> {
    await this.put('control', 'link-secret', { ...value });
  }

  /** Remembers a link handed out, so `revoke` can say when an id matches nothing. */
  async recordIssued(linkId: string, expiresAt: number): Promise<void> {
    await this.put('control', `issued#${linkId}`, { issuedAt: this.now().toISOString(), ...(expiresAt > 0 && { expiresAt }) });
  }

  async wasIssued(linkId: string): Promise<boolean> {
    return (await this.get('control', `issued#${linkId}`)) !== undefined;
  }

  async isRevoked(linkId: string): Promise<boolean> {
    return (await this.get('control', `revoked#${linkId}`)) !== undefined;
  }

  async revoke(linkId: string): Promise<void> {
    await this.put('control', `revoked#${linkId}`, { revokedAt: this.now().toISOString() });
  }

  async chatToken(): Promise<string | undefined> {
    const item = await this.get('control', 'chat-token');
    return typeof item?.token === 'string' && item.token !== '' ? item.token : undefined;
  }

  async putChatToken(token: string): Promise<void> {
    await this.put('control', 'chat-token', { token, rotatedAt: this.now().toISOString() });
  }

  private async get(pk: string, sk: string): Promise<Record<string, any> | undefined> {
    // Strongly consistent: a rotated secret or a revoked link must take effect on the very next request.
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { pk, sk }, ConsistentRead: true }));
    return out.Item;
  }

  private async put(pk: string, sk: string, attributes: Record<string, unknown>): Promise<void> {
    // Through JSON: optional fields left undefined (a reason not yet known) are dropped, not rejected by the marshaller.
    const item = JSON.parse(JSON.stringify({ pk, sk, ...attributes }));
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: item }));
  }

  private expiry(): number {
    return Math.floor(this.now().getTime() / 1000) + RUN_TTL_SECONDS;
  }
}
