/**
 * The app's own member stack (infra/member-stack.ts) deploys into a simulated organisation: the runtime fills its
 * `HubAccountId` / `HubRegion` parameters with the hub's (template metadata `OpsflowLocal.hubParameters`), as the
 * StackSet passes the hub stack's own. The hub's Advance role then reaches the member account through the hub's
 * credential core (tasks/shared/targets.ts) and the runtime's STS: the member role's trust (external id, organisation)
 * and its permissions (EC2 in the target regions) are the synthesized ones.
 */
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { STSClient } from '@aws-sdk/client-sts';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { TargetCredentials } from '../../tasks/shared/targets';
import { startRuntime } from './harness';
import { synthWithConfig } from './synth-config';

it('deploys the synthesized member stack into each member account of the simulated organisation', async () => {
  const { dir, cdkOut } = synthWithConfig('opsflow-org-member-', (c) => {
    c.local.fleet = join(process.cwd(), 'workflows', 'fleet.json');
    c.targets = { organizationId: 'o-exampleorg01', externalId: 'opsflow-ext-1234', accounts: ['111111111111'], regions: ['us-east-1', 'eu-west-1'] };
    c.local.organization = {
      id: 'o-exampleorg01',
      regions: ['eu-west-1'],
      accounts: [
        { id: '000000000000', name: 'hub' },
        // A fleet file by absolute path: the config checks it from the working directory, the runtime from cdk.out's
        // parent, a temporary directory here.
        {
          id: '111111111111',
          name: 'prod',
          ou: 'Workloads/Prod',
          fleets: { 'eu-west-1': join(process.cwd(), 'test/fixtures/org-app/fleets/prod-eu-west-1.json') },
        },
      ],
    };
  });
  const lines: string[] = [];
  try {
    const h = await startRuntime({ cdkOut, stateDir: join(dir, 'state'), log: (l) => lines.push(l) });
    try {
      expect(lines.join('\n')).toContain('member stacks OpsflowMember deployed into 1 member accounts × 2 regions');
      const advance = h.rt.gate.iam!.model.credentialsFor('arn:aws:iam::000000000000:role/Opsflow-Ec2ScheduleAdvance', 'advance-fn');
      const sts = new STSClient({ endpoint: h.endpoint, region: 'us-east-1', credentials: advance });
      const settings = { hubAccount: '000000000000', partition: 'aws', roleName: 'opsflow-member', sessionName: 'opsflow-advance' };

      const member = new TargetCredentials(sts, { ...settings, externalId: 'opsflow-ext-1234' }, () => h.rt.clock.nowMs()).provider('111111111111')!;
      const ec2 = new EC2Client({ endpoint: h.endpoint, region: 'eu-west-1', credentials: member });
      // Authorized by the member role's EC2 statements, and answered from the member's own fleet in eu-west-1.
      const found = await ec2.send(new DescribeInstancesCommand({}));
      expect(found.Reservations!.flatMap((r) => r.Instances!.map((i) => [i.InstanceId, i.Placement!.AvailabilityZone]))).toEqual([
        ['i-0111111111111f001', 'eu-west-1b'],
      ]);
      expect(found.Reservations![0].OwnerId).toBe('111111111111');

      const wrong = new TargetCredentials(sts, { ...settings, externalId: 'not-the-id' }, () => h.rt.clock.nowMs()).provider('111111111111')!;
      await expect(wrong()).rejects.toThrow(/^the hub cannot assume arn:aws:iam::111111111111:role\/opsflow-member \(AccessDenied: /);
    } finally {
      await h.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 300_000);
