/**
 * Ec2Schedule at fleet scale on the local runtime, every rule on: EC2 refuses StartInstances beyond its resource
 * token bucket (1,000 instances, then 2 a second: https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html),
 * Step Functions fails an execution at 25,000 history events and a state over 256 KiB
 * (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html), DynamoDB refuses items over 400 KB.
 * The workflow must pace itself, keep group order, and end with a report that accounts for every instance, also when a
 * wave fails. Virtual time runs 100 times faster; nothing here depends on how fast the machine is.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ListExecutionsCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { afterEach, describe, expect, it } from 'vitest';
import type { Report } from '../../tasks/ec2-schedule/core/report';
import type { ReportEntry } from '../../tasks/ec2-schedule/core/types';
import { DYNAMODB_ITEM_LIMIT, itemSize } from '../../tasks/shared/item-size';
import { credentials, fullHistory, startRuntime, type Harness } from './harness';

const HISTORY_QUOTA = 25_000;
const PAYLOAD_QUOTA = 262_144;
/** Wednesday 4 June 2025, 09:00 UTC: office-hours (groups db, app) fires no schedule for hours, and it is no skip date. */
const WEDNESDAY = Date.parse('2025-06-04T09:00:00Z');

/** Every execution's history length and largest input/output, over all state machines. */
async function executions(h: Harness): Promise<{ count: number; largestHistory: number; largestPayload: number }> {
  let count = 0;
  let largestHistory = 0;
  let largestPayload = 0;
  for (const sm of h.rt.deployed.stateMachines) {
    const { executions: list = [] } = await h.sfn.send(new ListExecutionsCommand({ stateMachineArn: sm.arn, maxResults: 1000 }));
    for (const e of list) {
      count++;
      const events = await fullHistory(h.sfn, e.executionArn!);
      largestHistory = Math.max(largestHistory, events.length);
      for (const ev of events) {
        for (const d of Object.values(ev).filter((v) => v && typeof v === 'object' && !(v instanceof Date)) as Array<Record<string, unknown>>) {
          for (const k of ['input', 'output']) if (typeof d[k] === 'string') largestPayload = Math.max(largestPayload, Buffer.byteLength(d[k] as string));
        }
      }
    }
  }
  return { count, largestHistory, largestPayload };
}

/** The full report the run stored (`report#<run>`), page by page, each checked against DynamoDB's item size. */
async function storedReport(h: Harness, executionArn: string): Promise<ReportEntry[]> {
  const table = h.rt.deployed.tables.find((t) => t.includes('Ec2Schedule'))!;
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: h.endpoint, region: 'us-east-1', credentials }));
  try {
    const entries: ReportEntry[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await doc.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': `report#${executionArn.split(':').pop()}` },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        expect(itemSize(item)).toBeLessThan(DYNAMODB_ITEM_LIMIT);
        entries.push(...(item.entries as ReportEntry[]));
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return entries;
  } finally {
    doc.destroy();
  }
}

/** Stopped instances of office-hours in `group`. */
function addGroup(h: Harness, group: string, count: number) {
  return h.rt.ec2.fleet
    .addInstances(count, {
      state: 'stopped',
      tags: [
        { Key: 'Schedule', Value: 'office-hours' },
        { Key: 'opsflow:group', Value: group },
        { Key: 'Name', Value: group },
      ],
    })
    .map((i) => i.instanceId);
}

async function launchTimes(h: Harness, ids: string[]): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < ids.length; i += 200) {
    const out = await h.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: ids.slice(i, i + 200) }] }));
    times.push(...out.Reservations!.flatMap((r) => r.Instances!).map((x) => x.LaunchTime!.getTime()));
  }
  return times;
}

describe("Ec2Schedule at fleet scale, paced to EC2's token buckets", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('starts 1,400 instances in group order, every one accounted for, though EC2 starts only 2 a second past its first 1,000', async () => {
    // Time runs 10 times faster here, not 100: at 100 the runtime's own processing (each Lambda invocation a second of
    // real time on a loaded machine) passes as minutes of virtual time, which lets tokens refill that AWS would not.
    h = await startRuntime({ seedFleet: false, timeScale: 10, virtualStart: WEDNESDAY });
    // 1,400, not 10,000: past the bucket's 1,000 the rest is the same loop (test/unit/ec2-schedule/advance.test.ts and
    // `npm run bench -- ec2-floor` take 10,000 through it); its 200 s of virtual time keep the test near 20 s of real time.
    const db = addGroup(h, 'db', 200);
    const app = addGroup(h, 'app', 1200);

    const arn = await h.start('Ec2Schedule', { action: 'start', schedule: 'office-hours', requestedBy: 'scale test' });
    const done = await h.finished(arn, 540_000);

    expect(done.status, `${done.error}: ${done.cause}`).toBe('SUCCEEDED');
    const report = JSON.parse(done.output!) as Report;
    expect(report.counts).toEqual({ total: 1400, moved: 1400, skipped: 0, failed: 0, dryRun: 0 });
    const stored = await storedReport(h, arn);
    expect(new Set(stored.map((e) => e.instanceId))).toEqual(new Set([...db, ...app]));
    // db was running (verified) before the first app instance was started: boot takes 30 s.
    const [dbTimes, appTimes] = [await launchTimes(h, db), await launchTimes(h, app)];
    expect(Math.min(...appTimes)).toBeGreaterThanOrEqual(Math.max(...dbTimes) + 30_000);
    // EC2's bucket was the limit: the last 400 took at least 200 s of (virtual) time.
    expect(Math.max(...appTimes) - Math.min(...dbTimes)).toBeGreaterThanOrEqual(200_000);
    const x = await executions(h);
    expect(x.count).toBe(3); // the run and one child per ordering group
    expect(x.largestHistory).toBeLessThan(HISTORY_QUOTA / 10);
    expect(x.largestPayload).toBeLessThan(PAYLOAD_QUOTA / 16);
  }, 600_000);

  it('reports every instance, with why, when a wave fails: the run ends with its report, not without one', async () => {
    h = await startRuntime({ seedFleet: false, timeScale: 20, virtualStart: WEDNESDAY });
    const db = addGroup(h, 'db', 50);
    const app = addGroup(h, 'app', 1500);
    const isNew = await h.unseenMail();

    // Act: start, and once db is done, abort the child execution working on app (it waits for EC2's tokens).
    const arn = await h.start('Ec2Schedule', { action: 'start', schedule: 'office-hours', requestedBy: 'scale test' });
    const children = h.rt.deployed.stateMachines.filter((sm) => sm.name !== 'Opsflow-Ec2Schedule' && sm.name.includes('Ec2Schedule'));
    const child = await h.until(
      "a child execution working on app, after db's succeeded",
      async () => {
        const list = (await Promise.all(children.map((sm) => h!.sfn.send(new ListExecutionsCommand({ stateMachineArn: sm.arn }))))).flatMap(
          (o) => o.executions ?? [],
        );
        return list.some((e) => e.status === 'SUCCEEDED') ? list.find((e) => e.status === 'RUNNING') : undefined;
      },
      120_000,
    );
    await h.sfn.send(new StopExecutionCommand({ executionArn: child.executionArn, error: 'Operator.Aborted', cause: 'stopped by the test' }));
    const done = await h.finished(arn, 120_000);

    // Assess: the run failed, with the report sent and stored for all 1,550 instances.
    expect(done.status).toBe('FAILED');
    expect(done.cause).toMatch(/^start schedule office-hours: \d+ moved, 0 skipped, \d+ failed; the run ended early: /);
    const [mail] = await h.mail((m) => isNew(m) && m.service === 'sns' && m.subject.includes('start schedule office-hours'), 1, 60_000);
    expect(mail.text).toContain('the run ended early');
    const stored = await storedReport(h, arn);
    expect(stored).toHaveLength(1550);
    expect(new Set(stored.map((e) => e.instanceId))).toEqual(new Set([...db, ...app]));
    expect(stored.filter((e) => db.includes(e.instanceId)).every((e) => e.outcome === 'moved')).toBe(true);
    expect((await executions(h)).largestHistory).toBeLessThan(HISTORY_QUOTA);
    const notStarted = stored.filter((e) => e.outcome === 'failed');
    expect(notStarted.length).toBeGreaterThan(0);
    for (const e of notStarted) expect(e.reason).toMatch(/^(not started|start sent, but not verified): the run ended early \(/);
    const moved = stored.filter((e) => e.outcome === 'moved').length;
    expect(moved + notStarted.length).toBe(1550);
  }, 300_000);

  it('keeps every stored item under 400 KB when each instance fails with a kilobyte of UnauthorizedOperation text', async () => {
    h = await startRuntime({ seedFleet: false, timeScale: 100, virtualStart: WEDNESDAY });
    // Running instances without the Schedule tag: IAM refuses the workflow's StopInstances on every one of them.
    const ids = h.rt.ec2.fleet.addInstances(300, { tags: [{ Key: 'Name', Value: 'not-opted-in' }] }).map((i) => i.instanceId);

    const arn = await h.start('Ec2Schedule', { action: 'stop', instanceIds: ids, requestedBy: 'scale test' });
    const done = await h.finished(arn, 300_000);

    expect(done.status).toBe('FAILED');
    expect(done.error).toBe('Ec2.PartialFailure');
    expect(done.cause).toBe('stop 300 instance(s): 0 moved, 0 skipped, 300 failed');
    const stored = await storedReport(h, arn); // each page checked against 400 KB as DynamoDB counts it
    expect(stored).toHaveLength(300);
    for (const e of stored) {
      expect(e.reason).toMatch(
        /^not permitted .*is not authorized to perform: ec2:StopInstances .*\(EC2's encoded authorization message of \d+ characters is left out: it is in the Advance function's log/,
      );
    }
    // What EC2 said was long: the encoded message alone was several hundred characters for each instance.
    expect(Number(/message of (\d+) characters/.exec(stored[0].reason)![1])).toBeGreaterThan(500);
  }, 300_000);
});
