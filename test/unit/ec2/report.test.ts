import { describe, expect, it } from 'vitest';
import { MAX_OUTPUT_ENTRIES, report } from '../../../tasks/ec2/core/report';
import type { Ec2Request } from '../../../tasks/ec2/core/types';
import { memoryStore } from './fakes';

const request: Ec2Request = { action: 'start', schedule: 'office-hours', instanceIds: null, dryRun: false, requestedBy: 'e2e', groups: null };

describe('report', () => {
  it('accounts for every instance, failures first, with counts and the SNS message', async () => {
    const { store } = memoryStore();
    await store.putEntries('r', 0, [{ instanceId: 'i-0000000000000000c', name: 'up', from: 'running', to: 'running', outcome: 'skipped', reason: 'already running' }]);
    await store.putBatch('r', '0-0', {
      action: 'start', dryRun: false, group: 'db',
      entries: [
        { instanceId: 'i-0000000000000000a', name: 'db', from: 'stopped', status: 'moved', to: 'running', reason: '' },
        { instanceId: 'i-0000000000000000b', name: 'kms', from: 'stopped', status: 'failed', to: 'stopped', reason: 'fell back to stopped' },
      ],
    });
    await store.putBatch('r', '1-0', { action: 'start', dryRun: false, group: 'app', entries: [{ instanceId: 'i-0000000000000000d', name: 'app', from: 'stopped', status: 'acted' }] });

    const { report: r, message } = await report({ runId: 'r', request, plan: { holiday: null, targets: 3, settled: 1 } }, store);

    expect(r.counts).toEqual({ total: 4, moved: 1, skipped: 1, failed: 2, dryRun: 0 });
    expect(r.instances.map((e) => [e.name, e.outcome])).toEqual([['app', 'failed'], ['kms', 'failed'], ['db', 'moved'], ['up', 'skipped']]);
    expect(r.instances[0].reason).toBe('not verified (left acted)');
    expect(r.summary).toBe('start schedule office-hours: 1 moved, 1 skipped, 2 failed');
    expect(message.subject).toBe('opsflow: start schedule office-hours: 1 moved, 1 skipped, 2 failed');
    expect(message.text).toContain('FAILED (2)\n  i-0000000000000000d app: stopped -> stopped (not verified (left acted))');
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
      await store.putBatch('big', `0-${b}`, {
        action: 'start', dryRun: false, group: '',
        entries: Array.from({ length: 50 }, (_, i) => {
          const n = b * 50 + i;
          const id = `i-0${n.toString(16).padStart(16, '0')}`;
          return n % 10 === 0 ? { instanceId: id, name: `web-${n}`, from: 'stopped', status: 'failed' as const, to: 'stopped', reason } : { instanceId: id, name: `web-${n}`, from: 'stopped', status: 'moved' as const, to: 'running', reason: '' };
        }),
      });
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
    expect(out.message.text).toContain('The full report (10000 instances) is in the Ec2Schedule table under pk "report#big", 20 item(s).');
    // The full report: every instance once, in pages each far below DynamoDB's 400 KB item limit.
    const pages = Array.from({ length: out.report.fullReport.pages }, (_, p) => items.get(`report#big|page#${String(p).padStart(5, '0')}`));
    expect(pages.every((p) => Buffer.byteLength(JSON.stringify(p)) < 200 * 1024)).toBe(true);
    const ids = new Set(pages.flatMap((p) => (p!.entries as Array<{ instanceId: string }>).map((e) => e.instanceId)));
    expect(ids.size).toBe(10_000);
  });
});
