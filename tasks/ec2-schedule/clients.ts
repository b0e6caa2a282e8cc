/** The SDK clients of the kinds a schedule moves (core/kinds/kind.ts `Clients`), built once per cold start. */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient } from '@aws-sdk/client-ecs';
import { RDSClient } from '@aws-sdk/client-rds';
import type { Clients } from './core/kinds/kind';

/** `maxAttempts: 1` where a Wait state, not the SDK sleeping in the function, waits out throttling (the Advance loop). */
export function kindClients(config: { maxAttempts?: number } = {}): Clients {
  return { ec2: new EC2Client(config), rds: new RDSClient(config), autoscaling: new AutoScalingClient(config), ecs: new ECSClient(config) };
}
