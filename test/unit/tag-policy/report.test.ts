import { describe, expect, it } from 'vitest';
import { approvalOutcome, buildReport, renderText } from '../../../tasks/tag-policy/core/report';
import type { StoredFinding } from '../../../tasks/tag-policy/core/store';
import { zeroCounts } from '../../../tasks/tag-policy/core/types';
import { run } from './fakes';

/** What Step Functions catches when the .sync:2 child fails: States.TaskFailed, Cause = DescribeExecution JSON. */
const childFailed = (error: string, cause: string) => ({ Error: 'States.TaskFailed', Cause: JSON.stringify({ Status: 'FAILED', Error: error, Cause: cause }) });

describe('approvalOutcome', () => {
  it('reads an approval', () => expect(approvalOutcome({ decision: 'approved', approver: 'a@example.com', comment: null })).toEqual({ decision: 'approved', approver: 'a@example.com', comment: undefined }));
  it('reads a rejection with who and why', () => {
    expect(approvalOutcome(childFailed('Approval.Rejected', JSON.stringify({ approver: 'b@example.com', comment: 'not now' })))).toEqual({ decision: 'rejected', approver: 'b@example.com', comment: 'not now' });
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
    const r = buildReport({ run: run(), counts, approvedPhase: 'destructive', approval: { decision: 'rejected', approver: 'b@example.com' }, findings: [finding] });
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
});
