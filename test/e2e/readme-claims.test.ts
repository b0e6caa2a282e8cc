/**
 * README claims that had no test, each end to end on the local runtime:
 * - skip dates: on a skip date a scheduled start does nothing, a scheduled stop still runs ("skipDates");
 * - the Ec2Schedule output lists at most 50 instances (failures first: unit-tested) and the full report is in the table
 *   (`report#<execution name>`, pages `page#00000`, ..., cut by their size as DynamoDB counts it: unit-tested at
 *   10,000 instances in test/unit/ec2-schedule/report.test.ts);
 * - TagPolicy re-reads every instance before acting: one exempted while the approval was pending is skipped;
 * - `npm run reset` clears the state.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateTagsCommand, RunInstancesCommand, waitUntilInstanceRunning } from '@aws-sdk/client-ec2';
import { GetCommand, DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report as Ec2Report } from '../../tasks/ec2-schedule/core/report';
import type { Report as TagReport } from '../../tasks/tag-policy/core/report';
import { DEMO } from '../demo-fleet';
import { credentials, startRuntime, type Harness } from './harness';

/** Wednesday 24 December 2025, 07:30 in Berlin: a working day, and a skip date of office-hours. */
const CHRISTMAS_EVE = Date.parse('2025-12-24T06:30:00Z');

/** Fires a schedule as EventBridge Scheduler does and returns the execution it started, once ended. */
async function fire(h: Harness, schedule: string) {
  const arns = async () =>
    new Set((await h.sfn.send(new ListExecutionsCommand({ stateMachineArn: h.arnOf('Ec2Schedule') }))).executions?.map((e) => e.executionArn!));
  const before = await arns();
  await h.rt.scheduler.fire(schedule);
  const arn = await h.until(`the execution ${schedule} started`, async () => [...(await arns())].find((a) => !before.has(a)));
  return h.finished(arn, 120_000);
}

describe('README claims on the seeded fleet', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startRuntime({ timeScale: 100, virtualStart: CHRISTMAS_EVE });
  });
  afterAll(() => h?.stop());

  it('on a skip date a scheduled start does nothing, and a scheduled stop still runs', async () => {
    // Prepare
    const before = await h.instanceStates(DEMO.officeHours);
    expect(Object.values(before)).toContain('stopped');

    // Act
    const start = await fire(h, 'opsflow-office-hours-start-0');
    const afterStart = await h.instanceStates(DEMO.officeHours);
    const stop = await fire(h, 'opsflow-office-hours-stop-0');

    // Assess
    expect(start.status).toBe('SUCCEEDED');
    const skipped = JSON.parse(start.output!) as Ec2Report;
    expect(skipped).toMatchObject({ holiday: '2025-12-24', summary: 'start schedule office-hours: skipped, 2025-12-24 is a skip date of the schedule' });
    expect(afterStart).toEqual(before);
    expect(stop.status).toBe('SUCCEEDED');
    const stopped = JSON.parse(stop.output!) as Ec2Report;
    expect(stopped.holiday).toBeNull();
    // The running instances, and the demo's other kinds: billing-db, orders-aurora, web-asg and web-api.
    expect(stopped.counts.moved).toBe(Object.values(before).filter((s) => s === 'running').length + 4);
    expect(
      stopped.instances
        .filter((e) => e.kind !== 'ec2' && e.outcome === 'moved')
        .map((e) => e.instanceId)
        .sort(),
    ).toEqual(['billing-db', 'dev-cluster/web-api', 'orders-aurora', 'web-asg']);
    expect(Object.values(await h.instanceStates(DEMO.officeHours)).every((s) => s === 'stopped')).toBe(true);
  }, 180_000);

  it('lists at most 50 instances in the output and keeps the full report in the table', async () => {
    // Prepare: 60 instances that opted in.
    const added = h.rt.ec2.fleet.addInstances(60, { state: 'stopped', tags: [{ Key: 'Schedule', Value: 'batch-window' }] });
    const ids = added.map((i) => i.instanceId);

    // Act
    const arn = await h.start('Ec2Schedule', { action: 'start', instanceIds: ids, dryRun: true, requestedBy: 'readme' });
    const done = await h.finished(arn, 60_000);

    // Assess
    expect(done.status).toBe('SUCCEEDED');
    const report = JSON.parse(done.output!) as Ec2Report;
    const runId = arn.split(':').pop()!;
    expect(report.counts).toEqual({ total: 60, moved: 0, skipped: 0, failed: 0, dryRun: 60 });
    expect(report.instances).toHaveLength(50);
    expect(report.omitted).toBe(10);
    expect(report.fullReport).toEqual({ pk: `report#${runId}`, pages: 1 });
    const table = h.rt.deployed.tables.find((t) => t.includes('Ec2Schedule'))!;
    const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: h.endpoint, region: 'us-east-1', credentials }));
    const page = await doc.send(new GetCommand({ TableName: table, Key: { pk: `report#${runId}`, sk: 'page#00000' } }));
    doc.destroy();
    expect((page.Item!.entries as Array<{ instanceId: string }>).map((e) => e.instanceId).sort()).toEqual([...ids].sort());
  });

  it('re-reads an instance before acting: one exempted while the approval was pending is left alone', async () => {
    // Prepare: an instance breaking the deployed policy's stop rule (CostCenter), its 72-hour grace period over.
    const launched = await h.ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-0feed000000000001',
        InstanceType: 't3.micro',
        MinCount: 1,
        MaxCount: 1,
        TagSpecifications: [
          {
            ResourceType: 'instance',
            Tags: [
              { Key: 'Owner', Value: 'dev@example.com' },
              { Key: 'CostCenter', Value: 'none' },
              { Key: 'Environment', Value: 'dev' },
            ],
          },
        ],
      }),
    );
    const id = launched.Instances![0].InstanceId!;
    await waitUntilInstanceRunning({ client: h.ec2, maxWaitTime: 120, minDelay: 1, maxDelay: 1 }, { InstanceIds: [id] });
    expect((await h.finished(await h.start('TagPolicy', { mode: 'scan', instanceIds: [id], dryRun: false }))).status).toBe('SUCCEEDED');
    const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: h.endpoint, region: 'us-east-1', credentials }));
    const table = h.rt.deployed.tables.find((t) => t.includes('TagPolicy'))!;
    await doc.send(
      new UpdateCommand({
        TableName: table,
        Key: { pk: `grace#${id}`, sk: 'grace' },
        UpdateExpression: 'SET #r.firstSeenAt = :t',
        ExpressionAttributeNames: { '#r': 'record' },
        ExpressionAttributeValues: { ':t': new Date(h.rt.clock.nowMs() - 73 * 3_600_000).toISOString() },
      }),
    );
    doc.destroy();
    const isNew = await h.unseenMail();

    // Act: while the approver decides, the owner exempts the instance; then the approver approves.
    const arn = await h.start('TagPolicy', { mode: 'scan', instanceIds: [id], dryRun: false });
    // The approval email comes after the scan's and the approval's functions start: in a whole-suite run on a loaded
    // 2-core machine that took longer than the harness's default 15 real seconds; alone, a few. A deadline, not a wait.
    const [mail] = await h.mail((e) => isNew(e) && e.service === 'ses' && e.subject.includes('1 to stop') && e.text.includes(id), 1, 60_000);
    await h.ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'opsflow:exempt', Value: 'forever' }] }));
    const link = mail.links.find((l) => l.includes('intent=approve'))!;
    const res = await fetch(link.replace(/\?intent=.*$/, ''), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'decision=approve',
    });
    expect(res.status).toBe(200);
    const done = await h.finished(arn);

    // Assess
    expect(done.status).toBe('SUCCEEDED');
    const report = JSON.parse(done.output!) as TagReport;
    expect(report.approval).toMatchObject({ decision: 'approved' });
    expect(report.instances.find((i) => i.instanceId === id)!.actions).toEqual([
      expect.objectContaining({ action: 'stop', outcome: 'skipped', reason: expect.stringContaining('exempted since the scan (opsflow:exempt=forever)') }),
    ]);
    expect((await h.instanceStates([id]))[id]).toBe('running');
  });
});

describe('README claims needing a runtime of their own', () => {
  it('npm run reset clears the state of a stopped runtime', async () => {
    // Prepare: a runtime that ran an execution, stopped; its state directory is the test's (the harness removes its own).
    const h = await startRuntime({ seedFleet: false, stateDir: mkdtempSync(join(tmpdir(), 'opsflow-reset-')) });
    await h.start('Approval', { title: 'Leaves state behind', approvers: ['lead@example.com'] });
    await h.mail((e) => e.subject.includes('Leaves state behind'));
    const { endpoint, stateDir } = h;
    await h.stop();
    expect(existsSync(stateDir)).toBe(true);

    // Act: the command `npm run reset` runs, against this runtime's state directory.
    const script = JSON.parse(readFileSync('package.json', 'utf8')).scripts.reset as string;
    expect(script).toBe('tsx local/cli.ts reset');
    const { stdout } = await promisify(execFile)(process.execPath, [require.resolve('tsx/cli'), 'local/cli.ts', 'reset'], {
      env: { ...process.env, OPSFLOW_STATE_DIR: stateDir, OPSFLOW_ENDPOINT: endpoint },
    });

    // Assess
    expect(stdout.trim()).toBe(`cleared ${stateDir}`);
    expect(existsSync(stateDir)).toBe(false);
  });
});
