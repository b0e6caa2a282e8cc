/**
 * The runtime's Amazon ECS through the real AWS CLI v2 and `@aws-sdk/client-ecs`: a service scaled to 0 and back,
 * its running count converging on the virtual clock with ECS's events; ECS's errors and MISSING failures; tags;
 * durability across a restart; IAM on the service ARN by its tags.
 */
import {
  DescribeClustersCommand,
  DescribeServicesCommand,
  ECSClient,
  ListClustersCommand,
  ListServicesCommand,
  ListTagsForResourceCommand,
  TagResourceCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, StateDir } from '../../local/kernel';
import { Gate } from '../../local/rules/gate';
import { RateLimits } from '../../local/rules/rates';
import { resolveRules } from '../../local/rules/settings';
import { createServer, listen } from '../../local/server';
import { EcsService, TASK_START_MS, TASK_STOP_MS, type ClusterSeed } from '../../local/services/ecs';
import { awsCliEnv, findAwsCliV2 } from '../tools';
import { gateWithRole } from './iam-gate';
import { serveOne } from './one-service';

const CLUSTERS: ClusterSeed[] = [
  {
    name: 'dev-cluster',
    tags: { Schedule: 'office-hours' },
    services: [
      { name: 'web-api', desiredCount: 2, tags: { Schedule: 'office-hours' } },
      { name: 'worker', desiredCount: 1, tags: { Team: 'data' } },
    ],
  },
];
const SERVICE_ARN = 'arn:aws:ecs:us-east-1:000000000000:service/dev-cluster/web-api';

const served = serveOne<ECSClient>({
  prefix: 'ecs',
  service: (state, clock) => {
    const ecs = new EcsService({ clock, state });
    ecs.seed(CLUSTERS);
    return { handler: ecs };
  },
  client: (config) => new ECSClient(config),
});

const describeService = async (name = 'web-api') =>
  (await served.client.send(new DescribeServicesCommand({ cluster: 'dev-cluster', services: [name] }))).services![0];
const counts = async () => {
  const s = await describeService();
  return { desired: s.desiredCount, running: s.runningCount, pending: s.pendingCount };
};

async function cli(args: string[]): Promise<Record<string, any>> {
  const bin = findAwsCliV2();
  expect(bin, 'AWS CLI v2 (/usr/bin/aws) is installed on this machine').toBeDefined();
  const { stdout } = await promisify(execFile)(bin!, ['--endpoint-url', served.endpoint, '--output', 'json', 'ecs', ...args], {
    env: awsCliEnv(served.dir, { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'x' }),
  });
  return JSON.parse(stdout);
}

describe('ECS through the AWS CLI and the SDK', () => {
  it('lists and describes the seeded cluster and its services, in steady state', async () => {
    expect((await cli(['list-clusters'])).clusterArns).toEqual(['arn:aws:ecs:us-east-1:000000000000:cluster/dev-cluster']);
    expect((await served.client.send(new ListServicesCommand({ cluster: 'dev-cluster' }))).serviceArns).toEqual([
      SERVICE_ARN,
      'arn:aws:ecs:us-east-1:000000000000:service/dev-cluster/worker',
    ]);
    const { clusters } = await served.client.send(new DescribeClustersCommand({ clusters: ['dev-cluster'], include: ['TAGS'] }));
    expect(clusters![0]).toMatchObject({
      clusterName: 'dev-cluster',
      status: 'ACTIVE',
      runningTasksCount: 3,
      activeServicesCount: 2,
      tags: [{ key: 'Schedule', value: 'office-hours' }],
    });
    const s = await describeService();
    expect([s.status, s.desiredCount, s.runningCount, s.pendingCount, s.launchType]).toEqual(['ACTIVE', 2, 2, 0, 'FARGATE']);
    expect(s.deployments!.map((d) => [d.status, d.desiredCount, d.runningCount])).toEqual([['PRIMARY', 2, 2]]);
    expect(s.events![0].message).toBe('(service web-api) has reached a steady state.');
  });

  it('scales to 0 with the AWS CLI: tasks run on for the stop time, then the count is 0 and the service steady', async () => {
    const out = await cli(['update-service', '--cluster', 'dev-cluster', '--service', 'web-api', '--desired-count', '0']);
    expect([out.service.desiredCount, out.service.runningCount]).toEqual([0, 2]);
    const at = served.clock.nowMs();
    const [stopped] = (await describeService()).events!;
    expect(stopped.message).toMatch(/^\(service web-api\) has stopped 2 running tasks: \(task [0-9a-f]{32}\) \(task [0-9a-f]{32}\)\.$/);
    await served.clock.advance(TASK_STOP_MS - 1);
    expect(await counts()).toEqual({ desired: 0, running: 2, pending: 0 });
    await served.clock.advance(1);
    expect(await counts()).toEqual({ desired: 0, running: 0, pending: 0 });
    const [steady] = (await describeService()).events!;
    expect([steady.message, steady.createdAt!.getTime()]).toEqual(['(service web-api) has reached a steady state.', at + TASK_STOP_MS]);
  });

  it('scales back to 2 with the SDK: tasks pending, then running on the virtual clock', async () => {
    const { service } = await served.client.send(new UpdateServiceCommand({ cluster: 'dev-cluster', service: 'web-api', desiredCount: 2 }));
    expect([service!.desiredCount, service!.runningCount, service!.pendingCount]).toEqual([2, 0, 2]);
    expect(service!.events![0].message).toMatch(/^\(service web-api\) has started 2 tasks: \(task [0-9a-f]{32}\) \(task [0-9a-f]{32}\)\.$/);
    await served.clock.advance(TASK_START_MS);
    expect(await counts()).toEqual({ desired: 2, running: 2, pending: 0 });
    expect((await describeService()).events!.map((e) => e.message).slice(0, 2)).toEqual([
      '(service web-api) has reached a steady state.',
      expect.stringMatching(/^\(service web-api\) has started 2 tasks/),
    ]);
  });

  it("answers ECS's errors: unknown cluster, unknown service, a negative count; a missing service is a failure", async () => {
    await expect(served.client.send(new UpdateServiceCommand({ cluster: 'nope', service: 'web-api', desiredCount: 1 }))).rejects.toMatchObject({
      name: 'ClusterNotFoundException',
      message: 'Cluster not found.',
    });
    await expect(served.client.send(new UpdateServiceCommand({ cluster: 'dev-cluster', service: 'nope', desiredCount: 1 }))).rejects.toMatchObject({
      name: 'ServiceNotFoundException',
      message: 'Service not found.',
    });
    await expect(served.client.send(new UpdateServiceCommand({ cluster: 'dev-cluster', service: 'web-api', desiredCount: -1 }))).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });
    const { services, failures } = await served.client.send(new DescribeServicesCommand({ cluster: 'dev-cluster', services: ['web-api', 'ghost'] }));
    expect([services!.map((s) => s.serviceName), failures]).toEqual([
      ['web-api'],
      [{ arn: 'arn:aws:ecs:us-east-1:000000000000:service/dev-cluster/ghost', reason: 'MISSING' }],
    ]);
    expect((await counts()).desired).toBe(2);
  });

  it('tags a service and lists its tags by ARN', async () => {
    await served.client.send(new TagResourceCommand({ resourceArn: SERVICE_ARN, tags: [{ key: 'Owner', value: 'bob@example.com' }] }));
    expect((await served.client.send(new ListTagsForResourceCommand({ resourceArn: SERVICE_ARN }))).tags).toEqual([
      { key: 'Schedule', value: 'office-hours' },
      { key: 'Owner', value: 'bob@example.com' },
    ]);
  });

  it('keeps counts, tasks in flight and events across a restart', async () => {
    await served.client.send(new UpdateServiceCommand({ cluster: 'dev-cluster', service: 'web-api', desiredCount: 0 }));
    await served.restart();
    expect(await counts()).toEqual({ desired: 0, running: 2, pending: 0 });
    await served.clock.advance(TASK_STOP_MS);
    expect(await counts()).toEqual({ desired: 0, running: 0, pending: 0 });
    expect((await served.client.send(new ListClustersCommand({}))).clusterArns).toHaveLength(1);
  });
});

describe('ECS under IAM', () => {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const dir = mkdtempSync(join(tmpdir(), 'opsflow-ecs-iam-'));
  const state = new StateDir(dir);
  const ecs = new EcsService({ clock, state });
  ecs.seed(CLUSTERS);
  // A schedule's role: update only services tagged Schedule=office-hours (service ARN, aws:ResourceTag).
  const { gate, credentials } = gateWithRole(
    [
      { Effect: 'Allow', Action: 'ecs:DescribeServices', Resource: '*' },
      {
        Effect: 'Allow',
        Action: 'ecs:UpdateService',
        Resource: 'arn:aws:ecs:us-east-1:000000000000:service/dev-cluster/*',
        Condition: { StringEquals: { 'aws:ResourceTag/Schedule': 'office-hours' } },
      },
    ],
    { ecsTags: (arn) => ecs.tagsOf(arn) },
    clock,
  );
  let server: Server;
  let client: ECSClient;

  beforeAll(async () => {
    server = createServer([gate.wrap(ecs)], async () => ({ status: 404, body: '' }));
    client = new ECSClient({ endpoint: `http://127.0.0.1:${await listen(server, 0)}`, region: 'us-east-1', credentials, maxAttempts: 1 });
  });
  afterAll(async () => {
    client.destroy();
    await new Promise<void>((r) => server.close(() => r()));
    state.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('updates the tagged service and refuses the other with AccessDeniedException naming the service ARN', async () => {
    await client.send(new UpdateServiceCommand({ cluster: 'dev-cluster', service: 'web-api', desiredCount: 0 }));
    await expect(client.send(new UpdateServiceCommand({ cluster: 'dev-cluster', service: 'worker', desiredCount: 0 }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining(
        'is not authorized to perform: ecs:UpdateService on resource: arn:aws:ecs:us-east-1:000000000000:service/dev-cluster/worker because no identity-based policy allows the ecs:UpdateService action',
      ),
    });
  });
});

describe('ECS API rates', () => {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const dir = mkdtempSync(join(tmpdir(), 'opsflow-ecs-rates-'));
  const state = new StateDir(dir);
  const ecs = new EcsService({ clock, state });
  ecs.seed(CLUSTERS);
  const rules = resolveRules({ iam: false, rates: true }, {});
  const gate = new Gate(rules);
  gate.use(new RateLimits(clock, rules).check);
  let server: Server;
  let client: ECSClient;

  beforeAll(async () => {
    server = createServer([gate.wrap(ecs)], async () => ({ status: 404, body: '' }));
    client = new ECSClient({
      endpoint: `http://127.0.0.1:${await listen(server, 0)}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    client.destroy();
    await new Promise<void>((r) => server.close(() => r()));
    state.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('throttles UpdateService past its bucket of 50 with ThrottlingException, refilled at 5 per second', async () => {
    const update = () => client.send(new UpdateServiceCommand({ cluster: 'dev-cluster', service: 'web-api', desiredCount: 2 }));
    for (let n = 0; n < 50; n++) await update();
    await expect(update()).rejects.toMatchObject({ name: 'ThrottlingException', message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } });
    // The service read bucket is another: describing still works.
    const { services } = await client.send(new DescribeServicesCommand({ cluster: 'dev-cluster', services: ['web-api'] }));
    expect(services![0].desiredCount).toBe(2);
    await clock.advance(200);
    await update();
    await expect(update()).rejects.toMatchObject({ name: 'ThrottlingException' });
  });
});
