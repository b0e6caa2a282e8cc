/**
 * TagPolicy end to end on the local runtime, over the seeded demo fleet (workflows/fleet.json, test/demo-fleet.ts DEMO ids): a dry-run
 * scan report, applied scans that tag, look up a creator and ask approval before stopping (approve and reject),
 * and a launch remediated after the settle delay while a launch tagged right after RunInstances is left alone.
 *
 * Time runs TIME_SCALE times faster: the 120 s settle delay and a three-minute grace period pass in seconds. Not
 * faster: the approval's activity task has a 15-minute heartbeat window that the 5-minute sweep keeps alive, and at
 * 600x a loaded machine let it lapse (the decision then answered 410). The virtual day starts at 10:00 UTC on a
 * Wednesday, hours away from the 06:00 scan and the Ec2Schedule runs, so no scheduled run acts mid-test.
 */
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateTagsCommand, DescribeInstancesCommand, RunInstancesCommand, waitUntilInstanceRunning } from '@aws-sdk/client-ec2';
import { DescribeExecutionCommand, ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCallEvent } from '../../local/services/cloudtrail';
import { identity } from '../../local/services/fleet';
import { DEMO } from '../demo-fleet';
import type { OutboxEntry } from '../../local/kernel';
import type { Report } from '../../tasks/tag-policy/core/report';
import deployedPolicy from '../../tag-policy.json';
import { credentials, startRuntime, type Harness } from './harness';

const TIME_SCALE = 60;
const VIRTUAL_START = Date.parse('2025-03-05T10:00:00Z');

let h: Harness;

/**
 * Each group of tests gets a runtime of its own, freshly seeded, so no group depends on what another did (a
 * whole-fleet scan would see another group's launches); within a group each test works on its own instances.
 */
function freshRuntime(): void {
  beforeAll(async () => {
    h = await startRuntime({ timeScale: TIME_SCALE, virtualStart: VIRTUAL_START });
  });
  afterAll(async () => {
    await h?.stop();
  });
}

/** Launches an instance with `tags` at launch (TagSpecifications), as a person or a pipeline does. */
async function launchTagged(tags: Record<string, string>): Promise<string> {
  const out = await h.ec2.send(
    new RunInstancesCommand({
      ImageId: 'ami-0feed000000000001',
      InstanceType: 't3.micro',
      MinCount: 1,
      MaxCount: 1,
      TagSpecifications: [{ ResourceType: 'instance', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }],
    }),
  );
  const id = out.Instances![0].InstanceId!;
  // As an operator would: the policy acts on running instances (a pending one is left alone, and says so).
  await waitUntilInstanceRunning({ client: h.ec2, maxWaitTime: 120, minDelay: 1, maxDelay: 1 }, { InstanceIds: [id] });
  return id;
}

async function run(input: unknown, timeoutMs = 60_000): Promise<{ arn: string; report: Report; status: string; error?: string; cause?: string }> {
  const arn = await h.start('TagPolicy', input);
  const done = await h.finished(arn, timeoutMs);
  return { arn, status: done.status!, report: done.output ? JSON.parse(done.output) : undefined, error: done.error, cause: done.cause };
}

/** Dates the grace record of `id` (workflow table, `grace#<id>`) back by `hours` and a minute. */
async function backdateGrace(id: string, hours: number): Promise<void> {
  const table = h.rt.deployed.tables.find((t) => t.includes('TagPolicy'))!;
  const ddb = new DynamoDBClient({ endpoint: h.endpoint, region: 'us-east-1', credentials });
  const firstSeenAt = new Date(h.rt.clock.nowMs() - hours * 3_600_000 - 60_000).toISOString();
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

const byId = (r: Report, id: string) => r.instances.find((i) => i.instanceId === id);

async function tagsOf(id: string): Promise<Record<string, string>> {
  const out = await h.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
  const i = out.Reservations![0].Instances![0];
  return Object.fromEntries((i.Tags ?? []).map((t) => [t.Key!, t.Value!]));
}

async function stateOf(id: string): Promise<string> {
  const out = await h.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
  return out.Reservations![0].Instances![0].State!.Name!;
}

/** Decides the approval the way an approver does: the link from the email, then the form POST. */
async function decide(mail: OutboxEntry, decision: 'approve' | 'reject'): Promise<void> {
  const link = mail.links.find((l) => l.includes(`intent=${decision}`))!;
  const res = await fetch(link.replace(/\?intent=.*$/, ''), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `decision=${decision}`,
  });
  expect(res.status).toBe(200);
}

describe('TagPolicy without side effects', () => {
  freshRuntime();

  describe('TagPolicy dry-run scan', () => {
    it('reports every breach of the seeded fleet, says what would happen, and changes nothing', async () => {
      // Prepare
      const before = await tagsOf(DEMO.missingOwner);

      // Act
      const result = await run({ mode: 'scan' });
      const { report } = result;

      // Assess
      expect(result).toMatchObject({ status: 'SUCCEEDED' });
      expect(report.dryRun).toBe(true);
      expect(report.summary).toMatch(/^DRY RUN/);
      const violating = report.instances.map((i) => i.instanceId).sort();
      expect(violating).toEqual([...DEMO.nonCompliant].sort());
      expect(byId(report, DEMO.missingOwner)!.actions).toContainEqual(
        expect.objectContaining({ action: 'lookup-creator', outcome: 'planned', tag: 'Owner', value: 'carol@example.com' }),
      );
      expect(byId(report, DEMO.badCostCenter)!.actions).toContainEqual(expect.objectContaining({ action: 'stop', outcome: 'deferred' }));
      expect(byId(report, DEMO.badEnvironment)!.violations).toEqual([expect.objectContaining({ tag: 'Environment', kind: 'invalid', value: 'Production' })]);
      expect(byId(report, DEMO.exemptForever)!.exemptUntil).toBe('forever');
      expect(byId(report, DEMO.asg)!.managedBy).toBe('asg:web-asg');
      expect(byId(report, DEMO.asg)!.actions.map((a) => a.action)).toEqual(['notify']);
      expect(await tagsOf(DEMO.missingOwner)).toEqual(before);
      const mail = await h.mail((e) => e.service === 'sns' && e.subject.includes('[DRY RUN]'));
      expect(mail[0].text).toContain('would lookup-creator Owner=carol@example.com');
    });
  });

  describe('TagPolicy input and policy validation', () => {
    it('fails with Input.Invalid naming every problem, before reading anything, when the input would change the policy', async () => {
      // Act
      const result = await run({ mode: 'scan', policy: { version: 1, rules: [{ key: 'Owner' }] }, rules: ['Owner', 'Team'] });

      // Assess
      expect(result).toMatchObject({ status: 'FAILED', error: 'Input.Invalid' });
      expect(result.cause).toContain('policy: an execution cannot bring its own policy');
      expect(result.cause).toContain('rules: "Team" not in the deployed policy');
    });

    it('fails with Input.Invalid when launch mode has no instances', async () => {
      const result = await run({ mode: 'launch', dryRun: 'no' });
      expect(result).toMatchObject({ status: 'FAILED', error: 'Input.Invalid' });
      expect(result.cause).toContain('dryRun');
      expect(result.cause).toContain('instanceIds');
    });
  });
});

describe('TagPolicy applied scans', () => {
  freshRuntime();
  // The deployed policy (tag-policy.json): an execution cannot shorten its 72-hour grace period.
  const graceHours = deployedPolicy.gracePeriodHours;
  /** An instance breaking the CostCenter rule (onInvalid: stop) as the seed's analytics-01 does, for one test alone. */
  const badCostCenter = () => launchTagged({ Owner: 'team-data@example.com', CostCenter: 'cc-12', Environment: 'staging' });
  /** Its first applied scan starts the grace period; then the record is dated back past it, as if 72 hours had passed. */
  const graceOver = async (id: string) => {
    const first = await run({ mode: 'scan', instanceIds: [id], dryRun: false });
    expect(byId(first.report, id)!.actions).toContainEqual(expect.objectContaining({ action: 'stop', outcome: 'deferred' }));
    await backdateGrace(id, graceHours);
  };
  const stopMail = (id: string, isNew: (m: OutboxEntry) => boolean) =>
    h.mail((e) => isNew(e) && e.service === 'ses' && e.subject.includes('to stop') && e.text.includes(id));

  it('tags, looks up the creator, and only starts the grace period before stopping', async () => {
    // Prepare
    const isNew = await h.unseenMail();

    // Act
    const { status, report } = await run({ mode: 'scan', instanceIds: [DEMO.missingOwner, DEMO.badCostCenter, DEMO.asg], dryRun: false });

    // Assess
    expect(status).toBe('SUCCEEDED');
    expect(report.dryRun).toBe(false);
    expect(await tagsOf(DEMO.missingOwner)).toMatchObject({ Owner: 'carol@example.com' });
    expect(byId(report, DEMO.missingOwner)!.actions).toContainEqual(
      expect.objectContaining({ action: 'lookup-creator', outcome: 'applied', value: 'carol@example.com' }),
    );
    expect(byId(report, DEMO.badCostCenter)!.actions).toContainEqual(expect.objectContaining({ action: 'stop', outcome: 'deferred' }));
    expect(byId(report, DEMO.asg)!.actions.every((a) => a.action === 'notify')).toBe(true);
    expect(await tagsOf(DEMO.asg)).not.toHaveProperty('Owner', 'carol@example.com');
    expect(await stateOf(DEMO.badCostCenter)).toBe('running');
    expect((await h.outbox()).filter((e) => isNew(e) && e.service === 'ses' && e.subject.includes('Tag policy:'))).toEqual([]);
  });

  it('asks for approval once the grace period is over; a rejection stops nothing', async () => {
    // Prepare: the grace period (3 virtual minutes) has passed.
    const id = await badCostCenter();
    await graceOver(id);
    const isNew = await h.unseenMail();

    // Act
    const arn = await h.start('TagPolicy', { mode: 'scan', instanceIds: [id], dryRun: false });
    const [mail] = await stopMail(id, isNew);
    expect(mail.text).toContain('CostCenter');
    await decide(mail, 'reject');
    const done = await h.finished(arn);

    // Assess
    expect(done.status).toBe('SUCCEEDED');
    const report = JSON.parse(done.output!) as Report;
    expect(report.approval).toMatchObject({ decision: 'rejected', approver: 'approver@example.com' });
    expect(byId(report, id)!.actions).toContainEqual(expect.objectContaining({ action: 'stop', outcome: 'rejected' }));
    expect(await stateOf(id)).toBe('running');
  });

  it('stops the instances once the approver approves', async () => {
    // Prepare
    const id = await badCostCenter();
    await graceOver(id);
    const isNew = await h.unseenMail();

    // Act: the ASG member breaks a rule too, and is in the same run.
    const arn = await h.start('TagPolicy', { mode: 'scan', instanceIds: [id, DEMO.asg], dryRun: false });
    const [mail] = await stopMail(id, isNew);
    await decide(mail, 'approve');
    const done = await h.finished(arn);

    // Assess
    expect(done.status).toBe('SUCCEEDED');
    const report = JSON.parse(done.output!) as Report;
    expect(report.approval).toMatchObject({ decision: 'approved' });
    expect(byId(report, id)!.actions).toContainEqual(expect.objectContaining({ action: 'stop', outcome: 'applied' }));
    expect(['stopping', 'stopped']).toContain(await stateOf(id));
    // The ASG member is never stopped.
    expect(byId(report, DEMO.asg)!.actions.map((a) => a.action)).toEqual(['notify']);
    expect(await stateOf(DEMO.asg)).toBe('running');
  });
});

describe('TagPolicy launch mode', () => {
  freshRuntime();
  const launch = async (tags?: Record<string, string>) => {
    const out = await h.ec2.send(new RunInstancesCommand({ ImageId: 'ami-0feed000000000001', InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
    const id = out.Instances![0].InstanceId!;
    // Tags added right after launch, as Terraform and ASG lifecycle hooks do: the race Cloud Custodian loses.
    if (tags) await h.ec2.send(new CreateTagsCommand({ Resources: [id], Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }));
    return id;
  };
  /** The report of the launch execution that covered `id`; fails after 60 s instead of looping forever. */
  const launchReport = (id: string): Promise<Report> =>
    h.until(
      `a TagPolicy execution covering ${id}`,
      async () => {
        const list = await h.sfn.send(new ListExecutionsCommand({ stateMachineArn: h.arnOf('TagPolicy') }));
        for (const e of list.executions ?? []) {
          const d = await h.finished(e.executionArn!);
          if (d.input?.includes(id)) return JSON.parse(d.output!) as Report;
        }
        return undefined;
      },
      60_000,
    );

  it('checks a new instance after the settle delay, counting tags added right after launch', async () => {
    // Act
    const untagged = await launch();
    const taggedLate = await launch({ Owner: 'dev@example.com', CostCenter: 'CC-4242', Environment: 'dev' });

    // Assess
    const late = await launchReport(taggedLate);
    expect(late).toMatchObject({ mode: 'launch', dryRun: true, counts: { scanned: 1, violating: 0 } });
    const bare = await launchReport(untagged);
    expect(bare.instances[0].violations.map((v) => v.tag).sort()).toEqual(['CostCenter', 'Environment', 'Owner']);
  });

  it('finds the instances of a launch whose CloudTrail record omitted them (over 100 KB), by its client token', async () => {
    // Prepare: 400 instances at once: the runtime's CloudTrail omits the responseElements, as AWS does over 100 KB.
    const out = await h.ec2.send(new RunInstancesCommand({ ImageId: 'ami-0feed000000000001', InstanceType: 't3.micro', MinCount: 400, MaxCount: 400 }));
    const ids = out.Instances!.map((i) => i.InstanceId!);

    // Act: the rule's run for this launch (its input carries the client token, not the ids).
    const arn = await h.until(
      'the launch run of the 400 instances',
      async () => {
        const list = await h.sfn.send(new ListExecutionsCommand({ stateMachineArn: h.arnOf('TagPolicy') }));
        for (const e of list.executions ?? []) {
          const d = await h.sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn! }));
          if (d.input?.includes(out.Instances![0].ClientToken!)) return e.executionArn!;
        }
        return undefined;
      },
      60_000,
    );
    const done = await h.finished(arn, 120_000);

    // Assess: not Input.Invalid: every one of the 400 was evaluated, and the launcher is known.
    expect(JSON.parse(done.input!).launch.items).toBeNull();
    expect(done.status).toBe('SUCCEEDED');
    const report = JSON.parse(done.output!) as Report;
    expect(report.counts).toMatchObject({ scanned: 400, violating: 400 });
    expect(new Set(report.instances.map((i) => i.instanceId)).size + report.omitted).toBe(400);
    expect(ids).toContain(report.instances[0].instanceId);
  });

  it("starts no run for an EC2 Auto Scaling launch (the rule filters it out), and one for a person's", async () => {
    // Prepare: Auto Scaling launches through its service-linked role; CloudTrail names it in userIdentity.invokedBy.
    const [scaled] = h.rt.ec2.fleet.run({ imageId: 'ami-0feed000000000001', instanceType: 't3.micro', count: 1 }, { identity: identity.autoScaling() });
    await h.rt.events.put(apiCallEvent(h.rt.ec2.fleet.trail.at(-1)!));

    // Act
    const byPerson = await launch();
    await launchReport(byPerson);

    // Assess
    const list = await h.sfn.send(new ListExecutionsCommand({ stateMachineArn: h.arnOf('TagPolicy') }));
    const inputs = await Promise.all(
      (list.executions ?? []).map(async (e) => (await h.sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn! }))).input ?? ''),
    );
    expect(inputs.filter((i) => i.includes(byPerson))).toHaveLength(1);
    expect(inputs.filter((i) => i.includes(scaled.instanceId))).toHaveLength(0);
  });

  it('refuses, before any side effect, an input that brings its own policy: approvers, no grace period, terminate', async () => {
    // Prepare: anyone with states:StartExecution naming themselves approver of the termination of any instance.
    const id = await launch();
    const selfApproval = { version: 1, approvers: ['mallory@example.com'], gracePeriodHours: 0, rules: [{ key: 'Code', onMissing: { action: 'terminate' } }] };
    const unseen = await h.unseenMail();

    // Act
    const result = await run({ mode: 'launch', instanceIds: [id], dryRun: false, policy: selfApproval, rules: ['Schedule'] });

    // Assess: Input.Invalid listing both problems; nothing was read, written or asked of an approver.
    expect(result).toMatchObject({ status: 'FAILED', error: 'Input.Invalid' });
    expect(result.cause).toContain('policy: an execution cannot bring its own policy');
    expect(result.cause).toContain('rules: "Schedule" not in the deployed policy');
    expect(await stateOf(id)).not.toMatch(/shutting-down|terminated/);
    expect(await tagsOf(id)).toEqual({});
    expect((await h.outbox()).filter(unseen).filter((e) => e.service === 'ses')).toEqual([]);
  });
});
