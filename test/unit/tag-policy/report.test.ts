import { describe, expect, it } from 'vitest';
import { approvalOutcome, buildReport, renderText, REPORT_INSTANCE_BYTES } from '../../../tasks/tag-policy/core/report';
import { MAX_REASON_BYTES } from '../../../tasks/shared/reasons';
import { DYNAMODB_ITEM_LIMIT, itemSize } from '../../../tasks/shared/item-size';
import { MemoryStore } from './fakes';
import type { StoredFinding } from '../../../tasks/tag-policy/core/store';
import { zeroCounts } from '../../../tasks/tag-policy/core/types';
import { run } from './fakes';

/** What Step Functions catches when the .sync:2 child fails: States.TaskFailed, Cause = DescribeExecution JSON. */
const childFailed = (error: string, cause: string) => ({ Error: 'States.TaskFailed', Cause: JSON.stringify({ Status: 'FAILED', Error: error, Cause: cause }) });

describe('approvalOutcome', () => {
  it('reads an approval', () =>
    expect(approvalOutcome({ decision: 'approved', approver: 'a@example.com', comment: null })).toEqual({
      decision: 'approved',
      approver: 'a@example.com',
      comment: undefined,
    }));
  it('reads a rejection with who and why', () => {
    expect(approvalOutcome(childFailed('Approval.Rejected', JSON.stringify({ approver: 'b@example.com', comment: 'not now' })))).toEqual({
      decision: 'rejected',
      approver: 'b@example.com',
      comment: 'not now',
    });
  });
  it('reads a timeout', () => expect(approvalOutcome(childFailed('Approval.TimedOut', 'x'))).toEqual({ decision: 'timed-out' }));
  it('reads the parent task timing out', () => expect(approvalOutcome({ Error: 'States.Timeout', Cause: 'late' })).toEqual({ decision: 'timed-out' }));
  it('reads any other failure', () => expect(approvalOutcome(childFailed('Input.Invalid', 'x'))).toEqual({ decision: 'failed', error: 'Input.Invalid' }));
  it('knows no approval when none was asked', () => expect(approvalOutcome(undefined)).toBeUndefined());
});

describe('buildReport', () => {
  const finding: StoredFinding = {
    instanceId: 'i-0feed000000000027',
    violations: [{ tag: 'CostCenter', kind: 'invalid', value: 'cc-12', message: 'bad CostCenter' }],
    actions: [
      { action: 'stop', outcome: 'planned', reason: 'bad CostCenter; needs approval' },
      { action: 'notify', outcome: 'planned', reason: 'bad CostCenter' },
    ],
    tags: {},
    destructive: 'stop',
  };
  const counts = { ...zeroCounts(), scanned: 10, violating: 1, toStop: 1, toChange: 1 };

  it('says a dry run would act, and changes no outcome', () => {
    const r = buildReport({ run: run({ dryRun: true }), counts, findings: [finding] });
    expect(r.dryRun).toBe(true);
    expect(r.summary).toBe('DRY RUN (nothing changed): 10 instances checked, 1 violating, 0 exempt; would tag 0, stop 1, terminate 0; 0 in grace period');
    expect(r.instances[0].actions.map((a) => a.outcome)).toEqual(['planned', 'planned']);
    expect(renderText(r).message).toContain('would stop: planned');
    expect(renderText(r).subject).toBe('opsflow tag policy [DRY RUN]: 1 violating of 10');
  });

  it('marks what waited for a refused approval as rejected', () => {
    const r = buildReport({
      run: run(),
      counts,
      approvedPhase: 'destructive',
      approval: { decision: 'rejected', approver: 'b@example.com' },
      findings: [finding],
    });
    expect(r.instances[0].actions).toEqual([
      { action: 'stop', outcome: 'rejected', reason: 'bad CostCenter; needs approval; approval rejected by b@example.com, not applied' },
      { action: 'notify', outcome: 'applied', reason: 'bad CostCenter; reported' },
    ]);
    expect(r.summary).toContain('approval rejected, nothing destructive was done');
  });

  it('keeps the output small and counts what it left out', () => {
    const many = Array.from({ length: 150 }, (_, n) => ({ ...finding, instanceId: `i-${String(n).padStart(17, '0')}` }));
    const r = buildReport({ run: run(), counts, findings: many });
    expect(r.instances).toHaveLength(100);
    expect(r.omitted).toBe(50);
  });

  it('keeps the output and the email bounded by bytes when every action carries a kilobyte of EC2 error text', () => {
    const denied = `CreateTags failed: UnauthorizedOperation (You are not authorized to perform this operation. ${'x'.repeat(900)})`;
    const wordy = Array.from({ length: 100 }, (_, n) => ({
      ...finding,
      instanceId: `i-${String(n).padStart(17, '0')}`,
      actions: Array.from({ length: 5 }, (_, k) => ({ action: 'tag' as const, tag: `T${k}`, value: 'v', outcome: 'failed' as const, reason: denied })),
    }));
    const r = buildReport({ run: run(), counts, findings: wordy });
    expect(Buffer.byteLength(JSON.stringify(r.instances))).toBeLessThanOrEqual(REPORT_INSTANCE_BYTES);
    expect(r.instances.length + r.omitted).toBe(100);
    expect(r.omitted).toBeGreaterThan(0);
    expect(Buffer.byteLength(renderText(r).message)).toBeLessThan(256 * 1024);
  });
});

describe('stored findings', () => {
  it("bound every reason, leaving EC2's encoded authorization message out, so a finding stays under 400 KB", async () => {
    const store = new MemoryStore();
    const encoded = 'Zq9_-'.repeat(2000);
    const reason = `tag missing; CreateTags failed: UnauthorizedOperation (You are not authorized to perform this operation. Encoded authorization failure message: ${encoded})`;
    const f: StoredFinding = {
      instanceId: 'i-0feed000000000027',
      violations: [{ tag: 'Owner', kind: 'missing', message: 'x'.repeat(5000) }],
      actions: Array.from({ length: 50 }, (_, k) => ({ action: 'tag' as const, tag: `T${k}`, value: 'v', outcome: 'failed' as const, reason })),
      tags: {},
    };

    await store.putFindings('r', [f]);

    const item = store.items.get('run#r|i-0feed000000000027')!;
    expect(itemSize(item)).toBeLessThan(DYNAMODB_ITEM_LIMIT / 4);
    const stored = item.finding as StoredFinding;
    expect(stored.actions[0].reason).toContain("(EC2's encoded authorization message of 10000 characters is left out)");
    expect(stored.actions.every((a) => Buffer.byteLength(a.reason) <= MAX_REASON_BYTES)).toBe(true);
    expect(Buffer.byteLength(stored.violations[0].message)).toBeLessThanOrEqual(MAX_REASON_BYTES);
  });
});
