/** What a run does after evaluation: blast radius, approval, and the approval request the approver sees. */
import { describe, expect, it } from 'vitest';
import { approvalRequest, blastRadius, planRun } from '../../../tasks/tag-policy/core/plan';
import type { StoredFinding } from '../../../tasks/tag-policy/core/store';
import { zeroCounts, type Counts } from '../../../tasks/tag-policy/core/types';
import { policyWith, run } from './fakes';

const counts = (c: Partial<Counts>): Counts => ({ ...zeroCounts(), ...c });

describe('blastRadius', () => {
  const policy = policyWith({ blastRadius: { maxInstances: 20, maxPercent: 25 } });

  it('is within the cap at the cap', () => expect(blastRadius(counts({ toChange: 20, inScope: 1000 }), policy, true).over).toBe(false));
  it('is over maxInstances', () => expect(blastRadius(counts({ toChange: 21, inScope: 1000 }), policy, true).over).toBe(true));
  it('is over maxPercent of a small fleet', () => {
    expect(blastRadius(counts({ toChange: 9, inScope: 35 }), policy, true)).toEqual({
      over: true,
      changes: 9,
      limit: '20 instances or 25% of 35 in scope (8)',
    });
  });
  it('ignores the percentage when only given instances were checked', () =>
    expect(blastRadius(counts({ toChange: 1, inScope: 1 }), policy, false).over).toBe(false));
});

describe('planRun', () => {
  it('only reports a dry run, whatever it found', () =>
    expect(planRun(run({ dryRun: true }), counts({ toTag: 5, toChange: 5, toStop: 1, inScope: 100 })).next).toBe('report'));
  it('only reports when nothing would change', () => expect(planRun(run(), counts({ inScope: 100 })).next).toBe('report'));
  it('applies tags directly within the cap', () => {
    expect(planRun(run(), counts({ toTag: 2, toChange: 2, inScope: 100 }))).toMatchObject({ next: 'apply', phase: 'tags', thenApprove: false });
  });
  it('applies tags, then asks before stopping', () => {
    expect(planRun(run(), counts({ toTag: 2, toStop: 1, toChange: 3, inScope: 100 }))).toMatchObject({
      next: 'apply',
      phase: 'tags',
      thenApprove: true,
      approvedPhase: 'destructive',
    });
  });
  it('asks before stopping when there is nothing to tag', () => {
    expect(planRun(run(), counts({ toTerminate: 1, toChange: 1, inScope: 100 }))).toMatchObject({ next: 'approve', approvedPhase: 'destructive' });
  });
  it('asks before changing anything over the blast-radius cap', () => {
    expect(planRun(run(), counts({ toTag: 50, toChange: 50, inScope: 100 }))).toMatchObject({
      next: 'approve',
      approvedPhase: 'all',
      blastRadius: { over: true },
    });
  });
});

describe('approvalRequest', () => {
  const finding = (n: number, destructive?: 'stop'): StoredFinding => ({
    instanceId: `i-${String(n).padStart(17, '0')}`,
    violations: [{ tag: 'CostCenter', kind: 'invalid', value: 'x', message: 'tag CostCenter is "x", which does not match /CC-[0-9]{4}/' }],
    actions: [],
    tags: {},
    ...(destructive && { destructive }),
  });

  it('lists the instances and their reasons', () => {
    const c = counts({ toStop: 1, toChange: 1, inScope: 10 });
    const r = approvalRequest(run(), c, planRun(run(), c), [finding(1, 'stop')]);
    expect(r.title).toBe('Tag policy: 1 to stop, 0 to terminate');
    expect(r.details.instances).toEqual([{ instanceId: finding(1).instanceId, action: 'stop', reasons: [finding(1).violations[0].message] }]);
    expect(r.requestedBy).toBe('opsflow TagPolicy scan run run-1');
  });

  it('stays within the 8 KiB the Approval workflow accepts, saying how many it left out', () => {
    const many = Array.from({ length: 500 }, (_, n) => finding(n, 'stop'));
    const c = counts({ toStop: 500, toChange: 500, inScope: 500 });
    const r = approvalRequest(run(), c, planRun(run(), c), many);
    expect(Buffer.byteLength(JSON.stringify(r.details))).toBeLessThanOrEqual(8 * 1024);
    expect((r.details.instances as unknown[]).length + (r.details.more as number)).toBe(500);
  });
});
