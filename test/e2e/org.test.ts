/**
 * One hub over a simulated organisation, end to end (issue 23): the shipped app with opsflow.org.config.json's
 * `targets` and organisation (hub 000000000000, prod 111111111111 and dev 222222222222 through their OU, us-east-1 and
 * eu-west-1), plus two accounts the hub cannot reach: legacy 333333333333, a member whose member role trusts another
 * hub, and partner 999999999999, outside the organisation. Every role, trust policy, bus policy and forwarding rule is
 * the synthesized one, deployed by the runtime into each account and region.
 *
 * - A scheduled stop, then start, reaches every tagged instance of the three accounts in both regions; the two
 *   unreachable accounts are reported with their reasons, and the run fails after its report.
 * - An account outside the organisation is refused by the member role's trust.
 * - An untagged launch in a spoke reaches the hub through the spoke's forwarding rule and the hub's bus policy, and
 *   the hub remediates it there.
 */
import { CreateTagsCommand, DescribeInstancesCommand, EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as runControlLink } from '../../infra/control-link';
import { credentials, type Harness, poll, startRuntime } from './harness';
import { synthWithConfig } from './synth-config';

const HUB = '000000000000';
const PROD = '111111111111';
const DEV = '222222222222';
const LEGACY = '333333333333';
const PARTNER = '999999999999';
const REGIONS = ['us-east-1', 'eu-west-1'] as const;
const ORG_CONFIG = JSON.parse(readFileSync('opsflow.org.config.json', 'utf8'));
/** Wednesday 4 June 2025, 12:00 UTC: no schedule of the app fires within the test's virtual time. */
const MIDDAY = Date.parse('2025-06-04T12:00:00Z');

let h: Harness;
let dir: string;
let policyDir: string;

/** An account's administrator: the hub's are the runtime's credentials, a member's sign with the account id (README). */
const ec2 = (account: string, region: string) =>
  new EC2Client({ endpoint: h.endpoint, region, credentials: account === HUB ? credentials : { accessKeyId: account, secretAccessKey: 'test' } });

/** The instances on office-hours in one account and region, by state. */
async function scheduled(account: string, region: string): Promise<Record<string, string>> {
  const out = await ec2(account, region).send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Schedule', Values: ['office-hours'] }] }));
  return Object.fromEntries(out.Reservations!.flatMap((r) => r.Instances!).map((i) => [i.InstanceId!, i.State!.Name!]));
}

async function everywhere(): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {};
  for (const account of [HUB, PROD, DEV, LEGACY]) for (const region of REGIONS) out[`${account}/${region}`] = await scheduled(account, region);
  return out;
}

beforeAll(async () => {
  const policy = JSON.parse(readFileSync('tag-policy.json', 'utf8'));
  policy.dryRun = false;
  // A rule whose remedy is a tag, so the hub's change shows in the spoke.
  policy.rules.find((r: { key: string }) => r.key === 'Environment').onMissing = { action: 'tag', value: 'dev' };
  policyDir = mkdtempSync(join(tmpdir(), 'opsflow-org-policy-'));
  writeFileSync(join(policyDir, 'tag-policy.json'), JSON.stringify(policy));
  const synth = synthWithConfig('opsflow-org-', (c) => {
    const abs = (file: string) => join(process.cwd(), file);
    c.local.fleet = abs('test/fixtures/org-app/fleets/hub-us-east-1.json');
    c.targets = { ...ORG_CONFIG.targets, accounts: [...ORG_CONFIG.targets.accounts, LEGACY, PARTNER] };
    const org = structuredClone(ORG_CONFIG.local.organization);
    for (const a of org.accounts) a.fleets = Object.fromEntries(Object.entries(a.fleets as Record<string, string>).map(([r, f]) => [r, abs(f)]));
    org.accounts.push({ id: LEGACY, name: 'legacy', fleets: { 'us-east-1': abs('test/fixtures/org-app/fleets/prod-us-east-1.json') } });
    c.local.organization = org;
    c.tagPolicy.policyFile = join(policyDir, 'tag-policy.json');
  });
  dir = synth.dir;
  h = await startRuntime({ cdkOut: synth.cdkOut, stateDir: join(dir, 'state'), timeScale: 20, virtualStart: MIDDAY });
  // Legacy's member stack was deployed for another hub: its role trusts that hub's roles, not this one's.
  const legacy = h.rt.gate.iam!.model.role(`arn:aws:iam::${LEGACY}:role/opsflow-member`)!;
  legacy.trust = JSON.parse(JSON.stringify(legacy.trust).replaceAll(`:${HUB}:`, ':444444444444:'));
}, 600_000);

afterAll(async () => {
  await h?.stop();
  for (const d of [dir, policyDir]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('Ec2Schedule across the organisation', () => {
  it('stops, then starts, every tagged instance of every reachable account and region, and reports the two it cannot reach', async () => {
    const before = await everywhere();
    for (const account of [HUB, PROD, DEV]) for (const region of REGIONS) expect(Object.keys(before[`${account}/${region}`]).length).toBeGreaterThan(0);

    for (const action of ['stop', 'start'] as const) {
      const arn = await h.start('Ec2Schedule', { action, schedule: 'office-hours', requestedBy: 'e2e' });
      const out = await h.finished(arn, 300_000);
      expect(out).toMatchObject({ status: 'FAILED', error: 'Ec2.PartialFailure' });
      expect(out.cause).toMatch(/; 4 target\(s\) unreachable$/);

      const after = await everywhere();
      const want = action === 'stop' ? 'stopped' : 'running';
      for (const account of [HUB, PROD, DEV])
        for (const region of REGIONS) for (const [id, state] of Object.entries(after[`${account}/${region}`])) expect([id, state]).toEqual([id, want]);
      // Unreachable: legacy's instances were never touched.
      expect(Object.values(after[`${LEGACY}/us-east-1`])).toEqual(Object.values(before[`${LEGACY}/us-east-1`]));

      const report = JSON.stringify((await h.outbox()).find((e) => JSON.stringify(e).includes(arn.split(':').at(-1)!)));
      for (const account of [HUB, PROD, DEV])
        for (const region of REGIONS) for (const id of Object.keys(before[`${account}/${region}`])) expect(report).toContain(`${account}/${region} ${id}`);
      expect(report).toContain('UNREACHABLE TARGETS (4)');
      for (const account of [LEGACY, PARTNER])
        for (const region of REGIONS)
          expect(report).toContain(`${account}/${region}: the hub cannot assume arn:aws:iam::${account}:role/opsflow-member (AccessDenied: `);
    }
  }, 700_000);

  it("refuses an account outside the organisation: the member role's trust admits the hub's roles in the organisation only", async () => {
    const sts = new STSClient({ endpoint: h.endpoint, region: 'us-east-1', credentials: { accessKeyId: PARTNER, secretAccessKey: 'test' } });
    await expect(
      sts.send(
        new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${PROD}:role/opsflow-member`, RoleSessionName: 'partner', ExternalId: ORG_CONFIG.targets.externalId }),
      ),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
  });
});

describe('control links and the chat command in a spoke', () => {
  const TOKEN = 'org-chat-token';
  const SPOKE = 'i-0111111111111b001'; // prod-euw1-web, on office-hours (allowTags: Schedule)
  const chat = async (text: string) => {
    const res = await fetch(`${h.endpoint}/ec2/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: TOKEN, user_name: 'alice', text }).toString(),
    });
    return ((await res.json()) as { text: string }).text;
  };

  it('a signed link stops an instance in another account and region through the workflow, and the chat lists and starts it there', async () => {
    await runControlLink(['chat-secret', 'mattermost', TOKEN], { endpoint: h.endpoint });
    const where = `${PROD}/eu-west-1`;
    const state = async () => (await scheduled(PROD, 'eu-west-1'))[SPOKE];
    expect(await state()).toBe('running');

    const link = (await runControlLink([`${SPOKE}@${where}`, 'stop'], { endpoint: h.endpoint })).split('\n')[0];
    const page = await fetch(link);
    expect(await page.text()).toContain(`in ${where}`);
    const res = await fetch(link, { method: 'POST', headers: { accept: 'text/plain' } });
    expect([res.status, await res.text()]).toEqual([200, 'running -> stopping']);
    await poll(`${SPOKE} stopped`, 120_000, async () => ((await state()) === 'stopped' ? true : undefined));

    expect(await chat('ls')).toContain(`\`${SPOKE}@${where}\``);
    expect(await chat(`start ${SPOKE}@${where}`)).toMatch(new RegExp(`^\`alice\`: start .*${SPOKE}.*: stopped -> (pending|running)`));
    await poll(`${SPOKE} running`, 120_000, async () => ((await state()) === 'running' ? true : undefined));
  }, 300_000);
});

describe('TagPolicy across the organisation', () => {
  it('remediates an untagged launch in a spoke: forwarded to the hub, evaluated and tagged in the spoke', async () => {
    const spoke = ec2(DEV, 'eu-west-1');
    const run = await spoke.send(new RunInstancesCommand({ ImageId: 'ami-0a1b2c3d4e5f60001', InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
    const id = run.Instances![0].InstanceId!;
    await spoke.send(
      new CreateTagsCommand({
        Resources: [id],
        Tags: [
          { Key: 'Owner', Value: 'dev@example.com' },
          { Key: 'CostCenter', Value: 'CC-5678' },
        ],
      }),
    );
    const tags = await poll('the hub to tag the spoke instance', 300_000, async () => {
      const out = await spoke.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
      const t = Object.fromEntries(out.Reservations![0].Instances![0].Tags!.map((x) => [x.Key, x.Value]));
      return t.Environment ? t : undefined;
    });
    expect(tags).toMatchObject({ Environment: 'dev', Owner: 'dev@example.com' });
    // It was never in the hub's own EC2.
    const hub = await ec2(HUB, 'us-east-1').send(new DescribeInstancesCommand({}));
    expect(hub.Reservations!.flatMap((r) => r.Instances!).map((i) => i.InstanceId)).not.toContain(id);
  }, 400_000);
});
