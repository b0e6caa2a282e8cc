/**
 * Launch events across the simulated organisation (issue 23): the member stack's forwarding rule runs in each member
 * account and region; a RunInstances there reaches the hub's default bus by cross-account PutEvents (the member rule's
 * role), admitted by the hub bus's policy (`aws:PrincipalOrgID`, workflows/tag-policy/construct.ts), and keeps its
 * source account and region; an account outside the organisation is refused by that policy.
 */
import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { EventBridgeClient, ListRulesCommand, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import type { BusEvent } from '../../local/kernel';
import { type Harness, startRuntime } from './harness';
import { synthWithConfig } from './synth-config';

const HUB_BUS = 'arn:aws:events:us-east-1:000000000000:event-bus/default';
const admin = (account: string) => ({ accessKeyId: account, secretAccessKey: 'test' });
let h: Harness;
let dir: string;
/** Events the hub's default bus received from other accounts and regions. */
const received: BusEvent[] = [];

beforeAll(async () => {
  const synth = synthWithConfig('opsflow-org-events-', (c) => {
    c.local.fleet = join(process.cwd(), 'workflows', 'fleet.json');
    c.targets = { organizationId: 'o-exampleorg01', externalId: 'opsflow-ext-1234', accounts: ['111111111111'], regions: ['us-east-1', 'eu-west-1'] };
    c.local.organization = {
      id: 'o-exampleorg01',
      regions: ['eu-west-1'],
      accounts: [
        { id: '000000000000', name: 'hub' },
        { id: '111111111111', name: 'prod', ou: 'Workloads/Prod' },
      ],
      outside: [{ id: '999999999999', name: 'partner' }],
    };
  });
  dir = synth.dir;
  h = await startRuntime({ cdkOut: synth.cdkOut, stateDir: join(dir, 'state') });
  const receive = h.rt.events.receive.bind(h.rt.events);
  h.rt.events.receive = (bus, event) => {
    received.push(event);
    return receive(bus, event);
  };
}, 120_000);
afterAll(async () => {
  await h?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const launchRule = () => h.rt.events.listRules().find((r) => r.name === 'Opsflow-TagPolicyLaunch')!;

it("deploys the member stack's forwarding rule into each member account and region, not into the hub", async () => {
  expect(h.rt.memberRules).toEqual([
    { account: '111111111111', region: 'us-east-1', name: 'OpsflowMember-TagPolicyLaunch' },
    { account: '111111111111', region: 'eu-west-1', name: 'OpsflowMember-TagPolicyLaunch' },
  ]);
  for (const region of ['us-east-1', 'eu-west-1']) {
    const events = new EventBridgeClient({ endpoint: h.endpoint, region, credentials: admin('111111111111') });
    const { Rules } = await events.send(new ListRulesCommand({}));
    expect(Rules!.map((r) => r.Arn)).toEqual([`arn:aws:events:${region}:111111111111:rule/OpsflowMember-TagPolicyLaunch`]);
  }
  expect(h.rt.events.listRules().map((r) => r.name)).not.toContain('OpsflowMember-TagPolicyLaunch');
});

it("forwards a member account's RunInstances in each region to the hub's bus, where the launch rule matches it", async () => {
  // One forwarding role per region (each stack instance has its own): us-east-1's trust names its own rule.
  for (const region of ['us-east-1', 'eu-west-1']) {
    const before = launchRule().metrics.invocations;
    const ec2 = new EC2Client({ endpoint: h.endpoint, region, credentials: admin('111111111111') });
    const run = await ec2.send(new RunInstancesCommand({ ImageId: 'ami-0a1b2c3d4e5f60001', InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
    const id = run.Instances![0].InstanceId!;
    const event = await h.until(`the forwarded launch from ${region}`, () =>
      received.find((e) => JSON.stringify((e.detail as any).responseElements ?? {}).includes(id)),
    );
    expect(event).toMatchObject({ account: '111111111111', region, source: 'aws.ec2', 'detail-type': 'AWS API Call via CloudTrail' });
    await h.until('the hub launch rule to run', () => (launchRule().metrics.invocations > before ? true : undefined));
    const forwarder = h.rt.eventsIn({ account: '111111111111', region })!.listRules()[0];
    expect(forwarder.metrics).toEqual({ invocations: 1, failedInvocations: 0 });
  }
});

it("admits a member account's PutEvents to the hub's bus and refuses an outside account's", async () => {
  const entry = { Source: 'example.app', DetailType: 'probe', Detail: '{"n":1}', EventBusName: HUB_BUS };
  const member = new EventBridgeClient({ endpoint: h.endpoint, region: 'us-east-1', credentials: admin('111111111111') });
  const ok = await member.send(new PutEventsCommand({ Entries: [entry] }));
  expect(ok.FailedEntryCount).toBe(0);
  const event = await h.until('the member event on the hub bus', () => received.find((e) => e.id === ok.Entries![0].EventId));
  expect(event).toMatchObject({ account: '111111111111', region: 'us-east-1', source: 'example.app' });

  const outside = new EventBridgeClient({ endpoint: h.endpoint, region: 'us-east-1', credentials: admin('999999999999') });
  await expect(outside.send(new PutEventsCommand({ Entries: [entry] }))).rejects.toMatchObject({
    name: 'AccessDeniedException',
    message: `User: arn:aws:iam::999999999999:root is not authorized to perform: events:PutEvents on resource: ${HUB_BUS} because no resource-based policy allows the events:PutEvents action`,
  });
});

it("drops a member's forwarded launch that the hub bus's policy refuses, and counts it as the rule's failed invocation", async () => {
  // The hub's bus admits organisation o-otherorg0001 only; the member account is in o-exampleorg01.
  const synth = synthWithConfig('opsflow-org-refused-', (c) => {
    c.local.fleet = join(process.cwd(), 'workflows', 'fleet.json');
    c.targets = { organizationId: 'o-otherorg0001', externalId: 'opsflow-ext-1234', accounts: ['111111111111'], regions: ['us-east-1'] };
    c.local.organization = { id: 'o-exampleorg01', accounts: [{ id: '111111111111', name: 'prod' }] };
  });
  const other = await startRuntime({ cdkOut: synth.cdkOut, stateDir: join(synth.dir, 'state') });
  try {
    const hubLaunches = () => other.rt.events.listRules().find((r) => r.name === 'Opsflow-TagPolicyLaunch')!.metrics.invocations;
    const ec2 = new EC2Client({ endpoint: other.endpoint, region: 'us-east-1', credentials: admin('111111111111') });
    await ec2.send(new RunInstancesCommand({ ImageId: 'ami-0a1b2c3d4e5f60001', InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
    const forwarder = () => other.rt.eventsIn({ account: '111111111111', region: 'us-east-1' })!.listRules()[0];
    await other.until('the forward to fail', () => (forwarder().metrics.failedInvocations > 0 ? true : undefined));
    expect(forwarder().metrics).toEqual({ invocations: 1, failedInvocations: 1 });
    expect(hubLaunches()).toBe(0);
  } finally {
    await other.stop();
    rmSync(synth.dir, { recursive: true, force: true });
  }
}, 120_000);

it('does not send an event received from a member account on to another account', async () => {
  // A hub rule that would pass the member's events on to another bus: "these events are not sent" (eb-cross-account.html).
  h.rt.events.addRule({
    name: 'probe-onward',
    eventPattern: { source: ['example.onward'] },
    targets: [{ id: 'onward', arn: 'arn:aws:events:eu-west-1:111111111111:event-bus/default' }],
  });
  const member = new EventBridgeClient({ endpoint: h.endpoint, region: 'us-east-1', credentials: admin('111111111111') });
  const onward = () => h.rt.events.listRules().find((r) => r.name === 'probe-onward')!.metrics;
  // The refusal is logged as the delivery fails, before PutEvents's answer arrives: listen from before the call.
  const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
  let logged = '';
  let sent: { Entries?: Array<{ EventId?: string }> };
  try {
    sent = await member.send(new PutEventsCommand({ Entries: [{ Source: 'example.onward', DetailType: 'probe', Detail: '{}', EventBusName: HUB_BUS }] }));
    await h.until('the onward delivery to be refused', () => (onward().failedInvocations > 0 ? true : undefined));
    logged = errors.mock.calls.flat().join('\n');
  } finally {
    errors.mockRestore();
  }
  expect(logged).toContain('an event of account 111111111111 sent to account 000000000000 is not sent on to account 111111111111');
  expect(onward()).toEqual({ invocations: 1, failedInvocations: 1 });
  expect(received.filter((e) => e.id === sent.Entries![0].EventId)).toHaveLength(1);
});
