/**
 * The app's own member stack (infra/member-stack.ts) deploys into a simulated organisation: the runtime fills its
 * `HubAccountId` / `HubRegion` parameters with the hub's (template metadata `OpsflowLocal.hubParameters`), as the
 * StackSet passes the hub stack's own.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
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
        { id: '111111111111', name: 'prod', ou: 'Workloads/Prod' },
      ],
    };
  });
  const lines: string[] = [];
  try {
    const h = await startRuntime({ cdkOut, stateDir: join(dir, 'state'), log: (l) => lines.push(l) });
    await h.stop();
    expect(lines.join('\n')).toContain('member stacks OpsflowMember deployed into 1 member accounts');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 300_000);
