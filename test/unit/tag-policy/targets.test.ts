/**
 * TagPolicy across accounts and regions (config `targets`, issue 23), through the real `Reach` (tasks/shared/targets.ts):
 * the mocked EC2 and CloudTrail answer by the credentials and region each request would be signed with, so a call made
 * with the wrong target's clients reads the wrong fleet. Evaluate walks every target and records one it cannot reach;
 * a launch in a member account is read there, its creator looked up in that account's CloudTrail; Apply acts on each
 * finding in its own account and region.
 */
import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { CreateTagsCommand, DescribeInstancesCommand, DescribeTagsCommand, EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { OrganizationsClient } from '@aws-sdk/client-organizations';
import { AssumeRoleCommand, STSClient, STSServiceException } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { Reach, type Target, type TargetClientConfig } from '../../../tasks/shared/targets';
import { readPolicyTargets } from '../../../tasks/tag-policy/clients';
import { applyStep } from '../../../tasks/tag-policy/core/apply';
import { Pacer } from '../../../tasks/tag-policy/core/creator';
import { planRun } from '../../../tasks/tag-policy/core/plan';
import { buildReport, renderText } from '../../../tasks/tag-policy/core/report';
import { evaluateStep, type ScanDeps, type ScanState, type TargetClients } from '../../../tasks/tag-policy/core/scan';
import { GOOD_TAGS, MemoryStore, run, silentLog } from './fakes';

const HUB = '111111111111';
const SPOKE = '222222222222';
const REFUSING = '333333333333';
const now = () => new Date('2025-03-10T12:00:00Z');

const ec2Mock = mockClient(EC2Client);
const trailMock = mockClient(CloudTrailClient);
const stsMock = mockClient(STSClient);

/** Where a request would go: the account of the credentials it is signed with (AssumeRole's key names it), and the region. */
async function whereOf(client: { config: { credentials: () => Promise<{ accessKeyId: string }>; region: () => Promise<string> } }): Promise<string> {
  const { accessKeyId } = await client.config.credentials();
  return `${accessKeyId.replace('ASIA-', '')}/${await client.config.region()}`;
}

const ec2Instance = (id: string, tags: Record<string, string>): Instance => ({
  InstanceId: id,
  State: { Name: 'running' },
  LaunchTime: new Date('2025-03-10T11:55:00Z'),
  Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
});
const { Owner: _, ...noOwner } = GOOD_TAGS;
/** Each target's fleet: an instance without CostCenter (stop after the grace period) and a compliant one. */
const FLEETS: Record<string, Instance[]> = {
  [`${SPOKE}/us-east-1`]: [ec2Instance('i-0000000000000a001', { ...GOOD_TAGS, CostCenter: 'none' }), ec2Instance('i-0000000000000a002', GOOD_TAGS)],
  [`${SPOKE}/eu-west-1`]: [ec2Instance('i-0000000000000b001', noOwner), ec2Instance('i-0000000000000b002', GOOD_TAGS)],
};

let store: MemoryStore;
let reach: Reach<TargetClients>;
beforeEach(() => {
  ec2Mock.reset();
  trailMock.reset();
  stsMock.reset();
  store = new MemoryStore(now);
  trailMock.on(LookupEventsCommand).resolves({ Events: [] });
  stsMock.on(AssumeRoleCommand).callsFake((input: { RoleArn: string }) => {
    const account = input.RoleArn.split(':')[4];
    if (account === REFUSING)
      throw new STSServiceException({
        name: 'AccessDenied',
        $fault: 'client',
        $metadata: {},
        message: `User: arn:aws:sts::${HUB}:assumed-role/Opsflow-TagPolicyEvaluate/fn is not authorized to perform: sts:AssumeRole on resource: ${input.RoleArn}`,
      });
    return { Credentials: { AccessKeyId: `ASIA-${account}`, SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(now().getTime() + 3_600_000) } };
  });
  ec2Mock.on(DescribeInstancesCommand).callsFake(async (input, getClient) => {
    const fleet = FLEETS[await whereOf(getClient() as never)] ?? [];
    const ids = input.Filters?.find((f: { Name: string }) => f.Name === 'instance-id')?.Values;
    return { Reservations: [{ Instances: ids ? fleet.filter((i) => ids.includes(i.InstanceId)) : fleet }] };
  });
  ec2Mock.on(DescribeTagsCommand).callsFake(async (input, getClient) => {
    const fleet = FLEETS[await whereOf(getClient() as never)] ?? [];
    const ids: string[] = input.Filters[0].Values;
    return {
      Tags: fleet
        .filter((i) => ids.includes(i.InstanceId!))
        .flatMap((i) => (i.Tags ?? []).map((t) => ({ ResourceId: i.InstanceId, Key: t.Key, Value: t.Value }))),
    };
  });
  reach = new Reach(
    (config: TargetClientConfig) => ({
      ec2: new EC2Client({ region: 'us-east-1', ...config }),
      cloudtrail: new CloudTrailClient({ region: 'us-east-1', ...config }),
      pacer: new Pacer(),
    }),
    { hubAccount: HUB, partition: 'aws', roleName: 'opsflow-member', externalId: 'ext-1234', accounts: [SPOKE, REFUSING], regions: ['us-east-1', 'eu-west-1'] },
    {
      sts: () => new STSClient({ region: 'us-east-1' }),
      organizations: () => new OrganizationsClient({ region: 'us-east-1' }),
      sessionName: 'opsflow-tag-policy-evaluate',
    },
  );
});

const scanDeps = (): ScanDeps => ({
  ...reach.for(undefined),
  targets: { list: async () => (await reach.targets()) as Target[], clients: (t) => reach.for(t) },
  store,
  now,
  log: silentLog(),
  pageSize: 5,
  pagesPerInvocation: 2,
  sleep: async () => {},
});

async function evaluateAll(r: ReturnType<typeof run>): Promise<{ state: ScanState; steps: number }> {
  let state: ScanState | undefined;
  let steps = 0;
  do {
    state = await evaluateStep(r, state, scanDeps());
    steps++;
  } while (!state.done);
  return { state, steps };
}

describe('evaluate over targets', () => {
  it('walks every target with its own clients, records the one whose role refuses with its reason, and counts all the others', async () => {
    // Act
    const { state, steps } = await evaluateAll(run());

    // Assess: the two spoke regions were read and judged; the refusing account is reported in both its regions.
    expect(state.targets).toEqual([`${SPOKE}/us-east-1`, `${SPOKE}/eu-west-1`, `${REFUSING}/us-east-1`, `${REFUSING}/eu-west-1`]);
    expect(steps).toBe(2);
    expect(state.counts).toMatchObject({ scanned: 4, violating: 2, compliant: 2, inScope: 4 });
    expect(state.unreachable).toEqual(
      ['us-east-1', 'eu-west-1'].map((region) => ({
        target: `${REFUSING}/${region}`,
        reason: expect.stringMatching(
          new RegExp(
            `^${REFUSING}/${region}: the hub cannot assume arn:aws:iam::${REFUSING}:role/opsflow-member \\(AccessDenied: .*\\); deploy the member stack`,
          ),
        ),
      })),
    );
    // Findings carry their account and region, under keys that keep two accounts' instances apart.
    expect(store.finding('run-1', `${SPOKE}/us-east-1/i-0000000000000a001`)).toMatchObject({
      account: SPOKE,
      region: 'us-east-1',
      instanceId: 'i-0000000000000a001',
    });
    expect(store.finding('run-1', `${SPOKE}/eu-west-1/i-0000000000000b001`)).toMatchObject({ account: SPOKE, region: 'eu-west-1' });
    expect(store.items.has(`grace#${SPOKE}/us-east-1/i-0000000000000a001|grace`)).toBe(true);
    // The blast radius is over every target's instances in scope.
    expect(planRun(run(), state.counts).blastRadius.limit).toBe('20 instances or 25% of 4 in scope (1)');
  });

  it('reports the unreachable targets and names instances <account>/<region> <id>', async () => {
    // Prepare
    const { state } = await evaluateAll(run({ dryRun: true }));
    const findings = [...store.runs.get('run-1')!.values()];

    // Act
    const report = buildReport({ run: run({ dryRun: true }), counts: state.counts, findings, unreachable: state.unreachable });
    const { message } = renderText(report);

    // Assess
    expect(report.summary).toContain(`; 2 targets could not be read: ${REFUSING}/us-east-1, ${REFUSING}/eu-west-1`);
    expect(report.instances.map((i) => [i.account, i.region, i.instanceId]).sort()).toEqual([
      [SPOKE, 'eu-west-1', 'i-0000000000000b001'],
      [SPOKE, 'us-east-1', 'i-0000000000000a001'],
    ]);
    expect(message).toContain(`\n${SPOKE}/us-east-1 i-0000000000000a001\n`);
    expect(message).toContain(`  - ${REFUSING}/eu-west-1: the hub cannot assume`);
  });
});

describe('launch in a member account', () => {
  const launchRun = (account: string, region: string) =>
    run({ mode: 'launch', launchFilter: { name: 'launch-time', values: ['2025-03-10T11:55*'] }, account, region });

  it("is read in the event's account and region, and its creator looked up in that account's CloudTrail there", async () => {
    // Prepare: the spoke's CloudTrail in eu-west-1 knows who launched i-…b001; any other CloudTrail knows nothing.
    trailMock.on(LookupEventsCommand).callsFake(async (_input, getClient) => {
      if ((await whereOf(getClient() as never)) !== `${SPOKE}/eu-west-1`) return { Events: [] };
      const record = {
        userIdentity: { type: 'AssumedRole', arn: `arn:aws:sts::${SPOKE}:assumed-role/Dev/erin@example.com` },
        responseElements: { instancesSet: { items: [{ instanceId: 'i-0000000000000b001' }] } },
      };
      return { Events: [{ EventName: 'RunInstances', EventTime: new Date('2025-03-10T11:55:00Z'), CloudTrailEvent: JSON.stringify(record) }] };
    });

    // Act
    const { state } = await evaluateAll(launchRun(SPOKE, 'eu-west-1'));

    // Assess
    expect(state).toMatchObject({ done: true, targets: [`${SPOKE}/eu-west-1`], counts: { scanned: 2, violating: 1 } });
    const finding = store.finding('run-1', `${SPOKE}/eu-west-1/i-0000000000000b001`)!;
    expect(finding.tags).toEqual({ Owner: 'erin@example.com' });
    const trailCalls = trailMock.commandCalls(LookupEventsCommand);
    expect(trailCalls.length).toBeGreaterThan(0);
    for (const call of trailCalls) expect(await whereOf((call.thisValue as never) ?? {})).toBe(`${SPOKE}/eu-west-1`);
    // The creator index is the spoke region's own: CloudTrail's history is per account and region.
    expect(store.items.get(`creators|index#${SPOKE}/eu-west-1`)).toBeDefined();
    expect(store.items.get('creators|index')).toBeUndefined();
  });

  it("evaluates nothing in an account and region that is not one of the policy's targets, and says so", async () => {
    const { state } = await evaluateAll(launchRun('444444444444', 'eu-west-1'));

    expect(state).toMatchObject({ done: true, targets: [], ignored: expect.stringContaining('444444444444/eu-west-1: not one of the tag policy') });
    expect(ec2Mock).not.toHaveReceivedCommand(DescribeInstancesCommand);
  });
});

describe('apply over targets', () => {
  const tagFinding = (account: string, region: string, id: string) => ({
    instanceId: id,
    account,
    region,
    violations: [{ tag: 'Owner', kind: 'missing' as const, message: 'tag Owner is missing' }],
    actions: [{ action: 'lookup-creator' as const, tag: 'Owner', value: 'carol@example.com', outcome: 'planned' as const, reason: 'tag Owner is missing' }],
    tags: { Owner: 'carol@example.com' },
  });

  it("re-checks and tags each finding in its own account and region, and fails a refusing account's actions with the reason", async () => {
    // Prepare
    await store.putFindings('run-1', [tagFinding(SPOKE, 'eu-west-1', 'i-0000000000000b001'), tagFinding(REFUSING, 'us-east-1', 'i-0000000000000c001')]);
    const where: string[] = [];
    ec2Mock.on(CreateTagsCommand).callsFake(async (_input, getClient) => {
      where.push(await whereOf(getClient() as never));
      return {};
    });

    // Act
    const next = await applyStep(
      run(),
      { phase: 'tags', done: false, tally: { applied: 0, skipped: 0, failed: 0 } },
      { ec2: reach.for(undefined).ec2, ec2In: (t) => reach.for(t).ec2, store, now, log: silentLog(), batchSize: 100 },
    );

    // Assess
    expect(next).toMatchObject({ done: true, tally: { applied: 1, skipped: 0, failed: 1 } });
    expect(ec2Mock).toHaveReceivedCommandWith(CreateTagsCommand, { Resources: ['i-0000000000000b001'], Tags: [{ Key: 'Owner', Value: 'carol@example.com' }] });
    expect(where).toEqual([`${SPOKE}/eu-west-1`]);
    expect(store.finding('run-1', `${REFUSING}/us-east-1/i-0000000000000c001`)!.actions[0]).toMatchObject({
      outcome: 'failed',
      reason: expect.stringContaining(`not applied: ${REFUSING}/us-east-1: the hub cannot assume`),
    });
  });
});

describe('POLICY_TARGETS', () => {
  it('reads tagPolicy.targets, and fails naming the variable when it is not accounts and/or regions', () => {
    expect(readPolicyTargets({})).toBeUndefined();
    expect(readPolicyTargets({ POLICY_TARGETS: '{"regions":["eu-west-1"]}' })).toEqual({ regions: ['eu-west-1'] });
    expect(() => readPolicyTargets({ POLICY_TARGETS: '{"regions":[]}' })).toThrow(
      'environment variable POLICY_TARGETS must be {"accounts"?: [...], "regions"?: [...]}',
    );
    expect(() => readPolicyTargets({ POLICY_TARGETS: 'eu-west-1' })).toThrow('environment variable POLICY_TARGETS must be JSON');
  });
});
