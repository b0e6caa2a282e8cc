/**
 * Creator lookups at fleet scale, through evaluateStep: a mocked CloudTrail that keeps AWS's 2 LookupEvents per
 * second (a token bucket on a fake clock that moves only when the code waits, and 50 ms per call), one lookup
 * attribute, pages of 50, newest first, a time window; a mocked EC2 with 2,000 instances without Owner, launched
 * two at a time. One lookup per instance would be 2,000 calls: throttled at once, and 1,000 s at best, past the
 * Evaluate Lambda's 5-minute timeout.
 */
import { CloudTrailClient, LookupEventsCommand, type Event, type LookupEventsCommandInput } from '@aws-sdk/client-cloudtrail';
import { DescribeInstancesCommand, EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { identity } from '../../../local/services/fleet';
import { Pacer } from '../../../tasks/tag-policy/core/creator';
import { evaluateStep, type ScanState } from '../../../tasks/tag-policy/core/scan';
import { MemoryStore, run, silentLog } from './fakes';

const INSTANCES = 2000;
const PER_LAUNCH = 2;
const EVALUATE_TIMEOUT_MS = 5 * 60_000;
const T0 = Date.parse('2025-03-10T12:00:00Z');
const LAUNCHED = Date.parse('2025-02-01T10:00:00Z');

const ids = Array.from({ length: INSTANCES }, (_, n) => `i-0${n.toString(16).padStart(16, '0')}`);
const creatorOf = (n: number) => `dev${Math.floor(n / PER_LAUNCH) % 7}@example.com`;

/** One RunInstances event per launch, each a second apart, as CloudTrail stores them. */
const events: Event[] = Array.from({ length: INSTANCES / PER_LAUNCH }, (_, l) => {
  const launched = ids.slice(l * PER_LAUNCH, (l + 1) * PER_LAUNCH);
  const at = new Date(LAUNCHED + l * 1000);
  return {
    EventName: 'RunInstances',
    EventTime: at,
    Username: 'x',
    Resources: launched.map((ResourceName) => ({ ResourceType: 'AWS::EC2::Instance', ResourceName })),
    CloudTrailEvent: JSON.stringify({
      eventName: 'RunInstances',
      eventTime: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      userIdentity: identity.sso('Dev', creatorOf(l * PER_LAUNCH)),
      responseElements: { instancesSet: { items: launched.map((instanceId) => ({ instanceId })) } },
    }),
  };
});

const ec2Instance = (id: string): Instance => ({
  InstanceId: id,
  State: { Name: 'running' },
  LaunchTime: new Date(LAUNCHED + Math.floor(ids.indexOf(id) / PER_LAUNCH) * 1000),
  Tags: [
    { Key: 'CostCenter', Value: 'CC-1001' },
    { Key: 'Environment', Value: 'prod' },
  ],
});

const ec2Mock = mockClient(EC2Client);
const ctMock = mockClient(CloudTrailClient);
let clock: number;
let store: MemoryStore;
let calls: { at: number; input: LookupEventsCommandInput }[];
let tokens: number;
let refilledAt: number;

/** LookupEvents as CloudTrail answers it, at 2 requests per second (bucket of 2). */
function lookupEvents(input: LookupEventsCommandInput) {
  tokens = Math.min(2, tokens + ((clock - refilledAt) / 1000) * 2);
  refilledAt = clock;
  clock += 50;
  if (tokens < 1) throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
  tokens -= 1;
  calls.push({ at: clock, input });
  const attrs = input.LookupAttributes ?? [];
  if (attrs.length > 1) throw Object.assign(new Error('You can specify only one lookup attribute.'), { name: 'InvalidLookupAttributesException' });
  const [attr] = attrs;
  const match = (e: Event) =>
    !attr ||
    (attr.AttributeKey === 'EventName' && e.EventName === attr.AttributeValue) ||
    (attr.AttributeKey === 'ResourceName' && e.Resources!.some((r) => r.ResourceName === attr.AttributeValue));
  const inWindow = (e: Event) => (!input.StartTime || +e.EventTime! >= +input.StartTime) && (!input.EndTime || +e.EventTime! <= +input.EndTime);
  const all = events.filter((e) => match(e) && inWindow(e)).sort((a, b) => +b.EventTime! - +a.EventTime!);
  const max = input.MaxResults ?? 50;
  if (max > 50) throw Object.assign(new Error('MaxResults'), { name: 'InvalidMaxResultsException' });
  const offset = input.NextToken ? Number(input.NextToken) : 0;
  return { Events: all.slice(offset, offset + max), NextToken: offset + max < all.length ? String(offset + max) : undefined };
}

function deps(deadline?: number) {
  return {
    ec2: new EC2Client({ region: 'us-east-1' }),
    cloudtrail: new CloudTrailClient({ region: 'us-east-1' }),
    store,
    now: () => new Date(clock),
    sleep: async (ms: number) => {
      clock += ms;
    },
    pacer: new Pacer(),
    log: silentLog(),
    pageSize: 1000,
    pagesPerInvocation: 5,
    remainingMs: deadline === undefined ? undefined : () => deadline - clock,
  };
}

beforeEach(() => {
  ec2Mock.reset();
  ctMock.reset();
  clock = T0;
  store = new MemoryStore();
  calls = [];
  tokens = 2;
  refilledAt = T0;
  ec2Mock.on(DescribeInstancesCommand).callsFake((input: { NextToken?: string }) => {
    const offset = input.NextToken ? Number(input.NextToken) : 0;
    const next = offset + 1000 < INSTANCES ? String(offset + 1000) : undefined;
    return { Reservations: [{ Instances: ids.slice(offset, offset + 1000).map(ec2Instance) }], NextToken: next };
  });
  ctMock.on(LookupEventsCommand).callsFake(lookupEvents);
});

/** The step loop as the state machine runs it: Evaluate until done, each invocation with a fresh 5-minute deadline. */
async function scan(runId: string, maxInvocations = 20): Promise<{ state: ScanState; invocations: number; longest: number }> {
  let state: ScanState | undefined;
  let longest = 0;
  for (let n = 1; n <= maxInvocations; n++) {
    const started = clock;
    state = await evaluateStep(run({ id: runId }), state, deps(started + EVALUATE_TIMEOUT_MS - 10_000));
    longest = Math.max(longest, clock - started);
    if (state.done) return { state, invocations: n, longest };
  }
  throw new Error(`not done after ${maxInvocations} invocations`);
}

describe('creator lookups per launch', () => {
  it('finds the creators of 2,000 instances with one RunInstances walk, at 2 calls a second, well inside one Evaluate timeout', async () => {
    // Act
    const { state, invocations, longest } = await scan('run-1');

    // Assess: every instance gets the Owner of the person who launched it.
    expect(state.counts).toMatchObject({ scanned: INSTANCES, violating: INSTANCES, toTag: INSTANCES });
    for (const n of [0, 1, 2, 999, 1000, 1999]) expect(store.finding('run-1', ids[n])!.tags).toEqual({ Owner: creatorOf(n) });
    // One walk of the launches (50 events a page), by event name, never per instance.
    expect(calls).toHaveLength(Math.ceil(INSTANCES / PER_LAUNCH / 50));
    for (const { input } of calls) {
      expect(input.LookupAttributes).toEqual([{ AttributeKey: 'EventName', AttributeValue: 'RunInstances' }]);
      expect(input.MaxResults).toBe(50);
    }
    // Within CloudTrail's rate (nothing was throttled: every call got through), and the step within its timeout.
    for (let i = 1; i < calls.length; i++) expect(calls[i].at - calls[i - 1].at).toBeGreaterThanOrEqual(500);
    expect(invocations).toBe(1);
    expect(longest).toBeLessThan(EVALUATE_TIMEOUT_MS);
  });

  it('answers the next scan from the table, with no CloudTrail call', async () => {
    // Prepare
    await scan('run-1');
    calls = [];
    clock += 86_400_000;

    // Act
    const { state } = await scan('run-2');

    // Assess
    expect(calls).toHaveLength(0);
    expect(state.counts).toMatchObject({ scanned: INSTANCES, toTag: INSTANCES });
    expect(store.finding('run-2', ids[1234])!.tags).toEqual({ Owner: creatorOf(1234) });
  });

  it('stops before its deadline and resumes the walk where it stopped, reading no page twice and counting nothing twice', async () => {
    // Act: a first invocation with 40 s left (the walk needs about 10 s, but 30 s are kept back for the page).
    const first = await evaluateStep(run(), undefined, deps(clock + 40_000));
    const afterFirst = calls.length;
    const saved = store.index.walk;
    const second = await evaluateStep(run(), first, deps(clock + EVALUATE_TIMEOUT_MS));

    // Assess
    expect(first).toEqual({ done: false, counts: expect.objectContaining({ scanned: 0 }) });
    expect(afterFirst).toBeGreaterThan(0);
    expect(afterFirst).toBeLessThan(20);
    expect(saved?.nextToken).toBe(String(afterFirst * 50));
    expect(calls.map((c) => c.input.NextToken)).toEqual([undefined, ...Array.from({ length: 19 }, (_, i) => String((i + 1) * 50))]);
    expect(second).toEqual({ done: true, counts: expect.objectContaining({ scanned: INSTANCES, toTag: INSTANCES }) });
    expect(store.index).toEqual({ coveredTo: expect.any(String) });
  });

  it('retried after dying mid-step (a Lambda timeout), repeats no lookup and counts each instance once', async () => {
    // Prepare: the step dies after the lookups, storing its findings.
    const putFindings = store.putFindings.bind(store);
    store.putFindings = async () => {
      throw Object.assign(new Error('Task timed out'), { name: 'Sandbox.Timedout' });
    };
    await expect(evaluateStep(run(), undefined, deps(clock + EVALUATE_TIMEOUT_MS))).rejects.toThrow('Task timed out');
    const before = calls.length;
    store.putFindings = putFindings;

    // Act: the state machine's retry, with the same input.
    const retried = await evaluateStep(run(), undefined, deps(clock + EVALUATE_TIMEOUT_MS));

    // Assess
    expect(before).toBe(20);
    expect(calls).toHaveLength(20);
    expect(retried).toEqual({ done: true, counts: expect.objectContaining({ scanned: INSTANCES, toTag: INSTANCES }) });
  });

  it('backs off and retries when another caller has used up the account rate (ThrottlingException)', async () => {
    // Prepare: the bucket is empty when the scan starts.
    tokens = -1;

    // Act
    const { state } = await scan('run-1');

    // Assess
    expect(state.counts).toMatchObject({ toTag: INSTANCES });
    expect(calls).toHaveLength(20);
    expect(calls[0].at - T0).toBeGreaterThanOrEqual(1000);
  });
});
