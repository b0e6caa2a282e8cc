/**
 * Record panels (local/console/records.ts): the format is checked when the template is deployed, the Approval
 * construct's panel (workflows/approval/construct.ts) reads the approval record as the tasks write it, and a record
 * that says "pending" is shown closed once its execution stopped. Also the console's reading of a crashed
 * function's error (app/failure.ts) and of a Distributed Map's inner states over its child executions (mergeRuns).
 */
import { describe, expect, it } from 'vitest';
import { describeFailure } from '../../local/console/app/failure';
import type { StateRun } from '../../local/console/api';
import { mergeRuns } from '../../local/console/app/status';
import { parseRecordPanel, recordView, waitingItem } from '../../local/console/records';
import type { ApprovalRecord } from '../../tasks/approval/core/types';
import { APPROVAL_RECORD_PANEL } from '../../workflows/approval/construct';

const panel = parseRecordPanel(JSON.parse(JSON.stringify(APPROVAL_RECORD_PANEL)), 'Opsflow-ApprovalTable', 'Opsflow table ApprovalTable');

function record(overrides: Partial<ApprovalRecord> = {}): ApprovalRecord {
  return {
    id: 'r1',
    executionArn: 'arn:aws:states:us-east-1:000000000000:execution:Opsflow-Approval:x',
    token: 'secret-token',
    tokenAt: '2030-01-01T09:00:00.000Z',
    title: 'Stop i-0123 in prod',
    details: null,
    requestedBy: 'ops',
    quorum: 2,
    createdAt: '2030-01-01T09:00:00.000Z',
    deadline: '2030-01-02T09:00:00.000Z',
    nextReminderAt: '2030-01-01T13:00:00.000Z',
    escalateAt: null,
    escalated: false,
    approvers: [
      {
        email: 'alice@example.com',
        secretHashes: ['h1', 'h2', 'h3'],
        role: 'approver',
        notifiedAt: '2030-01-01T09:00:01.000Z',
        remindedAt: '2030-01-01T17:00:00.000Z',
        reminders: 2,
      },
      { email: 'bob@example.com', secretHashes: ['h4'], role: 'approver', notifiedAt: '2030-01-01T09:00:01.000Z', remindedAt: null },
      { email: 'carol@example.com', secretHashes: ['h5'], role: 'approver', notifiedAt: null, remindedAt: '2030-01-01T13:00:00.000Z' },
    ],
    votes: [{ approver: 'bob@example.com', decision: 'approved', comment: 'fine by me', at: '2030-01-01T10:00:00.000Z' }],
    status: 'pending',
    decision: null,
    delivered: false,
    pending: 'yes',
    version: 3,
    ...overrides,
  };
}

const running = { status: 'RUNNING' };
const asJson = (r: ApprovalRecord) => JSON.parse(JSON.stringify(r)) as Record<string, unknown>;

describe('the Approval record panel', () => {
  it('shows an open request: quorum, reminders counted per email, who voted, whom it waits on', async () => {
    const view = await recordView(panel, asJson(record()), running);
    expect(view).toMatchObject({
      panel: 'Approval',
      title: 'Stop i-0123 in prod',
      status: 'pending',
      open: true,
      reason: null,
      deadline: '2030-01-02T09:00:00.000Z',
    });
    expect(Object.fromEntries(view.facts.map((f) => [f.label, f.value]))).toEqual({
      'Requested by': 'ops',
      Quorum: '1 of 2 approvals',
      Decision: null,
      'Reminders sent': '3',
      'Next reminder': '2030-01-01T13:00:00.000Z',
      Escalates: null,
    });
    expect(view.list!.columns.map((c) => c.label)).toEqual(['Approver', 'Role', 'Asked', 'Reminders', 'Last reminded', 'Vote', 'Comment', 'Voted']);
    expect(view.list!.rows).toEqual([
      ['alice@example.com', 'approver', '2030-01-01T09:00:01.000Z', '2', '2030-01-01T17:00:00.000Z', null, null, null],
      ['bob@example.com', 'approver', '2030-01-01T09:00:01.000Z', '0', null, 'approved', 'fine by me', '2030-01-01T10:00:00.000Z'],
      // A record written before reminders were counted: its one known reminder.
      ['carol@example.com', 'approver', null, '1', '2030-01-01T13:00:00.000Z', null, null, null],
    ]);
    expect(view.waitingOn).toEqual([
      { who: 'alice@example.com', since: '2030-01-01T09:00:01.000Z' },
      { who: 'carol@example.com', since: null },
    ]);
    expect(JSON.stringify(view)).not.toContain('secret-token');
  });

  it('shows a pending record of a stopped, failed or timed-out execution as closed, with why, and no next reminder', async () => {
    const aborted = await recordView(panel, asJson(record()), { status: 'ABORTED', cause: 'Stopped from the opsflow console' });
    expect(aborted).toMatchObject({
      status: 'closed',
      open: false,
      reason: 'its execution was stopped (ABORTED): Stopped from the opsflow console',
      waitingOn: [],
    });
    expect(aborted.facts.map((f) => f.label)).not.toContain('Next reminder');
    expect((await recordView(panel, asJson(record()), { status: 'TIMED_OUT' })).reason).toBe('its execution timed out (TIMED_OUT)');
    expect((await recordView(panel, asJson(record()), { status: 'FAILED', error: 'Approval.WorkerLost' })).reason).toBe(
      'its execution failed (Approval.WorkerLost)',
    );
    expect((await recordView(panel, asJson(record()), undefined)).reason).toBe('its execution no longer exists');
  });

  it('believes a record that is no longer open, and says why when the record does', async () => {
    const closed = await recordView(panel, asJson(record({ status: 'closed', closedReason: 'it was stopped (aborted) before anyone decided' })), {
      status: 'ABORTED',
    });
    expect(closed).toMatchObject({ status: 'closed', open: false, reason: 'it was stopped (aborted) before anyone decided' });
    const decided = await recordView(
      panel,
      asJson(
        record({
          status: 'approved',
          decision: { decision: 'approved', approver: 'alice@example.com', approvers: [], comment: null, decidedAt: '2030-01-01T11:00:00.000Z' },
        }),
      ),
      { status: 'SUCCEEDED' },
    );
    expect(decided).toMatchObject({ status: 'approved', open: false, reason: null, waitingOn: [] });
    expect(decided.facts.find((f) => f.label === 'Decision')).toEqual({ label: 'Decision', value: 'approved', type: 'status' });
  });

  it('gives the waiting view its line, overdue once the deadline has passed', async () => {
    expect(await waitingItem(panel, asJson(record()), Date.parse('2030-01-01T12:00:00Z'))).toEqual({
      title: 'Stop i-0123 in prod',
      deadline: '2030-01-02T09:00:00.000Z',
      overdue: false,
      waitingOn: [
        { who: 'alice@example.com', since: '2030-01-01T09:00:01.000Z' },
        { who: 'carol@example.com', since: null },
      ],
    });
    expect((await waitingItem(panel, asJson(record()), Date.parse('2030-01-02T09:00:00Z'))).overdue).toBe(true);
  });
});

describe('record panel metadata', () => {
  it('refuses a malformed panel, naming the table and every bad field', () => {
    expect(() =>
      parseRecordPanel(
        {
          name: 'X',
          waitingTitle: 'Y',
          executionAttribute: 'execution arn',
          statusAttribute: 'status',
          openStatuses: [],
          title: 'a +',
          facts: [{ label: '', value: 'x', type: 'colour' }],
        },
        't',
        'Stack table T',
      ),
    ).toThrow(
      /^Stack table T: OpsflowLocal\.records is not a valid record panel: .*executionAttribute: must be an attribute name, got 'execution arn'.*; title: not valid JSONata/,
    );
    const message = (() => {
      try {
        parseRecordPanel(
          { name: 'X', waitingTitle: 'Y', executionAttribute: 'e', statusAttribute: 's', openStatuses: [], facts: [{ label: '', value: 'x', type: 'colour' }] },
          't',
          'T',
        );
        return '';
      } catch (err) {
        return (err as Error).message;
      }
    })();
    for (const problem of [
      'openStatuses: must be a non-empty list of strings',
      'facts[0].label: must be a non-empty string',
      "facts[0].type: must be one of text, time, status, got 'colour'",
    ])
      expect(message).toContain(problem);
    expect(() => parseRecordPanel('records', 't', 'T')).toThrow('T: OpsflowLocal.records must be an object');
  });
});

describe("a crashed function's error", () => {
  it("reads Lambda's error JSON as a message, a hint and a stack trace apart", () => {
    const crash = describeFailure(
      'Runtime.ExitError',
      '{"errorType":"Runtime.ExitError","errorMessage":"RequestId: 1 Error: Runtime exited with error: signal: killed","trace":[]}',
    );
    expect(crash).toEqual({
      error: 'Runtime.ExitError',
      message: 'RequestId: 1 Error: Runtime exited with error: signal: killed',
      hint: expect.stringContaining('exited before it returned'),
      trace: [],
      details: null,
    });

    const thrown = describeFailure(
      'Lambda.Unknown',
      JSON.stringify({
        errorType: 'TypeError',
        errorMessage: "Cannot read properties of undefined (reading 'id')",
        trace: ['TypeError: Cannot read properties', '    at handler (/var/task/index.js:1:2)'],
      }),
    );
    expect(thrown).toMatchObject({
      message: "TypeError: Cannot read properties of undefined (reading 'id')",
      trace: ['TypeError: Cannot read properties', '    at handler (/var/task/index.js:1:2)'],
      details: null,
    });
    expect(thrown.hint).toContain('ran out of memory');

    expect(describeFailure('Approval.TimedOut', '{"deadline":"2030-01-02T09:00:00.000Z","message":"nobody decided before 2 Jan 2030"}')).toEqual({
      error: 'Approval.TimedOut',
      message: 'nobody decided before 2 Jan 2030',
      hint: null,
      trace: [],
      details: '{\n  "deadline": "2030-01-02T09:00:00.000Z"\n}',
    });
    expect(describeFailure('Policy.Invalid', 'rules[0].key: must be at least 1 characters')).toMatchObject({
      message: 'rules[0].key: must be at least 1 characters',
      details: null,
    });
    expect(describeFailure('States.Runtime', '[1,2]')).toMatchObject({ message: null, details: '[\n  1,\n  2\n]' });
    expect(describeFailure(null, null)).toEqual({ error: 'Error', message: null, hint: null, trace: [], details: null });
  });
});

describe("a Distributed Map's inner states", () => {
  const run = (status: StateRun['status'], extra: Partial<StateRun> = {}): StateRun => ({
    name: 'Work',
    status,
    entered: 1,
    retries: 0,
    startedAt: '2030-01-01T00:00:01.000Z',
    endedAt: '2030-01-01T00:00:02.000Z',
    input: null,
    output: null,
    error: null,
    cause: null,
    ...extra,
  });

  it('merge over the child executions: counts per status, running while any runs, then the worst', () => {
    const children = [
      new Map([['Work', run('succeeded', { retries: 1 })]]),
      new Map([['Work', run('failed', { error: 'Item.Bad', cause: 'bad item', startedAt: '2030-01-01T00:00:00.500Z' })]]),
      new Map([['Work', run('succeeded', { endedAt: '2030-01-01T00:00:09.000Z' })]]),
    ];
    expect(mergeRuns(children).get('Work')).toEqual({
      ...run('failed'),
      entered: 3,
      retries: 1,
      error: 'Item.Bad',
      cause: 'bad item',
      startedAt: '2030-01-01T00:00:00.500Z',
      endedAt: '2030-01-01T00:00:09.000Z',
      counts: { succeeded: 2, failed: 1 },
    });
    const still = mergeRuns([...children, new Map([['Work', run('running', { endedAt: null })]])]).get('Work')!;
    expect([still.status, still.endedAt, still.counts]).toEqual(['running', null, { succeeded: 2, failed: 1, running: 1 }]);
  });
});
