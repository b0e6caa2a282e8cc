/** The SDK clients of the kinds a schedule moves (core/kinds/kind.ts `Clients`), built once per cold start. */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient } from '@aws-sdk/client-ecs';
import { OrganizationsClient } from '@aws-sdk/client-organizations';
import { RDSClient } from '@aws-sdk/client-rds';
import { STSClient } from '@aws-sdk/client-sts';
import { Reach, type TargetClientConfig, type TargetsEnv } from '../shared/targets';
import type { Clients } from './core/kinds/kind';

/** `maxAttempts: 1` where a Wait state, not the SDK sleeping in the function, waits out throttling (the Advance loop). */
export function kindClients(config: TargetClientConfig = {}): Clients {
  return { ec2: new EC2Client(config), rds: new RDSClient(config), autoscaling: new AutoScalingClient(config), ecs: new ECSClient(config) };
}

/**
 * With `TARGETS` (config `targets`): the kinds' clients in each account and region of the run, by the member role
 * (tasks/shared/targets.ts); `undefined` without, and the function acts in its own account and region only.
 * `task` names the AssumeRole session (`opsflow-ec2-<task>`), which the member account's CloudTrail shows as who acted.
 */
export function kindReach(task: string, settings: TargetsEnv | undefined, maxAttempts?: number): Reach<Clients> | undefined {
  if (!settings) return undefined;
  return new Reach(
    kindClients,
    settings,
    { sts: () => new STSClient({}), organizations: () => new OrganizationsClient({}), sessionName: `opsflow-ec2-${task}` },
    maxAttempts,
  );
}
