/**
 * Runs the Ec2Schedule workflow for one instance on behalf of a link or a chat command, and reports the
 * transition the caller asked about (`stopped -> pending`), like the seed's direct StartInstances call did,
 * while the workflow still verifies, explains and reports as for any scheduled run. The workflow acts within
 * a second or two, so this polls the instance until its state changes or the execution ends, bounded well
 * inside API Gateway's 30 s integration timeout.
 */
import { DescribeInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { DescribeExecutionCommand, StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { facts } from './instances';
import type { Ec2Action, InstanceFacts } from './types';

export interface TriggerDeps {
  ec2: EC2Client;
  sfn: SFNClient;
  stateMachineArn: string;
  /** Real time to wait between polls. */
  sleep: (ms: number) => Promise<void>;
  /** How long to observe at most, real ms. @default 20000 */
  observeMs?: number;
}

export interface Triggered {
  from: string;
  to: string;
  executionArn: string;
}

export async function describeOne(ec2: EC2Client, instanceId: string): Promise<InstanceFacts | undefined> {
  const out = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: [instanceId] }] }));
  const i = out.Reservations?.flatMap((r) => r.Instances ?? [])[0];
  return i ? facts(i) : undefined;
}

export async function trigger(deps: TriggerDeps, instance: InstanceFacts, action: Ec2Action, requestedBy: string): Promise<Triggered> {
  const started = await deps.sfn.send(
    new StartExecutionCommand({ stateMachineArn: deps.stateMachineArn, input: JSON.stringify({ action, instanceIds: [instance.instanceId], requestedBy }) }),
  );
  const executionArn = started.executionArn!;
  // performance.now(), not Date.now(): this bound is real time (API Gateway's), even where Date runs virtual.
  const deadline = performance.now() + (deps.observeMs ?? 20_000);
  let to = instance.state;
  while (performance.now() < deadline) {
    await deps.sleep(300);
    to = (await describeOne(deps.ec2, instance.instanceId))?.state ?? 'unknown';
    if (to !== instance.state) break;
    const status = (await deps.sfn.send(new DescribeExecutionCommand({ executionArn }))).status;
    if (status !== 'RUNNING') {
      to = (await describeOne(deps.ec2, instance.instanceId))?.state ?? 'unknown';
      break;
    }
  }
  return { from: instance.state, to, executionArn };
}
