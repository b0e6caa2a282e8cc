/**
 * A wave's Advance loop against a model of EC2's token buckets (capacity and refill per the EC2 API throttling page),
 * on a virtual clock the test moves by each pass's waitSeconds: the loop ends with every instance accounted for,
 * near the floor the buckets impose, in a bounded number of passes.
 */
import { DescribeInstancesCommand, EC2Client, StartInstancesCommand, StopInstancesCommand, type Instance } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { advance, MAX_PASSES, type AdvanceInput } from '../../../tasks/ec2-schedule/core/advance';
import { EC2_BUCKETS } from '../../../tasks/ec2-schedule/core/pace';
import { plan } from '../../../tasks/ec2-schedule/core/plan';
import type { Ec2Action } from '../../../tasks/ec2-schedule/core/types';
import { clientsOf, ec2Error, memoryStore, recordingLog } from './fakes';

const T0 = Date.parse('2025-06-04T09:00:00Z');
const BOOT_MS = 30_000;
const STOP_MS = 60_000;
const id = (n: number) => `i-${n.toString(16).padStart(17, '0')}`;

/** EC2 with its Start/Stop resource and request buckets, transitions that take time, on the test's clock. */
function ec2World(count: number, from: 'running' | 'stopped', clock: { now: number }, opts: { capacityShort?: Set<string> } = {}) {
  const instances = new Map<string, { state: string; to?: string; dueMs?: number }>();
  for (let n = 0; n < count; n++) instances.set(id(n), { state: from });
  const buckets = new Map<string, { tokens: number; last: number; capacity: number; refill: number }>();
  const take = (key: string, capacity: number, refill: number, n: number) => {
    const b = buckets.get(key) ?? { tokens: capacity, last: clock.now, capacity, refill };
    b.tokens = Math.min(capacity, b.tokens + ((clock.now - b.last) / 1000) * refill);
    b.last = clock.now;
    buckets.set(key, b);
    if (b.tokens < n) return false;
    b.tokens -= n;
    return true;
  };
  const stats = { calls: 0, throttled: 0, maxCallsInASecond: 0, perSecond: new Map<number, number>() };
  const settle = () => {
    for (const i of instances.values()) if (i.to && clock.now >= i.dueMs!) Object.assign(i, { state: i.to, to: undefined });
  };
  const mock = mockClient(EC2Client);
  const act = (action: Ec2Action) => (input: { InstanceIds?: string[] }) => {
    const ids = input.InstanceIds ?? [];
    const { resource, request } = EC2_BUCKETS[action];
    stats.calls++;
    const second = Math.floor(clock.now / 1000);
    stats.perSecond.set(second, (stats.perSecond.get(second) ?? 0) + 1);
    if (!take(`${action}:request`, request.capacity, request.refill, 1) || !take(`${action}:resource`, resource.capacity, resource.refill, ids.length)) {
      stats.throttled++;
      throw ec2Error('RequestLimitExceeded', 'Request limit exceeded.');
    }
    settle();
    if (action === 'start' && ids.some((i) => opts.capacityShort?.has(i)))
      throw ec2Error('InsufficientInstanceCapacity', 'We currently do not have sufficient t3.micro capacity');
    for (const i of ids) {
      const x = instances.get(i)!;
      if (action === 'start' && x.state === 'stopped') Object.assign(x, { state: 'pending', to: 'running', dueMs: clock.now + BOOT_MS });
      if (action === 'stop' && x.state === 'running') Object.assign(x, { state: 'stopping', to: 'stopped', dueMs: clock.now + STOP_MS });
    }
    return {};
  };
  mock.on(StartInstancesCommand).callsFake(act('start'));
  mock.on(StopInstancesCommand).callsFake(act('stop'));
  mock.on(DescribeInstancesCommand).callsFake((input) => {
    settle();
    const wanted = input.Filters?.find((f: { Name: string }) => f.Name === 'instance-id')?.Values as string[] | undefined;
    const tagged = input.Filters?.some((f: { Name: string }) => f.Name.startsWith('tag:'));
    const ids = wanted ? wanted.filter((i) => instances.has(i)) : tagged ? [...instances.keys()] : [];
    const rows: Instance[] = ids.map((i) => ({
      InstanceId: i,
      State: { Name: instances.get(i)!.state as never },
      RootDeviceType: 'ebs',
      Tags: [{ Key: 'Schedule', Value: 'oh' }],
    }));
    return { Reservations: rows.length ? [{ Instances: rows }] : [] };
  });
  return { ec2: new EC2Client({ region: 'us-east-1' }), instances, stats };
}

/** Plans `count` instances, then runs the wave's loop as the state machine would, moving the clock by each wait. */
async function runWave(action: Ec2Action, count: number, opts: { actBudgetSeconds?: number; capacityShort?: Set<string> } = {}) {
  const clock = { now: T0 };
  const world = ec2World(count, action === 'start' ? 'stopped' : 'running', clock, opts);
  const { store } = memoryStore(() => new Date(clock.now));
  const log = recordingLog();
  const now = () => new Date(clock.now);
  const p = await plan({ action, schedule: 'oh', instanceIds: null, resources: null, dryRun: false, requestedBy: null, groups: null }, 'run', {
    clients: clientsOf({ ec2: world.ec2 }),
    kinds: ['ec2'],
    store,
    schedules: { oh: { timezone: 'UTC', skipDates: [], groups: [] } },
    batchSize: 50,
    actBudgetSeconds: opts.actBudgetSeconds ?? 6 * 3600,
    now,
    log,
  });
  const input: AdvanceInput = { runId: 'run', wave: p.waves[0], actUntil: p.actUntil };
  const deps = { clients: clientsOf({ ec2: world.ec2 }), store, verifyTimeoutSeconds: 900, batchSize: 50, now, log };
  let passes = 0;
  for (;;) {
    const r = await advance(input, deps);
    passes++;
    if (r.done) break;
    expect(Number.isInteger(r.waitSeconds) && r.waitSeconds >= 0).toBe(true);
    clock.now += r.waitSeconds * 1000 + 100; // each pass takes a tenth of a second
    if (passes > MAX_PASSES + 1) throw new Error('the loop did not end');
  }
  const run = await store.loadRun('run');
  const entries = run.batches.flatMap((b) => b.entries);
  return { seconds: (clock.now - T0) / 1000, passes, entries, stats: world.stats, world };
}

describe("a wave paced to EC2's token buckets", () => {
  it('starts 10,000 instances near the floor of (10,000 - 1,000) / 2 = 4,500 s, in few passes, never throttled for its call rate', async () => {
    const { seconds, passes, entries, stats } = await runWave('start', 10_000);

    expect(entries).toHaveLength(10_000);
    expect(entries.every((e) => e.status === 'moved')).toBe(true);
    expect(seconds).toBeGreaterThanOrEqual(4500);
    expect(seconds).toBeLessThan(4500 * 1.05);
    expect(passes).toBeLessThan(80);
    // A pass sends at most the 5 calls StartInstances' request bucket holds.
    expect(Math.max(...stats.perSecond.values())).toBeLessThanOrEqual(EC2_BUCKETS.start.request.capacity + 1);
    expect(stats.throttled).toBeLessThan(passes);
  });

  it('stops 10,000 instances near the floor of (10,000 - 1,000) / 20 = 450 s plus the last stop', async () => {
    const { seconds, passes, entries } = await runWave('stop', 10_000);

    expect(entries.every((e) => e.status === 'moved')).toBe(true);
    expect(seconds).toBeGreaterThanOrEqual(450 + STOP_MS / 1000);
    expect(seconds).toBeLessThan((450 + STOP_MS / 1000) * 1.1);
    expect(passes).toBeLessThan(40);
  });

  it("reports what it could not send in the run's time, and ends", async () => {
    const { entries } = await runWave('start', 3000, { actBudgetSeconds: 600 });

    const moved = entries.filter((e) => e.status === 'moved').length;
    const late = entries.filter((e) => e.status === 'failed');
    // 1,000 at once, then about 2 a second for 600 s.
    expect(moved).toBeGreaterThanOrEqual(2000);
    expect(moved + late.length).toBe(3000);
    expect(late[0].reason).toMatch(/^not started: the run's time to act ran out at 2025-06-04T09:10:00.000Z$/);
  });

  it('tries an instance without capacity again with back-off, then reports it', async () => {
    const short = id(7);
    const { entries, seconds } = await runWave('start', 100, { capacityShort: new Set([short]) });

    const e = entries.find((x) => x.instanceId === short)!;
    expect(e).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^insufficient capacity, still after 5 attempts/) });
    expect(entries.filter((x) => x.status === 'moved')).toHaveLength(99);
    // Retries after 1, 2, 4 and 8 minutes.
    expect(seconds).toBeGreaterThanOrEqual(15 * 60);
  });

  it('paces capacity retries to the buckets: EC2 rarely throttles them', async () => {
    // 300 instances short of capacity: once pinned to single instances, their retries come due together, 300 calls
    // of one instance where StartInstances' request bucket holds 5 and refills 2 a second.
    const short = new Set(Array.from({ length: 300 }, (_, n) => id(n)));
    const { entries, passes, stats } = await runWave('start', 400, { capacityShort: short });

    expect(entries.filter((x) => x.status === 'moved')).toHaveLength(100);
    expect(entries.filter((x) => x.status === 'failed' && /^insufficient capacity, still after 5 attempts/.test(x.reason ?? ''))).toHaveLength(300);
    expect(stats.throttled).toBeLessThan(passes / 10);
  });
});
