import { describe, expect, it } from 'vitest';
import { MAX_OUTPUT_ENTRIES, report, reportNotice } from '../../../tasks/ec2-schedule/core/report';
import { DYNAMODB_ITEM_LIMIT, itemSize } from '../../../tasks/shared/item-size';
import type { Ec2Request } from '../../../tasks/ec2-schedule/core/types';
import { memoryStore } from './fakes';

const request: Ec2Request = { action: 'start', schedule: 'office-hours', instanceIds: null, dryRun: false, requestedBy: 'e2e', groups: null, resources: null };

describe('report', () => {
  it('accounts for every instance, failures first, with counts and the SNS message', async () => {
    const { store } = memoryStore();
    await store.putEntries('r', 0, [
      { kind: 'ec2', instanceId: 'i-0000000000000000c', name: 'up', from: 'running', to: 'running', outcome: 'skipped', reason: 'already running' },
    ]);
    await store.putBatches('r', [
      {
        wave: 0,
        n: 0,
        batch: {
          kind: 'ec2',
          action: 'start',
          dryRun: false,
          group: 'db',
          entries: [
            { instanceId: 'i-0000000000000000a', name: 'db', from: 'stopped', status: 'moved', to: 'running', reason: '' },
            { instanceId: 'i-0000000000000000b', name: 'kms', from: 'stopped', status: 'failed', to: 'stopped', reason: 'fell back to stopped' },
          ],
        },
      },
    ]);
    await store.putBatches('r', [
      {
        wave: 1,
        n: 0,
        batch: {
          kind: 'ec2',
          action: 'start',
          dryRun: false,
          group: 'app',
          entries: [{ instanceId: 'i-0000000000000000d', name: 'app', from: 'stopped', status: 'acted' }],
        },
      },
    ]);

    const { report: r, message } = await report({ runId: 'r', request, plan: { holiday: null, targets: 3, settled: 1 } }, store);

    expect(r.counts).toEqual({ total: 4, moved: 1, skipped: 1, failed: 2, dryRun: 0 });
    expect(r.instances.map((e) => [e.name, e.outcome])).toEqual([
      ['app', 'failed'],
      ['kms', 'failed'],
      ['db', 'moved'],
      ['up', 'skipped'],
    ]);
    expect(r.instances[0].reason).toBe('start sent, but not verified: the run ended before it was finished');
    expect(r.summary).toBe('start schedule office-hours: 1 moved, 1 skipped, 2 failed');
    expect(message.subject).toBe('opsflow: start schedule office-hours: 1 moved, 1 skipped, 2 failed');
    expect(message.text).toContain(
      'FAILED (2)\n  i-0000000000000000d app: stopped -> stopped (start sent, but not verified: the run ended before it was finished)',
    );
    expect(message.text).toContain('Requested by: e2e');
  });

  it('says why nothing happened on a skip date', async () => {
    const { store } = memoryStore();
    const { report: r } = await report({ runId: 'r', request, plan: { holiday: '2025-12-25', targets: 0, settled: 0 } }, store);
    expect(r.summary).toBe('start schedule office-hours: skipped, 2025-12-25 is a skip date of the schedule');
    expect(r.counts.total).toBe(0);
  });

  it('keeps the state and the SNS message small at 10,000 instances and stores the full report in the table', async () => {
    const { store, items } = memoryStore();
    const reason = 'fell back to stopped: EC2 could not attach a volume at launch (Client.InternalError)';
    for (let b = 0; b < 200; b++) {
      await store.putBatches('big', [
        {
          wave: 0,
          n: b,
          batch: {
            kind: 'ec2',
            action: 'start',
            dryRun: false,
            group: '',
            entries: Array.from({ length: 50 }, (_, i) => {
              const n = b * 50 + i;
              const id = `i-0${n.toString(16).padStart(16, '0')}`;
              return n % 10 === 0
                ? { instanceId: id, name: `web-${n}`, from: 'stopped', status: 'failed' as const, to: 'stopped', reason }
                : { instanceId: id, name: `web-${n}`, from: 'stopped', status: 'moved' as const, to: 'running', reason: '' };
            }),
          },
        },
      ]);
    }

    const out = await report({ runId: 'big', request, plan: { holiday: null, targets: 10_000, settled: 0 } }, store);

    // What goes into the state (Report's result) must stay far below Step Functions' 256 KiB.
    expect(Buffer.byteLength(JSON.stringify(out))).toBeLessThan(32 * 1024);
    expect(out.report.counts).toEqual({ total: 10_000, moved: 9_000, skipped: 0, failed: 1_000, dryRun: 0 });
    expect(out.report.instances).toHaveLength(MAX_OUTPUT_ENTRIES);
    expect(out.report.instances.every((e) => e.outcome === 'failed')).toBe(true);
    expect(out.report.omitted).toBe(10_000 - MAX_OUTPUT_ENTRIES);
    expect(out.message.text).toContain('FAILED (1000)');
    expect(out.message.text).toContain('... and 950 more');
    expect(out.message.text).toContain(
      `The full report (10000 instances) is in the Ec2Schedule table under pk "report#big", ${out.report.fullReport.pages} item(s).`,
    );
    // The full report: every instance once, in pages each below DynamoDB's 400 KB item limit.
    const pages = Array.from({ length: out.report.fullReport.pages }, (_, p) => items.get(`report#big|page#${String(p).padStart(5, '0')}`));
    expect(pages.every((p) => itemSize(p!) < DYNAMODB_ITEM_LIMIT)).toBe(true);
    const ids = new Set(pages.flatMap((p) => (p!.entries as Array<{ instanceId: string }>).map((e) => e.instanceId)));
    expect(ids.size).toBe(10_000);
  });

  it('sizes report pages by bytes: kilobyte-long reasons on every instance still give items under 400 KB', async () => {
    const { store, items } = memoryStore();
    // What an UnauthorizedOperation leaves once bounded: about a kilobyte per instance.
    const reason = `not permitted: You are not authorized to perform this operation. ${'x'.repeat(1000)}`;
    for (let b = 0; b < 20; b++) {
      await store.putBatches('denied', [
        {
          wave: 0,
          n: b,
          batch: {
            kind: 'ec2',
            action: 'stop',
            dryRun: false,
            group: '',
            entries: Array.from({ length: 50 }, (_, i) => ({
              instanceId: `i-0${(b * 50 + i).toString(16).padStart(16, '0')}`,
              name: 'web',
              from: 'running',
              status: 'failed' as const,
              to: 'running',
              reason,
            })),
          },
        },
      ]);
    }

    const out = await report({ runId: 'denied', request: { ...request, action: 'stop' }, plan: { holiday: null, targets: 1000, settled: 0 } }, store);

    const pages = [...items.entries()].filter(([k]) => k.startsWith('report#denied|')).map(([, v]) => v);
    expect(pages).toHaveLength(out.report.fullReport.pages);
    expect(pages.length).toBeGreaterThan(2); // 500 entries of a kilobyte would be over the limit
    for (const p of pages) expect(itemSize(p)).toBeLessThan(DYNAMODB_ITEM_LIMIT);
    expect(pages.flatMap((p) => p.entries as unknown[])).toHaveLength(1000);
  });

  it('reports every instance with why, when a wave failed', async () => {
    const { store } = memoryStore();
    await store.putBatches('cut', [
      {
        wave: 0,
        n: 0,
        batch: {
          kind: 'ec2',
          action: 'start',
          dryRun: false,
          group: '',
          entries: [
            { instanceId: 'i-0000000000000000a', name: 'a', from: 'stopped', status: 'moved', to: 'running', reason: '' },
            { instanceId: 'i-0000000000000000b', name: 'b', from: 'stopped', status: 'planned' },
            { instanceId: 'i-0000000000000000c', name: 'c', from: 'stopped', status: 'capacity', reason: 'no c5.large' },
          ],
        },
      },
    ]);

    const { report: r } = await report(
      {
        runId: 'cut',
        request,
        plan: { holiday: null, targets: 3, settled: 0 },
        failure: { Error: 'States.TaskFailed', Cause: 'the wave execution was aborted' },
      },
      store,
    );

    expect(r.counts).toEqual({ total: 3, moved: 1, skipped: 0, failed: 2, dryRun: 0 });
    expect(r.failure).toBe('States.TaskFailed: the wave execution was aborted');
    expect(r.summary).toBe('start schedule office-hours: 1 moved, 0 skipped, 2 failed; the run ended early: States.TaskFailed: the wave execution was aborted');
    expect(r.instances.find((e) => e.name === 'b')!.reason).toBe('not started: the run ended early (States.TaskFailed: the wave execution was aborted)');
    expect(r.instances.find((e) => e.name === 'c')!.reason).toBe(
      'not started: waiting for capacity (no c5.large) when the run ended early (States.TaskFailed: the wave execution was aborted)',
    );
  });

  it('still reports when planning failed', async () => {
    const { store } = memoryStore();
    const { report: r } = await report({ runId: 'none', request, failure: { Error: 'Ec2.Throttled', Cause: 'EC2 throttled the request' } }, store);
    expect(r.counts.total).toBe(0);
    expect(r.summary).toBe('start schedule office-hours: 0 moved, 0 skipped, 0 failed; planning failed: Ec2.Throttled: EC2 throttled the request');
  });
});

describe('reportNotice (ec2Schedule.reportChat)', () => {
  const LINK =
    'http://127.0.0.1:4566/states/home?region=us-east-1#/v2/executions/details/arn:aws:states:us-east-1:000000000000:execution:Opsflow-Ec2Schedule:r';
  const entry = (n: number, outcome: 'moved' | 'failed', name = `web-${n}`) => ({
    kind: 'ec2' as const,
    instanceId: `i-00000000000000${String(n).padStart(3, '0')}`,
    name,
    from: 'stopped',
    to: outcome === 'moved' ? 'running' : 'stopped',
    outcome,
    reason: outcome === 'failed' ? 'fell back to stopped: <http://evil|details>' : '',
  });

  it('heads with what ran and the counts, lists failures first with their reason (literally), and posts when a chat is configured', async () => {
    const { store } = memoryStore();
    await store.putEntries('r', 0, [entry(1, 'moved'), entry(2, 'failed', '@channel db'), entry(3, 'moved'), entry(4, 'moved'), entry(5, 'moved')]);
    const posted: unknown[] = [];
    const out = await report({ runId: 'r', request, plan: { holiday: null, targets: 5, settled: 5 } }, store, {
      targets: [{ platform: 'mattermost', channel: 'abcdefghijklmnopqrstuvwxyz' }],
      post: async (_t, m) => void posted.push(m),
      executionUrl: (runId) => LINK.replace(/:r$/, `:${runId}`),
      log: { info: () => {}, warn: () => {}, error: () => {} },
    });
    expect(out.chat).toEqual([{ delivered: true, platform: 'mattermost' }]);
    expect(posted).toHaveLength(1);

    const n = reportNotice(out.report, LINK);
    expect(n.tone).toBe('failure');
    expect(n.title).toBe('Ec2Schedule start: 4 moved, 1 failed');
    expect(n.facts).toEqual([
      { label: 'Schedule', value: [{ literal: 'office-hours' }] },
      { label: 'Moved', value: ['4 of 5'] },
      { label: 'Failed', value: ['1'] },
      { label: 'Skipped', value: ['0'] },
      { label: 'Requested by', value: [{ literal: 'e2e' }] },
    ]);
    expect(n.lines[0]).toEqual([
      { literal: 'i-00000000000000002' },
      ' ',
      { literal: '@channel db' },
      ' failed: stopped → stopped',
      ' ',
      { literal: 'fell back to stopped: <http://evil|details>' },
    ]);
    expect(n.lines).toHaveLength(3);
    expect(n.more).toBe('and 2 more instances: open the execution');
  });

  it('says what ended a run early, and a skip date', async () => {
    const { store } = memoryStore();
    const failed = await report({ runId: 'r', request, failure: { Error: 'Lambda.Unknown', Cause: 'timed out' } }, store);
    const n = reportNotice(failed.report, LINK);
    expect(n.tone).toBe('failure');
    expect(n.lines[0]).toEqual(['Ended early: ', { literal: 'Lambda.Unknown: timed out' }]);
    const holiday = await report({ runId: 'h', request, plan: { holiday: '2025-12-25', targets: 0, settled: 0 } }, store);
    expect(reportNotice(holiday.report, LINK)).toMatchObject({ tone: 'info', title: 'Ec2Schedule start: skipped, 2025-12-25 is a skip date' });
  });
});

describe('report across targets', () => {
  it("names each line's account/region, lists the unreachable targets with their reasons, and counts them", async () => {
    const { store } = memoryStore();
    await store.putBatches('t', [
      {
        wave: 0,
        n: 0,
        batch: {
          account: '111111111111',
          region: 'eu-west-1',
          kind: 'ec2',
          action: 'start',
          dryRun: false,
          group: '',
          entries: [
            { instanceId: 'i-0000000000000000a', name: 'web', from: 'stopped', status: 'moved', to: 'running', reason: '' },
            { instanceId: 'i-0000000000000000b', name: 'api', from: 'stopped', status: 'planned' },
          ],
        },
      },
    ]);
    await store.putEntries('t', 0, [
      { kind: 'ec2', instanceId: 'i-0000000000000000c', name: 'hub', from: 'running', to: 'running', outcome: 'skipped', reason: 'already running' },
    ]);
    const reason = '222222222222/us-east-1: the hub cannot assume arn:aws:iam::222222222222:role/opsflow-member (AccessDenied: no)';
    await store.putUnreachable('t', 0, [{ account: '222222222222', region: 'us-east-1', reason }]);

    const { report: r, message } = await report({ runId: 't', request, plan: { holiday: null, targets: 2, settled: 1, unreachable: 1 } }, store);

    expect(r.counts).toEqual({ total: 3, moved: 1, skipped: 1, failed: 1, dryRun: 0, unreachable: 1 });
    expect(r.unreachable).toEqual([{ account: '222222222222', region: 'us-east-1', reason }]);
    expect(r.summary).toBe('start schedule office-hours: 1 moved, 1 skipped, 1 failed; 1 target(s) unreachable');
    // A lane whose wave failed ends alone: its unfinished instances say so, naming the target.
    expect(r.instances.find((e) => e.instanceId === 'i-0000000000000000b')).toMatchObject({
      account: '111111111111',
      region: 'eu-west-1',
      outcome: 'failed',
      reason: "not started: the waves in 111111111111/eu-west-1 failed (the execution's history says why)",
    });
    expect(message.text).toContain(`UNREACHABLE TARGETS (1)\n  ${reason}`);
    expect(message.text).toContain('MOVED (1)\n  111111111111/eu-west-1 i-0000000000000000a web: stopped -> running');
    // The hub's own instance is written as it always was.
    expect(message.text).toContain('SKIPPED (1)\n  i-0000000000000000c hub: running -> running (already running)');
    const notice = reportNotice(r, 'https://console/x');
    expect(notice.tone).toBe('failure');
    expect(notice.facts).toContainEqual({ label: 'Unreachable targets', value: ['1'] });
    expect(notice.lines).toContainEqual(['Unreachable: ', { literal: reason }]);
    expect(notice.lines[1]).toEqual([
      '111111111111/eu-west-1 ',
      { literal: 'i-0000000000000000b' },
      ' ',
      { literal: 'api' },
      ' failed: stopped → stopped',
      ' ',
      { literal: "not started: the waves in 111111111111/eu-west-1 failed (the execution's history says why)" },
    ]);
  });
});
