/**
 * A simulated organization keeps RDS, Auto Scaling and ECS state per account and region, as it does EC2's
 * (local/org/partitions.ts): every member partition has its own, seeded from its fleet file, stored apart, with
 * ARNs in its account and region. Runs the real runtime on test/fixtures/org-app: the hub (000000000000, us-east-1)
 * and prod/eu-west-1 (111111111111) both have a DB instance `orders-db`, a group `web-asg` and a cluster `apps` with
 * a service `api`; prod/us-east-1 and dev/eu-west-1 have none.
 */
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, UpdateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeServicesCommand, ECSClient, ListServicesCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { DescribeDBClustersCommand, DescribeDBInstancesCommand, RDSClient, StopDBInstanceCommand } from '@aws-sdk/client-rds';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, StateDir, type AwsRequest, type BusEvent } from '../../local/kernel';
import { RateLimits } from '../../local/rules/rates';
import { resolveRules } from '../../local/rules/settings';
import { Runtime } from '../../local/runtime';
import { RdsService } from '../../local/services/rds';

const CDK_OUT = join(__dirname, '../fixtures/org-app/assembly');
const USER = { accessKeyId: 'test', secretAccessKey: 'test' };
type Who = 'hub' | '111111111111' | '222222222222';
/** The hub's user, or a member account's administrator (its account id as access key id). */
const creds = (who: Who) => (who === 'hub' ? USER : { accessKeyId: who, secretAccessKey: USER.secretAccessKey });

let rt: Runtime;
const dir = mkdtempSync(join(tmpdir(), 'opsflow-org-kinds-'));
const start = () => Runtime.start({ cdkOut: CDK_OUT, stateDir: join(dir, 'state'), port: 0, credentials: [USER] });
const at = (who: Who, region: string) => ({ endpoint: rt.endpoint, region, credentials: creds(who), maxAttempts: 1 });
const rds = (who: Who, region: string) => new RDSClient(at(who, region));
const asg = (who: Who, region: string) => new AutoScalingClient(at(who, region));
const ecs = (who: Who, region: string) => new ECSClient(at(who, region));

const dbs = async (who: Who, region: string) =>
  ((await rds(who, region).send(new DescribeDBInstancesCommand({}))).DBInstances ?? []).map(
    (i) => `${i.DBInstanceIdentifier} ${i.DBInstanceStatus} ${i.DBInstanceArn} ${i.AvailabilityZone}`,
  );
const group = async (who: Who, region: string) =>
  (await asg(who, region).send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['web-asg'] }))).AutoScalingGroups?.[0];
const api = async (who: Who, region: string) =>
  (await ecs(who, region).send(new DescribeServicesCommand({ cluster: 'apps', services: ['api'] }))).services?.[0];

beforeAll(async () => {
  rt = await start();
}, 60_000);
afterAll(async () => {
  await rt?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('RDS, Auto Scaling and ECS per account and region', () => {
  it("DescribeDBInstances and DescribeDBClusters answer the partition's own databases, with its account and region in ARNs", async () => {
    expect(await dbs('111111111111', 'eu-west-1')).toEqual([
      expect.stringMatching(/^ledger-1 available arn:aws:rds:eu-west-1:111111111111:db:ledger-1 eu-west-1[abc]$/),
      expect.stringMatching(/^orders-db available arn:aws:rds:eu-west-1:111111111111:db:orders-db eu-west-1[abc]$/),
    ]);
    expect(await dbs('hub', 'us-east-1')).toEqual([
      expect.stringMatching(/^orders-db available arn:aws:rds:us-east-1:000000000000:db:orders-db us-east-1[abc]$/),
    ]);
    expect(await dbs('111111111111', 'us-east-1')).toEqual([]);
    expect(await dbs('222222222222', 'eu-west-1')).toEqual([]);
    const clusters = await rds('111111111111', 'eu-west-1').send(new DescribeDBClustersCommand({}));
    expect(clusters.DBClusters?.map((c) => c.DBClusterArn)).toEqual(['arn:aws:rds:eu-west-1:111111111111:cluster:ledger']);
    expect((await rds('hub', 'us-east-1').send(new DescribeDBClustersCommand({}))).DBClusters).toEqual([]);
    // The hub's ARN names the hub's database, not the member's namesake.
    await expect(
      rds('111111111111', 'eu-west-1').send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'arn:aws:rds:us-east-1:000000000000:db:orders-db' })),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
  });

  it('StopDBInstance acts in its partition only', async () => {
    const stopped = await rds('111111111111', 'eu-west-1').send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'orders-db' }));
    expect(stopped.DBInstance).toMatchObject({ DBInstanceStatus: 'stopping', DBInstanceArn: 'arn:aws:rds:eu-west-1:111111111111:db:orders-db' });
    expect(await dbs('hub', 'us-east-1')).toEqual([expect.stringMatching(/^orders-db available /)]);
    await expect(rds('222222222222', 'eu-west-1').send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'orders-db' }))).rejects.toMatchObject({
      name: 'DBInstanceNotFoundFault',
    });
  });

  it("an Auto Scaling group scales in its partition's EC2 fleet only", async () => {
    const before = await group('111111111111', 'eu-west-1');
    expect(before?.AutoScalingGroupARN).toMatch(/^arn:aws:autoscaling:eu-west-1:111111111111:autoScalingGroup:[0-9a-f-]+:autoScalingGroupName\/web-asg$/);
    expect(before?.AvailabilityZones).toEqual(['eu-west-1a', 'eu-west-1b', 'eu-west-1c']);
    expect((await group('hub', 'us-east-1'))?.AutoScalingGroupARN).toMatch(/^arn:aws:autoscaling:us-east-1:000000000000:/);
    await expect(group('222222222222', 'eu-west-1')).resolves.toBeUndefined();

    await asg('111111111111', 'eu-west-1').send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'web-asg', DesiredCapacity: 1 }));
    const members = (await group('111111111111', 'eu-west-1'))?.Instances ?? [];
    expect(members).toHaveLength(1);
    const launched = (await new EC2Client(at('111111111111', 'eu-west-1')).send(new DescribeInstancesCommand({ InstanceIds: [members[0].InstanceId!] })))
      .Reservations?.[0];
    expect(launched?.OwnerId).toBe('111111111111');
    expect(launched?.Instances?.[0].Tags).toContainEqual({ Key: 'aws:autoscaling:groupName', Value: 'web-asg' });
    expect((await group('hub', 'us-east-1'))?.DesiredCapacity).toBe(0);
    const hubFleet = (await new EC2Client(at('hub', 'us-east-1')).send(new DescribeInstancesCommand({}))).Reservations ?? [];
    expect(hubFleet.flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId)).not.toContain(members[0].InstanceId);
  });

  it("ListServices and UpdateService answer and act in the partition's own clusters", async () => {
    const list = (who: Who, region: string) => ecs(who, region).send(new ListServicesCommand({ cluster: 'apps' }));
    expect((await list('111111111111', 'eu-west-1')).serviceArns).toEqual(['arn:aws:ecs:eu-west-1:111111111111:service/apps/api']);
    expect((await list('hub', 'us-east-1')).serviceArns).toEqual(['arn:aws:ecs:us-east-1:000000000000:service/apps/api']);
    await expect(list('222222222222', 'eu-west-1')).rejects.toMatchObject({ name: 'ClusterNotFoundException' });
    await expect(list('111111111111', 'us-east-1')).rejects.toMatchObject({ name: 'ClusterNotFoundException' });

    await ecs('111111111111', 'eu-west-1').send(new UpdateServiceCommand({ cluster: 'apps', service: 'api', desiredCount: 0 }));
    expect(await api('111111111111', 'eu-west-1')).toMatchObject({ desiredCount: 0, clusterArn: 'arn:aws:ecs:eu-west-1:111111111111:cluster/apps' });
    expect(await api('hub', 'us-east-1')).toMatchObject({ desiredCount: 1, clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/apps' });
  });

  it('a restart keeps each partition its own state', async () => {
    await rt.stop();
    rt = await start();
    expect(await dbs('111111111111', 'eu-west-1')).toEqual([
      expect.stringMatching(/^ledger-1 available /),
      expect.stringMatching(/^orders-db (stopping|stopped) /),
    ]);
    expect(await dbs('hub', 'us-east-1')).toEqual([expect.stringMatching(/^orders-db available /)]);
    expect((await group('111111111111', 'eu-west-1'))?.DesiredCapacity).toBe(1);
    expect((await group('111111111111', 'eu-west-1'))?.Instances).toHaveLength(1);
    expect((await group('hub', 'us-east-1'))?.DesiredCapacity).toBe(0);
    expect((await api('111111111111', 'eu-west-1'))?.desiredCount).toBe(0);
    expect((await api('hub', 'us-east-1'))?.desiredCount).toBe(1);
  }, 60_000);

  it("IAM authorizes a member account's role session against the member partition's ARNs", async () => {
    // The member role (fixture OrgHubMember) allows EC2 only: each denial names the resource IAM evaluated.
    const hub = rt.gate.iam!.model.credentialsFor('arn:aws:iam::000000000000:role/opsflow-hub-scheduler', 'scheduler-fn');
    const out = await new STSClient({ endpoint: rt.endpoint, region: 'us-east-1', credentials: hub, maxAttempts: 1 }).send(
      new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::111111111111:role/opsflow-member', RoleSessionName: 'opsflow', ExternalId: 'opsflow-local-ext' }),
    );
    const session = {
      accessKeyId: out.Credentials!.AccessKeyId!,
      secretAccessKey: out.Credentials!.SecretAccessKey!,
      sessionToken: out.Credentials!.SessionToken!,
    };
    const client = { endpoint: rt.endpoint, region: 'eu-west-1', credentials: session, maxAttempts: 1 };
    const denied = (resource: string) => new RegExp(`not authorized to perform: \\S+ on resource: ${resource.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`);
    await expect(new RDSClient(client).send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'orders-db' }))).rejects.toThrow(
      denied('arn:aws:rds:eu-west-1:111111111111:db:orders-db'),
    );
    const groupArn = (await group('111111111111', 'eu-west-1'))!.AutoScalingGroupARN!;
    await expect(
      new AutoScalingClient(client).send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'web-asg', DesiredCapacity: 0 })),
    ).rejects.toThrow(denied(groupArn));
    await expect(new ECSClient(client).send(new UpdateServiceCommand({ cluster: 'apps', service: 'api', desiredCount: 1 }))).rejects.toThrow(
      denied('arn:aws:ecs:eu-west-1:111111111111:service/apps/api'),
    );
  });
});

describe("a member partition's RDS events", () => {
  it('go to its own event bus in its account and region, naming its ARN', async () => {
    const clock = new ManualClock(Date.UTC(2030, 0, 1));
    const bus: BusEvent[] = [];
    const state = new StateDir(join(dir, 'rds-events'));
    const partition = { account: '111111111111', region: 'eu-west-1' };
    const service = new RdsService({ clock, state, bus: { put: async (e) => void bus.push(e) }, partition });
    service.world.seed({
      dbInstances: [
        { id: 'orders-db', engine: 'postgres', engineVersion: '16.4', instanceClass: 'db.t4g.medium', status: 'available', createdDaysAgo: 1, tags: {} },
      ],
    });
    service.world.stopInstance('orders-db');
    await clock.advance(60 * 60_000);
    service.close();
    expect(bus).toEqual([
      expect.objectContaining({
        source: 'aws.rds',
        account: '111111111111',
        region: 'eu-west-1',
        resources: ['arn:aws:rds:eu-west-1:111111111111:db:orders-db'],
        detail: expect.objectContaining({ EventID: 'RDS-EVENT-0087' }),
      }),
    ]);
  });
});

describe("a member partition's RDS and ECS rate buckets", () => {
  it("are its own: emptying one partition's leaves the hub's and another's full (virtual time stands still)", () => {
    const limits = new RateLimits(new ManualClock(Date.UTC(2030, 0, 1)), resolveRules({}, {}));
    const prod = { account: '111111111111', region: 'eu-west-1' };
    const call = (partition: { account: string; region: string } | undefined, service: 'rds' | 'ecs', operation: string) =>
      limits.check({ partition } as AwsRequest, { service, operation, protocol: service === 'rds' ? 'query' : 'json', params: {} })?.name ?? 'ok';
    const times = (n: number, ...args: Parameters<typeof call>) => Array.from({ length: n }, () => call(...args));
    // ECS service read: 100 at once (local/rules/rates.ts ECS_BUCKETS); RDS: 300 at once (RDS_RATE).
    expect(times(100, prod, 'ecs', 'ListServices').every((r) => r === 'ok')).toBe(true);
    expect(call(prod, 'ecs', 'DescribeServices')).toBe('ThrottlingException');
    expect(call(undefined, 'ecs', 'ListServices')).toBe('ok');
    expect(call({ account: '111111111111', region: 'us-east-1' }, 'ecs', 'ListServices')).toBe('ok');
    expect(times(300, prod, 'rds', 'DescribeDBInstances').every((r) => r === 'ok')).toBe(true);
    expect(call(prod, 'rds', 'StopDBInstance')).toBe('Throttling');
    expect(call({ account: '222222222222', region: 'eu-west-1' }, 'rds', 'DescribeDBInstances')).toBe('ok');
  });
});
