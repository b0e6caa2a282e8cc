import { describe, expect, it } from 'vitest';
import { verdict } from '../../../tasks/ec2-schedule/core/kinds/ec2';
import { holidayOf, plan, waveOrder, worstCaseSize } from '../../../tasks/ec2-schedule/core/plan';
import { Ec2Store, LIST_ITEM_BYTES } from '../../../tasks/ec2-schedule/core/store';
import { DYNAMODB_ITEM_LIMIT, itemSize } from '../../../tasks/shared/item-size';
import type { Ec2Request, InstanceFacts } from '../../../tasks/ec2-schedule/core/types';
import { clientsOf, ec2Fleet, instance, memoryStore, recordingLog } from './fakes';

const NOW = new Date('2025-06-04T09:00:00Z');
const facts = (state: string, tags: Record<string, string> = {}, extra: Partial<InstanceFacts> = {}): InstanceFacts => ({
  instanceId: 'i-0000000000000000a',
  name: 'x',
  state,
  instanceType: 't3.micro',
  tags,
  rootDeviceType: 'ebs',
  ...extra,
});
const request = (over: Partial<Ec2Request> = {}): Ec2Request => ({
  action: 'start',
  schedule: 'oh',
  instanceIds: null,
  dryRun: false,
  requestedBy: null,
  groups: null,
  resources: null,
  ...over,
});
const schedules = { oh: { timezone: 'Europe/Berlin', skipDates: ['2025-12-25'], groups: ['db', 'app'] } };
const HOUR = 3600;

describe('verdict', () => {
  it.each([
    ['acts on a stopped instance', facts('stopped'), 'start', { kind: 'act' }],
    ['skips a running instance on start', facts('running'), 'start', { kind: 'skip', reason: 'already running' }],
    ['skips a stopped instance on stop', facts('stopped'), 'stop', { kind: 'skip', reason: 'already stopped' }],
    ['skips a terminated instance', facts('terminated'), 'stop', { kind: 'skip', reason: 'instance is terminated' }],
    [
      'skips an Auto Scaling member',
      facts('running', { 'aws:autoscaling:groupName': 'web' }),
      'stop',
      { kind: 'skip', reason: expect.stringContaining('member of Auto Scaling group web') },
    ],
    [
      'skips an instance-store root',
      facts('running', {}, { rootDeviceType: 'instance-store' }),
      'stop',
      { kind: 'skip', reason: expect.stringContaining('instance-store root') },
    ],
    [
      'honours an override in the future',
      facts('running', { 'opsflow:override': '2025-06-04' }),
      'stop',
      { kind: 'skip', reason: 'opsflow:override until 2025-06-04' },
    ],
    ['ignores an expired override', facts('running', { 'opsflow:override': '2025-06-03T23:59:59Z' }), 'stop', { kind: 'act' }],
    [
      'leaves an unreadable override alone',
      facts('running', { 'opsflow:override': 'next week' }),
      'stop',
      { kind: 'skip', reason: expect.stringContaining('is not an ISO date') },
    ],
    ['fails a start of a stopping instance', facts('stopping'), 'start', { kind: 'fail', reason: expect.stringContaining('still stopping') }],
  ])('%s', (_case, f, action, expected) => {
    expect(verdict(f, action as 'start' | 'stop', NOW)).toEqual(expected);
  });
});

describe('skip dates', () => {
  it('skips a start on a skip date of the schedule, in its time zone', () => {
    // 23:30 UTC on the 24th is already the 25th in Berlin.
    expect(holidayOf(request(), schedules.oh, new Date('2025-12-24T23:30:00Z'))).toBe('2025-12-25');
    expect(holidayOf(request(), schedules.oh, new Date('2025-12-24T22:30:00Z'))).toBeNull();
  });

  it('still stops on a skip date', () => {
    expect(holidayOf(request({ action: 'stop' }), schedules.oh, new Date('2025-12-25T12:00:00Z'))).toBeNull();
  });

  it('plans nothing on a skip date', async () => {
    const { store, items } = memoryStore();
    const { ec2, mock } = ec2Fleet(() => [instance('i-0000000000000000a', 'stopped', { Schedule: 'oh' })]);

    const p = await plan(request(), 'run1', {
      clients: clientsOf({ ec2 }),
      kinds: ['ec2'],
      store,
      schedules,
      batchSize: 2,
      actBudgetSeconds: HOUR,
      now: () => new Date('2025-12-25T08:00:00Z'),
      log: recordingLog(),
    });

    expect(p).toEqual({ holiday: '2025-12-25', targets: 0, settled: 0, waves: [], actUntil: '2025-12-25T08:00:00.000Z' });
    expect(mock.calls()).toHaveLength(0);
    expect(items.size).toBe(0);
  });
});

describe('plan', () => {
  it('orders groups (db before app on start, reverse on stop) and batches every group', async () => {
    const fleet = [
      ...[1, 2, 3].map((n) => instance(`i-000000000000000a${n}`, 'stopped', { Schedule: 'oh', 'opsflow:group': 'app', Name: `app-${n}` })),
      instance('i-00000000000000d001', 'stopped', { Schedule: 'oh', 'opsflow:group': 'db', Name: 'db-1' }),
      instance('i-00000000000000e001', 'stopped', { Schedule: 'oh', Name: 'loose' }),
      instance('i-00000000000000f001', 'running', { Schedule: 'oh', Name: 'up' }),
      instance('i-00000000000000f002', 'stopped', { Schedule: 'other' }),
    ];
    const { store } = memoryStore();
    const { ec2 } = ec2Fleet(() => fleet);
    const deps = {
      clients: clientsOf({ ec2 }),
      kinds: ['ec2'] as const,
      store,
      schedules,
      batchSize: 2,
      actBudgetSeconds: HOUR,
      now: () => NOW,
      log: recordingLog(),
    };

    const start = await plan(request(), 'run-start', deps);
    const stop = await plan(request({ action: 'stop' }), 'run-stop', deps);

    expect(start.waves).toEqual([
      { index: 0, group: 'db', kind: 'ec2', action: 'start', dryRun: false, batches: 1, instances: 1 },
      { index: 1, group: 'app', kind: 'ec2', action: 'start', dryRun: false, batches: 2, instances: 3 },
      { index: 2, group: '', kind: 'ec2', action: 'start', dryRun: false, batches: 1, instances: 1 },
    ]);
    expect(start).toMatchObject({ targets: 5, settled: 1, holiday: null, actUntil: '2025-06-04T10:00:00.000Z' });
    expect(stop.waves.map((w) => w.group)).toEqual(['']);
    expect((await store.getBatches('run-start', 1, [1])).get(1)!.entries).toEqual([
      { instanceId: 'i-000000000000000a3', name: 'app-3', from: 'stopped', status: 'planned' },
    ]);
    expect((await store.loadRun('run-start')).entries).toEqual([
      { kind: 'ec2', instanceId: 'i-00000000000000f001', name: 'up', from: 'running', to: 'running', outcome: 'skipped', reason: 'already running' },
    ]);
  });

  it('moves only the groups a period names', async () => {
    const { store } = memoryStore();
    const { ec2 } = ec2Fleet(() => [
      instance('i-00000000000000d001', 'running', { Schedule: 'oh', 'opsflow:group': 'db' }),
      instance('i-00000000000000a001', 'running', { Schedule: 'oh', 'opsflow:group': 'app' }),
    ]);

    const p = await plan(request({ action: 'stop', groups: ['db'] }), 'r', {
      clients: clientsOf({ ec2 }),
      kinds: ['ec2'],
      store,
      schedules,
      batchSize: 5,
      actBudgetSeconds: HOUR,
      now: () => NOW,
      log: recordingLog(),
    });

    expect(p.waves).toEqual([{ index: 0, group: 'db', kind: 'ec2', action: 'stop', dryRun: false, batches: 1, instances: 1 }]);
  });

  it('reports ids that do not exist as failed instead of failing the run', async () => {
    const { store } = memoryStore();
    const { ec2 } = ec2Fleet(() => [instance('i-0000000000000000a', 'stopped')]);

    const p = await plan(request({ schedule: null, instanceIds: ['i-0000000000000000a', 'i-0000000000000000b'] }), 'r', {
      clients: clientsOf({ ec2 }),
      kinds: ['ec2'],
      store,
      schedules,
      batchSize: 5,
      actBudgetSeconds: HOUR,
      now: () => NOW,
      log: recordingLog(),
    });

    expect(p.targets).toBe(1);
    expect((await store.loadRun('r')).entries).toEqual([
      expect.objectContaining({ instanceId: 'i-0000000000000000b', outcome: 'failed', reason: 'EC2 instance not found' }),
    ]);
  });

  it('keeps the state payload small whatever the fleet size', async () => {
    const fleet = Array.from({ length: 10_000 }, (_, n) =>
      instance(`i-${n.toString(16).padStart(17, '0')}`, 'stopped', { Schedule: 'oh', 'opsflow:group': n % 10 ? 'app' : 'db' }),
    );
    const { store } = memoryStore();
    const { ec2 } = ec2Fleet(() => fleet, 1000);

    const p = await plan(request(), 'big', {
      clients: clientsOf({ ec2 }),
      kinds: ['ec2'],
      store,
      schedules,
      batchSize: 50,
      actBudgetSeconds: HOUR,
      now: () => NOW,
      log: recordingLog(),
    });

    expect(p.targets).toBe(10_000);
    // One summary per ordering group, not one entry per batch: the same size at any fleet size.
    expect(p.waves.map((w) => [w.group, w.batches])).toEqual([
      ['db', 20],
      ['app', 180],
    ]);
    expect(Buffer.byteLength(JSON.stringify(p))).toBeLessThan(1024);
  });

  it('cuts batches by bytes as well as by count, so a batch stays under 400 KB when every instance gets the longest reason', async () => {
    // 256-character names of 3-byte characters: 768 bytes each, the most a Name tag holds.
    const name = '名'.repeat(256);
    const fleet = Array.from({ length: 1000 }, (_, n) => instance(`i-${n.toString(16).padStart(17, '0')}`, 'running', { Schedule: 'oh', Name: name }));
    const { store, items } = memoryStore();
    const { ec2 } = ec2Fleet(() => fleet, 1000);

    const p = await plan(request({ action: 'stop' }), 'wide', {
      clients: clientsOf({ ec2 }),
      kinds: ['ec2'],
      store,
      schedules,
      batchSize: 1000,
      actBudgetSeconds: HOUR,
      now: () => NOW,
      log: recordingLog(),
    });

    const [wave] = p.waves;
    expect(wave.batches).toBeGreaterThan(1);
    for (let n = 0; n < wave.batches; n++) {
      const batch = (await store.getBatches('wide', 0, [n])).get(n)!;
      const worst = batch.entries.reduce((sum, e) => sum + worstCaseSize(e) + 1, 0);
      expect(worst).toBeLessThanOrEqual(LIST_ITEM_BYTES);
      // Filled with the longest reasons a run may write, the item still fits.
      const full = {
        ...items.get(`run#wide|${Ec2Store.batchKey(0, n)}`)!,
        entries: batch.entries.map((e) => ({ ...e, status: 'failed', to: 'running', reason: 'x'.repeat(1024) })),
      };
      expect(itemSize(full)).toBeLessThan(DYNAMODB_ITEM_LIMIT);
    }
  });

  it('waves follow the schedule order on start and the reverse on stop', () => {
    expect(waveOrder(['db', 'app'], 'start')).toEqual(['db', 'app', '']);
    expect(waveOrder(['db', 'app'], 'stop')).toEqual(['', 'app', 'db']);
  });
});
