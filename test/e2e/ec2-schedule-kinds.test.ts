/**
 * One schedule over a whole environment, end to end on the local runtime with the AWS CLI: EC2 (one instance
 * hibernating), an RDS instance, an Aurora cluster, an Auto Scaling group and an ECS service stop in reverse group
 * order and start in group order, every size restored; RDS's refusals (a read replica's source, SQL Server Multi-AZ,
 * Aurora Serverless v1) are reported with their reasons; a database RDS started by itself after seven days is stopped
 * again by the next scheduled stop, and the report says so. The app is the shipped one with `ec2Schedule.kinds` set to
 * every kind and `office-hours` asking for hibernation; the demo fleet puts the group and the service in group `app`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DescribeExecutionCommand, ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as runControlLink } from '../../infra/control-link';
import { KINDS } from '../../tasks/ec2-schedule/core/types';
import type { Report } from '../../tasks/ec2-schedule/core/report';
import { awsCliEnv, findAwsCliV2, toolAvailable } from '../tools';
import { credentials, startRuntime, type Harness } from './harness';
import { synthWithConfig } from './synth-config';

const run = promisify(execFile);
const cli = findAwsCliV2();
const enabled = toolAvailable('AWS CLI v2', cli !== undefined, '`apt-get install awscli` (Debian 12+), or set OPSFLOW_AWS_CLI to an AWS CLI v2 executable');
/** Wednesday 4 June 2025, 17:30 UTC (19:30 Berlin): after office-hours' stop, before any other boundary. */
const WEDNESDAY_EVENING = Date.parse('2025-06-04T17:30:00Z');
const TIME_SCALE = 200;

let h: Harness;
const made: string[] = [];
let aws: (...args: string[]) => Promise<any>;

/** Starts the workflow with the AWS CLI, as an operator would, and waits for its output. */
async function schedule(action: 'start' | 'stop'): Promise<{ report: Report; arn: string }> {
  const out = await aws(
    'stepfunctions',
    'start-execution',
    '--state-machine-arn',
    h.arnOf('Ec2Schedule'),
    '--input',
    JSON.stringify({ action, schedule: 'office-hours', requestedBy: 'e2e' }),
  );
  await h.finished(out.executionArn, 300_000);
  // Partial failures (the KMS-broken instance on start) still give the report as the failure's cause: read the table's copy.
  return { report: await storedReport(out.executionArn), arn: out.executionArn };
}

/** The full report from the workflow's table (every entry, whatever the run's outcome), read with the AWS CLI. */
async function storedReport(executionArn: string): Promise<Report> {
  const table = h.rt.deployed.tables.find((t) => t.includes('Ec2Schedule'))!;
  const runId = executionArn.slice(executionArn.lastIndexOf(':') + 1);
  const out = await aws(
    'dynamodb',
    'query',
    '--table-name',
    table,
    '--key-condition-expression',
    'pk = :pk',
    '--expression-attribute-values',
    JSON.stringify({ ':pk': { S: `report#${runId}` } }),
  );
  const plain = (v: any): unknown =>
    'S' in v ? v.S : 'N' in v ? Number(v.N) : 'M' in v ? Object.fromEntries(Object.entries(v.M).map(([k, x]) => [k, plain(x)])) : 'L' in v ? v.L.map(plain) : v;
  return { instances: out.Items.flatMap((i: any) => plain(i.entries)) } as Report;
}

/** Each wave of the run (child executions of Ec2ScheduleWave) as `group:kind`, in the order they started. */
async function waveOrder(parentArn: string): Promise<string[]> {
  const list = await h.sfn.send(new ListExecutionsCommand({ stateMachineArn: h.arnOf('Ec2ScheduleWave') }));
  const mine = [];
  for (const e of list.executions ?? []) {
    const d = await h.sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }));
    const input = JSON.parse(d.input ?? '{}');
    if (JSON.stringify(d).includes(parentArn.slice(parentArn.lastIndexOf(':') + 1)) || input.runId === parentArn.slice(parentArn.lastIndexOf(':') + 1))
      mine.push({ at: d.startDate!.getTime(), wave: `${input.wave.group || '-'}:${input.wave.kind}` });
  }
  return mine.sort((a, b) => a.at - b.at).map((m) => m.wave);
}

const entry = (r: Report, id: string) => r.instances.find((e) => e.instanceId === id);

beforeAll(async () => {
  if (!enabled) return;
  const fleet = JSON.parse(readFileSync('workflows/fleet.json', 'utf8'));
  // billing-db was stopped almost seven days ago, so RDS starts it by itself a virtual minute and a half into the test
  // (0.001 day), before the scheduled stop.
  Object.assign(
    fleet.rds.dbInstances.find((d: { id: string }) => d.id === 'billing-db'),
    { status: 'stopped', stoppedDaysAgo: 6.999 },
  );
  made.push(mkdtempSync(join(tmpdir(), 'opsflow-kinds-fleet-')));
  const fleetFile = join(made[0], 'fleet.json');
  writeFileSync(fleetFile, JSON.stringify(fleet));
  const { dir, cdkOut } = synthWithConfig('opsflow-kinds-', (config) => {
    config.ec2Schedule.kinds = [...KINDS];
    config.ec2Schedule.schedules['office-hours'].hibernate = true;
    config.local.fleet = fleetFile;
  });
  made.push(dir);
  h = await startRuntime({ cdkOut, stateDir: join(dir, 'state'), timeScale: TIME_SCALE, virtualStart: WEDNESDAY_EVENING });
  aws = async (...args: string[]) => {
    const { stdout } = await run(cli!, ['--endpoint-url', h.endpoint, '--output', 'json', ...args], {
      env: awsCliEnv(h.stateDir, credentials),
    });
    return stdout.trim() ? JSON.parse(stdout) : {};
  };
}, 120_000);
afterAll(async () => {
  await h?.stop();
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!enabled)('one schedule stops and starts a whole environment', () => {
  it('stops every kind in reverse group order, with reasons, and starts them again in order with every size restored', async () => {
    // Prepare: RDS has started billing-db by itself (seven days stopped).
    await h.until(
      'RDS to start billing-db after seven days',
      async () => {
        const d = await aws('rds', 'describe-db-instances', '--db-instance-identifier', 'billing-db');
        return d.DBInstances[0].DBInstanceStatus === 'available' || undefined;
      },
      60_000,
    );

    // Act: the scheduled stop.
    const stop = await schedule('stop');

    // Assess: every kind stopped, in reverse group order, databases last (no office-hours resource is in no group).
    expect(await waveOrder(stop.arn)).toEqual(['app:ecs-service', 'app:asg', 'app:ec2', 'db:ec2', 'db:rds-instance', 'db:rds-cluster']);
    const r = stop.report;
    expect(entry(r, 'billing-db')).toMatchObject({
      kind: 'rds-instance',
      outcome: 'moved',
      to: 'stopped',
      reason: expect.stringContaining('RDS started it by itself after seven days stopped (RDS-EVENT-0154)'),
    });
    expect(entry(r, 'orders-aurora')).toMatchObject({ kind: 'rds-cluster', outcome: 'moved', to: 'stopped' });
    expect(entry(r, 'reports-db')).toMatchObject({ outcome: 'skipped', reason: expect.stringContaining('has read replicas') });
    expect(entry(r, 'legacy-mssql')).toMatchObject({ outcome: 'skipped', reason: expect.stringContaining('SQL Server in a Multi-AZ configuration') });
    expect(entry(r, 'events-serverless')).toMatchObject({ outcome: 'skipped', reason: expect.stringContaining('Aurora Serverless v1') });
    expect(entry(r, 'web-asg')).toMatchObject({ kind: 'asg', outcome: 'moved', from: '1/1/4', to: '0/0/0' });
    expect(entry(r, 'dev-cluster/web-api')).toMatchObject({ kind: 'ecs-service', outcome: 'moved', to: '0/0 running' });
    expect(entry(r, 'i-0feed000000000005')).toMatchObject({ kind: 'ec2', outcome: 'moved', to: 'stopped', reason: 'hibernated' });
    expect(entry(r, 'i-0feed000000000001')).toMatchObject({ outcome: 'moved', reason: expect.stringContaining('not launched with hibernation configured') });
    // As the services themselves say, through the AWS CLI.
    expect((await aws('rds', 'describe-db-clusters', '--db-cluster-identifier', 'orders-aurora')).DBClusters[0].Status).toBe('stopped');
    const group = (await aws('autoscaling', 'describe-auto-scaling-groups', '--auto-scaling-group-names', 'web-asg')).AutoScalingGroups[0];
    expect([group.MinSize, group.DesiredCapacity, group.MaxSize]).toEqual([0, 0, 0]);
    expect((await aws('ecs', 'describe-services', '--cluster', 'dev-cluster', '--services', 'web-api')).services[0].desiredCount).toBe(0);

    // Act: the morning's start.
    const start = await schedule('start');

    // Assess: databases first, every size restored.
    expect(await waveOrder(start.arn)).toEqual(['db:rds-cluster', 'db:rds-instance', 'db:ec2', 'app:ec2', 'app:asg', 'app:ecs-service']);
    expect((await aws('ecs', 'describe-services', '--cluster', 'dev-cluster', '--services', 'web-api')).services[0].desiredCount).toBe(2);
    expect(entry(start.report, 'dev-cluster/web-api')).toMatchObject({ outcome: 'moved', to: '2/2 running' });
    expect((await aws('rds', 'describe-db-instances', '--db-instance-identifier', 'billing-db')).DBInstances[0].DBInstanceStatus).toBe('available');
    expect(entry(start.report, 'orders-aurora')).toMatchObject({ outcome: 'moved', to: 'available' });
    expect(entry(start.report, 'i-0feed000000000005')).toMatchObject({ outcome: 'moved', to: 'running' });
    expect(entry(start.report, 'web-asg'), entry(start.report, 'web-asg')?.reason).toMatchObject({ outcome: 'moved', to: '1/1/4' });
    const restored = (await aws('autoscaling', 'describe-auto-scaling-groups', '--auto-scaling-group-names', 'web-asg')).AutoScalingGroups[0];
    expect([restored.MinSize, restored.DesiredCapacity, restored.MaxSize]).toEqual([1, 1, 4]);
  }, 600_000);

  it('lists every kind one may control in the chat command, each as a command names it', async () => {
    await runControlLink(['chat-secret', 'mattermost', 'mm-verification-token'], { endpoint: h.endpoint });
    const res = await fetch(`${h.endpoint}/ec2/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: 'mm-verification-token', text: 'ls Schedule=office-hours', user_name: 'alice' }).toString(),
    });
    const rows = ((await res.json()) as { text: string }).text.split('\n');
    expect(rows.slice(0, 2)).toEqual(['| Name | Resource | State | Schedule |', '|:--|:--|:--|:--|']);
    // One row per resource of each kind, found through the runtime's RDS, Auto Scaling and ECS (names sort the rows).
    const row = (name: string) => rows.find((r) => r.startsWith(`| \`${name}\` |`));
    expect(row('billing-db')).toBe('| `billing-db` | `rds-instance:billing-db` | available | `office-hours` |');
    expect(row('orders-aurora')).toBe('| `orders-aurora` | `rds-cluster:orders-aurora` | available | `office-hours` |');
    expect(row('web-asg')).toBe('| `web-asg` | `asg:web-asg` | 1/1/4 | `office-hours` |');
    expect(row('web-api')).toBe('| `web-api` | `ecs-service:dev-cluster/web-api` | 2/2 running | `office-hours` |');
    expect(row('web-01')).toBe('| `web-01` | `i-0feed000000000001` | running | `office-hours` |');
    expect(rows.filter((r) => r.includes('batch-window'))).toEqual([]);
  }, 120_000);
});
