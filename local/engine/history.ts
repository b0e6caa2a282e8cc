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
  opts: { maxResults?: number; nextToken?: string; reverseOrder?: boolean; includeExecutionData?: boolean },
): HistoryPage {
  const ordered = opts.reverseOrder ? [...events].reverse() : events;
  const { items, nextToken } = page(ordered, opts.maxResults, opts.nextToken);
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

/** Offset-based paging shared by the List/Get operations; tokens are opaque to clients. */
export function page<T>(items: T[], maxResults: number | undefined, nextToken: string | undefined): { items: T[]; nextToken?: string } {
  let start = 0;
  if (nextToken) {
    start = Number(Buffer.from(nextToken, 'base64url').toString('utf8'));
    if (!Number.isInteger(start) || start < 0) throw new AwsError('InvalidToken', 'Invalid nextToken');
  }
  const size = maxResults && maxResults > 0 ? Math.min(maxResults, 1000) : 100;
  const slice = items.slice(start, start + size);
  const next = start + size < items.length ? Buffer.from(String(start + size)).toString('base64url') : undefined;
  return { items: slice, nextToken: next };
}
