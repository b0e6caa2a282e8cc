/**
 * Who started a TagPolicy run: the StartExecution record CloudTrail keeps (LookupEvents, EventName=StartExecution,
 * a window around the start), matched by execution ARN, and the rules that turn its userIdentity into an approver
 * email (tasks/tag-policy/core/requester.ts).
 */
import { CloudTrailClient, LookupEventsCommand, type Event } from '@aws-sdk/client-cloudtrail';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { identity, type UserIdentity } from '../../../local/services/fleet';
import { Pacer } from '../../../tasks/tag-policy/core/creator';
import { findRequester, GIVE_UP_MS, requestedByOf, requesterOf, RETRY_SECONDS } from '../../../tasks/tag-policy/core/requester';

const ct = mockClient(CloudTrailClient);
const EXECUTION = 'arn:aws:states:us-east-1:000000000000:execution:Opsflow-TagPolicy:run-1';
const START = '2025-03-05T10:00:00.250Z';
const operator = identity.iamUser('operator');

const startEvent = (executionArn: string, who: UserIdentity | Record<string, unknown>, extra: Record<string, unknown> = {}): Event => ({
  EventName: 'StartExecution',
  CloudTrailEvent: JSON.stringify({
    eventSource: 'states.amazonaws.com',
    eventName: 'StartExecution',
    userIdentity: who,
    requestParameters: { stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Opsflow-TagPolicy' },
    responseElements: { executionArn, startDate: 'Mar 5, 2025 10:00:00 AM' },
    ...extra,
  }),
});

let nowMs: number;
const deps = () => ({
  cloudtrail: new CloudTrailClient({ region: 'us-east-1' }),
  now: () => new Date(nowMs),
  sleep: async (ms: number) => void (nowMs += ms),
  pacer: new Pacer(),
});

beforeEach(() => {
  ct.reset();
  nowMs = Date.parse(START) + 5_000;
});

describe('findRequester', () => {
  it('finds the StartExecution record of this execution, on a later page, and names its caller', async () => {
    // Prepare: another execution started in the same window comes first.
    ct.on(LookupEventsCommand)
      .resolvesOnce({ Events: [startEvent(`${EXECUTION}-other`, identity.iamUser('someone'))], NextToken: 'p2' })
      .resolvesOnce({ Events: [startEvent(EXECUTION, operator)] });

    // Act
    const found = await findRequester({ executionArn: EXECUTION, startTime: START, requesterEmails: { [operator.arn]: 'Approver@Example.com' } }, deps());

    // Assess
    expect(found).toEqual({
      done: true,
      attempts: 1,
      requestedBy: 'approver@example.com',
      requester: { kind: 'person', arn: operator.arn, email: 'approver@example.com', matchedBy: 'requesterEmails' },
    });
    const calls = ct.commandCalls(LookupEventsCommand).map((c) => c.args[0].input);
    expect(calls[0]).toMatchObject({
      LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'StartExecution' }],
      StartTime: new Date(Date.parse(START) - 60_000),
      EndTime: new Date(Date.parse(START) + 60_000),
      MaxResults: 50,
    });
    expect(calls[1].NextToken).toBe('p2');
  });

  it('waits a minute and asks again while CloudTrail has not delivered the record, then gives up as unknown', async () => {
    // Prepare
    ct.on(LookupEventsCommand).resolves({ Events: [] });

    // Act: an attempt before, and one after, 15 minutes from the start.
    const early = await findRequester({ executionArn: EXECUTION, startTime: START, requesterEmails: {}, lookup: { done: false, attempts: 2 } }, deps());
    nowMs = Date.parse(START) + GIVE_UP_MS;
    const late = await findRequester({ executionArn: EXECUTION, startTime: START, requesterEmails: {}, lookup: early }, deps());

    // Assess
    expect(early).toEqual({ done: false, attempts: 3, waitSeconds: RETRY_SECONDS });
    expect(late).toMatchObject({ done: true, attempts: 4, requester: { kind: 'unknown' } });
    expect(late.requestedBy).toMatch(/^unknown \(CloudTrail had no StartExecution record/);
  });

  it('ignores a failed StartExecution naming the same ARN (errorCode set: it started nothing)', async () => {
    ct.on(LookupEventsCommand).resolves({ Events: [startEvent(EXECUTION, identity.iamUser('mallory'), { errorCode: 'ExecutionAlreadyExists' })] });
    const out = await findRequester({ executionArn: EXECUTION, startTime: START, requesterEmails: {} }, deps());
    expect(out).toEqual({ done: false, attempts: 1, waitSeconds: RETRY_SECONDS });
  });

  it('turns CloudTrail throttling into CloudTrail.Throttled (the workflow retries) and lets other errors through', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    ct.on(LookupEventsCommand)
      .rejectsOnce(throttled)
      .rejectsOnce(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));
    const input = { executionArn: EXECUTION, startTime: START, requesterEmails: {} };
    await expect(findRequester(input, deps())).rejects.toMatchObject({ name: 'CloudTrail.Throttled' });
    await expect(findRequester(input, deps())).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });
});

describe('requesterOf', () => {
  it('names no person when an AWS service made the call (a schedule, a rule, a parent execution)', () => {
    const scheduler = identity.serviceRole('Opsflow-ScanScheduleRole', 'scheduler', 'scheduler.amazonaws.com');
    expect(requesterOf(scheduler, { [scheduler.sessionContext!.sessionIssuer.arn]: 'approver@example.com' })).toEqual({
      kind: 'service',
      invokedBy: 'scheduler.amazonaws.com',
      arn: scheduler.arn,
    });
  });

  it('maps a configured IAM user, role (session issuer) or session ARN to its email', () => {
    const ci = identity.assumedRole('ci-deployer', 'build-42');
    expect(requesterOf(operator, { [operator.arn]: 'op@example.com' })).toMatchObject({ email: 'op@example.com', matchedBy: 'requesterEmails' });
    expect(requesterOf(ci, { [ci.sessionContext!.sessionIssuer.arn]: 'release@example.com' })).toMatchObject({ email: 'release@example.com' });
    expect(requesterOf(ci, { [ci.arn]: 'build@example.com' })).toMatchObject({ email: 'build@example.com' });
  });

  it('trusts an email source identity and an IAM Identity Center session name, not any other session name', () => {
    const sso = identity.sso('Operators', 'Alice@Example.com');
    const sourced = {
      ...identity.assumedRole('admin', 'whatever'),
      sessionContext: { sessionIssuer: identity.assumedRole('admin', 'x').sessionContext!.sessionIssuer, sourceIdentity: 'bob@example.com' },
    };
    // Whoever assumes a role picks its session name: an email there proves nothing.
    const chosen = identity.assumedRole('admin', 'carol@example.com');
    expect(requesterOf(sso, {})).toEqual({ kind: 'person', arn: sso.arn, email: 'alice@example.com', matchedBy: 'identityCenter' });
    expect(requesterOf(sourced, {})).toMatchObject({ email: 'bob@example.com', matchedBy: 'sourceIdentity' });
    expect(requesterOf(chosen, {})).toEqual({ kind: 'person', arn: chosen.arn });
  });

  it('says who it was when no email is known, within the 200 characters Approval takes', () => {
    expect(requestedByOf({ kind: 'person', arn: operator.arn })).toBe(`${operator.arn} (no approver email known)`);
    const long = requestedByOf({ kind: 'person', arn: `arn:aws:sts::000000000000:assumed-role/${'r'.repeat(64)}/${'s'.repeat(64)}/${'x'.repeat(60)}` });
    expect([...long].length).toBe(200);
  });
});
