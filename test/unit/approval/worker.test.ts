import { beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import {
  GetActivityTaskCommand,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  TaskDoesNotExist,
} from '@aws-sdk/client-sfn';
import { SendEmailCommand, SESv2Client, type SendEmailCommandInput } from '@aws-sdk/client-sesv2';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { findApprover, parseRef, requestId } from '../../../tasks/approval/core/links';
import type { ApprovalRequest } from '../../../tasks/approval/core/types';
import { deliverNext, type WorkerDeps } from '../../../tasks/approval/core/worker';
import { ApprovalNoTaskError } from '../../../tasks/shared/errors';
import { EXECUTION, FakeTable, LINK_BASE, NOW, TOKEN, pendingRecord, recordingLog } from './fakes';

const sfn = mockClient(SFNClient);
const ses = mockClient(SESv2Client);
let table: FakeTable;
let log: ReturnType<typeof recordingLog>;

const ACTIVITY = 'arn:aws:states:us-east-1:000000000000:activity:approval';
const NEW_TOKEN = 'NEW-TASK-TOKEN-also-secret-BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';
const request: ApprovalRequest = {
  title: 'Stop i-0123 in prod',
  details: 'cost saving',
  approvers: ['alice@example.com', 'bob@example.com'],
  requestedBy: 'ops@example.com',
  timeoutSeconds: 86_400,
  quorum: 1,
};

beforeEach(() => {
  sfn.reset();
  ses.reset();
  table = new FakeTable();
  log = recordingLog();
  ses.on(SendEmailCommand).resolves({ MessageId: 'm-1' });
});

function deps(overrides: Partial<WorkerDeps> = {}): WorkerDeps {
  return {
    sfn: new SFNClient({ region: 'us-east-1' }),
    ses: new SESv2Client({ region: 'us-east-1' }),
    store: table.store,
    activityArn: ACTIVITY,
    workerName: 'opsflow-worker',
    sender: 'approvals@example.com',
    linkBaseUrl: LINK_BASE,
    reminderIntervalSeconds: 4 * 3600,
    escalateAfterSeconds: 0,
    escalationApprovers: [],
    now: () => NOW,
    sleep: async () => {},
    log,
    ...overrides,
  };
}

function offerTask(token = TOKEN, input: unknown = { request, execution: EXECUTION, enteredAt: NOW.toISOString() }) {
  sfn.on(GetActivityTaskCommand).resolves({ taskToken: token, input: JSON.stringify(input) });
}

function sentMails(): SendEmailCommandInput[] {
  return ses.commandCalls(SendEmailCommand).map((c) => c.args[0].input);
}

/** The ref (`<id>.<secret>`) of the approve link in a mail's text body. */
function refIn(mail: SendEmailCommandInput): string {
  const text = mail.Content!.Simple!.Body!.Text!.Data!;
  return new RegExp(`${LINK_BASE}/approvals/([^?\\s]+)\\?intent=approve`).exec(text)![1];
}

describe('deliverNext', () => {
  it("succeeds without polling when another worker already stored its execution's task", async () => {
    // Prepare: the record's token was stored after this invocation's state was entered
    table.insert(pendingRecord({ tokenAt: '2030-01-01T09:00:05.000Z' }));
    // Act
    const result = await deliverNext(deps(), { execution: EXECUTION, since: '2030-01-01T09:00:00.000Z' });
    // Assess
    expect(result).toEqual({ requestId: requestId(EXECUTION), notified: 0 });
    expect(sfn).not.toHaveReceivedCommand(GetActivityTaskCommand);
  });

  it('succeeds after an empty long poll when another worker stored its task meanwhile, else fails Approval.NoTask', async () => {
    // Prepare: an older token only (from an earlier attempt); the poll finds nothing
    table.insert(pendingRecord({ tokenAt: '2030-01-01T08:00:00.000Z' }));
    const event = { execution: EXECUTION, since: '2030-01-01T09:00:00.000Z' };
    sfn.on(GetActivityTaskCommand).resolves({});
    // Act / Assess: still the old token
    await expect(deliverNext(deps(), event)).rejects.toMatchObject({ name: 'Approval.NoTask' });
    // Prepare: an orphaned worker stores the new token during the poll
    sfn.on(GetActivityTaskCommand).callsFake(async () => {
      await table.store.update(requestId(EXECUTION), (r) => ({ ...r, tokenAt: '2030-01-01T09:00:30.000Z' }));
      return {};
    });
    // Act / Assess
    await expect(deliverNext(deps(), event)).resolves.toEqual({ requestId: requestId(EXECUTION), notified: 0 });
  });

  it('throws Approval.NoTask when no task arrived, touching nothing', async () => {
    // Prepare
    sfn.on(GetActivityTaskCommand).resolves({});
    // Act / Assess
    await expect(deliverNext(deps())).rejects.toThrow(ApprovalNoTaskError);
    await expect(deliverNext(deps())).rejects.toMatchObject({ name: 'Approval.NoTask' });
    expect(sfn).toHaveReceivedCommandWith(GetActivityTaskCommand, { activityArn: ACTIVITY, workerName: 'opsflow-worker' });
    expect(table.mock).not.toHaveReceivedCommand(PutCommand);
    expect(ses).not.toHaveReceivedAnyCommand();
  });

  it('stores a new request, then heartbeats, then emails each approver a personal link', async () => {
    // Prepare: note the order of the side effects
    offerTask();
    const order: string[] = [];
    table.beforePut = () => order.push('put');
    sfn.on(SendTaskHeartbeatCommand).callsFake(() => order.push('heartbeat'));
    ses.on(SendEmailCommand).callsFake((input: SendEmailCommandInput) => order.push(`mail ${input.Destination!.ToAddresses![0]}`));
    // Act
    const result = await deliverNext(deps());
    // Assess
    const id = requestId(EXECUTION);
    expect(result).toEqual({ requestId: id, notified: 2 });
    expect(order).toEqual(['put', 'heartbeat', 'mail alice@example.com', 'mail bob@example.com', 'put']);
    expect(sfn).toHaveReceivedCommandWith(SendTaskHeartbeatCommand, { taskToken: TOKEN });

    const record = table.record(id);
    expect(record).toMatchObject({
      executionArn: EXECUTION,
      token: TOKEN,
      title: 'Stop i-0123 in prod',
      quorum: 1,
      status: 'pending',
      pending: 'yes',
      createdAt: '2030-01-01T10:00:00.000Z',
      deadline: '2030-01-02T10:00:00.000Z',
      nextReminderAt: '2030-01-01T14:00:00.000Z',
      escalateAt: null,
      votes: [],
      decision: null,
    });
    expect(record.approvers.map((a) => [a.email, a.role, a.notifiedAt])).toEqual([
      ['alice@example.com', 'approver', NOW.toISOString()],
      ['bob@example.com', 'approver', NOW.toISOString()],
    ]);

    const mails = sentMails();
    expect(mails.map((m) => [m.FromEmailAddress, m.Destination!.ToAddresses])).toEqual([
      ['approvals@example.com', ['alice@example.com']],
      ['approvals@example.com', ['bob@example.com']],
    ]);
    // Each link verifies for its recipient, and only for them.
    mails.forEach((mail) => {
      const ref = parseRef(refIn(mail));
      if (ref === 'invalid') throw new Error('malformed link');
      expect(ref.id).toBe(id);
      expect(findApprover(record.approvers, ref.secret)?.email).toBe(mail.Destination!.ToAddresses![0]);
    });
    expect(refIn(mails[0])).not.toBe(refIn(mails[1]));
  });

  it('never returns, mails or logs the task token or a link secret', async () => {
    offerTask();
    const result = await deliverNext(deps());
    const mails = sentMails();
    expect(JSON.stringify(result)).not.toContain(TOKEN);
    expect(JSON.stringify(mails)).not.toContain(TOKEN);
    expect(log.text()).not.toContain(TOKEN);
    for (const mail of mails) expect(log.text()).not.toContain(refIn(mail).split('.')[1]);
  });

  it('schedules an escalation when escalation approvers exist and it falls before the deadline', async () => {
    offerTask();
    await deliverNext(deps({ escalateAfterSeconds: 3600, escalationApprovers: ['boss@example.com'] }));
    expect(table.record(requestId(EXECUTION)).escalateAt).toBe('2030-01-01T11:00:00.000Z');
  });

  it('counts the deadline from when the activity state started, not from when the worker ran', async () => {
    offerTask(TOKEN, { request: { ...request, timeoutSeconds: 3600 }, execution: EXECUTION, enteredAt: new Date(NOW.getTime() - 90_000).toISOString() });
    await deliverNext(deps());
    expect(table.record(requestId(EXECUTION)).deadline).toBe(new Date(NOW.getTime() - 90_000 + 3_600_000).toISOString());
  });

  it('schedules no escalation or reminder past the deadline', async () => {
    offerTask(TOKEN, { request: { ...request, timeoutSeconds: 600 }, execution: EXECUTION, enteredAt: NOW.toISOString() });
    await deliverNext(deps({ escalateAfterSeconds: 3600, escalationApprovers: ['boss@example.com'] }));
    expect(table.record(requestId(EXECUTION))).toMatchObject({ escalateAt: null, nextReminderAt: null });
  });

  it('leaves notifiedAt null for an approver SES refused, without throwing, and says who and why in its output', async () => {
    // Prepare: the SES sandbox refuses alice, who is not a verified identity
    offerTask();
    const refusal = 'Email address is not verified. The following identities failed the check in region US-EAST-1: alice@example.com';
    ses
      .on(SendEmailCommand)
      .rejectsOnce(Object.assign(new Error(refusal), { name: 'MessageRejected' }))
      .resolves({});
    // Act
    const result = await deliverNext(deps());
    // Assess
    expect(result).toEqual({
      requestId: requestId(EXECUTION),
      notified: 1,
      undelivered: [{ email: 'alice@example.com', error: 'MessageRejected', message: refusal }],
    });
    const approvers = table.record(requestId(EXECUTION)).approvers;
    expect(approvers.map((a) => a.notifiedAt)).toEqual([null, NOW.toISOString()]);
    expect(log.lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: 'approval email not sent',
        attributes: expect.objectContaining({ error: 'MessageRejected', reason: refusal }),
      }),
    );
  });

  describe('SES throttling (1 email per second in the sandbox, each recipient counts)', () => {
    const throttled = () => Object.assign(new Error('Maximum sending rate exceeded.'), { name: 'TooManyRequestsException' });

    it('waits a second, then longer, and sends a throttled email again: every approver is emailed now, not by the sweep', async () => {
      // Prepare: three approvers; SES takes the first email and throttles each of the others once or twice
      offerTask(TOKEN, {
        request: { ...request, approvers: ['alice@example.com', 'bob@example.com', 'carol@example.com'] },
        execution: EXECUTION,
        enteredAt: NOW.toISOString(),
      });
      ses.on(SendEmailCommand).resolvesOnce({}).rejectsOnce(throttled()).resolvesOnce({}).rejectsOnce(throttled()).rejectsOnce(throttled()).resolves({});
      const waits: number[] = [];
      // Act
      const result = await deliverNext(deps({ sleep: async (ms) => void waits.push(ms) }));
      // Assess
      expect(result).toEqual({ requestId: requestId(EXECUTION), notified: 3 });
      expect(sentMails().map((m) => m.Destination!.ToAddresses![0])).toEqual([
        'alice@example.com',
        'bob@example.com',
        'bob@example.com',
        'carol@example.com',
        'carol@example.com',
        'carol@example.com',
      ]);
      expect(waits).toEqual([1000, 1000, 2000]);
      expect(table.record(requestId(EXECUTION)).approvers.map((a) => a.notifiedAt)).toEqual([NOW.toISOString(), NOW.toISOString(), NOW.toISOString()]);
    });

    it('gives up after four waits (15 s) and leaves the email to the sweep; a throttle is not reported as undelivered', async () => {
      offerTask();
      ses.on(SendEmailCommand).resolvesOnce({}).rejects(throttled());
      const waits: number[] = [];
      const result = await deliverNext(deps({ sleep: async (ms) => void waits.push(ms) }));
      expect(result).toEqual({ requestId: requestId(EXECUTION), notified: 1 });
      expect(waits).toEqual([1000, 2000, 4000, 8000]);
    });

    it('does not wait past the time the function has left', async () => {
      offerTask();
      ses.on(SendEmailCommand).resolvesOnce({}).rejects(throttled());
      const waits: number[] = [];
      const result = await deliverNext(deps({ sleep: async (ms) => void waits.push(ms), remainingMs: () => 12_500 }));
      expect(result.notified).toBe(1);
      expect(waits).toEqual([1000, 2000]);
    });
  });

  it('on a retried delivery reuses the record: new token, votes kept, only unreached approvers emailed', async () => {
    // Prepare: alice voted (quorum 2), bob was never reached
    const existing = pendingRecord({ quorum: 2, votes: [{ approver: 'alice@example.com', decision: 'approved', comment: null, at: 'x' }] });
    existing.approvers[1].notifiedAt = null;
    delete existing.pending;
    table.insert(existing);
    offerTask(NEW_TOKEN);
    // Act
    const result = await deliverNext(deps());
    // Assess
    expect(result).toEqual({ requestId: existing.id, notified: 1 });
    const record = table.record(existing.id);
    expect(record).toMatchObject({ token: NEW_TOKEN, pending: 'yes', votes: existing.votes, deadline: existing.deadline });
    expect(sfn).toHaveReceivedCommandWith(SendTaskHeartbeatCommand, { taskToken: NEW_TOKEN });
    expect(sentMails().map((m) => m.Destination!.ToAddresses)).toEqual([['bob@example.com']]);
    // Bob's new link works (a new secret was issued for the email that never arrived).
    const ref = parseRef(refIn(sentMails()[0]));
    expect(ref !== 'invalid' && findApprover(record.approvers, ref.secret)?.email).toBe('bob@example.com');
    expect(record.approvers[1].notifiedAt).toBe(NOW.toISOString());
  });

  it('on a retried delivery delivers an existing decision to the new task', async () => {
    // Prepare: decided and delivered to the previous (now gone) task
    const existing = pendingRecord({
      status: 'approved',
      decision: { decision: 'approved', approver: 'alice@example.com', approvers: ['alice@example.com'], comment: null, decidedAt: 'y' },
      delivered: true,
    });
    delete existing.pending;
    table.insert(existing);
    offerTask(NEW_TOKEN);
    // Act
    const result = await deliverNext(deps());
    // Assess
    expect(result).toEqual({ requestId: existing.id, notified: 0 });
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, { taskToken: NEW_TOKEN });
    const record = table.record(existing.id);
    expect(record).toMatchObject({ token: NEW_TOKEN, delivered: true });
    expect(record).not.toHaveProperty('pending');
    expect(ses).not.toHaveReceivedAnyCommand();
  });

  it('on a retried delivery revives a request an earlier task timed out, as long as its deadline has not passed', async () => {
    // Prepare: the previous task hit its heartbeat timeout, which marked the record expired
    const existing = pendingRecord({ status: 'expired' });
    delete existing.pending;
    table.insert(existing);
    offerTask(NEW_TOKEN);
    // Act
    await deliverNext(deps());
    // Assess
    expect(table.record(existing.id)).toMatchObject({ status: 'pending', pending: 'yes', token: NEW_TOKEN });
    expect(sfn).toHaveReceivedCommandWith(SendTaskHeartbeatCommand, { taskToken: NEW_TOKEN });
  });

  it('emails nobody when the task is already gone by the time it heartbeats', async () => {
    offerTask();
    sfn.on(SendTaskHeartbeatCommand).rejects(new TaskDoesNotExist({ message: 'gone', $metadata: {} }));
    const result = await deliverNext(deps());
    expect(result.notified).toBe(0);
    expect(ses).not.toHaveReceivedAnyCommand();
    expect(table.record(requestId(EXECUTION))).not.toHaveProperty('pending');
  });

  it('fails the task with Input.Invalid when its input is malformed', async () => {
    // Prepare
    offerTask(TOKEN, { request: { title: 'T' } });
    // Act / Assess
    await expect(deliverNext(deps())).rejects.toMatchObject({ name: 'Input.Invalid' });
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: TOKEN,
      error: 'Input.Invalid',
      cause: expect.stringContaining('execution: must be the execution ARN'),
    });
    expect(table.mock).not.toHaveReceivedCommand(PutCommand);
  });
});
