import { EC2Client, StartInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { act } from '../../../tasks/ec2/core/act';
import type { BatchEntry, StoredBatch } from '../../../tasks/ec2/core/types';
import { ec2Error, memoryStore, recordingLog } from './fakes';

const ids = ['i-0000000000000000a', 'i-0000000000000000b', 'i-0000000000000000c', 'i-0000000000000000d', 'i-0000000000000000e'];
const NOW = new Date('2025-06-04T09:00:00Z');

async function setup(action: 'start' | 'stop', failFor: (callIds: string[]) => Error | undefined, dryRun = false) {
  const { store } = memoryStore();
  const entries: BatchEntry[] = ids.map((instanceId) => ({ instanceId, name: instanceId.slice(-1), from: action === 'start' ? 'stopped' : 'running', status: 'planned' }));
  await store.putBatch('r', '0-0', { action, dryRun, group: '', entries } satisfies StoredBatch);
  const mock = mockClient(EC2Client);
  const answer = (input: { InstanceIds?: string[] }) => {
    const err = failFor(input.InstanceIds ?? []);
    if (err) throw err;
    return {};
  };
  mock.on(StartInstancesCommand).callsFake(answer);
  mock.on(StopInstancesCommand).callsFake(answer);
  const deps = { ec2: new EC2Client({ region: 'us-east-1' }), store, verifyTimeoutSeconds: 600, now: () => NOW, log: recordingLog() };
  const statuses = async () => Object.fromEntries((await store.getBatch('r', '0-0')).entries.map((e) => [e.instanceId.slice(-1), e.status]));
  return { store, mock, deps, statuses };
}

describe('act', () => {
  it('acts on the whole batch in one call when it can', async () => {
    const { mock, deps, statuses } = await setup('stop', () => undefined);

    const out = await act({ runId: 'r', key: '0-0' }, deps);

    expect(out).toEqual({ pending: 5, deadline: '2025-06-04T09:10:00.000Z' });
    expect(mock.commandCalls(StopInstancesCommand)).toHaveLength(1);
    expect(Object.values(await statuses())).toEqual(['acted', 'acted', 'acted', 'acted', 'acted']);
  });

  it('bisects a failing batch so one bad instance does not block the rest', async () => {
    const bad = 'i-0000000000000000c';
    const { mock, deps, statuses, store } = await setup('stop', (callIds) =>
      callIds.includes(bad) ? ec2Error('UnsupportedOperation', `You can't stop the Spot Instance '${bad}' because it is associated with a one-time Spot Instance request.`) : undefined,
    );

    const out = await act({ runId: 'r', key: '0-0' }, deps);

    expect(out.pending).toBe(4);
    expect(await statuses()).toEqual({ a: 'acted', b: 'acted', c: 'skipped', d: 'acted', e: 'acted' });
    expect((await store.getBatch('r', '0-0')).entries[2].reason).toContain('cannot be stopped: You can\'t stop the Spot Instance');
    // [a..e] fails → [a,b,c] fails → [a,b] ok, [c] fails → [d,e] ok: five calls, not one per instance.
    expect(mock.commandCalls(StopInstancesCommand).map((c) => c.args[0].input.InstanceIds!.length)).toEqual([5, 3, 2, 1, 2]);
  });

  it('retries only the instances without capacity, and reports them on the final attempt', async () => {
    let short = true;
    const { mock, deps, statuses } = await setup('start', (callIds) => (short && callIds.includes('i-0000000000000000e') ? ec2Error('InsufficientInstanceCapacity', 'We currently do not have sufficient c5.large capacity') : undefined));

    await expect(act({ runId: 'r', key: '0-0' }, deps)).rejects.toMatchObject({ name: 'Ec2.InsufficientCapacity' });
    expect((await statuses()).e).toBe('capacity');
    mock.resetHistory();
    const final = await act({ runId: 'r', key: '0-0', finalAttempt: true }, deps);

    expect(mock.commandCalls(StartInstancesCommand).map((c) => c.args[0].input.InstanceIds)).toEqual([['i-0000000000000000e']]);
    expect(final.pending).toBe(4);
    expect((await statuses()).e).toBe('failed');
    short = false;
  });

  it('turns lasting throttling into Ec2.Throttled, keeping what was done so the retry sends only the rest', async () => {
    let throttling = true;
    const { deps, statuses, mock } = await setup('start', (callIds) => {
      // The first calls go through; by the time the bisection reaches d, EC2 throttles.
      if (throttling && callIds.length <= 2 && callIds.includes('i-0000000000000000d')) return ec2Error('RequestLimitExceeded', 'Request limit exceeded.');
      return callIds.includes('i-0000000000000000b') ? ec2Error('IncorrectInstanceState', "The instance 'i-0000000000000000b' is not in a state from which it can be started.") : undefined;
    });

    await expect(act({ runId: 'r', key: '0-0' }, deps)).rejects.toMatchObject({ name: 'Ec2.Throttled' });
    const afterThrottle = await statuses();
    mock.resetHistory();
    throttling = false;
    const retried = await act({ runId: 'r', key: '0-0' }, deps);

    expect(afterThrottle).toEqual({ a: 'acted', b: 'failed', c: 'acted', d: 'planned', e: 'planned' });
    expect(mock.commandCalls(StartInstancesCommand).map((c) => c.args[0].input.InstanceIds)).toEqual([['i-0000000000000000d', 'i-0000000000000000e']]);
    expect(retried.pending).toBe(4);
  });

  it('in a dry run asks EC2 whether the call would succeed and changes nothing', async () => {
    const { deps, statuses, mock } = await setup('start', () => ec2Error('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.'), true);

    const out = await act({ runId: 'r', key: '0-0' }, deps);

    expect(out.pending).toBe(0);
    expect(mock.commandCalls(StartInstancesCommand)[0].args[0].input.DryRun).toBe(true);
    expect(Object.values(await statuses())).toEqual(['dry-run', 'dry-run', 'dry-run', 'dry-run', 'dry-run']);
  });
});
