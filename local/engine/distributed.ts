/**
 * Distributed Map (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html): each
 * item, or each batch of ItemBatcher, runs as a child execution with its own history; the parent records a
 * Map Run (DescribeMapRun, ListMapRuns, ListExecutions by mapRunArn).
 * - ItemReader reads S3 through the runtime's own S3: a JSON array, JSON Lines, CSV (first-row or given
 *   headers), an S3 inventory manifest, or ListObjectsV2 (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html);
 * - the fields apply in AWS's order: "ItemReader ... ItemsPath or Items ... ItemSelector ... ItemBatcher ...
 *   ResultWriter" ("Step Functions applies each option in your Distributed Map state in the order shown",
 *   https://docs.aws.amazon.com/step-functions/latest/dg/input-output-fields-dist-map.html), so ItemsPath selects
 *   within what the ItemReader read, and MaxItems limits what ItemsPath selected;
 * - ToleratedFailureCount/Percentage fail the run with States.ExceedToleratedFailureThreshold once exceeded
 *   (https://docs.aws.amazon.com/step-functions/latest/dg/maprun-fail-threshold.html);
 * - ResultWriter writes manifest.json and SUCCEEDED_/FAILED_/PENDING_ files under Prefix/<map run id>/
 *   (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html).
 */
import { randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { ACCOUNT, AwsError, REGION } from '../kernel';
import { ABORTED, runtimeError, StatesError } from './errors';
import type { DistributedFields, DistributedMapRequest } from './host';
import { isExpression } from './jsonata';

type Obj = Record<string, any>;

export interface S3Access {
  getObject(bucket: string, key: string): { body: Buffer };
  putObject(bucket: string, key: string, body: Buffer, contentType?: string): unknown;
  listObjects(bucket: string, prefix?: string): { key: string; meta: { etag: string; size: number; lastModified: number } }[];
}

export interface Counts {
  pending: number;
  running: number;
  succeeded: number;
  failed: number;
  timedOut: number;
  aborted: number;
  total: number;
  resultsWritten: number;
}

export interface MapRunRecord {
  mapRunArn: string;
  executionArn: string;
  stateMachineArn: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  startDate: number;
  stopDate?: number;
  maxConcurrency: number;
  toleratedFailurePercentage: number;
  toleratedFailureCount: number;
  itemCounts: Counts;
  executionCounts: Counts;
  redriveCount?: number;
  redriveDate?: number;
}

export interface ChildResult {
  executionArn: string;
  name: string;
  status: string;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  startDate: number;
  stopDate?: number;
}

export interface DistributedDeps {
  s3?: S3Access;
  now(): number;
  parent: { executionArn: string; stateMachineArn: string; stateMachineName: string };
  /** Starts a child execution of the item processor; resolves with its description once it ends. */
  runChild(input: unknown, childStateMachineArn: string, executionArn: string, mapRunArn: string, signal: AbortSignal): Promise<ChildResult>;
  register(run: MapRunRecord): void;
  changed(): void;
  /** A redrive: the Map Run this state ran in the failed attempt, if it started one. */
  previous?: MapRunRecord;
}

/** Distributed Map runs at most 10,000 child executions at a time. */
const MAX_CHILDREN = 10_000;

const zero = (): Counts => ({ pending: 0, running: 0, succeeded: 0, failed: 0, timedOut: 0, aborted: 0, total: 0, resultsWritten: 0 });

export async function runDistributedMap(req: DistributedMapRequest, deps: DistributedDeps): Promise<unknown> {
  const { state, fields } = req;
  const label = typeof state.Label === 'string' && state.Label ? state.Label : req.stateName;
  const base = `${deps.parent.stateMachineName}/${label}`;
  // A redriven parent redrives the Map Run it started before (MapRunRedriven, the same ARN, redriveCount + 1):
  // https://docs.aws.amazon.com/step-functions/latest/dg/redrive-map-run.html
  const previous = deps.previous;
  const runId = previous ? previous.mapRunArn.slice(previous.mapRunArn.lastIndexOf(':') + 1) : randomUUID();
  const mapRunArn = previous?.mapRunArn ?? `arn:aws:states:${REGION}:${ACCOUNT}:mapRun:${base}:${runId}`;
  const childStateMachineArn = `${deps.parent.stateMachineArn}/${label}`;

  const limits = checkLimits(fields);
  let items = req.items ?? (await readItems(state.ItemReader, fields.readerParameters ?? {}, deps.s3, fields.selectItems));
  // "MaxItems ... Limits the number of data items passed to the Map state"; 0, AWS's default, is no limit
  // (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html).
  if (limits.maxItems) items = items.slice(0, limits.maxItems);
  const selected: unknown[] = [];
  for (let n = 0; n < items.length; n++) selected.push(await req.itemSelector(items[n], n));
  const inputs = batch(selected, state.ItemBatcher ? limits : undefined, fields.batchInput);

  const concurrency = req.maxConcurrency ? Math.min(req.maxConcurrency, MAX_CHILDREN) : MAX_CHILDREN;
  const toleratedCount = limits.toleratedFailureCount ?? 0;
  const toleratedPercentage = limits.toleratedFailurePercentage ?? 0;
  const run: MapRunRecord = {
    mapRunArn,
    executionArn: deps.parent.executionArn,
    stateMachineArn: childStateMachineArn,
    status: 'RUNNING',
    startDate: previous?.startDate ?? deps.now(),
    ...(previous ? { redriveCount: (previous.redriveCount ?? 0) + 1, redriveDate: deps.now() } : {}),
    maxConcurrency: req.maxConcurrency ?? 0,
    toleratedFailurePercentage: toleratedPercentage,
    toleratedFailureCount: toleratedCount,
    itemCounts: { ...zero(), pending: selected.length, total: selected.length },
    executionCounts: { ...zero(), pending: inputs.length, total: inputs.length },
  };
  deps.register(run);
  if (previous) req.port.emit('MapRunRedriven', { mapRunArn, redriveCount: run.redriveCount });
  else req.port.emit('MapRunStarted', { mapRunArn });

  const results: ChildResult[] = new Array(inputs.length);
  // A redriven parent runs again only the child executions that did not succeed
  // (https://docs.aws.amazon.com/step-functions/latest/dg/redrive-map-run.html).
  const earlier = req.succeeded ?? {};
  const pending: number[] = [];
  for (let n = 0; n < inputs.length; n++) {
    const before = earlier[n] as ChildResult | undefined;
    if (before?.status !== 'SUCCEEDED') {
      pending.push(n);
      continue;
    }
    results[n] = before;
    const count = state.ItemBatcher ? ((inputs[n] as Obj).Items as unknown[]).length : 1;
    run.executionCounts.pending--;
    run.executionCounts.succeeded++;
    run.itemCounts.pending -= count;
    run.itemCounts.succeeded += count;
    req.onSucceeded?.(n, before);
  }
  const giveUp = new AbortController();
  const signal = AbortSignal.any([req.port.signal, giveUp.signal]);
  const itemsIn = (n: number) => (state.ItemBatcher ? ((inputs[n] as Obj).Items as unknown[]).length : 1);
  let next = 0;
  let failedItems = 0;
  let exceeded = false;
  // No tolerance set: any failure fails the run; otherwise either threshold, once exceeded, fails it.
  const exceeds = () => {
    const hasCount = limits.toleratedFailureCount !== undefined;
    const hasPercentage = limits.toleratedFailurePercentage !== undefined;
    if (!hasCount && !hasPercentage) return failedItems > 0;
    return (hasCount && failedItems > toleratedCount) || (hasPercentage && (failedItems * 100) / Math.max(1, selected.length) > toleratedPercentage);
  };
  const worker = async () => {
    while (!exceeded && !signal.aborted && next < pending.length) {
      const n = pending[next++];
      const count = itemsIn(n);
      run.executionCounts.pending--;
      run.executionCounts.running++;
      run.itemCounts.pending -= count;
      run.itemCounts.running += count;
      deps.changed();
      const child = await deps.runChild(
        inputs[n],
        childStateMachineArn,
        `arn:aws:states:${REGION}:${ACCOUNT}:execution:${base}:${randomUUID()}`,
        mapRunArn,
        signal,
      );
      results[n] = child;
      if (child.status === 'SUCCEEDED') req.onSucceeded?.(n, child);
      run.executionCounts.running--;
      run.itemCounts.running -= count;
      const key = child.status === 'SUCCEEDED' ? 'succeeded' : child.status === 'TIMED_OUT' ? 'timedOut' : child.status === 'ABORTED' ? 'aborted' : 'failed';
      run.executionCounts[key]++;
      run.itemCounts[key] += count;
      if (key !== 'succeeded' && !(key === 'aborted' && exceeded)) failedItems += count;
      if (!exceeded && exceeds()) {
        exceeded = true;
        giveUp.abort(ABORTED);
      }
      deps.changed();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, pending.length) }, worker));
  run.stopDate = deps.now();

  if (req.port.signal.aborted) {
    run.status = 'ABORTED';
    deps.changed();
    throw new StatesError('States.Runtime', 'The execution stopped', { fatal: true });
  }
  let written: Obj | undefined;
  if (state.ResultWriter && fields.writerParameters) written = writeResults(fields.writerParameters, mapRunArn, runId, results, deps.s3, run);
  if (exceeded) {
    run.status = 'FAILED';
    const cause = 'The specified tolerated failure threshold was exceeded';
    req.port.emit('MapRunFailed', { error: 'States.ExceedToleratedFailureThreshold', cause });
    deps.changed();
    throw new StatesError('States.ExceedToleratedFailureThreshold', cause);
  }
  run.status = 'SUCCEEDED';
  req.port.note('MapRunSucceeded');
  deps.changed();
  if (written) return { MapRunArn: mapRunArn, ResultWriterDetails: written };
  return results.map((r) => (r.status === 'SUCCEEDED' ? JSON.parse(r.output ?? 'null') : { Error: r.error, Cause: r.cause }));
}

/** The numeric fields of a distributed Map, each a literal, a path's value or a JSONata result, checked. */
interface Limits {
  maxItems?: number;
  maxItemsPerBatch?: number;
  maxInputBytesPerBatch?: number;
  toleratedFailureCount?: number;
  toleratedFailurePercentage?: number;
}

/**
 * How the interpreter resolves a field: `path` a JSONPath reference path (variables included) against `value`, by
 * default the state's effective input; `expression` a JSONata value.
 */
export interface FieldSources {
  path(path: string, value?: unknown): unknown;
  expression(value: string, field: string): Promise<unknown>;
}

const NUMERIC_FIELDS = [
  ['maxItems', (s: Obj) => s.ItemReader?.ReaderConfig, 'MaxItems'],
  ['maxItemsPerBatch', (s: Obj) => s.ItemBatcher, 'MaxItemsPerBatch'],
  ['maxInputBytesPerBatch', (s: Obj) => s.ItemBatcher, 'MaxInputBytesPerBatch'],
  ['toleratedFailureCount', (s: Obj) => s, 'ToleratedFailureCount'],
  ['toleratedFailurePercentage', (s: Obj) => s, 'ToleratedFailurePercentage'],
] as const;

/**
 * The fields the interpreter resolves for a distributed Map before it starts: MaxItems(Path),
 * MaxItemsPerBatch(Path), MaxInputBytesPerBatch(Path), ToleratedFailureCount(Path) and
 * ToleratedFailurePercentage(Path) as read (checked here when the run starts), each with the field it came from;
 * and, with an ItemReader, ItemsPath as a selection within what the reader read.
 */
export async function mapFieldValues(state: Obj, sources: FieldSources): Promise<Pick<DistributedFields, 'numbers' | 'selectItems'>> {
  const numbers: NonNullable<DistributedFields['numbers']> = {};
  for (const [key, holder, field] of NUMERIC_FIELDS) {
    const at = holder(state);
    if (!at) continue;
    if (typeof at[`${field}Path`] === 'string') numbers[key] = { value: sources.path(at[`${field}Path`]), field: `${field}Path` };
    else if (isExpression(at[field])) numbers[key] = { value: await sources.expression(at[field], field), field };
    else if (at[field] !== undefined) numbers[key] = { value: at[field], field };
  }
  const itemsPath = state.ItemReader !== undefined && typeof state.ItemsPath === 'string' ? state.ItemsPath : undefined;
  return { numbers, ...(itemsPath ? { selectItems: (read: unknown) => sources.path(itemsPath, read) } : {}) };
}

/**
 * The values must be what AWS's pages say, checked before the Map Run starts (a States.Runtime error otherwise;
 * the cause is the engine's wording). A numeric string is read as its number: AWS ran MaxItemsPath,
 * MaxItemsPerBatchPath, MaxInputBytesPerBatchPath and ToleratedFailure*Path from variables holding "2", "15000"
 * and "1" (recordings: localstack/localstack tests/aws/services/stepfunctions/v2/assign/
 * test_assign_reference_variables.snapshot.json, MAP_STATE_REFERENCE_IN_MAX_ITEMS_PATH, _MAX_PER_BATCH_PATH,
 * _TOLERATED_FAILURE_PATH).
 * - ToleratedFailurePercentage(Path): "between zero and 100"; ToleratedFailureCount(Path): "a non-negative integer"
 *   (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html);
 * - MaxItems(Path): "a positive integer" (0 is AWS's "no limit"), up to 100,000,000
 *   (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html);
 * - MaxItemsPerBatch(Path) and MaxInputBytesPerBatch(Path): positive integers, the bytes up to 256 KiB
 *   (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itembatcher.html).
 */
function checkLimits(fields: DistributedFields): Limits {
  const limits: Limits = {};
  const rules: Record<keyof Limits, { min: number; max: number; integer: boolean; what: string }> = {
    maxItems: { min: 0, max: 100_000_000, integer: true, what: 'an integer from 0 to 100000000' },
    maxItemsPerBatch: { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true, what: 'a positive integer' },
    maxInputBytesPerBatch: { min: 1, max: 256 * 1024, integer: true, what: 'an integer from 1 to 262144' },
    toleratedFailureCount: { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true, what: 'a non-negative integer' },
    toleratedFailurePercentage: { min: 0, max: 100, integer: false, what: 'a number from 0 to 100' },
  };
  for (const [key, source] of Object.entries(fields.numbers ?? {}) as [keyof Limits, { value: unknown; field: string }][]) {
    if (!(key in rules)) continue;
    const { value, field } = source;
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : Number.NaN;
    const rule = rules[key];
    if (!Number.isFinite(n) || n < rule.min || n > rule.max || (rule.integer && !Number.isInteger(n)))
      throw runtimeError(`The value of the field '${field}' must be ${rule.what}, got ${JSON.stringify(value) ?? 'nothing'}`);
    limits[key] = n;
  }
  return limits;
}

function batch(items: unknown[], limits: Limits | undefined, batchInput: unknown): unknown[] {
  if (!limits) return items;
  const maxItems = limits.maxItemsPerBatch ?? Infinity;
  const maxBytes = limits.maxInputBytesPerBatch ?? 256 * 1024;
  const batches: unknown[][] = [];
  let current: unknown[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = Buffer.byteLength(JSON.stringify(item));
    if (current.length && (current.length >= maxItems || bytes + size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length) batches.push(current);
  return batches.map((Items) => (batchInput === undefined ? { Items } : { BatchInput: batchInput, Items }));
}

function readerError(cause: string): StatesError {
  return new StatesError('States.ItemReaderFailed', cause);
}

async function readItems(reader: Obj | undefined, params: Obj, s3: S3Access | undefined, selectItems?: (read: unknown) => unknown): Promise<unknown[]> {
  if (!reader) return [];
  const read = await readObject(reader, params, s3);
  const items = selectItems ? selectItems(read) : read;
  if (!Array.isArray(items)) throw readerError('Attempting to map over non-iterable node.');
  return items;
}

async function readObject(reader: Obj, params: Obj, s3: S3Access | undefined): Promise<unknown> {
  if (!s3) throw readerError('The local runtime has no S3 service to read items from');
  const bucket = String(params.Bucket ?? '');
  try {
    if (/s3:listObjectsV2$/.test(reader.Resource)) {
      return s3.listObjects(bucket, params.Prefix ?? '').map((o) => ({
        Etag: o.meta.etag,
        Key: o.key,
        LastModified: new Date(o.meta.lastModified).toISOString(),
        Size: o.meta.size,
        StorageClass: 'STANDARD',
      }));
    }
    const config = reader.ReaderConfig ?? {};
    const text = (key: string) => {
      const body = s3.getObject(bucket, key).body;
      return (key.endsWith('.gz') ? gunzipSync(body) : body).toString('utf8');
    };
    switch (config.InputType) {
      case 'CSV':
        return parseCsv(text(String(params.Key)), config);
      case 'JSONL':
        return text(String(params.Key))
          .split(/\r?\n/)
          .filter((l) => l.trim())
          .map((l) => JSON.parse(l));
      case 'MANIFEST': {
        // An S3 Inventory manifest: its CSV files list bucket,key[,...] rows.
        const manifest = JSON.parse(text(String(params.Key)));
        const schema = String(manifest.fileSchema ?? 'Bucket, Key')
          .split(',')
          .map((h: string) => h.trim());
        const out: Obj[] = [];
        for (const file of manifest.files ?? []) {
          const rows = parseCsv(text(file.key), { CSVHeaderLocation: 'GIVEN', CSVHeaders: schema });
          out.push(...(rows as Obj[]));
        }
        return out;
      }
      default:
        return JSON.parse(text(String(params.Key)));
    }
  } catch (err) {
    if (err instanceof StatesError) throw err;
    if (err instanceof AwsError) throw readerError(`S3 ${err.code}: ${err.message} (Bucket '${bucket}', Key '${params.Key ?? params.Prefix ?? ''}')`);
    throw readerError((err as Error).message);
  }
}

/**
 * RFC 4180 CSV; every value is a string, as Step Functions reads it
 * (https://docs.aws.amazon.com/step-functions/latest/dg/example-csv-parse-dist-map.html): "If the number of fields
 * in a row is less than the number of fields in the header, Step Functions provides empty strings for the missing
 * values"; more fields than headers are skipped. A row of empty fields (`,,`) is an item of empty strings; a line
 * with nothing on it is not a row. Duplicate headers fail the reader (States.ItemReaderFailed, "CSV headers cannot
 * contain duplicates.", as the reader LocalStack validates against AWS answers; no AWS page states it).
 */
function parseCsv(text: string, config: Obj): Obj[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  // A field was read on this line (even an empty one before a comma, or a quoted empty one).
  let started = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = started = true;
    else if (c === ',') {
      row.push(field);
      field = '';
      started = true;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      if (started || field) {
        row.push(field);
        rows.push(row);
      }
      row = [];
      field = '';
      started = false;
    } else {
      field += c;
      started = true;
    }
  }
  if (started || field) {
    row.push(field);
    rows.push(row);
  }
  const headers: string[] = config.CSVHeaderLocation === 'GIVEN' ? config.CSVHeaders : (rows.shift() ?? []);
  if (new Set(headers).size !== headers.length) throw readerError('CSV headers cannot contain duplicates.');
  return rows.map((r) => Object.fromEntries(headers.map((h, n) => [h, r[n] ?? ''])));
}

function writeResults(params: Obj, mapRunArn: string, runId: string, results: ChildResult[], s3: S3Access | undefined, run: MapRunRecord): Obj {
  if (!s3) throw new StatesError('States.ResultWriterFailed', 'The local runtime has no S3 service to write results to');
  const bucket = String(params.Bucket ?? '');
  const prefix = params.Prefix ? `${String(params.Prefix).replace(/\/$/, '')}/` : '';
  const dir = `${prefix}${runId}`;
  const entry = (r: ChildResult) => ({
    ExecutionArn: r.executionArn,
    Input: r.input,
    InputDetails: { Included: true },
    Name: r.name,
    ...(r.output !== undefined ? { Output: r.output, OutputDetails: { Included: true } } : {}),
    ...(r.error !== undefined ? { Error: r.error } : {}),
    ...(r.cause !== undefined ? { Cause: r.cause } : {}),
    RedriveCount: 0,
    RedriveStatus: 'NOT_REDRIVABLE',
    StartDate: new Date(r.startDate).toISOString(),
    StateMachineArn: run.stateMachineArn,
    Status: r.status,
    StopDate: r.stopDate !== undefined ? new Date(r.stopDate).toISOString() : undefined,
  });
  const files: Obj = { FAILED: [], PENDING: [], SUCCEEDED: [] };
  const write = (kind: 'SUCCEEDED' | 'FAILED' | 'PENDING', list: ChildResult[]) => {
    if (!list.length) return;
    const key = `${dir}/${kind}_0.json`;
    const body = Buffer.from(JSON.stringify(list.map(entry)));
    try {
      s3.putObject(bucket, key, body, 'application/json');
    } catch (err) {
      throw new StatesError('States.ResultWriterFailed', `S3 ${(err as AwsError).code ?? 'Error'}: ${(err as Error).message} (Bucket '${bucket}')`);
    }
    files[kind].push({ Key: key, Size: body.length });
  };
  const done = results.filter(Boolean);
  write(
    'SUCCEEDED',
    done.filter((r) => r.status === 'SUCCEEDED'),
  );
  write(
    'FAILED',
    done.filter((r) => r.status !== 'SUCCEEDED'),
  );
  write('PENDING', []);
  const manifestKey = `${dir}/manifest.json`;
  try {
    s3.putObject(bucket, manifestKey, Buffer.from(JSON.stringify({ DestinationBucket: bucket, MapRunArn: mapRunArn, ResultFiles: files })), 'application/json');
  } catch (err) {
    throw new StatesError('States.ResultWriterFailed', `S3 ${(err as AwsError).code ?? 'Error'}: ${(err as Error).message} (Bucket '${bucket}')`);
  }
  run.itemCounts.resultsWritten = done.length;
  run.executionCounts.resultsWritten = done.length;
  return { Bucket: bucket, Key: manifestKey };
}
