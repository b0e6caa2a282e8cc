/** Planning one instance: the safety rules (exemptions, managed instances, bad defaults, grace, strongest action). */
import { describe, expect, it } from 'vitest';
import { checkInstance, needsCreator, planInstance } from '../../../tasks/tag-policy/core/evaluate';
import { GOOD_TAGS, instance, policyWith } from './fakes';

const now = new Date('2025-03-10T12:00:00Z');
const plan = (tags: Record<string, string>, ctx: { creator?: string; grace?: any } = {}, policy = policyWith(), state = 'running') => {
  const i = instance('i-1', tags, state);
  return planInstance(i, policy, checkInstance(i, policy), { now, ...ctx });
};

describe('planInstance', () => {
  it('finds nothing wrong with a compliant instance', () => {
    const p = plan(GOOD_TAGS);
    expect(p.finding).toBeUndefined();
    expect(p.destructive).toBeUndefined();
    expect(p.tags).toEqual({});
  });

  it('tags the creator when Owner is missing', () => {
    const { Owner: _, ...tags } = GOOD_TAGS;
    const p = plan(tags, { creator: 'carol@example.com' });
    expect(p.tags).toEqual({ Owner: 'carol@example.com' });
    expect(p.finding!.actions).toEqual([
      { action: 'lookup-creator', tag: 'Owner', value: 'carol@example.com', outcome: 'planned', reason: 'tag Owner is missing' },
    ]);
  });

  it('notifies instead of writing a creator that breaks the rule (an IAM user name is not an email)', () => {
    const { Owner: _, ...tags } = GOOD_TAGS;
    const p = plan(tags, { creator: 'alice' });
    expect(p.tags).toEqual({});
    expect(p.finding!.actions[0]).toMatchObject({ outcome: 'skipped', reason: expect.stringContaining('would break the rule too') });
  });

  it('notifies when the creator is unknown and there is no fallback', () => {
    const { Owner: _, ...tags } = GOOD_TAGS;
    expect(plan(tags).finding!.actions[0]).toMatchObject({ outcome: 'skipped', reason: expect.stringContaining('could not be found') });
  });

  it('rewrites a case-only mismatch under normalize', () => {
    expect(plan({ ...GOOD_TAGS, Environment: 'PROD' }).tags).toEqual({ Environment: 'prod' });
  });

  it('starts the grace period before a stop, then plans the stop once it is over', () => {
    const first = plan({ ...GOOD_TAGS, CostCenter: 'cc-12' });
    expect(first.destructive).toBeUndefined();
    expect(first.grace).toMatchObject({ state: 'started', action: 'stop' });
    expect(first.finding!.actions).toContainEqual(expect.objectContaining({ action: 'stop', outcome: 'deferred' }));
    const later = plan(
      { ...GOOD_TAGS, CostCenter: 'cc-12' },
      { grace: { instanceId: 'i-1', action: 'stop', firstSeenAt: '2025-03-01T00:00:00Z', reason: '' } },
    );
    expect(later.destructive).toBe('stop');
    expect(later.finding!.actions).toContainEqual(expect.objectContaining({ action: 'stop', outcome: 'planned' }));
  });

  it('takes only the strongest destructive action', () => {
    const policy = policyWith({
      gracePeriodHours: 0,
      rules: [
        { key: 'A', onMissing: { action: 'stop' } },
        { key: 'B', onMissing: { action: 'terminate' } },
      ],
    });
    const p = plan({}, {}, policy);
    expect(p.destructive).toBe('terminate');
    expect(p.finding!.actions.filter((a) => a.action === 'stop' || a.action === 'terminate')).toHaveLength(1);
  });

  it('does not stop an instance that is already stopped', () => {
    const p = plan({ ...GOOD_TAGS, CostCenter: 'x' }, {}, policyWith({ gracePeriodHours: 0 }), 'stopped');
    expect(p.destructive).toBeUndefined();
    expect(p.finding!.actions).toContainEqual(expect.objectContaining({ action: 'stop', outcome: 'skipped' }));
  });

  it('only notifies about ASG and CloudFormation instances, whatever the policy asks', () => {
    const p = plan({ 'aws:autoscaling:groupName': 'web', Environment: 'prod' }, { creator: 'carol@example.com' }, policyWith({ gracePeriodHours: 0 }));
    expect(p.tags).toEqual({});
    expect(p.destructive).toBeUndefined();
    expect(p.finding!.managedBy).toBe('asg:web');
    expect(p.finding!.actions.every((a) => a.action === 'notify')).toBe(true);
  });

  it('reports but never remediates an exempt instance', () => {
    const p = plan({ 'opsflow:exempt': 'forever' }, {}, policyWith({ gracePeriodHours: 0 }));
    expect(p).toMatchObject({ exempt: true, tags: {} });
    expect(p.destructive).toBeUndefined();
    expect(p.finding!.exemptUntil).toBe('forever');
    expect(p.finding!.actions.every((a) => a.outcome === 'skipped')).toBe(true);
  });

  it('reports an unreadable exemption and enforces the policy anyway', () => {
    const p = plan({ ...GOOD_TAGS, 'opsflow:exempt': 'until Friday' });
    expect(p.exempt).toBe(false);
    expect(p.finding!.violations).toEqual([expect.objectContaining({ tag: 'opsflow:exempt', kind: 'invalid' })]);
  });

  it('says when a creator lookup is needed', () => {
    const policy = policyWith();
    expect(needsCreator(checkInstance(instance('i-1', { CostCenter: 'CC-1000', Environment: 'dev' }), policy))).toBe(true);
    expect(needsCreator(checkInstance(instance('i-1', { ...GOOD_TAGS, Environment: 'x' }), policy))).toBe(false);
  });
});
