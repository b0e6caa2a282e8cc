import { beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient, TaskDoesNotExist, TaskTimedOut } from '@aws-sdk/client-sfn';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { handleDecisionRequest } from '../../../tasks/approval/core/decide';
import type { HttpRequest } from '../../../tasks/shared/http';
import { httpRequest } from '../shared/http-request';
import type { ApprovalRecord } from '../../../tasks/approval/core/types';
import { FakeTable, NOW, TOKEN, pendingRecord, recordingLog, refFor } from './fakes';

const sfn = mockClient(SFNClient);
let table: FakeTable;
let log: ReturnType<typeof recordingLog>;
let now: Date;

beforeEach(() => {
  sfn.reset();
  // The page asks whether the execution still waits before it shows the form or takes a vote.
  sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
  table = new FakeTable();
  log = recordingLog();
  now = NOW;
});

function deps() {
  return { store: table.store, sfn: new SFNClient({ region: 'us-east-1' }), now: () => now, log };
}

function get(ref: string, intent?: string): HttpRequest {
  return httpRequest({ method: 'GET', params: { ref }, query: intent === undefined ? {} : { intent } });
}

function post(ref: string, body: string, contentType = 'application/x-www-form-urlencoded'): HttpRequest {
  return httpRequest({ method: 'POST', params: { ref }, headers: { 'content-type': contentType }, body });
}

function seed(overrides: Partial<ApprovalRecord> = {}): ApprovalRecord {
  const record = pendingRecord(overrides);
  table.insert(record);
  return record;
}

/** Nothing was sent on the task token (DescribeExecution only reads). */
function expectNoTaskCall() {
  expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
  expect(sfn).not.toHaveReceivedCommand(SendTaskFailureCommand);
}

const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';

describe('GET /approvals/{ref}', () => {
  it('shows the pending request and changes nothing', async () => {
    // Prepare
    const record = seed();
    // Act
    const response = await handleDecisionRequest(get(refFor(record, ALICE)), deps());
    // Assess
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('Stop i-0123 in prod');
    expect(response.body).toContain(`This personal link identifies you as <strong>${ALICE}</strong>`);
    expect(response.body).toContain('<form method="post"');
    expect(table.mock).not.toHaveReceivedCommand(PutCommand);
    expectNoTaskCall();
  });

  it('preselects the intent from the link and still changes nothing', async () => {
    const record = seed();
    const response = await handleDecisionRequest(get(refFor(record, ALICE), 'reject'), deps());
    expect(response.body).toContain('value="reject" class="chosen"');
    expect(table.mock).not.toHaveReceivedCommand(PutCommand);
    expectNoTaskCall();
  });

  it("shows an approver's own vote while the quorum is not reached", async () => {
    const record = seed({ quorum: 2, votes: [{ approver: ALICE, decision: 'approved', comment: null, at: NOW.toISOString() }] });
    const response = await handleDecisionRequest(get(refFor(record, ALICE)), deps());
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('You have already voted');
    expect(response.body).not.toContain('<form');
  });

  it('shows the decision once decided, also after the deadline', async () => {
    // Prepare
    const record = seed({
      status: 'approved',
      decision: { decision: 'approved', approver: BOB, approvers: [BOB], comment: 'ok', decidedAt: '2030-01-01T09:30:00.000Z' },
      delivered: true,
    });
    now = new Date('2030-01-05T00:00:00.000Z');
    // Act
    const response = await handleDecisionRequest(get(refFor(record, ALICE)), deps());
    // Assess
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain(`<strong>approved</strong> by ${BOB}`);
  });

  it.each([
    ['the deadline has passed', {}, new Date('2030-01-02T09:00:00.000Z')],
    ['the record is expired', { status: 'expired' as const }, NOW],
  ])('answers 410 when %s', async (_case, overrides, at) => {
    const record = seed(overrides);
    now = at;
    const response = await handleDecisionRequest(get(refFor(record, ALICE)), deps());
    expect(response.statusCode).toBe(410);
    expect(response.body).toContain('expired');
  });

  it('answers the same generic 404 for a malformed ref, an unknown id and a wrong secret', async () => {
    // Prepare
    const record = seed();
    const unknownId = `${'Z'.repeat(22)}.${refFor(record, ALICE).split('.')[1]}`;
    const wrongSecret = `${record.id}.${'Q'.repeat(43)}`;
    // Act
    const responses = await Promise.all(['garbage', unknownId, wrongSecret].map((ref) => handleDecisionRequest(get(ref), deps())));
    // Assess
    expect(responses.map((r) => r.statusCode)).toEqual([404, 404, 404]);
    expect(new Set(responses.map((r) => r.body)).size).toBe(1);
    expect(responses[0].body).not.toContain(record.title);
  });

  it('sends the security headers', async () => {
    const response = await handleDecisionRequest(get('garbage'), deps());
    expect(response.headers).toMatchObject({
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'x-robots-tag': 'noindex',
    });
  });
});

describe('POST /approvals/{ref}', () => {
  it('approves with quorum 1 and completes the task with the exact output', async () => {
    // Prepare
    const record = seed();
    // Act
    const response = await handleDecisionRequest(post(refFor(record, ALICE), 'decision=approve&comment=looks+good'), deps());
    // Assess
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain(`<strong>approved</strong> by ${ALICE}`);
    expect(sfn).toHaveReceivedCommandExactlyOnceWith(SendTaskSuccessCommand, {
      taskToken: TOKEN,
      output: JSON.stringify({
        decision: 'approved',
        approver: ALICE,
        approvers: [ALICE],
        comment: 'looks good',
        decidedAt: NOW.toISOString(),
      }),
    });
    const stored = table.record(record.id);
    expect(stored).toMatchObject({ status: 'approved', delivered: true, votes: [{ approver: ALICE, decision: 'approved' }] });
    expect(stored).not.toHaveProperty('pending');
  });

  it('needs two distinct approvers for quorum 2; the same approver twice does not count', async () => {
    // Prepare
    const record = seed({ quorum: 2 });
    // Act
    const first = await handleDecisionRequest(post(refFor(record, ALICE), 'decision=approve'), deps());
    const again = await handleDecisionRequest(post(refFor(record, ALICE), 'decision=approve'), deps());
    // Assess: one vote, nothing sent
    expect(first.statusCode).toBe(200);
    expect(first.body).toContain('Your vote is recorded');
    expect(first.body).toContain('1 of 2</strong>');
    expect(again.statusCode).toBe(409);
    expect(table.record(record.id).votes).toHaveLength(1);
    expectNoTaskCall();

    // Act: a second, distinct approver
    const second = await handleDecisionRequest(post(refFor(record, BOB), 'decision=approve&comment=ok'), deps());
    // Assess
    expect(second.statusCode).toBe(200);
    expect(sfn).toHaveReceivedCommandExactlyOnceWith(SendTaskSuccessCommand, {
      output: JSON.stringify({ decision: 'approved', approver: BOB, approvers: [ALICE, BOB], comment: 'ok', decidedAt: NOW.toISOString() }),
    });
  });

  it('rejects at once, even before the quorum, and fails the task with Approval.Rejected', async () => {
    // Prepare
    const record = seed({ quorum: 2 });
    // Act
    const response = await handleDecisionRequest(post(refFor(record, BOB), 'decision=reject&comment=not+now'), deps());
    // Assess
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('<strong>rejected</strong>');
    expect(sfn).toHaveReceivedCommandExactlyOnceWith(SendTaskFailureCommand, {
      taskToken: TOKEN,
      error: 'Approval.Rejected',
      cause: JSON.stringify({ approver: BOB, comment: 'not now', decidedAt: NOW.toISOString() }),
    });
    expect(table.record(record.id)).toMatchObject({ status: 'rejected', delivered: true });
  });

  it('answers a replayed POST with 409 and the decision, sending nothing', async () => {
    // Prepare
    const record = seed();
    await handleDecisionRequest(post(refFor(record, ALICE), 'decision=approve'), deps());
    sfn.resetHistory();
    table.mock.resetHistory();
    // Act
    const replay = await handleDecisionRequest(post(refFor(record, ALICE), 'decision=reject'), deps());
    // Assess
    expect(replay.statusCode).toBe(409);
    expect(replay.body).toContain('<strong>approved</strong>');
    expectNoTaskCall();
    expect(table.mock).not.toHaveReceivedCommand(PutCommand);
  });

  it('answers 410 after the deadline and records nothing', async () => {
    const record = seed();
    now = new Date('2030-01-03T00:00:00.000Z');
    const response = await handleDecisionRequest(post(refFor(record, ALICE), 'decision=approve'), deps());
    expect(response.statusCode).toBe(410);
    expect(table.mock).not.toHaveReceivedCommand(PutCommand);
    expectNoTaskCall();
  });

  it('answers 404 for a tampered link and records nothing', async () => {
    const record = seed();
    const tampered = `${record.id}.${'A'.repeat(42)}b`;
    const response = await handleDecisionRequest(post(tampered, 'decision=approve'), deps());
    expect(response.statusCode).toBe(404);
    expect(table.mock).not.toHaveReceivedCommand(PutCommand);
  });

  it.each([
    ['not form-encoded', '{"decision":"approve"}', 'application/json', /application\/x-www-form-urlencoded/],
    ['without a decision', 'comment=hi', undefined, /Choose Approve or Reject/],
    ['with an unknown decision', 'decision=maybe', undefined, /either approve or reject/],
    ['with two decisions', 'decision=approve&decision=reject', undefined, /either approve or reject/],
    ['with a comment over 1000 characters', `decision=approve&comment=${'x'.repeat(1001)}`, undefined, /1001 characters long/],
  ])('answers 400 for a form %s, saying what is wrong', async (_case, body, contentType, message) => {
    // Prepare
    const record = seed();
    // Act
    const response = await handleDecisionRequest(post(refFor(record, ALICE), body, contentType), deps());
    // Assess
    expect(response.statusCode).toBe(400);
    expect(response.body).toMatch(message);
    expect(response.body).toContain('<form');
    expect(table.mock).not.toHaveReceivedCommand(PutCommand);
    expectNoTaskCall();
  });

  it('counts CRLF line breaks as one character and accepts a charset parameter', async () => {
    const record = seed();
    const comment = encodeURIComponent(`${'x'.repeat(499)}\r\n${'y'.repeat(500)}`);
    const response = await handleDecisionRequest(
      post(refFor(record, ALICE), `decision=approve&comment=${comment}`, 'application/x-www-form-urlencoded; charset=UTF-8'),
      deps(),
    );
    expect(response.statusCode).toBe(200);
  });

  it('shows the expired page (410) when Step Functions says the task timed out', async () => {
    // Prepare
    const record = seed();
    sfn.on(SendTaskSuccessCommand).rejects(new TaskTimedOut({ message: 'Task Timed Out', $metadata: {} }));
    // Act
    const response = await handleDecisionRequest(post(refFor(record, ALICE), 'decision=approve'), deps());
    // Assess
    expect(response.statusCode).toBe(410);
    expect(response.body).toContain('expired');
    const stored = table.record(record.id);
    expect(stored).toMatchObject({ status: 'expired', delivered: true });
    expect(stored).not.toHaveProperty('pending');
  });

  it('shows the closed page (410) when the task no longer exists', async () => {
    // Prepare
    const record = seed();
    sfn.on(SendTaskSuccessCommand).rejects(new TaskDoesNotExist({ message: 'Task does not exist', $metadata: {} }));
    // Act
    const response = await handleDecisionRequest(post(refFor(record, ALICE), 'decision=approve'), deps());
    // Assess
    expect(response.statusCode).toBe(410);
    expect(response.body).toContain('This request is closed');
    expect(table.record(record.id)).toMatchObject({ status: 'approved', delivered: true });
  });

  it('keeps a decision Step Functions throttled pending for the sweep and shows it', async () => {
    // Prepare
    const record = seed();
    sfn.on(SendTaskSuccessCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    // Act
    const response = await handleDecisionRequest(post(refFor(record, ALICE), 'decision=approve'), deps());
    // Assess
    expect(response.statusCode).toBe(200);
    expect(table.record(record.id)).toMatchObject({ status: 'approved', delivered: false, pending: 'yes' });
  });

  it('answers 503 "try again" when the table is throttled', async () => {
    // Prepare
    const record = seed();
    table.mock.on(GetCommand).rejects(new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }));
    // Act
    const response = await handleDecisionRequest(post(refFor(record, ALICE), 'decision=approve'), deps());
    // Assess
    expect(response.statusCode).toBe(503);
    expect(response.body).toMatch(/try again/);
  });

  it('answers a generic 500 on an unexpected error, logging the request id but no details', async () => {
    // Prepare
    const record = seed();
    table.mock.on(GetCommand).rejects(new Error(`boom near ${TOKEN}`));
    // Act
    const response = await handleDecisionRequest(post(refFor(record, ALICE), 'decision=approve'), deps());
    // Assess
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toMatch(/boom|at .*\.ts/);
    expect(log.lines).toEqual([{ level: 'error', message: 'approval page failed', attributes: { requestId: 'req-1', error: 'Error' } }]);
  });

  it('counts a vote that raced with another approver', async () => {
    // Prepare: bob's approval lands between alice's read and write
    const record = seed({ quorum: 2 });
    table.beforePut = () => {
      table.beforePut = undefined;
      const other = table.record(record.id);
      other.votes.push({ approver: BOB, decision: 'approved', comment: null, at: NOW.toISOString() });
      other.version += 1;
      table.insert(other);
    };
    // Act
    const response = await handleDecisionRequest(post(refFor(record, ALICE), 'decision=approve'), deps());
    // Assess: alice's vote re-applied on top of bob's reaches the quorum
    expect(response.statusCode).toBe(200);
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, {
      output: expect.stringContaining(`"approvers":["${BOB}","${ALICE}"]`),
    });
  });

  it('never puts the task token or a link secret in a page or a log line', async () => {
    const record = seed({ quorum: 2 });
    const pages = [
      await handleDecisionRequest(get(refFor(record, ALICE)), deps()),
      await handleDecisionRequest(post(refFor(record, ALICE), 'decision=approve'), deps()),
      await handleDecisionRequest(post(refFor(record, BOB), 'decision=approve'), deps()),
    ];
    for (const page of pages) expect(page.body).not.toContain(TOKEN);
    expect(pages[1].body).not.toContain(refFor(record, BOB).split('.')[1]);
    expect(log.text()).not.toContain(TOKEN);
    expect(log.text()).not.toContain(refFor(record, ALICE).split('.')[1]);
  });
});

describe("the requester's own link", () => {
  it("refuses the requester's vote (403), records nothing and completes nothing; the page says why", async () => {
    // Prepare: ALICE asked (a parent workflow passed her address) and is on the list, e.g. as an escalation approver.
    const record = seed({ requestedBy: ALICE });

    // Act
    const page = await handleDecisionRequest(get(refFor(record, ALICE)), deps());
    const vote = await handleDecisionRequest(post(refFor(record, ALICE), 'decision=approve'), deps());
    const other = await handleDecisionRequest(post(refFor(record, BOB), 'decision=approve'), deps());

    // Assess
    for (const response of [page, vote]) {
      expect(response.statusCode).toBe(403);
      expect(response.body).toContain('You asked for this request, so you cannot decide it');
    }
    expect(other.statusCode).toBe(200);
    expect(table.record(record.id).votes.map((v) => v.approver)).toEqual([BOB]);
  });
});

describe('a request whose execution stopped waiting', () => {
  it.each([
    ['aborted', { status: 'ABORTED' as const }, 'it was stopped (aborted) before anyone decided'],
    [
      'failed with an error the app does not know',
      { status: 'FAILED' as const, error: 'Some.Other' },
      'the workflow failed (Some.Other) before anyone decided',
    ],
    ['timed out', { status: 'TIMED_OUT' as const }, 'the workflow timed out'],
    ['failed', { status: 'FAILED' as const, error: 'Approval.WorkerLost' }, 'the workflow failed (Approval.WorkerLost)'],
  ])('%s: the page and a POST say it is closed and why, never "expired"', async (_, execution, why) => {
    // Prepare
    const record = seed();
    sfn.on(DescribeExecutionCommand).resolves(execution);
    // Act
    const page = await handleDecisionRequest(get(refFor(record, ALICE)), deps());
    const vote = await handleDecisionRequest(post(refFor(record, BOB), 'decision=approve'), deps());
    // Assess
    for (const response of [page, vote]) {
      expect(response.statusCode).toBe(410);
      expect(response.body).toContain('This request is closed');
      expect(response.body).toContain(why);
      expect(response.body).not.toContain('expired');
      expect(response.body).not.toContain('<form');
    }
    expectNoTaskCall();
    expect(table.record(record.id)).toMatchObject({ status: 'closed', closedReason: expect.stringContaining(why), votes: [] });
    expect(table.record(record.id)).not.toHaveProperty('pending');
  });

  it('at the approval deadline (Approval.TimedOut) it is expired, as before', async () => {
    const record = seed();
    sfn.on(DescribeExecutionCommand).resolves({ status: 'FAILED', error: 'Approval.TimedOut' });
    const page = await handleDecisionRequest(get(refFor(record, ALICE)), deps());
    expect(page.statusCode).toBe(410);
    expect(page.body).toContain('expired');
    expect(table.record(record.id).status).toBe('expired');
  });

  it('a vote whose task turns out gone says why when the execution stopped (a dead token answers TaskTimedOut too)', async () => {
    // Prepare: the execution still ran when the page was read, and was aborted before the vote reached the task
    const record = seed();
    sfn.on(DescribeExecutionCommand).resolvesOnce({ status: 'RUNNING' }).resolves({ status: 'ABORTED' });
    sfn.on(SendTaskSuccessCommand).rejects(new TaskTimedOut({ message: 'Task Timed Out', $metadata: {} }));
    // Act
    const response = await handleDecisionRequest(post(refFor(record, ALICE), 'decision=approve'), deps());
    // Assess
    expect(response.statusCode).toBe(410);
    expect(response.body).toContain('stopped (aborted)');
    expect(response.body).not.toContain('expired');
  });
});

describe('unknown refs', () => {
  it.each(['garbage', '', 'x'.repeat(22), `${'x'.repeat(22)}.short`, `${'x'.repeat(22)}.${'y'.repeat(43)}/../etc`])(
    'answers %j with 404 from its shape alone: no table read, no Step Functions call',
    async (ref) => {
      const response = await handleDecisionRequest(get(ref), deps());
      expect(response.statusCode).toBe(404);
      expect(table.mock).not.toHaveReceivedCommand(GetCommand);
      expect(sfn).not.toHaveReceivedAnyCommand();
    },
  );
});
