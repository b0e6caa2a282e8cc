import { describe, expect, it } from 'vitest';
import { approvalOutcome, buildReport, renderText, REPORT_INSTANCE_BYTES, reportNotice } from '../../../tasks/tag-policy/core/report';
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

describe('reportNotice (tagPolicy.reportChat)', () => {
  const LINK =
    'https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/arn:aws:states:eu-west-1:123456789012:execution:Opsflow-TagPolicy:r';
  const finding = (id: string, message: string, outcome: 'applied' | 'failed' = 'applied'): StoredFinding => ({
    instanceId: id,
    violations: [
      { tag: 'Owner', kind: 'invalid', value: message, message },
      { tag: 'CostCenter', kind: 'missing', message: 'missing CostCenter' },
    ],
    actions: [{ action: 'tag', outcome, reason: outcome === 'failed' ? 'UnauthorizedOperation <!here>' : 'tagged' }],
    tags: {},
  });

  it('heads with violating of checked, gives the counts, lists failed instances first, and counts the rest', () => {
    const findings = ['1', '2', '3', '4'].map((n) => finding(`i-000000000000000${n}`, `bad Owner '@channel ${n}'`));
    findings.push(finding('i-0000000000000009', 'bad Owner *x*', 'failed'));
    const r = buildReport({
      run: run(),
      counts: { ...zeroCounts(), scanned: 40, violating: 5, exempt: 2 },
      tally: { applied: 4, skipped: 0, failed: 1 },
      findings,
    });

    const n = reportNotice(r, LINK);

    expect(n.tone).toBe('failure');
    expect(n.title).toBe('Tag policy: 5 violating of 40');
    expect(n.facts.map((f) => [f.label, f.value])).toEqual([
      ['Violating', ['5 of 40 checked']],
      ['Exempt', ['2']],
      ['Actions', ['4 applied, 0 skipped, 1 failed']],
      ['In grace period', ['0']],
    ]);
    expect(n.lines[0]).toEqual([
      { literal: 'i-0000000000000009' },
      ': ',
      { literal: 'bad Owner *x*' },
      ' (+1 more)',
      '; tag failed: ',
      { literal: 'UnauthorizedOperation <!here>' },
    ]);
    expect(n.lines).toHaveLength(3);
    expect(n.more).toBe('and 2 more instances: open the execution');
    expect(n.link).toEqual({ url: LINK, label: 'Open the execution' });
  });

  it('says a dry run in the headline and what it would do; an approver is shown literally', () => {
    const r = buildReport({
      run: run({ dryRun: true }),
      counts: { ...zeroCounts(), scanned: 3, violating: 1, toStop: 1 },
      approval: { decision: 'rejected', approver: '<!channel>@example.com' },
      findings: [finding('i-0000000000000001', 'x')],
    });
    const n = reportNotice(r, LINK);
    expect(n.title).toBe('Tag policy (dry run): 1 violating of 3');
    expect(n.facts).toContainEqual({ label: 'Would', value: ['tag 0, stop 1, terminate 0'] });
    expect(n.facts).toContainEqual({ label: 'Approval', value: ['rejected', ' by ', { literal: '<!channel>@example.com' }] });
    expect(n.tone).toBe('warning');
  });
});
