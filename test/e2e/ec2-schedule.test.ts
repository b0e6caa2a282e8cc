/**
 * Ec2Schedule end to end on the local runtime's simulated fleet: schedules fired by name, the KMS-broken
 * instance reported while the rest move, ordering groups, overrides, injected throttling, a control link
 * and slash commands. The demo config schedules every kind, so office-hours also holds the RDS databases, the Auto
 * Scaling group web-asg and the ECS service dev-cluster/web-api, and batch-window the RDS instance crm-db.
 * Virtual time runs 100x faster and starts on a fixed Wednesday that is no skip date.
 * Each test sets up the instances and the other kinds' resources it uses (the seed's tags, and the states it needs)
 * instead of relying on what an earlier test left, so each passes alone. In any order (vitest --sequence.shuffle) but
 * one: once office-hours has stopped and started, web-asg's new member carries the group's propagated
 * Schedule=office-hours tag, and office-hours' counts hold one more instance (skipped: the group's).
 */
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, UpdateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { CreateTagsCommand, DeleteTagsCommand, DescribeInstancesCommand, StartInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { DescribeServicesCommand, ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  RDSClient,
  StartDBClusterCommand,
  StartDBInstanceCommand,
  StopDBInstanceCommand,
} from '@aws-sdk/client-rds';
import { DescribeExecutionCommand, GetExecutionHistoryCommand, ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEMO, DEMO_SEED } from '../demo-fleet';
import { run as runControlLink } from '../../infra/control-link';
import type { Report } from '../../tasks/ec2-schedule/core/report';
import { credentials, startRuntime, type Harness } from './harness';

const TIME_SCALE = 100;
/** Wednesday 4 June 2025, 09:00 UTC: a working day, and not a skip date of office-hours. */
const WEDNESDAY = Date.parse('2025-06-04T09:00:00Z');

async function pinnedRuntime(nowMs: number): Promise<Harness> {
  const stateDir = mkdtempSync(join(tmpdir(), 'opsflow-e2e-ec2-'));
  // A fresh state directory: the scaled clock starts at a known instant.
  return startRuntime({ stateDir, timeScale: TIME_SCALE, virtualStart: nowMs });
}

type Settled = 'running' | 'stopped';
const SEED = new Map(DEMO_SEED.instances.map((row) => [row.instanceId, row]));

/**
 * A test's starting point: the instances carry exactly the seed's tags and are in `want` (default: the seed's
 * state), through the EC2 API as an operator would put them there. Waits for transitions in flight to end first.
 */
async function prepare(h: Harness, ids: readonly string[], want: Record<string, Settled> = {}): Promise<void> {
  const target = Object.fromEntries(ids.map((id) => [id, want[id] ?? SEED.get(id)!.state]));
  const out = await h.ec2.send(new DescribeInstancesCommand({ InstanceIds: [...ids] }));
  for (const i of out.Reservations!.flatMap((r) => r.Instances!)) {
    const row = SEED.get(i.InstanceId!)!;
    const seedTags: Record<string, string> = { Name: row.name, ...row.tags };
    const extra = (i.Tags ?? []).filter((t) => !(t.Key! in seedTags) && !t.Key!.startsWith('aws:'));
    if (extra.length) await h.ec2.send(new DeleteTagsCommand({ Resources: [i.InstanceId!], Tags: extra.map((t) => ({ Key: t.Key })) }));
    const changed = Object.entries(seedTags).filter(([k, v]) => i.Tags?.find((t) => t.Key === k)?.Value !== v);
    if (changed.length) await h.ec2.send(new CreateTagsCommand({ Resources: [i.InstanceId!], Tags: changed.map(([Key, Value]) => ({ Key, Value })) }));
  }
  const now = await h.until('transitions in flight to end', async () => {
    const s = await h.instanceStates(ids);
    return Object.values(s).every((v) => v === 'running' || v === 'stopped') ? s : undefined;
  });
  const toStart = ids.filter((id) => target[id] === 'running' && now[id] === 'stopped');
  const toStop = ids.filter((id) => target[id] === 'stopped' && now[id] === 'running');
  if (toStart.length) await h.ec2.send(new StartInstancesCommand({ InstanceIds: toStart }));
  if (toStop.length) await h.ec2.send(new StopInstancesCommand({ InstanceIds: toStop }));
  await h.until(`instances in ${JSON.stringify(target)}`, async () => {
    const s = await h.instanceStates(ids);
    return ids.every((id) => s[id] === target[id]) || undefined;
  });
}

/**
 * The other kinds' resources that schedules move, in the seed's state unless `want` says otherwise, through their APIs
 * as an operator would put them there: office-hours' billing-db and orders-aurora available, web-asg at 1/1/4 with a
 * member in service, web-api at 2 tasks running; batch-window's crm-db stopped. Waits for RDS transitions in flight.
 */
async function prepareKinds(h: Harness, want: { crmDb?: 'available' | 'stopped' } = {}): Promise<void> {
  const config = { endpoint: h.endpoint, region: 'us-east-1', credentials };
  const rds = new RDSClient(config);
  const asg = new AutoScalingClient(config);
  const ecs = new ECSClient(config);
  try {
    const settled = (s?: string) => s === 'available' || s === 'stopped';
    const statuses = () =>
      h.until('RDS transitions in flight to end', async () => {
        const i = (await rds.send(new DescribeDBInstancesCommand({}))).DBInstances!;
        const c = (await rds.send(new DescribeDBClustersCommand({}))).DBClusters!;
        const all: Record<string, string | undefined> = Object.fromEntries([
          ...i.map((d) => [d.DBInstanceIdentifier!, d.DBInstanceStatus]),
          ...c.map((d) => [d.DBClusterIdentifier!, d.Status]),
        ]);
        return Object.values(all).every(settled) ? all : undefined;
      });
    const now = await statuses();
    if (now['billing-db'] === 'stopped') await rds.send(new StartDBInstanceCommand({ DBInstanceIdentifier: 'billing-db' }));
    if (now['orders-aurora'] === 'stopped') await rds.send(new StartDBClusterCommand({ DBClusterIdentifier: 'orders-aurora' }));
    const crmDb = want.crmDb ?? 'stopped';
    if (now['crm-db'] === 'available' && crmDb === 'stopped') await rds.send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'crm-db' }));
    if (now['crm-db'] === 'stopped' && crmDb === 'available') await rds.send(new StartDBInstanceCommand({ DBInstanceIdentifier: 'crm-db' }));
    await asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'web-asg', MinSize: 1, DesiredCapacity: 1, MaxSize: 4 }));
    await ecs.send(new UpdateServiceCommand({ cluster: 'dev-cluster', service: 'web-api', desiredCount: 2 }));
    await h.until(
      'the seed state of every kind',
      async () => {
        const db = await statuses();
        const [group] = (await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['web-asg'] }))).AutoScalingGroups!;
        const [service] = (await ecs.send(new DescribeServicesCommand({ cluster: 'dev-cluster', services: ['web-api'] }))).services!;
        return (
          (db['billing-db'] === 'available' &&
            db['orders-aurora'] === 'available' &&
            db['crm-db'] === crmDb &&
            group.Instances!.some((m) => m.LifecycleState === 'InService') &&
            service.runningCount === 2) ||
          undefined
        );
      },
      60_000,
    );
  } finally {
    rds.destroy();
    asg.destroy();
    ecs.destroy();
  }
}

/** Each wave of a run (its child executions of Ec2ScheduleWave) as `group:kind`, in the order they started. */
async function waveOrder(h: Harness, parentArn: string): Promise<string[]> {
  const runId = parentArn.slice(parentArn.lastIndexOf(':') + 1);
  const { executions } = await h.sfn.send(new ListExecutionsCommand({ stateMachineArn: h.arnOf('Ec2ScheduleWave') }));
  const waves = [];
  for (const e of executions ?? []) {
    const d = await h.sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }));
    const input = JSON.parse(d.input ?? '{}');
    if (input.runId === runId) waves.push({ at: d.startDate!.getTime(), wave: `${input.wave.group || '-'}:${input.wave.kind}` });
  }
  return waves.sort((a, b) => a.at - b.at).map((w) => w.wave);
}

/** The executions of Ec2Schedule so far. */
async function executionArns(h: Harness): Promise<Set<string>> {
  const out = await h.sfn.send(new ListExecutionsCommand({ stateMachineArn: h.arnOf('Ec2Schedule') }));
  return new Set(out.executions?.map((e) => e.executionArn!));
}

const entry = (r: Report, id: string) => r.instances.find((e) => e.instanceId === id)!;

describe('Ec2Schedule on the simulated fleet', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await pinnedRuntime(WEDNESDAY);
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('deploys one schedule per period boundary, each in its time zone', () => {
    const byName = Object.fromEntries(h.rt.scheduler.list().map((s) => [s.name, s]));
    expect(byName['opsflow-office-hours-start-0']).toMatchObject({ expression: 'cron(0 7 ? * MON-FRI *)', timezone: 'Europe/Berlin' });
    expect(byName['opsflow-office-hours-stop-0']).toMatchObject({ expression: 'cron(0 19 ? * MON-FRI *)', timezone: 'Europe/Berlin' });
    expect(byName['opsflow-batch-window-start-0']).toMatchObject({ expression: 'cron(0 22 ? * MON-FRI *)', timezone: 'UTC' });
  });

  it('starts office-hours when its schedule fires: the KMS-broken instance is reported, the rest is running', async () => {
    await prepare(h, DEMO.officeHours);
    await prepareKinds(h);
    const before = await executionArns(h);
    const isNew = await h.unseenMail();

    await h.rt.scheduler.fire('opsflow-office-hours-start-0');
    const arn = await h.until('the Execution the schedule started', async () => [...(await executionArns(h))].find((a) => !before.has(a)));
    const done = await h.finished(arn, 60_000);

    expect(done.status).toBe('FAILED');
    expect(done.error).toBe('Ec2.PartialFailure');
    // 19: the ten instances, the two Aurora clusters, five RDS instances (one a member of orders-aurora), web-asg and
    // web-api. Only api-02 was stopped; every other resource is already up or one RDS refuses to move.
    expect(done.cause).toBe('start schedule office-hours: 1 moved, 17 skipped, 1 failed');
    const now = await h.instanceStates(DEMO.officeHours);
    expect(
      Object.entries(now)
        .filter(([id]) => id !== DEMO.kmsBroken)
        .every(([, s]) => s === 'running'),
    ).toBe(true);
    expect(now[DEMO.kmsBroken]).toBe('stopped');
    const [mail] = await h.mail((m) => isNew(m) && m.service === 'sns' && m.subject.includes('start schedule office-hours'));
    expect(mail.text).toContain(`${DEMO.kmsBroken} reporting-01: stopped -> stopped (fell back to stopped: EC2 could not attach a volume`);
    expect(mail.text).toContain('(Client.InternalError)');
    expect(mail.text).toMatch(/i-0feed000000000004 api-02: stopped -> running/);
    expect(mail.text).toMatch(/i-0feed000000000001 web-01: running -> running \(already running\)/);
    expect(mail.text).toContain('reports-db-replica');
  });

  it('stops office-hours app servers before the databases, honouring a live override and ignoring an expired one', async () => {
    // Prepare: office-hours after its start (the KMS-broken instance could not start).
    const [web01, web02] = DEMO.officeHours;
    await prepare(h, DEMO.officeHours, Object.fromEntries(DEMO.officeHours.map((id) => [id, id === DEMO.kmsBroken ? 'stopped' : 'running'])));
    await prepareKinds(h);
    await h.ec2.send(new CreateTagsCommand({ Resources: [web01], Tags: [{ Key: 'opsflow:override', Value: '2099-01-31' }] }));
    await h.ec2.send(new CreateTagsCommand({ Resources: [web02], Tags: [{ Key: 'opsflow:override', Value: '2025-01-31' }] }));
    const trailBefore = h.rt.ec2.fleet.trail.length;

    const arn = await h.start('Ec2Schedule', { action: 'stop', schedule: 'office-hours', requestedBy: 'e2e' });
    const done = await h.finished(arn, 120_000);

    expect(done.status).toBe('SUCCEEDED');
    const report = JSON.parse(done.output!) as Report;
    // Moved: eight instances, billing-db, orders-aurora, web-asg and web-api. Skipped: web-01 (override), reporting-01,
    // and the five databases RDS will not stop (a replica and its source, SQL Server Multi-AZ, Serverless v1, a member).
    expect(report.counts).toEqual({ total: 19, moved: 12, skipped: 7, failed: 0, dryRun: 0 });
    // Waves: group app's service, group and instances, then group db's instances, RDS instances and Aurora clusters last.
    expect(await waveOrder(h, arn)).toEqual(['app:ecs-service', 'app:asg', 'app:ec2', 'db:ec2', 'db:rds-instance', 'db:rds-cluster']);
    expect(entry(report, 'billing-db')).toMatchObject({ kind: 'rds-instance', outcome: 'moved', to: 'stopped' });
    expect(entry(report, 'orders-aurora')).toMatchObject({ kind: 'rds-cluster', outcome: 'moved', to: 'stopped' });
    expect(entry(report, 'web-asg')).toMatchObject({ kind: 'asg', outcome: 'moved', from: '1/1/4', to: '0/0/0' });
    expect(entry(report, 'dev-cluster/web-api')).toMatchObject({ kind: 'ecs-service', outcome: 'moved', to: '0/0 running' });
    // worker-01 asks for hibernation by its tag and was launched with it configured.
    expect(entry(report, DEMO.hibernationConfigured)).toMatchObject({ outcome: 'moved', to: 'stopped', reason: 'hibernated' });
    expect(entry(report, 'legacy-mssql')).toMatchObject({ outcome: 'skipped', reason: expect.stringContaining('SQL Server in a Multi-AZ configuration') });
    expect(entry(report, web01)).toMatchObject({ outcome: 'skipped', reason: 'opsflow:override until 2099-01-31', from: 'running' });
    expect(entry(report, web02)).toMatchObject({ outcome: 'moved', from: 'running', to: 'stopped' });
    expect(entry(report, DEMO.kmsBroken)).toMatchObject({ outcome: 'skipped', reason: 'already stopped' });
    const stops = h.rt.ec2.fleet.trail.slice(trailBefore).filter((r) => r.eventName === 'StopInstances');
    const stoppedIds = stops.map((r) => r.resources.map((x) => x.name));
    // EC2's own calls: app's instances, then db's last.
    expect(stoppedIds.at(-1)!.sort()).toEqual([...DEMO.officeHoursDb].sort());
    expect(stoppedIds.slice(0, -1).flat()).not.toContain(DEMO.officeHoursDb[0]);
    expect((await h.instanceStates([web01]))[web01]).toBe('running');
  });

  it('marks a dry run and changes nothing', async () => {
    // Prepare: office-hours stopped but for web-01 (kept running by an override).
    await prepare(h, DEMO.officeHours, Object.fromEntries(DEMO.officeHours.map((id) => [id, id === DEMO.officeHours[0] ? 'running' : 'stopped'])));
    await prepareKinds(h);

    const done = await h.finished(await h.start('Ec2Schedule', { action: 'start', schedule: 'office-hours', dryRun: true }), 60_000);

    expect(done.status).toBe('SUCCEEDED');
    const report = JSON.parse(done.output!) as Report;
    expect(report.dryRun).toBe(true);
    // The nine stopped instances; the other kinds are up already (skipped, as a real start would leave them).
    expect(report.counts.dryRun).toBe(9);
    expect(entry(report, DEMO.officeHours[1])).toMatchObject({ outcome: 'dry-run', from: 'stopped', to: 'stopped', reason: 'would start (DryRun permitted)' });
    expect(Object.values(await h.instanceStates(DEMO.officeHoursDb))).toEqual(['stopped', 'stopped']);
  });

  it('fails fast with Input.Invalid listing every problem', async () => {
    const done = await h.finished(await h.start('Ec2Schedule', { action: 'reboot', schedule: 'office-hours', instanceIds: ['i-1'] }));

    expect(done.status).toBe('FAILED');
    expect(done.error).toBe('Input.Invalid');
    expect(done.cause).toContain('action: must be "start" or "stop"');
    expect(done.cause).toContain('schedule, instanceIds, resources: give exactly one of them');
    expect(done.cause).toContain('instanceIds[0]: not an instance id');
  });

  it('survives EC2 throttling: the workflow retries with back-off until EC2 answers again', async () => {
    await prepare(h, DEMO.batchWindow);
    await prepareKinds(h, { crmDb: 'stopped' });
    h.rt.faults.ec2ThrottleRate = 1;
    const arn = await h.start('Ec2Schedule', { action: 'start', schedule: 'batch-window' });
    try {
      await h.until('an Ec2.Throttled retry in the history', async () => {
        const { events } = await h.sfn.send(new GetExecutionHistoryCommand({ executionArn: arn, maxResults: 1000 }));
        return events!.some((e) => JSON.stringify(e).includes('"error":"Ec2.Throttled"')) || undefined;
      });
    } finally {
      h.rt.faults.ec2ThrottleRate = 0;
    }

    const done = await h.finished(arn, 60_000);
    expect(done.status).toBe('SUCCEEDED');
    // batch-01, batch-02, etl-01 and the RDS instance crm-db moved (RDS is not throttled here); etl-02 was running.
    const report = JSON.parse(done.output!) as Report;
    expect(report.counts).toMatchObject({ moved: 4, skipped: 1, failed: 0 });
    expect(entry(report, 'crm-db')).toMatchObject({ kind: 'rds-instance', outcome: 'moved', to: 'available' });
    expect(Object.values(await h.instanceStates(DEMO.batchWindow))).toEqual(['running', 'running', 'running', 'running']);
  });

  describe('control links', () => {
    const target = DEMO.batchWindow[0];
    /** A fresh link from the npm script `control-link`, as an operator runs it against the local runtime. */
    const link = async (...args: string[]) => (await runControlLink([target, ...args], { endpoint: h.endpoint })).split('\n')[0];

    beforeEach(async () => {
      await prepare(h, [target], { [target]: 'running' });
    });

    it('GET shows the state and a button, and changes nothing', async () => {
      const url = await link('stop');
      const page = await fetch(url, { headers: { accept: 'text/html' } });
      const text = await fetch(url);

      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/State: <strong class="state">running<\/strong>.*<button type="submit">Stop batch-01<\/button>/s);
      expect(await text.text()).toBe(`batch-01 (${target}): running`);
      expect((await h.instanceStates([target]))[target]).toBe('running');
    });

    it('refuses a wrong signature with 401 and does nothing', async () => {
      const url = await link('stop');
      const forged = url.replace(/.{4}$/, 'AAAA');
      const res = await fetch(forged, { method: 'POST' });

      expect(res.status).toBe(401);
      expect((await h.instanceStates([target]))[target]).toBe('running');
    });

    it('refuses an expired link with 401 and does nothing (README: links expire after --days)', async () => {
      // Issued two virtual days ago, valid for one: expired by the runtime's clock, which the Lambda reads.
      const issued = new Date(h.rt.clock.nowMs() - 2 * 86_400_000);
      const expired = (await runControlLink([target, 'stop', '--days', '1'], { endpoint: h.endpoint, now: () => issued })).split('\n')[0];
      const res = await fetch(expired, { method: 'POST' });

      expect(res.status).toBe(401);
      expect((await h.instanceStates([target]))[target]).toBe('running');
    });

    it('POST stops the instance through the workflow and answers like the seed', async () => {
      const url = await link('stop');
      const isNew = await h.unseenMail();
      const res = await fetch(url, { method: 'POST', headers: { accept: 'text/plain' } });

      expect(res.status).toBe(200);
      expect(await res.text()).toBe('running -> stopping');
      await h.until(`${target} stopped`, async () => (await h.instanceStates([target]))[target] === 'stopped' || undefined);
      const [mail] = await h.mail((m) => isNew(m) && m.service === 'sns' && m.text.includes('Requested by: control-link:'));
      expect(mail.text).toContain(`${target} batch-01: running -> stopped`);
    });

    it('stops working once the link is revoked, and every link once the secret is rotated', async () => {
      const url = await link('stop');
      const other = await link('start');
      const linkId = /token=v1\.([^.]+)\./.exec(url)![1];

      await runControlLink(['revoke', linkId], { endpoint: h.endpoint });
      const revoked = await fetch(url, { method: 'POST' });
      const stillValid = await fetch(other);
      await runControlLink(['rotate'], { endpoint: h.endpoint });
      const rotated = await fetch(other, { method: 'POST' });

      expect(revoked.status).toBe(401);
      expect(stillValid.status).toBe(200);
      expect(rotated.status).toBe(401);
      expect((await h.instanceStates([target]))[target]).toBe('running');
    });

    it('says when a revoke matches nothing, and bounds --days by a named limit', async () => {
      expect(await runControlLink(['revoke', 'AAAAAAAAAAAA'], { endpoint: h.endpoint })).toBe(
        'nothing revoked: no link with id AAAAAAAAAAAA was handed out (rotate revokes every link)',
      );
      await expect(runControlLink(['revoke', ''], { endpoint: h.endpoint })).rejects.toThrow("nothing revoked: '' is not a link id");
      for (const days of ['20000000', '100000000']) {
        await expect(runControlLink([target, 'start', '--days', days], { endpoint: h.endpoint })).rejects.toThrow(
          `--days must be a whole number of days from 1 to 3650 (ten years), got ${days}`,
        );
      }
      const ok = await runControlLink([target, 'start', '--days', '3650'], { endpoint: h.endpoint });
      expect(ok).toMatch(/expires \d{4}-/);
      // The page may not be framed (clickjacking the button).
      const page = await fetch(ok.split('\n')[0], { headers: { accept: 'text/html' } });
      expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    });
  });

  describe('slash command', () => {
    const chat = (fields: Record<string, string>) =>
      fetch(`${h.endpoint}/ec2/chat`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields).toString(),
      });

    beforeEach(async () => {
      await runControlLink(['chat-secret', 'mattermost', 'mm-verification-token'], { endpoint: h.endpoint });
      await prepare(h, [...DEMO.batchWindow, DEMO.spot]);
    });

    it('refuses a wrong Mattermost token with 401', async () => {
      const res = await chat({ token: 'nope', text: 'ls', user_name: 'mallory' });
      expect(res.status).toBe(401);
    });

    it('lists the resources one may control, of every scheduled kind, filtered by tag', async () => {
      const res = await chat({ token: 'mm-verification-token', text: 'ls Schedule=batch-window', user_name: 'alice', command: '/ec2' });

      expect(res.status).toBe(200);
      const body = (await res.json()) as { response_type: string; text: string };
      expect(body.response_type).toBe('ephemeral');
      expect(body.text).toContain(`| \`batch-01\` | \`${DEMO.batchWindow[0]}\` | stopped | \`batch-window\` |`);
      // The four batch-window instances and the demo's batch-window database, named as a command takes it.
      const rows = body.text.split('\n').filter((l: string) => l.includes('batch-window'));
      expect(rows).toHaveLength(5);
      expect(rows.find((l) => l.includes('crm-db'))).toMatch(/^\| `crm-db` \| `rds-instance:crm-db` \| [a-z-]+ \| `batch-window` \|$/);
    });

    it('starts an instance and tells the channel', async () => {
      const res = await chat({ token: 'mm-verification-token', text: `start -i ${DEMO.batchWindow[0]}`, user_name: 'alice' });

      const body = (await res.json()) as { response_type: string; text: string };
      expect(body.response_type).toBe('in_channel');
      // At 100x the boot may be over before the command looks again.
      expect(body.text).toMatch(new RegExp(`^\`alice\`: start \`batch-01\` \`${DEMO.batchWindow[0]}\`: stopped -> (pending|running)$`));
    });

    it('refuses an instance outside the allowed set, and answers a bad command with help', async () => {
      // The Spot instance carries no Schedule tag (web-asg's member, once the demo's, is replaced when office-hours stops the group).
      const outside = (await (await chat({ token: 'mm-verification-token', text: `stop ${DEMO.spot}`, user_name: 'alice' })).json()) as { text: string };
      const bad = (await (await chat({ token: 'mm-verification-token', text: 'reboot everything', user_name: 'alice' })).json()) as { text: string };

      expect(outside.text).toBe(`Instance ${DEMO.spot} is not one you may control here.`);
      expect(bad.text).toContain('unknown command `reboot`');
      expect(bad.text).toContain('start <id>');
      expect((await h.instanceStates([DEMO.spot]))[DEMO.spot]).toBe('running');
    });
  });
});
