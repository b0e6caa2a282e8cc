/**
 * The Ec2Schedule table: run data that must stay out of the state payload (batches with their instances,
 * report entries settled at planning time) and the control settings (link signing secret, revoked links; the
 * chat secrets live in Secrets Manager, tasks/shared/chat-secrets.ts). One table, partition `pk` + sort `sk`:
 *
 *   run#<execution name> / batch#<wave>-<n>   StoredBatch, n zero-padded (one writer at a time: its wave's Advance loop)
 *   run#<execution name> / wave#<wave>        WaveProgress of that loop
 *   run#<execution name> / entries#<n>        ReportEntry[] settled by the plan (skipped, not found)
 *   run#<execution name> / unreachable#<n>    UnreachableTarget[]: targets the plan could not list (config `targets`)
 *   report#<execution name> / page#<n>        the run's full report, failures first, in pages
 *
 * Items that hold lists (batches, entries, report pages) are cut by their size as DynamoDB counts it
 * (tasks/shared/item-size.ts), not by a count, so none reaches the 400 KB item limit whatever the reasons say.
 *   control / link-secret                     { secret, version, rotatedAt }
 *   control / revoked#<linkId>                { revokedAt }
 *   control / issued#<linkId>                 { issuedAt, expiresAt? } (so revoke can tell an unknown id)
 *   sizes / <kind>#[<account>/<region>/]<id>  { sizes, storedAt, runId }: an Auto Scaling group's or ECS service's
 *                                             sizes before a stop scaled it to zero, restored by the next start; kept
 *                                             (no TTL) until the next stop replaces them
 *
 * Run items expire after two weeks (TTL `expiresAt`).
 */
import { BatchWriteCommand, GetCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mapLimit } from '../../shared/limit';
import { DYNAMODB_ITEM_LIMIT } from '../../shared/item-size';
import type { Kind, BatchEntry, ReportEntry, Sizes, StoredBatch, UnreachableTarget, WaveProgress, Where } from './types';

const sizesKey = (kind: Kind, id: string, w: Where) => (w.account ? `${kind}#${w.account}/${w.region}/${id}` : `${kind}#${id}`);

const RUN_TTL_SECONDS = 14 * 86_400;
/** "up to 25 item put or delete operations" a BatchWriteItem (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html). */
const WRITE_BATCH = 25;
/** Rounds of UnprocessedItems before the task fails (and its state retries it). */
const WRITE_ROUNDS = 8;

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

  /** The sort key of batch `n` of wave `wave`: zero-padded, so a wave's batches sort in order and a range is one Query. */
  static batchKey(wave: number, n: number): string {
    return `batch#${wave}-${String(n).padStart(5, '0')}`;
  }

  /** Writes batches, 25 to a BatchWriteItem (each item is under 400 KB: plan.ts cuts batches by bytes). */
  async putBatches(runId: string, batches: ReadonlyArray<{ wave: number; n: number; batch: StoredBatch }>): Promise<void> {
    const expiresAt = this.expiry();
    const requests = batches.map(({ wave, n, batch }) => ({
      PutRequest: { Item: json({ pk: `run#${runId}`, sk: Ec2Store.batchKey(wave, n), ...batch, expiresAt }) },
    }));
    const chunks: Array<typeof requests> = [];
    for (let i = 0; i < requests.length; i += WRITE_BATCH) chunks.push(requests.slice(i, i + WRITE_BATCH));
    await mapLimit(chunks, STORE_CONCURRENCY, (chunk) => this.write(chunk));
  }

  /**
   * Batches `ns` of a wave, read strongly consistent: one Query per run of consecutive numbers (a pass reads a window
   * of batches), instead of one GetItem per batch.
   */
  async getBatches(runId: string, wave: number, ns: readonly number[]): Promise<Map<number, StoredBatch>> {
    const sorted = [...new Set(ns)].sort((a, b) => a - b);
    const runs: Array<[number, number]> = [];
    for (const n of sorted) {
      const last = runs.at(-1);
      if (last && n === last[1] + 1) last[1] = n;
      else runs.push([n, n]);
    }
    const found = new Map<number, StoredBatch>();
    await mapLimit(runs, STORE_CONCURRENCY, async ([from, to]) => {
      let start: Record<string, unknown> | undefined;
      do {
        const page = await this.doc.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
            ExpressionAttributeValues: { ':pk': `run#${runId}`, ':from': Ec2Store.batchKey(wave, from), ':to': Ec2Store.batchKey(wave, to) },
            ConsistentRead: true,
            ExclusiveStartKey: start,
          }),
        );
        for (const item of page.Items ?? []) found.set(Number(String(item.sk).split('-').pop()), asBatch(item));
        start = page.LastEvaluatedKey;
      } while (start);
    });
    const missing = sorted.filter((n) => !found.has(n));
    if (missing.length > 0) throw new Error(`batches ${missing.join(', ')} of wave ${wave} of run ${runId} are missing from ${this.tableName}`);
    return found;
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

  async putUnreachable(runId: string, index: number, targets: UnreachableTarget[]): Promise<void> {
    await this.put(`run#${runId}`, `unreachable#${String(index).padStart(5, '0')}`, { targets, expiresAt: this.expiry() });
  }

  async putReportPage(pk: string, page: number, entries: ReportEntry[]): Promise<void> {
    await this.put(pk, `page#${String(page).padStart(5, '0')}`, { entries, expiresAt: this.expiry() });
  }

  /** Everything stored for a run: batches and settled entries, page by page. */
  async loadRun(runId: string): Promise<{ batches: StoredBatch[]; entries: ReportEntry[]; unreachable: UnreachableTarget[] }> {
    const batches: StoredBatch[] = [];
    const entries: ReportEntry[] = [];
    const unreachable: UnreachableTarget[] = [];
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
        if (sk.startsWith('batch#')) batches.push(asBatch(item));
        else if (sk.startsWith('entries#')) entries.push(...((item.entries as ReportEntry[]) ?? []));
        else if (sk.startsWith('unreachable#')) unreachable.push(...((item.targets as UnreachableTarget[]) ?? []));
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return { batches, entries, unreachable };
  }

  /**
   * Where one instance stands in a run for that instance alone (a control link's or a chat command's): the plan
   * settles it in `entries#00000` or puts it in the only batch of the only wave, `batch#0-00000`. Undefined until the
   * plan has stored either. Reads single items with GetItem, which the link and chat functions may already do.
   */
  async singleInstanceEntry(runId: string, instanceId: string): Promise<ReportEntry | BatchEntry | undefined> {
    for (const sk of ['entries#00000', Ec2Store.batchKey(0, 0)]) {
      const item = await this.get(`run#${runId}`, sk);
      const found = ((item?.entries ?? []) as Array<ReportEntry | BatchEntry>).find((e) => e.instanceId === instanceId);
      if (found) return found;
    }
    return undefined;
  }

  /** Stores what a stop is about to scale to zero, before the call that does it, so a start can restore it. */
  /** `where`: a group or service in a target (config `targets`) is keyed by its account and region too, names being theirs. */
  async putSizes(kind: Kind, id: string, sizes: Sizes, runId: string, where: Where = {}): Promise<void> {
    await this.put('sizes', sizesKey(kind, id, where), { sizes, storedAt: this.now().toISOString(), runId });
  }

  async getSizes(kind: Kind, id: string, where: Where = {}): Promise<{ sizes: Sizes; storedAt: string } | undefined> {
    const item = await this.get('sizes', sizesKey(kind, id, where));
    return item && { sizes: item.sizes as Sizes, storedAt: String(item.storedAt) };
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

  private async get(pk: string, sk: string): Promise<Record<string, any> | undefined> {
    // Strongly consistent: a rotated secret or a revoked link must take effect on the very next request.
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { pk, sk }, ConsistentRead: true }));
    return out.Item;
  }

  private async put(pk: string, sk: string, attributes: Record<string, unknown>): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: json({ pk, sk, ...attributes }) }));
  }

  /** One BatchWriteItem, asking again for what DynamoDB left unprocessed (how it sheds load). */
  private async write(requests: Array<Record<string, unknown>>): Promise<void> {
    let todo: Array<Record<string, unknown>> | undefined = requests;
    for (let round = 0; todo && todo.length > 0; round++) {
      if (round >= WRITE_ROUNDS) throw new Error(`DynamoDB left ${todo.length} item(s) unprocessed after ${WRITE_ROUNDS} attempts`);
      if (round > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** round));
      const out = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: todo as never } }));
      todo = out.UnprocessedItems?.[this.tableName] as Array<Record<string, unknown>> | undefined;
    }
  }

  private expiry(): number {
    return Math.floor(this.now().getTime() / 1000) + RUN_TTL_SECONDS;
  }
}

/** Through JSON: optional fields left undefined (a reason not yet known) are dropped, not rejected by the marshaller. */
function json(item: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(item));
}

function asBatch(item: Record<string, any>): StoredBatch {
  return {
    ...(item.account && { account: item.account, region: item.region }),
    kind: item.kind,
    action: item.action,
    dryRun: item.dryRun,
    group: item.group,
    entries: item.entries,
    ...(item.hibernate && { hibernate: true }),
    ...(item.callSize && { callSize: item.callSize }),
  };
}
