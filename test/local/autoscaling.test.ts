/**
 * The runtime's Amazon EC2 Auto Scaling through the real AWS CLI v2 and `@aws-sdk/client-auto-scaling`, with the
 * group's instances in the EC2 fleet (seen through `@aws-sdk/client-ec2`): scaling to 0 terminates the members through
 * the fleet and scaling out launches tagged ones, each change a scaling activity, on the virtual clock; AWS's
 * validation errors; tag filters and pagination; durability across a restart; IAM by the group's tags.
 */
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeScalingActivitiesCommand,
  DescribeTagsCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultFaults } from '../../local/faults';
import { ManualClock, StateDir } from '../../local/kernel';
import { createServer, listen } from '../../local/server';
import { AutoScalingService, type GroupSeed } from '../../local/services/autoscaling';
import { Ec2Service } from '../../local/services/ec2';
import { TRANSITION_MS, type FleetSeed } from '../../local/services/fleet';
import { awsCliEnv, findAwsCliV2 } from '../tools';
import { gateWithRole } from './iam-gate';
import { serveOne } from './one-service';

const MEMBER = 'i-0feed000000000015';
const FLEET: FleetSeed = {
  instances: [
    {
      instanceId: MEMBER,
      name: 'web-asg-node',
      instanceType: 't3.medium',
      imageId: 'ami-0feed000000000001',
      state: 'running',
      launchedDaysAgo: 26,
      launchedBy: { assumedRole: { role: 'AWSServiceRoleForAutoScaling', session: 'AutoScaling', path: '/aws-service-role/autoscaling.amazonaws.com/' } },
      tags: { 'aws:autoscaling:groupName': 'web-asg', Owner: 'alice@example.com' },
    },
  ],
};
const GROUPS: GroupSeed[] = [
  { name: 'web-asg', minSize: 1, maxSize: 4, desiredCapacity: 1, instanceType: 't3.medium', tags: { Schedule: 'office-hours', Owner: 'alice@example.com' } },
  { name: 'batch-asg', minSize: 0, maxSize: 2, desiredCapacity: 0, tags: { Team: 'data' }, propagateAtLaunch: false },
];

interface Clients {
  asg: AutoScalingClient;
  ec2: EC2Client;
  destroy(): void;
}

function world(state: StateDir, clock: ManualClock) {
  const ec2 = new Ec2Service({ clock, state, faults: defaultFaults(), seed: FLEET });
  const asg = new AutoScalingService({ clock, state, fleet: ec2.fleet });
  asg.seed(GROUPS);
  return { ec2, asg };
}

const served = serveOne<Clients>({
  prefix: 'autoscaling',
  service: (state, clock) => {
    const { ec2, asg } = world(state, clock);
    return {
      handler: { services: ['autoscaling', 'ec2'], handle: (req) => (req.service === 'ec2' ? ec2.handle(req) : asg.handle(req)) },
      close: async () => ec2.close(),
    };
  },
  client: (config) => {
    const asg = new AutoScalingClient(config);
    const ec2 = new EC2Client(config);
    return { asg, ec2, destroy: () => (asg.destroy(), ec2.destroy()) };
  },
});

const group = async (name: string) =>
  (await served.client.asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }))).AutoScalingGroups![0];
const instance = async (id: string) => (await served.client.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0].Instances![0];
const activities = async (name: string) => (await served.client.asg.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: name }))).Activities!;

async function cli(args: string[]): Promise<unknown> {
  const bin = findAwsCliV2();
  expect(bin, 'AWS CLI v2 (/usr/bin/aws) is installed on this machine').toBeDefined();
  const { stdout } = await promisify(execFile)(bin!, ['--endpoint-url', served.endpoint, '--output', 'json', 'autoscaling', ...args], {
    env: awsCliEnv(served.dir, { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'x' }),
  });
  return stdout.trim() === '' ? undefined : JSON.parse(stdout);
}

async function cliError(args: string[]): Promise<string> {
  try {
    await cli(args);
  } catch (err) {
    return (err as { stderr: string }).stderr.trim();
  }
  throw new Error(`aws autoscaling ${args[0]} succeeded`);
}

describe('Auto Scaling through the AWS CLI, with its instances in the EC2 fleet', () => {
  it('describes the group by a tag filter, its member from the fleet in service', async () => {
    const out = (await cli(['describe-auto-scaling-groups', '--filters', 'Name=tag:Schedule,Values=office-hours'])) as {
      AutoScalingGroups: Array<Record<string, any>>;
    };
    expect(out.AutoScalingGroups.map((g) => g.AutoScalingGroupName)).toEqual(['web-asg']);
    const g = out.AutoScalingGroups[0];
    expect([g.MinSize, g.DesiredCapacity, g.MaxSize]).toEqual([1, 1, 4]);
    expect(g.AutoScalingGroupARN).toMatch(/^arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:[0-9a-f-]{36}:autoScalingGroupName\/web-asg$/);
    expect(g.Instances.map((i: Record<string, string>) => [i.InstanceId, i.LifecycleState, i.HealthStatus])).toEqual([[MEMBER, 'InService', 'Healthy']]);
    expect(g.Tags).toContainEqual({
      ResourceId: 'web-asg',
      ResourceType: 'auto-scaling-group',
      Key: 'Schedule',
      Value: 'office-hours',
      PropagateAtLaunch: true,
    });
  });

  it('scales to 0: the member terminates in the fleet on the virtual clock, one activity records it', async () => {
    expect(
      await cli(['update-auto-scaling-group', '--auto-scaling-group-name', 'web-asg', '--min-size', '0', '--max-size', '0', '--desired-capacity', '0']),
    ).toBeUndefined();
    const changedAt = served.clock.nowMs();
    expect((await instance(MEMBER)).State!.Name).toBe('shutting-down');
    expect((await group('web-asg')).Instances!.map((i) => i.LifecycleState)).toEqual(['Terminating']);
    const [running] = await activities('web-asg');
    expect(running).toMatchObject({ Description: `Terminating EC2 instance: ${MEMBER}`, StatusCode: 'InProgress', AutoScalingGroupName: 'web-asg' });
    expect(running.Cause).toMatch(
      new RegExp(
        `^At \\S+Z a user request update of AutoScalingGroup constraints to min: 0, max: 0, desired: 0 changing the desired capacity from 1 to 0\\.  ` +
          `At \\S+Z an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from 1 to 0\\.  ` +
          `At \\S+Z instance ${MEMBER} was selected for termination\\.$`,
      ),
    );

    await served.clock.advance(TRANSITION_MS.terminate);
    expect((await instance(MEMBER)).State!.Name).toBe('terminated');
    const g = await group('web-asg');
    expect([g.MinSize, g.DesiredCapacity, g.MaxSize, g.Instances]).toEqual([0, 0, 0, []]);
    const [done] = await activities('web-asg');
    expect(done).toMatchObject({ ActivityId: running.ActivityId, StatusCode: 'Successful', Progress: 100 });
    expect(done.EndTime!.getTime()).toBe(changedAt + TRANSITION_MS.terminate);
  });

  it('scales out: new instances launch in the fleet with the propagated tags and aws:autoscaling:groupName', async () => {
    await served.client.asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'web-asg', MinSize: 1, MaxSize: 4, DesiredCapacity: 2 }));
    let g = await group('web-asg');
    expect(g.Instances!.map((i) => i.LifecycleState)).toEqual(['Pending', 'Pending']);
    const ids = g.Instances!.map((i) => i.InstanceId!);
    const launched = await instance(ids[0]);
    expect([launched.State!.Name, launched.InstanceType]).toEqual(['pending', 't3.medium']);
    expect(launched.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'Schedule', Value: 'office-hours' },
        { Key: 'Owner', Value: 'alice@example.com' },
        { Key: 'aws:autoscaling:groupName', Value: 'web-asg' },
      ]),
    );
    // Spread over the zones, as Auto Scaling balances them.
    expect(new Set(g.Instances!.map((i) => i.AvailabilityZone)).size).toBe(2);
    const launches = (await activities('web-asg')).slice(0, 2);
    expect(launches.map((a) => [a.Description, a.StatusCode])).toEqual([...ids].reverse().map((id) => [`Launching a new EC2 instance: ${id}`, 'InProgress']));
    expect(launches[1].Cause).toContain('changing the desired capacity from 0 to 2.  ');
    expect(launches[1].Cause).toContain(
      'an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 0 to 1.',
    );

    await served.clock.advance(TRANSITION_MS.boot);
    g = await group('web-asg');
    expect(g.Instances!.map((i) => i.LifecycleState)).toEqual(['InService', 'InService']);
    expect((await activities('web-asg')).slice(0, 2).map((a) => a.StatusCode)).toEqual(['Successful', 'Successful']);
  });

  it("refuses sizes out of order with Auto Scaling's ValidationError messages, changing nothing", async () => {
    expect(await cliError(['update-auto-scaling-group', '--auto-scaling-group-name', 'web-asg', '--desired-capacity', '5'])).toBe(
      'An error occurred (ValidationError) when calling the UpdateAutoScalingGroup operation: Desired capacity:5 must be between the specified min size:1 and max size:4',
    );
    await expect(served.client.asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'web-asg', MinSize: 3, MaxSize: 2 }))).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'Max bound, 2, must be greater than or equal to min bound, 3',
    });
    await expect(served.client.asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'nope', MinSize: 0 }))).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'AutoScalingGroup name not found - AutoScalingGroup nope not found',
    });
    const g = await group('web-asg');
    expect([g.MinSize, g.DesiredCapacity, g.MaxSize, g.Instances!.length]).toEqual([1, 2, 4, 2]);
  });

  it('raises the desired capacity to a new MinSize given without one, as UpdateAutoScalingGroup documents', async () => {
    await served.client.asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'web-asg', MinSize: 3 }));
    const g = await group('web-asg');
    expect([g.MinSize, g.DesiredCapacity, g.MaxSize, g.Instances!.length]).toEqual([3, 3, 4, 3]);
  });

  it('pages groups with MaxRecords and NextToken, and refuses a token it did not give', async () => {
    const first = await served.client.asg.send(new DescribeAutoScalingGroupsCommand({ MaxRecords: 1 }));
    expect(first.AutoScalingGroups!.map((g) => g.AutoScalingGroupName)).toEqual(['batch-asg']);
    const second = await served.client.asg.send(new DescribeAutoScalingGroupsCommand({ MaxRecords: 1, NextToken: first.NextToken }));
    expect([second.AutoScalingGroups!.map((g) => g.AutoScalingGroupName), second.NextToken]).toEqual([['web-asg'], undefined]);
    await expect(served.client.asg.send(new DescribeAutoScalingGroupsCommand({ NextToken: 'bogus' }))).rejects.toMatchObject({
      name: 'InvalidNextToken',
      message: 'The NextToken value is not valid.',
    });
    await expect(served.client.asg.send(new DescribeAutoScalingGroupsCommand({ MaxRecords: 101 }))).rejects.toMatchObject({
      name: 'ValidationError',
      message: "1 validation error detected: Value '101' at 'maxRecords' failed to satisfy constraint: Member must have value less than or equal to 100",
    });
    const byKey = await served.client.asg.send(new DescribeAutoScalingGroupsCommand({ Filters: [{ Name: 'tag-key', Values: ['Team'] }] }));
    expect(byKey.AutoScalingGroups!.map((g) => g.AutoScalingGroupName)).toEqual(['batch-asg']);
  });

  it('describes tags with the documented filters, ANDed', async () => {
    const { Tags } = await served.client.asg.send(
      new DescribeTagsCommand({
        Filters: [
          { Name: 'auto-scaling-group', Values: ['web-asg', 'batch-asg'] },
          { Name: 'key', Values: ['Schedule', 'Team'] },
        ],
      }),
    );
    expect(Tags).toEqual([
      { ResourceId: 'batch-asg', ResourceType: 'auto-scaling-group', Key: 'Team', Value: 'data', PropagateAtLaunch: false },
      { ResourceId: 'web-asg', ResourceType: 'auto-scaling-group', Key: 'Schedule', Value: 'office-hours', PropagateAtLaunch: true },
    ]);
  });

  it('keeps sizes, members and activities across a restart, and does not re-seed a group that exists', async () => {
    const before = await activities('web-asg');
    await served.restart();
    const g = await group('web-asg');
    expect([g.MinSize, g.DesiredCapacity, g.MaxSize, g.Instances!.length]).toEqual([3, 3, 4, 3]);
    expect((await activities('web-asg')).map((a) => a.ActivityId)).toEqual(before.map((a) => a.ActivityId));
  });
});

describe('Auto Scaling under IAM', () => {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const dir = mkdtempSync(join(tmpdir(), 'opsflow-autoscaling-iam-'));
  const state = new StateDir(dir);
  const { ec2, asg } = world(state, clock);
  // The policy a schedule's role would carry: Describe* on `*` (no resource types), updates only of tagged groups.
  const { gate, credentials } = gateWithRole(
    [
      { Effect: 'Allow', Action: ['autoscaling:DescribeAutoScalingGroups', 'autoscaling:DescribeScalingActivities'], Resource: '*' },
      {
        Effect: 'Allow',
        Action: 'autoscaling:UpdateAutoScalingGroup',
        Resource: '*',
        Condition: { StringEquals: { 'aws:ResourceTag/Schedule': 'office-hours' } },
      },
    ],
    { autoScalingGroup: (name) => asg.groupInfo(name) },
    clock,
  );
  let server: Server;
  let client: AutoScalingClient;

  beforeAll(async () => {
    server = createServer([gate.wrap(asg)], async () => ({ status: 404, body: '' }));
    client = new AutoScalingClient({ endpoint: `http://127.0.0.1:${await listen(server, 0)}`, region: 'us-east-1', credentials, maxAttempts: 1 });
  });
  afterAll(async () => {
    client.destroy();
    ec2.close();
    await new Promise<void>((r) => server.close(() => r()));
    state.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('updates the group tagged Schedule=office-hours and refuses the untagged one with AccessDenied naming its ARN', async () => {
    await client.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'web-asg', DesiredCapacity: 2 }));
    expect((await client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['web-asg'] }))).AutoScalingGroups![0].DesiredCapacity).toBe(2);
    const arn = asg.groupInfo('batch-asg')!.arn;
    await expect(client.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'batch-asg', DesiredCapacity: 1 }))).rejects.toMatchObject({
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
      message: expect.stringMatching(
        new RegExp(
          `is not authorized to perform: autoscaling:UpdateAutoScalingGroup on resource: ${arn.replace(/[.*+?^$()|[\]\\]/g, '\\$&')} because no identity-based policy allows`,
        ),
      ),
    });
  });
});
