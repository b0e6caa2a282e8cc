/**
 * CloudTrail LookupEvents (AWS JSON 1.1) over the fleet's records, so "who launched this instance?" has the
 * answer real CloudTrail gives: event history newest first, one lookup attribute, a time window, pages of
 * at most 50, and the full record as the `CloudTrailEvent` JSON string.
 */
import { randomUUID } from 'node:crypto';
import { ACCOUNT, AwsError, REGION, type AwsRequest, type AwsResponse, type BusEvent, type ServiceHandler } from '../kernel';
import { jsonError } from '../wire/errors';
import { toCloudTrailEvent, type Caller, type Fleet, type TrailRecord, type UserIdentity } from './fleet';

/**
 * AWS documents `com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents`; current SDK v3 clients send
 * the short `CloudTrail_20131101.LookupEvents`. Both reach the same operation.
 */
const TARGETS = new Set(['com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents', 'CloudTrail_20131101.LookupEvents']);
const MAX_RESULTS = 50;

/**
 * CloudTrail's field limits, "CloudTrail record contents"
 * (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html):
 * requestParameters "has a maximum size of 100 KB. When the field size exceeds 100 KB, the `requestParameters`
 * content is omitted"; the same for responseElements and serviceEventDetails (100 KB) and additionalEventData (28 KB).
 * The page does not say whether a KB is 1,000 or 1,024 bytes: the smaller, stricter one is used. An earlier edition of
 * the page says "If a field is truncated, omitted is present with a value of true": the field is replaced by
 * `{"omitted": true}` (the exact shape AWS writes is not documented; README, unconfirmed behaviours).
 */
export const FIELD_LIMIT_BYTES: Readonly<Record<string, number>> = {
  requestParameters: 100_000,
  responseElements: 100_000,
  serviceEventDetails: 100_000,
  additionalEventData: 28_000,
};

/** The record as CloudTrail delivers it (trail, event history, EventBridge): fields over their limit omitted. */
export function deliveredRecord(r: TrailRecord): Record<string, unknown> {
  const event = toCloudTrailEvent(r);
  for (const [field, limit] of Object.entries(FIELD_LIMIT_BYTES)) {
    const value = event[field];
    if (value !== undefined && value !== null && Buffer.byteLength(JSON.stringify(value)) > limit) event[field] = { omitted: true };
  }
  return event;
}

/**
 * The EventBridge event of a CloudTrail management event: `AWS API Call via CloudTrail` with the delivered record as
 * `detail` (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html).
 */
export function apiCallEvent(r: TrailRecord): BusEvent {
  return {
    version: '0',
    id: randomUUID(),
    source: `aws.${r.eventSource.replace('.amazonaws.com', '')}`,
    'detail-type': 'AWS API Call via CloudTrail',
    account: r.recipientAccountId ?? ACCOUNT,
    region: r.awsRegion,
    time: r.eventTime,
    resources: [],
    detail: deliveredRecord(r),
  };
}

/**
 * A Step Functions API call as CloudTrail records it. "CloudTrail captures all API calls for Step Functions as events"
 * and the Event history holds "the past 90 days of recorded management events"
 * (https://docs.aws.amazon.com/step-functions/latest/dg/procedure-cloud-trail.html); that page's StartExecution
 * example has `requestParameters` {input, stateMachineArn, name}, `responseElements` {startDate: "Oct 28, 2016
 * 1:17:25 AM", executionArn} and the caller's `userIdentity`. Its `resources` are not shown there: none are written
 * here, so a LookupEvents by ResourceName does not find the call (README, unconfirmed behaviours).
 */
export function stepFunctionsCall(
  eventName: string,
  caller: Caller,
  atMs: number,
  requestParameters: Record<string, unknown>,
  responseElements: Record<string, unknown>,
): TrailRecord {
  return {
    eventId: randomUUID(),
    eventTime: new Date(atMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    eventName,
    eventSource: 'states.amazonaws.com',
    awsRegion: REGION,
    userIdentity: caller.identity,
    userAgent: caller.userAgent ?? 'opsflow-local',
    requestId: caller.requestId ?? randomUUID(),
    requestParameters,
    responseElements,
    resources: [],
  };
}

/** `startDate` as the page's example writes it: `Oct 28, 2016 1:17:25 AM` (UTC). */
export function trailDate(ms: number): string {
  const d = new Date(ms);
  const month = d.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
  const h = d.getUTCHours() % 12 || 12;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${month} ${d.getUTCDate()}, ${d.getUTCFullYear()} ${h}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${d.getUTCHours() < 12 ? 'AM' : 'PM'}`;
}

export interface CloudTrailServiceOptions {
  /** The account's event history: the fleet writes one record per mutating EC2 call, Step Functions one per start. */
  fleet: Fleet;
}

interface LookupEventsInput {
  LookupAttributes?: { AttributeKey?: string; AttributeValue?: string }[];
  StartTime?: number;
  EndTime?: number;
  MaxResults?: number;
  NextToken?: string;
}

/** CloudTrail's Username: the IAM user name, the role session name, or the federated user name. */
export function usernameOf(id: UserIdentity): string {
  if (id.type === 'IAMUser') return id.userName ?? id.arn.split('/').pop()!;
  if (id.type === 'Root') return 'root';
  return id.arn.split('/').pop()!;
}

const ATTRIBUTES: Record<string, (r: TrailRecord) => string[]> = {
  EventId: (r) => [r.eventId],
  EventName: (r) => [r.eventName],
  EventSource: (r) => [r.eventSource],
  Username: (r) => [usernameOf(r.userIdentity)],
  ResourceName: (r) => r.resources.map((x) => x.name),
  ResourceType: (r) => r.resources.map((x) => x.type),
  AccessKeyId: (r) => [r.userIdentity.accessKeyId],
  // Every recorded call (EC2's mutating calls, StartExecution) changes something.
  ReadOnly: () => ['false'],
};

export class CloudTrailService implements ServiceHandler {
  readonly services = ['cloudtrail'] as const;
  private readonly fleet: Fleet;

  constructor(opts: CloudTrailServiceOptions) {
    this.fleet = opts.fleet;
  }

  async handle(req: AwsRequest): Promise<AwsResponse> {
    try {
      if (!TARGETS.has(req.target ?? '')) {
        throw new AwsError('UnknownOperationException', `opsflow local CloudTrail supports LookupEvents only, not '${req.target ?? '(no target)'}'`);
      }
      const output = this.lookupEvents(parseBody(req.body));
      return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify(output) };
    } catch (err) {
      if (!(err instanceof AwsError)) console.error('opsflow: CloudTrail handler failed', err);
      return jsonError(err instanceof AwsError ? err : new AwsError('InternalFailure', 'An internal error has occurred', 500));
    }
  }

  private lookupEvents(input: LookupEventsInput): Record<string, unknown> {
    const attrs = input.LookupAttributes ?? [];
    if (attrs.length > 1) throw new AwsError('InvalidLookupAttributesException', 'You can specify only one lookup attribute.');
    const attr = attrs[0];
    if (attr && (!attr.AttributeKey || !Object.hasOwn(ATTRIBUTES, attr.AttributeKey) || attr.AttributeValue === undefined)) {
      throw new AwsError(
        'InvalidLookupAttributesException',
        `Invalid lookup attribute: ${JSON.stringify(attr)}. AttributeKey must be one of ${Object.keys(ATTRIBUTES).join(', ')} and AttributeValue is required.`,
      );
    }
    const start = input.StartTime === undefined ? -Infinity : input.StartTime * 1000;
    const end = input.EndTime === undefined ? Infinity : input.EndTime * 1000;
    if (start > end) throw new AwsError('InvalidTimeRangeException', 'Start time must not be after end time.');
    const max = input.MaxResults ?? MAX_RESULTS;
    if (!Number.isInteger(max) || max < 1 || max > MAX_RESULTS)
      throw new AwsError('InvalidMaxResultsException', `MaxResults must be between 1 and ${MAX_RESULTS}.`);
    const offset = input.NextToken === undefined ? 0 : decodeToken(input.NextToken);

    const matches = this.fleet.trail
      .map((r, order) => ({ r, order, at: Date.parse(r.eventTime) }))
      .filter(({ r, at }) => at >= start && at <= end && (!attr || ATTRIBUTES[attr.AttributeKey!](r).includes(attr.AttributeValue!)))
      .sort((a, b) => b.at - a.at || b.order - a.order);
    const page = matches.slice(offset, offset + max);
    const next = offset + max < matches.length ? Buffer.from(JSON.stringify({ offset: offset + max })).toString('base64url') : undefined;
    return { Events: page.map(({ r, at }) => toEvent(r, at)), ...(next && { NextToken: next }) };
  }
}

function toEvent(r: TrailRecord, atMs: number): Record<string, unknown> {
  return {
    EventId: r.eventId,
    EventName: r.eventName,
    ReadOnly: 'false',
    AccessKeyId: r.userIdentity.accessKeyId,
    EventTime: atMs / 1000,
    EventSource: r.eventSource,
    Username: usernameOf(r.userIdentity),
    Resources: r.resources.map((x) => ({ ResourceType: x.type, ResourceName: x.name })),
    CloudTrailEvent: JSON.stringify(deliveredRecord(r)),
  };
}

function parseBody(body: Buffer): LookupEventsInput {
  try {
    const parsed: unknown = body.length > 0 ? JSON.parse(body.toString('utf8')) : {};
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as LookupEventsInput;
  } catch {
    // reported below
  }
  throw new AwsError('SerializationException', 'The request body is not a JSON object.');
}

function decodeToken(token: string): number {
  try {
    const { offset } = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { offset: unknown };
    if (Number.isInteger(offset) && (offset as number) >= 0) return offset as number;
  } catch {
    // reported below
  }
  throw new AwsError('InvalidNextTokenException', 'The NextToken is not valid.');
}
