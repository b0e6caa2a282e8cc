/**
 * Ec2Schedule across a simulated organisation (issue 23): the shipped app with config `targets` over two member
 * accounts in two regions. A scheduled stop plans each account × region with the member role the runtime deployed
 * from the synthesized member stack, stops the tagged instances of the reachable one in each region (side by side,
 * as lanes), and reports the account outside the organisation, whose role cannot be assumed, with its reason; the run
 * then fails with Ec2.PartialFailure after its report.
 */
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { startRuntime } from './harness';
import { synthWithConfig } from './synth-config';

const PROD = '111111111111';
const PARTNER = '999999999999';
const FLEETS = join(process.cwd(), 'test', 'fixtures', 'org-app', 'fleets');

it('stops the tagged instances of every reachable account × region and reports the unreachable account', async () => {
  const { dir, cdkOut } = synthWithConfig('opsflow-ec2-targets-', (c) => {
    c.local.fleet = join(process.cwd(), 'workflows', 'fleet.json');
    // EC2 only: the runtime has the other kinds' services (RDS, Auto Scaling, ECS) in the hub's us-east-1 only.
    c.ec2Schedule.kinds = ['ec2'];
    c.targets = { organizationId: 'o-exampleorg01', externalId: 'opsflow-ext-1234', accounts: [PROD, PARTNER], regions: ['us-east-1', 'eu-west-1'] };
    c.local.organization = {
      id: 'o-exampleorg01',
      regions: ['eu-west-1'],
      accounts: [
        { id: '000000000000', name: 'hub' },
        {
          id: PROD,
          name: 'prod',
          ou: 'Workloads/Prod',
          fleets: { 'us-east-1': join(FLEETS, 'prod-us-east-1.json'), 'eu-west-1': join(FLEETS, 'prod-eu-west-1.json') },
        },
      ],
      outside: [{ id: PARTNER, name: 'partner' }],
    };
  });
  try {
    const h = await startRuntime({ cdkOut, stateDir: join(dir, 'state') });
    try {
      const prod = (region: string) => new EC2Client({ endpoint: h.endpoint, region, credentials: { accessKeyId: PROD, secretAccessKey: 'test' } });
      const running = async (region: string) =>
        (await prod(region).send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Schedule', Values: ['office-hours'] }] })))
          .Reservations!.flatMap((r) => r.Instances!)
          .filter((i) => i.State?.Name === 'running')
          .map((i) => i.InstanceId!);
      const before = { 'us-east-1': await running('us-east-1'), 'eu-west-1': await running('eu-west-1') };
      expect(before['eu-west-1'].length + before['us-east-1'].length).toBeGreaterThan(0);

      const arn = await h.start('Ec2Schedule', { action: 'stop', schedule: 'office-hours', requestedBy: 'e2e' });
      const out = await h.finished(arn, 240_000);

      expect(out.status).toBe('FAILED');
      expect(out.error).toBe('Ec2.PartialFailure');
      expect(out.cause).toMatch(/; 2 target\(s\) unreachable$/);
      expect(await running('us-east-1')).toEqual([]);
      expect(await running('eu-west-1')).toEqual([]);
      const report = (await h.outbox()).find((e) => JSON.stringify(e).includes(arn.split(':').at(-1)!));
      const text = JSON.stringify(report);
      for (const region of ['us-east-1', 'eu-west-1'] as const) for (const id of before[region]) expect(text).toContain(`${PROD}/${region} ${id}`);
      expect(text).toContain(
        `UNREACHABLE TARGETS (2)\\n  ${PARTNER}/us-east-1: the hub cannot assume arn:aws:iam::${PARTNER}:role/opsflow-member (AccessDenied: `,
      );
    } finally {
      await h.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 300_000);
