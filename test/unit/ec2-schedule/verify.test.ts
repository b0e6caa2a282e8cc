import { describe, expect, it } from 'vitest';
import { explainStateReason, settle } from '../../../tasks/ec2-schedule/core/verify';
import type { BatchEntry, InstanceFacts } from '../../../tasks/ec2-schedule/core/types';

describe('StateReason classification', () => {
  it.each([
    ['Client.InternalError', 'Client.InternalError: Client error on launch', /encrypted EBS volume whose KMS key EC2 cannot use.*\(Client\.InternalError\)$/],
    ['Server.InsufficientInstanceCapacity', 'Server.InsufficientInstanceCapacity: Insufficient capacity', /no capacity for this instance type/],
    ['Client.UserInitiatedHibernate', 'Client.UserInitiatedHibernate: User initiated hibernate', /was hibernated/],
    ['Server.SpotInstanceTermination', 'Spot', /Spot capacity was reclaimed/],
    ['Client.VolumeLimitExceeded', 'limit', /EBS volume limit/],
    ['Client.Unheard', 'Client.Unheard: something new', /^Client\.Unheard: Client\.Unheard: something new$/],
  ])('explains %s', (code, message, expected) => {
    expect(explainStateReason({ code, message })).toMatch(expected);
  });

  it('says when EC2 gave no reason', () => {
    expect(explainStateReason(undefined)).toBe('EC2 gave no state reason');
  });
});

describe('settle', () => {
  const acted = (from: string): BatchEntry => ({ instanceId: 'i-0000000000000000a', name: 'a', from, status: 'acted', verifyBy: '2025-06-04T09:15:00.000Z' });
  const facts = (state: string, stateReason?: { code: string; message: string }): InstanceFacts => ({
    instanceId: 'i-0000000000000000a',
    name: 'a',
    state,
    instanceType: 't3.micro',
    tags: {},
    rootDeviceType: 'ebs',
    ...(stateReason && { stateReason }),
  });
  const at = new Date('2025-06-04T09:00:30Z');

  it('counts an instance as moved only once it is running, and explains one that fell back to stopped', () => {
    const pending = acted('stopped');
    settle(pending, facts('pending'), 'start', at);
    const running = acted('stopped');
    settle(running, facts('running'), 'start', at);
    const fell = acted('stopped');
    settle(fell, facts('stopped', { code: 'Client.InternalError', message: 'Client.InternalError: Client error on launch' }), 'start', at);

    expect(pending.status).toBe('acted');
    expect(running).toMatchObject({ status: 'moved', to: 'running', reason: '' });
    expect(running.verifyBy).toBeUndefined();
    expect(fell).toMatchObject({ status: 'failed', to: 'stopped' });
    expect(fell.reason).toMatch(/^fell back to stopped: EC2 could not attach a volume/);
  });

  it('gives up on an instance still in transition at its deadline', () => {
    const e = acted('running');
    settle(e, facts('stopping'), 'stop', new Date('2025-06-04T09:15:00Z'));
    expect(e).toMatchObject({ status: 'failed', to: 'stopping', reason: 'still stopping when verification gave up (deadline 2025-06-04T09:15:00.000Z)' });
  });

  it('fails an instance EC2 no longer knows, and one someone started again during a stop', () => {
    const gone = acted('running');
    settle(gone, undefined, 'stop', at);
    const again = acted('running');
    settle(again, facts('running'), 'stop', at);
    expect(gone).toMatchObject({ status: 'failed', to: 'unknown', reason: 'instance disappeared during the run' });
    expect(again).toMatchObject({ status: 'failed', reason: 'running again: started by someone else during the stop' });
  });
});
