/**
 * The person who starts a TagPolicy run never approves it (issue 17, item 4). An app whose Approval has two approvers
 * and whose `tagPolicy.requesterEmails` says that the IAM user `operator` is approver@example.com is synthesized and
 * run; the operator starts a run with their own credentials. The runtime's CloudTrail records the StartExecution with
 * the operator as caller (from the SigV4 credentials it verified), TagPolicy finds it, and the Approval workflow asks
 * only the other approver, whose approval then stops the instance.
 *
 * Time runs 60 times faster, as in tag-policy.test.ts; the virtual day starts at 10:00 UTC on a Wednesday, hours away
 * from the scheduled scan.
 */
import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { DescribeInstancesCommand, EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT, type OutboxEntry } from '../../local/kernel';
import { Runtime } from '../../local/runtime';
import type { Report } from '../../tasks/tag-policy/core/report';
import deployedPolicy from '../../tag-policy.json';
import { DEMO } from '../demo-fleet';
import { credentials, poll } from './harness';
import { synthWithConfig } from './synth-config';

const operatorKeys = { accessKeyId: 'operator', secretAccessKey: 'operator-secret' };
const OPERATOR_ARN = `arn:aws:iam::${ACCOUNT}:user/operator`;

let rt: Runtime;
let dir: string;
const client = (keys: typeof credentials) => ({ endpoint: rt.endpoint, region: 'us-east-1', credentials: keys });

/** The shipped config with a second approver and the operator's email, synthesized with the bundles `npm test` built. */
function synthesize(): string {
  const out = synthWithConfig('opsflow-requester-', (config) => {
    config.approval.approvers = ['approver@example.com', 'second@example.com'];
    config.tagPolicy.requesterEmails = { [OPERATOR_ARN]: 'approver@example.com' };
    config.local.fleet = resolve(config.local.fleet);
  });
  dir = out.dir;
  return out.cdkOut;
}

async function outbox(): Promise<OutboxEntry[]> {
  return (await (await fetch(`${rt.endpoint}/_opsflow/outbox`)).json()) as OutboxEntry[];
}

/** Starts TagPolicy with `keys` (the caller CloudTrail records) and waits for the end. */
async function start(keys: typeof credentials, input: unknown): Promise<string> {
  const sfn = new SFNClient(client(keys));
  const arn = rt.deployed.stateMachines.find((s) => s.name.endsWith('-TagPolicy'))!.arn;
  const out = await sfn.send(new StartExecutionCommand({ stateMachineArn: arn, input: JSON.stringify(input) }));
  sfn.destroy();
  return out.executionArn!;
}

async function finished(executionArn: string) {
  const sfn = new SFNClient(client(credentials));
  const done = await poll(`${executionArn} to end`, 90_000, async () => {
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    return d.status === 'RUNNING' ? undefined : d;
  });
  sfn.destroy();
  return done;
}

/** Dates the grace record of `id` back past the policy's grace period, as if it had passed. */
async function graceOver(id: string): Promise<void> {
  const first = await finished(await start(credentials, { mode: 'scan', instanceIds: [id], dryRun: false }));
  expect(first.status).toBe('SUCCEEDED');
  const table = rt.deployed.tables.find((t) => t.includes('TagPolicy'))!;
  const ddb = new DynamoDBClient(client(credentials));
  const firstSeenAt = new Date(rt.clock.nowMs() - deployedPolicy.gracePeriodHours * 3_600_000 - 60_000).toISOString();
  await ddb.send(
    new UpdateItemCommand({
      TableName: table,
      Key: { pk: { S: `grace#${id}` }, sk: { S: 'grace' } },
      UpdateExpression: 'SET #r.firstSeenAt = :t',
      ExpressionAttributeNames: { '#r': 'record' },
      ExpressionAttributeValues: { ':t': { S: firstSeenAt } },
    }),
  );
  ddb.destroy();
}

beforeAll(async () => {
  const cdkOut = synthesize();
  rt = await Runtime.start({
    cdkOut,
    port: 0,
    stateDir: join(dir, 'state'),
    timeScale: 60,
    virtualStart: Date.parse('2025-03-05T10:00:00Z'),
    rules: { sesPerSecond: 14, sesSandbox: false },
    credentials: [credentials, operatorKeys],
  });
}, 180_000);

afterAll(async () => {
  await rt?.stop();
});

describe('TagPolicy started by an approver', () => {
  it('records the StartExecution in CloudTrail with the caller the signature names', async () => {
    // Act
    const arn = await start(operatorKeys, { mode: 'scan', instanceIds: [DEMO.asg] });
    const trail = new CloudTrailClient(client(credentials));
    const out = await trail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'StartExecution' }] }));
    trail.destroy();

    // Assess
    const records = (out.Events ?? []).map((e) => JSON.parse(e.CloudTrailEvent!));
    const mine = records.find((r) => r.responseElements?.executionArn === arn);
    expect(mine).toMatchObject({
      eventSource: 'states.amazonaws.com',
      eventName: 'StartExecution',
      managementEvent: true,
      userIdentity: { type: 'IAMUser', arn: OPERATOR_ARN, accessKeyId: 'operator', userName: 'operator' },
      requestParameters: { stateMachineArn: expect.stringContaining(':stateMachine:') },
    });
    expect((await finished(arn)).status).toBe('SUCCEEDED');
  });

  it('records a start by the launch rule as its role, on behalf of EventBridge: no person asked for it', async () => {
    // Act: a launch fires the RunInstances rule, which starts a TagPolicy launch run.
    const ec2 = new EC2Client(client(operatorKeys));
    const id = (await ec2.send(new RunInstancesCommand({ ImageId: 'ami-0feed000000000001', InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }))).Instances![0]
      .InstanceId!;
    ec2.destroy();
    const trail = new CloudTrailClient(client(credentials));
    const record = await poll("the launch run's StartExecution record", 30_000, async () => {
      const out = await trail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'StartExecution' }] }));
      return (out.Events ?? []).map((e) => JSON.parse(e.CloudTrailEvent!)).find((r) => String(r.requestParameters?.input).includes(id));
    });
    trail.destroy();

    // Assess
    expect(record.userIdentity).toMatchObject({
      type: 'AssumedRole',
      invokedBy: 'events.amazonaws.com',
      arn: expect.stringMatching(/^arn:aws:sts::\d{12}:assumed-role\/.+\/events$/),
    });
    expect((await finished(record.responseElements.executionArn)).status).toBe('SUCCEEDED');
  });

  it('does not ask the operator to approve their own run; the other approver approves it', async () => {
    // Prepare: the seeded analytics-01 breaks the CostCenter rule (stop) and its grace period is over.
    const id = DEMO.badCostCenter;
    await graceOver(id);
    const seen = new Set((await outbox()).map((e) => e.id));

    // Act: the operator (approver@example.com) starts the run that would stop it.
    const arn = await start(operatorKeys, { mode: 'scan', instanceIds: [id], dryRun: false });
    const [mail] = await poll('the approval email', 60_000, async () => {
      const asks = (await outbox()).filter((e) => !seen.has(e.id) && e.service === 'ses' && e.subject.includes('to stop'));
      return asks.length > 0 ? asks : undefined;
    });

    // Assess: only the other approver is asked, and the email names the operator as requester.
    expect(mail.to).toEqual(['second@example.com']);
    expect(mail.text).toContain('Requested by: approver@example.com');
    const toOperator = (await outbox()).filter(
      (e) => !seen.has(e.id) && e.to.includes('approver@example.com') && e.links.some((l) => l.includes('/approvals/')),
    );
    expect(toOperator).toEqual([]);

    // Act: the other approver approves.
    const link = mail.links.find((l) => l.includes('intent=approve'))!;
    const res = await fetch(link.replace(/\?intent=.*$/, ''), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'decision=approve',
    });
    expect(res.status).toBe(200);
    const done = await finished(arn);

    // Assess
    expect(done.status).toBe('SUCCEEDED');
    const report = JSON.parse(done.output!) as Report;
    expect(report.approval).toMatchObject({ decision: 'approved', approver: 'second@example.com' });
    expect(report.requester).toEqual({ kind: 'person', arn: OPERATOR_ARN, email: 'approver@example.com', matchedBy: 'requesterEmails' });
    const ec2 = new EC2Client(client(credentials));
    const state = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0].Instances![0].State!.Name;
    ec2.destroy();
    expect(['stopping', 'stopped']).toContain(state);
    // The Approval run was started by TagPolicy's role on behalf of Step Functions, and CloudTrail says so.
    const trail = new CloudTrailClient(client(credentials));
    const out = await trail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'StartExecution' }] }));
    trail.destroy();
    const child = (out.Events ?? []).map((e) => JSON.parse(e.CloudTrailEvent!)).find((r) => String(r.requestParameters.stateMachineArn).endsWith('-Approval'));
    expect(child.userIdentity).toMatchObject({ type: 'AssumedRole', invokedBy: 'states.amazonaws.com' });
  });
});
