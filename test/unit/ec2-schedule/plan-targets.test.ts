/**
 * Plan across an organisation's accounts and regions (config `targets`, issue 23): the real `Reach` over mocked STS,
 * Organizations and one EC2 mock per client, each answering the fleet of the account its credentials belong to and
 * its region. A target whose role cannot be assumed is stored with its reason and the others are planned.
 */
import { DescribeInstancesCommand, EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { ListAccountsForParentCommand, ListOrganizationalUnitsForParentCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { plan, type PlanDeps } from '../../../tasks/ec2-schedule/core/plan';
import { restoreStored, storeThenZero } from '../../../tasks/ec2-schedule/core/kinds/sizes';
import type { Clients } from '../../../tasks/ec2-schedule/core/kinds/kind';
import type { Ec2Request, Schedules } from '../../../tasks/ec2-schedule/core/types';
import { Reach, type TargetClientConfig, type TargetsEnv } from '../../../tasks/shared/targets';
import { clientsOf, ec2Fleet, instance, memoryStore, recordingLog } from './fakes';

const HUB = '000000000000';
const PROD = '111111111111';
const GONE = '222222222222';
const OU = 'ou-abcd-12345678';
const SETTINGS: TargetsEnv = {
  hubAccount: HUB,
  partition: 'aws',
  roleName: 'opsflow-member',
  externalId: 'ext-1',
  accounts: [PROD, GONE],
  regions: ['us-east-1', 'eu-west-1'],
};
const schedules: Schedules = {
  oh: { timezone: 'UTC', skipDates: [], groups: ['db', 'app'] },
  eu: { timezone: 'UTC', skipDates: [], groups: [], targets: { accounts: [OU], regions: ['eu-west-1'] } },
};
const request = (over: Partial<Ec2Request> = {}): Ec2Request => ({
  action: 'start',
  schedule: 'oh',
  instanceIds: null,
  resources: null,
  dryRun: false,
  requestedBy: null,
  groups: null,
  ...over,
});

/** Instances per `<account>/<region>`: one in `db`, one in `app`, ids telling where they are. */
const fleetOf = (account: string, region: string): Instance[] => [
  instance(`i-${account.slice(0, 3)}${region === 'eu-west-1' ? 'e' : 'u'}00000000000d`, 'stopped', { Schedule: 'oh', 'opsflow:group': 'db', Name: 'db' }),
  instance(`i-${account.slice(0, 3)}${region === 'eu-west-1' ? 'e' : 'u'}00000000000a`, 'stopped', { Schedule: 'oh', 'opsflow:group': 'app', Name: 'app' }),
];

const mocks: Array<{ restore: () => void }> = [];
afterEach(() => {
  for (const m of mocks.splice(0)) m.restore();
});

/**
 * A Reach whose EC2 clients answer the fleet of their account (the hub's without member credentials, else the one
 * whose AssumeRole gave them) and region. AssumeRole of GONE is refused as STS refuses a role that does not trust the hub.
 */
function world() {
  const sts = new STSClient({ region: 'us-east-1' });
  const stsMock = mockClient(sts);
  stsMock.on(AssumeRoleCommand).callsFake((input) => {
    const account = input.RoleArn.split(':')[4];
    if (account === GONE)
      throw Object.assign(new Error(`User is not authorized to perform: sts:AssumeRole on resource: ${input.RoleArn}`), { name: 'AccessDenied' });
    return { Credentials: { AccessKeyId: `AKIA${account}`, SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(Date.now() + 3600_000) } };
  });
  const org = new OrganizationsClient({ region: 'us-east-1' });
  const orgMock = mockClient(org);
  orgMock.on(ListAccountsForParentCommand).resolves({ Accounts: [{ Id: PROD, State: 'ACTIVE' }] });
  orgMock.on(ListOrganizationalUnitsForParentCommand).resolves({ OrganizationalUnits: [] });
  mocks.push(stsMock, orgMock);
  const make = (config: TargetClientConfig): Clients => {
    const ec2 = new EC2Client({ region: config.region ?? 'us-east-1' });
    const m = mockClient(ec2);
    mocks.push(m);
    m.on(DescribeInstancesCommand).callsFake(async (input) => {
      const account = config.credentials ? (await config.credentials()).accessKeyId.slice(4) : HUB;
      const ids: string[] | undefined = input.InstanceIds ?? input.Filters?.find((f: { Name: string }) => f.Name === 'instance-id')?.Values;
      const rows = fleetOf(account, config.region ?? 'us-east-1').filter((i) => !ids || ids.includes(i.InstanceId!));
      return { Reservations: [{ Instances: rows }] };
    });
    return clientsOf({ ec2 });
  };
  const reach = new Reach(make, SETTINGS, { sts: () => sts, organizations: () => org, sessionName: 'opsflow-ec2-plan' });
  const { store, items } = memoryStore();
  const deps: PlanDeps = {
    clients: clientsOf(),
    reach,
    kinds: ['ec2'],
    store,
    schedules,
    batchSize: 50,
    actBudgetSeconds: 3600,
    now: () => new Date('2025-06-04T09:00:00Z'),
    log: recordingLog(),
  };
  return { deps, items, stsMock };
}

const stored = (items: Map<string, Record<string, any>>, prefix: string) => [...items.values()].filter((i) => String(i.sk).startsWith(prefix));

describe('plan across targets', () => {
  it('plans every reachable account × region in a lane of its own, waves in group order, and stores the unreachable ones with their reason', async () => {
    const { deps, items, stsMock } = world();

    const p = await plan(request(), 'run', deps);

    expect(p.waves).toEqual([]);
    expect(p.targets).toBe(4);
    expect(p.unreachable).toBe(2);
    expect(p.lanes!.map((l) => [l.account, l.region, l.waves.map((w) => [w.index, w.group, w.account, w.region])])).toEqual([
      [
        PROD,
        'us-east-1',
        [
          [0, 'db', PROD, 'us-east-1'],
          [1, 'app', PROD, 'us-east-1'],
        ],
      ],
      [
        PROD,
        'eu-west-1',
        [
          [2, 'db', PROD, 'eu-west-1'],
          [3, 'app', PROD, 'eu-west-1'],
        ],
      ],
    ]);
    // The batches carry their target, so the report names it; each wave's batch holds that target's instance.
    const batches = stored(items, 'batch#');
    expect(batches.map((b) => [b.sk, b.account, b.region, b.entries[0].instanceId])).toEqual([
      ['batch#0-00000', PROD, 'us-east-1', 'i-111u00000000000d'],
      ['batch#1-00000', PROD, 'us-east-1', 'i-111u00000000000a'],
      ['batch#2-00000', PROD, 'eu-west-1', 'i-111e00000000000d'],
      ['batch#3-00000', PROD, 'eu-west-1', 'i-111e00000000000a'],
    ]);
    const [unreachable] = stored(items, 'unreachable#');
    expect(unreachable.targets).toEqual([
      {
        account: GONE,
        region: 'us-east-1',
        reason: expect.stringMatching(/^222222222222\/us-east-1: the hub cannot assume arn:aws:iam::222222222222:role\/opsflow-member \(AccessDenied: /),
      },
      { account: GONE, region: 'eu-west-1', reason: expect.stringMatching(/^222222222222\/eu-west-1: the hub cannot assume /) },
    ]);
    // Credentials are shared by the regions of an account: one AssumeRole for PROD (a refusal is asked again).
    const assumed = stsMock.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input.RoleArn ?? '');
    expect(assumed.filter((a) => a.includes(PROD))).toHaveLength(1);
    expect(assumed.every((a) => a.endsWith(':role/opsflow-member'))).toBe(true);
  });

  it("lists a schedule's own targets: its OU's accounts (resolved at run time) in its regions", async () => {
    const { deps, items } = world();

    const p = await plan(request({ schedule: 'eu' }), 'run', deps);

    expect(p.lanes!.map((l) => `${l.account}/${l.region}`)).toEqual([`${PROD}/eu-west-1`]);
    expect(p.unreachable).toBe(0);
    expect(stored(items, 'unreachable#')).toEqual([]);
  });

  it('acts on named resources where they are: the hub for ids without an account, a target for the others; one in an unreachable account fails with its reason', async () => {
    const { deps, items } = world();

    const p = await plan(
      request({
        schedule: null,
        resources: [
          { kind: 'ec2', id: 'i-000u00000000000d' },
          { kind: 'ec2', id: 'i-111e00000000000a', account: PROD, region: 'eu-west-1' },
          { kind: 'ec2', id: 'i-222e00000000000a', account: GONE, region: 'eu-west-1' },
        ],
      }),
      'run',
      deps,
    );

    expect(p.lanes!.map((l) => [l.account, l.region, l.waves.map((w) => w.instances)])).toEqual([
      [undefined, undefined, [1]],
      [PROD, 'eu-west-1', [1]],
    ]);
    expect(p.unreachable).toBe(1);
    const settled = stored(items, 'entries#').flatMap((i) => i.entries);
    expect(settled).toEqual([
      expect.objectContaining({
        account: GONE,
        region: 'eu-west-1',
        instanceId: 'i-222e00000000000a',
        outcome: 'failed',
        reason: expect.stringContaining('222222222222/eu-west-1: the hub cannot assume'),
      }),
    ]);
  });

  it('keeps the state small at 200 targets (50 accounts × 4 regions) of two waves each: under 100 KB of the 256 KiB a state may carry', async () => {
    const { mock } = ec2Fleet(() => fleetOf(PROD, 'us-east-1'));
    mocks.push(mock);
    const targets = Array.from({ length: 50 }, (_, a) => String(100000000000 + a)).flatMap((account) =>
      ['us-east-1', 'us-west-2', 'eu-west-1', 'ap-southeast-2'].map((region) => ({ account, region })),
    );
    const deps: PlanDeps = { ...world().deps, reach: { targets: async () => targets, for: () => clientsOf() } };

    const p = await plan(request(), 'run', deps);

    expect(p.lanes).toHaveLength(200);
    expect(p.lanes!.every((l) => l.waves.length === 2)).toBe(true);
    // The state the Lanes map reads: the request, the runId and this plan (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html: 256 KiB).
    expect(Buffer.byteLength(JSON.stringify({ request: request(), runId: 'x'.repeat(80), plan: p }))).toBeLessThan(100_000);
  });
});

describe('plan without targets', () => {
  it('does not look for a resource named in another account: it fails with why, and nothing is acted on', async () => {
    const { mock } = ec2Fleet(() => fleetOf(HUB, 'us-east-1'));
    mocks.push(mock);
    const { deps: base, items } = world();
    const deps: PlanDeps = { ...base, reach: undefined };

    const p = await plan(request({ schedule: null, resources: [{ kind: 'ec2', id: 'i-000u00000000000d', account: PROD, region: 'us-east-1' }] }), 'run', deps);

    expect(p).toMatchObject({ targets: 0, settled: 1, waves: [] });
    expect(mock.calls()).toHaveLength(0);
    expect(stored(items, 'entries#')[0].entries).toEqual([
      expect.objectContaining({ account: PROD, outcome: 'failed', reason: expect.stringContaining('acts in its own account and region only') }),
    ]);
  });
});

describe('sizes across targets', () => {
  it('keeps the sizes of same-named groups in different accounts apart: each start restores its own account and region', async () => {
    const { store } = memoryStore();
    const entry = (desired: number) => ({ instanceId: 'web', name: 'web', from: 'running', status: 'planned' as const, sizes: { min: 1, desired, max: 9 } });
    const prod = { account: PROD, region: 'eu-west-1' };
    await storeThenZero(store, 'asg', entry(4), 'run', async () => {}, prod);
    await storeThenZero(store, 'asg', entry(2), 'run', async () => {}, { account: GONE, region: 'eu-west-1' });

    const restored: number[] = [];
    await restoreStored(store, 'asg', entry(0), async (s) => void restored.push(s.desired), prod);
    expect(restored).toEqual([4]);
    // The hub's own group of that name was never scaled to zero: nothing to restore.
    await expect(restoreStored(store, 'asg', entry(0), async () => {})).rejects.toThrow(/no sizes stored/);
  });
});
