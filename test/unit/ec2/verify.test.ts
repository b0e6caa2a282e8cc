import { describe, expect, it } from 'vitest';
import { explainStateReason, verify } from '../../../tasks/ec2/core/verify';
import type { BatchEntry } from '../../../tasks/ec2/core/types';
import { ec2Fleet, instance, memoryStore, recordingLog } from './fakes';

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

describe('verify', () => {
  const ids = ['i-0000000000000000a', 'i-0000000000000000b', 'i-0000000000000000c'];
  const entries = (): BatchEntry[] => ids.map((instanceId) => ({ instanceId, name: instanceId.slice(-1), from: 'stopped', status: 'acted' }));

  it('counts an instance as moved only once it is running, and explains one that fell back to stopped', async () => {
    const { store } = memoryStore();
    await store.putBatch('r', '0-0', { action: 'start', dryRun: false, group: '', entries: entries() });
    let fleet = [instance(ids[0], 'running'), instance(ids[1], 'pending'), instance(ids[2], 'pending')];
    const { ec2 } = ec2Fleet(() => fleet);
    const deps = { ec2, store, now: () => new Date('2025-06-04T09:00:30Z'), log: recordingLog() };

    const first = await verify({ runId: 'r', key: '0-0', deadline: '2025-06-04T09:15:00Z' }, deps);
    fleet = [instance(ids[0], 'running'), instance(ids[1], 'running'), instance(ids[2], 'stopped', {}, { StateReason: { Code: 'Client.InternalError', Message: 'Client.InternalError: Client error on launch' } })];
    const second = await verify({ runId: 'r', key: '0-0', deadline: '2025-06-04T09:15:00Z' }, deps);

    expect(first).toEqual({ done: false });
    expect(second).toEqual({ done: true });
    const batch = await store.getBatch('r', '0-0');
    expect(batch.entries.map((e) => [e.status, e.to])).toEqual([['moved', 'running'], ['moved', 'running'], ['failed', 'stopped']]);
    expect(batch.entries[2].reason).toMatch(/^fell back to stopped: EC2 could not attach a volume/);
  });

  it('gives up on instances still in transition at the deadline', async () => {
    const { store } = memoryStore();
    await store.putBatch('r', '0-0', { action: 'stop', dryRun: false, group: '', entries: entries().map((e) => ({ ...e, from: 'running' })) });
    const { ec2 } = ec2Fleet(() => ids.map((id) => instance(id, 'stopping')));

    const out = await verify({ runId: 'r', key: '0-0', deadline: '2025-06-04T09:15:00Z' }, { ec2, store, now: () => new Date('2025-06-04T09:15:00Z'), log: recordingLog() });

    expect(out).toEqual({ done: true });
    expect((await store.getBatch('r', '0-0')).entries[0]).toMatchObject({ status: 'failed', to: 'stopping', reason: 'still stopping when verification gave up (deadline 2025-06-04T09:15:00Z)' });
  });
});
