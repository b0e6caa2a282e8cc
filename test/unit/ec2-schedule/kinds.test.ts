/**
 * The kinds behind the Ec2Schedule engine, each against a small model of its service (aws-sdk-client-mock): a whole
 * schedule run (plan, then the waves' Advance loops as the state machine runs them) stops and starts an environment
 * of EC2 (one hibernating), an RDS instance, an Aurora cluster, an Auto Scaling group and an ECS service, in group
 * order, every size restored; RDS's refusals and the seven-day restart become reasons.
 */
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, UpdateAutoScalingGroupCommand, type AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client, StartInstancesCommand, StopInstancesCommand, type Instance } from '@aws-sdk/client-ec2';
import { DescribeServicesCommand, ECSClient, ListClustersCommand, ListServicesCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeEventsCommand,
  RDSClient,
  StartDBClusterCommand,
  StartDBInstanceCommand,
  StopDBClusterCommand,
  StopDBInstanceCommand,
  type DBCluster,
  type DBInstance,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { advance } from '../../../tasks/ec2-schedule/core/advance';
import { KINDS, type Kind } from '../../../tasks/ec2-schedule/core/types';
import { rdsInstanceKind, rdsRestarts } from '../../../tasks/ec2-schedule/core/kinds/rds';
import { plan } from '../../../tasks/ec2-schedule/core/plan';
import { entriesOf } from '../../../tasks/ec2-schedule/core/report';
import type { Ec2Action, Ec2Request, ReportEntry } from '../../../tasks/ec2-schedule/core/types';
import { ec2Error, memoryStore, recordingLog } from './fakes';

const T0 = Date.parse('2025-06-04T17:00:00Z');
const region = 'us-east-1';
const tagList = (tags: Record<string, string>) => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

/** The services of one environment, moving on the test's clock: transitions finish after `MS`. */
function environment(clock: { now: number }) {
  const MS = 60_000;
  const calls: string[] = [];
  const due: Array<{ at: number; apply: () => void }> = [];
  const later = (apply: () => void) => due.push({ at: clock.now + MS, apply });
  const settle = () => {
    for (const d of due.splice(0))
      if (clock.now >= d.at) d.apply();
      else due.push(d);
  };

  const ec2 = mockClient(EC2Client);
  const instances: Instance[] = [
    { InstanceId: 'i-0000000000000000a', State: { Name: 'running' }, RootDeviceType: 'ebs', Tags: tagList({ Schedule: 'env', 'opsflow:group': 'app' }) },
    {
      InstanceId: 'i-0000000000000000b',
      State: { Name: 'running' },
      RootDeviceType: 'ebs',
      HibernationOptions: { Configured: true },
      Tags: tagList({ Schedule: 'env', 'opsflow:group': 'app', 'opsflow:hibernate': 'true' }),
    },
    { InstanceId: 'i-0000000000000000c', State: { Name: 'running' }, RootDeviceType: 'ebs', Tags: tagList({ Schedule: 'env', 'opsflow:hibernate': 'true' }) },
  ];
  ec2.on(DescribeInstancesCommand).callsFake((input) => {
    settle();
    const ids = input.Filters?.find((f: { Name: string }) => f.Name === 'instance-id')?.Values as string[] | undefined;
    const rows = instances.filter((i) => !ids || ids.includes(i.InstanceId!));
    return { Reservations: rows.length ? [{ Instances: structuredClone(rows) }] : [] };
  });
  const ec2Move = (action: Ec2Action) => (input: { InstanceIds: string[]; Hibernate?: boolean }) => {
    calls.push(`ec2:${action}:${input.InstanceIds.join(',')}${input.Hibernate ? ':hibernate' : ''}`);
    for (const id of input.InstanceIds) {
      const i = instances.find((x) => x.InstanceId === id)!;
      if (input.Hibernate && !i.HibernationOptions?.Configured) throw ec2Error('UnsupportedHibernationConfiguration');
      i.State = { Name: action === 'start' ? 'pending' : 'stopping' };
      later(() => {
        i.State = { Name: action === 'start' ? 'running' : 'stopped' };
        i.StateReason = input.Hibernate ? { Code: 'Client.UserInitiatedHibernate' } : undefined;
      });
    }
    return {};
  };
  ec2.on(StartInstancesCommand).callsFake(ec2Move('start'));
  ec2.on(StopInstancesCommand).callsFake(ec2Move('stop'));

  const rds = mockClient(RDSClient);
  const dbs: DBInstance[] = [
    { DBInstanceIdentifier: 'db-1', DBInstanceStatus: 'available', Engine: 'postgres', TagList: tagList({ Schedule: 'env', 'opsflow:group': 'db' }) },
    {
      DBInstanceIdentifier: 'db-mssql',
      DBInstanceStatus: 'available',
      Engine: 'sqlserver-se',
      MultiAZ: true,
      TagList: tagList({ Schedule: 'env', 'opsflow:group': 'db' }),
    },
  ];
  const clusters: DBCluster[] = [
    { DBClusterIdentifier: 'aurora-1', Status: 'available', Engine: 'aurora-postgresql', TagList: tagList({ Schedule: 'env', 'opsflow:group': 'db' }) },
  ];
  const byId =
    <T>(rows: T[], key: keyof T, filter?: string) =>
    (input: { Filters?: Array<{ Name: string; Values: string[] }> }) => {
      settle();
      const ids = input.Filters?.find((f) => f.Name === filter)?.Values;
      return structuredClone(rows.filter((r) => !ids || ids.includes(String(r[key]))));
    };
  rds.on(DescribeDBInstancesCommand).callsFake((input) => ({ DBInstances: byId(dbs, 'DBInstanceIdentifier', 'db-instance-id')(input) }));
  rds.on(DescribeDBClustersCommand).callsFake((input) => ({ DBClusters: byId(clusters, 'DBClusterIdentifier', 'db-cluster-id')(input) }));
  rds.on(DescribeEventsCommand).resolves({ Events: [] });
  const rdsMove =
    <T>(rows: T[], idKey: keyof T, statusKey: keyof T, what: string, action: Ec2Action) =>
    (input: Record<string, string>) => {
      const id = input[idKey as string];
      calls.push(`${what}:${action}:${id}`);
      const r = rows.find((x) => x[idKey] === id)!;
      const from = action === 'start' ? 'stopped' : 'available';
      if (r[statusKey] !== from) throw Object.assign(new Error(`DB is not in ${from} state`), { name: 'InvalidDBInstanceStateFault' });
      (r as Record<string, unknown>)[statusKey as string] = action === 'start' ? 'starting' : 'stopping';
      later(() => ((r as Record<string, unknown>)[statusKey as string] = action === 'start' ? 'available' : 'stopped'));
      return {};
    };
  rds.on(StopDBInstanceCommand).callsFake(rdsMove(dbs, 'DBInstanceIdentifier', 'DBInstanceStatus', 'rds-instance', 'stop'));
  rds.on(StartDBInstanceCommand).callsFake(rdsMove(dbs, 'DBInstanceIdentifier', 'DBInstanceStatus', 'rds-instance', 'start'));
  rds.on(StopDBClusterCommand).callsFake(rdsMove(clusters, 'DBClusterIdentifier', 'Status', 'rds-cluster', 'stop'));
  rds.on(StartDBClusterCommand).callsFake(rdsMove(clusters, 'DBClusterIdentifier', 'Status', 'rds-cluster', 'start'));

  const autoscaling = mockClient(AutoScalingClient);
  const groups: AutoScalingGroup[] = [
    {
      AutoScalingGroupName: 'web-asg',
      MinSize: 1,
      DesiredCapacity: 2,
      MaxSize: 4,
      Instances: [],
      Tags: tagList({ Schedule: 'env', 'opsflow:group': 'app' }).map((t) => ({ ...t, ResourceId: 'web-asg' })),
    } as unknown as AutoScalingGroup,
  ];
  const inService = (g: AutoScalingGroup) =>
    Array.from({ length: g.DesiredCapacity ?? 0 }, (_, n) => ({ InstanceId: `i-asg${n}`, LifecycleState: 'InService' })) as AutoScalingGroup['Instances'];
  groups[0].Instances = inService(groups[0]);
  autoscaling.on(DescribeAutoScalingGroupsCommand).callsFake((input) => {
    settle();
    const names = input.AutoScalingGroupNames as string[] | undefined;
    const tag = input.Filters?.[0];
    return {
      AutoScalingGroups: structuredClone(
        groups.filter(
          (g) =>
            (!names || names.includes(g.AutoScalingGroupName!)) && (!tag || g.Tags?.some((t) => `tag:${t.Key}` === tag.Name && tag.Values.includes(t.Value))),
        ),
      ),
    };
  });
  autoscaling.on(UpdateAutoScalingGroupCommand).callsFake((input) => {
    calls.push(`asg:${input.MinSize}/${input.DesiredCapacity}/${input.MaxSize}`);
    const g = groups[0];
    Object.assign(g, { MinSize: input.MinSize, DesiredCapacity: input.DesiredCapacity, MaxSize: input.MaxSize });
    later(() => (g.Instances = inService(g)));
    return {};
  });

  const ecs = mockClient(ECSClient);
  const service = {
    serviceName: 'api',
    status: 'ACTIVE',
    desiredCount: 3,
    runningCount: 3,
    pendingCount: 0,
    tags: [
      { key: 'Schedule', value: 'env' },
      { key: 'opsflow:group', value: 'app' },
    ],
  };
  ecs.on(ListClustersCommand).resolves({ clusterArns: ['arn:aws:ecs:us-east-1:000000000000:cluster/main'] });
  ecs.on(ListServicesCommand).resolves({ serviceArns: ['arn:aws:ecs:us-east-1:000000000000:service/main/api'] });
  ecs.on(DescribeServicesCommand).callsFake(() => {
    settle();
    return { services: [structuredClone(service)] };
  });
  ecs.on(UpdateServiceCommand).callsFake((input) => {
    calls.push(`ecs:${input.cluster}/${input.service}=${input.desiredCount}`);
    service.desiredCount = input.desiredCount;
    later(() => (service.runningCount = input.desiredCount));
    return {};
  });

  return {
    calls,
    instances,
    dbs,
    clusters,
    groups,
    service,
    clients: { ec2: new EC2Client({ region }), rds: new RDSClient({ region }), autoscaling: new AutoScalingClient({ region }), ecs: new ECSClient({ region }) },
  };
}

/** A scheduled run as the state machine runs it: plan, then each wave's Advance loop in turn, then the report lines. */
async function run(
  env: ReturnType<typeof environment>,
  clock: { now: number },
  store: ReturnType<typeof memoryStore>['store'],
  action: Ec2Action,
  runId: string,
) {
  const now = () => new Date(clock.now);
  const log = recordingLog();
  const request: Ec2Request = { action, schedule: 'env', instanceIds: null, resources: null, dryRun: false, requestedBy: null, groups: null };
  const p = await plan(request, runId, {
    clients: env.clients,
    kinds: KINDS,
    store,
    schedules: { env: { timezone: 'UTC', skipDates: [], groups: ['db', 'app'] } },
    batchSize: 50,
    actBudgetSeconds: 3600,
    now,
    log,
  });
  for (const wave of p.waves) {
    for (let pass = 0; ; pass++) {
      const r = await advance({ runId, wave, actUntil: p.actUntil }, { clients: env.clients, store, verifyTimeoutSeconds: 900, batchSize: 50, now, log });
      if (r.done) break;
      clock.now += r.waitSeconds * 1000;
      if (pass > 100) throw new Error('wave did not end');
    }
  }
  const stored = await store.loadRun(runId);
  const lines: ReportEntry[] = [...stored.entries, ...stored.batches.flatMap((b) => entriesOf(b))];
  return { waves: p.waves.map((w) => `${w.group || '-'}:${w.kind}`), lines, byId: (id: string) => lines.find((l) => l.instanceId === id)! };
}

describe('one schedule over every kind', () => {
  it('stops an environment in reverse group order and starts it again with every size restored', async () => {
    const clock = { now: T0 };
    const env = environment(clock);
    const { store, items } = memoryStore(() => new Date(clock.now));

    const stop = await run(env, clock, store, 'stop', 'stop-1');
    // Stop: groups reversed (no group, app, db); within a group the services on capacity first, databases last.
    expect(stop.waves).toEqual(['-:ec2', 'app:ecs-service', 'app:asg', 'app:ec2', 'db:rds-instance', 'db:rds-cluster']);
    expect(env.calls.indexOf('ecs:main/api=0')).toBeLessThan(env.calls.indexOf('rds-instance:stop:db-1'));
    expect(env.calls).toContain('ec2:stop:i-0000000000000000b:hibernate');
    expect(env.calls).toContain('ec2:stop:i-0000000000000000a');
    expect(stop.byId('i-0000000000000000b')).toMatchObject({ kind: 'ec2', outcome: 'moved', to: 'stopped', reason: 'hibernated' });
    expect(stop.byId('i-0000000000000000c')).toMatchObject({ outcome: 'moved', reason: expect.stringContaining('not launched with hibernation configured') });
    expect(stop.byId('db-1')).toMatchObject({ kind: 'rds-instance', outcome: 'moved', from: 'available', to: 'stopped' });
    expect(stop.byId('db-mssql')).toMatchObject({ outcome: 'skipped', reason: expect.stringContaining('SQL Server in a Multi-AZ configuration') });
    expect(stop.byId('aurora-1')).toMatchObject({ kind: 'rds-cluster', outcome: 'moved', to: 'stopped' });
    expect(stop.byId('web-asg')).toMatchObject({ kind: 'asg', outcome: 'moved', from: '1/2/4', to: '0/0/0' });
    expect(stop.byId('main/api')).toMatchObject({ kind: 'ecs-service', outcome: 'moved', from: '3/3 running', to: '0/0 running' });
    // The sizes were stored durably before the group and the service were scaled to zero.
    expect(items.get('sizes|asg#web-asg')).toMatchObject({ sizes: { min: 1, desired: 2, max: 4 }, runId: 'stop-1' });
    expect(items.get('sizes|ecs-service#main/api')).toMatchObject({ sizes: { desired: 3 } });
    expect(items.get('sizes|asg#web-asg')).not.toHaveProperty('expiresAt');

    clock.now += 12 * 3600_000;
    env.calls.length = 0;
    const start = await run(env, clock, store, 'start', 'start-1');
    expect(start.waves).toEqual(['db:rds-cluster', 'db:rds-instance', 'app:ec2', 'app:asg', 'app:ecs-service', '-:ec2']);
    expect(env.calls.indexOf('rds-cluster:start:aurora-1')).toBeLessThan(env.calls.indexOf('asg:1/2/4'));
    expect(env.calls).toContain('asg:1/2/4');
    expect(env.calls).toContain('ecs:main/api=3');
    expect(start.byId('web-asg')).toMatchObject({ outcome: 'moved', to: '1/2/4', reason: expect.stringContaining('restored the sizes stored at') });
    expect(start.byId('main/api')).toMatchObject({ outcome: 'moved', to: '3/3 running' });
    expect(start.byId('db-1')).toMatchObject({ outcome: 'moved', to: 'available' });
    expect(start.byId('i-0000000000000000b')).toMatchObject({ outcome: 'moved', to: 'running' });
    expect(env.groups[0]).toMatchObject({ MinSize: 1, DesiredCapacity: 2, MaxSize: 4 });
    expect(env.service.desiredCount).toBe(3);
  });

  it('fails a start of a group opsflow never scaled to zero, with the reason, instead of guessing a size', async () => {
    const clock = { now: T0 };
    const env = environment(clock);
    Object.assign(env.groups[0], { MinSize: 0, DesiredCapacity: 0, MaxSize: 0, Instances: [] });
    const { store } = memoryStore(() => new Date(clock.now));
    const start = await run(env, clock, store, 'start', 'start-unknown');
    expect(start.byId('web-asg')).toMatchObject({ outcome: 'failed', reason: expect.stringContaining('no sizes stored for it') });
    expect(env.calls.filter((c) => c.startsWith('asg:'))).toEqual([]);
  });

  it("reports the engine RDS refuses to stop with RDS's reason", async () => {
    const clock = { now: T0 };
    const env = environment(clock);
    env.dbs[0].DBInstanceStatus = 'backing-up';
    const { store } = memoryStore(() => new Date(clock.now));
    const stop = await run(env, clock, store, 'stop', 'stop-busy');
    expect(stop.byId('db-1')).toMatchObject({ outcome: 'failed', reason: 'RDS stops only an available DB instance; it is backing-up' });
  });
});

describe('RDS', () => {
  const facts = (over: Partial<Parameters<typeof rdsInstanceKind.plan>[0]>) => ({
    kind: 'rds-instance' as Kind,
    id: 'db',
    name: 'db',
    state: 'available',
    tags: {},
    engine: 'postgres',
    replicas: [],
    multiAz: false,
    ...over,
  });
  const ctx = { action: 'stop' as const, now: new Date(T0), hibernate: false, restartedByRds: new Set<string>() };
  it.each([
    ['a read replica', { replicaOf: 'src' }, 'read replica of src: RDS cannot stop a read replica'],
    ['the source of a read replica', { replicas: ['r1'] }, 'has read replicas (r1): RDS cannot stop a DB instance that has a read replica'],
    ['a cluster member', { cluster: 'c1' }, 'member of DB cluster c1: RDS starts and stops it with its cluster; tag the cluster'],
    ['RDS Custom', { engine: 'custom-oracle-ee' }, 'RDS Custom (custom-oracle-ee): StopDBInstance does not apply to it'],
  ])('leaves %s alone with the reason', (_, over, reason) => {
    expect(rdsInstanceKind.plan(facts(over), ctx)).toEqual({ kind: 'skip', reason });
  });

  it('notes a database RDS restarted after seven days, from its events, and not one stopped since', async () => {
    const rds = mockClient(RDSClient);
    const at = (h: number) => new Date(T0 - h * 3600_000);
    rds.on(DescribeEventsCommand, { SourceType: 'db-instance' }).resolves({
      Events: [
        { SourceIdentifier: 'db-1', Message: 'DB instance stopped', Date: at(200) },
        { SourceIdentifier: 'db-1', Message: 'DB instance is being started due to it exceeding the maximum allowed time being stopped.', Date: at(30) },
        { SourceIdentifier: 'db-2', Message: 'DB instance is being started due to it exceeding the maximum allowed time being stopped.', Date: at(60) },
        { SourceIdentifier: 'db-2', Message: 'DB instance stopped', Date: at(40) },
      ],
    });
    rds.on(DescribeEventsCommand, { SourceType: 'db-cluster' }).resolves({
      Events: [{ SourceIdentifier: 'c-1', Message: 'DB cluster is being started due to it exceeding the maximum allowed time being stopped.', Date: at(2) }],
    });
    const restarted = await rdsRestarts({ rds: new RDSClient({ region }) }, new Date(T0));
    expect([...restarted].sort()).toEqual(['db-cluster:c-1', 'db-instance:db-1']);
    const v = rdsInstanceKind.plan(facts({ id: 'db-1' }), { ...ctx, restartedByRds: restarted });
    expect(v).toEqual({
      kind: 'act',
      entry: { note: 'RDS started it by itself after seven days stopped (RDS-EVENT-0154); stopped again, as the schedule says' },
    });
  });

  it('reads an InvalidDBInstanceState refusal as the reason', () => {
    const e = Object.assign(new Error('Instance db-1 cannot be stopped as it is not in available state.'), { name: 'InvalidDBInstanceStateFault' });
    expect(rdsInstanceKind.refusal(e, 'stop')).toEqual({
      status: 'failed',
      reason: 'RDS refused to stop it: Instance db-1 cannot be stopped as it is not in available state.',
    });
  });
});
