/**
 * TagPolicy's creator lookups at fleet scale on the local runtime, every AWS rule on: CloudTrail LookupEvents at
 * 2 requests per second per account and Region (local/rules/rates.ts, on the virtual clock), IAM, quotas.
 * 800 instances without the Owner tag, each launched on its own by one of five people. One LookupEvents per
 * instance would need at least 400 virtual seconds at that rate, past the Evaluate Lambda's 5-minute
 * timeout, and is throttled at once; per launch it is 16 calls (800 RunInstances events, 50 a page), then none
 * (cached).
 *
 * Time runs TIME_SCALE times faster. The durations checked are virtual, read from the execution history; the scale
 * is low so that the page work itself (real time, slower on a loaded machine) stays a small part of them.
 */
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsRequest, AwsResponse } from '../../local/kernel';
import { CloudTrailService } from '../../local/services/cloudtrail';
import { identity } from '../../local/services/fleet';
import type { Report } from '../../tasks/tag-policy/core/report';
import { fullHistory, startRuntime, type Harness } from './harness';

const TIME_SCALE = 5;
const INSTANCES = 800;
const PER_LAUNCH = 1;
/** The Evaluate function's timeout (workflows/tag-policy.ts). */
const EVALUATE_TIMEOUT_MS = 5 * 60_000;
const people = ['ana', 'ben', 'cy', 'dee', 'eli'].map((p) => `${p}@example.com`);

let h: Harness;
const lookups: string[] = [];
const original = CloudTrailService.prototype.handle;
const creatorOf = new Map<string, string>();

beforeAll(async () => {
  CloudTrailService.prototype.handle = function (req: AwsRequest): Promise<AwsResponse> {
    lookups.push(req.body.toString('utf8'));
    return original.call(this, req);
  };
  h = await startRuntime({ seedFleet: false, timeScale: TIME_SCALE });
  for (let l = 0; l < INSTANCES / PER_LAUNCH; l++) {
    const person = people[l % people.length];
    const launched = h.rt.ec2.fleet.run(
      {
        imageId: 'ami-0feed000000000001',
        instanceType: 't3.micro',
        count: PER_LAUNCH,
        tags: [
          { Key: 'CostCenter', Value: 'CC-1000' },
          { Key: 'Environment', Value: 'dev' },
        ],
      },
      { identity: identity.sso('Developer', person) },
    );
    for (const i of launched) creatorOf.set(i.instanceId, person);
  }
});

afterAll(async () => {
  CloudTrailService.prototype.handle = original;
  await h?.stop();
});

/** Virtual milliseconds from the start to the end of every Lambda invocation of `state` in the execution. */
async function invocationDurations(arn: string, state: string): Promise<number[]> {
  const events = await fullHistory(h.sfn, arn);
  const byId = new Map(events.map((e) => [e.id!, e]));
  const stateOf = (id: number | undefined): string | undefined => {
    for (let e = byId.get(id ?? -1); e; e = byId.get(e.previousEventId ?? -1)) if (e.type === 'TaskStateEntered') return e.stateEnteredEventDetails?.name;
    return undefined;
  };
  const started = new Map<number, number>();
  const durations: number[] = [];
  for (const e of events) {
    if (e.type === 'LambdaFunctionStarted') started.set(e.id!, +e.timestamp!);
    if (['LambdaFunctionSucceeded', 'LambdaFunctionFailed', 'LambdaFunctionTimedOut'].includes(e.type!) && stateOf(e.id) === state) {
      durations.push(+e.timestamp! - started.get(e.previousEventId!)!);
    }
  }
  return durations;
}

async function scan(): Promise<{ arn: string; report: Report }> {
  const arn = await h.start('TagPolicy', { mode: 'scan' });
  // Real seconds, only to end a stuck run: cold starts alone take seconds each on a loaded 2-core machine.
  const done = await h.finished(arn, 180_000);
  expect(done.status, `${done.error}: ${done.cause}`).toBe('SUCCEEDED');
  return { arn, report: JSON.parse(done.output!) as Report };
}

describe('TagPolicy creator lookups under CloudTrail rate', () => {
  it('finds the creators of 800 untagged instances per launch, within 2 calls a second and each Evaluate invocation within its timeout', async () => {
    // Act
    const { arn, report } = await scan();

    // Assess: every instance is accounted for, each with the person who launched it.
    expect(report.counts).toMatchObject({ scanned: INSTANCES, violating: INSTANCES, toTag: INSTANCES, compliant: 0 });
    expect(report.instances.length + report.omitted).toBe(INSTANCES);
    for (const i of report.instances) {
      expect(i.actions).toContainEqual(
        expect.objectContaining({ action: 'lookup-creator', tag: 'Owner', value: creatorOf.get(i.instanceId), outcome: 'planned' }),
      );
    }
    // Per launch: the RunInstances events, 50 a page, by event name.
    expect(lookups.length).toBeLessThanOrEqual(INSTANCES / PER_LAUNCH / 50 + 1);
    for (const body of lookups)
      expect(JSON.parse(body)).toMatchObject({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'RunInstances' }], MaxResults: 50 });
    // The calls need lookups / 2 virtual seconds at CloudTrail's rate, and every Evaluate invocation ended before its timeout.
    const durations = await invocationDurations(arn, 'Evaluate');
    expect(durations.length).toBeGreaterThan(0);
    for (const ms of durations) expect(ms).toBeLessThan(EVALUATE_TIMEOUT_MS);
  }, 200_000);

  it('answers the next scan from the table: no CloudTrail call', async () => {
    // Prepare
    const before = lookups.length;

    // Act
    const { report } = await scan();

    // Assess
    expect(lookups.length).toBe(before);
    expect(report.counts).toMatchObject({ scanned: INSTANCES, toTag: INSTANCES });
    const { executions = [] } = await h.sfn.send(new ListExecutionsCommand({ stateMachineArn: h.arnOf('TagPolicy') }));
    expect(executions.every((e) => e.status === 'SUCCEEDED')).toBe(true);
  }, 200_000);
});
