/**
 * Exactly one "Approval needed" email per approver (issue 9 item 15): whoever is about to email an approver first
 * claims that email in the record (a conditional write), so a sweep or a redelivered task that runs while a worker
 * is still sending does not send it again.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { GetActivityTaskCommand, SendTaskHeartbeatCommand, SFNClient } from '@aws-sdk/client-sfn';
import { SendEmailCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { requestId } from '../../../tasks/approval/core/links';
import { SEND_CLAIM_SECONDS } from '../../../tasks/approval/core/notify';
import { sweep, type SweepDeps } from '../../../tasks/approval/core/sweep';
import type { ApprovalRequest } from '../../../tasks/approval/core/types';
import { deliverNext, type WorkerDeps } from '../../../tasks/approval/core/worker';
import { EXECUTION, FakeTable, LINK_BASE, NOW, TOKEN, recordingLog } from './fakes';

const sfn = mockClient(SFNClient);
const ses = mockClient(SESv2Client);
let table: FakeTable;
let now: Date;

const ACTIVITY = 'arn:aws:states:us-east-1:000000000000:activity:approval';
const NEW_TOKEN = 'NEW-TASK-TOKEN-also-secret-BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';
const request: ApprovalRequest = {
  title: 'Stop i-0123 in prod',
  details: null,
  approvers: ['alice@example.com'],
  requestedBy: null,
  timeoutSeconds: 86_400,
  quorum: 1,
};
const mail = { sender: 'approvals@example.com', linkBaseUrl: LINK_BASE };

function workerDeps(): WorkerDeps {
  return {
    sfn: new SFNClient({ region: 'us-east-1' }),
    ses: new SESv2Client({ region: 'us-east-1' }),
    store: table.store,
    activityArn: ACTIVITY,
    workerName: 'w',
    ...mail,
    reminderIntervalSeconds: 4 * 3600,
    escalateAfterSeconds: 0,
    escalationApprovers: [],
    now: () => now,
    sleep: async () => {},
    log: recordingLog(),
  };
}

function sweepDeps(): SweepDeps {
  return {
    sfn: new SFNClient({ region: 'us-east-1' }),
    ses: new SESv2Client({ region: 'us-east-1' }),
    store: table.store,
    ...mail,
    reminderIntervalSeconds: 4 * 3600,
    escalationApprovers: [],
    now: () => now,
    sleep: async () => {},
    log: recordingLog(),
  };
}

/** SES holds the first send until `release()`; later sends go through at once. */
function holdFirstSend() {
  let release!: () => void;
  let started!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const sending = new Promise<void>((r) => (started = r));
  let first = true;
  ses.on(SendEmailCommand).callsFake(async () => {
    if (first) {
      first = false;
      started();
      await held;
    }
    return { MessageId: 'm' };
  });
  return { sending, release };
}

const recipients = () => ses.commandCalls(SendEmailCommand).map((c) => c.args[0].input.Destination!.ToAddresses![0]);

beforeEach(() => {
  sfn.reset();
  ses.reset();
  table = new FakeTable();
  now = NOW;
  sfn.on(GetActivityTaskCommand).resolvesOnce({ taskToken: TOKEN, input: JSON.stringify({ request, execution: EXECUTION, enteredAt: NOW.toISOString() }) });
  sfn.on(SendTaskHeartbeatCommand).resolves({});
});

describe('one email per approver', () => {
  it('a sweep running while the worker is still sending does not send it again', async () => {
    // Prepare: the worker has stored the record and is waiting on SES
    const ses = holdFirstSend();
    const worker = deliverNext(workerDeps());
    await ses.sending;
    // Act: a sweep a minute later finds alice not notified yet
    now = new Date(NOW.getTime() + 60_000);
    const counts = await sweep(sweepDeps());
    ses.release();
    await worker;
    // Assess
    expect(counts.checked).toBe(1);
    expect(recipients()).toEqual(['alice@example.com']);
    expect(table.record(requestId(EXECUTION)).approvers[0].notifiedAt).toBe(NOW.toISOString());
  });

  it('a redelivered task while the first worker is still sending does not send it again', async () => {
    // Prepare: the first worker is waiting on SES; a retried AwaitDecision hands the same approval to a second worker
    const ses = holdFirstSend();
    const first = deliverNext(workerDeps());
    await ses.sending;
    sfn.on(GetActivityTaskCommand).resolves({ taskToken: NEW_TOKEN, input: JSON.stringify({ request, execution: EXECUTION, enteredAt: NOW.toISOString() }) });
    // Act
    const second = await deliverNext(workerDeps());
    ses.release();
    await first;
    // Assess
    expect(second.notified).toBe(0);
    expect(recipients()).toEqual(['alice@example.com']);
    expect(table.record(requestId(EXECUTION)).token).toBe(NEW_TOKEN);
  });

  it('a worker that died after claiming the email is replaced by the sweep once the claim is stale', async () => {
    // Prepare: the worker claimed alice's email and never came back
    const ses = holdFirstSend();
    void deliverNext(workerDeps());
    await ses.sending;
    // Act: a sweep within the claim sends nothing; one after it sends
    now = new Date(NOW.getTime() + (SEND_CLAIM_SECONDS - 1) * 1000);
    await sweep(sweepDeps());
    const during = recipients().length;
    now = new Date(NOW.getTime() + (SEND_CLAIM_SECONDS + 1) * 1000);
    await sweep(sweepDeps());
    // Assess
    expect(during).toBe(1);
    expect(recipients()).toEqual(['alice@example.com', 'alice@example.com']);
    expect(table.record(requestId(EXECUTION)).approvers[0].notifiedAt).toBe(now.toISOString());
  });

  it('a failed send releases its claim: the next sweep retries at once', async () => {
    // Prepare: SES refuses the worker's send (the sandbox had not verified alice yet)
    ses
      .on(SendEmailCommand)
      .rejectsOnce(Object.assign(new Error('Email address is not verified.'), { name: 'MessageRejected' }))
      .resolves({ MessageId: 'm' });
    await deliverNext(workerDeps());
    // Act
    now = new Date(NOW.getTime() + 60_000);
    await sweep(sweepDeps());
    // Assess
    expect(recipients()).toEqual(['alice@example.com', 'alice@example.com']);
    expect(table.record(requestId(EXECUTION)).approvers[0]).toMatchObject({ notifiedAt: now.toISOString(), sending: null });
  });
});
