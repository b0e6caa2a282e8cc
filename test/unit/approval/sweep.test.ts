import { beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { SendTaskFailureCommand, SendTaskHeartbeatCommand, SendTaskSuccessCommand, SFNClient, TaskTimedOut } from '@aws-sdk/client-sfn';
import { SendEmailCommand, SESv2Client, type SendEmailCommandInput } from '@aws-sdk/client-sesv2';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { findApprover, parseRef } from '../../../tasks/approval/core/links';
import { sweep, type SweepDeps } from '../../../tasks/approval/core/sweep';
import type { ApprovalRecord } from '../../../tasks/approval/core/types';
import { FakeTable, LINK_BASE, NOW, SECRETS, TOKEN, pendingRecord, recordingLog } from './fakes';

const sfn = mockClient(SFNClient);
const ses = mockClient(SESv2Client);
let table: FakeTable;
let log: ReturnType<typeof recordingLog>;
let now: Date;

const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';
const BOSS = 'boss@example.com';
const ZERO = { checked: 0, reminded: 0, escalated: 0, expired: 0, delivered: 0, heartbeats: 0 };

beforeEach(() => {
  sfn.reset();
  ses.reset();
  ses.on(SendEmailCommand).resolves({ MessageId: 'm' });
  table = new FakeTable();
  log = recordingLog();
  now = NOW;
});

function deps(): SweepDeps {
  return {
    sfn: new SFNClient({ region: 'us-east-1' }),
    ses: new SESv2Client({ region: 'us-east-1' }),
    store: table.store,
    sender: 'approvals@example.com',
    linkBaseUrl: LINK_BASE,
    reminderIntervalSeconds: 4 * 3600,
    escalationApprovers: [BOSS, ALICE],
    now: () => now,
    sleep: async () => {},
    log,
  };
}

function seed(overrides: Partial<ApprovalRecord> = {}): ApprovalRecord {
  const record = pendingRecord(overrides);
  table.insert(record);
  return record;
}

function sentMails(): SendEmailCommandInput[] {
  return ses.commandCalls(SendEmailCommand).map((c) => c.args[0].input);
}

function secretIn(mail: SendEmailCommandInput): string {
  const ref = parseRef(/\/approvals\/([^?\s]+)\?intent=approve/.exec(mail.Content!.Simple!.Body!.Text!.Data!)![1]);
  if (ref === 'invalid') throw new Error('malformed link');
  return ref.secret;
}

describe('sweep', () => {
  it('heartbeats a pending request that needs nothing else', async () => {
    const record = seed();
    const counts = await sweep(deps());
    expect(counts).toEqual({ ...ZERO, checked: 1, heartbeats: 1 });
    expect(sfn).toHaveReceivedCommandWith(SendTaskHeartbeatCommand, { taskToken: TOKEN });
    expect(ses).not.toHaveReceivedAnyCommand();
    expect(table.record(record.id).pending).toBe('yes');
  });

  it('reminds every approver who has not voted, with a working new link, and moves the next reminder on', async () => {
    // Prepare: bob voted (quorum 2), a reminder is due
    const record = seed({ quorum: 2, votes: [{ approver: BOB, decision: 'approved', comment: null, at: NOW.toISOString() }] });
    now = new Date('2030-01-01T13:00:00.000Z');
    // Act
    const counts = await sweep(deps());
    // Assess
    expect(counts).toEqual({ ...ZERO, checked: 1, heartbeats: 1, reminded: 1 });
    const mails = sentMails();
    expect(mails.map((m) => [m.Destination!.ToAddresses![0], m.Content!.Simple!.Subject!.Data])).toEqual([
      [ALICE, 'Reminder: approval needed: Stop i-0123 in prod'],
    ]);
    const stored = table.record(record.id);
    expect(stored.nextReminderAt).toBe('2030-01-01T17:00:00.000Z');
    expect(stored.approvers[0].remindedAt).toBe(now.toISOString());
    expect(findApprover(stored.approvers, secretIn(mails[0]))?.email).toBe(ALICE);
  });

  it('counts every reminder an approver was sent, not only the last one (the console shows the count)', async () => {
    // Prepare: two reminders due, four hours apart; the second fails to send for bob
    const record = seed();
    now = new Date('2030-01-01T13:00:00.000Z');
    await sweep(deps());
    now = new Date('2030-01-01T17:00:00.000Z');
    ses.on(SendEmailCommand, { Destination: { ToAddresses: [BOB] } }).rejects(Object.assign(new Error('down'), { name: 'InternalServiceErrorException' }));
    // Act
    await sweep(deps());
    // Assess
    const stored = table.record(record.id);
    expect(stored.approvers.map((a) => [a.email, a.reminders, a.remindedAt])).toEqual([
      [ALICE, 2, '2030-01-01T17:00:00.000Z'],
      [BOB, 1, '2030-01-01T13:00:00.000Z'],
    ]);
  });

  it('after a late sweep, schedules the next reminder in the future, not a burst', async () => {
    const record = seed();
    now = new Date('2030-01-01T18:30:00.000Z');
    await sweep(deps());
    expect(table.record(record.id).nextReminderAt).toBe('2030-01-01T21:00:00.000Z');
  });

  it('stops reminding once the next reminder would fall after the deadline', async () => {
    const record = seed({ nextReminderAt: '2030-01-02T06:00:00.000Z' });
    now = new Date('2030-01-02T06:00:00.000Z');
    await sweep(deps());
    expect(table.record(record.id).nextReminderAt).toBeNull();
    expect(sentMails()).toHaveLength(2);
  });

  it('keeps the links of earlier emails valid next to the reminder link', async () => {
    // Prepare
    const record = seed();
    now = new Date('2030-01-01T13:00:00.000Z');
    // Act
    await sweep(deps());
    // Assess
    const stored = table.record(record.id);
    const reminder = sentMails().find((m) => m.Destination!.ToAddresses![0] === ALICE)!;
    expect(findApprover(stored.approvers, secretIn(reminder))?.email).toBe(ALICE);
    expect(findApprover(stored.approvers, SECRETS[ALICE])?.email).toBe(ALICE);
    expect(stored.approvers.find((a) => a.email === ALICE)!.secretHashes).toHaveLength(2);
  });

  it("keeps an approver's previous link working when the reminder could not be sent", async () => {
    // Prepare
    const record = seed();
    now = new Date('2030-01-01T13:00:00.000Z');
    ses.on(SendEmailCommand).rejects(Object.assign(new Error('down'), { name: 'InternalServiceErrorException' }));
    // Act
    const counts = await sweep(deps());
    // Assess
    expect(counts.reminded).toBe(0);
    const stored = table.record(record.id);
    expect(findApprover(stored.approvers, SECRETS[ALICE])?.email).toBe(ALICE);
    expect(findApprover(stored.approvers, SECRETS[BOB])?.email).toBe(BOB);
    expect(stored.approvers.map((a) => a.remindedAt)).toEqual([null, null]);
  });

  it('escalates once: adds the escalation approvers who are not approvers yet and emails them', async () => {
    // Prepare
    const record = seed({ escalateAt: '2030-01-01T10:00:00.000Z' });
    // Act
    const counts = await sweep(deps());
    const again = await sweep(deps());
    // Assess
    expect(counts).toEqual({ ...ZERO, checked: 1, heartbeats: 1, escalated: 1 });
    expect(again.escalated).toBe(0);
    const stored = table.record(record.id);
    expect(stored.escalated).toBe(true);
    expect(stored.approvers.map((a) => [a.email, a.role])).toEqual([
      [ALICE, 'approver'],
      [BOB, 'approver'],
      [BOSS, 'escalation'],
    ]);
    const mails = sentMails();
    expect(mails.map((m) => [m.Destination!.ToAddresses![0], m.Content!.Simple!.Subject!.Data])).toEqual([
      [BOSS, 'Escalation: approval needed: Stop i-0123 in prod'],
    ]);
    expect(findApprover(stored.approvers, secretIn(mails[0]))?.email).toBe(BOSS);
    expect(stored.approvers[2].notifiedAt).toBe(NOW.toISOString());
  });

  it('retries the first email for approvers never reached, with a new working link', async () => {
    // Prepare
    const record = seed();
    record.approvers[1].notifiedAt = null;
    table.insert(record);
    // Act
    await sweep(deps());
    // Assess
    const mails = sentMails();
    expect(mails.map((m) => [m.Destination!.ToAddresses![0], m.Content!.Simple!.Subject!.Data])).toEqual([[BOB, 'Approval needed: Stop i-0123 in prod']]);
    const stored = table.record(record.id);
    expect(stored.approvers[1].notifiedAt).toBe(NOW.toISOString());
    expect(findApprover(stored.approvers, secretIn(mails[0]))?.email).toBe(BOB);
  });

  it('expires a request at its deadline and fails the task with Approval.TimedOut', async () => {
    // Prepare
    const record = seed();
    now = new Date('2030-01-02T09:00:00.000Z');
    // Act
    const counts = await sweep(deps());
    // Assess
    expect(counts).toEqual({ ...ZERO, checked: 1, expired: 1 });
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, { taskToken: TOKEN, error: 'Approval.TimedOut' });
    expect(sfn).not.toHaveReceivedCommand(SendTaskHeartbeatCommand);
    const stored = table.record(record.id);
    expect(stored.status).toBe('expired');
    expect(stored).not.toHaveProperty('pending');
  });

  it('takes a request off the list when its heartbeat says the task timed out', async () => {
    // Prepare
    const record = seed({ nextReminderAt: '2030-01-01T10:00:00.000Z' });
    sfn.on(SendTaskHeartbeatCommand).rejects(new TaskTimedOut({ message: 'Task Timed Out', $metadata: {} }));
    // Act
    const counts = await sweep(deps());
    // Assess
    expect(counts).toEqual({ ...ZERO, checked: 1 });
    const stored = table.record(record.id);
    expect(stored).not.toHaveProperty('pending');
    // Not 'expired': a stopped execution's token answers TaskTimedOut too; the page asks why (decide.test.ts).
    expect(stored.status).toBe('pending');
    expect(ses).not.toHaveReceivedAnyCommand();
  });

  it('delivers a decision that was not delivered yet', async () => {
    // Prepare
    const record = seed({
      status: 'rejected',
      decision: { decision: 'rejected', approver: BOB, approvers: [], comment: 'no', decidedAt: NOW.toISOString() },
    });
    // Act
    const counts = await sweep(deps());
    // Assess
    expect(counts).toEqual({ ...ZERO, checked: 1, delivered: 1 });
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: TOKEN,
      error: 'Approval.Rejected',
      cause: JSON.stringify({ approver: BOB, comment: 'no', decidedAt: NOW.toISOString() }),
    });
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
    expect(table.record(record.id)).toMatchObject({ delivered: true });
    expect(table.record(record.id)).not.toHaveProperty('pending');
  });

  it('keeps going when one record fails, across pages', async () => {
    // Prepare: three pending records (the fake table pages by two); reading the middle one fails
    for (const id of ['id-1', 'id-2', 'id-3']) seed({ id, token: `token-${id}` });
    table.mock.on(GetCommand, { Key: { id: 'id-2' } }).rejects(new Error('corrupt item'));
    // Act
    const counts = await sweep(deps());
    // Assess
    expect(counts).toEqual({ ...ZERO, checked: 3, heartbeats: 2 });
    expect(sfn).toHaveReceivedCommandWith(SendTaskHeartbeatCommand, { taskToken: 'token-id-1' });
    expect(sfn).toHaveReceivedCommandWith(SendTaskHeartbeatCommand, { taskToken: 'token-id-3' });
    expect(log.lines).toContainEqual({
      level: 'error',
      message: 'sweep failed for one approval, continuing',
      attributes: { requestId: 'id-2', error: 'Error' },
    });
  });

  it('never logs a task token or a link secret', async () => {
    seed({ escalateAt: '2030-01-01T10:00:00.000Z', nextReminderAt: '2030-01-01T10:00:00.000Z' });
    await sweep(deps());
    expect(sentMails()).toHaveLength(3);
    expect(log.text()).not.toContain(TOKEN);
    for (const mail of sentMails()) expect(log.text()).not.toContain(secretIn(mail));
  });
});
