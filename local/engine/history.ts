/**
 * Execution history in the shape of GetExecutionHistory
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html). State events come
 * from the interpreter, task events from the dispatcher, execution events from the service; each names the
 * event it follows (`previousEventId`), which for branches and iterations is the previous event of the same
 * branch, not the previous line of the history.
 */
import { AwsError, type Clock } from '../kernel';

/** One history event; `timestamp` is epoch ms here and epoch seconds on the wire. */
export interface HistoryEvent {
  timestamp: number;
  type: string;
  id: number;
  previousEventId: number;
  [details: string]: unknown;
}

export class History {
  constructor(
    private readonly events: HistoryEvent[],
    private readonly clock: Clock,
  ) {}

  /** Adds an event after `previousEventId` (default: the last event); returns its id. */
  add(type: string, details?: Record<string, unknown>, previousEventId?: number): number {
    const id = this.events.length + 1;
    const event: HistoryEvent = { timestamp: this.clock.nowMs(), type, id, previousEventId: previousEventId ?? id - 1 };
    if (details) event[detailsKey(type)] = withoutUndefined(details);
    this.events.push(event);
    return id;
  }

  lastId(): number {
    return this.events.length;
  }
}

function detailsKey(type: string): string {
  if (type.endsWith('StateEntered')) return 'stateEnteredEventDetails';
  if (type.endsWith('StateExited')) return 'stateExitedEventDetails';
  if (type.startsWith('MapIteration')) return `${type[0].toLowerCase()}${type.slice(1)}EventDetails`;
  return `${type[0].toLowerCase()}${type.slice(1)}EventDetails`;
}

function withoutUndefined(details: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(details).filter(([, v]) => v !== undefined));
}

export interface HistoryPage {
  events: Record<string, unknown>[];
  nextToken?: string;
}

/** GetExecutionHistory paging; `includeExecutionData: false` drops inputs and outputs as AWS does. */
export function historyPage(
  events: HistoryEvent[],
  opts: { executionArn?: string; maxResults?: number; nextToken?: string; reverseOrder?: boolean; includeExecutionData?: boolean },
): HistoryPage {
  const ordered = opts.reverseOrder ? [...events].reverse() : events;
  const { items, nextToken } = page(ordered, opts, `GetExecutionHistory ${opts.executionArn} ${opts.reverseOrder ? 'reverse' : 'forward'}`);
  return {
    events: items.map((e) => toWire(e, opts.includeExecutionData ?? true)),
    ...(nextToken ? { nextToken } : {}),
  };
}

function toWire(event: HistoryEvent, includeData: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { ...event, timestamp: event.timestamp / 1000 };
  if (!includeData) {
    for (const [key, value] of Object.entries(out)) {
      if (!key.endsWith('EventDetails') || typeof value !== 'object' || value === null) continue;
      const details: Record<string, unknown> = { ...value };
      for (const data of ['input', 'inputDetails', 'output', 'outputDetails', 'parameters']) delete details[data];
      out[key] = details;
    }
  }
  return out;
}

/**
 * Offset-based paging shared by the List/Get operations. `maxResults`: "The default is 100 and the maximum allowed
 * page size is 1000. A value of 0 uses the default"; an expired or unknown token is "an HTTP 400 InvalidToken error"
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListExecutions.html, and the same parameters
 * on every List operation and GetExecutionHistory). A token names the list it pages (`collection`: operation and
 * arguments), so a token from another list, or text that is not a token, is refused rather than read as offset 0.
 * The messages are the service's: Coral's validation wording, and InvalidToken's "Invalid Token: 'Invalid token'"
 * as recorded against Step Functions.
 */
export function page<T>(items: T[], params: { maxResults?: unknown; nextToken?: unknown }, collection: string): { items: T[]; nextToken?: string } {
  const { maxResults, nextToken } = params;
  if (maxResults !== undefined && maxResults !== null) {
    if (typeof maxResults !== 'number' || !Number.isInteger(maxResults))
      throw validation(`Value '${String(maxResults)}' at 'maxResults' failed to satisfy constraint: Member must be an integer`);
    if (maxResults < 0)
      throw validation(`Value '${maxResults}' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 0`);
    if (maxResults > MAX_RESULTS)
      throw validation(`Value '${maxResults}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to ${MAX_RESULTS}`);
  }
  let start = 0;
  if (nextToken !== undefined && nextToken !== null) {
    if (typeof nextToken !== 'string' || nextToken.length < 1 || nextToken.length > 1024) {
      throw validation(`Value at 'nextToken' failed to satisfy constraint: Member must have length between 1 and 1024`);
    }
    start = tokenOffset(nextToken, collection);
  }
  const size = typeof maxResults === 'number' && maxResults > 0 ? maxResults : DEFAULT_RESULTS;
  const slice = items.slice(start, start + size);
  const next = start + size < items.length ? Buffer.from(JSON.stringify({ c: collection, o: start + size })).toString('base64url') : undefined;
  return { items: slice, nextToken: next };
}

const MAX_RESULTS = 1000;
const DEFAULT_RESULTS = 100;
const validation = (message: string) => new AwsError('ValidationException', `1 validation error detected: ${message}`);

function tokenOffset(token: string, collection: string): number {
  try {
    const { c, o } = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { c?: unknown; o?: unknown };
    if (c === collection && Number.isInteger(o) && (o as number) > 0) return o as number;
  } catch {
    // not a token: the error below
  }
  throw new AwsError('InvalidToken', "Invalid Token: 'Invalid token'");
}
