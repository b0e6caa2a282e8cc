/**
 * The local RDS through the real @aws-sdk/client-rds, on a manual virtual clock: the demo fleet's databases
 * (workflows/fleet.json `rds`) described with filters and pages, DB instances and Aurora clusters stopped and started
 * with RDS's transitions, every refusal with RDS's error, the seven-day automatic restart with its event, and all of it
 * kept across a restart of the runtime.
 */
import {
  AddTagsToResourceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeEventsCommand,
  ListTagsForResourceCommand,
  RDSClient,
  RemoveTagsFromResourceCommand,
  StartDBClusterCommand,
  StartDBInstanceCommand,
  StopDBClusterCommand,
  StopDBInstanceCommand,
} from '@aws-sdk/client-rds';
import { describe, expect, it } from 'vitest';
import { loadFleetSeed } from '../../local/services/fleet';
import { RdsService } from '../../local/services/rds';
import { MAX_STOPPED_MS, RDS_TRANSITION_MS, type SeedDbInstance } from '../../local/services/rds-world';
import { serveOne } from './one-service';

const demo = loadFleetSeed('workflows/fleet.json').rds!;
/** 40 more instances, so that DescribeDBInstances has pages of 20 to walk. */
const fillers: SeedDbInstance[] = Array.from({ length: 40 }, (_, n) => ({
  id: `filler-${String(n).padStart(2, '0')}`,
  engine: 'mariadb',
  engineVersion: '10.11.9',
  instanceClass: 'db.t4g.micro',
  status: 'available',
  createdDaysAgo: 10,
  tags: {},
}));
const s = serveOne({
  prefix: 'rds',
  service: (state, clock) => {
    const service = new RdsService({ clock, state });
    service.world.seed({ ...demo, dbInstances: [...demo.dbInstances!, ...fillers] });
    return { handler: service, close: async () => service.close() };
  },
  client: (config) => new RDSClient(config),
});
const clock = s.clock;
/** The virtual instant the demo fleet was seeded at (one-service.ts starts every clock there). */
const START = Date.UTC(2030, 0, 1);
const MINUTE = 60_000;

const instance = async (id: string) => (await s.client.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0];
const cluster = async (id: string) => (await s.client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }))).DBClusters![0];
const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: Error & { Code?: string; $metadata?: { httpStatusCode?: number } }) => ({
      name: e.name,
      code: e.Code,
      status: e.$metadata?.httpStatusCode,
      message: e.message,
    }),
  );
const eventsOf = async (id: string, type: 'db-instance' | 'db-cluster') =>
  (await s.client.send(new DescribeEventsCommand({ SourceIdentifier: id, SourceType: type, Duration: 14 * 24 * 60 }))).Events!.map((e) => [
    e.Date!.toISOString(),
    e.Message,
  ]);

describe('local RDS: describing', () => {
  it('describes the demo fleet with tags, replicas, cluster membership and the automatic restart time', async () => {
    // Act
    const billing = await instance('billing-db');
    const source = await instance('reports-db');
    const member = await instance('orders-aurora-1');
    const crm = await instance('crm-db');
    const aurora = await cluster('orders-aurora');

    // Assess
    expect([billing.DBInstanceStatus, billing.Engine, billing.DBInstanceArn, billing.TagList?.find((t) => t.Key === 'Schedule')?.Value]).toEqual([
      'available',
      'postgres',
      'arn:aws:rds:us-east-1:000000000000:db:billing-db',
      'office-hours',
    ]);
    expect(source.ReadReplicaDBInstanceIdentifiers).toEqual(['reports-db-replica']);
    expect((await instance('reports-db-replica')).ReadReplicaSourceDBInstanceIdentifier).toBe('reports-db');
    expect([member.DBClusterIdentifier, member.Engine]).toEqual(['orders-aurora', 'aurora-postgresql']);
    // Seeded stopped 6 days before the clock's start: RDS starts it one day later.
    expect([crm.DBInstanceStatus, crm.AutomaticRestartTime?.toISOString()]).toEqual(['stopped', new Date(clock.nowMs() + 1 * 86_400_000).toISOString()]);
    expect(billing.AutomaticRestartTime).toBeUndefined();
    expect([aurora.Status, aurora.EngineMode, aurora.DBClusterMembers?.map((m) => [m.DBInstanceIdentifier, m.IsClusterWriter])]).toEqual([
      'available',
      'provisioned',
      [
        ['orders-aurora-1', true],
        ['orders-aurora-2', false],
      ],
    ]);
  });

  it('filters by engine and cluster, accepts ARNs, and pages with MaxRecords and Marker', async () => {
    // Act
    const mysql = await s.client.send(new DescribeDBInstancesCommand({ Filters: [{ Name: 'engine', Values: ['mysql'] }] }));
    const members = await s.client.send(
      new DescribeDBInstancesCommand({ Filters: [{ Name: 'db-cluster-id', Values: ['arn:aws:rds:us-east-1:000000000000:cluster:orders-aurora'] }] }),
    );
    const byArn = await s.client.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'arn:aws:rds:us-east-1:000000000000:db:billing-db' }));
    const ids: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const page = await s.client.send(new DescribeDBInstancesCommand({ MaxRecords: 20, Marker: marker }));
      ids.push(...page.DBInstances!.map((i) => i.DBInstanceIdentifier!));
      marker = page.Marker;
      pages++;
    } while (marker);
    const tooSmall = await failure(s.client.send(new DescribeDBInstancesCommand({ MaxRecords: 19 })));
    const unknownFilter = await failure(s.client.send(new DescribeDBInstancesCommand({ Filters: [{ Name: 'tag:Schedule', Values: ['x'] }] })));

    // Assess
    expect(mysql.DBInstances!.map((i) => i.DBInstanceIdentifier)).toEqual(['crm-db', 'reports-db', 'reports-db-replica']);
    expect(members.DBInstances!.map((i) => i.DBInstanceIdentifier)).toEqual(['orders-aurora-1', 'orders-aurora-2']);
    expect(byArn.DBInstances![0].DBInstanceIdentifier).toBe('billing-db');
    expect([pages, ids.length, new Set(ids).size]).toEqual([3, 48, 48]);
    expect(tooSmall).toMatchObject({ code: 'InvalidParameterValue', status: 400 });
    expect(unknownFilter).toMatchObject({ code: 'InvalidParameterValue', message: expect.stringContaining('tag:Schedule') });
  });

  it('answers DBInstanceNotFound and DBClusterNotFoundFault (404) for names that do not exist', async () => {
    // Act
    const noInstance = await failure(s.client.send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'no-such-db' })));
    const noCluster = await failure(s.client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'no-such-cluster' })));

    // Assess
    expect(noInstance).toEqual({ name: 'DBInstanceNotFoundFault', code: 'DBInstanceNotFound', status: 404, message: 'DBInstance no-such-db not found.' });
    expect(noCluster).toEqual({ name: 'DBClusterNotFoundFault', code: 'DBClusterNotFoundFault', status: 404, message: 'DBCluster no-such-cluster not found.' });
  });
});

describe('local RDS: stopping and starting', () => {
  it('stops a DB instance (available, stopping, stopped) and starts it (starting, available) on the virtual clock, with events', async () => {
    // Act
    const stop = await s.client.send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'billing-db' }));
    const again = await failure(s.client.send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'billing-db' })));
    await clock.advance(RDS_TRANSITION_MS.instanceStop - 1);
    const stillStopping = (await instance('billing-db')).DBInstanceStatus;
    await clock.advance(1);
    const stopped = await instance('billing-db');
    const stoppedAt = clock.nowMs();
    const start = await s.client.send(new StartDBInstanceCommand({ DBInstanceIdentifier: 'billing-db' }));
    await clock.advance(RDS_TRANSITION_MS.instanceStart);
    const started = await instance('billing-db');

    // Assess
    expect(stop.DBInstance?.DBInstanceStatus).toBe('stopping');
    expect(again).toMatchObject({
      name: 'InvalidDBInstanceStateFault',
      code: 'InvalidDBInstanceState',
      message: 'Instance billing-db is not in available state.',
    });
    expect(stillStopping).toBe('stopping');
    expect([stopped.DBInstanceStatus, stopped.AutomaticRestartTime?.getTime()]).toEqual(['stopped', stoppedAt + MAX_STOPPED_MS]);
    expect(start.DBInstance?.DBInstanceStatus).toBe('starting');
    expect([started.DBInstanceStatus, started.AutomaticRestartTime]).toEqual(['available', undefined]);
    expect(await eventsOf('billing-db', 'db-instance')).toEqual([
      [new Date(stoppedAt).toISOString(), 'DB instance stopped'],
      [new Date(stoppedAt + RDS_TRANSITION_MS.instanceStart).toISOString(), 'DB instance started'],
    ]);
  });

  it('refuses what RDS refuses to stop, each with its error', async () => {
    // Act
    const replica = await failure(s.client.send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'reports-db-replica' })));
    const source = await failure(s.client.send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'reports-db' })));
    const sqlServerMultiAz = await failure(s.client.send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'legacy-mssql' })));
    const auroraMember = await failure(s.client.send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'orders-aurora-2' })));
    const startAvailable = await failure(s.client.send(new StartDBInstanceCommand({ DBInstanceIdentifier: 'ledger-prod-db' })));
    const serverlessV1 = await failure(s.client.send(new StopDBClusterCommand({ DBClusterIdentifier: 'events-serverless' })));
    const startAvailableCluster = await failure(s.client.send(new StartDBClusterCommand({ DBClusterIdentifier: 'orders-aurora' })));

    // Assess
    expect(replica).toEqual({
      name: 'InvalidDBInstanceStateFault',
      code: 'InvalidDBInstanceState',
      status: 400,
      message: 'Cannot stop or start a Read-Replica instance',
    });
    expect(source).toMatchObject({ code: 'InvalidDBInstanceState', message: expect.stringContaining('reports-db is the source of reports-db-replica') });
    expect(sqlServerMultiAz).toMatchObject({ code: 'InvalidDBInstanceState', message: expect.stringContaining('SQL Server Multi-AZ') });
    expect(auroraMember).toEqual({
      name: 'InvalidParameterCombination',
      code: 'InvalidParameterCombination',
      status: 400,
      message: 'aurora-postgresql DB instances are not eligible for stopping and starting.',
    });
    expect(startAvailable).toMatchObject({ code: 'InvalidDBInstanceState', message: 'Instance ledger-prod-db is not stopped, it cannot be started.' });
    expect(serverlessV1).toMatchObject({
      name: 'InvalidDBClusterStateFault',
      code: 'InvalidDBClusterStateFault',
      message: expect.stringContaining('Serverless v1'),
    });
    expect(startAvailableCluster).toMatchObject({ code: 'InvalidDBClusterStateFault', message: 'DbCluster orders-aurora is not in stopped state.' });
  });

  it('stops and starts an Aurora cluster with its member instances', async () => {
    // Act
    const stop = await s.client.send(new StopDBClusterCommand({ DBClusterIdentifier: 'orders-aurora' }));
    const memberWhileStopping = (await instance('orders-aurora-1')).DBInstanceStatus;
    await clock.advance(RDS_TRANSITION_MS.clusterStop);
    const stopped = await cluster('orders-aurora');
    const members = await Promise.all(['orders-aurora-1', 'orders-aurora-2'].map(async (id) => (await instance(id)).DBInstanceStatus));
    const memberStart = await failure(s.client.send(new StartDBInstanceCommand({ DBInstanceIdentifier: 'orders-aurora-1' })));
    const start = await s.client.send(new StartDBClusterCommand({ DBClusterIdentifier: 'orders-aurora' }));
    await clock.advance(RDS_TRANSITION_MS.clusterStart);
    const started = await cluster('orders-aurora');

    // Assess
    expect([stop.DBCluster?.Status, memberWhileStopping]).toEqual(['stopping', 'stopping']);
    expect([stopped.Status, members]).toEqual(['stopped', ['stopped', 'stopped']]);
    expect(memberStart).toMatchObject({ code: 'InvalidParameterCombination' });
    expect([start.DBCluster?.Status, started.Status, (await instance('orders-aurora-2')).DBInstanceStatus]).toEqual(['starting', 'available', 'available']);
    expect((await eventsOf('orders-aurora', 'db-cluster')).map(([, m]) => m)).toEqual(['DB cluster stopped', 'DB cluster started']);
  });
});

describe('local RDS: the seven-day restart', () => {
  it('starts a DB instance stopped for seven days, records RDS-EVENT-0154, and keeps it all across a restart', async () => {
    // Prepare
    await s.client.send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'billing-db' }));
    await clock.advance(RDS_TRANSITION_MS.instanceStop);
    const stoppedAt = clock.nowMs();
    await s.restart();

    // Act
    await clock.advance(MAX_STOPPED_MS - MINUTE);
    const beforeSevenDays = (await instance('billing-db')).DBInstanceStatus;
    await clock.advance(MINUTE);
    const atSevenDays = (await instance('billing-db')).DBInstanceStatus;
    await clock.advance(RDS_TRANSITION_MS.instanceStart);
    const after = await instance('billing-db');

    // Assess
    expect([beforeSevenDays, atSevenDays, after.DBInstanceStatus]).toEqual(['stopped', 'starting', 'available']);
    // The demo's crm-db, seeded stopped six days before the clock's start, was started one day after it.
    expect(await eventsOf('crm-db', 'db-instance')).toEqual([
      [new Date(START + 86_400_000).toISOString(), 'DB instance is being started due to it exceeding the maximum allowed time being stopped.'],
      [new Date(START + 86_400_000 + RDS_TRANSITION_MS.instanceStart).toISOString(), 'DB instance started'],
    ]);
    expect((await eventsOf('billing-db', 'db-instance')).slice(-3)).toEqual([
      [new Date(stoppedAt).toISOString(), 'DB instance stopped'],
      [new Date(stoppedAt + MAX_STOPPED_MS).toISOString(), 'DB instance is being started due to it exceeding the maximum allowed time being stopped.'],
      [new Date(stoppedAt + MAX_STOPPED_MS + RDS_TRANSITION_MS.instanceStart).toISOString(), 'DB instance started'],
    ]);
  });

  it('starts an Aurora cluster stopped for seven days with RDS-EVENT-0153, and the runtime that was down meanwhile catches up in time order', async () => {
    // Prepare
    await s.client.send(new StopDBClusterCommand({ DBClusterIdentifier: 'orders-aurora' }));
    await clock.advance(RDS_TRANSITION_MS.clusterStop);
    const stoppedAt = clock.nowMs();

    // Act: nine days pass while the service is being restarted (its timer gone), then it looks again.
    await s.restart();
    await clock.advance(9 * 86_400_000);
    const after = await cluster('orders-aurora');

    // Assess
    expect([after.Status, after.DBClusterMembers!.length]).toEqual(['available', 2]);
    expect((await eventsOf('orders-aurora', 'db-cluster')).slice(-3)).toEqual([
      [new Date(stoppedAt).toISOString(), 'DB cluster stopped'],
      [new Date(stoppedAt + MAX_STOPPED_MS).toISOString(), 'DB cluster is being started due to it exceeding the maximum allowed time being stopped.'],
      [new Date(stoppedAt + MAX_STOPPED_MS + RDS_TRANSITION_MS.clusterStart).toISOString(), 'DB cluster started'],
    ]);
  });

  it('keeps events for 14 days', async () => {
    // crm-db restarted on its own a day after the clock's start (seeded stopped six days before it); the clock is now
    // more than 14 days later: DescribeEvents no longer has those events (API_DescribeEvents.html, "for the past 14 days").
    expect((await instance('crm-db')).DBInstanceStatus).toBe('available');
    expect(await eventsOf('crm-db', 'db-instance')).toEqual([]);
  });
});

describe('local RDS: tags', () => {
  it('lists, adds and removes tags by ARN, and refuses reserved keys', async () => {
    // Prepare
    const arn = 'arn:aws:rds:us-east-1:000000000000:cluster:orders-aurora';

    // Act
    await s.client.send(new AddTagsToResourceCommand({ ResourceName: arn, Tags: [{ Key: 'Team', Value: 'data' }] }));
    await s.client.send(new RemoveTagsFromResourceCommand({ ResourceName: arn, TagKeys: ['CostCenter'] }));
    await s.restart();
    const tags = (await s.client.send(new ListTagsForResourceCommand({ ResourceName: arn }))).TagList!;
    const reserved = await failure(s.client.send(new AddTagsToResourceCommand({ ResourceName: arn, Tags: [{ Key: 'aws:x', Value: 'y' }] })));
    const missing = await failure(s.client.send(new ListTagsForResourceCommand({ ResourceName: 'arn:aws:rds:us-east-1:000000000000:db:gone' })));

    // Assess
    expect(tags.map((t) => t.Key)).toEqual(['Schedule', 'opsflow:group', 'Owner', 'Environment', 'Team']);
    expect(reserved).toMatchObject({ code: 'InvalidParameterValue' });
    expect(missing).toMatchObject({ code: 'DBInstanceNotFound', status: 404 });
  });
});
