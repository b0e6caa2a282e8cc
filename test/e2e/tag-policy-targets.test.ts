/**
 * TagPolicy with config `targets`, through the local runtime: the synthesized TARGETS reach the functions, the hub's
 * Evaluate role assumes the member role through the runtime's STS, and a target account without a member stack is
 * recorded with its reason while the others are read; the run reports, then fails TagPolicy.ReadFailed naming it. A
 * launch in the hub is evaluated in the account and region its event names (the launch rule's input). The 3-account
 * end-to-end run of issue 23 (member launches forwarded to the hub's bus) is the lead's, after the runtime's
 * cross-account PutEvents lands.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DescribeExecutionCommand, ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Report } from '../../tasks/tag-policy/core/report';
import { credentials, type Harness, startRuntime } from './harness';
import { synthWithConfig } from './synth-config';

const HUB = '000000000000';
const MEMBER = '111111111111';
/** In the organisation's targets, but no such member account: AssumeRole is refused. */
const MISSING = '222222222222';

let h: Harness;
let dir: string;
beforeAll(async () => {
  ({ dir } = synthWithConfig('opsflow-tagorg-', (c) => {
    c.local.fleet = join(process.cwd(), 'workflows', 'fleet.json');
    c.targets = { organizationId: 'o-exampleorg01', externalId: 'opsflow-ext-1234', accounts: [HUB, MEMBER, MISSING], regions: ['us-east-1'] };
    c.tagPolicy = { ...c.tagPolicy, settleSeconds: 0 };
    c.local.organization = {
      id: 'o-exampleorg01',
      regions: ['eu-west-1'],
      accounts: [
        { id: HUB, name: 'hub' },
        { id: MEMBER, name: 'prod', ou: 'Workloads/Prod' },
      ],
    };
  }));
  h = await startRuntime({ cdkOut: join(dir, 'cdk.out'), stateDir: join(dir, 'state'), timeScale: 60, virtualStart: Date.parse('2025-03-05T10:00:00Z') });
}, 300_000);
afterAll(async () => {
  await h?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('scans every target, reports the one it cannot reach with its reason, and then fails TagPolicy.ReadFailed', async () => {
  // Act
  const arn = await h.start('TagPolicy', { mode: 'scan' });
  const done = await h.finished(arn, 120_000);

  // Assess: the run failed after reporting, naming the missing account; the hub's fleet was judged, in its name.
  expect(done.status).toBe('FAILED');
  expect(done.error).toBe('TagPolicy.ReadFailed');
  expect(done.cause).toContain(`1 target could not be read: ${MISSING}/us-east-1`);
  const table = h.rt.deployed.tables.find((t) => t.includes('TagPolicy'))!;
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: h.endpoint, region: 'us-east-1', credentials }));
  const runId = arn.split(':').pop();
  const items =
    (await db.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `run#${runId}` } }))).Items ??
    [];
  expect(items.length).toBeGreaterThan(0);
  for (const i of items) {
    expect(i.sk).toMatch(new RegExp(`^${HUB}/us-east-1/i-`));
    expect(i.finding).toMatchObject({ account: HUB, region: 'us-east-1' });
  }
}, 180_000);

it('evaluates a launch in the account and region its event names, and lists the instance as <account>/<region>', async () => {
  // Act: an untagged launch in the hub account; the launch rule starts a run with the event's account and region.
  const out = await h.ec2.send(new RunInstancesCommand({ ImageId: 'ami-0feed000000000001', InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
  const id = out.Instances![0].InstanceId!;
  const execution = await h.until(
    `the launch run of ${id}`,
    async () => {
      const list = await h.sfn.send(new ListExecutionsCommand({ stateMachineArn: h.arnOf('TagPolicy') }));
      for (const e of list.executions ?? []) {
        const d = await h.sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn! }));
        if (d.input?.includes(id)) return d;
      }
      return undefined;
    },
    60_000,
  );
  const done = await h.finished(execution.executionArn!, 120_000);

  // Assess
  expect(JSON.parse(execution.input!)).toMatchObject({ mode: 'launch', account: HUB, region: 'us-east-1' });
  expect(done.status).toBe('SUCCEEDED');
  const report = JSON.parse(done.output!) as Report;
  expect(report.instances).toEqual([expect.objectContaining({ instanceId: id, account: HUB, region: 'us-east-1' })]);
}, 180_000);
