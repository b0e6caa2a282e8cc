import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudTrailClient, DescribeTrailsCommand, LookupEventsCommand, paginateLookupEvents, type Event } from '@aws-sdk/client-cloudtrail';
import { EC2Client, RunInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { Clock, StateDir } from '../../local/kernel';
import { createServer, listen } from '../../local/server';
import { defaultFaults } from '../../local/faults';
import { DEMO, DEMO_SEED } from '../demo-fleet';
import { Ec2Service } from '../../local/services/ec2';
import { CloudTrailService } from '../../local/services/cloudtrail';

const dir = mkdtempSync(join(tmpdir(), 'opsflow-cloudtrail-'));
const clock = new Clock({ scale: 1000 });
const ec2Service = new Ec2Service({ clock, state: new StateDir(dir), faults: defaultFaults(), seed: DEMO_SEED });
let server: Server;
let ec2: EC2Client;
let trail: CloudTrailClient;

beforeAll(async () => {
  server = createServer([ec2Service, new CloudTrailService({ fleet: ec2Service.fleet })], async () => ({ status: 404, body: '' }));
  const port = await listen(server, 0);
  const config = { endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'x' }, maxAttempts: 1 };
  ec2 = new EC2Client(config);
  trail = new CloudTrailClient(config);
});

afterAll(async () => {
  ec2.destroy();
  trail.destroy();
  await new Promise((resolve) => server.close(resolve));
  ec2Service.close();
  rmSync(dir, { recursive: true, force: true });
});

async function byResource(id: string): Promise<Event[]> {
  const out = await trail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'ResourceName', AttributeValue: id }] }));
  return out.Events ?? [];
}

const record = (e: Event) => JSON.parse(e.CloudTrailEvent!) as Record<string, any>;

async function errorName(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return (err as Error).name;
  }
  throw new Error('expected the call to fail');
}

describe('LookupEvents', () => {
  it('returns the RunInstances record of an instance launched through the API, with the caller as IAM user', async () => {
    // Prepare
    const run = await ec2.send(new RunInstancesCommand({ ImageId: 'ami-0feed000000000001', InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
    const id = run.Instances![0].InstanceId!;

    // Act
    const events = await byResource(id);

    // Assess
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event).toMatchObject({
      EventName: 'RunInstances',
      EventSource: 'ec2.amazonaws.com',
      Username: 'AKIDLOCAL',
      Resources: [{ ResourceType: 'AWS::EC2::Instance', ResourceName: id }],
    });
    expect(event.EventTime).toBeInstanceOf(Date);
    expect(event.EventTime!.getTime()).toBe(Date.parse(record(event).eventTime));
    expect(event.EventTime!.getTime()).toBeGreaterThan(Date.parse(ec2Service.fleet.trail[35].eventTime));
    expect(record(event)).toMatchObject({
      eventID: event.EventId,
      eventName: 'RunInstances',
      eventType: 'AwsApiCall',
      userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::000000000000:user/AKIDLOCAL', accountId: '000000000000', userName: 'AKIDLOCAL' },
      responseElements: { instancesSet: { items: [expect.objectContaining({ instanceId: id })] } },
    });
  });

  it('answers seeded launches with the identity shapes CloudTrail writes', async () => {
    // Act
    const launches = await Promise.all(DEMO.officeHours.slice(0, 4).map(byResource));
    const asg = await byResource(DEMO.asg);

    // Assess
    const byType = Object.fromEntries(
      launches.map(([e]) => [record(e).userIdentity.type + (e.Username!.includes('@') ? '/sso' : ''), { e, id: record(e).userIdentity }]),
    );
    expect(byType.IAMUser.id).toMatchObject({
      type: 'IAMUser',
      arn: 'arn:aws:iam::000000000000:user/alice',
      userName: 'alice',
      principalId: expect.stringMatching(/^AIDA/),
    });
    expect(byType.IAMUser.e.Username).toBe('alice');
    expect(byType.AssumedRole.id).toMatchObject({
      arn: 'arn:aws:sts::000000000000:assumed-role/GitLabDeployRole/gitlab-ci-4242',
      sessionContext: { sessionIssuer: { type: 'Role', arn: 'arn:aws:iam::000000000000:role/GitLabDeployRole', userName: 'GitLabDeployRole' } },
    });
    expect(byType.AssumedRole.e.Username).toBe('gitlab-ci-4242');
    expect(byType['AssumedRole/sso'].e.Username).toBe('carol@example.com');
    expect(byType['AssumedRole/sso'].id.arn).toMatch(
      /^arn:aws:sts::000000000000:assumed-role\/AWSReservedSSO_AdministratorAccess_[0-9a-f]{16}\/carol@example\.com$/,
    );
    expect(byType['AssumedRole/sso'].id.sessionContext.sessionIssuer.arn).toContain(':role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_AdministratorAccess_');
    expect(byType.FederatedUser.id).toMatchObject({
      arn: 'arn:aws:sts::000000000000:federated-user/dave',
      sessionContext: { sessionIssuer: { type: 'IAMUser', userName: 'fed-broker' } },
    });
    expect(byType.FederatedUser.e.Username).toBe('dave');
    expect(asg[0].Username).toBe('AutoScaling');
  });

  it('filters by EventName, Username and EventId, newest first', async () => {
    // Prepare
    await ec2.send(new StopInstancesCommand({ InstanceIds: [DEMO.officeHours[0]] }));
    await clock.sleep(2_000);
    await ec2.send(new StopInstancesCommand({ InstanceIds: [DEMO.officeHours[1]] }));

    // Act
    const stops = await trail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'StopInstances' }] }));
    const alice = await trail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'Username', AttributeValue: 'alice' }] }));
    const one = await trail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'EventId', AttributeValue: stops.Events![1].EventId! }] }));

    // Assess
    expect(stops.Events?.map((e) => e.Resources?.[0].ResourceName)).toEqual([DEMO.officeHours[1], DEMO.officeHours[0]]);
    expect(alice.Events!.length).toBeGreaterThan(3);
    expect(alice.Events!.every((e) => e.Username === 'alice')).toBe(true);
    const times = alice.Events!.map((e) => e.EventTime!.getTime());
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(one.Events?.map((e) => e.Resources?.[0].ResourceName)).toEqual([DEMO.officeHours[0]]);
  });

  it('answers the per-launch creator lookup: RunInstances by event name in a window, one event naming every instance launched, paged', async () => {
    // Prepare: one launch of three instances, then another of one.
    const start = new Date(clock.nowMs() - 1_000);
    const three = await ec2.send(new RunInstancesCommand({ ImageId: 'ami-0feed000000000001', InstanceType: 't3.micro', MinCount: 3, MaxCount: 3 }));
    await clock.sleep(2_000);
    const one = await ec2.send(new RunInstancesCommand({ ImageId: 'ami-0feed000000000001', InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
    const query = {
      LookupAttributes: [{ AttributeKey: 'EventName' as const, AttributeValue: 'RunInstances' }],
      StartTime: start,
      EndTime: new Date(clock.nowMs() + 1_000),
      MaxResults: 1,
    };

    // Act: the newest launch first, then the older one through NextToken with the same parameters.
    const first = await trail.send(new LookupEventsCommand(query));
    const second = await trail.send(new LookupEventsCommand({ ...query, NextToken: first.NextToken }));

    // Assess
    const launched = (e: { CloudTrailEvent?: string }) => (record(e).responseElements.instancesSet.items as { instanceId: string }[]).map((i) => i.instanceId);
    expect(launched(first.Events![0])).toEqual([one.Instances![0].InstanceId]);
    expect(launched(second.Events![0])).toEqual(three.Instances!.map((i) => i.InstanceId));
    expect(second.NextToken).toBeUndefined();
  });

  it('pages with MaxResults and NextToken and honours the time window', async () => {
    // Prepare
    const recentStart = new Date(clock.nowMs() - 60 * 60_000);

    // Act
    const ids: string[] = [];
    let pages = 0;
    for await (const page of paginateLookupEvents({ client: trail, pageSize: 10 }, {})) {
      pages += 1;
      ids.push(...(page.Events ?? []).map((e) => e.EventId!));
    }
    const recent = await trail.send(new LookupEventsCommand({ StartTime: recentStart, EndTime: new Date(clock.nowMs() + 60_000) }));

    // Assess
    expect(ids).toHaveLength(ec2Service.fleet.trail.length);
    expect(new Set(ids).size).toBe(ids.length);
    expect(pages).toBe(Math.ceil(ids.length / 10));
    expect(recent.Events!.length).toBeGreaterThan(0);
    expect(recent.Events!.every((e) => e.EventTime! >= recentStart)).toBe(true);
    expect(recent.Events!.length).toBeLessThan(ids.length);
  });

  it('rejects bad lookups with CloudTrail error codes', async () => {
    // Act
    const twoAttributes = await errorName(
      trail.send(
        new LookupEventsCommand({
          LookupAttributes: [
            { AttributeKey: 'EventName', AttributeValue: 'RunInstances' },
            { AttributeKey: 'Username', AttributeValue: 'alice' },
          ],
        }),
      ),
    );
    const tooMany = await errorName(trail.send(new LookupEventsCommand({ MaxResults: 51 })));
    const backwards = await errorName(trail.send(new LookupEventsCommand({ StartTime: new Date(2_000_000_000_000), EndTime: new Date(1_000_000_000_000) })));
    const badToken = await errorName(trail.send(new LookupEventsCommand({ NextToken: '!!' })));
    const unknown = await errorName(trail.send(new DescribeTrailsCommand({})));

    // Assess
    expect(twoAttributes).toBe('InvalidLookupAttributesException');
    expect(tooMany).toBe('InvalidMaxResultsException');
    expect(backwards).toBe('InvalidTimeRangeException');
    expect(badToken).toBe('InvalidNextTokenException');
    expect(unknown).toBe('UnknownOperationException');
  });
});

describe('CloudTrail field limits (record contents: over 100 KB, responseElements is omitted)', () => {
  it('omits the responseElements of a launch too large to record, keeping requestParameters with the client token', async () => {
    // Prepare: 400 instances make a responseElements of about 130 KB locally (each item more on AWS).
    const run = await ec2.send(new RunInstancesCommand({ ImageId: 'ami-0feed000000000001', InstanceType: 't3.micro', MinCount: 400, MaxCount: 400 }));
    const id = run.Instances![0].InstanceId!;

    // Act
    const [event] = await byResource(id);

    // Assess
    const r = record(event);
    expect(r.responseElements).toEqual({ omitted: true });
    expect(r.requestParameters).toMatchObject({ instanceType: 't3.micro', clientToken: expect.any(String) });
    // The SDK's generated idempotency token names this launch's instances (DescribeInstances filter client-token).
    expect(run.Instances!.every((i) => i.ClientToken === r.requestParameters.clientToken)).toBe(true);
  });

  it('keeps the responseElements of a small launch', async () => {
    const run = await ec2.send(new RunInstancesCommand({ ImageId: 'ami-0feed000000000001', InstanceType: 't3.micro', MinCount: 2, MaxCount: 2 }));
    const [event] = await byResource(run.Instances![0].InstanceId!);
    expect(record(event).responseElements.instancesSet.items.map((i: { instanceId: string }) => i.instanceId)).toEqual(run.Instances!.map((i) => i.InstanceId));
  });
});
