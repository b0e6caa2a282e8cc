import { describe, expect, it } from 'vitest';
import { report } from '../../../tasks/ec2/core/report';
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
});
