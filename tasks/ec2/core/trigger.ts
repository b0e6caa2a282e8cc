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
  /** Set when the run ended without succeeding (FAILED, TIMED_OUT, ABORTED) while observed: its error and cause, shortened. */
  failure?: { status: string; error: string; cause: string };
}

/** Longest cause a caller is shown: the workflow's causes list problems and can be long; the history keeps it whole. */
export const FAILURE_CAUSE_CHARS = 300;

/** `text` cut to `max` characters (code points, not UTF-16 units), marked with `…` when cut. */
export function shorten(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
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
    const execution = await deps.sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (execution.status !== 'RUNNING') {
      to = (await describeOne(deps.ec2, instance.instanceId))?.state ?? 'unknown';
      // A run that failed before acting (Input.Invalid, say) leaves the instance as it was: say why, not "stopped -> stopped".
      if (execution.status !== 'SUCCEEDED') {
        const failure = { status: execution.status ?? 'UNKNOWN', error: shorten(execution.error ?? execution.status ?? 'unknown', 100), cause: shorten(execution.cause ?? '', FAILURE_CAUSE_CHARS) };
        return { from: instance.state, to, executionArn, failure };
      }
      break;
    }
  }
  return { from: instance.state, to, executionArn };
}
