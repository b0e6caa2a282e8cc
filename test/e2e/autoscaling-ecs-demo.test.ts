/**
 * The runtime serves Auto Scaling and ECS at its one endpoint, signed and gated like every service, over the demo
 * fleet the app's file declares (workflows/fleet.json): the group web-asg around its member web-asg-node, and the
 * Fargate service dev-cluster/web-api, both found by their Schedule tag, as the schedule work will find them; a scale
 * to 0 and back through the runtime, and both kept across a restart of the runtime on the same state directory. The
 * group's launch reaches CloudTrail and the event bus as Auto Scaling's (invokedBy autoscaling.amazonaws.com), and the
 * app's TagPolicy launch rule, which leaves such launches to the group, starts no run for it.
 */
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, UpdateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { LookupEventsCommand, CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { DescribeServicesCommand, ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { DescribeExecutionCommand, ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO } from '../demo-fleet';
import { credentials, startRuntime, type Harness } from './harness';

const stateDir = mkdtempSync(join(tmpdir(), 'opsflow-asg-ecs-demo-'));
/**
 * Wednesday 4 June 2025, 10:00 UTC (12:00 Berlin), hours from any boundary of the demo's schedules: office-hours, which
 * in the demo config scales web-asg and web-api too, must not move them under this test (the restart keeps the clock).
 */
const WEDNESDAY_NOON_BERLIN = Date.parse('2025-06-04T10:00:00Z');
let h: Harness | undefined;
let asg: AutoScalingClient;
let ecs: ECSClient;

async function start(): Promise<void> {
  h = await startRuntime({ stateDir, timeScale: 100, virtualStart: WEDNESDAY_NOON_BERLIN });
  const config = { endpoint: h.endpoint, region: 'us-east-1', credentials };
  asg = new AutoScalingClient(config);
  ecs = new ECSClient(config);
}
async function stop(): Promise<void> {
  asg?.destroy();
  ecs?.destroy();
  await h?.stop();
  h = undefined;
}
afterAll(async () => {
  await stop();
  rmSync(stateDir, { recursive: true, force: true });
});

const group = async () =>
  (await asg.send(new DescribeAutoScalingGroupsCommand({ Filters: [{ Name: 'tag:Schedule', Values: ['office-hours'] }] }))).AutoScalingGroups!;
const service = async () => (await ecs.send(new DescribeServicesCommand({ cluster: 'dev-cluster', services: ['web-api'] }))).services![0];

describe('the demo fleet’s Auto Scaling group and ECS service in the runtime', () => {
  it('finds both by their Schedule tag, scales them to 0, and keeps that across a restart', async () => {
    await start();
    const [g] = await group();
    expect([g.AutoScalingGroupName, g.MinSize, g.DesiredCapacity, g.MaxSize, g.Instances!.map((i) => i.InstanceId)]).toEqual(['web-asg', 1, 1, 4, [DEMO.asg]]);
    const s = await service();
    expect([s.desiredCount, s.runningCount]).toEqual([2, 2]);

    await asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'web-asg', MinSize: 0, MaxSize: 0, DesiredCapacity: 0 }));
    await ecs.send(new UpdateServiceCommand({ cluster: 'dev-cluster', service: 'web-api', desiredCount: 0 }));
    await h!.until('the member terminated and the tasks stopped', async () => {
      const states = await h!.instanceStates([DEMO.asg]);
      return states[DEMO.asg] === 'terminated' && (await service()).runningCount === 0 ? true : undefined;
    });

    await stop();
    await start();
    const [after] = await group();
    expect([after.MinSize, after.DesiredCapacity, after.MaxSize, after.Instances]).toEqual([0, 0, 0, []]);
    expect([(await service()).desiredCount, (await service()).runningCount]).toEqual([0, 0]);

    await asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'web-asg', MinSize: 1, MaxSize: 4, DesiredCapacity: 1 }));
    await ecs.send(new UpdateServiceCommand({ cluster: 'dev-cluster', service: 'web-api', desiredCount: 2 }));
    const launched = await h!.until('a new member in service and two tasks running', async () => {
      const [now] = await group();
      const member = now.Instances!.find((i) => i.LifecycleState === 'InService');
      return member && (await service()).runningCount === 2 ? member.InstanceId! : undefined;
    });

    const trail = new CloudTrailClient({ endpoint: h!.endpoint, region: 'us-east-1', credentials });
    const { Events } = await trail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'ResourceName', AttributeValue: launched }] }));
    trail.destroy();
    const run = JSON.parse(Events!.find((e) => e.EventName === 'RunInstances')!.CloudTrailEvent!);
    expect(run.userIdentity).toMatchObject({
      invokedBy: 'autoscaling.amazonaws.com',
      sessionContext: { sessionIssuer: { userName: 'AWSServiceRoleForAutoScaling' } },
    });
    const { executions } = await h!.sfn.send(new ListExecutionsCommand({ stateMachineArn: h!.arnOf('TagPolicy') }));
    for (const e of executions!) {
      const { input } = await h!.sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }));
      expect(input).not.toContain(launched);
    }
  }, 180_000);
});
