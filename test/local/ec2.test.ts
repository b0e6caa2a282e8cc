import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  DescribeTagsCommand,
  DescribeVpcsCommand,
  EC2Client,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  paginateDescribeInstances,
  type Filter,
  type Instance,
} from '@aws-sdk/client-ec2';
import { Clock, StateDir, type BusEvent } from '../../local/kernel';
import { createServer, listen } from '../../local/server';
import { applyFaultPatch, defaultFaults } from '../../local/faults';
import { DEMO, DEMO_SEED } from '../demo-fleet';
import { Ec2Service } from '../../local/services/ec2';

const dir = mkdtempSync(join(tmpdir(), 'opsflow-ec2-'));
const state = new StateDir(dir);
const clock = new Clock({ scale: 1000 });
const faults = defaultFaults();
let roll = 0.5;
const events: BusEvent[] = [];
const service = new Ec2Service({ clock, state, faults, seed: DEMO_SEED, random: () => roll, bus: { put: async (e) => void events.push(e) } });
let server: Server;
let ec2: EC2Client;

beforeAll(async () => {
  server = createServer([service], async () => ({ status: 404, body: '' }));
  const port = await listen(server, 0);
  // One attempt: retries of injected throttling would only slow the tests down.
  ec2 = new EC2Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'x' },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  ec2.destroy();
  await new Promise((resolve) => server.close(resolve));
  service.close();
  rmSync(dir, { recursive: true, force: true });
});

async function instances(filters: Filter[] = [], ids?: string[]): Promise<Instance[]> {
  const out = await ec2.send(new DescribeInstancesCommand({ Filters: filters.length ? filters : undefined, InstanceIds: ids }));
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);
}

async function instance(id: string): Promise<Instance> {
  const [found] = await instances([], [id]);
  return found;
}

/** Polls in virtual time until the instance reaches `state` (at most 5 virtual minutes). */
async function waitForState(id: string, state: string): Promise<Instance> {
  for (let k = 0; k < 60; k++) {
    const i = await instance(id);
    if (i.State?.Name === state) return i;
    await clock.sleep(5_000);
  }
  throw new Error(`${id} never reached ${state}`);
}

async function errorOf(promise: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  try {
    await promise;
  } catch (err) {
    const e = err as Error & { $metadata?: { httpStatusCode?: number } };
    return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail');
}

const ids = (list: Instance[]) => list.map((i) => i.InstanceId).sort();
const tag = (i: Instance, key: string) => i.Tags?.find((t) => t.Key === key)?.Value;

describe('DescribeInstances', () => {
  it('returns the seeded fleet with every field the SDK models', async () => {
    // Act
    const all = await instances();
    const spot = all.find((i) => i.InstanceId === DEMO.spot)!;
    const store = all.find((i) => i.InstanceId === DEMO.instanceStore)!;
    const stopped = all.find((i) => i.InstanceId === DEMO.batchWindow[0])!;

    // Assess
    expect(all).toHaveLength(36);
    expect(all.every((i) => tag(i, 'Name'))).toBe(true);
    expect(spot).toMatchObject({
      InstanceLifecycle: 'spot',
      SpotInstanceRequestId: 'sir-0feed0016',
      State: { Code: 16, Name: 'running' },
      StateTransitionReason: '',
    });
    expect(spot.Placement?.AvailabilityZone).toMatch(/^us-east-1[abc]$/);
    expect(spot.LaunchTime).toBeInstanceOf(Date);
    expect(spot.PrivateIpAddress).toMatch(/^10\.0\.\d\.\d+$/);
    expect(store.RootDeviceType).toBe('instance-store');
    expect(stopped.State).toEqual({ Code: 80, Name: 'stopped' });
    expect(stopped.StateReason).toEqual({ Code: 'Client.UserInitiatedShutdown', Message: 'Client.UserInitiatedShutdown: User initiated shutdown' });
    expect(stopped.StateTransitionReason).toMatch(/^User initiated \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d GMT\)$/);
    expect(all.find((i) => i.InstanceId === DEMO.hibernationConfigured)?.HibernationOptions?.Configured).toBe(true);
  });

  it('filters by tag:<key>, tag-key, instance-state-name and instance-id (with wildcards)', async () => {
    // Act
    const office = await instances([{ Name: 'tag:Schedule', Values: ['office-hours'] }]);
    const officeDb = await instances([
      { Name: 'tag:Schedule', Values: ['office-hours'] },
      { Name: 'tag:opsflow:group', Values: ['db'] },
    ]);
    const asg = await instances([{ Name: 'tag-key', Values: ['aws:autoscaling:groupName'] }]);
    const stopped = await instances([{ Name: 'instance-state-name', Values: ['stopped'] }]);
    const teens = await instances([{ Name: 'instance-id', Values: ['i-0feed00000000001*'] }]);
    const either = await instances([{ Name: 'tag:Schedule', Values: ['batch-*', 'nonexistent'] }]);

    // Assess
    expect(ids(office)).toEqual([...DEMO.officeHours].sort());
    expect(ids(officeDb)).toEqual([...DEMO.officeHoursDb].sort());
    expect(ids(asg)).toEqual([DEMO.asg]);
    expect(stopped.length).toBeGreaterThan(3);
    expect(stopped.every((i) => i.State?.Name === 'stopped')).toBe(true);
    expect(teens).toHaveLength(10);
    expect(ids(either)).toEqual([...DEMO.batchWindow].sort());
  });

  it('pages with MaxResults and NextToken', async () => {
    // Act
    const first = await ec2.send(new DescribeInstancesCommand({ MaxResults: 5, Filters: [{ Name: 'tag:Schedule', Values: ['office-hours'] }] }));
    const second = await ec2.send(
      new DescribeInstancesCommand({ MaxResults: 5, NextToken: first.NextToken, Filters: [{ Name: 'tag:Schedule', Values: ['office-hours'] }] }),
    );
    const pages: number[] = [];
    for await (const page of paginateDescribeInstances({ client: ec2, pageSize: 10 }, {})) {
      pages.push((page.Reservations ?? []).flatMap((r) => r.Instances ?? []).length);
    }

    // Assess
    const page1 = (first.Reservations ?? []).flatMap((r) => r.Instances ?? []);
    const page2 = (second.Reservations ?? []).flatMap((r) => r.Instances ?? []);
    expect(page1).toHaveLength(5);
    expect(page2).toHaveLength(5);
    expect(first.NextToken).toBeTruthy();
    expect(second.NextToken).toBeUndefined();
    expect(ids([...page1, ...page2])).toEqual([...DEMO.officeHours].sort());
    expect(pages).toEqual([10, 10, 10, 6]);
  });

  it('rejects unknown filters, bad page sizes and MaxResults with InstanceId', async () => {
    // Act
    const badFilter = await errorOf(instances([{ Name: 'colour', Values: ['blue'] }]));
    const badSize = await errorOf(ec2.send(new DescribeInstancesCommand({ MaxResults: 2 })));
    const combination = await errorOf(ec2.send(new DescribeInstancesCommand({ MaxResults: 5, InstanceIds: [DEMO.spot] })));
    const badToken = await errorOf(ec2.send(new DescribeInstancesCommand({ MaxResults: 5, NextToken: 'garbage' })));

    // Assess
    expect(badFilter).toMatchObject({ name: 'InvalidParameterValue', status: 400 });
    expect(badFilter.message).toContain("'colour'");
    expect(badSize.name).toBe('InvalidParameterValue');
    expect(combination.name).toBe('InvalidParameterCombination');
    expect(badToken.name).toBe('InvalidPaginationToken');
  });

  it('answers InvalidInstanceID.NotFound and InvalidInstanceID.Malformed', async () => {
    // Act
    const missing = await errorOf(instances([], ['i-0feed999999999999']));
    const malformed = await errorOf(instances([], ['i-xyz']));

    // Assess
    expect(missing).toMatchObject({ name: 'InvalidInstanceID.NotFound', message: "The instance ID 'i-0feed999999999999' does not exist" });
    expect(malformed.name).toBe('InvalidInstanceID.Malformed');
  });
});

describe('lifecycle', () => {
  it('stops a running instance through stopping to stopped, and starts it through pending to running', async () => {
    // Prepare
    const id = DEMO.officeHours[0];

    // Act
    const stop = await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    const stopped = await waitForState(id, 'stopped');
    const start = await ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
    const running = await waitForState(id, 'running');

    // Assess
    expect(stop.StoppingInstances).toEqual([{ InstanceId: id, PreviousState: { Code: 16, Name: 'running' }, CurrentState: { Code: 64, Name: 'stopping' } }]);
    expect(stopped.StateReason?.Code).toBe('Client.UserInitiatedShutdown');
    expect(start.StartingInstances).toEqual([{ InstanceId: id, PreviousState: { Code: 80, Name: 'stopped' }, CurrentState: { Code: 0, Name: 'pending' } }]);
    expect(running.StateReason).toBeUndefined();
    expect(running.StateTransitionReason).toBe('');
  });

  it('leaves the instance whose KMS key has no grant stopped with Client.InternalError', async () => {
    // Act
    const start = await ec2.send(new StartInstancesCommand({ InstanceIds: [DEMO.kmsBroken] }));
    const after = await waitForState(DEMO.kmsBroken, 'stopped');

    // Assess
    expect(start.StartingInstances?.[0].CurrentState?.Name).toBe('pending');
    expect(after.StateReason).toEqual({ Code: 'Client.InternalError', Message: 'Client.InternalError: Client error on launch' });
    expect(after.StateTransitionReason).toBe('Client.InternalError');
  });

  it('refuses to stop Spot (one-time) and instance-store instances with UnsupportedOperation, hibernation of one not configured with UnsupportedHibernationConfiguration', async () => {
    // Act
    const spot = await errorOf(ec2.send(new StopInstancesCommand({ InstanceIds: [DEMO.spot] })));
    const store = await errorOf(ec2.send(new StopInstancesCommand({ InstanceIds: [DEMO.instanceStore] })));
    const hibernate = await errorOf(ec2.send(new StopInstancesCommand({ InstanceIds: [DEMO.officeHours[1]], Hibernate: true })));

    // Assess
    expect(spot.name).toBe('UnsupportedOperation');
    expect(store.name).toBe('UnsupportedOperation');
    expect(hibernate.name).toBe('UnsupportedHibernationConfiguration');
    expect(hibernate.message).toMatch(new RegExp(`: ${DEMO.officeHours[1]}$`));
    expect((await instance(DEMO.spot)).State?.Name).toBe('running');
    expect((await instance(DEMO.officeHours[1])).State?.Name).toBe('running');
  });

  it('hibernates an instance configured for it', async () => {
    // Act
    const out = await ec2.send(new StopInstancesCommand({ InstanceIds: [DEMO.hibernationConfigured], Hibernate: true, Force: true }));
    const stopped = await waitForState(DEMO.hibernationConfigured, 'stopped');

    // Assess
    expect(out.StoppingInstances?.[0].CurrentState?.Name).toBe('stopping');
    expect(stopped.StateReason?.Code).toBe('Client.UserInitiatedHibernate');
  });

  it('enables hibernation at launch only (RunInstances HibernationOptions.Configured), and hibernates such an instance', async () => {
    // Prepare
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-0feed000000000001',
        InstanceType: 'c5.large',
        MinCount: 1,
        MaxCount: 1,
        HibernationOptions: { Configured: true },
      }),
    );
    const id = run.Instances![0].InstanceId!;
    await waitForState(id, 'running');

    // Act
    await ec2.send(new StopInstancesCommand({ InstanceIds: [id], Hibernate: true }));
    const stopped = await waitForState(id, 'stopped');

    // Assess
    expect(stopped.HibernationOptions?.Configured).toBe(true);
    expect(stopped.StateReason?.Code).toBe('Client.UserInitiatedHibernate');
  });

  it('protects terminationProtected instances and answers IncorrectInstanceState for a terminated one', async () => {
    // Prepare
    const id = DEMO.officeHours[6];

    // Act
    const protectedErr = await errorOf(ec2.send(new TerminateInstancesCommand({ InstanceIds: [DEMO.terminationProtected] })));
    const term = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await waitForState(id, 'terminated');
    const startErr = await errorOf(ec2.send(new StartInstancesCommand({ InstanceIds: [id] })));

    // Assess
    expect(protectedErr.name).toBe('OperationNotPermitted');
    expect((await instance(DEMO.terminationProtected)).State?.Name).toBe('running');
    expect(term.TerminatingInstances?.[0]).toMatchObject({ PreviousState: { Name: 'running' }, CurrentState: { Code: 32, Name: 'shutting-down' } });
    expect(startErr.name).toBe('IncorrectInstanceState');
  });
});

describe('RunInstances', () => {
  it('launches pending instances that become running, recorded in the trail and published on the bus', async () => {
    // Act
    const out = await ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-0feed000000000001',
        InstanceType: 't3.nano',
        MinCount: 2,
        MaxCount: 2,
        TagSpecifications: [
          {
            ResourceType: 'instance',
            Tags: [
              { Key: 'Name', Value: 'fresh' },
              { Key: 'Team', Value: 'blue' },
            ],
          },
        ],
      }),
    );
    const launched = out.Instances ?? [];
    const running = await waitForState(launched[0].InstanceId!, 'running');

    // Assess
    expect(launched).toHaveLength(2);
    expect(launched[0].State).toEqual({ Code: 0, Name: 'pending' });
    expect(launched[0].InstanceId).toMatch(/^i-[0-9a-f]{17}$/);
    expect(out.ReservationId).toMatch(/^r-[0-9a-f]{17}$/);
    expect(tag(running, 'Team')).toBe('blue');
    const record = service.fleet.trail.at(-1)!;
    expect(record).toMatchObject({ eventName: 'RunInstances', userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::000000000000:user/AKIDLOCAL' } });
    expect(record.resources.map((r) => r.name)).toEqual(launched.map((i) => i.InstanceId));
    const event = events.at(-1)!;
    expect(event).toMatchObject({ source: 'aws.ec2', 'detail-type': 'AWS API Call via CloudTrail' });
    expect(event.detail).toMatchObject({
      eventSource: 'ec2.amazonaws.com',
      eventName: 'RunInstances',
      awsRegion: 'us-east-1',
      userIdentity: { userName: 'AKIDLOCAL' },
    });
    expect(event.detail.responseElements).toMatchObject({
      instancesSet: { items: launched.map((i) => expect.objectContaining({ instanceId: i.InstanceId })) },
    });
  });

  it('answers MissingParameter without ImageId and InsufficientInstanceCapacity for a faulted type', async () => {
    // Prepare
    applyFaultPatch(faults, { capacityErrorTypes: ['t3.large'] });
    const stoppedLarge = DEMO.officeHours[3];

    // Act
    const missing = await errorOf(ec2.send(new RunInstancesCommand({ MinCount: 1, MaxCount: 1 } as never)));
    const run = await errorOf(ec2.send(new RunInstancesCommand({ ImageId: 'ami-0feed000000000001', InstanceType: 't3.large', MinCount: 1, MaxCount: 1 })));
    const start = await errorOf(ec2.send(new StartInstancesCommand({ InstanceIds: [stoppedLarge] })));
    applyFaultPatch(faults, { capacityErrorTypes: [] });

    // Assess
    expect(missing).toMatchObject({ name: 'MissingParameter', message: 'The request must contain the parameter ImageId' });
    expect(run.name).toBe('InsufficientInstanceCapacity');
    expect(start.name).toBe('InsufficientInstanceCapacity');
    expect(start.message).toContain('t3.large');
    expect((await instance(stoppedLarge)).State?.Name).toBe('stopped');
  });
});

describe('tags', () => {
  it('creates, describes and deletes tags', async () => {
    // Prepare
    const id = DEMO.officeHours[2];

    // Act
    await ec2.send(
      new CreateTagsCommand({
        Resources: [id],
        Tags: [
          { Key: 'CreatedBy', Value: 'alice' },
          { Key: 'Environment', Value: 'dev' },
        ],
      }),
    );
    const described = await ec2.send(
      new DescribeTagsCommand({
        Filters: [
          { Name: 'resource-id', Values: [id] },
          { Name: 'key', Values: ['CreatedBy', 'Environment'] },
        ],
      }),
    );
    await ec2.send(new DeleteTagsCommand({ Resources: [id], Tags: [{ Key: 'CreatedBy' }, { Key: 'Environment', Value: 'not-the-value' }] }));
    const after = await instance(id);

    // Assess
    expect(described.Tags).toEqual([
      { ResourceId: id, ResourceType: 'instance', Key: 'Environment', Value: 'dev' },
      { ResourceId: id, ResourceType: 'instance', Key: 'CreatedBy', Value: 'alice' },
    ]);
    expect(tag(after, 'CreatedBy')).toBeUndefined();
    expect(tag(after, 'Environment')).toBe('dev');
  });

  it('pages DescribeTags and filters by value', async () => {
    // Act
    const first = await ec2.send(new DescribeTagsCommand({ MaxResults: 5, Filters: [{ Name: 'value', Values: ['office-hours'] }] }));
    const second = await ec2.send(
      new DescribeTagsCommand({ MaxResults: 5, NextToken: first.NextToken, Filters: [{ Name: 'value', Values: ['office-hours'] }] }),
    );

    // Assess
    expect(first.Tags).toHaveLength(5);
    expect(second.Tags).toHaveLength(5);
    expect(second.NextToken).toBeUndefined();
    expect([...(first.Tags ?? []), ...(second.Tags ?? [])].map((t) => t.ResourceId).sort()).toEqual([...DEMO.officeHours].sort());
  });

  it('rejects aws: keys and unknown instances', async () => {
    // Act
    const reserved = await errorOf(ec2.send(new CreateTagsCommand({ Resources: [DEMO.asg], Tags: [{ Key: 'aws:mine', Value: 'x' }] })));
    const unknown = await errorOf(ec2.send(new DeleteTagsCommand({ Resources: ['i-0feed999999999999'], Tags: [{ Key: 'Owner' }] })));

    // Assess
    expect(reserved.name).toBe('InvalidParameterValue');
    expect(unknown.name).toBe('InvalidInstanceID.NotFound');
  });
});

describe('DescribeInstanceStatus', () => {
  it('lists running instances by default and every state with IncludeAllInstances', async () => {
    // Act
    const running = await ec2.send(new DescribeInstanceStatusCommand({ MaxResults: 1000 }));
    const stopped = await ec2.send(
      new DescribeInstanceStatusCommand({ IncludeAllInstances: true, Filters: [{ Name: 'instance-state-name', Values: ['stopped'] }] }),
    );
    const page = await ec2.send(new DescribeInstanceStatusCommand({ MaxResults: 5 }));
    const next = await ec2.send(new DescribeInstanceStatusCommand({ MaxResults: 5, NextToken: page.NextToken }));

    // Assess
    const statuses = running.InstanceStatuses ?? [];
    expect(statuses.length).toBeGreaterThan(10);
    expect(statuses.every((s) => s.InstanceState?.Name === 'running')).toBe(true);
    expect(statuses.find((s) => s.InstanceId === DEMO.spot)).toMatchObject({
      InstanceStatus: { Status: 'ok', Details: [{ Name: 'reachability', Status: 'passed' }] },
      SystemStatus: { Status: 'ok' },
    });
    expect(stopped.InstanceStatuses?.length).toBeGreaterThan(3);
    expect(stopped.InstanceStatuses?.every((s) => s.InstanceState?.Code === 80 && s.InstanceStatus?.Status === 'not-applicable')).toBe(true);
    expect(page.InstanceStatuses).toHaveLength(5);
    expect(next.InstanceStatuses?.[0].InstanceId).not.toBe(page.InstanceStatuses?.[0].InstanceId);
  });
});

describe('faults and unknown actions', () => {
  it('throttles the share of calls given by ec2ThrottleRate, before any side effect', async () => {
    // Prepare
    applyFaultPatch(faults, { ec2ThrottleRate: 0.5 });
    const id = DEMO.officeHours[8];

    // Act
    roll = 0.4;
    const throttled = await errorOf(ec2.send(new StopInstancesCommand({ InstanceIds: [id] })));
    roll = 0.6;
    const passed = await instance(id);
    applyFaultPatch(faults, { ec2ThrottleRate: 0 });

    // Assess
    expect(throttled).toMatchObject({ name: 'RequestLimitExceeded', status: 503 });
    expect(passed.State?.Name).toBe('running');
  });

  it('answers InvalidAction for an action it does not emulate', async () => {
    // Act
    const err = await errorOf(ec2.send(new DescribeVpcsCommand({})));

    // Assess
    expect(err).toMatchObject({ name: 'InvalidAction', status: 400 });
  });

  it('rejects invalid fault patches naming every bad field', () => {
    // Act
    const act = () => applyFaultPatch(faults, { ec2ThrottleRate: 2, capacityErrorTypes: 'm5.large', bogus: true });

    // Assess
    expect(act).toThrow(/ec2ThrottleRate must be a number between 0 and 1.*capacityErrorTypes must be an array.*bogus is not a known fault/);
    expect(faults.ec2ThrottleRate).toBe(0);
  });
});

describe('persistence and scale', () => {
  it('a second service on the same state directory sees the fleet and completes overdue transitions', async () => {
    // Prepare
    const id = DEMO.officeHours[5];
    await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    const later = new Clock({ start: clock.nowMs() + 10 * 60_000 });

    // Act
    const restarted = new Ec2Service({ clock: later, state, faults: defaultFaults(), seed: DEMO_SEED });
    const reloaded = restarted.fleet.get(id);
    const count = restarted.fleet.list().length;
    restarted.close();

    // Assess
    expect(reloaded).toMatchObject({ state: 'stopped', stateReason: { code: 'Client.UserInitiatedShutdown' } });
    expect(count).toBe(service.fleet.list().length);
  });

  it('filters 10,000 added instances by tag', async () => {
    // Prepare
    service.fleet.addInstances(9_990, { tags: [{ Key: 'Team', Value: 'haystack' }] });
    const needles = service.fleet.addInstances(10, { tags: [{ Key: 'Team', Value: 'needle' }], state: 'stopped' });

    // Act
    const found = await instances([{ Name: 'tag:Team', Values: ['needle'] }]);
    const page = await ec2.send(new DescribeInstancesCommand({ MaxResults: 1000, Filters: [{ Name: 'tag:Team', Values: ['haystack'] }] }));

    // Assess
    expect(ids(found)).toEqual(needles.map((i) => i.instanceId).sort());
    expect(found.every((i) => i.State?.Name === 'stopped')).toBe(true);
    expect((page.Reservations ?? []).flatMap((r) => r.Instances ?? [])).toHaveLength(1000);
    expect(page.NextToken).toBeTruthy();
  });
});
